"""The decoder half of PyTorch's transformer and the whole model (the encoder half is in attention.py):
``TransformerDecoderLayer``, ``TransformerDecoder`` and ``Transformer``, with PyTorch's submodule names
(``self_attn``, ``multihead_attn``, ``linear1/2``, ``norm1/2/3``; ``encoder.layers.{i}``, ``encoder.norm``,
``decoder.layers.{i}``, ``decoder.norm``), so a PyTorch state dict loads.

Masks follow ``MultiheadAttention``: a boolean mask marks with True what may NOT be attended, a float mask is added to
the scores (``Transformer.generate_square_subsequent_mask(n)`` gives the causal one, −∞ above the diagonal).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from ..errors import DomainError, ShapeError
from ..tensor import Tensor
from . import init
from .attention import (
    MultiheadAttention,
    TransformerEncoder,
    TransformerEncoderLayer,
    feed_forward_activation,
    layer_copies,
)
from .layers import Dropout, Linear
from .module import Module
from .normalization import LayerNorm


class TransformerDecoderLayer(Module):
    """Self-attention over the target, attention to the encoder's output (``memory``), then a feed-forward block,
    each with a residual connection and layer norm, as PyTorch's.

    ``norm_first=False``: x = norm1(x + SA(x)); x = norm2(x + MHA(x, m)); x = norm3(x + FF(x)).
    ``norm_first=True``: x = x + SA(norm1(x)); x = x + MHA(norm2(x), m); x = x + FF(norm3(x)).

    >>> import chainrule as cr
    >>> layer = cr.nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, batch_first=True, seed=0)
    >>> layer(cr.ones(3, 4, 8), cr.ones(3, 6, 8)).shape
    (3, 4, 8)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: Any = "relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, dtype: Any = np.float32, seed: int | None = None,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        rng = init.generator(seed, rng)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout, bias, batch_first=batch_first, dtype=dtype,
                                            rng=rng)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout, bias, batch_first=batch_first,
                                                 dtype=dtype, rng=rng)
        self.linear1 = Linear(d_model, dim_feedforward, bias, dtype, rng=rng)
        self.dropout = Dropout(dropout, rng=rng)
        self.linear2 = Linear(dim_feedforward, d_model, bias, dtype, rng=rng)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, layer_norm_eps, bias=bias, dtype=dtype)
        self.norm3 = LayerNorm(d_model, layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout, rng=rng)
        self.dropout2 = Dropout(dropout, rng=rng)
        self.dropout3 = Dropout(dropout, rng=rng)
        self.activation = feed_forward_activation(activation, "TransformerDecoderLayer")

    def _self_attention(self, x: Tensor, mask: Any, padding: Any, is_causal: bool) -> Tensor:
        out, _ = self.self_attn(x, x, x, key_padding_mask=padding, need_weights=False, attn_mask=mask,
                                is_causal=is_causal)
        return self.dropout1(out)

    def _memory_attention(self, x: Tensor, memory: Tensor, mask: Any, padding: Any, is_causal: bool) -> Tensor:
        out, _ = self.multihead_attn(x, memory, memory, key_padding_mask=padding, need_weights=False,
                                     attn_mask=mask, is_causal=is_causal)
        return self.dropout2(out)

    def _feed_forward(self, x: Tensor) -> Tensor:
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, tgt: Any, memory: Any, tgt_mask: Any = None, memory_mask: Any = None,
                tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False) -> Tensor:
        x = tgt if isinstance(tgt, Tensor) else Tensor(tgt)
        m = memory if isinstance(memory, Tensor) else Tensor(memory)
        if self.norm_first:
            x = x + self._self_attention(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._memory_attention(self.norm2(x), m, memory_mask, memory_key_padding_mask, memory_is_causal)
            return x + self._feed_forward(self.norm3(x))
        x = self.norm1(x + self._self_attention(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(x + self._memory_attention(x, m, memory_mask, memory_key_padding_mask, memory_is_causal))
        return self.norm3(x + self._feed_forward(x))


class TransformerDecoder(Module):
    """A stack of ``num_layers`` deep copies of ``decoder_layer`` (equal at the start, as PyTorch's), then ``norm``
    if given. ``forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False)``.

    >>> import chainrule as cr
    >>> layer = cr.nn.TransformerDecoderLayer(8, 2, dim_feedforward=16, seed=0)
    >>> cr.nn.TransformerDecoder(layer, 2)(cr.ones(4, 3, 8), cr.ones(6, 3, 8)).shape
    (4, 3, 8)
    """

    def __init__(self, decoder_layer: Module, num_layers: int, norm: Module | None = None) -> None:
        super().__init__()
        self.layers = layer_copies(decoder_layer, num_layers, norm, "TransformerDecoder", "decoder_layer")
        self.num_layers = int(num_layers)
        self.norm = norm

    def forward(self, tgt: Any, memory: Any, tgt_mask: Any = None, memory_mask: Any = None,
                tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> Tensor:
        x = tgt
        causal = bool(tgt_is_causal)  # a hint only: a mask given is applied as it is (PyTorch's numbers either way)
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=causal, memory_is_causal=memory_is_causal)
        return x if self.norm is None else self.norm(x)

    def extra_repr(self) -> str:
        return f"num_layers={self.num_layers}"


class Transformer(Module):
    """PyTorch's encoder-decoder transformer: ``encoder`` (a ``TransformerEncoder`` of ``num_encoder_layers`` layers
    with a final LayerNorm) and ``decoder`` (likewise), or ``custom_encoder`` / ``custom_decoder``. Every parameter
    with two or more axes starts Xavier-uniform, as PyTorch's ``_reset_parameters``.

    ``forward(src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
    tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
    memory_is_causal=False)``: the encoder's output is the decoder's ``memory``; the output has tgt's shape.

    >>> import chainrule as cr
    >>> model = cr.nn.Transformer(8, 2, 1, 1, dim_feedforward=16, batch_first=True, seed=0)
    >>> mask = cr.nn.Transformer.generate_square_subsequent_mask(4)
    >>> model(cr.ones(2, 5, 8), cr.ones(2, 4, 8), tgt_mask=mask).shape
    (2, 4, 8)
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6, num_decoder_layers: int = 6,
                 dim_feedforward: int = 2048, dropout: float = 0.1, activation: Any = "relu",
                 custom_encoder: Module | None = None, custom_decoder: Module | None = None,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False, norm_first: bool = False,
                 bias: bool = True, dtype: Any = np.float32, seed: int | None = None,
                 rng: np.random.Generator | None = None) -> None:
        super().__init__()
        rng = init.generator(seed, rng)
        layer_args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps, batch_first, norm_first,
                      bias, dtype)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(TransformerEncoderLayer(*layer_args, rng=rng), num_encoder_layers,
                                              LayerNorm(d_model, layer_norm_eps, bias=bias, dtype=dtype))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(TransformerDecoderLayer(*layer_args, rng=rng), num_decoder_layers,
                                              LayerNorm(d_model, layer_norm_eps, bias=bias, dtype=dtype))
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p, rng=rng)
        self.d_model, self.nhead, self.batch_first = int(d_model), int(nhead), bool(batch_first)

    def forward(self, src: Any, tgt: Any, src_mask: Any = None, tgt_mask: Any = None, memory_mask: Any = None,
                src_key_padding_mask: Any = None, tgt_key_padding_mask: Any = None,
                memory_key_padding_mask: Any = None, src_is_causal: bool | None = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> Tensor:
        src_shape, tgt_shape = np.shape(getattr(src, "data", src)), np.shape(getattr(tgt, "data", tgt))
        batch = 0 if self.batch_first else 1
        if len(src_shape) == 3 and (len(tgt_shape) != 3 or src_shape[batch] != tgt_shape[batch]):
            raise ShapeError(f"Transformer: the batch number of src and tgt must be equal; got shapes {src_shape} "
                             f"and {tgt_shape} (batch_first={self.batch_first})")
        if src_shape[-1:] != (self.d_model,) or tgt_shape[-1:] != (self.d_model,):
            raise ShapeError(f"Transformer: the feature number of src and tgt must be equal to d_model "
                             f"{self.d_model}; got shapes {src_shape} and {tgt_shape}")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=bool(src_is_causal))
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, dtype: Any = np.float32) -> Tensor:
        """The causal float mask of size (sz, sz): −∞ above the diagonal (later positions), 0 elsewhere."""
        if isinstance(sz, bool) or not isinstance(sz, numbers.Integral) or sz < 0:
            raise DomainError(f"generate_square_subsequent_mask: sz must be a non-negative int, got {sz!r}")
        mask = np.triu(np.full((int(sz), int(sz)), -np.inf, dtype=dtype), 1)
        return Tensor(mask)


__all__ = ["Transformer", "TransformerDecoder", "TransformerDecoderLayer"]
