"""``MultiheadAttention`` with PyTorch's parameter names (``in_proj_weight`` (3E, E), ``in_proj_bias`` (3E,),
``out_proj.weight``, ``out_proj.bias``), so a PyTorch state dict loads. Composed, as
``F.scaled_dot_product_attention`` is, of matmul, the ``softmax`` rule (the stable one of the table) and ``where``
for masks.
"""

from __future__ import annotations

import copy
import math
import numbers
from typing import Any

import numpy as np

from .. import ops
from ..errors import DomainError, ShapeError
from ..tensor import Tensor
from . import functional as F
from . import init
from .containers import ModuleList
from .functional.core import _float, _mask_scores
from .layers import Dropout, Linear, _float_dtype, _positive_int
from .module import Module, Parameter
from .normalization import LayerNorm


class MultiheadAttention(Module):
    """Multi-head attention as PyTorch's: project q, k, v with ``in_proj_weight`` (or ``q_proj_weight``,
    ``k_proj_weight``, ``v_proj_weight`` when ``kdim``/``vdim`` differ from ``embed_dim``), attend per head, project
    with ``out_proj``. Inputs are (L, N, E), or (N, L, E) with ``batch_first=True``, or unbatched (L, E).
    ``add_bias_kv`` appends a learned key and value (``bias_k``, ``bias_v``) to every sequence, ``add_zero_attn`` a
    zero one after the projection.

    ``forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
    average_attn_weights=True, is_causal=False)`` returns (output, weights or None). As in PyTorch, a boolean
    ``attn_mask`` / ``key_padding_mask`` marks with True the places that may NOT be attended (the opposite of
    ``scaled_dot_product_attention``'s); float masks are added to the scores.

    >>> import chainrule as cr
    >>> mha = cr.nn.MultiheadAttention(8, 2, batch_first=True, seed=0)
    >>> out, weights = mha(cr.ones(3, 5, 8), cr.ones(3, 5, 8), cr.ones(3, 5, 8))
    >>> out.shape, weights.shape
    ((3, 5, 8), (3, 5, 5))
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, dtype: Any = np.float32, seed: int | None = None,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        where = "MultiheadAttention"
        self.embed_dim = _positive_int(embed_dim, "embed_dim", where)
        self.num_heads = _positive_int(num_heads, "num_heads", where)
        if self.embed_dim % self.num_heads:
            raise DomainError(f"MultiheadAttention: embed_dim {embed_dim} must be divisible by num_heads {num_heads}")
        self.kdim = self.embed_dim if kdim is None else _positive_int(kdim, "kdim", where)
        self.vdim = self.embed_dim if vdim is None else _positive_int(vdim, "vdim", where)
        F.core._check_probability(dropout, where)
        self.head_dim = self.embed_dim // self.num_heads
        self.dropout, self.batch_first = float(dropout), bool(batch_first)
        self.add_zero_attn = bool(add_zero_attn)
        dtype = _float_dtype(dtype, where)
        rng = init.generator(seed, rng)
        self._rng = rng
        e = self.embed_dim
        if self.kdim == e and self.vdim == e:  # one packed projection, as PyTorch's parameter names
            self.in_proj_weight = Parameter(np.empty((3 * e, e), dtype))
            init.xavier_uniform_(self.in_proj_weight, rng=rng)
        else:  # separate projections: key and value have their own widths
            self.register_parameter("in_proj_weight", None)
            for name, width in (("q_proj_weight", e), ("k_proj_weight", self.kdim), ("v_proj_weight", self.vdim)):
                setattr(self, name, Parameter(np.empty((e, width), dtype)))
                init.xavier_uniform_(getattr(self, name), rng=rng)
        self.register_parameter("in_proj_bias", Parameter(np.zeros(3 * e, dtype)) if bias else None)
        for name in ("bias_k", "bias_v"):  # a learned key and value appended to every sequence
            self.register_parameter(name, Parameter(np.empty((1, 1, e), dtype)) if add_bias_kv else None)
            if add_bias_kv:
                init.xavier_normal_(getattr(self, name), rng=rng)
        self.out_proj = Linear(e, e, bias=bias, dtype=dtype, rng=rng)
        if bias:
            init.zeros_(self.out_proj.bias)

    def _projection(self, i: int) -> Tensor:
        """The weight projecting the query (0), key (1) or value (2)."""
        e = self.embed_dim
        if self.in_proj_weight is not None:
            return self.in_proj_weight[i * e:(i + 1) * e]
        return (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)[i]

    def forward(self, query: Any, key: Any, value: Any, key_padding_mask: Any = None, need_weights: bool = True,
                attn_mask: Any = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        where = "MultiheadAttention"
        q, k, v = (_float(t, n, where) for t, n in ((query, "query"), (key, "key"), (value, "value")))
        batched = q.ndim == 3
        if q.ndim not in (2, 3) or k.ndim != q.ndim or v.ndim != q.ndim or q.shape[-1] != self.embed_dim \
                or k.shape[-1] != self.kdim or v.shape[-1] != self.vdim or k.shape[:-1] != v.shape[:-1]:
            layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
            raise ShapeError(f"{where}: expects query, key and value {layout} or (L, E) with E = {self.embed_dim} "
                             f"(key {self.kdim}, value {self.vdim}) and key, value of one length; got {q.shape}, "
                             f"{k.shape}, {v.shape}")
        if not batched:
            q, k, v = (ops.unsqueeze(t, 0) for t in (q, k, v))
            if key_padding_mask is not None:
                key_padding_mask = np.asarray(getattr(key_padding_mask, "data", key_padding_mask))[None]
        elif not self.batch_first:
            q, k, v = (ops.swapaxes(t, 0, 1) for t in (q, k, v))
        n, length, e = q.shape
        source = k.shape[1]
        b = self.in_proj_bias
        projected = [F.linear(t, self._projection(i), None if b is None else b[i * e:(i + 1) * e])
                     for i, t in enumerate((q, k, v))]
        extra = []  # columns the keys gain: a learned key/value (add_bias_kv), then a zero one (add_zero_attn)
        if self.bias_k is not None:
            projected[1:] = [ops.concatenate([t, ops.broadcast_to(bias, (n, 1, e))], axis=1)
                             for t, bias in zip(projected[1:], (self.bias_k, self.bias_v), strict=True)]
            extra.append(1)
        heads = [ops.swapaxes(ops.reshape(t, (n, t.shape[1], self.num_heads, self.head_dim)), 1, 2)
                 for t in projected]
        if self.add_zero_attn:
            zeros = np.zeros((n, self.num_heads, 1, self.head_dim), heads[1].dtype)
            heads[1:] = [ops.concatenate([t, zeros], axis=2) for t in heads[1:]]
            extra.append(1)
        qh, kh, vh = heads  # (N, H, L or S, D)
        scores = ops.matmul(qh, ops.swapaxes(kh, -1, -2)) * (1 / math.sqrt(self.head_dim))
        if is_causal and attn_mask is None:
            attn_mask = ~np.tril(np.ones((length, source), dtype=bool))
        if attn_mask is not None:
            mask = np.asarray(getattr(attn_mask, "data", attn_mask))
            if mask.ndim == 3:  # (N·H, L, S), as PyTorch takes it
                mask = mask.reshape(n, self.num_heads, length, mask.shape[-1])
            scores = _mask_scores(scores, _attend_extra(mask, sum(extra)), False, where)
        if key_padding_mask is not None:
            pad = np.asarray(getattr(key_padding_mask, "data", key_padding_mask))
            if pad.shape != (n, source):
                raise ShapeError(f"{where}: key_padding_mask must have shape ({n}, {source}), got {pad.shape}")
            scores = _mask_scores(scores, _attend_extra(pad, sum(extra))[:, None, None, :], False, where)
        weights = ops.softmax(scores, -1)
        attended = F.dropout(weights, self.dropout, self.training, self._rng) if self.dropout else weights
        out = ops.reshape(ops.swapaxes(ops.matmul(attended, vh), 1, 2), (n, length, e))
        out = self.out_proj(out)
        if not batched:
            out = ops.squeeze(out, 0)
        elif not self.batch_first:
            out = ops.swapaxes(out, 0, 1)
        if not need_weights:
            return out, None
        if average_attn_weights:
            weights = ops.mean(weights, axis=1)
        return out, (weights if batched else ops.squeeze(weights, 0))

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, batch_first={self.batch_first}"


def _attend_extra(mask: np.ndarray, columns: int) -> np.ndarray:
    """A mask over the keys widened by ``columns`` appended keys that every query may attend (False in a boolean
    mask of blocked places, 0 in a float one), as PyTorch pads it for add_bias_kv and add_zero_attn."""
    if not columns:
        return mask
    return np.concatenate([mask, np.zeros(mask.shape[:-1] + (columns,), mask.dtype)], axis=-1)




class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with a residual connection and layer norm, as PyTorch's
    (same submodule names: ``self_attn``, ``linear1``, ``linear2``, ``norm1``, ``norm2``).

    ``norm_first=False`` (post-norm): x = norm1(x + SA(x)); x = norm2(x + FF(x)). ``norm_first=True`` (pre-norm):
    x = x + SA(norm1(x)); x = x + FF(norm2(x)). FF(x) = linear2(dropout(activation(linear1(x)))).

    >>> import chainrule as cr
    >>> layer = cr.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True, seed=0)
    >>> layer(cr.ones(3, 5, 8)).shape
    (3, 5, 8)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: Any = "relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, dtype: Any = np.float32, seed: int | None = None,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        rng = init.generator(seed, rng)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout, bias, batch_first=batch_first, dtype=dtype,
                                            rng=rng)
        self.linear1 = Linear(d_model, dim_feedforward, bias, dtype, rng=rng)
        self.dropout = Dropout(dropout, rng=rng)
        self.linear2 = Linear(dim_feedforward, d_model, bias, dtype, rng=rng)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout, rng=rng)
        self.dropout2 = Dropout(dropout, rng=rng)
        self.activation = feed_forward_activation(activation, "TransformerEncoderLayer")

    def _self_attention(self, x: Tensor, mask: Any, padding: Any, is_causal: bool) -> Tensor:
        out, _ = self.self_attn(x, x, x, key_padding_mask=padding, need_weights=False, attn_mask=mask,
                                is_causal=is_causal)
        return self.dropout1(out)

    def _feed_forward(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, src: Any, src_mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool = False) -> Tensor:
        x = src if isinstance(src, Tensor) else Tensor(src)
        if self.norm_first:
            x = x + self._self_attention(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._feed_forward(self.norm2(x))
        x = self.norm1(x + self._self_attention(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._feed_forward(x))


# What one copy of a layer costs beyond its parameters: the Python objects of its modules (a generous estimate).
_MODULE_OVERHEAD = 64 * 1024


def feed_forward_activation(activation: Any, where: str) -> Any:
    """The transformer layers' ``activation``: "relu", "gelu" or a function, as PyTorch takes it."""
    if activation == "relu":
        return ops.relu
    if activation == "gelu":
        return F.gelu
    if not callable(activation):
        raise ValueError(f"{where}: activation must be 'relu', 'gelu' or a function, got {activation!r}")
    return activation


