"""Linear algebra primitives: solve, inv, det, log|det|, cholesky, eigh, eigvalsh, eig, eigvals, svd, singular values,
qr, pinv.

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

Complex matrices. Gradients are covectors (README, "Complex numbers"): the pairing is Re Σ ḡ·dy, never conjugated.
Holomorphic rules (solve, inv, det, logdet) keep their real formulas, with transposes, not conjugate transposes.
The others are derived for A = L Lᴴ, V Λ Vᴴ, U S Vᴴ, Q R (R's diagonal real, as LAPACK's) and A⁺: their jvps carry
conjugate transposes where the real ones carry transposes, and their vjps are the exact adjoints of those jvps under
that pairing (conjugates of U, V, Q appear). Hermitian inputs are read from the lower triangle and the real part of
the diagonal (as LAPACK does), so their gradients carry the entry above back conjugated, and only a real diagonal.
The phases of eigenvectors and singular vectors are arbitrary: the jvps choose dV with a zero diagonal in Vᴴ dV
(for the SVD, i Im(Uᴴ dA V)_ii / s_i on U's side), and only losses that do not depend on the phases have a gradient
that means anything.
"""

from __future__ import annotations

import numpy as np

from ..errors import NoDerivativeError
from . import numpy_math
from .registry import GENERAL, Rule, Sample, is_complex, register


# ---------------------------------------------------------------------------------------------------------------
# Helpers that work in every namespace: constant masks (made by ``m``, in the operand's dtype) times the operands.
# ---------------------------------------------------------------------------------------------------------------
def _t(x, m):
    return m.swapaxes(x, -1, -2)




def _conj(x, m):
    """conj(x) for complex x; a real x as it is (no node in the graph)."""
    return m.conj(x) if is_complex(x, m) else x


def _re(x, m):
    return m.real(x) if is_complex(x, m) else x


def _h(x, m):
    """The conjugate transpose xᴴ (the transpose for real x)."""
    return _conj(_t(x, m), m)


def _eye(x, m, n=None):
    """The identity in x's dtype, in x's library and on its device."""
    return m.eye(np.shape(x)[-1] if n is None else n, x)


def _strict_lower(x, m):
    return m.tril_mask(np.shape(x)[-1], -1, x)


def _diag(x, m):
    """The diagonal of each matrix of ``x``, (..., n, n) -> (..., n)."""
    return m.sum(x * _eye(x, m), axis=-1)


def _diag_embed(v, m):
    """Diagonal matrices from vectors, (..., n) -> (..., n, n)."""
    return v[..., None] * _eye(v, m)


def _trace(x, m):
    return m.sum(_diag(x, m), axis=-1)


def _mv(a, v, m):
    """Matrix times vector, batched: (..., n, k) @ (..., k) -> (..., n)."""
    return m.matmul(a, v[..., None])[..., 0]


def _symmetric_from_lower(x, m):
    """The symmetric (complex: Hermitian) matrix that a function reading only the lower triangle of ``x`` sees (the
    tangent of it). LAPACK reads only the real part of a Hermitian matrix's diagonal."""
    lower = x * _strict_lower(x, m)
    return lower + _h(lower, m) + _re(x, m) * _eye(x, m)


def _onto_lower(grad, m):
    """A gradient ``grad`` with respect to that symmetric matrix, carried back onto the lower triangle it was built
    from: off the diagonal each entry below counts twice (once for each place), nothing above it is read. Complex:
    the entry above is the conjugate of the one below, so its covector comes back conjugated, and only the real part
    of the diagonal is read."""
    return (grad + _conj(_t(grad, m), m)) * _strict_lower(grad, m) + _re(grad, m) * _eye(grad, m)


def _gaps(w, m):
    """F with F_ij = 1/(w_j − w_i) off the diagonal and 0 on it; inf where two values are equal."""
    eye = _eye(w, m)
    return (1 - eye) / (w[..., None, :] - w[..., :, None] + eye)  # NumPy warns of the division by zero


