"""Functions behind the layers and losses: ``cr.nn.functional`` (import it as ``F``, as in PyTorch).

Everything here is built from chainrule ops, so every gradient comes from the rule table: a convolution is
``unfold`` then a matrix product, max pooling is ``unfold`` then ``max``, cross-entropy is ``log_softmax`` then
indexing. Inputs are checked here, at the boundary, so mistakes get a message that names the function, what it
found and what it expected.

>>> import numpy as np, chainrule as cr
>>> import chainrule.nn.functional as F
>>> logits = cr.tensor([[2.0, 0.5, -1.0]], requires_grad=True)
>>> loss = F.cross_entropy(logits, np.array([0]))
>>> round(loss.item(), 4)
0.2413
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .. import ops
from ..arguments import REDUCTIONS, class_labels, image, pair
from ..errors import DomainError, ShapeError
from ..ops import (
    fold,
    leaky_relu,
    linear,
    log_softmax,
    logsumexp,
    relu,
    sigmoid,
    softmax,
    softplus,
    tanh,
    unfold,
)
from ..rules import numpy_math
from ..tensor import Tensor
from . import init

Pair = tuple[int, int]


# ---------------------------------------------------------------------------------------------------------------
# Layers as functions.
# ---------------------------------------------------------------------------------------------------------------
def conv2d(x: Any, weight: Tensor, bias: Tensor | None = None, stride: int | Pair = 1,
           padding: int | Pair = 0) -> Tensor:
    """2-D convolution (cross-correlation, as in PyTorch) of an NCHW batch with a (out, in, kh, kw) kernel.

    out[n, o, r, q] = bias[o] + Σ_c Σ_ij weight[o, c, i, j] · x_padded[n, c, s_h·r + i, s_w·q + j]: ``unfold`` the
    windows into columns, then one matrix product with the weight reshaped to (out, in·kh·kw).
    """
    x = image(x, "conv2d")
    if np.ndim(weight) != 4:
        raise ShapeError(f"conv2d: the weight must be 4-D (out_channels, in_channels, kh, kw), got shape "
                         f"{np.shape(weight)}")
    out_channels, in_channels, kh, kw = np.shape(weight)
    if bias is not None and np.shape(bias) != (out_channels,):
        raise ShapeError(f"conv2d: bias of shape {np.shape(bias)} does not fit {out_channels} output channels; "
                         f"expected ({out_channels},)")
    if x.shape[1] != in_channels:
        raise ShapeError(
            f"conv2d: input of shape {x.shape} has {x.shape[1]} channels, but the weight of shape {weight.shape} "
            f"expects {in_channels} (inputs are (batch, channels, height, width))"
        )
    stride, padding = pair(stride, "stride", "conv2d", 1), pair(padding, "padding", "conv2d", 0)
    n = x.shape[0]
    oh, ow = numpy_math.count_windows(x.shape[2:], (kh, kw), stride, padding)
    columns = unfold(x, (kh, kw), stride, padding)
    out = ops.matmul(ops.reshape(weight, (out_channels, in_channels * kh * kw)), columns)
    if bias is not None:
        out = out + ops.reshape(bias, (out_channels, 1))
    return ops.reshape(out, (n, out_channels, oh, ow))


def max_pool2d(x: Any, kernel_size: int | Pair, stride: int | Pair | None = None) -> Tensor:
    """The maximum of each kh×kw window (stride defaults to the kernel size); tied maxima share the gradient."""
    x = image(x, "max_pool2d")
    kernel_size = pair(kernel_size, "kernel_size", "max_pool2d", 1)
    stride = kernel_size if stride is None else pair(stride, "stride", "max_pool2d", 1)
    n, c = x.shape[:2]
    oh, ow = numpy_math.count_windows(x.shape[2:], kernel_size, stride, (0, 0))
    columns = unfold(x, kernel_size, stride)
    windows = ops.reshape(columns, (n, c, kernel_size[0] * kernel_size[1], oh * ow))
    return ops.reshape(ops.max(windows, axis=2), (n, c, oh, ow))


def dropout(x: Any, p: float = 0.5, training: bool = True, rng: np.random.Generator | None = None) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1 − p) (training); the identity otherwise."""
    _check_probability(p, "dropout")
    if not training or p == 0:
        return x if isinstance(x, Tensor) else Tensor(x)
    data = x.data if isinstance(x, Tensor) else np.asarray(x)
    dtype = data.dtype if data.dtype.kind == "f" else np.dtype(np.float64)
    keep = init.generator(rng=rng).random(data.shape) >= p
    scale = np.zeros((), dtype) if p == 1 else np.asarray(1 / (1 - p), dtype)
    return ops.multiply(x, keep.astype(dtype) * scale)


def _check_probability(p: float, where: str) -> None:
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise DomainError(f"{where}: p must be a probability in [0, 1], got {p!r}")


# ---------------------------------------------------------------------------------------------------------------
# Losses.
# ---------------------------------------------------------------------------------------------------------------
def _reduce(loss: Tensor, reduction: str, where: str) -> Tensor:
    if reduction == "mean":
        return ops.mean(loss)
    if reduction == "sum":
        return ops.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"{where}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _target(target: Any, where: str) -> Tensor | np.ndarray:
    """A target as a Tensor (kept, so it may carry gradient) or an ndarray of real numbers."""
    if isinstance(target, Tensor):
        return target
    array = np.asarray(target)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{where}: target has dtype {array.dtype}; expected numbers")
    return array


