"""Tests of the safe math-expression parser."""

from __future__ import annotations

import math
import os
import time
import types

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainrule.errors import ExpressionError
from chainrule.symbolic.parser import (
    CONSTANTS,
    DEFAULT_FUNCTIONS,
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_NODES,
    Binary,
    Call,
    Constant,
    Expr,
    Negate,
    Number,
    Variable,
    evaluate,
    parse,
    to_string,
    variables,
)

x, y, w, b = Variable("x"), Variable("y"), Variable("w"), Variable("b")


def num(value: float) -> Number:
    """A Number node."""
    return Number(float(value))


def marked(message: str) -> str:
    """The part of the quoted expression that the caret line of an error message sits under."""
    lines = message.splitlines()
    for i, line in enumerate(lines):
        if i > 0 and line.strip() and set(line.strip()) == {"^"}:
            start, end = line.index("^"), line.rindex("^") + 1
            return lines[i - 1][start:end]
    raise AssertionError(f"no caret line in message:\n{message}")


def rejection(text: str, fragment: str, **kwargs: object) -> str:
    """Parse ``text``, expecting ExpressionError whose message contains ``fragment``; return the message."""
    with pytest.raises(ExpressionError) as info:
        parse(text, **kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert fragment in message, message
    return message


# ---------------------------------------------------------------------------------------------------------
# Trees
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        (
            "sin(x)**2 * exp(2*x)",
            Binary("*", Binary("**", Call("sin", (x,)), num(2)), Call("exp", (Binary("*", num(2), x),))),
        ),
        ("sigmoid(w*x + b)", Call("sigmoid", (Binary("+", Binary("*", w, x), b),))),
        ("log(x, 3)", Call("log", (x, num(3)))),
        ("-x**2", Negate(Binary("**", x, num(2)))),
        ("2**-1", Binary("**", num(2), Negate(num(1)))),
        ("1e-3*x", Binary("*", num(0.001), x)),
        ("x - y - w", Binary("-", Binary("-", x, y), w)),
        ("x - (y - w)", Binary("-", x, Binary("-", y, w))),
        ("x**y**w", Binary("**", x, Binary("**", y, w))),
        ("(x**y)**w", Binary("**", Binary("**", x, y), w)),
        ("-x*y", Binary("*", Negate(x), y)),
        ("x / y * 2", Binary("*", Binary("/", x, y), num(2))),
        ("+x", x),
        ("2*pi*e", Binary("*", Binary("*", num(2), Constant("pi")), Constant("e"))),
        ("((x))", x),
        ("  relu(x)\t+\n1  ", Binary("+", Call("relu", (x,)), num(1))),
        ("3", num(3)),
        ("2.5e+2", num(250)),
        ("θ + y", Binary("+", Variable("θ"), y)),
        ("log(x)", Call("log", (x,))),
        ("arcsin(x) + asin(x)", Binary("+", Call("arcsin", (x,)), Call("asin", (x,)))),
    ],
)
def test_trees(text: str, tree: Expr) -> None:
    assert parse(text) == tree


def test_numbers_are_floats() -> None:
    tree = parse("2 + 1_000")
    assert isinstance(tree, Binary)
    assert all(isinstance(n, Number) and type(n.value) is float for n in (tree.left, tree.right))


def test_spans_point_into_source() -> None:
    text = "a + sin(θ*b)"
    tree = parse(text)
    assert isinstance(tree, Binary)
    assert tree.span == (0, len(text))
    start, end = tree.right.span
    assert text[start:end] == "sin(θ*b)"
    # spans do not take part in equality or hashing
    assert Variable("a", (5, 6)) == Variable("a") and hash(Variable("a", (5, 6))) == hash(Variable("a"))


def test_custom_function_table() -> None:
    table = {"f": (2, 3)}
    assert parse("f(x, y)", functions=table) == Call("f", (x, y))
    assert parse("sin", functions=table) == Variable("sin")
    rejection("sin(x)", "unknown function 'sin'", functions=table)
    rejection("f(x)", "f() takes 2 to 3 arguments, got 1", functions=table)
    with pytest.raises(ValueError, match="min_args"):
        parse("x", functions={"f": (2, 1)})


def test_default_functions() -> None:
    assert DEFAULT_FUNCTIONS["log"] == (1, 2)
    assert {"exp", "sigmoid", "relu", "softplus", "arctan", "csc"} <= set(DEFAULT_FUNCTIONS)
    assert sorted(CONSTANTS) == ["e", "pi"]
    with pytest.raises(TypeError):
        DEFAULT_FUNCTIONS["evil"] = (0, 0)  # type: ignore[index]


def test_variables() -> None:
    assert variables(parse("y*x + sin(x)*w + pi + e")) == ("w", "x", "y")
    assert variables(parse("2 + 3")) == ()