def _nonzero(g, m) -> bool:
    """Whether ``g`` has a nonzero value (the parts of a packed output that a loss does not use get exact zeros)."""
    raw = m.stop(g)
    return numpy_math.raw_namespace(raw, m).has_nonzero(raw)


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
    vjps=(_solve_vjp_a, _solve_vjp_b), jvp=_solve_jvp, shape_only=("b",), supports_complex=True,
    text=("-(A^-T g) x^T", "A^-T g"), tex=(r"-A^{-T} g\, x^{T}", r"A^{-T} g"), display=r"A^{-1} b",
    samples=(Sample(((3, 3), (3,))), Sample(((2, 3, 3), (3, 2))), Sample(((2, 3, 3), (3,)))),
    note="x = solve(A, b) with b a vector when it is 1-D, else a stack of (n, k) matrices (NumPy 2)",
))

register(Rule(
    name="inv", forward=numpy_math.inv, kind=GENERAL, batchable=True, arity=1,
    vjps=(lambda g, x, y, m: -m.matmul(_t(y, m), m.matmul(g, _t(y, m))),),
    jvp=lambda ts, x, y, m: -m.matmul(y, m.matmul(ts[0], y)), shape_only=("x",), supports_complex=True,
    text=("-Y^T g Y^T",), tex=(r"-Y^{T} g\, Y^{T}",), display=r"X^{-1}",
    samples=(Sample(((3, 3),)), Sample(((2, 3, 3),))),
))


def _det_vjp(g, x, y, m):
    # d det X = det X · tr(X⁻¹ dX): the gradient det X · X⁻ᵀ, as a solve against g·det X · I.
    return m.solve(_t(x, m), (g * y)[..., None, None] * _eye(x, m))


register(Rule(
    name="det", forward=np.linalg.det, kind=GENERAL, arity=1,
    vjps=(_det_vjp,), jvp=lambda ts, x, y, m: y * _trace(m.solve(x, ts[0]), m), supports_complex=True,
    text=("g det(X) X^-T",), tex=(r"g \det X\, X^{-T}",), display=r"\det X",
    samples=(Sample(((3, 3),)), Sample(((2, 3, 3),))),
    note="at a singular matrix the gradient raises (it solves with X) rather than give the adjugate",
))


def _times_eye(g, x, m):
    """g·I for each matrix of x, from the upstream gradient g of a scalar-per-matrix result (second order may hand a
    Python number, which stays a weak scalar)."""
    if isinstance(g, int | float | complex):
        return g * _eye(x, m)
    return g[..., None, None] * _eye(x, m)


def _logabsdet(x):
    return np.linalg.slogdet(x)[1]


# log|det X| = Re log det X for complex X: its covector is g X⁻ᵀ as for real X (g is real), its tangent the real part.
register(Rule(
    name="logabsdet", forward=_logabsdet, kind=GENERAL, arity=1,
    vjps=(lambda g, x, y, m: m.solve(_t(x, m), _times_eye(g, x, m)),),
    jvp=lambda ts, x, y, m: _re(_trace(m.solve(x, ts[0]), m), m), supports_complex=True,
    text=("g X^-T",), tex=(r"g\, X^{-T}",), display=r"\log\lvert\det X\rvert",
    samples=(Sample(((3, 3),)), Sample(((2, 3, 3),))),
    note="slogdet's second result; the sign of a real determinant has no gradient",
))


def _logdet(x):
    sign, logabs = np.linalg.slogdet(x)
    with np.errstate(invalid="ignore", divide="ignore"):  # a real negative (zero) determinant: nan (-inf), as np.log
        return logabs + np.log(sign)


register(Rule(
    name="logdet", forward=_logdet, kind=GENERAL, arity=1,
    vjps=(lambda g, x, y, m: m.solve(_t(x, m), _times_eye(g, x, m)),),
    jvp=lambda ts, x, y, m: _trace(m.solve(x, ts[0]), m), supports_complex=True,
    text=("g X^-T",), tex=(r"g\, X^{-T}",), display=r"\log\det X",
    samples=(Sample(((3, 3),), values=(np.array([[4.0, 1.0, -0.5], [1.0, 3.0, 0.7], [-0.5, 0.7, 2.5]]),)),),
    note="log det X, holomorphic (from slogdet, no overflow); for complex X, slogdet's sign is exp(i Im log det X) "
         "and log|det X| its real part; nan for a real X with negative determinant",
))


