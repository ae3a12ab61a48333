"""Layers: Linear, Conv2d, MaxPool2d, Flatten, Dropout, Sequential and the activations, with PyTorch's conventions.

Weights are float32 by default (``dtype=`` to change) and start from PyTorch's default initialisation. Random
numbers come from ``rng=``, or a generator seeded with ``seed=``, or else the module-level generator of
``cr.nn.init`` (reset it with ``cr.nn.init.manual_seed(n)``), so a seeded run is reproducible.
"""

from __future__ import annotations

import numbers
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np

from .. import numpy as cnp
from .. import ops
from ..arguments import sizes
from ..errors import DomainError, ShapeError
from ..rules.registry import lookup
from ..tensor import Tensor
from . import functional as F
from . import init
from .module import Module, Parameter

_linear = ops.ternary_op(lookup("linear"))


def _positive_int(value: Any, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise DomainError(f"{where}: {name} must be a positive int, got {value!r}")
    return int(value)


def _float_dtype(dtype: Any, where: str, complex_ok: bool = False) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.kind != "f" and not (complex_ok and dtype.kind == "c"):
        raise TypeError(f"{where}: parameters must have a floating-point dtype{' (or a complex one)' * complex_ok}, "
                        f"got {dtype}")
    return dtype


class Linear(Module):
    """y = x @ weightᵀ + bias, with ``weight`` of shape (out_features, in_features) and ``bias`` of (out_features,).

    Initialised as in PyTorch: weight and bias from U(−1/√in_features, 1/√in_features) (a complex dtype: real and
    imaginary parts each).

    >>> import chainrule as cr
    >>> layer = cr.nn.Linear(3, 2, seed=0)
    >>> layer
    Linear(in_features=3, out_features=2, bias=True)
    >>> layer(cr.ones(5, 3, dtype="float32")).shape
    (5, 2)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype: Any = np.float32,
                 seed: int | None = None, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.in_features = _positive_int(in_features, "in_features", "Linear")
        self.out_features = _positive_int(out_features, "out_features", "Linear")
        dtype = _float_dtype(dtype, "Linear", complex_ok=True)
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype))
        self.register_parameter("bias", Parameter(np.empty(self.out_features, dtype)) if bias else None)
        init.default_(self.weight, self.bias, init.generator(seed, rng))

    def forward(self, x: Any) -> Tensor:
        data = x._data if type(x) is Tensor else x
        if type(data) is np.ndarray and data.dtype.kind == "f" and data.shape and data.shape[-1] == self.in_features \
                and self.bias is not None:
            return _linear(x, self.weight, self.bias)  # checked here: F.linear's checks, once
        shape = x.shape if isinstance(x, Tensor) else np.shape(x)
        if not shape or shape[-1] != self.in_features:
            found = shape[-1] if shape else "no"
            raise ShapeError(
                f"{self!r} got an input of shape {shape} with {found} features in its last dimension; it expects "
                f"{self.in_features} (input shape (batch, {self.in_features}))"
            )
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


_PADDING_MODES = {"zeros": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def conv_size(value: Any, name: str, where: str, minimum: int, dims: int) -> tuple[int, ...]:
    """A convolution's kernel size, stride, padding... as a tuple of ``dims`` ints, each at least ``minimum``."""
    if dims != 1:
        return sizes(value, dims, name, where, minimum)
    if isinstance(value, tuple | list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise DomainError(f"{where}: {name} must be an int >= {minimum}, got {value!r}")
    return (int(value),)


def _channels(module: Module, in_channels: int, out_channels: int, groups: int) -> None:
    """A convolution's ``in_channels``, ``out_channels`` and ``groups``, checked: positive, groups dividing both."""
    where = type(module).__name__
    module.in_channels = _positive_int(in_channels, "in_channels", where)
    module.out_channels = _positive_int(out_channels, "out_channels", where)
    module.groups = _positive_int(groups, "groups", where)
    if module.in_channels % module.groups or module.out_channels % module.groups:
        raise DomainError(f"{where}: groups={groups} must divide in_channels={in_channels} and "
                          f"out_channels={out_channels}")


class Conv2d(Module):
    """2-D convolution of NCHW input; ``weight`` has shape (out_channels, in_channels/groups, kh, kw), ``bias`` (out,).

    Output size per axis: (size + 2·padding − dilation·(kernel − 1) − 1) // stride + 1; ``padding="same"`` keeps the
    size (stride 1), ``"valid"`` is 0. Initialised as in PyTorch, with fan_in = in_channels/groups·kh·kw.

    >>> import chainrule as cr
    >>> conv = cr.nn.Conv2d(1, 4, kernel_size=3, padding=1, seed=0)
    >>> conv(cr.zeros(2, 1, 8, 8, dtype="float32")).shape
    (2, 4, 8, 8)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] | str = 0,
                 dilation: int | tuple[int, int] = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", dtype: Any = np.float32, seed: int | None = None,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        where = type(self).__name__
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{where}: padding_mode must be one of {tuple(_PADDING_MODES)}, got {padding_mode!r}")
        self.padding_mode = padding_mode
        _channels(self, in_channels, out_channels, groups)
        self.kernel_size = self._size(kernel_size, "kernel_size", 1)
        self.stride = self._size(stride, "stride", 1)
        self.dilation = self._size(dilation, "dilation", 1)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{where}: padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise DomainError(f"{where}: padding='same' needs stride 1, got stride={stride}")
            self.padding = padding
        else:
            self.padding = self._size(padding, "padding", 0)
        dtype = _float_dtype(dtype, where)
        shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, dtype))
        self.register_parameter("bias", Parameter(np.empty(self.out_channels, dtype)) if bias else None)
        init.default_(self.weight, self.bias, init.generator(seed, rng))

    def _size(self, value: Any, name: str, minimum: int) -> tuple[int, ...]:
        return conv_size(value, name, type(self).__name__, minimum, 2)

    def forward(self, x: Any) -> Any:
        return F.core.one_sample(x, 4, self._forward)  # (C, ...) unbatched as PyTorch

    def _forward(self, x: Any) -> Tensor:
        shape = np.shape(x)
        if len(shape) != 4:
            raise ShapeError(
                f"{self!r} got an input of shape {shape}; it expects 4 dimensions (batch, {self.in_channels}, "
                f"height, width), or 3 for one image ({self.in_channels}, height, width); for flat rows reshape to "
                "images first"
            )
        if shape[1] != self.in_channels:
            raise ShapeError(
                f"{self!r} got an input of shape {shape} with {shape[1]} channels in axis 1; it expects "
                f"{self.in_channels} (input shape (batch, {self.in_channels}, height, width))"
            )
        self._check_size(shape[2:])
        x, padding = self._pad(x)
        return F.conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)

    def _pad(self, x: Any) -> tuple[Any, Any]:
        """(x, padding) for the convolution: with a ``padding_mode`` other than zeros, x padded by that mode
        (reflect, replicate, circular: NumPy's reflect, edge, wrap) and no padding left to do."""
        if self.padding_mode == "zeros" or self.padding == "valid":
            return x, self.padding
        if self.padding == "same":  # the total d·(k − 1), its odd extra at the end, as PyTorch
            widths = [(t // 2, t - t // 2) for t in (d * (k - 1) for k, d in zip(self.kernel_size, self.dilation,
                                                                                    strict=True))]
        else:
            widths = [(p, p) for p in self.padding]
        for axis, (before, after) in enumerate(widths, start=2):
            size = np.shape(x)[axis]
            if max(before, after) > size - (self.padding_mode == "reflect"):
                raise ShapeError(f"{self!r}: padding {max(before, after)} in {self.padding_mode!r} mode needs an "
                                 f"input of at least {max(before, after) + (self.padding_mode == 'reflect')} along "
                                 f"axis {axis}, got {size}")
        pad_width = [(0, 0), (0, 0)] + widths
        return cnp.pad(x, pad_width, mode=_PADDING_MODES[self.padding_mode]), (0,) * len(widths)

    def _check_size(self, size: tuple[int, ...]) -> None:
        padding = (0,) * len(size) if self.padding == "valid" else self.padding
        if padding == "same":
            return
        padded = tuple(n + 2 * p for n, p in zip(size, padding, strict=True))
        spread = tuple(d * (k - 1) + 1 for k, d in zip(self.kernel_size, self.dilation, strict=True))
        if any(k > n for k, n in zip(spread, padded, strict=True)):
            raise ShapeError(f"{self!r} got an input of size {size}: the {spread} kernel is larger than the "
                             f"padded input {padded} (dilation included)")

    def extra_repr(self) -> str:
        extra = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if isinstance(self.padding, str) or any(self.padding):
            extra += f", padding={self.padding!r}" if isinstance(self.padding, str) else f", padding={self.padding}"
        if any(d != 1 for d in self.dilation):
            extra += f", dilation={self.dilation}"
        if self.groups != 1:
            extra += f", groups={self.groups}"
        if self.padding_mode != "zeros":
            extra += f", padding_mode={self.padding_mode!r}"
        return extra + ("" if self.bias is not None else ", bias=False")


class Conv1d(Conv2d):
    """1-D convolution of (N, C, L) input; ``weight`` has shape (out_channels, in_channels/groups, k).

    >>> import chainrule as cr
    >>> cr.nn.Conv1d(2, 4, 3, padding="same", seed=0)(cr.zeros(5, 2, 10, dtype="float32")).shape
    (5, 4, 10)
    """

    def _size(self, value: Any, name: str, minimum: int) -> tuple[int, ...]:
        return conv_size(value, name, type(self).__name__, minimum, 1)

    def forward(self, x: Any) -> Any:
        return F.core.one_sample(x, 3, self._forward)  # (C, ...) unbatched as PyTorch

    def _forward(self, x: Any) -> Tensor:
        shape = np.shape(x)
        if len(shape) != 3 or shape[1] != self.in_channels:
            raise ShapeError(f"{self!r} got an input of shape {shape}; it expects (batch, {self.in_channels}, "
                             "length)")
        self._check_size(shape[2:])
        x, padding = self._pad(x)
        padding = padding if isinstance(padding, str) else padding[0]
        return F.conv1d(x, self.weight, self.bias, self.stride[0], padding, self.dilation[0], self.groups)


class AvgPool2d(Module):
    """The mean over each window of NCHW input (stride defaults to the kernel size), with PyTorch's arguments:
    zero padding counts in the mean unless ``count_include_pad=False``; ``ceil_mode`` keeps a last partial window;
    ``divisor_override`` divides each window's sum by that number."""

    dims = 2  # spatial axes (AvgPool3d: 3)

    def __init__(self, kernel_size: int | tuple[int, ...], stride: int | tuple[int, ...] | None = None,
                 padding: int | tuple[int, ...] = 0, ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__()
        where = type(self).__name__
        self.kernel_size = sizes(kernel_size, self.dims, "kernel_size", where, 1)
        self.stride = self.kernel_size if stride is None else sizes(stride, self.dims, "stride", where, 1)
        self.padding = sizes(padding, self.dims, "padding", where, 0)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size, strict=True)):
            raise DomainError(f"{where}: padding {self.padding} must be at most half the kernel size "
                              f"{self.kernel_size}")
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = bool(count_include_pad)
        self.divisor_override = divisor_override

    def forward(self, x: Any) -> Any:
        return F.core.one_sample(x, self.dims + 2, self._forward)  # (C, ...) unbatched as PyTorch

    def _forward(self, x: Any) -> Tensor:
        shape = np.shape(x)
        if len(shape) != self.dims + 2 or any(k > n + 2 * p for k, n, p in zip(self.kernel_size, shape[2:],
                                                                                self.padding, strict=False)):
            raise ShapeError(f"{self!r} got an input of shape {shape}; it expects (batch, channels, "
                             f"{_POSITIONS[self.dims]}) at least as large as the kernel {self.kernel_size}")
        return F.core.average_pool(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                   self.count_include_pad, self.divisor_override, self.dims, f"avg_pool{self.dims}d")

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


_POSITIONS = {1: "length", 2: "height, width", 3: "depth, height, width"}


class AdaptiveAvgPool2d(Module):
    """Average NCHW input down to ``output_size`` (oh, ow), whatever the input size (bins as PyTorch's)."""

    dims = 2  # spatial axes (AdaptiveAvgPool3d: 3)

    def __init__(self, output_size: int | tuple[int | None, ...] | None) -> None:
        super().__init__()
        if output_size is not None and not isinstance(output_size, tuple | list):
            output_size = sizes(output_size, self.dims, "output_size", type(self).__name__, 1)
        self.output_size = output_size if output_size is None else tuple(output_size)

    def forward(self, x: Any) -> Any:
        return F.core.one_sample(x, self.dims + 2, self._forward)  # (C, ...) unbatched as PyTorch

    def _forward(self, x: Any) -> Tensor:
        if len(np.shape(x)) != self.dims + 2:
            raise ShapeError(f"{self!r} got an input of shape {np.shape(x)}; it expects (batch, channels, "
                             f"{_POSITIONS[self.dims]}) or (channels, {_POSITIONS[self.dims]})")
        return F.core.adaptive_average_pool(x if isinstance(x, Tensor) else Tensor(x), self.output_size,
                                       f"adaptive_avg_pool{self.dims}d")

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class MaxPool2d(Module):
    """The maximum over each window of NCHW input (stride defaults to the kernel size), with PyTorch's arguments
    (padding is −∞; ``dilation``, ``ceil_mode``, ``return_indices``). The gradient goes to each window's first
    maximum, as in PyTorch."""

    dims = 2  # spatial axes (MaxPool3d: 3)

    def __init__(self, kernel_size: int | tuple[int, ...], stride: int | tuple[int, ...] | None = None,
                 padding: int | tuple[int, ...] = 0, dilation: int | tuple[int, ...] = 1,
                 return_indices: bool = False, ceil_mode: bool = False) -> None:
        super().__init__()
        where = type(self).__name__
        self.kernel_size = sizes(kernel_size, self.dims, "kernel_size", where, 1)
        self.stride = self.kernel_size if stride is None else sizes(stride, self.dims, "stride", where, 1)
        self.padding = sizes(padding, self.dims, "padding", where, 0)
        self.dilation = sizes(dilation, self.dims, "dilation", where, 1)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size, strict=True)):
            raise DomainError(f"{where}: padding {self.padding} must be at most half the kernel size "
                              f"{self.kernel_size}")
        self.return_indices = bool(return_indices)
        self.ceil_mode = bool(ceil_mode)

    def forward(self, x: Any) -> Any:
        return F.core.one_sample(x, self.dims + 2, self._forward)  # (C, ...) unbatched as PyTorch

    def _forward(self, x: Any) -> Tensor | tuple[Tensor, np.ndarray]:
        shape = np.shape(x)
        span = [d * (k - 1) + 1 - 2 * p for k, d, p in zip(self.kernel_size, self.dilation, self.padding, strict=True)]
        if len(shape) != self.dims + 2 or any(k > n for k, n in zip(span, shape[2:], strict=False)):
            raise ShapeError(
                f"{self!r} got an input of shape {shape}; it expects (batch, channels, {_POSITIONS[self.dims]}) "
                f"with sizes at least {tuple(max(k, 1) for k in span)}"
            )
        return F.core.max_pool(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                          self.return_indices, self.dims, f"max_pool{self.dims}d")

    def extra_repr(self) -> str:
        extra = "".join(f", {name}={getattr(self, name)}" for name, default in (
            ("padding", (0,) * self.dims), ("dilation", (1,) * self.dims), ("ceil_mode", False))
            if getattr(self, name) != default)
        return f"kernel_size={self.kernel_size}, stride={self.stride}{extra}"


