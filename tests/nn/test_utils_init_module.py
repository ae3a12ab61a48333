"""nn.init's orthogonal_/dirac_/eye_/sparse_/trunc_normal_, calculate_gain and the deprecated names, and Module's
hooks, lookups, extra state and dtype methods, against torch==2.13."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.errors import ShapeError

NONLINEARITIES = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]


@pytest.mark.parametrize("name", NONLINEARITIES)
@pytest.mark.parametrize("param", [None, 0.2, 3])
def test_calculate_gain_equals_torch(torch, name, param):
    assert nn.init.calculate_gain(name, param) == torch.nn.init.calculate_gain(name, param)


def test_calculate_gain_errors(torch):
    with pytest.raises(ValueError, match="unsupported nonlinearity 'gelu'"):
        nn.init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="negative slope must be a number, got True"):
        nn.init.calculate_gain("leaky_relu", True)


@pytest.mark.parametrize("shape", [(4, 6), (6, 4), (3, 2, 2, 2)])
def test_orthogonal_is_orthogonal_and_haar_signed(shape):
    t = nn.init.orthogonal_(cr.zeros(*shape, dtype="float64"), gain=2.0, rng=np.random.default_rng(0))
    flat = t.numpy().reshape(shape[0], -1) / 2
    gram = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
    np.testing.assert_allclose(gram, np.eye(min(flat.shape)), atol=1e-14)
    draw = np.random.default_rng(0).normal(0, 1, (shape[0], flat.shape[1]))  # the same draw, by hand
    draw = draw.T if shape[0] < flat.shape[1] else draw
    q, r = np.linalg.qr(draw)
    q = q * np.sign(np.diag(r))
    np.testing.assert_allclose(flat, q.T if shape[0] < flat.shape[1] else q, atol=1e-14)
    with pytest.raises(ShapeError, match="at least 2 dimensions"):
        nn.init.orthogonal_(cr.zeros(3))


@pytest.mark.parametrize("shape, groups", [((4, 3, 3), 1), ((6, 2, 3, 3), 2), ((2, 4, 3, 3, 3), 1)])
def test_dirac_and_eye_equal_torch(torch, shape, groups):
    ours = nn.init.dirac_(cr.zeros(*shape), groups)
    theirs = torch.nn.init.dirac_(torch.empty(shape), groups)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_array_equal(nn.init.eye_(cr.zeros(3, 5)).numpy(), torch.nn.init.eye_(torch.empty(3, 5)))
    with pytest.raises(ShapeError, match="only tensors with 3, 4 or 5 dimensions"):
        nn.init.dirac_(cr.zeros(2, 2))
    with pytest.raises(ValueError, match="groups must be a positive int dividing dim 0"):
        nn.init.dirac_(cr.zeros(3, 3, 3), 2)
    with pytest.raises(ShapeError, match="only tensors with 2 dimensions"):
        nn.init.eye_(cr.zeros(2, 2, 2))


def test_sparse_zeroes_the_count_of_torch_per_column(torch):
    ours = nn.init.sparse_(cr.zeros(10, 30, dtype="float64"), 0.25, std=0.5, rng=np.random.default_rng(0)).numpy()
    theirs = torch.nn.init.sparse_(torch.empty(10, 30, dtype=torch.float64), 0.25, std=0.5).numpy()
    assert ((ours == 0).sum(axis=0) == (theirs == 0).sum(axis=0)).all()  # ⌈0.25·10⌉ = 3 zeros in each column
    assert 0.35 < ours[ours != 0].std() < 0.65


@pytest.mark.parametrize("mean, std, a, b", [(0.0, 1.0, -2.0, 2.0), (0.0, 1.0, 0.5, 3.0), (1.0, 0.5, 0.0, 1.2)])
def test_trunc_normal_has_the_truncated_moments(mean, std, a, b):
    from scipy import stats

    values = nn.init.trunc_normal_(cr.zeros(200_000, dtype="float64"), mean, std, a, b,
                                   rng=np.random.default_rng(0)).numpy()
    assert values.min() >= a and values.max() <= b
    dist = stats.truncnorm((a - mean) / std, (b - mean) / std, loc=mean, scale=std)
    assert abs(values.mean() - dist.mean()) < 5 * dist.std() / math.sqrt(values.size)
    assert abs(values.std() - dist.std()) < 0.01 * dist.std()
    with pytest.warns(UserWarning, match="mean is more than 2 std from"):
        nn.init.trunc_normal_(cr.zeros(5), mean=10.0)


@pytest.mark.parametrize("old", ["uniform", "normal", "constant", "eye", "dirac", "xavier_uniform", "xavier_normal",
                                 "kaiming_uniform", "kaiming_normal", "orthogonal", "sparse"])
def test_deprecated_names_warn_as_torch(torch, old):
    args = {"constant": (1.0,), "sparse": (0.5,)}.get(old, ())
    shape = (2, 3, 3) if old == "dirac" else (3, 4)
    with pytest.warns(FutureWarning) as ours:
        getattr(nn.init, old)(cr.zeros(*shape), *args)
    with pytest.warns(FutureWarning) as theirs:
        getattr(torch.nn.init, old)(torch.empty(shape), *args)
    assert str(ours[0].message) == str(theirs[0].message)


def test_forward_hooks_pre_hooks_kwargs_prepend_always_call_and_remove(torch):
    layer = nn.Linear(2, 2, dtype=np.float64, seed=0)
    log = []
    h1 = layer.register_forward_pre_hook(lambda m, args: (args[0] * 2,))
    h2 = layer.register_forward_pre_hook(lambda m, args: log.append("first") , prepend=True)
    h3 = layer.register_forward_hook(lambda m, args, out: out + 1)
    h4 = layer.register_forward_hook(lambda m, args, kwargs, out: log.append(("kw", kwargs)), with_kwargs=True)
    x = cr.tensor([[1.0, 2.0]])
    expected = (x * 2).numpy() @ layer.weight.numpy().T + layer.bias.numpy() + 1
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-15)
    assert log == ["first", ("kw", {})]
    for h in (h1, h2, h3, h4):
        h.remove()
    np.testing.assert_allclose(layer(x).numpy(), x.numpy() @ layer.weight.numpy().T + layer.bias.numpy())
    seen = []
    with layer.register_forward_hook(lambda m, a, out: seen.append(out), always_call=True), \
            pytest.raises(ShapeError):
        layer(cr.zeros(1, 5))
    assert seen == [None]  # it ran although forward raised
    assert "_forward_hooks" in layer.__dict__ and not layer.__dict__["_forward_hooks"]  # the with removed it
    layer.register_forward_pre_hook(lambda m, a, k: 7, with_kwargs=True)
    with pytest.raises(RuntimeError, match=r"must return None or a tuple \(new_args, new_kwargs\)"):
        layer(x)


def test_submodule_parameter_buffer_lookups_equal_torch(torch):
    ours = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.BatchNorm1d(3), nn.ReLU()))
    theirs = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Sequential(torch.nn.BatchNorm1d(3),
                                                                            torch.nn.ReLU()))
    assert type(ours.get_submodule("1.0")).__name__ == type(theirs.get_submodule("1.0")).__name__
    assert ours.get_submodule("") is ours
    assert ours.get_parameter("0.weight") is ours[0].weight
    assert ours.get_buffer("1.0.running_mean") is ours[1][0].running_mean
    with pytest.raises(AttributeError, match="has no submodule '2'"):
        ours.get_submodule("2.weight")
    with pytest.raises(AttributeError, match="has no parameter 'running_mean'"):
        ours.get_parameter("1.0.running_mean")
    with pytest.raises(AttributeError, match="has no buffer 'weight'"):
        ours.get_buffer("0.weight")
    ours.set_submodule("1.1", nn.Tanh())
    assert isinstance(ours[1][1], nn.Tanh)
    with pytest.raises(AttributeError, match="strict=True"):
        ours.set_submodule("1.5", nn.Tanh(), strict=True)
    ours.register_module("extra", nn.Identity())
    assert "extra" in dict(ours.named_children())


def test_state_dict_hooks_and_extra_state_as_torch(torch):
    class Counter(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)
            self.count = 3

        def get_extra_state(self):
            return {"count": self.count}

        def set_extra_state(self, state):
            self.count = state["count"]

    class CounterT(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(2, 2)

        def get_extra_state(self):
            return {"count": 3}

    model = Counter()
    assert list(model.state_dict()) == list(CounterT().state_dict()) == ["_extra_state", "fc.weight", "fc.bias"]
    saved = model.state_dict()
    model.count = 0
    model.load_state_dict(saved)
    assert model.count == 3
    with pytest.raises(cr.nn.StateDictError, match="missing key\\(s\\) '_extra_state'"):
        model.load_state_dict({k: v for k, v in saved.items() if k != "_extra_state"})
    calls = []
    model.register_state_dict_pre_hook(lambda m, prefix, keep_vars: calls.append(("pre", prefix)))

    def drop_bias(module, state_dict, prefix, meta):
        del state_dict[prefix + "bias"]

    model.fc.register_state_dict_post_hook(drop_bias)
    assert list(model.state_dict()) == ["_extra_state", "fc.weight"] and calls == [("pre", "")]

    def rename(module, state_dict, prefix, meta, strict, missing, unexpected, errors):
        if prefix + "old_weight" in state_dict:
            state_dict[prefix + "weight"] = state_dict.pop(prefix + "old_weight")

    model.fc.register_load_state_dict_pre_hook(rename)
    results = []
    model.register_load_state_dict_post_hook(lambda m, keys: results.append(keys))
    model.load_state_dict({"_extra_state": {"count": 9}, "fc.old_weight": np.ones((2, 2)), "fc.bias": np.zeros(2)})
    assert model.count == 9 and (model.fc.weight.numpy() == 1).all()
    assert results == [nn.IncompatibleKeys([], [])]
    model.fc.register_state_dict_post_hook(lambda m, sd, prefix, meta: 1)
    with pytest.raises(RuntimeError, match="must change the state_dict in place and return None"):
        model.state_dict()


def test_float_double_half():
    layer = nn.BatchNorm1d(3)
    assert layer.double().weight.dtype == np.float64 and layer.running_mean.dtype == np.float64
    assert layer.half().weight.dtype == np.float16 and layer.num_batches_tracked.dtype.kind == "i"
    assert layer.float().weight.dtype == np.float32
    assert layer(cr.ones(2, 3, dtype="float32")).dtype == np.float32


def test_skip_init_builds_the_module():
    layer = nn.utils.skip_init(nn.Linear, 3, 2)
    assert isinstance(layer, nn.Linear) and layer.weight.shape == (2, 3)
    with pytest.raises(TypeError, match="expected a Module class"):
        nn.utils.skip_init(len, 3)
