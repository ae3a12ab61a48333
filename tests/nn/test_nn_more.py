"""The recurrent cells, transposed convolutions, instance and local response norms, Bilinear, Fold/Unfold,
ChannelShuffle, ParameterList/ParameterDict and the margin and likelihood losses against PyTorch 2.13 with the same
weights (PyTorch's state dict loaded): outputs, input gradients and every parameter gradient, float64 and float32;
and central differences."""

from __future__ import annotations

import numpy as np
import pytest
from test_nn_normalization import TOL, _layer_agrees, _same_weights, _step

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

LAYERS = {  # name -> (ours(dtype), theirs(torch), input shape)
    "RNNCell": (lambda d: nn.RNNCell(3, 5, dtype=d), lambda t: t.nn.RNNCell(3, 5), (4, 3)),
    "RNNCell-relu-nobias": (lambda d: nn.RNNCell(3, 5, False, "relu", dtype=d),
                            lambda t: t.nn.RNNCell(3, 5, False, "relu"), (4, 3)),
    "GRUCell": (lambda d: nn.GRUCell(3, 4, dtype=d), lambda t: t.nn.GRUCell(3, 4), (2, 3)),
    "GRUCell-unbatched": (lambda d: nn.GRUCell(3, 4, bias=False, dtype=d), lambda t: t.nn.GRUCell(3, 4, bias=False),
                          (3,)),
    "ConvTranspose2d": (lambda d: nn.ConvTranspose2d(3, 4, 3, dtype=d), lambda t: t.nn.ConvTranspose2d(3, 4, 3),
                        (2, 3, 4, 5)),
    "ConvTranspose2d-all": (lambda d: nn.ConvTranspose2d(4, 6, (3, 2), (2, 3), (1, 2), (1, 2), 2, dilation=(2, 1),
                                                         dtype=d),
                            lambda t: t.nn.ConvTranspose2d(4, 6, (3, 2), (2, 3), (1, 2), (1, 2), 2, dilation=(2, 1)),
                            (2, 4, 4, 3)),
    "ConvTranspose2d-outpad-past-padding": (  # output_padding 2 > padding 0: rows no input reaches (dilation 3)
        lambda d: nn.ConvTranspose2d(2, 2, 2, 1, 0, 2, bias=False, dilation=3, dtype=d),
        lambda t: t.nn.ConvTranspose2d(2, 2, 2, 1, 0, 2, bias=False, dilation=3), (1, 2, 3, 4)),
    "ConvTranspose2d-depthwise": (lambda d: nn.ConvTranspose2d(3, 3, 3, stride=2, padding=1, groups=3, dtype=d),
                                  lambda t: t.nn.ConvTranspose2d(3, 3, 3, stride=2, padding=1, groups=3),
                                  (2, 3, 3, 4)),
    "ConvTranspose1d": (lambda d: nn.ConvTranspose1d(2, 3, 4, dtype=d), lambda t: t.nn.ConvTranspose1d(2, 3, 4),
                        (2, 2, 5)),
    "ConvTranspose1d-all": (lambda d: nn.ConvTranspose1d(4, 2, 3, 2, 2, 1, 2, False, 2, dtype=d),
                            lambda t: t.nn.ConvTranspose1d(4, 2, 3, 2, 2, 1, 2, False, 2), (2, 4, 6)),
    "InstanceNorm1d": (lambda d: nn.InstanceNorm1d(3, dtype=d), lambda t: t.nn.InstanceNorm1d(3), (4, 3, 5)),
    "InstanceNorm1d-unbatched": (lambda d: nn.InstanceNorm1d(3, affine=True, dtype=d),
                                 lambda t: t.nn.InstanceNorm1d(3, affine=True), (3, 6)),
    "InstanceNorm2d-affine": (lambda d: nn.InstanceNorm2d(3, eps=1e-3, affine=True, dtype=d),
                              lambda t: t.nn.InstanceNorm2d(3, eps=1e-3, affine=True), (2, 3, 4, 5)),
    "LocalResponseNorm": (lambda d: nn.LocalResponseNorm(3), lambda t: t.nn.LocalResponseNorm(3), (2, 5, 3)),
    "LocalResponseNorm-4d": (lambda d: nn.LocalResponseNorm(4, 0.5, 0.6, 2.0),
                             lambda t: t.nn.LocalResponseNorm(4, 0.5, 0.6, 2.0), (2, 6, 3, 2)),
    "LocalResponseNorm-5d": (lambda d: nn.LocalResponseNorm(2, 0.3), lambda t: t.nn.LocalResponseNorm(2, 0.3),
                             (1, 3, 2, 2, 3)),
    "Unfold": (lambda d: nn.Unfold((2, 3), 2, 1, (1, 2)), lambda t: t.nn.Unfold((2, 3), 2, 1, (1, 2)), (2, 3, 6, 7)),
    "Fold": (lambda d: nn.Fold((5, 6), 2, 1, 1, 2), lambda t: t.nn.Fold((5, 6), 2, 1, 1, 2), (2, 12, 12)),
    "ChannelShuffle": (lambda d: nn.ChannelShuffle(3), lambda t: t.nn.ChannelShuffle(3), (2, 6, 2, 3)),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_agrees_with_torch(torch, name, dtype):
    make, make_t, shape = LAYERS[name]
    x = np.random.default_rng(len(name)).standard_normal(shape).astype(dtype)
    _layer_agrees(torch, make(np.dtype(dtype)), make_t(torch).to(getattr(torch, dtype)), x, TOL[dtype])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("momentum", [0.3, None])
@pytest.mark.parametrize("dims", [1, 2])
def test_instance_norm_running_statistics_agree_with_torch(torch, dims, momentum, dtype):
    shape = (3, 4, 5) if dims == 1 else (3, 4, 3, 2)
    ours = getattr(nn, f"InstanceNorm{dims}d")(4, momentum=momentum, affine=True, track_running_stats=True,
                                                 dtype=dtype)
    theirs = getattr(torch.nn, f"InstanceNorm{dims}d")(4, momentum=momentum, affine=True,
                                                       track_running_stats=True).to(getattr(torch, dtype))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _same_weights(torch, ours, theirs)
    rng = np.random.default_rng(dims)
    for step in range(2):  # training: the instances' statistics, the running ones updated (buffers compared)
        _step(torch, ours, theirs, (2 * rng.standard_normal(shape) + 1).astype(dtype), TOL[dtype], step)
    ours.eval()
    theirs.eval()  # evaluation: the running statistics normalize
    _step(torch, ours, theirs, (2 * rng.standard_normal(shape)).astype(dtype), TOL[dtype], 5)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_lstm_cell_and_a_given_state_agree_with_torch(torch, bias, batched, dtype):
    ours, theirs = nn.LSTMCell(3, 4, bias, dtype=dtype), torch.nn.LSTMCell(3, 4, bias).to(getattr(torch, dtype))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _same_weights(torch, ours, theirs)
    rng = np.random.default_rng(1)
    lead = (2,) if batched else ()
    arrays = [rng.standard_normal(lead + (n,)).astype(dtype) for n in (3, 4, 4)]
    ins, ins_t = [cr.tensor(a, requires_grad=True) for a in arrays], [torch.tensor(a, requires_grad=True)
                                                                      for a in arrays]
    (h, c), (h_t, c_t) = ours(ins[0], (ins[1], ins[2])), theirs(ins_t[0], (ins_t[1], ins_t[2]))
    for a, b in ((h, h_t), (c, c_t)):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), **TOL[dtype])
    u, v = rng.standard_normal(h.shape).astype(dtype), rng.standard_normal(h.shape).astype(dtype)
    ((h * u).sum() + (c * v).sum()).backward()
    ((h_t * torch.from_numpy(u)).sum() + (c_t * torch.from_numpy(v)).sum()).backward()
    for a, b in zip(ins, ins_t, strict=True):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **TOL[dtype])
    params_t = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), params_t[name].grad.numpy(), **TOL[dtype], err_msg=name)


