"""NumPy's protocols on Tensor: ``np.sin(t)``, ``np.sum(t, axis=0)``, ``np.dot(t, t)`` run chainrule.numpy's function.

``Tensor.__array_ufunc__`` / ``__array_function__`` call :func:`array_ufunc` / :func:`array_function`. A NumPy function
that chainrule.numpy has gives a Tensor with its gradient; one that only inspects (``np.shape``) or has no gradient by
nature (``np.argmax``, ``np.isnan``) gives NumPy's answer; any other raises TypeError when a tensor that requires grad
is among its inputs (it would silently become a constant), and gives NumPy's answer on the values otherwise.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from ..tensor import Tensor

# Functions that read only shapes and dtypes, or whose result has no gradient by definition: NumPy's answer.
_NO_GRADIENT = {
    np.shape, np.ndim, np.size, np.result_type, np.iscomplexobj, np.isrealobj, np.can_cast, np.min_scalar_type,
    np.argmax, np.argmin, np.argsort, np.argwhere, np.nonzero, np.flatnonzero, np.count_nonzero, np.searchsorted,
    np.allclose, np.isclose, np.array_equal, np.array_equiv, np.all, np.any, np.array_repr, np.array_str,
    np.array2string, np.digitize, np.lexsort, np.argpartition, np.nanargmax, np.nanargmin, np.isin,
    np.iscomplex, np.isreal, np.isneginf, np.isposinf, np.zeros_like, np.ones_like, np.empty_like, np.fix,
    np.linalg.matrix_rank,
}
_NO_GRADIENT_UFUNCS = {np.isnan, np.isinf, np.isfinite, np.signbit, np.logical_and, np.logical_or, np.logical_xor,
                       np.logical_not, np.floor_divide}
_REDUCE = {np.add: "sum", np.multiply: "prod", np.maximum: "max", np.minimum: "min"}


def _plain(value: Any) -> Any:
    if isinstance(value, Tensor):
        return value._data  # not _array(): a graph may hold only a value's shape (NotSaved), which np.shape reads
    if isinstance(value, list | tuple):
        items = [_plain(v) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    return value


def _needs_grad(value: Any) -> bool:
    if isinstance(value, Tensor):
        return value.requires_grad
    if isinstance(value, list | tuple):
        return any(_needs_grad(v) for v in value)
    return False


def _numpy(func, args, kwargs):
    return func(*_plain(args), **{k: _plain(v) for k, v in kwargs.items()})


def _cnp():
    return importlib.import_module("chainrule.numpy")


def _refuse(name: str) -> TypeError:
    return TypeError(
        f"np.{name} has no derivative in chainrule, so it would turn a tensor that requires grad into a constant "
        f"(its gradient silently lost). Use a differentiable equivalent from chainrule.numpy (import chainrule.numpy "
        f"as cnp), define one with cr.primitive, or pass t.detach() if no gradient should flow"
    )


def array_ufunc(ufunc: np.ufunc, method: str, inputs: tuple, kwargs: dict) -> Any:
    """Tensor.__array_ufunc__: the ufunc through chainrule.numpy's function of the same name."""
    grad = _needs_grad(inputs) or _needs_grad(list(kwargs.values()))
    if ufunc in _NO_GRADIENT_UFUNCS or (not grad and (kwargs or method != "__call__")):
        if "out" in kwargs and any(isinstance(o, Tensor) for o in kwargs["out"]):
            raise TypeError(f"np.{ufunc.__name__}(..., out=tensor): tensors cannot be written in place; use the "
                            "result instead")
        return _numpy(getattr(ufunc, method), inputs, kwargs)
    if kwargs.get("out") is not None or set(kwargs) - {"out"}:
        raise TypeError(f"np.{ufunc.__name__}: the arguments {sorted(kwargs)} are not supported on a tensor that "
                        "requires grad (out= would write the result into a plain array, losing its gradient); call "
                        f"cnp.{ufunc.__name__} and use its result")
    cnp = _cnp()
    if method == "__call__":
        function = getattr(cnp, ufunc.__name__, None)
        if function is not None:
            return function(*inputs)
    elif method == "reduce" and ufunc in _REDUCE and len(inputs) == 1:
        return getattr(cnp, _REDUCE[ufunc])(inputs[0], axis=0)
    if not grad:
        return _numpy(getattr(ufunc, method), inputs, kwargs)
    raise _refuse(ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}")


def array_function(func: Any, types: tuple, args: tuple, kwargs: dict) -> Any:
    """Tensor.__array_function__: the NumPy function through chainrule.numpy's function of the same name."""
    if not all(issubclass(t, Tensor | np.ndarray) for t in types):
        return NotImplemented
    if func in _NO_GRADIENT:
        return _numpy(func, args, kwargs)
    function = handlers().get(func)
    if function is not None:
        return function(*args, **kwargs)
    if _needs_grad(args) or _needs_grad(list(kwargs.values())):
        module = getattr(func, "__module__", "") or ""
        prefix = "linalg." if "linalg" in module else "fft." if "fft" in module else ""
        raise _refuse(prefix + func.__name__)
    return _numpy(func, args, kwargs)


_HANDLERS: dict = {}


def handlers() -> dict:
    """NumPy function -> chainrule.numpy's function of the same name (np.linalg's and np.fft's too)."""
    if not _HANDLERS:
        cnp = _cnp()
        for name in cnp.__all__:
            numpy_function = getattr(np, name, None)
            if callable(numpy_function) and not isinstance(numpy_function, np.ufunc | type):
                _HANDLERS[numpy_function] = getattr(cnp, name)
        for submodule in ("linalg", "fft"):
            try:
                module = importlib.import_module(f"chainrule.numpy.{submodule}")
            except ModuleNotFoundError as exc:
                if exc.name != f"chainrule.numpy.{submodule}":
                    raise
            else:
                numpy_module = getattr(np, submodule)
                for name in getattr(module, "__all__", ()):
                    if hasattr(numpy_module, name):
                        _HANDLERS[getattr(numpy_module, name)] = getattr(module, name)
    return _HANDLERS
