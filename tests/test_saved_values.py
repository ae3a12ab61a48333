"""A graph keeps only the values its rules read (large unread arrays become graph.NotSaved): which ones, what that
saves, and that reading an unsaved value fails loudly rather than giving wrong numbers."""

from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.engine import NotSaved, grad_mode, reachable_nodes
from chainrule.errors import GraphError
from chainrule.rules.registry import ELEMENTWISE, GENERAL, LINEAR, ONE, Rule, lookup

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `benchmarks` lives beside the package, not inside it
    sys.path.insert(0, str(ROOT))

from benchmarks.workloads import elementwise  # noqa: E402 - needs ROOT on sys.path


@pytest.fixture
def library_threshold():
    """The library's own threshold (the suite's conftest sets 0, so that every unread array is a NotSaved)."""
    previous = grad_mode.keep_below
    grad_mode.keep_below = 4096
    yield
    grad_mode.keep_below = previous


def _rule(**fields) -> Rule:
    return Rule(name="probe", forward=lambda *xs, **params: xs[0], **fields)


def test_the_rule_table_says_what_each_rule_reads():
    reads = {name: (tuple(lookup(name).saves_input), lookup(name).saves_output)
             for name in ("exp", "sin", "tanh", "add", "negative", "multiply", "divide", "sum", "reshape",
                          "log_softmax", "matmul")}
    assert reads == {
        "exp": ((False,), True),  # exp' = y
        "sin": ((True,), False),  # sin' = cos x
        "tanh": ((False,), True),  # tanh' = 1 - y²
        "add": ((False, False), False),  # 1 and 1: only shapes, which the engine keeps
        "negative": ((False,), False),
        "multiply": ((True, True), False),
        "divide": ((False, True), True),  # 1/b and -y/b
        "sum": ((False,), False),  # x's shape only (shape_only)
        "reshape": ((False,), False),
        "log_softmax": ((False,), True),
        "matmul": ((True, True), False),  # multilinear: forward mode needs every input, not the output
    }


def test_reads_are_found_in_the_code_conservatively():
    def uses_y_through_a_helper(x, y, m):
        return helper(y)

    def helper(v):
        return v

    assert _rule(kind=ELEMENTWISE, arity=1, derivatives=(lambda x, y, m: 2 * x,)).saves_input == (True,)
    rule = _rule(kind=ELEMENTWISE, arity=1, derivatives=(uses_y_through_a_helper,))
    assert (rule.saves_input, rule.saves_output) == ((False,), True)
    rule = _rule(kind=ELEMENTWISE, arity=2, derivatives=(ONE, lambda a, b, y, m: a))
    assert (rule.saves_input, rule.saves_output) == ((True, False), False)
    # A vjp that is not Python code (a builtin) is assumed to read everything.
    rule = _rule(kind=LINEAR, arity=1, vjps=(max,))
    assert (rule.saves_input, rule.saves_output) == ((True,), True)
    # Nor can a vjp that takes *args say which it reads.
    rule = _rule(kind=LINEAR, arity=1, vjps=(lambda g, *args: g,))
    assert (rule.saves_input, rule.saves_output) == ((True,), True)
    # The general kind's jvp counts too.
    rule = _rule(kind=GENERAL, arity=1, vjps=(lambda g, x, y, m: g * y,), jvp=lambda ts, x, y, m: ts[0] * x)
    assert (rule.saves_input, rule.saves_output) == ((True,), True)
    # shape_only: read for its shape alone.
    rule = _rule(kind=LINEAR, arity=1, vjps=(lambda g, x, y, m: np.broadcast_to(g, np.shape(x)),), shape_only=("x",))
    assert (rule.saves_input, rule.saves_output) == ((False,), False)


def test_a_graph_keeps_only_what_its_rules_read(library_threshold):
    x = cr.tensor(np.linspace(-1, 1, 10_000), requires_grad=True)
    y = cr.sum(cr.exp(-(x * x)))
    kept = {node.rule.name: (node.inputs, node.output) for node in reachable_nodes(y)}
    assert kept["multiply"][0][0] is x.data.base and type(kept["multiply"][1]) is NotSaved
    assert type(kept["negative"][0][0]) is NotSaved and type(kept["negative"][1]) is NotSaved
    assert type(kept["exp"][0][0]) is NotSaved and type(kept["exp"][1]) is np.ndarray
    assert type(kept["sum"][0][0]) is NotSaved and kept["sum"][0][0].shape == (10_000,)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), -2 * x.data * np.exp(-x.data ** 2), rtol=1e-12)


