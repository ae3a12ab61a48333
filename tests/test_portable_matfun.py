"""The portable sqrtm and solve_sylvester (chainrule/engine/portable/matfun.py) on array-api-strict's fake device
(which raises on any hidden transfer to the host), against SciPy and, where SciPy's own error shows, an exact root
from 50-digit mpmath (V diag(√λ) V⁻¹ of mpmath's eigendecomposition).

Measured (float64): well-conditioned matrices (positive definite, diagonally dominant real and complex, symmetric
with negative eigenvalues) within 4e-15 relative of SciPy's root (asserted: 1e-14); random Gaussian matrices, real
and complex, within 2e-13 of the exact root, where SciPy's is within 2e-14 (asserted: 5e-13; the rotated iteration
for eigenvalues on R⁻ costs about a factor 10); solve_sylvester within 1e-14 of SciPy's.
"""

from __future__ import annotations

import warnings

import array_api_strict as xp
import numpy as np
import pytest

scipy_linalg = pytest.importorskip("scipy.linalg")
mpmath = pytest.importorskip("mpmath")

import chainrule as cr  # noqa: E402
import chainrule.scipy.linalg  # noqa: E402
from chainrule.engine import backends  # noqa: E402
from chainrule.engine.portable import matfun  # noqa: E402
from chainrule.errors import DomainError  # noqa: E402
from chainrule.rules.scipy_linalg import _sqrtm  # noqa: E402
from chainrule.scipy import linalg  # noqa: E402

DEVICE = xp.Device("device1")
BACKEND = backends.backend(xp.asarray(0.0))


def put(a):
    return xp.asarray(np.array(a, copy=True), device=DEVICE)


def get(x):
    assert x.device == DEVICE
    return np.asarray(xp.asarray(x, device=xp.Device("CPU_DEVICE")))


def sqrtm(a):
    return get(matfun.sqrtm(BACKEND, put(a)))


def scipy_sqrtm(a):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _sqrtm(np.asarray(a))  # NumPy's forward: SciPy's root, with the dtype the rule gives


def exact_sqrtm(a):
    """The principal root in 50 digits; an eigenvalue on R⁻ (within 1e-35) takes +i√|λ|, as SciPy's does."""
    with mpmath.workdps(50):
        values, vectors = mpmath.eig(mpmath.matrix(np.asarray(a, dtype=complex).tolist()))
        roots = []
        for v in values:
            if abs(mpmath.im(v)) < mpmath.mpf(10) ** -35 * abs(v):
                v = mpmath.mpc(mpmath.re(v), 0)
            roots.append(mpmath.sqrt(v))
        y = vectors * mpmath.diag(roots) * mpmath.inverse(vectors)
        return np.array(y.tolist(), dtype=complex)


def relative(found, want):
    return float(np.max(np.abs(found - want)) / np.max(np.abs(want)))


def _well_conditioned(rng, n):
    m = rng.standard_normal((n, n))
    q = np.linalg.qr(rng.standard_normal((n, n)))[0]
    values = rng.uniform(0.5, 3, n) * np.where(np.arange(n) % 2, -1, 1)
    dominant = rng.standard_normal((n, n)) + 3 * np.sqrt(n) * np.eye(n)
    return {
        "positive definite": m @ m.T + n * np.eye(n),
        "diagonally dominant": dominant,
        "complex dominant": dominant + 1j * rng.standard_normal((n, n)),
        "symmetric, negative eigenvalues": q @ np.diag(values) @ q.T,
    }


def test_sqrtm_of_well_conditioned_matrices_equals_scipys():
    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 5, 8):
        for kind, a in _well_conditioned(rng, n).items():
            want = scipy_sqrtm(a)
            found = sqrtm(a)
            assert found.dtype == want.dtype, (kind, n)
            assert relative(found, want) <= 1e-14, (kind, n, relative(found, want))