class Flatten(Module):
    """Merge the axes from ``start_dim`` (default 1, keeping the batch axis) to ``end_dim`` into one."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Any) -> Tensor:
        return ops.flatten(x, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split axis ``dim`` into ``unflattened_size``: e.g. rows of 64 pixels into (1, 8, 8) images for Conv2d."""

    def __init__(self, dim: int, unflattened_size: tuple[int, ...]) -> None:
        super().__init__()
        self.dim = dim
        self.unflattened_size = tuple(int(n) for n in unflattened_size)

    def forward(self, x: Any) -> Tensor:
        shape = np.shape(x)
        dim = self.dim % len(shape) if shape else 0
        sizes = self.unflattened_size
        known = int(np.prod([n for n in sizes if n != -1]))
        if sizes.count(-1) == 1 and shape and known and shape[dim] % known == 0:  # one -1: inferred, as PyTorch
            sizes = tuple(shape[dim] // known if n == -1 else n for n in sizes)
        if not shape or int(np.prod(sizes)) != shape[dim] or any(n < 0 for n in sizes):
            raise ShapeError(
                f"{self!r} got an input of shape {shape}: axis {self.dim} has "
                f"{shape[dim] if shape else 'no'} elements, which {self.unflattened_size} does not split"
                " (its product must equal them; one size may be -1)"
            )
        return ops.reshape(x, shape[:dim] + sizes + shape[dim + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Dropout(Module):
    """In training, zero each element with probability p and scale the kept ones by 1/(1 − p); in eval, identity.

    The scaling keeps each element's expected value, so nothing changes between training and evaluation.

    >>> import chainrule as cr
    >>> drop = cr.nn.Dropout(0.5, seed=0)
    >>> sorted(set(drop(cr.ones(100)).numpy().tolist()))
    [0.0, 2.0]
    >>> drop.eval()(cr.ones(3)).numpy().tolist()
    [1.0, 1.0, 1.0]
    """

    def __init__(self, p: float = 0.5, inplace: bool = False, seed: int | None = None,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        F.core._check_probability(p, "Dropout")
        self.p, self.inplace = float(p), bool(inplace)  # inplace: see ReLU
        # Its own generator when seeded; else the module-level one, drawn from at each call.
        self._rng = init.generator(seed, rng) if seed is not None or rng is not None else None

    def forward(self, x: Any) -> Tensor:
        return F.dropout(x, self.p, self.training, self._rng)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Sequential(Module):
    """Layers applied in order. Indexable (``seq[0]``, ``seq[1:]``), with ``len`` and iteration.

    >>> import chainrule as cr
    >>> net = cr.nn.Sequential(cr.nn.Linear(4, 8, seed=0), cr.nn.ReLU(), cr.nn.Linear(8, 3, seed=1))
    >>> len(net), type(net[1]).__name__
    (3, 'ReLU')
    >>> net
    Sequential(
      (0): Linear(in_features=4, out_features=8, bias=True)
      (1): ReLU()
      (2): Linear(in_features=8, out_features=3, bias=True)
    )
    """

    def __init__(self, *layers: Module | OrderedDict) -> None:
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], OrderedDict | dict):
            for name, layer in layers[0].items():
                self._append(str(name), layer)
        else:
            for i, layer in enumerate(layers):
                self._append(str(i), layer)

    def _append(self, name: str, layer: Any) -> None:
        if not isinstance(layer, Module):
            raise TypeError(
                f"Sequential: layer '{name}' is a {type(layer).__name__}, not a Module; wrap functions in a Module"
            )
        self.add_module(name, layer)

    def append(self, layer: Module) -> Sequential:
        """Add a layer at the end; returns self."""
        self._append(str(len(self)), layer)
        return self

    def forward(self, x: Any) -> Any:
        for name, layer in self._modules.items():
            try:
                x = layer(x)
            except ShapeError as exc:  # say which layer of the stack it was
                raise ShapeError(f"in layer ({name}) of Sequential: {exc}") from None
        return x

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def __getitem__(self, index: int | slice) -> Module:
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"Sequential indices must be ints or slices, not {type(index).__name__}")
        if not -len(items) <= index < len(items):
            raise IndexError(f"Sequential index {index} is out of range for {len(items)} layers")
        return items[index][1]


# ---------------------------------------------------------------------------------------------------------------
# Activations: each one rule of the table, as a module.
# ---------------------------------------------------------------------------------------------------------------
class Sigmoid(Module):
    """σ(x) = 1 / (1 + e^−x); σ'(x) = σ(x)(1 − σ(x))."""

    def forward(self, x: Any) -> Tensor:
        return ops.sigmoid(x)


class Tanh(Module):
    """tanh(x); tanh'(x) = 1 − tanh²(x)."""

    def forward(self, x: Any) -> Tensor:
        return ops.tanh(x)


class ReLU(Module):
    """max(x, 0); the derivative is 1 for x > 0 and 0 otherwise (0 at the kink).

    ``inplace=True`` (here and on the other activations and dropouts) is accepted for PyTorch's code and changes
    nothing: the result is always a new Tensor and the input keeps its values, because the graph keeps every input
    as it was for the pass back (in PyTorch the flag only saves memory; ``x = relu(x)`` reads the same either way).
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, x: Any) -> Tensor:
        return ops.relu(x)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """x for x > 0, else negative_slope·x."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope, self.inplace = float(negative_slope), bool(inplace)  # inplace: see ReLU

    def forward(self, x: Any) -> Tensor:
        return ops.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class Softmax(Module):
    """exp(x) / Σ exp(x) along ``dim``, computed without overflow (None: PyTorch's implicit choice, 0 for 0-, 1- and
    3-D input, else 1, with its warning)."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Any) -> Tensor:
        return F.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


__all__ = [
    "AdaptiveAvgPool2d", "AvgPool2d", "Conv1d", "Conv2d", "Dropout", "Flatten", "LeakyReLU", "Linear", "MaxPool2d",
    "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh", "Unflatten",
]
