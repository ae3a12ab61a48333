"""eig and eigvals on other array libraries: the portable forward (engine/portable/eig.py) on array-api-strict (and,
called directly, on PyTorch tensors), PyTorch's own geev, and the rule's derivatives computed in the library.

References: NumPy's LAPACK geev (NumPy 2.4, OpenBLAS), PyTorch's (another LAPACK build), mpmath's eigensolver at 50
digits for badly scaled and special matrices, closed forms (roots of unity, companion matrices, S D S⁻¹), and
central differences of the library's own forward. The portable forward gives the eigenvalues in the order in which
they deflate, not LAPACK's: each matrix's eigenvalues are paired with the reference's (the assignment of least total
distance) before anything is compared, and eigenvectors compared up to a sign (both have unit norm and their largest
component real; LAPACK leaves that component's sign as it comes, the portable form makes it positive).

Measured (float64, Gaussian matrices n = 1…50, real and complex, batched): eigenvalues within 6e-15·‖A‖₂ of LAPACK's,
eigenvectors within 3e-14, residuals ‖AV − VΛ‖ within 2e-15·‖A‖₂; asserted below with some margin.
"""

from __future__ import annotations

import array_api_strict as strict
import mpmath
import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment

import chainrule as cr
import chainrule.numpy as cnp
from chainrule import ops
from chainrule.engine import backends
from chainrule.engine.portable import eig as portable_eig
from chainrule.errors import DomainError, ShapeError
from chainrule.rules.registry import lookup

DEVICE1 = strict.Device("device1")
CPU = strict.Device("CPU_DEVICE")


class Library:
    """How to put a NumPy array into a library and read it back (independently of chainrule's conversions)."""

    def __init__(self, name):
        self.name = name

    def put(self, array):
        if self.name == "torch":
            return torch.asarray(np.array(array, copy=True))
        return strict.asarray(np.array(array, copy=True), device=DEVICE1 if self.name == "strict-device1" else CPU)

    def get(self, x):
        if self.name == "torch":
            assert type(x) is torch.Tensor
            return x.detach().resolve_conj().numpy()
        assert x.device == (DEVICE1 if self.name == "strict-device1" else CPU)
        return np.asarray(strict.asarray(x, device=CPU))


STRICT, DEVICE, TORCH = Library("strict"), Library("strict-device1"), Library("torch")
LIBRARIES = [STRICT, DEVICE, TORCH]
IDS = [lib.name for lib in LIBRARIES]


def pairing(found, expected):
    """The permutation p with found[..., j] paired to expected[..., p[j]], per matrix (least total distance)."""
    order = np.empty(found.shape, dtype=np.intp)
    for index in np.ndindex(found.shape[:-1]):
        _, order[index] = linear_sum_assignment(np.abs(found[index][:, None] - expected[index][None, :]))
    return order


def compare_with_lapack(a, w, v, vector_tol=2e-13):
    """w, V (NumPy copies of a library's result for matrices ``a``) against np.linalg.eig, after pairing: eigenvalues
    within 2e-14‖A‖₂, eigenvectors within ``vector_tol`` up to a sign, residual within 1e-14‖A‖₂, unit norms, the
    largest component of each vector real and positive. Returns the largest errors (values, vectors)."""
    wn, vn = np.linalg.eig(a)
    order = pairing(w, wn)
    wn = np.take_along_axis(wn, order, axis=-1)
    vn = np.take_along_axis(vn, order[..., None, :], axis=-1)
    size = np.linalg.norm(a, 2, axis=(-2, -1))[..., None]
    value_error = np.max(np.abs(w - wn) / size, initial=0.0)
    signs = np.sign(np.sum(np.conj(vn) * v, axis=-2, keepdims=True).real)
    vector_error = np.max(np.abs(vn * signs - v), initial=0.0)
    residual = np.max(np.abs(a @ v - v * w[..., None, :]) / size[..., None], initial=0.0)
    assert value_error <= 2e-14, value_error
    if a.dtype.kind == "f":  # the eigenvalues of a real matrix that LAPACK gives exactly real are exactly real
        np.testing.assert_array_equal(w.imag == 0, wn.imag == 0)
        np.testing.assert_array_equal(np.all(v.imag == 0, axis=-2), w.imag == 0)
    assert vector_error <= vector_tol, vector_error
    assert residual <= 1e-14, residual
    np.testing.assert_allclose(np.linalg.norm(v, axis=-2), 1.0, rtol=0, atol=1e-15)
    check_normalised(v)
    return value_error, vector_error


