"""The short paths of a small model's training step (issue 12's W1 tiny), each against what it stands for.

nn.Linear's ``ternary_op`` against ``apply`` (the same values, node, kept arrays and errors); cross-entropy's forward
without its finiteness guard against the guarded one (bit for bit, and the same warnings where a row is not finite);
leaves' gradients set under one lock, whatever their kind; and a whole training step (Linear, ReLU, cross_entropy,
SGD) against PyTorch 2.13 and central differences.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn, ops
from chainrule.engine import NotSaved, grad_mode
from chainrule.errors import DomainError, ShapeError
from chainrule.rules import arrays
from chainrule.rules.registry import lookup

LINEAR = lookup("linear")
linear = ops.ternary_op(LINEAR)
RNG = np.random.default_rng(12)


@pytest.fixture(params=[0, 4096], ids=["keep_below=0", "keep_below=4096"])
def keep_below(request, monkeypatch):
    """The suite's setting (0: every array a rule does not read becomes NotSaved, to test those claims) and the
    library's default (4096: small arrays are kept, the path a small model takes)."""
    monkeypatch.setattr(grad_mode, "keep_below", request.param)
    return request.param


def _operands(case: str, dtype: str = "float64"):
    x = RNG.standard_normal((4, 3)).astype(dtype)
    w = RNG.standard_normal((2, 3)).astype(dtype)
    b = RNG.standard_normal(2).astype(dtype)
    if dtype.startswith("complex"):
        x, w = x + 1j * RNG.standard_normal(x.shape), w + 1j * RNG.standard_normal(w.shape)
    if case == "array input":
        return x, cr.tensor(w, requires_grad=True), cr.tensor(b, requires_grad=True)
    if case == "every input needs a gradient":
        return (cr.tensor(x, requires_grad=True), cr.tensor(w, requires_grad=True), cr.tensor(b, requires_grad=True))
    if case == "constant weight":
        return cr.tensor(x, requires_grad=True), w, cr.tensor(b)
    if case == "result of an op":
        return cr.tensor(x, requires_grad=True) * 2.0, cr.tensor(w, requires_grad=True), b
    return cr.tensor(x), cr.tensor(w), b  # nothing needs a gradient


CASES = ["array input", "every input needs a gradient", "constant weight", "result of an op", "constants"]


def _same_record(ours, theirs):
    """Two results of the linear rule: equal values bit for bit, and the same node (rule, kept values, parents)."""
    assert np.array_equal(ours.numpy(), theirs.numpy())
    assert ours.numpy().dtype == theirs.numpy().dtype
    assert ours.requires_grad == theirs.requires_grad
    if theirs.node is None:
        assert ours.node is None
        return
    a, b = ours.node, theirs.node
    assert a.rule is b.rule and a.params == b.params
    assert a.parents == b.parents  # the same leaf Tensors and nodes
    for mine, other in zip((*a.inputs, a.output), (*b.inputs, b.output), strict=True):
        assert type(mine) is type(other)
        if type(other) is NotSaved:
            assert (mine.shape, mine.dtype) == (other.shape, other.dtype)
        else:
            assert np.array_equal(mine, other)


@pytest.mark.parametrize("dtype", ["float64", "float32", "complex128"])
@pytest.mark.parametrize("case", CASES)
def test_ternary_op_records_what_apply_records(case, dtype, keep_below):
    x, w, b = _operands(case, dtype)
    theirs = ops.apply(LINEAR, (x, w, b))
    ours = linear(x, w, b)
    _same_record(ours, theirs)
    with cr.no_grad():
        off = linear(x, w, b)
    assert off.node is None and not off.requires_grad
    assert np.array_equal(off.numpy(), theirs.numpy())


@pytest.mark.parametrize("batch", [128, 0])
def test_ternary_op_keeps_what_apply_keeps_of_large_arrays(batch, keep_below):
    """Arrays from 4096 elements that the rule's derivatives do not read (the bias, the output) become NotSaved;
    an empty batch has a small output and a large bias."""
    x = cr.tensor(RNG.standard_normal((batch, 64)), requires_grad=True)
    w = cr.tensor(RNG.standard_normal((4096, 64)), requires_grad=True)
    b = cr.tensor(RNG.standard_normal(4096), requires_grad=True)
    ours, theirs = linear(x, w, b), ops.apply(LINEAR, (x, w, b))
    _same_record(ours, theirs)
    assert type(ours.node.inputs[2]) is NotSaved
    assert (type(ours.node.output) is NotSaved) == (batch * 4096 >= keep_below)
    with cr.keep_values():
        kept = linear(x, w, b)
    assert all(type(v) is np.ndarray for v in (*kept.node.inputs, kept.node.output))


