"""chainrule.scipy.linalg and chainrule.scipy.signal: values equal SciPy's; gradients equal PyTorch's (test-only:
torch.linalg.solve_triangular, cholesky, cholesky_solve, conv1d/conv2d) or closed forms (a Kronecker-product solve for
the Sylvester equation, eigh for the square root of a symmetric matrix); finite differences of first and second
order, jvp against vjp, and the errors."""

from __future__ import annotations

import numpy as np
import pytest

scipy_linalg = pytest.importorskip(
    "scipy.linalg", reason="chainrule.scipy needs SciPy (pip install 'chainrule[scipy]')"
)
scipy_signal = pytest.importorskip("scipy.signal")
torch = pytest.importorskip("torch")

import chainrule as cr  # noqa: E402
from chainrule.errors import DomainError, ShapeError  # noqa: E402
from chainrule.scipy import linalg, signal  # noqa: E402

RNG = np.random.default_rng(21)


def _lower(n, seed):
    rng = np.random.default_rng(seed)
    return np.tril(rng.standard_normal((n, n))) + 3 * np.eye(n)


def _spd(n, seed):
    a = np.random.default_rng(seed).standard_normal((n, n))
    return a @ a.T + n * np.eye(n)


def _torch_grads(function, *args):
    ts = [torch.tensor(a, requires_grad=True) for a in args]
    out = function(*ts)
    w = torch.tensor(np.random.default_rng(99).standard_normal(tuple(out.shape)))
    (out * w).sum().backward()
    return [t.grad.numpy() for t in ts], w.numpy()


def _grads(function, w, *args):
    return cr.grad(lambda *a: (function(*a) * w).sum(), argnums=tuple(range(len(args))))(*args)


