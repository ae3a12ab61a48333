"""SparseAdam: Adam on the rows a gradient touches (an embedding's looked-up rows), as ``torch.optim.SparseAdam``."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..errors import DomainError
from ..tensor import Tensor
from .adam import _check_betas
from .optimizer import Optimizer, torch_flags


class SparseAdam(Optimizer):
    """Adam restricted to the rows (first axis) where the gradient is not all zero, as ``torch.optim.SparseAdam``
    with ``nn.Embedding(sparse=True)``: only those rows' moments and values change; the others keep theirs, unlike
    Adam, which decays every row's moments and keeps moving rows by their momentum.

    chainrule's gradients are dense, so a row counts as touched when any of its entries is nonzero; torch's sparse
    gradient also lists a looked-up row whose gradient is exactly zero (and updates its moments), a difference only
    when an upstream gradient is exactly zero. On a touched row, at step t (counted per parameter, as in torch):

    m ← m + (1 − β₁)(g − m),  v ← v + (1 − β₂)(g² − v),  θ ← θ − lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ) · m/(√v + eps).
    """

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, maximize: bool = False) -> None:
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps,
                                  **torch_flags(maximize, names=("maximize",))})

    def _check(self, group: dict[str, Any]) -> None:
        super()._check(group)
        for name in ("lr", "eps"):  # torch's SparseAdam wants both strictly positive
            if not group[name] > 0:
                raise DomainError(f"SparseAdam: {name} must be > 0, got {group[name]!r}")
        _check_betas(group["betas"], "SparseAdam")
        for i, p in enumerate(group["params"]):
            if np.dtype(p.dtype).kind == "c":
                raise TypeError(f"SparseAdam: parameter {i} (shape {p.shape}) is complex; SparseAdam takes real "
                                "parameters only (as torch's)")

    def update(self, param: Any, grad: Any, state: dict[str, Any], group: dict[str, Any], xp: Any) -> Any:
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(param)
            state["exp_avg_sq"] = xp.zeros_like(param)
        state["step"] += 1
        step = state["step"]
        touched = grad != 0
        if grad.ndim > 1:
            touched = xp.any(touched, axis=tuple(range(1, grad.ndim)), keepdims=True)
        if not bool(xp.any(touched)):
            return param  # an empty sparse gradient: torch skips the update (the step still counts)
        old_avg, old_sq = state["exp_avg"], state["exp_avg_sq"]
        avg_change = (grad - old_avg) * (1 - beta1)
        sq_change = (grad * grad - old_sq) * (1 - beta2)
        numer = avg_change + old_avg
        denom = xp.sqrt(sq_change + old_sq) + group["eps"]
        state["exp_avg"] = xp.where(touched, numer, old_avg)
        state["exp_avg_sq"] = xp.where(touched, old_sq + sq_change, old_sq)
        step_size = group["lr"] * math.sqrt(1 - beta2**step) / (1 - beta1**step)
        return xp.where(touched, param + -step_size * (numer / denom), param)
