"""cr.explain: the chain rule shown step by step, from the graph the engine differentiates."""

from __future__ import annotations

import importlib
import json
import math
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import DomainError, ExpressionError
from chainrule.explain import Accumulation, BackwardStep, Explanation
from chainrule.explain.steps import pretty, rule_forms
from chainrule.rules.registry import ELEMENTWISE, all_rules, lookup
from chainrule.symbolic import parser

HAS_SYMPY = importlib.util.find_spec("sympy") is not None


@pytest.fixture(scope="module")
def neuron() -> Explanation:
    # The formulas' content is tested here, not SymPy's speed (tests/explain/test_hostile_input.py times the budget):
    # a budget roomy enough that a busy machine still finishes simplifying.
    from chainrule.symbolic import budget

    seconds, budget.SECONDS = budget.SECONDS, 60.0
    try:
        return cr.explain("sigmoid(w*x + b)", w=0.5, x=2.0, b=-1.0)
    finally:
        budget.SECONDS = seconds


# ---------------------------------------------------------------------------------------------------------------
# The text's example.
# ---------------------------------------------------------------------------------------------------------------
def test_the_texts_example_holds_exactly(neuron):
    assert neuron.value == 0.5
    assert neuron.gradients == {"w": 0.5, "x": 0.125, "b": 0.25}
    text = neuron.to_text()
    assert "σ'(u) = σ(u)(1−σ(u))" in text
    assert "local 0.25  (at u = v2 = 0)" in text
    for line in ("∂f/∂w = 0.5", "∂f/∂x = 0.125", "∂f/∂b = 0.25"):
        assert line in text
    sigmoid_step = next(s for s in neuron.steps if isinstance(s, BackwardStep) and s.op == "sigmoid")
    assert (sigmoid_step.local, sigmoid_step.upstream, sigmoid_step.product) == (0.25, 1.0, 0.25)
    assert sigmoid_step.rule == "σ'(u) = σ(u)(1−σ(u))"
    assert sigmoid_step.rule_tex == r"\frac{d}{du} \sigma(u) = \sigma(u)\,(1 - \sigma(u))"


def test_forward_steps_name_each_intermediate(neuron):
    forward = neuron.forward_steps
    assert [(s.name, s.op, s.inputs, s.value) for s in forward] == [
        ("v1", "multiply", ("w", "x"), 1.0), ("v2", "add", ("v1", "b"), 0.0), ("v3", "sigmoid", ("v2",), 0.5),
    ]
    assert [s.expression for s in forward] == ["w * x", "v1 + b", "sigmoid(v2)"]
    assert all(s.kind == "forward" for s in forward)


def test_backward_steps_visit_nodes_newest_first_as_backward_does(neuron):
    steps = [s for s in neuron.backward_steps if isinstance(s, BackwardStep)]
    assert [(s.node, s.input) for s in steps] == [("v3", "v2"), ("v2", "v1"), ("v2", "b"), ("v1", "w"), ("v1", "x")]
    assert [s.local for s in steps] == [0.25, 1.0, 1.0, 2.0, 0.5]
    assert [s.upstream for s in steps] == [1.0, 0.25, 0.25, 0.25, 0.25]


@pytest.mark.skipif(not HAS_SYMPY, reason="symbolic formulas need SymPy")
def test_formulas_are_simplified_and_evaluate_to_the_gradients(neuron):
    import sympy

    from chainrule.symbolic.formulas import sigmoid

    w, x, b = (sympy.Symbol(n, real=True) for n in "wxb")
    s = sigmoid(w * x + b)
    assert neuron.formulas == {"w": x * s * (1 - s), "x": w * s * (1 - s), "b": s * (1 - s)}
    for name, g in neuron.gradients.items():
        assert neuron.formula_value(name) == pytest.approx(g, rel=1e-12)
    assert neuron.formula_note == ""


