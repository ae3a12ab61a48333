"""Linear algebra primitives: solve, inv, det, log|det|, cholesky, eigh, eigvalsh, svd, singular values, qr, pinv.

Conventions as in arrays.py: ``x`` (or ``a``, ``b``) the inputs, ``y`` the output, ``g`` the upstream gradient,
``ts`` the tangents; every input may carry leading batch axes (``(..., n, n)``), as in NumPy. Derivatives are written
against the math namespace ``m`` (``m.solve``, ``m.eigh``, ``m.svd`` are NumPy on arrays and differentiable rules on
Tensors), so the gradients are themselves differentiable. Inverses are never formed for a derivative: each
``A⁻¹ B`` is a solve.

Functions with several outputs. The engine keeps one output per node, and one chain rule per node, so a
factorization with several outputs is one rule whose output is its results *packed in one array*:

* ``eigh``: ``(..., n + 1, n)``, the eigenvalues ``w`` in row 0 and the eigenvectors ``V`` below them;
* ``svd``: ``(..., m·k + k + k·n)``, ``U``, ``S`` and ``Vh`` flattened and concatenated (``k = min(m, n)``);
* ``qr``: ``(..., m·k + k·n)``, ``Q`` and ``R`` flattened and concatenated.

``chainrule.numpy.linalg`` unpacks them with indexing and reshapes (linear rules), so the factorization runs once,
the graph has one node for it, and a loss of any of its results flows back through the one rule. Functions of one
result (``eigvalsh``, ``svdvals``, ``logabsdet``) are rules of their own, whose derivatives call the packed rule
when they need the other results (the eigenvectors for the gradient of the eigenvalues).

Symmetric inputs. ``eigh``, ``eigvalsh`` and ``cholesky`` read only the lower triangle of their input, as NumPy's
do. Their gradients are the derivatives of exactly that function: zero above the diagonal, and below it the sum of
the two entries of the symmetric gradient (HIPS autograd's convention). For a symmetric parametrisation, such as
``f((X + Xᵀ)/2)``, this gives the same gradient as PyTorch's symmetric one.

Repeated eigenvalues and singular values. The derivatives of eigenvectors and singular vectors contain
``1/(λ_j − λ_i)`` (``1/(s_j² − s_i²)`` for the SVD); where two are equal, that term is inf and the gradient comes out
inf or nan (with NumPy's divide warning): the vectors are not differentiable there, and no finite number is given.
The eigenvalues (singular values) themselves are: a loss of the eigenvalues alone, through ``eigvalsh`` or through
``eigh`` with the eigenvectors unused, skips those terms (an upstream gradient that is exactly zero on the vectors)
and is finite at repeated eigenvalues. The same holds for ``1/s`` in the SVD of a non-square matrix at a zero
singular value. ``pinv`` is differentiable where the rank is locally constant (full rank in the samples).
"""

from __future__ import annotations

import numpy as np

from ..errors import NoDerivativeError
from . import numpy_math
from .registry import GENERAL, Rule, Sample, register


# ---------------------------------------------------------------------------------------------------------------
# Helpers that work in every namespace: constant masks (NumPy arrays in the operand's dtype) times the operands.
# ---------------------------------------------------------------------------------------------------------------
def _t(x, m):
    return m.swapaxes(x, -1, -2)


def _eye(x, n=None):
    return np.eye(np.shape(x)[-1] if n is None else n, dtype=x.dtype)


def _strict_lower(x):
    return np.tril(np.ones((np.shape(x)[-1],) * 2, dtype=x.dtype), -1)


def _diag(x, m):
    """The diagonal of each matrix of ``x``, (..., n, n) -> (..., n)."""
    return m.sum(x * _eye(x), axis=-1)


def _diag_embed(v):
    """Diagonal matrices from vectors, (..., n) -> (..., n, n)."""
    return v[..., None] * _eye(v)


def _trace(x, m):
    return m.sum(_diag(x, m), axis=-1)