def check_normalised(v):
    """The portable normalisation: in each column a component of largest modulus (to rounding: in a tie, such as the
    rotation's eigenvectors (1, ∓i)/√2, rounding decides) is real and positive."""
    size = v.real ** 2 + v.imag ** 2
    largest = size >= np.max(size, axis=-2, keepdims=True) * (1 - 1e-14)
    assert np.all(np.any(largest & (v.imag == 0) & (v.real > 0), axis=-2))


def gaussian(rng, shape, complex_):
    a = rng.standard_normal(shape)
    return a + 1j * rng.standard_normal(shape) if complex_ else a


def portable_pairs(lib, a):
    """The portable path's (w, V) on ``lib``, as NumPy copies (PyTorch's tensors too: not its own eig)."""
    x = lib.put(a)
    w, v = portable_eig.eigenpairs(backends.backend(x), x)
    return lib.get(w), lib.get(v)


# ---------------------------------------------------------------------------------------------------------------
# The portable forward's values.
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
@pytest.mark.parametrize(("n", "batch"), [(1, (3,)), (2, (4,)), (3, (2, 3)), (4, (5,)), (7, (3,)), (12, (2,)),
                                          (25, (2,)), (50, ())])
def test_portable_eig_matches_lapack(n, batch, complex_):
    a = gaussian(np.random.default_rng(n), batch + (n, n), complex_)
    w, v = portable_pairs(STRICT, a)
    assert w.dtype == v.dtype == np.complex128 and w.shape == batch + (n,) and v.shape == batch + (n, n)
    compare_with_lapack(a, w, v)


@pytest.mark.parametrize("lib", [DEVICE, TORCH], ids=["strict-device1", "torch"])
def test_portable_eig_stays_in_the_library(lib):
    """On the fake device (any hidden transfer to the host raises) and on PyTorch tensors (the portable code called
    directly, not PyTorch's own eig)."""
    a = gaussian(np.random.default_rng(5), (2, 6, 6), True)
    w, v = portable_pairs(lib, a)
    compare_with_lapack(a, w, v)
    w, v = portable_pairs(lib, a.real.astype(np.float32))
    assert w.dtype == v.dtype == np.complex64


def _mpmath_eigenvalues(a):
    mpmath.mp.dps = 50
    return np.array([complex(z) for z in mpmath.eig(mpmath.matrix(a.tolist()))[0]])


def test_balancing_keeps_small_eigenvalues_of_badly_scaled_matrices_accurate():
    """D B D⁻¹ with D = diag(10⁻⁶…10⁶): ‖A‖ ≈ 1e12, eigenvalues of order 1. Without balancing (as LAPACK's) their
    errors are ε‖A‖ ≈ 1e-4 relative (measured: 7e-2); with it, within 5e-14 of mpmath's, as NumPy's (2e-14)."""
    rng = np.random.default_rng(3)
    for n in (6, 10):
        d = np.diag(10.0 ** np.linspace(-6, 6, n))
        a = d @ rng.standard_normal((n, n)) @ np.linalg.inv(d)
        exact = _mpmath_eigenvalues(a)
        w, v = portable_pairs(STRICT, a)
        exact = exact[pairing(w, exact)]
        assert np.max(np.abs(w - exact) / np.abs(exact)) < 5e-14
        assert np.max(np.abs(a @ v - v * w) / np.abs(w)) < 1e-12  # each vector accurate to its own eigenvalue's scale


@pytest.mark.parametrize("scale", [1e-300, 1e-150, 1e150, 1e300])
def test_huge_and_tiny_matrices(scale):
    """A scaled by a power of two first: entries near the ends of the float64 range neither overflow nor underflow."""
    a = np.random.default_rng(11).standard_normal((5, 5))
    w, v = portable_pairs(STRICT, a * scale)
    w0, v0 = portable_pairs(STRICT, a)
    np.testing.assert_allclose(w / scale, w0, rtol=1e-13)
    np.testing.assert_allclose(v, v0, rtol=0, atol=1e-13)


def test_a_cycle_needs_the_exceptional_shift():
    """The cyclic permutation: Wilkinson's shift is 0 and a QR step gives the matrix back; the exceptional shifts
    (every 10th iteration) break the cycle. Eigenvalues: the n-th roots of unity; eigenvectors: Fourier modes."""
    for n in (3, 4, 7):
        a = np.roll(np.eye(n), 1, axis=0)
        w, v = portable_pairs(STRICT, a)
        roots = np.exp(2j * np.pi * np.arange(n) / n)
        np.testing.assert_allclose(np.sort_complex(np.round(w, 12)), np.sort_complex(np.round(roots, 12)),
                                   atol=1e-12)
        np.testing.assert_allclose(np.abs(v), 1 / np.sqrt(n), rtol=0, atol=1e-14)
        np.testing.assert_allclose(a @ v, v * w, rtol=0, atol=1e-14)


