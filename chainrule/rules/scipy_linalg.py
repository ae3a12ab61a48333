"""SciPy's linear algebra as rules: triangular solves, the Sylvester equation and the matrix square root.

Conventions as in linalg.py: ``a``, ``b`` (and ``q``) the inputs, ``y`` the output, ``g`` the upstream gradient,
``ts`` the tangents, ``m`` the math namespace. SciPy is imported when a forward first runs; without SciPy these entries
are not registered.

* ``solve_triangular(a, b, trans, lower, unit_diagonal)``: x = op(A)⁻¹ b with op(A) = A or Aᵀ. Only the triangle of
  ``a`` that SciPy reads (and not its diagonal when ``unit_diagonal``) gets a gradient: the derivative of exactly the
  function computed, as for cholesky. b̄ = op(A)⁻ᵀ g is one more triangular solve; Ā = −b̄ xᵀ (transposed for trans).
* ``solve_sylvester(a, b, q)``: X with AX + XB = Q. Q̄ = G solves AᵀG + GBᵀ = g; Ā = −G Xᵀ, B̄ = −Xᵀ G.
* ``sqrtm(a)``: Y with Y² = A. From Y dY + dY Y = dA, Ā solves YᵀĀ + ĀYᵀ = g (one Sylvester solve).
Complex matrices: solve_triangular, solve_sylvester and sqrtm are holomorphic, so their real formulas hold with
transposes (never conjugate transposes), in the covector convention of linalg.py; cho_factor shares cholesky's
complex derivatives (A = L Lᴴ, Hermitian A read from its lower triangle).

* ``cho_factor``: the lower Cholesky factor L of A (reading A's lower triangle), with the core ``cholesky``'s
  derivatives (``cholesky_vjp``, ``cholesky_jvp`` in linalg.py), given triangular solves (``solve_triangular``) instead
  of general ones for Tensors (higher order). On arrays both take the blocked gradient (numpy_math.py).
"""

from __future__ import annotations

import importlib.util

import numpy as np

from ..errors import DomainError
from .linalg import cholesky_jvp, cholesky_vjp
from .registry import GENERAL, Rule, Sample, lookup, register


def _t(x, m):
    return m.swapaxes(x, -1, -2)


def _solve_triangular(a, b, trans=0, lower=False, unit_diagonal=False):
    from scipy import linalg

    try:
        # check_finite=False: a nan or inf gives nan, as elsewhere in chainrule (and saves a pass over a)
        return linalg.solve_triangular(a, b, trans=trans, lower=lower, unit_diagonal=unit_diagonal, check_finite=False)
    except np.linalg.LinAlgError as exc:
        raise DomainError(
            f"solve_triangular: the triangular matrix `a` of shape {np.shape(a)} is singular "
            f"({exc}); expected nonzero diagonal entries"
        ) from None


def _triangle(a, lower, unit_diagonal, m):
    """The mask of the entries of ``a`` that solve_triangular reads, in a's dtype (in a's library)."""
    below = m.tril_mask(np.shape(a)[-1], -1 if unit_diagonal else 0, a)
    return below if lower else m.swapaxes(below, -1, -2)


def _tri(m, a, b, trans, lower, unit_diagonal):
    return m.apply_rule(
        lookup("solve_triangular"), (a, b), {"trans": trans, "lower": lower, "unit_diagonal": unit_diagonal}
    )


def _solve_triangular_vjp_a(g, a, b, y, m, trans=0, lower=False, unit_diagonal=False):
    minus_gb = -_tri(m, a, g, 1 - trans, lower, unit_diagonal)  # negated before the product: n·k numbers, not n²
    if np.ndim(b) == np.ndim(a) - 1:  # b a vector: the outer products
        grad = minus_gb[..., :, None] * y[..., None, :] if trans == 0 else y[..., :, None] * minus_gb[..., None, :]
    else:
        grad = m.matmul(minus_gb, _t(y, m)) if trans == 0 else m.matmul(y, _t(minus_gb, m))
    return grad * _triangle(a, lower, unit_diagonal, m)


def _solve_triangular_vjp_b(g, a, b, y, m, trans=0, lower=False, unit_diagonal=False):
    return _tri(m, a, g, 1 - trans, lower, unit_diagonal)


