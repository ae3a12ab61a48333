"""Padding, 1-D and adaptive pooling, pixel shuffling and resizing as PyTorch's modules; their functions
(``F.pad``, ``F.interpolate``...) are in ``cr.nn.functional``.

All are indexing and sums of the input (``cnp.pad``, gathers with constant indices, ``where``), so the gradient
of each output element goes back to the input elements it was read from, summed where several read one.

>>> import chainrule as cr, chainrule.nn.functional as F
>>> F.pad(cr.tensor([[1.0, 2.0, 3.0]]), (2, 1), mode="reflect").numpy().tolist()
[[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]]
>>> cr.nn.Upsample(scale_factor=2)(cr.tensor([[[1.0, 2.0]]])).numpy().tolist()
[[[1.0, 1.0, 2.0, 2.0]]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..arguments import is_int
from ..errors import ShapeError
from ..tensor import Tensor
from .functional.core import (
    _single,
    adaptive_avg_pool1d,
    adaptive_max_pool1d,
    adaptive_max_pool2d,
    avg_pool1d,
    interpolate,
    max_pool1d,
    pad,
    pixel_shuffle,
    pixel_unshuffle,
)
from .module import Module


class _Pad2d(Module):
    """Pad the last two axes of (N, C, H, W) or (C, H, W) input by (left, right, top, bottom) (or one int); the 1-D
    and 3-D pads (nn/layers_3d.py) pad the last ``dims`` axes, (before, after) of the last axis first."""

    mode = "constant"
    dims = 2

    def __init__(self, padding: int | Sequence[int]) -> None:
        super().__init__()
        where = type(self).__name__
        count = 2 * self.dims
        if is_int(padding):
            padding = (int(padding),) * count
        if not isinstance(padding, Sequence) or len(padding) != count or not all(is_int(w) for w in padding):
            names = {1: "(left, right)", 2: "(left, right, top, bottom)",
                     3: "(left, right, top, bottom, front, back)"}[self.dims]
            raise TypeError(f"{where}: padding must be an int or {count} ints {names}, got {padding!r}")
        self.padding = tuple(int(w) for w in padding)

    def forward(self, input: Any) -> Tensor:
        ndim = np.ndim(input)
        # PyTorch's constant pads take any input with enough axes; the others a sample or a batch of samples
        if ndim < self.dims or (self.mode != "constant" and ndim not in (self.dims + 1, self.dims + 2)):
            raise ShapeError(f"{self!r} expects a {self.dims + 1}-D (C, ...) or {self.dims + 2}-D (N, C, ...) "
                             f"input, got shape {np.shape(input)}")
        return pad(input, self.padding, self.mode, getattr(self, "value", None))

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad2d(_Pad2d):
    """Pad with zeros."""

    value = 0.0


class ConstantPad2d(_Pad2d):
    """Pad with ``value``."""

    def __init__(self, padding: int | Sequence[int], value: float) -> None:
        super().__init__(padding)
        self.value = float(value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ReflectionPad2d(_Pad2d):
    """Pad with the mirror image (the edge not repeated)."""

    mode = "reflect"


class ReplicationPad2d(_Pad2d):
    """Pad by repeating the edge."""

    mode = "replicate"


class CircularPad2d(_Pad2d):
    """Pad by wrapping around (the other side's elements)."""

    mode = "circular"


class Upsample(Module):
    """Resize the spatial axes to ``size`` or by ``scale_factor`` (``F.interpolate``'s modes and options)."""

    def __init__(self, size: int | Sequence[int] | None = None, scale_factor: float | Sequence[float] | None = None,
                 mode: str = "nearest", align_corners: bool | None = None,
                 recompute_scale_factor: bool | None = None) -> None:
        super().__init__()
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def forward(self, input: Any) -> Tensor:
        return interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                           self.recompute_scale_factor)

    def extra_repr(self) -> str:
        given = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{given}, mode={self.mode!r}"


class PixelShuffle(Module):
    """(*, C·r², H, W) → (*, C, H·r, W·r)."""

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = _single(upscale_factor, "upscale_factor", "PixelShuffle", 1)

    def forward(self, input: Any) -> Tensor:
        return pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H·r, W·r) → (*, C·r², H, W)."""

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = _single(downscale_factor, "downscale_factor", "PixelUnshuffle", 1)

    def forward(self, input: Any) -> Tensor:
        return pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class MaxPool1d(Module):
    """The maximum over each window along L of (N, C, L) input (PyTorch's arguments)."""

    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0, dilation: int = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = _single(kernel_size, "kernel_size", "MaxPool1d", 1)
        self.stride = self.kernel_size if stride is None else _single(stride, "stride", "MaxPool1d", 1)
        self.padding, self.dilation = _single(padding, "padding", "MaxPool1d", 0), dilation
        self.return_indices, self.ceil_mode = bool(return_indices), bool(ceil_mode)

    def forward(self, input: Any) -> Tensor | tuple[Tensor, np.ndarray]:
        return max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                          self.return_indices)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(Module):
    """The mean over each window along L of (N, C, L) input (PyTorch's arguments)."""

    def __init__(self, kernel_size: int, stride: int | None = None, padding: int = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True) -> None:
        super().__init__()
        self.kernel_size = _single(kernel_size, "kernel_size", "AvgPool1d", 1)
        self.stride = self.kernel_size if stride is None else _single(stride, "stride", "AvgPool1d", 1)
        self.padding = _single(padding, "padding", "AvgPool1d", 0)
        self.ceil_mode, self.count_include_pad = bool(ceil_mode), bool(count_include_pad)

    def forward(self, input: Any) -> Tensor:
        return avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool1d(Module):
    """Average (N, C, L) input down to ``output_size`` bins along L."""

    def __init__(self, output_size: int) -> None:
        super().__init__()
        self.output_size = _single(output_size, "output_size", "AdaptiveAvgPool1d", 1)

    def forward(self, input: Any) -> Tensor:
        return adaptive_avg_pool1d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(Module):
    """The maximum over ``output_size`` bins along L of (N, C, L) input."""

    def __init__(self, output_size: int, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size = _single(output_size, "output_size", "AdaptiveMaxPool1d", 1)
        self.return_indices = bool(return_indices)

    def forward(self, input: Any) -> Tensor | tuple[Tensor, np.ndarray]:
        return adaptive_max_pool1d(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """The maximum over oh×ow bins of (N, C, H, W) input (None in ``output_size`` keeps that axis)."""

    def __init__(self, output_size: int | Sequence[int | None] | None, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size, self.return_indices = output_size, bool(return_indices)

    def forward(self, input: Any) -> Tensor | tuple[Tensor, np.ndarray]:
        return adaptive_max_pool2d(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


FUNCTIONS = [
    "adaptive_avg_pool1d", "adaptive_max_pool1d", "adaptive_max_pool2d", "avg_pool1d", "interpolate", "max_pool1d",
    "pad", "pixel_shuffle", "pixel_unshuffle",
]


MODULES = [
    "AdaptiveAvgPool1d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AvgPool1d", "CircularPad2d", "ConstantPad2d",
    "MaxPool1d", "PixelShuffle", "PixelUnshuffle", "ReflectionPad2d", "ReplicationPad2d", "Upsample", "ZeroPad2d",
]


__all__ = FUNCTIONS + MODULES


MODULES = [
    "AdaptiveAvgPool1d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AvgPool1d", "CircularPad2d", "ConstantPad2d",
    "MaxPool1d", "PixelShuffle", "PixelUnshuffle", "ReflectionPad2d", "ReplicationPad2d", "Upsample", "ZeroPad2d",
]
__all__ = MODULES
