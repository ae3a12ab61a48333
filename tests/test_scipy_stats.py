"""chainrule.scipy.stats: values equal SciPy's; gradients in x and the parameters equal torch.distributions'
(test-only) where torch has the density, else SciPy's own identities (d cdf/dx = pdf, d/dmu of the Poisson CDF =
−pmf); finite differences of first and second order, jvp against vjp, broadcasting, float32 and the errors."""

from __future__ import annotations

import numpy as np
import pytest

scipy_stats = pytest.importorskip("scipy.stats", reason="chainrule.scipy needs SciPy (pip install 'chainrule[scipy]')")
torch = pytest.importorskip("torch")
D = torch.distributions

import chainrule as cr  # noqa: E402
from chainrule.errors import DomainError, ShapeError  # noqa: E402
from chainrule.scipy import stats  # noqa: E402

RNG = np.random.default_rng(11)
X = RNG.standard_normal((4, 3))
LOC = RNG.standard_normal((1, 3))
SCALE = RNG.standard_normal((4, 1)) ** 2 + 1.1
POSITIVE = RNG.standard_normal((4, 3)) ** 2 + 0.3
SHAPE = RNG.standard_normal((1, 3)) ** 2 + 1.1
UNIT = RNG.uniform(0.05, 0.95, (4, 3))


def _grads(function, *args):
    return cr.grad(lambda *a: function(*a).sum(), argnums=tuple(range(len(args))))(*args)


def _torch_grads(log_prob, *args):
    ts = [torch.tensor(a, requires_grad=True) for a in args]
    log_prob(*ts).sum().backward()
    return [t.grad.numpy() for t in ts]


# name -> (chainrule logpdf, SciPy logpdf, torch log-density, arguments); scipy's and ours take the same arguments.
LOGPDFS = {
    "norm": (
        stats.norm.logpdf,
        scipy_stats.norm.logpdf,
        lambda x, loc, scale: D.Normal(loc, scale).log_prob(x),
        (X, LOC, SCALE),
    ),
    "t": (
        stats.t.logpdf,
        scipy_stats.t.logpdf,
        lambda x, df, loc, scale: D.StudentT(df, loc, scale).log_prob(x),
        (X, SHAPE + 1, LOC, SCALE),
    ),
    "gamma": (
        stats.gamma.logpdf,
        scipy_stats.gamma.logpdf,
        lambda x, a, scale: D.Gamma(a, 1 / scale).log_prob(x),
        (POSITIVE, SHAPE, SCALE),
    ),
    "beta": (
        stats.beta.logpdf,
        scipy_stats.beta.logpdf,
        lambda x, a, b: D.Beta(a, b).log_prob(x),
        (UNIT, SHAPE, SCALE),
    ),
    "chi2": (stats.chi2.logpdf, scipy_stats.chi2.logpdf, lambda x, df: D.Chi2(df).log_prob(x), (POSITIVE, SHAPE)),
}


def _ours(name, *args):
    function = LOGPDFS[name][0]
    if name == "gamma":  # SciPy's gamma takes scale by keyword after loc
        x, a, scale = args
        return function(x, a, scale=scale)
    return function(*args)


def _scipys(name, *args):
    function = LOGPDFS[name][1]
    if name == "gamma":
        x, a, scale = args
        return function(x, a, scale=scale)
    return function(*args)


@pytest.mark.parametrize("name", sorted(LOGPDFS))
def test_logpdf_values_and_gradients_equal_torch(name):
    args = LOGPDFS[name][3]
    out = _ours(name, cr.tensor(args[0]), *args[1:])
    np.testing.assert_allclose(out.data, _scipys(name, *args), rtol=1e-12, atol=1e-13)
    ours = _grads(lambda *a: _ours(name, *a), *args)
    theirs = _torch_grads(LOGPDFS[name][2], *args)
    for i, (g, h) in enumerate(zip(ours, theirs, strict=True)):
        assert g.shape == np.shape(args[i])
        np.testing.assert_allclose(g, h, rtol=1e-9, atol=1e-12, err_msg=f"{name}, argument {i}")


