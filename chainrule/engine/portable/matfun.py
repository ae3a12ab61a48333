"""Matrix functions with the Array API and its ``linalg`` extension only (no Schur form, no general eig):
SciPy's ``sqrtm`` and ``solve_sylvester`` for arrays of any library, on their device.

``sqrtm``: the scaled Denman–Beavers iteration (Higham, *Functions of Matrices*, §6.3),
    Y₀ = A, Z₀ = I,  μ = |det Y det Z|^(−1/2n),  Y ← (μY + (μZ)⁻¹)/2,  Z ← (μZ + (μY)⁻¹)/2,
which converges to the principal root (Y → A^½) when A has no eigenvalue on the closed negative real axis R⁻, and is
stable (errors do not grow): in float64 about as close to the exact root as SciPy's Schur method
(tests/test_portable_matfun.py). The other cases, as SciPy:

* Eigenvalues on R⁻ (a real matrix then has a complex root, SciPy's convention √(−s²) = +i s): in real arithmetic the
  iteration cannot converge (YZ keeps a negative eigenvalue), which is how they are found. The root is then
  e^(iφ/2) √(e^(−iφ) A), a rotation that moves R⁻ off the branch cut; it is the principal root as long as no
  eigenvalue lies in the wedge π − 2φ < −arg λ < π below R⁻ (else that one's root would take the other sign). The
  largest φ in 0.7, 0.35, ... with an empty wedge is chosen by counting eigenvalues there: the trace of the product
  of two half-plane projectors (I + sign(i e^(−iβ) A))/2, the sign function by the scaled Newton iteration. A
  complex pair within 1e-6 radians of R⁻ is taken as on it (rounding alone moves a double eigenvalue on R⁻ about
  1e-8 off); one between that and 2e-5 radians is an error (the root is ill-conditioned there: use NumPy).
* Singular A: its zero eigenvalues must be semisimple (else no root exists: an error, as NumPy's rule raises). The
  projector P₀ onto the null space along the range (from the SVD's null vectors: V₀ (U₀ᴴV₀)⁻¹ U₀ᴴ) moves them to 1;
  √A = √(A + P₀) (I − P₀). Singular means σ_min ≤ n·ε·σ_max.
* A matrix with nan or inf gives nan (SciPy's answer then depends on its Schur form).

``solve_sylvester`` (AX + XB = Q): the Kronecker form (A ⊗ I + I ⊗ Bᵀ) vec X = vec Q (row-major vec) solved by
``linalg.solve``, for m·n ≤ SYLVESTER_LIMIT unknowns (a (m·n)² matrix: 8 MiB in float64 at the limit; larger is a
ValueError, not a memory blow-up). As NumPy's rule, A and −B sharing an eigenvalue is an error: here when the
Kronecker matrix's smallest singular value is ≤ 16 ε·max(|A|, |B|)·m (NumPy's test of the eigenvalue gaps, which
it equals for normal matrices; a gap that small leaves no correct digit).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...errors import DomainError
from .registry import portable

SYLVESTER_LIMIT = 1024  # unknowns m·n of solve_sylvester (its Kronecker matrix has (m·n)² entries)
_EPS = float(np.finfo(np.float64).eps)
_NEAR_AXIS = 1e-6  # a complex pair this close to R⁻ (radians) is taken as eigenvalues on it
_ROTATIONS = [0.7 / 2**k for k in range(16)]  # φ: wedges of 2φ = 1.4 ... 4.3e-5 radians below R⁻


def _is_linalg_error(exc: Exception) -> bool:
    return "LinAlgError" in type(exc).__name__  # NumPy's (array-api-strict), torch's _LinAlgError


def _fro(xp, x):
    """The Frobenius norm of each matrix of a stack (real, shape of the batch)."""
    return xp.sqrt(xp.sum(xp.abs(x) ** 2, axis=(-2, -1)))


def _scaled(x, s):
    return x * s[..., None, None]


def _eye(xp, n, like):
    return xp.eye(n, dtype=like.dtype, device=_device(like))


def _device(x):
    return x.device  # (the standard's attribute: backends is not imported here, it imports this package)


# ---------------------------------------------------------------------------------------------------------------
# sqrtm
# ---------------------------------------------------------------------------------------------------------------
def _denman_beavers(xp, a, iterations: int = 60, first: bool = False):
    """(Y, converged): the scaled Denman–Beavers iteration on a stack of matrices, Y₀ = A, Z₀ = I,
    μ = |det Y det Z|^(−1/2n), Y ← (μY + (μZ)⁻¹)/2, Z ← (μZ + (μY)⁻¹)/2, so that Y → A^½ and Z → A^(−½); converged
    per matrix when ‖YZ − I‖_F ≤ 1e-7, after which two more steps make Y accurate to rounding (the convergence is
    quadratic). (Its product form, one inverse a step, came out up to 30 times less accurate near R⁻.)

    ``first``: the pass on A itself, where an eigenvalue on R⁻ must show as no convergence. Its y and z stay real and
    yz < 0 in exact arithmetic, but y and z can both land within rounding of 0, which the scaling then lifts: a false
    convergence, with ‖Y⁻¹‖‖Z⁻¹‖ near 1/ε² on the way (for a matrix with a root it stays near √κ(A)); a matrix where
    that product passed 1e12 counts as not converged (the rotated iteration then answers, right either way)."""
    n = a.shape[-1]
    eye = _eye(xp, n, a)
    y, z = a, eye
    done = xp.zeros(a.shape[:-2], dtype=xp.bool, device=_device(a))
    suspect = xp.zeros(a.shape[:-2], dtype=xp.bool, device=_device(a))
    extra = 0
    for k in range(iterations):
        try:
            y_inverse = xp.linalg.inv(y)
            z_inverse = eye if k == 0 else xp.linalg.inv(z)
            _, log_y = xp.linalg.slogdet(y)
            _, log_z = (None, 0.0) if k == 0 else xp.linalg.slogdet(z)
        except Exception as exc:  # singular: the iterates of an eigenvalue on R⁻ hit 0 exactly
            if not _is_linalg_error(exc):
                raise
            break
        if first and k:
            suspect = suspect | ~(_fro(xp, y_inverse) * _fro(xp, z_inverse) <= 1e12)
        mu = xp.exp(-(log_y + log_z) / (2 * n))
        mu = xp.where(xp.isfinite(mu), mu, xp.ones_like(mu))
        y, z = (0.5 * (_scaled(y, mu) + _scaled(z_inverse, 1 / mu)),
                0.5 * (_scaled(z, mu) + _scaled(y_inverse, 1 / mu)))
        done = done | (_fro(xp, xp.matmul(y, z) - eye) <= 1e-7)
        if bool(xp.all(done)):
            extra += 1
            if extra == 3:
                return y, done & ~suspect
    return y, done & ~suspect & xp.all(xp.isfinite(y), axis=(-2, -1))


def _sign(xp, x, iterations: int = 100):
    """(sign(X), converged): the scaled Newton iteration X ← (μX + (μX)⁻¹)/2, μ = |det X|^(−1/n); not converged
    when an eigenvalue lies on (or within rounding of) the imaginary axis."""
    n = x.shape[-1]
    for _ in range(iterations):
        try:
            inverse = xp.linalg.inv(x)
            _, logabs = xp.linalg.slogdet(x)
        except Exception as exc:
            if not _is_linalg_error(exc):
                raise
            break
        mu = xp.exp(-logabs / n)
        mu = xp.where(xp.isfinite(mu), mu, xp.ones_like(mu))
        new = 0.5 * (_scaled(x, mu) + _scaled(inverse, 1 / mu))
        change = _fro(xp, new - x) / _fro(xp, new)
        x = new
        if bool(xp.all(change <= 1e-9)):
            return x, xp.all(xp.isfinite(x), axis=(-2, -1))
    return x, xp.zeros(x.shape[:-2], dtype=xp.bool, device=_device(x))


def _count_below_axis(backend, a, eye, phi: float):
    """The number of eigenvalues of each matrix with −π + 1e-6 < arg λ < −π + 2φ (a wedge below R⁻; −1 where the
    count failed): the trace of P(β = 1e-6)·P(β = 2φ − π), P(β) the projector onto arg λ ∈ (β − π, β)."""
    xp = backend.xp
    projectors, ok = [], None
    for beta in (_NEAR_AXIS, 2 * phi - math.pi):
        rotation = backend.asarray(np.asarray(1j * np.exp(-1j * beta)), a, a.dtype)
        s, converged = _sign(xp, a * rotation, 200)
        projectors.append(0.5 * (eye + s))
        ok = converged if ok is None else ok & converged
    count = xp.real(xp.sum(xp.linalg.diagonal(xp.matmul(*projectors)), axis=-1))
    return xp.where(ok & xp.isfinite(count), xp.round(count), xp.full_like(count, -1.0))


def _complex_root(backend, a):
    """The principal root of a stack of complex matrices with eigenvalues on R⁻ (see the module's docstring)."""
    xp = backend.xp
    eye = _eye(xp, a.shape[-1], a)
    chosen = xp.full(tuple(a.shape[:-2]), math.nan, dtype=xp.float64, device=_device(a))  # φ of each matrix
    for phi in _ROTATIONS:
        empty = _count_below_axis(backend, a, eye, phi) == 0
        chosen = xp.where(xp.isnan(chosen) & empty, xp.full_like(chosen, phi), chosen)
        if not bool(xp.any(xp.isnan(chosen))):
            break
    else:
        raise DomainError(
            f"sqrtm: the matrix of shape {tuple(a.shape)} has a complex pair of eigenvalues within "
            f"{2 * _ROTATIONS[-1]:.1e} radians of the negative real axis (or eigenvalues that could not be told from "
            "it): its principal square root is too ill-conditioned to compute without a Schur form; move the "
            "tensor to NumPy explicitly (t.to(numpy)) for SciPy's sqrtm"
        )
    angle = xp.astype(chosen, a.dtype)[..., None, None]
    root, converged = _denman_beavers(xp, a * xp.exp(-1j * angle), 100)
    if not bool(xp.all(converged)):
        raise DomainError(
            f"sqrtm: the square root iteration did not converge for the matrix of shape {tuple(a.shape)} (it is "
            "too ill-conditioned); move the tensor to NumPy explicitly (t.to(numpy)) for SciPy's sqrtm"
        )
    return root * xp.exp(0.5j * angle)


def _null_projector(backend, a):
    """P₀, the projector onto the null space of each singular matrix along its range (zeros for the others), or
    None when no matrix is singular; an error when a zero eigenvalue is not semisimple (no square root exists)."""
    xp = backend.xp
    n = a.shape[-1]
    u, s, vh = xp.linalg.svd(a, full_matrices=False)
    small = s <= (n * _EPS) * s[..., :1]  # (s is in decreasing order)
    if not bool(xp.any(small)):
        return None
    d = xp.astype(small, a.dtype)
    v0 = xp.conj(xp.matrix_transpose(vh)) * d[..., None, :]  # the null vectors (other columns zero)
    u0h = xp.conj(xp.matrix_transpose(u * d[..., None, :]))  # the left null vectors, as rows
    fill = _eye(xp, n, a) * (1 - d)[..., None, :]  # identity where a column is unused, so that G is invertible
    g = xp.matmul(u0h, v0) + fill
    gaps = xp.linalg.svdvals(g)
    if bool(xp.any(gaps[..., -1] <= 1e-8 * gaps[..., 0])):
        raise DomainError(
            f"sqrtm: the matrix of shape {tuple(a.shape)} has no square root (it is singular, with a nilpotent part "
            "such as [[0, 1], [0, 0]]); expected a matrix whose eigenvalues are positive, e.g. positive definite"
        )
    return xp.matmul(v0, xp.matmul(xp.linalg.inv(g), u0h))


@portable("sqrtm")
def sqrtm(backend: Any, a: Any) -> Any:
    """SciPy's principal square root (see the module's docstring): real for a real matrix without eigenvalues on
    R⁻, else complex; float32 and complex64 in, the same precision out (computed in float64)."""
    xp = backend.xp
    (a,) = backend._floats(a)
    complex_input = xp.isdtype(a.dtype, "complex floating")
    single = a.dtype in (xp.float32, xp.complex64)
    x = xp.astype(a, xp.complex128 if complex_input else xp.float64)
    n = a.shape[-1]
    if n == 0 or math.prod(a.shape[:-2]) == 0:
        return xp.astype(x, a.dtype)
    eye = _eye(xp, n, x)
    finite = xp.all(xp.isfinite(x), axis=(-2, -1))[..., None, None]
    x = xp.where(finite, x, eye)  # computed on the identity, answered with nan
    null = _null_projector(backend, x)
    if null is not None:
        x = x + null
    root, converged = _denman_beavers(xp, x, first=True)
    if not bool(xp.all(converged)):  # eigenvalues on R⁻: a complex root
        x = xp.astype(x, xp.complex128)
        root = xp.where(converged[..., None, None], xp.astype(root, xp.complex128), _complex_root(backend, x))
        if not complex_input and bool(
                xp.all(xp.abs(xp.imag(root)) <= 1e-8 * xp.maximum(xp.max(xp.abs(xp.real(root))), xp.asarray(
                    1.0, dtype=xp.float64, device=_device(root))))):
            root = xp.real(root)  # round-off imaginary parts only: a real root, as NumPy's rule returns it
    if null is not None:
        root = xp.matmul(root, xp.astype(eye - null, root.dtype))
    root = xp.where(finite, root, xp.full_like(root, math.nan))
    if single:
        return xp.astype(root, xp.complex64 if xp.isdtype(root.dtype, "complex floating") else xp.float32)
    return root


# ---------------------------------------------------------------------------------------------------------------
# solve_sylvester
# ---------------------------------------------------------------------------------------------------------------
@portable("solve_sylvester")
def solve_sylvester(backend: Any, a: Any, b: Any, q: Any) -> Any:
    """X with AX + XB = Q by the Kronecker form (see the module's docstring); stacks broadcast."""
    xp = backend.xp
    a, b, q = backend._floats(a, b, q)
    dtype = xp.result_type(a, b, q)
    m, n = a.shape[-1], b.shape[-1]
    if m * n > SYLVESTER_LIMIT:
        raise ValueError(
            f"solve_sylvester on {backend.name} arrays solves the Kronecker form, with (m·n)² entries, for m·n <= "
            f"{SYLVESTER_LIMIT} unknowns; a is {m}x{m} and b {n}x{n} (m·n = {m * n}); move the tensors to NumPy "
            "explicitly (t.to(numpy)) for SciPy's Bartels–Stewart solver"
        )
    work = xp.complex128 if xp.isdtype(dtype, "complex floating") else xp.float64
    a, b, q = (xp.astype(v, work) for v in (a, b, q))
    batch = tuple(np.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2]), tuple(q.shape[:-2])))
    if m * n == 0 or math.prod(batch) == 0:
        return xp.zeros(batch + (m, n), dtype=dtype, device=_device(a))
    eye_m, eye_n = _eye(xp, m, a), _eye(xp, n, a)
    # K[(i, j), (k, l)] = A[i, k] δ_jl + δ_ik B[l, j], the rows and columns in vec's row-major order
    kron = (a[..., :, None, :, None] * eye_n[:, None, :]
            + eye_m[:, None, :, None] * xp.matrix_transpose(b)[..., None, :, None, :])
    kron = xp.broadcast_to(xp.reshape(kron, tuple(kron.shape[:-4]) + (m * n, m * n)), batch + (m * n, m * n))
    rhs = xp.reshape(xp.broadcast_to(q, batch + (m, n)), batch + (m * n, 1))
    for name, v in (("a", a), ("b", b), ("q", q)):  # (as on NumPy's path: SciPy refuses them)
        if not bool(xp.all(xp.isfinite(v))):
            raise DomainError(f"solve_sylvester: `{name}` holds inf or nan; expected finite matrices")
    scale = max(float(xp.max(xp.abs(v))) for v in (a, b))
    smallest = xp.linalg.svdvals(kron)[..., -1]
    if bool(xp.any(smallest <= 16 * _EPS * max(scale, float(np.finfo(float).tiny)) * max(m, 1))):
        raise DomainError(
            "solve_sylvester: A and -B share an eigenvalue, so AX + XB = Q has no unique solution; "
            "expected A and -B with disjoint spectra"
        )
    x = xp.linalg.solve(kron, rhs)
    return xp.astype(xp.reshape(x, batch + (m, n)), dtype)
