"""The portable Bessel functions (chainrule/engine/portable/bessel.py) on array-api-strict, float64, against mpmath
(30 digits) over wide grids of x and orders, and against SciPy at the edges (±0, ±inf, nan, x < 0), with float32
input, on the fake device, and the errors for what they do not take.

Measured (this file's grids, |v| <= 60): I_v and e^(−|x|) I_v within 3.6e-15 relative (for negative non-integer
v, whose I_v has zeros, relative to the size of its two parts I_|v| and (2/π)|sin vπ| K_|v|); J_v and Y_v within
4.3e-15·M where M = √(J_v² + Y_v²) (the size of the oscillation: near a zero the error is absolute), and within
4.2e-14 relative wherever |J| or |Y| >= M/20; J_v below its turning point (x < v, no zeros) within 3.4e-15
relative. The assertions leave a small margin above these.
"""

from __future__ import annotations

import functools
import math

import array_api_strict as strict
import numpy as np
import pytest

mpmath = pytest.importorskip("mpmath")
special = pytest.importorskip("scipy.special")

from chainrule.engine import backends  # noqa: E402
from chainrule.engine.portable import load  # noqa: E402

CPU = strict.Device("CPU_DEVICE")
DEVICE1 = strict.Device("device1")
BACKEND = backends.backend(strict.asarray(0.0))
I_ORDERS = (0, 1, 0.5, 1.5, 1.99, 2, 2.5, 3.3, 10, 20.5, 40, 60, -0.5, -1.5, -2.7, -10.5, -30.2, -60)
JY_ORDERS = (0, 1, 1e-9, 0.3, 0.5, 1.5, 2, 3.3, 10, 20.5, 40, 60, -1e-9, -0.5, -1, -2.7, -10.5, -30.2, -60)


def forward(name: str, x, device=CPU, **params) -> np.ndarray:
    out = load()[name](BACKEND, strict.asarray(np.asarray(x), device=device), **params)
    assert out.device == device
    return np.asarray(strict.asarray(out, device=CPU))


def grid(low: float, high: float, count: int, *extra: float) -> np.ndarray:
    """Log-spaced points with a random jitter (fixed seed), plus the method boundaries and their neighbours."""
    rng = np.random.default_rng(7)
    points = np.geomspace(low, high, count) * rng.uniform(0.97, 1.03, count)
    edges = [e * f for e in (2.0, 25.0, 30.0, *extra) if e > 0 for f in (1 - 1e-12, 1.0, 1 + 1e-12)]
    return np.unique(np.concatenate([points, edges]))


@functools.cache
def _mp(kind: str, v: float, x: float) -> float:
    if kind in ("i", "ie", "k") and v < 0 and v == int(v):
        v = -v  # I_{−n} = I_n (mpmath's hypergeometric sums do not converge for some of them)
    with mpmath.workdps(30):
        v, x = mpmath.mpf(v), mpmath.mpf(x)
        if kind == "ie":
            return float(mpmath.besseli(v, x) * mpmath.exp(-x))
        value = {"j": mpmath.besselj, "y": mpmath.bessely, "i": mpmath.besseli, "k": mpmath.besselk}[kind](v, x)
        return float(value)


def assert_within(error: np.ndarray, bound: np.ndarray) -> None:
    """|error| <= bound everywhere (0 <= 0 where a value underflows), naming the worst element."""
    error, bound = np.broadcast_arrays(np.abs(error), bound)
    error = np.where(np.isnan(error) & np.isinf(bound), 0.0, error)  # the same infinity (inf − inf) where M = inf
    ratio = np.where(error == 0, 0.0, error / np.where(bound == 0, np.nan, bound))
    worst = int(np.argmax(np.nan_to_num(ratio, nan=np.inf)))
    if not np.all((error <= bound) & ~np.isnan(error)):
        raise AssertionError(f"element {worst}: error {error.flat[worst]:.3g} > bound {bound.flat[worst]:.3g}")


def reference(kind: str, v: float, xs: np.ndarray) -> np.ndarray:
    return np.array([_mp(kind, v, float(x)) for x in xs])


