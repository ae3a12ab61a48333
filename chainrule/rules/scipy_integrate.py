"""SciPy's ODE solver as a rule: ``odeint`` of dy/dt = f(y, t, p), differentiable in y0, t and p.

Conventions as in the rest of the table: ``g`` the upstream gradient, ``ts`` the tangents, ``y`` the output (the
solution at each time, shape (T, D)), ``m`` the math namespace. The dynamics come as the parameter ``system``, made
by ``chainrule/scipy/integrate.py``: ``system.f(y, t, p)`` (``system.values``: the same as a plain array, for the
solver), ``system.vjp(y, t, p, v)`` → (vᵀ∂f/∂y, vᵀ∂f/∂t, vᵀ∂f/∂p), ``system.jvp(y, t, p, dy, dt, dp)``,
``system.concatenate`` and ``system.derive(f)``, the system of a new dynamics function (its vjp and jvp found by
chainrule's transforms).

* Reverse mode, the adjoint method: from each time tᵢ back to tᵢ₋₁ the state (y, a, c) runs along ẏ = f,
  ȧ = −aᵀ∂f/∂y, ċ = −aᵀ∂f/∂p, and gᵢ₋₁ joins a; c gathers ∂L/∂p. ∂L/∂tᵢ = gᵢᵀ f(yᵢ, tᵢ) for i ≥ 1 and
  ∂L/∂t₀ = −a(t₀)ᵀ f(y₀, t₀).
* Forward mode, the sensitivity equations: δ̇ = ∂f/∂y δ + ∂f/∂p dp from δ(t₀) = dy₀ − f(y₀, t₀) dt₀, and the tangent
  of yᵢ is δ(tᵢ) + f(yᵢ, tᵢ) dtᵢ.

Both integrate with this same rule, so on Tensors they are graphs: gradients of gradients work whenever ``derive``
can differentiate the new dynamics again.
"""

from __future__ import annotations

import importlib.util

import numpy as np

from .registry import GENERAL, Rule, Sample, lookup, register


def _odeint(y0, t, p, system=None, rtol=1.4e-8, atol=1.4e-8):
    import warnings

    from scipy import integrate

    from ..errors import DomainError, ShapeError

    def derivative(state, time):
        value = np.asarray(system.values(state, time, p))
        if value.dtype.kind not in "biuf":
            raise TypeError(
                f"integrate.odeint: func(y, t) returned {value.dtype} values; expected real numbers, an array of "
                f"the shape of y0 ({state.size},)"
            )
        if value.size != state.size:
            raise ShapeError(
                f"integrate.odeint: func(y, t) returned shape {value.shape} for y of shape {state.shape}; "
                f"expected dy/dt of the shape of y0 ({state.size},)"
            )
        return value.astype(np.float64).reshape(-1)

    if np.size(y0) == 0:  # nothing to integrate (LSODA calls that illegal input)
        return np.zeros((np.shape(t)[0], 0), np.result_type(y0, t, p, np.float32))
    with warnings.catch_warnings():  # a failure is raised below, with what SciPy would only warn about
        warnings.simplefilter("ignore", integrate.ODEintWarning)
        out, info = integrate.odeint(derivative, y0, t, rtol=rtol, atol=atol, full_output=True)
    if not info["message"].startswith(("Integration successful", "Nothing was done")):
        steps = int(np.count_nonzero(info["nst"]))
        reached = float(info["tcur"][steps - 1]) if steps else float(t[0])
        raise DomainError(
            f"integrate.odeint: the solver failed near t = {reached:.6g} ({info['message']}); the solution may "
            "blow up there (a finite-time singularity), the problem may be too stiff, or func may return nan; "
            "check func, or integrate over a shorter span"
        )
    return out.astype(np.result_type(y0, t, p, np.float32), copy=False)


def _solve(m, start, times, p, system, rtol, atol):
    return m.apply_rule(lookup("odeint"), (start, times, p), {"system": system, "rtol": rtol, "atol": atol})


def _augmented(system, d):
    """The adjoint system, integrated from tᵢ back to tᵢ₋₁: state (y, a, c) with ẏ = f, ȧ = −aᵀ∂f/∂y and
    ċ = −aᵀ∂f/∂p, so that c gathers ∫ aᵀ∂f/∂p dt, the gradient of p."""

    def f(state, t, p):
        y, a = state[:d], state[d : 2 * d]
        vy, _, vp = system.vjp(y, t, p, -a)
        return system.concatenate([system.f(y, t, p), vy, vp])

    return system.derive(f)


def _tangent(system, d, n_p):
    """The sensitivity system, state (y, δ), parameters (p, dp)."""

    def f(state, t, q):
        y, delta, p, dp = state[:d], state[d:], q[:n_p], q[n_p:]
        return system.concatenate([system.f(y, t, p), system.jvp(y, t, p, delta, 0.0 * t, dp)])

    return system.derive(f)


