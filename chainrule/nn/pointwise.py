"""More of PyTorch's activations and dropouts as modules; their functions are in ``cr.nn.functional``.

Each is composed of rules of the table (``where``, ``expm1``, ``softplus``, ``tanh``, ``sigmoid``...). At the kinks
of the piecewise ones the derivative is PyTorch's: the branch ``where`` selects there, so a kink's convention is the
comparison written in the code (``x > 0`` gives ELU'(0) = α, as PyTorch's ``elu_backward``).

>>> import chainrule as cr
>>> cr.nn.Hardswish()(cr.tensor([-4.0, 0.0, 1.0, 4.0])).numpy().tolist()
[0.0, 0.0, 0.6666666666666666, 4.0]
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..errors import DomainError
from ..tensor import Tensor
from . import init
from .functional.core import (
    _check_probability,
    _real,
    _shrink_size,
    alpha_dropout,
    celu,
    dropout1d,
    dropout2d,
    elu,
    glu,
    hardshrink,
    hardsigmoid,
    hardswish,
    hardtanh,
    log_softmax,
    logsigmoid,
    mish,
    prelu,
    relu6,
    selu,
    softmin,
    softshrink,
    softsign,
    tanhshrink,
    threshold,
)
from .module import Module, Parameter


class _Elementwise(Module):
    """A module applying ``function`` with the keyword arguments in ``_arguments`` (read from attributes)."""

    _arguments: tuple[str, ...] = ()

    def forward(self, input: Any) -> Tensor:
        return type(self).function(input, *(getattr(self, name) for name in self._arguments))

    def extra_repr(self) -> str:
        return ", ".join(f"{name}={getattr(self, name)}" for name in self._arguments)


class ELU(_Elementwise):
    """x for x > 0, else α·(eˣ − 1)."""

    function, _arguments = staticmethod(elu), ("alpha",)

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = _real(alpha, "alpha", "ELU")


class SELU(_Elementwise):
    """scale·ELU(x, α) with SELU's constants."""

    function = staticmethod(selu)

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()


class CELU(_Elementwise):
    """x for x > 0, else α·(e^(x/α) − 1)."""

    function, _arguments = staticmethod(celu), ("alpha",)

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = _real(alpha, "alpha", "CELU")


class PReLU(Module):
    """x for x > 0, else a·x with learned slopes ``weight`` (num_parameters,), each starting at ``init``: one for
    all channels, or one per channel (axis 1 of the input)."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype: Any = np.float32) -> None:
        super().__init__()
        if isinstance(num_parameters, bool) or not isinstance(num_parameters, numbers.Integral) \
                or num_parameters < 1:
            raise DomainError(f"PReLU: num_parameters must be a positive int, got {num_parameters!r}")
        self.num_parameters = int(num_parameters)
        self.weight = Parameter(np.full(self.num_parameters, _real(init, "init", "PReLU"), dtype=dtype))

    def forward(self, input: Any) -> Tensor:
        return prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class Hardtanh(_Elementwise):
    """x clipped to [min_val, max_val]."""

    function, _arguments = staticmethod(hardtanh), ("min_val", "max_val")

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.min_val, self.max_val = _real(min_val, "min_val", "Hardtanh"), _real(max_val, "max_val", "Hardtanh")
        if self.min_val > self.max_val:
            raise DomainError(f"Hardtanh: min_val {min_val} must not exceed max_val {max_val}")


class ReLU6(_Elementwise):
    """min(max(x, 0), 6)."""

    function = staticmethod(relu6)

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()


class Hardsigmoid(_Elementwise):
    """relu6(x + 3)/6."""

    function = staticmethod(hardsigmoid)

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()


class Hardswish(_Elementwise):
    """x·relu6(x + 3)/6."""

    function = staticmethod(hardswish)

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()


class LogSigmoid(_Elementwise):
    """log σ(x)."""

    function = staticmethod(logsigmoid)


class Softsign(_Elementwise):
    """x / (1 + |x|)."""

    function = staticmethod(softsign)


class Tanhshrink(_Elementwise):
    """x − tanh(x)."""

    function = staticmethod(tanhshrink)


class Mish(_Elementwise):
    """x·tanh(softplus(x))."""

    function = staticmethod(mish)

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()


class Threshold(_Elementwise):
    """x where x > threshold, else value."""

    function, _arguments = staticmethod(threshold), ("threshold", "value")

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold, self.value = _real(threshold, "threshold", "Threshold"), _real(value, "value", "Threshold")


class GLU(_Elementwise):
    """a·σ(b) for the two halves a, b of the input along ``dim``."""

    function, _arguments = staticmethod(glu), ("dim",)

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim


class Softshrink(_Elementwise):
    """x − λ for x > λ, x + λ for x < −λ, else 0."""

    function, _arguments = staticmethod(softshrink), ("lambd",)

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = _shrink_size(lambd, "Softshrink")


class Hardshrink(_Elementwise):
    """x where |x| > λ, else 0."""

    function, _arguments = staticmethod(hardshrink), ("lambd",)

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = _shrink_size(lambd, "Hardshrink")


class LogSoftmax(Module):
    """x − logsumexp(x) along ``dim`` (None: PyTorch's implicit choice, 0 for 0-, 1- and 3-D input, else 1)."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Any) -> Tensor:
        return log_softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmin(LogSoftmax):
    """softmax(−x) along ``dim`` (None: PyTorch's implicit choice, as LogSoftmax)."""

    def forward(self, input: Any) -> Tensor:
        return softmin(input, self.dim)


class _FeatureDropout(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False, *, seed: int | None = None,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        _check_probability(p, type(self).__name__)
        self.p = float(p)
        self._rng = init.generator(seed, rng) if seed is not None or rng is not None else None

    def forward(self, input: Any) -> Tensor:
        return type(self).function(input, self.p, self.training, self._rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Dropout1d(_FeatureDropout):
    """In training, zero each channel of (N, C, L) input with probability p (scaling the rest by 1/(1 − p))."""

    function = staticmethod(dropout1d)


class Dropout2d(_FeatureDropout):
    """In training, zero each channel of (N, C, H, W) input with probability p (scaling the rest by 1/(1 − p))."""

    function = staticmethod(dropout2d)


class AlphaDropout(_FeatureDropout):
    """In training, alpha dropout (keeps zero mean and unit variance, for SELU networks); identity in eval."""

    function = staticmethod(alpha_dropout)


FUNCTIONS = [
    "alpha_dropout", "celu", "dropout1d", "dropout2d", "elu", "glu", "hardshrink", "hardsigmoid", "hardswish",
    "hardtanh", "logsigmoid", "mish", "prelu", "relu6", "selu", "softmin", "softshrink", "softsign", "tanhshrink",
    "threshold",
]


MODULES = [
    "CELU", "ELU", "GLU", "PReLU", "SELU", "AlphaDropout", "Dropout1d", "Dropout2d", "Hardshrink", "Hardsigmoid",
    "Hardswish", "Hardtanh", "LogSigmoid", "LogSoftmax", "Mish", "ReLU6", "Softmin", "Softshrink", "Softsign",
    "Tanhshrink", "Threshold",
]


__all__ = FUNCTIONS + MODULES


MODULES = [
    "CELU", "ELU", "GLU", "PReLU", "SELU", "AlphaDropout", "Dropout1d", "Dropout2d", "Hardshrink", "Hardsigmoid",
    "Hardswish", "Hardtanh", "LogSigmoid", "LogSoftmax", "Mish", "ReLU6", "Softmin", "Softshrink", "Softsign",
    "Tanhshrink", "Threshold",
]
__all__ = MODULES
