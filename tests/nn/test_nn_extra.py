"""The random modes and functionals of the last sweep of layers (the parity sweep compares the layers themselves):
RReLU in training, gumbel_softmax, fractional max pooling without fixed samples, affine_grid / grid_sample / pdist
against PyTorch and central differences, CTC's gradient with respect to a leaf of log-probabilities and its values
against a brute-force sum over alignments, and the constructor extras (inplace=, InstanceNorm bias=, Embedding
_weight/_freeze, lazy layers from a state dict)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn


def _directional(f, x, v, eps=1e-6):
    return (f(x + eps * v) - f(x - eps * v)) / (2 * eps)


# ------------------------------------------------------------------------------------------------------ RReLU
def test_rrelu_training_draws_slopes_in_range_and_differentiates_the_drawn_function():
    x = np.random.default_rng(0).standard_normal((200, 50))
    xt = cr.tensor(x, requires_grad=True)
    out = F.rrelu(xt, 0.1, 0.4, training=True, rng=np.random.default_rng(1))
    ratio = out.numpy() / x
    negative = x < 0
    np.testing.assert_array_equal(ratio[~negative], 1.0)
    assert ratio[negative].min() >= 0.1 and ratio[negative].max() <= 0.4
    assert abs(ratio[negative].mean() - 0.25) < 0.01  # U(0.1, 0.4): mean 0.25, sd of the mean ~0.0012
    assert abs(ratio[negative].var() - 0.3 ** 2 / 12) < 0.001
    out.sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), ratio, rtol=1e-12)  # the gradient is the slope applied
    v = np.random.default_rng(2).standard_normal(x.shape)

    def f(z):
        return F.rrelu(z, 0.1, 0.4, training=True, rng=np.random.default_rng(1)).numpy().sum()

    np.testing.assert_allclose(_directional(f, x, v), (xt.grad.numpy() * v).sum(), rtol=1e-7)


def test_rrelu_module_is_random_in_training_and_pytorchs_in_eval(torch):
    layer = nn.RReLU(seed=0)
    x = -np.ones((4, 5))
    assert not np.array_equal(layer(x).numpy(), layer(x).numpy())
    np.testing.assert_allclose(layer.eval()(x).numpy(), torch.nn.RReLU().eval()(torch.tensor(x)).numpy(), rtol=1e-15)
    assert repr(nn.RReLU(0.1, 0.3, inplace=True)) == repr(torch.nn.RReLU(0.1, 0.3, inplace=True))
    with pytest.raises(ValueError, match="lower must not exceed upper"):
        nn.RReLU(0.5, 0.1)


# ------------------------------------------------------------------------------------------------ gumbel_softmax
def test_gumbel_softmax_samples_follow_the_softmax_and_hard_samples_are_one_hot():
    logits = np.array([1.0, 0.0, -1.0, 2.0])
    batch = np.broadcast_to(logits, (20000, 4))
    soft = F.gumbel_softmax(batch, tau=0.5, rng=np.random.default_rng(0)).numpy()
    np.testing.assert_allclose(soft.sum(-1), 1.0, rtol=1e-12)
    hard = F.gumbel_softmax(batch, hard=True, rng=np.random.default_rng(0)).numpy()
    assert set(np.unique(hard)) == {0.0, 1.0} and (hard.sum(-1) == 1).all()
    frequencies = hard.mean(0)
    expected = np.exp(logits) / np.exp(logits).sum()
    # the Gumbel-max trick: argmax ~ Categorical(softmax(logits)); 5 standard errors of a frequency
    assert np.all(np.abs(frequencies - expected) < 5 * np.sqrt(expected * (1 - expected) / 20000))
    np.testing.assert_array_equal(hard.argmax(-1), soft.argmax(-1))  # the same draws, whatever tau


def test_gumbel_softmax_gradient_is_the_soft_samples_in_both_modes():
    logits = np.random.default_rng(3).standard_normal((3, 5))
    g = np.random.default_rng(4).standard_normal((3, 5))
    grads = []
    for hard in (False, True):
        x = cr.tensor(logits, requires_grad=True)
        (F.gumbel_softmax(x, tau=0.7, hard=hard, dim=0, rng=np.random.default_rng(5)) * g).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12)  # straight through: the soft sample's gradient
    v = np.random.default_rng(6).standard_normal(logits.shape)

    def f(z):
        return (F.gumbel_softmax(z, tau=0.7, dim=0, rng=np.random.default_rng(5)).numpy() * g).sum()

    np.testing.assert_allclose(_directional(f, logits, v), (grads[0] * v).sum(), rtol=1e-7)
    with pytest.raises(ValueError, match="tau must be positive"):
        F.gumbel_softmax(logits, tau=0)


# ------------------------------------------------------------------------------------------- fractional pooling
def test_fractional_max_pool_draws_windows_from_its_generator(torch):
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 8))
    first = F.fractional_max_pool2d(x, 2, output_ratio=(0.5, 0.5), rng=np.random.default_rng(1))
    again = F.fractional_max_pool2d(x, 2, output_ratio=(0.5, 0.5), rng=np.random.default_rng(1))
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    samples = np.random.default_rng(1).random((2, 3, 2))  # the same draws, given to PyTorch
    theirs = torch.nn.functional.fractional_max_pool2d(torch.tensor(x), 2, output_ratio=(0.5, 0.5),
                                                       _random_samples=torch.tensor(samples))
    np.testing.assert_array_equal(first.numpy(), theirs.numpy())
    with pytest.raises(ValueError, match="output_size or an output_ratio"):
        F.fractional_max_pool2d(x, 2)
    with pytest.raises(ValueError, match="output"):
        F.fractional_max_pool2d(x, 3, output_size=(8, 4))


# ------------------------------------------------------------------------------ affine_grid, grid_sample, pdist
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_matches_torch(torch, dtype, mode, padding_mode, align_corners):
    rng = np.random.default_rng(0)
    image = rng.standard_normal((2, 3, 5, 6)).astype(dtype)
    grid = rng.uniform(-1.7, 1.7, (2, 4, 7, 2)).astype(dtype)  # points outside too
    cotangent = rng.standard_normal((2, 3, 4, 7)).astype(dtype)
    x, g = cr.tensor(image, requires_grad=True), cr.tensor(grid, requires_grad=True)
    xt, gt = torch.tensor(image, requires_grad=True), torch.tensor(grid, requires_grad=True)
    out = F.grid_sample(x, g, mode, padding_mode, align_corners)
    out_t = torch.nn.functional.grid_sample(xt, gt, mode, padding_mode, align_corners)
    (out * cotangent).sum().backward()
    (out_t * torch.tensor(cotangent)).sum().backward()
    tol = {"rtol": 1e-10, "atol": 1e-12} if dtype == "float64" else {"rtol": 2e-5, "atol": 2e-5}
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), **tol)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), **tol)
    grid_grad = np.zeros(grid.shape, dtype) if g.grad is None else g.grad.numpy()
    np.testing.assert_allclose(grid_grad, gt.grad.numpy(), **tol)


@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
def test_grid_sample_gradients_match_central_differences(padding_mode):
    rng = np.random.default_rng(1)
    image, grid = rng.standard_normal((1, 2, 4, 5)), rng.uniform(-1.4, 1.4, (1, 3, 3, 2))
    cotangent = rng.standard_normal((1, 2, 3, 3))
    x, g = cr.tensor(image, requires_grad=True), cr.tensor(grid, requires_grad=True)
    (F.grid_sample(x, g, padding_mode=padding_mode, align_corners=False) * cotangent).sum().backward()
    for which, array, grad in ((0, image, x.grad.numpy()), (1, grid, g.grad.numpy())):
        v = rng.standard_normal(array.shape)

        def f(z, which=which):
            args = (z, grid) if which == 0 else (image, z)
            return (F.grid_sample(*args, padding_mode=padding_mode, align_corners=False).numpy() * cotangent).sum()

        np.testing.assert_allclose(_directional(f, array, v), (grad * v).sum(), rtol=1e-7, atol=1e-9)


def test_grid_sample_and_affine_grid_reject_what_they_do_not_do():
    with pytest.raises(NotImplementedError, match="5-D"):
        F.grid_sample(np.zeros((1, 1, 2, 2, 2)), np.zeros((1, 1, 1, 1, 3)), align_corners=False)
    with pytest.raises(NotImplementedError, match="bicubic"):
        F.grid_sample(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 1, 2)), mode="bicubic", align_corners=False)
    with pytest.raises(ValueError, match="padding_mode"):
        F.grid_sample(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 1, 2)), padding_mode="wrap", align_corners=False)
    with pytest.raises(ValueError, match=r"\(2, 2, 3\)"):
        F.affine_grid(np.zeros((2, 3, 3)), (2, 1, 4, 4), align_corners=False)
    with pytest.warns(UserWarning, match="align_corners=False"):
        F.affine_grid(np.zeros((1, 2, 3)), (1, 1, 2, 2))


@pytest.mark.parametrize("size", [(2, 3, 4, 5), (2, 1, 3, 4, 2)])
@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_matches_torch(torch, size, align_corners):
    spatial = len(size) - 2
    theta = np.random.default_rng(2).standard_normal((2, spatial, spatial + 1))
    cotangent = np.random.default_rng(3).standard_normal((2, *size[2:], spatial))
    t, tt = cr.tensor(theta, requires_grad=True), torch.tensor(theta, requires_grad=True)
    out, out_t = F.affine_grid(t, size, align_corners), torch.nn.functional.affine_grid(tt, size, align_corners)
    (out * cotangent).sum().backward()
    (out_t * torch.tensor(cotangent)).sum().backward()
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0, 2.0, 3.0, math.inf])
def test_pdist_matches_torch_and_scipy(torch, p):
    scipy_distance = pytest.importorskip("scipy.spatial.distance")
    rows = np.random.default_rng(4).standard_normal((5, 3))
    rows[3] = rows[1]  # a zero distance: gradient 0
    x, xt = cr.tensor(rows, requires_grad=True), torch.tensor(rows, requires_grad=True)
    out, out_t = F.pdist(x, p), torch.nn.functional.pdist(xt, p)
    cotangent = np.random.default_rng(5).standard_normal(out_t.shape)
    (out * cotangent).sum().backward()
    (out_t * torch.tensor(cotangent)).sum().backward()
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-14)
    metric = {0.0: "hamming", math.inf: "chebyshev"}.get(p, "minkowski")
    expected = scipy_distance.pdist(rows, metric, **({"p": p} if metric == "minkowski" else {}))
    np.testing.assert_allclose(out.numpy(), expected * (3 if p == 0 else 1), rtol=1e-12)


# ------------------------------------------------------------------------------------------------------------ CTC
def _brute_force_ctc(log_probs, target, blank):
    """−log Σ over every frame labelling that collapses (merge repeats, drop blanks) to the target."""
    frames, classes = log_probs.shape
    total = 0.0
    for path in itertools.product(range(classes), repeat=frames):
        merged = [c for i, c in enumerate(path) if i == 0 or c != path[i - 1]]
        if [c for c in merged if c != blank] == list(target):
            total += math.exp(sum(log_probs[t, c] for t, c in enumerate(path)))
    return -math.log(total)


@pytest.mark.parametrize("target", [[1], [1, 2], [2, 2], [1, 2, 1], []])
def test_ctc_loss_equals_the_sum_over_alignments(target):
    rng = np.random.default_rng(len(target))
    logits = rng.standard_normal((5, 3))
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    ours = F.ctc_loss(log_probs, np.array(target, np.int64), 5, len(target), blank=0, reduction="sum").item()
    assert ours == pytest.approx(_brute_force_ctc(log_probs, target, 0), rel=1e-12)


def test_ctc_gradient_wrt_log_probs_is_exact_where_pytorchs_adds_exp_log_probs(torch):
    """With respect to a leaf of log-probabilities our gradient is the derivative (central differences); PyTorch's
    is it plus exp(log_probs)·upstream on the frames used (pytorch/pytorch#52241), which log_softmax's backward
    removes."""
    rng = np.random.default_rng(7)
    logits = rng.standard_normal((6, 2, 4))
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    targets, input_lengths, target_lengths = np.array([[1, 2, 2], [3, 1, 0]]), np.array([6, 4]), np.array([3, 2])
    x = cr.tensor(log_probs, requires_grad=True)
    F.ctc_loss(x, targets, input_lengths, target_lengths, reduction="sum").backward()
    xt = torch.tensor(log_probs, requires_grad=True)
    torch.nn.functional.ctc_loss(xt, torch.tensor(targets), torch.tensor(input_lengths),
                                 torch.tensor(target_lengths), reduction="sum").backward()
    used = (np.arange(6)[:, None] < input_lengths)[..., None]
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy() - np.exp(log_probs) * used, rtol=1e-10, atol=1e-12)
    v = rng.standard_normal(log_probs.shape)

    def f(z):
        return F.ctc_loss(z, targets, input_lengths, target_lengths, reduction="sum").item()

    np.testing.assert_allclose(_directional(f, log_probs, v), (x.grad.numpy() * v).sum(), rtol=1e-7)


def test_ctc_loss_rejects_bad_targets_and_lengths():
    lp = np.log(np.full((4, 1, 3), 1 / 3))
    with pytest.raises(ValueError, match="other than blank 0"):
        F.ctc_loss(lp, np.array([[1, 0]]), [4], [2])
    with pytest.raises(ValueError, match=r"input_lengths must lie in \[0, 4\]"):
        F.ctc_loss(lp, np.array([[1, 2]]), [5], [2])
    with pytest.raises(ValueError, match="blank must be a class index"):
        F.ctc_loss(lp, np.array([[1, 2]]), [4], [2], blank=3)
    assert F.ctc_loss(lp, np.array([[1, 1]]), [2], [2], reduction="none").numpy().tolist() == [np.inf]
    assert F.ctc_loss(lp, np.array([[1, 1]]), [2], [2], zero_infinity=True).item() == 0.0


# ------------------------------------------------------------------------------------------------ embedding bags
def test_embedding_bag_scale_grad_by_freq_divides_each_row_by_its_own_count(torch):
    """As F.embedding (PyTorch's embedding_bag divides some rows seen once by another row's count)."""
    index = np.array([[1, 2, 1], [1, 4, 5]])
    weight = np.random.default_rng(8).standard_normal((6, 3))
    cotangent = np.random.default_rng(9).standard_normal((2, 3))
    w = cr.tensor(weight, requires_grad=True)
    (F.embedding_bag(index, w, mode="sum", scale_grad_by_freq=True) * cotangent).sum().backward()
    wt = torch.tensor(weight, requires_grad=True)
    rows = torch.nn.functional.embedding(torch.tensor(index), wt, scale_grad_by_freq=True).sum(1)
    (rows * torch.tensor(cotangent)).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), wt.grad.numpy(), rtol=1e-12)


def test_embedding_bag_rejects_bad_bags():
    weight = np.zeros((5, 2))
    with pytest.raises(ValueError, match="offsets must start at 0"):
        F.embedding_bag(np.array([1, 2, 3]), weight, np.array([1, 2]))
    with pytest.raises(ValueError, match="needs offsets"):
        F.embedding_bag(np.array([1, 2, 3]), weight)
    with pytest.raises(ValueError, match="only supported for mode='sum'"):
        F.embedding_bag(np.array([[1, 2]]), weight, per_sample_weights=np.ones((1, 2)))
    with pytest.raises(ValueError, match="out of range for 5 embeddings"):
        F.embedding_bag(np.array([[1, 7]]), weight)


# ------------------------------------------------------------------------------------------ constructor extras
def test_inplace_is_accepted_with_pytorchs_repr_and_leaves_the_input(torch):
    x = cr.tensor([-1.0, 2.0])
    for name, args in (("ReLU", ()), ("LeakyReLU", (0.2,)), ("SiLU", ()), ("Dropout", (0.5,)), ("ELU", ()),
                       ("Hardtanh", ())):
        ours = getattr(nn, name)(*args, inplace=True)
        assert ours.inplace if hasattr(ours, "inplace") else True
        out = ours.eval()(x)
        assert x.numpy().tolist() == [-1.0, 2.0] and out.shape == x.shape
        if name in ("ReLU", "LeakyReLU", "SiLU", "Dropout"):
            assert repr(ours) == repr(getattr(torch.nn, name)(*args, inplace=True))


def test_instance_norm_bias_false_and_embedding_weight_freeze(torch):
    ours, theirs = nn.InstanceNorm1d(3, affine=True, bias=False), torch.nn.InstanceNorm1d(3, affine=True, bias=False)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    table = np.random.default_rng(10).standard_normal((4, 2))
    frozen = nn.Embedding(4, 2, padding_idx=1, _weight=table, _freeze=True)
    np.testing.assert_array_equal(frozen.weight.numpy(), table)  # the padding row kept, as PyTorch's
    assert not frozen.weight.requires_grad
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad
    with pytest.raises(ValueError, match=r"_weight must be a float array of shape \(5, 2\)"):
        nn.Embedding(5, 2, _weight=table)


def test_interpolate_antialias_is_a_clear_not_implemented_error():
    with pytest.raises(NotImplementedError, match="antialias"):
        F.interpolate(np.zeros((1, 1, 8, 8)), size=(3, 3), mode="bilinear", antialias=True)


def test_lazy_layers_load_pytorchs_state_dict_and_become_their_layer(torch):
    theirs = torch.nn.Conv2d(4, 6, 3, groups=2).double()
    ours = nn.LazyConv2d(6, 3, groups=2)
    assert not list(ours.parameters()) and ours.has_uninitialized_params()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert type(ours) is nn.Conv2d and ours.in_channels == 4
    x = np.random.default_rng(11).standard_normal((1, 4, 5, 5))
    np.testing.assert_allclose(ours(x).numpy(), theirs(torch.tensor(x)).detach().numpy(), rtol=1e-12)
    linear = nn.LazyLinear(3).to("float64")
    assert linear(np.ones((2, 5))).dtype == np.float64 and type(linear) is nn.Linear
    with pytest.raises(ValueError, match="LazyLinear"):
        nn.LazyLinear(3)(np.float64(1.0))


def test_square_subsequent_mask_matches_torch(torch):
    np.testing.assert_array_equal(nn.Transformer.generate_square_subsequent_mask(4).numpy(),
                                  torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())


def test_embedding_bag_max_gives_ties_to_the_first_row_of_the_bag(torch):
    weight = np.array([[1.0, 2.0], [1.0, 0.0], [0.5, 2.0], [1.0, 2.0]])  # rows 0 and 3 tie everywhere
    index, offsets = np.array([3, 1, 0, 2, 0, 3]), np.array([0, 3])
    w, wt = cr.tensor(weight, requires_grad=True), torch.tensor(weight, requires_grad=True)
    F.embedding_bag(index, w, offsets, mode="max").sum().backward()
    torch.nn.functional.embedding_bag(torch.tensor(index), wt, torch.tensor(offsets), mode="max").sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), wt.grad.numpy())
