"""Batched backward (all Jacobian rows in one pass) against one backward pass per row and central differences, for
every rule sample; and the ``batchable`` flag checked both ways."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import chainrule as cr
from chainrule.engine import backward
from chainrule.ops import apply
from chainrule.rulecheck import _sample_inputs
from chainrule.rules.registry import ELEMENTWISE, all_rules
from chainrule.tensor import Tensor

CASES = [(rule, k) for rule in all_rules() if rule.order > 0 for k in range(len(rule.samples))]


def _rowwise_jacobians(rule, inputs, params):
    leaves = [Tensor._make(x, None, x.dtype.kind == "f") for x in inputs]
    out = cr.ops.apply(rule, leaves, params)
    jacobians = [np.zeros((out.size, x.size), dtype=out.dtype) for x in inputs]
    # A complex output of real inputs (the FFTs): a cotangent g gives Re(g·J), so J = vjp(1) + i·vjp(−i).
    for scale in (1, -1j) if out.dtype.kind == "c" else (1,):
        for k in range(out.size):
            seed = np.zeros(out.size, dtype=out.dtype)
            seed[k] = scale
            grads = backward([out], [seed.reshape(out.shape)], targets=leaves, retain_graph=True, accumulate=False)
            for i, g in enumerate(grads):
                if g is not None:
                    jacobians[i][k] += np.broadcast_to(g, inputs[i].shape).ravel() * (1 if scale == 1 else 1j)
    return out, jacobians


def _jacobians(rule, inputs, params, differentiable):
    """cr.jacobian of the rule applied to ``inputs`` (one batched backward pass), per differentiable input."""

    def f(*xs):
        args = list(inputs)
        for i, x in zip(differentiable, xs, strict=True):
            args[i] = x
        return apply(rule, args, params)

    got = cr.jacobian(f, argnums=tuple(range(len(differentiable))))(*[inputs[i] for i in differentiable])
    return [np.reshape(g, (np.size(g) // inputs[i].size, inputs[i].size)) for g, i in zip(got, differentiable,
                                                                                          strict=True)]


def _central_differences(rule, inputs, params, i, eps=1e-6):
    """The Jacobian with respect to input ``i`` from the rule's NumPy forward alone, one element at a time."""
    columns = []
    for e in range(inputs[i].size):
        step = np.zeros(inputs[i].size)
        step[e] = eps
        plus, minus = list(inputs), list(inputs)
        plus[i] = inputs[i] + step.reshape(inputs[i].shape)
        minus[i] = inputs[i] - step.reshape(inputs[i].shape)
        columns.append(np.ravel(rule.forward(*plus, **params) - rule.forward(*minus, **params)) / (2 * eps))
    return np.stack(columns, axis=1)


def _sample(rule, k):
    sample = rule.samples[k]
    inputs = _sample_inputs(rule, sample, np.random.default_rng(k))
    differentiable = [i for i, x in enumerate(inputs) if x.dtype.kind == "f" and rule.differentiable(i)]
    return sample, inputs, differentiable


