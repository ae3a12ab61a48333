"""The explanation object and its renderings: text for the terminal, Markdown, LaTeX, JSON and HTML for Jupyter."""

from __future__ import annotations

import dataclasses
import html
import json
import math
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from ..rules.registry import find
from .records import FULL_ARRAY, Accumulation, BackwardStep, ForwardStep, Step, fmt


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        if value.size > FULL_ARRAY:  # a network's arrays: shape and summary, so the JSON stays small
            flat = value.reshape(-1)
            return {"shape": list(value.shape), "min": float(flat.min()), "mean": float(flat.mean()),
                    "max": float(flat.max()), "first": flat[:4].tolist()}
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def tex_name(name: str) -> str:
    """A variable or step name in TeX: v12 -> v_{12}, alpha -> \\alpha, rate -> \\mathit{rate}."""
    m = re.fullmatch(r"([A-Za-z]+)_?(\d+)", name)
    if m:
        return f"{tex_name(m.group(1))}_{{{m.group(2)}}}"
    greek = {"alpha", "beta", "gamma", "delta", "epsilon", "eta", "theta", "lambda", "mu", "sigma", "tau", "phi",
             "omega", "rho", "nu", "xi", "zeta", "kappa", "chi", "psi"}
    if name in greek:
        return "\\" + name
    if len(name) == 1:
        return name
    return rf"\mathit{{{name}}}"


def tex_number(value: Any) -> str:
    text = fmt(value)
    m = re.fullmatch(r"(-?[\d.]+)e([+-]\d+)", text)
    if m:
        return rf"{m.group(1)} \cdot 10^{{{int(m.group(2))}}}"
    return text


def _tex_operand(text: str) -> str:
    """A step input (a name or a number) in TeX."""
    return text if re.fullmatch(r"-?[\d.]+(e[+-]?\d+)?|inf|nan", text) else tex_name(text)


def _tex_function(op: str) -> str:
    """A function's name in TeX: the rule entry's ``tex_name`` (\\sin, \\sigma, \\log_2), else \\operatorname{op}."""
    rule = find(op)
    if rule is not None and rule.tex_name:
        return rule.tex_name
    escaped = op.replace("_", r"\_")  # a user's primitive may be called my_op
    return rf"\operatorname{{{escaped}}}"


_TEX_OPS = {"add": "+", "subtract": "-", "multiply": r"\cdot", "divide": "/", "power": "^"}


def _tex_step(step: ForwardStep) -> str:
    ins = [_tex_operand(i) for i in step.inputs]
    if step.op in _TEX_OPS:
        if step.op == "power":
            return f"{ins[0]}^{{{ins[1]}}}"
        if step.op == "divide":
            return rf"\frac{{{ins[0]}}}{{{ins[1]}}}"
        return f"{ins[0]} {_TEX_OPS[step.op]} {ins[1]}"
    if step.op == "negative":
        return f"-{ins[0]}"
    if step.op == "sqrt":
        return rf"\sqrt{{{ins[0]}}}"
    if step.op == "logb":
        return rf"\log_{{{ins[1]}}}\left({ins[0]}\right)"
    name = _tex_function(step.op)
    return rf"{name}\left({', '.join(ins)}\right)"