# -- I_v ------------------------------------------------------------------------------------------------------------
@functools.cache
def _i_size(v: float, x: float, scaled: bool) -> float:
    """|I_v(x)| [e^(−x)] where I_v has no zeros; for negative non-integer v, I_{−v} = I_v + (2/π) sin(vπ) K_v has
    zeros: the size of its two parts there."""
    with mpmath.workdps(30):
        v, x = mpmath.mpf(v), mpmath.mpf(x)
        size = abs(mpmath.besseli(abs(v) if v == int(v) else v, x))
        if v < 0 and v != int(v):
            size = mpmath.besseli(-v, x) + 2 / mpmath.pi * abs(mpmath.sin(mpmath.pi * v)) * mpmath.besselk(-v, x)
        return float(size * mpmath.exp(-x) if scaled else size)


def _i_scale(v: float, xs: np.ndarray, scaled: bool = False) -> np.ndarray:
    return np.array([_i_size(v, float(x), scaled) for x in xs])


@pytest.mark.parametrize("v", I_ORDERS)
def test_iv_and_ive_match_mpmath(v):
    xs = grid(1e-4, 700.0, 160, 77.81, 325.04)  # (the asymptotic expansion's starts for v = 10, 20.5)
    assert_within(forward("iv", xs, v=v) - reference("i", v, xs), 5e-15 * _i_scale(v, xs))
    xs = grid(1e-4, 6000.0, 160, 77.81, 325.04, 1234.3, 2645.9)  # (and for 40, 60)
    scaled = forward("ive", xs, v=v)
    want = np.array([_mp("ie", v, float(x)) for x in xs])
    assert_within(scaled - want, 5e-15 * _i_scale(v, xs, scaled=True))


@pytest.mark.parametrize("v", [0, 1, 2.5, -0.5, 7.25, 40])
def test_ive_for_huge_x(v):
    """mpmath's values up to 1e8, and from 1e12 on the expansion's first two terms 1/√(2πx) (1 − (4v²−1)/(8x)),
    whose next term is below 1e-18 there: no overflow at any x (SciPy's ive gives nan from about 1e300)."""
    xs = np.array([1e3, 1.2345e5, 1e8])
    want = np.array([_mp("ie", v, float(x)) for x in xs])
    assert_within(forward("ive", xs, v=v) - want, 2e-15 * want)
    xs = np.array([1e12, 1e100, 1e300])
    expected = (1 - (4 * v * v - 1) / (8 * xs)) / np.sqrt(2 * math.pi * xs)
    assert_within(forward("ive", xs, v=v) - expected, 2e-15 * expected)


def test_i0_i1_are_the_orders_zero_and_one():
    xs = np.concatenate([-grid(1e-4, 700.0, 100), grid(1e-4, 700.0, 100)])
    for name, v in (("i0", 0), ("i1", 1)):
        want = np.sign(xs) ** v * reference("i", v, np.abs(xs))
        assert_within(np.abs(forward(name, xs) - want), 5e-15 * np.abs(want))


# -- J_v and Y_v ----------------------------------------------------------------------------------------------------
def _jy_errors(v: float, xs: np.ndarray):
    j, y = reference("j", v, xs), reference("y", v, xs)
    size = np.hypot(j, y)
    return j, y, size, forward("jv", xs, v=v) - j, forward("yv", xs, v=v) - y


@pytest.mark.parametrize("v", JY_ORDERS)
def test_jv_and_yv_match_mpmath(v):
    xs = grid(1e-4, 3000.0, 200, 2 * abs(v), abs(v))
    j, y, size, j_error, y_error = _jy_errors(v, xs)
    assert_within(np.abs(j_error), 5e-15 * size)
    assert_within(np.abs(y_error), 5e-15 * size)
    for value, error in ((j, j_error), (y, y_error)):  # relative, away from the zeros
        far = np.abs(value) >= size / 20
        assert_within(np.abs(error[far]), 6e-14 * np.abs(value[far]))


@pytest.mark.parametrize("v", [2, 3.3, 10, 20.5, 40, 60, -10.5])
def test_jv_below_its_turning_point_is_relatively_accurate(v):
    """For x < |v|, J_v is tiny next to Y_v (no zeros): its own relative error, down to underflow."""
    xs = np.geomspace(1e-3, 0.98 * abs(v), 120)
    want = reference("j", abs(v), xs)
    found = forward("jv", xs, v=abs(v))
    keep = np.abs(want) > 1e-290
    assert_within(np.abs(found - want)[keep], 5e-15 * np.abs(want[keep]))