# ---------------------------------------------------------------------------------------------------------------
# The explanation can never disagree with the gradient.
# ---------------------------------------------------------------------------------------------------------------
CASES = [
    ("sigmoid(w*x + b)", {"w": 0.5, "x": 2.0, "b": -1.0}),
    ("x*x", {"x": 3.0}),
    ("sin(x)**2 * exp(2*x)", {"x": 0.7}),
    ("log(x, 3) + log(y) * x", {"x": 2.5, "y": 1.7}),
    ("x**y + y**x", {"x": 1.3, "y": 0.8}),
    ("tan(x) + sec(x) + csc(x) + cot(x)", {"x": 0.6}),
    ("asin(x) * acos(x) / atan(x)", {"x": 0.3}),
    ("sqrt(x*x + y*y) - abs(x - 2*y)", {"x": 1.5, "y": -0.5}),
    ("tanh(x) * sinh(y) / cosh(x*y) + softplus(-x) + relu(y)", {"x": 0.4, "y": 1.1}),
    ("log1p(x) + expm1(x) + log2(x) + log10(x)", {"x": 0.9}),
    ("-(x - pi)**3 / e", {"x": 1.0}),
    ("x*x*x - 2*x*y + y", {"x": -1.25, "y": 0.5}),
    ("maximum(x, y)**2 + minimum(x*y, 1) * sign(x)", {"x": 1.5, "y": 0.5}),
]


@pytest.mark.parametrize(("text", "point"), CASES, ids=[c[0] for c in CASES])
def test_gradients_equal_cr_grad_and_the_steps_sum_to_them(text, point):
    e = cr.explain(text, **point)
    tree = parser.parse(text)
    names = tuple(point)

    def f(*values):
        from chainrule.explain.steps import expression_math

        return parser.evaluate(tree, dict(zip(names, values, strict=True)), expression_math)

    expected = cr.grad(f, argnums=tuple(range(len(names))))(*point.values())
    assert e.gradients == dict(zip(names, expected, strict=True))
    assert e.walked_gradients == e.gradients  # the shown steps add up to the engine's gradient, bit for bit
    for s in e.steps:
        if isinstance(s, BackwardStep):
            assert s.product == s.upstream * s.local
        elif isinstance(s, Accumulation):
            assert s.total == pytest.approx(sum(v for _, v in s.contributions), rel=1e-15)
    assert e.value == float(f(*(cr.tensor(v) for v in point.values())).data)


@pytest.mark.parametrize(("text", "point"), CASES[:6], ids=[c[0] for c in CASES[:6]])
@pytest.mark.skipif(not HAS_SYMPY, reason="symbolic formulas need SymPy")
def test_formula_values_match_the_gradients(text, point):
    e = cr.explain(text, **point)
    for name, g in e.gradients.items():
        assert e.formula_value(name) == pytest.approx(g, rel=1e-10, abs=1e-12)


def test_every_local_derivative_comes_from_the_rule_entry():
    # A local derivative is the rule's own function at the node's saved values: check each against the table.
    e = cr.explain("sin(x) * exp(y) + tan(x*y)", x=0.3, y=0.4)
    for s in e.backward_steps:
        if isinstance(s, BackwardStep) and s.op == "sin":
            assert s.local == math.cos(0.3)
        if isinstance(s, BackwardStep) and s.op == "exp":
            assert s.local == math.exp(0.4)
        if isinstance(s, BackwardStep) and s.op == "tan":
            assert s.local == pytest.approx(1 / math.cos(0.12) ** 2, rel=1e-14)


def test_accumulation_is_shown_where_a_value_feeds_several_places():
    e = cr.explain("x*x", x=3.0)
    acc = [s for s in e.steps if isinstance(s, Accumulation)]
    assert len(acc) == 1
    assert acc[0].name == "x"
    assert acc[0].contributions == (("v1 (input a)", 3.0), ("v1 (input b)", 3.0))
    assert acc[0].total == 6.0 == e.gradients["x"]
    assert "x feeds 2 places (v1 (input a), v1 (input b)): ∂f/∂x = 3 + 3 = 6" in e.to_text()
    assert "∂f/∂x (one part)" in e.to_text()

    e = cr.explain("sin(x) + cos(x) * x", x=1.0)  # x in three places; a node feeding two places too
    acc = {s.name: s for s in e.steps if isinstance(s, Accumulation)}
    assert len(acc["x"].contributions) == 3
    e = cr.explain("exp(x) * exp(x)", x=0.5)
    assert {s.name for s in e.steps if isinstance(s, Accumulation)} == {"x"}


def test_an_intermediate_value_used_twice_accumulates_before_its_own_step():
    def f(x):
        u = cr.sin(x)
        return u * u + u

    e = cr.explain(f, x=0.5)
    u = "v1"
    acc = next(s for s in e.steps if isinstance(s, Accumulation) and s.name == u)
    assert len(acc.contributions) == 3
    own = next(i for i, s in enumerate(e.steps) if isinstance(s, BackwardStep) and s.node == u)
    assert e.steps.index(acc) < own
    assert e.gradients["x"] == cr.grad(f)(0.5)


