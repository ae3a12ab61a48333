"""The portable odeint (chainrule/engine/portable/ode.py, Dormand–Prince 5(4)) on array-api-strict's fake device,
against closed forms and SciPy's LSODA: values, the adjoint gradients (which integrate with the same forward),
edges and errors.

Measured at rtol = atol = 1e-12 against the closed forms: y' = −a y + b sin t, the portable solver within 1e-12,
LSODA within 1.5e-11; y' = −k y² (a solution growing to −3.1), 2.3e-12 relative here, 8.8e-11 for LSODA. At SciPy's
default tolerances 1.4e-8 the two agree within 1e-7.
"""

from __future__ import annotations

import array_api_strict as xp
import numpy as np
import pytest

scipy_integrate = pytest.importorskip("scipy.integrate")

import chainrule as cr  # noqa: E402
import chainrule.numpy as cnp  # noqa: E402
from chainrule.engine import backends  # noqa: E402
from chainrule.engine.portable import ode  # noqa: E402
from chainrule.errors import DomainError, ShapeError  # noqa: E402
from chainrule.scipy.integrate import odeint  # noqa: E402

DEVICE = xp.Device("device1")
TIGHT = {"rtol": 1e-12, "atol": 1e-12}


def put(a):
    return xp.asarray(np.array(a, copy=True), device=DEVICE)


def get(x):
    assert x.device == DEVICE
    return np.asarray(xp.asarray(x, device=xp.Device("CPU_DEVICE")))


def quadratic(y, t, k):
    return -k * y * y


def forced(y, t, a, b):
    return -a * y + b * cnp.sin(t)


def forced_exact(y0, t, a, b):
    def primitive(s):  # ∫ e^(a s) sin s ds
        return np.exp(a * s) * (a * np.sin(s) - np.cos(s)) / (a * a + 1)

    return np.exp(-a * (t[:, None] - t[0])) * y0 + b * np.exp(-a * t[:, None]) * (primitive(t) - primitive(t[0]))[
        :, None]


Y0, T = np.array([1.0, -0.5, 2.0]), np.array([0.1, 0.4, 0.9, 2.5])


def test_values_against_closed_forms_and_lsoda():
    y = odeint(quadratic, cr.tensor(put(Y0)), cr.tensor(put(T)), (0.7,), **TIGHT)
    exact = Y0[None, :] / (1 + 0.7 * Y0[None, :] * (T[:, None] - T[0]))
    np.testing.assert_allclose(get(y.data), exact, rtol=3e-12, atol=1e-12)  # (−0.5 grows to −3.1: 2.3e-12 there)
    lsoda = scipy_integrate.odeint(lambda v, s: -0.7 * v * v, Y0, T, **TIGHT)
    np.testing.assert_allclose(lsoda, exact, rtol=2e-10, atol=1e-12)  # LSODA's own error there: 8.8e-11
    y = get(odeint(forced, cr.tensor(put(Y0)), cr.tensor(put(T)), (0.7, 1.3), **TIGHT).data)
    assert np.max(np.abs(y - forced_exact(Y0, T, 0.7, 1.3))) <= 1e-12
    lsoda = scipy_integrate.odeint(lambda v, s: -0.7 * v + 1.3 * np.sin(s), Y0, T, **TIGHT)
    assert np.max(np.abs(lsoda - forced_exact(Y0, T, 0.7, 1.3))) <= 2e-11  # (LSODA's error: 1.5e-11 at t = 2.5)
    default = get(odeint(forced, cr.tensor(put(Y0)), cr.tensor(put(T)), (0.7, 1.3)).data)
    lsoda = scipy_integrate.odeint(lambda v, s: -0.7 * v + 1.3 * np.sin(s), Y0, T)
    assert np.max(np.abs(default - lsoda)) <= 1e-7


