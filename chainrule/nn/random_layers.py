"""Layers and functions that draw random numbers: ``RReLU`` / ``F.rrelu`` (random negative slopes in training),
``F.gumbel_softmax`` and ``FractionalMaxPool2d`` / ``F.fractional_max_pool2d`` (pseudo-random windows).

Each takes ``rng=`` (a ``numpy.random.Generator``; default the module-level one of ``cr.nn.init``). What is drawn is
a constant of the graph: the gradient is the derivative of the function those draws define (the slope applied, the
softmax of the perturbed logits, the maximum picked), so central differences with the same draws agree with it.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .. import ops
from ..errors import DomainError, ShapeError
from ..tensor import Tensor
from . import init
from .functional import _float, _real, softmax
from .module import Module


def rrelu(input: Any, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False, inplace: bool = False,
          rng: np.random.Generator | None = None) -> Tensor:
    """Randomized leaky ReLU: in training x·a where x < 0, each a drawn from U(lower, upper) (x where x >= 0);
    otherwise the leaky ReLU with slope (lower + upper)/2. ``inplace`` is accepted and changes nothing (see
    ``nn.ReLU``)."""
    where = "rrelu"
    x = _float(input, "input", where)
    lower, upper = _real(lower, "lower", where), _real(upper, "upper", where)
    if not lower <= upper:
        raise DomainError(f"{where}: lower must not exceed upper, got lower={lower}, upper={upper}")
    if not training:
        return ops.leaky_relu(x, (lower + upper) / 2)
    slopes = init.generator(None, rng).uniform(lower, upper, x.shape).astype(x.dtype)
    return x * np.where(x.data >= 0, np.ones((), x.dtype), slopes)


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


def gumbel_softmax(logits: Any, tau: float = 1.0, hard: bool = False, eps: float = 1e-10, dim: int = -1,
                   rng: np.random.Generator | None = None) -> Tensor:
    """A sample of the Gumbel-softmax (concrete) distribution: softmax((logits + g)/tau) along ``dim`` with
    g = −log(E), E ~ Exp(1) drawn once. ``hard=True`` returns the one-hot of its argmax, differentiated as the soft
    sample (straight-through: one_hot − stop(soft) + soft). ``eps`` is PyTorch's deprecated argument, unused.

    The argmax of a sample is class c with probability softmax(logits)_c (the Gumbel-max trick).
    """
    where = "gumbel_softmax"
    x = _float(logits, "logits", where)
    tau = _real(tau, "tau", where)
    if not tau > 0:
        raise DomainError(f"{where}: tau must be positive, got {tau}")
    if x.ndim == 0:
        raise ShapeError(f"{where}: logits must have at least one axis, got a scalar")
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or not -x.ndim <= dim < x.ndim:
        raise ShapeError(f"{where}: dim {dim!r} is out of range for logits of {x.ndim} axes")
    gumbels = -np.log(init.generator(None, rng).exponential(1.0, x.shape)).astype(x.dtype)
    soft = softmax((x + gumbels) / tau, dim)
    if not hard:
        return soft
    picked = np.argmax(soft.data, axis=dim)
    one_hot = np.zeros(x.shape, x.dtype)
    np.put_along_axis(one_hot, np.expand_dims(picked, dim), 1, axis=dim)
    return one_hot - ops.stop(soft) + soft


def _intervals(samples: np.ndarray, size: int, out: int, kernel: int) -> np.ndarray:
    """The start of each pseudo-random window along one axis, per plane (PyTorch's ``generate_intervals``, in the
    samples' dtype): ⌊(i + u)·α⌋ − ⌊u·α⌋ with α = (size − kernel)/(out − 1), the last window at size − kernel."""
    dtype = samples.dtype.type
    starts = np.empty(samples.shape + (out,), np.int64)
    if out > 1:
        alpha = dtype(size - kernel) / dtype(out - 1)
        i = np.arange(out - 1, dtype=samples.dtype)
        u = samples[..., None]
        starts[..., :-1] = ((i + u) * alpha).astype(np.int64) - (u * alpha).astype(np.int64)
    starts[..., -1] = size - kernel
    return starts


def _pair_of(value: Any, name: str, where: str, kind: type) -> tuple:
    pair = (value, value) if isinstance(value, numbers.Number) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, kind) and not isinstance(v, bool) for v in pair):
        raise ValueError(f"{where}: {name} must be a {kind.__name__} or two of them, got {value!r}")
    return pair


