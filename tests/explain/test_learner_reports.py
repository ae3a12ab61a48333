"""What learners hit (issue 13, item 4), each tried as one would, each fixed."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr


def _cli(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "chainrule", *args], capture_output=True, text=True, timeout=300)
    return done.stdout


def test_rules_table_wraps_long_derivatives_instead_of_cutting_them():
    text = _cli("rules")
    lines = text.splitlines()
    k = next(i for i, line in enumerate(lines) if line.startswith("getitem"))
    assert "g scattered back to the indexed" in lines[k]
    assert lines[k + 1].strip() == "places (repeats add up)"
    assert "indexed pl " not in text and not any(line.rstrip().endswith(" pl") for line in lines)


def test_csc_formula_reads_as_its_rule():
    text = _cli("derive", "csc(x)", "--explain", "--at", "x=1")
    assert "csc'(u) = −csc(u)·cot(u)" in text
    assert "= -cot(x)*csc(x)" in text and "tan" not in text
    e = cr.explain("csc(x)", x=1.0)
    assert e.formula_value("x") == pytest.approx(-1 / (np.sin(1.0) * np.tan(1.0)), rel=1e-12)
    # expressions without csc/sec/cot keep SymPy's own form
    assert str(cr.explain("tan(x)", x=1.0).formulas["x"]) in ("tan(x)**2 + 1", "1/cos(x)**2")


def test_a_constant_function_says_why_the_gradient_is_zero():
    e = cr.explain(lambda x: 3.0, x=0.5)
    assert e.gradients == {"x": 0.0}
    text = e.to_text()
    assert "(no chain-rule steps: f does not depend on the variables, so each gradient is 0)" in text
    assert "∂f/∂x = 0   (no path from x to f: f does not depend on x)" in text
    ident = cr.explain(lambda x: x, x=0.5).to_text()
    assert "f is a variable itself: its gradient is 1" in ident and "no path" not in ident
    partly = cr.explain(lambda x, y: x * 2.0 + y * 0.0, x=1.0, y=2.0).to_text()
    assert "no path" not in partly  # y is on a path (its gradient happens to be 0)


def test_draw_names_each_step_and_notes_constants():
    x = cr.tensor(2.0, requires_grad=True)
    y = cr.sigmoid(x * 3 + 1)
    before = cr.draw(y, format="mermaid", names={"x": x})
    assert 'n1["v1 = multiply(x, c1)<br/>value = 6"]' in before
    assert 'c1[/"c1 = 3<br/>(a constant: nothing flows back to it)"/]' in before
    assert 'n3["v3 = sigmoid(v2)<br/>value = 0.999089"]' in before
    y.backward()
    after = cr.draw(y, format="mermaid")
    assert 'c1[/"c1: a constant<br/>(value released by backward)"/]' in after
    assert '"const"' not in after


def test_refused_values_are_described_not_clipped():
    with pytest.raises(cr.errors.ExpressionError) as info:
        cr.explain(lambda W: cr.sum(W), W=np.array([["a", "b"], ["c", "d"]]))
    message = str(info.value)
    assert "\n" not in message and "array(" not in message
    assert "got an array of dtype <U1 and shape (2, 2)" in message
    with pytest.raises(cr.errors.ExpressionError, match=r"got dict \{'a': 1\}; give a number"):
        cr.explain(lambda W: W, W={"a": 1})
    with pytest.raises(cr.errors.ExpressionError, match=r"got str '" + "x" * 36 + r"\.\.\.; give"):
        cr.explain(lambda W: W, W="x" * 100)
    # what the old message refused, a matrix-valued network, is explained now
    e = cr.explain(lambda W1: cr.sum(W1 * 2.0), W1=np.ones((3, 2)))
    np.testing.assert_array_equal(e.gradients["W1"], np.full((3, 2), 2.0))