def test_small_arrays_and_keep_values_keep_everything(library_threshold):
    x = cr.tensor(np.linspace(-1, 1, 10), requires_grad=True)
    y = cr.sum(cr.exp(-(x * x)))
    assert not any(type(v) is NotSaved for n in reachable_nodes(y) for v in (*n.inputs, n.output))
    big = cr.tensor(np.linspace(-1, 1, 10_000), requires_grad=True)
    with cr.keep_values():
        y = cr.sum(cr.exp(-(big * big)))
    assert not any(type(v) is NotSaved for n in reachable_nodes(y) for v in (*n.inputs, n.output))
    assert grad_mode.keep_below == 4096


def test_reading_an_unsaved_value_fails_loudly():
    unsaved = NotSaved(np.zeros((3, 4), dtype=np.float32))
    assert (unsaved.shape, unsaved.dtype, unsaved.ndim, unsaved.size) == ((3, 4), np.float32, 2, 12)
    assert np.shape(unsaved) == (3, 4)
    for attempt in (lambda: unsaved * 2, lambda: 2 * unsaved, lambda: np.ones((3, 4)) + unsaved,
                    lambda: np.asarray(unsaved), lambda: -unsaved, lambda: unsaved[0], lambda: np.exp(unsaved)):
        with pytest.raises((GraphError, TypeError), match=r"not saved|NotSaved"):
            attempt()
    with pytest.raises(GraphError, match="keep_values"):
        np.asarray(unsaved)


def test_higher_order_and_forward_mode_with_unsaved_values(library_threshold):
    # Hessian-vector products and jvp run through the same graphs; second derivatives of sin(x)·exp(-x²).
    x0 = np.linspace(-1.5, 1.5, 5_000)

    def f(v):
        return cr.sum(cr.sin(v) * cr.exp(-(v * v)))

    g = cr.grad(f)(x0)
    e = np.exp(-x0 ** 2)
    np.testing.assert_allclose(g, e * (np.cos(x0) - 2 * x0 * np.sin(x0)), rtol=1e-10, atol=1e-14)
    second = cr.grad(lambda v: cr.sum(cr.grad(f)(v)))(x0)  # d/dx of f'(x), elementwise
    s, c = np.sin(x0), np.cos(x0)
    expected = e * (-3 * s - 2 * x0 * c) - 2 * x0 * e * (c - 2 * x0 * s)
    np.testing.assert_allclose(second, expected, rtol=1e-9, atol=1e-12)
    _, tangent = cr.jvp(lambda v: cr.exp(-(v * v)) + cr.reshape(v, (50, 100)).sum(axis=0).sum(),
                        (x0,), (np.ones_like(x0),))
    np.testing.assert_allclose(tangent, -2 * x0 * e + 5_000, rtol=1e-10)


def test_peak_memory_of_a_value_and_gradient_matches_hand_written_numpy(library_threshold):
    # W3's function: chainrule keeps exp's, sin's, tanh's and log1p's values and x², as the hand-written
    # derivative does; before, every intermediate stayed alive (1.6x the hand-written peak).
    x = np.random.default_rng(0).standard_normal(250_000).astype(np.float32)
    by_hand = elementwise.IMPLEMENTATIONS["numpy"](x)  # the benchmark's floor: the derivative written by hand

    value_and_grad = cr.value_and_grad(lambda v: (cr.sin(v) * cr.exp(-(v * v)) + cr.tanh(v) * cr.log1p(v * v)).sum())

    def peak(function):
        tracemalloc.start()
        try:
            result = function()
            return tracemalloc.get_traced_memory()[1], result
        finally:
            tracemalloc.stop()

    floor, (v0, g0) = peak(by_hand)
    ours, (v1, g1) = peak(lambda: value_and_grad(x))
    np.testing.assert_allclose(float(v1), v0, rtol=1e-5)
    np.testing.assert_allclose(g1, g0, rtol=2e-4, atol=1e-5)
    assert ours <= 1.1 * floor, (ours / 2 ** 20, floor / 2 ** 20)


def test_draw_marks_unsaved_values(library_threshold):
    x = cr.tensor(np.ones((100, 100)), requires_grad=True)
    text = cr.draw(cr.sum(cr.exp(-x)), format="dot")
    assert "not saved" in text
