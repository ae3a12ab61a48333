"""Names listed once: ``cr.<f>``, Tensor methods, the expression grammar and the names explanations use all come
from the rule entry, so a function added to the table appears everywhere with no other edit.

The new function here is a Gaussian bump, g(x) = exp(-x²), g'(x) = -2x·g(x), registered with the same helper the
table uses (``rules.elementwise.unary``) and removed again afterwards, so no other test sees it.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import math
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import torch_methods
from chainrule.cli import main
from chainrule.explain.records import BackwardStep, ForwardStep
from chainrule.explain.render import _tex_step
from chainrule.rules.elementwise import unary
from chainrule.rules.registry import ELEMENTWISE, all_rules, find, unregister
from chainrule.symbolic import parser

NAME, ALIAS = "gauss", "gaussian_bump"


@contextlib.contextmanager
def _gauss_in_the_table():
    """The table with one more entry, written as any entry of rules/elementwise.py is; removed on exit."""

    @unary(NAME, lambda x: np.exp(-x * x), expression=lambda x, m: m.exp(-x * x), aliases=(ALIAS,),
           text="-2*x*exp(-x**2)", tex=r"-2\,x\,e^{-x^2}", display=r"e^{-x^2}", symbol="φ", tex_name=r"\varphi")
    def d_gauss(x, y, m):
        return -2 * x * y

    try:
        yield find(NAME)
    finally:
        unregister(NAME)


def _value(x: float) -> float:
    return math.exp(-x * x)


def _slope(x: float) -> float:
    return -2 * x * math.exp(-x * x)


def _absent() -> list[str]:
    """Where the test function's names are still found (empty when the table is back as it was)."""
    found = []
    for name in (NAME, ALIAS):
        if hasattr(cr, name) or name in cr.__all__:
            found.append(f"cr.{name}")
        if hasattr(cr.ops, name):
            found.append(f"cr.ops.{name}")
        if hasattr(cr.Tensor, name):
            found.append(f"Tensor.{name}")
        if name in parser.DEFAULT_FUNCTIONS:
            found.append(f"grammar {name}")
    return found


def test_a_rule_added_to_the_table_appears_everywhere(capsys):
    assert _absent() == []
    with _gauss_in_the_table() as rule:
        # cr.<name> and its alias, in __all__, importable by name; the function is the generated hot path.
        assert NAME in cr.__all__ and ALIAS in cr.__all__
        assert cr.gauss is cr.gaussian_bump is cr.ops.gauss
        namespace: dict = {}
        exec(f"from chainrule import {NAME}", namespace)  # as a user writes it
        assert namespace[NAME] is cr.gauss
        x = cr.tensor(0.3, requires_grad=True)
        y = cr.gauss(x)
        y.backward()
        assert float(y) == pytest.approx(_value(0.3), rel=1e-15)
        assert float(x.grad) == pytest.approx(_slope(0.3), rel=1e-15)

        # A Tensor method, under both names.
        t = cr.tensor([0.1, -0.7])
        np.testing.assert_allclose(t.gauss().data, np.exp(-t.data**2), rtol=1e-15)
        np.testing.assert_allclose(t.gaussian_bump().data, np.exp(-t.data**2), rtol=1e-15)

        # `chainrule rules`: a row, checked live against a central difference.
        assert main(["rules"]) == 0
        rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith(NAME + " ")]
        assert len(rows) == 1 and rows[0].endswith("OK"), rows

        # The expression grammar: by name and alias, with the entry's arity.
        assert parser.DEFAULT_FUNCTIONS[NAME] == parser.DEFAULT_FUNCTIONS[ALIAS] == (1, 1)
        assert parser.to_string(parser.parse("gauss(2*x) + gaussian_bump(x)")) == "gauss(2*x) + gaussian_bump(x)"
        with pytest.raises(cr.ExpressionError, match=r"gauss\(\) takes exactly 1 argument, got 2"):
            parser.parse("gauss(x, 2)")

        # Explanations of an expression: the forward step, the rule with its symbol, and TeX name.
        e = cr.explain("gauss(2*x)", x=0.3)
        assert e.value == pytest.approx(_value(0.6), rel=1e-15)
        assert e.gradients["x"] == pytest.approx(2 * _slope(0.6), rel=1e-14)
        forward = next(s for s in e.steps if isinstance(s, ForwardStep) and s.op == NAME)
        assert forward.expression == "gauss(v1)"
        assert _tex_step(forward).startswith(r"\varphi\left(")
        step = next(s for s in e.steps if isinstance(s, BackwardStep) and s.op == NAME)
        assert step.rule == "φ'(u) = −2·u·exp(−u²)"
        assert step.rule_tex == r"\frac{d}{du} e^{-u^2} = -2\,u\,e^{-u^2}"
        assert step.local == pytest.approx(_slope(0.6), rel=1e-15)
        assert r"\varphi\left(" in e.to_latex()

        # ...and of a Python function: its graph reads back as an expression of the grammar.
        e = cr.explain(lambda x: cr.gauss(2 * x), x=0.3)
        assert e.expression == "gauss(2*x)"
        assert e.gradients["x"] == pytest.approx(2 * _slope(0.6), rel=1e-14)
        sympy = pytest.importorskip("sympy")
        s = sympy.Symbol("x", real=True)
        assert sympy.simplify(e.formulas["x"] - sympy.diff(sympy.exp(-4 * s**2), s)) == 0
        assert rule in all_rules()
    assert _absent() == []  # removed everywhere: nothing leaks into other tests


