"""The portable gamma family (chainrule/engine/portable/gamma.py: gammaln, gamma, rgamma, digamma, polygamma, beta,
betaln) on array-api-strict (its CPU device and the fake device1 that refuses host transfers) and PyTorch.

Accuracy against mpmath at 40 digits over wide grids; SciPy's values at the poles, ±0, ±inf and nan; float32 in,
float32 out; broadcasting; and the derivatives, which call each other through the rule table (Γ' = Γψ, ψ' = ψ⁽¹⁾…),
to second order against mpmath's derivatives and NumPy's path.

Accuracy asserted (float64, found against mpmath):
- x > 0: gammaln, gamma, rgamma, digamma, polygamma (n = 1, 2, 5, 12) within 1e-15 relative, also at the roots of
  log Γ (1, 2) and ψ (1.4616…);
- x < 0: within 1e-15 (2e-15 for ψ⁽¹²⁾) of (|f| + the size of the reflection's terms), so relative away from the
  roots of log|Γ|, ψ and the even ψ⁽ⁿ⁾, where the subtraction leaves a few 1e-16 of the terms (SciPy's own error is
  larger there);
- beta, betaln, positive arguments: 2e-15 relative while a + b < 171, and log B within 2e-15 of max(1, |log B|)
  everywhere; beyond 171 B within (2 + |log B|)·1e-15 (B = exp(log B)). With a negative argument, 1.5e-14: the
  rounding of a + b, magnified by Γ's logarithmic derivative ψ(a + b) near its poles (SciPy's error is larger).
"""

from __future__ import annotations

import array_api_strict as strict
import mpmath
import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import ops
from chainrule.engine import backends
from chainrule.engine.portable import gamma as portable_gamma
from chainrule.rules.registry import lookup as lookup_rule
from chainrule.scipy import special as cs

special = pytest.importorskip("scipy.special")

DEVICE1 = strict.Device("device1")
CPU = strict.Device("CPU_DEVICE")
LIBRARIES = ["strict", "strict-device1", "torch"]
EDGES = np.array([0.0, -0.0, np.inf, -np.inf, np.nan])


def put(x, lib="strict", dtype=np.float64):
    x = np.array(x, dtype=dtype, copy=True)
    if lib == "torch":
        return torch.asarray(x)
    return strict.asarray(x, device=DEVICE1 if lib == "strict-device1" else CPU)


def get(x, lib="strict"):
    if lib == "torch":
        assert type(x) is torch.Tensor
        return x.detach().numpy()
    assert x.device == (DEVICE1 if lib == "strict-device1" else CPU)
    return np.asarray(strict.asarray(x, device=CPU))


def values(name, *xs, lib="strict", dtype=np.float64, **params):
    """The rule's forward in ``lib`` on NumPy inputs, read back."""
    with np.errstate(all="ignore"):  # (array-api-strict computes with NumPy: it warns at the poles)
        out = ops.apply(lookup_rule(name), [cr.tensor(put(x, lib, dtype)) for x in xs], params)
    assert out.dtype == np.dtype(dtype)
    return get(out._data, lib)


mpmath.mp.dps = 40


def exact(name, x, n=None):
    """mpmath's value of the function at the float x (log |Γ| for gammaln)."""
    v = mpmath.mpf(float(x))
    if name == "gammaln":
        return float(mpmath.log(abs(mpmath.gamma(v))))
    if name == "polygamma":
        return float(mpmath.polygamma(n, v))
    return float({"gamma": mpmath.gamma, "rgamma": mpmath.rgamma, "digamma": mpmath.digamma}[name](v))


