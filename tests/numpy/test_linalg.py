"""cnp.linalg against torch.linalg (values, gradients, second order) and central differences, float64 and float32,
batched inputs, forward mode against reverse mode, and the errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy.linalg as la
from chainrule.errors import DomainError, NoDerivativeError, ShapeError

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

RNG = np.random.default_rng(0)


def _random(*shape):
    return RNG.standard_normal(shape)


def _spd(*shape):
    """Symmetric positive-definite matrices with well-separated eigenvalues."""
    a = RNG.standard_normal(shape)
    n = shape[-1]
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def _flip(first_row):
    """A constant ±1 per column that makes the factor's first row positive: a sign-invariant loss, so that NumPy's
    and torch's LAPACK sign choices give the same number."""
    return np.where(first_row >= 0, 1, -1).astype(first_row.dtype)


# Each case: (name, input maker, chainrule function of a Tensor, the same in torch). Outputs are weighted by a
# fixed random array in the test, so every element counts differently.
def _eigh_cr(a):
    w, v = la.eigh(a)
    return cr.concatenate([cr.reshape(w, (-1,)), cr.reshape(v * _flip(v.data[..., 0:1, :]), (-1,))])


def _eigh_t(a):
    w, v = torch.linalg.eigh(a)
    d = torch.where(v[..., 0:1, :] >= 0, 1.0, -1.0).to(v.dtype)
    return torch.cat([w.reshape(-1), (v * d).reshape(-1)])


def _svd_cr(a):
    u, s, vh = la.svd(a, full_matrices=False)
    d = _flip(u.data[..., 0:1, :])
    return cr.concatenate([cr.reshape(u * d, (-1,)), cr.reshape(s, (-1,)),
                           cr.reshape(vh * np.swapaxes(d, -1, -2), (-1,))])


def _svd_t(a):
    u, s, vh = torch.linalg.svd(a, full_matrices=False)
    d = torch.where(u[..., 0:1, :] >= 0, 1.0, -1.0).to(u.dtype)
    return torch.cat([(u * d).reshape(-1), s.reshape(-1), (vh * d.transpose(-1, -2)).reshape(-1)])


def _qr_cr(a):
    q, r = la.qr(a)
    d = _flip(np.diagonal(r.data, axis1=-2, axis2=-1)[..., None, :])
    return cr.concatenate([cr.reshape(q * d, (-1,)), cr.reshape(r * np.swapaxes(d, -1, -2), (-1,))])


def _qr_t(a):
    q, r = torch.linalg.qr(a)
    d = torch.where(torch.diagonal(r, dim1=-2, dim2=-1)[..., None, :] >= 0, 1.0, -1.0).to(q.dtype)
    return torch.cat([(q * d).reshape(-1), (r * d.transpose(-1, -2)).reshape(-1)])


def _sym(a):  # a symmetric parametrisation, where torch's symmetric gradient and chainrule's triangle one agree
    return (a + cr.swapaxes(a, -1, -2)) / 2 if isinstance(a, cr.Tensor) else (a + a.transpose(-1, -2)) / 2