def test_j0_j1_y0_y1_are_the_orders_zero_and_one_also_at_their_zeros():
    """Near zeros (mpmath's besseljzero, besselyzero) the error stays absolute: below 5e-15·M."""
    zeros = {name: np.array([float(zero(v, k)) for k in range(1, 40, 3)])
             for name, zero, v in (("j0", mpmath.besseljzero, 0), ("j1", mpmath.besseljzero, 1),
                                   ("y0", mpmath.besselyzero, 0), ("y1", mpmath.besselyzero, 1))}
    for name, kind, v in (("j0", "j", 0), ("j1", "j", 1), ("y0", "y", 0), ("y1", "y", 1)):
        xs = np.concatenate([grid(1e-4, 3000.0, 150), zeros[name], np.nextafter(zeros[name], 0)])
        want = reference(kind, v, xs)
        size = np.hypot(reference("j", v, xs), reference("y", v, xs))
        assert_within(np.abs(forward(name, xs) - want), 5e-15 * size)
    xs = -grid(1e-4, 3000.0, 60)  # J_0 even, J_1 odd
    for name, v, sign in (("j0", 0, 1), ("j1", 1, -1)):
        size = np.hypot(reference("j", v, -xs), reference("y", v, -xs))
        assert_within(forward(name, xs) - sign * reference("j", v, -xs), 5e-15 * size)


@pytest.mark.parametrize("v", [0, 1, 2.5, -0.3, 7])
def test_jv_yv_for_huge_x_keep_the_phase(v):
    """cos(x − φ) as cos x cos φ + sin x sin φ: no rounding of x − φ, so J and Y stay accurate at x = 1e20 (where
    SciPy's j0 is off by a factor of ten) and beyond."""
    xs = np.array([1e3, 1.2345e5, 1e8, 1e15, 1e20, 1e100, 1e300])
    _, _, size, j_error, y_error = _jy_errors(v, xs)
    assert_within(np.abs(j_error), 3e-16 * size)
    assert_within(np.abs(y_error), 3e-16 * size)


# -- Edges, against SciPy and mpmath. -------------------------------------------------------------------------------
EDGES = np.array([0.0, -0.0, -1.5, -2.0, np.inf, -np.inf, np.nan, 1e-30, 1.0, 720.0, 800.0])
EDGE_ORDERS = (0, 1, 2, 3, -1, -2, -3, 0.5, -0.5, -1.5, -2.5, 2.5, 0.3, -0.3, -20.5, 20.25)


def _assert_same(found, want, name):
    """Equal nans and infinities (with their signs), else within 2e-14 relative (J and Y: or 1.5e-15 absolute: at
    x = 720 and 800, where they are about 0.02, SciPy's own values are off by up to 1e-15; mpmath checks ours)."""
    np.testing.assert_array_equal(np.isnan(found), np.isnan(want))
    np.testing.assert_array_equal(found[np.isinf(want)], want[np.isinf(want)])
    atol = 1.5e-15 if name[0] in "jy" else 0
    np.testing.assert_allclose(found, want, rtol=2e-14, atol=atol, equal_nan=True)


@pytest.mark.parametrize("name", ["iv", "ive", "jv", "yv"])
@pytest.mark.parametrize("v", EDGE_ORDERS)
def test_edges_are_scipys(name, v):
    """±0, x < 0 (integer orders: the symmetry; others: nan), ±inf and nan (nan, as SciPy's), overflow: SciPy's
    values. Differences: Y_v at 0 for negative half-integer v (the limit, 0, where SciPy gives ±inf); SciPy's ive
    is nan where I_v overflows for negative non-integer v (x near 0): ours is iv's infinity there (at x = 0 itself
    both are nan, as SciPy's)."""
    want = getattr(special, name)(v, EDGES)
    if name == "ive" and v == -20.5:
        want[EDGES == 1e-30] = np.inf
    if name == "yv" and v < 0 and v % 1 == 0.5:
        # Y_{−n−1/2} = ±J_{n+1/2}, which is 0 at 0 (and underflows at 1e-30): SciPy's ±inf there are not its limit
        want[(EDGES == 0) | ((EDGES == 1e-30) & np.isinf(want))] = 0.0
    _assert_same(forward(name, EDGES, v=v), want, name)


@pytest.mark.parametrize("name", ["i0", "i1", "j0", "j1", "y0", "y1"])
def test_integer_order_edges_are_scipys(name):
    _assert_same(forward(name, EDGES), getattr(special, name)(EDGES), name)


