"""Embedding and the normalization layers, with PyTorch's parameter and buffer names and shapes, so a PyTorch
state dict loads: Embedding (``weight``), LayerNorm and GroupNorm (``weight``, ``bias``), RMSNorm (``weight``),
BatchNorm1d/2d (``weight``, ``bias``; buffers ``running_mean``, ``running_var``, ``num_batches_tracked``).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..errors import DomainError, ShapeError
from ..tensor import Tensor
from . import functional as F
from . import init
from .layers import _float_dtype, _positive_int
from .module import Module, Parameter


class Embedding(Module):
    """A lookup table: ``weight`` (num_embeddings, embedding_dim) from N(0, 1); integer input of any shape gives
    (*input.shape, embedding_dim). The ``padding_idx`` row starts at zero and never gets a gradient;
    ``max_norm``, ``norm_type``, ``scale_grad_by_freq`` and ``sparse`` as in ``F.embedding``.

    >>> import chainrule as cr, numpy as np
    >>> emb = cr.nn.Embedding(10, 4, padding_idx=0, seed=0)
    >>> emb(np.array([[0, 3], [9, 0]])).shape
    (2, 2, 4)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight: Any = None, _freeze: bool = False, dtype: Any = np.float32,
                 seed: int | None = None, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        self.max_norm, self.norm_type = max_norm, float(norm_type)
        self.scale_grad_by_freq, self.sparse = bool(scale_grad_by_freq), bool(sparse)
        self.num_embeddings = _positive_int(num_embeddings, "num_embeddings", "Embedding")
        self.embedding_dim = _positive_int(embedding_dim, "embedding_dim", "Embedding")
        self.padding_idx = (None if padding_idx is None
                            else F._padding_index(padding_idx, self.num_embeddings, "Embedding"))
        dtype = _float_dtype(dtype, "Embedding")
        if _weight is not None:  # PyTorch's: these values as they are (the padding row is not zeroed)
            weight = np.array(getattr(_weight, "data", _weight), copy=True)
            if weight.shape != (self.num_embeddings, self.embedding_dim) or weight.dtype.kind != "f":
                raise ShapeError(f"Embedding: _weight must be a float array of shape ({self.num_embeddings}, "
                                 f"{self.embedding_dim}) (num_embeddings, embedding_dim), got "
                                 f"{weight.dtype} {weight.shape}")
        else:
            weight = init.generator(seed, rng).standard_normal((self.num_embeddings, self.embedding_dim))
            weight = weight.astype(dtype)
            if self.padding_idx is not None:
                weight[self.padding_idx] = 0
        # _freeze: a fixed table (no gradient), as from_pretrained(freeze=True)
        self.weight = Parameter(weight, requires_grad=not _freeze)

    @classmethod
    def from_pretrained(cls, embeddings: Any, freeze: bool = True, padding_idx: int | None = None,
                        max_norm: float | None = None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> Embedding:
        """An Embedding holding ``embeddings`` (a 2-D array or Tensor, copied); ``freeze``: no gradient."""
        if np.ndim(getattr(embeddings, "data", embeddings)) != 2:
            raise ShapeError(f"Embedding.from_pretrained: embeddings must be 2-D (num_embeddings, embedding_dim), "
                             f"got shape {np.shape(getattr(embeddings, 'data', embeddings))}")
        rows, dim = np.shape(getattr(embeddings, "data", embeddings))
        return cls(rows, dim, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse, _weight=embeddings,
                   _freeze=freeze)

    def forward(self, x: Any) -> Tensor:
        return F.embedding(x, self.weight, self.padding_idx, self.max_norm, self.norm_type, self.scale_grad_by_freq,
                           self.sparse)

    def extra_repr(self) -> str:
        extra = f"{self.num_embeddings}, {self.embedding_dim}"
        return extra + ("" if self.padding_idx is None else f", padding_idx={self.padding_idx}")


def _shape(normalized_shape: Any, where: str) -> tuple[int, ...]:
    shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
    if not shape:
        raise ShapeError(f"{where}: normalized_shape must name at least one dimension, got {normalized_shape!r}")
    return tuple(_positive_int(n, "normalized_shape", where) for n in shape)


class LayerNorm(Module):
    """Normalize over the trailing ``normalized_shape`` axes, then ·weight + bias (ones and zeros at first).

    >>> import chainrule as cr
    >>> cr.nn.LayerNorm(8)
    LayerNorm((8,), eps=1e-05, elementwise_affine=True)
    """

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, dtype: Any = np.float32) -> None:
        super().__init__()
        self.normalized_shape = _shape(normalized_shape, "LayerNorm")
        self.eps, self.elementwise_affine = float(eps), bool(elementwise_affine)
        dtype = _float_dtype(dtype, "LayerNorm")
        affine = self.elementwise_affine
        self.register_parameter("weight", Parameter(np.ones(self.normalized_shape, dtype)) if affine else None)
        self.register_parameter("bias",
                                Parameter(np.zeros(self.normalized_shape, dtype)) if affine and bias else None)

    def forward(self, x: Any) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class RMSNorm(Module):
    """x / √(mean(x²) + eps) · weight over the trailing axes; eps=None uses the dtype's machine epsilon."""

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float | None = None,
                 elementwise_affine: bool = True, dtype: Any = np.float32) -> None:
        super().__init__()
        self.normalized_shape = _shape(normalized_shape, "RMSNorm")
        self.eps, self.elementwise_affine = eps, bool(elementwise_affine)
        dtype = _float_dtype(dtype, "RMSNorm")
        weight = Parameter(np.ones(self.normalized_shape, dtype)) if self.elementwise_affine else None
        self.register_parameter("weight", weight)

    def forward(self, x: Any) -> Tensor:
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class GroupNorm(Module):
    """Split the C channels into ``num_groups`` groups, normalize each, then ·weight + bias per channel."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 dtype: Any = np.float32, *, bias: bool = True) -> None:
        super().__init__()
        self.num_groups = _positive_int(num_groups, "num_groups", "GroupNorm")
        self.num_channels = _positive_int(num_channels, "num_channels", "GroupNorm")
        if self.num_channels % self.num_groups:
            raise DomainError(f"GroupNorm: num_channels {num_channels} is not divisible by num_groups {num_groups}")
        self.eps, self.affine = float(eps), bool(affine)
        dtype = _float_dtype(dtype, "GroupNorm")
        self.register_parameter("weight", Parameter(np.ones(self.num_channels, dtype)) if affine else None)
        self.register_parameter("bias", Parameter(np.zeros(self.num_channels, dtype)) if affine and bias else None)

    def forward(self, x: Any) -> Tensor:
        if np.ndim(x) < 2 or np.shape(x)[1] != self.num_channels:
            raise ShapeError(f"{self!r} got an input of shape {np.shape(x)}; it expects (N, {self.num_channels}, "
                             "...)")
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"


def running_statistics(module: Module, num_features: int, eps: float, momentum: float | None, affine: bool,
                       bias: bool, track_running_stats: bool, dtype: Any) -> None:
    """The state of a batch or instance norm, as PyTorch's: ``weight`` and ``bias`` per feature (with ``affine``),
    buffers ``running_mean``, ``running_var`` and ``num_batches_tracked`` (with ``track_running_stats``)."""
    where = type(module).__name__
    module.num_features = _positive_int(num_features, "num_features", where)
    if momentum is not None and (isinstance(momentum, bool) or not isinstance(momentum, numbers.Real)
                                 or not 0 <= momentum <= 1):
        raise DomainError(f"{where}: momentum must be a number in [0, 1] or None (a cumulative average), got "
                          f"{momentum!r}")
    module.eps, module.momentum = float(eps), momentum
    module.affine, module.track_running_stats = bool(affine), bool(track_running_stats)
    dtype = _float_dtype(dtype, where)
    n = module.num_features
    module.register_parameter("weight", Parameter(np.ones(n, dtype)) if module.affine else None)
    module.register_parameter("bias", Parameter(np.zeros(n, dtype)) if module.affine and bias else None)
    track = module.track_running_stats
    module.register_buffer("running_mean", np.zeros(n, dtype) if track else None)
    module.register_buffer("running_var", np.ones(n, dtype) if track else None)
    module.register_buffer("num_batches_tracked", np.zeros((), np.int64) if track else None)
    # PyTorch fills in a counter missing from a state_dict saved without its metadata (e.g. as safetensors)
    object.__setattr__(module, "_optional_state", ("num_batches_tracked",))


class _BatchNorm(Module):
    dims: tuple[int, ...] = (2, 3)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype: Any = np.float32, *, bias: bool = True) -> None:
        super().__init__()
        running_statistics(self, num_features, eps, momentum, affine, bias, track_running_stats, dtype)

    def forward(self, x: Any) -> Tensor:
        shape = np.shape(x)
        if len(shape) not in self.dims or shape[1] != self.num_features:
            dims = " or ".join(str(d) for d in self.dims)
            raise ShapeError(f"{self!r} got an input of shape {shape}; it expects {dims} dimensions with "
                             f"{self.num_features} channels in axis 1")
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            counter = self.num_batches_tracked._array()
            counter += 1
            if self.momentum is None:  # a cumulative moving average: the k-th batch weighs 1/k
                momentum = 1.0 / float(counter)
        use_batch = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return F.batch_norm(x, self.running_mean if track else None, self.running_var if track else None,
                            self.weight, self.bias, use_batch, momentum, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) input, per channel; running statistics for evaluation."""

    dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) input, per channel; running statistics for evaluation."""

    dims = (4,)


__all__ = ["BatchNorm1d", "BatchNorm2d", "Embedding", "GroupNorm", "LayerNorm", "RMSNorm"]
