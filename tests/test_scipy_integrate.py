"""chainrule.scipy.integrate.odeint against closed forms: y' = −k y² has y(t) = y₀ / (1 + k y₀ (t − t₀)), whose
derivatives in y₀, t₀, tᵢ and k (first and second order) are written out by hand below; jvp against vjp, and a
system with two argument arrays against central differences of SciPy's own solver."""

from __future__ import annotations

import numpy as np
import pytest

scipy_integrate = pytest.importorskip("scipy.integrate", reason="chainrule.scipy needs SciPy")

import chainrule as cr  # noqa: E402
import chainrule.numpy as cnp  # noqa: E402
from chainrule.errors import DomainError, ShapeError  # noqa: E402
from chainrule.scipy.integrate import odeint  # noqa: E402

TOL = {"rtol": 1e-12, "atol": 1e-12}
Y0, T, K = np.array([1.0, 0.5]), np.array([0.1, 0.6, 1.3]), 0.7


def quadratic_decay(y, t, k):
    return -k * y * y


def closed_form(y0, t, k):
    return y0[None, :] / (1 + k * y0[None, :] * (t[:, None] - t[0]))


def test_values_and_first_derivatives_equal_the_closed_form():
    y = odeint(quadratic_decay, cr.tensor(Y0), T, (K,), **TOL)
    np.testing.assert_allclose(y.data, closed_form(Y0, T, K), rtol=1e-10)
    w = np.array([[0.3, -1.0], [2.0, 0.5], [-0.7, 1.1]])
    gy0, gt, gk = cr.grad(lambda a, b, c: (odeint(quadratic_decay, a, b, (c,), **TOL) * w).sum(), argnums=(0, 1, 2))(
        Y0, T, K
    )
    d = 1 + K * Y0[None, :] * (T[:, None] - T[0])  # y = y0 / d
    dy_dy0 = 1 / d**2
    dy_dk = -(Y0[None, :] ** 2) * (T[:, None] - T[0]) / d**2
    dy_dt = -K * Y0[None, :] ** 2 / d**2  # ∂y_i/∂t_i (i ≥ 1); ∂y_i/∂t_0 is its negative
    np.testing.assert_allclose(gy0, (w * dy_dy0).sum(axis=0), rtol=1e-8)
    np.testing.assert_allclose(gk, (w * dy_dk).sum(), rtol=1e-8)
    want_t = (w * dy_dt).sum(axis=1)
    want_t[0] = -(w[1:] * dy_dt[1:]).sum()
    np.testing.assert_allclose(gt, want_t, rtol=1e-8, atol=1e-12)


def test_second_derivative_in_k_equals_the_closed_form():
    d2 = cr.grad(lambda k: cr.grad(lambda q: odeint(quadratic_decay, Y0, T, (q,), **TOL).sum())(k))(K)
    s = T[:, None] - T[0]
    want = (2 * Y0[None, :] ** 3 * s**2 / (1 + K * Y0[None, :] * s) ** 3).sum()
    assert float(d2) == pytest.approx(want, rel=1e-7)


def test_jvp_agrees_with_vjp():
    rng = np.random.default_rng(0)
    u = rng.standard_normal((3, 2))
    v = (rng.standard_normal(2), rng.standard_normal(3) * 0.1, np.array(0.3))

    def f(a, b, c):
        return odeint(quadratic_decay, a, b, (c,), **TOL)

    _, tangent = cr.jvp(f, (Y0, T, np.array(K)), v)
    _, vjp_fn = cr.vjp(f, Y0, T, np.array(K))
    cotangents = vjp_fn(u)
    forward = float(np.sum(u * np.asarray(tangent)))
    reverse = float(sum(np.sum(np.asarray(c) * t) for c, t in zip(cotangents, v, strict=True)))
    assert forward == pytest.approx(reverse, rel=1e-9)


