"""Symbolic formulas from the rule table, checked against SymPy's own differentiation of each forward function."""

from __future__ import annotations

import importlib
import math
import sys

import numpy as np
import pytest

sympy = pytest.importorskip("sympy", reason="the symbolic formulas need SymPy (pip install 'chainrule[symbolic]')")

import chainrule  # noqa: E402
from chainrule.errors import ExpressionError, MissingDependencyError  # noqa: E402
from chainrule.rules.registry import ELEMENTWISE, NO_GRAD, all_rules  # noqa: E402
from chainrule.symbolic import formulas, parser  # noqa: E402
from chainrule.symbolic.formulas import derivative, exact_number, formula, forward, sigmoid, to_sympy  # noqa: E402

# SciPy's special functions (rules/scipy_special.py) have no SymPy forward for every entry (erfcinv, ndtri...):
# tests/test_scipy_special.py checks their derivatives against mpmath, first and second order.
ELEMENTWISE_RULES = [r for r in all_rules() if r.kind == ELEMENTWISE
                     and getattr(r.forward, "__module__", "") != "chainrule.rules.scipy_special"]
# Piecewise-linear rules: their derivatives are step functions, compared away from the kinks.
PIECEWISE = {"relu", "abs", "leaky_relu", "maximum", "minimum", "clip"}
PARAMS = {"clip": {"lo": -0.5, "hi": 0.5}, "leaky_relu": {"slope": 0.1}}


def cases():
    return [pytest.param(rule, i, id=f"{rule.name}-{rule.args[i]}")
            for rule in ELEMENTWISE_RULES for i in range(rule.arity)]


def _symbols(rule):
    """The rule's inputs as symbols carrying the assumptions of its domain (positive for log, sqrt...)."""
    out = []
    for i, name in enumerate(rule.args):
        lo, _hi = rule.domain[i] if isinstance(rule.domain[0], tuple) else rule.domain
        out.append(sympy.Symbol(name, positive=True) if lo > 0 else sympy.Symbol(name, real=True))
    return out


def _in_terms_of(expr, rule, symbols):
    """Rename formula()'s real symbols to the domain-assumption symbols of the test."""
    plain = {sympy.Symbol(n, real=True): s for n, s in zip(rule.args, symbols, strict=True)}
    return expr.xreplace(plain)


def test_every_elementwise_rule_has_a_symbolic_forward():
    missing = [r.name for r in ELEMENTWISE_RULES if r.expression is None and any(
        d is not NO_GRAD for d in r.derivatives)]
    assert missing == []


@pytest.mark.parametrize(("rule", "i"), cases())
def test_rule_formula_equals_sympy_diff_of_forward(rule, i):
    if rule.derivatives[i] is NO_GRAD:
        assert formula(rule.name, i) == 0
        return
    xs = _symbols(rule)
    params = {k: formulas.exact_number(v) for k, v in PARAMS.get(rule.name, {}).items()}
    got = _in_terms_of(formula(rule.name, i, **params), rule, xs)
    function = forward(rule, *xs, **params)
    # Differentiate the *expanded* forward (sigmoid as 1/(1 + e^-x)), so σ's own fdiff is not used as its proof.
    expected = sympy.diff(function.rewrite(sympy.exp) if function.has(sigmoid) else function, xs[i])
    if rule.name in PIECEWISE:
        rng = np.random.default_rng(0)
        for _ in range(12):
            point = {s: sympy.Float(v) for s, v in zip(xs, rng.uniform(-2, 2, len(xs)), strict=True)}
            if any(min(abs(float(point[s]) - k) for k in (-0.5, 0.0, 0.5)) < 1e-3 for s in xs):
                continue  # keep clear of the kinks
            want = float(expected.subs(point).rewrite(sympy.Piecewise).doit())
            have = float(got.subs(point))
            assert have == pytest.approx(want, abs=1e-12), (rule.name, point)
        return
    difference = sympy.simplify((expected - got.rewrite(sympy.exp)).rewrite(sympy.exp))
    assert difference == 0, f"{rule.name}: d/d{rule.args[i]} = {got}, but diff(forward) = {expected}"


