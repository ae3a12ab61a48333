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

import numpy as np

from ..tensor import Tensor
from . import functional as F
from .module import Module


def _weight_given_first(reduction: Any, weight: Any) -> tuple[Any, Any]:
    """PyTorch's weighted losses take ``weight`` as their first argument (``nn.CrossEntropyLoss(w)``); ours take
    ``reduction`` there: a first argument that is not a string is the weight."""
    if reduction is not None and not isinstance(reduction, str) and weight is None:
        return "mean", reduction
    return reduction, weight


class _Loss(Module):
    function = staticmethod(F.mse_loss)

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in F.REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {F.REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction

    def forward(self, input: Any, target: Any) -> Tensor:
        return type(self).function(input, target, reduction=self.reduction)

    def _constant(self, name: str, value: Any) -> None:
        """Keep a weight as a buffer (in the state dict, moved by ``to``), as PyTorch's losses do; None stays None."""
        self.register_buffer(name, None if value is None else np.asarray(getattr(value, "data", value)))

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Mean squared error: mean((input − target)²)."""

    function = staticmethod(F.mse_loss)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities in [0, 1] and 0/1 (or soft) targets; ``weight`` (a buffer) rescales
    each element's loss, as in PyTorch."""

    function = staticmethod(F.binary_cross_entropy)

    def __init__(self, reduction: str = "mean", *, weight: Any = None) -> None:
        reduction, weight = _weight_given_first(reduction, weight)
        super().__init__(reduction)
        self._constant("weight", weight)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy(input, target, self.reduction, weight=self.weight)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy from logits: sigmoid and log in one stable step; ``weight`` and ``pos_weight``
    (buffers) as in PyTorch."""

    function = staticmethod(F.binary_cross_entropy_with_logits)

    def __init__(self, reduction: str = "mean", *, weight: Any = None, pos_weight: Any = None) -> None:
        reduction, weight = _weight_given_first(reduction, weight)
        super().__init__(reduction)
        self._constant("weight", weight)
        self._constant("pos_weight", pos_weight)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.reduction, weight=self.weight,
                                                  pos_weight=self.pos_weight)


class CrossEntropyLoss(_Loss):
    """Cross-entropy of logits (N, C) and integer class labels (N,): log_softmax, then the negative log-likelihood.

    ``weight`` (a buffer, as in PyTorch), ``ignore_index`` and ``label_smoothing`` as in ``F.cross_entropy``.
    """

    function = staticmethod(F.cross_entropy)

    def __init__(self, reduction: str = "mean", *, weight: Any = None, ignore_index: int = -100,
                 label_smoothing: float = 0.0) -> None:
        reduction, weight = _weight_given_first(reduction, weight)
        super().__init__(reduction)
        self._constant("weight", weight)
        self.ignore_index, self.label_smoothing = int(ignore_index), float(label_smoothing)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.cross_entropy(input, target, self.reduction, weight=self.weight, ignore_index=self.ignore_index,
                               label_smoothing=self.label_smoothing)


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities (N, C) and integer class labels (N,); ``weight`` (a buffer) and
    ``ignore_index`` as in PyTorch."""

    function = staticmethod(F.nll_loss)

    def __init__(self, reduction: str = "mean", *, weight: Any = None, ignore_index: int = -100) -> None:
        reduction, weight = _weight_given_first(reduction, weight)
        super().__init__(reduction)
        self._constant("weight", weight)
        self.ignore_index = int(ignore_index)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.nll_loss(input, target, self.reduction, weight=self.weight, ignore_index=self.ignore_index)


class L1Loss(_Loss):
    """Mean absolute error: mean|input − target|."""

    function = staticmethod(F.l1_loss)


class SmoothL1Loss(_Loss):
    """0.5·d²/β where |d| < β, else |d| − 0.5·β."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        self.beta = float(beta)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.smooth_l1_loss(input, target, self.reduction, self.beta)


class HuberLoss(_Loss):
    """0.5·d² where |d| < δ, else δ·(|d| − 0.5·δ)."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        self.delta = float(delta)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.huber_loss(input, target, self.reduction, self.delta)


class KLDivLoss(_Loss):
    """KL divergence of log-probabilities ``input`` from ``target``; ``reduction="batchmean"`` is the true one."""

    def __init__(self, reduction: str = "mean", log_target: bool = False) -> None:
        if reduction not in (*F.REDUCTIONS, "batchmean"):
            raise ValueError(f"KLDivLoss: reduction must be one of {(*F.REDUCTIONS, 'batchmean')}, got {reduction!r}")
        super().__init__("mean")
        self.reduction, self.log_target = reduction, bool(log_target)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.kl_div(input, target, self.reduction, self.log_target)


__all__ = ["BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "HuberLoss", "KLDivLoss", "L1Loss", "MSELoss",
           "NLLLoss", "SmoothL1Loss"]