def reflection_terms(name, x, n=None):
    """For x < 0, the size of the two terms the reflection formula subtracts: f(1 − x) and the sine/cotangent term
    (for gammaln: log Γ(1 − x) and log(π/|sin πx|); for ψ⁽ⁿ⁾: ψ⁽ⁿ⁾(1 − x) and (−1)ⁿψ⁽ⁿ⁾(1 − x) − ψ⁽ⁿ⁾(x))."""
    if x >= 0 or name in ("gamma", "rgamma"):
        return 0.0
    v = mpmath.mpf(float(x))
    if name == "gammaln":
        return float(abs(mpmath.loggamma(1 - v)) + abs(mpmath.log(mpmath.pi / abs(mpmath.sin(mpmath.pi * v)))))
    order = 0 if name == "digamma" else n
    f = mpmath.polygamma(order, 1 - v)
    return float(abs(f) + abs((-1) ** order * f - mpmath.polygamma(order, v)))


def _grid(seed):
    rng = np.random.default_rng(seed)
    return np.concatenate([
        rng.uniform(0, 12, 300), np.geomspace(1e-12, 1e4, 120), rng.uniform(10, 171, 60),
        -rng.uniform(0, 40, 300), -np.geomspace(1e-12, 0.5, 40),
        *(root + np.geomspace(1e-14, 0.3, 30) * np.repeat([-1, 1], 15) for root in (1, 2, portable_gamma._PSI_ROOT[0])),
    ])


CASES = [("gammaln", None), ("gamma", None), ("rgamma", None), ("digamma", None), ("polygamma", 1),
         ("polygamma", 2), ("polygamma", 5), ("polygamma", 12)]


@pytest.mark.parametrize(("name", "n"), CASES, ids=[f"{c[0]}{c[1] or ''}" for c in CASES])
def test_accuracy_against_mpmath(name, n):
    x = _grid(len(name) + (n or 0))
    x = x[np.floor(x) != x]  # (no poles)
    params = {} if n is None else {"n": n}
    found = values(name, x, **params)
    expected = np.array([exact(name, v, n) for v in x])
    keep = np.isfinite(expected) & (np.abs(expected) > 1e-300)
    scale = np.abs(expected) + np.array([reflection_terms(name, v, n) for v in x])
    found, expected, scale, x = found[keep], expected[keep], scale[keep], x[keep]
    error = np.abs(found - expected) / scale
    bound = 1e-15 * max(1, (n or 0) / 6)  # (for x < 0 the cotangent's polynomial Pₙ adds ~n/6 ulp)
    assert error.max() <= bound, (name, n, x[np.argmax(error)], error.max())
    positive = x > 0
    assert np.all(np.abs(found - expected)[positive] <= 1e-15 * np.abs(expected[positive]))


def test_relative_accuracy_at_the_roots():
    """log Γ at 1 and 2 and ψ at its root x₀ = 1.4616…: relatively accurate where the functions pass through 0
    (SciPy's gammaln is 1e-12 off next to 1 and 2; PyTorch's digamma 3e-2 next to x₀)."""
    steps = np.geomspace(1e-15, 1e-3, 60)
    for name, roots in (("gammaln", (1.0, 2.0)), ("digamma", (portable_gamma._PSI_ROOT[0],))):
        x = np.concatenate([r + s * steps for r in roots for s in (-1, 1)])
        expected = np.array([exact(name, v) for v in x])
        for lib in LIBRARIES:
            np.testing.assert_allclose(values(name, x, lib=lib), expected, rtol=1e-15, atol=0)


def test_constants_against_mpmath():
    """The series' constants: ψ's root in two parts, log Γ(2 + z)'s coefficients, ψ's Taylor coefficients, and
    the Bernoulli numbers."""
    root = mpmath.findroot(mpmath.digamma, 1.46)
    high, low = portable_gamma._PSI_ROOT
    assert float(root) == high and float(root - high) == low
    for k, c in enumerate(portable_gamma._LOG_GAMMA_2[1:], start=2):
        assert c == pytest.approx(float((-1) ** k * (mpmath.zeta(k) - 1) / k), rel=2e-16)
    assert portable_gamma._LOG_GAMMA_2[0] == pytest.approx(1 - float(mpmath.euler), rel=1e-16)
    for k, c in enumerate(portable_gamma._PSI_TAYLOR, start=1):
        assert c == pytest.approx(float((-1) ** (k + 1) * mpmath.zeta(k + 1, high)), rel=4e-16)
    assert [float(b) for b in portable_gamma._B[:13]] == [float(mpmath.bernoulli(k)) for k in range(13)]