def layer_copies(layer: Module, num_layers: int, norm: Module | None, where: str, name: str) -> ModuleList:
    """``num_layers`` deep copies of ``layer`` (so they start equal, as in PyTorch) for the stacks TransformerEncoder
    and TransformerDecoder, after checking the arguments, and with a clear MemoryError, before copying, when the
    copies cannot be held (deep-copying ten million layers one by one would otherwise run for hours)."""
    if not isinstance(layer, Module):
        raise TypeError(f"{where}: {name} must be a Module (e.g. {where}Layer), not {type(layer).__name__}")
    if isinstance(num_layers, bool) or not isinstance(num_layers, numbers.Integral) or num_layers < 1:
        raise DomainError(f"{where}: num_layers must be a positive int, got {num_layers!r}")
    if norm is not None and not isinstance(norm, Module):
        raise TypeError(f"{where}: norm must be a Module or None, not {type(norm).__name__}")
    copies = int(num_layers)
    per_copy = sum(p.data.nbytes for p in layer.parameters()) + _MODULE_OVERHEAD * len(list(layer.modules()))
    size = per_copy * copies
    try:
        np.empty(size, dtype=np.uint8)  # asks for the bytes once, untouched (so no page is filled)
    except (MemoryError, ValueError):
        raise MemoryError(
            f"nn.{where}: {copies:,} copies of the layer need about {size / 2**30:,.1f} GiB, more than this "
            "machine can allocate; expected a num_layers that fits in memory"
        ) from None
    return ModuleList([copy.deepcopy(layer) for _ in range(copies)])