# ---------------------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------------------


def _math_namespace() -> types.SimpleNamespace:
    """A math-module-like namespace with the extra functions the parser allows."""
    return types.SimpleNamespace(
        **{name: getattr(math, name) for name in dir(math) if not name.startswith("_")},
        abs=abs,
        arcsin=math.asin,
        arccos=math.acos,
        arctan=math.atan,
        csc=lambda v: 1 / math.sin(v),
        sec=lambda v: 1 / math.cos(v),
        cot=lambda v: 1 / math.tan(v),
        sigmoid=lambda v: 1 / (1 + math.exp(-v)),
        relu=lambda v: max(v, 0.0),
        softplus=lambda v: math.log1p(math.exp(v)),
        sign=lambda v: math.copysign(1.0, v) if v else 0.0,
        maximum=max,
        minimum=min,
    )


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("sin(x)**2 * exp(2*x)", {"x": 0.5}, math.sin(0.5) ** 2 * math.exp(1.0)),
        ("sigmoid(w*x + b)", {"w": 2.0, "x": 0.5, "b": -1.0}, 0.5),
        ("log(x, 3)", {"x": 81.0}, 4.0),
        ("-x**2", {"x": 3.0}, -9.0),
        ("2**-1", {}, 0.5),
        ("1e-3*x", {"x": 2000.0}, 2.0),
        ("relu(x) + relu(-y)", {"x": -1.0, "y": -2.0}, 2.0),
        ("softplus(0) + csc(pi/2) + sec(0) + cot(pi/4)", {}, math.log(2) + 3.0),
        ("arctan(1) + asin(1)", {}, math.pi / 4 + math.pi / 2),
        ("abs(x - 5) / 2 + e", {"x": 1.0}, 2.0 + math.e),
        ("log2(8) + log10(100) + log1p(0) + expm1(0) + sqrt(16)", {}, 9.0),
        ("maximum(x, 1) + minimum(x, 1) * sign(-x) + sign(0)", {"x": 3.0}, 2.0),
    ],
)
def test_evaluate_math(text: str, env: dict[str, float], expected: float) -> None:
    assert evaluate(parse(text), env, _math_namespace()) == pytest.approx(expected)


def test_evaluate_numpy() -> None:
    values = np.linspace(0.1, 2.0, 7)
    got = evaluate(parse("sin(x)**2 * exp(2*x) - log(x) / sqrt(x) + tanh(pi*x)"), {"x": values}, np)
    expected = (
        np.sin(values) ** 2 * np.exp(2 * values) - np.log(values) / np.sqrt(values) + np.tanh(np.pi * values)
    )
    np.testing.assert_allclose(got, expected)
    assert evaluate(parse("arctan(x) + abs(-x)"), {"x": values}, np) == pytest.approx(
        np.arctan(values) + values
    )


def test_evaluate_numbers_are_python_floats() -> None:
    seen: list[object] = []
    namespace = types.SimpleNamespace(exp=lambda v: seen.append(v) or 1.0)
    evaluate(parse("exp(2)"), {}, namespace)
    assert seen == [2.0] and type(seen[0]) is float


def test_evaluate_missing_variables() -> None:
    with pytest.raises(ExpressionError) as info:
        evaluate(parse("x*y + z + w"), {"x": 1.0, "q": 2.0}, math)
    message = str(info.value)
    assert "'w', 'y', 'z'" in message
    assert "provided: q, x" in message
    with pytest.raises(ExpressionError, match="provided: none"):
        evaluate(parse("x"), {}, math)


def test_evaluate_missing_function_in_namespace() -> None:
    with pytest.raises(ExpressionError, match="'sigmoid'"):
        evaluate(parse("sigmoid(x)"), {"x": 1.0}, math)


def test_deep_trees_built_by_hand_need_no_recursion() -> None:
    tree: Expr = x
    for _ in range(5_000):
        tree = Negate(Binary("+", tree, num(1)))
    assert evaluate(tree, {"x": 0.0}, math) == 0.0
    assert to_string(tree).count("x") == 1
    assert variables(tree) == ("x",)


# ---------------------------------------------------------------------------------------------------------
# Rejections
# ---------------------------------------------------------------------------------------------------------


def test_unknown_function_message() -> None:
    message = rejection("foo(x) + 1", "unknown function 'foo' in expression:")
    assert message.splitlines()[1:3] == ["  foo(x) + 1", "  ^^^"]
    assert "allowed functions: abs, absolute, acos," in message