def test_sqrtm_of_random_matrices_is_near_the_exact_root():
    rng = np.random.default_rng(1)
    for trial in range(24):
        n = 2 + trial % 6
        a = rng.standard_normal((n, n)) + (1j * rng.standard_normal((n, n)) if trial % 3 == 1 else 0)
        found, want = sqrtm(a), scipy_sqrtm(a)
        assert found.dtype == want.dtype
        assert relative(found, exact_sqrtm(a)) <= 5e-13, (trial, relative(found, exact_sqrtm(a)))


@pytest.mark.parametrize(("a", "dtype"), [
    (np.diag([-1.0, 4.0]), np.complex128),                    # a negative eigenvalue: √−1 = +i, as SciPy
    (np.array([[1.0, 2.0], [3.0, 4.0]]), np.complex128),
    (np.array([[-1.0, 1.0], [0.0, -1.0]]), np.complex128),    # defective, on R⁻
    (np.array([[0.0, 1.0], [-1.0, 0.0]]), np.float64),       # ±i: a real root
    (np.diag([-4.0, -9.0]) + 0j, np.complex128),
    (np.array([[4, 1], [0, 9]]), np.float64),                 # integers: float64, as SciPy
])
def test_sqrtm_dtype_and_branch_as_scipy(a, dtype):
    found = sqrtm(a)
    assert found.dtype == dtype
    np.testing.assert_allclose(found, scipy_sqrtm(a), rtol=0, atol=1e-14 * np.max(np.abs(scipy_sqrtm(a))))
    np.testing.assert_allclose(found @ found, a, rtol=0, atol=1e-14 * np.max(np.abs(a)))


def test_eigenvalues_on_the_negative_axis_never_pass_for_a_real_root():
    """With only negative eigenvalues the real iteration's y and z often land within rounding of 0 together (the
    scaling makes μ²λ = −1 for a 1x1 and many 2x2), which the next scaling lifts to a false convergence; the
    iteration notices the nearly singular iterates on the way, and the complex root is computed."""
    rng = np.random.default_rng(8)
    for _ in range(60):
        n = int(rng.integers(1, 4))
        v = np.linalg.qr(rng.standard_normal((n, n)))[0] + 0.3 * rng.standard_normal((n, n))
        a = v @ np.diag(-rng.uniform(0.1, 5, n)) @ np.linalg.inv(v)
        found, want = sqrtm(a), scipy_sqrtm(a)
        assert found.dtype == want.dtype == np.complex128
        assert relative(found, want) <= 1e-13


def test_sqrtm_near_the_negative_axis_takes_a_smaller_rotation():
    """A real matrix with eigenvalues −2 (on R⁻) and −1 ± 0.02i (a pair 0.02 rad off it): the wedge below R⁻ is
    empty only from 2φ = 0.0219 on, so φ = 0.7/64 is chosen; the root is still the principal one."""
    rng = np.random.default_rng(2)
    v = np.linalg.qr(rng.standard_normal((3, 3)))[0] + 0.2 * rng.standard_normal((3, 3))
    block = np.array([[-1.0, 0.02], [-0.02, -1.0]])
    a = v @ np.block([[block, np.zeros((2, 1))], [np.zeros((1, 2)), -2 * np.ones((1, 1))]]) @ np.linalg.inv(v)
    found = sqrtm(a)
    assert found.dtype == np.complex128
    assert relative(found, exact_sqrtm(a)) <= 1e-12  # condition ~ 1/0.02 (the pair's roots sum to 0.02)
    assert relative(found, scipy_sqrtm(a)) <= 1e-12
    too_close = v @ np.block([[np.array([[-1.0, 2e-5], [-2e-5, -1.0]]), np.zeros((2, 1))],
                              [np.zeros((1, 2)), -2 * np.ones((1, 1))]]) @ np.linalg.inv(v)
    with pytest.raises(DomainError, match=r"within .* radians of the negative real axis"):
        sqrtm(too_close)