# ---------------------------------------------------------------------------------------------------------------
# cholesky: A = L Lᵀ, reading A's lower triangle.
# ---------------------------------------------------------------------------------------------------------------
def _phi(x, m):
    """The mask of Φ: the lower triangle with the diagonal halved."""
    return _strict_lower(x, m) + 0.5 * _eye(x, m)


def _solve_lower(lower, b, trans, m):
    """op(L)⁻¹ b for a lower-triangular L (op(L) = L, or Lᵀ for trans=1), with the general solve: the core has no
    triangular one (SciPy's rules pass theirs to the functions below)."""
    return m.solve(_t(lower, m) if trans else lower, b)


def _plain_real(*arrays) -> bool:
    return all(type(a) is np.ndarray and a.dtype.kind == "f" and a.dtype == arrays[0].dtype for a in arrays)


def cholesky_vjp(g, x, y, m, solve_lower=_solve_lower):
    """The gradient Ā, on the lower triangle read, of L = chol(A) = y under the upstream ḡ = g: the rule of both
    ``cholesky`` and SciPy's ``cho_factor``. ``solve_lower(L, b, trans, m)`` is op(L)⁻¹ b.

    dL = L Φ(L⁻¹ dA L⁻ᴴ); its adjoint is Ā = L⁻ᵀ Φ(Lᵀ ḡ) conj(L)⁻¹ (L⁻ᵀ Φ(Lᵀ ḡ) L⁻¹ for real L), carried onto the
    lower triangle (Hermitian for complex A). Written against ``m`` (so differentiable again) that is a triangular
    product and two triangular solves, about 3n³ flops; on real arrays, the same gradient by blocks, about n³
    (numpy_math.cholesky_vjp_blocked)."""
    if _plain_real(g, y):
        return numpy_math.cholesky_vjp_blocked(g, y)
    inner = m.matmul(_t(y, m), g) * _phi(y, m)
    grad = solve_lower(y, _t(solve_lower(_conj(y, m), _t(inner, m), 1, m), m), 1, m)
    return _onto_lower(grad, m)


def cholesky_jvp(ts, x, y, m, solve_lower=_solve_lower):
    """dL = L Φ(L⁻¹ dA L⁻ᴴ) for L = chol(A) = y and the tangent of A's lower triangle ``ts[0]``."""
    da = _symmetric_from_lower(ts[0], m)
    inner = solve_lower(y, _h(solve_lower(y, da, 0, m), m), 0, m)  # L⁻¹ dA L⁻ᴴ, as dA is Hermitian
    return m.matmul(y, inner * _phi(y, m))


_SPD = np.array([[4.0, 1.0, -0.5], [1.0, 3.0, 0.7], [-0.5, 0.7, 2.5]])

register(Rule(
    name="cholesky", forward=numpy_math.cholesky, kind=GENERAL, arity=1,
    vjps=(cholesky_vjp,), jvp=cholesky_jvp, shape_only=("x",), supports_complex=True,
    text=("L^-T Phi(L^T g) L^-1, onto the lower triangle",),
    tex=(r"L^{-T}\,\Phi(L^{T} g)\,L^{-1}",), display=r"\operatorname{chol} X",
    samples=(Sample(((3, 3),), values=(_SPD,)),
             Sample(((2, 3, 3),), values=(np.stack([_SPD, _SPD @ _SPD + np.eye(3)]),))),
    note="reads the lower triangle of X, as NumPy's; X must be positive definite (complex: Hermitian, the "
         "imaginary part of the diagonal unread)",
))


# ---------------------------------------------------------------------------------------------------------------
# eigh (packed: eigenvalues in row 0, eigenvectors below) and eigvalsh.
# ---------------------------------------------------------------------------------------------------------------
def _eigh_vjp(g, x, y, m):
    # Complex (Hermitian) X: dλ = diag(Vᴴ dA V), dV = V (F ∘ Vᴴ dA V) (the phase of each eigenvector is arbitrary; this
    # choice adds none), whose adjoint is conj(V) (diag(Re ḡ_λ) + F ∘ Vᵀ ḡ_V) Vᵀ. Real X: V (...) Vᵀ.
    w, v = y[..., 0, :], y[..., 1:, :]
    gw, gv = g[..., 0, :], g[..., 1:, :]
    inner = _diag_embed(_re(gw, m), m)
    if _nonzero(gv, m):  # only a loss of the eigenvectors reads the 1/(λ_j − λ_i) terms
        inner = inner + _gaps(w, m) * m.matmul(_t(v, m), gv)
    return _onto_lower(m.matmul(_conj(v, m), m.matmul(inner, _t(v, m))), m)