def _same_shape(input: Any, target: Any, where: str) -> None:
    if np.shape(input) != np.shape(target):
        raise ShapeError(
            f"{where}: target has shape {np.shape(target)} but input has shape {np.shape(input)}; they must be "
            "equal (reshape one of them, e.g. target.reshape(input.shape))"
        )


def _float_target(target: Tensor | np.ndarray, like: Any) -> Tensor | np.ndarray:
    """The target in the input's float dtype (0/1 integer labels too), so float32 stays float32.

    A Tensor target keeps its float dtype: it may carry a gradient of its own.
    """
    dtype = np.result_type(like.dtype if hasattr(like, "dtype") else np.float64, np.float32)
    if isinstance(target, Tensor):
        return target if target.dtype.kind == "f" else target.astype(dtype)
    return target.astype(dtype, copy=False)


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error: mean((input − target)²). ∂/∂input = 2(input − target)/n."""
    target = _float_target(_target(target, "mse_loss"), input)
    _same_shape(input, target, "mse_loss")
    diff = ops.subtract(input, target)
    return _reduce(diff * diff, reduction, "mse_loss")


def binary_cross_entropy(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """−[t·log p + (1 − t)·log(1 − p)] for probabilities p in [0, 1] (e.g. after a sigmoid).

    Each log is clamped at −100, as PyTorch does, so p = 0 or 1 gives a finite loss. For logits, prefer
    ``binary_cross_entropy_with_logits``: it is exact where the sigmoid rounds to 0 or 1.
    """
    target = _float_target(_target(target, "binary_cross_entropy"), input)
    _same_shape(input, target, "binary_cross_entropy")
    p = input.data if isinstance(input, Tensor) else np.asarray(input)
    if p.size and not (np.all(p >= 0) and np.all(p <= 1)):
        bad = p[~((p >= 0) & (p <= 1))].flat[0]
        raise DomainError(
            f"binary_cross_entropy: input must hold probabilities in [0, 1], found {bad}; apply cr.sigmoid first, "
            "or use binary_cross_entropy_with_logits on the raw scores"
        )
    # log(p) >= -100; below the clamp the derivative is 0, as for any clip. A Python float keeps float32 float32.
    floor = math.exp(-100.0)
    log_p = ops.log(ops.clip(input, floor, None))
    log_not_p = ops.log(ops.clip(1 - input, floor, None))
    loss = -(target * log_p + (1 - target) * log_not_p)
    return _reduce(loss, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of sigmoid(x) with target t, from the logits x: softplus(x) − x·t.

    softplus(x) = log(1 + eˣ) = max(x, 0) + log1p(e^−|x|) never overflows (logits of ±1e4 are fine), and its rule
    σ(x) gives the gradient σ(x) − t exactly, also at x = 0. Composing max and |x| would give −t there, as the
    kinks' derivatives are taken as 0.
    """
    target = _float_target(_target(target, "binary_cross_entropy_with_logits"), input)
    _same_shape(input, target, "binary_cross_entropy_with_logits")
    loss = softplus(input) - ops.multiply(input, target)
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def nll_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood: −input[n, target[n]], for log-probabilities ``input`` of shape (N, C) or (N, C, ...).

    ``target`` holds integer class labels of shape (N,) or (N, ...). The gradient is −1 at each chosen entry.
    """
    if not isinstance(input, Tensor):
        input = Tensor(input)
    if input.ndim < 1:
        raise ShapeError(f"nll_loss: input must have a class axis, got a scalar of shape {input.shape}")
    if input.ndim == 1:  # a single sample of C classes
        labels = class_labels(target, input.shape[0], (), "nll_loss")
        return _reduce(-input[labels], reduction, "nll_loss")
    n_classes = input.shape[1]
    labels = class_labels(target, n_classes, input.shape[:1] + input.shape[2:], "nll_loss")
    # Pick input[n, labels[n, ...], ...]: index axis 0 and the trailing axes with broadcast grids.
    grids = np.ogrid[tuple(slice(0, s) for s in labels.shape)]
    picked = input[(grids[0], labels, *grids[1:])]
    return _reduce(-picked, reduction, "nll_loss")


def cross_entropy(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Cross-entropy of logits (N, C) and integer labels (N,): −log softmax(input)[n, target[n]], averaged.

    For (N, C) logits this is one primitive of the rule table, whose gradient is (softmax − onehot) · g; other
    shapes ((C,) logits with a scalar label, (N, C, ...)) go through ``nll_loss(log_softmax(input, axis=1),
    target)``. Both shift by the maximum, so logits of ±1e4 give finite values.
    """
    if not isinstance(input, Tensor):
        input = Tensor(input)
    if input.ndim == 0:
        raise ShapeError("cross_entropy: input must have a class axis, got a scalar")
    if input.dtype.kind != "f":
        raise TypeError(f"cross_entropy: logits must be floating point, got dtype {input.dtype}")
    if input.ndim == 2:
        return ops.softmax_cross_entropy(input, target, reduction, where="cross_entropy")
    axis = 0 if input.ndim == 1 else 1
    return nll_loss(log_softmax(input, axis=axis), target, reduction)


__all__ = [
    "REDUCTIONS", "binary_cross_entropy", "binary_cross_entropy_with_logits", "conv2d", "cross_entropy",
    "dropout", "fold", "leaky_relu", "linear", "log_softmax", "logsumexp", "max_pool2d", "mse_loss", "nll_loss",
    "relu", "sigmoid", "softmax", "softplus", "tanh", "unfold",
]