@pytest.mark.parametrize("name", ["RNNCell", "GRUCell"])
def test_cells_carry_a_given_state_over_steps_as_torch(torch, name):
    ours, theirs = getattr(nn, name)(3, 4, dtype="float64"), getattr(torch.nn, name)(3, 4).double()
    _same_weights(torch, ours, theirs)
    rng = np.random.default_rng(2)
    xs, h0 = rng.standard_normal((3, 2, 3)), rng.standard_normal((2, 4))
    h, h_t = cr.tensor(h0, requires_grad=True), torch.tensor(h0, requires_grad=True)
    first, first_t = h, h_t
    for x in xs:  # three steps, each cell's output the next one's state
        h, h_t = ours(x, h), theirs(torch.tensor(x), h_t)
    h.sum().backward()
    h_t.sum().backward()
    np.testing.assert_allclose(h.numpy(), h_t.detach().numpy(), **TOL["float64"])
    np.testing.assert_allclose(first.grad.numpy(), first_t.grad.numpy(), **TOL["float64"])


def test_initialisation_uses_torchs_uniform_bounds():
    cell = nn.GRUCell(5, 16, seed=0)
    for name, p in cell.named_parameters():
        assert p.shape[0] == 48 and np.abs(p.numpy()).max() <= 0.25, name  # 1/√16
        assert np.abs(p.numpy()).max() > 0.2, name  # spread over the whole range, not a narrower one
    bilinear = nn.Bilinear(4, 9, 30, seed=0)  # PyTorch's bound 1/√in1_features = 0.5, for weight and bias
    for p in (bilinear.weight, bilinear.bias):
        assert 0.45 < np.abs(p.numpy()).max() <= 0.5
    up = nn.ConvTranspose2d(2, 8, 3, groups=2, seed=0)  # fan_in from the weight's (2, 4, 3, 3): 4·9, bound 1/6
    for p in (up.weight, up.bias):
        assert 0.12 < np.abs(p.numpy()).max() <= 1 / 6


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("lead", [(4,), (2, 3), ()])
def test_bilinear_agrees_with_torch(torch, lead, bias, dtype):
    ours, theirs = nn.Bilinear(3, 5, 2, bias, dtype=dtype), torch.nn.Bilinear(3, 5, 2, bias).to(getattr(torch, dtype))
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    _same_weights(torch, ours, theirs)
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal(lead + (3,)).astype(dtype), rng.standard_normal(lead + (5,)).astype(dtype)
    x1, x2 = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    t1, t2 = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    out, out_t = ours(x1, x2), theirs(t1, t2)
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), **TOL[dtype])
    w = rng.standard_normal(out.shape).astype(dtype)
    (out * w).sum().backward()
    (out_t * torch.from_numpy(w)).sum().backward()
    for ours_x, their_x in ((x1, t1), (x2, t2), (ours.weight, theirs.weight)):
        np.testing.assert_allclose(ours_x.grad.numpy(), their_x.grad.numpy(), **TOL[dtype])


