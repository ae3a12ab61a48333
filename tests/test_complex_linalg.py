"""Complex linear algebra and complex special functions, in the covector convention of tests/test_complex.py.

A gradient is ∂L/∂x − i ∂L/∂y for a real loss L of complex input (PyTorch's ``.grad`` is its conjugate). Each function
is checked through real losses L = Re Σ w·f(A) with random complex weights w, against central differences that perturb
the real and imaginary parts separately, against PyTorch's ``torch.linalg`` on complex tensors, forward against
reverse mode, and to second order. Eigenvectors and singular vectors have an arbitrary phase each, so their losses
are functions that do not depend on it (|v|², V f(Λ) Vᴴ, U Vh), as in JAX's and PyTorch's own tests.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import scipy.special
import torch
from helpers import complex_covector

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.scipy import special

EPS = 1e-6
RNG = np.random.default_rng(10)


def _c(*shape, rng=RNG):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def _hermitian_pd(n, rng=RNG):
    a = _c(n, n, rng=rng)
    return a @ a.conj().T + n * np.eye(n)


def _herm(x, lib):
    """(X + Xᴴ)/2: a Hermitian parametrisation, the same in chainrule and PyTorch."""
    if lib is torch:
        return (x + x.mH) / 2
    return (x + cnp.conj(cnp.swapaxes(x, -1, -2))) / 2


A = _c(3, 3)
B = _c(3, 2)
H = _hermitian_pd(3)

# name: (function on cnp or torch (lib), input, torch available). Gauge-invariant functions of eigh and svd.
CASES = {
    "solve_a": (lambda a, lib: lib.linalg.solve(a, lib_const(B, lib)), A),
    "solve_b": (lambda b, lib: lib.linalg.solve(lib_const(A, lib), b), B),
    "solve_vector": (lambda b, lib: lib.linalg.solve(lib_const(A, lib), b), _c(3)),
    "inv": (lambda a, lib: lib.linalg.inv(a), A),
    "inv_batch": (lambda a, lib: lib.linalg.inv(a), _c(2, 3, 3)),
    "det": (lambda a, lib: lib.linalg.det(a), A),
    "slogdet": (lambda a, lib: tuple(lib.linalg.slogdet(a)), A),
    "cholesky": (lambda a, lib: lib.linalg.cholesky(a), H),
    "cholesky_upper": (lambda a, lib: lib.linalg.cholesky(a, upper=True), H),
    "eigvalsh": (lambda a, lib: lib.linalg.eigvalsh(a), H),
    "eigvalsh_U": (lambda a, lib: lib.linalg.eigvalsh(a, "U"), H),
    "eigh_moduli": (lambda a, lib: _eigh_moduli(*lib.linalg.eigh(a), lib), H),
    "eigh_function": (lambda a, lib: _matrix_function(*lib.linalg.eigh(a), lib), H),
    "eigh_U_function": (lambda a, lib: _matrix_function(*lib.linalg.eigh(a, "U"), lib), H),
    "svdvals": (lambda a, lib: _svdvals(a, lib), _c(3, 4)),
    "svd_square": (lambda a, lib: _svd_function(a, lib), A),
    "svd_tall": (lambda a, lib: _svd_function(a, lib), _c(4, 2)),
    "svd_wide": (lambda a, lib: _svd_function(a, lib), _c(2, 4)),
    "svd_moduli": (lambda a, lib: _svd_moduli(a, lib), A),
    "qr_square": (lambda a, lib: tuple(lib.linalg.qr(a)), A),
    "qr_tall": (lambda a, lib: tuple(lib.linalg.qr(a)), _c(4, 3)),
    "pinv_tall": (lambda a, lib: lib.linalg.pinv(a), _c(4, 3)),
    "pinv_wide": (lambda a, lib: lib.linalg.pinv(a), _c(2, 3)),
    "matrix_power_3": (lambda a, lib: lib.linalg.matrix_power(a, 3), A),
    "matrix_power_-2": (lambda a, lib: lib.linalg.matrix_power(a, -2), A),
    "norm_vector": (lambda a, lib: _norm(a, None, lib), _c(4)),
    "norm_vector_1": (lambda a, lib: _norm(a, 1, lib), _c(4)),
    "norm_vector_3": (lambda a, lib: _norm(a, 3, lib), _c(4)),
    "norm_vector_inf": (lambda a, lib: _norm(a, np.inf, lib), _c(4)),
    "norm_fro": (lambda a, lib: _norm(a, "fro", lib), A),
    "norm_nuc": (lambda a, lib: _norm(a, "nuc", lib), A),
    "norm_2": (lambda a, lib: _norm(a, 2, lib), A),
    "norm_1": (lambda a, lib: _norm(a, 1, lib), A),
    "norm_-inf": (lambda a, lib: _norm(a, -np.inf, lib), A),
}


def lib_const(x, lib):
    return torch.tensor(x) if lib is torch else x


def _eigh_moduli(w, v, lib):
    return (w, lib.abs(v) ** 2)


def _matrix_function(w, v, lib):
    conj = torch.conj if lib is torch else cnp.conj
    return (v * lib.sin(w)[None, :]) @ lib.swapaxes(conj(v), -1, -2)


def _svdvals(a, lib):
    return torch.linalg.svdvals(a) if lib is torch else cnp.linalg.svd(a, compute_uv=False)


def _svd_function(a, lib):
    u, s, vh = lib.linalg.svd(a, full_matrices=False)
    return (u * lib.sqrt(s)[None, :]) @ vh, u @ vh


def _svd_moduli(a, lib):
    u, s, vh = lib.linalg.svd(a, full_matrices=False)
    return lib.abs(u) ** 2, lib.abs(vh) ** 2 * s[:, None]


def _norm(a, ord, lib):
    if lib is torch:
        return torch.linalg.norm(a) if ord is None else torch.linalg.norm(a, ord)
    return cnp.linalg.norm(a, ord)


def _weights(f, z, seed):
    rng = np.random.default_rng(seed)
    out = f(cr.tensor(z), cnp)
    outs = out if isinstance(out, tuple) else (out,)
    return [_c(*np.shape(o), rng=rng) for o in outs]


def _loss(f, weights, lib=cnp):
    """L(z) = Re Σ w·f(z) over f's results."""

    def loss(z):
        out = f(z, lib)
        outs = out if isinstance(out, tuple) else (out,)
        total = 0
        for o, w in zip(outs, weights, strict=True):
            w = torch.tensor(w) if lib is torch else w
            total = total + lib.sum(lib.real(w * o))
        return total

    return loss


