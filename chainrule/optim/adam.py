"""Adam, AdamW (decoupled weight decay) and RMSprop, with the update formulas of PyTorch 2."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import DomainError
from ..tensor import Tensor
from .optimizer import Optimizer, _beta, _non_negative, lerped, torch_flags


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015), as ``torch.optim.Adam``. At step t, with g ← g + weight_decay·θ:

    m ← β₁m + (1 − β₁)g,  v ← β₂v + (1 − β₂)g²,  θ ← θ − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + eps).
    With ``amsgrad`` the running maximum of v is used in place of v.
    """

    decoupled = False

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                 amsgrad: bool = False, *, foreach: bool | None = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False) -> None:
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay,
                                  "amsgrad": amsgrad, **torch_flags(maximize, foreach, capturable, differentiable,
                                                                    fused)})
        if decoupled_weight_decay:  # torch's Adam(decoupled_weight_decay=True) is AdamW
            self.decoupled = True

    def _check(self, group: dict[str, Any]) -> None:
        super()._check(group)
        name = type(self).__name__
        _check_betas(group["betas"], name)
        _non_negative(group["eps"], "eps", name)
        _non_negative(group["weight_decay"], "weight_decay", name)

    def update(self, param: Any, grad: Any, state: dict[str, Any], group: dict[str, Any], xp: Any) -> Any:
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(param)
            state["exp_avg_sq"] = xp.zeros_like(param)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(param)
        state["step"] += 1
        step = state["step"]
        if weight_decay != 0:
            if self.decoupled:
                param = param * (1 - lr * weight_decay)  # AdamW: shrink the weights, apart from the gradient
            else:
                grad = grad + weight_decay * param
        exp_avg = state["exp_avg"] = lerped(state["exp_avg"], grad, 1 - beta1)
        second = state["exp_avg_sq"] = state["exp_avg_sq"] * beta2 + (1 - beta2) * grad * grad
        if group["amsgrad"]:
            second = state["max_exp_avg_sq"] = xp.maximum(state["max_exp_avg_sq"], second)
        denom = xp.sqrt(second) / (1 - beta2**step) ** 0.5 + eps
        return param - lr / (1 - beta1**step) * (exp_avg / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as ``torch.optim.AdamW``.

    Each step first shrinks θ ← θ·(1 − lr·weight_decay), then takes the Adam step on the plain gradient.
    The default weight_decay is 1e-2.
    """

    decoupled = True

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2,
                 amsgrad: bool = False, *, maximize: bool = False, foreach: bool | None = None,
                 capturable: bool = False, differentiable: bool = False, fused: bool | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused)


class RMSprop(Optimizer):
    """RMSprop (Hinton), as ``torch.optim.RMSprop``. With g ← g + weight_decay·θ:

    v ← αv + (1 − α)g²; centered: ḡ ← αḡ + (1 − α)g and v̂ = v − ḡ², else v̂ = v; a = √v̂ + eps;
    with momentum μ: b ← μb + g/a and θ ← θ − lr·b, else θ ← θ − lr·g/a.
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 capturable: bool = False, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        flags = torch_flags(maximize, foreach, capturable, differentiable,
                            names=("maximize", "foreach", "capturable", "differentiable"))
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay,
                                  "momentum": momentum, "centered": centered, **flags})

    def _check(self, group: dict[str, Any]) -> None:
        super()._check(group)
        for name in ("alpha", "eps", "weight_decay", "momentum"):
            _non_negative(group[name], name, "RMSprop")

    def update(self, param: Any, grad: Any, state: dict[str, Any], group: dict[str, Any], xp: Any) -> Any:
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        momentum, weight_decay = group["momentum"], group["weight_decay"]
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(param)
            if momentum > 0:
                state["momentum_buffer"] = xp.zeros_like(param)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(param)
        state["step"] += 1
        if weight_decay != 0:
            grad = grad + weight_decay * param
        square_avg = state["square_avg"] = state["square_avg"] * alpha + (1 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = state["grad_avg"] = lerped(state["grad_avg"], grad, 1 - alpha)
            avg = xp.sqrt(square_avg - grad_avg * grad_avg) + eps
        else:
            avg = xp.sqrt(square_avg) + eps
        if momentum > 0:
            buf = state["momentum_buffer"] = state["momentum_buffer"] * momentum + grad / avg
            return param - lr * buf
        return param - lr * (grad / avg)


def _check_betas(betas: Any, name: str) -> None:
    """betas = (β₁, β₂), each in [0, 1), as torch.optim's Adam family checks."""
    if not isinstance(betas, tuple | list) or len(betas) != 2:
        raise DomainError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
    _beta(betas[0], "betas[0]", name)
    _beta(betas[1], "betas[1]", name)
