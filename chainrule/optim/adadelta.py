"""Adadelta (Zeiler, 2012), with the update formula of ``torch.optim.Adadelta``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import DomainError
from ..tensor import Tensor
from .optimizer import Optimizer, _non_negative, torch_flags


class Adadelta(Optimizer):
    """Adadelta, as ``torch.optim.Adadelta``. With g ← g + weight_decay·θ:

    v ← ρv + (1 − ρ)g²,  Δ = √(u + eps) / √(v + eps) · g,  u ← ρu + (1 − ρ)Δ²,  θ ← θ − lr·Δ.

    >>> import chainrule as cr
    >>> w = cr.nn.Parameter([1.0, -2.0])
    >>> (w * w).sum().backward()
    >>> cr.optim.Adadelta([w], lr=1.0).step()
    >>> [round(v, 6) for v in w.numpy().tolist()]
    [0.996838, -1.996838]
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 1.0, rho: float = 0.9,
                 eps: float = 1e-6, weight_decay: float = 0.0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False, differentiable: bool = False) -> None:
        flags = torch_flags(maximize, foreach, capturable, differentiable,
                            names=("maximize", "foreach", "capturable", "differentiable"))
        super().__init__(params, {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay, **flags})

    def _check(self, group: dict[str, Any]) -> None:
        super()._check(group)
        _non_negative(group["eps"], "eps", "Adadelta")
        _non_negative(group["weight_decay"], "weight_decay", "Adadelta")
        rho = group["rho"]
        if isinstance(rho, bool) or not isinstance(rho, int | float) or not 0 <= rho <= 1:
            raise DomainError(f"Adadelta: rho must be in [0, 1], got {rho!r}")

    def update(self, param: Any, grad: Any, state: dict[str, Any], group: dict[str, Any], xp: Any) -> Any:
        lr, rho, eps, weight_decay = group["lr"], group["rho"], group["eps"], group["weight_decay"]
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(param)
            state["acc_delta"] = xp.zeros_like(param)
        state["step"] += 1
        if weight_decay != 0:
            grad = grad + weight_decay * param
        square_avg = state["square_avg"] = state["square_avg"] * rho + (1 - rho) * grad * grad
        delta = xp.sqrt(state["acc_delta"] + eps) / xp.sqrt(square_avg + eps) * grad
        state["acc_delta"] = state["acc_delta"] * rho + (1 - rho) * delta * delta
        return param - lr * delta