@pytest.mark.parametrize(
    ("text", "fragment", "target"),
    [
        ("x.__class__", "attribute", "x.__class__"),
        ("().__class__", "attribute", "().__class__"),
        ("1 + x[0]", "subscript", "x[0]"),
        ("lambda: 1", "lambda", "lambda: 1"),
        ("[t for t in y]", "comprehension", "[t for t in y]"),
        ("sum(t for t in y)", "unknown function 'sum'", "sum"),
        ("sin(t for t in y)", "generator", "(t for t in y)"),
        ("x + 'a'", "strings are not allowed", "'a'"),
        ("b'a' * 2", "strings are not allowed", "b'a'"),
        ("x + True", "booleans are not allowed", "True"),
        ("None", "None is not allowed", "None"),
        ("x * 1j", "complex numbers are not allowed", "1j"),
        ("log(x, base=2)", "keyword arguments are not allowed", "base=2"),
        ("log(x, **k)", "keyword arguments are not allowed", "**k"),
        ("sin(*x)", "starred", "*x"),
        ("(sin)(x)", "only a bare function name can be called", "sin"),
        ("x(1)", "unknown function 'x'", "x"),
        ("2 + y(x)", "unknown function 'y'", "y"),
        ("sin + 1", "function 'sin' used as a variable", "sin"),
        ("1 + exp", "function 'exp' used as a variable", "exp"),
        ("sin(x, y)", "sin() takes exactly 1 argument, got 2", "sin(x, y)"),
        ("log()", "log() takes 1 to 2 arguments, got 0", "log()"),
        ("log(x, 2, 3)", "got 3", "log(x, 2, 3)"),
        ("pi(2)", "'pi' is a constant, not a function", "pi"),
        ("x < 1", "comparison", "x < 1"),
        ("x == 1", "comparison", "x == 1"),
        ("x and y", "boolean operators", "x and y"),
        ("not x", "'not'", "not x"),
        ("x | y", "operator '|' is not allowed", "|"),
        ("x & y", "operator '&' is not allowed", "&"),
        ("x << 2", "operator '<<' is not allowed", "<<"),
        ("~x", "'~'", "~x"),
        ("x // 2", "operator '//' is not allowed", "//"),
        ("x % 2", "operator '%' is not allowed", "%"),
        ("x @ y", "operator '@' is not allowed", "@"),
        ("(y := x)", "':='", "y := x"),
        ("f'{x}'", "f-strings", "f'{x}'"),
        ("__import__", "underscore", "__import__"),
        ("_x + 1", "underscore", "_x"),
        ("__import__('os')", "underscore", "__import__"),
        ("import os", "import statements are not allowed", "import os"),
        ("x = 1", "assignments are not allowed", "x = 1"),
        ("x += 1", "assignments are not allowed", "x += 1"),
        ("x; y", "';' is not allowed", ";"),
        ("x^2", "use '**' for powers", "^"),
        ("(x + 1) ^ (y)", "operator '^' is not allowed", "^"),
        ("x, y", "tuples", "x, y"),
        ("{x}", "sets", "{x}"),
        ("x if y else w", "conditional", "x if y else w"),
        ("...", "Ellipsis", "..."),
        ("x # comment", "comments", "# comment"),
        ("2x", "invalid syntax", "2"),
        ("x +", "invalid syntax", ""),
        ("1e400 * x", "too large", "1e400"),
        ("é + foo(y)", "unknown function 'foo'", "foo"),
    ],
)
def test_rejections_point_at_offending_part(text: str, fragment: str, target: str) -> None:
    message = rejection(text, fragment)
    assert f"\n  {text}\n" in message  # the expression is quoted
    if target:
        assert marked(message) == target, message


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty(text: str) -> None:
    rejection(text, "empty expression")


def test_not_a_string() -> None:
    with pytest.raises(ExpressionError, match="must be a string"):
        parse(b"x")  # type: ignore[arg-type]


def test_control_characters() -> None:
    message = rejection("x\x00 + 1", "control character")
    assert marked(message) == "?"


