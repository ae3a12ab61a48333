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
import warnings

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

    linear, conv*, conv_transpose*, sigmoid: 1, tanh: 5/3, relu: √2, leaky_relu with slope a: √(2 / (1 + a²))
    (a = 0.01 when ``param`` is None), selu: 3/4.
    """
    if nonlinearity in _LINEAR_GAINS:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, bool) or not isinstance(param, int | float):
            raise ValueError(f"calculate_gain('leaky_relu', param): the negative slope must be a number, got "
                             f"{param!r}")
        else:
            slope = float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(
        f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; expected one of "
        f"{', '.join(map(repr, _LINEAR_GAINS))}, 'tanh', 'relu', 'leaky_relu', 'selu'"
    )


_LINEAR_GAINS = ("linear", "identity", "sigmoid", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                 "conv_transpose2d", "conv_transpose3d")


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


def _dimensions(tensor: Tensor, allowed: tuple[int, ...], where: str) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{where} fills a Tensor (or Parameter) in place, not {type(tensor).__name__}")
    if tensor.ndim not in allowed:
        wanted = (", ".join(map(str, allowed[:-1])) + " or " if len(allowed) > 1 else "") + str(allowed[-1])
        wanted = wanted if len(allowed) < 4 else f"at least {allowed[0]}"
        raise ShapeError(f"{where}: only tensors with {wanted} dimensions are supported, got shape {tensor.shape}")


def orthogonal_(tensor: Tensor, gain: float = 1.0, rng: np.random.Generator | None = None) -> Tensor:
    """Saxe et al. (2013): a (semi-)orthogonal matrix times ``gain``, from the QR decomposition of a standard
    normal matrix (R's diagonal made positive, so Q is Haar-distributed); dimensions after the first are flattened."""
    _dimensions(tensor, tuple(range(2, 33)), "orthogonal_")
    if tensor.size == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.size // rows
    flat = generator(rng=rng).normal(0.0, 1.0, (rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))  # a zero on R's diagonal (probability 0) gives a zero column, as PyTorch's
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """The identity of a convolution: weight (out, in, *k) zero but 1 at the kernel's centre for channel d → d
    (within each of ``groups`` groups of output channels), so a conv with it copies its input's channels."""
    _dimensions(tensor, (3, 4, 5), "dirac_")
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1 or tensor.shape[0] % groups:
        raise DomainError(f"dirac_: groups must be a positive int dividing dim 0 ({tensor.shape[0]}), got {groups!r}")
    out_per_group = tensor.shape[0] // groups
    values = np.zeros(tensor.shape)
    centre = tuple(k // 2 for k in tensor.shape[2:])
    for g in range(groups):
        for d in range(min(out_per_group, tensor.shape[1])):
            values[(g * out_per_group + d, d, *centre)] = 1
    return _fill(tensor, values)


def eye_(tensor: Tensor) -> Tensor:
    """The identity matrix (ones on the diagonal of a 2-D tensor, zeros elsewhere)."""
    _dimensions(tensor, (2,), "eye_")
    return _fill(tensor, np.eye(*tensor.shape))


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, rng: np.random.Generator | None = None) -> Tensor:
    """Martens (2010): N(0, std²) with ⌈sparsity·rows⌉ random entries of each column set to 0 (2-D only)."""
    _dimensions(tensor, (2,), "sparse_")
    if isinstance(sparsity, bool) or not isinstance(sparsity, int | float) or not 0 <= sparsity <= 1:
        raise DomainError(f"sparse_: sparsity must be a fraction in [0, 1], got {sparsity!r}")
    rng = generator(rng=rng)
    rows, cols = tensor.shape
    values = rng.normal(0.0, std, (rows, cols))
    zeros = math.ceil(sparsity * rows)
    for col in range(cols):
        values[rng.permutation(rows)[:zeros], col] = 0
    return _fill(tensor, values)


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  rng: np.random.Generator | None = None) -> Tensor:
    """N(mean, std²) restricted to [a, b]: values outside are drawn again (when [a, b] holds less than 30% of the
    mass, candidates come from U(a, b), kept with probability the normal density over its peak in [a, b])."""
    if not (std > 0 and a < b):
        raise DomainError(f"trunc_normal_: needs std > 0 and a < b, got std={std!r}, a={a!r}, b={b!r}")
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The distribution of values "
                      "may be incorrect.", stacklevel=2)
    rng = generator(rng=rng)
    size = tensor.shape
    cdf = [(1 + math.erf((x - mean) / std / math.sqrt(2))) / 2 for x in (a, b)]
    if cdf[1] - cdf[0] > 0.3:
        values = rng.normal(mean, std, size)
        bad = (values < a) | (values > b)
        while bad.any():
            values[bad] = rng.normal(mean, std, int(bad.sum()))
            bad = (values < a) | (values > b)
    else:
        peak = max(a, min(mean, b))
        values = np.empty(size)
        pending = np.ones(size, dtype=bool)
        while pending.any():
            count = int(pending.sum())
            candidates = rng.uniform(a, b, count)
            log_density = -0.5 * ((candidates - mean) / std) ** 2 + 0.5 * ((peak - mean) / std) ** 2
            accept = np.log(rng.uniform(size=count)) <= log_density
            where = np.flatnonzero(pending.reshape(-1))[accept]
            values.reshape(-1)[where] = candidates[accept]
            pending.reshape(-1)[where] = False
    return _fill(tensor, values)


def _deprecated(function):
    new_name = function.__name__
    old_name = new_name[:-1]

    def deprecated(*args, **kwargs):
        warnings.warn(f"`nn.init.{old_name}` is now deprecated in favor of `nn.init.{new_name}`.", FutureWarning,
                      stacklevel=2)
        return function(*args, **kwargs)

    deprecated.__name__ = deprecated.__qualname__ = old_name
    deprecated.__doc__ = f"Deprecated (as in PyTorch): use ``{new_name}``, which this calls after a FutureWarning."
    return deprecated


# PyTorch's old names without the trailing underscore, each warning that it is deprecated.
uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
eye = _deprecated(eye_)
dirac = _deprecated(dirac_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
sparse = _deprecated(sparse_)

__all__ = [
    "calculate_gain", "constant", "constant_", "default_", "default_generator", "dirac", "dirac_", "eye", "eye_",
    "fan_in_and_fan_out", "generator", "kaiming_normal", "kaiming_normal_", "kaiming_uniform", "kaiming_uniform_",
    "manual_seed", "normal", "normal_", "ones_", "orthogonal", "orthogonal_", "sparse", "sparse_", "trunc_normal_",
    "uniform", "uniform_", "xavier_normal", "xavier_normal_", "xavier_uniform", "xavier_uniform_", "zeros_",
]
