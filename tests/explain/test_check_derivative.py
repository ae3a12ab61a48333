"""cr.check_derivative: a learner's hand-derived derivative, checked symbolically and at random points."""

from __future__ import annotations

import importlib
import math
import sys

import pytest

import chainrule as cr
from chainrule.errors import DomainError, ExpressionError

HAS_SYMPY = importlib.util.find_spec("sympy") is not None

RIGHT = [
    ("sin(x)**2", "2*sin(x)*cos(x)"),
    ("sin(x)**2", "sin(2*x)"),
    ("tan(x)", "sec(x)**2"),
    ("tan(x)", "1 + tan(x)**2"),
    ("sigmoid(x)", "sigmoid(x)*(1 - sigmoid(x))"),
    ("sigmoid(x)", "exp(-x)/(1 + exp(-x))**2"),
    ("log(x, 2)", "1/(x*log(2))"),
    ("asin(x)", "1/sqrt(1 - x**2)"),
    ("csc(x)", "-csc(x)*cot(x)"),
    ("cot(x)", "-1/sin(x)**2"),
    ("exp(2*x)", "2*exp(2*x)"),
    ("2**x", "2**x*log(2)"),
    ("x**3 + y*x", "3*x**2 + y"),
    ("softplus(x)", "sigmoid(x)"),
]


@pytest.mark.parametrize(("expr", "claimed"), RIGHT)
def test_right_derivatives_pass(expr, claimed):
    result = cr.check_derivative(expr, claimed)
    assert result
    assert result.ok is True
    assert result.point is None and result.expected is None and result.claimed is None
    assert result.points_checked == 20
    if HAS_SYMPY:
        assert result.symbolic is True
    assert str(result).startswith("right: ")


WRONG = [
    ("x**3", "3*x"),
    ("sin(x)", "-cos(x)"),
    ("tan(x)", "sec(x)"),
    ("exp(x)", "exp(x) + 1"),
    ("log(x)", "1/x**2"),
    ("sigmoid(x)", "sigmoid(x)**2"),
    ("x*y", "x"),
]


@pytest.mark.parametrize(("expr", "claimed"), WRONG)
def test_wrong_derivatives_fail_with_a_point_and_both_values(expr, claimed):
    result = cr.check_derivative(expr, claimed)
    assert not result
    assert result.ok is False
    assert result.point is not None
    # The reported values are really what the engine and the claim give there.
    engine = cr.explain(expr, **result.point).gradients["x"]
    assert result.expected == engine
    assert not math.isclose(result.expected, result.claimed, rel_tol=1e-6)
    text = str(result)
    assert text.startswith(f"wrong: d/dx [{expr}] is not")
    assert "the derivative is" in text and "but the claim gives" in text
    if HAS_SYMPY:
        assert "from the rule table" in text


def test_wrt_another_variable_and_constants():
    assert cr.check_derivative("x**2 * y", "x**2", wrt="y")
    assert not cr.check_derivative("x**2 * y", "2*x", wrt="y")
    assert cr.check_derivative("5 + y", "0")  # d/dx of something without x
    assert cr.check_derivative("x", "1")


def test_domain_restricted_functions_are_sampled_where_finite():
    result = cr.check_derivative("log(x) + sqrt(x)", "1/x + 1/(2*sqrt(x))")
    assert result and result.points_checked == 20
    result = cr.check_derivative("acos(x)", "-1/sqrt(1 - x**2)")
    assert result


def test_no_finite_point_is_a_domain_error():
    with pytest.raises(DomainError, match="found no point"):
        cr.check_derivative("sqrt(-1 - x**2)", "x")


def test_bad_input_is_a_clear_value_error():
    with pytest.raises(ExpressionError, match="unknown function 'foo'"):
        cr.check_derivative("foo(x)", "1")
    with pytest.raises(ExpressionError, match="attribute access"):
        cr.check_derivative("x", "x.__class__")
    with pytest.raises(ExpressionError, match="uses 'z', which 'x\\*\\*2' does not have"):
        cr.check_derivative("x**2", "2*z")
    with pytest.raises(ExpressionError, match="wrt must be a variable name"):
        cr.check_derivative("x**2", "2*x", wrt="1x")


def test_numeric_check_alone_without_sympy(monkeypatch):
    import chainrule.symbolic as symbolic

    monkeypatch.setitem(sys.modules, "sympy", None)
    monkeypatch.delitem(sys.modules, "chainrule.symbolic.formulas", raising=False)
    monkeypatch.delattr(symbolic, "formulas", raising=False)
    right = cr.check_derivative("tan(x)", "sec(x)**2")
    assert right and right.symbolic is None and right.formula is None
    assert "numerically" in str(right) and "symbolically" not in str(right)
    wrong = cr.check_derivative("tan(x)", "sec(x)")
    assert not wrong and wrong.point is not None