def test_ternary_op_takes_apply_for_other_operands_and_errors():
    x, w = cr.tensor(RNG.standard_normal((4, 3)), requires_grad=True), cr.tensor(RNG.standard_normal((2, 3)))
    for bias in (0.5, np.float64(0.5)):  # a number, a NumPy scalar
        _same_record(linear(x, w, bias), ops.apply(LINEAR, (x, w, bias)))
    bad = (np.ones((2, 3)), np.ones((4, 5)), np.ones(4))
    with pytest.raises(ShapeError) as ours:
        linear(*bad)
    with pytest.raises(ShapeError) as theirs:
        ops.apply(LINEAR, bad)
    assert str(ours.value) == str(theirs.value) and "'linear'" in str(ours.value)
    with pytest.raises(ValueError, match="three inputs; 'exp' has arity 1"):
        ops.ternary_op(lookup("exp"))


def test_cross_entropy_forward_without_its_guard_equals_the_guarded_one():
    """Finite logits skip the finiteness guard and the errstate: the same bits, the same kept softmax, no warning."""
    for dtype in ("float32", "float64"):
        x = (RNG.standard_normal((32, 10)) * 30).astype(dtype)
        labels = RNG.integers(0, 10, 32)
        for reduction in ("mean", "sum", "none"):
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                ours = arrays._cross_entropy(x, labels, reduction)
            with np.errstate(divide="ignore"):
                theirs = arrays._cross_entropy_of_shifted(arrays._shifted(x, 1), x, labels, reduction)
            assert ours.dtype == theirs.dtype == np.dtype(dtype)
            assert np.array_equal(ours, theirs)
            assert np.array_equal(arrays._cross_entropy_saved(ours, x), arrays._cross_entropy_saved(theirs, x))


def test_cross_entropy_of_rows_that_are_not_finite_keeps_its_values_and_warnings():
    """A row of −inf (nan), a +inf logit that is not the label (inf) and a nan (nan) take the guarded path: the
    values it gave before, only its own "invalid value" warnings (the check that chooses the path never warns)."""
    inf = np.inf
    x = np.array([[1.0, 2.0, 0.5], [-inf, -inf, -inf], [inf, 0.0, 1.0], [np.nan, 0.0, 1.0]])
    labels = np.array([0, 1, 2, 1])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        losses = F.cross_entropy(cr.tensor(x), labels, reduction="none").numpy()
    first = np.log(np.exp(x[0]).sum()) - x[0, 0]
    np.testing.assert_allclose(losses[0], first, rtol=1e-15)
    assert np.isnan(losses[1]) and losses[2] == inf and np.isnan(losses[3])
    messages = {str(w.message) for w in caught}
    assert messages == {"invalid value encountered in subtract", "invalid value encountered in divide"}


def test_cross_entropy_arguments_off_the_plain_path_behave_as_before(torch):
    """The plain call is told from its arguments' types at once; anything else takes the checks it took before."""
    x = RNG.standard_normal((5, 4))
    labels = np.array([1, 2, 3, 0, 2])
    with pytest.raises(DomainError, match="label_smoothing"):
        F.cross_entropy(cr.tensor(x), labels, label_smoothing=False)  # a bool is no smoothing
    reference = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(labels), ignore_index=2).item()
    for ignore_index in (2, np.int64(2)):
        ours = F.cross_entropy(cr.tensor(x), labels, ignore_index=ignore_index).item()
        assert ours == pytest.approx(reference, rel=1e-13)
    plain = torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(labels)).item()
    for target in (labels, cr.tensor(labels), labels.tolist(), labels.astype(np.int32)):
        assert F.cross_entropy(cr.tensor(x), target).item() == pytest.approx(plain, rel=1e-13)
    with pytest.raises(DomainError, match="target label 9 at index"):
        F.cross_entropy(cr.tensor(x), np.array([1, 2, 9, 0, 2]))


