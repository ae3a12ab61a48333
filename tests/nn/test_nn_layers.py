"""Layers and initialisation: PyTorch's conventions and values, seeding, input validation, Sequential."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.errors import DomainError, ShapeError


def _copy_into_torch(torch, ours, theirs):
    with torch.no_grad():
        for (name, p), (name_t, pt) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
            assert name == name_t and p.shape == tuple(pt.shape)
            pt.copy_(torch.tensor(p.numpy()))


def test_linear_matches_torch(torch):
    layer = nn.Linear(5, 3, dtype=np.float64, seed=0)
    ref = torch.nn.Linear(5, 3, dtype=torch.float64)
    _copy_into_torch(torch, layer, ref)
    x = np.random.default_rng(0).standard_normal((4, 5))
    out, out_t = layer(cr.tensor(x)), ref(torch.tensor(x))
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), rtol=1e-14)
    (out ** 2).sum().backward()
    (out_t ** 2).sum().backward()
    np.testing.assert_allclose(layer.weight.grad.numpy(), ref.weight.grad.numpy(), rtol=1e-13)
    np.testing.assert_allclose(layer.bias.grad.numpy(), ref.bias.grad.numpy(), rtol=1e-13)


def test_conv2d_module_matches_torch(torch):
    layer = nn.Conv2d(2, 3, (3, 2), stride=2, padding=1, dtype=np.float64, seed=0)
    ref = torch.nn.Conv2d(2, 3, (3, 2), stride=2, padding=1, dtype=torch.float64)
    _copy_into_torch(torch, layer, ref)
    x = np.random.default_rng(1).standard_normal((2, 2, 7, 6))
    out, out_t = layer(x), ref(torch.tensor(x))
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), rtol=1e-12, atol=1e-13)
    out.sum().backward()
    out_t.sum().backward()
    np.testing.assert_allclose(layer.weight.grad.numpy(), ref.weight.grad.numpy(), rtol=1e-12)


def test_sequential_cnn_forward_matches_torch(torch):
    cr.nn.init.manual_seed(0)
    ours = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, dtype="float64"), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(16, 3, dtype="float64"), nn.Softmax(dim=1))
    ref = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Flatten(), torch.nn.Linear(16, 3), torch.nn.Softmax(dim=1)).double()
    _copy_into_torch(torch, ours, ref)
    x = np.random.default_rng(2).standard_normal((3, 1, 4, 4))
    np.testing.assert_allclose(ours(x).numpy(), ref(torch.tensor(x)).detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("ours, theirs", [
    (nn.Sigmoid(), "Sigmoid"), (nn.Tanh(), "Tanh"), (nn.ReLU(), "ReLU"), (nn.LeakyReLU(0.1), "LeakyReLU"),
    (nn.Softmax(dim=0), "Softmax"),
])
def test_activations_match_torch(torch, ours, theirs):
    args = {"LeakyReLU": (0.1,), "Softmax": (0,)}.get(theirs, ())
    x = np.random.default_rng(3).standard_normal((4, 3))
    np.testing.assert_allclose(ours(x).numpy(), getattr(torch.nn, theirs)(*args)(torch.tensor(x)).numpy(),
                               rtol=1e-14)


def test_dropout_in_eval_is_the_identity_as_in_torch(torch):
    x = np.random.default_rng(4).standard_normal((3, 5))
    drop = nn.Dropout(0.3).eval()
    np.testing.assert_array_equal(drop(x).numpy(), torch.nn.Dropout(0.3).eval()(torch.tensor(x)).numpy())


def test_dropout_in_training_scales_the_kept_values():
    drop = nn.Dropout(0.25, seed=0)
    x = cr.ones(200, 50, requires_grad=True)
    y = drop(x)
    kept = y.numpy() != 0
    np.testing.assert_allclose(y.numpy()[kept], 1 / 0.75)
    assert abs(kept.mean() - 0.75) < 0.02  # 10,000 draws: the standard error is 0.004
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.where(kept, 1 / 0.75, 0))
    assert nn.Dropout(1.0)(cr.ones(3)).numpy().tolist() == [0, 0, 0]
    assert nn.Dropout(0.0)(cr.ones(3)).numpy().tolist() == [1, 1, 1]


def test_dropout_is_reproducible_with_a_seed_and_checks_p():
    a = nn.Dropout(0.5, seed=3)(cr.ones(20)).numpy()
    b = nn.Dropout(0.5, seed=3)(cr.ones(20)).numpy()
    np.testing.assert_array_equal(a, b)
    with pytest.raises(DomainError, match=r"probability in \[0, 1\], got 1.5"):
        nn.Dropout(1.5)


def test_default_init_is_pytorchs_uniform_bound():
    layer = nn.Linear(400, 300, seed=0)
    bound = 1 / math.sqrt(400)
    for p in (layer.weight, layer.bias):
        assert p.dtype == np.float32
        assert np.abs(p.numpy()).max() <= bound and np.abs(p.numpy()).max() > 0.99 * bound
    conv = nn.Conv2d(3, 8, 5, seed=0)
    assert np.abs(conv.weight.numpy()).max() <= 1 / math.sqrt(3 * 25)


def test_xavier_and_kaiming_have_the_textbook_spread():
    w = cr.zeros(300, 500)
    cr.nn.init.xavier_uniform_(w, rng=np.random.default_rng(0))
    assert np.abs(w.numpy()).max() <= math.sqrt(6 / 800)
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / 800), rel=0.02)
    cr.nn.init.xavier_normal_(w, gain=2.0, rng=np.random.default_rng(0))
    assert w.numpy().std() == pytest.approx(2 * math.sqrt(2 / 800), rel=0.02)
    cr.nn.init.kaiming_normal_(w, nonlinearity="relu", rng=np.random.default_rng(0))
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / 500), rel=0.02)
    cr.nn.init.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu", rng=np.random.default_rng(0))
    assert np.abs(w.numpy()).max() <= math.sqrt(2) * math.sqrt(3 / 300)
    assert cr.nn.init.calculate_gain("tanh") == pytest.approx(5 / 3)
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        cr.nn.init.calculate_gain("swish")


def test_manual_seed_makes_layers_reproducible_and_seed_beats_it():
    cr.nn.init.manual_seed(123)
    a = nn.Linear(3, 4).weight.numpy().copy()
    cr.nn.init.manual_seed(123)
    b = nn.Linear(3, 4).weight.numpy().copy()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(nn.Linear(3, 4, seed=9).weight.numpy(), nn.Linear(3, 4, seed=9).weight.numpy())
    with pytest.raises(ValueError, match="either seed= or rng="):
        nn.Linear(3, 4, seed=1, rng=np.random.default_rng(1))


def test_linear_with_the_wrong_feature_count_names_the_layer_and_both_counts():
    layer = nn.Linear(64, 10)
    with pytest.raises(ShapeError, match=r"Linear\(in_features=64, out_features=10, bias=True\) got an input of "
                                         r"shape \(32, 63\) with 63 features .* expects 64"):
        layer(np.zeros((32, 63), np.float32))


def test_sequential_says_which_layer_got_the_wrong_shape():
    net = nn.Sequential(nn.Linear(64, 8), nn.ReLU(), nn.Linear(9, 2))
    with pytest.raises(ShapeError, match=r"in layer \(2\) of Sequential: Linear\(in_features=9, .* with 8 features"):
        net(np.zeros((3, 64), np.float32))


def test_conv2d_with_the_wrong_channels_or_ndim_names_the_layer():
    conv = nn.Conv2d(3, 8, 3)
    with pytest.raises(ShapeError, match=r"Conv2d\(3, 8, .*\) got an input of shape \(2, 1, 8, 8\) with 1 channels"):
        conv(np.zeros((2, 1, 8, 8)))
    with pytest.raises(ShapeError, match=r"shape \(2, 64\); it expects 4 dimensions"):
        conv(np.zeros((2, 64)))
    with pytest.raises(ShapeError, match="kernel is larger"):
        conv(np.zeros((1, 3, 2, 2)))


def test_linear_without_bias_and_bad_sizes():
    layer = nn.Linear(3, 2, bias=False)
    assert layer.bias is None and [n for n, _ in layer.named_parameters()] == ["weight"]
    assert "bias=False" in repr(layer)
    with pytest.raises(DomainError, match="in_features must be a positive int"):
        nn.Linear(0, 2)
    with pytest.raises(TypeError, match="floating-point dtype"):
        nn.Linear(2, 2, dtype=np.int64)


def test_sequential_indexing_len_iteration_and_append():
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear) and isinstance(seq[1], nn.ReLU)
    assert [type(m).__name__ for m in seq] == ["Linear", "ReLU", "Linear"]
    head = seq[1:]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[1] is seq[2]
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and seq(cr.ones(5, 2, dtype="float32")).shape == (5, 1)
    with pytest.raises(IndexError, match="out of range for 4 layers"):
        seq[4]
    with pytest.raises(TypeError, match="not a Module"):
        nn.Sequential(nn.ReLU(), cr.relu)


def test_flatten_and_unflatten():
    x = cr.ones(2, 3, 4)
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Unflatten(1, (1, 2, 2))(cr.ones(5, 4)).shape == (5, 1, 2, 2)
    with pytest.raises(ShapeError, match=r"axis 1 has 5 elements, which \(2, 2\) does not split"):
        nn.Unflatten(1, (2, 2))(cr.ones(3, 5))