def test_sqrtm_of_singular_matrices():
    for a in (np.diag([2.0, 0.0]), np.ones((3, 3)), np.zeros((3, 3)), np.array([[1.0, 1.0], [0.0, 0.0]]),
              np.diag([-1.0, 0.0, 4.0])):
        found, want = sqrtm(a), scipy_sqrtm(a)
        assert found.dtype == want.dtype
        np.testing.assert_allclose(found, want, rtol=0, atol=1e-14 * max(1.0, np.max(np.abs(want))))
    for a in (np.array([[0.0, 1.0], [0.0, 0.0]]), np.array([[1.0, 0, 0], [0, 0, 1], [0, 0, 0]])):
        with pytest.raises(DomainError, match="no square root"):
            sqrtm(a)  # a nilpotent part: no root (NumPy's rule raises the same)
        with pytest.raises(DomainError, match="no square root"):
            scipy_sqrtm(a)


def test_sqrtm_batches_dtypes_and_edges():
    rng = np.random.default_rng(3)
    batch = rng.standard_normal((2, 3, 4, 4)) + 4 * np.eye(4)
    batch[1, 2] = np.diag([-1.0, 2.0, 3.0, 4.0])  # one matrix with a complex root: the whole stack is complex
    found = sqrtm(batch)
    assert found.shape == batch.shape and found.dtype == np.complex128
    for index in np.ndindex(2, 3):
        assert relative(found[index], scipy_linalg.sqrtm(batch[index])) <= 1e-14
    single = (rng.standard_normal((3, 3)) + 3 * np.eye(3)).astype(np.float32)
    found = sqrtm(single)
    assert found.dtype == np.float32 and relative(found, scipy_sqrtm(single.astype(np.float64))) <= 1e-6
    negative = np.diag([-1.0, 4.0]).astype(np.float32)
    assert sqrtm(negative).dtype == scipy_sqrtm(negative).dtype == np.complex64
    assert sqrtm(np.diag([1.0, 4.0]).astype(np.complex64)).dtype == np.complex64
    assert sqrtm(np.zeros((0, 0))).shape == (0, 0) and sqrtm(np.zeros((2, 0, 0))).shape == (2, 0, 0)
    with_nan = np.stack([np.array([[np.nan, 1.0], [0.0, 1.0]]), np.diag([4.0, 9.0])])
    found = sqrtm(with_nan)
    assert np.all(np.isnan(found[0])) and np.array_equal(found[1], np.diag([2.0, 3.0]))


def sylvester(a, b, q):
    return get(matfun.solve_sylvester(BACKEND, put(a), put(b), put(q)))


def test_solve_sylvester_equals_scipys():
    rng = np.random.default_rng(4)
    for m, n in ((1, 1), (2, 3), (4, 4), (5, 2), (8, 7)):
        a = rng.standard_normal((m, m)) + 2 * np.eye(m)
        b = rng.standard_normal((n, n)) + 2 * np.eye(n)
        q = rng.standard_normal((m, n))
        want = scipy_linalg.solve_sylvester(a, b, q)
        assert relative(sylvester(a, b, q), want) <= 1e-14
        ac, qc = a + 1j * rng.standard_normal((m, m)), q + 1j * rng.standard_normal((m, n))
        found = sylvester(ac, b, qc)
        assert found.dtype == np.complex128
        assert relative(found, scipy_linalg.solve_sylvester(ac, b + 0j, qc)) <= 1e-14  # (see the test below)
    found = sylvester(*(v.astype(np.float32) for v in (a, b, q)))
    assert found.dtype == np.float32 and relative(found, want) <= 1e-6
    stack = np.stack([a, a + np.eye(m)])
    found = sylvester(stack, b, q)  # a stack of A, one B and Q: broadcast
    for k in range(2):
        assert relative(found[k], scipy_linalg.solve_sylvester(stack[k], b, q)) <= 1e-14


