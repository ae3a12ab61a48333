"""``cnp.fft``: NumPy's discrete Fourier transforms with NumPy's names and signatures, differentiable.

With a Tensor among the inputs a function returns a Tensor; with none it returns exactly what ``numpy.fft``
returns. ``fft, ifft, fft2, ifft2, fftn, ifftn`` are the rules ``fftn`` and ``ifftn`` of ``chainrule/rules/fft.py``
along the axes asked for; ``rfft, rfft2, rfftn`` and ``irfft, irfft2, irfftn`` are ``rfftn`` and ``irfftn``;
``fftshift`` and ``ifftshift`` are ``roll``; ``fftfreq`` and ``rfftfreq`` are constants (NumPy's arrays). Gradients
follow HIPS autograd and JAX (covectors, see the README's "Complex numbers"); float32 input gives complex64.

>>> import chainrule as cr, chainrule.numpy as cnp, numpy as np
>>> x = cr.tensor([1.0, 2.0, 0.0, -1.0], requires_grad=True)
>>> (cnp.abs(cnp.fft.fft(x)) ** 2).sum().backward()    # Parseval: sum |X_k|² = n · sum x²
>>> x.grad
tensor([ 8., 16.,  0., -8.])
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import ops
from ..errors import ShapeError
from ..rules import fft as _rules  # noqa: F401 - registers fftn, ifftn, rfftn, irfftn, fft_resize
from ..rules.registry import lookup
from ..tensor import Tensor, as_tensor

__all__ = [
    "fft",
    "fft2",
    "fftfreq",
    "fftn",
    "fftshift",
    "ifft",
    "ifft2",
    "ifftn",
    "ifftshift",
    "irfft",
    "irfft2",
    "irfftn",
    "rfft",
    "rfft2",
    "rfftfreq",
    "rfftn",
]

_NORMS = {None: "backward", "backward": "backward", "ortho": "ortho", "forward": "forward"}


def _any_tensor(*xs) -> bool:
    return any(isinstance(x, Tensor) for x in xs) or any(
        isinstance(x, list | tuple) and ops.holds_tensor(x) for x in xs
    )


def _operand(a: Any, function: str, *, real: bool = False) -> Tensor:
    """``a`` as a float or complex Tensor (integers become float64), or a clear error naming the function."""
    t = a if isinstance(a, Tensor) else as_tensor(ops._operand(a, "a", f"fft.{function}"))
    if real and t.dtype.kind == "c":
        raise TypeError(
            f"fft.{function}: `a` has dtype {t.dtype}, but {function} transforms real input; take "
            f"cnp.real(a) first, or use fft.{function.replace('r', '', 1)} for complex input"
        )
    if t.dtype.kind not in "fc":
        t = ops.astype(t, np.float64)
    return t


def _norm(norm: Any, function: str) -> str:
    if not isinstance(norm, str | None) or norm not in _NORMS:
        raise ValueError(f"fft.{function}: norm={norm!r}; expected None, 'backward', 'ortho' or 'forward'")
    return _NORMS[norm]


def _axes(axes: Any, ndim: int, function: str) -> tuple[int, ...]:
    if isinstance(axes, int | np.integer):
        axes = (axes,)
    try:
        axes = tuple(operator.index(a) for a in axes)
    except TypeError:
        raise TypeError(f"fft.{function}: axes={axes!r}; expected an int or a sequence of ints") from None
    out = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ShapeError(f"fft.{function}: axis {a} is out of range for an input of {ndim} dimensions")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(
            f"fft.{function}: axes={axes} repeats an axis; differentiating a transform taken twice "
            "along one axis is not supported: call the transform twice instead"
        )
    return tuple(out)


def _plan(x: Tensor, s: Any, axes: Any, function: str, *, inverse_real: bool = False):
    """NumPy's reading of ``s`` and ``axes``: (lengths, axes), non-negative. By default every axis (or the last
    len(s)); lengths default to the input's, except the last of an inverse real transform, 2·(m − 1)."""
    if s is not None and (isinstance(s, int | np.integer) or not isinstance(s, Sequence | np.ndarray)):
        raise TypeError(f"fft.{function}: s={s!r}; expected a sequence of ints (one length per axis)")
    if axes is None:
        axes = range(x.ndim) if s is None else range(-len(s), 0)
    axes = _axes(axes, x.ndim, function)
    if s is None:
        s = [None] * len(axes)
    elif len(s) != len(axes):
        raise ValueError(
            f"fft.{function}: s={tuple(s)} and axes={axes} have different lengths; expected one length per axis"
        )
    lengths = []
    for i, (n, a) in enumerate(zip(s, axes, strict=True)):
        if n is None or n == -1:
            n = 2 * (x.shape[a] - 1) if inverse_real and i == len(axes) - 1 else x.shape[a]
        try:
            n = operator.index(n)
        except TypeError:
            raise TypeError(f"fft.{function}: a length of {n!r} along axis {a}; expected an int") from None
        if n < 1:
            raise ValueError(f"fft.{function}: {n} points along axis {a}; expected at least 1 (a positive n or s)")
        lengths.append(n)
    return tuple(lengths), axes