def _mv(a, v, m):
    """Matrix times vector, batched: (..., n, k) @ (..., k) -> (..., n)."""
    return m.matmul(a, v[..., None])[..., 0]


def _symmetric_from_lower(x, m):
    """The symmetric matrix that a function reading only the lower triangle of ``x`` sees (the tangent of it)."""
    lower = x * _strict_lower(x)
    return lower + _t(lower, m) + x * _eye(x)


def _onto_lower(grad, m):
    """A gradient ``grad`` with respect to that symmetric matrix, carried back onto the lower triangle it was built
    from: off the diagonal each entry below counts twice (once for each place), nothing above it is read."""
    return (grad + _t(grad, m)) * _strict_lower(grad) + grad * _eye(grad)


def _gaps(w, m):
    """F with F_ij = 1/(w_j − w_i) off the diagonal and 0 on it; inf where two values are equal."""
    eye = _eye(w)
    return (1 - eye) / (w[..., None, :] - w[..., :, None] + eye)  # NumPy warns of the division by zero


def _nonzero(g, m) -> bool:
    """Whether ``g`` has a nonzero value (the parts of a packed output that a loss does not use get exact zeros)."""
    return bool(np.any(m.stop(g)))


def _right_solve(x, r, m):
    """``x r⁻¹`` as a solve: ``(r⁻ᵀ xᵀ)ᵀ``."""
    return _t(m.solve(_t(r, m), _t(x, m)), m)


# ---------------------------------------------------------------------------------------------------------------
# solve, inv, det, log|det|.
# ---------------------------------------------------------------------------------------------------------------
def _solve_vjp_a(g, a, b, y, m):
    # x = A⁻¹b: Ā = −b̄ xᵀ with b̄ = A⁻ᵀ g.
    if np.ndim(b) == 1:
        return -(m.solve(_t(a, m), g[..., None]) * y[..., None, :])
    return -m.matmul(m.solve(_t(a, m), g), _t(y, m))


def _solve_vjp_b(g, a, b, y, m):
    if np.ndim(b) == 1:
        return m.solve(_t(a, m), g[..., None])[..., 0]
    return m.solve(_t(a, m), g)


def _solve_jvp(ts, a, b, y, m):
    ta, tb = ts
    if np.ndim(b) == 1:  # dx = A⁻¹(db − dA x)
        return m.solve(a, (tb - _mv(ta, y, m))[..., None])[..., 0]
    return m.solve(a, tb - m.matmul(ta, y))


register(Rule(
    name="solve", forward=numpy_math.solve, kind=GENERAL, arity=2, args=("a", "b"),
    vjps=(_solve_vjp_a, _solve_vjp_b), jvp=_solve_jvp, shape_only=("b",),
    text=("-(A^-T g) x^T", "A^-T g"), tex=(r"-A^{-T} g\, x^{T}", r"A^{-T} g"), display=r"A^{-1} b",
    samples=(Sample(((3, 3), (3,))), Sample(((2, 3, 3), (3, 2))), Sample(((2, 3, 3), (3,)))),
    note="x = solve(A, b) with b a vector when it is 1-D, else a stack of (n, k) matrices (NumPy 2)",
))

register(Rule(
    name="inv", forward=numpy_math.inv, kind=GENERAL, batchable=True, arity=1,
    vjps=(lambda g, x, y, m: -m.matmul(_t(y, m), m.matmul(g, _t(y, m))),),
    jvp=lambda ts, x, y, m: -m.matmul(y, m.matmul(ts[0], y)), shape_only=("x",),
    text=("-Y^T g Y^T",), tex=(r"-Y^{T} g\, Y^{T}",), display=r"X^{-1}",
    samples=(Sample(((3, 3),)), Sample(((2, 3, 3),))),
))


def _det_vjp(g, x, y, m):
    # d det X = det X · tr(X⁻¹ dX): the gradient det X · X⁻ᵀ, as a solve against g·det X · I.
    return m.solve(_t(x, m), (g * y)[..., None, None] * _eye(x))


