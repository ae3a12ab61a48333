"""Portable forwards of chainrule/engine/portable/incomplete.py on array-api-strict, against SciPy and mpmath.

Errors are relative. Where SciPy and ours differ by more than the bound, mpmath (40 digits) decides: SciPy 1.17 is
itself off in places (P(a, x) for a >= 1e7 near x = a by 4 % and more, I_x(½, ½) near x = 1 by 4e-11, stdtr(1, t)
near t = 0 by 3e-9), and ours must then be within the bound of mpmath.

Measured maxima (float64): ndtri, erfinv, erfcinv 9e-16; P and Q within 4e-15 · max(1, |ln v|) of the value v
(the exponent of xᵃe^(−x) carries an error of ε times its size); I_x and stdtr within that plus 2e-15 √(a + b)
(2.3e-14 at a = 1000, b = 12 near the mean), times 1/v where v < 1 comes as 1 minus the other side's fraction
(2.9e-13 for stdtr(11721, −2.04) = 0.0205). That is also why I_x(a, b) for a or b below 0.1 is looser (up to 2e-9
relative at b = 1e-6, x near 1, where I_x is about 1e-7).
"""

from __future__ import annotations

import functools

import array_api_strict as strict
import mpmath
import numpy as np
import pytest
from scipy import special

import chainrule as cr
import chainrule.scipy.special
from chainrule.engine import backends
from chainrule.engine.portable import load
from chainrule.engine.portable.incomplete import _temme_coefficients

mpmath.mp.dps = 40
EPS = np.finfo(np.float64).eps
BACKEND = backends.backend(strict.asarray(0.0))
DEVICE1 = strict.Device("device1")


def run(name, x, device=None, dtype=np.float64, **params):
    """The portable forward on strict arrays; back as NumPy (read on the CPU device)."""
    kwargs = {} if device is None else {"device": device}
    data = strict.asarray(np.asarray(x, dtype=dtype), **kwargs)
    params = {k: strict.asarray(np.asarray(v, dtype=np.float64), **kwargs) if np.ndim(v) else v
              for k, v in params.items()}
    out = load()[name](BACKEND, data, **params)
    assert out.device == data.device
    return np.asarray(strict.asarray(out, device=strict.Device("CPU_DEVICE")))


def relative_error(found, expected):
    found, expected = np.broadcast_arrays(found, expected)
    same = (found == expected) | (np.isnan(found) & np.isnan(expected))
    with np.errstate(all="ignore"):
        return np.where(same, 0.0, np.abs(found - expected) / np.abs(expected))


def beta_bound(v, a, b, *_):
    """(4e-15 · max(1, |ln v|) + 2e-15 √(a + b)) · max(1, 1/v): the fraction's error grows with the size of the
    parameters, and a small v taken as 1 minus the fraction on the other side of the mean is relatively less
    accurate (the fraction for v itself would not converge there)."""
    return (log_bound(v) + 2e-15 * np.sqrt(np.asarray(a) + b)) * np.maximum(1.0, 1 / np.abs(v))


def t_bound(v, df, _):
    return beta_bound(v, df / 2, 0.5)


def _values_only(bound):
    return lambda v, *_: bound(v)


def log_bound(v):
    """4e-15 · max(1, |ln v|): the exponent's rounding error grows with its size."""
    with np.errstate(divide="ignore"):
        return 4e-15 * np.maximum(1.0, np.abs(np.log(np.abs(v))))


def assert_close(found, scipy_values, exact, args, bound, share=0.02):
    """found within bound(v) of SciPy's v, or, where not, within bound of mpmath's value (``exact(*args)``)."""
    error = relative_error(found, scipy_values)
    scipy_values = np.broadcast_to(scipy_values, found.shape)
    suspects = np.argwhere((error > bound(scipy_values, *args)) & (np.abs(scipy_values) > 1e-290))
    assert len(suspects) <= max(5, share * found.size), f"{len(suspects)} of {found.size} differ from SciPy"
    for index in map(tuple, suspects):
        values = [float(np.broadcast_to(a, found.shape)[index]) for a in args]
        reference = exact(*values)
        assert abs(found[index] - reference) <= bound(reference, *values) * abs(reference), (values, found[index],
                                                                                            reference)


