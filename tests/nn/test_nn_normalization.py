"""Activations, Embedding and the normalization layers against PyTorch 2.13 with the same weights (loaded from
PyTorch's own state dict): outputs, input gradients, every parameter gradient and the running statistics, in
float64 and float32; and their functional forms against central differences."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

TOL = {"float64": dict(rtol=1e-10, atol=1e-12), "float32": dict(rtol=2e-5, atol=2e-6)}

# name -> (ours(dtype), theirs(torch), input shape); inputs are standard normal times 2
LAYERS = {
    "GELU": (lambda d: nn.GELU(), lambda t: t.nn.GELU(), (4, 5)),
    "GELU-tanh": (lambda d: nn.GELU("tanh"), lambda t: t.nn.GELU("tanh"), (4, 5)),
    "SiLU": (lambda d: nn.SiLU(), lambda t: t.nn.SiLU(), (4, 5)),
    "Softplus": (lambda d: nn.Softplus(), lambda t: t.nn.Softplus(), (4, 5)),
    "Softplus-beta": (lambda d: nn.Softplus(beta=2.0, threshold=3.0),
                      lambda t: t.nn.Softplus(beta=2.0, threshold=3.0), (4, 5)),
    "LayerNorm": (lambda d: nn.LayerNorm(6, dtype=d), lambda t: t.nn.LayerNorm(6), (4, 6)),
    "LayerNorm-2d": (lambda d: nn.LayerNorm((3, 4), eps=1e-3, dtype=d), lambda t: t.nn.LayerNorm((3, 4), eps=1e-3),
                     (2, 5, 3, 4)),
    "LayerNorm-nobias": (lambda d: nn.LayerNorm(6, bias=False, dtype=d), lambda t: t.nn.LayerNorm(6, bias=False),
                         (4, 6)),
    "LayerNorm-noaffine": (lambda d: nn.LayerNorm(6, elementwise_affine=False, dtype=d),
                           lambda t: t.nn.LayerNorm(6, elementwise_affine=False), (3, 6)),
    "RMSNorm": (lambda d: nn.RMSNorm(6, dtype=d), lambda t: t.nn.RMSNorm(6), (4, 6)),
    "RMSNorm-eps": (lambda d: nn.RMSNorm((3, 4), eps=1e-3, dtype=d), lambda t: t.nn.RMSNorm((3, 4), eps=1e-3),
                    (2, 3, 4)),
    "GroupNorm": (lambda d: nn.GroupNorm(2, 6, dtype=d), lambda t: t.nn.GroupNorm(2, 6), (4, 6, 5)),
    "GroupNorm-nobias": (lambda d: nn.GroupNorm(2, 6, dtype=d, bias=False), lambda t: t.nn.GroupNorm(2, 6, bias=False),
                         (4, 6, 5)),
    "BatchNorm2d-nobias": (lambda d: nn.BatchNorm2d(3, dtype=d, bias=False), lambda t: t.nn.BatchNorm2d(3, bias=False),
                           (4, 3, 2, 5)),
    "GroupNorm-noaffine": (lambda d: nn.GroupNorm(3, 6, affine=False, dtype=d),
                           lambda t: t.nn.GroupNorm(3, 6, affine=False), (2, 6, 2, 3)),
    "BatchNorm1d": (lambda d: nn.BatchNorm1d(6, dtype=d), lambda t: t.nn.BatchNorm1d(6), (8, 6)),
    "BatchNorm1d-3d": (lambda d: nn.BatchNorm1d(6, momentum=0.3, dtype=d), lambda t: t.nn.BatchNorm1d(6, momentum=0.3),
                       (4, 6, 5)),
    "BatchNorm1d-cumulative": (lambda d: nn.BatchNorm1d(6, momentum=None, dtype=d),
                               lambda t: t.nn.BatchNorm1d(6, momentum=None), (5, 6)),
    "BatchNorm2d": (lambda d: nn.BatchNorm2d(3, dtype=d), lambda t: t.nn.BatchNorm2d(3), (4, 3, 5, 5)),
    "BatchNorm2d-untracked": (lambda d: nn.BatchNorm2d(3, affine=False, track_running_stats=False, dtype=d),
                              lambda t: t.nn.BatchNorm2d(3, affine=False, track_running_stats=False), (4, 3, 2, 3)),
}


def _same_weights(torch, ours, theirs, scale=1.0):
    """Random weights in PyTorch's module; its state dict (as arrays) loaded into ours: the keys must match."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def _layer_agrees(torch, ours, theirs, x, tol):
    """A layer and its PyTorch twin: the same state dict names and shapes; with the same weights, one step equal."""
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    _same_weights(torch, ours, theirs)
    _step(torch, ours, theirs, x, tol, 0)