B = np.array([1.0, -2.0, 0.5])
CASES = [
    ("solve", lambda: _random(3, 3), lambda a: la.solve(a, B.astype(a.dtype)),
     lambda a: torch.linalg.solve(a, torch.tensor(B))),
    ("solve_b", lambda: _random(3, 2), lambda b: la.solve(SPD3.astype(b.dtype), b),
     lambda b: torch.linalg.solve(torch.tensor(SPD3), b)),
    ("solve_batched", lambda: _random(2, 3, 3), lambda a: la.solve(a, _B2.astype(a.dtype)),
     lambda a: torch.linalg.solve(a, torch.tensor(_B2))),
    ("inv", lambda: _random(3, 3), la.inv, torch.linalg.inv),
    ("inv_batched", lambda: _random(2, 3, 3), la.inv, torch.linalg.inv),
    ("det", lambda: _random(3, 3), la.det, torch.linalg.det),
    ("det_batched", lambda: _random(2, 3, 3), la.det, torch.linalg.det),
    ("slogdet", lambda: _random(2, 3, 3), lambda a: la.slogdet(a)[1], lambda a: torch.linalg.slogdet(a)[1]),
    ("cholesky", lambda: _spd(3, 3), lambda a: la.cholesky(_sym(a)), lambda a: torch.linalg.cholesky(_sym(a))),
    ("cholesky_batched", lambda: _spd(2, 3, 3), lambda a: la.cholesky(_sym(a), upper=True),
     lambda a: torch.linalg.cholesky(_sym(a), upper=True)),
    ("eigh", lambda: _random(3, 3), lambda a: _eigh_cr(_sym(a)), lambda a: _eigh_t(_sym(a))),
    ("eigh_batched", lambda: _random(2, 4, 4), lambda a: _eigh_cr(_sym(a)), lambda a: _eigh_t(_sym(a))),
    ("eigvalsh", lambda: _random(2, 3, 3), lambda a: la.eigvalsh(_sym(a)), lambda a: torch.linalg.eigvalsh(_sym(a))),
    ("svd_square", lambda: _random(3, 3), _svd_cr, _svd_t),
    ("svd_tall", lambda: _random(4, 2), _svd_cr, _svd_t),
    ("svd_wide_batched", lambda: _random(2, 2, 3), _svd_cr, _svd_t),
    ("svdvals", lambda: _random(2, 4, 3), lambda a: la.svd(a, compute_uv=False), torch.linalg.svdvals),
    ("qr_square", lambda: _random(3, 3), _qr_cr, _qr_t),
    ("qr_tall_batched", lambda: _random(2, 4, 2), _qr_cr, _qr_t),
    ("pinv_tall", lambda: _random(4, 2), la.pinv, torch.linalg.pinv),
    ("pinv_wide_batched", lambda: _random(2, 2, 3), la.pinv, torch.linalg.pinv),
    ("matrix_power_3", lambda: _random(3, 3) / 2, lambda a: la.matrix_power(a, 3),
     lambda a: torch.linalg.matrix_power(a, 3)),
    ("matrix_power_-2", lambda: _random(2, 3, 3), lambda a: la.matrix_power(a, -2),
     lambda a: torch.linalg.matrix_power(a, -2)),
    ("norm_vector", lambda: _random(5), la.norm, torch.linalg.norm),
    ("norm_fro", lambda: _random(3, 4), la.norm, torch.linalg.norm),
    ("norm_nuc", lambda: _random(3, 4), lambda a: la.norm(a, "nuc"), lambda a: torch.linalg.matrix_norm(a, "nuc")),
    ("norm_2", lambda: _random(2, 3, 4), lambda a: la.norm(a, 2, axis=(1, 2)),
     lambda a: torch.linalg.matrix_norm(a, 2)),
    ("norm_-2", lambda: _random(3, 4), lambda a: la.norm(a, -2), lambda a: torch.linalg.matrix_norm(a, -2)),
    ("norm_1_matrix", lambda: _random(3, 4), lambda a: la.norm(a, 1), lambda a: torch.linalg.matrix_norm(a, 1)),
    ("norm_inf_matrix", lambda: _random(3, 4), lambda a: la.norm(a, np.inf),
     lambda a: torch.linalg.matrix_norm(a, float("inf"))),
    ("norm_p_axis", lambda: _random(3, 4), lambda a: la.norm(a, 3, axis=0, keepdims=True),
     lambda a: torch.linalg.vector_norm(a, 3, dim=0, keepdim=True)),
    ("norm_1_axis", lambda: _random(3, 4), lambda a: la.norm(a, 1, axis=-1), lambda a: torch.linalg.vector_norm(
        a, 1, dim=-1)),
    ("norm_inf_vector", lambda: _random(6), lambda a: la.norm(a, np.inf),
     lambda a: torch.linalg.vector_norm(a, float("inf"))),
    ("norm_-inf_vector", lambda: _random(6), lambda a: la.norm(a, -np.inf),
     lambda a: torch.linalg.vector_norm(a, float("-inf"))),
]
SPD3 = _spd(3, 3)
_B2 = _random(3, 2)
IDS = [c[0] for c in CASES]
# Second order: torch has it for all of these; max/min norms are piecewise linear and solve is linear in b (their
# second derivative is 0, which torch reports as an error).
SECOND_ORDER = [c for c in CASES if not c[0].startswith(("norm_inf", "norm_-inf", "norm_1", "solve_b"))]


