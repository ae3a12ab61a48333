"""The added losses against PyTorch 2.13: values and input gradients, float64 and float32, every reduction; and
cross_entropy's weight, ignore_index, label_smoothing and probability targets."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn

TOL = {"float64": dict(rtol=1e-11, atol=1e-13), "float32": dict(rtol=2e-5, atol=1e-6)}
REDUCTIONS = ["mean", "sum", "none"]


def _agree(torch, ours, theirs, inputs, dtype):
    """ours(*Tensors) and theirs(*torch tensors): values and the gradient of the first input."""
    x = cr.tensor(inputs[0].astype(dtype), requires_grad=True)
    xt = torch.tensor(inputs[0].astype(dtype), requires_grad=True)
    rest = [a.astype(dtype) if a.dtype.kind == "f" else a for a in inputs[1:]]
    out, out_t = ours(x, *rest), theirs(xt, *[torch.from_numpy(a) for a in rest])
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), **TOL[dtype])
    w = np.random.default_rng(0).standard_normal(out.shape).astype(dtype)
    (out * w).sum().backward()
    (out_t * torch.from_numpy(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), **TOL[dtype])


RNG = np.random.default_rng(7)
A, B = RNG.standard_normal((4, 5)) * 2, RNG.standard_normal((4, 5)) * 2
ELEMENTWISE = {
    "l1": (lambda r: lambda x, t: F.l1_loss(x, t, r), lambda r: lambda x, t: _tf().l1_loss(x, t, reduction=r)),
    "smooth_l1": (lambda r: lambda x, t: F.smooth_l1_loss(x, t, r),
                  lambda r: lambda x, t: _tf().smooth_l1_loss(x, t, reduction=r)),
    "smooth_l1-beta": (lambda r: lambda x, t: F.smooth_l1_loss(x, t, r, beta=0.7),
                       lambda r: lambda x, t: _tf().smooth_l1_loss(x, t, reduction=r, beta=0.7)),
    "smooth_l1-beta0": (lambda r: lambda x, t: F.smooth_l1_loss(x, t, r, beta=0.0),
                        lambda r: lambda x, t: _tf().smooth_l1_loss(x, t, reduction=r, beta=0.0)),
    "huber": (lambda r: lambda x, t: F.huber_loss(x, t, r), lambda r: lambda x, t: _tf().huber_loss(x, t, reduction=r)),
    "huber-delta": (lambda r: lambda x, t: F.huber_loss(x, t, r, delta=2.5),
                    lambda r: lambda x, t: _tf().huber_loss(x, t, reduction=r, delta=2.5)),
}


def _tf():
    import torch

    return torch.nn.functional


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_losses(torch, name, reduction, dtype):
    ours, theirs = ELEMENTWISE[name]
    _agree(torch, ours(reduction), theirs(reduction), [A, B], dtype)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")  # torch's note on its own default
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reduction", [*REDUCTIONS, "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(torch, reduction, log_target, dtype):
    log_p = A - np.log(np.exp(A).sum(1, keepdims=True))
    q = np.exp(B) / np.exp(B).sum(1, keepdims=True)
    q[0, 1] = 0.0  # 0·log 0 = 0
    target = np.log(q + 1e-3) if log_target else q
    _agree(torch, lambda x, t: F.kl_div(x, t, reduction, log_target),
           lambda x, t: torch.nn.functional.kl_div(x, t, reduction=reduction, log_target=log_target),
           [log_p, target], dtype)


LABELS = np.array([0, 4, -100, 2])
CROSS_ENTROPY = {  # name -> (logits shape, labels, keyword arguments)
    "weight": ((4, 5), np.array([0, 4, 1, 2]), {"weight": np.arange(1.0, 6.0)}),
    "ignore": ((4, 5), LABELS, {}),
    "ignore-2": ((4, 5), np.array([2, 4, 2, 1]), {"ignore_index": 2}),
    "smoothing": ((4, 5), np.array([0, 4, 1, 2]), {"label_smoothing": 0.1}),
    "all": ((4, 5), LABELS, {"weight": np.arange(1.0, 6.0), "label_smoothing": 0.2}),
    "3d-all": ((2, 5, 3), np.array([[0, -100, 4], [1, 1, 2]]), {"weight": np.arange(1.0, 6.0),
                                                                "label_smoothing": 0.3}),
    "one-sample": ((5,), np.array(3), {"label_smoothing": 0.1, "weight": np.arange(1.0, 6.0)}),
    "probabilities": ((4, 5), "soft", {}),
    "probabilities-all": ((4, 5), "soft", {"weight": np.arange(1.0, 6.0), "label_smoothing": 0.25}),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", sorted(CROSS_ENTROPY))
def test_cross_entropy_options(torch, name, reduction, dtype):
    shape, labels, kwargs = CROSS_ENTROPY[name]
    logits = np.random.default_rng(len(name)).standard_normal(shape) * 3
    if isinstance(labels, str):
        labels = np.random.default_rng(1).dirichlet(np.ones(shape[1]), shape[0])
    ours_kw = {k: (v.astype(dtype) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    theirs_kw = {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v) for k, v in ours_kw.items()}
    _agree(torch, lambda x, t: F.cross_entropy(x, t, reduction, **ours_kw),
           lambda x, t: torch.nn.functional.cross_entropy(x, t, reduction=reduction, **theirs_kw),
           [logits, labels], dtype)


def test_cross_entropy_by_central_differences():
    logits = cr.tensor(np.random.default_rng(2).standard_normal((2, 5, 3)))
    labels = np.array([[0, -100, 4], [1, 1, 2]])
    assert cr.gradcheck(lambda x: F.cross_entropy(x, labels, weight=np.arange(1.0, 6.0), label_smoothing=0.3),
                        logits, atol=1e-9, rtol=1e-7)


def test_plain_cross_entropy_keeps_the_fused_rule():
    x = cr.tensor(np.zeros((3, 4)), requires_grad=True)
    assert F.cross_entropy(x, np.array([0, 1, 3])).node.rule.name == "cross_entropy"
    assert F.cross_entropy(x, np.array([0, 1, 3]), weight=np.ones(4)).node.rule.name != "cross_entropy"


def test_loss_modules(torch):
    x, t = np.random.default_rng(3).standard_normal((2, 3, 4)), np.random.default_rng(4).standard_normal((2, 3, 4))
    for ours, theirs in [(nn.L1Loss("sum"), torch.nn.L1Loss(reduction="sum")),
                         (nn.SmoothL1Loss(beta=0.5), torch.nn.SmoothL1Loss(beta=0.5)),
                         (nn.HuberLoss(delta=0.5), torch.nn.HuberLoss(delta=0.5)),
                         (nn.KLDivLoss("batchmean", log_target=True),
                          torch.nn.KLDivLoss(reduction="batchmean", log_target=True))]:
        assert ours(x, t).item() == pytest.approx(theirs(torch.from_numpy(x), torch.from_numpy(t)).item(), rel=1e-12)
    logits, labels = np.random.default_rng(5).standard_normal((6, 3)), np.array([0, 1, 2, 1, -100, 0])
    ours = nn.CrossEntropyLoss(weight=np.array([1.0, 2.0, 0.5]), label_smoothing=0.1)
    theirs = torch.nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64), label_smoothing=0.1)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    assert ours(logits, labels).item() == pytest.approx(
        theirs(torch.from_numpy(logits), torch.from_numpy(labels)).item(), rel=1e-12)


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.cross_entropy(np.ones((2, 3)), np.array([0, 1]), weight=np.ones(2)), cr.ShapeError, "weight"),
    (lambda: F.cross_entropy(np.ones((2, 3)), np.array([0, 1]), label_smoothing=1.5), cr.DomainError, "smoothing"),
    (lambda: F.cross_entropy(np.ones((2, 3)), np.array([0, -1]), ignore_index=-100), cr.DomainError, "out of range"),
    (lambda: F.huber_loss(np.ones(2), np.ones(2), delta=0), cr.DomainError, "delta"),
    (lambda: F.kl_div(np.ones(2), -np.ones(2)), cr.DomainError, ">= 0"),
    (lambda: F.kl_div(np.ones(2), np.ones(2), reduction="average"), ValueError, "batchmean"),
])
def test_bad_input_gets_a_clear_error(call, error, words):
    with pytest.raises(error, match=words):
        call()


P = 1 / (1 + np.exp(-A))  # probabilities for binary_cross_entropy
T01 = (RNG.random((4, 5)) < 0.5).astype(float)
LOG_P = A - np.log(np.exp(A).sum(axis=1, keepdims=True))  # log-probabilities (4, 5) for nll_loss
LABELS = np.array([0, 3, 4, 3])
CLASS_WEIGHT = np.array([0.5, 2.0, 1.0, 3.0, 0.25])
ELEMENT_WEIGHT = RNG.random((1, 5)) + 0.5  # broadcast over the batch
POS_WEIGHT = RNG.random(5) * 3
WEIGHTED = {  # ours(reduction, dtype), theirs(reduction, dtype), inputs
    "bce-weight": (lambda r, d: lambda x, t: F.binary_cross_entropy(x, t, r, weight=ELEMENT_WEIGHT.astype(d)),
                   lambda r, d: lambda x, t: _tf().binary_cross_entropy(x, t, _w(ELEMENT_WEIGHT, d), reduction=r),
                   [P, T01]),
    "bce_logits-weight": (lambda r, d: lambda x, t: F.binary_cross_entropy_with_logits(
                              x, t, r, weight=ELEMENT_WEIGHT.astype(d)),
                          lambda r, d: lambda x, t: _tf().binary_cross_entropy_with_logits(
                              x, t, _w(ELEMENT_WEIGHT, d), reduction=r), [A, T01]),
    "bce_logits-pos_weight": (lambda r, d: lambda x, t: F.binary_cross_entropy_with_logits(
                                  x, t, r, pos_weight=POS_WEIGHT.astype(d)),
                              lambda r, d: lambda x, t: _tf().binary_cross_entropy_with_logits(
                                  x, t, reduction=r, pos_weight=_w(POS_WEIGHT, d)), [A * 10, T01]),
    "bce_logits-both-soft": (lambda r, d: lambda x, t: F.binary_cross_entropy_with_logits(
                                 x, t, r, weight=ELEMENT_WEIGHT.astype(d), pos_weight=POS_WEIGHT.astype(d)),
                             lambda r, d: lambda x, t: _tf().binary_cross_entropy_with_logits(
                                 x, t, _w(ELEMENT_WEIGHT, d), reduction=r, pos_weight=_w(POS_WEIGHT, d)), [A, P]),
    "nll-weight": (lambda r, d: lambda x, t: F.nll_loss(x, t, r, weight=CLASS_WEIGHT.astype(d)),
                   lambda r, d: lambda x, t: _tf().nll_loss(x, t, _w(CLASS_WEIGHT, d), reduction=r), [LOG_P, LABELS]),
    "nll-ignore": (lambda r, d: lambda x, t: F.nll_loss(x, t, r, ignore_index=3),
                   lambda r, d: lambda x, t: _tf().nll_loss(x, t, ignore_index=3, reduction=r), [LOG_P, LABELS]),
    "nll-weight-ignore": (lambda r, d: lambda x, t: F.nll_loss(x, t, r, weight=CLASS_WEIGHT.astype(d), ignore_index=0),
                          lambda r, d: lambda x, t: _tf().nll_loss(x, t, _w(CLASS_WEIGHT, d), ignore_index=0,
                                                                   reduction=r), [LOG_P, LABELS]),
}


def _w(array, dtype):
    import torch

    return torch.from_numpy(array.astype(dtype))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", sorted(WEIGHTED))
def test_weighted_losses(torch, name, reduction, dtype):
    ours, theirs, inputs = WEIGHTED[name]
    _agree(torch, ours(reduction, dtype), theirs(reduction, dtype), inputs, dtype)


def test_loss_modules_keep_their_weights_as_buffers(torch):
    pairs = [(nn.BCELoss(weight=ELEMENT_WEIGHT), torch.nn.BCELoss(weight=_w(ELEMENT_WEIGHT, "float64")), [P, T01]),
             (nn.BCEWithLogitsLoss(weight=ELEMENT_WEIGHT, pos_weight=POS_WEIGHT),
              torch.nn.BCEWithLogitsLoss(weight=_w(ELEMENT_WEIGHT, "float64"), pos_weight=_w(POS_WEIGHT, "float64")),
              [A, T01]),
             (nn.NLLLoss(weight=CLASS_WEIGHT, ignore_index=4),
              torch.nn.NLLLoss(weight=_w(CLASS_WEIGHT, "float64"), ignore_index=4), [LOG_P, LABELS])]
    for ours, theirs, inputs in pairs:
        assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
        _agree(torch, ours, theirs, inputs, "float64")


def test_weighted_losses_agree_with_central_differences():
    labels = np.array([1, 0, 4, 2])
    assert cr.gradcheck(lambda x: F.nll_loss(x, labels, weight=CLASS_WEIGHT, ignore_index=2), LOG_P)
    assert cr.gradcheck(lambda x: F.binary_cross_entropy_with_logits(x, T01, weight=ELEMENT_WEIGHT,
                                                                     pos_weight=POS_WEIGHT), A)


@pytest.mark.parametrize("call, error, words", [
    (lambda: F.nll_loss(LOG_P, LABELS, weight=np.ones(4)), cr.ShapeError, r"shape \(5,\)"),
    (lambda: F.binary_cross_entropy(P, T01, weight=np.ones(3)), cr.ShapeError, "broadcast"),
    (lambda: F.binary_cross_entropy_with_logits(A, T01, pos_weight=np.array(["a"] * 5)), TypeError, "real numbers"),
    (lambda: F.nll_loss(LOG_P, LABELS, "avg"), ValueError, "reduction"),
])
def test_weighted_losses_refuse_bad_weights(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_softmax_and_leaky_relu_take_torchs_keywords(torch):
    x = RNG.standard_normal((3, 4))
    xt = torch.tensor(x)
    for dim in (0, 1, -1):
        np.testing.assert_allclose(F.softmax(x, dim=dim).numpy(), torch.softmax(xt, dim=dim).numpy(), rtol=1e-14)
        np.testing.assert_allclose(F.log_softmax(x, dim).numpy(), torch.log_softmax(xt, dim).numpy(), rtol=1e-14)
        np.testing.assert_array_equal(F.softmax(x, axis=dim).numpy(), F.softmax(x, dim=dim).numpy())
    np.testing.assert_array_equal(F.leaky_relu(x, negative_slope=0.2).numpy(),
                                  _tf().leaky_relu(xt, negative_slope=0.2).numpy())
    with pytest.raises(TypeError, match="give one of them"):
        F.softmax(x, dim=0, axis=1)