def _step(torch, ours, theirs, x, tol, seed):
    """One forward and backward (with a random upstream gradient) in both; everything compared."""
    xt = torch.tensor(x, requires_grad=x.dtype.kind == "f")
    xc = cr.tensor(x, requires_grad=x.dtype.kind == "f")
    out, out_t = ours(xc), theirs(xt)
    assert out.dtype == x.dtype if x.dtype.kind == "f" else True
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), **tol)
    w = np.random.default_rng(seed).standard_normal(out.shape).astype(out.dtype)
    (out * w).sum().backward()
    (out_t * torch.from_numpy(w)).sum().backward()
    if x.dtype.kind == "f":
        np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), **tol)
    params_t = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert p.grad.dtype == p.dtype
        np.testing.assert_allclose(p.grad.numpy(), params_t[name].grad.numpy(), **tol, err_msg=name)
        p.grad = None
        params_t[name].grad = None
    buffers_t = dict(theirs.named_buffers())
    assert set(dict(ours.named_buffers())) == set(buffers_t)
    for name, b in ours.named_buffers():
        np.testing.assert_allclose(b.numpy(), buffers_t[name].numpy(), **tol, err_msg=name)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_agrees_with_torch(torch, name, dtype):
    make, make_t, shape = LAYERS[name]
    ours, theirs = make(np.dtype(dtype)), make_t(torch).to(getattr(torch, dtype))
    _same_weights(torch, ours, theirs)
    rng = np.random.default_rng(len(name))
    for step in range(3):  # training steps: batch statistics, and running statistics updated each time
        _step(torch, ours, theirs, (2 * rng.standard_normal(shape)).astype(dtype), TOL[dtype], step)
    ours.eval()
    theirs.eval()
    _step(torch, ours, theirs, (2 * rng.standard_normal(shape)).astype(dtype), TOL[dtype], 9)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_agrees_with_torch(torch, dtype, padding_idx):
    ours = nn.Embedding(10, 4, padding_idx=padding_idx, dtype=dtype)
    theirs = torch.nn.Embedding(10, 4, padding_idx=padding_idx).to(getattr(torch, dtype))
    _same_weights(torch, ours, theirs)
    index = np.array([[2, 3, 9], [2, 0, 3]])  # repeats: their gradients add up
    _step(torch, ours, theirs, index, TOL[dtype], 0)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("options", [{"scale_grad_by_freq": True}, {"max_norm": 1.5},
                                     {"max_norm": 2.0, "norm_type": 1.0, "scale_grad_by_freq": True, "padding_idx": 3},
                                     {"sparse": True}], ids=["freq", "max_norm", "all", "sparse"])
def test_embedding_options_agree_with_torch(torch, dtype, options):
    ours = nn.Embedding(10, 4, dtype=dtype, **options)
    theirs = torch.nn.Embedding(10, 4, **options).to(getattr(torch, dtype))
    _same_weights(torch, ours, theirs)
    index = np.array([[2, 3, 9, 3], [2, 0, 3, 5]])  # repeats: their frequencies scale the gradient
    for step in range(2):  # max_norm rescales the picked rows in place, in both, before each lookup
        out, out_t = ours(index), theirs(torch.from_numpy(index))
        np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), **TOL[dtype])
        w = np.random.default_rng(step).standard_normal(out.shape).astype(dtype)
        (out * w).sum().backward()
        (out_t * torch.from_numpy(w)).sum().backward()
        grad_t = theirs.weight.grad.to_dense() if theirs.weight.grad.is_sparse else theirs.weight.grad
        np.testing.assert_allclose(ours.weight.grad.numpy(), grad_t.numpy(), **TOL[dtype])
        np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.detach().numpy(), **TOL[dtype])
        ours.weight.grad, theirs.weight.grad = None, None


def test_embedding_max_norm_rescaling_is_seen_by_the_version_counter():
    emb = nn.Embedding(4, 2, max_norm=0.5, seed=0)
    table = emb.weight * emb.weight  # a node that saved the weight's values
    emb(np.array([1]))  # rescales row 1 in place
    with pytest.raises(cr.GraphError, match="changed"):
        table.sum().backward()


def test_fresh_layers_start_as_torch_does(torch):
    """Initial values and buffers equal PyTorch's for the layers whose initialisation is not random."""
    pairs = [(nn.LayerNorm(5), torch.nn.LayerNorm(5)), (nn.RMSNorm(5), torch.nn.RMSNorm(5)),
             (nn.GroupNorm(2, 4), torch.nn.GroupNorm(2, 4)), (nn.BatchNorm2d(3), torch.nn.BatchNorm2d(3))]
    for ours, theirs in pairs:
        state, state_t = ours.state_dict(), theirs.state_dict()
        assert list(state) == list(state_t)
        for k in state:
            assert state[k].shape == tuple(state_t[k].shape)
            assert str(state[k].dtype) == str(state_t[k].dtype).removeprefix("torch.")
            np.testing.assert_array_equal(state[k].numpy(), state_t[k].numpy())
    emb = nn.Embedding(6, 3, padding_idx=1, seed=0)
    assert np.all(emb.weight.numpy()[1] == 0) and np.all(emb.weight.numpy()[0] != 0)


