"""cnp.linalg.eig and eigvals of general (non-symmetric) square matrices, real and complex, batched.

Gradients are covectors (README, "Complex numbers"): for a real loss L of complex A, ∂L/∂x − i ∂L/∂y, the conjugate of
PyTorch's ``.grad``. The rule differentiates the eigenvectors NumPy returns (unit norm, largest component real), so
central differences of V itself agree with it; PyTorch and JAX fix the phase differently, so they are compared on
losses that do not depend on the phases: the eigenvalues, |v_ij|, and V f(Λ) V⁻¹ (a matrix function, checked against
torch.linalg.matrix_exp, which involves no eigendecomposition at all). HIPS autograd's three eig tests (test_eig_real,
test_eig_complex, test_eig_batched) are reproduced with a checker of our own: forward and reverse mode against
central differences, and the same for the derivatives of both, to second order.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import complex_covector

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.errors import ShapeError

EPS = 1e-6


def _c(*shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def _r(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _direction(x, seed):
    return _c(*x.shape, seed=seed) if np.iscomplexobj(x) else _r(*x.shape, seed=seed)


# ---------------------------------------------------------------------------------------------------------------
# Values: NumPy's, with NumPy's dtypes.
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("a", [_r(4, 4, seed=1), _c(4, 4), _r(3, 5, 5, seed=2), np.diag([1.0, 2.0, 3.0]) + np.triu(
    _r(3, 3), 1)], ids=["real", "complex", "batched", "real-eigenvalues"])
def test_values_and_dtypes_are_numpys(a):
    w, v = cnp.linalg.eig(cr.tensor(a))
    w_np, v_np = np.linalg.eig(a)
    assert w.dtype == w_np.dtype and v.dtype == v_np.dtype
    np.testing.assert_array_equal(w.data, w_np)
    np.testing.assert_array_equal(v.data, v_np)
    values = cnp.linalg.eigvals(cr.tensor(a))
    assert values.dtype == np.linalg.eigvals(a).dtype
    np.testing.assert_allclose(values.data, np_values := np.linalg.eigvals(a), rtol=1e-13, atol=1e-13 * np.abs(
        np_values).max())


def test_numpy_itself_dispatches_to_chainrule():
    a = cr.tensor(_c(3, 3), requires_grad=True)
    w, v = np.linalg.eig(a)
    assert isinstance(w, cr.Tensor) and isinstance(v, cr.Tensor)
    cr.sum(cr.real(np.linalg.eigvals(a) ** 2)).backward()
    # Σ λ² = tr A², whose covector is 2Aᵀ.
    np.testing.assert_allclose(a.grad, 2 * a.data.T, rtol=1e-12, atol=1e-12)


def test_float32_gives_complex64_and_float32_gradients():
    a32 = _r(4, 4, seed=3).astype(np.float32)
    t = cr.tensor(a32, requires_grad=True)
    w, v = cnp.linalg.eig(t)
    assert w.dtype == np.complex64 and v.dtype == np.complex64  # this matrix has complex eigenvalues
    (cr.sum(cr.real(w)) + cr.sum(cr.abs(v))).backward()
    assert t.grad.dtype == np.float32
    t64 = cr.tensor(a32.astype(np.float64), requires_grad=True)
    w64, v64 = cnp.linalg.eig(t64)
    (cr.sum(cr.real(w64)) + cr.sum(cr.abs(v64))).backward()
    np.testing.assert_allclose(t.grad.data, t64.grad.data, rtol=2e-4, atol=2e-5)
    z = cr.tensor(_c(3, 3).astype(np.complex64), requires_grad=True)
    cr.sum(cr.abs(cnp.linalg.eig(z)[1])).backward()
    assert z.grad.dtype == np.complex64


def test_a_non_square_matrix_is_refused_with_the_function_and_operand():
    with pytest.raises(ShapeError, match=r"eig: `a` has shape \(2, 3\).*square"):
        cnp.linalg.eig(cr.tensor(np.ones((2, 3))))
    with pytest.raises(ShapeError, match=r"eigvals: `a` has shape \(3,\).*matrix"):
        cnp.linalg.eigvals(cr.tensor(np.ones(3)))


# ---------------------------------------------------------------------------------------------------------------
# Central differences of NumPy's own eig (V itself, not only phase-free functions of it).
# ---------------------------------------------------------------------------------------------------------------
def _packed(a):
    w, v = np.linalg.eig(a)
    return np.concatenate([w.ravel(), v.ravel()]).astype(complex)


@pytest.mark.parametrize("a", [_c(4, 4, seed=4), _r(4, 4, seed=5), _c(2, 3, 3, seed=6)],
                         ids=["complex", "real", "batched"])
def test_jvp_of_values_and_vectors_matches_central_differences_of_numpy(a):
    da = _direction(a, 7)
    numeric = (_packed(a + EPS * da) - _packed(a - EPS * da)) / (2 * EPS)

    def f(x):
        w, v = cnp.linalg.eig(x)
        return cnp.concatenate([cnp.ravel(w), cnp.ravel(v)]).astype(complex)

    _, tangent = cr.jvp(f, (a,), (da,))
    np.testing.assert_allclose(tangent, numeric, rtol=1e-7, atol=1e-8)
    # And reverse mode: Re Σ u·dy = Re Σ vjp(u)·da for a complex covector u of the outputs.
    u = _c(numeric.size, seed=8)
    loss = lambda x: cr.sum(cr.real(u * f(x)))  # noqa: E731
    assert float(np.real(np.sum(cr.grad(loss)(a) * da))) == pytest.approx(float(np.real(np.sum(u * numeric))),
                                                                           rel=1e-7)


# ---------------------------------------------------------------------------------------------------------------
# PyTorch on phase-free losses (its gradient is the conjugate of ours; for real input, the same real array).
# ---------------------------------------------------------------------------------------------------------------
def _phase_free(a, lib, weights):
    """Re Σ p·λ + Σ q·|V| + Re Σ s·(V e^Λ V⁻¹): independent of each eigenvector's phase."""
    p, q, s = weights
    if lib is torch:
        w, v = torch.linalg.eig(a)
        function = torch.linalg.solve(v.mT, (v * torch.exp(w)[..., None, :]).mT).mT
        p, q, s = (torch.tensor(x) for x in (p, q, s))
        return (torch.sum(torch.real(p * w)) + torch.sum(q * torch.abs(v)) + torch.sum(torch.real(s * function)))
    w, v = cnp.linalg.eig(a)
    function = cnp.swapaxes(cnp.linalg.solve(cnp.swapaxes(v, -1, -2), cnp.swapaxes(v * cnp.exp(w)[..., None, :],
                                                                                   -1, -2)), -1, -2)
    return cnp.sum(cnp.real(p * w)) + cnp.sum(q * cnp.abs(v)) + cnp.sum(cnp.real(s * function))


