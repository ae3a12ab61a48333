"""Losses as modules: each holds its ``reduction`` and calls the function of the same name in ``functional``.

>>> import numpy as np, chainrule as cr
>>> loss_fn = cr.nn.CrossEntropyLoss()
>>> loss_fn
CrossEntropyLoss(reduction='mean')
>>> round(loss_fn(cr.tensor([[0.0, 0.0]]), np.array([1])).item(), 4)
0.6931
"""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from . import functional as F
from .module import Module


class _Loss(Module):
    function = staticmethod(F.mse_loss)

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in F.REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {F.REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction

    def forward(self, input: Any, target: Any) -> Tensor:
        return type(self).function(input, target, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Mean squared error: mean((input − target)²)."""

    function = staticmethod(F.mse_loss)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities in [0, 1] and 0/1 (or soft) targets."""

    function = staticmethod(F.binary_cross_entropy)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy from logits: sigmoid and log in one stable step."""

    function = staticmethod(F.binary_cross_entropy_with_logits)


class CrossEntropyLoss(_Loss):
    """Cross-entropy of logits (N, C) and integer class labels (N,): log_softmax, then the negative log-likelihood."""

    function = staticmethod(F.cross_entropy)


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities (N, C) and integer class labels (N,)."""

    function = staticmethod(F.nll_loss)


__all__ = ["BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "MSELoss", "NLLLoss"]