def test_arguments_that_are_arrays_against_scipys_solver():
    def f(y, t, a, b):
        return -cnp.sqrt(t) - y + a - cnp.mean((y + b) ** 2)

    rng = np.random.default_rng(1)
    y0, t, a, b = rng.standard_normal(3), np.linspace(0.1, 0.2, 4), rng.standard_normal(3), rng.standard_normal(3)
    plain = odeint(f, y0, t, (a, b), **TOL)
    assert type(plain) is np.ndarray
    np.testing.assert_allclose(plain, scipy_integrate.odeint(f, y0, t, (a, b), **TOL), rtol=1e-12)
    ga, gb = cr.grad(lambda p, q: odeint(f, y0, t, (p, q), **TOL).sum(), argnums=(0, 1))(a, b)
    eps = 1e-6
    for grad, which in ((ga, 0), (gb, 1)):
        for j in range(3):
            e = np.zeros(3)
            e[j] = eps
            args_plus = (a + e, b) if which == 0 else (a, b + e)
            args_minus = (a - e, b) if which == 0 else (a, b - e)
            numeric = (
                scipy_integrate.odeint(f, y0, t, args_plus, **TOL).sum()
                - scipy_integrate.odeint(f, y0, t, args_minus, **TOL).sum()
            ) / (2 * eps)
            assert grad[j] == pytest.approx(numeric, rel=1e-6, abs=1e-8)


def test_errors():
    with pytest.raises(TypeError, match=r"`func` must be a function func\(y, t, \*args\)"):
        odeint(3.0, cr.tensor(Y0), T)
    with pytest.raises(ShapeError, match=r"expected a vector \(or number\) y0 and a non-empty vector of times"):
        odeint(quadratic_decay, cr.tensor(np.ones((2, 2))), T, (K,))
    with pytest.raises(TypeError, match=r"the argument 'full_output' is not supported"):
        odeint(quadratic_decay, cr.tensor(Y0), T, (K,), full_output=True)


# -- Found by the adversarial probes: bad dynamics and failed solves are errors naming odeint, never SciPy's
# RuntimeError or a warning next to wrong numbers. ----------------------------------------------------------------
def test_a_failed_solve_is_an_error_not_a_warning_and_garbage():
    import warnings

    t = np.array([0.0, 2.0])  # y' = y², y(0) = 1 blows up at t = 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, info = scipy_integrate.odeint(lambda y, t: y * y, [1.0], t, full_output=True)
    assert not info["message"].startswith("Integration successful")
    with pytest.raises(DomainError, match=r"integrate.odeint: the solver failed near t = 1 \(Excess work done"):
        odeint(lambda y, t: y * y, cr.tensor([1.0], requires_grad=True), t)


@pytest.mark.parametrize(("func", "error", "message"), [
    (lambda y, t: cr.concatenate([y, y]), ShapeError, r"func\(y, t\) returned shape \(2,\) for y of shape \(1,\)"),
    (lambda y, t: None, TypeError, r"func\(y, t\) returned object values; expected real numbers"),
])
def test_dynamics_of_the_wrong_shape_or_type_are_named(func, error, message):
    with pytest.raises(error, match=message):
        odeint(func, cr.tensor([1.0], requires_grad=True), np.array([0.0, 1.0]))


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"t": np.array([0.0, np.inf])}, r"`t` holds nan or inf; expected finite times"),
    ({"t": np.array([0.0, np.nan])}, r"`t` holds nan or inf; expected finite times"),
    ({"rtol": -1.0}, r"`rtol` must be a finite number >= 0; got -1.0"),
    ({"atol": float("nan")}, r"`atol` must be a finite number >= 0; got nan"),
])
def test_bad_times_and_tolerances_are_domain_errors(kwargs, message):
    kwargs = {"t": np.array([0.0, 1.0]), **kwargs}
    with pytest.raises(DomainError, match=message):
        odeint(lambda y, t: -y, cr.tensor([1.0], requires_grad=True), **kwargs)


def test_a_single_time_and_an_empty_state_still_answer():
    np.testing.assert_array_equal(odeint(lambda y, t: -y, cr.tensor([1.0]), np.array([0.0])).data, [[1.0]])
    assert odeint(lambda y, t: -y, cr.tensor(np.zeros(0)), np.array([0.0, 1.0])).shape == (2, 0)