# ---------------------------------------------------------------------------------------------------------------
# Python functions of Tensors.
# ---------------------------------------------------------------------------------------------------------------
def test_a_function_of_tensors_names_its_variables_from_its_parameters(neuron):
    e = cr.explain(lambda w, x, b: cr.sigmoid(w * x + b), w=0.5, x=2.0, b=-1.0)
    assert e.gradients == neuron.gradients
    assert e.value == neuron.value
    assert e.expression == "sigmoid(w*x + b)"  # read back from the graph
    if HAS_SYMPY:
        assert e.formulas == neuron.formulas


def test_a_function_with_defaults_and_ops_outside_the_grammar():
    def loss(x, y, scale=2.0):
        return cr.sum(cr.stack([x * scale, x * y]))

    e = cr.explain(loss, x=1.5, y=-2.0)
    assert e.gradients == {"x": 0.0, "y": 1.5}
    assert e.formulas == {"x": None, "y": None}
    assert "outside the grammar" in e.formula_note
    assert any(isinstance(s, BackwardStep) and s.local is None for s in e.steps)  # the stack/sum vjps
    # A parameter with a default becomes a variable when the point gives it.
    assert cr.explain(loss, x=1.5, y=-2.0, scale=1.0).gradients == {"x": -1.0, "y": 1.5, "scale": 1.5}


def test_function_errors():
    with pytest.raises(ExpressionError, match="missing value for 'y'"):
        cr.explain(lambda x, y: x * y, x=1.0)
    with pytest.raises(ExpressionError, match="unknown variable 'z'"):
        cr.explain(lambda x: x, x=1.0, z=2.0)
    with pytest.raises(TypeError, match=r"takes \*xs; give it named parameters"):
        cr.explain(lambda *xs: xs[0], x=1.0)
    with pytest.raises(ExpressionError, match="scalar result"):
        cr.explain(lambda x: cr.stack([x, x]), x=1.0)
    with pytest.raises(TypeError, match="must return a Tensor"):
        cr.explain(lambda x: "x", x=1.0)
    with pytest.raises(TypeError, match="expected an expression string or a function"):
        cr.explain(42, x=1.0)


# ---------------------------------------------------------------------------------------------------------------
# Bad input: a clear ValueError, nothing executed.
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "message"), [
    ("__import__('os').system('echo hacked')", "only a bare function name can be called"),
    ("().__class__", "attribute access"),
    ("x.__class__", "attribute access"),
    ("lambda: 1", "lambda"),
    ("foo(x)", "unknown function 'foo'"),
    ("(" * 100_000 + "x" + ")" * 100_000, "too long"),
    ("(" * 200 + "x" + ")" * 200, "nested too deeply"),
    ("x+" * 500_000 + "x", "too long"),
    ("x +", "invalid syntax"),
])
def test_malicious_and_malformed_expressions_are_rejected(text, message):
    with pytest.raises(ExpressionError, match=message):
        cr.explain(text, x=1.0)


def test_point_errors_are_clear():
    with pytest.raises(ExpressionError, match=r"missing value for 'y'.*give y=\.\.\."):
        cr.explain("x*y", x=1.0)
    with pytest.raises(ExpressionError, match="unknown variable 'z'"):
        cr.explain("x*y", x=1.0, y=2.0, z=3.0)
    with pytest.raises(ExpressionError, match="must be a real number, got str"):
        cr.explain("x", x="1.0")
    with pytest.raises(ExpressionError, match="must be a real number, got bool"):
        cr.explain("x", x=True)
    with pytest.raises(ExpressionError, match=r"needs a scalar result.*shape \(2,\)"):  # arrays are welcome
        cr.explain("x", x=[1.0, 2.0])
    with pytest.raises(DomainError, match="must be finite"):
        cr.explain("x", x=float("nan"))
    assert cr.explain("x**2", x=np.float32(2.0)).gradients == {"x": 4.0}
    assert cr.explain("x**2", x=3).gradients == {"x": 6.0}


