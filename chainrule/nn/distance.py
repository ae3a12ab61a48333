"""CosineSimilarity and PairwiseDistance, PyTorch's modules for ``F.cosine_similarity`` and
``F.pairwise_distance`` (with ``F.normalize``, in ``cr.nn.functional``).

>>> import chainrule as cr
>>> cr.nn.CosineSimilarity()(cr.tensor([[1.0, 0.0]]), cr.tensor([[1.0, 1.0]])).numpy().round(6).tolist()
[0.707107]
"""

from __future__ import annotations

from typing import Any

from ..tensor import Tensor
from .functional.core import _order, cosine_similarity, pairwise_distance
from .module import Module


class CosineSimilarity(Module):
    """cosine_similarity(x1, x2) along ``dim``."""

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim, self.eps = dim, float(eps)

    def forward(self, x1: Any, x2: Any) -> Tensor:
        return cosine_similarity(x1, x2, self.dim, self.eps)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, eps={self.eps}"


class PairwiseDistance(Module):
    """pairwise_distance(x1, x2): the p-norm of x1 − x2 + ε along the last axis."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm, self.eps, self.keepdim = _order(p, "PairwiseDistance"), float(eps), bool(keepdim)

    def forward(self, x1: Any, x2: Any) -> Tensor:
        return pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)

    def extra_repr(self) -> str:
        return f"p={self.norm}, eps={self.eps}, keepdim={self.keepdim}"


FUNCTIONS = ["cosine_similarity", "normalize", "pairwise_distance"]


MODULES = ["CosineSimilarity", "PairwiseDistance"]


__all__ = FUNCTIONS + MODULES


MODULES = ["CosineSimilarity", "PairwiseDistance"]
__all__ = MODULES
