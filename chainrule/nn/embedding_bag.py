"""``EmbeddingBag``: the layer of ``F.embedding_bag`` (chainrule.nn.functional.bags), PyTorch's parameter names."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ShapeError
from ..tensor import Tensor
from . import init
from .functional.bags import _MODES, embedding_bag
from .functional.core import _padding_index
from .layers import _float_dtype, _positive_int
from .module import Module, Parameter


class EmbeddingBag(Module):
    """``F.embedding_bag`` as a layer: ``weight`` (num_embeddings, embedding_dim) from N(0, 1) (the ``padding_idx``
    row zeroed), PyTorch's constructor arguments; ``forward(input, offsets=None, per_sample_weights=None)``.

    >>> import chainrule as cr, numpy as np
    >>> bag = cr.nn.EmbeddingBag(10, 3, mode="max", seed=0)
    >>> bag(np.array([[1, 2], [4, 5], [4, 3]])).shape
    (3, 3)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm: float | None = None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                 _weight: Any = None, include_last_offset: bool = False, padding_idx: int | None = None,
                 dtype: Any = np.float32, seed: int | None = None, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        where = "EmbeddingBag"
        self.num_embeddings = _positive_int(num_embeddings, "num_embeddings", where)
        self.embedding_dim = _positive_int(embedding_dim, "embedding_dim", where)
        if mode not in _MODES:
            raise ValueError(f"{where}: mode must be 'sum', 'mean' or 'max', got {mode!r}")
        self.max_norm, self.norm_type = max_norm, float(norm_type)
        self.scale_grad_by_freq, self.mode, self.sparse = bool(scale_grad_by_freq), mode, bool(sparse)
        self.include_last_offset = bool(include_last_offset)
        self.padding_idx = None if padding_idx is None else _padding_index(padding_idx, self.num_embeddings, where)
        shape = (self.num_embeddings, self.embedding_dim)
        if _weight is not None:
            weight = np.array(getattr(_weight, "data", _weight), copy=True)
            if weight.shape != shape:
                raise ShapeError(f"{where}: _weight must have shape {shape}, got {weight.shape}")
        else:
            weight = init.generator(seed, rng).standard_normal(shape).astype(_float_dtype(dtype, where))
            if self.padding_idx is not None:
                weight[self.padding_idx] = 0
        self.weight = Parameter(weight)

    def forward(self, input: Any, offsets: Any = None, per_sample_weights: Any = None) -> Tensor:
        return embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type, self.scale_grad_by_freq,
                             self.mode, self.sparse, per_sample_weights, self.include_last_offset, self.padding_idx)

    @classmethod
    def from_pretrained(cls, embeddings: Any, freeze: bool = True, max_norm: float | None = None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean",
                        sparse: bool = False, include_last_offset: bool = False,
                        padding_idx: int | None = None) -> EmbeddingBag:
        """An EmbeddingBag holding ``embeddings`` (2-D, copied); ``freeze``: no gradient."""
        shape = np.shape(getattr(embeddings, "data", embeddings))
        if len(shape) != 2:
            raise ShapeError(f"EmbeddingBag.from_pretrained: embeddings must be 2-D, got shape {shape}")
        bag = cls(shape[0], shape[1], max_norm, norm_type, scale_grad_by_freq, mode, sparse, embeddings,
                  include_last_offset, padding_idx)
        bag.weight.requires_grad_(not freeze)
        return bag

    def extra_repr(self) -> str:
        extra = f"{self.num_embeddings}, {self.embedding_dim}, mode={self.mode!r}"
        return extra + ("" if self.padding_idx is None else f", padding_idx={self.padding_idx}")


__all__ = ["EmbeddingBag"]