register(Rule(
    name="det", forward=np.linalg.det, kind=GENERAL, arity=1,
    vjps=(_det_vjp,), jvp=lambda ts, x, y, m: y * _trace(m.solve(x, ts[0]), m),
    text=("g det(X) X^-T",), tex=(r"g \det X\, X^{-T}",), display=r"\det X",
    samples=(Sample(((3, 3),)), Sample(((2, 3, 3),))),
    note="at a singular matrix the gradient raises (it solves with X) rather than give the adjugate",
))


def _logabsdet(x):
    return np.linalg.slogdet(x)[1]


register(Rule(
    name="logabsdet", forward=_logabsdet, kind=GENERAL, arity=1,
    vjps=(lambda g, x, y, m: m.solve(_t(x, m), g[..., None, None] * _eye(x)),),
    jvp=lambda ts, x, y, m: _trace(m.solve(x, ts[0]), m),
    text=("g X^-T",), tex=(r"g\, X^{-T}",), display=r"\log\lvert\det X\rvert",
    samples=(Sample(((3, 3),)), Sample(((2, 3, 3),))),
    note="slogdet's second result; its sign has no gradient",
))


# ---------------------------------------------------------------------------------------------------------------
# cholesky: A = L Lᵀ, reading A's lower triangle.
# ---------------------------------------------------------------------------------------------------------------
def _phi(x):
    """The mask of Φ: the lower triangle with the diagonal halved."""
    return _strict_lower(x) + 0.5 * _eye(x)


def _cholesky_vjp(g, x, y, m):
    # dL = L Φ(L⁻¹ dA L⁻ᵀ); its adjoint gives the symmetric gradient L⁻ᵀ Φ(Lᵀ ḡ) L⁻¹, two triangular solves.
    lt = _t(y, m)
    inner = m.matmul(lt, g) * _phi(y)
    grad = _t(m.solve(lt, _t(m.solve(lt, inner), m)), m)
    return _onto_lower(grad, m)


def _cholesky_jvp(ts, x, y, m):
    da = _symmetric_from_lower(ts[0], m)
    inner = _t(m.solve(y, _t(m.solve(y, da), m)), m)  # L⁻¹ dA L⁻ᵀ
    return m.matmul(y, inner * _phi(y))


_SPD = np.array([[4.0, 1.0, -0.5], [1.0, 3.0, 0.7], [-0.5, 0.7, 2.5]])

register(Rule(
    name="cholesky", forward=numpy_math.cholesky, kind=GENERAL, arity=1,
    vjps=(_cholesky_vjp,), jvp=_cholesky_jvp, shape_only=("x",),
    text=("L^-T Phi(L^T g) L^-1, onto the lower triangle",),
    tex=(r"L^{-T}\,\Phi(L^{T} g)\,L^{-1}",), display=r"\operatorname{chol} X",
    samples=(Sample(((3, 3),), values=(_SPD,)),
             Sample(((2, 3, 3),), values=(np.stack([_SPD, _SPD @ _SPD + np.eye(3)]),))),
    note="reads the lower triangle of X, as NumPy's; X must be positive definite",
))


# ---------------------------------------------------------------------------------------------------------------
# eigh (packed: eigenvalues in row 0, eigenvectors below) and eigvalsh.
# ---------------------------------------------------------------------------------------------------------------
def _eigh_vjp(g, x, y, m):
    w, v = y[..., 0, :], y[..., 1:, :]
    gw, gv = g[..., 0, :], g[..., 1:, :]
    inner = _diag_embed(gw)
    if _nonzero(gv, m):  # only a loss of the eigenvectors reads the 1/(λ_j − λ_i) terms
        inner = inner + _gaps(w, m) * m.matmul(_t(v, m), gv)
    return _onto_lower(m.matmul(v, m.matmul(inner, _t(v, m))), m)