def mp_gammainc(a, x, lower=True):
    a, x = mpmath.mpf(a), mpmath.mpf(x)
    return float(mpmath.gammainc(a, 0, x, regularized=True) if lower else mpmath.gammainc(a, x, mpmath.inf,
                                                                                               regularized=True))


def mp_betainc(a, b, x):
    return float(mpmath.betainc(mpmath.mpf(a), mpmath.mpf(b), 0, mpmath.mpf(x), regularized=True))


def mp_stdtr(df, t):
    df, t = mpmath.mpf(df), mpmath.mpf(t)
    tail = mpmath.betainc(df / 2, mpmath.mpf(0.5), 0, df / (df + t * t), regularized=True) / 2
    return float(tail if t < 0 else 1 - tail)


# -- Inverses ----------------------------------------------------------------------------------------------------
PROBABILITIES = np.concatenate([np.logspace(-323, -1, 3000), np.linspace(0, 1, 4001), 1 - np.logspace(-16, -1, 600),
                                [0.25, 0.75, 0.25 + 1e-12, 0.25 - 1e-12, 0.5 + 1e-15, 0.5 - 1e-17]])


@pytest.mark.parametrize(("name", "points"), [
    ("ndtri", PROBABILITIES),
    ("erfinv", np.concatenate([2 * PROBABILITIES - 1, np.logspace(-300, -1, 400), -np.logspace(-300, -1, 400)])),
    ("erfcinv", np.concatenate([2 * PROBABILITIES, 2 - np.logspace(-16, 0, 300)])),
])
def test_inverses_match_scipy_to_a_few_ulps(name, points):
    found = run(name, points)
    error = relative_error(found, getattr(special, name)(points))
    assert error.max() <= 1.5e-15, (points[np.argmax(error)], error.max())


def test_inverses_invert_the_functions_in_the_far_tails():
    """Independent of SciPy's inverses: Φ(ndtri(p)) = p down to the smallest subnormal, through mpmath's Φ."""
    p = np.array([5e-324, 1e-310, 1e-300, 1e-200, 1e-50, 1e-10, 0.01])
    x = run("ndtri", p)
    back = np.array([float(mpmath.ncdf(mpmath.mpf(v))) for v in x])
    # |dp/p| = |x| φ/Φ |dx/x| ~ x²·(relative error of x): at x = −38, 1e-15 relative in x is 1.5e-12 in p
    assert np.all(np.abs(back - p) <= 3 * EPS * (1 + x * x) * p), (back - p) / p


@pytest.mark.parametrize("name", ["ndtri", "erfinv", "erfcinv"])
def test_inverses_edges_are_scipys(name):
    points = np.array([-np.inf, -1.5, -1.0, -0.0, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, np.inf, np.nan])
    np.testing.assert_array_equal(run(name, points), getattr(special, name)(points))


# -- P(a, x), Q(a, x) --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lower", [True, False], ids=["gammainc", "gammaincc"])
def test_incomplete_gamma_matches_scipy_and_mpmath(lower):
    a = np.concatenate([np.logspace(-8, 4, 70), [0.5, 1, 1.5, 2, 19.99, 20.01, 25, 100, 1000]])
    x = np.concatenate([np.logspace(-10, 4.3, 100), [1.0999, 1.1, 1.1001]])
    a, x = np.meshgrid(a, x)
    name = "gammainc" if lower else "gammaincc"
    assert_close(run(name, x, a=a), getattr(special, name)(a, x), lambda a, x: mp_gammainc(a, x, lower), (a, x),
                 _values_only(log_bound))


@pytest.mark.parametrize("a", [30.0, 200.0, 1e3, 1e5])
def test_incomplete_gamma_near_the_transition_for_large_a(a):
    """Temme's expansion and its borders |x − a| = 0.3a, within ±12 standard deviations."""
    x = np.concatenate([a + np.sqrt(a) * np.linspace(-12, 12, 41), a * np.array([0.69, 0.7, 0.71, 1.29, 1.3, 1.31])])
    for lower, name in ((True, "gammainc"), (False, "gammaincc")):
        exact = functools.partial(mp_gammainc, lower=lower)
        assert_close(run(name, x, a=a), getattr(special, name)(a, x), exact, (x * 0 + a, x), _values_only(log_bound))


