"""eig and eigvals of general square matrices on any Array API library (the standard's linalg extension has no
general eigensolver), with NumPy's conventions: packed as (..., n + 1, n), complex (complex64 for float32 and
complex64 input, else complex128), eigenvectors of unit norm whose largest component is real (and here positive).

A library that has LAPACK's geev itself (``OWN_EIG``: PyTorch) uses it, as NumPy does: the same order
of eigenvalues and the same vectors (up to the sign of a real vector). Elsewhere the textbook path, in the library's
own array operations, batched over leading axes:

1. A scaled by a power of two (exact) so that its largest entry is near 1: no overflow or underflow on the way;
   then balanced as LAPACK balances (a diagonal similarity of powers of two), as NumPy's eig does.
2. Hessenberg form A = Q H Qᴴ by Householder reflections, one per column (rank-one updates of whole matrices).
3. The complex Schur form H = Z T Zᴴ by shifted QR iterations on the active leading block: H − σI = QR, H ← QᴴHQ
   (= RQ + σI) with the library's ``linalg.qr`` and σ the eigenvalue of the trailing 2×2 block nearer its corner
   (Wilkinson's shift; an exceptional shift every 10th iteration breaks cycles, as LAPACK's zlahqr does).
   The bottom entry deflates when its subdiagonal is below ε(|h_{m-1,m-1}| + |h_mm|); the active block then shrinks
   by one. Every matrix of a batch iterates until all have deflated (an extra step on a deflated one keeps it so).
4. Eigenvectors of T by back-substitution, row by row from the bottom for all columns at once (a denominator
   λ_i − λ_k smaller than ε|λ_k| is replaced by that bound, as LAPACK's ztrevc does), then V = Q Z X, normalised as
   LAPACK's: unit 2-norm, the component of largest modulus (the first on a tie) made real and positive.

Accuracy (tests/test_eig_backends.py, float64): eigenvalues within 6e-15·‖A‖₂ of LAPACK's, eigenvectors within
3e-14 and residuals ‖AV − VΛ‖ within 2e-15·‖A‖₂ for Gaussian matrices up to n = 50 (real and complex); badly scaled
matrices keep relative accuracy through balancing; ill-conditioned eigenvalues (near-defective matrices) lose
accuracy as LAPACK's do, in proportion to their condition numbers. The order of the eigenvalues is the order in
which they deflate, not LAPACK's. For real input, the eigenvalues that are real (those nearer their own conjugate than
any other eigenvalue) are made exactly real with their eigenvectors, as LAPACK's are, so that NumPy's real-or-complex
result type comes out the same; conjugate pairs are conjugate to rounding (LAPACK's exactly).
"""

from __future__ import annotations

from typing import Any

from ...errors import DomainError, ShapeError
from .registry import portable

# Libraries whose own linalg.eig is LAPACK's geev, as NumPy's, used instead of the portable path: the same order of
# eigenvalues, eigenvectors of unit norm with their largest component real (only the sign of a real vector may differ
# with the LAPACK build); compared with NumPy in tests/test_eig_backends.py.
OWN_EIG = ("torch",)

# Iterations of the QR algorithm per eigenvalue before giving up: ITERATIONS·max(10, n), LAPACK's zlahqr's budget
# for a whole matrix (a nearly defective eigenvalue can need dozens). Every EXCEPTIONAL-th one takes an exceptional
# shift instead of Wilkinson's, alternately from the top and the bottom of the block, as zlahqr does.
ITERATIONS = 30
EXCEPTIONAL = 10
# Sweeps of balancing at most (each usually ends the first time nothing changes, after a few).
MAX_SWEEPS = 32


@portable("eig")
def eig(backend: Any, x: Any) -> Any:
    """Eigenvalues (row 0) and right eigenvectors (below) of the square matrices x, packed as (..., n + 1, n)."""
    x = _square(backend, x)
    xp = backend.xp
    if backend.name in OWN_EIG:
        w, v = xp.linalg.eig(x)
    else:
        w, v = eigenpairs(backend, x)
    return xp.concat([w[..., None, :], v], axis=-2)


@portable("eigvals")
def eigvals(backend: Any, x: Any) -> Any:
    """The eigenvalues of each matrix of x, from ``eig`` as NumPy's forward (the derivatives read V from the same
    call, so the orders agree)."""
    return backend.m.eig(x)[..., 0, :]


