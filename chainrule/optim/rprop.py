"""Rprop (Riedmiller & Braun, 1993: resilient backpropagation), as ``torch.optim.Rprop``."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

from ..errors import DomainError
from ..tensor import Tensor
from .optimizer import Optimizer, torch_flags


class Rprop(Optimizer):
    """Rprop, as ``torch.optim.Rprop``: each element has its own step size s (starting at lr), and only the sign of
    its gradient counts. With the previous (kept) gradient p:

    g·p > 0: s ← min(s·η₊, s_max);  g·p < 0: s ← max(s·η₋, s_min) and g ← 0 (no move, no sign kept);  else s stays;
    θ ← θ − sign(g)·s,  p ← g.  (η₋, η₊) = ``etas``, (s_min, s_max) = ``step_sizes``.
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 1e-2,
                 etas: tuple[float, float] = (0.5, 1.2), step_sizes: tuple[float, float] = (1e-6, 50), *,
                 capturable: bool = False, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        flags = torch_flags(maximize, foreach, capturable, differentiable,
                            names=("maximize", "foreach", "capturable", "differentiable"))
        super().__init__(params, {"lr": lr, "etas": tuple(etas), "step_sizes": tuple(step_sizes), **flags})

    def _check(self, group: dict[str, Any]) -> None:
        super()._check(group)
        for name in ("etas", "step_sizes"):
            pair = group[name]
            if not isinstance(pair, tuple | list) or len(pair) != 2 or not all(
                    isinstance(v, numbers.Real) and not isinstance(v, bool) and not math.isnan(v) for v in pair):
                raise DomainError(f"Rprop: {name} must be a pair of numbers, got {pair!r}")
        minus, plus = group["etas"]
        if not 0.0 < minus < 1.0 < plus:
            raise DomainError(f"Rprop: etas must satisfy 0 < etas[0] < 1 < etas[1], got {tuple(group['etas'])}")

    def update(self, param: Any, grad: Any, state: dict[str, Any], group: dict[str, Any], xp: Any) -> Any:
        minus, plus = group["etas"]
        low, high = group["step_sizes"]
        if not state:
            state["step"] = 0
            state["prev"] = xp.zeros_like(param)
            state["step_size"] = xp.full_like(param, group["lr"])
        state["step"] += 1
        sign = xp.sign(grad * state["prev"])
        dtype = param.dtype
        factor = xp.where(sign > 0, xp.asarray(plus, dtype=dtype),
                          xp.where(sign < 0, xp.asarray(minus, dtype=dtype), xp.asarray(1.0, dtype=dtype)))
        step_size = state["step_size"] = xp.clip(state["step_size"] * factor, low, high)
        grad = xp.where(sign < 0, xp.zeros_like(grad), grad)  # a sign change: pause this element for a step
        state["prev"] = grad
        return param - xp.sign(grad) * step_size