def test_no_convergence_is_an_error(monkeypatch):
    """Too few iterations allowed (the cycle needs the exceptional shift): a DomainError naming the shape."""
    monkeypatch.setattr(portable_eig, "ITERATIONS", 1)
    with pytest.raises(DomainError, match=r"did not converge in 10 iterations .* shape \(4, 4\)"):
        portable_pairs(STRICT, np.roll(np.eye(4), 1, axis=0))


def test_known_eigenvalues():
    rng = np.random.default_rng(8)
    cases = {
        "diagonal": (np.diag([3.0, -1.0, 2.0, 0.5]), np.array([3.0, -1.0, 2.0, 0.5])),
        "upper triangular": (np.triu(rng.standard_normal((5, 5))) + np.diag(np.arange(5.0)), None),
        "S D S^-1": None,
        "companion": None,
        "zero": (np.zeros((3, 3)), np.zeros(3)),
        "2x2 rotation": (np.array([[0.0, -1.0], [1.0, 0.0]]), np.array([1j, -1j])),
    }
    s = rng.standard_normal((4, 4)) + 4 * np.eye(4)
    lam = np.array([1.0, -2.0, 0.5 + 1j, 3.0 - 0.25j])
    cases["S D S^-1"] = (s @ np.diag(lam) @ np.linalg.inv(s), lam)
    roots = np.array([1.0, 2.0, -3.0, 0.5, 4.0])
    cases["companion"] = (np.diag(np.ones(4), -1) + np.vstack([-np.poly(roots)[1:], np.zeros((4, 5))]), roots)
    upper = cases["upper triangular"][0]
    cases["upper triangular"] = (upper, np.diag(upper))
    for name, (a, expected) in cases.items():
        w, v = portable_pairs(STRICT, a)
        expected = expected[pairing(w, expected)]
        np.testing.assert_allclose(w, expected, rtol=1e-13, atol=1e-14, err_msg=name)
        np.testing.assert_allclose(a @ v, v * w, rtol=0, atol=1e-13, err_msg=name)
        check_normalised(v)


def test_repeated_and_defective_eigenvalues():
    """The identity: n equal eigenvalues, and V invertible (the unit vectors). A Jordan block perturbed by 1e-12
    (defective in the limit): eigenvalues 1 + 1e-4·(roots of unity), conditioned as badly as LAPACK's, within
    1e-8 of mpmath's (NumPy's: alike); the residual stays at rounding."""
    w, v = portable_pairs(STRICT, np.eye(4))
    np.testing.assert_array_equal(w, np.ones(4))
    np.testing.assert_allclose(np.abs(np.linalg.det(v)), 1.0, rtol=1e-14)
    a = np.eye(3) + np.diag(np.ones(2), 1)
    a[2, 0] = 1e-12
    exact = _mpmath_eigenvalues(a)
    w, v = portable_pairs(STRICT, a)
    assert np.max(np.abs(w - exact[pairing(w, exact)])) < 1e-8
    assert np.max(np.abs(np.linalg.eigvals(a)[pairing(w, np.linalg.eigvals(a))] - w)) < 1e-8
    np.testing.assert_allclose(a @ v, v * w, rtol=0, atol=1e-14)


@pytest.mark.parametrize("n", [30, 60])
def test_a_jordan_block_gives_finite_vectors(n):
    """Back-substitution on a Jordan block divides by the floor ε|λ| in every row: without rescaling its columns the
    entries overflow (inf and nan by n = 20). Finite, and as LAPACK's: λ = 1 exactly, every vector ≈ e₁."""
    a = np.eye(n) + np.diag(np.ones(n - 1), 1)
    w, v = portable_pairs(STRICT, a)
    np.testing.assert_array_equal(w, np.ones(n))
    vn = np.linalg.eig(a)[1]
    np.testing.assert_allclose(v, vn * np.sign(vn[0]), rtol=0, atol=1e-15)  # (LAPACK's alternate in sign)
    np.testing.assert_allclose(a @ v, v * w, rtol=0, atol=1e-15)


