"""Every rule of the table, every sample: checked several independent ways (STYLE §6).

The parametrization reads ``all_rules()`` at collection time, so a rule added to the table is tested here without
any edit to this file. For each rule and sample (ids like ``sin-0``):

(a) first order: ``cr.gradcheck`` element by element, and ⟨u, J v⟩ along random directions against central
    differences of the rule's NumPy forward;
(b) second order (``rule.order >= 2``): ``cr.gradcheck`` of the gradient function built with ``cr.grad``, and
    ``cr.hessian`` against central differences of ``cr.grad``;
(c) forward mode: ⟨u, jvp(v)⟩ == ⟨vjp(u), v⟩, and jvp against central differences; ``cr.jacobian`` (whose
    batched backward pass is a code path of its own) against central differences;
(d) float32 in gives float32 out and float32 gradients (first and second order; via .grad and via the
    transforms, which do not cast);
(e) the entry itself: texts, TeX, display and samples are there.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from helpers import (
    API_ELEMENTWISE,
    differentiable_inputs,
    directional_derivative,
    numpy_function,
    rule_cases,
    rule_function,
    sample_inputs,
)

import chainrule as cr
from chainrule.rules.registry import ELEMENTWISE, GENERAL, KINDS, NO_GRAD, all_rules

CASES = rule_cases()
GRAD_CASES = [c for c in CASES if c.values[0].order >= 1]  # rules a gradient flows through
SECOND_ORDER_CASES = [c for c in CASES if c.values[0].order >= 2]
NO_GRAD_CASES = [c for c in CASES if c.values[0].order == 0]
RULES = [pytest.param(rule, id=rule.name) for rule in all_rules()]
EPS = 1e-6


def _scalarised(f, out_shape, seed=7, dtype=np.float64):
    """``x -> sum(w * f(x))`` with a fixed random weighting ``w`` (so each output element counts differently)."""
    w = np.random.default_rng(seed).standard_normal(out_shape).astype(dtype)

    def scalar(*xs):
        return cr.sum(f(*xs) * w)

    return scalar


def _setup(rule, sample, dtype=np.float64):
    inputs = sample_inputs(rule, sample, seed=zlib.crc32(rule.name.encode()), dtype=dtype)
    wrt = differentiable_inputs(rule, sample)
    return inputs, wrt, rule_function(rule, inputs, sample.params, wrt)


def _params(sample, dtype):
    """The sample's parameters, with float arrays (clip's broadcasting bounds) in ``dtype``: a float64 array
    constant next to a float32 input promotes the result, as in NumPy, which is not what the float32 tests test."""
    return {k: v.astype(dtype) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v
            for k, v in sample.params.items()}


def _needs_gradient(rule, sample):
    assert differentiable_inputs(rule, sample), f"'{rule.name}' has order {rule.order} but no differentiable input"


# ---------------------------------------------------------------------------------------------------------------
# (a) First order.
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("rule", "sample"), GRAD_CASES)
def test_first_order_elementwise_central_differences(rule, sample):
    _needs_gradient(rule, sample)
    inputs, wrt, f = _setup(rule, sample)
    assert cr.gradcheck(f, *[inputs[i] for i in wrt], eps=EPS, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize(("rule", "sample"), GRAD_CASES)
def test_first_order_random_direction(rule, sample):
    _needs_gradient(rule, sample)
    inputs, wrt, _ = _setup(rule, sample)
    for seed in (1, 2):
        analytic, numeric = directional_derivative(rule, inputs, sample.params, wrt, seed=seed)
        assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-8)


# ---------------------------------------------------------------------------------------------------------------
# (b) Second order.
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("rule", "sample"), SECOND_ORDER_CASES)
def test_second_order_gradcheck_of_grad(rule, sample):
    _needs_gradient(rule, sample)
    inputs, wrt, f = _setup(rule, sample)
    scalar = _scalarised(f, f(*[inputs[i] for i in wrt]).shape)
    argnums = tuple(range(len(wrt)))

    def gradient(*xs):
        grads = cr.grad(scalar, argnums=argnums)(*xs)
        assert isinstance(grads, tuple) and len(grads) == len(xs)
        return cr.concatenate([cr.reshape(g, (-1,)) for g in grads])

    assert cr.gradcheck(gradient, *[cr.tensor(inputs[i]) for i in wrt], eps=EPS, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize(("rule", "sample"), SECOND_ORDER_CASES)
def test_hessian_agrees_with_finite_differences_of_grad(rule, sample):
    # cr.hessian = jacobian(grad): a batched backward pass through the graph that the rule's derivative built.
    inputs, wrt, f = _setup(rule, sample)
    primals = [inputs[i] for i in wrt]
    scalar = _scalarised(f, f(*primals).shape)
    argnums = tuple(range(len(wrt)))
    hessian = cr.hessian(scalar, argnums=argnums)(*primals)
    gradient = cr.grad(scalar, argnums=argnums)
    for j, pj in enumerate(primals):
        columns = []
        for e in range(pj.size):
            dp = np.zeros(pj.size)
            dp[e] = EPS
            plus, minus = list(primals), list(primals)
            plus[j], minus[j] = pj + dp.reshape(pj.shape), pj - dp.reshape(pj.shape)
            columns.append([(a - b) / (2 * EPS) for a, b in zip(gradient(*plus), gradient(*minus), strict=True)])
        for i, pi in enumerate(primals):
            block = hessian[i][j]
            assert block.shape == pi.shape + pj.shape
            numeric = np.stack([np.reshape(c[i], pi.shape) for c in columns], axis=-1)
            np.testing.assert_allclose(block.reshape(pi.shape + (pj.size,)), numeric, rtol=1e-6, atol=1e-7,
                                       err_msg=f"d2/d(input {wrt[i]}) d(input {wrt[j]})")


# ---------------------------------------------------------------------------------------------------------------
# (c) Forward mode agrees with reverse mode and with finite differences.
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("rule", "sample"), GRAD_CASES)
def test_jvp_agrees_with_vjp_and_finite_differences(rule, sample):
    _needs_gradient(rule, sample)
    inputs, wrt, f = _setup(rule, sample)
    primals = [inputs[i] for i in wrt]
    rng = np.random.default_rng(3)
    vs = [rng.standard_normal(p.shape) for p in primals]

    out, tangent = cr.jvp(f, tuple(primals), tuple(vs))
    expected_out = numpy_function(rule, inputs, sample.params, wrt)(*primals)
    np.testing.assert_allclose(out, expected_out, rtol=1e-15, atol=0)
    assert np.shape(tangent) == expected_out.shape

    value, vjp_fn = cr.vjp(f, *primals)
    u = rng.standard_normal(np.shape(value))
    cotangents = vjp_fn(u)
    assert isinstance(cotangents, tuple) and len(cotangents) == len(primals)
    for c, p in zip(cotangents, primals, strict=True):
        assert np.shape(c) == p.shape
    forward = float(np.sum(u * np.asarray(tangent)))
    reverse = float(sum(np.sum(np.asarray(c) * v) for c, v in zip(cotangents, vs, strict=True)))
    assert forward == pytest.approx(reverse, rel=1e-12, abs=1e-12)

    numpy_f = numpy_function(rule, inputs, sample.params, wrt)
    plus = numpy_f(*[p + EPS * v for p, v in zip(primals, vs, strict=True)])
    minus = numpy_f(*[p - EPS * v for p, v in zip(primals, vs, strict=True)])
    np.testing.assert_allclose(np.asarray(tangent), (plus - minus) / (2 * EPS), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(("rule", "sample"), GRAD_CASES)
def test_jacobian_batched_backward_agrees_with_finite_differences(rule, sample):
    # cr.jacobian carries all rows of the Jacobian back in one batched pass (a separate code path from backward).
    inputs, wrt, f = _setup(rule, sample)
    primals = [inputs[i] for i in wrt]
    jacobians = cr.jacobian(f, argnums=tuple(range(len(wrt))))(*primals)
    numpy_f = numpy_function(rule, inputs, sample.params, wrt)
    out_shape = numpy_f(*primals).shape
    for k, (jac, p) in enumerate(zip(jacobians, primals, strict=True)):
        assert jac.shape == out_shape + p.shape
        numeric = np.zeros(out_shape + (p.size,))
        for j in range(p.size):
            dp = np.zeros(p.size)
            dp[j] = EPS
            args = list(primals)
            args[k] = p + dp.reshape(p.shape)
            plus = numpy_f(*args)
            args[k] = p - dp.reshape(p.shape)
            numeric[..., j] = (plus - numpy_f(*args)) / (2 * EPS)
        np.testing.assert_allclose(jac.reshape(out_shape + (p.size,)), numeric, rtol=1e-6, atol=1e-8,
                                   err_msg=f"input {wrt[k]}")


# ---------------------------------------------------------------------------------------------------------------
# (d) float32 stays float32.
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("rule", "sample"), CASES)
def test_float32_values_and_gradients(rule, sample):
    inputs64, _, _ = _setup(rule, sample)
    inputs, wrt, _ = _setup(rule, sample, dtype=np.float32)
    out64 = rule.forward(*inputs64, **sample.params)
    leaves = [cr.tensor(inputs[i], requires_grad=rule.order > 0) for i in wrt]
    out = rule_function(rule, inputs, _params(sample, np.float32), wrt)(*leaves)
    if np.result_type(out64).kind == "f" and "dtype" not in sample.params:
        assert out.dtype == np.float32, f"'{rule.name}' turned float32 inputs into {out.dtype}"
        np.testing.assert_allclose(out.data, out64, rtol=2e-5, atol=2e-6)
    if rule.order < 1:
        return
    seed = np.ones(out.shape, dtype=out.dtype)
    out.backward(seed, create_graph=rule.order >= 2)
    for t in leaves:
        assert t.grad is not None
        assert t.grad.dtype == np.float32, f"'{rule.name}': gradient of a float32 input is {t.grad.dtype}"
    if rule.order >= 2:
        grads = [t.grad for t in leaves if t.grad.requires_grad]
        for t in leaves:
            t.grad = None
        if grads:
            cr.sum(cr.stack([cr.sum(g * g) for g in grads])).backward()
            for t in leaves:
                if t.grad is not None:
                    assert t.grad.dtype == np.float32, f"'{rule.name}': second-order gradient is {t.grad.dtype}"


@pytest.mark.parametrize(("rule", "sample"), [c for c in GRAD_CASES if "dtype" not in c.values[1].params])
def test_float32_through_the_transforms(rule, sample):
    # Leaf .grad is cast to the leaf's dtype, which would hide a rule that promotes; the transforms return the
    # gradient the rule computed, so they show it.
    inputs, wrt, _ = _setup(rule, sample, dtype=np.float32)
    f = rule_function(rule, inputs, _params(sample, np.float32), wrt)
    primals = [inputs[i] for i in wrt]
    out = f(*primals)
    grads = cr.grad(_scalarised(f, out.shape, dtype=np.float32), argnums=tuple(range(len(wrt))))(*primals)
    for i, g in zip(wrt, grads, strict=True):
        assert g.dtype == np.float32, f"'{rule.name}': cr.grad of float32 input {i} is {g.dtype}"
    _, tangent = cr.jvp(f, tuple(primals), tuple(np.ones_like(p) for p in primals))
    assert np.asarray(tangent).dtype == np.float32, f"'{rule.name}': jvp tangent is {np.asarray(tangent).dtype}"
    if rule.order >= 2:
        hvp = cr.grad(lambda *xs: cr.sum(cr.stack([cr.sum(g * g) for g in cr.grad(
            _scalarised(f, out.shape, dtype=np.float32), argnums=tuple(range(len(wrt))))(*xs)])),
            argnums=tuple(range(len(wrt))))(*primals)
        for i, g in zip(wrt, hvp, strict=True):
            assert g.dtype == np.float32, f"'{rule.name}': second-order cr.grad of input {i} is {g.dtype}"


# ---------------------------------------------------------------------------------------------------------------
# Rules without a gradient.
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("rule", "sample"), NO_GRAD_CASES)
def test_no_gradient_rules_record_nothing(rule, sample):
    inputs, _, _ = _setup(rule, sample)
    leaves = [cr.tensor(x, requires_grad=x.dtype.kind == "f") for x in inputs]
    out = cr.ops.apply(rule, leaves, sample.params)
    np.testing.assert_array_equal(out.data, rule.forward(*inputs, **sample.params))
    assert not out.requires_grad and out.is_leaf
    table = rule.derivatives if rule.kind == ELEMENTWISE else rule.vjps
    assert all(d is NO_GRAD for d in table)


# ---------------------------------------------------------------------------------------------------------------
# (e) The entries themselves.
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rule", RULES)
def test_entry_is_complete(rule):
    assert rule.kind in KINDS
    assert rule.samples, f"'{rule.name}' has no samples, so nothing would test it"
    per_input = rule.derivatives if rule.kind == ELEMENTWISE else rule.vjps
    assert len(per_input) == (1 if rule.arity < 0 else rule.arity)
    assert len(rule.text) == len(rule.tex) == len(per_input)
    for s in (*rule.text, *rule.tex, rule.display):
        assert isinstance(s, str) and s.strip(), f"'{rule.name}' has an empty text/tex/display"
    if rule.kind == GENERAL:
        assert callable(rule.jvp), f"general rule '{rule.name}' has no jvp"
    assert rule.order >= 0
    assert (rule.order == 0) == all(d is NO_GRAD for d in per_input)
    domains = rule.domain if isinstance(rule.domain[0], tuple) else (rule.domain,)
    for lo, hi in domains:
        assert lo < hi
    for sample in rule.samples:
        if rule.arity >= 0:
            assert len(sample.shapes) == rule.arity, f"'{rule.name}': a sample with {len(sample.shapes)} inputs"
        assert all(0 <= b < len(sample.shapes) for b in sample.boolean)


# Which samples each parametrized test above must run, stated apart from the lists it is parametrized with.
COVERAGE = {
    "test_first_order_elementwise_central_differences": lambda rule, sample: rule.order >= 1,
    "test_first_order_random_direction": lambda rule, sample: rule.order >= 1,
    "test_second_order_gradcheck_of_grad": lambda rule, sample: rule.order >= 2,
    "test_hessian_agrees_with_finite_differences_of_grad": lambda rule, sample: rule.order >= 2,
    "test_jvp_agrees_with_vjp_and_finite_differences": lambda rule, sample: rule.order >= 1,
    "test_jacobian_batched_backward_agrees_with_finite_differences": lambda rule, sample: rule.order >= 1,
    "test_float32_values_and_gradients": lambda rule, sample: True,
    "test_float32_through_the_transforms": lambda rule, sample: rule.order >= 1 and "dtype" not in sample.params,
    "test_no_gradient_rules_record_nothing": lambda rule, sample: rule.order == 0,
}


def _every_rule_of_the_package():
    """The table once every module of chainrule is imported (a rule registered by any of them counts)."""
    import importlib
    import pkgutil

    for module in pkgutil.walk_packages(cr.__path__, "chainrule."):
        if module.name != "chainrule.__main__":  # runs the command line
            importlib.import_module(module.name)
    return all_rules()


def _parametrized_ids(function) -> list[str]:
    marks = [m for m in getattr(function, "pytestmark", []) if m.name == "parametrize"]
    return [getattr(p, "id", None) or str(p) for m in marks for p in m.args[1]]


def test_parametrization_covers_every_rule_and_sample():
    """Each parametrized test runs every rule and sample it should: the ids pytest collects, against the table."""
    rules = _every_rule_of_the_package()
    tests = {name: f for name, f in globals().items() if name.startswith("test_") and _parametrized_ids(f)}
    assert set(tests) - set(COVERAGE) == {"test_entry_is_complete", "test_every_api_elementwise_function_is_a_rule"}
    for name, covers in COVERAGE.items():
        expected = [f"{r.name}-{k}" for r in rules for k, s in enumerate(r.samples) if covers(r, s)]
        ids = _parametrized_ids(tests[name])
        assert len(ids) == len(set(ids)), f"{name} runs a case twice"
        assert sorted(ids) == sorted(expected), (
            f"{name}: missing {sorted(set(expected) - set(ids))}, extra {sorted(set(ids) - set(expected))}")
    assert sorted(_parametrized_ids(test_entry_is_complete)) == sorted(r.name for r in rules)


@pytest.mark.parametrize("name", API_ELEMENTWISE)
def test_every_api_elementwise_function_is_a_rule(name):
    names = {r.name for r in all_rules()} | {a for r in all_rules() for a in r.aliases}
    assert name in names, f"cr.{name} is promised by API.md but has no entry in the rule table"
    assert callable(getattr(cr, name, None)), f"cr.{name} is missing"
