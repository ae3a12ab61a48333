"""RNN, LSTM and GRU against PyTorch 2.13 with the same weights (PyTorch's state dict loaded): outputs, final
states, the gradients of the input, of the initial states and of every parameter, float64 and float32."""

from __future__ import annotations

import numpy as np
import pytest
from test_nn_normalization import TOL, _same_weights

import chainrule as cr
from chainrule import nn

CASES = {  # name -> (constructor keyword arguments, input shape, with initial states)
    "one-layer": ({}, (5, 3, 4), False),
    "two-layers-states": ({"num_layers": 2}, (5, 3, 4), True),
    "bidirectional-batch-first": ({"bidirectional": True, "batch_first": True}, (3, 5, 4), True),
    "deep-bidirectional-nobias": ({"num_layers": 2, "bidirectional": True, "bias": False}, (4, 2, 4), False),
    "unbatched": ({"num_layers": 2}, (6, 4), True),
}
KINDS = {"RNN": (nn.RNN, "RNN"), "RNN-relu": (lambda *a, **k: nn.RNN(*a, nonlinearity="relu", **k), "RNN"),
         "LSTM": (nn.LSTM, "LSTM"), "GRU": (nn.GRU, "GRU")}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_recurrent_layer_agrees_with_torch(torch, kind, case, dtype):
    make, torch_name = KINDS[kind]
    kwargs, shape, with_states = CASES[case]
    ours = make(4, 6, dtype=dtype, **kwargs)
    extra = {"nonlinearity": "relu"} if kind == "RNN-relu" else {}
    theirs = getattr(torch.nn, torch_name)(4, 6, **kwargs, **extra).to(getattr(torch, dtype))
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    _same_weights(torch, ours, theirs, scale=0.4)
    rng = np.random.default_rng(len(kind + case))
    arrays = [rng.standard_normal(shape).astype(dtype)]
    if with_states:
        layers = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
        batch = () if len(shape) == 2 else (shape[0] if kwargs.get("batch_first") else shape[1],)
        states = 2 if torch_name == "LSTM" else 1
        arrays += [rng.standard_normal((layers, *batch, 6)).astype(dtype) for _ in range(states)]
    xs = [cr.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    hx = None if len(xs) == 1 else (xs[1] if len(xs) == 2 else tuple(xs[1:]))
    hx_t = None if len(ts) == 1 else (ts[1] if len(ts) == 2 else tuple(ts[1:]))
    out, state = ours(xs[0], hx)
    out_t, state_t = theirs(ts[0], hx_t)
    states, states_t = (state, state_t) if torch_name == "LSTM" else ((state,), (state_t,))
    loss, loss_t = 0, 0
    for k, (o, ot) in enumerate(zip((out, *states), (out_t, *states_t), strict=True)):
        assert o.dtype == np.dtype(dtype) and o.shape == tuple(ot.shape)
        np.testing.assert_allclose(o.numpy(), ot.detach().numpy(), **TOL[dtype])
        w = np.random.default_rng(k).standard_normal(o.shape).astype(dtype)
        loss, loss_t = loss + (o * w).sum(), loss_t + (ot * torch.from_numpy(w)).sum()
    loss.backward()
    loss_t.backward()
    for x, t in zip(xs, ts, strict=True):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), **TOL[dtype])
    for (name, p), (name_t, pt) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        assert name == name_t
        np.testing.assert_allclose(p.grad.numpy(), pt.grad.numpy(), **TOL[dtype], err_msg=name)


def test_lstm_by_central_differences():
    lstm = nn.LSTM(2, 3, num_layers=2, bidirectional=True, dtype="float64", seed=0)
    x = cr.tensor(np.random.default_rng(0).standard_normal((4, 2, 2)))
    w = np.random.default_rng(1).standard_normal((4, 2, 6))
    assert cr.gradcheck(lambda x: lstm(x)[0] * w, x, atol=1e-8, rtol=1e-6)


def test_dropout_between_layers_only_in_training():
    gru = nn.GRU(3, 4, num_layers=2, dropout=0.5, seed=0, dtype="float64")
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    assert not np.allclose(gru(x)[0].numpy(), gru(x)[0].numpy())  # fresh dropout masks each call
    gru.eval()
    np.testing.assert_array_equal(gru(x)[0].numpy(), gru(x)[0].numpy())


@pytest.mark.parametrize("call, error, words", [
    (lambda: nn.LSTM(3, 4)(np.ones((5, 2, 2))), cr.ShapeError, "input_size = 3"),
    (lambda: nn.GRU(3, 4, num_layers=2)(np.ones((5, 2, 3)), np.ones((1, 2, 4))), cr.ShapeError, "h_0"),
    (lambda: nn.RNN(3, 4, nonlinearity="gelu"), cr.DomainError, "nonlinearity"),
])
def test_bad_input_gets_a_clear_error(call, error, words):
    with pytest.raises(error, match=words):
        call()