X = np.random.default_rng(5).standard_normal((2, 4, 3, 4))


@pytest.mark.parametrize("f, w_shape", [
    (lambda x, w: F.conv_transpose2d(x, w, None, 2, 1, 1, 2, (1, 2)), (4, 3, 3, 2)),
    (lambda x, w: F.conv_transpose2d(x, w, w[0, 0, 0], (1, 3), (2, 0), (0, 2), 1, 2), (4, 2, 3, 2)),
    (lambda x, w: F.conv_transpose1d(x[:, :, 0], w[:, :, 0], None, 3, 1, 2, 4), (4, 1, 1, 3)),
    (lambda x, w: F.instance_norm(x, weight=w[:, 0, 0, 0], bias=w[:, 0, 0, 1]), (4, 1, 1, 2)),
    (lambda x, w: F.local_response_norm(x * w.sum(), 3, 0.7, 0.5, 1.5), (2,)),
    (lambda x, w: F.bilinear(x, x[..., :2] * 2, w), (2, 4, 2)),
], ids=["transpose2d", "transpose2d-bias-outpad", "transpose1d", "instance_norm", "lrn", "bilinear"])
def test_functional_forms_agree_with_central_differences(f, w_shape):
    w = np.random.default_rng(6).standard_normal(w_shape)
    weights = np.random.default_rng(0).standard_normal(np.shape(f(cr.tensor(X), cr.tensor(w))))
    assert cr.gradcheck(lambda x, w: f(x, w) * weights, cr.tensor(X), cr.tensor(w), atol=1e-8, rtol=1e-6)