def _square(backend, x):
    """x as a floating or complex array of this library (integers as float64), checked: square, finite."""
    (x,) = backend._floats(x)
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ShapeError(f"eig expects square matrices (..., n, n), got an array of shape {tuple(x.shape)}")
    if not bool(backend.xp.all(backend.xp.isfinite(x))):
        raise DomainError(f"eig: the matrix of shape {tuple(x.shape)} has inf or nan entries; expected finite ones")
    return x


def eigenpairs(backend: Any, a: Any) -> tuple[Any, Any]:
    """(w, V) with A V = V diag(w), for square finite ``a`` (..., n, n), by the portable path (module docstring)."""
    xp = backend.xp
    dtype = xp.complex64 if a.dtype in (xp.float32, xp.complex64) else xp.complex128
    real = not xp.isdtype(a.dtype, "complex floating")
    a = xp.astype(a, dtype)
    n = a.shape[-1]
    if n == 0:
        return xp.zeros(tuple(a.shape[:-1]), dtype=dtype, device=a.device), a
    size = xp.max(xp.abs(a), axis=(-2, -1), keepdims=True)
    one = xp.ones_like(size)
    scale = xp.where(size > 0, 2.0 ** xp.round(xp.log2(xp.where(size > 0, size, one))), one)
    balanced, d = _balanced(backend, a / xp.astype(scale, dtype))
    h, q = _hessenberg(backend, balanced)
    t, z = _schur(backend, h)
    w = xp.sum(t * _eye(backend, n, t), axis=-1)
    v = xp.matmul(xp.matmul(q, z), _triangular_eigenvectors(backend, t, w))
    v = _normalised(backend, xp.astype(d, dtype)[..., :, None] * v)
    w = w * xp.astype(scale[..., 0], dtype)
    return _real_where_real(backend, w, v) if real else (w, v)


def _real_where_real(backend, w, v):
    """For a real matrix: the eigenvalues that are real made exactly real, and their eigenvectors too (LAPACK's real
    Schur form gives them so, and NumPy's eig then returns real arrays). The eigenvalues of a real matrix are their
    own conjugates as a set: λ_j counts as real when conj(λ_j) is nearer to λ_j than to any other λ_k (2|Im λ_j| is
    rounding, of the size of λ_j's error, where a complex pair's partner is at rounding distance of conj(λ_j))."""
    xp = backend.xp
    n = w.shape[-1]
    distance = xp.abs(w[..., None, :] - xp.conj(w)[..., :, None])  # [j, k]: |λ_k − conj(λ_j)|
    itself = xp.abs(xp.imag(w)) * 2
    others = xp.min(xp.where(_eye(backend, n, distance) > 0, xp.full_like(distance, xp.inf), distance), axis=-1)
    real = itself <= others
    w = xp.where(real, xp.astype(xp.real(w), w.dtype), w)
    return w, xp.where(real[..., None, :], xp.astype(xp.real(v), v.dtype), v)


def _eye(backend, n, like):
    return backend.xp.eye(n, dtype=like.dtype, device=like.device)


def _norm(xp, x, axis):
    """The 2-norm along ``axis`` (kept), scaled by the largest modulus so that squares neither overflow nor
    underflow."""
    size = xp.max(xp.abs(x), axis=axis, keepdims=True)
    size = xp.where(size > 0, size, xp.ones_like(size))
    y = x / xp.astype(size, x.dtype)
    return size * xp.sqrt(xp.sum(xp.real(y * xp.conj(y)), axis=axis, keepdims=True))


def _balanced(backend, a):
    """(B, d) with B = D⁻¹ A D, D = diag(d) of powers of two (exact), rows and columns of B of similar norms: LAPACK's
    balancing by scaling (Parlett and Reinsch; James, Langou and Lowery's 2-norms), which NumPy's eig does too. For
    each i in turn, column i times f and row i over f, f = 2^round(log2(r/c)/2) for their norms c and r, when that
    reduces c + r by 5% at least; sweeps until none does. Without it the eigenvalues of a matrix such as
    diag(10⁻⁶…10⁶) B diag(10⁶…10⁻⁶) lose all relative accuracy below the largest (errors of ε‖A‖ are large to them).
    Norms are of squares without rescaling: A's largest entry is near 1 here, and scaling brings norms together."""
    xp = backend.xp
    n = a.shape[-1]
    positions = xp.arange(n, device=a.device)
    d = xp.ones(tuple(a.shape[:-1]), dtype=xp.real(a[..., 0, :1]).dtype, device=a.device)
    for _ in range(MAX_SWEEPS):
        changed = xp.zeros(tuple(a.shape[:-2]), dtype=xp.bool, device=a.device)
        for i in range(n):
            column, row = a[..., :, i], a[..., i, :]
            c = xp.sqrt(xp.sum(xp.real(column * xp.conj(column)), axis=-1))
            r = xp.sqrt(xp.sum(xp.real(row * xp.conj(row)), axis=-1))
            both = (c > 0) & (r > 0)
            one = xp.ones_like(c)
            f = 2.0 ** xp.round((xp.log2(xp.where(both, r, one)) - xp.log2(xp.where(both, c, one))) / 2)
            better = both & (c * f + r / f < 0.95 * (c + r))
            factors = xp.where((positions == i) & better[..., None], f[..., None], xp.ones_like(d))
            a = a * xp.astype(factors[..., None, :] / factors[..., :, None], a.dtype)
            d = d * factors
            changed = changed | better
        if not bool(xp.any(changed)):
            break
    return a, d


