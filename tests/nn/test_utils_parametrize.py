"""nn.utils: parametrizations (orthogonal, weight_norm, spectral_norm), the hook versions, vectors, total norms,
fusion and functional_call, against torch==2.13 (values, gradients, state_dict keys) and central differences."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn.utils import parametrizations, parametrize


def pair(torch, make_ours, make_theirs):
    """Our layer with the reference's values (float64)."""
    theirs = make_theirs().double()
    ours = make_ours()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def compare_grads(ours, theirs, rtol=1e-10, atol=1e-12):
    got = {k: p.grad.numpy() for k, p in ours.named_parameters()}
    want = {k: p.grad.numpy() for k, p in theirs.named_parameters()}
    assert list(got) == list(want)
    for k in got:
        np.testing.assert_allclose(got[k], want[k], rtol=rtol, atol=atol, err_msg=k)


def run_both(torch, ours, theirs, shape, seed=0):
    x = np.random.default_rng(seed).standard_normal(shape)
    out, out_t = ours(cr.tensor(x)), theirs(torch.tensor(x))
    w = np.random.default_rng(seed + 1).standard_normal(out_t.shape)
    (out * cr.tensor(w)).sum().backward()
    (out_t * torch.tensor(w)).sum().backward()
    return out, out_t


@pytest.mark.parametrize("shape, orthogonal_map", [((4, 4), None), ((5, 3), None), ((3, 5), None),
                                                   ((4, 4), "cayley"), ((5, 3), "cayley"), ((3, 3), "householder")])
def test_orthogonal_equals_torch(torch, shape, orthogonal_map):
    def make_theirs():
        return torch.nn.utils.parametrizations.orthogonal(torch.nn.Linear(shape[1], shape[0]).double(),
                                                          orthogonal_map=orthogonal_map)

    theirs = make_theirs()
    ours = parametrizations.orthogonal(nn.Linear(shape[1], shape[0], dtype=np.float64),
                                       orthogonal_map=orthogonal_map)
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert sorted(state) == sorted(ours.state_dict())
    assert "parametrizations.weight.original" in state and "parametrizations.weight.0.base" in state
    # move the unconstrained weight away from −I so the map is exercised, the same on both sides (off the diagonal:
    # householder reads the diagonal's signs, truncated to ints as torch's .int())
    state["parametrizations.weight.original"] = state["parametrizations.weight.original"] + \
        0.3 * np.random.default_rng(3).standard_normal(shape) * (1 - np.eye(*shape))
    ours.load_state_dict(state)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    w = ours.weight.numpy()
    np.testing.assert_allclose(w, theirs.weight.detach().numpy(), rtol=1e-12, atol=1e-13)
    gram = w.T @ w if shape[0] >= shape[1] else w @ w.T
    np.testing.assert_allclose(gram, np.eye(min(shape)), atol=1e-13)
    run_both(torch, ours, theirs, (2, shape[1]))
    compare_grads(ours, theirs, rtol=1e-9, atol=1e-11)


def test_orthogonal_keeps_an_orthogonal_start_and_assigning_projects(torch):
    layer = nn.Linear(4, 4, dtype=np.float64, seed=0)
    q = np.linalg.qr(np.random.default_rng(0).standard_normal((4, 4)))[0]
    layer.weight.data = q.copy()
    parametrizations.orthogonal(layer)
    np.testing.assert_allclose(layer.weight.numpy(), q, atol=1e-14)
    original = layer.parametrizations.weight.original
    np.testing.assert_array_equal(original.numpy(), -np.eye(4))
    a = np.random.default_rng(1).standard_normal((4, 4))
    layer.weight = cr.tensor(a)  # right_inverse: base becomes a's QR, with R's diagonal positive
    qa, ra = np.linalg.qr(a)
    np.testing.assert_allclose(layer.weight.numpy(), qa * np.sign(np.diag(ra)), atol=1e-13)
    assert layer.parametrizations.weight.original is original  # the same Parameter object
    with pytest.raises(ValueError, match="matrix or batch of matrices"):
        parametrizations.orthogonal(nn.Linear(3, 3), "bias")
    with pytest.raises(ValueError, match='orthogonal_map has to be one of "matrix_exp"'):
        parametrizations.orthogonal(nn.Linear(3, 3), orthogonal_map="expm")


