"""Recurrent layers RNN, LSTM and GRU with PyTorch's arguments (``num_layers``, ``bias``, ``batch_first``,
``dropout``, ``bidirectional``), parameter names (``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``,
``bias_hh_l{k}``, with ``_reverse`` for the backward direction), shapes and gate order (LSTM: i, f, g, o; GRU:
r, z, n), so a PyTorch state dict loads.

Each layer projects the whole input sequence at once (one ``linear``), then steps through time with the recurrent
product; the gradient flows back through the loop like through any other composition (backpropagation through time).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import ops
from ..errors import DomainError, ShapeError
from ..rules.registry import lookup
from ..tensor import Tensor
from . import functional as F
from . import init
from .layers import _float_dtype, _positive_int
from .module import Module, Parameter
from .utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

_GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


def step(mode: str, nonlinearity: str, x_projected: Tensor, h: Any, c: Any, w_hh: Tensor, b_hh: Tensor | None):
    """One time step of an RNN ("tanh" or "relu"), LSTM or GRU cell: the new (h, c) (c None but for the LSTM)
    from the input's projection W_ih x + b_ih and the previous state; the gates in PyTorch's order."""
    recurrent = F.linear(h, w_hh, b_hh)
    size = np.shape(w_hh)[0] // _GATES[mode]  # the hidden size (w_hh's columns are the projection's with proj_size)
    if mode == "RNN":
        total = x_projected + recurrent
        return (ops.tanh(total) if nonlinearity == "tanh" else ops.relu(total)), None
    if mode == "LSTM":
        total = x_projected + recurrent
        i, f, g, o = (total[..., k * size:(k + 1) * size] for k in range(4))
        c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
        return ops.sigmoid(o) * ops.tanh(c), c
    r = ops.sigmoid(x_projected[..., :size] + recurrent[..., :size])
    z = ops.sigmoid(x_projected[..., size:2 * size] + recurrent[..., size:2 * size])
    n = ops.tanh(x_projected[..., 2 * size:] + r * recurrent[..., 2 * size:])
    return (1 - z) * n + z * h, None


class _RNNBase(Module):
    mode = "RNN"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype: Any = np.float32, seed: int | None = None, rng: np.random.Generator | None = None,
                 proj_size: int = 0) -> None:
        super().__init__()
        where = type(self).__name__
        if isinstance(proj_size, bool) or not isinstance(proj_size, int) or proj_size < 0:
            raise DomainError(f"{where}: proj_size must be an int >= 0, got {proj_size!r}")
        if proj_size and (self.mode != "LSTM" or proj_size >= hidden_size):
            raise DomainError(f"{where}: proj_size must be smaller than hidden_size ({hidden_size}), and only the "
                              f"LSTM has one; got proj_size={proj_size}")
        self.proj_size = proj_size
        self.input_size = _positive_int(input_size, "input_size", where)
        self.hidden_size = _positive_int(hidden_size, "hidden_size", where)
        self.num_layers = _positive_int(num_layers, "num_layers", where)
        F.core._check_probability(dropout, where)
        self.bias, self.batch_first, self.bidirectional = bool(bias), bool(batch_first), bool(bidirectional)
        self.dropout = float(dropout)
        self._rng = init.generator(seed, rng)
        dtype = _float_dtype(dtype, where)
        gates = _GATES[self.mode] * self.hidden_size
        bound = 1 / math.sqrt(self.hidden_size)  # PyTorch's initialisation: every weight and bias from U(−b, b)
        for layer in range(self.num_layers):
            width = self.input_size if layer == 0 else self.output_size * self.directions
            for suffix in self._suffixes():
                shapes = {"weight_ih": (gates, width), "weight_hh": (gates, self.output_size)}
                if self.bias:
                    shapes |= {"bias_ih": (gates,), "bias_hh": (gates,)}
                if self.proj_size:
                    shapes["weight_hr"] = (self.proj_size, self.hidden_size)
                for name, shape in shapes.items():
                    values = self._rng.uniform(-bound, bound, shape).astype(dtype)
                    self.register_parameter(f"{name}_l{layer}{suffix}", Parameter(values))

    @property
    def output_size(self) -> int:
        """The size of h: ``proj_size`` if the LSTM projects it, else ``hidden_size``."""
        return self.proj_size or self.hidden_size

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _suffixes(self) -> tuple[str, ...]:
        return ("", "_reverse") if self.bidirectional else ("",)

    def _cell(self, x_projected: Tensor, h: Tensor, c: Tensor | None, layer: int, suffix: str):
        """One time step: the new (h, c) from the projected input and the previous state."""
        w_hh = getattr(self, f"weight_hh_l{layer}{suffix}")
        b_hh = getattr(self, f"bias_hh_l{layer}{suffix}") if self.bias else None
        return step(self.mode, getattr(self, "nonlinearity", "tanh"), x_projected, h, c, w_hh, b_hh)

    def _run(self, x: Tensor, h: Tensor, c: Tensor | None, layer: int, suffix: str,
             lengths: np.ndarray | None = None):
        """One direction of one layer over the sequence x (L, N, width): outputs (L, N, H), final h and c.

        With ``lengths`` (a packed batch), sequence n only steps while t < lengths[n]: its state stays as it was
        elsewhere, so the forward direction ends at its last real step and the reverse one starts there."""
        w_ih = getattr(self, f"weight_ih_l{layer}{suffix}")
        if self.mode == "LSTM" and not self.proj_size and lengths is None:
            return self._run_lstm(x, h, c, w_ih, layer, suffix)
        projected = F.linear(x, w_ih, getattr(self, f"bias_ih_l{layer}{suffix}") if self.bias else None)
        steps = range(x.shape[0] - 1, -1, -1) if suffix else range(x.shape[0])
        outputs = [None] * x.shape[0]
        for t in steps:
            h_new, c_new = self._cell(projected[t], h, c, layer, suffix)
            if self.proj_size:  # h = W_hr (o ⊙ tanh c)
                h_new = F.linear(h_new, getattr(self, f"weight_hr_l{layer}{suffix}"))
            if lengths is not None and not (t < lengths).all():
                running = Tensor((t < lengths)[:, None])
                h_new = ops.where(running, h_new, h)
                c_new = None if c is None else ops.where(running, c_new, c)
            h, c = h_new, c_new
            outputs[t] = h
        return ops.stack(outputs, axis=0), h, c

    def _run_lstm(self, x: Tensor, h: Any, c: Any, w_ih: Tensor, layer: int, suffix: str):
        """The LSTM's recurrence as one primitive (rule ``lstm``): the input projection of every step in one
        product with both biases, then the loop over time inside the rule (a reversed direction runs on the
        flipped sequence)."""
        bias = None
        if self.bias:
            bias = getattr(self, f"bias_ih_l{layer}{suffix}") + getattr(self, f"bias_hh_l{layer}{suffix}")
        projected = F.linear(x, w_ih, bias)
        if suffix:
            projected = projected[::-1]
        states = ops.apply(lookup("lstm"), (projected, getattr(self, f"weight_hh_l{layer}{suffix}"), h, c))
        size = self.hidden_size
        outputs = states[:, :, :size]
        return (outputs[::-1] if suffix else outputs), states[-1, :, :size], states[-1, :, size:]

    def _check(self, x: Tensor, state: Any, name: str, batched: bool) -> Tensor | None:
        if state is None:
            return None
        state = state if isinstance(state, Tensor) else Tensor(state)
        size, size_name = (self.hidden_size, "hidden_size") if name == "c_0" else (
            (self.proj_size, "proj_size") if self.proj_size else (self.hidden_size, "hidden_size"))
        expected = (self.num_layers * self.directions,) + ((x.shape[1],) if batched else ()) + (size,)
        if state.shape != expected:
            raise ShapeError(f"{type(self).__name__}: {name} must have shape {expected} (num_layers·directions, "
                             f"batch, {size_name}), got {state.shape}")
        return state if batched else ops.unsqueeze(state, 1)

    def forward(self, input: Any, hx: Any = None):
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        where = type(self).__name__
        x = input if isinstance(input, Tensor) else Tensor(input)
        if x.dtype.kind != "f":
            raise TypeError(f"{where}: input must be floating point, got dtype {x.dtype}")
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            layout = "(N, L, input_size)" if self.batch_first else "(L, N, input_size)"
            raise ShapeError(f"{where}: input must be {layout} or unbatched (L, input_size) with input_size = "
                             f"{self.input_size}, got shape {x.shape}")
        batched = x.ndim == 3
        if x.shape[1 if batched and self.batch_first else 0] == 0:
            raise ShapeError(f"{where}: the input sequence is empty (shape {x.shape}); expected at least one step")
        if not batched:
            x = ops.unsqueeze(x, 1)
        elif self.batch_first:
            x = ops.swapaxes(x, 0, 1)
        if self.mode == "LSTM":
            if hx is not None and not (isinstance(hx, tuple | list) and len(hx) == 2):
                raise TypeError(f"{where}: hx must be the pair (h_0, c_0) or None, got {type(hx).__name__}"
                                + (f" of length {len(hx)}" if isinstance(hx, tuple | list) else ""))
            h0, c0 = (None, None) if hx is None else hx
            h0, c0 = self._check(x, h0, "h_0", batched), self._check(x, c0, "c_0", batched)
        else:
            h0, c0 = self._check(x, hx, "h_0", batched), None
        x, h_n, c_n = self._layers(x, h0, c0)
        if not batched:
            x = ops.squeeze(x, 1)
            h_n = ops.squeeze(h_n, 1)
            c_n = None if c_n is None else ops.squeeze(c_n, 1)
        elif self.batch_first:
            x = ops.swapaxes(x, 0, 1)
        return x, ((h_n, c_n) if self.mode == "LSTM" else h_n)

    def _layers(self, x: Tensor, h0: Tensor | None, c0: Tensor | None, lengths: np.ndarray | None = None):
        """Every layer and direction over x (L, N, input_size): the last layer's outputs, h_n and c_n."""
        zeros = np.zeros((x.shape[1], self.hidden_size), x.dtype)
        zeros_h = np.zeros((x.shape[1], self.output_size), x.dtype)
        finals_h, finals_c = [], []
        for layer in range(self.num_layers):
            outputs = []
            for d, suffix in enumerate(self._suffixes()):
                k = layer * self.directions + d
                h = zeros_h if h0 is None else h0[k]
                c = (zeros if c0 is None else c0[k]) if self.mode == "LSTM" else None
                out, h, c = self._run(x, h, c, layer, suffix, lengths)
                outputs.append(out)
                finals_h.append(h)
                finals_c.append(c)
            x = outputs[0] if len(outputs) == 1 else ops.concatenate(outputs, axis=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True, self._rng)
        h_n = ops.stack(finals_h, axis=0)
        c_n = ops.stack(finals_c, axis=0) if self.mode == "LSTM" else None
        return x, h_n, c_n

    def _forward_packed(self, packed: PackedSequence, hx: Any):
        """A PackedSequence in, one out (same batch_sizes and indices), as PyTorch: each sequence runs for its own
        length; h_0/c_0 and h_n/c_n are in the batch's original order."""
        where = type(self).__name__
        data = packed.data
        if data.dtype.kind != "f":
            raise TypeError(f"{where}: the packed input must be floating point, got dtype {data.dtype}")
        if data.ndim != 2 or data.shape[-1] != self.input_size:
            raise ShapeError(f"{where}: a PackedSequence's data must be (sum of lengths, input_size) with input_size "
                             f"= {self.input_size}, got shape {data.shape}")
        padded, lengths = pad_packed_sequence(PackedSequence(data, packed.batch_sizes))  # in the sorted order
        lengths = np.asarray(lengths.data)
        order = None if packed.sorted_indices is None else np.asarray(packed.sorted_indices.data)
        if self.mode == "LSTM":
            if hx is not None and not (isinstance(hx, tuple | list) and len(hx) == 2):
                raise TypeError(f"{where}: hx must be the pair (h_0, c_0) or None, got {type(hx).__name__}")
            states = (None, None) if hx is None else hx
        else:
            states = (hx, None)
        checked = [self._check(padded, state, name, True) for state, name in zip(states, ("h_0", "c_0"), strict=True)]
        if order is not None:
            checked = [None if state is None else state[:, order] for state in checked]
        x, h_n, c_n = self._layers(padded, *checked, lengths=lengths)
        output = pack_padded_sequence(x, lengths).data
        if packed.unsorted_indices is not None:
            back = np.asarray(packed.unsorted_indices.data)
            h_n = h_n[:, back]
            c_n = None if c_n is None else c_n[:, back]
        result = PackedSequence(output, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
        return result, ((h_n, c_n) if self.mode == "LSTM" else h_n)

    def extra_repr(self) -> str:
        extra = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            extra += f", num_layers={self.num_layers}"
        for name, default in (("bias", True), ("batch_first", False), ("dropout", 0.0), ("bidirectional", False),
                              ("proj_size", 0)):
            if getattr(self, name) != default:
                extra += f", {name}={getattr(self, name)}"
        return extra


class RNN(_RNNBase):
    """Elman RNN: h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu). Returns (output, h_n).

    >>> import chainrule as cr
    >>> rnn = cr.nn.RNN(3, 5, num_layers=2, batch_first=True, seed=0)
    >>> out, h = rnn(cr.ones(4, 7, 3))
    >>> out.shape, h.shape
    ((4, 7, 5), (2, 4, 5))
    """

    mode = "RNN"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 dtype: Any = np.float32, seed: int | None = None, rng: np.random.Generator | None = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise DomainError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype,
                         seed, rng)
        self.nonlinearity = nonlinearity


class LSTM(_RNNBase):
    """LSTM: gates i, f, g, o from W_ih x + b_ih + W_hh h + b_hh; c' = σ(f)c + σ(i)tanh(g), h' = σ(o)tanh(c').
    ``forward(input, (h_0, c_0))`` returns (output, (h_n, c_n)). ``proj_size`` > 0 projects h' by ``weight_hr_l{k}``
    (proj_size, hidden_size), as PyTorch's: the output and h then have proj_size features."""

    mode = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 dtype: Any = np.float32, seed: int | None = None, rng: np.random.Generator | None = None) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, dtype,
                         seed, rng, proj_size=proj_size)


class GRU(_RNNBase):
    """GRU: r, z = σ(...), n = tanh(W_in x + b_in + r(W_hn h + b_hn)), h' = (1 − z)n + z h. Returns (output, h_n)."""

    mode = "GRU"


__all__ = ["GRU", "LSTM", "RNN"]
