"""The rule table checked live: each rule's derivative from the engine against a central difference.

This is what ``chainrule rules`` prints: for each primitive, its derivative formula, a sample point, the engine's
derivative there, the central-difference estimate, and OK or FAIL. A user's primitive (``cr.primitive``) is checked
at the sample it was given, or listed as not checked when it has none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .engine import backward
from .extend import MissingDerivative
from .ops import apply
from .rules.registry import ELEMENTWISE, Rule, all_rules, is_replaceable
from .tensor import Tensor


@dataclass(frozen=True)
class RuleCheck:
    """One row of the live table: rule, input, formula, point, the engine's and the numerical derivative."""

    rule: str
    wrt: str
    formula: str
    point: str
    engine: float
    numeric: float
    ok: bool
    checked: bool = True  # False: listed only (no sample to check at, no vjp given); ``point`` says why


def _domain(rule: Rule, i: int) -> tuple[float, float]:
    domain = rule.domain
    return domain[i] if isinstance(domain[0], tuple) else domain


def _sample_inputs(rule: Rule, sample, rng) -> list[np.ndarray]:
    if sample.values is not None:  # fixed inputs (a user's primitive); floats in float64 for central differences
        return [np.array(v, dtype=np.float64 if np.asarray(v).dtype.kind == "f" else None) for v in sample.values]
    inputs = []
    for i, shape in enumerate(sample.shapes):
        if i in sample.boolean:
            inputs.append(rng.random(shape) < 0.5)
        else:
            lo, hi = sample.domain or _domain(rule, i)
            inputs.append(rng.uniform(lo, hi, size=shape))
    return inputs


def _directional(rule: Rule, inputs: list, params: dict, rng, eps: float = 1e-6,
                 unit: bool = False) -> list[tuple[int, float, float]]:
    """For each differentiable input: ⟨u, J v⟩ by the engine and by central differences (u = v = 1 if ``unit``)."""
    leaves = [Tensor._make(x, None, x.dtype.kind == "f" and _has_vjp(rule, i)) for i, x in enumerate(inputs)]
    out = apply(rule, leaves, params)
    u = np.ones(out.shape) if unit else rng.standard_normal(out.shape)
    if out.dtype.kind == "c" and not unit:  # a complex output: a complex cotangent, paired as Re(u · dy)
        u = u + 1j * rng.standard_normal(out.shape)
    grads = backward([out], [u], targets=leaves, accumulate=False) if out.requires_grad else [None] * len(leaves)
    rows = []
    for i, x in enumerate(inputs):
        if x.dtype.kind != "f" or not rule.differentiable(i) or not _has_vjp(rule, i):
            continue
        v = np.ones(x.shape) if unit else rng.standard_normal(x.shape)
        plus, minus = list(inputs), list(inputs)
        plus[i], minus[i] = x + eps * v, x - eps * v
        difference = rule.forward(*plus, **params) - rule.forward(*minus, **params)
        numeric = float(np.real(np.sum(u * difference))) / (2 * eps)
        engine = 0.0 if grads[i] is None else float(np.real(np.sum(np.asarray(grads[i]) * v)))
        rows.append((i, engine, numeric))
    return rows


def _has_vjp(rule: Rule, i: int) -> bool:
    """False where a user's primitive was given no vjp for input ``i`` (asking for that gradient would raise)."""
    return rule.kind == ELEMENTWISE or not isinstance(rule.vjps[0 if rule.arity < 0 else i], MissingDerivative)


def _unchecked(rule: Rule, why: str) -> list[RuleCheck]:
    """Rows for a rule listed but not checked: one per input, with its formula and the reason."""
    n = max(rule.arity, 1)
    names = rule.args or tuple(f"x{i + 1}" for i in range(n))
    return [RuleCheck(rule.name, names[i], rule.text[i] if i < len(rule.text) else "", why, float("nan"),
                      float("nan"), True, checked=False) for i in range(n) if rule.differentiable(i)]


