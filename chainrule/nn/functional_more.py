"""More of ``cr.nn.functional`` (re-exported there): transposed convolutions, instance and local response
normalization, bilinear, channel shuffle, and the margin, ranking and likelihood losses, as PyTorch's.

Each is a composition of chainrule ops, so every gradient comes from the rule table. A transposed convolution is
the adjoint of a convolution: a matrix product with the kernel makes each input pixel's columns, and ``fold`` sums
them into the (cropped) output, as ``unfold`` gathered them in the forward convolution.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .. import ops
from ..arguments import REDUCTIONS, class_labels, pair
from ..errors import DomainError, ShapeError
from ..tensor import Tensor
from .functional import (
    _affine,
    _channels,
    _float,
    _reduce,
    _same_shape,
    _tensor,
    _update_running,
    fold,
    softplus,
)

Pair = tuple[int, int]


# ---------------------------------------------------------------------------------------------------------------
# Transposed convolutions.
# ---------------------------------------------------------------------------------------------------------------
def conv_transpose2d(input: Any, weight: Any, bias: Any = None, stride: int | Pair = 1, padding: int | Pair = 0,
                     output_padding: int | Pair = 0, groups: int = 1, dilation: int | Pair = 1) -> Tensor:
    """2-D transposed convolution of (N, C_in, H, W) input with a (C_in, C_out/groups, kh, kw) kernel: the
    gradient of ``conv2d`` with respect to its input, as PyTorch's (a "deconvolution").

    Output size per axis: (H − 1)·stride − 2·padding + dilation·(k − 1) + output_padding + 1. Each input pixel
    adds its value times the kernel at stride-spaced places; ``padding`` crops that many rows/columns on each
    side, ``output_padding`` adds rows/columns at the end (bottom, right).
    """
    where = "conv_transpose2d"
    x = _float(input, "input", where)
    if x.ndim != 4 or np.ndim(weight) != 4:
        raise ShapeError(f"{where}: expects input (N, C_in, H, W) and weight (C_in, C_out/groups, kh, kw), got "
                         f"shapes {x.shape} and {np.shape(weight)}")
    in_channels, out_per_group, kh, kw = np.shape(weight)
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1 or in_channels % groups:
        raise DomainError(f"{where}: groups must be a positive int dividing the weight's {in_channels} input "
                          f"channels, got {groups!r}")
    if x.shape[1] != in_channels:
        raise ShapeError(f"{where}: input of shape {x.shape} has {x.shape[1]} channels, but the weight of shape "
                         f"{np.shape(weight)} expects {in_channels} (weights are (C_in, C_out/groups, kh, kw))")
    out_channels = out_per_group * groups
    if bias is not None and np.shape(bias) != (out_channels,):
        raise ShapeError(f"{where}: bias of shape {np.shape(bias)} does not fit {out_channels} output channels; "
                         f"expected ({out_channels},)")
    stride, dilation = pair(stride, "stride", where, 1), pair(dilation, "dilation", where, 1)
    padding, output_padding = pair(padding, "padding", where, 0), pair(output_padding, "output_padding", where, 0)
    if any(o >= max(s, d) for o, s, d in zip(output_padding, stride, dilation, strict=True)):
        raise DomainError(f"{where}: output_padding {output_padding} must be smaller than the stride {stride} or "
                          f"the dilation {dilation}")
    n, _, h, w = x.shape
    full = tuple((size - 1) * s + d * (k - 1) + 1
                 for size, s, d, k in zip((h, w), stride, dilation, (kh, kw), strict=True))
    out_size = tuple(f - 2 * p + o for f, p, o in zip(full, padding, output_padding, strict=True))
    if min(out_size) < 1:
        raise ShapeError(f"{where}: padding {padding} crops the whole output (input {h}×{w}, kernel {kh}×{kw})")
    # Columns: for each group, (C_out/g·kh·kw, C_in/g) times the input pixels (C_in/g, H·W); one batched product.
    in_per_group, taps = in_channels // groups, kh * kw
    kernel = ops.swapaxes(ops.reshape(weight, (groups, in_per_group, out_per_group * taps)), 1, 2)
    pixels = ops.reshape(x, (n, groups, in_per_group, h * w))
    columns = ops.reshape(ops.matmul(kernel, pixels), (n, out_channels * taps, h * w))
    out = fold(columns, full, (kh, kw), dilation, 0, stride)
    for axis, p, size in ((2, padding[0], out_size[0]), (3, padding[1], out_size[1])):
        end = min(p + size, out.shape[axis])
        out = out[(slice(None),) * axis + (slice(p, end),)]
        if p + size > end:  # output_padding past the full extent: rows no input pixel reaches
            shape = list(out.shape)
            shape[axis] = p + size - end
            out = ops.concatenate([out, np.zeros(shape, out.dtype)], axis=axis)
    return out if bias is None else out + ops.reshape(bias, (out_channels, 1, 1))


def conv_transpose1d(input: Any, weight: Any, bias: Any = None, stride: int = 1, padding: int = 0,
                     output_padding: int = 0, groups: int = 1, dilation: int = 1) -> Tensor:
    """1-D transposed convolution of (N, C_in, L) input with a (C_in, C_out/groups, k) kernel: conv_transpose2d
    on a height of 1."""
    if np.ndim(input) != 3 or np.ndim(weight) != 3:
        raise ShapeError(f"conv_transpose1d: expects input (N, C_in, L) and weight (C_in, C_out/groups, k), got "
                         f"shapes {np.shape(input)} and {np.shape(weight)}")
    sizes = {"stride": stride, "padding": padding, "output_padding": output_padding, "dilation": dilation}
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"conv_transpose1d: {name} must be an int, not {value!r}")
    x = input if isinstance(input, Tensor) else Tensor(input)
    out = conv_transpose2d(ops.unsqueeze(x, 2), ops.unsqueeze(weight, 2), bias, (1, stride), (0, padding),
                           (0, output_padding), groups, (1, dilation))
    return ops.squeeze(out, 2)


# ---------------------------------------------------------------------------------------------------------------
# Normalization and reshuffles.
# ---------------------------------------------------------------------------------------------------------------
def instance_norm(input: Any, running_mean: Any = None, running_var: Any = None, weight: Any = None,
                  bias: Any = None, use_input_stats: bool = True, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize each channel of each sample of (N, C, ...) input over its positions (biased variance), then
    ·weight + bias per channel, as PyTorch's.

    With ``use_input_stats`` the running statistics (when given) move toward the batch's average of the
    instances' means and unbiased variances; without, they normalize instead (evaluation).
    """
    x = _tensor(input, "instance_norm")
    channels, shape = _channels(x, "instance_norm")
    axes = tuple(range(2, x.ndim))
    if not axes:
        raise ShapeError(f"instance_norm: input of shape {x.shape} has no positions to normalize over; expected "
                         "(N, C, L) or (N, C, H, W)")
    if use_input_stats:
        if x.size // (x.shape[0] * channels) <= 1:
            raise ShapeError(f"instance_norm: needs more than one value per channel, got input of shape {x.shape}")
        y = ops.normalize(x, axes, eps)
        data = x.data
        if running_mean is not None:
            _update_running(running_mean, data.mean(axis=axes).mean(axis=0), momentum)
        if running_var is not None:
            _update_running(running_var, data.var(axis=axes, ddof=1).mean(axis=0), momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("instance_norm: use_input_stats=False needs running_mean and running_var")
        mean = np.asarray(getattr(running_mean, "data", running_mean), x.dtype).reshape(shape)
        var = np.asarray(getattr(running_var, "data", running_var), x.dtype).reshape(shape)
        y = (x - mean) * (1 / np.sqrt(var + x.dtype.type(eps)))
    return _affine(y, weight, bias, shape, "instance_norm")


def local_response_norm(input: Any, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Tensor:
    """x / (k + α/size · Σ x²)^β, the sum over ``size`` neighbouring channels (zeros past the edges; size // 2
    before, (size − 1) // 2 after), for input (N, C, ...), as PyTorch's."""
    x = _tensor(input, "local_response_norm")
    if x.ndim < 3:
        raise ShapeError(f"local_response_norm: expects input (N, C, ...) with 3 or more dimensions, got shape "
                         f"{x.shape}")
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
        raise DomainError(f"local_response_norm: size must be a positive int, got {size!r}")
    squares = x * x
    channels = x.shape[1]
    edges = [np.zeros((x.shape[0], width) + x.shape[2:], x.dtype) for width in (size // 2, (size - 1) // 2)]
    padded = ops.concatenate([edges[0], squares, edges[1]], axis=1)
    total = padded[:, 0:channels]
    for j in range(1, size):
        total = total + padded[:, j:j + channels]
    return x / ops.power(total * (alpha / size) + k, beta)


def bilinear(input1: Any, input2: Any, weight: Any, bias: Any = None) -> Tensor:
    """y_o = x1ᵀ A_o x2 + b_o for a weight A of shape (out, in1, in2): inputs (..., in1) and (..., in2)."""
    where = "bilinear"
    x1, x2 = _float(input1, "input1", where), _float(input2, "input2", where)
    if np.ndim(weight) != 3:
        raise ShapeError(f"{where}: weight must be 3-D (out_features, in1_features, in2_features), got shape "
                         f"{np.shape(weight)}")
    out, in1, in2 = np.shape(weight)
    if x1.ndim < 1 or x1.shape[-1] != in1 or x2.ndim < 1 or x2.shape[-1] != in2 or x1.shape[:-1] != x2.shape[:-1]:
        raise ShapeError(f"{where}: inputs of shapes {x1.shape} and {x2.shape} do not fit the weight "
                         f"{np.shape(weight)}; expected (..., {in1}) and (..., {in2}) with equal leading dimensions")
    if bias is not None and np.shape(bias) != (out,):
        raise ShapeError(f"{where}: bias of shape {np.shape(bias)} does not fit; expected ({out},)")
    lead = x1.shape[:-1]
    # (B, in1) @ (in1, out·in2): each x1ᵀ A_o, then the products with x2 summed over in2.
    left = ops.matmul(ops.reshape(x1, (-1, in1)), ops.reshape(ops.swapaxes(weight, 0, 1), (in1, out * in2)))
    y = ops.sum(ops.reshape(left, (-1, out, in2)) * ops.reshape(x2, (-1, 1, in2)), axis=-1)
    y = ops.reshape(y, lead + (out,))
    return y if bias is None else y + bias


def channel_shuffle(input: Any, groups: int) -> Tensor:
    """(N, C, ...) with its channels seen as (groups, C/groups) and read transposed (ShuffleNet's shuffle)."""
    x = input if isinstance(input, Tensor) else Tensor(input)
    if x.ndim < 3:
        raise ShapeError(f"channel_shuffle: expects input (N, C, ...) with 3 or more dimensions, got shape {x.shape}")
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1 or x.shape[1] % groups:
        raise DomainError(f"channel_shuffle: groups must be a positive int dividing the {x.shape[1]} channels, got "
                          f"{groups!r}")
    n, c = x.shape[:2]
    grouped = ops.reshape(x, (n, int(groups), c // groups) + x.shape[2:])
    return ops.reshape(ops.swapaxes(grouped, 1, 2), x.shape)


# ---------------------------------------------------------------------------------------------------------------
# Losses.
# ---------------------------------------------------------------------------------------------------------------
def _hinge(z: Tensor) -> Tensor:
    """max(z, 0) with PyTorch's clamp_min derivative: 1 where z >= 0, so a loss exactly at its margin still
    passes the gradient (relu'(0) = 0 would not)."""
    return ops.where(z.data >= 0, z, np.zeros((), z.dtype))


def _check_reduction(reduction: str, where: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{where}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _signs(target: Any, like: Tensor, where: str) -> np.ndarray:
    """Targets of ±1 (any real numbers accepted, as PyTorch) as a constant array in the input's dtype."""
    array = np.asarray(getattr(target, "data", target))
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{where}: target must hold numbers (1 or -1), got dtype {array.dtype}")
    return array.astype(like.dtype)


def _constant(value: Any, like: Tensor, name: str, where: str) -> np.ndarray:
    array = np.asarray(getattr(value, "data", value))
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{where}: {name} must hold real numbers, got dtype {array.dtype}")
    return array.astype(like.dtype)


def _number(value: Any, name: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a real number, got {value!r}")
    return float(value)


def poisson_nll_loss(input: Any, target: Any, log_input: bool = True, full: bool = False, eps: float = 1e-8,
                     reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of a Poisson target: exp(x) − t·x with ``log_input`` (x the log-rate), else
    x − t·log(x + eps). ``full`` adds Stirling's t·log t − t + ½·log(2πt) where t > 1 (a constant)."""
    where = "poisson_nll_loss"
    _check_reduction(reduction, where)
    x = _float(input, "input", where)
    t = _constant(target, x, "target", where)
    _same_shape(x, t, where)
    loss = ops.exp(x) - t * x if log_input else x - t * ops.log(x + _number(eps, "eps", where))
    if full:
        big = np.where(t > 1, t, 1)  # Stirling's term is 0 where t <= 1
        loss = loss + np.where(t > 1, big * np.log(big) - big + 0.5 * np.log(2 * math.pi * big), 0).astype(x.dtype)
    return _reduce(loss, reduction, where)


def gaussian_nll_loss(input: Any, target: Any, var: Any, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """½·(log v + (x − t)²/v) (+ ½·log 2π with ``full``), v the variance clamped at ``eps``, as PyTorch's.

    ``var``: the input's shape (one per expectation), or with one axis of size 1 or the last axis dropped (shared),
    or a float. The clamp changes the value only: the gradient reaches ``var`` as if unclamped, as in PyTorch.
    """
    where = "gaussian_nll_loss"
    _check_reduction(reduction, where)
    x = _float(input, "input", where)
    if isinstance(var, numbers.Real) and not isinstance(var, bool):
        var = np.full(x.shape, var, x.dtype)
    v = var if isinstance(var, Tensor) else Tensor(np.asarray(var).astype(x.dtype))
    values = ops.stop(v)
    if np.any(np.asarray(values.data) < 0):
        raise DomainError(f"{where}: var has negative entries; variances must be >= 0")
    if v.shape != x.shape:
        if v.shape == x.shape[:-1]:
            v, values = ops.unsqueeze(v, -1), ops.unsqueeze(values, -1)
        elif not (v.ndim == x.ndim and sum(b for a, b in zip(x.shape, v.shape, strict=True) if a != b) == 1):
            raise ShapeError(f"{where}: var of shape {v.shape} does not fit the input's {x.shape}; expected "
                             f"{x.shape}, {x.shape[:-1]}, or {x.shape} with one axis of size 1")
    t = target if isinstance(target, Tensor) else _constant(target, x, "target", where)
    _same_shape(x, t, where)
    v = v + (ops.clip(values, _number(eps, "eps", where), None) - values)  # clamped values, v's own gradient
    diff = x - t
    loss = 0.5 * (ops.log(v) + diff * diff / v)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction, where)


def margin_ranking_loss(input1: Any, input2: Any, target: Any, margin: float = 0.0, reduction: str = "mean") -> Tensor:
    """max(0, −y·(x1 − x2) + margin): x1 should rank above x2 where y = 1, below where y = −1."""
    where = "margin_ranking_loss"
    _check_reduction(reduction, where)
    x1, x2 = _float(input1, "input1", where), _float(input2, "input2", where)
    y = _signs(target, x1, where)
    _same_shape(x1, x2, where)
    _same_shape(x1, y, where)
    return _reduce(_hinge(-y * (x1 - x2) + _number(margin, "margin", where)), reduction, where)


def hinge_embedding_loss(input: Any, target: Any, margin: float = 1.0, reduction: str = "mean") -> Tensor:
    """x where y = 1, max(0, margin − x) where y = −1 (for a distance x), as PyTorch's (other y: both terms)."""
    where = "hinge_embedding_loss"
    _check_reduction(reduction, where)
    x = _float(input, "input", where)
    y = _signs(target, x, where)
    _same_shape(x, y, where)
    zero = np.zeros((), x.dtype)
    loss = ops.where(y != 1, _hinge(_number(margin, "margin", where) - x), zero) + ops.where(y != -1, x, zero)
    return _reduce(loss, reduction, where)


def soft_margin_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """log(1 + exp(−y·x)) for targets y = ±1: ``softplus`` of −y·x, so large margins never overflow."""
    where = "soft_margin_loss"
    _check_reduction(reduction, where)
    x = _float(input, "input", where)
    y = _signs(target, x, where)
    _same_shape(x, y, where)
    return _reduce(softplus(-y * x), reduction, where)


def multilabel_soft_margin_loss(input: Any, target: Any, weight: Any = None, reduction: str = "mean") -> Tensor:
    """−mean_c w_c·[y_c·log σ(x_c) + (1 − y_c)·log σ(−x_c)] over the C classes (the last axis), per sample; 0/1
    targets of the input's shape (N, C) or (C,)."""
    where = "multilabel_soft_margin_loss"
    _check_reduction(reduction, where)
    x = _float(input, "input", where)
    y = _constant(target, x, "target", where)
    _same_shape(x, y, where)
    if x.ndim not in (1, 2):
        raise ShapeError(f"{where}: expects input (N, C) or (C,), got shape {x.shape}")
    # −log σ(x) = softplus(−x), −log σ(−x) = softplus(x)
    loss = y * softplus(-x) + (1 - y) * softplus(x)
    if weight is not None:
        factor = _constant(weight, x, "weight", where)
        try:
            np.broadcast_shapes(factor.shape, x.shape)
        except ValueError:
            raise ShapeError(f"{where}: weight of shape {factor.shape} does not broadcast to the input's "
                             f"{x.shape}") from None
        loss = loss * factor
    return _reduce(ops.sum(loss, axis=-1) / x.shape[-1], reduction, where)


def cosine_embedding_loss(input1: Any, input2: Any, target: Any, margin: float = 0.0,
                          reduction: str = "mean") -> Tensor:
    """1 − cos(x1, x2) where y = 1, max(0, cos(x1, x2) − margin) where y = −1, per row of (N, D) inputs (or one
    (D,) pair with a scalar y); cos = x1·x2 / √((|x1|² + 1e-12)(|x2|² + 1e-12)) as PyTorch's."""
    where = "cosine_embedding_loss"
    _check_reduction(reduction, where)
    x1, x2 = _float(input1, "input1", where), _float(input2, "input2", where)
    y = _signs(target, x1, where)
    if y.ndim not in (0, 1) or x1.ndim != y.ndim + 1 or x2.shape != x1.shape or x1.shape[:-1] != y.shape:
        raise ShapeError(f"{where}: expects inputs (N, D) with target (N,), or (D,) with a scalar target; got "
                         f"{x1.shape}, {x2.shape} and {y.shape}")
    epsilon = 1e-12
    norms = (ops.sum(x1 * x1, axis=-1) + epsilon) * (ops.sum(x2 * x2, axis=-1) + epsilon)
    cos = ops.sum(x1 * x2, axis=-1) / ops.sqrt(norms)
    zero = np.zeros((), x1.dtype)
    loss = ops.where(y == 1, 1 - cos, zero) + ops.where(y == -1, _hinge(cos - _number(margin, "margin", where)),
                                                       zero)
    return _reduce(loss, reduction, where)


def pairwise_distance(x1: Any, x2: Any, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """‖x1 − x2 + eps‖_p along the last axis, as PyTorch's (the eps keeps the gradient finite at x1 = x2)."""
    where = "pairwise_distance"
    p = _number(p, "p", where)
    if not p > 0 or math.isinf(p):
        raise DomainError(f"{where}: p must be a positive finite number, got {p!r}")
    x1 = _float(x1, "x1", where)
    diff = x1 - x2 + x1.dtype.type(_number(eps, "eps", where))
    if p == 2:
        return ops.sqrt(ops.sum(diff * diff, axis=-1, keepdims=keepdim))
    size = ops.abs(diff)
    if p == 1:
        return ops.sum(size, axis=-1, keepdims=keepdim)
    return ops.power(ops.sum(ops.power(size, p), axis=-1, keepdims=keepdim), 1 / p)


def triplet_margin_loss(anchor: Any, positive: Any, negative: Any, margin: float = 1.0, p: float = 2.0,
                        eps: float = 1e-6, swap: bool = False, reduction: str = "mean") -> Tensor:
    """max(0, d(a, p) − d(a, n) + margin) with d the ``pairwise_distance`` (p-norm, eps); ``swap`` uses
    min(d(a, n), d(p, n)) as the negative distance (Balntas et al.'s distance swap)."""
    where = "triplet_margin_loss"
    _check_reduction(reduction, where)
    a, pos, neg = (_float(v, n, where) for v, n in ((anchor, "anchor"), (positive, "positive"),
                                                    (negative, "negative")))
    if a.ndim not in (1, 2) or not a.shape == pos.shape == neg.shape:
        raise ShapeError(f"{where}: anchor, positive and negative must share one shape (N, D) or (D,), got "
                         f"{a.shape}, {pos.shape} and {neg.shape}")
    d_pos, d_neg = pairwise_distance(a, pos, p, eps), pairwise_distance(a, neg, p, eps)
    if swap:
        d_neg = ops.minimum(d_neg, pairwise_distance(pos, neg, p, eps))
    return _reduce(_hinge(d_pos - d_neg + _number(margin, "margin", where)), reduction, where)


def multi_margin_loss(input: Any, target: Any, p: int = 1, margin: float = 1.0, weight: Any = None,
                      reduction: str = "mean") -> Tensor:
    """Σ_{i ≠ y} w_y·max(0, margin − x_y + x_i)^p / C for scores (N, C) (or (C,)) and class labels y; p is 1 or 2.
    A term exactly at its margin gets no gradient (PyTorch's kernel counts only z > 0)."""
    where = "multi_margin_loss"
    _check_reduction(reduction, where)
    if p not in (1, 2) or isinstance(p, bool):
        raise DomainError(f"{where}: p must be 1 or 2, got {p!r}")
    x = _float(input, "input", where)
    if x.ndim not in (1, 2):
        raise ShapeError(f"{where}: expects input (N, C) or (C,), got shape {x.shape}")
    classes = x.shape[-1]
    labels = class_labels(target, classes, x.shape[:-1], where)
    picked = x[np.arange(x.shape[0]), labels] if x.ndim == 2 else x[labels]  # each sample's x_y
    z = ops.relu(_number(margin, "margin", where) - ops.unsqueeze(picked, -1) + x)
    others = (np.arange(classes) != np.asarray(labels)[..., None]).astype(x.dtype)  # the target's own term is out
    terms = (z if p == 1 else z * z) * others
    if weight is not None:
        w = _constant(weight, x, "weight", where)
        if w.shape != (classes,):
            raise ShapeError(f"{where}: weight must have shape ({classes},), one per class, got {w.shape}")
        terms = terms * w[labels][..., None]
    return _reduce(ops.sum(terms, axis=-1) / classes, reduction, where)


__all__ = [
    "bilinear", "channel_shuffle", "conv_transpose1d", "conv_transpose2d", "cosine_embedding_loss",
    "gaussian_nll_loss", "hinge_embedding_loss", "instance_norm", "local_response_norm", "margin_ranking_loss",
    "multi_margin_loss", "multilabel_soft_margin_loss", "pairwise_distance", "poisson_nll_loss", "soft_margin_loss",
    "triplet_margin_loss",
]