def test_gradients_against_the_closed_form_and_numpy():
    w = np.random.default_rng(0).standard_normal((4, 3))

    def loss(y0, t, k, put_w):
        return (odeint(quadratic, y0, t, (k,), **TIGHT) * cr.tensor(put_w(w))).sum()

    moved = [cr.tensor(put(v), requires_grad=True) for v in (Y0, T, np.asarray(0.7))]
    loss(*moved, put).backward()
    d = 1 + 0.7 * Y0[None, :] * (T[:, None] - T[0])
    want_y0 = (w / d**2).sum(axis=0)
    want_k = (w * -(Y0[None, :] ** 2) * (T[:, None] - T[0]) / d**2).sum()
    want_t = (w * -0.7 * Y0[None, :] ** 2 / d**2).sum(axis=1)
    want_t[0] = -want_t[1:].sum()
    np.testing.assert_allclose(get(moved[0].grad.data), want_y0, rtol=1e-10)
    np.testing.assert_allclose(get(moved[1].grad.data), want_t, rtol=1e-10)
    np.testing.assert_allclose(get(moved[2].grad.data), want_k, rtol=1e-10)
    numpy = cr.grad(lambda a, b, c: loss(a, b, c, np.asarray), argnums=(0, 1, 2))(Y0, T, 0.7)
    for found, expected in zip(moved, numpy, strict=True):
        np.testing.assert_allclose(get(found.grad.data), expected, rtol=1e-9, atol=1e-11)


def test_times_backwards_repeated_and_single():
    t, y0 = np.array([2.0, 1.0, 1.0, 0.0]), np.array([0.2, -0.5])  # decreasing, with a repeated time
    y = get(odeint(quadratic, cr.tensor(put(y0)), cr.tensor(put(t)), (0.7,), **TIGHT).data)
    exact = y0[None, :] / (1 + 0.7 * y0[None, :] * (t[:, None] - t[0]))
    assert np.max(np.abs(y - exact)) <= 1e-12 and np.array_equal(y[1], y[2])
    single = odeint(quadratic, cr.tensor(put(Y0)), cr.tensor(put([0.3])), (0.7,))
    assert np.array_equal(get(single.data), Y0[None, :])
    empty = odeint(quadratic, cr.tensor(put(np.zeros(0))), cr.tensor(put(T)), (0.7,))
    assert empty.shape == (4, 0)
    with pytest.raises(ValueError, match="monotonically"):
        odeint(quadratic, cr.tensor(put(Y0)), cr.tensor(put([0.0, 1.0, 0.5])), (0.7,))


def test_float32_stays_float32():
    y0, t, k = (put(np.asarray(v, dtype=np.float32)) for v in (Y0, T, 0.7))
    y = odeint(quadratic, cr.tensor(y0), cr.tensor(t), (cr.tensor(k),))
    assert y.dtype == np.float32  # (a float64 k would make it float64, as on NumPy)
    exact = Y0[None, :] / (1 + 0.7 * Y0[None, :] * (T[:, None] - T[0]))
    np.testing.assert_allclose(get(y.data), exact, rtol=1e-6)


def test_failures_are_errors():
    with pytest.raises(DomainError, match="the solver failed near t = 1"):
        odeint(lambda y, t: y * y, cr.tensor(put([1.0])), cr.tensor(put([0.0, 2.0])))  # y = 1/(1 − t)
    with pytest.raises(DomainError, match="the solver failed"):
        odeint(lambda y, t: y * cnp.log(t - 1), cr.tensor(put([1.0])), cr.tensor(put([0.0, 1.0])))  # nan
    with pytest.raises(ShapeError, match=r"returned shape \(2,\) for y of shape \(3,\)"):
        odeint(lambda y, t: y[:2], cr.tensor(put(Y0)), cr.tensor(put(T)))


def test_the_step_count_is_reasonable():
    """A smooth problem at tight tolerances takes a few hundred steps, not thousands (6 evaluations each)."""
    calls = []

    class Counting:
        def values(self, y, t, p):
            calls.append(1)
            return -p[0] * y

    backend = backends.backend(put(0.0))
    out = ode.odeint(backend, put(Y0), put(np.array([0.0, 5.0])), put(np.array([0.7])), system=Counting(), **TIGHT)
    assert np.max(np.abs(get(out)[1] - Y0 * np.exp(-3.5))) <= 1e-12
    assert len(calls) < 6 * 400