def check_rule(rule: Rule, seed: int = 0, rtol: float = 1e-5, atol: float = 1e-7) -> list[RuleCheck]:
    """Check one rule on its first sample.

    Elementwise rules are checked at a scalar point, where the engine's number is the derivative itself; array
    rules along random directions u, v, where it is ⟨u, J v⟩. A rule without a sample is listed, not checked; an
    error raised by a user's primitive is a FAIL row that quotes it.
    """
    if not rule.samples:
        return _unchecked(rule, "no sample: give cr.primitive(..., sample=(args...))")
    if not is_replaceable(rule.name):
        return _check_rule(rule, seed, rtol, atol)
    try:
        rows = _check_rule(rule, seed, rtol, atol)
    except Exception as exc:  # the user's code failed: report it as the row, so the rest of the table still prints
        return [RuleCheck(rule.name, "", rule.text[0] if rule.text else "", f"error: {type(exc).__name__}: {exc}",
                          float("nan"), float("nan"), False)]
    missing = [r for r in _unchecked(rule, "no vjp given") if not _has_vjp(rule, rule.args.index(r.wrt))]
    return rows + missing


def _check_rule(rule: Rule, seed: int, rtol: float, atol: float) -> list[RuleCheck]:
    rng = np.random.default_rng(seed)
    sample = rule.samples[0]
    names = rule.args or tuple(f"x{i + 1}" for i in range(len(sample.shapes)))
    if rule.kind == ELEMENTWISE:
        # A single point: the derivative is then the plain number the text's table would give.
        sample = type(sample)(tuple(() for _ in sample.shapes), sample.params, sample.domain, sample.boolean)
    inputs = _sample_inputs(rule, sample, rng)
    checks = []
    elementwise = rule.kind == ELEMENTWISE
    for i, engine, numeric in _directional(rule, inputs, sample.params, rng, unit=elementwise):
        if rule.kind == ELEMENTWISE:
            point = ", ".join(f"{names[j]}={float(x):.4g}" for j, x in enumerate(inputs) if x.dtype.kind == "f")
        else:
            shapes = " ".join(str(tuple(x.shape)) for x in inputs)
            point = f"shapes {shapes}" + (f" {_short(sample.params)}" if sample.params else "")
        text = rule.text[0 if rule.arity < 0 else i]
        ok = bool(abs(engine - numeric) <= atol + rtol * abs(numeric))
        checks.append(RuleCheck(rule.name, names[i], text, point, engine, numeric, ok))
    return checks


def _short(params: dict) -> str:
    items = []
    for k, v in params.items():
        text = "array" if isinstance(v, np.ndarray) else repr(v)
        items.append(f"{k}={text if len(text) < 24 else text[:21] + '...'}")
    return ", ".join(items)


def check_all(seed: int = 0) -> list[RuleCheck]:
    """Every rule of the table checked live (rules with no gradient by definition are skipped)."""
    rows = []
    # The text's table (elementwise rules) first, then the array primitives.
    for rule in sorted(all_rules(), key=lambda r: r.kind != ELEMENTWISE):
        if rule.order > 0:
            rows.extend(check_rule(rule, seed))
    return rows


def format_table(rows: list[RuleCheck]) -> str:
    """The rows as an aligned text table."""
    header = ("rule", "d/d", "derivative", "at", "engine", "central diff.", "")
    # Elementwise rows show f'(point); array rows show the directional derivative <u, J v>.
    body = [(r.rule, r.wrt, r.formula, r.point, f"{r.engine:.10g}", f"{r.numeric:.10g}", "OK" if r.ok else "FAIL")
            if r.checked else (r.rule, r.wrt, r.formula, r.point, "", "", "not checked") for r in rows]
    import textwrap

    widths = [max(len(str(row[k])) for row in (header, *body)) for k in range(len(header))]
    widths[2] = min(widths[2], 34)
    lines = []
    for row in (header, *body):
        # A long derivative wraps onto more lines at spaces, never cut mid-word ("... the indexed places").
        parts = textwrap.wrap(str(row[2]), widths[2], break_long_words=False) or [""]
        widths_now = [*widths[:2], max(widths[2], *map(len, parts)), *widths[3:]]
        cells = [str(c).ljust(widths_now[k]) for k, c in enumerate(row)]
        cells[2] = parts[0].ljust(widths[2])
        lines.append("  ".join(cells).rstrip())
        indent = sum(w + 2 for w in widths[:2])
        lines.extend((" " * indent + part).rstrip() for part in parts[1:])
        if row is header:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