@pytest.mark.parametrize("rule", [r for r in ELEMENTWISE_RULES if r.expression is not None], ids=lambda r: r.name)
def test_symbolic_forward_agrees_with_numpy_forward(rule):
    rng = np.random.default_rng(1)
    xs = [sympy.Symbol(n, real=True) for n in rule.args]
    params = PARAMS.get(rule.name, {})
    expr = forward(rule, *xs, **{k: exact_number(v) for k, v in params.items()})
    for _ in range(3):
        values = []
        for i in range(rule.arity):
            lo, hi = rule.domain[i] if isinstance(rule.domain[0], tuple) else rule.domain
            values.append(float(rng.uniform(lo, hi)) if rule.name != "where" or i else float(rng.integers(0, 2)))
        numeric = rule.forward(*(np.asarray(v if rule.name != "where" or i else bool(v)) for i, v in
                                 enumerate(values)), **params)
        symbolic = float(sympy.N(expr.subs(dict(zip(xs, values, strict=True)))))
        assert symbolic == pytest.approx(float(numeric), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize(("name", "alternative"), [
    ("tan", "sec(x)**2"), ("cot", "-csc(x)**2"), ("csc", "-csc(x)*cot(x)"), ("sec", "sec(x)*tan(x)"),
    ("sigmoid", "sigmoid(x)*(1 - sigmoid(x))"), ("arcsin", "1/sqrt(1 - x**2)"), ("arccos", "-1/sqrt(1 - x**2)"),
    ("arctan", "1/(1 + x**2)"), ("tanh", "1 - tanh(x)**2"), ("softplus", "sigmoid(x)"), ("log2", "1/(x*log(2))"),
    ("log10", "1/(x*log(10))"), ("sqrt", "1/(2*sqrt(x))"), ("expm1", "exp(x)"),
])
def test_formulas_in_the_texts_form(name, alternative):
    assert sympy.simplify(formula(name) - to_sympy(alternative)) == 0


def test_sigmoid_formula_reads_as_the_text_writes_it():
    s = sigmoid(sympy.Symbol("x", real=True))
    assert formula("sigmoid") == s * (1 - s)
    assert formula("softplus") == s


def test_logb_formulas_for_both_inputs():
    x, a = sympy.symbols("x a", real=True)
    assert formula("logb", "x") == 1 / (x * sympy.log(a))
    assert sympy.simplify(formula("logb", "a") - sympy.diff(sympy.log(x) / sympy.log(a), a)) == 0


def test_power_formula_for_base_and_exponent():
    a, b = sympy.symbols("a b", real=True)
    assert sympy.simplify(formula("power", "a") - b * a ** (b - 1)) == 0
    assert formula("power", "b") == a**b * sympy.log(a)


def test_constants_written_as_floats_in_the_table_come_back_exact():
    assert formula("log2") == 1 / (sympy.Symbol("x", real=True) * sympy.log(2))
    assert formula("sqrt").atoms(sympy.Float) == set()
    assert exact_number(0.5) == sympy.Rational(1, 2)
    assert exact_number(1 / math.log(10)) == 1 / sympy.log(10)
    assert exact_number(3.0) == 3
    assert isinstance(exact_number(0.1234567891234), sympy.Float)


def test_rule_parameters_are_symbols_unless_given():
    slope = sympy.Symbol("slope", real=True)
    x = sympy.Symbol("x", real=True)
    assert formula("leaky_relu") == slope + (1 - slope) * sympy.Heaviside(x, 0)
    assert formula("leaky_relu", slope=sympy.Rational(1, 5)).subs(x, 1) == 1
    assert formula("relu") == sympy.Heaviside(x, 0)
    assert formula("relu").subs(x, 0) == 0  # relu'(0) = 0, the convention at kinks


def _parseable(text: str) -> bool:
    try:
        parser.parse(text.split(" = ")[0])
    except ExpressionError:
        return False  # "1 if x > 0 else 0", "sign(x)": conditions, not expressions of the grammar
    return True


@pytest.mark.parametrize("text", sorted({t for r in ELEMENTWISE_RULES for t in r.text if _parseable(t)}))
def test_rule_text_agrees_with_its_formula(text):
    """The plain text the table shows (and explanations print) is the formula its code computes."""
    tree = parser.parse(text.split(" = ")[0])
    rules = [(r, i) for r in ELEMENTWISE_RULES for i in range(r.arity) if r.text[i] == text]
    for rule, i in rules:
        if rule.derivatives[i] is NO_GRAD:
            continue
        difference = sympy.simplify(to_sympy(tree) - formula(rule.name, i))
        assert difference == 0, (rule.name, text)


# ---------------------------------------------------------------------------------------------------------------
# The chain rule over an expression tree.
# ---------------------------------------------------------------------------------------------------------------
EXPRESSIONS = [
    ("sin(x)**2 * exp(2*x)", "x"), ("sigmoid(w*x + b)", "w"), ("sigmoid(w*x + b)", "x"), ("sigmoid(w*x + b)", "b"),
    ("log(x, 3)", "x"), ("log(3, x)", "x"), ("x**x", "x"), ("2**x", "x"), ("x**2 - 1/x", "x"),
    ("sqrt(1 + x**2)", "x"), ("tan(x)*sec(x)", "x"), ("asin(x/2) + acos(x/3) + atan(x)", "x"),
    ("tanh(x*y) + cosh(x) - sinh(y)", "y"), ("log1p(x) + expm1(x) + log2(x) + log10(x)", "x"),
    ("softplus(-x) * csc(x) + cot(x)", "x"), ("pi*x + e**x", "x"), ("-(-x)**3", "x"), ("exp(-x**2/2)", "x"),
    ("y", "x"), ("7", "x"), ("maximum(x, y)**2 + minimum(x*y, 1)", "x"),
]


@pytest.mark.parametrize(("text", "wrt"), EXPRESSIONS)
def test_derivative_of_expression_matches_sympy_diff(text, wrt):
    tree = parser.parse(text)
    got = derivative(tree, wrt)
    forward = to_sympy(tree).rewrite(sympy.exp)
    expected = sympy.diff(forward, sympy.Symbol(wrt, real=True))
    # At a kink SymPy takes H(0) = 1/2; the rule table's convention is 0 (documented): compare away from kinks.
    expected = expected.replace(lambda v: isinstance(v, sympy.Heaviside), lambda v: sympy.Heaviside(v.args[0], 0))
    assert sympy.simplify(got.rewrite(sympy.exp) - expected) == 0


def test_derivative_never_calls_sympy_diff(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("derivative() must use the rule table, not sympy.diff")

    monkeypatch.setattr(sympy, "diff", refuse)
    monkeypatch.setattr(sympy.Expr, "diff", refuse)
    monkeypatch.setattr(sympy.Basic, "diff", refuse, raising=False)
    formulas._CACHE.clear()
    assert derivative("sin(x)*cos(y) + log(x*y)", "x", simplify=False) is not None
    formulas._CACHE.clear()


def test_derivative_is_simplified_and_keeps_sigmoid_whole():
    x, w, b = (sympy.Symbol(n, real=True) for n in "xwb")
    s = sigmoid(w * x + b)
    assert derivative("sigmoid(w*x + b)", "w") == x * s * (1 - s)
    assert derivative("(x**2 - 1)/(x - 1)", "x") == 1
    assert derivative("x*x + sin(x)", "x") == 2 * x + sympy.cos(x)


def test_derivative_accepts_text_and_rejects_bad_input():
    assert derivative("x**3", "x") == 3 * sympy.Symbol("x", real=True) ** 2
    with pytest.raises(ExpressionError, match="unknown function 'foo'"):
        derivative("foo(x)", "x")
    with pytest.raises(ExpressionError, match="variable name"):
        derivative("x", "2x")


def test_formula_rejects_unknown_and_array_rules():
    with pytest.raises(ExpressionError, match="no rule named 'nope'"):
        formula("nope")
    with pytest.raises(ExpressionError, match="array rule"):
        formula("sum")
    with pytest.raises(ExpressionError, match="out of range"):
        formula("sin", 1)
    with pytest.raises(ExpressionError, match="has inputs"):
        formula("multiply", "x")


def test_sigmoid_function_evaluates_prints_and_expands():
    x = sympy.Symbol("x", real=True)
    assert sigmoid(0) == sympy.Rational(1, 2)
    assert float(sigmoid(sympy.Float(1.5))) == pytest.approx(1 / (1 + math.exp(-1.5)), rel=1e-15)
    assert float(sigmoid(x).subs(x, 2).evalf()) == pytest.approx(1 / (1 + math.exp(-2)), rel=1e-15)
    assert sigmoid(x).rewrite(sympy.exp) == 1 / (1 + sympy.exp(-x))
    assert sympy.latex(sigmoid(x)) == r"\sigma\left(x\right)"
    assert sympy.latex(sigmoid(x) ** 2) == r"\sigma^{2}\left(x\right)"
    assert sigmoid(x).is_positive


def test_without_sympy_the_formulas_module_names_the_extra(monkeypatch):
    import chainrule.symbolic as symbolic

    monkeypatch.setitem(sys.modules, "sympy", None)
    monkeypatch.delitem(sys.modules, "chainrule.symbolic.formulas")
    monkeypatch.delattr(symbolic, "formulas")
    with pytest.raises(MissingDependencyError, match=r"pip install 'chainrule\[symbolic\]'"):
        importlib.import_module("chainrule.symbolic.formulas")
    # The parser, and chainrule itself, need no SymPy.
    assert symbolic.parse("x + 1") is not None
    assert chainrule.explain("x**2", x=3.0).gradients == {"x": 6.0}