@pytest.mark.parametrize("name", sorted(LOGPDFS))
def test_pdf_is_exp_logpdf_and_second_order_gradcheck(name):
    args = LOGPDFS[name][3]
    pdf = {
        "norm": stats.norm.pdf,
        "t": stats.t.pdf,
        "gamma": stats.gamma.pdf,
        "beta": stats.beta.pdf,
        "chi2": stats.chi2.pdf,
    }[name]
    small = tuple(np.asarray(a)[:2] if np.shape(a)[0] == 4 else a for a in args)
    if name == "gamma":
        call = lambda x, a, s: pdf(x, a, scale=s)  # noqa: E731
    else:
        call = pdf
    scipy_pdf = getattr(scipy_stats, name).pdf
    want = scipy_pdf(*small[:2], scale=small[2]) if name == "gamma" else scipy_pdf(*small)
    np.testing.assert_allclose(call(*[cr.tensor(a) for a in small]).data, want, rtol=1e-12)
    tensors = [cr.tensor(a) for a in small]
    assert cr.gradcheck(call, *tensors, atol=1e-7, rtol=1e-6)
    assert cr.gradcheck(
        lambda *a: cr.concatenate([g.reshape(-1) for g in _grads(call, *a)]), *tensors, atol=1e-6, rtol=1e-6
    )


@pytest.mark.parametrize("function", ["cdf", "logcdf", "sf", "logsf"])
def test_norm_cdfs_equal_torch(function):
    ours = getattr(stats.norm, function)
    np.testing.assert_allclose(
        ours(cr.tensor(X), LOC, SCALE).data, getattr(scipy_stats.norm, function)(X, LOC, SCALE), rtol=1e-13
    )

    def torch_form(x, loc, scale):
        c = D.Normal(loc, scale).cdf(x)
        return {"cdf": c, "logcdf": torch.log(c), "sf": 1 - c, "logsf": torch.log1p(-c)}[function]

    for g, h in zip(_grads(ours, X, LOC, SCALE), _torch_grads(torch_form, X, LOC, SCALE), strict=True):
        np.testing.assert_allclose(g, h, rtol=1e-9, atol=1e-13)


def test_norm_logcdf_is_finite_far_in_the_tail():
    # log Φ(−40) ≈ −804.6: Φ itself underflows, so torch.log(cdf) cannot be the reference. d/dx log Φ(x) = φ/Φ,
    # which approaches −x for x → −∞ (the inverse Mills ratio): check it against that asymptotic expansion.
    x = np.array([-40.0, -30.0])
    g = cr.grad(lambda t: stats.norm.logcdf(t).sum())(x)
    mills = -x * (1 + 1 / x**2 - 2 / x**4 + 10 / x**6)  # φ(x)/Φ(x) ~ −x(1 + x⁻² − 2x⁻⁴ + 10x⁻⁶)
    np.testing.assert_allclose(g, mills, rtol=1e-9)
    np.testing.assert_allclose(stats.norm.logcdf(cr.tensor(x)).data, scipy_stats.norm.logcdf(x), rtol=1e-14)


# CDFs whose derivative in x is the density (a SciPy identity), with no gradient in their shape parameters.
CDFS = {
    "t": (stats.t.cdf, scipy_stats.t, (X, SHAPE + 1, LOC, SCALE)),
    "gamma": (stats.gamma.cdf, scipy_stats.gamma, (POSITIVE, SHAPE)),
    "beta": (stats.beta.cdf, scipy_stats.beta, (UNIT, SHAPE, SCALE)),
    "chi2": (stats.chi2.cdf, scipy_stats.chi2, (POSITIVE, SHAPE)),
}


@pytest.mark.parametrize("name", sorted(CDFS))
def test_cdf_derivative_is_scipys_pdf(name):
    ours, distribution, args = CDFS[name]
    np.testing.assert_allclose(ours(cr.tensor(args[0]), *args[1:]).data, distribution.cdf(*args), rtol=1e-12)
    g = cr.grad(lambda x: ours(x, *args[1:]).sum())(args[0])
    np.testing.assert_allclose(g, distribution.pdf(*args), rtol=1e-11)
    assert cr.gradcheck(
        lambda x: cr.grad(lambda u: ours(u, *args[1:]).sum())(x), cr.tensor(args[0]), atol=1e-7, rtol=1e-6
    )
    with pytest.raises(TypeError, match="no gradient flows into"):
        ours(cr.tensor(args[0]), cr.tensor(args[1], requires_grad=True), *args[2:])