def test_cot_derivative_polynomials():
    """dⁿ/dxⁿ cot x = Pₙ(cot x): the polynomials against mpmath's derivatives."""
    for n in range(6):
        p = portable_gamma._cot_derivative_polynomial(n)
        c = mpmath.cot(mpmath.mpf("0.7"))
        assert float(sum(k * c ** i for i, k in enumerate(p))) == pytest.approx(
            float(mpmath.diff(mpmath.cot, mpmath.mpf("0.7"), n)), rel=1e-14)


# ---------------------------------------------------------------------------------------------------------------
# SciPy's values at the poles, ±0, ±inf, nan, overflow and underflow.
# ---------------------------------------------------------------------------------------------------------------
SPECIAL_POINTS = np.concatenate([EDGES, [-1.0, -2.0, -3.0, -170.0, -2.0 ** 53, 2.0 ** 53, -2.0 ** 60, 1e300, -1e300,
                                         171.6, 171.7, 172.0, -170.5, -171.5, -180.5, -200.5, 1e-300, -1e-300,
                                         0.5, -0.5, 1.0, 2.0, 3.0, 170.0, 1e15, -1e15 - 0.5]])


def _same(found, expected, rtol):
    """Equal non-finite values and zeros (with the sign of infinities), finite ones to rtol."""
    finite = np.isfinite(expected) & (expected != 0)
    np.testing.assert_array_equal(np.where(finite, 0.0, found), np.where(finite, 0.0, expected))
    np.testing.assert_allclose(found[finite], expected[finite], rtol=rtol)


@pytest.mark.parametrize("lib", LIBRARIES)
@pytest.mark.parametrize(("name", "n"), [("gammaln", None), ("gamma", None), ("rgamma", None), ("digamma", None),
                                         ("polygamma", 1), ("polygamma", 2), ("polygamma", 3), ("polygamma", 0)])
def test_special_points_as_scipy(name, n, lib):
    """Poles, ±0, ±inf, nan, overflow of Γ past 171.62 and its underflow below −171.6: SciPy's values."""
    if lib == "torch" and name == "gammaln":
        pytest.skip("PyTorch's own lgamma (backends._OWN_SPECIAL): its log|Γ(−inf)| is inf, SciPy's −inf")
    params = {} if n is None else {"n": n}
    x = SPECIAL_POINTS if name != "polygamma" else SPECIAL_POINTS[:-1]  # (SciPy's zeta loops |x| times below 0)
    with np.errstate(all="ignore"):
        expected = getattr(special, name)(*([n] if n is not None else []), x)
    # SciPy's non-finite values and zeros; the finite ones against mpmath (SciPy's ψ⁽²⁾(−170.5) is 1e-11 off).
    finite = np.isfinite(expected) & (expected != 0)
    reference = np.array([exact(name if n != 0 else "digamma", v, n) if ok else e
                          for v, ok, e in zip(x, finite, expected, strict=True)])
    _same(values(name, x, lib=lib, **params), np.where(finite, reference, expected), 2e-15)


def test_subnormal_arguments():
    """Below 2.2e-308 SciPy's gammaln is inf (and its rgamma(−1e−310) is −0): here the true values, log(1/|x|) and
    x, as mpmath's."""
    x = np.array([1e-310, -1e-310, 5e-324])
    np.testing.assert_allclose(values("gammaln", x), [float(mpmath.log(1 / abs(mpmath.mpf(v)))) for v in x],
                               rtol=1e-15)
    np.testing.assert_array_equal(values("rgamma", x), x)
    np.testing.assert_array_equal(values("gamma", x), [np.inf, -np.inf, np.inf])
    np.testing.assert_array_equal(values("digamma", x), [-np.inf, np.inf, -np.inf])


