"""Small helpers shared by chainrule.numpy's modules: operands as Tensors, refused arguments, axes checked."""

from __future__ import annotations

import numbers

import numpy as np

from .. import ops
from ..errors import ShapeError
from ..tensor import Tensor


def _t(x) -> Tensor:
    return x if isinstance(x, Tensor) else ops.as_tensor(ops._operand(x, "x", "chainrule.numpy"))


def _no_out(name: str, out=None, **unsupported) -> None:
    if out is not None:
        raise TypeError(f"cnp.{name}: out= is not supported (a tensor is never written in place); use the result")
    extra = [k for k, v in unsupported.items() if v is not None]
    if extra:
        raise TypeError(f"cnp.{name}: the argument {extra[0]!r} is not supported on tensors")


def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def _positions(axes, ndim, name: str):
    try:
        axes = [axes] if isinstance(axes, numbers.Integral) else list(axes)
    except TypeError:
        raise TypeError(f"cnp.{name}: an axis must be an int or a sequence of ints, not {axes!r}") from None
    out = []
    for axis in axes:
        if not isinstance(axis, numbers.Integral):
            raise TypeError(f"cnp.{name}: an axis must be an int, not {axis!r}")
        if not -ndim <= axis < ndim:
            raise ShapeError(f"cnp.{name}: axis {axis} is out of range for an array with {ndim} dimension(s)")
        out.append(int(axis) % ndim)
    return out


def _nan_free(a: Tensor, fill) -> Tensor:
    """``a`` with its NaNs replaced by the constant ``fill`` (they get no gradient); integers pass unchanged."""
    if a.dtype.kind not in "fc":
        return a
    nan = np.isnan(a._array())
    return ops.where(nan, np.asarray(fill, dtype=a.dtype), a) if nan.any() else a
