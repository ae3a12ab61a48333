"""One step of a recurrent layer: RNNCell, LSTMCell and GRUCell, with PyTorch's arguments, parameter names
(``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``), shapes, gate order and initialisation, so a PyTorch state
dict loads. The step itself is ``recurrent.step``, the one the sequence layers take at each time.

>>> import chainrule as cr
>>> cell = cr.nn.LSTMCell(3, 5, seed=0)
>>> h, c = cell(cr.ones(4, 3))
>>> h.shape, c.shape
((4, 5), (4, 5))
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import DomainError, ShapeError
from ..tensor import Tensor
from . import functional as F
from . import init
from .layers import _float_dtype, _positive_int
from .module import Module, Parameter
from .recurrent import _GATES, step


class _CellBase(Module):
    mode = "RNN"
    nonlinearity = "tanh"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = np.float32,
                 seed: int | None = None, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        where = type(self).__name__
        self.input_size = _positive_int(input_size, "input_size", where)
        self.hidden_size = _positive_int(hidden_size, "hidden_size", where)
        self.bias = bool(bias)
        dtype = _float_dtype(dtype, where)
        gates = _GATES[self.mode] * self.hidden_size
        shapes = {"weight_ih": (gates, self.input_size), "weight_hh": (gates, self.hidden_size)}
        if self.bias:
            shapes |= {"bias_ih": (gates,), "bias_hh": (gates,)}
        generator = init.generator(seed, rng)
        bound = 1 / math.sqrt(self.hidden_size)  # PyTorch's initialisation: every weight and bias from U(−b, b)
        for name, shape in shapes.items():
            self.register_parameter(name, Parameter(generator.uniform(-bound, bound, shape).astype(dtype)))

    def _state(self, state: Any, x: Tensor, name: str) -> Any:
        """The state ``name`` checked against the input ((N, H) for (N, input_size), (H,) unbatched), or zeros."""
        expected = x.shape[:-1] + (self.hidden_size,)
        if state is None:
            return np.zeros(expected, x.dtype)
        state = state if isinstance(state, Tensor) else Tensor(state)
        if state.shape != expected:
            raise ShapeError(f"{type(self).__name__}: {name} must have shape {expected} (batch, hidden_size) for an "
                             f"input of shape {x.shape}, got {state.shape}")
        return state

    def _input(self, input: Any) -> Tensor:
        where = type(self).__name__
        x = input if isinstance(input, Tensor) else Tensor(input)
        if x.dtype.kind != "f":
            raise TypeError(f"{where}: input must be floating point, got dtype {x.dtype}")
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ShapeError(f"{where}: input must be (N, {self.input_size}) or unbatched ({self.input_size},), got "
                             f"shape {x.shape}")
        return x

    def _step(self, x: Tensor, h: Any, c: Any) -> tuple[Tensor, Tensor | None]:
        projected = F.linear(x, self.weight_ih, self.bias_ih if self.bias else None)
        return step(self.mode, self.nonlinearity, projected, h, c, self.weight_hh,
                    self.bias_hh if self.bias else None)

    def forward(self, input: Any, hx: Any = None) -> Tensor:
        x = self._input(input)
        return self._step(x, self._state(hx, x, "hx"), None)[0]

    def extra_repr(self) -> str:
        extra = f"{self.input_size}, {self.hidden_size}"
        extra += "" if self.bias else ", bias=False"
        return extra + ("" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity!r}")


class RNNCell(_CellBase):
    """h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu); ``forward(input, hx=None)`` returns h' (hx None: zeros).

    >>> import chainrule as cr
    >>> cr.nn.RNNCell(3, 4, nonlinearity="relu", seed=0)(cr.ones(2, 3)).shape
    (2, 4)
    """

    mode = "RNN"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 dtype: Any = np.float32, seed: int | None = None, rng: np.random.Generator | None = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise DomainError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, dtype, seed, rng)
        self.nonlinearity = nonlinearity


class LSTMCell(_CellBase):
    """Gates i, f, g, o from W_ih x + b_ih + W_hh h + b_hh; c' = σ(f)c + σ(i)tanh(g), h' = σ(o)tanh(c').
    ``forward(input, (h, c))`` returns (h', c') (the pair None: zeros)."""

    mode = "LSTM"

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:
        x = self._input(input)
        if hx is not None and not (isinstance(hx, tuple | list) and len(hx) == 2):
            raise TypeError(f"LSTMCell: hx must be the pair (h, c) or None, got {type(hx).__name__}"
                            + (f" of length {len(hx)}" if isinstance(hx, tuple | list) else ""))
        h, c = (None, None) if hx is None else hx
        return self._step(x, self._state(h, x, "h"), self._state(c, x, "c"))


class GRUCell(_CellBase):
    """r, z = σ(...), n = tanh(W_in x + b_in + r(W_hn h + b_hn)), h' = (1 − z)n + z h; returns h'."""

    mode = "GRU"


__all__ = ["GRUCell", "LSTMCell", "RNNCell"]
