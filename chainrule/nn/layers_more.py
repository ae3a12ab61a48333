"""More layers with PyTorch's arguments and parameter names: ConvTranspose1d/2d, InstanceNorm1d/2d,
LocalResponseNorm, Bilinear, Unfold, Fold, ChannelShuffle; and the containers ParameterList and ParameterDict.

>>> import chainrule as cr
>>> up = cr.nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1, seed=0)
>>> up(cr.zeros(1, 4, 5, 5)).shape
(1, 2, 10, 10)
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import DomainError, ShapeError
from ..tensor import Tensor
from . import functional as F
from . import init
from .layers import _channels, _float_dtype, _positive_int, conv_size
from .module import Module, Parameter
from .normalization import running_statistics


class ConvTranspose2d(Module):
    """2-D transposed convolution of NCHW input (``F.conv_transpose2d``); ``weight`` has shape
    (in_channels, out_channels/groups, kh, kw), ``bias`` (out_channels,). Initialised as PyTorch's, with
    fan_in = out_channels/groups·kh·kw (the weight's second axis).

    Output size per axis: (size − 1)·stride − 2·padding + dilation·(kernel − 1) + output_padding + 1.
    """

    dims = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, ...],
                 stride: int | tuple[int, ...] = 1, padding: int | tuple[int, ...] = 0,
                 output_padding: int | tuple[int, ...] = 0, groups: int = 1, bias: bool = True,
                 dilation: int | tuple[int, ...] = 1, padding_mode: str = "zeros", dtype: Any = np.float32,
                 seed: int | None = None, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        where = type(self).__name__
        if padding_mode != "zeros":
            raise ValueError(f"{where}: only padding_mode='zeros' is supported (as PyTorch), got {padding_mode!r}")
        self.padding_mode = padding_mode
        _channels(self, in_channels, out_channels, groups)
        self.kernel_size = self._size(kernel_size, "kernel_size", 1)
        self.stride = self._size(stride, "stride", 1)
        self.padding = self._size(padding, "padding", 0)
        self.output_padding = self._size(output_padding, "output_padding", 0)
        self.dilation = self._size(dilation, "dilation", 1)
        if any(o >= max(s, d) for o, s, d in zip(self.output_padding, self.stride, self.dilation, strict=True)):
            raise DomainError(f"{where}: output_padding {self.output_padding} must be smaller than the stride "
                              f"{self.stride} or the dilation {self.dilation}")
        dtype = _float_dtype(dtype, where)
        shape = (self.in_channels, self.out_channels // self.groups, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, dtype))
        self.register_parameter("bias", Parameter(np.empty(self.out_channels, dtype)) if bias else None)
        init.default_(self.weight, self.bias, init.generator(seed, rng))

    def _size(self, value: Any, name: str, minimum: int) -> tuple[int, ...]:
        return conv_size(value, name, type(self).__name__, minimum, self.dims)

    def forward(self, x: Any, output_size: Sequence[int] | None = None) -> Any:
        """The transposed convolution of (N, C, ...) or unbatched (C, ...) input. ``output_size`` (the spatial sizes,
        optionally after N and C) picks among the sizes a strided convolution maps to the input's, as PyTorch's:
        it sets the output padding, in place of the constructor's."""
        return F.core.one_sample(x, self.dims + 2, lambda batch: self._forward(batch, output_size))

    def _forward(self, x: Any, output_size: Sequence[int] | None) -> Tensor:
        shape = np.shape(x)
        if len(shape) != self.dims + 2 or shape[1] != self.in_channels:
            positions = {1: "length", 2: "height, width", 3: "depth, height, width"}[self.dims]
            raise ShapeError(f"{self!r} got an input of shape {shape}; it expects (batch, {self.in_channels}, "
                             f"{positions}) or ({self.in_channels}, {positions})")
        output_padding = self.output_padding if output_size is None else self._output_padding(shape, output_size)
        if self.dims != 1:
            return F.core.transposed_convolution(x, self.weight, self.bias, self.stride, self.padding, output_padding,
                                            self.groups, self.dilation, self.dims, f"conv_transpose{self.dims}d")
        return F.conv_transpose1d(x, self.weight, self.bias, self.stride[0], self.padding[0], output_padding[0],
                                  self.groups, self.dilation[0])

    def _output_padding(self, shape: tuple[int, ...], output_size: Any) -> tuple[int, ...]:
        """The output padding that gives ``output_size``, checked against the sizes the input can produce."""
        where = type(self).__name__
        try:
            sizes = tuple(operator.index(n) for n in output_size)
        except TypeError:
            raise TypeError(f"{where}: output_size must be a sequence of ints, got {output_size!r}") from None
        if len(sizes) in (self.dims + 1, self.dims + 2):  # (N, C, *spatial) or (C, *spatial), as PyTorch allows
            sizes = sizes[-self.dims:]
        if len(sizes) != self.dims:
            raise ValueError(f"{where}: output_size must have {self.dims} to {self.dims + 2} elements (got "
                             f"{len(sizes)})")
        smallest = tuple((n - 1) * s - 2 * p + d * (k - 1) + 1 for n, s, p, d, k in zip(
            shape[2:], self.stride, self.padding, self.dilation, self.kernel_size, strict=True))
        largest = tuple(m + s - 1 for m, s in zip(smallest, self.stride, strict=True))
        if any(not lo <= n <= hi for n, lo, hi in zip(sizes, smallest, largest, strict=True)):
            raise ValueError(f"{where}: requested an output size of {list(sizes)}, but valid sizes range from "
                             f"{list(smallest)} to {list(largest)} (for an input of {list(shape[2:])})")
        return tuple(n - lo for n, lo in zip(sizes, smallest, strict=True))

    def extra_repr(self) -> str:
        extra = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        for name, default in (("padding", 0), ("output_padding", 0), ("dilation", 1)):
            if any(v != default for v in getattr(self, name)):
                extra += f", {name}={getattr(self, name)}"
        if self.groups != 1:
            extra += f", groups={self.groups}"
        return extra + ("" if self.bias is not None else ", bias=False")


class ConvTranspose1d(ConvTranspose2d):
    """1-D transposed convolution of (N, C, L) input; ``weight`` has shape (in_channels, out_channels/groups, k).

    >>> import chainrule as cr
    >>> cr.nn.ConvTranspose1d(2, 3, 4, stride=2, seed=0)(cr.zeros(1, 2, 5)).shape
    (1, 3, 12)
    """

    dims = 1


class _InstanceNorm(Module):
    dims = 3

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = False,
                 track_running_stats: bool = False, dtype: Any = np.float32, *, bias: bool = True) -> None:
        super().__init__()
        # PyTorch registers num_batches_tracked too (so state dicts match); instance norm never advances it.
        # bias=False (with affine=True): a scale without a shift, as PyTorch's keyword
        running_statistics(self, num_features, eps, momentum, affine, bias, track_running_stats, dtype)

    def forward(self, x: Any) -> Tensor:
        shape = np.shape(x)
        where = type(self).__name__
        if len(shape) not in (self.dims - 1, self.dims):
            raise ShapeError(f"{where}: expects a {self.dims}-D batch or a {self.dims - 1}-D unbatched input, got "
                             f"shape {shape}")
        batched = len(shape) == self.dims
        channels = shape[1 if batched else 0]
        if channels != self.num_features and (self.affine or self.track_running_stats):
            raise ShapeError(f"{self!r} got an input of shape {shape} with {channels} channels; it expects "
                             f"{self.num_features}")
        x = x if isinstance(x, Tensor) else Tensor(x)
        if not batched:
            x = x[None]
        momentum = 0.0 if self.momentum is None else self.momentum  # PyTorch's: None moves nothing
        use_input_stats = self.training or not self.track_running_stats
        out = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias, use_input_stats,
                              momentum, self.eps)
        return out if batched else out[0]

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class InstanceNorm1d(_InstanceNorm):
    """Normalize each channel of each sample of (N, C, L) (or unbatched (C, L)) input over its length; no
    affine parameters nor running statistics unless asked (PyTorch's defaults)."""

    dims = 3


