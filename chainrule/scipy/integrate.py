"""``chainrule.scipy.integrate``: ``odeint(func, y0, t, args=())``, differentiable in ``y0``, ``t`` and ``args``.

A rule of ``chainrule/rules/scipy_integrate.py``: SciPy's solver forward; reverse mode by the adjoint method and
forward mode by the sensitivity equations, both solved by the same rule, with the vjp and jvp of ``func`` found by
chainrule's transforms (so ``func`` is written with chainrule functions, e.g. ``chainrule.numpy``). Gradients of
gradients work too (each order integrates a larger system).

>>> import numpy as np, chainrule as cr
>>> from chainrule.scipy.integrate import odeint
>>> decay = lambda y, t, k: -k * y                    # y(t) = y0 e^(−k t)
>>> g = cr.grad(lambda k: odeint(decay, np.array([1.0]), np.array([0.0, 2.0]), (k,))[1, 0])(0.5)
>>> round(float(g), 6)  # −2 e^(−1)
-0.735759
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import numpy as cnp
from .. import ops
from .. import transforms as cr_transforms
from ..engine import backends
from ..engine import mode as grad_mode
from ..errors import DomainError, ShapeError
from ..rules import scipy_integrate  # noqa: F401 - registers odeint
from ..tensor import Tensor, as_tensor
from ._util import apply, operand

__all__ = ["odeint"]


class _System:
    """Dynamics f(y, t, p) for the odeint rule, with their vjp and jvp by chainrule's transforms."""

    concatenate = staticmethod(cnp.concatenate)
    reshape = staticmethod(cnp.reshape)

    def __init__(self, function: Callable) -> None:
        self.function = function

    def f(self, y, t, p):
        if not any(isinstance(v, Tensor) for v in (y, t, p)) and any(backends.is_foreign(v) for v in (y, t, p)):
            # Arrays of another library (the derivatives on plain arrays): chainrule.numpy's functions would take
            # them for NumPy's, so func sees constant Tensors of them, and its result's array comes back.
            with grad_mode.no_grad():
                out = self.function(*(v if isinstance(v, int | float) else as_tensor(v) for v in (y, t, p)))
            return out.detach().data if isinstance(out, Tensor) else out
        return self.function(y, t, p)

    def values(self, y, t, p) -> Any:
        """f on arrays, as the solver calls it: a plain array (of y's library: the portable solver's arrays stay on
        their device), whatever graph is being recorded around the solve."""
        with grad_mode.no_grad():
            out = self.f(y, t, p)
        out = out.detach().data if isinstance(out, Tensor) else out
        return out if backends.is_foreign(out) else np.asarray(out)

    def vjp(self, y, t, p, v):
        _, pullback = cr_transforms.vjp(self.function, y, t, p)
        return pullback(v)

    def jvp(self, y, t, p, dy, dt, dp):
        return cr_transforms.jvp(self.function, (y, t, p), (dy, dt, dp))[1]

    def derive(self, function: Callable) -> _System:
        return _System(function)


def odeint(
    func: Callable, y0: Any, t: Any, args: tuple = (), rtol: float = 1.4e-8, atol: float = 1.4e-8, **unsupported: Any
) -> Any:
    """The solution of dy/dt = func(y, t, *args) at the times ``t`` (shape (len(t), len(y0))), as SciPy's odeint.

    Differentiable in ``y0``, ``t`` and every array of ``args``; ``func`` must be written with chainrule functions
    (``chainrule.numpy``...) so that its derivatives can be taken.
    """
    where = "integrate.odeint"
    if unsupported:
        raise TypeError(
            f"{where}: the argument {next(iter(unsupported))!r} is not supported; the ones taken are "
            "func, y0, t, args, rtol and atol"
        )
    if not callable(func):
        raise TypeError(f"{where}: `func` must be a function func(y, t, *args); got {type(func).__name__}")
    args = tuple(args) if isinstance(args, tuple | list) else (args,)
    tensors = ops.holds_tensor((y0, t, *args))
    y0, t = operand(y0, "y0", where), operand(t, "t", where)
    if y0.ndim > 1 or t.ndim != 1 or t.shape[0] < 1:
        raise ShapeError(
            f"{where}: `y0` has shape {y0.shape} and `t` {t.shape}; expected a vector (or number) y0 "
            "and a non-empty vector of times t"
        )
    times = t.data if isinstance(t, Tensor) else t
    if backends.is_foreign(times):  # checked in its library, on its device
        finite = bool(backends.backend(times).xp.all(backends.backend(times).xp.isfinite(times)))
    else:
        finite = bool(np.all(np.isfinite(times)))
    if not finite:
        raise DomainError(f"{where}: `t` holds nan or inf; expected finite times")
    for name, value in (("rtol", rtol), ("atol", atol)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < np.inf:
            raise DomainError(f"{where}: `{name}` must be a finite number >= 0; got {value!r}")
    if rtol == 0 and atol == 0:  # (no step would ever pass; SciPy's LSODA calls it illegal input)
        raise DomainError(f"{where}: `rtol` and `atol` are both 0; expected at least one of them positive")
    y0 = ops.reshape(y0, (-1,)) if isinstance(y0, Tensor) else np.reshape(y0, (-1,)).astype(np.float64)
    arrays = [operand(a, f"args[{i}]", where) for i, a in enumerate(args)]
    shapes = [np.shape(a) for a in arrays]
    p = cnp.concatenate([cnp.reshape(a, (-1,)) for a in arrays]) if arrays else np.zeros(0)

    def dynamics(y, time, flat):
        parts, start = [], 0
        for shape in shapes:
            size = int(np.prod(shape))
            parts.append(cnp.reshape(flat[start : start + size], shape))
            start += size
        return func(y, time, *parts)

    out = apply(
        "odeint",
        y0,
        t if isinstance(t, Tensor) else t.astype(np.float64),
        p,
        system=_System(dynamics),
        rtol=rtol,
        atol=atol,
    )
    return out if tensors else np.asarray(out.data)