def _adjoint(g, y0, t, p, y, m, system, rtol, atol):
    """The gradients of y0, t and p from the upstream gradient g of the whole solution (T, D).

    ∂L/∂tᵢ = gᵢᵀ f(yᵢ, tᵢ) for i ≥ 1 (moving tᵢ moves where the solution is read); moving t₀ starts the same
    solution from y₀ later, an initial change −f(y₀, t₀) dt₀: ∂L/∂t₀ = −a(t₀)ᵀ f(y₀, t₀).
    """
    n, d = np.shape(y)
    augmented = _augmented(system, d)
    adjoint, vjp_p = g[n - 1, ...], m.zeros_like(p)  # (i, ...): the Array API's indexing of rows
    times = []
    for i in range(n - 1, 0, -1):
        times.append(m.reshape(m.sum(system.f(y[i, ...], t[i], p) * g[i, ...]), (1,)))
        start = m.concatenate([y[i, ...], adjoint, vjp_p])
        back = _solve(m, start, m.stack([t[i], t[i - 1]]), p, augmented, rtol, atol)[1, ...]
        adjoint, vjp_p = back[d : 2 * d], back[2 * d :]
        if i > 1:
            adjoint = adjoint + g[i - 1, ...]
    times.append(m.reshape(-m.sum(system.f(y0, t[0], p) * adjoint), (1,)))
    return adjoint + g[0, ...], m.concatenate(times[::-1]), vjp_p


def _jvp(ts, y0, t, p, y, m, system=None, rtol=1.4e-8, atol=1.4e-8):
    ty0, tt, tp = ts
    n, d = np.shape(y)
    start = m.concatenate([y0, ty0 - system.f(y0, t[0], p) * tt[0]])
    q = m.concatenate([p, tp])
    delta = _solve(m, start, t, q, _tangent(system, d, np.shape(p)[0]), rtol, atol)[:, d:]
    rates = m.stack([system.f(y[i, ...], t[i], p) for i in range(n)])
    return delta + rates * m.reshape(tt, (n, 1))


def _namespace(*xs):
    """NumPy for NumPy arrays and numbers, else the arrays' own library (array-api-compat's namespace): the sample
    runs in every library (tests/test_array_api.py)."""
    foreign = [x for x in xs if not isinstance(x, np.ndarray | np.generic | int | float)]
    if not foreign:
        return np
    import array_api_compat

    return array_api_compat.array_namespace(*foreign)


class _Decay:
    """The rule's sample: ẏ = −p₀ y + p₁ sin t, with its derivatives by hand (on arrays of any library; first
    order)."""

    def __init__(self, f=None):
        self.function = f

    def f(self, y, t, p):
        if self.function is not None:
            return self.function(y, t, p)
        return -p[0] * y + p[1] * _namespace(y, t, p).sin(t)

    values = f

    def concatenate(self, xs):
        xp = _namespace(*xs)
        return xp.concatenate(xs) if xp is np else xp.concat(xs)

    def vjp(self, y, t, p, v):
        xp = _namespace(y, t, p, v)
        return -p[0] * v, p[1] * xp.cos(t) * xp.sum(v), xp.stack([-xp.sum(v * y), xp.sin(t) * xp.sum(v)])

    def jvp(self, y, t, p, dy, dt, dp):
        xp = _namespace(y, t, p, dy, dp)
        return -p[0] * dy + p[1] * xp.cos(t) * dt - dp[0] * y + dp[1] * xp.sin(t)

    def derive(self, f):
        return _Decay(f)


def _register_all() -> None:
    def vjp(k):
        return lambda g, y0, t, p, y, m, system=None, rtol=1.4e-8, atol=1.4e-8: _adjoint(
            g, y0, t, p, y, m, system, rtol, atol
        )[k]

    sample = Sample(
        ((2,), (3,), (2,)),
        {"system": _Decay(), "rtol": 1e-12, "atol": 1e-12},
        values=(np.array([1.0, -0.5]), np.array([0.1, 0.4, 0.9]), np.array([0.7, 1.3])),
    )
    register(
        Rule(
            name="odeint",
            forward=_odeint,
            kind=GENERAL,
            arity=3,
            args=("y0", "t", "p"),
            vjps=(vjp(0), vjp(1), vjp(2)),
            jvp=_jvp,
            text=(
                "a(t_0), a' = -a^T df/dy backwards",
                "g_i^T f(y_i, t_i), and -a(t_0)^T f at t_0",
                "integral of a^T df/dp dt",
            ),
            tex=(r"a(t_0),\ \dot a = -a^{T} \partial_y f", r"g_i^{T} f(y_i, t_i)", r"\int a^{T} \partial_p f\, dt"),
            display=r"y(t):\ \dot y = f(y, t, p)",
            samples=(sample,),
            order=1,
            note="scipy.integrate.odeint; reverse mode by the adjoint method, forward mode by the sensitivity "
            "equations; the sample checks first order (higher orders need chainrule.scipy.integrate's systems)",
        )
    )


if importlib.util.find_spec("scipy") is not None:  # without SciPy the entry could not run: leave it out
    _register_all()
