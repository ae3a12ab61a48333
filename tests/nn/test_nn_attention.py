"""scaled_dot_product_attention and MultiheadAttention against PyTorch 2.13 (same weights, from PyTorch's state dict):
outputs, attention weights, the gradients of query, key, value and of every parameter, float64 and float32."""

from __future__ import annotations

import numpy as np
import pytest
from test_nn_normalization import TOL, _same_weights

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn


def _grads_agree(torch, ours, theirs, arrays, dtype, params=()):
    """ours(*Tensors) and theirs(*torch tensors) return a tuple of outputs; all compared, and the gradients of
    every input and of ``params`` (pairs of our and their parameters) for a random weighting of the first output."""
    xs = [cr.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    ts = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    outs, outs_t = ours(*xs), theirs(*ts)
    for o, ot in zip(outs, outs_t, strict=True):
        if ot is None:
            assert o is None
            continue
        assert o.dtype == np.dtype(dtype)
        np.testing.assert_allclose(o.numpy(), ot.detach().numpy(), **TOL[dtype])
    w = np.random.default_rng(0).standard_normal(outs[0].shape).astype(dtype)
    (outs[0] * w).sum().backward()
    (outs_t[0] * torch.from_numpy(w)).sum().backward()
    for x, t in zip(xs, ts, strict=True):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **TOL[dtype])
    for (name, p), (name_t, pt) in params:
        assert name == name_t
        np.testing.assert_allclose(p.grad.numpy(), pt.grad.numpy(), **TOL[dtype], err_msg=name)


RNG = np.random.default_rng(11)
BOOL_MASK = RNG.random((4, 6)) < 0.6
BOOL_MASK[:, 0] = True  # every query attends somewhere
SDPA = {  # name -> (shapes of q, k, v, keyword arguments)
    "plain": (((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7)), {}),
    "causal": (((2, 4, 5), (2, 4, 5), (2, 4, 3)), {"is_causal": True}),
    "causal-rectangular": (((2, 4, 5), (2, 6, 5), (2, 6, 3)), {"is_causal": True}),
    "bool-mask": (((2, 4, 5), (2, 6, 5), (2, 6, 3)), {"attn_mask": BOOL_MASK}),
    "float-mask": (((3, 4, 5), (3, 6, 5), (3, 6, 2)), {"attn_mask": RNG.standard_normal((3, 4, 6))}),
    "scale": (((4, 5), (6, 5), (6, 2)), {"scale": 0.3}),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(SDPA))
def test_scaled_dot_product_attention(torch, name, dtype):
    shapes, kwargs = SDPA[name]
    arrays = [np.random.default_rng(i).standard_normal(s) for i, s in enumerate(shapes)]
    kwargs_t = dict(kwargs)
    if "attn_mask" in kwargs:
        mask = kwargs["attn_mask"]
        kwargs = {**kwargs, "attn_mask": mask if mask.dtype == bool else mask.astype(dtype)}
        kwargs_t["attn_mask"] = torch.from_numpy(kwargs["attn_mask"])
    _grads_agree(torch, lambda q, k, v: (F.scaled_dot_product_attention(q, k, v, **kwargs),),
                 lambda q, k, v: (torch.nn.functional.scaled_dot_product_attention(q, k, v, **kwargs_t),),
                 arrays, dtype)


PAD = np.array([[False, False, True, False, False, True], [False, True, False, False, False, False]])
MHA = {  # name -> (batch_first, shapes of q, k, v (batch 2, L 4, S 6, E 8), forward keyword arguments)
    "self-batch-first": (True, ((2, 4, 8),) * 3, {}),
    "cross-seq-first": (False, ((4, 2, 8), (6, 2, 8), (6, 2, 8)), {}),
    "unbatched": (True, ((4, 8), (6, 8), (6, 8)), {"average_attn_weights": False}),
    "masks": (True, ((2, 4, 8), (2, 6, 8), (2, 6, 8)), {"attn_mask": ~BOOL_MASK, "key_padding_mask": PAD}),
    "float-mask-per-head": (False, ((4, 2, 8), (6, 2, 8), (6, 2, 8)),
                            {"attn_mask": RNG.standard_normal((4, 4, 6)), "average_attn_weights": False}),
    "causal-no-weights": (True, ((2, 4, 8),) * 3,
                          {"attn_mask": ~np.tril(np.ones((4, 4), bool)), "is_causal": True, "need_weights": False}),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(MHA))
