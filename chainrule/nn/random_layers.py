"""``RReLU`` and ``FractionalMaxPool2d``: the layers of the random functions in chainrule.nn.functional.random."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..errors import DomainError
from ..tensor import Tensor
from . import init
from .functional.core import _real
from .functional.random import _pair_of, fractional_max_pool2d, rrelu
from .module import Module


class RReLU(Module):
    """``F.rrelu`` as a layer: random slopes in U(lower, upper) for negative inputs in training, their mean
    (lower + upper)/2 in evaluation. ``seed=`` / ``rng=`` give the layer its own generator.

    >>> import chainrule as cr
    >>> cr.nn.RReLU(0.1, 0.3).eval()(cr.tensor([-1.0, 2.0])).numpy().tolist()
    [-0.2, 2.0]
    """

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3, inplace: bool = False, *,
                 seed: int | None = None, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.lower, self.upper = _real(lower, "lower", "RReLU"), _real(upper, "upper", "RReLU")
        if not self.lower <= self.upper:
            raise DomainError(f"RReLU: lower must not exceed upper, got lower={lower}, upper={upper}")
        self.inplace = bool(inplace)
        self._rng = init.generator(seed, rng) if seed is not None or rng is not None else None

    def forward(self, input: Any) -> Tensor:
        return rrelu(input, self.lower, self.upper, self.training, rng=self._rng)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}" + (", inplace=True" if self.inplace else "")


class FractionalMaxPool2d(Module):
    """``F.fractional_max_pool2d`` as a layer; fixed ``_random_samples`` (a buffer, as PyTorch's) make it
    deterministic, else new windows are drawn at every call (from ``rng=`` or the module-level generator).

    >>> import chainrule as cr, numpy as np
    >>> pool = cr.nn.FractionalMaxPool2d(2, output_size=(3, 4), _random_samples=np.full((1, 1, 2), 0.5))
    >>> pool(cr.ones(1, 1, 5, 7)).shape
    (1, 1, 3, 4)
    """

    def __init__(self, kernel_size: int | tuple[int, int], output_size: Any = None, output_ratio: Any = None,
                 return_indices: bool = False, _random_samples: Any = None, *, seed: int | None = None,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        where = "FractionalMaxPool2d"
        self.kernel_size = _pair_of(kernel_size, "kernel_size", where, numbers.Integral)
        self.return_indices = bool(return_indices)
        self.register_buffer("_random_samples", None if _random_samples is None
                             else np.asarray(getattr(_random_samples, "data", _random_samples)))
        self.output_size = None if output_size is None else _pair_of(output_size, "output_size", where,
                                                                     numbers.Integral)
        self.output_ratio = None if output_ratio is None else _pair_of(output_ratio, "output_ratio", where,
                                                                       numbers.Real)
        if (self.output_size is None) == (self.output_ratio is None):
            raise ValueError(f"{where}: give exactly one of output_size and output_ratio, got output_size="
                             f"{output_size!r}, output_ratio={output_ratio!r}")
        if self.output_ratio is not None and not all(0 < r < 1 for r in self.output_ratio):
            raise DomainError(f"{where}: output_ratio must be in (0, 1), got {output_ratio!r}")
        self._rng = init.generator(seed, rng) if seed is not None or rng is not None else None

    def forward(self, input: Any) -> Tensor | tuple[Tensor, np.ndarray]:
        return fractional_max_pool2d(input, self.kernel_size, self.output_size, self.output_ratio,
                                     self.return_indices, self._random_samples, self._rng)

    def extra_repr(self) -> str:
        size = f"output_size={self.output_size}" if self.output_size else f"output_ratio={self.output_ratio}"
        return f"kernel_size={self.kernel_size}, {size}"


__all__ = ["FractionalMaxPool2d", "RReLU"]