def _eigh_jvp(ts, x, y, m):
    w, v = y[..., 0, :], y[..., 1:, :]
    p = m.matmul(_t(v, m), m.matmul(_symmetric_from_lower(ts[0], m), v))  # Vᵀ dA V
    dv = m.matmul(v, _gaps(w, m) * p)
    return m.concatenate([_diag(p, m)[..., None, :], dv], axis=-2)


register(Rule(
    name="eigh", forward=numpy_math.eigh, kind=GENERAL, arity=1,
    vjps=(_eigh_vjp,), jvp=_eigh_jvp, shape_only=("x",),
    text=("V (diag(gw) + F*(V^T gV)) V^T, F_ij = 1/(w_j - w_i)",),
    tex=(r"V\left(\operatorname{diag}(\bar w) + F \circ V^{T}\bar V\right)V^{T},\ F_{ij} = \frac{1}{w_j - w_i}",),
    display=r"\operatorname{eigh} X",
    samples=(Sample(((3, 3),)), Sample(((2, 3, 3),))),
    note="output packed as (..., n+1, n): eigenvalues in row 0, eigenvectors below; reads the lower triangle; "
         "eigenvector gradients are inf/nan at repeated eigenvalues",
))


def _eigvalsh_vjp(g, x, y, m):
    v = m.eigh(x)[..., 1:, :]
    return _onto_lower(m.matmul(v * g[..., None, :], _t(v, m)), m)


def _eigvalsh_jvp(ts, x, y, m):
    v = m.eigh(x)[..., 1:, :]
    return m.sum(v * m.matmul(_symmetric_from_lower(ts[0], m), v), axis=-2)  # diag(Vᵀ dA V)


register(Rule(
    name="eigvalsh", forward=np.linalg.eigvalsh, kind=GENERAL, batchable=True, arity=1,
    vjps=(_eigvalsh_vjp,), jvp=_eigvalsh_jvp,
    text=("V diag(g) V^T",), tex=(r"V \operatorname{diag}(g)\, V^{T}",), display=r"\lambda(X)",
    samples=(Sample(((3, 3),)), Sample(((2, 3, 3),))),
    note="reads the lower triangle; finite at repeated eigenvalues",
))


# ---------------------------------------------------------------------------------------------------------------
# svd (reduced, packed: U, S, Vh flattened) and the singular values alone.
# ---------------------------------------------------------------------------------------------------------------
def svd_parts(y, shape, m):
    """U, S, Vh from the packed output ``y`` of ``svd`` of a matrix of ``shape``."""
    rows, cols = shape[-2:]
    k = min(rows, cols)
    lead = tuple(np.shape(y)[:-1])
    u = m.reshape(y[..., :rows * k], lead + (rows, k))
    s = y[..., rows * k:rows * k + k]
    vh = m.reshape(y[..., rows * k + k:], lead + (k, cols))
    return u, s, vh


def _pack(parts, lead, m):
    return m.concatenate([m.reshape(p, lead + (-1,)) for p in parts], axis=-1)


def _svd_vjp(g, x, y, m):
    # Townsend (2016), real case, with F_ij = 1/(s_j² − s_i²).
    shape = np.shape(x)
    rows, cols = shape[-2:]
    k = min(rows, cols)
    u, s, vh = svd_parts(y, shape, m)
    gu, gs, gvh = svd_parts(g, shape, m)
    v, gv = _t(vh, m), _t(gvh, m)
    inner = _diag_embed(gs)
    if _nonzero(gu, m) or _nonzero(gv, m):  # only a loss of the singular vectors reads 1/(s_j² − s_i²) and 1/s
        f = _gaps(s * s, m)
        ug, vg = m.matmul(_t(u, m), gu), m.matmul(_t(v, m), gv)
        inner = (inner + (f * (ug - _t(ug, m))) * s[..., None, :] + s[..., :, None] * (f * (vg - _t(vg, m))))
    out = m.matmul(u, m.matmul(inner, vh))
    if rows > k and _nonzero(gu, m):  # (I − UUᵀ) Ū S⁻¹ Vᵀ
        out = out + m.matmul((gu - m.matmul(u, m.matmul(_t(u, m), gu))) / s[..., None, :], vh)
    if cols > k and _nonzero(gv, m):  # U S⁻¹ V̄ᵀ (I − VVᵀ)
        out = out + m.matmul(u, _t((gv - m.matmul(v, m.matmul(vh, gv))) / s[..., None, :], m))
    return out


