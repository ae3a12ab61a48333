"""Averaged SGD (Polyak & Juditsky, 1992), with the update formula of ``torch.optim.ASGD``."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..errors import DomainError
from ..tensor import Tensor
from .optimizer import Optimizer, _non_negative, torch_flags


def _float32(value: float) -> float:
    """A number as torch keeps it in a tensor of its default dtype (float32): ASGD's eta and mu."""
    return float(np.float32(value))


class ASGD(Optimizer):
    """Averaged SGD, as ``torch.optim.ASGD``. At step t, with g ← g + weight_decay·θ:

    θ ← θ(1 − λη) − ηg;  the average ā ← ā + μ(θ − ā) (ā = θ while μ = 1);
    then η ← lr/(1 + λ·lr·t)^α and μ ← 1/max(1, t − t0). ``state["ax"]`` holds the average ā; the parameters
    themselves follow the plain iterates, as in torch (copy ā into them to evaluate the averaged model).
    η and μ are rounded to float32, as torch keeps them in tensors of its default dtype.
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 1e-2, lambd: float = 1e-4,
                 alpha: float = 0.75, t0: float = 1e6, weight_decay: float = 0.0, foreach: bool | None = None,
                 maximize: bool = False, differentiable: bool = False, capturable: bool = False) -> None:
        flags = torch_flags(maximize, foreach, capturable, differentiable,
                            names=("maximize", "foreach", "capturable", "differentiable"))
        super().__init__(params, {"lr": lr, "lambd": lambd, "alpha": alpha, "t0": t0,
                                  "weight_decay": weight_decay, **flags})

    def _check(self, group: dict[str, Any]) -> None:
        super()._check(group)
        _non_negative(group["weight_decay"], "weight_decay", "ASGD")
        for name in ("lambd", "alpha", "t0"):  # torch checks none of them; a string would fail deep in step()
            value = group[name]
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
                raise DomainError(f"ASGD: {name} must be a number, got {value!r}")

    def update(self, param: Any, grad: Any, state: dict[str, Any], group: dict[str, Any], xp: Any) -> Any:
        lr, lambd = group["lr"], group["lambd"]
        if not state:
            state["step"] = 0
            state["eta"] = _float32(lr)
            state["mu"] = 1.0
            state["ax"] = xp.zeros_like(param)
        state["step"] += 1
        step = state["step"]
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * param
        eta = state["eta"]
        param = param * (1 - lambd * eta)
        param = param - eta * grad
        if state["mu"] != 1:
            state["ax"] = state["ax"] + (param - state["ax"]) * state["mu"]
        else:
            state["ax"] = xp.asarray(param, copy=True)
        state["eta"] = _float32(lr / ((1 + lambd * lr * step) ** group["alpha"]))
        state["mu"] = _float32(1 / max(1, step - group["t0"]))
        return param