def _weights(a, seed):
    n = a.shape[-1]
    lead = a.shape[:-2]
    return _c(*lead, n, seed=seed), _r(*lead, n, n, seed=seed + 1), _c(*lead, n, n, seed=seed + 2)


@pytest.mark.parametrize("a", [_c(4, 4, seed=9), _r(5, 5, seed=10), _c(3, 4, 4, seed=11)],
                         ids=["complex", "real", "batched"])
def test_gradient_is_torchs_conjugate_and_central_differences(a):
    weights = _weights(a, 20)
    ours = cr.grad(lambda x: _phase_free(x, cnp, weights))(a)
    at = torch.tensor(a, requires_grad=True)
    value = _phase_free(at, torch, weights)
    value.backward()
    assert float(_phase_free(cr.tensor(a), cnp, weights).data) == pytest.approx(value.item(), rel=1e-12)
    np.testing.assert_allclose(ours, np.conj(at.grad.numpy()), rtol=1e-10, atol=1e-11)
    loss = lambda x: float(np.real(_phase_free(cr.tensor(x), cnp, weights).data))  # noqa: E731
    if np.iscomplexobj(a):
        numeric = complex_covector(loss, a)
    else:
        numeric = np.zeros_like(a)
        for j in range(a.size):
            step = np.zeros(a.size)
            step[j] = EPS
            numeric.flat[j] = (loss(a + step.reshape(a.shape)) - loss(a - step.reshape(a.shape))) / (2 * EPS)
    np.testing.assert_allclose(ours, numeric, rtol=1e-6, atol=1e-7)


def test_matrix_function_gradient_equals_matrix_exp_without_any_eigendecomposition():
    a = _c(4, 4, seed=12)
    s = _c(4, 4, seed=13)
    ours = cr.grad(lambda x: _phase_free(x, cnp, (0 * s[0], 0 * s.real, s)))(a)
    at = torch.tensor(a, requires_grad=True)
    torch.sum(torch.real(torch.tensor(s) * torch.linalg.matrix_exp(at))).backward()
    np.testing.assert_allclose(ours, np.conj(at.grad.numpy()), rtol=1e-9, atol=1e-10)


def test_eigvals_gradient_is_torchs_and_eigs():
    a = _c(2, 4, 4, seed=14)
    p = _c(2, 4, seed=15)
    ours = cr.grad(lambda x: cnp.sum(cnp.real(p * cnp.linalg.eigvals(x) ** 2)))(a)
    through_eig = cr.grad(lambda x: cnp.sum(cnp.real(p * cnp.linalg.eig(x)[0] ** 2)))(a)
    at = torch.tensor(a, requires_grad=True)
    torch.sum(torch.real(torch.tensor(p) * torch.linalg.eigvals(at) ** 2)).backward()
    np.testing.assert_allclose(ours, np.conj(at.grad.numpy()), rtol=1e-10, atol=1e-11)
    np.testing.assert_allclose(through_eig, ours, rtol=1e-12, atol=1e-12)


