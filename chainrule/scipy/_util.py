"""What the functions of ``chainrule.scipy`` share: dispatch between SciPy (no Tensor) and the rules (Tensors)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import ops
from ..errors import ChainruleError, DomainError
from ..rules import scipy_special  # noqa: F401 - registers the special functions
from ..rules.registry import lookup
from ..tensor import Tensor


def any_tensor(*xs: Any) -> bool:
    return ops.holds_tensor(xs)


def operand(x: Any, name: str, function: str, *, weak: bool = False, complex_ok: bool = False) -> Any:
    """``x`` as a Tensor or a real array (complex too with ``complex_ok``), or a clear TypeError naming the function
    and the argument. With ``weak``, a Python number stays one (NumPy's weak scalar: next to float32 it keeps
    float32, as loc=0.0 should)."""
    if isinstance(x, Tensor):
        return x
    if weak and isinstance(x, int | float) and not isinstance(x, bool):
        return x
    if isinstance(x, list | tuple) and ops.holds_tensor(x):
        return ops.stack_nested(x)
    try:
        array = np.asarray(x)
    except Exception:  # an object NumPy cannot read
        array = np.asarray(None)
    if array.dtype.kind not in ("biufc" if complex_ok else "biuf"):
        what = "a real or complex number" if complex_ok else "a real number"
        extra = ("" if complex_ok or array.dtype.kind != "c" else
                 "; complex input is taken only where SciPy's function is holomorphic (README, \"Complex numbers\")")
        raise TypeError(
            f"{function}: `{name}` must be a Tensor, a NumPy array or {what}, not "
            f"{type(x).__name__} (dtype {array.dtype}){extra}"
        )
    return array


def apply(name: str, *xs: Any, **params: Any) -> Tensor:
    """The rule ``name`` applied to ``xs`` (a Tensor comes back)."""
    return ops.apply(lookup(name), xs, params)


def constant(x: Any, name: str, function: str) -> Any:
    """A parameter no gradient flows into (an order, a shape parameter): its array, or an error if it needs one."""
    if isinstance(x, Tensor):
        if x.requires_grad:
            raise TypeError(
                f"{function}: no gradient flows into `{name}` (as in SciPy and HIPS autograd, it is a "
                "parameter); pass it detached (x.detach()) or as an array"
            )
        x = x.data
    return operand(x, name, function)


def raw(x: Any) -> np.ndarray:
    """The values of ``x`` for checks (never differentiated)."""
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def check_positive(x: Any, name: str, function: str) -> None:
    values = raw(x)
    if np.any(~(values > 0)):
        bad = float(values.ravel()[np.argmin(values.ravel() > 0)])
        raise DomainError(f"{function}: `{name}` must be positive; got {bad!r} among its values")


def scipy_name(module: str, holder: str | None = None, label: str | None = None) -> Callable[[Callable], Callable]:
    """``function`` under SciPy's name: with no Tensor among the arguments it is ``scipy.<module>.<name>`` itself
    (``scipy.<module>.<holder>.<name>`` for a method of an object such as ``stats.gamma``); with one, errors SciPy or
    NumPy raise come back naming the function (``<label>.<name>``, by default ``scipy.<module>``)."""
    prefix = label or f"scipy.{module}"

    def decorate(function: Callable) -> Callable:
        name = function.__name__

        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            if not ops.holds_tensor(args) and not ops.holds_tensor(kwargs.values()):
                import importlib

                target = importlib.import_module(f"scipy.{module}")
                return getattr(getattr(target, holder) if holder else target, name)(*args, **kwargs)
            try:
                return function(*args, **kwargs)
            except ChainruleError:
                raise
            except ValueError as exc:
                raise DomainError(f"{prefix}.{name}: {exc}") from None

        return wrapper

    return decorate


def scipy_fallback(module: str, package: str) -> Callable[[str], Any]:
    """A module ``__getattr__``: SciPy's other functions of ``scipy.<module>``, without gradients (a Tensor that
    needs one is refused by its conversion to an array, with chainrule's message), as HIPS autograd wraps them."""

    def __getattr__(name: str) -> Any:
        import importlib

        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return getattr(importlib.import_module(f"scipy.{module}"), name)
        except AttributeError:
            raise AttributeError(f"module {package!r} has no attribute {name!r} (nor has scipy.{module})") from None

    return __getattr__
