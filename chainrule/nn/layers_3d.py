"""The 3-D layers and the remaining shape layers of ``torch.nn``, with PyTorch's names, constructor arguments and
parameter names and shapes: Conv3d, ConvTranspose3d, MaxPool3d, AvgPool3d, AdaptiveAvgPool3d, AdaptiveMaxPool3d,
BatchNorm3d, InstanceNorm3d, Dropout3d; LPPool1d/2d/3d, MaxUnpool1d/2d/3d; the 1-D and 3-D padding layers; Softmax2d,
UpsamplingNearest2d and UpsamplingBilinear2d.

Each is its 2-D sibling with three spatial axes (one N-d function in ``cr.nn.functional`` serves 1, 2 and 3), so
the gradients come from the same rules: ``unfold``/``fold``, matrix products, sums and indexing.

>>> import chainrule as cr
>>> conv = cr.nn.Conv3d(2, 4, kernel_size=3, padding=1, seed=0)
>>> conv.weight.shape, conv(cr.zeros(1, 2, 5, 6, 7)).shape
((4, 2, 3, 3, 3), (1, 4, 5, 6, 7))
>>> pooled, indices = cr.nn.MaxPool3d(2, return_indices=True)(cr.ones(1, 1, 4, 4, 4))
>>> cr.nn.MaxUnpool3d(2)(pooled, indices).shape
(1, 1, 4, 4, 4)
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..arguments import sizes
from ..errors import ShapeError
from ..tensor import Tensor
from . import functional as F
from .layers import AdaptiveAvgPool2d, AvgPool2d, Conv2d, MaxPool2d, conv_size
from .layers_more import ConvTranspose2d, _InstanceNorm
from .module import Module
from .normalization import _BatchNorm
from .pointwise import _FeatureDropout
from .sampling import AdaptiveMaxPool2d, Upsample, _Pad2d


class Conv3d(Conv2d):
    """3-D convolution of (N, C, D, H, W) input (or one (C, D, H, W) volume); ``weight`` has shape
    (out_channels, in_channels/groups, kd, kh, kw), ``bias`` (out_channels,). Conv2d's arguments (``padding="same"``,
    ``dilation``, ``groups``, ``padding_mode``) and initialisation (fan_in = in_channels/groups·kd·kh·kw)."""

    def _size(self, value: Any, name: str, minimum: int) -> tuple[int, ...]:
        return conv_size(value, name, type(self).__name__, minimum, 3)

    def forward(self, x: Any) -> Any:
        return F.core.one_sample(x, 5, self._forward)  # (C, ...) unbatched as PyTorch

    def _forward(self, x: Any) -> Tensor:
        shape = np.shape(x)
        if len(shape) != 5 or shape[1] != self.in_channels:
            raise ShapeError(f"{self!r} got an input of shape {shape}; it expects (batch, {self.in_channels}, depth, "
                             f"height, width) or ({self.in_channels}, depth, height, width)")
        self._check_size(shape[2:])
        x, padding = self._pad(x)
        return F.conv3d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)


class ConvTranspose3d(ConvTranspose2d):
    """3-D transposed convolution of (N, C, D, H, W) input; ``weight`` has shape
    (in_channels, out_channels/groups, kd, kh, kw). ``forward(x, output_size=None)`` as ConvTranspose2d's."""

    dims = 3


class MaxPool3d(MaxPool2d):
    """The maximum over each kd×kh×kw window of (N, C, D, H, W) input, with MaxPool2d's arguments; indices count in
    the flattened D·H·W volume (what MaxUnpool3d takes)."""

    dims = 3


class AvgPool3d(AvgPool2d):
    """The mean over each kd×kh×kw window of (N, C, D, H, W) input, with AvgPool2d's arguments (``ceil_mode``,
    ``count_include_pad``, ``divisor_override``)."""

    dims = 3


class AdaptiveAvgPool3d(AdaptiveAvgPool2d):
    """Average (N, C, D, H, W) input down to ``output_size`` (od, oh, ow; None keeps that axis)."""

    dims = 3


class AdaptiveMaxPool3d(AdaptiveMaxPool2d):
    """The maximum over od×oh×ow bins of (N, C, D, H, W) input (None in ``output_size`` keeps that axis)."""

    def forward(self, input: Any) -> Tensor | tuple[Tensor, np.ndarray]:
        return F.adaptive_max_pool3d(input, self.output_size, self.return_indices)


class BatchNorm3d(_BatchNorm):
    """Batch normalization of (N, C, D, H, W) input, per channel; running statistics for evaluation."""

    dims = (5,)


class InstanceNorm3d(_InstanceNorm):
    """Normalize each channel of each volume of (N, C, D, H, W) (or unbatched (C, D, H, W)) input over its
    positions; no affine parameters nor running statistics unless asked (PyTorch's defaults)."""

    dims = 5


class Dropout3d(_FeatureDropout):
    """In training, zero each channel of (N, C, D, H, W) input with probability p (scaling the rest by 1/(1 − p))."""

    function = staticmethod(F.dropout3d)


