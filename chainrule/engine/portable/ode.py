"""The ODE solver of the ``odeint`` rule for arrays of any library: an adaptive Dormand–Prince 5(4) Runge–Kutta
method (Hairer, Nørsett & Wanner, *Solving ODEs I*, §II.4–5), written with the Array API only, on the device.

Each step of size h takes the 5th-order solution (local extrapolation) and estimates its local error by the
difference to the embedded 4th-order one; the step is accepted when the error's root mean square, each component
weighted by atol + rtol·max(|yₙ|, |yₙ₊₁|), is at most 1 (the rtol and atol of SciPy's odeint, the same weighted RMS
norm as its LSODA), and the next h is 0.9·err^(−1/5) times this one (between 1/5 and 5 times). The solver steps
exactly onto each requested time (no interpolation), so its solution there carries only the local errors of the
steps before. The first step size is Hairer's estimate from f(y₀) and one Euler step. On a smooth problem the result
agrees with SciPy's LSODA to about the tolerances asked for (tests/test_portable_ode.py measures both against closed
forms: at rtol = atol = 1e-12 on y' = −a y + b sin t, within 1e-12 here and 1.5e-11 for LSODA).

The dynamics are user code: ``system.values(y, t, p)`` is called with arrays of the library (y and p as the rule
received them, t a 0-d array), as the NumPy forward calls it with NumPy arrays. The derivatives (the adjoint and
sensitivity systems of chainrule/rules/scipy_integrate.py) are integrated by this same forward.

Failures are errors, as for the NumPy forward: the step size falling below rounding of t (a blow-up, nan from f, a
very stiff problem), or more than MAX_STEPS steps between two requested times.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from ...errors import DomainError, ShapeError
from .registry import portable

MAX_STEPS = 100_000  # per interval between requested times (SciPy's LSODA takes 500 of its own, higher-order steps)

# The Dormand–Prince tableau: nodes c, stage coefficients a, the 5th-order weights b (the last stage, at t + h, is
# f of the new solution: first same as last) and the error weights e = b − b̂ (b̂ the embedded 4th-order weights).
_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
_B = _A[6] + (0.0,)
_E = (71 / 57600, 0.0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40)


def _combination(weights, ks):
    """Σ wᵢ kᵢ over the nonzero weights."""
    out = None
    for w, k in zip(weights, ks, strict=False):
        if w:
            out = w * k if out is None else out + w * k
    return out


@portable("odeint")
def odeint(backend: Any, y0: Any, t: Any, p: Any, system: Any = None, rtol: float = 1.4e-8,
           atol: float = 1.4e-8) -> Any:
    """The solution of dy/dt = f(y, t, p) at the times t, shape (len(t), len(y0)), in the library of y0."""
    xp = backend.xp
    y0, t, p = backend._floats(y0, t, p)
    out_dtype = xp.result_type(y0.dtype, t.dtype, p.dtype, xp.float32)
    where = y0.device  # (the standard's attribute: backends is not imported here, it imports this package)
    count, size = t.shape[0], y0.shape[0]
    if size == 0:
        return xp.zeros((count, 0), dtype=out_dtype, device=where)
    y = xp.astype(y0, xp.float64)
    p = xp.astype(p, xp.float64)
    times = [float(v) for v in xp.unstack(xp.astype(t, xp.float64))]  # (the step control runs on the host)
    steps = [b - a for a, b in itertools.pairwise(times)]
    if any(s < 0 for s in steps) and any(s > 0 for s in steps):
        raise ValueError("integrate.odeint: the values in t must be monotonically increasing or monotonically "
                         f"decreasing (repeated values are allowed); got {times}")

    def rate(state, time: float):
        value = system.values(state, xp.asarray(time, dtype=xp.float64, device=where), p)
        if not hasattr(value, "shape") or not hasattr(value, "dtype"):
            value = np.asarray(value)
        if isinstance(value, np.ndarray | np.generic):  # (None or objects: refused here, not by the library)
            if value.dtype.kind not in "biuf":
                raise TypeError(f"integrate.odeint: func(y, t) returned {value.dtype} values; expected real "
                                f"numbers, an array of the shape of y0 ({size},)")
            value = backend.asarray(np.asarray(value), state)
        if not xp.isdtype(value.dtype, ("bool", "integral", "real floating")):
            raise TypeError(f"integrate.odeint: func(y, t) returned {value.dtype} values; expected real numbers, an "
                            f"array of the shape of y0 ({size},)")
        if int(np.prod(tuple(value.shape))) != size:
            raise ShapeError(f"integrate.odeint: func(y, t) returned shape {tuple(value.shape)} for y of shape "
                             f"({size},); expected dy/dt of the shape of y0 ({size},)")
        return xp.astype(xp.reshape(value, (size,)), xp.float64)

    def norm(v, scale) -> float:
        return float(xp.sqrt(xp.mean((v / scale) ** 2)))

    out = [y]
    now = times[0]
    slope = rate(y, now)
    h = _first_step(y, slope, now, times, rate, norm, rtol, atol)
    eps = float(np.finfo(np.float64).eps)
    for target in times[1:]:
        taken = 0
        while now != target:
            direction = 1.0 if target > now else -1.0
            h = direction * abs(h)
            last = abs(h) >= abs(target - now)
            step = target - now if last else h
            ks = [slope]
            for i in range(1, 6):
                ks.append(rate(y + step * _combination(_A[i], ks), now + _C[i] * step))
            new = y + step * _combination(_B, ks)
            ks.append(rate(new, target if last else now + step))
            scale = atol + rtol * xp.maximum(xp.abs(y), xp.abs(new))
            error = norm(step * _combination(_E, ks), scale)
            if error <= 1.0:  # accepted (nan is not)
                now = target if last else now + step
                y, slope = new, ks[6]
                grow = 5.0 if error == 0 else min(5.0, max(0.2, 0.9 * error ** -0.2))
                h = step * grow if not last or abs(step * grow) > abs(h) else h
            else:
                h = step * (max(0.2, 0.9 * error ** -0.2) if error == error else 0.2)  # (nan: shrink)
            taken += 1
            if abs(h) <= 16 * eps * max(abs(now), abs(target), 1e-300) or taken > MAX_STEPS:
                raise DomainError(
                    f"integrate.odeint: the solver failed near t = {now:.6g} (" + (
                        f"more than {MAX_STEPS} steps" if taken > MAX_STEPS else "the step size fell below the "
                        "rounding of t") + "); the solution may blow up there (a finite-time singularity), the "
                    "problem may be too stiff, or func may return nan; check func, or integrate over a shorter span")
        out.append(y)
    return xp.astype(xp.stack(out, axis=0), out_dtype)


def _first_step(y, slope, now, times, rate, norm, rtol, atol) -> float:
    """Hairer's starting step: h₀ from the sizes of y and f, then from the change of f over one Euler step of h₀."""
    span = max((abs(b - now) for b in times[1:]), default=0.0)
    if span == 0:
        return 1.0
    direction = 1.0 if next(b for b in times[1:] if b != now) > now else -1.0
    scale = atol + rtol * abs(y)
    d0, d1 = norm(y, scale), norm(slope, scale)
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 or not (d0 == d0 and d1 == d1) else 0.01 * d0 / d1
    h0 = min(h0, span)
    change = norm(rate(y + direction * h0 * slope, now + direction * h0) - slope, scale) / h0
    big = max(d1, change)
    h1 = max(1e-6, h0 * 1e-3) if not big > 1e-15 else (0.01 / big) ** 0.2
    return direction * min(100 * h0, h1, span)