def _eigh_jvp(ts, x, y, m):
    w, v = y[..., 0, :], y[..., 1:, :]
    p = m.matmul(_h(v, m), m.matmul(_symmetric_from_lower(ts[0], m), v))  # Vᴴ dA V
    dv = m.matmul(v, _gaps(w, m) * p)
    return m.concatenate([_diag(p, m)[..., None, :], dv], axis=-2)


register(Rule(
    name="eigh", forward=numpy_math.eigh, kind=GENERAL, arity=1,
    vjps=(_eigh_vjp,), jvp=_eigh_jvp, shape_only=("x",), supports_complex=True,
    text=("V (diag(gw) + F*(V^T gV)) V^T, F_ij = 1/(w_j - w_i)",),
    tex=(r"V\left(\operatorname{diag}(\bar w) + F \circ V^{T}\bar V\right)V^{T},\ F_{ij} = \frac{1}{w_j - w_i}",),
    display=r"\operatorname{eigh} X",
    samples=(Sample(((3, 3),)), Sample(((2, 3, 3),))),
    note="output packed as (..., n+1, n): eigenvalues in row 0, eigenvectors below; reads the lower triangle; "
         "eigenvector gradients are inf/nan at repeated eigenvalues",
))


def _eigvalsh_vjp(g, x, y, m):
    v = m.eigh(x)[..., 1:, :]
    return _onto_lower(m.matmul(_conj(v, m) * g[..., None, :], _t(v, m)), m)  # conj(V) diag(ḡ) Vᵀ


def _eigvalsh_jvp(ts, x, y, m):
    v = m.eigh(x)[..., 1:, :]
    return _re(m.sum(_conj(v, m) * m.matmul(_symmetric_from_lower(ts[0], m), v), axis=-2), m)  # diag(Vᴴ dA V)


register(Rule(
    name="eigvalsh", forward=np.linalg.eigvalsh, kind=GENERAL, batchable=True, arity=1, supports_complex=True,
    vjps=(_eigvalsh_vjp,), jvp=_eigvalsh_jvp,
    text=("V diag(g) V^T",), tex=(r"V \operatorname{diag}(g)\, V^{T}",), display=r"\lambda(X)",
    samples=(Sample(((3, 3),)), Sample(((2, 3, 3),))),
    note="reads the lower triangle; finite at repeated eigenvalues",
))


# ---------------------------------------------------------------------------------------------------------------
# eig (packed: eigenvalues in row 0, eigenvectors below; complex) and eigvals, for general square matrices.
#
# A = V Λ V⁻¹. With P = V⁻¹ dA V: dλ = diag P, and V⁻¹ dV = F ∘ P + diag(c), F_ij = 1/(λ_j − λ_i), where c, the
# change of each column along itself, is the gauge that the normalisation fixes. LAPACK gives each eigenvector unit
# norm and makes its largest component v_k real, so with W = V (F ∘ P), dv_i = w_i − c_i v_i needs
# Re vᴴ dv = 0 (norm) and Im dv_k = 0 (phase): c_i = Re(v_iᴴ w_i) + i Im(w_ki) / v_ki. This is the derivative of the
# vectors NumPy returns, not only of phase-free functions of them (JAX and PyTorch choose Im vᴴ dv = 0 instead; for
# a loss that does not depend on the phases, as a loss of eigenvectors of a complex matrix should not, the two give
# the same gradient). The jvp is real-linear only (Re, Im), and the vjp is its adjoint under Re Σ ḡ·dy.
# ---------------------------------------------------------------------------------------------------------------
def _largest(v, m):
    """The one-hot mask (..., n, n), in v's real dtype, of each column's largest component, which LAPACK makes real
    (the first on a tie, as LAPACK's and argmax pick)."""
    values = m.stop(v)
    return numpy_math.raw_namespace(values, m).largest_component(values)