def fractional_max_pool2d(input: Any, kernel_size: int | tuple[int, int], output_size: Any = None,
                          output_ratio: Any = None, return_indices: bool = False, _random_samples: Any = None,
                          rng: np.random.Generator | None = None) -> Tensor | tuple[Tensor, np.ndarray]:
    """Fractional max pooling (Graham, 2014) of (N, C, H, W) (or (C, H, W)) input: kernel_size windows starting at
    pseudo-random, increasing positions, one per output row and column, set per plane by ``_random_samples``
    (N, C, 2) in [0, 1) (the columns' sample first; drawn from ``rng`` when not given). ``output_size`` or
    ``output_ratio`` (⌊size·ratio⌋) sets the output. The gradient goes to each window's first maximum (a NaN wins),
    ``return_indices`` gives its index in the flattened H·W plane, as PyTorch's.
    """
    where = "fractional_max_pool2d"
    x = _float(input, "input", where)
    if x.ndim not in (3, 4):
        raise ShapeError(f"{where}: expects (N, C, H, W) or (C, H, W) input, got shape {x.shape}")
    batched = x.ndim == 4
    if not batched:
        x = ops.unsqueeze(x, 0)
    n, c, h, w = x.shape
    kh, kw = _pair_of(kernel_size, "kernel_size", where, numbers.Integral)
    if output_size is None and output_ratio is None:
        raise ValueError(f"{where}: requires specifying either an output_size or an output_ratio")
    if output_size is not None:
        oh, ow = _pair_of(output_size, "output_size", where, numbers.Integral)
    else:
        ratio = _pair_of(output_ratio, "output_ratio", where, numbers.Real)
        if not all(0 < r < 1 for r in ratio):
            raise DomainError(f"{where}: output_ratio must be in (0, 1), got {output_ratio!r}")
        oh, ow = int(h * ratio[0]), int(w * ratio[1])
    if min(kh, kw, oh, ow) < 1 or oh + kh - 1 > h or ow + kw - 1 > w:
        raise ShapeError(f"{where}: kernel {(kh, kw)} and output size {(oh, ow)} need output + kernel − 1 <= the "
                         f"input's size {(h, w)}, all positive")
    if _random_samples is None:
        samples = init.generator(None, rng).random((n, c, 2)).astype(x.dtype)
    else:
        samples = np.asarray(getattr(_random_samples, "data", _random_samples))
        if samples.shape != (n, c, 2) or samples.dtype.kind != "f":
            raise ShapeError(f"{where}: _random_samples must be floats of shape {(n, c, 2)}, got {samples.dtype} "
                             f"{samples.shape}")
    cols = _intervals(samples[..., 0], w, ow, kw)  # (N, C, ow)
    rows = _intervals(samples[..., 1], h, oh, kh)  # (N, C, oh)
    r = rows[:, :, :, None, None, None] + np.arange(kh)[:, None]  # (N, C, oh, 1, kh, 1)
    s = cols[:, :, None, :, None, None] + np.arange(kw)  # (N, C, 1, ow, 1, kw)
    flat = (r * w + s).reshape(n, c, oh, ow, kh * kw)
    plane = np.arange(n)[:, None, None, None, None], np.arange(c)[None, :, None, None, None]
    values = x.data.reshape(n, c, h * w)[plane + (flat,)]
    nan = np.isnan(values)
    first_max = np.argmax(values, axis=-1)  # the first of equal maxima, as PyTorch's strict ">"
    last_nan = nan.shape[-1] - 1 - np.argmax(nan[..., ::-1], axis=-1)  # PyTorch's "|| isnan": the last NaN wins
    pick = np.where(nan.any(axis=-1), last_nan, first_max)
    indices = np.take_along_axis(flat, pick[..., None], axis=-1)[..., 0]
    out = ops.reshape(x, (n, c, h * w))[np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None],
                                          indices]
    if not batched:
        out, indices = ops.squeeze(out, 0), indices[0]
    return (out, indices) if return_indices else out


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


__all__ = ["FractionalMaxPool2d", "RReLU", "fractional_max_pool2d", "gumbel_softmax", "rrelu"]