@pytest.mark.parametrize("complex_inputs", [(0,), (1,), (2,), (0, 2), (1, 2), (0, 1)])
def test_mixed_real_and_complex_input_is_solved_right_on_numpy_too(complex_inputs):
    """SciPy 1.17's solve_sylvester answers a mix of real and complex A, B, Q wrongly (residuals of order 1): the
    NumPy forward makes all three complex first. Both forwards against the residual and each other."""
    rng = np.random.default_rng(7)
    inputs = [rng.standard_normal((4, 4)) + 2 * np.eye(4), rng.standard_normal((3, 3)) + 2 * np.eye(3),
              rng.standard_normal((4, 3))]
    for i in complex_inputs:
        inputs[i] = inputs[i] + 1j * rng.standard_normal(inputs[i].shape)
    a, b, q = inputs
    x = cr.scipy.linalg.solve_sylvester(cr.tensor(a), cr.tensor(b), cr.tensor(q)).data
    assert x.dtype == np.complex128
    assert np.max(np.abs(a @ x + x @ b - q)) <= 1e-14 * np.max(np.abs(q)) * 10
    assert relative(sylvester(a, b, q), x) <= 1e-14


def test_solve_sylvester_errors_and_edges():
    a = np.array([[4.0, 1.0], [0.0, 3.0]])
    with pytest.raises(DomainError, match="share an eigenvalue"):
        sylvester(a, -a, np.ones((2, 2)))
    with pytest.raises(DomainError, match="share an eigenvalue"):
        sylvester(a, -a.T + 1e-17, np.ones((2, 2)))  # (within rounding: LAPACK would return huge numbers)
    big = np.eye(33)
    with pytest.raises(ValueError, match=r"m·n <= 1024 unknowns; a is 33x33 and b 33x33"):
        sylvester(big, big, big)
    assert sylvester(np.zeros((0, 0)), np.eye(2), np.zeros((0, 2))).shape == (0, 2)
    with pytest.raises(DomainError, match="`a` holds inf or nan"):  # (as SciPy on NumPy's path)
        sylvester(np.array([[np.nan]]), np.eye(1), np.ones((1, 1)))


@pytest.mark.parametrize("library", ["strict", "torch"])
def test_gradients_of_a_complex_root_on_other_libraries(library):
    """sqrtm of a real matrix with a negative eigenvalue (a complex root) and solve_sylvester with complex Q: the
    gradients in the library equal NumPy's and central differences of the portable forward."""
    torch = pytest.importorskip("torch")
    into = (lambda v: torch.asarray(np.array(v))) if library == "torch" else put
    back = (lambda v: v.detach().resolve_conj().numpy()) if library == "torch" else get
    a = np.array([[1.0, 2.0, 0.5], [3.0, 4.0, -1.0], [0.2, 0.1, 2.0]])  # eigenvalues −0.4, 2.0, 5.4
    w = np.random.default_rng(5).standard_normal((2, 3, 3))

    def loss(x, put_w):
        y = linalg.sqrtm(x)
        return (cr.real(y) * cr.tensor(put_w(w[0])) + cr.imag(y) * cr.tensor(put_w(w[1]))).sum()

    reference = cr.tensor(a, requires_grad=True)
    loss(reference, np.asarray).backward()
    moved = cr.tensor(into(a), requires_grad=True)
    loss(moved, into).backward()
    found = back(moved.grad.data)
    np.testing.assert_allclose(found, reference.grad.data, rtol=1e-12, atol=1e-12)
    v = np.random.default_rng(6).standard_normal((3, 3))
    eps = 1e-6
    numeric = (float(back(loss(cr.tensor(into(a + eps * v)), into).data))
               - float(back(loss(cr.tensor(into(a - eps * v)), into).data))) / (2 * eps)
    assert abs(numeric - float(np.sum(found * v))) <= 1e-7 * max(1.0, abs(numeric))