def test_sizes_zero_and_one():
    w, v = portable_pairs(STRICT, np.array([[2.5]]))
    np.testing.assert_array_equal(w, [2.5])
    np.testing.assert_array_equal(v, [[1.0]])
    w, v = portable_pairs(STRICT, np.zeros((2, 0, 0)))
    assert w.shape == (2, 0) and v.shape == (2, 0, 0)


@pytest.mark.parametrize("lib", LIBRARIES, ids=IDS)
def test_dtypes(lib):
    """As NumPy's: complex64 for float32 and complex64 input (within float32 accuracy), complex128 for float64,
    complex128 and integers."""
    a = np.random.default_rng(4).standard_normal((5, 5))
    for data, dtype, tol in ((a, np.complex128, 1e-13), (a.astype(np.float32), np.complex64, 3e-6),
                             ((a + 1j * a.T).astype(np.complex64), np.complex64, 3e-6),
                             (np.round(4 * a).astype(np.int64), np.complex128, 1e-13)):
        y = lib.get(cnp.linalg.eig(cr.tensor(lib.put(data)))[0]._data)
        assert y.dtype == dtype
        exact = np.linalg.eigvals(data.astype(np.complex128))
        assert np.max(np.abs(y - exact[pairing(y, exact)])) <= tol * np.linalg.norm(data, 2)


@pytest.mark.parametrize("lib", LIBRARIES, ids=IDS)
def test_bad_input_says_what_was_wrong(lib):
    with pytest.raises(ShapeError, match=r"shape \(3, 4\), whose last two dimensions differ; expected a square"):
        cnp.linalg.eig(cr.tensor(lib.put(np.ones((3, 4)))))
    with pytest.raises(ShapeError, match=r"shape \(3,\)"):
        ops.apply(lookup("eigvals"), (cr.tensor(lib.put(np.ones(3))),))
    for bad in (np.nan, np.inf):
        a = np.eye(3)
        a[1, 2] = bad
        with pytest.raises(DomainError, match="inf or nan entries"):
            cnp.linalg.eigvals(cr.tensor(lib.put(a)))


@pytest.mark.parametrize("lib", LIBRARIES, ids=IDS)
def test_real_or_complex_results_as_numpys(lib):
    """cnp.linalg.eig and eigvals return real arrays for a real matrix whose eigenvalues are all real, as NumPy's,
    and complex ones otherwise; the values NumPy's (paired)."""
    rng = np.random.default_rng(9)
    upper = np.triu(rng.standard_normal((4, 4)))
    symmetric = upper + upper.T
    rotation = np.array([[0.0, -2.0, 0.3], [0.5, 0.0, 0.1], [0.0, 0.0, 1.0]])  # ±i, 1 (no tie in |v_i|)
    for a in (upper, symmetric, rotation, upper + 1j * np.eye(4)):
        w, v = cnp.linalg.eig(cr.tensor(lib.put(a)))
        wn, vn = np.linalg.eig(a)
        found, vectors = lib.get(w._data), lib.get(v._data)
        assert found.dtype == wn.dtype and vectors.dtype == vn.dtype
        assert lib.get(cnp.linalg.eigvals(cr.tensor(lib.put(a)))._data).dtype == wn.dtype
        order = pairing(found, wn)
        np.testing.assert_allclose(found, wn[order], rtol=0, atol=1e-14)
        signs = np.sign(np.sum(np.conj(vn[:, order]) * vectors, axis=0).real)
        np.testing.assert_allclose(vectors, vn[:, order] * signs, rtol=0, atol=1e-14)


# ---------------------------------------------------------------------------------------------------------------
# PyTorch's own eig.
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
def test_torch_uses_its_own_geev_with_numpys_conventions(complex_):
    """LAPACK's order of eigenvalues (no pairing needed), unit vectors with the largest component real; signs of
    real vectors may differ from NumPy's LAPACK build (they do for some of these)."""
    a = gaussian(np.random.default_rng(21), (4, 6, 6), complex_)
    x = torch.asarray(a)
    y = cnp.linalg.eig(cr.tensor(x))
    expected_w, expected_v = torch.linalg.eig(x)
    torch.testing.assert_close(y[0]._data, expected_w, rtol=0, atol=0)  # PyTorch's own, unchanged
    torch.testing.assert_close(y[1]._data, expected_v, rtol=0, atol=0)
    w, v = y[0]._data.numpy(), y[1]._data.numpy()
    wn, vn = np.linalg.eig(a)
    np.testing.assert_allclose(w, wn, rtol=0, atol=1e-13)
    signs = np.sign(np.sum(np.conj(vn) * v, axis=-2, keepdims=True).real)
    np.testing.assert_allclose(v, vn * signs, rtol=0, atol=1e-13)
    k = np.argmax(np.abs(v) ** 2, axis=-2)[..., None, :]
    assert np.all(np.take_along_axis(v, k, axis=-2).imag == 0)


