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

import contextlib
import math
import numbers
from typing import Any

import numpy as np

from .. import ops
from ..arguments import REDUCTIONS, class_labels, image, is_int, pair
from ..engine import bump
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
           padding: int | Pair | str = 0, dilation: int | Pair = 1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation, as in PyTorch) of an NCHW batch with a (out, in/groups, kh, kw) kernel.

    out[n, o, r, q] = bias[o] + Σ_c Σ_ij weight[o, c, i, j] · x_padded[n, c, s_h·r + d_h·i, s_w·q + d_w·j]:
    ``unfold`` the windows into columns, then one matrix product with the weight reshaped to (out, in·kh·kw).
    ``padding="same"`` keeps the size (stride 1; an odd total puts the extra zero at the end, as PyTorch);
    ``dilation`` spreads the kernel (a kernel with zeros between its taps); ``groups`` convolves each of
    ``groups`` slices of the channels with its own slice of the filters, then concatenates.
    """
    x = image(x, "conv2d")
    if np.ndim(weight) != 4:
        raise ShapeError(f"conv2d: the weight must be 4-D (out_channels, in_channels/groups, kh, kw), got shape "
                         f"{np.shape(weight)}")
    out_channels, in_per_group, kh, kw = np.shape(weight)
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1 \
            or out_channels % groups:
        raise DomainError(f"conv2d: groups must be a positive int dividing the {out_channels} output channels, got "
                          f"{groups!r}")
    if bias is not None and np.shape(bias) != (out_channels,):
        raise ShapeError(f"conv2d: bias of shape {np.shape(bias)} does not fit {out_channels} output channels; "
                         f"expected ({out_channels},)")
    if x.shape[1] != in_per_group * groups:
        raise ShapeError(
            f"conv2d: input of shape {x.shape} has {x.shape[1]} channels, but the weight of shape {np.shape(weight)}"
            f" with groups={groups} expects {in_per_group * groups} (inputs are (batch, channels, height, width))"
        )
    stride, dilation = pair(stride, "stride", "conv2d", 1), pair(dilation, "dilation", "conv2d", 1)
    if dilation != (1, 1):
        weight = _dilate(weight, dilation)
        kh, kw = np.shape(weight)[2:]
    if padding == "same":
        if stride != (1, 1):
            raise DomainError(f"conv2d: padding='same' needs stride 1, got stride {stride}")
        x, padding = _pad_same(x, (kh, kw))
    elif padding == "valid":
        padding = (0, 0)
    padding = pair(padding, "padding", "conv2d", 0)
    if groups == 1:
        return _convolve(x, weight, bias, stride, padding)
    per_out = out_channels // groups
    outs = [_convolve(x[:, g * in_per_group:(g + 1) * in_per_group], weight[g * per_out:(g + 1) * per_out], None,
                      stride, padding) for g in range(groups)]
    out = ops.concatenate(outs, axis=1)
    return out if bias is None else out + ops.reshape(bias, (out_channels, 1, 1))


def _convolve(x: Tensor, weight: Any, bias: Any, stride: Pair, padding: Pair) -> Tensor:
    out_channels, in_channels, kh, kw = np.shape(weight)
    n = x.shape[0]
    oh, ow = numpy_math.count_windows(x.shape[2:], (kh, kw), stride, padding)
    columns = unfold(x, (kh, kw), stride, padding)
    out = ops.matmul(ops.reshape(weight, (out_channels, in_channels * kh * kw)), columns)
    if bias is not None:
        out = out + ops.reshape(bias, (out_channels, 1))
    return ops.reshape(out, (n, out_channels, oh, ow))


def _dilate(weight: Any, dilation: Pair) -> Tensor:
    """The kernel with d − 1 zeros between neighbouring taps along each axis (size (k − 1)·d + 1)."""
    for axis, d in ((2, dilation[0]), (3, dilation[1])):
        if d == 1:
            continue
        shape = np.shape(weight)
        k = shape[axis]
        spread = ops.unsqueeze(weight, axis + 1)  # (..., k, 1, ...) then d − 1 zeros after each tap
        zeros = np.zeros(shape[:axis + 1] + (d - 1,) + shape[axis + 1:], dtype=np.result_type(weight))
        spread = ops.concatenate([spread, zeros], axis=axis + 1)
        spread = ops.reshape(spread, shape[:axis] + (k * d,) + shape[axis + 1:])
        weight = spread[(slice(None),) * axis + (slice(0, (k - 1) * d + 1),)]
    return weight


def _pad_same(x: Tensor, kernel: Pair) -> tuple[Tensor, Pair]:
    """(x with the odd extra zero row/column at the end, the symmetric padding) for output size = input size."""
    padding = []
    for axis, k in ((2, kernel[0]), (3, kernel[1])):
        total = k - 1
        if total % 2:
            shape = list(x.shape)
            shape[axis] = 1
            x = ops.concatenate([x, np.zeros(shape, x.dtype)], axis=axis)
        padding.append(total // 2)
    return x, (padding[0], padding[1])


def conv1d(x: Any, weight: Tensor, bias: Tensor | None = None, stride: int = 1, padding: int | str = 0,
           dilation: int = 1, groups: int = 1) -> Tensor:
    """1-D convolution of (N, C, L) input with a (out, in/groups, k) kernel: conv2d on a height of 1."""
    if np.ndim(x) != 3 or np.ndim(weight) != 3:
        raise ShapeError(f"conv1d: expects input (N, C, L) and weight (out, in/groups, k), got shapes {np.shape(x)} "
                         f"and {np.shape(weight)}")
    x = x if isinstance(x, Tensor) else Tensor(x)
    out = conv2d(ops.unsqueeze(x, 2), ops.unsqueeze(weight, 2), bias, (1, stride),
                 padding if isinstance(padding, str) else (0, padding), (1, dilation), groups)
    return ops.squeeze(out, 2)


def avg_pool2d(x: Any, kernel_size: int | Pair, stride: int | Pair | None = None, padding: int | Pair = 0,
               count_include_pad: bool = True) -> Tensor:
    """The mean of each kh×kw window (stride defaults to the kernel size). With padding, the zeros count in the
    mean unless ``count_include_pad=False``."""
    x = image(x, "avg_pool2d")
    kernel_size = pair(kernel_size, "kernel_size", "avg_pool2d", 1)
    stride = kernel_size if stride is None else pair(stride, "stride", "avg_pool2d", 1)
    padding = pair(padding, "padding", "avg_pool2d", 0)
    if any(2 * p > k for p, k in zip(padding, kernel_size, strict=True)):
        raise DomainError(f"avg_pool2d: padding {padding} must be at most half the kernel size {kernel_size}")
    n, c = x.shape[:2]
    oh, ow = numpy_math.count_windows(x.shape[2:], kernel_size, stride, padding)
    columns = ops.reshape(unfold(x, kernel_size, stride, padding), (n, c, kernel_size[0] * kernel_size[1], oh * ow))
    if count_include_pad or padding == (0, 0):
        return ops.reshape(ops.mean(columns, axis=2), (n, c, oh, ow))
    ones = np.ones((1, 1) + x.shape[2:], x.dtype)
    counts = numpy_math.unfold(ones, kernel_size, stride, padding).sum(axis=1).reshape(1, 1, oh, ow)
    return ops.reshape(ops.sum(columns, axis=2), (n, c, oh, ow)) / counts


def adaptive_avg_pool2d(x: Any, output_size: int | Pair) -> Tensor:
    """Average over oh×ow bins that cover the image: bin i of an axis of size n spans [⌊i·n/o⌋, ⌈(i+1)·n/o⌉)."""
    x = image(x, "adaptive_avg_pool2d")
    output_size = pair(output_size, "output_size", "adaptive_avg_pool2d", 1)
    for axis, o in ((2, output_size[0]), (3, output_size[1])):  # the bins are products: one axis at a time
        size = x.shape[axis]
        if size % o == 0:  # equal bins: one reshape and one mean
            shape = x.shape[:axis] + (o, size // o) + x.shape[axis + 1:]
            x = ops.mean(ops.reshape(x, shape), axis=axis + 1)
            continue
        bins = [(i * size // o, -(-(i + 1) * size // o)) for i in range(o)]
        x = ops.stack([ops.mean(x[(slice(None),) * axis + (slice(a, b),)], axis=axis) for a, b in bins], axis=axis)
    return x


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
    data = x if isinstance(x, Tensor) else np.asarray(x)  # a Tensor's dtype reads as NumPy's for every library
    dtype = data.dtype if data.dtype.kind == "f" else np.dtype(np.float64)
    # The mask is drawn by NumPy; for another library's tensor, multiply moves it to the device (explicitly).
    keep = init.generator(rng=rng).random(data.shape) >= p
    scale = np.zeros((), dtype) if p == 1 else np.asarray(1 / (1 - p), dtype)
    return ops.multiply(x, keep.astype(dtype) * scale)


def _check_probability(p: float, where: str) -> None:
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise DomainError(f"{where}: p must be a probability in [0, 1], got {p!r}")


# ---------------------------------------------------------------------------------------------------------------
# Activations.
# ---------------------------------------------------------------------------------------------------------------
def _tensor(x: Any, where: str) -> Tensor:
    x = x if isinstance(x, Tensor) else Tensor(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{where}: input must be floating point, got dtype {x.dtype}")
    return x


def gelu(x: Any, approximate: str = "none") -> Tensor:
    """GELU(x) = x·Φ(x), Φ the standard normal CDF: one rule of the table, GELU'(x) = Φ(x) + x·φ(x).

    ``approximate="tanh"``: 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))) (PyTorch's option), the rule ``gelu_tanh``.

    >>> import chainrule as cr, chainrule.nn.functional as F
    >>> round(F.gelu(cr.tensor(1.0)).item(), 6)
    0.841345
    """
    x = _tensor(x, "gelu")
    if approximate == "none":
        return ops.gelu(x)
    if approximate == "tanh":
        return ops.gelu_tanh(x)
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(x: Any) -> Tensor:
    """SiLU (swish): x·σ(x), composed of sigmoid; its derivative is σ(x)(1 + x(1 − σ(x)))."""
    x = _tensor(x, "silu")
    return x * sigmoid(x)


def softplus(x: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + e^(βx))/β, and x itself where βx > threshold (as PyTorch, which also passes gradient 1 there)."""
    x = _tensor(x, "softplus")
    for name, value in (("beta", beta), ("threshold", threshold)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"softplus: {name} must be a real number, got {value!r}")
    if beta == 1:
        smooth = ops.softplus(x)
    else:
        smooth = ops.softplus(x * beta) / beta
    return ops.where(x.data * beta > threshold, x, smooth)


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """Integer labels of any shape as one-hot rows: shape (*labels.shape, num_classes), int64, no gradient.

    ``num_classes=-1`` takes the largest label + 1.
    """
    labels = tensor.data if isinstance(tensor, Tensor) else np.asarray(tensor)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers (e.g. int64), got dtype {labels.dtype}")
    if labels.size and labels.min() < 0:
        raise DomainError(f"one_hot: labels must be >= 0, found {int(labels.min())}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < -1:
        raise DomainError(f"one_hot: num_classes must be a non-negative int or -1, got {num_classes!r}")
    if num_classes == -1:
        if not labels.size:
            raise ShapeError("one_hot: cannot infer num_classes from empty labels; pass num_classes")
        num_classes = int(labels.max()) + 1
    elif labels.size and labels.max() >= num_classes:
        raise DomainError(f"one_hot: label {int(labels.max())} does not fit {num_classes} classes")
    return Tensor((labels[..., None] == np.arange(num_classes)).astype(np.int64))


# ---------------------------------------------------------------------------------------------------------------
# Embedding and normalization.
# ---------------------------------------------------------------------------------------------------------------
def embedding(input: Any, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of ``weight`` (num_embeddings, dim) picked by integer ``input`` of any shape: shape (*input, dim).

    The gradient of a row is the sum of the upstream gradients of the places that picked it; rows picked by
    ``padding_idx`` get none (their output is still the row's value, zero when initialised by ``Embedding``).
    """
    if np.ndim(weight) != 2:
        raise ShapeError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got {np.shape(weight)}")
    n = np.shape(weight)[0]
    index = input.data if isinstance(input, Tensor) else np.asarray(input)
    if index.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers (e.g. int64), got dtype {index.dtype}")
    if index.size and (index.min() < 0 or index.max() >= n):
        bad = int(index.min()) if index.min() < 0 else int(index.max())
        raise DomainError(f"embedding: index {bad} is out of range for {n} embeddings (0..{n - 1})")
    weight = weight if isinstance(weight, Tensor) else Tensor(weight)
    out = weight[index.astype(np.intp, copy=False)]
    if padding_idx is not None:
        padding_idx = _padding_index(padding_idx, n, "embedding")
        pad = index == padding_idx
        if pad.any():  # those places take the row's value as a constant: no gradient flows back to it
            out = ops.where(pad[..., None], weight.data[index], out)
    return out


def _padding_index(padding_idx: Any, n: int, where: str) -> int:
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, numbers.Integral) or not -n <= padding_idx < n:
        raise DomainError(f"{where}: padding_idx must be an int in [-{n}, {n}), got {padding_idx!r}")
    return int(padding_idx) % n


def _trailing_axes(x: Tensor, normalized_shape: Any, where: str) -> tuple[int, ...]:
    """The axes that ``normalized_shape`` names: the last len(normalized_shape) ones, whose sizes it must match."""
    shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or x.ndim < k or tuple(x.shape[x.ndim - k:]) != tuple(int(n) for n in shape):
        raise ShapeError(
            f"{where}: input of shape {x.shape} does not end with normalized_shape {shape}; the last "
            f"{k} dimension(s) are the ones normalized"
        )
    return tuple(range(x.ndim - k, x.ndim))


def _affine(y: Tensor, weight: Any, bias: Any, shape: tuple[int, ...], where: str) -> Tensor:
    """y·weight + bias, each reshaped to ``shape`` to broadcast over the normalized axes."""
    for name, value in (("weight", weight), ("bias", bias)):
        if value is not None and np.size(value) != int(np.prod(shape)):
            raise ShapeError(f"{where}: {name} of shape {np.shape(value)} does not fit; expected "
                             f"{int(np.prod(shape))} elements")
    if weight is not None:
        y = y * ops.reshape(weight, shape)
    if bias is not None:
        y = y + ops.reshape(bias, shape)
    return y


def layer_norm(input: Any, normalized_shape: int | tuple[int, ...], weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Tensor:
    """(x − mean) / √(var + eps) · weight + bias over the trailing ``normalized_shape`` axes (biased variance).

    The normalization is one rule of the table (``normalize``); weight and bias are a product and a sum.

    >>> import chainrule as cr, chainrule.nn.functional as F
    >>> F.layer_norm(cr.tensor([[1.0, 2.0, 3.0]]), 3).numpy().round(4).tolist()
    [[-1.2247, 0.0, 1.2247]]
    """
    x = _tensor(input, "layer_norm")
    axes = _trailing_axes(x, normalized_shape, "layer_norm")
    y = ops.normalize(x, axes, eps)
    return _affine(y, weight, bias, x.shape[axes[0]:], "layer_norm")


def rms_norm(input: Any, normalized_shape: int | tuple[int, ...], weight: Any = None,
             eps: float | None = None) -> Tensor:
    """x / √(mean(x²) + eps) · weight over the trailing axes; eps defaults to the dtype's machine epsilon.

    A composition of mean, sqrt and a division (stable as it is: mean(x²) ≥ 0).
    """
    x = _tensor(input, "rms_norm")
    axes = _trailing_axes(x, normalized_shape, "rms_norm")
    eps = float(np.finfo(x.dtype).eps) if eps is None else float(eps)
    y = x / ops.sqrt(ops.mean(x * x, axis=axes, keepdims=True) + eps)
    return _affine(y, weight, None, x.shape[axes[0]:], "rms_norm")


def _channels(x: Tensor, where: str) -> tuple[int, tuple[int, ...]]:
    if x.ndim < 2:
        raise ShapeError(f"{where}: input of shape {x.shape} needs a batch and a channel axis: (N, C, ...)")
    return x.shape[1], (x.shape[1],) + (1,) * (x.ndim - 2)


def group_norm(input: Any, num_groups: int, weight: Any = None, bias: Any = None, eps: float = 1e-5) -> Tensor:
    """Normalize each group of C/num_groups channels of each sample (over those channels and all positions),
    then scale and shift per channel: x of shape (N, C, ...)."""
    x = _tensor(input, "group_norm")
    channels, shape = _channels(x, "group_norm")
    if isinstance(num_groups, bool) or not isinstance(num_groups, numbers.Integral) or num_groups <= 0 \
            or channels % num_groups:
        raise DomainError(f"group_norm: num_groups must be a positive divisor of the {channels} channels, got "
                          f"{num_groups!r}")
    grouped = ops.reshape(x, (x.shape[0], int(num_groups), -1))
    y = ops.reshape(ops.normalize(grouped, -1, eps), x.shape)
    return _affine(y, weight, bias, shape, "group_norm")


def _update_running(buffer: Any, statistic: np.ndarray, momentum: float) -> None:
    """buffer ← (1 − momentum)·buffer + momentum·statistic, in place (a Tensor buffer or an array)."""
    array = buffer._array() if isinstance(buffer, Tensor) else buffer
    if not isinstance(array, np.ndarray) or array.shape != statistic.shape:
        raise ShapeError(f"batch_norm: a running statistic must be an array of shape {statistic.shape}, got "
                         f"{np.shape(array)}")
    array *= 1 - momentum
    array += momentum * statistic.astype(array.dtype, copy=False)
    bump(array)  # a graph that saved the old values must not use them as if unchanged


def batch_norm(input: Any, running_mean: Any, running_var: Any, weight: Any = None, bias: Any = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalization of (N, C) or (N, C, ...) input, per channel.

    Training: normalize with the batch's mean and (biased) variance — the ``normalize`` rule over every axis but
    the channels — and update ``running_mean`` / ``running_var`` in place (when given) with ``momentum`` and the
    unbiased variance, as PyTorch. Evaluation: (x − running_mean) / √(running_var + eps), constants.
    Then ·weight + bias per channel.
    """
    x = _tensor(input, "batch_norm")
    channels, shape = _channels(x, "batch_norm")
    axes = (0,) + tuple(range(2, x.ndim))
    if training:
        count = x.size // channels
        if count <= 1:
            raise ShapeError(f"batch_norm: training needs more than one value per channel, got input of shape "
                             f"{x.shape}")
        y = ops.normalize(x, axes, eps)
        data = x.data
        if running_mean is not None:
            _update_running(running_mean, data.mean(axis=axes), momentum)
        if running_var is not None:
            _update_running(running_var, data.var(axis=axes, ddof=1), momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: evaluation (training=False) needs running_mean and running_var")
        mean = np.asarray(running_mean.data if isinstance(running_mean, Tensor) else running_mean, x.dtype)
        var = np.asarray(running_var.data if isinstance(running_var, Tensor) else running_var, x.dtype)
        if mean.shape != (channels,) or var.shape != (channels,):
            raise ShapeError(f"batch_norm: running statistics must have shape ({channels},), got {mean.shape} and "
                             f"{var.shape}")
        y = (x - mean.reshape(shape)) * (1 / np.sqrt(var + x.dtype.type(eps))).reshape(shape)
    return _affine(y, weight, bias, shape, "batch_norm")


# ---------------------------------------------------------------------------------------------------------------
# Attention.
# ---------------------------------------------------------------------------------------------------------------
def _float(x: Any, name: str, where: str) -> Tensor:
    x = x if isinstance(x, Tensor) else Tensor(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{where}: {name} must be floating point, got dtype {x.dtype}")
    return x


def _mask_scores(scores: Tensor, mask: Any, allowed_when: bool, where: str) -> Tensor:
    """Scores with a mask applied: a boolean mask keeps the places equal to ``allowed_when`` (the others get −inf,
    so softmax gives them weight 0 and no gradient); a float mask is added."""
    mask = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    try:
        np.broadcast_shapes(mask.shape, scores.shape)
    except ValueError:
        raise ShapeError(f"{where}: a mask of shape {mask.shape} does not broadcast to the scores' shape "
                         f"{scores.shape} (..., L, S)") from None
    if mask.dtype == bool:
        allowed = mask if allowed_when else ~mask
        return ops.where(allowed, scores, -np.inf)
    if mask.dtype.kind != "f":
        raise TypeError(f"{where}: a mask must be boolean or floating point, got dtype {mask.dtype}")
    return scores + mask.astype(scores.dtype, copy=False)


def scaled_dot_product_attention(query: Any, key: Any, value: Any, attn_mask: Any = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 rng: np.random.Generator | None = None) -> Tensor:
    """softmax(q kᵀ · scale + mask) v over the last two axes: q (..., L, E), k (..., S, E), v (..., S, Ev).

    ``scale`` defaults to 1/√E. ``attn_mask``: boolean (True = may attend, as PyTorch's) or float (added).
    ``is_causal``: position i attends to positions ≤ i only. ``dropout_p``: dropout on the attention weights.

    >>> import chainrule as cr, chainrule.nn.functional as F
    >>> q = cr.ones(1, 3, 4)
    >>> F.scaled_dot_product_attention(q, q, cr.tensor([[[1.0], [2.0], [3.0]]]), is_causal=True).numpy().ravel()
    array([1. , 1.5, 2. ])
    """
    where = "scaled_dot_product_attention"
    q, k, v = (_float(t, n, where) for t, n in ((query, "query"), (key, "key"), (value, "value")))
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2 or q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ShapeError(f"{where}: expects query (..., L, E), key (..., S, E), value (..., S, Ev); got "
                         f"{q.shape}, {k.shape}, {v.shape}")
    if is_causal and attn_mask is not None:
        raise ValueError(f"{where}: pass either attn_mask or is_causal=True, not both")
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    scores = ops.matmul(q, ops.swapaxes(k, -1, -2)) * scale
    if is_causal:
        attn_mask = np.tril(np.ones((q.shape[-2], k.shape[-2]), dtype=bool))
    if attn_mask is not None:
        scores = _mask_scores(scores, attn_mask, True, where)
    weights = ops.softmax(scores, -1)
    if dropout_p:
        weights = dropout(weights, dropout_p, True, rng)
    return ops.matmul(weights, v)


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


def cross_entropy(input: Any, target: Any, reduction: str = "mean", *, weight: Any = None, ignore_index: int = -100,
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of logits (N, C) (or (C,), or (N, C, ...)) and integer labels: −log softmax(input)[n, target[n]].

    ``weight`` (C,): a weight per class; the mean then divides by the summed weights of the targets, as PyTorch.
    ``ignore_index``: samples with this label add nothing (nor to the mean's count). ``label_smoothing`` ε: the
    target is (1 − ε)·onehot + ε/C. ``target`` may also hold class probabilities of the input's shape (floats).

    The plain call (no weight, no smoothing, no ignored label) on (N, C) logits is one primitive of the rule table,
    whose gradient is (softmax − onehot) · g; the rest is composed of ``log_softmax``, indexing and sums. Both shift
    by the maximum, so logits of ±1e4 give finite values.
    """
    if not isinstance(input, Tensor):
        input = Tensor(input)
    if input.ndim == 0:
        raise ShapeError("cross_entropy: input must have a class axis, got a scalar")
    if input.dtype.kind != "f":
        raise TypeError(f"cross_entropy: logits must be floating point, got dtype {input.dtype}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"cross_entropy: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real) \
            or not 0 <= label_smoothing <= 1:
        raise DomainError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing!r}")
    axis = 0 if input.ndim == 1 else 1
    n_classes = input.shape[axis]
    if weight is not None:
        weight = np.asarray(weight.data if isinstance(weight, Tensor) else weight)
        if weight.shape != (n_classes,):
            raise ShapeError(f"cross_entropy: weight must have shape ({n_classes},), one per class, got "
                             f"{weight.shape}")
        weight = weight.astype(input.dtype)
    # numpy(): labels of another array library raise TypeError (to be checked here they would have to come to the host)
    labels = target.numpy() if isinstance(target, Tensor) else np.asarray(target)
    if labels.dtype.kind == "f" and labels.shape == input.shape:
        return _soft_cross_entropy(input, target, axis, weight, label_smoothing, reduction)
    plain = weight is None and not label_smoothing
    if plain and input.ndim == 2 and not (is_int(ignore_index) and 0 <= ignore_index < n_classes):
        # The fused rule checks the labels (one NumPy call). Only a label that is no class can be ignore_index here:
        # the rule refuses it, and the lines below leave it out, or report it when it is not ignored.
        with contextlib.suppress(DomainError):
            return ops.softmax_cross_entropy(input, target, reduction, where="cross_entropy")
    ignored = labels == ignore_index if labels.dtype.kind in "iu" else np.zeros(labels.shape, bool)
    if plain and not ignored.any():
        if input.ndim == 2:
            return ops.softmax_cross_entropy(input, target, reduction, where="cross_entropy")
        return nll_loss(log_softmax(input, axis=axis), target, reduction)
    kept = np.where(ignored, 0, labels) if ignored.any() else labels
    log_p = log_softmax(input, axis=axis)
    picked = -_pick(log_p, kept, "cross_entropy")  # −log p of each target, shape of the labels
    valid = (~ignored).astype(input.dtype)
    per_target = valid if weight is None else weight[kept] * valid  # each sample's weight; 0 when ignored
    loss = picked * per_target
    if label_smoothing:
        class_shape = (n_classes,) + (1,) * (input.ndim - 1 - axis)
        weighted = -log_p if weight is None else -log_p * weight.reshape(class_shape)
        smooth = ops.sum(weighted, axis=axis) * valid
        loss = loss * (1 - label_smoothing) + smooth * (label_smoothing / n_classes)
    if reduction == "mean":
        return ops.sum(loss) / per_target.sum()
    return ops.sum(loss) if reduction == "sum" else loss


def _pick(log_p: Tensor, labels: Any, where: str) -> Tensor:
    """log_p[n, labels[n, ...], ...] (log_p[labels] for one sample of shape (C,)), labels checked."""
    if log_p.ndim == 1:
        return log_p[class_labels(labels, log_p.shape[0], (), where)]
    labels = class_labels(labels, log_p.shape[1], log_p.shape[:1] + log_p.shape[2:], where)
    grids = np.ogrid[tuple(slice(0, s) for s in labels.shape)]
    return log_p[(grids[0], labels, *grids[1:])]


def _soft_cross_entropy(input: Tensor, target: Any, axis: int, weight: Any, label_smoothing: float,
                        reduction: str) -> Tensor:
    """−Σ_c target_c · weight_c · log softmax(input)_c for class probabilities ``target``."""
    n_classes = input.shape[axis]
    if label_smoothing:
        target = target * (1 - label_smoothing) + label_smoothing / n_classes
    terms = -log_softmax(input, axis=axis) * target
    if weight is not None:
        terms = terms * weight.reshape((n_classes,) + (1,) * (input.ndim - 1 - axis))
    loss = ops.sum(terms, axis=axis)
    if reduction == "mean":
        return ops.mean(loss) if input.ndim > 1 else loss
    return ops.sum(loss) if reduction == "sum" else loss


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean absolute error: mean|input − target|; the derivative at a tie is 0 (abs'(0) = 0, as PyTorch)."""
    target = _float_target(_target(target, "l1_loss"), input)
    _same_shape(input, target, "l1_loss")
    return _reduce(ops.abs(ops.subtract(input, target)), reduction, "l1_loss")


def smooth_l1_loss(input: Any, target: Any, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5·d²/β where |d| < β, else |d| − 0.5·β, with d = input − target (β = 0: the L1 loss)."""
    return _piecewise_quadratic(input, target, reduction, beta, "smooth_l1_loss", scale_linear=False)


def huber_loss(input: Any, target: Any, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """0.5·d² where |d| < δ, else δ·(|d| − 0.5·δ): smooth_l1_loss times δ (with β = δ)."""
    return _piecewise_quadratic(input, target, reduction, delta, "huber_loss", scale_linear=True)


def _piecewise_quadratic(input: Any, target: Any, reduction: str, beta: float, where: str,
                         scale_linear: bool) -> Tensor:
    name = "delta" if scale_linear else "beta"
    if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or not beta >= 0 or (scale_linear and beta == 0):
        raise DomainError(f"{where}: {name} must be a number {'> 0' if scale_linear else '>= 0'}, got {beta!r}")
    target = _float_target(_target(target, where), input)
    _same_shape(input, target, where)
    diff = ops.subtract(input, target)
    size = ops.abs(diff)
    if beta == 0:
        return _reduce(size, reduction, where)
    inside = size.data < beta
    if scale_linear:  # huber: 0.5 d² inside, δ(|d| − δ/2) outside
        loss = ops.where(inside, 0.5 * diff * diff, beta * (size - 0.5 * beta))
    else:
        loss = ops.where(inside, (0.5 / beta) * diff * diff, size - 0.5 * beta)
    return _reduce(loss, reduction, where)


def kl_div(input: Any, target: Any, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL divergence with ``input`` log-probabilities: target·(log target − input) summed as ``reduction`` says.

    ``log_target``: the target is given as log-probabilities too (then exp(target)·(target − input)). A target of
    0 adds 0 (0·log 0 = 0). ``reduction="batchmean"`` divides the sum by the batch size, the true KL divergence
    per sample; "mean" (PyTorch's default) divides by the number of elements.
    """
    if reduction not in (*REDUCTIONS, "batchmean"):
        raise ValueError(f"kl_div: reduction must be one of {(*REDUCTIONS, 'batchmean')}, got {reduction!r}")
    target = _float_target(_target(target, "kl_div"), input)
    _same_shape(input, target, "kl_div")
    if log_target:
        loss = ops.exp(target) * (target - input)
    else:
        raw = target.data if isinstance(target, Tensor) else target
        if np.any(raw < 0):
            raise DomainError("kl_div: target probabilities must be >= 0 (pass log_target=True for log-probabilities)")
        # target·log(target), 0 where target = 0: log is taken of 1 there, so neither value nor gradient is nan.
        safe = ops.where(raw > 0, target, 1)
        loss = target * ops.log(safe) - target * input
    if reduction == "batchmean":
        return ops.sum(loss) / (np.shape(input)[0] if np.ndim(input) else 1)
    return _reduce(loss, reduction, "kl_div")


__all__ = [
    "REDUCTIONS", "adaptive_avg_pool2d", "avg_pool2d", "batch_norm", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "conv1d", "conv2d", "cross_entropy", "dropout", "embedding", "fold", "gelu",
    "group_norm", "huber_loss", "kl_div", "l1_loss", "layer_norm", "leaky_relu", "linear", "log_softmax",
    "logsumexp", "max_pool2d", "mse_loss", "nll_loss", "one_hot", "relu", "rms_norm", "sigmoid", "silu",
    "smooth_l1_loss", "softmax", "softplus", "tanh", "unfold",
]