class InstanceNorm2d(_InstanceNorm):
    """Normalize each channel of each image of (N, C, H, W) (or unbatched (C, H, W)) input over its pixels.

    >>> import chainrule as cr
    >>> cr.nn.InstanceNorm2d(3, affine=True)
    InstanceNorm2d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=False)
    """

    dims = 4


class LocalResponseNorm(Module):
    """x / (k + α/size · Σ x²)^β over ``size`` neighbouring channels (``F.local_response_norm``)."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        self.size = _positive_int(size, "size", "LocalResponseNorm")
        self.alpha, self.beta, self.k = float(alpha), float(beta), float(k)

    def forward(self, x: Any) -> Tensor:
        return F.local_response_norm(x, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class Bilinear(Module):
    """y = x1ᵀ A x2 + b (``F.bilinear``): ``weight`` (out_features, in1_features, in2_features), ``bias``
    (out_features,), both from U(−1/√in1_features, 1/√in1_features) as PyTorch's.

    >>> import chainrule as cr
    >>> cr.nn.Bilinear(3, 4, 2, seed=0)(cr.ones(5, 3), cr.ones(5, 4)).shape
    (5, 2)
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True,
                 dtype: Any = np.float32, seed: int | None = None, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.in1_features = _positive_int(in1_features, "in1_features", "Bilinear")
        self.in2_features = _positive_int(in2_features, "in2_features", "Bilinear")
        self.out_features = _positive_int(out_features, "out_features", "Bilinear")
        dtype = _float_dtype(dtype, "Bilinear")
        generator = init.generator(seed, rng)
        bound = 1 / math.sqrt(self.in1_features)
        shape = (self.out_features, self.in1_features, self.in2_features)
        self.weight = Parameter(generator.uniform(-bound, bound, shape).astype(dtype))
        bias_values = generator.uniform(-bound, bound, self.out_features).astype(dtype) if bias else None
        self.register_parameter("bias", None if bias_values is None else Parameter(bias_values))

    def forward(self, input1: Any, input2: Any) -> Tensor:
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class Unfold(Module):
    """The sliding windows of NCHW input as columns (N, C·kh·kw, L): ``F.unfold`` as a layer."""

    def __init__(self, kernel_size: int | tuple[int, int], dilation: int | tuple[int, int] = 1,
                 padding: int | tuple[int, int] = 0, stride: int | tuple[int, int] = 1) -> None:
        super().__init__()
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, x: Any) -> Tensor:
        return F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
                f"stride={self.stride}")