@pytest.mark.parametrize(("text", "point", "message"), [
    ("log(x)", {"x": -1.0}, r"'log\(x\)' is nan at x = -1: v1 = log\(x\) is nan; the point is outside"),
    ("sqrt(x) + 1", {"x": -4.0}, "outside the function's domain"),
    ("asin(x)", {"x": 2.0}, "outside the function's domain"),
    ("sqrt(x*x)", {"x": 0.0}, "undefined"),
])
def test_out_of_domain_points_raise_domain_error(text, point, message):
    with pytest.raises(DomainError, match=message):
        cr.explain(text, **point)
    assert issubclass(DomainError, ValueError)


def test_expression_without_variables():
    e = cr.explain("sin(pi/2) + 1")
    assert e.value == 2.0
    assert e.gradients == {}
    assert e.forward_steps == []
    assert "f() = sin(pi/2) + 1" in e.to_text()


# ---------------------------------------------------------------------------------------------------------------
# Renderings.
# ---------------------------------------------------------------------------------------------------------------
def test_text_is_str_and_repr_is_short(neuron):
    assert str(neuron) == neuron.to_text()
    assert repr(neuron) == ("<Explanation of sigmoid(w*x + b) at w = 0.5, x = 2, b = -1: value 0.5, "
                            "gradient w=0.5, x=0.125, b=0.25>")


def test_markdown_has_the_three_tables(neuron):
    md = neuron.to_markdown()
    assert md.count("\n|---|") == 3
    assert r"$v_{3} = \sigma\left(v_{2}\right)$" in md
    assert r"$\frac{d}{du} \sigma(u) = \sigma(u)\,(1 - \sigma(u))$ | 0.25 (u = v2 = 0) | 1 |" in md
    assert r"| $\frac{\partial f}{\partial w}$ | 0.5 |" in md


def test_latex_is_one_aligned_block(neuron):
    tex = neuron.to_latex()
    assert tex.startswith("\\begin{aligned}") and tex.endswith("\\end{aligned}")
    assert r"\frac{\partial f}{\partial v_{2}} &\leftarrow \frac{\partial f}{\partial v_{3}} \cdot 0.25" in tex
    assert r"\frac{\partial f}{\partial x} &= 0.125" in tex
    assert neuron._repr_latex_() == f"$${tex}$$"


def test_json_round_trips(neuron):
    data = json.loads(neuron.to_json())
    assert data["value"] == 0.5
    assert data["gradients"] == {"w": 0.5, "x": 0.125, "b": 0.25}
    assert [s["name"] for s in data["forward"]] == ["v1", "v2", "v3"]
    first = data["backward"][0]
    assert (first["rule"], first["local"], first["upstream"], first["product"]) == ("σ'(u) = σ(u)(1−σ(u))", 0.25,
                                                                                      1.0, 0.25)
    if HAS_SYMPY:
        assert data["formulas"]["b"] == "(1 - sigmoid(b + w*x))*sigmoid(b + w*x)"
    json.loads(cr.explain("x*x", x=2.0).to_json())  # with an accumulation


def test_html_tables(neuron):
    html = neuron.to_tables_html()
    assert html.count("<table>") == 3
    assert "σ" not in html or "0.25" in html
    assert "&lt;" not in html.replace("&lt;br", "")  # nothing double-escaped
    assert "<script" not in html


def test_html_escapes_what_it_shows():
    e = cr.explain(lambda x: x * 2.0, x=1.0)
    assert "<lambda>" not in e.to_tables_html()
    arrays = cr.explain(lambda x: (x * x).sum(), x=np.ones(2))  # named <lambda>(...) on the page
    assert "<lambda>" not in arrays.to_html() and "&lt;lambda&gt;" in arrays.to_html()


def test_jupyter_shows_the_page_in_an_iframe(neuron):
    import html

    shown = neuron._repr_html_()
    assert shown.startswith("<iframe srcdoc=\"") and shown.endswith("</iframe>")
    page = html.unescape(shown.split('srcdoc="', 1)[1].split('" style=', 1)[0])
    assert page == neuron.to_html()


@pytest.mark.parametrize("rule", [r for r in all_rules() if r.kind == ELEMENTWISE], ids=lambda r: r.name)
def test_every_elementwise_rule_has_readable_text_and_tex(rule):
    for i in range(rule.arity):
        text, tex = rule_forms(rule, i)
        assert " = " in text and " = " in tex
        assert "**" not in text and "*" not in text.replace("**", "")