def _transform(rule: str, a: Any, s: Any, axes: Any, norm: Any, function: str) -> Tensor:
    t = _operand(a, function, real=rule == "rfftn")
    lengths, axes = _plan(t, s, axes, function, inverse_real=rule == "irfftn")
    if rule in ("rfftn", "irfftn") and not axes:
        raise ValueError(f"fft.{function}: expected at least one axis to transform")
    params = {"s": lengths, "axes": axes, "norm": _norm(norm, function)}
    try:
        return ops.apply(lookup(rule), (t,), params)
    except MemoryError:  # NumPy asks for the whole result at once, before anything is written: nothing is lost
        shape = list(t.shape)
        for n, a in zip(lengths, axes, strict=True):
            shape[a] = n
        raise MemoryError(
            f"fft.{function}: a result of shape {tuple(shape)} is too large for this machine's memory; check n, s "
            "and axes"
        ) from None


def _one(n: Any) -> Any:
    return None if n is None else (n,)


def _no_out(function: str, out: Any) -> None:
    if out is not None:
        raise TypeError(f"fft.{function}: out= is not supported (a tensor is never written in place); use the result")


# ---------------------------------------------------------------------------------------------------------------
# The transforms. Each returns NumPy's own result when no Tensor is among its inputs.
# ---------------------------------------------------------------------------------------------------------------
def fft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None, out: Any = None) -> Any:
    """The one-dimensional DFT, y_k = Σ_j x_j e^{−2πijk/n}. Its vjp is fft of g (the DFT matrix is symmetric)."""
    if not _any_tensor(a):
        return np.fft.fft(a, n, axis, norm, out)
    _no_out("fft", out)
    return _transform("fftn", a, _one(n), (axis,), norm, "fft")


def ifft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None, out: Any = None) -> Any:
    """The one-dimensional inverse DFT, y_j = (1/n) Σ_k x_k e^{2πijk/n}; its vjp is ifft of g."""
    if not _any_tensor(a):
        return np.fft.ifft(a, n, axis, norm, out)
    _no_out("ifft", out)
    return _transform("ifftn", a, _one(n), (axis,), norm, "ifft")


def rfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None, out: Any = None) -> Any:
    """The DFT of real input, its n//2 + 1 non-negative frequencies."""
    if not _any_tensor(a):
        return np.fft.rfft(a, n, axis, norm, out)
    _no_out("rfft", out)
    return _transform("rfftn", a, _one(n), (axis,), norm, "rfft")


def irfft(a: Any, n: int | None = None, axis: int = -1, norm: str | None = None, out: Any = None) -> Any:
    """The inverse of rfft: n real values (default 2·(m − 1)) from a Hermitian spectrum's first m entries."""
    if not _any_tensor(a):
        return np.fft.irfft(a, n, axis, norm, out)
    _no_out("irfft", out)
    return _transform("irfftn", a, _one(n), (axis,), norm, "irfft")


def fftn(
    a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None, norm: str | None = None, out: Any = None
) -> Any:
    """The n-dimensional DFT over ``axes`` (all by default, or the last len(s))."""
    if not _any_tensor(a):
        return np.fft.fftn(a, s, axes, norm, out)
    _no_out("fftn", out)
    return _transform("fftn", a, s, axes, norm, "fftn")