BETA_POINTS = np.array([0.0, -0.0, 1, 2, 3, 5, -1, -2, -3, -5, 0.5, -0.5, -1.5, 2.5, -2.5, 1e-300, 1e10, -1e10, 1e7,
                        -1e7, 200.5, -100.25, 170.0, 171.5, np.inf, -np.inf, np.nan, 7.25, -7.75, 30.0, 1e300])
# Where SciPy's B is nan from an overflow inside it, not a convention: the limits (0, −inf) here.
SCIPY_ARTEFACTS = {(np.inf, 1e300): (0.0, -np.inf), (1e300, np.inf): (0.0, -np.inf)}


@pytest.mark.parametrize("lib", LIBRARIES)
def test_beta_conventions_as_scipy(lib):
    """Every pair of a grid with poles, negative (non-)integers, ±0, ±inf, nan, tiny and huge values: the
    non-finite values and zeros exactly as SciPy's (its limits at pairs of poles, its inf next to −inf and nan),
    the finite ones against mpmath (SciPy's are up to 5e-8 off for large arguments)."""
    a, b = map(np.ravel, np.meshgrid(BETA_POINTS, BETA_POINTS))
    for k, name in enumerate(("beta", "betaln")):
        with np.errstate(all="ignore"):
            expected = getattr(special, name)(a, b)
        found = values(name, a, b, lib=lib)
        for (x, y), limits in SCIPY_ARTEFACTS.items():
            at = (a == x) & (b == y)
            assert np.isnan(expected[at]).all()
            expected[at] = limits[k]
        if name == "betaln":  # SciPy overflows at a + b (nan)
            expected[(a == 1e300) & (b == 1e300)] = -2e300 * np.log(2)
        finite = np.isfinite(expected) & (expected != 0)
        np.testing.assert_array_equal(np.where(finite, 0.0, found), np.where(finite, 0.0, expected))
        with mpmath.workdps(700):  # (a + b exactly, for a and b up to 1e300)
            reference = np.array([float(mpmath.beta(x, y) if name == "beta" else mpmath.log(abs(mpmath.beta(x, y))))
                                  if ok else 0.0 for x, y, ok in zip(a, b, finite, strict=True)])
        np.testing.assert_allclose(found[finite], reference[finite], rtol=1e-13)


def _beta_grid(seed):
    rng = np.random.default_rng(seed)
    small = rng.uniform(-30, 30, (2, 400))
    small = small[:, np.abs(small).max(axis=0) < 171]
    wide = np.exp(rng.uniform(np.log(1e-3), np.log(1e8), (2, 400))) * rng.choice([-1, 1], (2, 400), p=[0.2, 0.8])
    return np.concatenate([small, wide, [[0.3, 5, 1e-200, 12.5, 0.5], [1e6, 1e12, 3.5, 1e9, 0.5]]], axis=1)


@pytest.mark.parametrize("name", ["beta", "betaln"])
def test_beta_accuracy_against_mpmath(name):
    a, b = _beta_grid(7)
    found = values(name, a, b)
    exact_b = [mpmath.beta(x, y) for x, y in zip(a, b, strict=True)]
    log_b = np.array([float(mpmath.log(abs(v))) for v in exact_b])
    products = (np.abs(a) < 171) & (np.abs(b) < 171) & (np.abs(a + b) < 171)
    positive = (a > 0) & (b > 0)
    if name == "betaln":
        error = np.abs(found - log_b) / np.maximum(1.0, np.abs(log_b))
        bound = np.where(positive, 2e-15, 1.5e-14)
    else:
        expected = np.array([float(v) for v in exact_b])
        keep = np.isfinite(expected) & (np.abs(expected) > 1e-300)
        a, b, found, expected = a[keep], b[keep], found[keep], expected[keep]
        log_b, products, positive = log_b[keep], products[keep], positive[keep]
        error = np.abs(found - expected) / np.abs(expected)
        bound = np.where(products, np.where(positive, 2e-15, 1.5e-14), (2 + np.abs(log_b)) * 1e-15)
    worst = np.argmax(error / bound)
    assert np.all(error <= bound), (a[worst], b[worst], error[worst], bound[worst])


