"""``AdaptiveLogSoftmaxWithLoss`` (Grave et al., 2017), with PyTorch's parameter names (``head``, ``tail.{i}.0``,
``tail.{i}.1``) so a PyTorch state dict loads.

The classes are split by ``cutoffs`` into a shortlist and clusters. The head scores the shortlist and one entry per
cluster; cluster i's own classes get a small two-layer projection (in → in // div_value^(i+1) → cluster size), so
log p(c) = log p_head(c) for a shortlist class, log p_head(cluster) + log p_cluster(c) for the others.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from .. import ops
from ..errors import DomainError, ShapeError
from ..tensor import Tensor
from . import functional as F
from .containers import ModuleList
from .layers import Linear, Sequential, _positive_int
from .module import Module


class ASMOutput(NamedTuple):
    """``output``: each sample's log-probability of its target (N,); ``loss``: their negated mean."""

    output: Tensor
    loss: Tensor


class AdaptiveLogSoftmaxWithLoss(Module):
    """An efficient softmax over many classes, most of them rare: ``forward(input, target)`` gives
    (output, loss), ``log_prob(input)`` every class's log-probability (N, n_classes), ``predict(input)`` the most
    likely class. Input (N, in_features) with targets (N,), or unbatched (in_features,) with a 0-d target.

    >>> import chainrule as cr, numpy as np
    >>> asm = cr.nn.AdaptiveLogSoftmaxWithLoss(8, 20, cutoffs=[4, 10], div_value=2.0, seed=0)
    >>> out, loss = asm(cr.ones(3, 8), np.array([0, 5, 19]))
    >>> out.shape, round(float(np.exp(asm.log_prob(cr.ones(1, 8)).numpy()).sum()), 6)
    ((3,), 1.0)
    """

    def __init__(self, in_features: int, n_classes: int, cutoffs: Sequence[int], div_value: float = 4.0,
                 head_bias: bool = False, dtype: Any = np.float32, seed: int | None = None,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        where = "AdaptiveLogSoftmaxWithLoss"
        self.in_features = _positive_int(in_features, "in_features", where)
        self.n_classes = _positive_int(n_classes, "n_classes", where)
        cutoffs = list(cutoffs)
        if (not cutoffs or cutoffs != sorted(cutoffs) or len(set(cutoffs)) != len(cutoffs)
                or not all(isinstance(c, numbers.Integral) and not isinstance(c, bool) for c in cutoffs)
                or cutoffs[0] <= 0 or cutoffs[-1] > self.n_classes - 1):
            raise DomainError(f"{where}: cutoffs should be a sequence of unique, positive integers sorted in an "
                              f"increasing order, each between 1 and n_classes - 1 = {self.n_classes - 1}; got "
                              f"{cutoffs}")
        self.cutoffs = [int(c) for c in cutoffs] + [self.n_classes]
        self.div_value, self.head_bias = float(div_value), bool(head_bias)
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        generator = np.random.default_rng(seed) if seed is not None else rng
        self.head = Linear(self.in_features, self.head_size, bias=self.head_bias, dtype=dtype, rng=generator)
        tails = []
        for i in range(self.n_clusters):
            hidden = int(self.in_features // (self.div_value ** (i + 1)))
            size = self.cutoffs[i + 1] - self.cutoffs[i]
            tails.append(Sequential(Linear(self.in_features, hidden, bias=False, dtype=dtype, rng=generator),
                                    Linear(hidden, size, bias=False, dtype=dtype, rng=generator)))
        self.tail = ModuleList(tails)

    def _input(self, input: Any, where: str) -> tuple[Tensor, bool]:
        x = input if isinstance(input, Tensor) else Tensor(input)
        if x.ndim not in (1, 2) or x.shape[-1] != self.in_features:
            raise ShapeError(f"AdaptiveLogSoftmaxWithLoss.{where}: expects input (N, {self.in_features}) or "
                             f"({self.in_features},), got shape {x.shape}")
        return (x, True) if x.ndim == 2 else (ops.unsqueeze(x, 0), False)

    def forward(self, input: Any, target: Any) -> ASMOutput:
        x, batched = self._input(input, "forward")
        labels = np.asarray(getattr(target, "data", target))
        if labels.dtype.kind not in "iu" or labels.shape != x.shape[:1] * batched:
            raise ShapeError(f"AdaptiveLogSoftmaxWithLoss: expects integer targets of shape {x.shape[:1] * batched} "
                             f"for input of shape {np.shape(getattr(input, 'data', input))}, got {labels.dtype} "
                             f"{labels.shape}")
        labels = labels.reshape(-1).astype(np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= self.n_classes):
            raise DomainError(f"AdaptiveLogSoftmaxWithLoss: target values should be in [0, {self.n_classes - 1}], "
                              f"got {labels.min()} to {labels.max()}")
        n = labels.size
        head_entry = labels.copy()  # the head's column: the class itself, or its cluster's entry
        pieces, order = [], []
        for i in range(self.n_clusters):
            low, high = self.cutoffs[i], self.cutoffs[i + 1]
            rows = np.flatnonzero((labels >= low) & (labels < high))
            if not rows.size:
                continue
            head_entry[rows] = self.shortlist_size + i
            cluster = F.log_softmax(self.tail[i](x[rows]), dim=1)
            pieces.append(cluster[np.arange(rows.size), labels[rows] - low])
            order.append(rows)
        head = F.log_softmax(self.head(x), dim=1)
        output = head[np.arange(n), head_entry]
        if pieces:  # each tail sample's log-probability within its cluster, back in the samples' order
            rows = np.concatenate(order)
            in_shortlist = np.setdiff1d(np.arange(n), rows)
            zeros = np.zeros(in_shortlist.size, x.dtype)
            within = ops.concatenate([Tensor(zeros), *pieces])[np.argsort(np.concatenate([in_shortlist, rows]))]
            output = output + within
        loss = ops.mean(-output)
        return ASMOutput(output if batched else ops.squeeze(output, 0), loss)

    def log_prob(self, input: Any) -> Tensor:
        """log p(c | input) for every class c: (N, n_classes), or (n_classes,) for unbatched input."""
        x, batched = self._input(input, "log_prob")
        head = F.log_softmax(self.head(x), dim=1)
        columns = [head[:, :self.shortlist_size]]
        for i in range(self.n_clusters):
            entry = self.shortlist_size + i
            columns.append(F.log_softmax(self.tail[i](x), dim=1) + head[:, entry:entry + 1])
        out = ops.concatenate(columns, axis=1)
        return out if batched else ops.squeeze(out, 0)

    def predict(self, input: Any) -> np.ndarray:
        """The most likely class of each sample (int64), as ``log_prob(input).argmax(-1)``."""
        with_grad = self.log_prob(input)
        return np.argmax(with_grad.data, axis=-1).astype(np.int64)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, n_classes={self.n_classes}, cutoffs={self.cutoffs[:-1]}, "
                f"div_value={self.div_value}, head_bias={self.head_bias}")


__all__ = ["AdaptiveLogSoftmaxWithLoss"]