class Explanation:
    """How a gradient comes about: the forward pass, the chain-rule steps, the gradients and their formulas.

    Attributes: ``expression`` (text), ``variables``, ``point`` (name -> value), ``value`` (f at the point),
    ``steps`` (ForwardStep, BackwardStep and Accumulation records, in order), ``gradients`` (name -> ∂f/∂name, the
    engine's values), ``formulas`` (name -> simplified SymPy derivative, or None without SymPy).
    """

    def __init__(self, *, expression: str, variables: tuple[str, ...], point: dict[str, float], value: Any,
                 steps: list[Step], gradients: dict[str, float], formulas: dict[str, Any], formula_note: str = "",
                 root=None, leaves=None, walked_gradients=None, layers=None) -> None:
        self.expression = expression
        self.variables = variables
        self.point = point
        self.value = value
        self.steps = steps
        self.gradients = gradients
        self.formulas = formulas
        self.formula_note = formula_note
        self.root = root  # the output Tensor, its graph retained (for cr.draw)
        self.leaves = leaves or {}  # name -> leaf Tensor
        self.walked_gradients = walked_gradients or {}  # the sums of the backward steps (equal to gradients)
        self.layers = layers or []  # Layer records: the backward steps grouped by nn module, output layer first

    # -------------------------------------------------------------------------------------------------------
    @property
    def forward_steps(self) -> list[ForwardStep]:
        return [s for s in self.steps if isinstance(s, ForwardStep)]

    @property
    def backward_steps(self) -> list[BackwardStep | Accumulation]:
        return [s for s in self.steps if not isinstance(s, ForwardStep)]

    def formula_text(self, name: str) -> str | None:
        f = self.formulas.get(name)
        return None if f is None else str(f)

    def formula_tex(self, name: str) -> str | None:
        f = self.formulas.get(name)
        if f is None:
            return None
        import sympy  # present whenever a formula is

        return sympy.latex(f)

    def formula_value(self, name: str) -> float | None:
        """The symbolic formula evaluated at the point (equal to the gradient, up to rounding)."""
        f = self.formulas.get(name)
        if f is None:
            return None
        import sympy

        subs = {sympy.Symbol(n, real=True): v for n, v in self.point.items()}
        return float(sympy.N(f.subs(subs)))

    def _signature(self) -> str:
        return f"f({', '.join(self.variables)})"

    def _at(self) -> str:
        return ", ".join(f"{n} = {fmt(v)}" for n, v in self.point.items())

    def _fan_in(self) -> Counter:
        return Counter(s.input for s in self.steps if isinstance(s, BackwardStep))

    # -------------------------------------------------------------------------------------------------------
    def to_text(self) -> str:
        """Plain text for the terminal."""
        lines = [f"{self._signature()} = {self.expression}"]
        if self.point:
            lines.append(f"at {self._at()}")
        lines += ["", "Forward pass (each intermediate value, in the order it is computed)"]
        forward = self.forward_steps
        width = max((len(s.expression) for s in forward), default=0)
        for s in forward:
            lines.append(f"  {s.name} = {s.expression.ljust(width)} = {fmt(s.value)}")
        last = forward[-1].name + " = " if forward else ""
        lines.append(f"  f = {last}{fmt(self.value)}" + ("" if forward else "  (no operations: f is a variable "
                                                              "or a constant)"))

        lines += ["", "Backward pass (chain rule: ∂f/∂input = ∂f/∂output × local derivative; "
                      "newest node first, as backward visits them)"]
        if forward:
            lines.append(f"  ∂f/∂{forward[-1].name} = 1 (the seed: ∂f/∂f)")
        fan_in = self._fan_in()
        current = None
        expressions = {s.name: s.expression for s in forward}
        for s in self.backward_steps:
            if isinstance(s, Accumulation):
                parts = " + ".join(fmt(v) for _, v in s.contributions)
                sources = ", ".join(w for w, _ in s.contributions)
                lines.append(f"  {s.name} feeds {len(s.contributions)} places ({sources}): "
                             f"∂f/∂{s.name} = {parts} = {fmt(s.total)}")
                current = None
                continue
            if s.node != current:
                lines.append(f"  {s.node} = {expressions.get(s.node, s.op)}")
                current = s.node
            target = f"∂f/∂{s.input}" + (" (one part)" if fan_in[s.input] > 1 else "")
            if s.form:  # over arrays: the matrix form, the shapes, then each factor (summarised when large)
                lines.append(f"    rule     {s.rule}")
                lines.append(f"    matrix   {s.form}")
                lines.append(f"    shapes   {s.shapes}")
                if s.local is not None:
                    lines.append(f"    local    {fmt(s.local)}" + (f"  (at {s.at})" if s.at else ""))
                lines.append(f"    upstream ∂f/∂{s.node} = {fmt(s.upstream)}")
                lines.append(f"    product  {target} = {fmt(s.product)}")
                continue
            if s.local is None:
                lines.append(f"    rule  {s.rule}")
                lines.append(f"    {target} = {fmt(s.product)}")
            else:
                lines.append(f"    rule  {s.rule}")
                lines.append(f"    local {fmt(s.local)}" + (f"  (at {s.at})" if s.at else ""))
                lines.append(f"    {target} = ∂f/∂{s.node} × local = {fmt(s.upstream)} × {fmt(s.local)} "
                             f"= {fmt(s.product)}")

        if not self.backward_steps:
            why = "f is a variable itself: its gradient is 1" if not forward and self.root is not None and \
                self.root.requires_grad else "f does not depend on the variables, so each gradient is 0"
            lines.append(f"  (no chain-rule steps: {why})")
        lines += self._layers_text()

        lines += ["", "Gradient"]
        width = max((len(fmt(g)) for g in self.gradients.values() if np.size(g) == 1), default=0)
        reached = self._reached()
        for n, g in self.gradients.items():
            formula = self.formula_text(n)
            tail = f"   = {formula}" if formula is not None else ""
            if n not in reached and not np.any(g):
                tail += f"   (no path from {n} to f: f does not depend on {n})"
            lines.append(f"  ∂f/∂{n} = {fmt(g).ljust(width)}{tail}")
        if self.formula_note and self.gradients:
            lines.append(f"  ({self.formula_note})")
        return "\n".join(lines)

    def _reached(self) -> set[str]:
        """The variables that some chain-rule step (or f itself) sends a gradient to."""
        reached = {s.input for s in self.steps if isinstance(s, BackwardStep)}
        reached.update(n for n, t in self.leaves.items() if t is self.root)
        return reached

    def _layers_text(self) -> list[str]:
        """The backward pass by nn module: δ at each module's output, then what each of its steps sends on."""
        if not self.layers:
            return []
        lines = ["", "Layers (the backward pass by nn module, output layer first: δ is ∂f/∂ the module's output)"]
        for layer in self.layers:
            title = layer.name + (f" ({layer.module})" if layer.module and layer.module != layer.name else "")
            lines.append(f"  {title}: δ = {fmt(layer.delta)}")
            for s in layer.steps:
                if isinstance(s, Accumulation):
                    lines.append(f"    ∂f/∂{s.name} = sum of {len(s.contributions)} parts = {fmt(s.total)}")
                elif s.form:
                    lines.append(f"    {s.form}")
                    lines.append(f"      = {fmt(s.product)}")
                else:
                    lines.append(f"    ∂f/∂{s.input} = {fmt(s.upstream)} × {fmt(s.local)} = {fmt(s.product)}")
        return lines

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        grads = ", ".join(f"{n}={fmt(g)}" for n, g in self.gradients.items())
        return f"<Explanation of {self.expression} at {self._at() or 'no variables'}: value {fmt(self.value)}, " \
               f"gradient {grads or 'none'}>"

    # -------------------------------------------------------------------------------------------------------
    def to_markdown(self) -> str:
        """Markdown with tables (TeX in $...$), for notebooks, READMEs and GitHub."""
        out = [f"**${self.tex_signature()} = {self.tex_expression()}$**" +
               (f" at {', '.join(f'${tex_name(n)} = {tex_number(v)}$' for n, v in self.point.items())}"
                if self.point else ""), ""]
        out += ["#### Forward pass", "", "| step | operation | value |", "|---|---|---|"]
        for s in self.forward_steps:
            out.append(f"| ${tex_name(s.name)}$ | ${_tex_step(s)}$ | {fmt(s.value)} |")
        out += ["", f"$f = {tex_number(self.value)}$", ""]
        out += ["#### Backward pass (chain rule, newest node first)", "",
                "| node | rule | local derivative | upstream | product |", "|---|---|---|---|---|"]
        forward = {s.name: s for s in self.forward_steps}
        for s in self.backward_steps:
            if isinstance(s, Accumulation):
                parts = " + ".join(fmt(v) for _, v in s.contributions)
                out.append(f"| ${tex_name(s.name)}$ feeds {len(s.contributions)} places | sum of the parts | | "
                           f"{parts} | $\\frac{{\\partial f}}{{\\partial {tex_name(s.name)}}}$ = {fmt(s.total)} |")
                continue
            node = forward.get(s.node)
            label = f"${tex_name(s.node)} = {_tex_step(node)}$" if node else s.node
            rule = f"${s.rule_tex}$" if s.rule_tex else s.rule
            local = "—" if s.local is None else fmt(s.local) + (f" ({s.at})" if s.at else "")
            out.append(f"| {label} | {rule} | {local} | {fmt(s.upstream)} | "
                       f"$\\frac{{\\partial f}}{{\\partial {tex_name(s.input)}}}$ ⟵ {fmt(s.product)} |")
        out += ["", "#### Gradient", "", "| variable | value | formula |", "|---|---|---|"]
        for n, g in self.gradients.items():
            tex = self.formula_tex(n)
            formula = f"${tex}$" if tex is not None else "—"
            out.append(f"| $\\frac{{\\partial f}}{{\\partial {tex_name(n)}}}$ | {fmt(g)} | {formula} |")
        if self.formula_note:
            out += ["", f"_{self.formula_note}_"]
        return "\n".join(out)

    def tex_signature(self) -> str:
        return f"f({', '.join(tex_name(n) for n in self.variables)})"

    def tex_expression(self) -> str:
        try:
            from ..symbolic.formulas import sympy, to_sympy

            return sympy.latex(to_sympy(self.expression))
        except Exception:  # no SymPy, or a function's expression that is not parseable: show the text
            return r"\text{" + self.expression.replace("_", r"\_") + "}"

    def to_latex(self) -> str:
        """An ``aligned`` LaTeX block: forward steps, chain-rule steps with their rules, gradients."""
        rows = [rf"{self.tex_signature()} &= {self.tex_expression()}"]
        for s in self.forward_steps:
            rows.append(rf"{tex_name(s.name)} &= {_tex_step(s)} = {tex_number(s.value)}")
        forward = self.forward_steps
        if forward:
            rows.append(rf"\frac{{\partial f}}{{\partial {tex_name(forward[-1].name)}}} &= 1")
        for s in self.backward_steps:
            if isinstance(s, Accumulation):
                parts = " + ".join(tex_number(v) for _, v in s.contributions)
                rows.append(rf"\frac{{\partial f}}{{\partial {tex_name(s.name)}}} &= {parts} = {tex_number(s.total)}"
                            r" && \text{(" + f"{len(s.contributions)} paths" + r")}")
                continue
            lhs = rf"\frac{{\partial f}}{{\partial {tex_name(s.input)}}}"
            if s.local is None:
                rule = rf" && {s.rule_tex}" if s.rule_tex else ""
                rows.append(rf"{lhs} &\mathrel{{+}}= {tex_number(s.product)}{rule}")
                continue
            rows.append(rf"{lhs} &\leftarrow \frac{{\partial f}}{{\partial {tex_name(s.node)}}} \cdot "
                        rf"{tex_number(s.local)} = {tex_number(s.upstream)} \cdot {tex_number(s.local)} = "
                        rf"{tex_number(s.product)} && {s.rule_tex}")
        for n, g in self.gradients.items():
            tex = self.formula_tex(n)
            tail = f" = {tex}" if tex is not None else ""
            rows.append(rf"\frac{{\partial f}}{{\partial {tex_name(n)}}} &= {tex_number(g)}{tail}")
        return "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"

    def to_dict(self) -> dict[str, Any]:
        """Plain data: numbers, strings and lists only."""
        steps = []
        for s in self.steps:
            item = {k: _jsonable(v) for k, v in dataclasses.asdict(s).items()}
            if isinstance(s, Accumulation):
                item["contributions"] = [[w, _jsonable(v)] for w, v in s.contributions]
            if isinstance(s, ForwardStep):
                item["inputs"] = list(s.inputs)
            steps.append(item)
        return {
            "expression": self.expression,
            "variables": list(self.variables),
            "point": {n: _jsonable(v) for n, v in self.point.items()},
            "value": _jsonable(self.value),
            "forward": [s for s in steps if s["kind"] == "forward"],
            "backward": [s for s in steps if s["kind"] != "forward"],
            "gradients": {n: _jsonable(g) for n, g in self.gradients.items()},
            "formulas": {n: self.formula_text(n) for n in self.gradients},
            "formulas_tex": {n: self.formula_tex(n) for n in self.gradients},
            "note": self.formula_note or None,
        }

    def to_json(self, indent: int | None = 2) -> str:
        """JSON text of :meth:`to_dict`: standard JSON, which has no infinities or NaN, so those numbers (e.g. the
        derivative of sqrt at 0) are the strings ``"inf"``, ``"-inf"`` and ``"nan"``."""
        if indent is not None and (isinstance(indent, bool) or not isinstance(indent, int)):
            raise TypeError(f"to_json: indent must be None or an int >= 0, got {indent!r:.40}")
        if indent is not None and indent < 0:
            raise ValueError(f"to_json: indent must be None or an int >= 0, got {indent}")
        return json.dumps(finite_json(self.to_dict()), indent=indent, ensure_ascii=False, allow_nan=False)

    def to_html(self, title: str | None = None) -> str:
        """One self-contained interactive HTML page (scripts, styles and data inline; works offline).

        It draws the computation graph and steps through the forward and backward passes (buttons or ← → keys):
        each node lights up with its value, then its gradient; each chain-rule step shows its rule, local
        derivative, upstream gradient and product. Save it with :meth:`save_html`.

        >>> import chainrule as cr
        >>> cr.explain("sigmoid(w*x + b)", w=0.5, x=2.0, b=-1.0).to_html().startswith("<!DOCTYPE html>")
        True
        """
        from .page import to_html

        return to_html(self, title)

    def save_html(self, path: str | os.PathLike, title: str | None = None) -> Path:
        """Write :meth:`to_html` to ``path`` (UTF-8), replacing an existing file as ``open(path, "w")`` does; returns
        the path. Open the file in any current browser."""
        if not isinstance(path, str | os.PathLike):
            raise TypeError(f"save_html: path must be a str or a path, got {type(path).__name__}")
        path = Path(path)
        try:
            is_directory, parent_is_directory = path.is_dir(), path.parent.is_dir()
        except OSError as exc:  # a name the file system refuses outright (too long, ...)
            raise type(exc)(exc.errno, f"save_html: cannot use {str(path)[:80]!r}: {exc.strerror}") from None
        if is_directory:
            raise IsADirectoryError(f"save_html: {str(path)!r} is a directory; give a file name such as page.html")
        if not parent_is_directory:
            raise FileNotFoundError(f"save_html: the directory {str(path.parent)!r} does not exist")
        page = self.to_html(title)  # built first: an error here leaves an existing file as it was
        try:
            path.write_text(page, encoding="utf-8")
        except OSError as exc:
            raise type(exc)(exc.errno, f"save_html: cannot write {str(path)!r}: {exc.strerror}") from None
        return path

    # -------------------------------------------------------------------------------------------------------
    def _repr_latex_(self) -> str:
        return "$$" + self.to_latex() + "$$"

    def _repr_html_(self) -> str:
        """Jupyter shows the interactive page (in an iframe, so its styles and keys stay its own)."""
        from .page import to_iframe

        return to_iframe(self)

    def to_tables_html(self) -> str:
        """The explanation as three static HTML tables (forward, backward, gradient) with TeX for MathJax."""
        e = html.escape

        def math(tex: str) -> str:
            return r"\(" + e(tex) + r"\)"

        def table(header: list[str], rows: list[list[str]]) -> str:
            head = "".join(f"<th>{h}</th>" for h in header)
            body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
            return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

        parts = [f"<p><b>{math(self.tex_signature() + ' = ' + self.tex_expression())}</b>"
                 + (f" at {e(self._at())}" if self.point else "") + "</p>"]
        parts.append("<p><b>Forward pass</b></p>")
        parts.append(table(["step", "operation", "value"],
                           [[math(tex_name(s.name)), math(_tex_step(s)), e(fmt(s.value))]
                            for s in self.forward_steps]))
        parts.append("<p><b>Backward pass</b> (chain rule, newest node first)</p>")
        rows = []
        for s in self.backward_steps:
            if isinstance(s, Accumulation):
                parts_text = " + ".join(fmt(v) for _, v in s.contributions)
                rows.append([e(f"{s.name} feeds {len(s.contributions)} places"), "sum of the parts", "",
                             e(parts_text), e(f"∂f/∂{s.name} = {fmt(s.total)}")])
            else:
                rule = math(s.rule_tex) if s.rule_tex else e(s.rule)
                local = "—" if s.local is None else e(fmt(s.local) + (f" ({s.at})" if s.at else ""))
                rows.append([e(s.node), rule, local, e(fmt(s.upstream)), e(f"∂f/∂{s.input} ⟵ {fmt(s.product)}")])
        parts.append(table(["node", "rule", "local derivative", "upstream", "product"], rows))
        parts.append("<p><b>Gradient</b></p>")
        parts.append(table(["variable", "value", "formula"],
                           [[e(f"∂f/∂{n}"), e(fmt(g)),
                             math(self.formula_tex(n)) if self.formulas.get(n) is not None else "—"]
                            for n, g in self.gradients.items()]))
        if self.formula_note:
            parts.append(f"<p><i>{e(self.formula_note)}</i></p>")
        return "\n".join(parts)


def finite_json(value: Any) -> Any:
    """``value`` with every non-finite float as a string: Python writes them as Infinity and NaN, which are not JSON
    (JavaScript's JSON.parse and most other readers refuse the whole document)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else "inf" if value > 0 else "-inf"
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(v) for v in value]
    return value
