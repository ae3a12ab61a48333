"""The Optimizer base class: parameter groups, per-parameter state, ``step()`` and ``zero_grad()``.

An optimizer changes each parameter's values in place (its ``.data`` array) with plain NumPy: no graph is recorded,
and a state_dict taken before a step sees the new values, as in PyTorch. Parameters whose ``.grad`` is None (not
reached by the last backward pass) are skipped.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..engine import backends, bump
from ..engine.backends import is_foreign
from ..errors import DomainError
from ..tensor import Tensor


class Optimizer:
    """Base class: subclasses set ``defaults`` and implement ``update(param, grad, state, group, xp)``.

    ``params`` is an iterable of Tensors (e.g. ``model.parameters()``) or of dicts ``{"params": [...], "lr": ...}``
    (parameter groups with their own settings). ``param_groups[i]["lr"]`` is what schedulers change.
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], defaults: dict[str, Any]) -> None:
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__} expects an iterable of tensors, e.g. model.parameters(), not a single Tensor"
            )
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[int, dict[str, Any]] = {}
        groups = list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list; pass model.parameters()")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        seen: set[int] = set()
        for group in groups:
            self.add_param_group(group, seen)

    def add_param_group(self, group: dict[str, Any], seen: set[int] | None = None) -> None:
        """Add a group of parameters with its own settings (missing settings take the defaults)."""
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{type(self).__name__}: a parameter group is a dict with a 'params' list, got {group!r}")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = seen if seen is not None else {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: parameter {i} is a {type(p).__name__}, not a Tensor")
            if not p.requires_grad or p.node is not None:
                raise ValueError(
                    f"{type(self).__name__}: parameter {i} (shape {p.shape}) must be a leaf tensor with "
                    "requires_grad=True, such as a cr.nn.Parameter"
                )
            if id(p) in seen:
                raise ValueError(f"{type(self).__name__}: parameter {i} (shape {p.shape}) appears more than once")
            seen.add(id(p))
        unknown = set(group) - set(self.defaults) - {"params", "initial_lr"}
        if unknown:
            raise TypeError(f"{type(self).__name__}: unknown setting(s) {sorted(unknown)} in a parameter group")
        full = {**self.defaults, **group, "params": params}
        self._check(full)
        self.param_groups.append(full)

    def _check(self, group: dict[str, Any]) -> None:
        """Validate a group's settings (subclasses extend this)."""
        _non_negative(group["lr"], "lr", type(self).__name__)
        _check_torch_flags(group, type(self).__name__)

    def _buffer_shape(self, key: str, shape: tuple[int, ...]) -> tuple[int, ...] | None:
        """The shape a saved buffer ``key`` must have for a parameter of ``shape`` (None: any); load_state_dict
        checks it. Buffers have the parameter's shape unless an optimizer says otherwise (Adafactor's factors)."""
        return shape

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient (``.grad = None``) before the next backward pass."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                else:
                    p.grad = Tensor(np.zeros_like(p._data))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient: a NumPy parameter in place, another library's parameter
        (``model.to(xp)``) with a new array of that library, on its device; ``update`` holds the formula once.
        ``closure`` (optional, as torch's): a function that recomputes the loss and gradients, called first; its
        loss is returned."""
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state.setdefault(id(p), {})
                in_place = _updates_in_place(type(self))
                if group.get("maximize"):  # torch negates the gradient first, before weight decay
                    p_grad = -p.grad._data
                else:
                    p_grad = p.grad._data
                if is_foreign(p._data):
                    if in_place:
                        raise NotImplementedError(
                            f"{type(self).__name__} updates NumPy arrays in place (update(param, grad, state, "
                            f"group)), so it cannot update parameters of {type(p._data).__module__}; write "
                            "update(param, grad, state, group, xp) returning the new values with xp's functions")
                    param, grad = p._data, p_grad
                    if tuple(grad.shape) != tuple(p.shape):
                        raise ValueError(f"{type(self).__name__}: a parameter of shape {p.shape} has a gradient of "
                                         f"shape {tuple(grad.shape)}")
                    p._data = self.update(param, grad, state, group, backends.backend(param).xp)
                    continue
                param = p._array()
                grad = p_grad
                if type(grad) is not np.ndarray or grad.dtype != param.dtype:
                    grad = np.asarray(grad, dtype=param.dtype)
                if grad.shape != param.shape:
                    raise ValueError(
                        f"{type(self).__name__}: a parameter of shape {p.shape} has a gradient of shape {grad.shape}"
                    )
                if param.dtype.kind == "c" and not in_place:
                    param[...] = _as_real_pairs(self.update, param, grad, state, group)
                elif in_place:
                    self.update(param, grad, state, group)
                else:
                    param[...] = self.update(param, grad, state, group, np)
                bump(param)  # a graph that saved the old values must not backpropagate through them now
        return loss

    def update(self, param: Any, grad: Any, state: dict[str, Any], group: dict[str, Any], xp: Any) -> Any:
        """The parameter's new values (a new array of ``xp``, the parameter's array library); the state's buffers
        are replaced by new arrays, never written in place (some libraries have no in-place writes)."""
        raise NotImplementedError

    # -----------------------------------------------------------------------------------------------------------
    # State.
    # -----------------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The settings and buffers (momentum, moments...), with parameters numbered in order, as in PyTorch."""
        index = {}
        groups = []
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                index[id(p)] = len(index)
                ids.append(index[id(p)])
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
        state = {index[key]: {k: _copied(v) for k, v in s.items()} for key, s in self.state.items() if key in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore settings and buffers saved by ``state_dict`` from an optimizer over the same parameters.

        Everything is checked before anything changes: a wrong or crafted state dict raises ValueError (TypeError for
        a non-dict) and leaves the optimizer as it was.
        """
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict):
            raise TypeError(f"{name} expects the dict saved by state_dict(), got {type(state_dict).__name__}")
        groups = state_dict.get("param_groups")
        if not isinstance(groups, list) or len(groups) != len(self.param_groups):
            raise ValueError(f"{type(self).__name__}.load_state_dict: expected {len(self.param_groups)} "
                             "parameter group(s) as saved by state_dict()")
        params = [p for group in self.param_groups for p in group["params"]]
        _check_saved(name, groups, self.param_groups, state_dict.get("state", {}), params, self._buffer_shape)
        for saved, group in zip(groups, self.param_groups, strict=True):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{type(self).__name__}.load_state_dict: a saved group has {len(saved['params'])} "
                                 f"parameters, this optimizer's has {len(group['params'])}")
            for k, v in saved.items():
                if k != "params":  # a file gives lists back where the group held tuples (betas)
                    group[k] = tuple(v) if isinstance(group.get(k), tuple) and isinstance(v, list) else v
        self.state = {}
        for i, s in state_dict.get("state", {}).items():
            p = params[int(i)]
            self.state[id(p)] = {k: _restored(v, p) for k, v in s.items()}

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params")
        return "\n".join(lines) + "\n)"


def _as_real_pairs(update: Callable, param: np.ndarray, grad: np.ndarray, state: dict[str, Any],
                   group: dict[str, Any]) -> np.ndarray:
    """A complex parameter's step as torch.optim takes it: each element a pair of real ones (torch's view_as_real),
    so Adam's and RMSprop's second moments hold Re(g)² and Im(g)² apart. Its gradient there is ∂x + i∂y, the
    conjugate of chainrule's covector ∂x − i∂y (README, "Complex numbers"), so the step moves θ as torch's does,
    downhill. The buffers stay complex arrays of the parameter's shape (torch's state_dict holds them so)."""
    real = param.real.dtype

    def pairs(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a).reshape(-1).view(real)

    def back(a: Any) -> Any:
        return a.view(param.dtype).reshape(param.shape) if isinstance(a, np.ndarray) and a.dtype == real else a

    views = {k: pairs(v) if isinstance(v, np.ndarray) and v.dtype.kind == "c" else v for k, v in state.items()}
    new = update(pairs(param), pairs(np.conj(grad)), views, group, np)
    state.update({k: back(v) for k, v in views.items()})
    return back(np.asarray(new, dtype=real))


def _copied(value: Any) -> Any:
    """A buffer for state_dict: a copy in its own library and on its device (later steps must not change it)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if is_foreign(value):
        return backends.backend(value).xp.asarray(value, copy=True)
    return value