def _weighted(f, shape, seed=5, dtype=np.float64):
    w = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return w, lambda x: cr.sum(f(x) * w)


@pytest.mark.parametrize(("name", "make", "f", "tf"), CASES, ids=IDS)
def test_values_and_gradients_against_torch(name, make, f, tf):
    x = make()
    out = f(cr.tensor(x))
    ref = tf(torch.tensor(x))
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    w, loss = _weighted(f, out.shape)
    gradient = cr.grad(loss)(x)
    tx = torch.tensor(x, requires_grad=True)
    (tf(tx) * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(gradient, tx.grad.numpy(), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize(("name", "make", "f", "tf"), CASES, ids=IDS)
def test_gradients_against_central_differences(name, make, f, tf):
    x = make()
    _, loss = _weighted(f, f(cr.tensor(x)).shape)
    assert cr.gradcheck(loss, x, eps=1e-6, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize(("name", "make", "f", "tf"), SECOND_ORDER, ids=[c[0] for c in SECOND_ORDER])
def test_second_order_against_torch(name, make, f, tf):
    x = make()
    w, loss = _weighted(f, f(cr.tensor(x)).shape)
    v = np.random.default_rng(9).standard_normal(x.shape)
    # Hessian-vector product: the gradient of ⟨∇loss, v⟩.
    hvp = cr.grad(lambda y: cr.sum(cr.grad(loss)(y) * v))(x)
    tx = torch.tensor(x, requires_grad=True)
    (g,) = torch.autograd.grad((tf(tx) * torch.tensor(w)).sum(), tx, create_graph=True)
    (ref,) = torch.autograd.grad((g * torch.tensor(v)).sum(), tx)
    np.testing.assert_allclose(hvp, ref.numpy(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize(("name", "make", "f", "tf"), CASES, ids=IDS)
def test_jvp_agrees_with_vjp(name, make, f, tf):
    x = make()
    v = np.random.default_rng(4).standard_normal(x.shape)
    out, tangent = cr.jvp(f, (x,), (v,))
    u = np.random.default_rng(6).standard_normal(np.shape(out))
    _, vjp_fn = cr.vjp(f, x)
    (cotangent,) = vjp_fn(u)
    assert np.sum(u * np.asarray(tangent)) == pytest.approx(np.sum(np.asarray(cotangent) * v), rel=1e-11, abs=1e-12)


@pytest.mark.parametrize(("name", "make", "f", "tf"), CASES, ids=IDS)
def test_float32_stays_float32(name, make, f, tf):
    x = make()
    out64 = f(cr.tensor(x))
    x32 = cr.tensor(x.astype(np.float32), requires_grad=True)
    out = f(x32)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, out64.data, rtol=1e-4, atol=1e-5)
    w, _ = _weighted(f, out.shape, dtype=np.float32)
    cr.sum(out * w).backward()
    assert x32.grad.dtype == np.float32
    g64 = cr.grad(lambda y: cr.sum(f(y) * w.astype(np.float64)))(x)
    np.testing.assert_allclose(x32.grad, g64, rtol=2e-3, atol=2e-4)


def test_without_tensors_numpy_answers():
    a, b = _spd(3, 3), _random(3)
    assert type(la.solve(a, b)) is np.ndarray and np.array_equal(la.solve(a, b), np.linalg.solve(a, b))
    w, _ = la.eigh(a)
    assert np.array_equal(w, np.linalg.eigh(a)[0]) and type(la.eigh(a)) is type(np.linalg.eigh(a))
    assert la.norm(b, 3) == np.linalg.norm(b, 3)
    assert type(la.svd(a)) is type(np.linalg.svd(a))


def test_tensor_results_equal_numpys():
    a = _random(2, 4, 3)
    u, s, vh = la.svd(cr.tensor(a), full_matrices=False)
    nu, ns, nvh = np.linalg.svd(a, full_matrices=False)
    assert np.array_equal(u.data, nu) and np.array_equal(s.data, ns) and np.array_equal(vh.data, nvh)
    q, r = la.qr(cr.tensor(a))
    assert np.array_equal(q.data, np.linalg.qr(a)[0]) and np.array_equal(la.qr(cr.tensor(a), "r").data, r.data)
    sign, _ = la.slogdet(cr.tensor(_random(3, 3)))
    assert sign.shape == () and not sign.requires_grad
    w, _ = la.eigh(cr.tensor(a[0, :3]), UPLO="U")
    np.testing.assert_allclose(w.data, np.linalg.eigh(a[0, :3], UPLO="U")[0], rtol=1e-13)  # eigh of aᵀ's lower


def test_eigenvalue_gradients_are_finite_at_repeated_eigenvalues():
    a = np.diag([1.0, 1.0, 2.0])  # a repeated eigenvalue
    tx = torch.tensor(a, requires_grad=True)
    torch.linalg.eigvalsh(tx).pow(2).sum().backward()
    for f in (lambda t: la.eigvalsh(t), lambda t: la.eigh(t)[0]):
        gradient = cr.grad(lambda t, f=f: cr.sum(f(t) ** 2))(a)
        np.testing.assert_allclose(gradient, np.tril(tx.grad.numpy() + tx.grad.numpy().T, -1)
                                   + np.diag(np.diag(tx.grad.numpy())), rtol=1e-12, atol=1e-12)


def test_eigenvector_gradients_at_repeated_eigenvalues_are_not_finite():
    a = np.diag([1.0, 1.0, 2.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        gradient = cr.grad(lambda t: cr.sum(la.eigh(t)[1] * np.arange(9.0).reshape(3, 3)))(a)
    assert not np.all(np.isfinite(gradient))


def test_singular_values_gradients_are_finite_at_repeated_singular_values():
    gradient = cr.grad(lambda t: cr.sum(la.svd(t, compute_uv=False)))(np.eye(3))
    np.testing.assert_allclose(gradient, np.eye(3), atol=1e-14)  # d nuclear norm = U Vᵀ = I


def test_eigh_reads_the_lower_triangle():
    # Changing the upper triangle changes nothing, so its gradient is zero, as finite differences say.
    a = _random(3, 3)
    gradient = cr.grad(lambda t: cr.sum(la.eigvalsh(t) ** 3))(a)
    assert np.all(np.triu(gradient, 1) == 0)
    assert cr.gradcheck(lambda t: cr.sum(la.eigvalsh(t) ** 3), a, eps=1e-6, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize(("call", "error", "words"), [
    (lambda: la.solve(cr.tensor(np.ones((3, 3))), np.ones(3)), DomainError, ("solve", "`a`", "singular",
                                                                             "invertible")),
    (lambda: la.inv(cr.tensor(np.zeros((2, 2)))), DomainError, ("inv", "`a`", "singular", "invertible")),
    (lambda: la.inv(cr.tensor(np.ones((2, 3)))), ShapeError, ("inv", "`a`", "(2, 3)", "square")),
    (lambda: la.det(cr.tensor(np.ones((2, 3)))), ShapeError, ("det", "`a`", "(2, 3)", "square")),
    (lambda: la.det(cr.tensor(np.ones(3))), ShapeError, ("det", "`a`", "(3,)", "matrix")),
    (lambda: la.cholesky(cr.tensor(np.array([[1.0, 2.0], [2.0, 1.0]]))), DomainError,
     ("cholesky", "`a`", "not positive definite", "expected a symmetric positive-definite")),
    (lambda: la.solve(cr.tensor(np.eye(3)), np.ones(2)), ShapeError, ("solve", "`b`", "(2,)", "(3,)")),
    (lambda: la.eigh(cr.tensor(np.ones((2, 3)))), ShapeError, ("eigh", "square")),
    (lambda: la.solve(cr.tensor(np.eye(2)), np.array(["1", "2"])), TypeError, ("solve", "`b`", "complex")),
    (lambda: la.svd(cr.tensor(np.ones((2, 3)))), NoDerivativeError, ("svd", "full_matrices=False")),
    (lambda: la.matrix_power(cr.tensor(np.eye(2)), 1.5), TypeError, ("matrix_power", "integer")),
    (lambda: cr.grad(lambda t: cr.sum(la.qr(t)[1]))(np.ones((2, 3))), NoDerivativeError, ("qr", "fewer rows")),
])
def test_bad_input_errors_name_function_operand_and_expectation(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value)


def test_det_gradient_at_a_singular_matrix_raises_rather_than_guess():
    with pytest.raises(DomainError, match="singular"):
        cr.grad(lambda t: la.det(t))(np.ones((3, 3)))


def _central(f, a, eps=1e-6):
    """∂f/∂a element by element, central differences on NumPy's own function."""
    out = np.zeros_like(a)
    for index in np.ndindex(a.shape):
        e = np.zeros_like(a)
        e[index] = eps
        out[index] = (f(a + e) - f(a - e)) / (2 * eps)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_eigh_upper_gives_numpys_eigenvectors_and_their_derivative(seed):
    # eigh(a, "U") reads aᵀ's lower triangle; LAPACK may then pick the other sign for an eigenvector than NumPy's
    # eigh(a, "U"). The values must be NumPy's, and the gradient that of NumPy's function (a non-symmetric a).
    rng = np.random.default_rng(seed)
    a, weights = rng.standard_normal((2, 5, 5)), rng.standard_normal((2, 5, 5))
    w, v = la.eigh(cr.tensor(a), "U")
    nw, nv = np.linalg.eigh(a, "U")
    np.testing.assert_allclose(w.data, nw, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(v.data, nv, rtol=1e-12, atol=1e-12)
    gradient = cr.grad(lambda t: cr.sum(la.eigh(t, "U")[1] * weights))(a)
    numeric = _central(lambda x: np.sum(np.linalg.eigh(x, "U")[1] * weights), a)
    np.testing.assert_allclose(gradient, numeric, rtol=1e-6, atol=1e-7)
    assert np.all(np.tril(gradient, -1) == 0)  # the lower triangle is not read


def test_norm_of_a_list_holding_tensors_stacks_it():
    # ‖(x, x + 2)‖ at x = 0 is 2; its derivative (x + x + 2)/‖·‖ = 1 (torch: the same on a stacked tensor).
    assert cr.grad(lambda x: la.norm([x, x + 2]))(0.0) == 1.0
    assert cr.grad(lambda x: la.norm((x, 3 * x), ord=1))(-0.5) == -4.0
    tx = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    torch.linalg.norm(torch.stack([tx, tx**2, torch.tensor(1.0, dtype=torch.float64)])).backward()
    assert cr.grad(lambda x: la.norm([x, x**2, 1.0]))(0.3) == pytest.approx(tx.grad.item(), rel=1e-14)


def test_a_linalg_function_without_derivative_says_which_have_one(monkeypatch):
    monkeypatch.setattr(np.linalg, "brand_new", lambda a: a, raising=False)  # every NumPy 2.4 one has a derivative
    with pytest.raises(AttributeError, match=r"cnp.linalg.brand_new has no derivative.*differentiable: .*eigh"):
        la.brand_new  # noqa: B018
    assert la.LinAlgError is np.linalg.LinAlgError
    with pytest.raises(AttributeError, match="no attribute 'no_such_thing'"):
        la.no_such_thing  # noqa: B018


def test_cholesky_upper_reads_the_upper_triangle_as_numpy():
    # NumPy's cholesky(a, upper=True) reads a's upper triangle: the gradient lives there, and matches differences of
    # NumPy's own function on a matrix whose two triangles differ.
    a = np.array([[4.0, 1.0, -0.5], [0.3, 3.0, 0.7], [2.0, -1.0, 2.5]])
    w = np.random.default_rng(3).standard_normal((3, 3))
    grad = cr.grad(lambda t: cr.sum(w * la.cholesky(t, upper=True)))(a)
    assert np.all(np.tril(grad, -1) == 0)
    numeric = np.zeros_like(a)
    for i, j in np.ndindex(3, 3):
        e = np.zeros_like(a)
        e[i, j] = 1e-6
        step = np.linalg.cholesky(a + e, upper=True) - np.linalg.cholesky(a - e, upper=True)
        numeric[i, j] = np.sum(w * step) / 2e-6
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)
