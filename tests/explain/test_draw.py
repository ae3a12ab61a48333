"""cr.draw: the computation graph as Graphviz DOT, Mermaid, or SVG through Graphviz's dot when installed."""

from __future__ import annotations

import os
import shutil
import stat

import pytest

import chainrule as cr
from chainrule.errors import GraphError, MissingDependencyError
from chainrule.explain import draw as viz


def _graph():
    x = cr.tensor(2.0, requires_grad=True)
    y = cr.sin(x * x) + 3
    return x, y


def test_dot_lists_each_node_with_operation_and_value():
    x, y = _graph()
    dot = cr.draw(y, names={"x": x})
    assert isinstance(dot, str) and dot.format == "dot"
    assert dot.startswith("digraph chainrule {") and dot.rstrip().endswith("}")
    assert 'x1 [label="x\\nvalue = 2", shape=ellipse];' in dot
    assert 'n1 [label="v1 = multiply(x, x)\\nvalue = 4"' in dot
    assert 'n2 [label="v2 = sin(v1)\\nvalue = -0.756802"' in dot
    assert 'c1 [label="c1 = 3\\n(a constant: nothing flows back to it)"' in dot  # the constant input of add
    assert 'x1 -> n1 [label="a"];' in dot and 'x1 -> n1 [label="b"];' in dot
    assert "n1 -> n2;" in dot and "grad" not in dot


def test_gradients_shown_when_computed():
    x, y = _graph()
    full = cr.draw(y, names={"x": x}, gradients=True)  # every node's ∂y/∂node, from the saved graph
    assert "grad = 1" in full
    expected = cr.grad(lambda t: cr.sin(t * t) + 3)(2.0)
    assert f"grad = {viz._value(expected)}" in full
    y.backward()
    after = cr.draw(y, names={"x": x})  # leaves show their .grad after backward
    assert f'x1 [label="x\\nvalue = 2\\ngrad = {viz._value(expected)}"' in after
    with pytest.raises(GraphError, match="released by backward"):
        cr.draw(y, gradients=True)


def test_mermaid_renders_without_any_program():
    x, y = _graph()
    text = cr.draw(y, "mermaid", names={"x": x}, gradients=True)
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    assert '  x1(["x<br/>value = 2<br/>grad = -2.61457"])' in lines
    assert '  n1["v1 = multiply(x, x)<br/>value = 4<br/>grad = -0.653644"]' in lines
    assert "  x1 -->|a| n1" in lines and "  n1 --> n2" in lines
    assert text._repr_markdown_() == f"```mermaid\n{text}\n```"


def test_draw_an_explanation_labels_variables_and_gradients():
    e = cr.explain("sigmoid(w*x + b)", w=0.5, x=2.0, b=-1.0)
    text = cr.draw(e, "mermaid")
    for name, g in e.gradients.items():
        assert f"{name}<br/>value = " in text and f"grad = {viz._value(g)}" in text
    assert 'n3["v3 = sigmoid(v2)<br/>value = 0.5<br/>grad = 1"]' in text


def test_mermaid_escapes_quotes_and_brackets():
    x = cr.tensor(1.0, requires_grad=True)
    text = cr.draw(x * 2, "mermaid", names={'a "quoted" <name>': x})
    assert "#quot;quoted#quot; #lt;name#gt;" in text


def test_svg_without_graphviz_names_the_alternatives(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    _, y = _graph()
    with pytest.raises(MissingDependencyError, match=r"format=.mermaid.*install Graphviz"):
        cr.draw(y, "svg")


def test_svg_goes_through_the_dot_program(tmp_path, monkeypatch):
    fake = tmp_path / "dot"
    fake.write_text("#!/bin/sh\nread first\necho '<svg><!-- '\"$first\"' --></svg>'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    _, y = _graph()
    svg = cr.draw(y, "svg")
    assert svg.format == "svg" and svg.startswith("<svg>") and "digraph chainrule" in svg
    assert svg._repr_svg_() == svg


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")
def test_svg_with_real_graphviz():
    _, y = _graph()
    assert "<svg" in cr.draw(y, "svg")


def test_bad_arguments():
    _, y = _graph()
    with pytest.raises(ValueError, match="format must be one of dot, mermaid, svg"):
        cr.draw(y, "png")
    with pytest.raises(TypeError, match="expected a Tensor or an explanation"):
        cr.draw(3.0)
    with pytest.raises(GraphError, match="more than max_nodes=2"):
        cr.draw(y, max_nodes=2)


def test_a_leaf_alone_and_a_long_chain():
    x = cr.tensor(1.0, requires_grad=True)
    assert 'x1 [label="x\\nvalue = 1"' in cr.draw(x, names={"x": x})
    y = x
    for _ in range(500):
        y = y * 1.001
    assert cr.draw(y).count("multiply") == 500  # no recursion, whatever the depth