def test_t_cdf_gradient_in_loc_and_scale():
    x, df, loc, scale = X, SHAPE + 1, LOC, SCALE
    gx, gl, gs = _grads(lambda a, b, c: stats.t.cdf(a, df, b, c), x, loc, scale)
    pdf = scipy_stats.t.pdf(x, df, loc, scale)  # d/dloc F((x−l)/s) = −f, d/ds = −f (x − l)/s
    np.testing.assert_allclose(gx, pdf, rtol=1e-11)
    np.testing.assert_allclose(gl, -pdf.sum(axis=0, keepdims=True), rtol=1e-11)
    np.testing.assert_allclose(gs, -(pdf * (x - loc) / scale).sum(axis=1, keepdims=True), rtol=1e-11)


def test_poisson_against_torch_and_scipy():
    k = np.round(RNG.standard_normal((4, 3)) ** 2 * 3)
    mu = RNG.standard_normal((4, 1)) ** 2 + 1.1
    np.testing.assert_allclose(
        stats.poisson.logpmf(k, cr.tensor(mu)).data, scipy_stats.poisson.logpmf(k, mu), rtol=1e-13
    )
    np.testing.assert_allclose(stats.poisson.pmf(k, cr.tensor(mu)).data, scipy_stats.poisson.pmf(k, mu), rtol=1e-12)
    np.testing.assert_allclose(stats.poisson.cdf(k, cr.tensor(mu)).data, scipy_stats.poisson.cdf(k, mu), rtol=1e-12)
    g = cr.grad(lambda m: stats.poisson.logpmf(k, m).sum())(mu)
    (h,) = _torch_grads(lambda m: D.Poisson(m).log_prob(torch.tensor(k)), mu)
    np.testing.assert_allclose(g, h, rtol=1e-12)
    g = cr.grad(lambda m: stats.poisson.cdf(k, m).sum())(mu)
    np.testing.assert_allclose(g, -scipy_stats.poisson.pmf(k, mu).sum(axis=1, keepdims=True), rtol=1e-11)
    assert cr.gradcheck(
        lambda m: cr.grad(lambda u: stats.poisson.cdf(k, u).sum())(m), cr.tensor(mu), atol=1e-7, rtol=1e-6
    )
    assert float(stats.poisson.logpmf(1.5, cr.tensor(2.0)).data) == -np.inf  # not an integer: probability 0


def test_dirichlet_against_torch():
    alpha = RNG.standard_normal(4) ** 2 + 1.2
    x = RNG.dirichlet(alpha)
    np.testing.assert_allclose(
        stats.dirichlet.logpdf(cr.tensor(x), alpha).data, scipy_stats.dirichlet.logpdf(x, alpha), rtol=1e-13
    )
    np.testing.assert_allclose(
        stats.dirichlet.pdf(cr.tensor(x), alpha).data, scipy_stats.dirichlet.pdf(x, alpha), rtol=1e-12
    )
    gx, ga = _grads(stats.dirichlet.logpdf, x, alpha)
    hx, ha = _torch_grads(lambda v, a: D.Dirichlet(a).log_prob(v), x, alpha)
    np.testing.assert_allclose(gx, hx, rtol=1e-12)
    np.testing.assert_allclose(ga, ha, rtol=1e-11)
    # (K, N): components along the first axis, as SciPy's
    xs = RNG.dirichlet(alpha, size=3).T
    np.testing.assert_allclose(
        stats.dirichlet.logpdf(cr.tensor(xs), alpha).data, scipy_stats.dirichlet.logpdf(xs, alpha), rtol=1e-13
    )
    with pytest.raises(ShapeError, match=r"expected \(4,\) or \(4, N\)"):
        stats.dirichlet.logpdf(cr.tensor(np.ones(6) / 6), alpha)


def _spd(d, seed):
    a = np.random.default_rng(seed).standard_normal((d, d))
    return a @ a.T + np.eye(d)


def _symmetrised(function):
    return lambda x, mean, cov: function(x, mean, (cov + cov.T) / 2)