def _svd_jvp(ts, x, y, m):
    shape = np.shape(x)
    rows, cols = shape[-2:]
    k = min(rows, cols)
    u, s, vh = svd_parts(y, shape, m)
    v, da = _t(vh, m), ts[0]
    p = m.matmul(_t(u, m), m.matmul(da, v))  # Uᵀ dA V
    f = _gaps(s * s, m)
    du = m.matmul(u, f * (p * s[..., None, :] + s[..., :, None] * _t(p, m)))
    dv = m.matmul(v, f * (s[..., :, None] * p + _t(p, m) * s[..., None, :]))
    if rows > k:
        dav = m.matmul(da, v)
        du = du + (dav - m.matmul(u, m.matmul(_t(u, m), dav))) / s[..., None, :]
    if cols > k:
        dtu = m.matmul(_t(da, m), u)
        dv = dv + (dtu - m.matmul(v, m.matmul(vh, dtu))) / s[..., None, :]
    return _pack((du, _diag(p, m), _t(dv, m)), shape[:-2], m)


register(Rule(
    name="svd", forward=numpy_math.svd, kind=GENERAL, arity=1,
    vjps=(_svd_vjp,), jvp=_svd_jvp,
    text=("U (diag(gS) + (F*(U^T gU - gU^T U)) S + S (F*(V^T gV - gV^T V))) V^T + ..., F_ij = 1/(s_j^2 - s_i^2)",),
    tex=(r"U\left(\operatorname{diag}(\bar S) + (F \circ [U^{T}\bar U]_{-}) S + S (F \circ [V^{T}\bar V]_{-})\right)"
         r"V^{T} + \dots",),
    display=r"\operatorname{svd} X",
    samples=(Sample(((3, 3),)), Sample(((4, 2),)), Sample(((2, 2, 3),))),
    note="reduced SVD, output packed as U, S, Vh flattened; singular-vector gradients are inf/nan at repeated "
         "singular values (and at zero ones for a non-square matrix)",
))


def _svdvals_vjp(g, x, y, m):
    u, _, vh = svd_parts(m.svd(x), np.shape(x), m)
    return m.matmul(u * g[..., None, :], vh)


def _svdvals_jvp(ts, x, y, m):
    u, _, vh = svd_parts(m.svd(x), np.shape(x), m)
    return m.sum(u * m.matmul(ts[0], _t(vh, m)), axis=-2)  # diag(Uᵀ dA V)


register(Rule(
    name="svdvals", forward=lambda x: np.linalg.svd(x, compute_uv=False), kind=GENERAL, batchable=True, arity=1,
    vjps=(_svdvals_vjp,), jvp=_svdvals_jvp,
    text=("U diag(g) V^T",), tex=(r"U \operatorname{diag}(g)\, V^{T}",), display=r"\sigma(X)",
    samples=(Sample(((3, 3),)), Sample(((4, 2),)), Sample(((2, 2, 3),))),
    note="svd(x, compute_uv=False); finite at repeated singular values",
))


# ---------------------------------------------------------------------------------------------------------------
# qr (reduced, packed: Q, R flattened), for matrices with at least as many rows as columns.
# ---------------------------------------------------------------------------------------------------------------
def qr_parts(y, shape, m):
    """Q, R from the packed output ``y`` of ``qr`` of a matrix of ``shape``."""
    rows, cols = shape[-2:]
    k = min(rows, cols)
    lead = tuple(np.shape(y)[:-1])
    return m.reshape(y[..., :rows * k], lead + (rows, k)), m.reshape(y[..., rows * k:], lead + (k, cols))


