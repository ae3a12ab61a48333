"""``chainrule.scipy.linalg``: SciPy's linear algebra with SciPy's names and signatures, differentiable.

``solve_triangular``, ``solve_sylvester``, ``sqrtm`` and the Cholesky factor (``cholesky``, ``cho_factor``, whose
gradient takes triangular solves) are rules of ``chainrule/rules/scipy_linalg.py``; ``cho_solve`` is two
``solve_triangular``.
Only the triangle a function reads gets a gradient (e.g. the upper one for ``cholesky(a, lower=False)``, as SciPy
reads it). Unlike SciPy's, the factor from ``cho_factor`` holds zeros in its unused triangle.

>>> import numpy as np, chainrule as cr
>>> from chainrule.scipy import linalg
>>> a = np.array([[2.0, 0.0], [1.0, 4.0]])
>>> cr.grad(lambda b: linalg.solve_triangular(a, b, lower=True).sum())(np.ones(2)).tolist()   # A⁻ᵀ 1
[0.375, 0.25]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..errors import DomainError, ShapeError
from ..numpy import linalg as cnp_linalg
from ..rules import scipy_linalg  # noqa: F401 - registers solve_triangular, solve_sylvester, sqrtm
from ..tensor import Tensor
from ._util import apply, operand, scipy_fallback, scipy_name

__all__ = [
    "cho_factor",
    "cho_solve",
    "cholesky",
    "det",
    "inv",
    "solve",
    "solve_banded",
    "solve_sylvester",
    "solve_triangular",
    "sqrtm",
]

_TRANS = {0: 0, 1: 1, 2: 1, "N": 0, "T": 1, "C": 1}


def _matrix(x: Any, name: str, function: str, *, square: bool = True) -> Any:
    x = operand(x, name, function, complex_ok=True)
    if x.dtype.kind not in "fc":
        x = ops.astype(x, np.float64) if isinstance(x, Tensor) else x.astype(np.float64)
    if x.ndim < 2 or (square and x.shape[-1] != x.shape[-2]):
        raise ShapeError(
            f"{function}: `{name}` has shape {x.shape}; expected a square matrix (or a stack of "
            "them, shape (..., n, n))"
        )
    return x


@scipy_name("linalg")
def det(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> Tensor:
    """det A (chainrule.numpy.linalg's rule: d det A = det A · tr(A⁻¹ dA))."""
    return cnp_linalg.det(_matrix(a, "a", "linalg.det"))


@scipy_name("linalg")
def inv(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> Tensor:
    """A⁻¹ (chainrule.numpy.linalg's rule)."""
    return cnp_linalg.inv(_matrix(a, "a", "linalg.inv"))


@scipy_name("linalg")
def solve(
    a: Any,
    b: Any,
    lower: bool = False,
    overwrite_a: bool = False,
    overwrite_b: bool = False,
    check_finite: bool = True,
    assume_a: Any = None,
    transposed: bool = False,
) -> Tensor:
    """x with A x = b (``transposed=True``: Aᵀ x = b); a general solve whatever ``assume_a`` says."""
    a = _matrix(a, "a", "linalg.solve")
    return cnp_linalg.solve(ops.swapaxes(a, -1, -2) if transposed else a, b)


@scipy_name("linalg")
def solve_triangular(
    a: Any,
    b: Any,
    trans: Any = 0,
    lower: bool = False,
    unit_diagonal: bool = False,
    overwrite_b: bool = False,
    check_finite: bool = True,
) -> Tensor:
    """x with op(A) x = b for a triangular A (op(A) = A, Aᵀ for trans=1/"T", Aᴴ for trans=2/"C"); reads one
    triangle of A.

    Gradients: b̄ = op(A)⁻ᵀ g, Ā = −b̄ xᵀ on the triangle read (transposed for trans=1). A complex A with
    trans="C" is solved as conj(A) with trans="T" (the rule is holomorphic; conj is linear).
    """
    where = "linalg.solve_triangular"
    if not isinstance(trans, int | str) or trans not in _TRANS:
        raise ValueError(f"{where}: `trans` must be 0, 1, 2, 'N', 'T' or 'C'; got {trans!r}")
    a = _matrix(a, "a", where)
    b = operand(b, "b", where, complex_ok=True)
    if trans in (2, "C") and a.dtype.kind == "c":
        a = ops.conj(a) if isinstance(a, Tensor) else np.conj(a)
    n = a.shape[-1]
    if b.ndim < 1 or b.shape[0 if b.ndim == 1 else -2] != n:
        raise ShapeError(f"{where}: `b` has shape {b.shape} but `a` is {n}x{n}; expected b of shape ({n},) or ({n}, k)")
    return apply("solve_triangular", a, b, trans=_TRANS[trans], lower=bool(lower), unit_diagonal=bool(unit_diagonal))


@scipy_name("linalg")
def cholesky(a: Any, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True) -> Tensor:
    """The Cholesky factor of a symmetric (Hermitian) positive-definite matrix: U with A = UᴴU (default), or L
    with A = LLᴴ (``lower=True``), read from that triangle of A, as SciPy reads it."""
    a = _matrix(a, "a", "linalg.cholesky")
    if lower:
        return apply("cho_factor", a)
    return ops.swapaxes(apply("cho_factor", ops.swapaxes(a, -1, -2)), -1, -2)


@scipy_name("linalg")
def cho_factor(a: Any, lower: bool = False, overwrite_a: bool = False, check_finite: bool = True):
    """``(c, lower)``: the Cholesky factor for ``cho_solve`` (zeros in the triangle SciPy leaves arbitrary)."""
    return cholesky(a, lower=lower), bool(lower)


@scipy_name("linalg")
def cho_solve(c_and_lower: tuple, b: Any, overwrite_b: bool = False, check_finite: bool = True) -> Tensor:
    """x with A x = b, from ``(c, lower) = cho_factor(A)``: two triangular solves (A = LLᴴ or UᴴU)."""
    if not isinstance(c_and_lower, tuple | list) or len(c_and_lower) != 2:
        raise TypeError(
            "linalg.cho_solve: the first argument must be the pair (c, lower) that cho_factor returns; "
            f"got {type(c_and_lower).__name__}"
        )
    c, lower = c_and_lower
    if lower:
        return solve_triangular(c, solve_triangular(c, b, lower=True), trans="C", lower=True)
    return solve_triangular(c, solve_triangular(c, b, trans="C", lower=False), lower=False)


@scipy_name("linalg")
def solve_sylvester(a: Any, b: Any, q: Any) -> Tensor:
    """X with AX + XB = Q; gradients from one more Sylvester solve, G: AᵀG + GBᵀ = ḡ (Q̄ = G, Ā = −GXᵀ,
    B̄ = −XᵀG)."""
    where = "linalg.solve_sylvester"
    a, b = _matrix(a, "a", where), _matrix(b, "b", where)
    q = _matrix(q, "q", where, square=False)
    if q.shape != (a.shape[-1], b.shape[-1]):
        raise ShapeError(
            f"{where}: `q` has shape {q.shape}; expected ({a.shape[-1]}, {b.shape[-1]}) for `a` of "
            f"shape {a.shape} and `b` of shape {b.shape}"
        )
    return apply("solve_sylvester", a, b, q)


@scipy_name("linalg")
def sqrtm(A: Any, disp: bool = True, blocksize: int = 64) -> Tensor:  # A: SciPy's argument name
    """The principal square root Y (Y² = A) of a matrix with a real one; Ā solves YᵀĀ + ĀYᵀ = ḡ."""
    return apply("sqrtm", _matrix(A, "A", "linalg.sqrtm"))


@scipy_name("linalg")
def solve_banded(
    l_and_u: tuple, ab: Any, b: Any, overwrite_ab: bool = False, overwrite_b: bool = False, check_finite: bool = True
) -> Tensor:
    """x with A x = b for A in SciPy's banded storage ``ab`` (``ab[u + i - j, j] = A[i, j]``).

    A composition: the dense A gathered from ``ab`` (a differentiable gather, zeros off the band), then ``solve``;
    gradients flow into ``ab`` (its band entries) and ``b``.
    """
    where = "linalg.solve_banded"
    try:
        lower, upper = (int(v) for v in l_and_u)
    except (TypeError, ValueError):
        raise TypeError(
            f"{where}: the first argument must be the pair (l, u) of band widths; got {l_and_u!r}"
        ) from None
    if lower < 0 or upper < 0:
        raise DomainError(f"{where}: the band widths (l, u) must be ints >= 0; got {l_and_u!r}")
    ab = operand(ab, "ab", where, complex_ok=True)
    n = ab.shape[-1] if ab.ndim == 2 else -1
    if ab.ndim != 2 or ab.shape[0] != lower + upper + 1:
        raise ShapeError(
            f"{where}: `ab` has shape {ab.shape}; expected ({lower + upper + 1}, n) for l={lower}, u={upper}"
        )
    i, j = np.indices((n, n))
    row = upper + i - j
    band = (row >= 0) & (row <= lower + upper)
    ab = ab if isinstance(ab, Tensor) else ops.as_tensor(ab)
    dense = ops.where(band, ab[np.clip(row, 0, lower + upper), j], 0.0)
    return cnp_linalg.solve(dense, b)


__getattr__ = scipy_fallback("linalg", "chainrule.scipy.linalg")
