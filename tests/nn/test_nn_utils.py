"""Gradient clipping, containers and Module tree utilities, against torch==2.13 where it has the same thing."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.errors import DomainError

SHAPES = [(3, 4), (5,), (2, 1, 3)]


def grads_pair(torch, dtype, scale=1.0, skip=None):
    rng = np.random.default_rng(4)
    ours, theirs = [], []
    for i, shape in enumerate(SHAPES):
        value = rng.standard_normal(shape).astype(dtype)
        g = (rng.standard_normal(shape) * scale).astype(dtype)
        p, pt = nn.Parameter(value), torch.tensor(value, requires_grad=True)
        if i != skip:
            p.grad, pt.grad = cr.tensor(g), torch.tensor(g)
        ours.append(p)
        theirs.append(pt)
    return ours, theirs


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-14), (np.float32, 2e-6)])
@pytest.mark.parametrize("max_norm, norm_type", [(1.0, 2.0), (100.0, 2.0), (0.5, 1.0), (0.3, math.inf),
                                                 (2.0, 3.0), (0.0, 2.0)])
def test_clip_grad_norm_equals_torch(torch, dtype, rtol, max_norm, norm_type):
    ours, theirs = grads_pair(torch, dtype, skip=1)
    before = ours[0].grad
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    total_t = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert total.dtype == dtype and total.shape == ()
    np.testing.assert_allclose(total.item(), total_t.item(), rtol=rtol)
    assert ours[1].grad is None
    assert ours[0].grad is before  # changed in place
    for p, pt in zip(ours, theirs, strict=True):
        if p.grad is not None:
            assert p.grad.dtype == dtype
            np.testing.assert_allclose(p.grad.numpy(), pt.grad.numpy(), rtol=rtol, atol=1e-30)


def test_clip_grad_norm_direct_formula_and_edges(torch):
    w = nn.Parameter(np.zeros(2))
    w.grad = cr.tensor([3.0, 4.0])
    assert nn.utils.clip_grad_norm_(w, 1.0).item() == 5.0  # one tensor, not a list
    np.testing.assert_allclose(w.grad.numpy(), np.array([3.0, 4.0]) / (5.0 + 1e-6), rtol=1e-15)
    assert nn.utils.clip_grad_norm_([nn.Parameter([1.0])], 1.0).item() == 0.0  # no gradients at all
    w.grad = cr.tensor([np.inf, 1.0])
    with pytest.raises(DomainError, match=r"total norm of order 2\.0 of the gradients is inf"):
        nn.utils.clip_grad_norm_([w], 1.0, error_if_nonfinite=True)
    wt = torch.tensor([0.0, 0.0], dtype=torch.float64, requires_grad=True)
    wt.grad = torch.tensor([np.inf, 1.0], dtype=torch.float64)
    total = nn.utils.clip_grad_norm_([w], 1.0)
    total_t = torch.nn.utils.clip_grad_norm_([wt], 1.0)
    assert total.item() == total_t.item() == math.inf
    np.testing.assert_array_equal(w.grad.numpy(), wt.grad.numpy())  # nan, 0 as in torch
    with pytest.raises(DomainError, match="norm_type must be > 0"):
        nn.utils.clip_grad_norm_([w], 1.0, norm_type=0)
    with pytest.raises(TypeError, match="parameter 0 is a list"):
        nn.utils.clip_grad_norm_([[1.0]], 1.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_clip_grad_value_equals_torch(torch, dtype):
    ours, theirs = grads_pair(torch, dtype, scale=2.0)
    before = ours[2].grad
    assert nn.utils.clip_grad_value_(ours, 0.7) is None
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    assert ours[2].grad is before
    for p, pt in zip(ours, theirs, strict=True):
        assert p.grad.dtype == dtype
        np.testing.assert_array_equal(p.grad.numpy(), pt.grad.numpy())
    with pytest.raises(DomainError, match="clip_value must be >= 0"):
        nn.utils.clip_grad_value_(ours, -1.0)


def tower_init(self, lib):
    lib.Module.__init__(self)
    self.blocks = lib.ModuleList([lib.Linear(4, 4), lib.Sequential(lib.Linear(4, 3), lib.ReLU())])
    self.heads = lib.ModuleDict({"a": lib.Linear(3, 2), "b": lib.Identity()})
    self.blocks.append(lib.Linear(3, 3))


def tower_forward(self, x):
    x = self.blocks[0](x)
    x = self.blocks[1](x)
    x = self.blocks[-1](x)
    return self.heads["a"](self.heads["b"](x))


class Tower(nn.Module):
    __init__ = tower_init
    forward = tower_forward


def test_containers_have_torchs_names_and_load_its_weights(torch):
    class TowerT(torch.nn.Module):
        __init__ = tower_init
        forward = tower_forward

    TowerT.__name__ = "Tower"  # so the type names compare equal
    torch.manual_seed(0)
    theirs = TowerT(torch.nn).double()
    ours = Tower(nn)
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert list(ours.state_dict()) == list(state)
    ours.load_state_dict(state)
    x = np.random.default_rng(0).standard_normal((5, 4))
    np.testing.assert_allclose(ours(cr.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), rtol=1e-13)
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert [type(m).__name__ for m in ours.modules()] == [type(m).__name__ for m in theirs.modules()]
    assert [type(m).__name__ for m in ours.children()] == ["ModuleList", "ModuleDict"]
    visited, visited_t = [], []
    ours.apply(lambda m: visited.append(type(m).__name__))
    theirs.apply(lambda m: visited_t.append(type(m).__name__))
    assert visited == visited_t


def test_module_list_and_dict_behave_like_lists_and_dicts():
    layers = nn.ModuleList([nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)])
    assert len(layers) == 3 and isinstance(layers[1:], nn.ModuleList) and len(layers[1:]) == 2
    del layers[0]
    assert list(layers._modules) == ["0", "1"] and isinstance(layers[0], nn.ReLU)
    layers.insert(0, nn.Tanh())
    assert [type(m).__name__ for m in layers] == ["Tanh", "ReLU", "Linear"]
    assert [n for n, _ in layers.named_parameters()] == ["2.weight", "2.bias"]
    layers += [nn.Sigmoid()]
    assert len(layers) == 4
    with pytest.raises(IndexError, match="index 7 out of range for 4"):
        layers[7]
    with pytest.raises(TypeError, match=r"expected a cr\.nn\.Module, got a int"):
        layers.append(3)
    heads = nn.ModuleDict([("x", nn.Linear(2, 2))])
    heads["y"] = nn.ReLU()
    assert list(heads) == ["x", "y"] and "y" in heads and len(heads) == 2
    assert type(heads.pop("x")).__name__ == "Linear" and list(heads.keys()) == ["y"]
    assert list(heads.parameters()) == []
    with pytest.raises(KeyError, match="has no module 'z'"):
        heads["z"]
    with pytest.raises(NotImplementedError, match="loop over its modules"):
        layers(cr.tensor([1.0]))


@pytest.mark.parametrize("holder", [list, tuple, dict])
def test_plain_list_or_dict_of_modules_warns(holder):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            layers = [nn.Linear(2, 2), nn.Linear(2, 2)]
            self.layers = holder(enumerate(layers)) if holder is dict else holder(layers)

    with pytest.warns(UserWarning, match=r"Net.layers is a plain (list|tuple|dict) holding Modules.*"
                                         r"cr.nn.Module(List|Dict)"):
        net = Net()
    assert list(net.parameters()) == []  # unregistered, as in PyTorch: the warning says so
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net.sizes = [1, 2, 3]  # no Modules in it: no warning
        net.blocks = nn.ModuleList([nn.Linear(2, 2)])


def test_requires_grad_and_to_dtype(torch):
    net = nn.Sequential(nn.Linear(3, 2, seed=0), nn.ReLU(), nn.Linear(2, 1, seed=1))
    params = list(net.parameters())
    assert net.requires_grad_(False) is net and not any(p.requires_grad for p in params)
    net[0].requires_grad_()
    assert [p.requires_grad for p in params] == [True, True, False, False]
    net.requires_grad_(True)
    x = np.random.default_rng(1).standard_normal((4, 3))
    net(cr.tensor(x, dtype="float32")).sum().backward()
    assert net.to("float64") is net
    assert list(net.parameters()) == params  # the same Parameter objects, for optimizers built before
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in params)
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1)).double()
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in net.state_dict().items()})
    np.testing.assert_allclose(net(cr.tensor(x)).numpy(), theirs(torch.tensor(x)).detach().numpy(), rtol=1e-14)
    net.to(np.float32)
    assert all(p.dtype == np.float32 for p in params)
    with pytest.raises(TypeError, match="only converts to a floating dtype"):
        net.to("int64")
    with pytest.raises(TypeError, match="expects a floating dtype"):
        net.to(object())