@pytest.mark.parametrize(("rule", "k"), CASES, ids=[f"{r.name}-{k}" for r, k in CASES])
def test_batched_jacobian_equals_rowwise(rule, k):
    # Row by row, and by central differences of the NumPy forward (independent of every backward pass): the
    # rows of a rule that is not batchable travel one at a time, and central differences still check them.
    sample, inputs, differentiable = _sample(rule, k)
    _, expected = _rowwise_jacobians(rule, inputs, sample.params)
    got = _jacobians(rule, inputs, sample.params, differentiable)
    for j, i in enumerate(differentiable):
        np.testing.assert_allclose(got[j], expected[i], rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(got[j], _central_differences(rule, inputs, sample.params, i),
                                   rtol=1e-6, atol=1e-8)


ARRAY_RULES = [rule for rule in all_rules() if rule.order > 0 and rule.kind != ELEMENTWISE]


@pytest.mark.parametrize("rule", ARRAY_RULES, ids=[r.name for r in ARRAY_RULES])
def test_batchable_is_marked_exactly_when_the_vjps_take_a_batch(rule):
    """A rule marked batchable gives the row-by-row Jacobian on every sample when its vjps see all rows at once; a
    rule not marked fails or differs on some sample when forced to (else mark it: jacobian would be faster)."""
    forced = dataclasses.replace(rule, batchable=True)
    failures = []
    for k in range(len(rule.samples)):
        sample, inputs, differentiable = _sample(rule, k)
        _, expected = _rowwise_jacobians(rule, inputs, sample.params)
        try:
            with np.errstate(all="ignore"):
                got = _jacobians(forced, inputs, sample.params, differentiable)
        except Exception as exc:  # any failure of the vjps on a batch is the answer sought
            failures.append(f"sample {k}: {type(exc).__name__}: {exc}")
            continue
        for j, i in enumerate(differentiable):
            if got[j].shape != expected[i].shape or not np.allclose(got[j], expected[i], rtol=1e-13, atol=1e-14):
                failures.append(f"sample {k}: input {i} differs from the row-by-row Jacobian")
    if rule.batchable:
        assert not failures, f"'{rule.name}' is marked batchable, but on a batch: {failures}"
    else:
        assert failures, f"'{rule.name}' is not marked batchable, but its vjps work on a batch: mark it batchable"


def test_batched_matches_torch_hessian():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((30, 30)) / 5
    x0 = rng.standard_normal(30)
    hessian = cr.hessian(lambda x: cr.tanh(a @ x).sum() + 0.5 * (x * x).sum())(x0)
    reference = torch.autograd.functional.hessian(
        lambda x: torch.tanh(torch.tensor(a) @ x).sum() + 0.5 * (x * x).sum(), torch.tensor(x0)
    ).numpy()
    np.testing.assert_allclose(hessian, reference, rtol=1e-12, atol=1e-13)


def test_jacobian_is_chunked_without_changing_values(monkeypatch):
    import chainrule.transforms as transforms

    x = np.linspace(-1, 1, 7)
    whole = cr.jacobian(lambda v: cr.sin(v) * v.sum())(x)
    monkeypatch.setattr(transforms, "_BATCH_ELEMENTS", 10)  # forces chunks of one or two rows
    chunked = cr.jacobian(lambda v: cr.sin(v) * v.sum())(x)
    np.testing.assert_array_equal(whole, chunked)
    expected = np.diag(np.cos(x)) * x.sum() + np.sin(x)[:, None]
    np.testing.assert_allclose(whole, expected, rtol=1e-14)


# Jacobian seeds are unit vectors (Batched.basis): a product with them picks columns or rows instead of multiplying.
# Checked against the matrices themselves, also when the rows come in several chunks (the basis then starts past 0).
@pytest.mark.parametrize("chunk_elements", [1 << 22, 2 * 6])
def test_jacobians_of_products_with_unit_seeds(monkeypatch, chunk_elements):
    from chainrule import transforms

    monkeypatch.setattr(transforms, "_BATCH_ELEMENTS", chunk_elements)
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((5, 6)), rng.standard_normal((6, 4))
    x, v = rng.standard_normal(6), rng.standard_normal(6)
    np.testing.assert_allclose(cr.jacobian(lambda x: a @ x)(x), a, rtol=1e-15)
    np.testing.assert_allclose(cr.jacobian(lambda v: v @ b)(v), b.T, rtol=1e-15)
    np.testing.assert_allclose(cr.jacobian(lambda x: cr.tanh(a @ x))(x), (1 - np.tanh(a @ x) ** 2)[:, None] * a,
                               rtol=1e-13)
    c = rng.standard_normal((6, 6))
    hess = cr.hessian(lambda x: cr.tanh(c @ x).sum() + 0.5 * (x * x).sum())(x)
    t = np.tanh(c @ x)
    np.testing.assert_allclose(hess, (c.T * (-2 * t * (1 - t * t))) @ c + np.eye(6), rtol=1e-12, atol=1e-14)
    m = rng.standard_normal((6, 1))
    np.testing.assert_allclose(cr.jacobian(lambda m: (a @ m)[:, 0])(m), a[:, :, None], rtol=1e-15)
