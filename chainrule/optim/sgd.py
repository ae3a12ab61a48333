"""Stochastic gradient descent with momentum, Nesterov momentum and L2 weight decay (PyTorch's SGD)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..engine import bump
from ..errors import DomainError
from ..tensor import Tensor
from .optimizer import Optimizer, _non_negative, torch_flags


class SGD(Optimizer):
    """θ ← θ − lr·d, with d built from the gradient g exactly as ``torch.optim.SGD`` does:

    g ← g + weight_decay·θ; with momentum μ: b ← g on the first step, else b ← μ·b + (1 − dampening)·g;
    d = g + μ·b with ``nesterov``, else d = b; without momentum d = g.

    >>> import chainrule as cr
    >>> w = cr.nn.Parameter([1.0, -2.0])
    >>> (w * w).sum().backward()
    >>> cr.optim.SGD([w], lr=0.1).step()
    >>> w.numpy().tolist()
    [0.8, -1.6]
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None, differentiable: bool = False,
                 fused: bool | None = None) -> None:
        flags = torch_flags(maximize, foreach, False, differentiable, fused,
                            names=("maximize", "foreach", "differentiable", "fused"))
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "weight_decay": weight_decay, "nesterov": nesterov, **flags})

    def _check(self, group: dict[str, Any]) -> None:
        super()._check(group)
        for name in ("momentum", "dampening", "weight_decay"):
            _non_negative(group[name], name, "SGD")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise DomainError(
                f"SGD: nesterov=True needs momentum > 0 and dampening = 0, got momentum={group['momentum']} and "
                f"dampening={group['dampening']}"
            )

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient, in place (plain SGD: p −= lr·g, one NumPy call each)."""
        if closure is not None:
            loss = closure()
            self.step()
            return loss
        params, updates, state = [], [], self.state  # the common case of small models, without the general loop's
        ndarray = np.ndarray  # detours
        for group in self.param_groups:
            if group["momentum"] or group["weight_decay"] or group.get("maximize") \
                    or type(self).update is not SGD.update:
                return super().step()  # nothing changed yet; a subclass's own update runs there
            lr = group["lr"]
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                param, grad = p._data, grad._data
                if type(param) is not ndarray or type(grad) is not ndarray or grad.shape != param.shape \
                        or grad.dtype != param.dtype or param.dtype.kind == "c":
                    return super().step()  # nothing changed yet: the general loop converts, reports or conjugates
                params.append(param)
                updates.append((param, grad, lr))
                if id(p) not in state:
                    state[id(p)] = {}
        for param, grad, lr in updates:
            param -= lr * grad
        if params:
            bump(*params)  # one write time for all
        return None

    def update(self, param: Any, grad: Any, state: dict[str, Any], group: dict[str, Any], xp: Any) -> Any:
        lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
        if weight_decay != 0:
            grad = grad + weight_decay * param
        if momentum != 0:
            buf = state.get("momentum_buffer")
            # the first buffer is a copy: the gradient's own array may be added to in place by a later backward
            buf = xp.asarray(grad, copy=True) if buf is None else buf * momentum + (1 - group["dampening"]) * grad
            state["momentum_buffer"] = buf
            grad = grad + momentum * buf if group["nesterov"] else buf
        return param - lr * grad
