"""The records an explanation is made of (forward steps, chain-rule steps, accumulations) and how numbers read.

The bottom of ``chainrule.explain``: ``steps`` fills these records from the engine's backward loop, ``render``
writes them as text, Markdown, LaTeX, JSON and HTML.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..engine import NotSaved


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
    form: str = ""  # over arrays: the rule in matrix form, e.g. "∂f/∂W = gᵀx  (g = ∂f/∂v3, x = v2)"
    shapes: str = ""  # over arrays: "upstream (128, 10), input (10, 256)"
    kind: str = field(default="backward", init=False)


@dataclass(frozen=True)
class Accumulation:
    """A value that feeds several places: its gradient is the sum of the contributions (the multivariable rule)."""

    name: str
    contributions: tuple[tuple[str, Any], ...]  # (where from, e.g. "v1 (input a)", value)
    total: Any
    kind: str = field(default="accumulate", init=False)


Step = ForwardStep | BackwardStep | Accumulation


@dataclass(frozen=True)
class Layer:
    """The backward steps one ``nn`` module's nodes took: δ (the gradient at its output) and what it sends on."""

    name: str  # the module's dotted name ("0", "hidden"), or "" for the top module, "(outside modules)" for the loss
    module: str  # its class, e.g. "Linear"
    nodes: tuple[str, ...]  # its forward steps (v1, v2, ...)
    delta: Any  # ∂f/∂(the module's output): the δ of the text's recipe
    steps: tuple[Step, ...]  # its backward steps, newest node first


# ---------------------------------------------------------------------------------------------------------------
# Numbers.
# ---------------------------------------------------------------------------------------------------------------
def number(value: Any) -> Any:
    """A step's value as a Python float, or an ndarray when it has more than one element (None if not kept)."""
    if type(value) is NotSaved:  # a graph recorded outside explain keeps only what its rules read
        return None
    array = np.asarray(value)
    if array.size == 1:
        return complex(array.reshape(())) if array.dtype.kind == "c" else float(array.reshape(()))
    # A float (or complex) array is shown as it is, not copied: a network's steps hold many large ones, and copying
    # them would cost more than the backward pass. Integer arrays become floats.
    return array if array.dtype.kind in "fc" else array.astype(float)


def fmt(value: Any, digits: int = 6) -> str:
    """A number as people write it: 0.5, 0.125, -1, 2.71828; arrays in brackets."""
    if value is None:
        return "—"
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(())[()]
    if isinstance(value, np.ndarray):
        if value.size > FULL_ARRAY:
            return summary(value)
        text = np.array2string(value, precision=4, separator=", ", max_line_width=60)
        return " ".join(line.strip() for line in text.splitlines())  # one line: steps stay one line each
    if np.iscomplexobj(value):
        value = complex(value)
        return f"{fmt(value.real, digits)}{'-' if value.imag < 0 else '+'}{fmt(abs(value.imag), digits)}j"
    value = float(value)
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.{digits}g}"


#: Arrays up to this many elements are shown in full; larger ones as shape and summary.
FULL_ARRAY = 16


def summary(value: np.ndarray) -> str:
    """A large array in one line: shape, min/mean/max and the first entries (a network's steps stay readable)."""
    flat = np.asarray(value).reshape(-1)
    if flat.dtype.kind == "c":  # complex: the statistics of the moduli, the first entries in full
        first = ", ".join(fmt(v, 4) for v in flat[:4])
        flat = np.abs(flat)
        with np.errstate(all="ignore"):
            stats = f"|min| {flat.min():.4g}, |mean| {flat.mean():.4g}, |max| {flat.max():.4g}"
        return f"shape {tuple(value.shape)}: {stats}; first [{first}, …]"
    flat = flat.astype(float)
    first = ", ".join(f"{float(v):.4g}" for v in flat[:4])
    with np.errstate(all="ignore"):
        stats = f"min {flat.min():.4g}, mean {flat.mean():.4g}, max {flat.max():.4g}"
    return f"shape {tuple(value.shape)}: {stats}; first [{first}, …]"


def shape_of(value: Any) -> tuple[int, ...]:
    """The shape of a value, a kept array or a NotSaved."""
    return tuple(value.shape) if type(value) is NotSaved else tuple(np.shape(value))