def test_conv_transpose2d_is_the_adjoint_of_conv2d():
    """⟨conv(x), y⟩ = ⟨x, conv_transpose(y)⟩ with the same kernel and arguments: a check that needs no torch."""
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((2, 4, 9, 8)), rng.standard_normal((6, 2, 3, 2))
    y = F.conv2d(x, w, None, (2, 3), (1, 2), (2, 1), 2)
    r = rng.standard_normal(y.shape)
    back = F.conv_transpose2d(r, w, None, (2, 3), (1, 2), (0, 1), 2, (2, 1))
    assert back.shape == x.shape
    np.testing.assert_allclose(np.vdot(y.numpy(), r), np.vdot(x, back.numpy()), rtol=1e-13)


def test_parameter_containers_register_as_torch(torch):
    class Net(nn.Module):
        def __init__(self, lib, make):
            super().__init__()
            self.plist = lib.ParameterList([make(np.ones(2)), make(np.zeros((2, 3)))])
            self.pdict = lib.ParameterDict({"scale": make(np.ones(3)), "shift": make(np.zeros(3))})

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            wrap = torch.nn.Parameter
            self.plist = torch.nn.ParameterList([wrap(torch.ones(2)), wrap(torch.zeros(2, 3))])
            self.pdict = torch.nn.ParameterDict({"scale": wrap(torch.ones(3)), "shift": wrap(torch.zeros(3))})

    ours, theirs = Net(nn, cr.tensor), TorchNet()
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["plist.0", "plist.1", "pdict.scale",
                                                                    "pdict.shift"]
    assert all(isinstance(p, nn.Parameter) for p in ours.plist) and len(list(ours.parameters())) == 4
    ours.plist.append(np.full(4, 2.0))
    ours.pdict["bias"] = nn.Parameter(np.zeros(1))
    assert [n for n, _ in ours.named_parameters()] == ["plist.0", "plist.1", "plist.2", "pdict.scale",
                                                        "pdict.shift", "pdict.bias"]
    assert ours.plist[-1].numpy().tolist() == [2.0] * 4 and list(ours.pdict) == ["scale", "shift", "bias"]
    del ours.pdict["scale"]
    assert "scale" not in ours.pdict and "pdict.scale" not in ours.state_dict()
    ours.load_state_dict({**{k: v.numpy() * 0 + 7 for k, v in ours.state_dict().items()}})
    assert ours.plist[1].numpy().max() == 7 and ours.pdict["shift"].numpy().min() == 7


# ---------------------------------------------------------------------------------------------------------------
# Losses.
# ---------------------------------------------------------------------------------------------------------------
REDUCTIONS = ["mean", "sum", "none"]
LOSS_TOL = {"float64": dict(rtol=1e-11, atol=1e-13), "float32": dict(rtol=2e-5, atol=1e-6)}
RNG = np.random.default_rng(11)
A, B, C = (RNG.standard_normal((4, 5)) for _ in range(3))
SIGNS = np.where(RNG.random(4) < 0.5, -1.0, 1.0)
SIGNS45 = np.where(RNG.random((4, 5)) < 0.5, -1.0, 1.0)
COUNTS = RNG.poisson(2.0, (4, 5)).astype(float)  # zeros, ones and values above 1 (Stirling's term)
LABELS = np.array([0, 4, 2, 4])
TIES = np.array([[0.0, 1.0, -1.0, 0.5], [2.0, 1.0, 0.0, 0.0]])  # values at the kinks of the hinges