def test_beta_near_one_and_small_arguments():
    """log B near its zero (B(1, 1) = 1 exactly) and with tiny arguments (B ≈ 1/a + 1/b)."""
    np.testing.assert_array_equal(values("betaln", np.array([1.0, 2.0]), np.array([1.0, 1.0])), [0.0, -np.log(2)])
    np.testing.assert_allclose(values("beta", np.array([1e-300, -1e-300]), np.array([1e-300, 1.5])),
                               [2e300, -1e300], rtol=1e-15)


# ---------------------------------------------------------------------------------------------------------------
# dtypes, broadcasting, parameters.
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lib", LIBRARIES)
def test_float32_in_float32_out(lib):
    x = np.array([0.1, 0.7, 1.5, 3.25, 20.0, -0.3, -2.5, 40.0], dtype=np.float32)
    for name, params in (("gammaln", {}), ("gamma", {}), ("rgamma", {}), ("digamma", {}), ("polygamma", {"n": 2})):
        if lib == "torch" and name == "gammaln":
            continue  # (PyTorch's own)
        with np.errstate(over="ignore"):  # (Γ(40) is beyond float32)
            expected = getattr(special, name)(*params.values(), x.astype(np.float64)).astype(np.float32)
        np.testing.assert_allclose(values(name, x, lib=lib, dtype=np.float32, **params), expected, rtol=2e-7)
    b = np.float32(2.5) + x[::-1]
    for name in ("beta", "betaln"):
        found = values(name, x, b, lib=lib, dtype=np.float32)
        np.testing.assert_allclose(found, getattr(special, name)(x.astype(np.float64), b.astype(np.float64)),
                                   rtol=2e-7)


@pytest.mark.parametrize("lib", LIBRARIES)
def test_integer_input_gives_float64(lib):
    x = np.array([1, 2, 5, -3])
    for name in ("gamma", "rgamma", "digamma"):
        t = cr.tensor(put(x, lib, np.int64))
        with np.errstate(all="ignore"):
            out = ops.apply(lookup_rule(name), [t], {})
        assert out.dtype == np.float64
        _same(get(out._data, lib), getattr(special, name)(x), 1e-15)


@pytest.mark.parametrize("lib", LIBRARIES)
def test_beta_broadcasts(lib):
    a = np.array([[0.5], [2.0], [-1.5]])
    b = np.array([1.0, 3.5, 7.25, 40.0])
    for name in ("beta", "betaln"):
        ta, tb = cr.tensor(put(a, lib)), cr.tensor(put(b, lib))
        out = ops.apply(lookup_rule(name), [ta, tb], {})
        assert out.shape == (3, 4)
        np.testing.assert_allclose(get(out._data, lib), getattr(special, name)(a, b), rtol=1e-14)


def test_polygamma_order_must_be_a_nonnegative_integer():
    backend = backends.backend(strict.asarray(0.0))
    forward = backend.forward(lookup_rule("polygamma"))
    for n in (-1, 1.5):
        with pytest.raises(ValueError, match=r"'polygamma' takes an integer order n >= 0"):
            forward(strict.asarray([1.0]), n=n)
    np.testing.assert_allclose(get(forward(strict.asarray([1.0, 2.5]), n=np.int64(3))),
                               special.polygamma(3, [1.0, 2.5]), rtol=1e-15)


def test_polygamma_of_high_order():
    """n up to 30, where the Euler–Maclaurin threshold grows with n; n! overflows past 170 (as SciPy's)."""
    x = np.array([0.25, 1.0, 3.5, 40.0, -2.5, -0.75])
    for n in (20, 30):
        expected = np.array([float(mpmath.polygamma(n, v)) for v in x])
        np.testing.assert_allclose(values("polygamma", x, n=n), expected, rtol=2e-14)
    assert portable_gamma._zeta_threshold(2) == 10 and portable_gamma._zeta_threshold(31) > 10