def ifftn(
    a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None, norm: str | None = None, out: Any = None
) -> Any:
    """The n-dimensional inverse DFT."""
    if not _any_tensor(a):
        return np.fft.ifftn(a, s, axes, norm, out)
    _no_out("ifftn", out)
    return _transform("ifftn", a, s, axes, norm, "ifftn")


def rfftn(
    a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None, norm: str | None = None, out: Any = None
) -> Any:
    """The n-dimensional DFT of real input (half of the last axis's frequencies)."""
    if not _any_tensor(a):
        return np.fft.rfftn(a, s, axes, norm, out)
    _no_out("rfftn", out)
    return _transform("rfftn", a, s, axes, norm, "rfftn")


def irfftn(
    a: Any, s: Sequence[int] | None = None, axes: Sequence[int] | None = None, norm: str | None = None, out: Any = None
) -> Any:
    """The inverse of rfftn."""
    if not _any_tensor(a):
        return np.fft.irfftn(a, s, axes, norm, out)
    _no_out("irfftn", out)
    return _transform("irfftn", a, s, axes, norm, "irfftn")


def fft2(
    a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1), norm: str | None = None, out: Any = None
) -> Any:
    """fftn over the last two axes."""
    if not _any_tensor(a):
        return np.fft.fft2(a, s, axes, norm, out)
    _no_out("fft2", out)
    return _transform("fftn", a, s, axes, norm, "fft2")


def ifft2(
    a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1), norm: str | None = None, out: Any = None
) -> Any:
    """ifftn over the last two axes."""
    if not _any_tensor(a):
        return np.fft.ifft2(a, s, axes, norm, out)
    _no_out("ifft2", out)
    return _transform("ifftn", a, s, axes, norm, "ifft2")


def rfft2(
    a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1), norm: str | None = None, out: Any = None
) -> Any:
    """rfftn over the last two axes."""
    if not _any_tensor(a):
        return np.fft.rfft2(a, s, axes, norm, out)
    _no_out("rfft2", out)
    return _transform("rfftn", a, s, axes, norm, "rfft2")


def irfft2(
    a: Any, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1), norm: str | None = None, out: Any = None
) -> Any:
    """irfftn over the last two axes."""
    if not _any_tensor(a):
        return np.fft.irfft2(a, s, axes, norm, out)
    _no_out("irfft2", out)
    return _transform("irfftn", a, s, axes, norm, "irfft2")


def _shift(x: Any, axes: Any, function: str, sign: int) -> Any:
    t = _operand(x, function) if not isinstance(x, Tensor) else x
    axes = tuple(range(t.ndim)) if axes is None else _axes(axes, t.ndim, function)
    if not axes:  # a 0-d input, or axes=(): nothing to shift (NumPy fails inside roll here)
        return t
    shifts = tuple(sign * (t.shape[a] // 2) for a in axes)
    from . import roll  # the gather of chainrule.numpy: its gradient scatters back

    return roll(t, shifts, axes)


def fftshift(x: Any, axes: int | Sequence[int] | None = None) -> Any:
    """The zero frequency moved to the centre: a roll by n//2 along each axis (all by default)."""
    if not _any_tensor(x):
        return np.fft.fftshift(x, axes)
    return _shift(x, axes, "fftshift", 1)


def ifftshift(x: Any, axes: int | Sequence[int] | None = None) -> Any:
    """The inverse of fftshift: a roll by −(n//2)."""
    if not _any_tensor(x):
        return np.fft.ifftshift(x, axes)
    return _shift(x, axes, "ifftshift", -1)


def _frequency_count(n: Any, function: str) -> int:
    """n of fftfreq/rfftfreq: a positive int (NumPy divides by zero at n = 0 and says "n should be an integer")."""
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"fft.{function}: n is the number of samples, a positive int; got {n!r}")
    return int(n)


def fftfreq(n: int, d: float = 1.0, device: Any = None) -> np.ndarray:
    """The sample frequencies of fft (NumPy's array: a constant, with no gradient)."""
    return np.fft.fftfreq(_frequency_count(n, "fftfreq"), ops.stop(d), device=device)


def rfftfreq(n: int, d: float = 1.0, device: Any = None) -> np.ndarray:
    """The sample frequencies of rfft (NumPy's array: a constant, with no gradient)."""
    return np.fft.rfftfreq(_frequency_count(n, "rfftfreq"), ops.stop(d), device=device)