def _f(name):
    def call(*args, **kwargs):
        import torch

        return getattr(torch.nn.functional, name)(*args, **kwargs)

    return call


LOSSES = {  # name -> (ours(reduction), theirs(reduction), inputs (differentiable first, then constants))
    "poisson": (lambda r: lambda x, t: F.poisson_nll_loss(x, t, reduction=r),
                lambda r: lambda x, t: _f("poisson_nll_loss")(x, t, reduction=r), [A, COUNTS]),
    "poisson-rate-full": (lambda r: lambda x, t: nn.PoissonNLLLoss(False, True, 1e-3, r)(x, t),
                          lambda r: lambda x, t: _f("poisson_nll_loss")(x, t, False, True, eps=1e-3, reduction=r),
                          [np.abs(A) + 0.01, COUNTS]),
    "gaussian": (lambda r: lambda x, t, v: F.gaussian_nll_loss(x, t, v, reduction=r),
                 lambda r: lambda x, t, v: _f("gaussian_nll_loss")(x, t, v, reduction=r),
                 [A, B, np.abs(C) + 0.1]),
    "gaussian-full-shared": (lambda r: lambda x, t, v: nn.GaussianNLLLoss(full=True, eps=0.5, reduction=r)(x, t, v),
                             lambda r: lambda x, t, v: _f("gaussian_nll_loss")(x, t, v, True, 0.5, r),
                             [A, B, np.abs(C[:, 0])]),  # var (4,): one per row; some clamped at 0.5
    "margin_ranking": (lambda r: lambda x, y, t: nn.MarginRankingLoss(0.5, r)(x, y, t),
                       lambda r: lambda x, y, t: _f("margin_ranking_loss")(x, y, t, 0.5, reduction=r),
                       [A[:, 0], B[:, 0], SIGNS]),
    "margin_ranking-ties": (lambda r: lambda x, y, t: F.margin_ranking_loss(x, y, t, 1.0, r),  # −y(x1 − x2) + 1 = 0
                            lambda r: lambda x, y, t: _f("margin_ranking_loss")(x, y, t, 1.0, reduction=r),
                            [TIES[0], TIES[0] - np.array([1, -1, 1, -1.0]), np.array([1, -1, 1, -1.0])]),
    "hinge_embedding": (lambda r: lambda x, t: nn.HingeEmbeddingLoss(0.8, r)(x, t),
                        lambda r: lambda x, t: _f("hinge_embedding_loss")(x, t, 0.8, reduction=r),
                        [A, np.where(SIGNS45 > 0, 1.0, -1.0)]),
    "hinge_embedding-ties": (lambda r: lambda x, t: F.hinge_embedding_loss(x, t, 1.0, r),
                             lambda r: lambda x, t: _f("hinge_embedding_loss")(x, t, 1.0, reduction=r),
                             [TIES, np.array([[-1, -1, 1, 0], [-1, 1, -1, 2.0]])]),  # other labels: both terms
    "soft_margin": (lambda r: lambda x, t: nn.SoftMarginLoss(r)(x, t),
                    lambda r: lambda x, t: _f("soft_margin_loss")(x, t, reduction=r), [3 * A, SIGNS45]),
    "multilabel_soft_margin": (lambda r: lambda x, t: nn.MultiLabelSoftMarginLoss(reduction=r)(x, t),
                               lambda r: lambda x, t: _f("multilabel_soft_margin_loss")(x, t, reduction=r),
                               [3 * A, (SIGNS45 > 0).astype(float)]),
    "multilabel_soft_margin-weight": (
        lambda r: lambda x, t: nn.MultiLabelSoftMarginLoss(np.arange(1.0, 6.0), r)(x, t),
        lambda r: lambda x, t: _f("multilabel_soft_margin_loss")(x, t, _t(np.arange(1.0, 6.0), x), reduction=r),
        [A, (SIGNS45 > 0).astype(float)]),
    "cosine_embedding": (lambda r: lambda x, y, t: nn.CosineEmbeddingLoss(0.1, r)(x, y, t),
                         lambda r: lambda x, y, t: _f("cosine_embedding_loss")(x, y, t, 0.1, reduction=r),
                         [A, B, SIGNS]),
    "cosine_embedding-one": (lambda r: lambda x, y, t: F.cosine_embedding_loss(x, y, t, -0.2, r),
                             lambda r: lambda x, y, t: _f("cosine_embedding_loss")(x, y, t, -0.2, reduction=r),
                             [A[0], B[0], np.array(-1.0)]),
    "triplet": (lambda r: lambda a, p, n: nn.TripletMarginLoss(reduction=r)(a, p, n),
                lambda r: lambda a, p, n: _f("triplet_margin_loss")(a, p, n, reduction=r), [A, B, C]),
    "triplet-p1-swap": (lambda r: lambda a, p, n: nn.TripletMarginLoss(2.0, 1, 1e-3, True, r)(a, p, n),
                        lambda r: lambda a, p, n: _f("triplet_margin_loss")(a, p, n, 2.0, 1, 1e-3, True,
                                                                            reduction=r), [A, B, A + 0.3 * C]),
    "triplet-p3": (lambda r: lambda a, p, n: F.triplet_margin_loss(a, p, n, 1.5, 3.0, reduction=r),
                   lambda r: lambda a, p, n: _f("triplet_margin_loss")(a, p, n, 1.5, 3.0, reduction=r), [A, B, C]),
    "multi_margin": (lambda r: lambda x, t: nn.MultiMarginLoss(reduction=r)(x, t),
                     lambda r: lambda x, t: _f("multi_margin_loss")(x, t, reduction=r), [A, LABELS]),
    "multi_margin-p2-weight": (
        lambda r: lambda x, t: nn.MultiMarginLoss(2, 0.7, np.arange(1.0, 6.0), r)(x, t),
        lambda r: lambda x, t: _f("multi_margin_loss")(x, t, 2, 0.7, _t(np.arange(1.0, 6.0), x), reduction=r),
        [A, LABELS]),
    "multi_margin-ties": (lambda r: lambda x, t: F.multi_margin_loss(x, t, 1, 1.0, reduction=r),  # z = 0 exactly
                          lambda r: lambda x, t: _f("multi_margin_loss")(x, t, 1, 1.0, reduction=r),
                          [np.array([[1.0, 0.0, 2.0], [0.5, -0.5, 0.25]]), np.array([0, 0])]),
    "multi_margin-one": (lambda r: lambda x, t: F.multi_margin_loss(x, t, 2, reduction=r),
                         lambda r: lambda x, t: _f("multi_margin_loss")(x, t, 2, reduction=r),
                         [A[0], np.array(3)]),
}


