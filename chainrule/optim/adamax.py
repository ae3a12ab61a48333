"""Adamax (Kingma & Ba, 2015, section 7.1: Adam with the infinity norm), as ``torch.optim.Adamax``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..tensor import Tensor
from .adam import _check_betas
from .optimizer import Optimizer, _non_negative, lerped, torch_flags


class Adamax(Optimizer):
    """Adamax, as ``torch.optim.Adamax``. At step t, with g ← g + weight_decay·θ:

    m ← β₁m + (1 − β₁)g,  u ← max(β₂u, |g| + eps),  θ ← θ − lr/(1 − β₁ᵗ) · m/u.
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 foreach: bool | None = None, *, maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        flags = torch_flags(maximize, foreach, capturable, differentiable,
                            names=("maximize", "foreach", "capturable", "differentiable"))
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                                  **flags})

    def _check(self, group: dict[str, Any]) -> None:
        super()._check(group)
        _check_betas(group["betas"], "Adamax")
        _non_negative(group["eps"], "eps", "Adamax")
        _non_negative(group["weight_decay"], "weight_decay", "Adamax")

    def update(self, param: Any, grad: Any, state: dict[str, Any], group: dict[str, Any], xp: Any) -> Any:
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(param)
            state["exp_inf"] = xp.zeros_like(param)
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        exp_avg = state["exp_avg"] = lerped(state["exp_avg"], grad, 1 - beta1)
        exp_inf = state["exp_inf"] = xp.maximum(state["exp_inf"] * beta2, xp.abs(grad) + group["eps"])
        clr = group["lr"] / (1 - beta1 ** state["step"])
        return param + -clr * exp_avg / exp_inf  # addcdiv's order: (value·m)/u