class TransformerEncoder(Module):
    """A stack of ``num_layers`` copies of ``encoder_layer`` (deep copies, so they start equal, as in PyTorch),
    then ``norm`` if given. Submodules ``layers`` (a ModuleList) and ``norm``: PyTorch's state dicts load.

    ``forward(src, mask=None, src_key_padding_mask=None, is_causal=False)`` runs every layer with the masks.

    >>> import chainrule as cr
    >>> layer = cr.nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True, seed=0)
    >>> encoder = cr.nn.TransformerEncoder(layer, num_layers=3, norm=cr.nn.LayerNorm(8))
    >>> encoder(cr.ones(2, 5, 8)).shape, len(encoder.layers)
    ((2, 5, 8), 3)
    """

    def __init__(self, encoder_layer: Module, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True) -> None:
        # enable_nested_tensor and mask_check are PyTorch's speed switches (its nested-tensor fast path); accepted so
        # that PyTorch code runs unchanged, with no effect here
        super().__init__()
        self.layers = layer_copies(encoder_layer, num_layers, norm, "TransformerEncoder", "encoder_layer")
        self.num_layers = int(num_layers)
        self.norm = norm

    def forward(self, src: Any, mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool = False) -> Tensor:
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=is_causal)
        return x if self.norm is None else self.norm(x)

    def extra_repr(self) -> str:
        return f"num_layers={self.num_layers}"


__all__ = ["MultiheadAttention", "TransformerEncoder", "TransformerEncoderLayer"]
