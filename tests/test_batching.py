"""Batched backward (all Jacobian rows in one pass) against one backward pass per row, for every rule sample."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.engine import backward
from chainrule.ops import apply
from chainrule.rulecheck import _sample_inputs
from chainrule.rules.registry import all_rules
from chainrule.tensor import Tensor

CASES = [(rule, k) for rule in all_rules() if rule.order > 0 for k in range(len(rule.samples))]


def _rowwise_jacobians(rule, inputs, params):
    leaves = [Tensor._make(x, None, x.dtype.kind == "f") for x in inputs]
    out = cr.ops.apply(rule, leaves, params)
    jacobians = [np.zeros((out.size, x.size)) for x in inputs]
    for k in range(out.size):
        seed = np.zeros(out.size)
        seed[k] = 1
        grads = backward([out], [seed.reshape(out.shape)], targets=leaves, retain_graph=True, accumulate=False)
        for i, g in enumerate(grads):
            if g is not None:
                jacobians[i][k] = np.broadcast_to(g, inputs[i].shape).ravel()
    return out, jacobians


@pytest.mark.parametrize(("rule", "k"), CASES, ids=[f"{r.name}-{k}" for r, k in CASES])
def test_batched_jacobian_equals_rowwise(rule, k):
    sample = rule.samples[k]
    rng = np.random.default_rng(k)
    inputs = _sample_inputs(rule, sample, rng)
    differentiable = [i for i, x in enumerate(inputs) if x.dtype.kind == "f" and rule.differentiable(i)]
    out, expected = _rowwise_jacobians(rule, inputs, sample.params)

    def f(*xs):
        args = list(inputs)
        for i, x in zip(differentiable, xs, strict=True):
            args[i] = x
        return apply(rule, args, sample.params)

    got = cr.jacobian(f, argnums=tuple(range(len(differentiable))))(*[inputs[i] for i in differentiable])
    for j, i in enumerate(differentiable):
        np.testing.assert_allclose(np.reshape(got[j], (out.size, -1)), expected[i], rtol=1e-13, atol=1e-14)


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