@pytest.mark.parametrize("v", [0, 1, 0.5, -0.5, 0.3, -0.3, 2.5, 20.25, -20.5])
def test_tiny_x_down_to_the_smallest_subnormal(v):
    """x from 1e-300 down to 5e-324 (where SciPy's iv gives 0 or nan): mpmath's values, which underflow or
    overflow in float64 where they should, and Y_v's overflow stays −inf (no inf − inf in the recurrence)."""
    xs = np.array([1e-300, 1e-310, 5e-324])
    for name, kind in (("iv", "i"), ("jv", "j"), ("yv", "y")):
        found = forward(name, xs, v=v)
        with mpmath.workdps(30):
            want = np.array([float(getattr(mpmath, "bessel" + kind)(v, mpmath.mpf(x))) for x in xs])
        _assert_same(found, want, "i")


# -- dtypes, devices, shapes, errors. -------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "params"), [("iv", {"v": 2.5}), ("ive", {"v": -1.5}), ("jv", {"v": 3.3}),
                                              ("yv", {"v": 0.5}), ("i0", {}), ("i1", {}), ("j0", {}),
                                              ("j1", {}), ("y0", {}), ("y1", {})])
def test_float32_stays_float32_and_on_the_device(name, params):
    xs = grid(1e-3, 80.0, 60).astype(np.float32)
    found = forward(name, xs, device=DEVICE1, **params)
    assert found.dtype == np.float32
    want = getattr(special, name)(*params.values(), xs.astype(np.float64))
    np.testing.assert_allclose(found, want.astype(np.float32), rtol=3e-7, atol=1e-30)
    integers = forward(name, np.array([1, 2, 3]), **params)  # integer x: float64, as SciPy's
    assert integers.dtype == np.float64
    np.testing.assert_allclose(integers, getattr(special, name)(*params.values(), [1.0, 2.0, 3.0]), rtol=1e-14)


def test_shapes_are_kept():
    xs = np.geomspace(1e-2, 50.0, 24).reshape(2, 3, 4)
    for name in ("iv", "jv", "yv"):
        found = forward(name, xs, v=1.25)
        assert found.shape == (2, 3, 4)
        np.testing.assert_allclose(found, getattr(special, name)(1.25, xs), rtol=1e-13, atol=1e-15)
    assert forward("jv", np.float64(2.0), v=0).shape == ()


def test_what_the_portable_forwards_do_not_take_is_said():
    x = strict.asarray([1.0, 2.0])
    with pytest.raises(NotImplementedError, match=r"'jv' on array_api_strict arrays takes the order v as one real"):
        load()["jv"](BACKEND, x, v=strict.asarray([1.0, 2.0]))
    with pytest.raises(NotImplementedError, match=r"'iv' .* orders \|v\| <= 60, not v = 61.0"):
        load()["iv"](BACKEND, x, v=61.0)
    with pytest.raises(NotImplementedError, match=r"'yv' on array_api_strict arrays takes real x"):
        load()["yv"](BACKEND, strict.asarray([1.0 + 1.0j]), v=0.5)
    np.testing.assert_array_equal(forward("jv", [1.0, 2.0], v=float("nan")), [np.nan, np.nan])
    np.testing.assert_allclose(forward("jv", [1.0, 2.0], v=np.float32(2.0)), special.jv(2, [1.0, 2.0]), rtol=1e-15)


@pytest.mark.parametrize(("name", "derivative"), [("jv", special.jvp), ("yv", special.yvp), ("iv", special.ivp)])
def test_public_functions_and_gradients_on_the_device(name, derivative):
    """chainrule.scipy.special on a float32 tensor of the fake device: values and gradients (the rules' recurrences,
    which call the portable forwards at v ± 1) stay float32 there and match SciPy's within float32 accuracy."""
    import chainrule as cr
    from chainrule.scipy import special as cr_special

    x = np.array([0.5, 1.5, 7.0, 30.0], dtype=np.float32)
    t = cr.tensor(strict.asarray(x, device=DEVICE1), requires_grad=True)
    y = getattr(cr_special, name)(2.5, t)
    y.sum().backward()
    for found, want in ((y._data, getattr(special, name)(2.5, x.astype(np.float64))),
                        (t.grad._data, derivative(2.5, x.astype(np.float64)))):
        assert found.device == DEVICE1 and found.dtype == strict.float32
        np.testing.assert_allclose(np.asarray(strict.asarray(found, device=CPU)), want, rtol=2e-7)
    with pytest.raises(NotImplementedError, match="takes the order v as one real number"):
        cr_special.jv(np.array([0.0, 1.0]), cr.tensor(strict.asarray([1.0, 2.0], device=DEVICE1)))
