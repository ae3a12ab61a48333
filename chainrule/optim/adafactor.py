"""Adafactor (Shazeer & Stern, 2018), with torch 2.13's semantics (``torch.optim.Adafactor``): factored second
moments for matrices, a relative step size, update clipping; lr caps the relative step and scales weight decay."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..errors import DomainError
from ..tensor import Tensor
from .optimizer import Optimizer, _non_negative, lerped, torch_flags


class Adafactor(Optimizer):
    """Adafactor, as ``torch.optim.Adafactor``. At step t, with β̂ₜ = 1 − t^τ (τ = ``beta2_decay``),
    ρₜ = min(lr, 1/√t) and αₜ = max(eps2, RMS(θ))·ρₜ:

    θ ← θ(1 − lr·weight_decay); a gradient G with two or more dimensions keeps row and column means of G² over
    its last two (R ← lerp(R, mean_last(G²), 1 − β̂ₜ), C likewise), and V̂ = R·C / max(mean(R), eps1);
    a vector keeps V̂ ← lerp(V̂, G², 1 − β̂ₜ). U = G / max(√V̂, eps1),  θ ← θ − αₜ·U / max(1, RMS(U)/d).
    ``eps = (eps1, eps2)``; eps1 None is the machine epsilon of the parameter's dtype. Real parameters only.
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 1e-2, beta2_decay: float = -0.8,
                 eps: tuple[float | None, float] = (None, 1e-3), d: float = 1.0, weight_decay: float = 0.0, *,
                 foreach: bool | None = None, maximize: bool = False) -> None:
        flags = torch_flags(maximize, foreach, names=("maximize", "foreach"))
        super().__init__(params, {"lr": lr, "beta2_decay": beta2_decay, "eps": tuple(eps), "d": d,
                                  "weight_decay": weight_decay, **flags})

    def _check(self, group: dict[str, Any]) -> None:
        super()._check(group)
        _non_negative(group["weight_decay"], "weight_decay", "Adafactor")
        beta2_decay, eps, d = group["beta2_decay"], group["eps"], group["d"]
        if isinstance(beta2_decay, bool) or not isinstance(beta2_decay, numbers.Real) or not beta2_decay <= 0:
            raise DomainError(f"Adafactor: beta2_decay must be a number <= 0, got {beta2_decay!r}")
        if not isinstance(eps, tuple | list) or len(eps) != 2:
            raise DomainError(f"Adafactor: eps must be a pair (eps1 or None, eps2), got {eps!r}")
        if eps[0] is not None:
            _non_negative(eps[0], "eps[0] (epsilon1)", "Adafactor")
        _non_negative(eps[1], "eps[1] (epsilon2)", "Adafactor")
        if isinstance(d, bool) or not isinstance(d, numbers.Real) or not 1 <= d < math.inf:
            raise DomainError(f"Adafactor: the clipping threshold d must be a finite number >= 1, got {d!r}")
        for i, p in enumerate(group["params"]):
            if np.dtype(p.dtype).kind == "c":
                raise TypeError(f"Adafactor: parameter {i} (shape {p.shape}) is complex; Adafactor takes real "
                                "parameters only (as torch's)")

    def _buffer_shape(self, key: str, shape: tuple[int, ...]) -> tuple[int, ...] | None:
        if key == "row_var":
            return (*shape[:-1], 1)
        if key == "col_var":
            return (*shape[:-2], 1, shape[-1])
        return shape

    def update(self, param: Any, grad: Any, state: dict[str, Any], group: dict[str, Any], xp: Any) -> Any:
        lr, (eps1, eps2) = group["lr"], group["eps"]
        if eps1 is None:
            eps1 = float(np.finfo(np.dtype(str(param.dtype).rsplit(".", 1)[-1])).eps)
        factored = grad.ndim > 1
        if not state:
            state["step"] = 0
            if factored:
                state["row_var"] = xp.zeros((*grad.shape[:-1], 1), dtype=grad.dtype)
                state["col_var"] = xp.zeros((*grad.shape[:-2], 1, grad.shape[-1]), dtype=grad.dtype)
            else:
                state["variance"] = xp.zeros_like(grad)
        state["step"] += 1
        step = float(state["step"])
        one_minus_beta2 = step ** group["beta2_decay"]
        rho = min(lr, 1 / step**0.5)
        alpha = max(eps2, _norm(param, xp) / math.prod(param.shape) ** 0.5) * rho
        if group["weight_decay"] != 0:
            param = param * (1 - lr * group["weight_decay"])
        square = grad * grad
        if factored:
            row_var = state["row_var"] = lerped(state["row_var"], xp.mean(square, axis=-1, keepdims=True),
                                                one_minus_beta2)
            col_var = state["col_var"] = lerped(state["col_var"], xp.mean(square, axis=-2, keepdims=True),
                                                one_minus_beta2)
            row_mean = xp.mean(row_var, axis=-2, keepdims=True)
            estimate = (row_var @ col_var) / xp.maximum(row_mean, xp.asarray(eps1, dtype=row_mean.dtype))
        else:
            estimate = state["variance"] = lerped(state["variance"], square, one_minus_beta2)
        floor = xp.asarray(eps1 * eps1, dtype=estimate.dtype)  # eps1 squared: a floor under √V̂ of eps1
        update = (1 / xp.sqrt(xp.maximum(estimate, floor))) * grad  # torch's rsqrt, then the product
        denom = max(1.0, _norm(update, xp) / (math.prod(update.shape) ** 0.5 * group["d"]))
        return param - (alpha / denom) * update


def _norm(a: Any, xp: Any) -> float:
    return float(xp.sqrt(xp.sum(a * a)))