def test_multihead_attention(torch, name, dtype):
    batch_first, shapes, kwargs = MHA[name]
    ours = nn.MultiheadAttention(8, 2, batch_first=batch_first, dtype=dtype)
    theirs = torch.nn.MultiheadAttention(8, 2, batch_first=batch_first).to(getattr(torch, dtype))
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    _same_weights(torch, ours, theirs, scale=0.3)  # N(0, 1) weights saturate the softmax: float32 loses digits
    kwargs = {k: (v.astype(dtype) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v)
              for k, v in kwargs.items()}
    kwargs_t = {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    arrays = [np.random.default_rng(i).standard_normal(s) for i, s in enumerate(shapes)]
    if name.startswith("self"):
        arrays = [arrays[0]]  # query = key = value: the gradients of the three uses add up
        ours_f, theirs_f = (lambda x: ours(x, x, x, **kwargs)), (lambda x: theirs(x, x, x, **kwargs_t))
    else:
        ours_f, theirs_f = (lambda *a: ours(*a, **kwargs)), (lambda *a: theirs(*a, **kwargs_t))
    _grads_agree(torch, ours_f, theirs_f, arrays, dtype,
                 zip(ours.named_parameters(), theirs.named_parameters(), strict=True))


MHA_OPTIONS = {  # constructor options, (query, key, value) shapes (batch_first), forward keywords
    "kdim-vdim": ({"kdim": 5, "vdim": 3}, ((2, 4, 8), (2, 6, 5), (2, 6, 3)), {"key_padding_mask": PAD}),
    "bias_kv": ({"add_bias_kv": True}, ((2, 4, 8), (2, 6, 8), (2, 6, 8)),
                {"attn_mask": ~BOOL_MASK, "key_padding_mask": PAD}),
    "zero_attn-float-mask": ({"add_zero_attn": True}, ((2, 4, 8), (2, 6, 8), (2, 6, 8)),
                             {"attn_mask": RNG.standard_normal((4, 6)), "average_attn_weights": False}),
    "all-nobias": ({"kdim": 6, "vdim": 4, "add_bias_kv": True, "add_zero_attn": True, "bias": False},
                   ((2, 4, 8), (2, 6, 6), (2, 6, 4)), {"attn_mask": ~BOOL_MASK, "key_padding_mask": PAD}),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(MHA_OPTIONS))
def test_multihead_attention_options(torch, name, dtype):
    options, shapes, kwargs = MHA_OPTIONS[name]
    ours = nn.MultiheadAttention(8, 2, batch_first=True, dtype=dtype, **options)
    theirs = torch.nn.MultiheadAttention(8, 2, batch_first=True, **options).to(getattr(torch, dtype))
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    _same_weights(torch, ours, theirs, scale=0.3)
    kwargs = {k: (v.astype(dtype) if v.dtype.kind == "f" else v) for k, v in kwargs.items()
              if isinstance(v, np.ndarray)}
    kwargs_t = {k: torch.from_numpy(v) for k, v in kwargs.items()}
    flags = {k: v for k, v in MHA_OPTIONS[name][2].items() if not isinstance(v, np.ndarray)}
    arrays = [np.random.default_rng(i).standard_normal(s) for i, s in enumerate(shapes)]
    _grads_agree(torch, lambda *a: ours(*a, **kwargs, **flags), lambda *a: theirs(*a, **kwargs_t, **flags), arrays,
                 dtype, zip(ours.named_parameters(), theirs.named_parameters(), strict=True))


def test_attention_by_central_differences():
    q, k, v = (cr.tensor(np.random.default_rng(i).standard_normal((2, 3, 4))) for i in range(3))
    w = np.random.default_rng(5).standard_normal((2, 3, 4))
    assert cr.gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True) * w, q, k, v,
                        atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.scaled_dot_product_attention(np.ones((2, 3)), np.ones((2, 4)), np.ones((2, 4))), cr.ShapeError,
     "query"),
    (lambda: F.scaled_dot_product_attention(np.ones((2, 3)), np.ones((2, 3)), np.ones((2, 3)),
                                            attn_mask=np.ones((3, 3), bool)), cr.ShapeError, "broadcast"),
    (lambda: nn.MultiheadAttention(6, 4), cr.DomainError, "divisible"),
    (lambda: nn.MultiheadAttention(4, 2)(np.ones((2, 3)), np.ones((2, 3)), np.ones((2, 3))), cr.ShapeError, "E = 4"),
])
def test_bad_input_gets_a_clear_error(call, error, words):
    with pytest.raises(error, match=words):
        call()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation, batch_first, masks", [("relu", True, True), ("gelu", False, False)])
