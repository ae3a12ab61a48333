"""Losses: values and gradients against PyTorch for every reduction, stability at ±1e4, gradcheck, clear errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.errors import DomainError, ShapeError

REDUCTIONS = ("mean", "sum", "none")
rng = np.random.default_rng(0)
LOGITS = rng.standard_normal((6, 4)) * 3
LABELS = np.array([0, 3, 1, 1, 2, 3])
PROBS = rng.uniform(0.05, 0.95, (5, 3))
BINARY = (rng.random((5, 3)) < 0.5).astype(np.float64)
SOFT = rng.random((5, 3))


def _compare(torch, ours_fn, torch_fn, x, target, reduction, target_form):
    xt = torch.tensor(x, requires_grad=True)
    out_t = torch_fn(xt, torch.tensor(target), reduction=reduction)
    seed = np.random.default_rng(1).standard_normal(tuple(out_t.shape))
    out_t.backward(torch.tensor(seed))
    xc = cr.tensor(x, requires_grad=True)
    tgt = cr.tensor(target) if target_form == "tensor" else target
    out = ours_fn(xc, tgt, reduction=reduction)
    out.backward(seed)
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("target_form", ["array", "tensor"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, x, target", [
    ("mse_loss", PROBS, SOFT),
    ("binary_cross_entropy", PROBS, BINARY),
    ("binary_cross_entropy", PROBS, SOFT),
    ("binary_cross_entropy_with_logits", LOGITS[:5, :3], SOFT),
    ("cross_entropy", LOGITS, LABELS),
    ("nll_loss", np.log(np.abs(LOGITS) / np.abs(LOGITS).sum(1, keepdims=True)), LABELS),
])
def test_losses_match_torch(torch, name, x, target, reduction, target_form):
    _compare(torch, getattr(F, name), getattr(torch.nn.functional, name), x, target, reduction, target_form)


def test_cross_entropy_with_extra_dimensions_matches_torch(torch):
    logits = np.random.default_rng(2).standard_normal((2, 4, 3, 2))
    labels = np.random.default_rng(3).integers(0, 4, (2, 3, 2))
    _compare(torch, F.cross_entropy, torch.nn.functional.cross_entropy, logits, labels, "none", "array")
    _compare(torch, F.cross_entropy, torch.nn.functional.cross_entropy, logits, labels, "mean", "array")


def test_loss_modules_call_the_functions():
    x = cr.tensor(LOGITS)
    assert nn.CrossEntropyLoss()(x, LABELS).item() == F.cross_entropy(x, LABELS).item()
    assert nn.NLLLoss(reduction="sum")(x, LABELS).item() == F.nll_loss(x, LABELS, reduction="sum").item()
    assert nn.MSELoss("none")(PROBS, SOFT).shape == (5, 3)
    assert nn.BCELoss()(PROBS, BINARY).item() == F.binary_cross_entropy(PROBS, BINARY).item()
    assert nn.BCEWithLogitsLoss()(PROBS, BINARY).item() == F.binary_cross_entropy_with_logits(PROBS, BINARY).item()
    assert repr(nn.MSELoss()) == "MSELoss(reduction='mean')"
    with pytest.raises(ValueError, match="reduction must be one of"):
        nn.MSELoss("average")


def test_huge_logits_in_float32_give_finite_correct_values_and_gradients_without_warnings():
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]], dtype=np.float32)
    labels = np.array([1, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise", under="ignore"):  # e^-20000 underflowing to 0 is intended and exact enough
            x = cr.tensor(logits, requires_grad=True)
            loss = F.cross_entropy(x, labels, reduction="none")
            loss.sum().backward()
            z = cr.tensor(np.array([1e4, -1e4, 1e4, -1e4], dtype=np.float32), requires_grad=True)
            y = np.array([1.0, 0.0, 0.0, 1.0], dtype=np.float32)
            bce = F.binary_cross_entropy_with_logits(z, y, reduction="none")
            bce.sum().backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32
    np.testing.assert_allclose(loss.numpy(), [2e4, np.log(2)], rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), [[1, -1, 0], [0, 0.5, -0.5]], atol=1e-7)
    np.testing.assert_allclose(bce.numpy(), [0, 0, 1e4, 1e4], rtol=1e-6)
    np.testing.assert_allclose(z.grad.numpy(), [0, 0, 1, -1])
    assert bce.dtype == np.float32 and z.grad.dtype == np.float32


def test_bce_with_logits_gradient_is_exact_at_zero():
    z = cr.tensor([0.0, 0.0], requires_grad=True)
    F.binary_cross_entropy_with_logits(z, np.array([1.0, 0.0]), reduction="sum").backward()
    np.testing.assert_allclose(z.grad.numpy(), [-0.5, 0.5])  # sigmoid(0) - target


def test_bce_on_probabilities_0_and_1_is_finite_like_torch(torch):
    p = np.array([0.0, 1.0, 0.0, 1.0])
    t = np.array([0.0, 1.0, 1.0, 0.0])
    ours = F.binary_cross_entropy(p, t, reduction="none").numpy()
    theirs = torch.nn.functional.binary_cross_entropy(torch.tensor(p), torch.tensor(t), reduction="none").numpy()
    np.testing.assert_allclose(ours, theirs)


@pytest.mark.parametrize("name, x, target", [
    ("mse_loss", PROBS[:2], SOFT[:2]),
    ("binary_cross_entropy", PROBS[:2], SOFT[:2]),
    ("binary_cross_entropy_with_logits", LOGITS[:2, :3], SOFT[:2]),
    ("cross_entropy", LOGITS[:3], LABELS[:3]),
])
def test_gradcheck_losses(name, x, target):
    assert cr.gradcheck(lambda x: getattr(F, name)(x, target), x)


def test_float32_stays_float32_with_float64_array_targets():
    x = cr.tensor(PROBS.astype(np.float32), requires_grad=True)
    for fn in (F.mse_loss, F.binary_cross_entropy, F.binary_cross_entropy_with_logits):
        loss = fn(x, SOFT)
        loss.backward()
        assert loss.dtype == np.float32 and x.grad.dtype == np.float32
        x.grad = None


def test_cross_entropy_label_out_of_range_names_it():
    with pytest.raises(DomainError, match=r"target label 10 at index \(1,\) is out of range; with 10 classes "
                                          r"labels must be 0..9"):
        F.cross_entropy(cr.zeros(2, 10), np.array([3, 10]))
    with pytest.raises(DomainError, match="label -1"):
        F.nll_loss(cr.zeros(2, 10), np.array([-1, 0]))


def test_cross_entropy_float_labels_are_an_error_with_a_fix():
    with pytest.raises(TypeError, match=r"integer class labels .* got dtype float64; convert them with "
                                        r"\.astype\(np\.int64\)"):
        F.cross_entropy(cr.zeros(2, 3), np.array([1.0, 2.0]))
    # Class probabilities of the input's shape are targets too (as in PyTorch): -(p * log_softmax).sum(1).mean()
    logits, p = np.array([[1.0, 2.0, 0.0], [0.5, -1.0, 2.0]]), np.array([[0.2, 0.8, 0.0], [0.0, 0.0, 1.0]])
    expected = -(p * (logits - np.log(np.exp(logits).sum(1, keepdims=True)))).sum(1).mean()
    assert F.cross_entropy(cr.tensor(logits), cr.tensor(p)).item() == pytest.approx(expected, rel=1e-14)


def test_cross_entropy_target_shape_is_checked():
    with pytest.raises(ShapeError, match=r"targets have shape \(3,\), but input of 4 classes expects class labels "
                                         r"of shape \(2,\)"):
        F.cross_entropy(cr.zeros(2, 4), np.array([0, 1, 2]))


def test_elementwise_losses_check_shapes_and_ranges():
    with pytest.raises(ShapeError, match=r"target has shape \(3, 1\) but input has shape \(3,\)"):
        F.mse_loss(cr.zeros(3), np.zeros((3, 1)))
    with pytest.raises(DomainError, match=r"probabilities in \[0, 1\], found 1.5"):
        F.binary_cross_entropy(np.array([0.5, 1.5]), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.mse_loss(cr.zeros(3), np.zeros(3), reduction="avg")
    with pytest.raises(TypeError, match="target has dtype <U1"):
        F.mse_loss(cr.zeros(1), np.array(["a"]))


def test_the_cross_entropy_primitive_second_order_matches_torch(torch):
    # F.cross_entropy of (N, C) logits is one rule-table primitive: its gradient must itself differentiate right.
    x = LOGITS[:4]
    labels = LABELS[:4]
    direction = np.random.default_rng(4).standard_normal(x.shape)
    g = cr.grad(lambda v: F.cross_entropy(v, labels))(x)
    hvp = cr.grad(lambda v: cr.sum(cr.grad(lambda w: F.cross_entropy(w, labels))(v) * direction))(x)
    xt = torch.tensor(x, requires_grad=True)
    (gt,) = torch.autograd.grad(torch.nn.functional.cross_entropy(xt, torch.tensor(labels)), xt, create_graph=True)
    (hvp_t,) = torch.autograd.grad((gt * torch.tensor(direction)).sum(), xt)
    np.testing.assert_allclose(g, gt.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(hvp, hvp_t.numpy(), rtol=1e-10, atol=1e-14)


def test_the_cross_entropy_primitive_keeps_float32_and_checks_its_arguments():
    x32 = cr.tensor(LOGITS.astype(np.float32), requires_grad=True)
    loss = cr.ops.softmax_cross_entropy(x32, LABELS)
    loss.backward()
    assert loss.dtype == np.float32 and x32.grad.dtype == np.float32
    with pytest.raises(ShapeError, match=r"softmax_cross_entropy: logits must have shape \(N, C\)"):
        cr.ops.softmax_cross_entropy(cr.tensor(LOGITS[None]), LABELS)
    with pytest.raises(ValueError, match="reduction must be one of"):
        cr.ops.softmax_cross_entropy(cr.tensor(LOGITS), LABELS, reduction="avg")
    with pytest.raises(DomainError, match="target label 7 at index"):
        cr.ops.softmax_cross_entropy(cr.tensor(LOGITS), np.array([0, 7, 1, 1, 2, 3]))


@pytest.mark.parametrize("dtype", ["int8", "uint8", ">i2", "<i4", "int64", "uint64"])
def test_labels_in_range_agrees_with_a_plain_comparison(dtype):
    """The one-call range check (the largest label read as unsigned) against Python's own comparison, at the
    edges of each integer dtype, on strided and 0-d labels."""
    from chainrule.arguments import labels_in_range

    info = np.iinfo(np.dtype(dtype))
    candidates = [v for v in (int(info.min), -1, 0, 1, 4, 5, 6, 127, 200, int(info.max)) if info.min <= v <= info.max]
    for n_classes in (1, 5, 6, 200):
        for label in candidates:
            labels = np.array([0, label, 0, 0], dtype=dtype)[1::2]  # strided: [label, 0]
            expected = all(0 <= int(v) < n_classes for v in labels.tolist())
            assert labels_in_range(labels, n_classes) is expected, (dtype, n_classes, label)
            assert labels_in_range(np.array(label, dtype=dtype), n_classes) is expected
    assert labels_in_range(np.zeros(0, dtype), 3) is True


@pytest.mark.parametrize("dtype", ["int8", "uint8", ">i2", "int64"])
def test_cross_entropy_accepts_every_integer_label_dtype(dtype):
    """The loss and gradient against the closed form −log softmax(x)[n, t_n] and (softmax − onehot)/N."""
    x = np.random.default_rng(7).standard_normal((4, 5))
    labels = np.array([0, 4, 1, 2], dtype=dtype)
    t = cr.tensor(x, requires_grad=True)
    loss = F.cross_entropy(t, labels)
    loss.backward()
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    rows, cols = np.arange(4), labels.astype(np.int64)
    assert loss.item() == pytest.approx(-np.log(p[rows, cols]).mean(), rel=1e-14)
    onehot = np.zeros_like(p)
    onehot[rows, cols] = 1
    np.testing.assert_allclose(t.grad.numpy(), (p - onehot) / 4, rtol=1e-13, atol=1e-16)


@pytest.mark.parametrize("ignore_index", [7, 2, -100])
def test_cross_entropy_ignores_its_ignore_index_outside_and_inside_the_classes(ignore_index):
    """A label equal to ignore_index adds nothing, whether it is a class (2), above the classes (7, as PyTorch
    allows) or negative; every other label counts. Against the closed form over the labels kept."""
    x = np.random.default_rng(8).standard_normal((5, 4))
    labels = np.array([1, ignore_index, 3, 0, ignore_index])
    kept = labels != ignore_index
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    expected = -np.log(p[np.arange(5)[kept], labels[kept]]).mean()
    assert F.cross_entropy(cr.tensor(x), labels, ignore_index=ignore_index).item() == pytest.approx(expected,
                                                                                                   rel=1e-14)
    with pytest.raises(DomainError, match=r"target label 7 at index \(1,\) is out of range"):
        F.cross_entropy(cr.tensor(x), np.array([1, 7, 3, 0, 0]), ignore_index=ignore_index + 1)
