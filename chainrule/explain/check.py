"""Is a hand-derived derivative right? Checked symbolically and at random points against the engine."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..engine import backward, no_grad
from ..errors import DomainError, ExpressionError
from ..symbolic import parser
from ..tensor import Tensor
from .records import fmt
from .steps import expression_math

# Where random points are drawn, in turn: the whole line near 0, positives (log, sqrt), inside (-1, 1) (arcsin).
_RANGES = ((-3.0, 3.0), (0.05, 3.0), (-0.95, 0.95))
MAX_POINTS = 10_000  # each point costs a forward and a backward pass; far more adds nothing but time


@dataclass
class DerivativeCheck:
    """The verdict on a claimed derivative; truthy when it is right.

    ``ok``; ``symbolic`` (True: the difference simplifies to 0; False: to a nonzero constant; None: SymPy missing
    or undecided); ``points_checked``; on a mismatch, ``point`` (variable -> value) with ``expected`` (the engine's
    derivative there) and ``claimed`` (the claimed formula's value there). ``formula`` is the derivative from the
    rule table (SymPy), when available.
    """

    ok: bool
    expression: str
    claimed_expression: str
    wrt: str
    symbolic: bool | None = None
    points_checked: int = 0
    point: dict[str, float] | None = None
    expected: float | None = None
    claimed: float | None = None
    formula: Any = None
    note: str = field(default="", repr=False)

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        head = f"d/d{self.wrt} [{self.expression}]"
        truth = f" (from the rule table: {self.formula})" if self.formula is not None else ""
        if self.ok:
            how = []
            if self.symbolic:
                how.append("symbolically (SymPy)")
            how.append(f"numerically at {self.points_checked} random points")
            return f"right: {head} = {self.claimed_expression}, checked {' and '.join(how)}"
        if self.point is not None:
            at = ", ".join(f"{n} = {fmt(v)}" for n, v in self.point.items())
            return (f"wrong: {head} is not {self.claimed_expression}: at {at} the derivative is {fmt(self.expected)} "
                    f"but the claim gives {fmt(self.claimed)}{truth}")
        return f"wrong: {head} is not {self.claimed_expression}: their difference is a nonzero constant{truth}"


def _values_at(tree, claimed_tree, wrt: str, point: dict[str, float]) -> tuple[float, float]:
    """(the engine's ∂f/∂wrt, the claimed formula's value) at ``point``."""
    leaves = {n: Tensor._make(np.asarray(v), None, n == wrt) for n, v in point.items()}
    with np.errstate(all="ignore"):
        # float64 throughout (not Python floats): outside a claim's real domain, x**0.5 or a**x is nan, and the
        # point is skipped, rather than a complex number or ZeroDivisionError.
        out = parser.evaluate(tree, leaves, expression_math, number=np.float64)
        expected = 0.0
        if isinstance(out, Tensor) and out.requires_grad:
            (g,) = backward([out], [np.ones_like(out.data)], targets=[leaves[wrt]], accumulate=False)
            expected = 0.0 if g is None else float(np.asarray(g))
        with no_grad():
            claimed = parser.evaluate(claimed_tree, {n: np.float64(v) for n, v in point.items()}, expression_math,
                                      number=np.float64)
        claimed = float(np.asarray(claimed.data if isinstance(claimed, Tensor) else claimed))
        if not math.isfinite(float(np.asarray(out.data if isinstance(out, Tensor) else out))):
            expected = math.nan
    return expected, claimed


def _symbolic(tree, claimed_tree, wrt: str) -> tuple[bool | None, Any, str]:
    """(verdict, the table's formula, note), as far as SymPy gets within its budget."""
    try:
        from ..symbolic import formulas
    except ImportError:  # MissingDependencyError: SymPy is not installed
        return None, None, "SymPy is not installed (pip install 'chainrule[symbolic]'): checked numerically only"
    sympy = formulas.sympy

    def stages():
        raw = formulas.chain_rule(tree, wrt)
        verdict = None
        yield verdict, raw
        difference = raw - formulas.to_sympy(claimed_tree)
        if difference != 0:  # the cheap path first: SymPy's automatic canonical form may already agree
            difference = sympy.simplify(difference)
            if difference != 0 and difference.has(formulas.sigmoid):  # σ written out as 1/(1 + e^-x) on one side
                difference = sympy.simplify(difference.rewrite(sympy.exp))
        if difference == 0:
            verdict = True
        elif difference.is_number and difference.is_nonzero:
            verdict = False
        yield verdict, raw
        yield verdict, formulas.tidy(raw)

    result, finished = formulas.budget.run(stages)
    if result is None:
        return None, None, (f"SymPy ran past its budget ({formulas.budget.SECONDS:g} s) before the chain rule's "
                            "formula was ready: checked numerically only")
    verdict, formula = result
    note = "" if finished else f"SymPy ran past its budget ({formulas.budget.SECONDS:g} s)" + (
        ": checked numerically only" if verdict is None else "; the formula is not simplified")
    return verdict, formula, note


def check_derivative(expr: str, claimed: str, wrt: str = "x", *, points: int = 20, seed: int = 0,
                     rtol: float = 1e-6, atol: float = 1e-9) -> DerivativeCheck:
    """Check a hand-derived derivative: ``claimed`` should equal d ``expr`` / d ``wrt``.

    Both are parsed safely. The claim is compared symbolically (their difference simplified, with SymPy) and
    numerically at ``points`` random points where both are finite, against the engine's own gradient. It is right
    when no point disagrees (within ``rtol``/``atol``) and SymPy does not find a nonzero difference.

    >>> import chainrule as cr
    >>> bool(cr.check_derivative("sin(x)**2", "2*sin(x)*cos(x)"))
    True
    >>> r = cr.check_derivative("x**3", "3*x")
    >>> r.ok, r.point is not None
    (False, True)
    """
    if not isinstance(wrt, str) or not wrt.isidentifier():
        raise ExpressionError(f"check_derivative: wrt must be a variable name, got {wrt!r}")
    if isinstance(points, bool) or not isinstance(points, int) or not 1 <= points <= MAX_POINTS:
        raise DomainError(f"check_derivative: points must be an int from 1 to {MAX_POINTS}, got {points!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise DomainError(f"check_derivative: seed must be a non-negative int, got {seed!r}")
    tree = parser.parse(expr)
    claimed_tree = parser.parse(claimed)
    names = set(parser.variables(tree))
    stray = sorted(set(parser.variables(claimed_tree)) - names - {wrt})
    if stray:
        raise ExpressionError(
            f"the claimed derivative uses {', '.join(map(repr, stray))}, which '{parser.to_string(tree)}' does not "
            f"have; its variables are {', '.join(sorted(names)) or 'none'}"
        )
    names = sorted(names | {wrt})
    text, claimed_text = parser.to_string(tree), parser.to_string(claimed_tree)

    # The numbers first: they never wait for SymPy, which then works within its budget.
    rng = np.random.default_rng(seed)
    checked = 0
    mismatch = None
    for attempt in range(50 * points):
        lo, hi = _RANGES[attempt % len(_RANGES)]
        point = {n: float(np.round(rng.uniform(lo, hi), 4)) for n in names}
        expected, value = _values_at(tree, claimed_tree, wrt, point)
        if not (math.isfinite(expected) and math.isfinite(value)):
            continue
        checked += 1
        if abs(expected - value) > atol + rtol * abs(expected):
            mismatch = (point, expected, value)
            break
        if checked >= points:
            break
    if checked == 0:
        raise DomainError(
            f"check_derivative: found no point where both '{text}' and its claimed derivative '{claimed_text}' are "
            f"finite (tried {50 * points} points in {', '.join(map(str, _RANGES))})"
        )
    symbolic, formula, note = _symbolic(tree, claimed_tree, wrt)
    if mismatch is not None:
        return DerivativeCheck(False, text, claimed_text, wrt, symbolic, checked, *mismatch, formula, note)
    return DerivativeCheck(symbolic is not False, text, claimed_text, wrt, symbolic, checked, None, None, None,
                           formula, note)