def test_transformer_encoder_layer(torch, norm_first, activation, batch_first, masks, dtype):
    ours = nn.TransformerEncoderLayer(8, 2, dim_feedforward=12, dropout=0.0, activation=activation,
                                      batch_first=batch_first, norm_first=norm_first, dtype=dtype)
    theirs = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=12, dropout=0.0, activation=activation,
                                              batch_first=batch_first, norm_first=norm_first).to(getattr(torch, dtype))
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    _same_weights(torch, ours, theirs, scale=0.3)
    kwargs = {"src_mask": ~np.tril(np.ones((4, 4), bool)), "src_key_padding_mask": PAD[:, :4]} if masks else {}
    kwargs_t = {k: torch.from_numpy(v) for k, v in kwargs.items()}
    x = np.random.default_rng(2).standard_normal((2, 4, 8) if batch_first else (4, 2, 8))
    _grads_agree(torch, lambda x: (ours(x, **kwargs),), lambda x: (theirs(x, **kwargs_t),), [x], dtype,
                 zip(ours.named_parameters(), theirs.named_parameters(), strict=True))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("norm_first, final_norm, masks", [(True, True, True), (False, False, False),
                                                           (False, True, True)])
def test_transformer_encoder(torch, norm_first, final_norm, masks, dtype):
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=12, dropout=0.0, batch_first=True,
                                       norm_first=norm_first, dtype=dtype)
    ours = nn.TransformerEncoder(layer, num_layers=3, norm=nn.LayerNorm(8, dtype=dtype) if final_norm else None)
    layer_t = torch.nn.TransformerEncoderLayer(8, 2, dim_feedforward=12, dropout=0.0, batch_first=True,
                                               norm_first=norm_first)
    theirs = torch.nn.TransformerEncoder(layer_t, num_layers=3, norm=torch.nn.LayerNorm(8) if final_norm else None,
                                         enable_nested_tensor=False).to(getattr(torch, dtype))
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    # Copies start equal, as PyTorch's; then each layer gets its own weights.
    assert np.array_equal(ours.layers[0].linear1.weight.data, ours.layers[2].linear1.weight.data)
    assert ours.layers[0].linear1.weight is not ours.layers[2].linear1.weight
    _same_weights(torch, ours, theirs, scale=0.3)
    kwargs = {"mask": ~np.tril(np.ones((4, 4), bool)), "src_key_padding_mask": PAD[:, :4]} if masks else {}
    kwargs_t = {k: torch.from_numpy(v) for k, v in kwargs.items()}
    x = np.random.default_rng(3).standard_normal((2, 4, 8))
    _grads_agree(torch, lambda x: (ours(x, **kwargs),), lambda x: (theirs(x, **kwargs_t),), [x], dtype,
                 zip(ours.named_parameters(), theirs.named_parameters(), strict=True))


def test_transformer_encoder_bad_arguments():
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=12)
    with pytest.raises(cr.DomainError, match="num_layers must be a positive int, got 0"):
        nn.TransformerEncoder(layer, 0)
    with pytest.raises(TypeError, match="encoder_layer must be a Module"):
        nn.TransformerEncoder("layer", 2)
    with pytest.raises(TypeError, match="norm must be a Module or None"):
        nn.TransformerEncoder(layer, 2, norm="layer_norm")