def _solve_triangular_jvp(ts, a, b, y, m, trans=0, lower=False, unit_diagonal=False):
    ta, tb = ts
    da = ta * _triangle(a, lower, unit_diagonal, m)
    if trans:
        da = _t(da, m)
    change = m.matmul(da, y[..., None])[..., 0] if np.ndim(b) == np.ndim(a) - 1 else m.matmul(da, y)
    return _tri(m, a, tb - change, trans, lower, unit_diagonal)


def _solve_sylvester(a, b, q):
    from scipy import linalg

    if any(np.iscomplexobj(v) for v in (a, b, q)):
        # SciPy 1.17 solves real A or B with a complex other input wrongly (residuals of order 1; only all-real and
        # all-complex are right), so all three are made complex first
        dtype = np.result_type(a, b, q)
        a, b, q = (np.asarray(v, dtype=dtype) for v in (a, b, q))
    for name, v in (("a", a), ("b", b), ("q", q)):  # (nan in q used to be reported as a shared eigenvalue)
        if not np.all(np.isfinite(v)):
            raise DomainError(f"solve_sylvester: `{name}` holds inf or nan; expected finite matrices")
    # A and −B sharing an eigenvalue (λ + μ = 0) makes the equation singular; LAPACK then perturbs it silently and
    # returns huge finite numbers, so the spectra are compared first (to rounding, relative to the matrices' size)
    gaps = np.abs(np.linalg.eigvals(a)[..., :, None] + np.linalg.eigvals(b)[..., None, :])
    scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)), np.finfo(float).tiny)
    singular = gaps.size and float(np.min(gaps)) <= 16 * np.finfo(np.float64).eps * scale * max(np.shape(a)[-1], 1)
    x = None if singular else linalg.solve_sylvester(a, b, q)
    if singular or not np.all(np.isfinite(x)):
        raise DomainError(
            "solve_sylvester: A and -B share an eigenvalue, so AX + XB = Q has no unique solution; "
            "expected A and -B with disjoint spectra"
        )
    return x


def _sylvester(m, a, b, q):
    return m.apply_rule(lookup("solve_sylvester"), (a, b, q), {})


def _sylvester_adjoint(g, a, b, m):
    """G with AᵀG + GBᵀ = g: the gradient of Q."""
    return _sylvester(m, _t(a, m), _t(b, m), g)


def _sqrtm(a):
    from scipy import linalg

    y = linalg.sqrtm(a)
    if not np.all(np.isfinite(y)) and np.all(np.isfinite(a)):
        raise DomainError(
            f"sqrtm: the matrix of shape {np.shape(a)} has no square root (it is singular, with a nilpotent part "
            "such as [[0, 1], [0, 0]]); expected a matrix whose eigenvalues are positive, e.g. positive definite"
        )
    # A real matrix with negative eigenvalues has a complex principal root: SciPy's (complex) answer, as SciPy.
    if np.iscomplexobj(y) and not np.iscomplexobj(a) and np.all(
            np.abs(y.imag) <= 1e-8 * max(1.0, float(np.max(np.abs(y.real), initial=0.0)))):
        y = y.real  # a real root that SciPy's complex Schur form gave with round-off imaginary parts
    return np.asarray(y, dtype=np.result_type(y, a, np.float32))


def _cho_factor(a):
    try:
        return np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        raise DomainError(
            f"cholesky: the matrix `a` of shape {np.shape(a)} is not positive definite (the triangle "
            "read is taken as a symmetric matrix); expected a symmetric positive-definite matrix"
        ) from None


def _solve_lower(lower, b, trans, m):
    """op(L)⁻¹ b for a lower-triangular L, by SciPy's triangular solve (differentiable again on Tensors)."""
    return _tri(m, lower, b, trans, True, False)


def _cho_factor_vjp(g, x, y, m):
    return cholesky_vjp(g, x, y, m, solve_lower=_solve_lower)


def _cho_factor_jvp(ts, x, y, m):
    return cholesky_jvp(ts, x, y, m, solve_lower=_solve_lower)


_SPD = np.array([[4.0, 1.0, -0.5], [1.0, 3.0, 0.7], [-0.5, 0.7, 2.5]])
_LOWER = np.array([[2.0, 0.0, 0.0], [0.5, 1.5, 0.0], [-0.3, 0.4, 1.8]])