def _check_saved(name: str, groups: list, current: list[dict], state: Any, params: list[Tensor],
                 buffer_shape: Callable[[str, tuple[int, ...]], tuple[int, ...] | None]) -> None:
    """Refuse a saved optimizer state that would fail (or give nan) in the next step(): groups that are not dicts
    of numbers like this optimizer's, buffers of other parameters' shapes, indices out of range."""
    for i, (saved, group) in enumerate(zip(groups, current, strict=True)):
        if not isinstance(saved, dict) or not isinstance(saved.get("params"), list):
            raise ValueError(f"{name}: parameter group {i} is not a dict with a 'params' list")
        for k, v in saved.items():
            now = group.get(k)
            if k == "params" or now is None or isinstance(now, str):
                continue
            values = list(v) if isinstance(now, tuple) and isinstance(v, list | tuple) else [v]
            expected = len(now) if isinstance(now, tuple) else 1
            likes = list(now) if isinstance(now, tuple) else [now]  # a None inside (Adafactor's eps) takes None too
            if len(values) != expected or not all(
                    (x is None and like is None) or (isinstance(x, numbers.Real) and math.isfinite(x)
                                                      and isinstance(x, bool) == isinstance(like, bool))
                    for x, like in zip(values, likes, strict=False)):
                what = "a finite number" if expected == 1 else f"{expected} finite numbers"
                raise ValueError(f"{name}: group {i} has {k}={v!r:.60}; expected {what}, like this optimizer's "
                                 f"{now!r}")
    if not isinstance(state, dict):
        raise ValueError(f"{name}: 'state' is a {type(state).__name__}, not a dict from parameter index to buffers")
    for i, buffers in state.items():
        try:
            index = int(i)
        except (TypeError, ValueError):
            index = -1
        if not 0 <= index < len(params) or not isinstance(buffers, dict):
            raise ValueError(f"{name}: 'state' has an entry {i!r:.40} that is not a parameter index from 0 to "
                             f"{len(params) - 1} with a dict of buffers")
        for k, v in buffers.items():
            shape = getattr(v, "shape", None)
            expected_shape = buffer_shape(k, params[index].shape)
            if shape is not None and len(shape) > 0 and expected_shape is not None \
                    and tuple(shape) != expected_shape:
                raise ValueError(f"{name}: the buffer {k!r} of parameter {index} has shape {tuple(shape)}, but "
                                 f"expected {expected_shape} for a parameter of shape {params[index].shape}; was it "
                                 "saved for another model?")
            history = expected_shape is None and isinstance(v, list)  # LBFGS: lists of flat vectors
            if shape is None and not isinstance(v, numbers.Number) and not history:
                raise ValueError(f"{name}: the buffer {k!r} of parameter {index} is a {type(v).__name__}; expected "
                                 "an array or a number")