def _hessenberg(backend, a):
    """(H, Q) with a = Q H Qᴴ, H upper Hessenberg, Q unitary: for column k the reflection I − τ u uᴴ that maps
    x = a[k+1:, k] to −e^(i arg x₀)‖x‖ e₁ (the sign away from x₀, so no cancellation in u₀ = x₀ + e^(i arg x₀)‖x‖)."""
    xp = backend.xp
    n = a.shape[-1]
    h, q = a, xp.broadcast_to(_eye(backend, n, a), a.shape)
    for k in range(n - 2):
        x = h[..., k + 1:, k]
        norm = _norm(xp, x, -1)[..., 0]
        size0 = xp.abs(x[..., 0])
        phase = xp.where(size0 > 0, x[..., 0] / xp.astype(xp.where(size0 > 0, size0, xp.ones_like(size0)), a.dtype),
                         xp.ones_like(x[..., 0]))
        u0 = x[..., 0] + phase * xp.astype(norm, a.dtype)
        uu = 2 * norm * (norm + size0)  # uᴴu = |x₀|² + 2|x₀|‖x‖ + ‖x‖² + (‖x‖² − |x₀|²)
        positive = uu > 0
        tau = xp.where(positive, 2 / xp.where(positive, uu, xp.ones_like(uu)), xp.zeros_like(uu))  # 0: no reflection
        zeros = xp.zeros(tuple(a.shape[:-2]) + (k + 1,), dtype=a.dtype, device=a.device)
        u = xp.concat([zeros, u0[..., None], x[..., 1:]], axis=-1)[..., :, None]
        uh = xp.conj(xp.matrix_transpose(u)) * xp.astype(tau, a.dtype)[..., None, None]
        h = h - xp.matmul(u, xp.matmul(uh, h))
        h = h - xp.matmul(xp.matmul(h, u), uh)
        q = q - xp.matmul(xp.matmul(q, u), uh)
    return h * _hessenberg_mask(backend, n, h), q


def _hessenberg_mask(backend, n, like):
    ones = backend.xp.ones((n, n), dtype=like.dtype, device=like.device)
    return backend.xp.triu(ones, k=-1)


def _schur(backend, h):
    """(T, Z) with h = Z T Zᴴ, T upper triangular (the complex Schur form), by shifted QR iterations on the leading
    (m+1)×(m+1) block, m from n − 1 down: the rows of T come out from the last."""
    xp = backend.xp
    n = h.shape[-1]
    eps = xp.finfo(h.dtype).eps
    tiny = xp.finfo(h.dtype).smallest_normal * n / eps
    lead, shape = tuple(h.shape[:-2]), tuple(h.shape)
    limit = ITERATIONS * max(10, n)
    z = xp.broadcast_to(_eye(backend, n, h), h.shape)
    right = h[..., :, n:]  # the columns right of the active block, above its last row: (..., m + 1, n − m − 1)
    rows = []
    for m in range(n - 1, 0, -1):
        identity = _eye(backend, m + 1, h)
        mask = _hessenberg_mask(backend, m + 1, h)
        total = xp.broadcast_to(identity, lead + (m + 1, m + 1))  # the product of this block's Q's
        for iteration in range(limit + 1):
            a, b = h[..., m - 1, m - 1], h[..., m - 1, m]
            c, d = h[..., m, m - 1], h[..., m, m]
            bound = xp.clip(eps * (xp.abs(a) + xp.abs(d)), min=tiny)
            converged = xp.abs(c) <= bound
            if bool(xp.all(converged)):
                break
            if iteration == limit:
                raise DomainError(f"eig: the QR algorithm did not converge in {limit} iterations for an eigenvalue "
                                  f"of a matrix of shape {tuple(shape)} (LAPACK gives up here too); expected a "
                                  "matrix whose eigenvalues can be computed")
            shift = _wilkinson(xp, a, b, c, d)
            if iteration and iteration % EXCEPTIONAL == 0:  # d + ¾|Re c|, or from the top: h₀₀ + ¾|Re h₁₀|
                top = iteration % (2 * EXCEPTIONAL) == 0
                corner, below = (h[..., 0, 0], h[..., 1, 0]) if top else (d, c)
                shift = xp.where(converged, shift, corner + xp.astype(0.75 * xp.abs(xp.real(below)), h.dtype))
            q, _ = xp.linalg.qr(h - shift[..., None, None] * identity)
            h = xp.matmul(xp.conj(xp.matrix_transpose(q)), xp.matmul(h, q)) * mask  # RQ + σI; below: rounding
            total = xp.matmul(total, q)
        right = xp.matmul(xp.conj(xp.matrix_transpose(total)), right)
        z = xp.concat([xp.matmul(z[..., :, :m + 1], total), z[..., :, m + 1:]], axis=-1)
        zeros = xp.zeros(lead + (m,), dtype=h.dtype, device=h.device)
        rows.append(xp.concat([zeros, h[..., m, m:], right[..., m, :]], axis=-1))
        right = xp.concat([h[..., :m, m:], right[..., :m, :]], axis=-1)
        h = h[..., :m, :m]
    rows.append(xp.concat([h[..., 0, :], right[..., 0, :]], axis=-1))
    return xp.stack(rows[::-1], axis=-2), z


