"""``EmbeddingBag`` and ``F.embedding_bag``: sums, means or maxima of bags of embedding rows, as PyTorch's, without
building the (bags, indices, dim) intermediate of ``embedding`` then a reduction.

The picked rows are gathered (indexing: each row's gradient is the sum over the places that picked it); a sum or
mean adds them into their bag with ``scatter`` (whose gradient is indexing again); a max picks, per bag and feature,
the first largest row in the bag's order (PyTorch's strict ``>``) and gathers it, so the gradient goes to that row.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..errors import DomainError, ShapeError
from ..tensor import Tensor
from . import init
from .functional import _padding_index, _renorm_rows
from .layers import _float_dtype, _positive_int
from .module import Module, Parameter

_MODES = ("sum", "mean", "max")


def _integers(value: Any, name: str, where: str) -> np.ndarray:
    array = np.asarray(value.data if isinstance(value, Tensor) else value)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{where}: {name} must hold integers (e.g. int64), got dtype {array.dtype}")
    return array.astype(np.int64, copy=False)


def _bags(index: np.ndarray, offsets: Any, include_last_offset: bool, where: str) -> tuple[np.ndarray, np.ndarray,
                                                                                           int]:
    """(the flat indices, the bag of each, the number of bags) from 2-D input or 1-D input with offsets."""
    if index.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{where}: offsets must be None when input is 2-D (each row is a bag), got offsets")
        bags, length = index.shape
        return index.reshape(-1), np.repeat(np.arange(bags), length), bags
    if index.ndim != 1:
        raise ShapeError(f"{where}: input must be 1-D (with offsets) or 2-D (bags of equal size), got shape "
                         f"{index.shape}")
    if offsets is None:
        raise ValueError(f"{where}: 1-D input needs offsets, the start of each bag in it")
    starts = _integers(offsets, "offsets", where)
    if starts.ndim != 1 or not starts.size:
        raise ShapeError(f"{where}: offsets must be 1-D and non-empty, got shape {starts.shape}")
    if starts[0] != 0 or np.any(np.diff(starts) < 0) or starts[-1] > index.size:
        raise DomainError(f"{where}: offsets must start at 0 and not decrease, up to the input's length "
                          f"{index.size}; got {starts.tolist()}")
    if include_last_offset:  # one offset more than bags (PyTorch's: the last bag still runs to the end)
        starts = starts[:-1]
    ends = np.append(starts[1:], index.size)
    bags = starts.size
    bag_of = np.repeat(np.arange(bags), ends - starts)
    used = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends, strict=True)]) if bags else \
        np.zeros(0, np.int64)
    return index[used], bag_of, bags


def embedding_bag(input: Any, weight: Any, offsets: Any = None, max_norm: float | None = None,
                  norm_type: float = 2, scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Any = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """Reduce bags of rows of ``weight`` (num_embeddings, dim): one output row (bags, dim) per bag.

    Bags are the rows of 2-D ``input``, or the runs of 1-D ``input`` that start at ``offsets`` (with
    ``include_last_offset`` there is one offset more than bags; as PyTorch, the last bag still runs to the end).
    ``mode``: "sum", "mean" or "max" (per feature).
    ``per_sample_weights`` (the input's shape, "sum" only) weighs each picked row, and gets its own gradient.
    Indices equal to ``padding_idx`` are left out of their bag (not counted by "mean"); an empty bag gives zeros.
    ``max_norm``/``norm_type`` rescale picked rows in place and ``scale_grad_by_freq`` divides each row's gradient
    by its count in the input, as ``F.embedding``; ``sparse`` is accepted (a dense gradient).

    >>> import chainrule as cr, numpy as np, chainrule.nn.functional as F
    >>> weight = cr.tensor(np.arange(8.0).reshape(4, 2))
    >>> F.embedding_bag(np.array([0, 1, 3, 2]), weight, np.array([0, 3]), mode="sum").numpy().tolist()
    [[8.0, 11.0], [4.0, 5.0]]
    """
    where = "embedding_bag"
    if mode not in _MODES:
        raise ValueError(f"{where}: mode must be 'sum', 'mean' or 'max', got {mode!r}")
    weight = weight if isinstance(weight, Tensor) else Tensor(weight)
    if weight.ndim != 2 or weight.dtype.kind != "f":
        raise ShapeError(f"{where}: weight must be a 2-D float table (num_embeddings, embedding_dim), got "
                         f"{weight.dtype} {weight.shape}")
    n, dim = weight.shape
    index = _integers(input, "input", where)
    if index.size and (index.min() < 0 or index.max() >= n):
        bad = int(index.min()) if index.min() < 0 else int(index.max())
        raise DomainError(f"{where}: index {bad} is out of range for {n} embeddings (0..{n - 1})")
    flat, bag_of, bags = _bags(index, offsets, include_last_offset, where)
    sample_weights = None
    if per_sample_weights is not None:
        if mode != "sum":
            raise ValueError(f"{where}: per_sample_weights is only supported for mode='sum', got mode={mode!r}")
        sample_weights = per_sample_weights if isinstance(per_sample_weights, Tensor) else \
            Tensor(np.asarray(per_sample_weights))
        if sample_weights.shape != index.shape:
            raise ShapeError(f"{where}: per_sample_weights must have the input's shape {index.shape}, got "
                             f"{sample_weights.shape}")
        sample_weights = ops.reshape(sample_weights, (-1,))
    if max_norm is not None:
        _renorm_rows(weight, flat, max_norm, norm_type)
    keep = np.ones(flat.size, bool) if padding_idx is None else flat != _padding_index(padding_idx, n, where)
    if not keep.all():
        flat, bag_of = flat[keep], bag_of[keep]
        if sample_weights is not None:
            sample_weights = sample_weights[np.flatnonzero(keep)]
    counts = np.bincount(bag_of, minlength=bags)
    if mode == "max":
        return _bag_max(weight, flat, bag_of, bags, counts)
    rows = weight[flat]
    if scale_grad_by_freq and flat.size:
        picked, times = np.unique(index, return_counts=True)
        share = (1 / times[np.searchsorted(picked, flat)]).astype(rows.dtype)[:, None]
        frozen = ops.stop(rows)
        rows = frozen + (rows - frozen) * share  # the same values; each row's gradient over its count
    if sample_weights is not None:
        rows = rows * ops.unsqueeze(sample_weights, -1)
    if mode == "mean":
        rows = rows * (1 / np.maximum(counts, 1)[bag_of]).astype(rows.dtype)[:, None]
    return ops.scatter(rows, (bag_of,), (bags, dim))


def _bag_max(weight: Tensor, flat: np.ndarray, bag_of: np.ndarray, bags: int, counts: np.ndarray) -> Tensor:
    """Per bag and feature the first largest row (in the bag's order), gathered from ``weight``; zeros for an empty
    bag."""
    dim = weight.shape[1]
    values = weight.data[flat]  # (picked, dim)
    chosen = np.zeros((bags, dim), np.int64)
    best = np.full((bags, dim), -np.inf, weight.dtype)
    seen = np.zeros((bags, 1), bool)
    for position, bag in enumerate(bag_of):  # the bag's order, as PyTorch's loop: a later tie does not win
        row = values[position]
        better = ~seen[bag] | (row > best[bag])
        best[bag] = np.where(better, row, best[bag])
        chosen[bag] = np.where(better, flat[position], chosen[bag])
        seen[bag] = True
    out = weight[chosen, np.arange(dim)]
    empty = counts == 0
    if empty.any():
        out = ops.where(empty[:, None], np.zeros((), weight.dtype), out)
    return out


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


__all__ = ["EmbeddingBag", "embedding_bag"]
