"""Module and Parameter: registration, traversal, modes, zero_grad, state_dict round trips and their errors, repr."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import Parameter, StateDictError


class Block(nn.Module):
    def __init__(self, seed):
        super().__init__()
        self.fc = nn.Linear(4, 3, seed=seed)
        self.scale = Parameter(np.ones(3, dtype=np.float32))

    def forward(self, x):
        return self.fc(x) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Block(0)
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(3, 2, seed=1))
        self.drop = nn.Dropout(0.5, seed=0)
        self.note = "not registered"

    def forward(self, x):
        return self.head(self.drop(self.encoder(x)))


def test_parameter_is_a_leaf_tensor_that_requires_grad():
    p = Parameter([1.0, 2.0])
    assert isinstance(p, cr.Tensor) and p.requires_grad and p.is_leaf
    assert "Parameter containing" in repr(p)
    with pytest.raises(TypeError, match="floating-point"):
        Parameter([1, 2])


def test_named_parameters_use_dotted_names_in_registration_order():
    names = [name for name, _ in Net().named_parameters()]
    assert names == ["encoder.scale", "encoder.fc.weight", "encoder.fc.bias", "head.1.weight", "head.1.bias"]
    assert len(list(Net().parameters())) == 5


def test_children_and_modules():
    net = Net()
    assert [name for name, _ in net.named_children()] == ["encoder", "head", "drop"]
    assert [name for name, _ in net.named_modules()] == [
        "", "encoder", "encoder.fc", "head", "head.0", "head.1", "drop"]


def test_shared_parameters_are_listed_once():
    layer = nn.Linear(2, 2, seed=0)
    seq = nn.Sequential(layer, layer)
    assert len(list(seq.parameters())) == 2


def test_train_and_eval_reach_every_submodule():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net and not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_zero_grad_sets_gradients_to_none():
    net = Net()
    net(cr.ones(5, 4, dtype="float32")).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_assigning_a_plain_tensor_to_a_parameter_name_is_an_error():
    net = Net()
    with pytest.raises(TypeError, match=r"expected a cr\.nn\.Parameter or None"):
        net.encoder.scale = cr.ones(3)
    net.encoder.scale = None  # allowed: an absent optional parameter
    assert "encoder.scale" not in dict(net.named_parameters())


def test_forgetting_super_init_gives_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"call super\(\).__init__\(\) first in Broken.__init__"):
        Broken()


def test_state_dict_round_trip_into_a_fresh_model():
    source, target = Net(), Net()
    for p in source.parameters():
        p.data[...] = np.random.default_rng(0).standard_normal(p.shape)
    result = target.load_state_dict(source.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    x = cr.ones(2, 4, dtype="float32")
    source.eval(), target.eval()
    np.testing.assert_array_equal(source(x).numpy(), target(x).numpy())


def test_state_dict_values_share_memory_and_loading_copies_in_place():
    net = Net()
    state = net.state_dict()
    weight = net.encoder.fc.weight
    assert not state["encoder.fc.weight"].requires_grad
    weight.data[0, 0] = 42.0
    assert state["encoder.fc.weight"].numpy()[0, 0] == 42.0
    net.load_state_dict({k: np.zeros(v.shape) for k, v in state.items()})
    assert net.encoder.fc.weight is weight and weight.dtype == np.float32 and not weight.numpy().any()


def test_state_dict_round_trip_through_a_file(tmp_path):
    net, other = Net(), Net()
    net.encoder.fc.weight.data[...] = 7
    cr.save(net.state_dict(), tmp_path / "net.safetensors")
    other.load_state_dict(cr.load(tmp_path / "net.safetensors"))
    for (name, a), (_, b) in zip(net.state_dict().items(), other.state_dict().items(), strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


def test_load_state_dict_reports_missing_and_unexpected_keys():
    state = {k: v.numpy() for k, v in Net().state_dict().items()}
    del state["head.1.bias"]
    state["head.2.weight"] = np.zeros((2, 3))
    with pytest.raises(StateDictError) as info:
        Net().load_state_dict(state)
    message = str(info.value)
    assert "missing key(s) 'head.1.bias'" in message and "unexpected key(s) 'head.2.weight'" in message
    result = Net().load_state_dict(state, strict=False)
    assert result.missing_keys == ["head.1.bias"] and result.unexpected_keys == ["head.2.weight"]


def test_load_state_dict_names_a_mis_shaped_key_with_both_shapes_and_changes_nothing():
    net = Net()
    before = net.encoder.fc.weight.numpy().copy()
    state = {k: v.numpy() + 1 for k, v in net.state_dict().items()}
    state["head.1.weight"] = np.zeros((2, 5))
    with pytest.raises(StateDictError, match=r"'head.1.weight' which has shape \(2, 5\) .* expects \(2, 3\)"):
        net.load_state_dict(state)
    np.testing.assert_array_equal(net.encoder.fc.weight.numpy(), before)
    with pytest.raises(StateDictError, match="has shape"):
        net.load_state_dict(state, strict=False)  # shapes are checked even when keys are not


def test_load_state_dict_rejects_non_mappings_and_non_numbers():
    with pytest.raises(TypeError, match="dict from names to arrays"):
        Net().load_state_dict([1, 2])
    state = {k: v.numpy() for k, v in Net().state_dict().items()}
    state["head.1.bias"] = np.array(["a", "b"])
    with pytest.raises(StateDictError, match="dtype <U1; expected numbers"):
        Net().load_state_dict(state)


def test_buffers_are_saved_but_not_trained():
    class WithBuffer(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2, seed=0)
            self.register_buffer("mean", np.array([1.0, 2.0]))

        def forward(self, x):
            return self.fc(x - self.mean)

    m = WithBuffer()
    assert [n for n, _ in m.named_buffers()] == ["mean"]
    assert "mean" in m.state_dict() and all(p is not m.mean for p in m.parameters())
    other = WithBuffer()
    other.mean.data[...] = 0
    other.load_state_dict(m.state_dict())
    np.testing.assert_array_equal(other.mean.numpy(), [1.0, 2.0])


def test_repr_is_a_tree():
    assert repr(Net()) == (
        "Net(\n"
        "  (encoder): Block(\n"
        "    (fc): Linear(in_features=4, out_features=3, bias=True)\n"
        "  )\n"
        "  (head): Sequential(\n"
        "    (0): ReLU()\n"
        "    (1): Linear(in_features=3, out_features=2, bias=True)\n"
        "  )\n"
        "  (drop): Dropout(p=0.5, inplace=False)\n"
        ")"
    )


def test_forward_must_be_defined():
    with pytest.raises(NotImplementedError, match="Empty must define forward"):
        type("Empty", (nn.Module,), {})()(1)
