"""Lazy layers, as PyTorch's: ``LazyLinear``, ``LazyConv1d``, ``LazyConv2d``, ``LazyBatchNorm1d``,
``LazyBatchNorm2d`` take every argument of their layer but the input size, which the first call reads from its input
(the last axis for Linear, the channel axis for the others). That call builds the parameters and the module becomes
the layer itself (``type(m) is Linear`` afterwards, as PyTorch's ``cls_to_become``). Before it the module has no
parameters; ``load_state_dict`` builds them from the shapes in the state dict. ``to(dtype)`` before the first call
sets the dtype they will get.

>>> import chainrule as cr
>>> layer = cr.nn.LazyLinear(4, seed=0)
>>> layer(cr.ones(2, 7)).shape, type(layer).__name__, layer.weight.shape
((2, 4), 'Linear', (4, 7))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import ShapeError
from .layers import Conv1d, Conv2d, Linear, _float_dtype
from .module import IncompatibleKeys, Module
from .normalization import BatchNorm1d, BatchNorm2d


class _Lazy(Module):
    """A layer waiting for its first input; subclasses say what it becomes and where the input size is."""

    cls_to_become: type[Module] = Module

    def __init__(self, *args: Any, dtype: Any = np.float32, seed: int | None = None,
                 rng: np.random.Generator | None = None, **kwargs: Any) -> None:
        super().__init__()
        self._lazy_arguments = (args, kwargs)
        self._lazy_dtype = _float_dtype(dtype, type(self).__name__)
        self._lazy_generator = {"seed": seed} if seed is not None else {"rng": rng} if rng is not None else {}

    def has_uninitialized_params(self) -> bool:
        """True until the first call (or ``load_state_dict``) builds the parameters."""
        return True

    def _input_size(self, shape: tuple[int, ...]) -> int:
        raise NotImplementedError

    def _size_from_state(self, state_dict: Mapping[str, Any]) -> int | None:
        raise NotImplementedError

    def initialize_parameters(self, size: int) -> None:
        """Build the layer for inputs of ``size`` features or channels; this module becomes that layer."""
        args, kwargs = self._lazy_arguments
        layer = self.cls_to_become(size, *args, dtype=self._lazy_dtype, **self._lazy_generator, **kwargs)
        layer.train(self.training)
        self.__dict__.clear()
        self.__dict__.update(layer.__dict__)
        self.__class__ = self.cls_to_become

    def forward(self, input: Any) -> Any:
        shape = np.shape(getattr(input, "data", input))
        self.initialize_parameters(self._input_size(shape))
        return self.forward(input)

    def to(self, dtype: Any) -> Module:
        try:
            self._lazy_dtype = _float_dtype(np.dtype(dtype), type(self).__name__)
        except TypeError:
            raise TypeError(f"{type(self).__name__}: before its first call a lazy layer can only be given a float "
                            f"dtype, got {dtype!r}; move it after the first call") from None
        return self

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        size = self._size_from_state(state_dict)
        if size is None:
            raise ShapeError(f"{type(self).__name__}: the state dict has no 'weight' or running statistics to read "
                             f"the input size from; call the layer once first")
        self.initialize_parameters(size)
        return self.load_state_dict(state_dict, strict)

    def extra_repr(self) -> str:
        args, kwargs = self._lazy_arguments
        return ", ".join([*map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())])


class LazyLinear(_Lazy):
    """``Linear`` whose ``in_features`` is the last axis of its first input."""

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, dtype: Any = np.float32, seed: int | None = None,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__(out_features, bias, dtype=dtype, seed=seed, rng=rng)

    def _input_size(self, shape: tuple[int, ...]) -> int:
        if not shape:
            raise ShapeError("LazyLinear: expects input with at least one axis (..., in_features), got a scalar")
        return shape[-1]

    def _size_from_state(self, state_dict: Mapping[str, Any]) -> int | None:
        weight = state_dict.get("weight")
        return None if weight is None else np.shape(getattr(weight, "data", weight))[1]


class _LazyConv(_Lazy):
    spatial = 2

    def __init__(self, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0, dilation: Any = 1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", dtype: Any = np.float32,
                 seed: int | None = None, rng: np.random.Generator | None = None) -> None:
        super().__init__(out_channels, kernel_size, stride, padding, dilation, groups, bias, padding_mode,
                         dtype=dtype, seed=seed, rng=rng)

    def _input_size(self, shape: tuple[int, ...]) -> int:
        if len(shape) not in (self.spatial + 1, self.spatial + 2):
            axes = "H, W" if self.spatial == 2 else "L"
            raise ShapeError(f"{type(self).__name__}: expects (N, C, {axes}) or unbatched (C, {axes}) input, got "
                             f"shape {shape}")
        return shape[0] if len(shape) == self.spatial + 1 else shape[1]  # unbatched: the first axis

    def _size_from_state(self, state_dict: Mapping[str, Any]) -> int | None:
        weight = state_dict.get("weight")
        groups = self._lazy_arguments[0][5]
        return None if weight is None else np.shape(getattr(weight, "data", weight))[1] * groups


class LazyConv1d(_LazyConv):
    """``Conv1d`` whose ``in_channels`` is the channel axis of its first input."""

    cls_to_become, spatial = Conv1d, 1


class LazyConv2d(_LazyConv):
    """``Conv2d`` whose ``in_channels`` is the channel axis of its first input."""

    cls_to_become, spatial = Conv2d, 2


class _LazyBatchNorm(_Lazy):
    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype: Any = np.float32) -> None:
        super().__init__(eps, momentum, affine, track_running_stats, dtype=dtype)

    def _input_size(self, shape: tuple[int, ...]) -> int:
        if len(shape) < 2:
            raise ShapeError(f"{type(self).__name__}: expects input (N, C, ...), got shape {shape}")
        return shape[1]

    def _size_from_state(self, state_dict: Mapping[str, Any]) -> int | None:
        for key in ("weight", "running_mean"):
            if key in state_dict:
                return np.shape(getattr(state_dict[key], "data", state_dict[key]))[0]
        return None


class LazyBatchNorm1d(_LazyBatchNorm):
    """``BatchNorm1d`` whose ``num_features`` is the channel axis of its first input."""

    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyBatchNorm):
    """``BatchNorm2d`` whose ``num_features`` is the channel axis of its first input."""

    cls_to_become = BatchNorm2d


__all__ = ["LazyBatchNorm1d", "LazyBatchNorm2d", "LazyConv1d", "LazyConv2d", "LazyLinear"]
