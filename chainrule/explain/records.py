"""The records an explanation is made of (forward steps, chain-rule steps, accumulations) and how numbers read.

The bottom of ``chainrule.explain``: ``steps`` fills these records from the engine's backward loop, ``render``
writes them as text, Markdown, LaTeX, JSON and HTML.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


# ---------------------------------------------------------------------------------------------------------------
# Step records.
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ForwardStep:
    """``name = op(inputs) = value``: one node of the graph, in the order it was computed."""

    name: str  # v1, v2, ...
    op: str  # the rule's name
    inputs: tuple[str, ...]  # variable names, earlier step names, or constants written as numbers
    value: Any  # a float (an array only for functions that build arrays)
    expression: str  # the step in the expression's own notation, e.g. "w*x" or "sigmoid(v2)"
    kind: str = field(default="forward", init=False)


@dataclass(frozen=True)
class BackwardStep:
    """The chain rule at one node for one input: ∂f/∂input = ∂f/∂output · local derivative."""

    node: str  # the step whose output is differentiated, e.g. v3
    op: str
    input: str  # the input the gradient flows to (a step or variable name)
    index: int  # which input of the rule
    rule: str  # the rule, e.g. "σ'(u) = σ(u)(1−σ(u))"
    rule_tex: str  # the same rule in TeX
    local: Any  # the local derivative at the point (None for array rules, whose vjp has no single number)
    upstream: Any  # ∂f/∂(node's output)
    product: Any  # upstream · local: this input's share of the gradient
    at: str = ""  # where the local derivative was evaluated, e.g. "u = v2 = 0"
    kind: str = field(default="backward", init=False)


@dataclass(frozen=True)
class Accumulation:
    """A value that feeds several places: its gradient is the sum of the contributions (the multivariable rule)."""

    name: str
    contributions: tuple[tuple[str, Any], ...]  # (where from, e.g. "v1 (input a)", value)
    total: Any
    kind: str = field(default="accumulate", init=False)


Step = ForwardStep | BackwardStep | Accumulation


# ---------------------------------------------------------------------------------------------------------------
# Numbers.
# ---------------------------------------------------------------------------------------------------------------
def number(value: Any) -> Any:
    """A step's value as a Python float, or an ndarray when it has more than one element."""
    array = np.asarray(value)
    return float(array) if array.size == 1 else array.astype(float)


def fmt(value: Any, digits: int = 6) -> str:
    """A number as people write it: 0.5, 0.125, -1, 2.71828; arrays in brackets."""
    if value is None:
        return "—"
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(())[()]
    if isinstance(value, np.ndarray):
        return np.array2string(value, precision=4, separator=", ", max_line_width=60)
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.{digits}g}"