def test_pretty_rules():
    assert pretty("sigmoid(x)*(1 - sigmoid(x))", {"x": "u"}) == "σ(u)(1−σ(u))"
    assert pretty("sec(x)**2 = 1 + tan(x)**2", {"x": "u"}) == "sec(u)² = 1 + tan(u)²"
    assert pretty("1/sqrt(1 - x**2)", {"x": "u"}) == "1/√(1−u²)"
    assert pretty("b*a**(b - 1)") == "b·a^(b−1)"
    assert pretty("-a/b**2") == "−a/b²"
    assert pretty("1 - tanh(x)**2", {"x": "u"}) == "1 − tanh(u)²"
    assert rule_forms(lookup("tan"), 0)[0] == "tan'(u) = sec(u)² = 1 + tan(u)²"
    assert rule_forms(lookup("multiply"), 1)[0] == "∂(a·b)/∂b = a"
    assert rule_forms(lookup("logb"), 0)[0] == "∂log(x, a)/∂x = 1/(x·ln(a))"


def test_without_sympy_formulas_are_none_and_the_text_says_what_to_install(monkeypatch):
    import chainrule.symbolic as symbolic

    monkeypatch.setitem(sys.modules, "sympy", None)
    monkeypatch.delitem(sys.modules, "chainrule.symbolic.formulas", raising=False)
    monkeypatch.delattr(symbolic, "formulas", raising=False)
    e = cr.explain("sigmoid(w*x + b)", w=0.5, x=2.0, b=-1.0)
    assert e.formulas == {"w": None, "x": None, "b": None}
    assert e.gradients == {"w": 0.5, "x": 0.125, "b": 0.25}
    assert "pip install 'chainrule[symbolic]'" in e.to_text()
    assert "pip install 'chainrule[symbolic]'" in e.to_markdown()
    e.to_latex(), e.to_json(), e._repr_html_()  # every rendering works without SymPy


# ---------------------------------------------------------------------------------------------------------------
# Property: for random expressions, the explanation's steps add up to the engine's gradient.
# ---------------------------------------------------------------------------------------------------------------
def _expressions():
    from hypothesis import strategies as st

    leaves = st.sampled_from(["x", "y", "x", "2", "0.5", "pi"])

    def extend(inner):
        return st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(st.sampled_from(["sin", "cos", "tanh", "sigmoid", "atan", "softplus"]), inner)
            .map(lambda t: f"{t[0]}({t[1]})"),
            inner.map(lambda t: f"({t})**2"),
            inner.map(lambda t: f"exp({t}/4)"),
        )

    return st.recursive(leaves, extend, max_leaves=8)


def test_random_expressions_explain_consistently():
    from hypothesis import assume, given, settings
    from hypothesis import strategies as st

    from chainrule.explain.steps import expression_math

    @settings(max_examples=25, deadline=None)
    @given(_expressions(), st.floats(-1.5, 1.5), st.floats(-1.5, 1.5))
    def check(text, x, y):
        tree = parser.parse(text)
        names = parser.variables(tree)
        point = {n: v for n, v in (("x", x), ("y", y)) if n in names}
        with np.errstate(over="ignore", invalid="ignore"):
            value = np.asarray(parser.evaluate(tree, point, expression_math)).astype(float)
        # Nested exp and squares can overflow; explain rejects such points (tested apart).
        assume(np.all(np.isfinite(value)))
        e = cr.explain(text, **point)
        assert e.walked_gradients == e.gradients
        if names:

            def f(*values):
                return parser.evaluate(tree, dict(zip(point, values, strict=True)), expression_math)

            expected = cr.grad(f, argnums=tuple(range(len(point))))(*point.values())
            assert tuple(e.gradients.values()) == tuple(expected)
            if HAS_SYMPY:
                for name, g in e.gradients.items():
                    assert e.formula_value(name) == pytest.approx(g, rel=1e-9, abs=1e-12)

    check()


@pytest.mark.skipif(not HAS_SYMPY, reason="symbolic formulas need SymPy")
def test_maximum_minimum_and_sign_are_in_the_grammar():
    # by hand at x = 1.5, y = 0.5: maximum picks x (2x = 3), minimum picks x·y (y·sign x = 0.5), sign' = 0
    e = cr.explain("maximum(x, y)**2 + minimum(x*y, 1) * sign(x)", x=1.5, y=0.5)
    assert e.gradients == {"x": 3.5, "y": 1.5}
    assert e.formula_value("x") == pytest.approx(3.5) and e.formula_value("y") == pytest.approx(1.5)