def _t(array, like):
    import torch

    return torch.tensor(array, dtype=like.dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_agrees_with_torch(torch, name, reduction, dtype):
    ours, theirs, arrays = LOSSES[name]
    ours, theirs = ours(reduction), theirs(reduction)
    n_grad = {"margin_ranking": 2, "margin_ranking-ties": 2, "cosine_embedding": 2, "cosine_embedding-one": 2,
              "gaussian": 3, "gaussian-full-shared": 3}.get(name, 3 if name.startswith("triplet") else 1)
    arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in arrays]
    ins = [cr.tensor(a, requires_grad=True) if i < n_grad else a for i, a in enumerate(arrays)]
    ins_t = [torch.tensor(a, requires_grad=i < n_grad) for i, a in enumerate(arrays)]
    out, out_t = ours(*ins), theirs(*ins_t)
    assert out.dtype == np.dtype(dtype) and out.shape == tuple(out_t.shape)
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), **LOSS_TOL[dtype])
    w = np.random.default_rng(0).standard_normal(out.shape).astype(dtype)
    (out * w).sum().backward()
    (out_t * torch.from_numpy(w)).sum().backward()
    for i in range(n_grad):
        np.testing.assert_allclose(ins[i].grad.numpy(), ins_t[i].grad.numpy(), **LOSS_TOL[dtype], err_msg=str(i))