def _wide(shape):
    rows, cols = shape[-2:]
    if rows < cols:
        raise NoDerivativeError(f"qr: no derivative for a matrix with fewer rows than columns (shape {shape}); "
                                "differentiate the qr of its first rows x rows block, or of the transpose")


def _qr_vjp(g, x, y, m):
    # A = QR: Ā = (Q̄ + Q sym(M)) R⁻ᵀ with M = R R̄ᵀ − Q̄ᵀ Q, sym building a symmetric matrix from M's lower part.
    _wide(np.shape(x))
    q, r = qr_parts(y, np.shape(x), m)
    gq, gr = qr_parts(g, np.shape(x), m)
    inner = m.matmul(r, _t(gr, m)) - m.matmul(_t(gq, m), q)
    return _t(m.solve(r, _t(gq + m.matmul(q, _symmetric_from_lower(inner, m)), m)), m)


def _qr_jvp(ts, x, y, m):
    _wide(np.shape(x))
    q, r = qr_parts(y, np.shape(x), m)
    dar = _right_solve(ts[0], r, m)  # dA R⁻¹
    c = m.matmul(_t(q, m), dar)
    lower = c * _strict_lower(c)
    upper = c - lower + _t(lower, m)  # dR R⁻¹ = C − Ω, with Ω = lower(C) − lower(C)ᵀ skew
    return _pack((dar - m.matmul(q, upper), m.matmul(upper, r)), np.shape(x)[:-2], m)


register(Rule(
    name="qr", forward=numpy_math.qr, kind=GENERAL, arity=1,
    vjps=(_qr_vjp,), jvp=_qr_jvp,
    text=("(gQ + Q sym(R gR^T - gQ^T Q)) R^-T",), tex=(r"\left(\bar Q + Q\,\operatorname{sym}(R\bar R^{T} - "
                                                        r"\bar Q^{T} Q)\right) R^{-T}",),
    display=r"\operatorname{qr} X",
    samples=(Sample(((3, 3),)), Sample(((4, 2),)), Sample(((2, 3, 2),))),
    note="reduced QR, output packed as Q, R flattened; differentiable for rows >= columns",
))


# ---------------------------------------------------------------------------------------------------------------
# pinv (Golub and Pereyra), where the rank is locally constant.
# ---------------------------------------------------------------------------------------------------------------
def _pinv_vjp(g, x, y, m):
    yt = _t(y, m)
    left = _eye(x, np.shape(x)[-2]) - m.matmul(x, y)  # I − A A⁺
    right = _eye(x) - m.matmul(y, x)  # I − A⁺ A
    return (-m.matmul(yt, m.matmul(g, yt)) + m.matmul(left, m.matmul(_t(g, m), m.matmul(y, yt)))
            + m.matmul(m.matmul(yt, y), m.matmul(_t(g, m), right)))


def _pinv_jvp(ts, x, y, m):
    da, yt = ts[0], _t(y, m)
    left = _eye(x, np.shape(x)[-2]) - m.matmul(x, y)
    right = _eye(x) - m.matmul(y, x)
    return (-m.matmul(y, m.matmul(da, y)) + m.matmul(m.matmul(y, yt), m.matmul(_t(da, m), left))
            + m.matmul(right, m.matmul(_t(da, m), m.matmul(yt, y))))


register(Rule(
    name="pinv", forward=np.linalg.pinv, kind=GENERAL, batchable=True, arity=1,
    vjps=(_pinv_vjp,), jvp=_pinv_jvp,
    text=("-Y^T g Y^T + (I - AY) g^T Y Y^T + Y^T Y g^T (I - YA)",),
    tex=(r"-Y^{T} g Y^{T} + (I - AY)\, g^{T} Y Y^{T} + Y^{T} Y g^{T} (I - YA)",), display=r"X^{+}",
    samples=(Sample(((3, 3),)), Sample(((4, 2),)), Sample(((2, 2, 3),))),
    note="differentiable where the rank is locally constant (e.g. full rank)",
))