class Fold(Module):
    """Columns (N, C·kh·kw, L) summed back into (N, C, H, W) where windows overlap: ``F.fold`` as a layer."""

    def __init__(self, output_size: int | tuple[int, int], kernel_size: int | tuple[int, int],
                 dilation: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 stride: int | tuple[int, int] = 1) -> None:
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, x: Any) -> Tensor:
        return F.fold(x, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class ChannelShuffle(Module):
    """Shuffle the channels of (N, C, ...) input across ``groups`` (``F.channel_shuffle``)."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = _positive_int(groups, "groups", "ChannelShuffle")

    def forward(self, x: Any) -> Tensor:
        return F.channel_shuffle(x, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


def _parameter(value: Any) -> Parameter:
    """A Parameter as given, or a new one holding a Tensor's or array's values (as PyTorch wraps tensors)."""
    return value if isinstance(value, Parameter) else Parameter(value)


class ParameterList(Module):
    """A list of Parameters, registered under the names "0", "1", ... (so ``state_dict`` keys match PyTorch's);
    arrays and Tensors are wrapped as Parameters.

    >>> import chainrule as cr, numpy as np
    >>> params = cr.nn.ParameterList([np.zeros(2), np.ones((2, 3))])
    >>> [(name, p.shape) for name, p in params.named_parameters()]
    [('0', (2,)), ('1', (2, 3))]
    """

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__()
        if values is not None:
            self.extend(values)

    def _index(self, index: Any) -> int:
        if not isinstance(index, int) or isinstance(index, bool):
            raise TypeError(f"ParameterList indices must be integers or slices, not {type(index).__name__}")
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"ParameterList index {index} out of range for {n} parameter(s)")
        return index % n

    def __getitem__(self, index: int | slice) -> Any:
        items = list(self._parameters.values())
        if isinstance(index, slice):
            return ParameterList(items[index])
        return items[self._index(index)]

    def __setitem__(self, index: int, value: Any) -> None:
        self.register_parameter(str(self._index(index)), _parameter(value))

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(list(self._parameters.values()))

    def __iadd__(self, values: Iterable[Any]) -> ParameterList:
        return self.extend(values)

    def append(self, value: Any) -> ParameterList:
        """Add a parameter at the end; returns self."""
        self.register_parameter(str(len(self)), _parameter(value))
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        """Add parameters at the end; returns self."""
        if isinstance(values, Tensor | np.ndarray):
            raise TypeError("ParameterList.extend expects an iterable of parameters; use append for one")
        for value in list(values):
            self.append(value)
        return self

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ParameterList has no forward: use its parameters in your Module's forward")

    def extra_repr(self) -> str:
        return "\n".join(f"({i}): Parameter of shape {p.shape} ({p.dtype})" for i, p in enumerate(self))


class ParameterDict(Module):
    """A dict of Parameters, registered under their keys (strings), in insertion order; arrays and Tensors are
    wrapped as Parameters.

    >>> import chainrule as cr, numpy as np
    >>> params = cr.nn.ParameterDict({"scale": np.ones(3), "shift": np.zeros(3)})
    >>> list(params.state_dict())
    ['scale', 'shift']
    """

    def __init__(self, values: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None) -> None:
        super().__init__()
        if values is not None:
            self.update(values)

    def _key(self, key: Any) -> str:
        if not isinstance(key, str):
            raise TypeError(f"ParameterDict keys must be strings, got {key!r}")
        if not key or "." in key:
            raise KeyError(f"ParameterDict key {key!r} must be a non-empty string without '.'")
        return key

    def __getitem__(self, key: str) -> Parameter:
        if key not in self._parameters:
            raise KeyError(f"ParameterDict has no parameter {key!r}; its keys are {list(self._parameters)}")
        return self._parameters[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.register_parameter(self._key(key), _parameter(value))

    def __delitem__(self, key: str) -> None:
        self[key]  # a clear KeyError
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._parameters))

    def __contains__(self, key: object) -> bool:
        return key in self._parameters

    def keys(self) -> list[str]:
        return list(self._parameters)

    def values(self) -> list[Parameter]:
        return list(self._parameters.values())

    def items(self) -> list[tuple[str, Parameter]]:
        return list(self._parameters.items())

    def pop(self, key: str) -> Parameter:
        """Remove and return the parameter under ``key``."""
        value = self[key]
        del self[key]
        return value

    def update(self, values: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> None:
        """Add or replace parameters from a dict or (key, value) pairs."""
        pairs = values.items() if isinstance(values, Mapping | ParameterDict) else values
        for item in pairs:
            if not isinstance(item, tuple | list) or len(item) != 2:
                raise TypeError(f"ParameterDict.update expects a dict or (key, value) pairs, got {item!r}")
            self[item[0]] = item[1]

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("ParameterDict has no forward: use its parameters in your Module's forward")

    def extra_repr(self) -> str:
        return "\n".join(f"({k}): Parameter of shape {p.shape} ({p.dtype})" for k, p in self.items())


__all__ = ["Bilinear", "ChannelShuffle", "ConvTranspose1d", "ConvTranspose2d", "Fold", "InstanceNorm1d",
           "InstanceNorm2d", "LocalResponseNorm", "ParameterDict", "ParameterList", "Unfold"]
