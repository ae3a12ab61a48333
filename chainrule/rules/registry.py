"""The rule record: one entry per primitive, and the table that holds them.

An entry says everything chainrule knows about a primitive: its NumPy forward, its derivative (written against a math
namespace ``m`` so the same code runs on arrays, on differentiable Tensors and on SymPy symbols), its formula as text
and TeX, and the inputs its tests sample. The engine, forward mode, the symbolic formulas, the explanations, the
``chainrule rules`` table and the parametrized tests all read this one entry.

Kinds of rule:

* ``elementwise``: each input has a *local derivative* ``d(*xs, y, m)``; the engine forms
  ``upstream * local`` (backward) and ``tangent * local`` (forward mode), and undoes broadcasting itself.
* ``linear``: the op is linear in its differentiable inputs jointly (reshape, sum, indexing...). Each input has a
  ``vjp(g, *xs, y, m, **params)``; forward mode applies the op itself to the tangents.
* ``multilinear``: linear in each input separately (matmul); forward mode sums the op with one input replaced by its
  tangent at a time.
* ``general``: anything else (max, var, softmax...): a ``vjp`` per input and an explicit ``jvp``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ELEMENTWISE = "elementwise"
LINEAR = "linear"
MULTILINEAR = "multilinear"
GENERAL = "general"
KINDS = (ELEMENTWISE, LINEAR, MULTILINEAR, GENERAL)


class _Marker:
    """A named sentinel used in place of a derivative."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: The derivative is zero by definition (comparisons, sign, a condition or an integer index): no gradient flows.
NO_GRAD = _Marker("NO_GRAD")
#: The local derivative is the constant 1 or -1: the engine passes the upstream gradient through (negated).
ONE = _Marker("ONE")
MINUS_ONE = _Marker("MINUS_ONE")


@dataclass(frozen=True, slots=True)
class Sample:
    """Inputs that the tests (and ``chainrule rules``) evaluate a rule on: shapes, parameters, sampling domain."""

    shapes: tuple[tuple[int, ...], ...]
    params: dict[str, Any] = field(default_factory=dict)
    domain: tuple[float, float] | None = None
    boolean: tuple[int, ...] = ()  # inputs sampled as random boolean masks (a condition)


@dataclass(frozen=True, slots=True, eq=False)
class Rule:
    """One primitive of the rule table."""

    name: str
    forward: Callable[..., Any]
    kind: str
    arity: int  # the number of inputs; -1 for variadic rules (concatenate, stack)
    args: tuple[str, ...] = ()  # the inputs' names in formulas: ("x",), ("a", "b"), ("x", "a") for log_a x
    derivatives: tuple[Any, ...] = ()  # elementwise: per input, d(*xs, y, m) or ONE / MINUS_ONE / NO_GRAD
    vjps: tuple[Any, ...] = ()  # other kinds: per input, vjp(g, *xs, y, m, **params) or NO_GRAD
    jvp: Callable[..., Any] | None = None  # general kind: jvp(tangents, *xs, y, m, **params)
    text: tuple[str, ...] = ()  # the derivative of each input in plain text
    tex: tuple[str, ...] = ()  # ...and in TeX: what explanations and the docs show
    display: str = ""  # the function itself in TeX, with x (and a, b) as arguments
    # The function itself written against a math namespace, expression(*xs, m, **params): on SymPy symbols it gives
    # the formula whose derivative the rule's must equal, and the y that symbolic derivatives use. Elementwise only.
    expression: Callable[..., Any] | None = None
    domain: tuple[float, float] = (-2.0, 2.0)  # where tests sample inputs
    samples: tuple[Sample, ...] = ()
    order: int = 2  # highest derivative order the tests check by finite differences
    aliases: tuple[str, ...] = ()
    note: str = ""  # the convention at kinks and edges, shown in docs
    # Whether the vjps also accept a batch of cotangents (batching.Batched), so jacobian can run them all in one
    # pass. Elementwise rules always do; others say so once checked (tests/test_batching.py), else the engine
    # applies them row by row.
    batchable: bool = False
    flows: Any = field(init=False, repr=False)  # flows[i]: does gradient flow into input i (derived)

    def __post_init__(self) -> None:
        table = self.derivatives if self.kind == ELEMENTWISE else self.vjps
        flows = _Everywhere(table[0] is not NO_GRAD) if self.arity < 0 else tuple(d is not NO_GRAD for d in table)
        object.__setattr__(self, "flows", flows)

    def differentiable(self, i: int) -> bool:
        """Whether gradient flows into input ``i``."""
        return self.flows[i]


class _Everywhere:
    """``flows`` of a variadic rule: the same answer for every input."""

    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = value

    def __getitem__(self, i: int) -> bool:
        return self.value


_TABLE: dict[str, Rule] = {}
_ALIASES: dict[str, str] = {}


def register(rule: Rule) -> Rule:
    """Add a rule to the table; its name and aliases must be new."""
    if rule.kind not in KINDS:
        raise ValueError(f"rule '{rule.name}': kind must be one of {KINDS}, got {rule.kind!r}")
    per_input = rule.derivatives if rule.kind == ELEMENTWISE else rule.vjps
    if len(per_input) != (1 if rule.arity < 0 else rule.arity):
        raise ValueError(f"rule '{rule.name}' has {rule.arity} inputs but {len(per_input)} derivative entries")
    for name in (rule.name, *rule.aliases):
        if name in _TABLE or name in _ALIASES:
            raise ValueError(f"a rule named '{name}' is already registered")
    _TABLE[rule.name] = rule
    for alias in rule.aliases:
        _ALIASES[alias] = rule.name
    return rule


def lookup(name: str) -> Rule:
    """The rule called ``name`` (or one of its aliases)."""
    rule = _TABLE.get(_ALIASES.get(name, name))
    if rule is None:
        raise KeyError(f"no rule named '{name}' in the rule table; known rules: {', '.join(sorted(_TABLE))}")
    return rule


def all_rules() -> tuple[Rule, ...]:
    """Every registered rule, in registration order (the order of the table in the source)."""
    return tuple(_TABLE.values())