def _restored(value: Any, param: Tensor) -> Any:
    """A saved buffer as a fresh array of the parameter's dtype, in the parameter's library and on its device (the
    update computes with both); a Tensor from cr.load too; numbers unchanged. Loading is an explicit request, so a
    buffer saved elsewhere (a NumPy file for a GPU parameter) moves to the parameter here."""
    if isinstance(value, Tensor):
        value = value._data
    if not isinstance(value, np.ndarray) and not is_foreign(value):
        return value
    data = param._data
    if not is_foreign(data):
        host = backends.to_numpy(value) if is_foreign(value) else value
        return np.array(host, dtype=host.dtype if host.ndim == 0 else param.dtype)
    value = backends.move(value, backends.device(data))  # into the parameter's library, on its device
    return backends.backend(data).xp.asarray(value, dtype=value.dtype if value.ndim == 0 else data.dtype, copy=True)


def _non_negative(value: Any, name: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise DomainError(f"{where}: {name} must be a finite number >= 0, got {value!r}")
    return float(value)


_FLAGS = ("maximize", "foreach", "fused", "capturable", "differentiable")


def _check_torch_flags(group: dict[str, Any], where: str) -> None:
    """torch.optim's switches: ``maximize`` (ascend: the gradient is negated first) is honoured; ``foreach`` and
    ``fused`` choose torch's kernels, not the update, so any value is accepted and our one NumPy loop runs;
    ``capturable`` (CUDA-graph capture) and ``differentiable`` (autograd through the step) change what a step is,
    and chainrule has neither: True raises."""
    for name in _FLAGS:
        if name not in group:
            continue
        value = group[name]
        optional = name in ("foreach", "fused")
        if not (isinstance(value, bool) or (optional and value is None)):
            expected = "True, False or None" if optional else "True or False"
            raise TypeError(f"{where}: {name} must be {expected}, got {value!r}")
    if group.get("capturable"):
        raise DomainError(f"{where}: capturable=True (a step captured in a CUDA graph) is not supported: chainrule's "
                          "optimizers step on the host, with NumPy; leave capturable=False")
    if group.get("differentiable"):
        raise DomainError(f"{where}: differentiable=True (autograd through the optimizer step) is not supported: "
                          "the step writes .data outside the graph; write the update with chainrule ops inside the "
                          "function you differentiate (e.g. with cr.grad) instead")


def torch_flags(maximize: bool = False, foreach: bool | None = None, capturable: bool = False,
                differentiable: bool = False, fused: bool | None = None, *, names: tuple[str, ...] = _FLAGS
                ) -> dict[str, Any]:
    """The switches a torch.optim optimizer takes (``names``: those it has), as settings of its groups."""
    given = {"maximize": maximize, "foreach": foreach, "capturable": capturable, "differentiable": differentiable,
             "fused": fused}
    return {name: given[name] for name in names}


def _beta(value: Any, name: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise DomainError(f"{where}: {name} must be in [0, 1), got {value!r}")
    return float(value)


@functools.cache
def _updates_in_place(cls: type) -> bool:
    """Whether ``cls.update`` is the older form ``update(param, grad, state, group)`` that changes NumPy arrays in
    place (a user's optimizer may still be written so): it runs on NumPy parameters only."""
    return len(inspect.signature(cls.update).parameters) == 5  # self, param, grad, state, group


def lerped(start: Any, end: Any, weight: float) -> Any:
    """start + weight·(end − start) as a new array (any array library), rounded as PyTorch's ``lerp_`` (from the
    nearer end)."""
    if weight < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1 - weight)