def _wilkinson(xp, a, b, c, d):
    """The eigenvalue of [[a, b], [c, d]] nearer d: d − bc/(δ + r), δ = (a − d)/2, r = ±√(δ² + bc) of the sign that
    makes |δ + r| the larger (no cancellation); d when δ + r = 0 (then bc = 0)."""
    delta = (a - d) / 2
    bc = b * c
    r = xp.sqrt(delta * delta + bc)
    r = xp.where(xp.abs(delta + r) >= xp.abs(delta - r), r, -r)
    denominator = delta + r
    zero = xp.abs(denominator) == 0
    return d - xp.where(zero, xp.zeros_like(bc), bc / xp.where(zero, xp.ones_like(denominator), denominator))


def _triangular_eigenvectors(backend, t, w):
    """X upper triangular with T X = X diag(w), X_kk = 1: x_ik = −(Σ_{i<j<=k} t_ij x_jk)/(t_ii − w_k), one row i
    at a time from the bottom, for every column k at once."""
    xp = backend.xp
    n = t.shape[-1]
    eps = xp.finfo(t.dtype).eps
    smallest = xp.finfo(t.dtype).smallest_normal * n / eps
    floor = xp.clip(eps * (xp.abs(xp.real(w)) + xp.abs(xp.imag(w))), min=smallest)
    columns = xp.arange(n, device=t.device)
    below = _eye(backend, n, t)[n - 1:, :] + xp.zeros_like(t[..., n - 1:, :])  # row n − 1: e_{n−1}
    for i in range(n - 2, -1, -1):
        s = xp.matmul(t[..., i:i + 1, i + 1:], below)[..., 0, :]
        gap = t[..., i, i][..., None] - w
        gap = xp.where(xp.abs(gap) < floor, xp.astype(floor, t.dtype), gap)
        row = xp.where(columns > i, -s / gap, xp.astype(columns == i, t.dtype))
        below = xp.concat([row[..., None, :], below], axis=-2)
        # Each column solves its own homogeneous recurrence: scaled by a power of two (exact) to a largest entry in
        # [1, 2), its entries cannot overflow (a Jordan block's grow as 1/ε per row: inf by n = 20 without this).
        size = xp.max(xp.abs(below), axis=-2, keepdims=True)
        large = size > 1
        one = xp.ones_like(size)
        below = below * xp.astype(xp.where(large, 2.0 ** -xp.floor(xp.log2(xp.where(large, size, one))), one),
                                  t.dtype)
    return below


def _normalised(backend, v):
    """Columns of unit 2-norm whose component of largest modulus (the first on a tie) is real and positive."""
    xp = backend.xp
    v = v / xp.astype(_norm(xp, v, -2), v.dtype)
    mask = backend.m.largest_component(v)
    vk = xp.sum(xp.astype(mask, v.dtype) * v, axis=-2, keepdims=True)
    v = v * (xp.conj(vk) / xp.astype(xp.abs(vk), v.dtype))
    return xp.where(mask > 0, xp.astype(xp.real(v), v.dtype), v)
