"""Hostile expressions get a quick, clear answer: chainrule's own errors, SymPy within a budget, no recursion errors.

Probes that used minutes or gigabytes before run in a child process with a wall-clock and memory limit.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.errors import DomainError

ROOT = Path(__file__).resolve().parents[2]


def _probe(code: str, seconds: float = 20, memory: int = 3 * 2**30) -> str:
    """Run ``code`` in a child Python with an address-space cap and a deadline; its stdout (it must succeed)."""
    prelude = ("import resource\n"
               f"resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))\n"
               "import time, chainrule as cr\n")
    result = subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True,
                            timeout=seconds, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


# --- Constant parts meet the same DomainError as variable parts. ----------------------------------------------
@pytest.mark.parametrize("text, value", [("9**9**9 + x", "inf"), ("1/0 + x", "inf"), ("0**-1 + x", "inf"),
                                         ("(-8)**(1/3) + x", "nan"), ("x*log(0)", "-inf")])
def test_constant_parts_raise_domain_error(text, value):
    with pytest.raises(DomainError, match=rf"is {value} at x = 0\.5"):
        cr.explain(text, x=0.5)


def test_constants_that_are_fine_in_float64_still_work():
    e = cr.explain("2**10 * x + (-8)**2", x=0.5)
    assert e.value == 2**10 * 0.5 + 64 and e.gradients == {"x": 1024.0}


def test_check_derivative_with_broken_constants_is_a_domain_error():
    with pytest.raises(DomainError, match="found no point"):
        cr.check_derivative("x/0", "1/0")


# --- Points outside a claim's real domain are skipped, not crashed on. --------------------------------------
@pytest.mark.parametrize("expr, claimed, wrt", [("x**n", "n*x**(n-1)", "x"), ("x**0.5", "0.5*x**(-0.5)", "x"),
                                                ("a**x", "a**x*log(a)", "x"), ("x**n", "x**n*log(x)", "n")])
def test_claims_with_a_restricted_real_domain_are_checked_where_defined(expr, claimed, wrt):
    result = cr.check_derivative(expr, claimed, wrt)
    assert result.ok and result.symbolic is True and result.points_checked == 20


@pytest.mark.parametrize("expr, claimed", [("x**0.5", "x**(-0.5)"), ("a**x", "a**x*log(x)")])
def test_wrong_claims_with_a_restricted_domain_are_still_caught(expr, claimed):
    result = cr.check_derivative(expr, claimed)
    assert not result.ok and result.point is not None
    x = result.point["x"]
    expected = 0.5 * x**-0.5 if expr == "x**0.5" else result.point["a"] ** x * math.log(result.point["a"])
    assert result.expected == pytest.approx(expected, rel=1e-12)


# --- Depth counts nesting, not list length; deep trees are refused or handled, never RecursionError. --------
def test_a_flat_sum_of_many_terms_is_explained():
    terms = [f"{k}*x" for k in range(1, 151)]
    e = cr.explain(" + ".join(terms), x=0.5)
    assert e.gradients == {"x": float(sum(range(1, 151)))}
    assert e.value == pytest.approx(0.5 * sum(range(1, 151)), rel=1e-15)


def test_a_power_tower_is_answered_quickly_without_recursion_error():
    tower = "**".join(["x"] * 75)
    out = _probe(
        "start = time.perf_counter()\n"
        f"e = cr.explain({tower!r}, x=0.5)\n"
        "text = str(e)\n"
        "print(time.perf_counter() - start, e.value, e.gradients['x'], len(text))\n")
    seconds, value, gradient, length = out.split()
    # A tower of x's at 0.5 alternates towards its fixed points; its value by plain floats, top down:
    reference = 0.5
    for _ in range(74):
        reference = 0.5**reference
    assert float(value) == pytest.approx(reference, rel=1e-12)
    h = 1e-6
    def tower_at(t):
        v = t
        for _ in range(74):
            v = t**v
        return v
    assert float(gradient) == pytest.approx((tower_at(0.5 + h) - tower_at(0.5 - h)) / (2 * h), rel=1e-6)
    assert float(seconds) < 10 and int(length) < 100_000


def test_the_cli_answers_a_power_tower_without_a_traceback():
    tower = "**".join(["x"] * 75)
    result = subprocess.run([sys.executable, "-m", "chainrule", "derive", tower, "--at", "x=0.5"],
                            capture_output=True, text=True, timeout=30, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert "∂f/∂x = 0.569245" in result.stdout


# --- SymPy works within a budget; the numbers never wait for it. ---------------------------------------------
def test_explain_of_a_trig_function_with_a_large_multiple_answers_quickly():
    out = _probe(
        "start = time.perf_counter()\n"
        "e = cr.explain('sin(128*x)**2', x=0.5)\n"
        "print(time.perf_counter() - start, e.gradients['x'], e.formula_value('x'))\n", memory=2 * 2**30)
    seconds, gradient, formula_value = out.split()
    assert float(gradient) == pytest.approx(2 * math.sin(64) * math.cos(64) * 128, rel=1e-12)
    h = 1e-6
    numeric = (math.sin(128 * (0.5 + h)) ** 2 - math.sin(128 * (0.5 - h)) ** 2) / (2 * h)
    assert float(gradient) == pytest.approx(numeric, rel=1e-6)
    assert float(formula_value) == pytest.approx(float(gradient), rel=1e-9)
    assert float(seconds) < 8


@pytest.mark.parametrize("expr, claimed", [("sin(128*x)", "128*cos(128*x)"), ("tan(128*x)", "128/cos(128*x)**2"),
                                           ("cosh(128*x)**2", "256*cosh(128*x)*sinh(128*x)")])
def test_check_derivative_of_large_multiples_says_right_quickly(expr, claimed):
    out = _probe(
        "start = time.perf_counter()\n"
        f"r = cr.check_derivative({expr!r}, {claimed!r})\n"
        "print(time.perf_counter() - start, r.ok, r.symbolic)\n", memory=2 * 2**30)
    seconds, ok, _ = out.split()
    assert ok == "True" and float(seconds) < 8


def test_a_huge_power_is_explained_within_the_budget():
    out = _probe(
        "start = time.perf_counter()\n"
        "e = cr.explain('(x+1)**100000', x=0.00001)\n"
        "print(time.perf_counter() - start, e.gradients['x'])\n", memory=2 * 2**30)
    seconds, gradient = out.split()
    assert float(gradient) == pytest.approx(100000 * 1.00001**99999, rel=1e-9)
    assert float(seconds) < 8


def test_the_budget_keeps_the_last_stage_and_says_it_did_not_finish():
    from chainrule.symbolic import budget

    def slow():
        yield "raw"
        time.sleep(60)
        yield "simplified"

    start = time.perf_counter()
    assert budget.run(slow, seconds=0.5) == ("raw", False)
    assert time.perf_counter() - start < 5

    def greedy():
        yield 1
        np.ones(2**40, dtype=np.uint8)  # 1 TiB: over the child's memory cap at once
        yield 2

    assert budget.run(greedy, memory=2**28) == (1, False)

    def deep():
        yield "shallow"
        def recurse(n):
            return recurse(n + 1)
        recurse(0)

    assert budget.run(deep) == ("shallow", False)
    assert budget.run(lambda: iter(["a", {"b": [1, 2]}])) == ({"b": [1, 2]}, True)


def test_a_formula_past_the_budget_is_reported_in_the_explanation(monkeypatch):
    from chainrule.symbolic import budget, formulas

    monkeypatch.setattr(budget, "SECONDS", 0.0)
    formulas._CACHE.clear()
    e = cr.explain("sin(x)*cos(x)", x=0.3)
    assert e.formulas == {"x": None} and "SymPy ran past its budget" in e.formula_note
    assert e.gradients["x"] == pytest.approx(math.cos(0.6), rel=1e-12)
    assert "SymPy ran past its budget" in str(e)


# --- Long functions: shared values stay named, never expanded; no recursion. --------------------------------
def test_explaining_a_function_of_210_chained_ops():
    def chain(x):
        y = x
        for _ in range(70):  # three ops a step, each value used once: a chain, not a tree
            y = cr.log(cr.exp(y) + 0.01)
        return y

    def plain(t):
        for _ in range(70):
            t = math.log(math.exp(t) + 0.01)
        return t

    start = time.perf_counter()
    e = cr.explain(chain, x=0.3)
    text = str(e)
    assert time.perf_counter() - start < 10
    y, slope = 0.3, 1.0
    for _ in range(70):  # the chain rule by hand: d log(e^y + c) = e^y / (e^y + c) dy
        slope *= math.exp(y) / (math.exp(y) + 0.01)
        y = math.log(math.exp(y) + 0.01)
    assert e.value == pytest.approx(y, rel=1e-14)
    assert e.gradients["x"] == pytest.approx(slope, rel=1e-12)
    assert e.gradients["x"] == pytest.approx((plain(0.3 + 1e-6) - plain(0.3 - 1e-6)) / 2e-6, rel=1e-7)
    assert e.formulas == {"x": None} and "nest deeper than 100" in e.formula_note
    assert "chain(...)" in text and len(text) < 200_000


def test_explaining_a_function_whose_expression_doubles_at_every_step():
    out = _probe(
        "def doubling(x):\n"
        "    y = x\n"
        "    for _ in range(28):\n"
        "        y = cr.sin(y + y)\n"
        "    return y\n"
        "start = time.perf_counter()\n"
        "e = cr.explain(doubling, x=0.3)\n"
        "text = str(e) + e.to_markdown() + e.to_latex() + e.to_json()\n"
        "print(time.perf_counter() - start, e.value, e.gradients['x'], len(text))\n", memory=2 * 2**30)
    seconds, value, gradient, length = out.split()
    y, slope = 0.3, 1.0
    for _ in range(28):
        slope *= 2 * math.cos(2 * y)
        y = math.sin(2 * y)
    assert float(value) == pytest.approx(y, rel=1e-12)
    assert float(gradient) == pytest.approx(slope, rel=1e-9)
    assert float(seconds) < 10 and int(length) < 200_000