def test_matrix_exp_and_householder_product_equal_torch(torch):
    a = np.random.default_rng(0).standard_normal((2, 5, 5)) * 2.5
    np.testing.assert_allclose(parametrizations.matrix_exp(cr.tensor(a)).numpy(),
                               torch.linalg.matrix_exp(torch.tensor(a)).numpy(), rtol=1e-12, atol=1e-12)
    x = np.random.default_rng(1).standard_normal((5, 3))
    tau = np.random.default_rng(2).uniform(0.5, 1.5, 3)
    np.testing.assert_allclose(parametrizations.householder_product(cr.tensor(x), cr.tensor(tau)).numpy(),
                               torch.linalg.householder_product(torch.tensor(x), torch.tensor(tau)).numpy(),
                               rtol=1e-13, atol=1e-14)
    assert cr.gradcheck(lambda m: parametrizations.matrix_exp(m), cr.tensor(a[0] * 0.4, requires_grad=True),
                        atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_parametrization_equals_torch(torch, dim):
    theirs = torch.nn.utils.parametrizations.weight_norm(torch.nn.Conv1d(3, 4, 2).double(), dim=dim)
    ours = parametrizations.weight_norm(nn.Conv1d(3, 4, 2, dtype=np.float64), dim=dim)
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert list(ours.state_dict()) == list(state)  # bias, parametrizations.weight.original0 (g), original1 (v)
    ours.load_state_dict(state)
    np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.detach().numpy(), rtol=1e-14)
    run_both(torch, ours, theirs, (2, 3, 5))
    compare_grads(ours, theirs)
    parametrize.remove_parametrizations(ours, "weight")
    torch.nn.utils.parametrize.remove_parametrizations(theirs, "weight")
    assert type(ours) is nn.Conv1d and list(ours.state_dict()) == list(theirs.state_dict())
    np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.detach().numpy(), rtol=1e-14)


@pytest.mark.parametrize("make", ["linear", "conv_transpose"])
def test_spectral_norm_parametrization_equals_torch_with_the_same_u(torch, make):
    if make == "linear":
        theirs = torch.nn.utils.parametrizations.spectral_norm(torch.nn.Linear(5, 4).double())
        ours, shape = parametrizations.spectral_norm(nn.Linear(5, 4, dtype=np.float64)), (3, 5)
    else:
        theirs = torch.nn.utils.parametrizations.spectral_norm(torch.nn.ConvTranspose1d(2, 3, 2).double())
        ours, shape = parametrizations.spectral_norm(nn.ConvTranspose1d(2, 3, 2, dtype=np.float64)), (1, 2, 4)
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert sorted(ours.state_dict()) == sorted(state)
    assert {"parametrizations.weight.0._u", "parametrizations.weight.0._v"} <= set(state)
    ours.load_state_dict(state)
    for _ in range(2):  # training: one power iteration per access, on both sides
        run_both(torch, ours, theirs, shape)
    np.testing.assert_allclose(ours.parametrizations.weight[0]._u.numpy(),
                               theirs.parametrizations.weight[0]._u.numpy(), rtol=1e-12)
    compare_grads(ours, theirs, rtol=1e-9, atol=1e-11)
    ours.eval(), theirs.eval()
    np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.detach().numpy(), rtol=1e-12)
    sigma = np.linalg.svd(state["parametrizations.weight.original"].reshape(
        state["parametrizations.weight.original"].shape[0], -1), compute_uv=False)[0]
    assert sigma > 0


