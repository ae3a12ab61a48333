"""Weight initialisation: Xavier/Glorot, He/Kaiming and PyTorch's layer defaults, from a seedable generator.

Every function fills a Tensor in place (its ``.data``) and returns it, like ``torch.nn.init``. Random values come
from ``rng`` when given, else from this module's generator, which ``manual_seed(n)`` resets: seed it once and
every layer built afterwards gets the same weights on every run.

>>> import chainrule as cr
>>> cr.nn.init.manual_seed(0)
>>> a = cr.nn.Linear(3, 2).weight.numpy().copy()
>>> cr.nn.init.manual_seed(0)
>>> bool((cr.nn.Linear(3, 2).weight.numpy() == a).all())
True
"""

from __future__ import annotations

import math

import numpy as np

from ..engine import bump
from ..errors import DomainError, ShapeError
from ..tensor import Tensor

_generator = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Reset the module-level generator that layers and init functions use when given no ``rng``/``seed``."""
    global _generator
    _generator = np.random.default_rng(seed)


def default_generator() -> np.random.Generator:
    """The module-level generator (see ``manual_seed``)."""
    return _generator


def generator(seed: int | None = None, rng: np.random.Generator | None = None) -> np.random.Generator:
    """The generator to draw from: ``rng``, a new one seeded with ``seed``, or the module-level one."""
    if seed is not None and rng is not None:
        raise ValueError("give either seed= or rng=, not both")
    if rng is not None:
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, not {type(rng).__name__}")
        return rng
    return np.random.default_rng(seed) if seed is not None else _generator


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The gain that keeps activations' variance steady through ``nonlinearity`` (PyTorch's values).

    linear/sigmoid/conv: 1, tanh: 5/3, relu: √2, leaky_relu with slope a: √(2 / (1 + a²)), selu: 3/4.
    """
    if nonlinearity in ("linear", "identity", "sigmoid", "conv1d", "conv2d", "conv3d"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"calculate_gain: unknown nonlinearity {nonlinearity!r}; expected one of 'linear', 'sigmoid', 'tanh', "
        "'relu', 'leaky_relu', 'selu', 'conv2d'"
    )


def fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight: (in, out) for a (out, in) matrix; times kh·kw for a conv kernel."""
    shape = tensor.shape
    if len(shape) < 2:
        raise ShapeError(f"fan in and fan out need a weight with at least 2 dimensions, got shape {shape}")
    receptive = int(np.prod(shape[2:], dtype=np.int64))
    return shape[1] * receptive, shape[0] * receptive


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor: Tensor, values: np.ndarray) -> Tensor:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init functions fill a Tensor (or Parameter) in place, not {type(tensor).__name__}")
    target = tensor._array()
    target[...] = values.astype(tensor.dtype, copy=False)
    bump(target)  # a graph that saved the old values must not backpropagate through them now
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, rng: np.random.Generator | None = None) -> Tensor:
    """Fill with samples of U(a, b); a complex tensor's real and imaginary parts each, as PyTorch's."""
    rng = generator(rng=rng)
    if np.dtype(tensor.dtype).kind == "c":
        return _fill(tensor, rng.uniform(a, b, tensor.shape) + 1j * rng.uniform(a, b, tensor.shape))
    return _fill(tensor, rng.uniform(a, b, tensor.shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, rng: np.random.Generator | None = None) -> Tensor:
    """Fill with samples of N(mean, std²)."""
    return _fill(tensor, generator(rng=rng).normal(mean, std, tensor.shape))


def constant_(tensor: Tensor, value: float) -> Tensor:
    """Fill with ``value``."""
    return _fill(tensor, np.full(tensor.shape, value))


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0."""
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, rng: np.random.Generator | None = None) -> Tensor:
    """Glorot & Bengio (2010): U(−a, a) with a = gain·√(6 / (fan_in + fan_out))."""
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, rng)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, rng: np.random.Generator | None = None) -> Tensor:
    """Glorot & Bengio (2010): N(0, σ²) with σ = gain·√(2 / (fan_in + fan_out))."""
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), rng)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     rng: np.random.Generator | None = None) -> Tensor:
    """He et al. (2015): U(−b, b) with b = gain·√(3 / fan), gain from ``calculate_gain(nonlinearity, a)``."""
    if not math.isfinite(a) or a < 0:
        raise DomainError(f"kaiming_uniform_: a (the negative slope) must be a finite number >= 0, got {a}")
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / _fan(tensor, mode))
    return uniform_(tensor, -bound, bound, rng)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    rng: np.random.Generator | None = None) -> Tensor:
    """He et al. (2015): N(0, σ²) with σ = gain / √fan."""
    std = calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))
    return normal_(tensor, 0.0, std, rng)


def default_(weight: Tensor, bias: Tensor | None = None, rng: np.random.Generator | None = None) -> None:
    """PyTorch's default for Linear and Conv2d: weight and bias from U(−1/√fan_in, 1/√fan_in).

    For the weight this is ``kaiming_uniform_(a=√5)``: gain √(2/6) times √(3/fan_in) is exactly 1/√fan_in.
    """
    rng = generator(rng=rng)
    kaiming_uniform_(weight, a=math.sqrt(5), rng=rng)
    if bias is not None:
        fan_in, _ = fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        uniform_(bias, -bound, bound, rng)


__all__ = [
    "calculate_gain", "constant_", "default_", "default_generator", "fan_in_and_fan_out", "generator",
    "kaiming_normal_", "kaiming_uniform_", "manual_seed", "normal_", "ones_", "uniform_", "xavier_normal_",
    "xavier_uniform_", "zeros_",
]
