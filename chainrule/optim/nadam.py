"""NAdam (Dozat, 2016: Adam with Nesterov momentum), with the update formula of ``torch.optim.NAdam``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..tensor import Tensor
from .adam import _check_betas
from .optimizer import Optimizer, _non_negative, lerped, torch_flags


class NAdam(Optimizer):
    """NAdam, as ``torch.optim.NAdam``. At step t, with g ← g + weight_decay·θ (or, with
    ``decoupled_weight_decay``, θ ← θ(1 − lr·weight_decay) as AdamW):

    μₜ = β₁(1 − ½·0.96^(t·ψ)) (ψ: ``momentum_decay``), Πₜ = μ₁⋯μₜ,  m ← β₁m + (1 − β₁)g,  v ← β₂v + (1 − β₂)g²,
    d = √(v/(1 − β₂ᵗ)) + eps,  θ ← θ − lr(1 − μₜ)/(1 − Πₜ)·g/d − lr·μₜ₊₁/(1 − Πₜμₜ₊₁)·m/d.

    Πₜ (``state["mu_product"]``) is rounded to float32 after each product, as torch keeps it in a tensor of its
    default dtype (float32), so the steps agree with torch's to the last bits.
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 momentum_decay: float = 4e-3, decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False) -> None:
        flags = torch_flags(maximize, foreach, capturable, differentiable,
                            names=("maximize", "foreach", "capturable", "differentiable"))
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                                  "momentum_decay": momentum_decay,
                                  "decoupled_weight_decay": decoupled_weight_decay, **flags})

    def _check(self, group: dict[str, Any]) -> None:
        super()._check(group)
        _check_betas(group["betas"], "NAdam")
        for name in ("eps", "weight_decay", "momentum_decay"):
            _non_negative(group[name], name, "NAdam")

    def update(self, param: Any, grad: Any, state: dict[str, Any], group: dict[str, Any], xp: Any) -> Any:
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["mu_product"] = 1.0
            state["exp_avg"] = xp.zeros_like(param)
            state["exp_avg_sq"] = xp.zeros_like(param)
        state["step"] += 1
        step = state["step"]
        bias_correction2 = 1 - beta2**step
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                param = param * (1 - lr * weight_decay)
            else:
                grad = grad + weight_decay * param
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * group["momentum_decay"]))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * group["momentum_decay"]))
        mu_product = state["mu_product"] = float(np.float32(state["mu_product"]) * np.float32(mu))
        exp_avg = state["exp_avg"] = lerped(state["exp_avg"], grad, 1 - beta1)
        exp_avg_sq = state["exp_avg_sq"] = state["exp_avg_sq"] * beta2 + (1 - beta2) * grad * grad
        denom = xp.sqrt(exp_avg_sq / bias_correction2) + eps
        param = param + (-lr * (1.0 - mu) / (1.0 - mu_product)) * grad / denom
        return param + ((-lr * mu_next) / (1.0 - mu_product * mu_next)) * exp_avg / denom