def test_hook_weight_norm_and_spectral_norm_equal_torch(torch):
    with pytest.warns(FutureWarning, match="parametrizations.weight_norm"):
        ours = nn.utils.weight_norm(nn.Linear(3, 4, dtype=np.float64))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        theirs = torch.nn.utils.weight_norm(torch.nn.Linear(3, 4).double())
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["bias", "weight_g", "weight_v"]
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    run_both(torch, ours, theirs, (2, 3))
    compare_grads(ours, theirs)
    with pytest.raises(RuntimeError, match="already a weight_norm hook"), pytest.warns(FutureWarning):
        nn.utils.weight_norm(ours)
    nn.utils.remove_weight_norm(ours)
    torch.nn.utils.remove_weight_norm(theirs)
    np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.detach().numpy(), rtol=1e-14)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["bias", "weight"]
    assert not ours.__dict__["_forward_pre_hooks"]

    ours = nn.utils.spectral_norm(nn.Linear(5, 3, dtype=np.float64))
    theirs = torch.nn.utils.spectral_norm(torch.nn.Linear(5, 3).double())
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    for _ in range(2):
        run_both(torch, ours, theirs, (2, 5))
    np.testing.assert_allclose(ours.weight_u.numpy(), theirs.weight_u.numpy(), rtol=1e-12)
    compare_grads(ours, theirs, rtol=1e-9, atol=1e-11)
    nn.utils.remove_spectral_norm(ours)
    torch.nn.utils.remove_spectral_norm(theirs)
    np.testing.assert_allclose(ours.weight.numpy(), theirs.weight.detach().numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="spectral_norm of 'weight' not found"):
        nn.utils.remove_spectral_norm(ours)


def test_register_parametrization_chains_caches_and_removes():
    class Double(nn.Module):
        calls = 0

        def forward(self, x):
            Double.calls += 1
            return x * 2

        def right_inverse(self, x):
            return x / 2

    layer = nn.Linear(2, 2, dtype=np.float64, seed=0)
    start = layer.weight.numpy().copy()
    param = layer.weight
    parametrize.register_parametrization(layer, "weight", Double())
    parametrize.register_parametrization(layer, "weight", Double())
    assert parametrize.is_parametrized(layer, "weight") and not parametrize.is_parametrized(layer, "bias")
    assert parametrize.type_before_parametrizations(layer) is nn.Linear
    assert layer.parametrizations.weight.original is param  # the same Parameter, its values changed
    np.testing.assert_allclose(param.numpy(), start / 2)  # only the first right_inverse at registration
    np.testing.assert_allclose(layer.weight.numpy(), start * 2)
    Double.calls = 0
    with parametrize.cached():
        first, second = layer.weight, layer.weight
    assert first is second
    assert Double.calls == 2  # one evaluation of the chain of two
    layer.weight = cr.tensor(np.ones((2, 2)))
    np.testing.assert_allclose(param.numpy(), np.full((2, 2), 0.25))
    layer(cr.ones(1, 2, dtype="float64")).sum().backward()
    np.testing.assert_allclose(param.grad.numpy(), np.full((2, 2), 4.0))  # d(4 p)/dp
    parametrize.remove_parametrizations(layer, "weight", leave_parametrized=False)
    assert type(layer) is nn.Linear and layer.weight is param
    np.testing.assert_allclose(layer.weight.numpy(), np.full((2, 2), 0.25))
    with pytest.raises(ValueError, match="has no parametrization on 'weight'"):
        parametrize.remove_parametrizations(layer, "weight")
    with pytest.raises(ValueError, match="no parameter, buffer or parametrized tensor named 'w'"):
        parametrize.register_parametrization(layer, "w", Double())

    class Shrink(nn.Module):
        def forward(self, x):
            return x[0]

    with pytest.raises(ValueError, match="may not change the dtype or shape"):
        parametrize.register_parametrization(layer, "weight", Shrink())