def test_incomplete_gamma_for_huge_a_against_mpmath():
    """SciPy 1.17 is off here (7.6e-7 for 7.84e-7 at a = 1e7, 7.6e-8 for 7.93e-7 at a = 1e10); mpmath through
    P = xᵃe^(−x)/Γ(a + 1) ₁F₁(1; a + 1; x)."""
    for a in (1e7, 1e10):
        x = a - 4.8 * np.sqrt(a)
        exact = mpmath.exp(a * mpmath.log(x) - x - mpmath.loggamma(a + 1)) * mpmath.hyp1f1(1, a + 1, x, maxterms=10**8)
        assert abs(run("gammainc", x, a=a) - float(exact)) <= 1e-13 * float(exact)


def test_incomplete_gamma_edges_are_scipys():
    a = np.array([0.0, 0.0, 0.0, 1.0, 1.0, np.inf, np.inf, -1.0, 1.0, np.nan, 2.0, 1e-300, 3.0])
    x = np.array([0.0, 1.0, np.inf, 0.0, np.inf, 1.0, np.inf, 1.0, -1.0, 1.0, np.nan, 0.5, -0.0])
    for name in ("gammainc", "gammaincc"):
        found = run(name, x, a=a)
        expected = getattr(special, name)(a, x)
        np.testing.assert_array_equal(np.isnan(found), np.isnan(expected))
        np.testing.assert_allclose(found, expected, rtol=1e-13, atol=0)


def test_temme_coefficients_are_dlmfs():
    """c₀(η) = −1/3 + η/12 − 2η²/135 + η³/864, c₁(η) = −1/540 − η/288 + η²/378 (DLMF 8.12.9's expansions)."""
    d = _temme_coefficients()
    np.testing.assert_allclose(d[0][:4], [-1 / 3, 1 / 12, -2 / 135, 1 / 864], rtol=1e-15)
    np.testing.assert_allclose(d[1][:3], [-1 / 540, -1 / 288, 1 / 378], rtol=1e-15)


# -- I_x(a, b), stdtr --------------------------------------------------------------------------------------------
def test_incomplete_beta_matches_scipy_and_mpmath():
    ab = np.concatenate([np.logspace(-2, 3, 14), [0.5, 1, 2, 9.99, 10, 10.5]])
    x = np.concatenate([np.logspace(-12, -0.31, 16), 1 - np.logspace(-12, -0.31, 16), [0.5]])
    a, b, x = np.meshgrid(ab, ab, x, indexing="ij")
    found = run("betainc", x, a=a, b=b)
    small = (a < 0.1) | (b < 0.1)  # (1 − a number near 1, see the module's docstring)
    assert_close(found[~small], special.betainc(a, b, x)[~small], mp_betainc, (a[~small], b[~small], x[~small]),
                 beta_bound)
    reference = special.betainc(a, b, x)[small]
    assert relative_error(found[small], reference)[reference > 1e-290].max() <= 1e-11


def test_incomplete_beta_with_tiny_parameters_is_within_its_documented_bound():
    a = np.array([75.0, 5.6, 1000.0])
    x = np.array([0.988, 0.9235, 0.99926])
    found = run("betainc", x, a=a, b=1e-6)
    exact = np.array([mp_betainc(*v) for v in zip(a, [1e-6] * 3, x, strict=True)])
    assert np.all(relative_error(found, exact) <= 2e-9)


def test_incomplete_beta_edges_are_scipys():
    a = np.array([0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0, np.inf, 1.0, 1.0, 1.0, -1.0, 0.0, 1.0, np.nan])
    b = np.array([1.0, 0.0, 0.0, 1.0, 0.0, 2.0, 2.0, 1.0, np.inf, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0])
    x = np.array([0.5, 0.5, 0.5, 0.0, 1.0, 0.0, 1.0, 0.5, 0.5, -0.1, 1.1, 0.5, 1.0, 0.0, 0.5])
    found = run("betainc", x, a=a, b=b)
    np.testing.assert_array_equal(found, special.betainc(a, b, x))


