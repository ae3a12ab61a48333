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

import functools
import itertools
import math
import numbers
import operator
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ... import numpy as cnp
from ... import ops
from ...arguments import REDUCTIONS, class_labels, image, is_int, pair, sizes
from ...engine import backends, bump
from ...errors import DomainError, ShapeError
from ...ops import (
    linear,
    logsumexp,
    relu,
    sigmoid,
    tanh,
)
from ...rules import numpy_math
from ...tensor import Tensor
from .. import init

Pair = tuple[int, int]
Sizes = tuple[int, ...]  # one per spatial axis


def one_sample(x: Any, batched_ndim: int, run: Callable[[Any], Any]) -> Any:
    """PyTorch's unbatched input: a sample without its batch axis (``batched_ndim`` − 1 axes) runs as a batch of one,
    and every output loses that axis again; any other input goes to ``run`` as it is."""
    if np.ndim(x) != batched_ndim - 1:
        return run(x)
    return _drop_batch(run(ops.unsqueeze(x if isinstance(x, Tensor) else Tensor(x), 0)))


def _drop_batch(out: Any) -> Any:
    if isinstance(out, tuple):
        return tuple(_drop_batch(item) for item in out)
    return ops.squeeze(out, 0) if isinstance(out, Tensor) else out[0]


def _unbatched(batched_ndim: int) -> Callable:
    """A functional that also takes one sample without the batch axis, as PyTorch's (``one_sample``)."""
    def decorate(function: Callable) -> Callable:
        @functools.wraps(function)
        def wrapper(x: Any, *args: Any, **kwargs: Any) -> Any:
            return one_sample(x, batched_ndim, lambda batch: function(batch, *args, **kwargs))
        return wrapper
    return decorate