def test_parameters_to_vector_and_back_equal_torch(torch):
    ours, theirs = pair(torch, lambda: nn.Linear(3, 2, dtype=np.float64), lambda: torch.nn.Linear(3, 2))
    vec = nn.utils.parameters_to_vector(ours.parameters())
    vec_t = torch.nn.utils.parameters_to_vector(theirs.parameters())
    np.testing.assert_array_equal(vec.numpy(), vec_t.detach().numpy())
    (vec * cr.arange(8.0)).sum().backward()
    np.testing.assert_array_equal(ours.weight.grad.numpy(), np.arange(6.0).reshape(2, 3))
    new = np.random.default_rng(0).standard_normal(8)
    nn.utils.vector_to_parameters(cr.tensor(new), ours.parameters())
    torch.nn.utils.vector_to_parameters(torch.tensor(new), theirs.parameters())
    np.testing.assert_array_equal(ours.bias.numpy(), theirs.bias.detach().numpy())
    with pytest.raises(TypeError, match="expected a Tensor as vec"):
        nn.utils.vector_to_parameters(new, ours.parameters())
    with pytest.raises(ValueError, match="1-D with 8 elements"):
        nn.utils.vector_to_parameters(cr.zeros(9), ours.parameters())


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
def test_get_total_norm_and_clip_grads_with_norm_equal_torch(torch, norm_type):
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(s) for s in [(3, 4), (5,), (2, 2)]]
    total = nn.utils.get_total_norm([cr.tensor(g) for g in grads], norm_type)
    total_t = torch.nn.utils.get_total_norm([torch.tensor(g) for g in grads], norm_type)
    np.testing.assert_allclose(total.item(), total_t.item(), rtol=1e-14)
    ours = [nn.Parameter(np.zeros_like(g)) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, pt, g in zip(ours, theirs, grads, strict=True):
        p.grad, pt.grad = cr.tensor(g), torch.tensor(g)
    nn.utils.clip_grads_with_norm_(ours, 0.5, total)
    torch.nn.utils.clip_grads_with_norm_(theirs, 0.5, total_t)
    for p, pt in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(p.grad.numpy(), pt.grad.numpy(), rtol=1e-14)
    with pytest.raises(TypeError, match="item 1 is a NoneType"):
        nn.utils.get_total_norm([cr.zeros(2), None])


def test_fuse_conv_bn_and_linear_bn_equal_torch(torch):
    conv_t, bn_t = torch.nn.Conv2d(2, 3, 3).double(), torch.nn.BatchNorm2d(3).double()
    with torch.no_grad():
        bn_t.running_mean.uniform_(-1, 1), bn_t.running_var.uniform_(0.5, 2), bn_t.weight.uniform_(0.5, 2)
    conv, bn = nn.Conv2d(2, 3, 3, dtype=np.float64), nn.BatchNorm2d(3, dtype=np.float64)
    conv.load_state_dict({k: v.numpy() for k, v in conv_t.state_dict().items()})
    bn.load_state_dict({k: v.numpy() for k, v in bn_t.state_dict().items()})
    with pytest.raises(ValueError, match="fusion is only for evaluation"):
        nn.utils.fuse_conv_bn_eval(conv, bn)
    fused = nn.utils.fuse_conv_bn_eval(conv.eval(), bn.eval())
    fused_t = torch.nn.utils.fuse_conv_bn_eval(conv_t.eval(), bn_t.eval())
    np.testing.assert_allclose(fused.weight.numpy(), fused_t.weight.detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(fused.bias.numpy(), fused_t.bias.detach().numpy(), rtol=1e-14)
    assert fused is not conv and conv.weight.numpy() is not fused.weight.numpy()
    lin_t, bn1_t = torch.nn.Linear(3, 4).double().eval(), torch.nn.BatchNorm1d(4).double().eval()
    with torch.no_grad():
        bn1_t.running_mean.uniform_(-1, 1), bn1_t.running_var.uniform_(0.5, 2)
    lin, bn1 = nn.Linear(3, 4, dtype=np.float64).eval(), nn.BatchNorm1d(4, dtype=np.float64).eval()
    lin.load_state_dict({k: v.numpy() for k, v in lin_t.state_dict().items()})
    bn1.load_state_dict({k: v.numpy() for k, v in bn1_t.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 3))
    np.testing.assert_allclose(nn.utils.fuse_linear_bn_eval(lin, bn1)(cr.tensor(x)).numpy(),
                               torch.nn.utils.fuse_linear_bn_eval(lin_t, bn1_t)(torch.tensor(x)).detach().numpy(),
                               rtol=1e-13)
    with pytest.raises(ValueError, match=r"must equal bn\.num_features"):
        nn.utils.fuse_linear_bn_eval(lin, nn.BatchNorm1d(3).eval())


def test_functional_call_equals_torch_and_restores(torch):
    ours, theirs = pair(torch, lambda: nn.Linear(3, 2, dtype=np.float64), lambda: torch.nn.Linear(3, 2))
    w = np.random.default_rng(0).standard_normal((2, 3))
    x = np.random.default_rng(1).standard_normal((4, 3))
    wt = torch.tensor(w, requires_grad=True)
    wc = cr.tensor(w, requires_grad=True)
    out = nn.utils.functional_call(ours, {"weight": wc}, (cr.tensor(x),))
    out_t = torch.func.functional_call(theirs, {"weight": wt}, (torch.tensor(x),))
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), rtol=1e-14)
    (out ** 2).sum().backward()
    (out_t ** 2).sum().backward()
    np.testing.assert_allclose(wc.grad.numpy(), wt.grad.numpy(), rtol=1e-13)
    assert ours.weight.grad is None and ours.weight is ours._parameters["weight"]  # restored, untouched
    assert nn.utils.stateless.functional_call is nn.utils.functional_call
    with pytest.raises(RuntimeError, match="missing key\\(s\\) 'bias'"):
        nn.utils.functional_call(ours, {"weight": wc}, (cr.tensor(x),), strict=True)
    with pytest.raises(KeyError, match="has no parameter or buffer \\['wieght'\\]"):
        nn.utils.functional_call(ours, {"wieght": wc}, (cr.tensor(x),))
    shared = nn.Sequential(ours, ours)  # tied: one value serves both names
    twice = nn.utils.functional_call(nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3)), {}, (cr.tensor(x),))
    assert twice.shape == (4, 3)
    with pytest.raises(ValueError, match="which are tied"):
        nn.utils.functional_call(shared, {"0.weight": wc, "1.weight": cr.tensor(w)}, (cr.tensor(x),))