@pytest.mark.parametrize("x_shape", [(4,), (5, 4)])
def test_multivariate_normal_against_torch(x_shape):
    x, mean, cov = RNG.standard_normal(x_shape), RNG.standard_normal(4), _spd(4, 3)
    ours = stats.multivariate_normal.logpdf
    np.testing.assert_allclose(
        ours(cr.tensor(x), mean, cov).data, scipy_stats.multivariate_normal.logpdf(x, mean, cov), rtol=1e-13
    )
    np.testing.assert_allclose(
        stats.multivariate_normal.pdf(cr.tensor(x), mean, cov).data,
        scipy_stats.multivariate_normal.pdf(x, mean, cov),
        rtol=1e-12,
    )
    gradients = _grads(_symmetrised(ours), x, mean, cov)
    reference = _torch_grads(lambda v, m, c: D.MultivariateNormal(m, (c + c.T) / 2).log_prob(v), x, mean, cov)
    for g, h in zip(gradients, reference, strict=True):
        np.testing.assert_allclose(g, h, rtol=1e-10, atol=1e-13)
    # Without symmetrising: only the lower triangle is read, so the gradient is zero above the diagonal.
    g = cr.grad(lambda c: ours(x, mean, c).sum())(cov)
    np.testing.assert_array_equal(np.triu(g, 1), 0.0)
    assert cr.gradcheck(lambda c: ours(x, mean, c), cr.tensor(cov), atol=1e-7, rtol=1e-6)
    assert cr.gradcheck(
        lambda m, c: cr.grad(lambda u, v: ours(x, u, v).sum(), argnums=(0, 1))(m, c)[1],
        cr.tensor(mean),
        cr.tensor(cov),
        atol=1e-6,
        rtol=1e-6,
    )


def test_multivariate_normal_entropy_against_torch():
    mean, cov = RNG.standard_normal(3), _spd(3, 4)
    ours = stats.multivariate_normal.entropy(mean, cr.tensor(cov))
    assert float(ours.data) == pytest.approx(scipy_stats.multivariate_normal.entropy(mean, cov), rel=1e-14)
    g = cr.grad(lambda c: stats.multivariate_normal.entropy(mean, (c + c.T) / 2))(cov)
    (h,) = _torch_grads(lambda c: D.MultivariateNormal(torch.tensor(mean), (c + c.T) / 2).entropy(), cov)
    np.testing.assert_allclose(g, h, rtol=1e-12)


def test_multivariate_normal_singular_covariance():
    cov = np.diag([1.0, 2.0, 0.0, 0.0])
    x, mean = np.array([0.3, -0.4, 0.0, 0.0]), np.array([0.1, 0.2, 0.0, 0.0])
    ours = stats.multivariate_normal.logpdf(cr.tensor(x), mean, cov, allow_singular=True)
    assert float(ours.data) == pytest.approx(
        scipy_stats.multivariate_normal.logpdf(x, mean, cov, allow_singular=True), rel=1e-13
    )
    g = cr.grad(lambda v: stats.multivariate_normal.logpdf(v, mean, cov, allow_singular=True))(x)
    np.testing.assert_allclose(g, [-(0.3 - 0.1) / 1.0, -(-0.4 - 0.2) / 2.0, 0.0, 0.0], rtol=1e-14)
    with pytest.raises(DomainError, match=r"not positive definite.*allow_singular=True"):
        stats.multivariate_normal.logpdf(cr.tensor(x), mean, cov)


def test_float32_stays_float32():
    x = cr.tensor(X.astype(np.float32), requires_grad=True)
    y = stats.norm.logpdf(x, np.float32(0.5), np.float32(2.0))
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32
    z = cr.tensor(POSITIVE.astype(np.float32), requires_grad=True)
    out = stats.gamma.cdf(z, 2.5)
    assert out.dtype == np.float32
    out.sum().backward()
    assert z.grad.dtype == np.float32


def test_jvp_agrees_with_vjp():
    u, v = RNG.standard_normal(X.shape), RNG.standard_normal(X.shape)

    def f(x):
        return stats.t.logpdf(x, 3.5, 0.2, 1.5) + stats.norm.logcdf(x)

    _, tangent = cr.jvp(f, (X,), (v,))
    _, vjp_fn = cr.vjp(f, X)
    assert np.sum(u * np.asarray(tangent)) == pytest.approx(np.sum(np.asarray(vjp_fn(u)) * v), rel=1e-12)