class _LPPool(Module):
    dims = 2

    def __init__(self, norm_type: float, kernel_size: int | tuple[int, ...],
                 stride: int | tuple[int, ...] | None = None, ceil_mode: bool = False) -> None:
        super().__init__()
        where = type(self).__name__
        if isinstance(norm_type, bool) or not isinstance(norm_type, numbers.Real) or norm_type == 0:
            raise ValueError(f"{where}: norm_type must be a nonzero real number (or ±math.inf), got {norm_type!r}")
        self.norm_type = norm_type
        self.kernel_size = sizes(kernel_size, self.dims, "kernel_size", where, 1)
        self.stride = stride if stride is None else sizes(stride, self.dims, "stride", where, 1)
        self.ceil_mode = bool(ceil_mode)

    def forward(self, input: Any) -> Tensor:
        function = (F.lp_pool1d, F.lp_pool2d, F.lp_pool3d)[self.dims - 1]
        return function(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPool):
    """The p-norm (Σ xᵖ)^(1/p) of each window along L of (N, C, L) input (``F.lp_pool1d``)."""

    dims = 1


class LPPool2d(_LPPool):
    """The p-norm (Σ xᵖ)^(1/p) of each kh×kw window of (N, C, H, W) input (``F.lp_pool2d``)."""

    dims = 2


class LPPool3d(_LPPool):
    """The p-norm (Σ xᵖ)^(1/p) of each kd×kh×kw window of (N, C, D, H, W) input (``F.lp_pool3d``)."""

    dims = 3


class _MaxUnpool(Module):
    dims = 2

    def __init__(self, kernel_size: int | tuple[int, ...], stride: int | tuple[int, ...] | None = None,
                 padding: int | tuple[int, ...] = 0) -> None:
        super().__init__()
        where = type(self).__name__
        self.kernel_size = sizes(kernel_size, self.dims, "kernel_size", where, 1)
        self.stride = self.kernel_size if stride is None else sizes(stride, self.dims, "stride", where, 1)
        self.padding = sizes(padding, self.dims, "padding", where, 0)

    def forward(self, input: Any, indices: Any, output_size: Sequence[int] | None = None) -> Tensor:
        """Place each value of ``input`` at its position in ``indices`` (as the matching MaxPool returned them);
        ``output_size`` picks the output's size among those the pooling maps to the input's."""
        function = (F.max_unpool1d, F.max_unpool2d, F.max_unpool3d)[self.dims - 1]
        return function(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpool):
    """The inverse of MaxPool1d: zeros, with each value at the position its index gives along L."""

    dims = 1


class MaxUnpool2d(_MaxUnpool):
    """The inverse of MaxPool2d: zeros, with each value at the position its index gives in the H·W plane."""

    dims = 2


class MaxUnpool3d(_MaxUnpool):
    """The inverse of MaxPool3d: zeros, with each value at the position its index gives in the D·H·W volume."""

    dims = 3


# Padding of one and three axes: (before, after) of the last axis first, PyTorch's order.
class ZeroPad1d(_Pad2d):
    """Pad the last axis of (N, C, L) or (C, L) input with zeros, by (left, right) or one int."""

    dims, value = 1, 0.0


class ZeroPad3d(_Pad2d):
    """Pad the last three axes of (N, C, D, H, W) or (C, D, H, W) input with zeros."""

    dims, value = 3, 0.0


class _ConstantPad(_Pad2d):
    def __init__(self, padding: int | Sequence[int], value: float) -> None:
        super().__init__(padding)
        self.value = float(value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPad):
    """Pad the last axis with ``value``."""

    dims = 1


class ConstantPad3d(_ConstantPad):
    """Pad the last three axes with ``value``."""

    dims = 3


class ReflectionPad1d(_Pad2d):
    """Pad the last axis with its mirror image (the edge not repeated)."""

    dims, mode = 1, "reflect"


class ReflectionPad3d(_Pad2d):
    """Pad the last three axes with their mirror image (the edge not repeated)."""

    dims, mode = 3, "reflect"


class ReplicationPad1d(_Pad2d):
    """Pad the last axis by repeating its edge."""

    dims, mode = 1, "replicate"


class ReplicationPad3d(_Pad2d):
    """Pad the last three axes by repeating their edges."""

    dims, mode = 3, "replicate"


class CircularPad1d(_Pad2d):
    """Pad the last axis by wrapping around."""

    dims, mode = 1, "circular"


class CircularPad3d(_Pad2d):
    """Pad the last three axes by wrapping around."""

    dims, mode = 3, "circular"


class Softmax2d(Module):
    """Softmax over the channels at each position of (N, C, H, W) or (C, H, W) input (axis −3)."""

    def forward(self, input: Any) -> Tensor:
        if np.ndim(input) not in (3, 4):
            raise ShapeError(f"Softmax2d: expects a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape "
                             f"{np.shape(input)}")
        return F.softmax(input, -3)


class UpsamplingNearest2d(Upsample):
    """Nearest-neighbour upsampling of (N, C, H, W) input to ``size`` or by ``scale_factor``."""

    def __init__(self, size: int | Sequence[int] | None = None,
                 scale_factor: float | Sequence[float] | None = None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear upsampling of (N, C, H, W) input with ``align_corners=True`` (PyTorch's for this layer)."""

    def __init__(self, size: int | Sequence[int] | None = None,
                 scale_factor: float | Sequence[float] | None = None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


__all__ = [
    "AdaptiveAvgPool3d", "AdaptiveMaxPool3d", "AvgPool3d", "BatchNorm3d", "CircularPad1d", "CircularPad3d",
    "ConstantPad1d", "ConstantPad3d", "Conv3d", "ConvTranspose3d", "Dropout3d", "InstanceNorm3d", "LPPool1d",
    "LPPool2d", "LPPool3d", "MaxPool3d", "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d", "ReflectionPad1d",
    "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad3d", "Softmax2d", "UpsamplingBilinear2d",
    "UpsamplingNearest2d", "ZeroPad1d", "ZeroPad3d",
]
