"""Gradient clipping, as ``torch.nn.utils``: ``clip_grad_norm_`` and ``clip_grad_value_`` change ``.grad`` in place.

>>> import chainrule as cr
>>> w = cr.nn.Parameter([3.0, 4.0])
>>> w.grad = cr.tensor([3.0, 4.0])
>>> round(cr.nn.utils.clip_grad_norm_([w], max_norm=1.0).item(), 6)
5.0
>>> [round(v, 4) for v in w.grad.tolist()]
[0.6, 0.8]
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from ...errors import DomainError, ShapeError
from ...tensor import Tensor


def _gradients(parameters: Tensor | Iterable[Tensor], where: str) -> list[Tensor]:
    """The tensors whose ``.grad`` is set (one Tensor or an iterable, e.g. ``model.parameters()``)."""
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{where}: parameter {i} is a {type(p).__name__}, not a Tensor")
    return [p for p in params if p.grad is not None]


def _replace(p: Tensor, new: np.ndarray) -> None:
    """Write ``new`` into ``p.grad`` in place, as PyTorch (other references to this .grad see it), through the
    tracked ``.data`` so a graph that saved the old values notices; a recorded or read-only gradient is replaced."""
    data = p.grad.data
    if p.grad.node is None and data.flags.writeable:
        data[...] = new
    else:
        p.grad = Tensor(new)


def _real(value: Any, name: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise DomainError(f"{where}: {name} must be a number, got {value!r}")
    return float(value)


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients together so their joint norm is at most ``max_norm``; return the norm before clipping.

    total = ‖(‖g₁‖, ‖g₂‖, …)‖_p (the p-norm of all gradients as one vector; p = inf: the largest |g|), and each g is
    multiplied by min(1, max_norm / (total + 1e-6)). A total that is nan or inf raises with ``error_if_nonfinite``,
    else the gradients become nan as in PyTorch. Parameters without a gradient are skipped; with none the norm is 0.
    """
    where = "clip_grad_norm_"
    max_norm = _real(max_norm, "max_norm", where)
    norm_type = _real(norm_type, "norm_type", where)
    if norm_type <= 0:
        raise DomainError(f"{where}: norm_type must be > 0 (or inf), got {norm_type!r}")
    params = _gradients(parameters, where)
    if not params:
        return Tensor(np.float32(0.0))
    total = _total_norm([p.grad for p in params], norm_type, error_if_nonfinite, where)
    _scale(params, max_norm, total)
    return Tensor(total)


def _total_norm(tensors: list[Tensor], norm_type: float, error_if_nonfinite: bool, where: str) -> np.generic:
    """‖(‖t₁‖_p, ‖t₂‖_p, …)‖_p in the tensors' common dtype."""
    dtype = np.result_type(*[t.dtype for t in tensors])
    arrays = [np.asarray(t.data, dtype=dtype) for t in tensors]
    if norm_type == math.inf:
        norms = [np.max(np.abs(g)) if g.size else dtype.type(0) for g in arrays]
        total = np.max(norms)
    else:
        norms = [np.sum(np.abs(g) ** norm_type) ** (1 / norm_type) if norm_type != 2 else np.sqrt(np.sum(g * g))
                 for g in arrays]
        total = np.sum(np.asarray(norms, dtype=dtype) ** norm_type) ** (1 / norm_type)
    total = dtype.type(total)
    if error_if_nonfinite and not np.isfinite(total):
        raise DomainError(f"{where}: the total norm of order {norm_type} of the gradients is {total}, so they "
                          "cannot be clipped; pass error_if_nonfinite=False to go on anyway")
    return total


def _scale(params: list[Tensor], max_norm: float, total: Any) -> None:
    """Multiply every .grad by min(1, max_norm / (total + 1e-6)), in place."""
    dtype = np.result_type(*[p.grad.dtype for p in params])
    factor = min(dtype.type(max_norm) / (dtype.type(total) + dtype.type(1e-6)), dtype.type(1.0))
    for p in params:
        with np.errstate(invalid="ignore"):  # inf·0 = nan, as in PyTorch
            _replace(p, p.grad.data.view(np.ndarray) * np.asarray(factor, dtype=p.grad.dtype))


def get_total_norm(tensors: Tensor | Iterable[Tensor], norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Tensor:
    """The norm of the tensors taken together, ‖(‖t₁‖_p, ‖t₂‖_p, …)‖_p, as PyTorch's (pass the gradients
    ``[p.grad for p in model.parameters()]`` to get what ``clip_grad_norm_`` clips by). ``foreach`` is accepted
    and ignored (there is one implementation). No tensors: 0."""
    where = "get_total_norm"
    norm_type = _real(norm_type, "norm_type", where)
    if norm_type <= 0:
        raise DomainError(f"{where}: norm_type must be > 0 (or inf), got {norm_type!r}")
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{where}: item {i} is a {type(t).__name__}, not a Tensor (a .grad that is None? "
                            "leave those out)")
    if not tensors:
        return Tensor(np.float32(0.0))
    return Tensor(_total_norm(tensors, norm_type, error_if_nonfinite, where))


def clip_grads_with_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float, total_norm: Any,
                          foreach: bool | None = None) -> None:
    """Multiply every gradient by min(1, max_norm / (total_norm + 1e-6)), in place, with a ``total_norm`` computed
    before (by ``get_total_norm``), as PyTorch's. Parameters without a gradient are skipped."""
    where = "clip_grads_with_norm_"
    max_norm = _real(max_norm, "max_norm", where)
    total = total_norm.data if isinstance(total_norm, Tensor) else total_norm
    if np.ndim(total) != 0:
        raise ShapeError(f"{where}: total_norm must be one number, got shape {np.shape(total)}")
    params = _gradients(parameters, where)
    if params:
        _scale(params, max_norm, np.asarray(total).item())


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clip every gradient element into [−clip_value, clip_value], in place."""
    where = "clip_grad_value_"
    clip_value = _real(clip_value, "clip_value", where)
    if clip_value < 0:
        raise DomainError(f"{where}: clip_value must be >= 0, got {clip_value!r}")
    for p in _gradients(parameters, where):
        grad = p.grad.data.view(np.ndarray)
        _replace(p, np.clip(grad, np.asarray(-clip_value, grad.dtype), np.asarray(clip_value, grad.dtype)))