def _eig_inner(ta, v, m):
    """V⁻¹ dA V, by a solve."""
    return m.solve(v, m.matmul(ta, v))


def _eig_jvp(ts, x, y, m):
    w, v = y[..., 0, :], y[..., 1:, :]
    p = _eig_inner(ts[0], v, m)
    dw = m.matmul(v, _gaps(w, m) * p)  # W = V (F ∘ P); then remove c_i v_i from each column
    mask = _largest(v, m)
    c = (m.real(m.sum(m.conj(v) * dw, axis=-2))
         + 1j * m.imag(m.sum(mask * dw, axis=-2)) / m.real(m.sum(mask * v, axis=-2)))
    return m.concatenate([_diag(p, m)[..., None, :], dw - v * c[..., None, :]], axis=-2)


def _eig_vjp(g, x, y, m):
    # The adjoint: Ā = V⁻ᵀ (diag(ḡ_λ) + F ∘ Vᵀ G) Vᵀ, with G = ḡ_V − conj(V) diag(Re s) − i E diag(Im s / v_k) the
    # adjoint of the gauge step (s = diag(Vᵀ ḡ_V), E the mask of the v_k), a solve with Vᵀ rather than an inverse.
    w, v = y[..., 0, :], y[..., 1:, :]
    gw, gv = g[..., 0, :], g[..., 1:, :]
    inner = _diag_embed(gw, m)
    if _nonzero(gv, m):  # only a loss of the eigenvectors reads the 1/(λ_j − λ_i) terms
        s = m.sum(v * gv, axis=-2)
        mask = _largest(v, m)
        vk = m.real(m.sum(mask * v, axis=-2))
        gv = gv - m.conj(v) * m.real(s)[..., None, :] - mask * (1j * m.imag(s) / vk)[..., None, :]
        inner = inner + _gaps(w, m) * m.matmul(_t(v, m), gv)
    return m.solve(_t(v, m), m.matmul(inner, _t(v, m)))


register(Rule(
    name="eig", forward=numpy_math.eig, kind=GENERAL, arity=1,
    vjps=(_eig_vjp,), jvp=_eig_jvp, shape_only=("x",), supports_complex=True,
    text=("V^-T (diag(gw) + F*(V^T G)) V^T, F_ij = 1/(w_j - w_i), G = gV less the gauge",),
    tex=(r"V^{-T}\left(\operatorname{diag}(\bar w) + F \circ V^{T}\bar G\right)V^{T},\ F_{ij} = \frac{1}{w_j - w_i}",),
    display=r"\operatorname{eig} X",
    samples=(Sample(((3, 3),)), Sample(((2, 3, 3),)), Sample(((4, 4),), domain=(-1.0, 1.0))),
    note="output packed as (..., n+1, n), complex: eigenvalues in row 0, eigenvectors below (unit norm, largest "
         "component real, as LAPACK's, and differentiated so); eigenvector gradients are inf/nan at repeated "
         "eigenvalues, and V must be invertible (not defective)",
))


def _eigvals(x):
    # From eig, not eigvals: the derivatives read V from m.eig(x), and the same LAPACK call gives the eigenvalues in
    # the same order (geev without vectors may order or round them differently).
    return numpy_math.eig(x)[..., 0, :]


def _eigvals_vjp(g, x, y, m):
    v = m.eig(x)[..., 1:, :]
    vt = _t(v, m)
    return m.solve(vt, g[..., :, None] * vt)  # V⁻ᵀ diag(ḡ) Vᵀ


def _eigvals_jvp(ts, x, y, m):
    return _diag(_eig_inner(ts[0], m.eig(x)[..., 1:, :], m), m)  # diag(V⁻¹ dA V)