X = np.random.default_rng(3).standard_normal((4, 6)) * 2


@pytest.mark.parametrize("f", [
    lambda x: F.gelu(x), lambda x: F.gelu(x, approximate="tanh"), lambda x: F.silu(x),
    lambda x: F.softplus(x, beta=0.5, threshold=1.0), lambda x: F.layer_norm(x, 6, x[0] * 0 + 1.5, x[1]),
    lambda x: F.rms_norm(x, (6,), x[2]), lambda x: F.group_norm(x.reshape(2, 6, 2), 3, x[0], x[1]),
    lambda x: F.batch_norm(x, None, None, x[0], x[1], training=True),
    lambda x: F.batch_norm(x.reshape(2, 3, 4), np.zeros(3), np.ones(3), None, None, training=True, momentum=0.2),
    lambda x: F.batch_norm(x, np.arange(6.0), np.arange(1.0, 7.0), x[0], None, training=False),
    lambda x: F.embedding(np.array([[0, 3], [3, 1]]), x),  # (padding rows get no gradient by design: not FD)
], ids=["gelu", "gelu-tanh", "silu", "softplus", "layer_norm", "rms_norm", "group_norm", "batch_norm",
        "batch_norm-3d", "batch_norm-eval", "embedding"])
def test_functional_forms_agree_with_central_differences(f):
    weights = np.random.default_rng(0).standard_normal(np.shape(f(cr.tensor(X))))
    assert cr.gradcheck(lambda x: f(x) * weights, cr.tensor(X), atol=1e-8, rtol=1e-6)


def test_second_order_through_layer_norm_and_gelu(torch):
    x = np.random.default_rng(4).standard_normal((3, 5))
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.gelu(torch.nn.functional.layer_norm(xt, (5,))) ** 2
    (gt,) = torch.autograd.grad(yt.sum(), xt, create_graph=True)
    (hvt,) = torch.autograd.grad((gt * torch.from_numpy(x)).sum(), xt)
    g = cr.grad(lambda x: (F.gelu(F.layer_norm(x, 5)) ** 2).sum())
    hv = cr.grad(lambda x: (g(x) * x.detach()).sum())(cr.tensor(x))
    np.testing.assert_allclose(hv.numpy(), hvt.numpy(), rtol=1e-10, atol=1e-12)


def test_one_hot_and_running_statistics_with_functional_batch_norm(torch):
    labels = np.array([[0, 2], [1, 2]])
    np.testing.assert_array_equal(F.one_hot(labels).numpy(), torch.nn.functional.one_hot(torch.from_numpy(labels)))
    assert F.one_hot(labels, 5).shape == (2, 2, 5) and F.one_hot(labels).dtype == np.int64
    x = np.random.default_rng(5).standard_normal((6, 3))
    mean, var = np.zeros(3), np.ones(3)
    mean_t, var_t = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    F.batch_norm(x, mean, var, training=True, momentum=0.25)
    torch.nn.functional.batch_norm(torch.from_numpy(x), mean_t, var_t, training=True, momentum=0.25)
    np.testing.assert_allclose(mean, mean_t.numpy(), rtol=1e-14)
    np.testing.assert_allclose(var, var_t.numpy(), rtol=1e-14)


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.layer_norm(np.ones((2, 3)), 4), cr.ShapeError, "normalized_shape"),
    (lambda: F.group_norm(np.ones((2, 6, 3)), 4), cr.DomainError, "divisor"),
    (lambda: F.batch_norm(np.ones((1, 3)), None, None, training=True), cr.ShapeError, "more than one value"),
    (lambda: F.batch_norm(np.ones((2, 3)), None, None), ValueError, "running_mean"),
    (lambda: F.embedding(np.array([5]), cr.ones(5, 2)), cr.DomainError, "out of range"),
    (lambda: F.embedding(np.array([0.5]), cr.ones(5, 2)), TypeError, "integers"),
    (lambda: F.gelu(np.ones(2), approximate="fast"), ValueError, "approximate"),
    (lambda: F.one_hot(np.array([3]), 2), cr.DomainError, "does not fit"),
    (lambda: nn.BatchNorm2d(3)(np.ones((2, 3, 4))), cr.ShapeError, "4 dimensions"),
    (lambda: nn.BatchNorm1d(3, momentum=2), cr.DomainError, "momentum"),
])
def test_bad_input_gets_a_clear_error(call, error, words):
    with pytest.raises(error, match=words):
        call()