def test_a_name_already_taken_is_refused_and_leaves_no_trace():
    # cr.grad is the transform; a rule may not take its name (nor a Tensor attribute's, nor an ops helper's).
    for taken in ("grad", "backward", "apply"):
        with pytest.raises(ValueError, match=f"'{taken}'"):
            unary(taken, np.exp, text="exp(x)", tex="e^{x}", display="e^{x}")(lambda x, y, m: y)
        assert find(taken) is None
    assert callable(cr.grad) and callable(cr.Tensor.backward) and callable(cr.ops.apply)


# ---------------------------------------------------------------------------------------------------------------
# The table as it is: every entry's names are where its fields say, and nothing else is.
# ---------------------------------------------------------------------------------------------------------------
ELEMENTWISE_RULES = [r for r in all_rules() if r.kind == ELEMENTWISE]


def _names(rule):
    return (rule.name, *rule.aliases)


def test_public_entries_are_the_elementwise_functions_of_cr():
    public = {n for r in ELEMENTWISE_RULES if r.public for n in _names(r)}
    private = {n for r in ELEMENTWISE_RULES if not r.public for n in _names(r)}
    assert public <= set(cr.__all__)
    assert not private & set(cr.__all__)
    assert {"step", "logical_not", "logb"} <= private
    for name in public:
        assert getattr(cr, name) is getattr(cr.ops, name)


def test_methods_are_the_entries_marked_method():
    methods = {n for r in ELEMENTWISE_RULES if r.method for n in _names(r)}
    assert {"exp", "asin", "arcsin", "sign", "leaky_relu", "clip", "log", "abs"} <= methods
    for name in methods:
        assert getattr(cr.Tensor, name) is getattr(cr.ops, name)  # the function itself: one call
    # the rest are no Tensor methods, except PyTorch's spellings (chainrule/torch_methods.py: t.add(other, alpha=),
    # t.erf()...), which call the same rules through ops
    torch_spellings = set(torch_methods._METHODS)
    for rule in ELEMENTWISE_RULES:
        if not rule.method:
            assert not any(hasattr(cr.Tensor, n) and n not in torch_spellings for n in _names(rule)), rule.name


def test_grammar_is_the_entries_marked_grammar():
    expected = {}
    for rule in ELEMENTWISE_RULES:
        if rule.grammar:
            for name in (rule.written_as,) if rule.written_as else _names(rule):
                low, high = expected.get(name, (rule.arity, rule.arity))
                expected[name] = (min(low, rule.arity), max(high, rule.arity))
    assert dict(parser.DEFAULT_FUNCTIONS) == expected
    assert expected["log"] == (1, 2)  # log x, and log_a x written log(x, a)
    assert expected["asin"] == expected["arcsin"] == (1, 1)


def test_api_forms_keep_working():
    x = cr.tensor([0.5, 0.25])
    np.testing.assert_allclose(cr.log(x, 2).data, np.log2(x.data), rtol=1e-15)
    np.testing.assert_allclose(x.log(2).data, np.log2(x.data), rtol=1e-15)
    np.testing.assert_allclose(x.log().data, np.log(x.data), rtol=1e-15)
    np.testing.assert_allclose(x.exp().data, np.exp(x.data), rtol=1e-15)
    np.testing.assert_allclose(x.clip(0.3, 1.0).data, [0.5, 0.3])
    np.testing.assert_allclose(x.abs().data, x.data)
    np.testing.assert_allclose((-x).leaky_relu(0.2).data, -0.2 * x.data)
    np.testing.assert_allclose(cr.pow(x, 2).data, x.data**2)
    assert cr.asin is cr.arcsin and cr.absolute is cr.abs


def test_static_readers_see_the_generated_names():
    """``chainrule/__init__.py`` lists the generated names under TYPE_CHECKING for IDEs; each must be real."""
    source = Path(importlib.util.find_spec("chainrule").origin).read_text()
    block = next(node for node in ast.parse(source).body
                 if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING")
    static = {alias.name for node in block.body for alias in node.names}
    public = {n for r in ELEMENTWISE_RULES if r.public for n in _names(r)}
    assert static <= public, f"listed for IDEs but not public entries: {sorted(static - public)}"
    assert {"exp", "asin", "log", "clip", "where", "pow"} <= static