@pytest.mark.parametrize(
    ("lower", "trans", "unit_diagonal", "b_shape"),
    [
        (True, 0, False, (4,)),
        (True, 1, False, (4, 2)),
        (False, 0, False, (4, 3)),
        (False, "T", False, (4,)),
        (True, 0, True, (4, 2)),
        (False, 1, True, (4,)),
    ],
)
def test_solve_triangular_against_torch(lower, trans, unit_diagonal, b_shape):
    a = _lower(4, 1) if lower else _lower(4, 1).T
    a = a + np.triu(RNG.standard_normal((4, 4)), 1) if lower else a + np.tril(RNG.standard_normal((4, 4)), -1)
    b = RNG.standard_normal(b_shape)  # a holds junk in the other triangle: it must be ignored, as SciPy does
    kwargs = {"lower": lower, "trans": trans, "unit_diagonal": unit_diagonal}
    ours = linalg.solve_triangular(cr.tensor(a), b, **kwargs)
    np.testing.assert_allclose(ours.data, scipy_linalg.solve_triangular(a, b, **kwargs), rtol=1e-13)

    def torch_form(at, bt):
        tri = torch.tril(at) if lower else torch.triu(at)
        if unit_diagonal:
            tri = tri - torch.diag(torch.diagonal(tri)) + torch.eye(4, dtype=at.dtype)
        op = tri.T if trans in (1, "T") else tri
        rhs = bt[:, None] if bt.ndim == 1 else bt
        x = torch.linalg.solve(op, rhs)
        return x[:, 0] if bt.ndim == 1 else x

    (ha, hb), w = _torch_grads(torch_form, a, b)
    ga, gb = _grads(lambda p, q: linalg.solve_triangular(p, q, **kwargs), w, a, b)
    np.testing.assert_allclose(ga, ha, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(gb, hb, rtol=1e-11, atol=1e-13)
    f = lambda p, q: linalg.solve_triangular(p, q, **kwargs)  # noqa: E731
    assert cr.gradcheck(f, cr.tensor(a), cr.tensor(b), atol=1e-7, rtol=1e-6)
    assert cr.gradcheck(
        lambda p, q: cr.grad(lambda s, t: (f(s, t) ** 2).sum(), argnums=(0, 1))(p, q)[0],
        cr.tensor(a),
        cr.tensor(b),
        atol=1e-6,
        rtol=1e-6,
    )
    u, v = RNG.standard_normal(a.shape), RNG.standard_normal(b.shape)
    _, tangent = cr.jvp(f, (a, b), (u, v))
    _, vjp_fn = cr.vjp(f, a, b)
    ca, cb = vjp_fn(np.asarray(w))
    assert np.sum(np.asarray(w) * np.asarray(tangent)) == pytest.approx(np.sum(ca * u) + np.sum(cb * v), rel=1e-12)


@pytest.mark.parametrize("lower", [True, False])
def test_cholesky_cho_factor_cho_solve_against_torch(lower):
    a, b = _spd(4, 2), RNG.standard_normal((4, 2))
    c = linalg.cholesky(cr.tensor(a), lower=lower)
    np.testing.assert_allclose(c.data, scipy_linalg.cholesky(a, lower=lower), rtol=1e-13, atol=1e-15)
    factor = linalg.cho_factor(cr.tensor(a), lower=lower)
    x = linalg.cho_solve(factor, b)
    np.testing.assert_allclose(x.data, scipy_linalg.cho_solve(scipy_linalg.cho_factor(a, lower=lower), b), rtol=1e-12)

    def ours(p, q):
        return linalg.cho_solve(linalg.cho_factor((p + p.T) / 2, lower=lower), q)

    (ha, hb), w = _torch_grads(lambda p, q: torch.cholesky_solve(q, torch.linalg.cholesky((p + p.T) / 2)), a, b)
    ga, gb = _grads(ours, w, a, b)
    np.testing.assert_allclose(ga, ha, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(gb, hb, rtol=1e-11, atol=1e-14)
    # The factor reads one triangle only (the upper one for lower=False, as SciPy): no gradient in the other.
    g = cr.grad(lambda p: linalg.cholesky(p, lower=lower).sum())(a)
    np.testing.assert_array_equal(np.triu(g, 1) if lower else np.tril(g, -1), 0.0)
    assert cr.gradcheck(lambda p: linalg.cholesky(p, lower=lower), cr.tensor(a), atol=1e-7, rtol=1e-6)
    assert cr.gradcheck(
        lambda p: cr.grad(lambda s: (linalg.cholesky(s, lower=lower) ** 3).sum())(p), cr.tensor(a), atol=1e-6, rtol=1e-6
    )


def test_cholesky_factor_gradient_equals_torch_on_a_symmetric_parametrisation():
    a = _spd(5, 3)
    (h,), w = _torch_grads(lambda p: torch.linalg.cholesky((p + p.T) / 2), a)
    (g,) = _grads(lambda p: linalg.cholesky((p + p.T) / 2, lower=True), w, a)
    np.testing.assert_allclose(g, h, rtol=1e-10, atol=1e-14)
    u = RNG.standard_normal(a.shape)
    _, tangent = cr.jvp(lambda p: linalg.cholesky(p, lower=True), (a,), (u,))
    _, vjp_fn = cr.vjp(lambda p: linalg.cholesky(p, lower=True), a)
    assert np.sum(w * np.asarray(tangent)) == pytest.approx(np.sum(np.asarray(vjp_fn(w)) * u), rel=1e-12)


def test_solve_sylvester_against_a_kronecker_solve():
    a, b, q = _spd(3, 4), _spd(3, 5) + RNG.standard_normal((3, 3)) * 0.1, RNG.standard_normal((3, 3))
    x = linalg.solve_sylvester(cr.tensor(a), b, q)
    np.testing.assert_allclose(x.data, scipy_linalg.solve_sylvester(a, b, q), rtol=1e-12)

    def kronecker(at, bt, qt):  # vec(AX + XB) = (I ⊗ A + Bᵀ ⊗ I) vec X, column-major vec
        eye = torch.eye(3, dtype=at.dtype)
        big = torch.kron(eye, at) + torch.kron(bt.T.contiguous(), eye)
        return torch.linalg.solve(big, qt.T.reshape(-1)).reshape(3, 3).T.contiguous()

    theirs, w = _torch_grads(kronecker, a, b, q)
    ours = _grads(linalg.solve_sylvester, w, a, b, q)
    for g, h in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(g, h, rtol=1e-10, atol=1e-13)
    tensors = [cr.tensor(v) for v in (a, b, q)]
    assert cr.gradcheck(linalg.solve_sylvester, *tensors, atol=1e-7, rtol=1e-6)
    assert cr.gradcheck(
        lambda *p: cr.grad(lambda *s: (linalg.solve_sylvester(*s) ** 2).sum(), argnums=(0, 1, 2))(*p)[0],
        *tensors,
        atol=1e-6,
        rtol=1e-6,
    )


def test_sqrtm_against_eigh_in_torch():
    a = _spd(4, 6)
    y = linalg.sqrtm(cr.tensor(a))
    np.testing.assert_allclose(y.data, scipy_linalg.sqrtm(a), rtol=1e-10)

    def torch_sqrtm(p):
        w, v = torch.linalg.eigh((p + p.T) / 2)
        return v @ torch.diag(torch.sqrt(w)) @ v.T

    (h,), w = _torch_grads(torch_sqrtm, a)
    (g,) = _grads(lambda p: linalg.sqrtm((p + p.T) / 2), w, a)
    np.testing.assert_allclose(g, h, rtol=1e-9, atol=1e-12)
    nonsymmetric = a + np.triu(RNG.standard_normal((4, 4)), 1)
    assert cr.gradcheck(linalg.sqrtm, cr.tensor(nonsymmetric), atol=1e-7, rtol=1e-6)
    assert cr.gradcheck(
        lambda p: cr.grad(lambda s: (linalg.sqrtm(s) ** 2).sum())(p), cr.tensor(nonsymmetric), atol=1e-6, rtol=1e-5
    )


def test_sqrtm_of_a_real_matrix_with_negative_eigenvalues_is_scipys_complex_root():
    q, _ = np.linalg.qr(RNG.standard_normal((3, 3)))
    a = q @ np.diag([-1.5, 0.7, 2.0]) @ q.T
    y = linalg.sqrtm(cr.tensor(a))
    assert y.dtype == np.complex128
    np.testing.assert_allclose(y.data, scipy_linalg.sqrtm(a), rtol=1e-10, atol=1e-12)
    w_re, w_im = RNG.standard_normal((2, 3, 3))

    def torch_loss(p):
        w, v = torch.linalg.eigh((p + p.T) / 2)
        root = v.to(torch.complex128) @ torch.diag(torch.sqrt(w.to(torch.complex128))) @ v.T.to(torch.complex128)
        return (root.real * torch.tensor(w_re) + root.imag * torch.tensor(w_im)).sum()

    def loss(p):
        root = linalg.sqrtm((p + p.T) / 2)
        return cr.sum(cr.real(root) * w_re + cr.imag(root) * w_im)

    t = torch.tensor(a, requires_grad=True)
    torch_loss(t).backward()
    np.testing.assert_allclose(cr.grad(loss)(a), t.grad.numpy(), rtol=1e-9, atol=1e-12)
    # a non-symmetric matrix: forward mode against the Daleckii-Krein form V (F o V^-1 dA V) V^-1, F = 1/(si + sj)
    b = a + 0.3 * np.triu(RNG.standard_normal((3, 3)), 1)
    lam, v = np.linalg.eig(b.astype(complex))
    roots, v_inv = np.sqrt(lam), np.linalg.inv(v)
    db = RNG.standard_normal((3, 3))
    expected = v @ ((v_inv @ db @ v) / (roots[:, None] + roots[None, :])) @ v_inv
    _, tangent = cr.jvp(linalg.sqrtm, (b,), (db,))
    np.testing.assert_allclose(tangent, expected, rtol=1e-10, atol=1e-12)
    g = RNG.standard_normal((3, 3)) + 1j * RNG.standard_normal((3, 3))
    (cotangent,) = cr.vjp(linalg.sqrtm, b)[1](g)
    assert cotangent.dtype == np.float64  # a real input's gradient is real
    np.testing.assert_allclose(np.sum(cotangent * db), np.real(np.sum(g * expected)), rtol=1e-10)
    assert cr.gradcheck(lambda p: cr.grad(loss)(p), cr.tensor(b), atol=1e-6, rtol=1e-5)  # second order


def test_solve_banded_against_a_dense_solve():
    ab = RNG.standard_normal((3, 5)) + np.array([[0.0], [4.0], [0.0]])
    b = RNG.standard_normal(5)
    x = linalg.solve_banded((1, 1), cr.tensor(ab), b)
    np.testing.assert_allclose(x.data, scipy_linalg.solve_banded((1, 1), ab, b), rtol=1e-12)
    assert cr.gradcheck(
        lambda p, q: linalg.solve_banded((1, 1), p, q), cr.tensor(ab), cr.tensor(b), atol=1e-7, rtol=1e-6
    )


def test_linalg_errors():
    with pytest.raises(ShapeError, match=r"solve_triangular: `b` has shape \(3,\) but `a` is 4x4"):
        linalg.solve_triangular(cr.tensor(np.eye(4)), np.ones(3))
    with pytest.raises(ValueError, match=r"`trans` must be 0, 1, 2, 'N', 'T' or 'C'; got 5"):
        linalg.solve_triangular(cr.tensor(np.eye(2)), np.ones(2), trans=5)
    with pytest.raises(DomainError, match=r"is singular"):
        linalg.solve_triangular(cr.tensor(np.zeros((2, 2))), np.ones(2), lower=True)
    with pytest.raises(DomainError, match=r"not positive definite"):
        linalg.cholesky(cr.tensor(-np.eye(2)))
    with pytest.raises(TypeError, match=r"cho_solve: the first argument must be the pair \(c, lower\)"):
        linalg.cho_solve(cr.tensor(np.eye(2)), np.ones(2))
    with pytest.raises(ShapeError, match=r"expected a square matrix"):
        linalg.sqrtm(cr.tensor(np.ones((2, 3))))


# -- signal.convolve. ---------------------------------------------------------------------------------------------
def _torch_full_convolution(a, b):
    """scipy.signal.convolve(a, b, "full") in torch, 1-D or 2-D: a correlation with the flipped b, padded by len − 1."""
    dims = list(range(b.ndim))
    flipped = torch.flip(b, dims)
    pad = [n - 1 for n in b.shape]
    if a.ndim == 1:
        return torch.nn.functional.conv1d(a[None, None], flipped[None, None], padding=pad)[0, 0]
    return torch.nn.functional.conv2d(a[None, None], flipped[None, None], padding=pad)[0, 0]


def _centred(full, shape):
    index = tuple(slice((n - k) // 2, (n - k) // 2 + k) for n, k in zip(full.shape, shape, strict=True))
    return full[index]


@pytest.mark.parametrize("mode", ["full", "valid", "same"])
@pytest.mark.parametrize(("a_shape", "b_shape"), [((6,), (3,)), ((3,), (5,)), ((5, 4), (2, 3)), ((4, 3), (4, 1))])
def test_convolve_against_torch(mode, a_shape, b_shape):
    a, b = RNG.standard_normal(a_shape), RNG.standard_normal(b_shape)
    ours = signal.convolve(cr.tensor(a), b, mode=mode)
    np.testing.assert_allclose(ours.data, scipy_signal.convolve(a, b, mode=mode), rtol=1e-11, atol=1e-13)

    def torch_form(at, bt):
        full = _torch_full_convolution(at, bt)
        if mode == "full":
            return full
        if mode == "same":
            return _centred(full, a_shape)
        return _centred(full, tuple(abs(p - q) + 1 for p, q in zip(a_shape, b_shape, strict=True)))

    (ha, hb), w = _torch_grads(torch_form, a, b)
    ga, gb = _grads(lambda p, q: signal.convolve(p, q, mode=mode), w, a, b)
    np.testing.assert_allclose(ga, ha, rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(gb, hb, rtol=1e-10, atol=1e-13)
    f = lambda p, q: signal.convolve(p, q, mode=mode)  # noqa: E731
    assert cr.gradcheck(
        lambda p, q: cr.grad(lambda s, t: (f(s, t) ** 2).sum(), argnums=(0, 1))(p, q)[1],
        cr.tensor(a),
        cr.tensor(b),
        atol=1e-6,
        rtol=1e-6,
    )
    u, v = RNG.standard_normal(a_shape), RNG.standard_normal(b_shape)
    _, tangent = cr.jvp(f, (a, b), (u, v))
    assert np.sum(w * np.asarray(tangent)) == pytest.approx(np.sum(ga * u) + np.sum(gb * v), rel=1e-11)


def test_convolve_float32_and_errors():
    a = cr.tensor(RNG.standard_normal(5).astype(np.float32), requires_grad=True)
    y = signal.convolve(a, np.ones(3, dtype=np.float32))
    assert y.dtype == np.float32
    y.sum().backward()
    assert a.grad.dtype == np.float32
    with pytest.raises(ValueError, match=r"`mode` must be one of \('full', 'valid', 'same'\); got 'circular'"):
        signal.convolve(a, np.ones(3), mode="circular")
    with pytest.raises(ShapeError, match="different numbers of dimensions"):
        signal.convolve(a, np.ones((2, 2)))
    with pytest.raises(ShapeError, match="for mode 'valid' one input must be at least as large"):
        signal.convolve(cr.tensor(np.ones((4, 2))), np.ones((2, 4)), mode="valid")


@pytest.mark.parametrize("mode", ["full", "valid", "same"])
def test_convolve_along_some_axes_with_summed_axes(mode):
    # out[i, k, :] = Σ_d convolve(a[d, i, :], b[k, d, :]): axis 2 of a with axis 2 of b convolved, axis 0 of a
    # summed against axis 1 of b, the others kept (a's, then b's), checked by explicit loops over SciPy's convolve.
    a, b = RNG.standard_normal((3, 2, 6)), RNG.standard_normal((4, 3, 3))
    out = signal.convolve(cr.tensor(a), b, axes=([2], [2]), dot_axes=([0], [1]), mode=mode)
    want = np.array(
        [
            [sum(scipy_signal.convolve(a[d, i], b[k, d], mode=mode) for d in range(3)) for k in range(4)]
            for i in range(2)
        ]
    )
    np.testing.assert_allclose(out.data, want, rtol=1e-11, atol=1e-13)
    plain = signal.convolve(a, b, axes=([2], [2]), dot_axes=([0], [1]), mode=mode)  # arrays in, an array out
    assert type(plain) is np.ndarray
    np.testing.assert_allclose(plain, want, rtol=1e-11, atol=1e-13)
    f = lambda p, q: signal.convolve(p, q, axes=([2], [2]), dot_axes=([0], [1]), mode=mode)  # noqa: E731
    assert cr.gradcheck(f, cr.tensor(a), cr.tensor(b), atol=1e-7, rtol=1e-6)
    # with no axis convolved it is a tensordot
    dot = signal.convolve(cr.tensor(a), b, axes=([], []), dot_axes=([0], [1]), mode=mode)
    np.testing.assert_allclose(dot.data, np.tensordot(a, b, axes=([0], [1])), rtol=1e-12)
    with pytest.raises(ShapeError, match=r"dot_axes pair axis 1 of in1 \(length 2\) with axis 1 of in2 \(length 3\)"):
        signal.convolve(cr.tensor(a), b, axes=([2], [2]), dot_axes=([1], [1]))


def test_det_inv_solve_against_torch():
    a, b = _spd(3, 8) + np.triu(RNG.standard_normal((3, 3)), 1), RNG.standard_normal(3)
    np.testing.assert_allclose(linalg.det(cr.tensor(a)).data, scipy_linalg.det(a), rtol=1e-13)
    np.testing.assert_allclose(linalg.inv(cr.tensor(a)).data, scipy_linalg.inv(a), rtol=1e-12)
    for transposed in (False, True):
        x = linalg.solve(cr.tensor(a), b, transposed=transposed)
        np.testing.assert_allclose(x.data, scipy_linalg.solve(a, b, transposed=transposed), rtol=1e-12)
    (h,), w = _torch_grads(lambda p: torch.linalg.inv(p) * torch.linalg.det(p), a)
    (g,) = _grads(lambda p: linalg.inv(p) * linalg.det(p), w, a)
    np.testing.assert_allclose(g, h, rtol=1e-10, atol=1e-13)
    (ha, hb), w = _torch_grads(lambda p, q: torch.linalg.solve(p.T, q), a, b)
    ga, gb = _grads(lambda p, q: linalg.solve(p, q, transposed=True), w, a, b)
    np.testing.assert_allclose(ga, ha, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(gb, hb, rtol=1e-11, atol=1e-13)


def test_other_scipy_functions_are_scipys_and_refuse_a_tensor_that_needs_a_gradient():
    from chainrule.scipy import special

    assert linalg.expm is scipy_linalg.expm
    assert special.zeta is __import__("scipy.special").special.zeta
    with pytest.raises(TypeError, match="cannot become a NumPy array implicitly"):
        linalg.expm(cr.tensor(np.eye(2), requires_grad=True))
    with pytest.raises(AttributeError, match="has no attribute 'no_such_function'"):
        linalg.no_such_function  # noqa: B018