def test_fuse_transposed_conv_bn_scales_the_output_channels_axis_as_torch(torch):
    # ConvTranspose2d's weight is (in, out, kh, kw): the BatchNorm's scale goes along axis 1 (transpose=True)
    conv_t, bn_t = torch.nn.ConvTranspose2d(2, 3, 3).double().eval(), torch.nn.BatchNorm2d(3).double().eval()
    with torch.no_grad():
        bn_t.running_mean.uniform_(-1, 1), bn_t.running_var.uniform_(0.5, 2), bn_t.weight.uniform_(0.5, 2)
        bn_t.bias.uniform_(-1, 1)
    conv, bn = nn.ConvTranspose2d(2, 3, 3, dtype=np.float64).eval(), nn.BatchNorm2d(3, dtype=np.float64).eval()
    conv.load_state_dict({k: v.numpy() for k, v in conv_t.state_dict().items()})
    bn.load_state_dict({k: v.numpy() for k, v in bn_t.state_dict().items()})
    fused = nn.utils.fuse_conv_bn_eval(conv, bn, transpose=True)
    fused_t = torch.nn.utils.fuse_conv_bn_eval(conv_t, bn_t, transpose=True)
    np.testing.assert_allclose(fused.weight.numpy(), fused_t.weight.detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(fused.bias.numpy(), fused_t.bias.detach().numpy(), rtol=1e-14)
    x = np.random.default_rng(0).standard_normal((2, 2, 4, 4))
    np.testing.assert_allclose(fused(cr.tensor(x)).numpy(), bn(conv(cr.tensor(x))).numpy(), rtol=1e-12, atol=1e-13)
