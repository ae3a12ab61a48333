"""Adagrad (Duchi, Hazan & Singer, 2011), with the update formula of ``torch.optim.Adagrad``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..tensor import Tensor
from .optimizer import Optimizer, _non_negative, torch_flags


class Adagrad(Optimizer):
    """Adagrad, as ``torch.optim.Adagrad``. At step t, with g ← g + weight_decay·θ:

    s ← s + g² (s starts at ``initial_accumulator_value``),  θ ← θ − lr/(1 + (t − 1)·lr_decay) · g / (√s + eps).

    >>> import chainrule as cr
    >>> w = cr.nn.Parameter([1.0, -2.0])
    >>> (w * w).sum().backward()
    >>> cr.optim.Adagrad([w], lr=0.5).step()
    >>> [round(v, 6) for v in w.numpy().tolist()]
    [0.5, -1.5]
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0, eps: float = 1e-10,
                 foreach: bool | None = None, *, maximize: bool = False, differentiable: bool = False,
                 fused: bool | None = None) -> None:
        flags = torch_flags(maximize, foreach, False, differentiable, fused,
                            names=("maximize", "foreach", "differentiable", "fused"))
        super().__init__(params, {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay,
                                  "initial_accumulator_value": initial_accumulator_value, "eps": eps, **flags})

    def _check(self, group: dict[str, Any]) -> None:
        super()._check(group)
        for name in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            _non_negative(group[name], name, "Adagrad")

    def update(self, param: Any, grad: Any, state: dict[str, Any], group: dict[str, Any], xp: Any) -> Any:
        if not state:
            state["step"] = 0
            state["sum"] = xp.full_like(param, group["initial_accumulator_value"])
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        total = state["sum"] = state["sum"] + grad * grad
        return param - clr * (grad / (xp.sqrt(total) + group["eps"]))