# ---------------------------------------------------------------------------------------------------------------
# Derivatives through the rule table: first and second order.
# ---------------------------------------------------------------------------------------------------------------
def _function(name, n=None):
    if name == "polygamma":
        return lambda t: cs.polygamma(n, t)
    return getattr(cs, name)


DERIVATIVE_POINTS = np.array([0.3, 1.4616321449683622, 2.5, 7.75, 23.0, -0.4, -2.5, -7.3])


@pytest.mark.parametrize("lib", LIBRARIES)
@pytest.mark.parametrize(("name", "n"), [("gammaln", None), ("gamma", None), ("rgamma", None), ("digamma", None),
                                         ("polygamma", 1), ("polygamma", 2)])
def test_first_and_second_derivatives_against_mpmath(name, n, lib):
    """grad and grad of grad (create_graph through the rules: Γ'' = Γ(ψ² + ψ⁽¹⁾)…) against mpmath.diff, and equal to
    NumPy's path."""
    f = _function(name, n)

    def first(t):
        return cr.grad(lambda u: f(u).sum())(t)

    def second(t):
        return cr.grad(lambda u: first(u).sum())(t)

    x = DERIVATIVE_POINTS
    mp_f = {"gammaln": lambda v: mpmath.log(abs(mpmath.gamma(v))), "gamma": mpmath.gamma,
            "rgamma": mpmath.rgamma, "digamma": mpmath.digamma,
            "polygamma": lambda v: mpmath.polygamma(n, v)}[name]
    for order, g in ((1, first), (2, second)):
        found = get(g(cr.tensor(put(x, lib)))._data, lib)
        expected = np.array([float(mpmath.diff(mp_f, mpmath.mpf(float(v)), order)) for v in x])
        # Absolute: the size of the terms that cancel (Γ'' = Γ(ψ² + ψ⁽¹⁾), reflection for x < 0).
        terms = np.array([reflection_terms("polygamma", v, (n or 0) + order + (name == "polygamma") - 1) +
                          abs(float(mpmath.gamma(v) if name == "gamma" else mpmath.rgamma(v) if name == "rgamma"
                                    else 0)) * 30 for v in x])
        assert np.all(np.abs(found - expected) <= 1e-13 * np.abs(expected) + 1e-15 * terms), (found - expected)
        numpy_path = np.asarray(g(cr.tensor(x)).data)
        np.testing.assert_allclose(found, numpy_path, rtol=1e-13, atol=1e-15 * terms.max())


@pytest.mark.parametrize("lib", LIBRARIES)
@pytest.mark.parametrize("name", ["beta", "betaln"])
def test_beta_gradients_against_mpmath_and_central_differences(name, lib):
    a = np.array([0.7, 2.5, 12.0, -1.5, 300.0])
    b = np.array([1.3, 0.4, 40.0, 3.25, 2.5])
    f = getattr(cs, name)
    ta, tb = cr.tensor(put(a, lib)), cr.tensor(put(b, lib))
    ga, gb = cr.grad(lambda x, y: f(x, y).sum(), argnums=(0, 1))(ta, tb)
    mp_f = ((lambda x, y: mpmath.beta(x, y)) if name == "beta" else
            (lambda x, y: mpmath.log(abs(mpmath.beta(x, y)))))
    ea = [float(mpmath.diff(lambda v, y=y: mp_f(v, mpmath.mpf(y)), mpmath.mpf(x))) for x, y in zip(a, b, strict=True)]
    eb = [float(mpmath.diff(lambda v, x=x: mp_f(mpmath.mpf(x), v), mpmath.mpf(y))) for x, y in zip(a, b, strict=True)]
    np.testing.assert_allclose(get(ga._data, lib), ea, rtol=1e-13)
    np.testing.assert_allclose(get(gb._data, lib), eb, rtol=1e-13)
    eps = 1e-6 * np.maximum(1.0, np.abs(a))
    central = (values(name, a + eps, b, lib=lib) - values(name, a - eps, b, lib=lib)) / (2 * eps)
    np.testing.assert_allclose(get(ga._data, lib), central, rtol=1e-7)