register(Rule(
    name="eigvals", forward=_eigvals, kind=GENERAL, arity=1, supports_complex=True,
    vjps=(_eigvals_vjp,), jvp=_eigvals_jvp,
    text=("V^-T diag(g) V^T",), tex=(r"V^{-T} \operatorname{diag}(g)\, V^{T}",), display=r"\lambda(X)",
    samples=(Sample(((3, 3),)), Sample(((2, 3, 3),))),
    note="eigenvalues of a general square matrix, always complex; V must be invertible",
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
    # Townsend (2016), with F_ij = 1/(s_j² − s_i²). Complex X (A = U S Vᴴ): the adjoint of _svd_jvp below, in the
    # covector convention: conj(U) N conj(Vh) with N from Uᵀ Ū and Vᵀ V̄ (V̄ = Vh̄ᴴ) and, for the phase that jvp gives
    # U, i Im(Uᵀ Ū)_ii / s_i on the diagonal. Real X: U N Vh.
    shape = np.shape(x)
    rows, cols = shape[-2:]
    k = min(rows, cols)
    u, s, vh = svd_parts(y, shape, m)
    s = _re(s, m)
    gu, gs, gvh = svd_parts(g, shape, m)
    v, gv = _h(vh, m), _h(gvh, m)
    inner = _diag_embed(_re(gs, m), m)
    if _nonzero(gu, m) or _nonzero(gv, m):  # only a loss of the singular vectors reads 1/(s_j² − s_i²) and 1/s
        f = _gaps(s * s, m)
        ug, vg = m.matmul(_t(u, m), gu), m.matmul(_t(v, m), gv)
        inner = (inner + (f * (ug - _h(ug, m))) * s[..., None, :] + s[..., :, None] * (f * (vg - _h(vg, m))))
        if is_complex(ug, m):  # i Im(Uᵀ Ū)_ii / s_i
            inner = inner + _diag_embed((_diag(ug, m) - m.conj(_diag(ug, m))) / (2 * s), m)
    uc, vhc = _conj(u, m), _conj(vh, m)
    out = m.matmul(uc, m.matmul(inner, vhc))
    if rows > k and _nonzero(gu, m):  # (I − conj(U) Uᵀ) Ū S⁻¹ conj(Vh)
        out = out + m.matmul((gu - m.matmul(uc, m.matmul(_t(u, m), gu))) / s[..., None, :], vhc)
    if cols > k and _nonzero(gv, m):  # conj(U) S⁻¹ Vh̄ (I − Vhᵀ conj(Vh))
        out = out + m.matmul(uc, (gvh - m.matmul(m.matmul(gvh, _t(vh, m)), vhc)) / s[..., :, None])
    return out


def _svd_jvp(ts, x, y, m):
    # dU = U Ω_U + (I − UUᴴ) dA V S⁻¹ and dV = V Ω_V + (I − VVᴴ) dAᴴ U S⁻¹ with P = Uᴴ dA V: Ω_U = F ∘ (P S + S Pᴴ),
    # Ω_V = F ∘ (S P + Pᴴ S) off the diagonal; dS = Re diag P. Complex: the phases of the columns are arbitrary, and
    # this choice puts i Im P_ii / s_i on the diagonal of Ω_U, 0 on Ω_V's.
    shape = np.shape(x)
    rows, cols = shape[-2:]
    k = min(rows, cols)
    u, s, vh = svd_parts(y, shape, m)
    s = _re(s, m)
    v, da = _h(vh, m), ts[0]
    p = m.matmul(_h(u, m), m.matmul(da, v))  # Uᴴ dA V
    f = _gaps(s * s, m)
    omega_u = f * (p * s[..., None, :] + s[..., :, None] * _h(p, m))
    if is_complex(p, m):
        omega_u = omega_u + _diag_embed((_diag(p, m) - m.conj(_diag(p, m))) / (2 * s), m)
    du = m.matmul(u, omega_u)
    dv = m.matmul(v, f * (s[..., :, None] * p + _h(p, m) * s[..., None, :]))
    if rows > k:
        dav = m.matmul(da, v)
        du = du + (dav - m.matmul(u, m.matmul(_h(u, m), dav))) / s[..., None, :]
    if cols > k:
        dtu = m.matmul(_h(da, m), u)
        dv = dv + (dtu - m.matmul(v, m.matmul(vh, dtu))) / s[..., None, :]
    return _pack((du, _re(_diag(p, m), m), _h(dv, m)), shape[:-2], m)


register(Rule(
    name="svd", forward=numpy_math.svd, kind=GENERAL, arity=1, supports_complex=True,
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
    return m.matmul(_conj(u, m) * g[..., None, :], _conj(vh, m))  # conj(U) diag(ḡ) conj(Vh)


def _svdvals_jvp(ts, x, y, m):
    u, _, vh = svd_parts(m.svd(x), np.shape(x), m)
    return _re(m.sum(_conj(u, m) * m.matmul(ts[0], _h(vh, m)), axis=-2), m)  # Re diag(Uᴴ dA V)


register(Rule(
    name="svdvals", forward=lambda x: np.linalg.svd(x, compute_uv=False), kind=GENERAL, batchable=True, arity=1,
    supports_complex=True,
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
    # Complex (R with a real diagonal, as LAPACK's): Ā = (Q̄ + conj(Q) herm(conj M)) R⁻ᵀ, the adjoint of _qr_jvp.
    _wide(np.shape(x))
    q, r = qr_parts(y, np.shape(x), m)
    gq, gr = qr_parts(g, np.shape(x), m)
    inner = m.matmul(r, _t(gr, m)) - m.matmul(_t(gq, m), q)
    return _t(m.solve(r, _t(gq + m.matmul(_conj(q, m), _symmetric_from_lower(_conj(inner, m), m)), m)), m)


def _qr_jvp(ts, x, y, m):
    _wide(np.shape(x))
    q, r = qr_parts(y, np.shape(x), m)
    dar = _right_solve(ts[0], r, m)  # dA R⁻¹
    c = m.matmul(_h(q, m), dar)
    lower = c * _strict_lower(c, m)
    # dR R⁻¹ = C − Ω, upper triangular, with Ω = Qᴴ dQ skew-Hermitian: Ω = lower(C) − lower(C)ᴴ (+ i Im diag C for
    # complex, as R's diagonal stays real).
    upper = c - lower + _h(lower, m)
    if is_complex(c, m):
        upper = upper - (c - _re(c, m)) * _eye(c, m)
    return _pack((dar - m.matmul(q, upper), m.matmul(upper, r)), np.shape(x)[:-2], m)


register(Rule(
    name="qr", forward=numpy_math.qr, kind=GENERAL, arity=1, supports_complex=True,
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
    # Complex: the real formula with conjugate transposes acts on conj(ḡ) (PyTorch's convention); conjugating its
    # result gives the covector. Real: the formula itself.
    yt = _h(y, m)
    gc = _conj(g, m)
    left = _eye(x, m, np.shape(x)[-2]) - m.matmul(x, y)  # I − A A⁺
    right = _eye(x, m) - m.matmul(y, x)  # I − A⁺ A
    out = (-m.matmul(yt, m.matmul(gc, yt)) + m.matmul(left, m.matmul(_t(g, m), m.matmul(y, yt)))
           + m.matmul(m.matmul(yt, y), m.matmul(_t(g, m), right)))
    return _conj(out, m)


def _pinv_jvp(ts, x, y, m):
    da, yt = ts[0], _h(y, m)
    left = _eye(x, m, np.shape(x)[-2]) - m.matmul(x, y)
    right = _eye(x, m) - m.matmul(y, x)
    return (-m.matmul(y, m.matmul(da, y)) + m.matmul(m.matmul(y, yt), m.matmul(_h(da, m), left))
            + m.matmul(right, m.matmul(_h(da, m), m.matmul(yt, y))))


register(Rule(
    name="pinv", forward=np.linalg.pinv, kind=GENERAL, batchable=True, arity=1, supports_complex=True,
    vjps=(_pinv_vjp,), jvp=_pinv_jvp,
    text=("-Y^T g Y^T + (I - AY) g^T Y Y^T + Y^T Y g^T (I - YA)",),
    tex=(r"-Y^{T} g Y^{T} + (I - AY)\, g^{T} Y Y^{T} + Y^{T} Y g^{T} (I - YA)",), display=r"X^{+}",
    samples=(Sample(((3, 3),)), Sample(((4, 2),)), Sample(((2, 2, 3),))),
    note="differentiable where the rank is locally constant (e.g. full rank)",
))
