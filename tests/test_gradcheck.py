"""gradcheck itself, and "testing the tester": a planted wrong rule must be caught, with a readable message."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from helpers import directional_derivative, sample_inputs

import chainrule as cr
from chainrule.gradcheck import analytical_jacobians, numerical_jacobian
from chainrule.rules import registry
from chainrule.rules.registry import ELEMENTWISE, GENERAL, Rule, Sample


# ---------------------------------------------------------------------------------------------------------------
# gradcheck on correct functions.
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("f", "inputs"), [
    (lambda x: cr.sin(x) * x, [np.array([0.5, 1.5, -2.0])]),
    (lambda x, y: cr.sum(x @ y, axis=0), [np.random.default_rng(0).standard_normal((2, 3)),
                                          np.random.default_rng(1).standard_normal((3, 4))]),
    (lambda x: cr.softmax(x * 3), [np.array([[0.1, 0.2, 0.3], [1.0, -1.0, 0.5]])]),
    (lambda x, y: x ** y, [np.array([0.5, 1.5]), np.array([2.0, -0.5])]),
    (lambda x: x[np.array([0, 0, 1])] * 2, [np.array([1.0, 2.0])]),
    (lambda x: cr.tensor(3.0) * cr.exp(x), [0.3]),
], ids=["sin*x", "matmul", "softmax", "power", "getitem", "float input"])
def test_gradcheck_accepts_correct_functions(f, inputs):
    assert cr.gradcheck(f, *inputs) is True


def test_gradcheck_accepts_tensors_and_float32_and_leaves_them_alone():
    x = cr.tensor(np.array([0.5, 1.5], dtype=np.float32))
    before = x.data.copy()
    assert cr.gradcheck(lambda t: t ** 3, x) is True  # checked in float64 internally, so tolerances are met
    np.testing.assert_array_equal(x.data, before)
    assert x.grad is None and x.data.dtype == np.float32


def test_gradcheck_catches_a_wrong_function_composition():
    # The "analytic" side differentiates f, the numeric side evaluates f: if they differ, gradcheck must fail.
    # detach() hides x from the graph in the analytic pass only.
    with pytest.raises(cr.GradcheckError):
        cr.gradcheck(lambda x: x * x.detach(), np.array([1.0, 2.0]))


def test_numerical_jacobian_is_central_differences():
    x = np.array([0.3, 0.9])
    numeric = numerical_jacobian(lambda t: cr.exp(t) * t[::-1], [x.copy()], 0, 1e-6)
    expected = np.array([[np.exp(0.3) * 0.9, np.exp(0.3)], [np.exp(0.9), np.exp(0.9) * 0.3]])
    np.testing.assert_allclose(numeric, expected, rtol=1e-8)
    out, (analytic,) = analytical_jacobians(lambda t: cr.exp(t) * t[::-1], [x.copy()])
    np.testing.assert_allclose(analytic, expected, rtol=1e-15)
    np.testing.assert_allclose(out, np.exp(x) * x[::-1], rtol=1e-15)


def test_gradcheck_needs_an_input():
    with pytest.raises(ValueError, match="input"):
        cr.gradcheck(lambda: cr.tensor(1.0))


# ---------------------------------------------------------------------------------------------------------------
# A planted wrong rule.
# ---------------------------------------------------------------------------------------------------------------
BAD_NAME = "bad_sin_planted_by_test_gradcheck"


@pytest.fixture
def bad_sin():
    """A rule claiming d/dx sin(x) = sin(x) (it is cos x), registered for one test and then removed."""
    rule = Rule(
        name=BAD_NAME, forward=np.sin, kind=ELEMENTWISE, arity=1, args=("x",),
        derivatives=(lambda x, y, m: m.sin(x),), text=("sin(x) (wrong on purpose)",), tex=(r"\sin x",),
        display=r"\sin x", samples=(Sample(((5,),)), Sample(((2, 3),))),
    )
    registry.register(rule)
    try:
        yield rule
    finally:
        registry.unregister(BAD_NAME)
    assert BAD_NAME not in {r.name for r in registry.all_rules()}


def _numbers(text):
    return [float(v) for v in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", text)]


def test_gradcheck_names_input_element_and_both_values(bad_sin):
    # At π/4, sin = cos: the planted rule is right there, so the first wrong element is index 1.
    x = np.array([math.pi / 4, 1.0, 2.0])
    with pytest.raises(cr.GradcheckError) as info:
        cr.gradcheck(lambda t: cr.ops.apply(bad_sin, (t,)), x)
    message = str(info.value)
    assert "input 0" in message
    assert "element (1,)" in message
    assert repr(float(np.sin(1.0))) in message  # the analytic value, exactly
    numbers = _numbers(message)
    assert any(abs(v - np.cos(1.0)) < 1e-8 for v in numbers), f"no numerical value near cos(1) in {message!r}"


def test_gradcheck_names_the_right_input_of_several(bad_sin):
    a = np.array([[0.1, 0.2], [0.3, 0.4]])
    b = np.array([[math.pi / 4, math.pi / 4], [math.pi / 4, 2.5]])
    with pytest.raises(cr.GradcheckError) as info:
        cr.gradcheck(lambda s, t: s * 2 + cr.ops.apply(bad_sin, (t,)), a, b)
    message = str(info.value)
    assert "input 1" in message and "element (1, 1)" in message
    assert repr(float(np.sin(2.5))) in message


def test_gradcheck_error_is_an_assertion_error(bad_sin):
    with pytest.raises(AssertionError):
        cr.gradcheck(lambda t: cr.ops.apply(bad_sin, (t,)), np.array([1.0]))


def test_the_directional_check_catches_the_planted_rule(bad_sin):
    for sample in bad_sin.samples:
        inputs = sample_inputs(bad_sin, sample, seed=0)
        analytic, numeric = directional_derivative(bad_sin, inputs, sample.params, [0])
        assert analytic != pytest.approx(numeric, rel=1e-6, abs=1e-8)
        # ...and the same check passes on the real sin rule, so it is the rule that fails, not the check.
        analytic, numeric = directional_derivative(registry.lookup("sin"), inputs, sample.params, [0])
        assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-8)


def test_the_planted_rule_is_collected_by_the_table(bad_sin):
    from helpers import rule_cases

    ids = {p.id for p in rule_cases()}
    assert f"{BAD_NAME}-0" in ids and f"{BAD_NAME}-1" in ids


def test_gradcheck_catches_a_wrong_vjp_in_a_general_rule():
    # A general rule whose vjp forgets the 1/n of a mean: analytic = n × numeric.
    name = "bad_mean_planted_by_test_gradcheck"
    rule = Rule(
        name=name, forward=lambda x: np.mean(x), kind=GENERAL, arity=1, args=("x",),
        vjps=(lambda g, x, y, m: m.ones_like(x) * g,), jvp=lambda ts, x, y, m: m.sum(ts[0]),
        text=("1 (wrong on purpose)",), tex=("1",), display=r"\bar x", samples=(Sample(((4,),)),),
    )
    registry.register(rule)
    try:
        with pytest.raises(cr.GradcheckError, match=r"input 0 at element \(0,\)"):
            cr.gradcheck(lambda t: cr.ops.apply(rule, (t,)), np.array([1.0, 2.0, 3.0, 4.0]))
    finally:
        registry.unregister(name)