def _numpy_loss(loss):
    return lambda z: np.real(np.asarray(cr.tensor(loss(cr.tensor(z))).data))


@pytest.mark.parametrize("name", CASES)
def test_gradient_matches_finite_differences(name):
    f, z = CASES[name]
    loss = _loss(f, _weights(f, z, 1))
    grad = cr.grad(loss)(z)
    assert grad.dtype == np.complex128 and grad.shape == z.shape
    np.testing.assert_allclose(grad, complex_covector(_numpy_loss(loss), z), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", CASES)
def test_gradient_is_the_conjugate_of_torch(name):
    f, z = CASES[name]
    weights = _weights(f, z, 2)
    ours = cr.grad(_loss(f, weights))(z)
    if name.startswith(("cholesky", "eig")):
        # PyTorch's gradient of a Hermitian input is Hermitian, chainrule's (NumPy reads one triangle) lives on the
        # triangle read: compare them through the Hermitian parametrisation (X + Xᴴ)/2 of an arbitrary X.
        f = lambda a, lib, f=f: f(_herm(a, lib), lib)  # noqa: E731
        z = z + 0.3 * _c(*z.shape, rng=np.random.default_rng(12))
        ours = cr.grad(_loss(f, weights))(z)
    zt = torch.tensor(z, requires_grad=True)
    value = _loss(f, weights, torch)(zt)
    value.backward()
    assert value.item() == pytest.approx(float(_loss(f, weights)(cr.tensor(z)).data), rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(ours, np.conj(zt.grad.numpy()), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("name", CASES)
def test_forward_mode_agrees_with_reverse_mode(name):
    f, z = CASES[name]
    loss = _loss(f, _weights(f, z, 3))
    tangent = _c(*z.shape, rng=np.random.default_rng(4))
    _, forward = cr.jvp(loss, (z,), (tangent,))
    reverse = np.real(np.sum(cr.grad(loss)(z) * tangent))  # the pairing Re(ḡ·t), no conjugation
    assert float(np.real(forward)) == pytest.approx(float(reverse), rel=1e-10, abs=1e-12)


SECOND_ORDER = ["solve_a", "inv", "det", "slogdet", "cholesky", "eigvalsh", "eigh_function", "svdvals",
                "svd_square", "qr_square", "qr_tall", "pinv_tall", "matrix_power_-2", "norm_vector", "norm_nuc"]


@pytest.mark.parametrize("name", SECOND_ORDER)
def test_second_order_reverse_and_forward_over_reverse(name):
    f, z = CASES[name]
    loss = _loss(f, _weights(f, z, 5))
    grad = cr.grad(loss)
    tangent = _c(*z.shape, rng=np.random.default_rng(6))
    # The derivative of the gradient along a complex direction, by central differences of the gradient itself.
    expected = (grad(z + EPS * tangent) - grad(z - EPS * tangent)) / (2 * EPS)
    _, forward = cr.jvp(grad, (z,), (tangent,))
    np.testing.assert_allclose(forward, expected, rtol=1e-5, atol=1e-6)
    # Reverse over reverse: the gradient of Re Σ u·grad(z) against central differences of that real function.
    u = _c(*z.shape, rng=np.random.default_rng(7))
    inner = lambda q: cr.sum(cr.real(u * grad(q)))  # noqa: E731
    numeric = complex_covector(lambda q: np.sum(np.real(u * grad(q))), z, eps=1e-5)
    np.testing.assert_allclose(cr.grad(inner)(z), numeric, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["inv", "slogdet", "cholesky", "eigh_function", "eigvalsh", "svd_tall", "svdvals",
                                  "qr_tall", "pinv_wide", "norm_nuc"])
def test_batched_jacobian_of_real_outputs_matches_row_by_row_gradients(name):
    # cr.jacobian carries all rows through one batched backward pass; each row must be that output's gradient.
    f, z = CASES[name]
    weights = _weights(f, z, 13)

    def outputs(a):
        out = f(a, cnp)
        outs = out if isinstance(out, tuple) else (out,)
        return cnp.concatenate([cnp.ravel(cnp.real(w * o)) for o, w in zip(outs, weights, strict=True)])

    jac = cr.jacobian(outputs)(z)
    rows = np.stack([cr.grad(lambda a, k=k: outputs(a)[k])(z) for k in range(jac.shape[0])])
    np.testing.assert_allclose(jac, rows, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["inv", "det", "slogdet", "cholesky", "eigh_function", "eigvalsh", "svd_square",
                                  "svdvals", "qr_tall", "pinv_tall", "matrix_power_3", "norm_fro"])
def test_complex64_stays_complex64(name):
    f, z = CASES[name]
    z32 = z.astype(np.complex64)
    weights = [w.astype(np.complex64) for w in _weights(f, z, 8)]
    loss = _loss(f, weights)
    out = f(cr.tensor(z32), cnp)
    for o in out if isinstance(out, tuple) else (out,):
        assert o.dtype in (np.complex64, np.float32)
    grad = cr.grad(loss)(z32)
    assert grad.dtype == np.complex64
    np.testing.assert_allclose(grad, cr.grad(loss)(z), rtol=2e-3, atol=2e-4)


def test_values_are_numpys_with_real_eigenvalues_and_singular_values():
    w, v = cnp.linalg.eigh(cr.tensor(H))
    w_np, v_np = np.linalg.eigh(H)
    assert w.dtype == np.float64 and np.array_equal(w.data, w_np) and np.array_equal(v.data, v_np)
    _, vu = cnp.linalg.eigh(cr.tensor(H), "U")
    np.testing.assert_allclose(vu.data, np.linalg.eigh(H, "U")[1], atol=1e-13)
    u, s, vh = cnp.linalg.svd(cr.tensor(A))
    assert s.dtype == np.float64
    np.testing.assert_allclose((u.data * s.data) @ vh.data, A, atol=1e-13)
    sign, logabs = cnp.linalg.slogdet(cr.tensor(A))
    sign_np, logabs_np = np.linalg.slogdet(A)
    assert logabs.dtype == np.float64 and float(logabs.data) == pytest.approx(logabs_np, rel=1e-14)
    assert complex(sign.data) == pytest.approx(sign_np, rel=1e-14)
    np.testing.assert_allclose(cnp.linalg.cholesky(cr.tensor(H), upper=True).data, np.linalg.cholesky(H, upper=True))


def test_hermitian_rules_read_the_lower_triangle_and_the_real_diagonal():
    # Changing the upper triangle, or the imaginary part of the diagonal, changes nothing: no gradient goes there.
    for f in (cnp.linalg.cholesky, cnp.linalg.eigvalsh):
        g = lambda a, lib, f=f: f(a)  # noqa: E731
        loss = _loss(g, _weights(g, H, 9))
        grad = cr.grad(loss)(H)
        assert np.all(np.triu(grad, 1) == 0)
        assert np.all(np.imag(np.diag(grad)) == 0)


def test_eigenvector_phase_does_not_change_a_gauge_invariant_gradient():
    # The same loss written with the eigenvectors turned by a phase e^{iθ} gives the same gradient.
    weights = _weights(CASES["eigh_function"][0], H, 10)
    phases = np.exp(1j * np.array([0.3, -1.2, 2.0]))

    def turned(a, lib):
        w, v = cnp.linalg.eigh(a)
        return _matrix_function(w, v * phases[None, :], lib)

    np.testing.assert_allclose(cr.grad(_loss(turned, weights))(H),
                               cr.grad(_loss(CASES["eigh_function"][0], weights))(H), rtol=1e-12, atol=1e-13)


def test_holomorphic_inverse_and_determinant_have_transposes_not_conjugate_transposes():
    # d det A = det A tr(A⁻¹ dA), holomorphic: cr.grad(..., holomorphic=True) of det is det A · A⁻ᵀ, closed form.
    expected = np.linalg.det(A) * np.linalg.inv(A).T
    np.testing.assert_allclose(cr.grad(cnp.linalg.det, holomorphic=True)(A), expected, rtol=1e-12)
    # inv: the holomorphic Jacobian of A ↦ A⁻¹ is −(A⁻¹ ⊗ A⁻ᵀ), so Σ_ij of it gives −A⁻ᵀ 1 1ᵀ A⁻ᵀ.
    inv = np.linalg.inv(A)
    ones = np.ones((3, 3))
    got = cr.grad(lambda a: cnp.sum(cnp.linalg.inv(a)), holomorphic=True)(A)
    np.testing.assert_allclose(got, -inv.T @ ones @ inv.T, rtol=1e-12)


def test_bad_input_is_refused_clearly():
    with pytest.raises(TypeError, match=r"linalg.solve.*dtype"):
        cnp.linalg.solve(cr.tensor(A), np.array(["a", "b", "c"]))
    with pytest.raises(Exception, match="positive definite"):
        cnp.linalg.cholesky(cr.tensor(-H))


# ---------------------------------------------------------------------------------------------------------------
# cr.jacobian and cr.hessian of complex input.
# ---------------------------------------------------------------------------------------------------------------
def test_jacobian_of_complex_input_and_output_needs_holomorphic():
    z = np.array([0.5 + 0.2j, -0.3 + 1j])
    with pytest.raises(TypeError, match=r"jacobian: .*complex input and complex output.*holomorphic=True"):
        cr.jacobian(lambda z: cnp.conj(z) * z)(z)
    np.testing.assert_allclose(cr.jacobian(lambda z: cnp.sin(z), holomorphic=True)(z), np.diag(np.cos(z)),
                               rtol=1e-14)
    with pytest.raises(TypeError, match=r"holomorphic=True.*complex inputs.*float64"):
        cr.jacobian(lambda x: x * 2, holomorphic=True)(np.array([1.0, 2.0]))


def test_jacobian_of_a_real_function_of_complex_input_has_the_gradients_as_rows():
    z = np.array([0.5 + 0.2j, -0.3 + 1j])
    f = lambda z: cnp.abs(z) ** 2 * np.array([1.0, 2.0])  # noqa: E731
    jac = cr.jacobian(f)(z)
    expected = np.stack([cr.grad(lambda q, k=k: f(q)[k])(z) for k in range(2)])
    np.testing.assert_allclose(jac, expected, rtol=1e-14)
    np.testing.assert_allclose(np.diag(jac), [2, 4] * np.conj(z), rtol=1e-14)  # |z|² has ∂x − i∂y = 2 z̄


def test_hessian_of_complex_input_needs_holomorphic():
    z = np.array([0.5 + 0.2j, -0.3 + 1j])
    with pytest.raises(TypeError, match=r"hessian: the gradient .* not holomorphic.*holomorphic=True"):
        cr.hessian(lambda z: cnp.sum(cnp.abs(z) ** 2))(z)
    hess = cr.hessian(lambda z: cnp.sum(z ** 3), holomorphic=True)(z)
    np.testing.assert_allclose(hess, np.diag(6 * z), rtol=1e-14)
    np.testing.assert_allclose(cr.hessian(lambda x: cnp.sum(x ** 3))(np.array([1.0, 2.0])), np.diag([6.0, 12.0]))


# ---------------------------------------------------------------------------------------------------------------
# Special functions whose SciPy ufunc takes complex input and is holomorphic.
# ---------------------------------------------------------------------------------------------------------------
MPMATH = {
    "erf": mpmath.erf,
    "erfc": mpmath.erfc,
    "ndtr": lambda z: (1 + mpmath.erf(z / mpmath.sqrt(2))) / 2,
    "log_ndtr": lambda z: mpmath.log((1 + mpmath.erf(z / mpmath.sqrt(2))) / 2),
    "gamma": mpmath.gamma,
    "rgamma": mpmath.rgamma,
}
POINTS = np.array([0.3 + 0.4j, -0.7 + 0.2j, 1.1 - 0.5j, 2.5 + 1.5j])


@pytest.mark.parametrize("name", MPMATH)
def test_special_functions_of_complex_input_against_mpmath(name):
    f = getattr(special, name)
    derivative = np.array([complex(mpmath.diff(MPMATH[name], mpmath.mpc(z.real, z.imag))) for z in POINTS])
    np.testing.assert_allclose(f(cr.tensor(POINTS)).data, getattr(scipy.special, name)(POINTS), rtol=1e-15)
    # A holomorphic f: grad of Re Σ w f(z) is w f′(z); the holomorphic gradient of Σ f is f′(z).
    w = _c(POINTS.size, rng=np.random.default_rng(11))
    np.testing.assert_allclose(cr.grad(lambda z: cr.sum(cr.real(w * f(z))))(POINTS), w * derivative, rtol=1e-12)
    np.testing.assert_allclose(cr.grad(lambda z: cr.sum(f(z)), holomorphic=True)(POINTS), derivative, rtol=1e-12)
    _, tangent = cr.jvp(f, (POINTS,), (np.ones_like(POINTS),))
    np.testing.assert_allclose(tangent, derivative, rtol=1e-12)
    assert f(cr.tensor(POINTS.astype(np.complex64))).dtype == np.complex64
    numeric = complex_covector(lambda q: np.sum(np.real(w * getattr(scipy.special, name)(q))), POINTS)
    np.testing.assert_allclose(cr.grad(lambda z: cr.sum(cr.real(w * f(z))))(POINTS), numeric, rtol=1e-7)


@pytest.mark.parametrize("name", ["erf", "erfc", "ndtr", "log_ndtr"])
def test_special_functions_second_derivative_of_complex_input(name):
    f = getattr(special, name)
    second = np.array([complex(mpmath.diff(MPMATH[name], mpmath.mpc(z.real, z.imag), 2)) for z in POINTS])
    got = cr.grad(lambda z: cr.sum(cr.grad(lambda q: cr.sum(f(q)), holomorphic=True)(z)), holomorphic=True)(POINTS)
    np.testing.assert_allclose(got, second, rtol=1e-11)


def test_special_functions_without_a_complex_derivative_refuse_complex_input():
    with pytest.raises(TypeError, match=r"gammaln.*complex"):
        special.gammaln(cr.tensor(POINTS))
    with pytest.raises(TypeError, match=r"digamma.*complex"):  # gamma's second derivative needs polygamma
        cr.grad(lambda z: cr.sum(cr.grad(lambda q: cr.sum(special.gamma(q)), holomorphic=True)(z)),
                holomorphic=True)(POINTS)