# ---------------------------------------------------------------------------------------------------------------
# Derivatives computed in the library.
# ---------------------------------------------------------------------------------------------------------------
def _eig_loss(t, weights):
    """A loss of eigenvalues and eigenvectors that depends neither on their order nor on the vectors' signs:
    Σ_j Re λ_j · Σ_i c_i |v_ij|² + (Im λ_j)² + Re λ_j³ · Σ_i c_i |v_ij|⁴ + Σ_i c_i (Re v_ij)² + Re v_ij Im v_ij. The
    last terms depend on the phase of each vector, so on the gauge (which component is real) the derivative keeps."""
    w, v = cnp.linalg.eig(t)
    size = cr.real(v) ** 2 + cr.imag(v) ** 2
    c = cr.tensor(weights[:, None])
    return (cr.real(w) * (c * size).sum(axis=-2) + cr.imag(w) ** 2
            + cr.real(w * w * w) * (c * size * size).sum(axis=-2)
            + (c * cr.real(v) ** 2 + cr.real(v) * cr.imag(v)).sum(axis=-2)).sum()


def _eigvals_loss(t, weights):
    w = cnp.linalg.eigvals(t)
    return (cr.real(w * w * w) + cr.imag(w) ** 2 + cr.real(w) * weights[0]).sum()


LOSSES = {"eig": _eig_loss, "eigvals": _eigvals_loss}


@pytest.mark.parametrize("complex_", [False, True], ids=["real", "complex"])
@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("lib", LIBRARIES, ids=IDS)
def test_gradients_equal_numpys_and_central_differences(lib, name, complex_):
    """The gradient in the library equals NumPy's (1e-11) and central differences of the library's forward (along
    three random directions; the covector pairing Re Σ g·dA); the jvp equals NumPy's too."""
    rng = np.random.default_rng(31)
    a = gaussian(rng, (2, 4, 4), complex_)
    weights = np.linspace(0.5, 2.0, 4)
    loss = LOSSES[name]
    expected = cr.grad(lambda t: loss(t, weights))(a)
    x = cr.tensor(lib.put(a), requires_grad=True)
    loss(x, weights).backward()
    found = lib.get(x.grad._data)
    np.testing.assert_allclose(found, expected, rtol=1e-11, atol=1e-11)

    def f(values):
        return lib.get(loss(cr.tensor(lib.put(values)), weights)._data).item()

    eps = 1e-6
    for _ in range(3):
        d = gaussian(rng, a.shape, complex_)
        numeric = (f(a + eps * d) - f(a - eps * d)) / (2 * eps)
        analytic = float(np.sum(found * d).real)
        assert abs(numeric - analytic) <= 1e-7 * max(1.0, abs(numeric)), (numeric, analytic)

    direction = gaussian(rng, a.shape, complex_)
    _, tangent = cr.jvp(lambda t: loss(t, weights), (cr.tensor(lib.put(a)),), (cr.tensor(lib.put(direction)),))
    _, reference = cr.jvp(lambda t: loss(t, weights), (a,), (direction,))
    np.testing.assert_allclose(lib.get(tangent._data), reference, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("lib", [STRICT, TORCH], ids=["strict", "torch"])
def test_float32_gradients_stay_float32(lib):
    a = np.random.default_rng(2).standard_normal((3, 3)).astype(np.float32)
    x = cr.tensor(lib.put(a), requires_grad=True)
    _eigvals_loss(x, np.ones(3)).backward()
    grad = lib.get(x.grad._data)
    assert grad.dtype == np.float32
    expected = cr.grad(lambda t: _eigvals_loss(t, np.ones(3)))(a.astype(np.float64))
    np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("lib", LIBRARIES, ids=IDS)
def test_second_order_in_the_library(lib):
    """The Hessian of Σ Re λ³ (eigvals' vjp differentiated again: eig, solve and the gauge in the library) equals
    NumPy's; measured 8e-15."""
    a = np.random.default_rng(12).standard_normal((3, 3))

    def f(t):
        return cr.real(cnp.linalg.eigvals(t) ** 3).sum()

    found = cr.hessian(f)(cr.tensor(lib.put(a)))
    np.testing.assert_allclose(lib.get(found._data), cr.hessian(f)(a), rtol=1e-12, atol=1e-12)