@pytest.mark.parametrize("name", ["poisson-rate-full", "gaussian", "cosine_embedding", "triplet-p3",
                                  "multi_margin-p2-weight", "multilabel_soft_margin-weight", "soft_margin"])
def test_losses_agree_with_central_differences(name):
    ours, _, arrays = LOSSES[name]
    n_grad = {"gaussian": 3, "cosine_embedding": 2, "triplet-p3": 3}.get(name, 1)
    f = ours("sum")
    assert cr.gradcheck(lambda *xs: f(*xs, *arrays[n_grad:]), *[cr.tensor(a) for a in arrays[:n_grad]],
                        atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.conv_transpose2d(np.ones((1, 2, 3, 3)), np.ones((3, 1, 2, 2))), cr.ShapeError, "channels"),
    (lambda: F.conv_transpose2d(np.ones((1, 2, 3, 3)), np.ones((2, 1, 2, 2)), stride=2, output_padding=2),
     cr.DomainError, "output_padding"),
    (lambda: nn.ConvTranspose2d(4, 6, 3, groups=4), cr.DomainError, "groups"),
    (lambda: nn.ConvTranspose1d(2, 2, 3)(np.ones((1, 2, 3, 3))), cr.ShapeError, "length"),
    (lambda: nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect"), ValueError, "zeros"),
    (lambda: nn.InstanceNorm2d(3, affine=True)(np.ones((1, 4, 2, 2))), cr.ShapeError, "channels"),
    (lambda: F.instance_norm(np.ones((2, 3, 1))), cr.ShapeError, "more than one value"),
    (lambda: nn.InstanceNorm2d(3, track_running_stats=True)(np.ones((0, 3, 2, 2))), cr.ShapeError, "one sample"),
    (lambda: F.local_response_norm(np.ones((2, 3)), 2), cr.ShapeError, "3 or more"),
    (lambda: nn.Bilinear(2, 3, 4)(np.ones((5, 2)), np.ones((4, 3))), cr.ShapeError, "leading"),
    (lambda: nn.ChannelShuffle(4)(np.ones((1, 6, 2))), cr.DomainError, "dividing"),
    (lambda: nn.RNNCell(3, 4)(np.ones((2, 3)), np.ones((3, 4))), cr.ShapeError, "hx"),
    (lambda: nn.LSTMCell(3, 4)(np.ones((2, 3)), np.ones((2, 4))), TypeError, "pair"),
    (lambda: nn.GRUCell(3, 4)(np.ones((2, 5))), cr.ShapeError, "input"),
    (lambda: nn.RNNCell(3, 4, nonlinearity="gelu"), cr.DomainError, "nonlinearity"),
    (lambda: nn.ParameterList()[0], IndexError, "out of range"),
    (lambda: nn.ParameterDict({"a.b": np.ones(1)}), KeyError, "without '.'"),
    (lambda: F.gaussian_nll_loss(A, B, -np.ones((4, 5))), cr.DomainError, "negative"),
    (lambda: F.gaussian_nll_loss(A, B, np.ones((2, 5))), cr.ShapeError, "var of shape"),
    (lambda: F.multi_margin_loss(A, LABELS, p=3), cr.DomainError, "1 or 2"),
    (lambda: F.multi_margin_loss(A, np.array([0, 5, 1, 1])), cr.DomainError, "out of range"),
    (lambda: F.triplet_margin_loss(A, B, C[:3]), cr.ShapeError, "one shape"),
    (lambda: F.cosine_embedding_loss(A, B, SIGNS[:3]), cr.ShapeError, "target"),
    (lambda: F.margin_ranking_loss(A, B, SIGNS), cr.ShapeError, "target"),
    (lambda: F.soft_margin_loss(A, B, "avg"), ValueError, "reduction"),
    (lambda: F.pairwise_distance(A, B, p=0), cr.DomainError, "positive"),
])
def test_bad_input_gets_a_clear_error(call, error, words):
    with pytest.raises(error, match=words):
        call()