def _register_all() -> None:
    register(
        Rule(
            name="solve_triangular",
            forward=_solve_triangular,
            kind=GENERAL,
            supports_complex=True,
            arity=2,
            args=("a", "b"),
            vjps=(_solve_triangular_vjp_a, _solve_triangular_vjp_b),
            jvp=_solve_triangular_jvp,
            shape_only=("b",),
            text=("-tri(op(A)^-T g x^T)", "op(A)^-T g"),
            tex=(r"-\operatorname{tri}(\operatorname{op}(A)^{-T} g\, x^{T})", r"\operatorname{op}(A)^{-T} g"),
            display=r"\operatorname{op}(A)^{-1} b",
            samples=(
                Sample(((3, 3), (3,)), {"lower": True}, values=(_LOWER, np.array([1.0, -2.0, 0.5]))),
                Sample(((3, 3), (3, 2)), {"lower": False, "trans": 1}, values=(_LOWER.T, np.arange(6.0).reshape(3, 2))),
                Sample(
                    ((3, 3), (3, 2)),
                    {"lower": True, "unit_diagonal": True},
                    values=(_LOWER, np.arange(6.0).reshape(3, 2) - 2),
                ),
            ),
            note="reads one triangle of a (without its diagonal when unit_diagonal); op(A) is A, or Aᵀ for trans=1",
        )
    )
    register(
        Rule(
            name="solve_sylvester",
            forward=_solve_sylvester,
            kind=GENERAL,
            arity=3,
            args=("a", "b", "q"),
            vjps=(
                lambda g, a, b, q, y, m: -m.matmul(_sylvester_adjoint(g, a, b, m), _t(y, m)),
                lambda g, a, b, q, y, m: -m.matmul(_t(y, m), _sylvester_adjoint(g, a, b, m)),
                lambda g, a, b, q, y, m: _sylvester_adjoint(g, a, b, m),
            ),
            jvp=lambda ts, a, b, q, y, m: _sylvester(m, a, b, ts[2] - m.matmul(ts[0], y) - m.matmul(y, ts[1])),
            text=("-G X^T", "-X^T G", "G, A^T G + G B^T = g"),
            tex=(r"-G X^{T}", r"-X^{T} G", r"G:\ A^{T} G + G B^{T} = g"),
            display=r"X:\ AX + XB = Q",
            samples=(
                Sample(((3, 3), (3, 3), (3, 3)), values=(_SPD, _SPD.T + np.eye(3), np.arange(9.0).reshape(3, 3))),
            ),
            supports_complex=True,  # holomorphic in A, B, Q: the same rules, plain transposes (complex sqrtm)
        )
    )
    register(
        Rule(
            name="cho_factor",
            forward=_cho_factor,
            kind=GENERAL,
            supports_complex=True,
            arity=1,
            args=("a",),
            vjps=(_cho_factor_vjp,),
            jvp=_cho_factor_jvp,
            shape_only=("x",),
            text=("L^-T Phi(L^T g) L^-1 onto the lower triangle",),
            tex=(r"L^{-T} \Phi(L^{T} g) L^{-1}",),
            display=r"\operatorname{chol} A",
            samples=(Sample(((3, 3),), values=(_SPD,)),),
            note="the lower factor, reading A's lower triangle; derivatives by triangular solves",
        )
    )
    register(
        Rule(
            name="sqrtm",
            forward=_sqrtm,
            kind=GENERAL,
            supports_complex=True,
            arity=1,
            args=("a",),
            vjps=(lambda g, x, y, m: _sylvester(m, _t(y, m), _t(y, m), g),),
            jvp=lambda ts, x, y, m: _sylvester(m, y, y, ts[0]),
            shape_only=("x",),
            text=("G, Y^T G + G Y^T = g",),
            tex=(r"G:\ Y^{T} G + G Y^{T} = g",),
            display=r"\sqrt{X}",
            samples=(Sample(((3, 3),), values=(_SPD,)),),
            note="the principal square root; a real matrix with negative eigenvalues has a complex one (as SciPy)",
        )
    )


if importlib.util.find_spec("scipy") is not None:  # without SciPy the entries could not run: leave them out
    _register_all()
