"""RAdam (Liu et al., 2020: Adam with a rectified adaptive rate), as ``torch.optim.RAdam``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..tensor import Tensor
from .adam import _check_betas
from .optimizer import Optimizer, _non_negative, lerped, torch_flags


class RAdam(Optimizer):
    """RAdam, as ``torch.optim.RAdam``. At step t, with g ← g + weight_decay·θ (or, with
    ``decoupled_weight_decay``, θ ← θ(1 − lr·weight_decay) as AdamW):

    m ← β₁m + (1 − β₁)g,  v ← β₂v + (1 − β₂)g²,  m̂ = m/(1 − β₁ᵗ),  ρ∞ = 2/(1 − β₂) − 1,
    ρₜ = ρ∞ − 2tβ₂ᵗ/(1 − β₂ᵗ); while ρₜ ≤ 5, θ ← θ − lr·m̂ (momentum alone); then
    θ ← θ − lr·m̂·√(1 − β₂ᵗ)/(√v + eps)·r with r = √((ρₜ − 4)(ρₜ − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρₜ)).
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False) -> None:
        flags = torch_flags(maximize, foreach, capturable, differentiable,
                            names=("maximize", "foreach", "capturable", "differentiable"))
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                                  "decoupled_weight_decay": decoupled_weight_decay, **flags})

    def _check(self, group: dict[str, Any]) -> None:
        super()._check(group)
        _check_betas(group["betas"], "RAdam")
        _non_negative(group["eps"], "eps", "RAdam")
        _non_negative(group["weight_decay"], "weight_decay", "RAdam")

    def update(self, param: Any, grad: Any, state: dict[str, Any], group: dict[str, Any], xp: Any) -> Any:
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(param)
            state["exp_avg_sq"] = xp.zeros_like(param)
        state["step"] += 1
        step = state["step"]
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                param = param * (1 - lr * weight_decay)
            else:
                grad = grad + weight_decay * param
        exp_avg = state["exp_avg"] = lerped(state["exp_avg"], grad, 1 - beta1)
        exp_avg_sq = state["exp_avg_sq"] = state["exp_avg_sq"] * beta2 + (1 - beta2) * grad * grad
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        corrected = exp_avg / bias_correction1
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
        if rho_t <= 5.0:  # too few steps for a trustworthy variance: momentum only
            return param - corrected * lr
        rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
        adaptive = bias_correction2**0.5 / (xp.sqrt(exp_avg_sq) + eps)
        return param - corrected * lr * adaptive * rect