def test_forward_mode_of_eigvals_agrees_with_reverse_mode():
    a, da = _c(4, 4, seed=16), _c(4, 4, seed=17)
    p = _c(4, seed=18)
    loss = lambda x: cnp.sum(cnp.real(p * cnp.linalg.eigvals(x)))  # noqa: E731
    _, forward = cr.jvp(loss, (a,), (da,))
    assert float(forward) == pytest.approx(float(np.real(np.sum(cr.grad(loss)(a) * da))), rel=1e-11)


# ---------------------------------------------------------------------------------------------------------------
# HIPS autograd's test_eig_real, test_eig_complex, test_eig_batched, with our own checker: forward and reverse mode,
# to second order, against central differences along random (complex, for complex input) directions.
# ---------------------------------------------------------------------------------------------------------------
def _flat(outputs):
    """The results as one real vector (real and imaginary parts of complex ones)."""
    parts = []
    for o in outputs:
        o = cnp.ravel(o)
        parts += [cnp.real(o), cnp.imag(o)] if o.dtype.kind == "c" else [o]
    return cnp.concatenate(parts)


def _central(f, x, dx, eps=EPS):
    return (np.asarray(f(x + eps * dx)) - np.asarray(f(x - eps * dx))) / (2 * eps)


def _pairing(g, dx):
    """Re Σ g·dx: how a covector g acts on a direction dx."""
    return float(np.real(np.sum(np.asarray(g) * dx)))


def _check_first_order(f, x, seed, rtol):
    """f: array -> real array. Forward mode (jvp) and reverse mode (vjp) against central differences."""
    dx = _direction(x, seed)
    numeric = _central(lambda z: f(z).data if isinstance(f(z), cr.Tensor) else f(z), x, dx)
    _, tangent = cr.jvp(f, (x,), (dx,))
    np.testing.assert_allclose(tangent, numeric, rtol=rtol, atol=rtol * np.abs(numeric).max())
    u = _r(*numeric.shape, seed=seed + 1)
    covector = cr.grad(lambda z: cr.sum(u * f(z)))(x)
    assert _pairing(covector, dx) == pytest.approx(float(np.sum(u * numeric)), rel=rtol)


def check_to_second_order(f, x, rtol=1e-6):
    """f and, as functions of x, its reverse-mode gradient and forward-mode derivative: each checked in both modes
    against central differences (what autograd's check_grads(order=2) asks, by our own code)."""

    def value(z):
        return _flat(f(z))

    _check_first_order(value, x, seed=30, rtol=rtol)
    u = _r(value(cr.tensor(x)).shape[0], seed=31)
    dx = _direction(x, 32)

    def reverse(z):  # the gradient of u·f at z, as a real vector
        return _flat([cr.grad(lambda q: cr.sum(u * value(q)))(z)])

    def forward(z):  # the derivative of f at z along dx
        return cr.jvp(value, (z,), (dx,))[1]

    _check_first_order(reverse, x, seed=33, rtol=rtol)
    _check_first_order(forward, x, seed=34, rtol=rtol)


def test_autograd_eig_real():
    def fun(x):
        w, v = cnp.linalg.eig(x)
        return cnp.abs(w), cnp.abs(v)

    check_to_second_order(fun, np.random.default_rng(40).standard_normal((8, 8)))


def test_autograd_eig_complex():
    def fun(x):
        w, v = cnp.linalg.eig(x)
        return w, cnp.abs(v)

    check_to_second_order(fun, _c(8, 8, seed=41))


def test_autograd_eig_batched():
    def fun(x):
        w, v = cnp.linalg.eig(x)
        return w, cnp.abs(v)

    check_to_second_order(fun, _c(5, 8, 8, seed=42))


# ---------------------------------------------------------------------------------------------------------------
# Repeated eigenvalues, as eigh: the eigenvalues' gradient stays finite, the eigenvectors' is inf/nan.
# ---------------------------------------------------------------------------------------------------------------
def test_repeated_eigenvalues():
    a = np.diag([1.0, 1.0, 2.0])
    a[0, 2] = 0.5  # diagonalizable, λ = 1 twice (exactly, from LAPACK)
    square_sum = cr.grad(lambda x: cnp.sum(cnp.real(cnp.linalg.eig(x)[0] ** 2)))(a)
    np.testing.assert_allclose(square_sum, 2 * a.T, rtol=1e-14, atol=1e-14)  # Σ λ² = tr A²
    with np.errstate(divide="ignore", invalid="ignore"):
        vectors = cr.grad(lambda x: cnp.sum(cnp.abs(cnp.linalg.eig(x)[1])))(a)
    assert np.all(np.isnan(vectors))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_entries_are_a_domain_error(bad):
    a = np.array([[bad, 0.0], [0.0, 1.0]])
    with pytest.raises(cr.DomainError, match=r"eig.*infs or NaNs"):
        cnp.linalg.eig(cr.tensor(a, requires_grad=True))