def test_code_injection_does_nothing(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    calls: list[object] = []
    monkeypatch.setattr(os, "system", lambda *args: calls.append(args) or 0)
    for text in [
        "__import__('os').system('echo hi')",
        "().__class__.__bases__[0].__subclasses__()",
        "exp.__globals__",
        "sin(x).__class__",
        "[c for c in ().__class__.__base__.__subclasses__()]",
    ]:
        with pytest.raises(ExpressionError):
            parse(text)
    assert calls == []
    assert "hi" not in capfd.readouterr().out


# ---------------------------------------------------------------------------------------------------------
# Limits
# ---------------------------------------------------------------------------------------------------------


def test_huge_nesting_rejected_quickly() -> None:
    start = time.perf_counter()
    rejection("(" * 100_000 + "x" + ")" * 100_000, f"the limit is {MAX_LENGTH}")
    message = rejection("(" * 4_000 + "x" + ")" * 4_000, "brackets nested too deeply (depth 4000")
    assert time.perf_counter() - start < 1.0
    assert f"the limit is {MAX_DEPTH}" in message


def test_bracket_depth_limit_is_exact() -> None:
    deepest_ok = "(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH
    assert parse(deepest_ok) == x
    message = rejection("(" + deepest_ok + ")", f"depth {MAX_DEPTH + 1}")
    assert marked(message) == "("


def test_one_megabyte_rejected_quickly() -> None:
    text = "x+" * 500_000 + "x"
    start = time.perf_counter()
    message = rejection(text, f"{len(text)} characters; the limit is {MAX_LENGTH}")
    assert time.perf_counter() - start < 0.5
    assert len(message) < 300


@pytest.mark.parametrize("chain", ["-" * 150 + "x", "x" + "**x" * 150, "-" * 9_000 + "x",
                                   "sin(" * 150 + "x" + ")" * 150, "x" + "+x" * 150 + "**x" * 150])
def test_tree_depth_limit(chain: str) -> None:
    rejection(chain, "nested too deeply")


def test_tree_depth_limit_message_names_depth() -> None:
    rejection("-" * 150 + "x", f"depth 151; the limit is {MAX_DEPTH}")


@pytest.mark.parametrize("op", ["+", "-", "*", "/"])
def test_flat_sums_and_products_are_not_nesting(op: str) -> None:
    text = op.join(["x"] * 400)
    tree = parse(text)
    assert to_string(tree).replace(" ", "") == text
    assert evaluate(tree, {"x": 2.0}, math) == pytest.approx(eval(text, {"x": 2.0}), rel=1e-12)
    rejection("(" + text + ")" + "**x" * 100, "nested too deeply")  # a sum's operands still nest
    assert parse("+" * 150 + "x") == x  # unary plus adds nothing to the tree


def test_node_limit() -> None:
    text = " + ".join("(" + "+".join(["x"] * 30) + ")" for _ in range(20))
    assert len(text) <= MAX_LENGTH
    rejection(text, f"1199 nodes; the limit is {MAX_NODES}")
    small = " + ".join("(" + "+".join(["x"] * 30) + ")" for _ in range(10))
    assert variables(parse(small)) == ("x",)


# ---------------------------------------------------------------------------------------------------------
# Printing
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("sin(x)**2 * exp(2*x)", "sin(x)**2*exp(2*x)"),
        ("sigmoid((w*x) + b)", "sigmoid(w*x + b)"),
        ("log(x,3)", "log(x, 3)"),
        ("-(x**2)", "-x**2"),
        ("(-x)**2", "(-x)**2"),
        ("2**(-1)", "2**-1"),
        ("1e-3*x", "0.001*x"),
        ("x - (y - w)", "x - (y - w)"),
        ("(x - y) - w", "x - y - w"),
        ("x * (-y)", "x*(-y)"),
        ("x - -y", "x - (-y)"),
        ("--x", "-(-x)"),
        ("(x**y)**w", "(x**y)**w"),
        ("x**(y**w)", "x**y**w"),
        ("x / (y * w)", "x/(y*w)"),
        ("(x + y) * w", "(x + y)*w"),
        ("2.0 * pi", "2*pi"),
        ("1e20 + 0.5", "1e+20 + 0.5"),
    ],
)
def test_to_string(text: str, canonical: str) -> None:
    assert to_string(parse(text)) == canonical


def test_to_string_negative_number() -> None:
    assert to_string(Binary("**", Number(-2.0), x)) == "(-2)**x"
    assert evaluate(parse(to_string(Binary("**", Number(-2.0), num(2)))), {}, math) == 4.0


_NAMES = st.sampled_from(["x", "y", "w", "b", "theta", "x1", "inf", "nan", "lambda_"])
_LEAVES = st.one_of(
    st.floats(min_value=0.0, allow_nan=False, allow_infinity=False).map(lambda v: Number(abs(v))),
    st.sampled_from(sorted(CONSTANTS)).map(Constant),
    _NAMES.map(Variable),
)


def _extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    binary = st.builds(Binary, st.sampled_from(["+", "-", "*", "/", "**"]), children, children)
    negate = st.builds(Negate, children)
    call = st.sampled_from(sorted(DEFAULT_FUNCTIONS)).flatmap(
        lambda name: st.lists(
            children, min_size=DEFAULT_FUNCTIONS[name][0], max_size=DEFAULT_FUNCTIONS[name][1]
        ).map(lambda args: Call(name, tuple(args)))
    )
    return st.one_of(binary, negate, call)


_TREES = st.recursive(_LEAVES, _extend, max_leaves=25)


@settings(max_examples=300, deadline=None)
@given(_TREES)
def test_round_trip(tree: Expr) -> None:
    text = to_string(tree)
    assert parse(text) == tree, text
    assert to_string(parse(text)) == text