def test_stdtr_matches_scipy_and_mpmath():
    df = np.concatenate([np.logspace(-2, 6, 30), [1, 2, 3]])
    t = np.concatenate([-np.logspace(-10, 3, 30), np.logspace(-10, 3, 30), [0.0]])
    df, t = np.meshgrid(df, t)
    # SciPy's stdtr is off near t = 0 (3e-9 relative at df = 1, t = −1e-8, where F = ½ + atan(t)/π is known)
    assert_close(run("stdtr", t, df=df), special.stdtr(df, t), mp_stdtr, (df, t), t_bound, share=0.1)


def test_stdtr_edges_are_scipys():
    df = np.array([0.0, -1.0, np.inf, 3.0, 3.0, np.inf, np.nan, 3.0, 3.0])
    t = np.array([1.0, 1.0, 1.5, np.inf, -np.inf, -np.inf, 1.0, np.nan, -0.0])
    np.testing.assert_allclose(run("stdtr", t, df=df), special.stdtr(df, t), rtol=1e-15, atol=0)


# -- dtypes, broadcasting, devices, the table --------------------------------------------------------------------
@pytest.mark.parametrize(("name", "x", "params"), [
    ("ndtri", np.linspace(0.001, 0.999, 50), {}),
    ("erfinv", np.linspace(-0.999, 0.999, 50), {}),
    ("erfcinv", np.linspace(0.001, 1.999, 50), {}),
    ("gammainc", np.linspace(0.01, 20, 50), {"a": 2.5}),
    ("gammaincc", np.linspace(0.01, 20, 50), {"a": 2.5}),
    ("betainc", np.linspace(0.01, 0.99, 50), {"a": 2.0, "b": 3.5}),
    ("stdtr", np.linspace(-6, 6, 50), {"df": 4.0}),
])
def test_float32_stays_float32_within_float32_accuracy(name, x, params):
    x32 = x.astype(np.float32)
    found = run(name, x32, dtype=np.float32, **params)
    assert found.dtype == np.float32
    expected = getattr(special, name)(*params.values(), x32.astype(np.float64))
    np.testing.assert_allclose(found, expected, rtol=2 * np.finfo(np.float32).eps, atol=1e-30)


def test_parameters_broadcast_and_stay_on_the_device():
    x = np.linspace(0.1, 5.0, 6).reshape(3, 2)
    a = np.array([0.5, 7.0])
    np.testing.assert_allclose(run("gammainc", x, device=DEVICE1, a=a), special.gammainc(a, x), rtol=1e-14)
    b = np.array([[1.5], [2.0], [30.0]])
    np.testing.assert_allclose(run("betainc", x / 6, device=DEVICE1, a=a, b=b), special.betainc(a, b, x / 6),
                               rtol=1e-14)


def test_integer_input_gives_float64():
    out = load()["ndtri"](BACKEND, strict.asarray([0, 1]))
    assert out.dtype == strict.float64


def test_rules_run_on_strict_with_gradients_of_x():
    """The rules through chainrule (scalar parameters): values SciPy's, gradient central differences'."""
    x = np.array([0.3, 1.7, 4.0])
    t = cr.tensor(strict.asarray(x), requires_grad=True)
    y = cr.scipy.special.gammainc(2.5, t)
    y.sum().backward()
    np.testing.assert_allclose(np.asarray(y._data), special.gammainc(2.5, x), rtol=1e-14)
    h = 1e-6
    numeric = (special.gammainc(2.5, x + h) - special.gammainc(2.5, x - h)) / (2 * h)
    np.testing.assert_allclose(np.asarray(t.grad._data), numeric, rtol=1e-8)


def test_gradient_with_array_parameters_needs_gammaln():
    """∂P/∂x with an array a needs log Γ(a) in the library: on strict the portable one (engine/portable/gamma.py),
    against central differences of SciPy's P."""
    t = cr.tensor(strict.asarray(np.array([0.3, 1.7])), requires_grad=True)
    y = cr.scipy.special.gammainc(np.array([2.5, 3.0]), t)
    np.testing.assert_allclose(np.asarray(y._data), special.gammainc([2.5, 3.0], [0.3, 1.7]), rtol=1e-14)
    assert "gammaln" in load()
    y.sum().backward()
    x, h = np.array([0.3, 1.7]), 1e-6
    numeric = (special.gammainc([2.5, 3.0], x + h) - special.gammainc([2.5, 3.0], x - h)) / (2 * h)
    np.testing.assert_allclose(np.asarray(t.grad._data), numeric, rtol=1e-8)