def test_leaf_gradients_of_every_kind_in_one_backward(torch, keep_below):
    """The common leaf (an array of its dtype and shape) and the others (a float64 gradient for a float32 leaf, a
    leaf that has a .grad already) in the same pass, under one lock: as PyTorch accumulates them."""
    a0, b0 = np.array([0.5, -1.5, 2.0], np.float32), np.array([1.25, 0.75, -0.5])
    a, b = cr.tensor(a0, requires_grad=True), cr.tensor(b0, requires_grad=True)
    at, bt = torch.tensor(a0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    for _ in range(2):  # the second pass adds to the first one's .grad
        ((a * b).sum() + (b * b).sum()).backward()
        ((at * bt).sum() + (bt * bt).sum()).backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_array_equal(a.grad.numpy(), at.grad.numpy())
    np.testing.assert_allclose(b.grad.numpy(), bt.grad.numpy(), rtol=1e-15)


def _mlp(sizes, seed):
    layers = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers += [nn.Linear(n_in, n_out, dtype=np.float64, seed=seed + i), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def test_training_steps_match_torch_and_central_differences(torch, keep_below):
    """Three steps of Linear/ReLU/cross_entropy/SGD (the W1 tiny step, in float64): the losses and the weights after
    each step as torch's; the first step's gradients as central differences of the loss."""
    sizes, lr = [6, 5, 5, 3], 0.3
    model = _mlp(sizes, 0)
    layers = [(torch.nn.Linear(n_in, n_out, dtype=torch.float64), torch.nn.ReLU())
              for n_in, n_out in itertools.pairwise(sizes)]
    reference = torch.nn.Sequential(*[m for pair in layers for m in pair][:-1])
    with torch.no_grad():
        for p, q in zip(model.parameters(), reference.parameters(), strict=True):
            q.copy_(torch.from_numpy(p.numpy()))
    optimizer, optimizer_t = cr.optim.SGD(model.parameters(), lr=lr), torch.optim.SGD(reference.parameters(), lr=lr)
    x, labels = RNG.standard_normal((8, 6)), RNG.integers(0, 3, 8)

    def loss_value() -> float:
        with cr.no_grad():
            return F.cross_entropy(model(x), labels).item()

    for step in range(3):
        optimizer.zero_grad()
        optimizer_t.zero_grad()
        loss = F.cross_entropy(model(x), labels)
        loss_t = torch.nn.functional.cross_entropy(reference(torch.from_numpy(x)), torch.from_numpy(labels))
        loss.backward()
        loss_t.backward()
        assert loss.item() == pytest.approx(loss_t.item(), rel=1e-13)
        if step == 0:
            for p in model.parameters():
                values, numerical = p.data, np.zeros(p.shape)
                for i in np.ndindex(p.shape):
                    old = float(values[i])
                    values[i] = old + 1e-6
                    up = loss_value()
                    values[i] = old - 1e-6
                    down = loss_value()
                    values[i] = old
                    numerical[i] = (up - down) / 2e-6
                np.testing.assert_allclose(p.grad.numpy(), numerical, rtol=1e-6, atol=1e-9)
        optimizer.step()
        optimizer_t.step()
        for p, q in zip(model.parameters(), reference.parameters(), strict=True):
            np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-13, atol=1e-15)


def test_a_leaf_never_keeps_a_view_of_another_array_as_its_grad(keep_below):
    """The fast loop keeps a fresh array (a weight's gᵀx, a bias's sum) as a leaf's .grad without a copy; a view
    (a transpose's or reshape's gradient, of the caller's own seed here) is copied, and so is the upstream gradient
    itself (a bias's, when there is no batch to sum): changing the seed changes no .grad."""
    w = cr.tensor(RNG.standard_normal((6, 3)))
    cases = [((2, 3), lambda t: t.T), ((2, 3), lambda t: t.reshape(3, 2)), ((2, 3), lambda t: t.reshape(6)),
             ((6,), lambda t: F.linear(np.ones(3), w, t))]
    for shape, op in cases:
        x = cr.tensor(np.ones(shape), requires_grad=True)
        y = op(x)
        seed = np.arange(6.0).reshape(y.shape).copy()  # an array of its own, as a user's usually is
        y.backward(seed)
        expected = x.grad.numpy().copy()
        seed[...] = -1.0
        np.testing.assert_array_equal(x.grad.numpy(), expected)
        np.testing.assert_array_equal(np.sort(expected.ravel()), np.arange(6.0))