def test_errors_name_the_function_and_argument():
    with pytest.raises(DomainError, match=r"stats.norm.logpdf: `scale` must be positive; got -1.0"):
        stats.norm.logpdf(cr.tensor(1.0), 0.0, -1.0)
    with pytest.raises(DomainError, match=r"stats.t.logpdf: `df` must be positive"):
        stats.t.logpdf(cr.tensor(1.0), 0.0)
    with pytest.raises(ShapeError, match=r"`cov` has shape \(3, 3\); expected \(4, 4\)"):
        stats.multivariate_normal.logpdf(cr.tensor(np.zeros(4)), np.zeros(4), np.eye(3))
    with pytest.raises(ShapeError, match=r"`x` has shape \(3,\); expected \(..., 4\)"):
        stats.multivariate_normal.logpdf(cr.tensor(np.zeros(3)), np.zeros(4), np.eye(4))


def test_without_a_tensor_the_result_is_scipys_and_other_methods_are_scipys():
    out = stats.norm.logpdf(np.array([0.5, 1.0]), 0.1, 2.0)
    assert type(out) is np.ndarray
    np.testing.assert_array_equal(out, scipy_stats.norm.logpdf(np.array([0.5, 1.0]), 0.1, 2.0))
    assert stats.norm.ppf(0.5) == 0.0
    with pytest.raises(AttributeError, match="has no attribute 'no_such_method'"):
        stats.norm.no_such_method  # noqa: B018


# -- Found by the adversarial probes (tests/test_probe_sweep.py): off the support, SciPy's -inf, never nan. -------
@pytest.mark.parametrize(("name", "x", "params"), [
    ("gamma", [-1.0, -1e-300, 2.0], (2.0,)),
    ("chi2", [-1.0, 2.0], (3.0,)),
    ("beta", [-0.5, 0.3, 1.5, 1.0 + 1e-15], (2.0, 3.0)),
])
def test_logpdf_off_the_support_is_minus_inf_with_zero_gradient(name, x, params):
    x0 = np.array(x)
    distribution = getattr(stats, name)
    xt = cr.tensor(x0, requires_grad=True)
    shape = cr.tensor(params[0], requires_grad=True)
    out = distribution.logpdf(xt, shape, *params[1:])
    np.testing.assert_allclose(out.data, getattr(scipy_stats, name).logpdf(x0, *params), rtol=1e-13)
    out.sum().backward()
    inside = np.isfinite(out.data)
    assert not inside.all() and np.all(xt.grad.data[~inside] == 0)
    assert np.all(np.isfinite(xt.grad.data)) and np.isfinite(shape.grad.item())
    # the gradient in the shape parameter is the one of the points inside alone (finite differences)
    eps = 1e-6
    inner = x0[inside]
    numeric = (getattr(scipy_stats, name).logpdf(inner, params[0] + eps, *params[1:]).sum()
               - getattr(scipy_stats, name).logpdf(inner, params[0] - eps, *params[1:]).sum()) / (2 * eps)
    np.testing.assert_allclose(shape.grad.item(), numeric, rtol=1e-7)


def test_t_with_infinite_df_is_refused_not_nan():
    with pytest.raises(DomainError, match=r"stats.t.logpdf: `df` must be finite; for df = inf .* stats.norm"):
        stats.t.logpdf(cr.tensor([0.5]), np.inf)


def test_dirichlet_refuses_points_off_the_simplex_as_scipy_does():
    alpha = np.array([1.0, 2.0])
    for x in ([0.5, 0.6], [-0.1, 1.1], [[0.2, 0.3], [0.5, 0.5]]):
        with pytest.raises(ValueError):
            scipy_stats.dirichlet.logpdf(np.array(x), alpha)
        with pytest.raises(DomainError, match=r"stats.dirichlet.logpdf: `x` must lie on the simplex"):
            stats.dirichlet.logpdf(cr.tensor(x), alpha)
    x = np.array([[0.3, 0.2], [0.7, 0.8]])
    np.testing.assert_allclose(stats.dirichlet.logpdf(cr.tensor(x), alpha).data,
                               scipy_stats.dirichlet.logpdf(x, alpha), rtol=1e-13)


def test_multivariate_normal_refuses_a_non_finite_covariance():
    with pytest.raises(DomainError, match=r"`cov` holds nan or inf; expected a finite covariance"):
        stats.multivariate_normal.logpdf(cr.tensor([0.0, 0.0]), cov=np.array([[np.nan, 0.0], [0.0, 1.0]]))