# ---------------------------------------------------------------------------------------------------------------
# Layers as functions.
# ---------------------------------------------------------------------------------------------------------------
@_unbatched(4)
def conv2d(x: Any, weight: Tensor, bias: Tensor | None = None, stride: int | Pair = 1,
           padding: int | Pair | str = 0, dilation: int | Pair = 1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation, as in PyTorch) of an NCHW batch with a (out, in/groups, kh, kw) kernel.

    out[n, o, r, q] = bias[o] + Σ_c Σ_ij weight[o, c, i, j] · x_padded[n, c, s_h·r + d_h·i, s_w·q + d_w·j]:
    ``unfold`` the windows into columns, then one matrix product with the weight reshaped to (out, in·kh·kw).
    ``padding="same"`` keeps the size (stride 1; an odd total puts the extra zero at the end, as PyTorch);
    ``dilation`` spreads the kernel (a kernel with zeros between its taps); ``groups`` convolves each of
    ``groups`` slices of the channels with its own slice of the filters, then concatenates.
    """
    return convolution(image(x, "conv2d"), weight, bias, stride, padding, dilation, groups, "conv2d")


def _spatial(x: Any, dims: int, where: str) -> Tensor | np.ndarray:
    """``x`` checked to be a batch (N, C, *spatial) with ``dims`` spatial axes (``image`` for two)."""
    if dims == 2:
        return image(x, where)
    x = x if isinstance(x, Tensor) else np.asarray(x)
    if x.ndim != dims + 2:
        names = {1: "length", 3: "depth, height, width"}[dims]
        raise ShapeError(f"{where} expects a {dims + 2}-D input of shape (batch, channels, {names}), or "
                         f"{dims + 1}-D for one sample (channels, {names}); got shape {x.shape}")
    return x


def convolution(x: Any, weight: Any, bias: Any, stride: Any, padding: Any, dilation: Any, groups: int,
                where: str) -> Tensor:
    """The convolution of an (N, C, *spatial) batch with an (out, in/groups, *kernel) weight, for 1 to 3 spatial
    axes (conv2d's rule along each): ``unfold`` and one matrix product per group."""
    dims = np.ndim(x) - 2
    if np.ndim(weight) != dims + 2:
        kernel = ", ".join(("kd", "kh", "kw")[3 - dims:]) if dims > 1 else "k"
        raise ShapeError(f"{where}: the weight must be {dims + 2}-D (out_channels, in_channels/groups, {kernel}), "
                         f"got shape {np.shape(weight)}")
    out_channels, in_per_group = np.shape(weight)[:2]
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1 \
            or out_channels % groups:
        raise DomainError(f"{where}: groups must be a positive int dividing the {out_channels} output channels, "
                          f"got {groups!r}")
    if bias is not None and np.shape(bias) != (out_channels,):
        raise ShapeError(f"{where}: bias of shape {np.shape(bias)} does not fit {out_channels} output channels; "
                         f"expected ({out_channels},)")
    if x.shape[1] != in_per_group * groups:
        raise ShapeError(
            f"{where}: input of shape {x.shape} has {x.shape[1]} channels, but the weight of shape "
            f"{np.shape(weight)} with groups={groups} expects {in_per_group * groups} (inputs are (batch, channels, "
            "...))"
        )
    stride = sizes(stride, dims, "stride", where, 1)
    dilation = sizes(dilation, dims, "dilation", where, 1)
    if any(d != 1 for d in dilation):
        weight = _dilate(weight, dilation)
    if isinstance(padding, str) and padding == "same":
        if any(s != 1 for s in stride):
            raise DomainError(f"{where}: padding='same' needs stride 1, got stride {stride}")
        x, padding = _pad_same(x, np.shape(weight)[2:])
    elif isinstance(padding, str) and padding == "valid":
        padding = (0,) * dims
    padding = sizes(padding, dims, "padding", where, 0)
    if groups == 1:
        return _convolve(x, weight, bias, stride, padding)
    per_out = out_channels // groups
    outs = [_convolve(x[:, g * in_per_group:(g + 1) * in_per_group], weight[g * per_out:(g + 1) * per_out], None,
                      stride, padding) for g in range(groups)]
    out = ops.concatenate(outs, axis=1)
    return out if bias is None else out + ops.reshape(bias, (out_channels,) + (1,) * dims)


def _convolve(x: Tensor, weight: Any, bias: Any, stride: Sizes, padding: Sizes) -> Tensor:
    out_channels, in_channels, *kernel = np.shape(weight)
    n = x.shape[0]
    counts = numpy_math.count_windows(x.shape[2:], tuple(kernel), stride, padding)
    columns = ops.unfold(x, tuple(kernel), stride, padding)
    out = ops.matmul(ops.reshape(weight, (out_channels, in_channels * math.prod(kernel))), columns)
    if bias is not None:
        out = out + ops.reshape(bias, (out_channels, 1))
    return ops.reshape(out, (n, out_channels) + counts)


def _dilate(weight: Any, dilation: Sizes) -> Tensor:
    """The kernel with d − 1 zeros between neighbouring taps along each spatial axis (size (k − 1)·d + 1)."""
    for axis, d in enumerate(dilation, start=2):
        if d == 1:
            continue
        shape = np.shape(weight)
        k = shape[axis]
        spread = ops.unsqueeze(weight, axis + 1)  # (..., k, 1, ...) then d − 1 zeros after each tap
        dtype = weight.dtype if isinstance(weight, Tensor) else np.result_type(weight)  # (any library's Tensor)
        zeros = np.zeros(shape[:axis + 1] + (d - 1,) + shape[axis + 1:], dtype=dtype)
        spread = ops.concatenate([spread, zeros], axis=axis + 1)
        spread = ops.reshape(spread, shape[:axis] + (k * d,) + shape[axis + 1:])
        weight = spread[(slice(None),) * axis + (slice(0, (k - 1) * d + 1),)]
    return weight


def _pad_same(x: Tensor, kernel: Sizes) -> tuple[Tensor, Sizes]:
    """(x with the odd extra zero at the end of each axis that needs one, the symmetric padding) for output size =
    input size."""
    padding = []
    for axis, k in enumerate(kernel, start=2):
        total = k - 1
        if total % 2:
            shape = list(x.shape)
            shape[axis] = 1
            x = ops.concatenate([x, np.zeros(shape, x.dtype)], axis=axis)
        padding.append(total // 2)
    return x, tuple(padding)


def _windows(x: Any, kernel_size: Sizes, dilation: Sizes, stride: Sizes, padding: Sizes | int = 0) -> Tensor:
    """The windows of (N, C, *spatial) ``x`` (zero-padded) as columns (N, C·taps, L), ``dilation`` spreading each
    window's taps: the windows of the spread extent, every d-th tap kept."""
    if all(d == 1 for d in dilation):
        return ops.unfold(x, kernel_size, stride, padding)
    n, c = x.shape[:2]
    span = _span(kernel_size, dilation)
    columns = ops.unfold(x, span, stride, padding)
    count = columns.shape[-1]  # (not -1 in the shapes: an empty batch has no size to infer it from)
    columns = ops.reshape(columns, (n, c) + span + (count,))
    columns = columns[(slice(None), slice(None)) + tuple(slice(None, None, d) for d in dilation)]
    return ops.reshape(columns, (n, c * math.prod(kernel_size), count))


@_unbatched(4)
def unfold(input: Any, kernel_size: int | Pair, dilation: int | Pair = 1, padding: int | Pair = 0,
           stride: int | Pair = 1) -> Tensor:
    """The sliding kh×kw windows of an NCHW batch as columns (N, C·kh·kw, L), with PyTorch's argument order
    (im2col; zero padding; ``dilation`` spreads each window's taps). Its adjoint is ``fold``."""
    x = image(input, "unfold")
    kernel_size = pair(kernel_size, "kernel_size", "unfold", 1)
    dilation, padding = pair(dilation, "dilation", "unfold", 1), pair(padding, "padding", "unfold", 0)
    stride = pair(stride, "stride", "unfold", 1)
    return _windows(x, kernel_size, dilation, stride, padding)


@_unbatched(3)
def fold(input: Any, output_size: int | Pair, kernel_size: int | Pair, dilation: int | Pair = 1,
         padding: int | Pair = 0, stride: int | Pair = 1) -> Tensor:
    """Columns (N, C·kh·kw, L) summed back into an (N, C, H, W) image where their windows overlap (col2im), with
    PyTorch's argument order; the adjoint of ``unfold``."""
    x = input if isinstance(input, Tensor) else Tensor(input)
    output_size = pair(output_size, "output_size", "fold", 1)
    kernel_size = pair(kernel_size, "kernel_size", "fold", 1)
    dilation, padding = pair(dilation, "dilation", "fold", 1), pair(padding, "padding", "fold", 0)
    stride = pair(stride, "stride", "fold", 1)
    span = _span(kernel_size, dilation)
    taps = kernel_size[0] * kernel_size[1]
    windows = numpy_math.count_windows(output_size, span, stride, padding)
    if x.ndim != 3 or x.shape[1] % taps or x.shape[2] != windows[0] * windows[1]:
        raise ShapeError(f"fold: the columns' shape {x.shape} does not fit kernel {kernel_size} over "
                         f"{output_size} (dilation {dilation}, padding {padding}, stride {stride}); expected "
                         f"(N, C·{taps}, {windows[0] * windows[1]})")
    if dilation != (1, 1):  # spread the taps with zeros: a dilated window is a larger one with holes
        n, c = x.shape[0], x.shape[1] // taps
        spread = _dilate(ops.reshape(x, (n, c) + kernel_size + (-1,)), dilation)
        x = ops.reshape(spread, (n, c * span[0] * span[1], -1))
    return ops.fold(x, output_size, span, stride, padding)


def _span(kernel_size: Sizes, dilation: Sizes) -> Sizes:
    """The extent of a dilated kernel: (k − 1)·d + 1 along each axis."""
    return tuple(d * (k - 1) + 1 for k, d in zip(kernel_size, dilation, strict=True))


@_unbatched(3)
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


def _pool_geometry(size: Sizes, kernel_size: Sizes, stride: Sizes, padding: Sizes, dilation: Sizes,
                   ceil_mode: bool, name: str) -> tuple[Sizes, Sizes]:
    """((OH, OW), the extra rows and columns past the bottom/right padding that ``ceil_mode`` windows reach), one
    entry per spatial axis, with PyTorch's rule: a last window must start inside the input or its left padding."""
    out, extra = [], []
    for n, k, s, p, d in zip(size, kernel_size, stride, padding, dilation, strict=True):
        span = d * (k - 1) + 1
        if 2 * p > k:  # PyTorch's bound, on the undilated kernel
            raise DomainError(f"{name}: padding {padding} must be at most half the kernel size {kernel_size}")
        reach = n + 2 * p - span
        if reach < 0:
            padded = tuple(m + 2 * q for m, q in zip(size, padding, strict=True))
            raise ShapeError(f"{name}: the kernel {kernel_size}" + (f" dilated by {dilation}" if d > 1 else "")
                             + f" is larger than the padded input {padded}")
        o = (-(-reach // s) if ceil_mode else reach // s) + 1
        if ceil_mode and (o - 1) * s >= n + p:
            o -= 1
        out.append(o)
        extra.append(max(0, (o - 1) * s + span - (n + 2 * p)))
    return tuple(out), tuple(extra)


def _pool_windows(x: Any, kernel_size: Sizes, stride: Sizes, padding: Sizes, dilation: Sizes, extra: Sizes,
                  fill: float) -> Tensor:
    """The windows of (N, C, *spatial) ``x``, padded with ``fill`` (and ``extra`` more at the end of each axis), as
    (N, C, taps, windows): (N, C, kh·kw, OH·OW) for images."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    n, c = x.shape[:2]
    for axis, p, e in zip(range(2, x.ndim), padding, extra, strict=True):
        if p or e:
            shape = list(x.shape)
            parts = []
            for width in (p, p + e):
                shape[axis] = width
                parts.append(np.full(shape, fill, x.dtype))
            x = ops.concatenate([parts[0], x, parts[1]], axis=axis)
    columns = _windows(x, kernel_size, dilation, stride)
    return ops.reshape(columns, (n, c, math.prod(kernel_size), columns.shape[-1]))  # (an empty batch: no -1)


def _pool_arguments(x: Any, kernel_size: Any, stride: Any, padding: Any, dilation: Any, name: str, dims: int = 2):
    x = _spatial(x, dims, name)
    kernel_size = sizes(kernel_size, dims, "kernel_size", name, 1)
    stride = kernel_size if stride is None else sizes(stride, dims, "stride", name, 1)
    return x, kernel_size, stride, sizes(padding, dims, "padding", name, 0), sizes(dilation, dims, "dilation", name, 1)


@_unbatched(4)
def avg_pool2d(x: Any, kernel_size: int | Pair, stride: int | Pair | None = None, padding: int | Pair = 0,
               ceil_mode: bool = False, count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """The mean of each kh×kw window (stride defaults to the kernel size), as PyTorch's: with padding, the zeros
    count in the mean unless ``count_include_pad=False``; ``ceil_mode`` keeps a last partial window (the part past
    the padding never counts); ``divisor_override`` divides every window's sum by that number instead."""
    return average_pool(x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, 2,
                        "avg_pool2d")


def average_pool(x: Any, kernel_size: Any, stride: Any, padding: Any, ceil_mode: bool, count_include_pad: bool,
                 divisor_override: int | None, dims: int, where: str) -> Tensor:
    """The mean of each window of an (N, C, *spatial) batch with ``dims`` spatial axes (avg_pool2d's rules)."""
    x, kernel_size, stride, padding, dilation = _pool_arguments(x, kernel_size, stride, padding, 1, where, dims)
    if divisor_override is not None and (not isinstance(divisor_override, numbers.Integral)
                                         or isinstance(divisor_override, bool) or divisor_override < 1):
        raise DomainError(f"{where}: divisor_override must be a positive int or None, got {divisor_override!r}")
    n, c = x.shape[:2]
    counts, extra = _pool_geometry(x.shape[2:], kernel_size, stride, padding, dilation, bool(ceil_mode), where)
    windows = _pool_windows(x, kernel_size, stride, padding, dilation, extra, 0.0)
    if divisor_override is None and not any(extra) and (count_include_pad or not any(padding)):
        return ops.reshape(ops.mean(windows, axis=2), (n, c) + counts)
    if divisor_override is not None:
        divisor = np.asarray(divisor_override, dtype=x.dtype)
    else:  # per axis: the window's extent within the padded (or, without count_include_pad, the real) input
        extents = []
        for size, o, k, s, p in zip(x.shape[2:], counts, kernel_size, stride, padding, strict=True):
            start = np.arange(o) * s - p
            end = np.minimum(start + k, size + p)
            if not count_include_pad:
                start, end = np.maximum(start, 0), np.minimum(end, size)
            extents.append(end - start)
        divisor = functools.reduce(np.multiply.outer, extents).astype(x.dtype).reshape((1, 1) + counts)
    return ops.reshape(ops.sum(windows, axis=2), (n, c) + counts) / divisor


@_unbatched(4)
def adaptive_avg_pool2d(x: Any, output_size: int | Pair) -> Tensor:
    """Average over oh×ow bins that cover the image: bin i of an axis of size n spans [⌊i·n/o⌋, ⌈(i+1)·n/o⌉)."""
    return adaptive_average_pool(image(x, "adaptive_avg_pool2d"), output_size, "adaptive_avg_pool2d")


def adaptive_average_pool(x: Any, output_size: Any, where: str) -> Tensor:
    """adaptive_avg_pool2d's bins along each spatial axis of an (N, C, *spatial) batch."""
    output_size = _adaptive_size(output_size, x.shape[2:], where)
    for axis, o in enumerate(output_size, start=2):  # the bins are products: one axis at a time
        size = x.shape[axis]
        if size % o == 0:  # equal bins: one reshape and one mean
            shape = x.shape[:axis] + (o, size // o) + x.shape[axis + 1:]
            x = ops.mean(ops.reshape(x, shape), axis=axis + 1)
            continue
        bins = [(i * size // o, -(-(i + 1) * size // o)) for i in range(o)]
        x = ops.stack([ops.mean(x[(slice(None),) * axis + (slice(a, b),)], axis=axis) for a, b in bins], axis=axis)
    return x if isinstance(x, Tensor) else Tensor(x)


def _adaptive_size(output_size: Any, size: tuple[int, ...], where: str) -> Sizes:
    """An adaptive pool's output size, one per spatial axis: an int, or ints or None (None keeps that axis's
    size), as PyTorch's."""
    dims = len(size)
    if 0 in size:  # (PyTorch's RuntimeError; the mean of an empty bin was nan, its max a NumPy argmax error)
        raise ShapeError(f"{where}: the input's spatial sizes {tuple(size)} include 0; expected non-empty spatial "
                         "axes, which an adaptive pool divides into bins")
    if output_size is None or is_int(output_size):
        output_size = (output_size,) * dims
    if not isinstance(output_size, Sequence) or len(output_size) != dims:
        kind = "a pair" if dims == 2 else f"{dims}"
        raise TypeError(f"{where}: output_size must be an int, None or {kind} of them, got {output_size!r}")
    return sizes(tuple(n if s is None else s for s, n in zip(output_size, size, strict=True)), dims, "output_size",
                 where, 1)


@_unbatched(4)
def max_pool2d(x: Any, kernel_size: int | Pair, stride: int | Pair | None = None, padding: int | Pair = 0,
               dilation: int | Pair = 1, ceil_mode: bool = False, return_indices: bool = False
               ) -> Tensor | tuple[Tensor, np.ndarray]:
    """The maximum of each kh×kw window (stride defaults to the kernel size), as PyTorch's: padding is −∞,
    ``dilation`` spreads the window's taps, ``ceil_mode`` keeps a last partial window. The gradient goes to the
    first maximum of each window in row-major order (as PyTorch and JAX; a NaN counts as the maximum).
    ``return_indices=True`` also returns each maximum's position in its input plane (flattened H·W, int64)."""
    return max_pool(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 2, "max_pool2d")


def max_pool(x: Any, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool,
             return_indices: bool, dims: int, where: str) -> Tensor | tuple[Tensor, np.ndarray]:
    """max_pool2d's rules over the ``dims`` spatial axes of an (N, C, *spatial) batch; indices count in the
    flattened spatial volume (D·H·W for three axes)."""
    x, kernel_size, stride, padding, dilation = _pool_arguments(x, kernel_size, stride, padding, dilation, where,
                                                                dims)
    n, c = x.shape[:2]
    counts, extra = _pool_geometry(x.shape[2:], kernel_size, stride, padding, dilation, bool(ceil_mode), where)
    lowest = -np.inf if np.dtype(x.dtype).kind == "f" else np.iinfo(x.dtype).min if np.dtype(x.dtype).kind in "iu" \
        else None
    if lowest is None:
        raise TypeError(f"{where}: expects real numbers (float or int), got dtype {x.dtype}")
    windows = _pool_windows(x, kernel_size, stride, padding, dilation, extra, lowest)
    out, first = _window_max(windows)
    out = ops.reshape(out, (n, c) + counts)
    if not return_indices:
        return out
    xp, here = _library(ops.stop(windows))
    tap = xp.reshape(first, (n, c) + counts)
    index = None
    for axis in reversed(range(dims)):  # the tap's offset along each axis, from the last (row-major taps)
        k, o = kernel_size[axis], counts[axis]
        offset = tap % k
        tap = tap // k
        starts = (np.arange(o) * stride[axis] - padding[axis]).reshape((o,) + (1,) * (dims - 1 - axis))
        position = here(starts) + offset * dilation[axis]
        weight = math.prod(x.shape[3 + axis:])  # the flattened volume's stride of this axis
        index = position * weight if index is None else index + position * weight
    return out, xp.astype(index, xp.int64) if xp is not np else index.astype(np.int64)


def _window_max(windows: Tensor) -> tuple[Tensor, Any]:
    """(the maximum of each window of (N, C, K, L) ``windows``, as (N, C, L); its tap (N, C, 1, L)): the gradient
    goes to the first maximum, as PyTorch's pools; a NaN wins, and of several NaNs the last one (PyTorch's kernels
    scan each window taking a value that is larger or NaN)."""
    data = ops.stop(windows)
    xp, here = _library(data)
    first = xp.argmax(data, axis=2, keepdims=True)
    nan = xp.isnan(data)
    if bool(xp.any(nan)):
        last_nan = windows.shape[2] - 1 - xp.argmax(xp.flip(nan, axis=2), axis=2, keepdims=True)
        first = xp.where(xp.any(nan, axis=2, keepdims=True), last_nan, first)
    chosen = here(np.arange(windows.shape[2]).reshape(1, 1, -1, 1)) == first
    return ops.sum(ops.where(chosen, windows, np.zeros((), windows.dtype)), axis=2), first


def _library(data: Any) -> tuple[Any, Any]:
    """(the array namespace of ``data``, a function moving a NumPy constant next to it): NumPy itself on the host,
    else the Array API library's, on ``data``'s device."""
    if not backends.is_foreign(data):
        return np, lambda constant: constant
    library = backends.backend(data)
    return library.xp, lambda constant: library.asarray(constant, data)


def _axis(dim: int | None, axis: int | None, where: str, ndim: int | None = None) -> int:
    """PyTorch's ``dim`` or NumPy's ``axis`` (the same thing). With neither, PyTorch's implicit choice for an input
    of ``ndim`` axes (0 for 0-, 1- and 3-D input, else 1), with PyTorch's warning; the last axis if ``ndim`` is None."""
    if dim is not None and axis is not None and dim != axis:
        raise TypeError(f"{where}: got dim={dim!r} and axis={axis!r}; give one of them (they name the same axis)")
    if dim is None and axis is None:
        if ndim is None:
            return -1
        implicit = _softmax_dim(None, ndim)
        warnings.warn(f"Implicit dimension choice for {where} has been deprecated (as in PyTorch, it is {implicit} "
                      f"for a {ndim}-D input). Change the call to include dim={implicit} as an argument.",
                      UserWarning, stacklevel=3)
        return implicit
    return dim if dim is not None else axis


def _softmax_input(input: Any, dtype: Any, where: str) -> Tensor:
    """The input of softmax, log_softmax or softmin, cast to ``dtype`` first if one is given (PyTorch's ``dtype=``)."""
    if dtype is not None:
        input = ops.astype(input if isinstance(input, Tensor) else Tensor(input), np.dtype(dtype))
    return _tensor(input, where)


def softmax(input: Any, dim: int | None = None, *, axis: int | None = None, dtype: Any = None) -> Tensor:
    """exp(x) / Σ exp(x) along ``dim`` (PyTorch's name; ``axis=`` as NumPy's). Without either, PyTorch's implicit
    choice: axis 0 for 0-, 1- and 3-D input, else axis 1 (with its deprecation warning)."""
    x = _softmax_input(input, dtype, "softmax")
    return ops.softmax(x, _axis(dim, axis, "softmax", x.ndim))


def log_softmax(input: Any, dim: int | None = None, *, axis: int | None = None, dtype: Any = None) -> Tensor:
    """x − logsumexp(x) along ``dim`` (PyTorch's name; ``axis=`` as NumPy's; no axis given: as ``softmax``)."""
    x = _softmax_input(input, dtype, "log_softmax")
    return ops.log_softmax(x, _axis(dim, axis, "log_softmax", x.ndim))


def leaky_relu(input: Any, negative_slope: float = 0.01, *, slope: float | None = None) -> Tensor:
    """x for x > 0, else negative_slope·x (``slope=`` as ``cr.leaky_relu``)."""
    return ops.leaky_relu(input, negative_slope if slope is None else slope)


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
def _float(x: Any, name: str, where: str) -> Tensor:
    """``x`` as a Tensor, which must hold floating-point numbers (``name`` is the argument the message names)."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    if x.dtype.kind != "f":
        raise TypeError(f"{where}: {name} must be floating point, got dtype {x.dtype}")
    return x


def _tensor(x: Any, where: str) -> Tensor:
    return _float(x, "input", where)


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
def embedding(input: Any, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` (num_embeddings, dim) picked by integer ``input`` of any shape: shape (*input, dim).

    The gradient of a row is the sum of the upstream gradients of the places that picked it; rows picked by
    ``padding_idx`` get none (their output is still the row's value, zero when initialised by ``Embedding``).
    As PyTorch's: ``max_norm`` first rescales, in place, each picked row whose ``norm_type``-norm exceeds it to that
    norm; ``scale_grad_by_freq`` divides each row's gradient by how often the input picks it. ``sparse=True`` is
    accepted and gives the same gradient, as a dense array.
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
    if max_norm is not None:
        _renorm_rows(weight, index, max_norm, norm_type)
    out = weight[index.astype(np.intp, copy=False)]
    if scale_grad_by_freq and index.size:
        rows, counts = np.unique(index, return_counts=True)
        share = (1 / counts[np.searchsorted(rows, index)]).astype(out.dtype)[..., None]
        frozen = ops.stop(out)
        out = frozen + (out - frozen) * share  # the same values exactly; the gradient times 1/count
    if padding_idx is not None:
        padding_idx = _padding_index(padding_idx, n, "embedding")
        pad = index == padding_idx
        if pad.any():  # those places take the row's value as a constant: no gradient flows back to it
            out = ops.where(pad[..., None], weight.data[index], out)
    return out


def _renorm_rows(weight: Tensor, index: np.ndarray, max_norm: Any, norm_type: Any) -> None:
    """Scale, in place, each row of ``weight`` that ``index`` picks and whose norm exceeds ``max_norm`` down to it
    (times max_norm / (norm + 1e-7), as PyTorch's embedding_renorm_); a write the version counter sees."""
    for name, value in (("max_norm", max_norm), ("norm_type", norm_type)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
            raise DomainError(f"embedding: {name} must be a positive number, got {value!r}")
    data = weight.data  # a view whose writes the version counter sees
    if not isinstance(data, np.ndarray):
        raise NotImplementedError("embedding: max_norm rescales the weight in place, on NumPy arrays only for now")
    rows = np.unique(index)
    norms = np.linalg.norm(data[rows], ord=float(norm_type), axis=1)
    over = norms > max_norm
    if over.any():
        data[rows[over]] *= (max_norm / (norms[over] + 1e-7)).astype(data.dtype)[:, None]


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


def binary_cross_entropy(input: Any, target: Any, reduction: str = "mean", *, weight: Any = None) -> Tensor:
    """−w·[t·log p + (1 − t)·log(1 − p)] for probabilities p in [0, 1] (e.g. after a sigmoid); ``weight`` w
    (broadcast to the input shape, as in PyTorch) rescales each element's loss (default 1).

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
    return _reduce(_rescaled(loss, weight, "binary_cross_entropy", "weight"), reduction, "binary_cross_entropy")


def _rescaled(loss: Tensor, weight: Any, where: str, name: str) -> Tensor:
    """``loss`` times ``weight`` (a constant broadcast to the loss's shape), or ``loss`` for None."""
    if weight is None:
        return loss
    factor = np.asarray(weight.data if isinstance(weight, Tensor) else weight)
    if factor.dtype.kind not in "biuf":
        raise TypeError(f"{where}: {name} must hold real numbers, got dtype {factor.dtype}")
    try:
        np.broadcast_shapes(factor.shape, loss.shape)
    except ValueError:
        raise ShapeError(f"{where}: {name} of shape {factor.shape} does not broadcast to the input's shape "
                         f"{loss.shape}") from None
    return loss * factor.astype(loss.dtype)


def binary_cross_entropy_with_logits(input: Any, target: Any, reduction: str = "mean", *, weight: Any = None,
                                     pos_weight: Any = None) -> Tensor:
    """Binary cross-entropy of sigmoid(x) with target t, from the logits x: softplus(x) − x·t.

    As in PyTorch: ``weight`` rescales each element's loss (broadcast to the input shape); ``pos_weight`` p
    (broadcast along the last axis, one per class) weighs the positive term: (1 − t)·x + (1 + (p − 1)·t)·softplus(−x).

    softplus(x) = log(1 + eˣ) = max(x, 0) + log1p(e^−|x|) never overflows (logits of ±1e4 are fine), and its rule
    σ(x) gives the gradient σ(x) − t exactly, also at x = 0. Composing max and |x| would give −t there, as the
    kinks' derivatives are taken as 0.
    """
    target = _float_target(_target(target, "binary_cross_entropy_with_logits"), input)
    _same_shape(input, target, "binary_cross_entropy_with_logits")
    where = "binary_cross_entropy_with_logits"
    loss = softplus(input) - ops.multiply(input, target)
    if pos_weight is not None:  # plus the extra positive term (p − 1)·t·softplus(−x)
        extra = _rescaled(ops.multiply(target, softplus(ops.negative(input))), _minus_one(pos_weight, where), where,
                          "pos_weight")
        loss = loss + extra
    return _reduce(_rescaled(loss, weight, where, "weight"), reduction, where)


def _minus_one(pos_weight: Any, where: str) -> np.ndarray:
    factor = np.asarray(pos_weight.data if isinstance(pos_weight, Tensor) else pos_weight)
    if factor.dtype.kind not in "biuf":
        raise TypeError(f"{where}: pos_weight must hold real numbers, got dtype {factor.dtype}")
    return factor - 1


def nll_loss(input: Any, target: Any, reduction: str = "mean", *, weight: Any = None,
             ignore_index: int = -100) -> Tensor:
    """Negative log-likelihood: −weight[c]·input[n, c] with c = target[n], for log-probabilities ``input`` of shape
    (N, C) or (N, C, ...) (or (C,)); ``target`` holds integer class labels of shape (N,) or (N, ...).

    As in PyTorch: ``weight`` (C,) weighs each class, and the mean divides by the summed weights of the targets;
    samples labelled ``ignore_index`` add nothing (nor to the mean's count). The gradient is −weight[c] at each
    chosen entry.
    """
    if not isinstance(input, Tensor):
        input = Tensor(input)
    if input.ndim < 1:
        raise ShapeError(f"nll_loss: input must have a class axis, got a scalar of shape {input.shape}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"nll_loss: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return _weighted_nll(input, target, weight, ignore_index, 0.0, reduction, "nll_loss")


def _class_weight(weight: Any, input: Tensor, axis: int, where: str) -> np.ndarray | None:
    if weight is None:
        return None
    weight = np.asarray(weight.data if isinstance(weight, Tensor) else weight)
    n_classes = input.shape[axis]
    if weight.shape != (n_classes,):
        raise ShapeError(f"{where}: weight must have shape ({n_classes},), one per class, got {weight.shape}")
    if weight.dtype.kind not in "biuf":
        raise TypeError(f"{where}: weight must hold real numbers, got dtype {weight.dtype}")
    return weight.astype(input.dtype)


def _weighted_nll(log_p: Tensor, target: Any, weight: Any, ignore_index: int, label_smoothing: float,
                  reduction: str, where: str) -> Tensor:
    """−Σ weight[c]·log_p[n, c] over the targets c = target[n] (with ``label_smoothing``, mixed with the weighted
    sum over the classes), ignored labels dropped; the mean divides by the targets' summed weights."""
    axis = 0 if log_p.ndim == 1 else 1
    n_classes = log_p.shape[axis]
    weight = _class_weight(weight, log_p, axis, where)
    # numpy(): labels of another array library raise TypeError (to be checked here they would have to come to the host)
    labels = target.numpy() if isinstance(target, Tensor) else np.asarray(target)
    ignored = labels == ignore_index if labels.dtype.kind in "iu" else np.zeros(labels.shape, bool)
    kept = np.where(ignored, 0, labels) if ignored.any() else labels
    picked = -_pick(log_p, kept, where)  # −log p of each target, shape of the labels
    valid = (~ignored).astype(log_p.dtype)
    per_target = valid if weight is None else weight[kept] * valid  # each sample's weight; 0 when ignored
    loss = picked * per_target
    if label_smoothing:
        class_shape = (n_classes,) + (1,) * (log_p.ndim - 1 - axis)
        weighted = -log_p if weight is None else -log_p * weight.reshape(class_shape)
        smooth = ops.sum(weighted, axis=axis) * valid
        loss = loss * (1 - label_smoothing) + smooth * (label_smoothing / n_classes)
    if reduction == "mean":
        total = per_target.sum()
        if total == 0:  # every target ignored: NaN (0/0) as in PyTorch, and a zero gradient rather than NaN
            return ops.sum(loss) * 0 + np.asarray(np.nan, log_p.dtype)
        return ops.sum(loss) / total
    return ops.sum(loss) if reduction == "sum" else loss


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
    data = input._data if isinstance(input, Tensor) else None
    if type(data) is np.ndarray and data.ndim == 2 and data.dtype.kind == "f" and type(target) is np.ndarray \
            and target.dtype.kind in "iu" and weight is None and type(label_smoothing) in (float, int) \
            and not label_smoothing and type(ignore_index) is int and not 0 <= ignore_index < data.shape[1] \
            and reduction in REDUCTIONS:
        # The plain call on NumPy logits and integer labels, told at once (the checks below cost µs): the fused rule,
        # which checks the labels. A label that is no class may be ignore_index: then the lines below take over.
        try:
            return ops.checked_softmax_cross_entropy(input, target, reduction, "cross_entropy")
        except DomainError:
            pass
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
    data = target._data if isinstance(target, Tensor) else target
    if type(data) is not np.ndarray and backends.is_foreign(data):
        return _cross_entropy_in_library(input, data, _class_weight(weight, input, axis, "cross_entropy"),
                                         label_smoothing, reduction)
    # numpy(): labels of another array library raise TypeError (to be checked here they would have to come to the host)
    labels = target.numpy() if isinstance(target, Tensor) else np.asarray(target)
    if labels.dtype.kind == "f" and labels.shape == input.shape:
        return _soft_cross_entropy(input, target, axis, _class_weight(weight, input, axis, "cross_entropy"),
                                   label_smoothing, reduction)
    plain = weight is None and not label_smoothing
    if plain and input.ndim == 2 and not (is_int(ignore_index) and 0 <= ignore_index < input.shape[axis]):
        # The fused rule checks the labels (one NumPy call). Only a label that is no class can be ignore_index here:
        # the rule refuses it, and the lines below leave it out, or report it when it is not ignored.
        try:
            return ops.checked_softmax_cross_entropy(input, target, reduction, "cross_entropy")
        except DomainError:
            pass
    if plain and not (labels.dtype.kind in "iu" and (labels == ignore_index).any()):
        if input.ndim == 2:
            return ops.checked_softmax_cross_entropy(input, target, reduction, "cross_entropy")
        return nll_loss(log_softmax(input, axis=axis), target, reduction)
    return _weighted_nll(log_softmax(input, axis=axis), labels, weight, ignore_index, label_smoothing, reduction,
                         "cross_entropy")


def _cross_entropy_in_library(input: Tensor, target: Any, weight: Any, label_smoothing: float,
                              reduction: str) -> Tensor:
    """cross_entropy with targets of another array library, which stay on their device: class probabilities, or
    integer labels checked there (``arguments.class_labels``) for the plain call on (N, C) logits."""
    axis = 0 if input.ndim == 1 else 1
    if backends.numpy_dtype(target.dtype).kind == "f" and tuple(target.shape) == input.shape:
        return _soft_cross_entropy(input, Tensor._make(target, None, False), axis, weight, label_smoothing,
                                   reduction)
    if weight is not None or label_smoothing or input.ndim != 2:
        raise NotImplementedError(
            f"cross_entropy: labels of {backends.backend(target).name} (on their device) work with (N, C) logits and "
            "no weight or label_smoothing yet; pass them as a NumPy array (they then move to the device once)")
    return ops.softmax_cross_entropy(input, target, reduction, where="cross_entropy")


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



# ---------------------------------------------------------------------------------------------------------------
# More activations, and dropouts of whole channels (their modules: nn/pointwise.py).
# ---------------------------------------------------------------------------------------------------------------
# SELU's constants (Klambauer et al. 2017), to PyTorch's digits.
SELU_ALPHA = 1.6732632423543772848170429916717


SELU_SCALE = 1.0507009873554804934193349852946


def _real(value: Any, name: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a real number, got {value!r}")
    return float(value)


def _negative_part(x: Tensor) -> Tensor:
    """min(x, 0) through ``where``: the exponential branches see no large x (no inf·0 = nan in the gradient)."""
    return ops.where(x.data > 0, np.zeros((), x.dtype), x)


def elu(input: Any, alpha: float = 1.0) -> Tensor:
    """x for x > 0, else α·(eˣ − 1); ELU'(0) = α, as PyTorch."""
    x = _tensor(input, "elu")
    alpha = _real(alpha, "alpha", "elu")
    return ops.where(x.data > 0, x, alpha * ops.expm1(_negative_part(x)))


def selu(input: Any) -> Tensor:
    """scale·ELU(x, α) with SELU's fixed α ≈ 1.6733 and scale ≈ 1.0507 (self-normalizing)."""
    return SELU_SCALE * elu(_tensor(input, "selu"), SELU_ALPHA)


def celu(input: Any, alpha: float = 1.0) -> Tensor:
    """x for x > 0, else α·(e^(x/α) − 1); CELU'(0) = 1 (continuously differentiable)."""
    x = _tensor(input, "celu")
    alpha = _real(alpha, "alpha", "celu")
    if alpha == 0:
        raise DomainError("celu: alpha must not be 0 (it divides x)")
    return ops.where(x.data > 0, x, alpha * ops.expm1(_negative_part(x) / alpha))


def prelu(input: Any, weight: Any) -> Tensor:
    """x for x > 0, else a·x, a learned slope: one for all, or one per channel (axis 1; axis 0 of a 1-D input).

    PRelu'(0) = a, and ∂/∂a = x where x ≤ 0, as PyTorch."""
    x = _tensor(input, "prelu")
    weight = weight if isinstance(weight, Tensor) else Tensor(weight)
    if weight.ndim > 1:
        raise ShapeError(f"prelu: weight must be 0-D or 1-D, got shape {weight.shape}")
    n = weight.size
    if n != 1:
        axis = 1 if x.ndim >= 2 else 0
        if x.ndim == 0 or x.shape[axis] != n:
            raise ShapeError(f"prelu: weight of {n} slopes needs an input with {n} channels in axis {axis}, got "
                             f"shape {x.shape}")
        weight = ops.reshape(weight, (n,) + (1,) * (x.ndim - axis - 1))
    elif weight.ndim:
        weight = ops.reshape(weight, ())
    return ops.where(x.data > 0, x, weight * x)


def hardtanh(input: Any, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """x clipped to [min_val, max_val]; the derivative is 1 strictly inside and 0 at both ends, as PyTorch."""
    x = _tensor(input, "hardtanh")
    low, high = _real(min_val, "min_val", "hardtanh"), _real(max_val, "max_val", "hardtanh")
    if low > high:
        raise DomainError(f"hardtanh: min_val {low} must not exceed max_val {high}")
    clipped = ops.where(x.data >= high, np.asarray(high, x.dtype), x)
    return ops.where(x.data <= low, np.asarray(low, x.dtype), clipped)


def relu6(input: Any) -> Tensor:
    """min(max(x, 0), 6): hardtanh(x, 0, 6) (derivative 0 at 0 and at 6, as PyTorch)."""
    return hardtanh(_tensor(input, "relu6"), 0.0, 6.0)


def hardsigmoid(input: Any) -> Tensor:
    """0 for x ≤ −3, 1 for x ≥ 3, x/6 + 1/2 between (derivative 1/6 strictly inside, 0 at ±3)."""
    x = _tensor(input, "hardsigmoid")
    return hardtanh(x / 6 + 0.5, 0.0, 1.0)


def hardswish(input: Any) -> Tensor:
    """x·relu6(x + 3)/6: 0 for x ≤ −3, x for x ≥ 3, x(x + 3)/6 between; the derivative at −3 is 0 and at 3 is 1
    (PyTorch's: the outer pieces own the ends)."""
    x = _tensor(input, "hardswish")
    middle = ops.where(x.data >= 3, x, x * (x + 3) / 6)
    return ops.where(x.data <= -3, np.zeros((), x.dtype), middle)


def logsigmoid(input: Any) -> Tensor:
    """log σ(x) = −softplus(−x), finite for any x."""
    return ops.negative(ops.softplus(ops.negative(_tensor(input, "logsigmoid"))))


def _softmax_dim(dim: int | None, ndim: int) -> int:
    """PyTorch's implicit choice for dim=None: 0 for 0-, 1- and 3-D input, else 1."""
    return dim if dim is not None else 0 if ndim in (0, 1, 3) else 1


def softmin(input: Any, dim: int | None = None, *, axis: int | None = None, dtype: Any = None) -> Tensor:
    """softmax(−x) along ``dim`` (``axis=`` as NumPy's; no axis given: PyTorch's implicit choice, as ``softmax``)."""
    x = _softmax_input(input, dtype, "softmin")
    return ops.softmax(ops.negative(x), _axis(dim, axis, "softmin", x.ndim))


def softsign(input: Any) -> Tensor:
    """x / (1 + |x|)."""
    x = _tensor(input, "softsign")
    return x / (1 + ops.abs(x))


def tanhshrink(input: Any) -> Tensor:
    """x − tanh(x)."""
    x = _tensor(input, "tanhshrink")
    return x - ops.tanh(x)


def mish(input: Any) -> Tensor:
    """x·tanh(softplus(x)) (softplus is one rule, finite for any x)."""
    x = _tensor(input, "mish")
    return x * ops.tanh(ops.softplus(x))


def threshold(input: Any, threshold: float, value: float) -> Tensor:
    """x where x > threshold, else ``value`` (no gradient there)."""
    x = _tensor(input, "threshold")
    limit, value = _real(threshold, "threshold", "threshold"), _real(value, "value", "threshold")
    return ops.where(x.data > limit, x, np.asarray(value, x.dtype))


def glu(input: Any, dim: int = -1) -> Tensor:
    """a·σ(b), where a and b are the first and second halves of ``input`` along ``dim`` (of even size)."""
    x = _tensor(input, "glu")
    if x.ndim == 0:
        raise ShapeError("glu: input must have at least one axis, got a scalar")
    if not -x.ndim <= dim < x.ndim:
        raise ShapeError(f"glu: dim {dim} is out of range for an input of {x.ndim} axes")
    size = x.shape[dim]
    if size % 2:
        raise ShapeError(f"glu: axis {dim} of the input (shape {x.shape}) must have an even size to halve, got {size}")
    a, b = ops.split(x, 2, axis=dim)
    return a * ops.sigmoid(b)


def _shrink_size(lambd: Any, where: str) -> float:
    lambd = _real(lambd, "lambd", where)
    if lambd < 0:
        raise DomainError(f"{where}: lambd must be >= 0, got {lambd}")
    return lambd


def softshrink(input: Any, lambd: float = 0.5) -> Tensor:
    """x − λ for x > λ, x + λ for x < −λ, else 0; the derivative is 0 on [−λ, λ], ends included, as PyTorch."""
    x = _tensor(input, "softshrink")
    lambd = _shrink_size(lambd, "softshrink")
    shifted = ops.where(x.data > 0, x - lambd, x + lambd)
    return ops.where(np.abs(x.data) > lambd, shifted, np.zeros((), x.dtype))


def hardshrink(input: Any, lambd: float = 0.5) -> Tensor:
    """x where |x| > λ, else 0; the derivative is 0 on [−λ, λ], ends included, as PyTorch."""
    x = _tensor(input, "hardshrink")
    lambd = _shrink_size(lambd, "hardshrink")
    return ops.where(np.abs(x.data) > lambd, x, np.zeros((), x.dtype))


# Dropouts that drop whole channels, and alpha dropout (for SELU networks).
def _feature_dropout(input: Any, p: float, training: bool, rng: np.random.Generator | None, spatial: int,
                     where: str) -> Tensor:
    """Zero whole channels: one draw per (sample, channel) of a (N, C, *spatial) or (C, *spatial) input."""
    _check_probability(p, where)
    x = _tensor(input, where)
    if x.ndim not in (spatial + 1, spatial + 2):
        raise ShapeError(f"{where}: expects a {spatial + 2}-D (N, C, ...) or {spatial + 1}-D (C, ...) input, got "
                         f"shape {x.shape}")
    if not training or p == 0:
        return x
    channels = x.shape[:x.ndim - spatial]
    keep = init.generator(rng=rng).random(channels) >= p
    scale = np.zeros((), x.dtype) if p == 1 else np.asarray(1 / (1 - p), x.dtype)
    return x * (keep.astype(x.dtype) * scale).reshape(channels + (1,) * spatial)


def dropout1d(input: Any, p: float = 0.5, training: bool = True, rng: np.random.Generator | None = None) -> Tensor:
    """Zero each channel of (N, C, L) or (C, L) input with probability p, scale the kept ones by 1/(1 − p)."""
    return _feature_dropout(input, p, training, rng, 1, "dropout1d")


def dropout2d(input: Any, p: float = 0.5, training: bool = True, rng: np.random.Generator | None = None) -> Tensor:
    """Zero each channel of (N, C, H, W) or (C, H, W) input with probability p, scale the kept ones by 1/(1 − p)."""
    return _feature_dropout(input, p, training, rng, 2, "dropout2d")


def alpha_dropout(input: Any, p: float = 0.5, training: bool = False,
                  rng: np.random.Generator | None = None) -> Tensor:
    """Alpha dropout: each element is set to SELU's negative limit −λα with probability p, then all are mapped by
    a·x + b so that zero mean and unit variance are kept: a = ((1 − p)(1 + p·α'²))^(−1/2), b = a·α'·p (α' = λα).
    ``training=False`` (PyTorch's default for the function) is the identity."""
    _check_probability(p, "alpha_dropout")
    x = _tensor(input, "alpha_dropout")
    if not training or p == 0:
        return x
    if p == 1:
        return x * np.zeros((), x.dtype)
    limit = SELU_ALPHA * SELU_SCALE
    a = 1 / np.sqrt((limit * limit * p + 1) * (1 - p))
    keep = (init.generator(rng=rng).random(x.shape) >= p).astype(x.dtype)
    # kept: a·x + a·α'·p; dropped: −a·α' + a·α'·p
    offset = ((keep - 1) * (limit * a) + limit * a * p).astype(x.dtype)
    return x * (keep * np.asarray(a, x.dtype)) + offset


# ---------------------------------------------------------------------------------------------------------------
# Padding, 1-D and adaptive max pooling, pixel shuffle, resizing (their modules: nn/sampling.py).
# ---------------------------------------------------------------------------------------------------------------
_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad(input: Any, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last len(pad)/2 axes, PyTorch's order: ``pad`` = (before, after) of the last axis, then of the one
    before it, and so on. ``mode``: "constant" (``value``, default 0; a negative width crops), "reflect" (mirror,
    edge not repeated), "replicate" (edge repeated), "circular" (wrap around). The last three pad 1 to 3 axes of
    a batched or unbatched input, as PyTorch's."""
    x = input if isinstance(input, Tensor) else Tensor(input)
    if mode not in _MODES:
        raise ValueError(f"pad: mode must be one of {tuple(_MODES)}, got {mode!r}")
    if not isinstance(pad, Sequence) or len(pad) % 2 or not all(is_int(w) for w in pad):
        raise TypeError(f"pad: pad must be a sequence of ints of even length (before, after per axis), got {pad!r}")
    axes = len(pad) // 2
    if axes > x.ndim:
        raise ShapeError(f"pad: {len(pad)} widths pad {axes} axes, but the input of shape {x.shape} has {x.ndim}")
    widths = [(0, 0)] * (x.ndim - axes) + [(int(pad[2 * k]), int(pad[2 * k + 1])) for k in reversed(range(axes))]
    if mode != "constant":
        if value is not None:
            raise ValueError(f"pad: value is for mode 'constant', got value={value!r} with mode {mode!r}")
        if not 1 <= axes <= 3 or x.ndim not in (axes + 1, axes + 2):
            raise ShapeError(f"pad: mode {mode!r} pads 1 to 3 axes of an input with one or two more axes (channels "
                             f"and batch), got {len(pad)} widths for shape {x.shape}")
        for axis, (before, after) in enumerate(widths):
            size, most = x.shape[axis], max(before, after)
            if min(before, after) < 0:
                raise DomainError(f"pad: mode {mode!r} needs widths >= 0, got {pad!r}")
            limit = size - 1 if mode == "reflect" else size if mode == "circular" else math.inf
            if most > limit or (most and not size):
                raise ShapeError(f"pad: width {most} in mode {mode!r} needs an axis of at least "
                                 f"{most + (mode == 'reflect')} elements, got axis {axis} of size {size}")
        return cnp.pad(x, widths, mode=_MODES[mode])
    crop = tuple(slice(-min(before, 0), x.shape[axis] + min(after, 0)) for axis, (before, after) in enumerate(widths))
    if any(s.start > s.stop for s in crop):
        raise ShapeError(f"pad: negative widths {pad!r} crop more than the input of shape {x.shape} holds")
    if any(min(w) < 0 for w in widths):
        x = x[crop]
    return cnp.pad(x, [(max(b, 0), max(a, 0)) for b, a in widths], mode="constant",
                   constant_values=0 if value is None else value)


# 1-D pooling (2-D pooling of a height-1 image) and adaptive max pooling.
def _single(value: Any, name: str, where: str, minimum: int) -> int:
    if isinstance(value, tuple | list) and len(value) == 1:
        value = value[0]
    if not is_int(value):
        raise TypeError(f"{where}: {name} must be an int (or a 1-tuple), got {value!r}")
    if value < minimum:
        raise DomainError(f"{where}: {name} must be >= {minimum}, got {value!r}")
    return int(value)


def _batched(input: Any, spatial: int, where: str) -> tuple[Tensor, bool]:
    """(input with a batch axis, whether one was added): (N, C, *spatial) or (C, *spatial) input."""
    x = input if isinstance(input, Tensor) else Tensor(input)
    if x.ndim not in (spatial + 1, spatial + 2):
        names = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}[spatial]
        raise ShapeError(f"{where} expects a {spatial + 2}-D (N, C, {', '.join(names)}) or {spatial + 1}-D "
                         f"(C, {', '.join(names)}) input, got shape {x.shape}")
    return (ops.unsqueeze(x, 0), True) if x.ndim == spatial + 1 else (x, False)


def _as_lines(input: Any, where: str) -> tuple[Tensor, bool]:
    """(N, C, 1, L) from (N, C, L) or (C, L) input, and whether the batch axis was added."""
    x, added = _batched(input, 1, where)
    return ops.unsqueeze(x, 2), added


def _from_lines(out: Tensor, added: bool) -> Tensor:
    out = ops.squeeze(out, 2)
    return ops.squeeze(out, 0) if added else out


def max_pool1d(input: Any, kernel_size: int, stride: int | None = None, padding: int = 0, dilation: int = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Tensor | tuple[Tensor, np.ndarray]:
    """The maximum of each window along the last axis of (N, C, L) or (C, L) input (max_pool2d on a height of 1);
    the gradient goes to each window's first maximum; indices are positions along L."""
    where = "max_pool1d"
    x, added = _as_lines(input, where)
    kernel_size = _single(kernel_size, "kernel_size", where, 1)
    stride = kernel_size if stride is None else _single(stride, "stride", where, 1)
    out = max_pool2d(x, (1, kernel_size), (1, stride), (0, _single(padding, "padding", where, 0)),
                     (1, _single(dilation, "dilation", where, 1)), ceil_mode, return_indices)
    if not return_indices:
        return _from_lines(out, added)
    out, index = out
    index = index[:, :, 0]
    return _from_lines(out, added), index[0] if added else index


def avg_pool1d(input: Any, kernel_size: int, stride: int | None = None, padding: int = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """The mean of each window along the last axis of (N, C, L) or (C, L) input (avg_pool2d on a height of 1)."""
    where = "avg_pool1d"
    x, added = _as_lines(input, where)
    kernel_size = _single(kernel_size, "kernel_size", where, 1)
    stride = kernel_size if stride is None else _single(stride, "stride", where, 1)
    out = avg_pool2d(x, (1, kernel_size), (1, stride), (0, _single(padding, "padding", where, 0)), ceil_mode,
                     count_include_pad)
    return _from_lines(out, added)


def adaptive_avg_pool1d(input: Any, output_size: int) -> Tensor:
    """Average (N, C, L) or (C, L) input down to ``output_size`` bins along L (PyTorch's bins)."""
    x, added = _as_lines(input, "adaptive_avg_pool1d")
    size = _single(output_size, "output_size", "adaptive_avg_pool1d", 1)
    return _from_lines(adaptive_avg_pool2d(x, (1, size)), added)


def _bins(size: int, count: int) -> list[range]:
    """PyTorch's adaptive bins: bin i of ``count`` over ``size`` spans [⌊i·size/count⌋, ⌈(i+1)·size/count⌉)."""
    return [range(i * size // count, -(-(i + 1) * size // count)) for i in range(count)]


def adaptive_max_pool2d(input: Any, output_size: int | Sequence[int | None] | None,
                        return_indices: bool = False) -> Tensor | tuple[Tensor, np.ndarray]:
    """The maximum over each of oh×ow bins covering (N, C, H, W) or (C, H, W) input (PyTorch's bins; None keeps
    that axis's size). The gradient goes to each bin's first maximum in row-major order; ``return_indices`` also
    gives its position in the flattened H·W plane (int64)."""
    return adaptive_max_pool(input, output_size, return_indices, 2, "adaptive_max_pool2d")


def adaptive_max_pool(input: Any, output_size: Any, return_indices: bool, dims: int,
                      where: str) -> Tensor | tuple[Tensor, np.ndarray]:
    """adaptive_max_pool2d's rules over the ``dims`` spatial axes of (N, C, *spatial) or (C, *spatial) input."""
    x, added = _batched(_tensor(input, where), dims, where)
    n, c, *size = x.shape
    counts = _adaptive_size(output_size, tuple(size), where)
    volume = math.prod(size)
    bins = [_bins(s, o) for s, o in zip(size, counts, strict=True)]
    taps = math.prod(max(map(len, b)) for b in bins)
    # Each bin's positions in the flattened volume, row-major, padded to ``taps`` with the −∞ appended at the end.
    index = np.full((taps, math.prod(counts)), volume, dtype=np.intp)
    for k, ranges in enumerate(itertools.product(*bins)):
        positions = np.ravel_multi_index(np.ix_(*ranges), size).ravel()
        index[:len(positions), k] = positions
    flat = ops.concatenate([ops.reshape(x, (n, c, volume)), np.full((n, c, 1), -np.inf, x.dtype)], axis=2)
    out, first = _window_max(flat[:, :, index])
    out = ops.reshape(out, (n, c) + counts)
    out = ops.squeeze(out, 0) if added else out
    if not return_indices:
        return out
    chosen = index[np.asarray(first)[:, :, 0, :], np.arange(math.prod(counts))].astype(np.int64)
    chosen = chosen.reshape((n, c) + counts)
    return out, chosen[0] if added else chosen


def adaptive_max_pool1d(input: Any, output_size: int,
                        return_indices: bool = False) -> Tensor | tuple[Tensor, np.ndarray]:
    """The maximum over each of ``output_size`` bins along L of (N, C, L) or (C, L) input; indices along L."""
    x, added = _as_lines(input, "adaptive_max_pool1d")
    size = _single(output_size, "output_size", "adaptive_max_pool1d", 1)
    out = adaptive_max_pool2d(x, (1, size), return_indices)
    if not return_indices:
        return _from_lines(out, added)
    out, index = out
    index = index[:, :, 0]
    return _from_lines(out, added), index[0] if added else index


# 3-D convolutions and pools, power-average pools, max unpooling, channel dropout of volumes (their modules:
# nn/layers_3d.py). The convolutions and pools are the N-d functions above, on (N, C, D, H, W) batches.
@_unbatched(5)
def conv3d(input: Any, weight: Any, bias: Any = None, stride: int | Sizes = 1, padding: int | Sizes | str = 0,
           dilation: int | Sizes = 1, groups: int = 1) -> Tensor:
    """3-D convolution of (N, C, D, H, W) input (or one (C, D, H, W) volume) with an (out, in/groups, kd, kh, kw)
    kernel: conv2d's rule along three axes (``unfold`` into columns, one matrix product per group)."""
    return convolution(_spatial(input, 3, "conv3d"), weight, bias, stride, padding, dilation, groups, "conv3d")


@_unbatched(5)
def conv_transpose3d(input: Any, weight: Any, bias: Any = None, stride: int | Sizes = 1, padding: int | Sizes = 0,
                     output_padding: int | Sizes = 0, groups: int = 1, dilation: int | Sizes = 1) -> Tensor:
    """3-D transposed convolution of (N, C_in, D, H, W) input with a (C_in, C_out/groups, kd, kh, kw) kernel, the
    gradient of ``conv3d`` with respect to its input (conv_transpose2d's rules along three axes)."""
    return transposed_convolution(input, weight, bias, stride, padding, output_padding, groups, dilation, 3,
                                  "conv_transpose3d")


@_unbatched(5)
def max_pool3d(input: Any, kernel_size: int | Sizes, stride: int | Sizes | None = None, padding: int | Sizes = 0,
               dilation: int | Sizes = 1, ceil_mode: bool = False, return_indices: bool = False
               ) -> Tensor | tuple[Tensor, np.ndarray]:
    """The maximum of each kd×kh×kw window of (N, C, D, H, W) or (C, D, H, W) input, with max_pool2d's rules;
    indices count in the flattened D·H·W volume."""
    return max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices, 3, "max_pool3d")


@_unbatched(5)
def avg_pool3d(input: Any, kernel_size: int | Sizes, stride: int | Sizes | None = None, padding: int | Sizes = 0,
               ceil_mode: bool = False, count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """The mean of each kd×kh×kw window of (N, C, D, H, W) or (C, D, H, W) input, with avg_pool2d's rules."""
    return average_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override, 3,
                        "avg_pool3d")


@_unbatched(5)
def adaptive_avg_pool3d(input: Any, output_size: int | Sequence[int | None] | None) -> Tensor:
    """Average (N, C, D, H, W) or (C, D, H, W) input over PyTorch's bins down to ``output_size`` (od, oh, ow)."""
    return adaptive_average_pool(_spatial(input, 3, "adaptive_avg_pool3d"), output_size, "adaptive_avg_pool3d")


def adaptive_max_pool3d(input: Any, output_size: int | Sequence[int | None] | None,
                        return_indices: bool = False) -> Tensor | tuple[Tensor, np.ndarray]:
    """The maximum over each of od×oh×ow bins of (N, C, D, H, W) or (C, D, H, W) input; indices count in the
    flattened D·H·W volume."""
    return adaptive_max_pool(input, output_size, return_indices, 3, "adaptive_max_pool3d")


def max_pool1d_with_indices(input: Any, kernel_size: int, stride: int | None = None, padding: int = 0,
                            dilation: int = 1, ceil_mode: bool = False,
                            return_indices: bool = False) -> tuple[Tensor, np.ndarray]:
    """``max_pool1d`` returning (output, indices) whatever ``return_indices`` says, as PyTorch's."""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input: Any, kernel_size: int | Pair, stride: int | Pair | None = None,
                            padding: int | Pair = 0, dilation: int | Pair = 1, ceil_mode: bool = False,
                            return_indices: bool = False) -> tuple[Tensor, np.ndarray]:
    """``max_pool2d`` returning (output, indices) whatever ``return_indices`` says, as PyTorch's."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input: Any, kernel_size: int | Sizes, stride: int | Sizes | None = None,
                            padding: int | Sizes = 0, dilation: int | Sizes = 1, ceil_mode: bool = False,
                            return_indices: bool = False) -> tuple[Tensor, np.ndarray]:
    """``max_pool3d`` returning (output, indices) whatever ``return_indices`` says, as PyTorch's."""
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def adaptive_max_pool1d_with_indices(input: Any, output_size: int,
                                     return_indices: bool = False) -> tuple[Tensor, np.ndarray]:
    """``adaptive_max_pool1d`` returning (output, indices), as PyTorch's."""
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input: Any, output_size: int | Sequence[int | None] | None,
                                     return_indices: bool = False) -> tuple[Tensor, np.ndarray]:
    """``adaptive_max_pool2d`` returning (output, indices), as PyTorch's."""
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool3d_with_indices(input: Any, output_size: int | Sequence[int | None] | None,
                                     return_indices: bool = False) -> tuple[Tensor, np.ndarray]:
    """``adaptive_max_pool3d`` returning (output, indices), as PyTorch's."""
    return adaptive_max_pool3d(input, output_size, True)


def _lp_pool(input: Any, norm_type: float, kernel_size: Any, stride: Any, ceil_mode: bool, dims: int,
             where: str) -> Tensor:
    """(Σ xᵖ over each window)^(1/p), as PyTorch's: the mean of xᵖ (``average_pool``, no padding) times the window
    size; ∞ is the maximum of |x|, −∞ the minimum. A window whose sum is 0 gets 0 and passes no gradient (the
    p-th root's derivative is infinite there), as PyTorch's; a negative sum (odd p) gives NaN, as PyTorch's."""
    if isinstance(norm_type, bool) or not isinstance(norm_type, numbers.Real) or norm_type == 0:
        raise DomainError(f"{where}: norm_type must be a nonzero real number (or ±math.inf), got {norm_type!r}")
    x = _tensor(input, where)
    kernel = sizes(kernel_size, dims, "kernel_size", where, 1)
    if math.isinf(norm_type):
        def largest(v: Tensor) -> Tensor:
            return one_sample(v, dims + 2, lambda b: max_pool(b, kernel, stride, 0, 1, ceil_mode, False, dims, where))
        return largest(ops.abs(x)) if norm_type > 0 else -largest(-ops.abs(x))
    p = float(norm_type)
    out = one_sample(ops.power(x, p), dims + 2,
                     lambda b: average_pool(b, kernel, stride, 0, ceil_mode, True, None, dims, where))
    zero = ops.stop(out) == 0
    total = ops.where(zero, np.ones((), out.dtype), out) * math.prod(kernel)
    return ops.where(zero, np.zeros((), out.dtype), ops.power(total, 1 / p))


def lp_pool1d(input: Any, norm_type: float, kernel_size: int, stride: int | None = None,
              ceil_mode: bool = False) -> Tensor:
    """The p-norm of each window along L of (N, C, L) or (C, L) input: (Σ xᵖ)^(1/p) (see ``_lp_pool``)."""
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 1, "lp_pool1d")


def lp_pool2d(input: Any, norm_type: float, kernel_size: int | Pair, stride: int | Pair | None = None,
              ceil_mode: bool = False) -> Tensor:
    """The p-norm of each kh×kw window of (N, C, H, W) or (C, H, W) input: (Σ xᵖ)^(1/p)."""
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 2, "lp_pool2d")


def lp_pool3d(input: Any, norm_type: float, kernel_size: int | Sizes, stride: int | Sizes | None = None,
              ceil_mode: bool = False) -> Tensor:
    """The p-norm of each kd×kh×kw window of (N, C, D, H, W) or (C, D, H, W) input: (Σ xᵖ)^(1/p)."""
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 3, "lp_pool3d")


def _unpool_size(shape: tuple[int, ...], kernel: Sizes, stride: Sizes, padding: Sizes, output_size: Any,
                 where: str) -> Sizes:
    """The output size of a max unpooling, as PyTorch's: (n − 1)·stride + kernel − 2·padding per axis, or
    ``output_size`` (spatial sizes, optionally after N and C), which must lie strictly within a stride of it."""
    dims = len(kernel)
    default = tuple((n - 1) * s + k - 2 * p for n, k, s, p in zip(shape[-dims:], kernel, stride, padding,
                                                                   strict=True))
    if output_size is None:
        result = default
    else:
        try:
            result = tuple(int(operator.index(n)) for n in output_size)
        except TypeError:
            raise TypeError(f"{where}: output_size must be a sequence of ints, got {output_size!r}") from None
        if len(result) == dims + 2:
            result = result[2:]
        if len(result) != dims:
            raise ValueError(f"{where}: output_size should have {dims} or {dims + 2} elements, got "
                             f"{len(result)} ({output_size!r})")
        for axis, (n, d, s) in enumerate(zip(result, default, stride, strict=True)):
            if not d - s < n < d + s:
                raise ValueError(f"{where}: invalid output_size {list(result)} (dim {axis} must be between {d - s} "
                                 f"and {d + s}, both excluded)")
    if min(result) < 1:
        raise ShapeError(f"{where}: the output size {result} is empty (input {shape}, kernel {kernel}, stride "
                         f"{stride}, padding {padding})")
    return result


def _max_unpool(input: Any, indices: Any, kernel_size: Any, stride: Any, padding: Any, output_size: Any, dims: int,
                where: str) -> Tensor:
    """The inverse of a max pooling: zeros, with each input value at the position ``indices`` gives it in its
    flattened (C's) output plane, as PyTorch's. Where several values name one position, the last one written
    stays (as PyTorch's kernel) and each of them receives that position's gradient (PyTorch's backward, a gather)."""
    x, added = _batched(_tensor(input, where), dims, where)
    index = np.asarray(indices._array() if isinstance(indices, Tensor) else indices)
    if index.dtype.kind not in "iu":
        raise TypeError(f"{where}: indices must be integers (int64, as max_pool returns them), got dtype "
                        f"{index.dtype}")
    index = index[None] if added else index
    if index.shape != x.shape:
        raise ShapeError(f"{where}: indices of shape {index.shape} must have the input's shape {x.shape}")
    kernel = sizes(kernel_size, dims, "kernel_size", where, 1)
    stride = kernel if stride is None else sizes(stride, dims, "stride", where, 1)
    padding = sizes(padding, dims, "padding", where, 0)
    out_size = _unpool_size(x.shape, kernel, stride, padding, output_size, where)
    volume = math.prod(out_size)
    if index.size and (index.min() < 0 or index.max() >= volume):
        bad = int(index.min()) if index.min() < 0 else int(index.max())
        raise ShapeError(f"{where}: index {bad} is out of range for an output of {volume} positions per plane "
                         f"(output size {out_size})")
    n, c = x.shape[:2]
    planes = np.arange(n * c).reshape(n, c, *(1,) * dims) * volume
    target = (planes + index).ravel()
    values = ops.reshape(x, (-1,))
    shape = (n * c * volume,)
    last = np.zeros(target.size, bool)  # the last value written to each position
    last[target.size - 1 - np.unique(target[::-1], return_index=True)[1]] = True
    if last.all():
        out = ops.scatter(values, target, shape)
    else:
        kept = last.astype(x.dtype)
        rest = ops.scatter(values * (1 - kept), target, shape)  # its value cancels; its gradient is the gather
        out = ops.scatter(values * kept, target, shape) + (rest - ops.stop(rest))
    out = ops.reshape(out, (n, c) + out_size)
    return ops.squeeze(out, 0) if added else out


def max_unpool1d(input: Any, indices: Any, kernel_size: int, stride: int | None = None, padding: int = 0,
                 output_size: Sequence[int] | None = None) -> Tensor:
    """Undo max_pool1d: (N, C, L) or (C, L) values placed at their ``indices`` along L, zeros elsewhere."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 1, "max_unpool1d")


def max_unpool2d(input: Any, indices: Any, kernel_size: int | Pair, stride: int | Pair | None = None,
                 padding: int | Pair = 0, output_size: Sequence[int] | None = None) -> Tensor:
    """Undo max_pool2d: (N, C, H, W) or (C, H, W) values placed at their ``indices`` (flattened H·W), zeros
    elsewhere."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 2, "max_unpool2d")


def max_unpool3d(input: Any, indices: Any, kernel_size: int | Sizes, stride: int | Sizes | None = None,
                 padding: int | Sizes = 0, output_size: Sequence[int] | None = None) -> Tensor:
    """Undo max_pool3d: (N, C, D, H, W) or (C, D, H, W) values placed at their ``indices`` (flattened D·H·W), zeros
    elsewhere."""
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 3, "max_unpool3d")


def dropout3d(input: Any, p: float = 0.5, training: bool = True, rng: np.random.Generator | None = None) -> Tensor:
    """Zero each channel of (N, C, D, H, W) or (C, D, H, W) input with probability p, scale the kept ones by
    1/(1 − p)."""
    return _feature_dropout(input, p, training, rng, 3, "dropout3d")


def upsample(input: Any, size: int | Sequence[int] | None = None, scale_factor: float | Sequence[float] | None = None,
             mode: str = "nearest", align_corners: bool | None = None) -> Tensor:
    """``interpolate`` under its old name (deprecated in PyTorch, with its warning)."""
    warnings.warn("nn.functional.upsample is deprecated. Use nn.functional.interpolate instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Any, size: int | Sequence[int] | None = None,
                     scale_factor: float | Sequence[float] | None = None) -> Tensor:
    """``interpolate(..., mode="nearest")`` (deprecated in PyTorch, with its warning)."""
    warnings.warn("nn.functional.upsample_nearest is deprecated. Use nn.functional.interpolate instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Any, size: int | Sequence[int] | None = None,
                      scale_factor: float | Sequence[float] | None = None) -> Tensor:
    """``interpolate(..., mode="bilinear", align_corners=True)`` (deprecated in PyTorch, with its warning)."""
    warnings.warn("nn.functional.upsample_bilinear is deprecated. Use nn.functional.interpolate instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


SHAPES_3D = [  # the section above, for __all__
    "adaptive_avg_pool3d", "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
    "adaptive_max_pool3d", "adaptive_max_pool3d_with_indices", "avg_pool3d", "conv3d", "conv_transpose3d",
    "dropout3d", "lp_pool1d", "lp_pool2d", "lp_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
    "max_pool3d", "max_pool3d_with_indices", "max_unpool1d", "max_unpool2d", "max_unpool3d", "upsample",
    "upsample_bilinear", "upsample_nearest",
]


# Pixel shuffle and resizing.
def pixel_shuffle(input: Any, upscale_factor: int) -> Tensor:
    """(*, C·r², H, W) → (*, C, H·r, W·r): each group of r² channels becomes an r×r block of pixels."""
    x = input if isinstance(input, Tensor) else Tensor(input)
    r = _single(upscale_factor, "upscale_factor", "pixel_shuffle", 1)
    if x.ndim < 3 or x.shape[-3] % (r * r):
        raise ShapeError(f"pixel_shuffle: expects (*, C·{r * r}, H, W) input (channels divisible by "
                         f"upscale_factor² = {r * r}), got shape {x.shape}")
    *batch, c, h, w = x.shape
    b = len(batch)
    x = ops.reshape(x, (*batch, c // (r * r), r, r, h, w))
    x = ops.transpose(x, *range(b), b, b + 3, b + 1, b + 4, b + 2)
    return ops.reshape(x, (*batch, c // (r * r), h * r, w * r))


def pixel_unshuffle(input: Any, downscale_factor: int) -> Tensor:
    """(*, C, H·r, W·r) → (*, C·r², H, W): the inverse of pixel_shuffle."""
    x = input if isinstance(input, Tensor) else Tensor(input)
    r = _single(downscale_factor, "downscale_factor", "pixel_unshuffle", 1)
    if x.ndim < 3 or x.shape[-2] % r or x.shape[-1] % r:
        raise ShapeError(f"pixel_unshuffle: expects (*, C, H, W) input with H and W divisible by "
                         f"downscale_factor = {r}, got shape {x.shape}")
    *batch, c, h, w = x.shape
    b = len(batch)
    x = ops.reshape(x, (*batch, c, h // r, r, w // r, r))
    x = ops.transpose(x, *range(b), b, b + 2, b + 4, b + 1, b + 3)
    return ops.reshape(x, (*batch, c * r * r, h // r, w // r))


_LINEAR = {"linear": 1, "bilinear": 2, "trilinear": 3, "bicubic": 2}
_NEAREST = ("nearest", "nearest-exact")


def interpolate(input: Any, size: int | Sequence[int] | None = None,
                scale_factor: float | Sequence[float] | None = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resize the spatial axes of (N, C, *spatial) input to ``size``, or to ⌊size·scale_factor⌋, as PyTorch's.

    "nearest": output i reads input ⌊i·s⌋ with s = 1/scale_factor (given) or in/out, in float32 as PyTorch;
    "nearest-exact": input ⌊(i + ½)·s⌋ (pixel centres, as PIL and scikit-image).
    "linear" (3-D input), "bilinear" (4-D), "trilinear" (5-D): interpolation between the two nearest inputs;
    ``align_corners=True`` maps the corner pixels' centres onto each other (i·(in − 1)/(out − 1)); False (the
    default) maps pixel areas ((i + ½)·s − ½, clamped at 0). ``recompute_scale_factor=True`` uses in/out for s.
    "area" (3-D, 4-D): the adaptive average pool to the output size. "bicubic" (4-D): Keys' cubic convolution
    (a = −0.75, as PyTorch) over the four nearest inputs of each axis, the edge values repeated beyond the border,
    the source position not clamped.
    """
    x = _tensor(input, "interpolate")
    spatial = x.ndim - 2
    if mode not in _NEAREST and mode not in _LINEAR and mode != "area":
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported; use 'nearest', 'nearest-exact', "
                                  "'linear', 'bilinear', 'bicubic', 'trilinear' or 'area'")
    if mode == "area":
        if align_corners is not None:
            raise ValueError("interpolate: align_corners is for the linear and cubic modes, not 'area'")
        if spatial not in (1, 2):
            raise ShapeError(f"interpolate: mode 'area' expects 3-D or 4-D input (N, C, ...), got shape {x.shape}")
        if antialias:
            raise NotImplementedError("interpolate: antialias=True is not supported")
        sizes, _ = _output_sizes(x.shape[2:], size, scale_factor, "interpolate")
        return adaptive_avg_pool1d(x, sizes[0]) if spatial == 1 else adaptive_avg_pool2d(x, tuple(sizes))
    if mode in _NEAREST:
        if align_corners is not None:
            raise ValueError("interpolate: align_corners is for the linear modes, not 'nearest'")
        if not 1 <= spatial <= 3:
            raise ShapeError(f"interpolate: mode 'nearest' expects 3-D to 5-D input (N, C, ...), got shape {x.shape}")
    elif spatial != _LINEAR[mode]:
        raise ShapeError(f"interpolate: mode {mode!r} expects {_LINEAR[mode] + 2}-D input (N, C, ...), got shape "
                         f"{x.shape}")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    sizes, scales = _output_sizes(x.shape[2:], size, scale_factor, "interpolate")
    if recompute_scale_factor:
        scales = [None] * spatial
    for axis, (n, o, s) in enumerate(zip(x.shape[2:], sizes, scales, strict=True), start=2):
        if mode == "nearest":
            x = x[(slice(None),) * axis + (_nearest_sources(n, o, s),)]
        elif mode == "nearest-exact":
            x = x[(slice(None),) * axis + (_nearest_exact_sources(n, o, s),)]
        elif mode == "bicubic":
            x = _cubic_along(x, axis, n, o, s, bool(align_corners))
        else:
            x = _linear_along(x, axis, n, o, s, bool(align_corners))
    return x


def _output_sizes(shape: tuple[int, ...], size: Any, scale_factor: Any, where: str
                  ) -> tuple[list[int], list[float | None]]:
    """(the output sizes, the scale factors given or None per axis)."""
    spatial = len(shape)
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{where}: give exactly one of size and scale_factor, got size={size!r}, "
                         f"scale_factor={scale_factor!r}")
    if size is not None:
        sizes = [size] * spatial if is_int(size) else list(size) if isinstance(size, Sequence) else None
        if sizes is None or len(sizes) != spatial or not all(is_int(s) and s >= 1 for s in sizes):
            raise ValueError(f"{where}: size must be a positive int or {spatial} of them, got {size!r}")
        return [int(s) for s in sizes], [None] * spatial
    factors = list(scale_factor) if isinstance(scale_factor, Sequence) else [scale_factor] * spatial
    if len(factors) != spatial or not all(isinstance(f, numbers.Real) and not isinstance(f, bool) and f > 0
                                          for f in factors):
        raise ValueError(f"{where}: scale_factor must be a positive number or {spatial} of them, got "
                         f"{scale_factor!r}")
    sizes = [math.floor(n * float(f)) for n, f in zip(shape, factors, strict=True)]
    if min(sizes) < 1:
        raise ShapeError(f"{where}: scale_factor {scale_factor!r} leaves an empty output for input size {shape}")
    return sizes, [float(f) for f in factors]


def _nearest_sources(n: int, o: int, scale: float | None) -> np.ndarray:
    """PyTorch's nearest source of each output position: ⌊i·s⌋ (at most n − 1), s in float32; as PyTorch, an
    output of the input's size, or of twice it, reads i or ⌊i/2⌋ whatever the scale factor."""
    if o == n:
        return np.arange(o)
    if o == 2 * n:
        return np.arange(o) // 2
    s = np.float32(1.0 / scale) if scale else np.float32(n) / np.float32(o)
    return np.minimum(np.floor(np.arange(o, dtype=np.float32) * s).astype(np.intp), n - 1)


def _nearest_exact_sources(n: int, o: int, scale: float | None) -> np.ndarray:
    """PyTorch's "nearest-exact" source of each output position: ⌊(i + ½)·s⌋ (at most n − 1), s in float32."""
    s = np.float32(1.0 / scale) if scale else np.float32(n) / np.float32(o)
    centres = ((np.arange(o) + 0.5) * np.float64(s)).astype(np.float32)  # PyTorch's floorf of the product
    return np.minimum(np.floor(centres).astype(np.intp), n - 1)


def _source_positions(n: int, o: int, scale: float | None, align_corners: bool, dtype: Any,
                      clamp: bool) -> np.ndarray:
    """The input position each of ``o`` outputs reads along an axis of size ``n``, in ``dtype`` as PyTorch's
    kernels: i·(n − 1)/(o − 1) with align_corners, else (i + ½)·s − ½ with s = 1/scale (or n/o), at least 0 when
    ``clamp`` (the linear modes; bicubic reads the taps before 0 and clamps their indices instead)."""
    dtype = np.dtype(dtype).type
    position = np.arange(o, dtype=dtype)
    if align_corners:
        return position * dtype((n - 1) / (o - 1) if o > 1 else 0)
    s = dtype(1.0 / scale) if scale else dtype(n) / dtype(o)
    source = s * (position + dtype(0.5)) - dtype(0.5)
    return np.maximum(source, dtype(0)) if clamp else source


def _cubic_along(x: Tensor, axis: int, n: int, o: int, scale: float | None, align_corners: bool) -> Tensor:
    """Bicubic interpolation along ``axis``: the four taps around each source position with Keys' weights
    (a = −0.75), indices clamped to the input, all in x's dtype as PyTorch's kernel."""
    dtype = x.dtype.type
    source = _source_positions(n, o, scale, align_corners, x.dtype, clamp=False)
    floor = np.floor(source)
    t = (source - floor).astype(x.dtype)
    a = dtype(-0.75)

    def near(d: np.ndarray) -> np.ndarray:  # |d| <= 1
        return ((a + 2) * d - (a + 3)) * d * d + 1

    def far(d: np.ndarray) -> np.ndarray:  # 1 < |d| < 2
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a

    weights = (far(t + 1), near(t), near(1 - t), far(2 - t))
    shape = (o,) + (1,) * (x.ndim - axis - 1)
    before = (slice(None),) * axis
    out = None
    for k, weight in enumerate(weights):
        taps = np.clip(floor.astype(np.intp) - 1 + k, 0, n - 1)
        term = x[before + (taps,)] * weight.astype(x.dtype).reshape(shape)
        out = term if out is None else out + term
    return out


def _linear_along(x: Tensor, axis: int, n: int, o: int, scale: float | None, align_corners: bool) -> Tensor:
    """Linear interpolation along ``axis``: weights and indices computed in x's dtype, as PyTorch's kernels."""
    source = _source_positions(n, o, scale, align_corners, x.dtype, clamp=True)
    low = source.astype(np.intp)
    high = low + (low < n - 1)
    upper = (source - low).astype(x.dtype)
    shape = (o,) + (1,) * (x.ndim - axis - 1)
    before = (slice(None),) * axis
    return x[before + (low,)] * (1 - upper).reshape(shape) + x[before + (high,)] * upper.reshape(shape)


# ---------------------------------------------------------------------------------------------------------------
# Norms and distances between vectors (their modules: nn/distance.py).
# ---------------------------------------------------------------------------------------------------------------
def _order(p: Any, where: str) -> float:
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not p > 0:
        raise DomainError(f"{where}: p must be a positive number (or math.inf), got {p!r}")
    return float(p)


def _dim(dim: int, ndim: int, where: str) -> int:
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise ShapeError(f"{where}: dim {dim} is out of range for an input of {ndim} axes")
    return dim


def _vector_norm(x: Tensor, p: float, axis: int, keepdims: bool = False) -> Tensor:
    """(Σ|x|ᵖ)^(1/p) along ``axis`` (max |x| for p = ∞). A zero vector's norm has gradient 0, as PyTorch's: the
    root is taken of 1 there, so the rule's 1/‖x‖ never meets 0."""
    if p == math.inf:
        return ops.max(ops.abs(x), axis=axis, keepdims=keepdims)
    if p == 1:
        return ops.sum(ops.abs(x), axis=axis, keepdims=keepdims)
    if p < 1:  # |x|ᵖ has an infinite slope at 0: a zero vector is replaced by ones before the power, too
        empty = ~np.any(x.data != 0, axis=axis, keepdims=True)
        x = ops.where(empty, np.ones((), x.dtype), x) if empty.any() else x
    powers = x * x if p == 2 else ops.power(ops.abs(x), p)
    total = ops.sum(powers, axis=axis, keepdims=keepdims)
    zero = total.data == 0
    if p < 1:
        zero = zero | (empty if keepdims else np.any(empty, axis=axis))
    safe = ops.where(zero, np.ones((), total.dtype), total)
    root = ops.sqrt(safe) if p == 2 else ops.power(safe, 1 / p)
    return ops.where(zero, np.zeros((), total.dtype), root)


def normalize(input: Any, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """x / max(‖x‖ₚ, ε) along ``dim``: unit vectors; where the norm is below ε, divided by ε (no gradient through
    the norm there, as PyTorch's clamp)."""
    x = _tensor(input, "normalize")
    dim = _dim(dim, x.ndim, "normalize")
    norm = _vector_norm(x, _order(p, "normalize"), dim, keepdims=True)
    return x / ops.where(norm.data >= eps, norm, np.asarray(eps, x.dtype))


def cosine_similarity(x1: Any, x2: Any, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Σ (x₁/‖x₁‖)(x₂/‖x₂‖) along ``dim`` (inputs broadcast), each norm at least ε, as PyTorch's: each vector is
    scaled first (the result stays in [−1, 1]), and the clamp to ε changes the value, not the gradient."""
    a, b = _tensor(x1, "cosine_similarity"), _tensor(x2, "cosine_similarity")
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ShapeError(f"cosine_similarity: shapes {a.shape} and {b.shape} do not broadcast") from None
    dim = _dim(dim, len(shape), "cosine_similarity")
    a, b = ops.broadcast_to(a, shape), ops.broadcast_to(b, shape)
    units = []
    for v in (a, b):
        norm = _vector_norm(v, 2, dim, keepdims=True)
        value = ops.stop(norm)
        units.append(v / (norm + (np.maximum(value, eps) - value).astype(v.dtype)))
    return ops.sum(units[0] * units[1], axis=dim)


def pairwise_distance(x1: Any, x2: Any, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """‖x₁ − x₂ + ε‖ₚ along the last axis (inputs broadcast), as PyTorch's (ε keeps the norm's gradient finite)."""
    a, b = _tensor(x1, "pairwise_distance"), _tensor(x2, "pairwise_distance")
    try:
        ndim = len(np.broadcast_shapes(a.shape, b.shape))
    except ValueError:
        raise ShapeError(f"pairwise_distance: shapes {a.shape} and {b.shape} do not broadcast") from None
    if ndim == 0:
        raise ShapeError("pairwise_distance: inputs must have at least one axis, got scalars")
    return _vector_norm(a - b + eps, _order(p, "pairwise_distance"), -1, bool(keepdim))


# ---------------------------------------------------------------------------------------------------------------
# More layers and losses: transposed convolutions, instance and local response normalization, bilinear, channel
# shuffle, and the margin, ranking and likelihood losses, as PyTorch's. A transposed convolution is the adjoint of a
# convolution: a matrix product with the kernel makes each input pixel's columns, and ``fold`` sums them into the
# (cropped) output, as ``unfold`` gathered them in the forward convolution.
# ---------------------------------------------------------------------------------------------------------------
@_unbatched(4)
def conv_transpose2d(input: Any, weight: Any, bias: Any = None, stride: int | Pair = 1, padding: int | Pair = 0,
                     output_padding: int | Pair = 0, groups: int = 1, dilation: int | Pair = 1) -> Tensor:
    """2-D transposed convolution of (N, C_in, H, W) input with a (C_in, C_out/groups, kh, kw) kernel: the
    gradient of ``conv2d`` with respect to its input, as PyTorch's (a "deconvolution").

    Output size per axis: (H − 1)·stride − 2·padding + dilation·(k − 1) + output_padding + 1. Each input pixel
    adds its value times the kernel at stride-spaced places; ``padding`` crops that many rows/columns on each
    side, ``output_padding`` adds rows/columns at the end (bottom, right).
    """
    return transposed_convolution(input, weight, bias, stride, padding, output_padding, groups, dilation, 2,
                                  "conv_transpose2d")


def transposed_convolution(input: Any, weight: Any, bias: Any, stride: Any, padding: Any, output_padding: Any,
                           groups: int, dilation: Any, dims: int, where: str) -> Tensor:
    """conv_transpose2d's rules over ``dims`` spatial axes: input (N, C_in, *spatial), weight
    (C_in, C_out/groups, *kernel)."""
    x = _float(input, "input", where)
    if x.ndim != dims + 2 or np.ndim(weight) != dims + 2:
        axes = {1: ("L", "k"), 2: ("H, W", "kh, kw"), 3: ("D, H, W", "kd, kh, kw")}[dims]
        raise ShapeError(f"{where}: expects input (N, C_in, {axes[0]}) and weight (C_in, C_out/groups, {axes[1]}), "
                         f"got shapes {x.shape} and {np.shape(weight)}")
    in_channels, out_per_group, *kernel = np.shape(weight)
    kernel = tuple(kernel)
    if isinstance(groups, bool) or not isinstance(groups, numbers.Integral) or groups < 1 or in_channels % groups:
        raise DomainError(f"{where}: groups must be a positive int dividing the weight's {in_channels} input "
                          f"channels, got {groups!r}")
    if x.shape[1] != in_channels:
        raise ShapeError(f"{where}: input of shape {x.shape} has {x.shape[1]} channels, but the weight of shape "
                         f"{np.shape(weight)} expects {in_channels} (weights are (C_in, C_out/groups, ...))")
    out_channels = out_per_group * groups
    if bias is not None and np.shape(bias) != (out_channels,):
        raise ShapeError(f"{where}: bias of shape {np.shape(bias)} does not fit {out_channels} output channels; "
                         f"expected ({out_channels},)")
    stride, dilation = sizes(stride, dims, "stride", where, 1), sizes(dilation, dims, "dilation", where, 1)
    padding = sizes(padding, dims, "padding", where, 0)
    output_padding = sizes(output_padding, dims, "output_padding", where, 0)
    if any(o >= max(s, d) for o, s, d in zip(output_padding, stride, dilation, strict=True)):
        raise DomainError(f"{where}: output_padding {output_padding} must be smaller than the stride {stride} or "
                          f"the dilation {dilation}")
    n, _, *size = x.shape
    full = tuple((m - 1) * s + d * (k - 1) + 1 for m, s, d, k in zip(size, stride, dilation, kernel, strict=True))
    out_size = tuple(f - 2 * p + o for f, p, o in zip(full, padding, output_padding, strict=True))
    if min(out_size) < 1:
        raise ShapeError(f"{where}: padding {padding} crops the whole output (input {tuple(size)}, kernel "
                         f"{kernel})")
    # Columns: for each group, (C_out/g·taps, C_in/g) times the input positions (C_in/g, L); one batched product.
    in_per_group, taps, positions = in_channels // groups, math.prod(kernel), math.prod(size)
    weights = ops.swapaxes(ops.reshape(weight, (groups, in_per_group, out_per_group * taps)), 1, 2)
    values = ops.reshape(x, (n, groups, in_per_group, positions))
    columns = ops.reshape(ops.matmul(weights, values), (n, out_channels * taps, positions))
    if any(d != 1 for d in dilation):  # spread the taps with zeros: a dilated window is a larger one with holes
        spread = _dilate(ops.reshape(columns, (n, out_channels) + kernel + (positions,)), dilation)
        columns = ops.reshape(spread, (n, out_channels * math.prod(_span(kernel, dilation)), positions))
    out = ops.fold(columns, full, _span(kernel, dilation), stride, 0)
    for axis, p, length in zip(range(2, dims + 2), padding, out_size, strict=True):
        end = min(p + length, out.shape[axis])
        out = out[(slice(None),) * axis + (slice(p, end),)]
        if p + length > end:  # output_padding past the full extent: positions no input reaches
            shape = list(out.shape)
            shape[axis] = p + length - end
            out = ops.concatenate([out, np.zeros(shape, out.dtype)], axis=axis)
    return out if bias is None else out + ops.reshape(bias, (out_channels,) + (1,) * dims)


@_unbatched(3)
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
# More normalization, and reshuffles.
# ---------------------------------------------------------------------------------------------------------------
def instance_norm(input: Any, running_mean: Any = None, running_var: Any = None, weight: Any = None,
                  bias: Any = None, use_input_stats: bool = True, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize each channel of each sample of (N, C, ...) input over its positions (biased variance), then
    ·weight + bias per channel, as PyTorch's.

    With ``use_input_stats`` the running statistics (when given) move toward the batch's average of the
    instances' means and unbiased variances; without, they normalize instead (evaluation).
    """
    x = _tensor(input, "instance_norm")
    _, shape = _channels(x, "instance_norm")
    axes = tuple(range(2, x.ndim))
    if not axes:
        raise ShapeError(f"instance_norm: input of shape {x.shape} has no positions to normalize over; expected "
                         "(N, C, L) or (N, C, H, W)")
    if use_input_stats:
        if math.prod(x.shape[2:]) <= 1 or not x.shape[0]:  # (an empty batch would average no instances: NaN)
            raise ShapeError(f"instance_norm: needs at least one sample and more than one value per channel, got "
                             f"input of shape {x.shape}")
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
# More losses.
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


def poisson_nll_loss(input: Any, target: Any, log_input: bool = True, full: bool = False, eps: float = 1e-8,
                     reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of a Poisson target: exp(x) − t·x with ``log_input`` (x the log-rate), else
    x − t·log(x + eps). ``full`` adds Stirling's t·log t − t + ½·log(2πt) where t > 1 (a constant)."""
    where = "poisson_nll_loss"
    _check_reduction(reduction, where)
    x = _float(input, "input", where)
    t = _constant(target, x, "target", where)
    _same_shape(x, t, where)
    loss = ops.exp(x) - t * x if log_input else x - t * ops.log(x + _real(eps, "eps", where))
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
    v = v + (ops.clip(values, _real(eps, "eps", where), None) - values)  # clamped values, v's own gradient
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
    return _reduce(_hinge(-y * (x1 - x2) + _real(margin, "margin", where)), reduction, where)


def hinge_embedding_loss(input: Any, target: Any, margin: float = 1.0, reduction: str = "mean") -> Tensor:
    """x where y = 1, max(0, margin − x) where y = −1 (for a distance x), as PyTorch's (other y: both terms)."""
    where = "hinge_embedding_loss"
    _check_reduction(reduction, where)
    x = _float(input, "input", where)
    y = _signs(target, x, where)
    _same_shape(x, y, where)
    zero = np.zeros((), x.dtype)
    loss = ops.where(y != 1, _hinge(_real(margin, "margin", where) - x), zero) + ops.where(y != -1, x, zero)
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
    loss = ops.where(y == 1, 1 - cos, zero) + ops.where(y == -1, _hinge(cos - _real(margin, "margin", where)),
                                                       zero)
    return _reduce(loss, reduction, where)


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
    return _reduce(_hinge(d_pos - d_neg + _real(margin, "margin", where)), reduction, where)


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
    z = ops.relu(_real(margin, "margin", where) - ops.unsqueeze(picked, -1) + x)
    others = (np.arange(classes) != np.asarray(labels)[..., None]).astype(x.dtype)  # the target's own term is out
    terms = (z if p == 1 else z * z) * others
    if weight is not None:
        w = _constant(weight, x, "weight", where)
        if w.shape != (classes,):
            raise ShapeError(f"{where}: weight must have shape ({classes},), one per class, got {w.shape}")
        terms = terms * w[labels][..., None]
    return _reduce(ops.sum(terms, axis=-1) / classes, reduction, where)


__all__ = [
    "REDUCTIONS", "adaptive_avg_pool2d", "avg_pool2d", "batch_norm", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "conv1d", "conv2d", "cross_entropy", "dropout", "embedding", "fold", "gelu",
    "group_norm", "huber_loss", "kl_div", "l1_loss", "layer_norm", "leaky_relu", "linear", "log_softmax",
    "logsumexp", "max_pool2d", "mse_loss", "nll_loss", "one_hot", "relu", "rms_norm", "scaled_dot_product_attention",
    "sigmoid", "silu",
    "smooth_l1_loss", "softmax", "softplus", "tanh", "unfold",
]

__all__ += [  # the activations, dropouts, padding, pools, resizing and distances above
    "adaptive_avg_pool1d", "adaptive_max_pool1d", "adaptive_max_pool2d", "alpha_dropout", "avg_pool1d", "celu",
    "cosine_similarity", "dropout1d", "dropout2d", "elu", "glu", "hardshrink", "hardsigmoid", "hardswish",
    "hardtanh", "interpolate", "logsigmoid", "max_pool1d", "mish", "normalize", "pad", "pairwise_distance",
    "pixel_shuffle", "pixel_unshuffle", "prelu", "relu6", "selu", "softmin", "softshrink", "softsign", "tanhshrink",
    "threshold",
]
__all__ += [  # the section "More layers and losses"
    "bilinear", "channel_shuffle", "conv_transpose1d", "conv_transpose2d", "cosine_embedding_loss",
    "gaussian_nll_loss", "hinge_embedding_loss", "instance_norm", "local_response_norm", "margin_ranking_loss",
    "multi_margin_loss", "multilabel_soft_margin_loss", "poisson_nll_loss", "soft_margin_loss",
    "triplet_margin_loss",
]
__all__ += SHAPES_3D  # 3-D convolutions and pools, lp and adaptive pools, unpooling
