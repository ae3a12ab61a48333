"""The interactive explanation page: one self-contained HTML file that steps through the forward and backward passes.

``Explanation.to_html()`` writes the computation graph as data (JSON in the page), lays it out in the browser with
the vendored dagre library (``static/dagre.min.js``, MIT), and lets the learner step forward and backward with buttons
or the arrow keys: each node lights up with its value, then its gradient, and each chain-rule step shows its rule
(MathML, rendered natively by current browsers), the local derivative, the upstream gradient and their product.
Scripts and styles are inline: the page works offline, from a file or inside Jupyter.
"""

from __future__ import annotations

import html
import json
import math
import re
import threading
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from .mathml import to_mathml
from .records import Accumulation, BackwardStep, fmt

#: The largest graph a page draws; larger ones are refused with a hint (the layout would take long in a browser).
MAX_NODES = 1500

_NUMBER = re.compile(r"-?\d+(\.\d*)?(e[+-]?\d+)?|inf|-inf|nan")


@cache
def _static(name: str) -> str:
    text = resources.files(__package__).joinpath("static", name).read_text(encoding="utf-8")
    # The source-map comment would point at a file the page does not carry.
    return re.sub(r"^//# sourceMappingURL=.*$", "", text, flags=re.MULTILINE)


def _dagre() -> str:
    """The layout library with its licence in front, as the MIT licence asks of every copy."""
    notice = _static("dagre.LICENSE").replace("*/", "* /").strip()
    return f"/*! @dagrejs/dagre 3.1.3 (with @dagrejs/graphlib), MIT licence:\n{notice}\n*/\n{_static('dagre.min.js')}"


_memo = threading.local()  # while a page is written: id(array) -> (array, text), so each array is summarised once


def _once(kind: str, value: Any, make) -> str:
    cache = getattr(_memo, "cache", None)
    if cache is None or not isinstance(value, np.ndarray):
        return make(value)
    key = (kind, id(value))
    if key not in cache:
        cache[key] = (value, make(value))  # the array is kept, so its id cannot be reused meanwhile
    return cache[key][1]


def _short(value: Any) -> str:
    """A value as a node's box shows it: a number, a tiny array, or an array's shape and mean."""
    return _once("short", value, _make_short)


def _make_short(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):  # already written for people
        return value
    if isinstance(value, np.ndarray) and value.size > 4:
        with np.errstate(all="ignore"):
            mean = float(np.mean(value))
        return f"{tuple(value.shape)} mean {mean:.3g}"
    text = fmt(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _shape(value: Any) -> str:
    return "" if value is None or np.ndim(value) == 0 else f" (shape {tuple(np.shape(value))})"


def _clip(text: str, width: int = 44) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _script_json(data: Any) -> str:
    """JSON that is safe inside <script>: no '<', '>' or '&' (so no '</script>' or '<!--'), as JSON escapes."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class _Graph:
    """The page's nodes, edges and module clusters, read from the explanation's forward steps."""

    def __init__(self, e) -> None:
        self.nodes: list[dict[str, Any]] = []
        self.edges: list[dict[str, Any]] = []
        self.edge_of: dict[tuple[str, int], int] = {}  # (node, input index) -> edge index
        self.known: dict[str, Any] = {}  # node id -> value
        forward = e.forward_steps
        names = {s.name for s in forward}
        cluster_of = {}
        self.clusters = []
        for layer in e.layers:
            if layer.name == "(outside modules)" or not layer.nodes:
                continue
            cid = f"module:{layer.name}"
            if cid not in {c["id"] for c in self.clusters}:
                label = layer.name + (f" ({layer.module})" if layer.module and layer.module != layer.name else "")
                self.clusters.append({"id": cid, "label": label})
            for n in layer.nodes:
                cluster_of.setdefault(n, cid)
        for name in e.variables:
            value = e.point[name] if name in e.point else getattr(e.leaves.get(name), "data", None)
            self._node(name, "leaf", name if value is not None else f"{name} (a leaf)", value)
        constants = 0
        for s in forward:
            for i, operand in enumerate(s.inputs):
                if operand in names or operand in self.known:
                    source = operand
                elif _NUMBER.fullmatch(operand) or operand.startswith("const"):
                    constants += 1
                    source = f"c{constants}"
                    number = _NUMBER.fullmatch(operand)
                    # A constant array (data made inside the function) is named by its shape: const(2, 3).
                    title = f"{source} = {operand}" if number else f"{source}: a constant array"
                    self._node(source, "const", title, float(operand) if number else f"shape {operand[5:]}")
                else:  # a leaf made inside the function (t1, ...): no value kept by name
                    source = operand
                    self._node(source, "leaf", f"{operand} (a leaf)", None)
                self.edge_of[(s.name, i)] = len(self.edges)
                self.edges.append({"from": source, "to": s.name})
            self._node(s.name, "op", _clip(f"{s.name} = {s.expression}"), s.value, cluster_of.get(s.name))
        if len(self.nodes) > MAX_NODES:
            raise ValueError(
                f"to_html: the graph has {len(self.nodes)} nodes, more than {MAX_NODES}; a page of "
                "that size lays out slowly in a browser; use to_text() or explain a smaller part"
            )

    def _node(self, node_id: str, kind: str, title: str, value: Any, cluster: str | None = None) -> None:
        if node_id in self.known:
            return
        self.known[node_id] = value
        self.nodes.append(
            {
                "id": node_id,
                "kind": kind,
                "title": title,
                "cluster": cluster,
                "value": _short(value) if kind != "op" else None,
            }
        )


def _row(label: str, value: str) -> str:
    return f"<tr><th>{label}</th><td>{value}</td></tr>"


def _code(value: Any) -> str:
    return _once("code", value, lambda v: f"<code>{html.escape(fmt(v))}</code>{html.escape(_shape(v))}")


def _rule_html(step: BackwardStep) -> str:
    maths = to_mathml(step.rule_tex, display=True) if step.rule_tex else ""
    return f'<div class="rule">{maths}<div class="rule-text">{html.escape(step.rule)}</div></div>'


def _steps(e, graph: _Graph, layer_of: dict[str, str]) -> list[dict[str, Any]]:
    """One record per step the learner walks: what lights up, what becomes known, and the panel's HTML."""
    esc = html.escape
    steps: list[dict[str, Any]] = []
    at = ", ".join(f"{n} = {fmt(v)}" for n, v in e.point.items())
    leaf_values = {n["id"]: n["value"] for n in graph.nodes if n["kind"] != "op"}
    steps.append(
        {
            "title": "Start: the inputs",
            "phase": "start",
            "focus": list(e.variables),
            "edges": [],
            "values": leaf_values,
            "grads": {},
            "html": "<h3>The inputs</h3><p>The forward pass computes each node from its inputs, oldest first; "
            "the backward pass then applies the chain rule from the output back to the inputs.</p>"
            + (f"<p>At {esc(at)}.</p>" if at else "")
            + "<p>Step with the buttons or the ← → keys.</p>",
        }
    )
    for s in e.forward_steps:
        k = len(steps)
        ins = [f"{esc(n)} = {_code(graph.known.get(n))}" for n in s.inputs if n in graph.known]
        layer = layer_of.get(s.name)
        steps.append(
            {
                "title": f"Forward: {s.name} = {_clip(s.expression, 36)}",
                "phase": "forward",
                "focus": [s.name],
                "edges": [graph.edge_of[(s.name, i)] for i in range(len(s.inputs))],
                "values": {s.name: _short(s.value)},
                "grads": {},
                "html": f"<h3>Forward step {k}: {esc(s.name)} = {esc(s.expression)}</h3>"
                + (f"<p>in module {esc(layer)}</p>" if layer else "")
                + "<table>"
                + (_row("inputs", "<br>".join(ins)) if ins else "")
                + _row(f"value of {esc(s.name)}", _code(s.value))
                + "</table>",
            }
        )
    forward = e.forward_steps
    if forward:
        root = forward[-1].name
        steps.append(
            {
                "title": f"Backward: seed ∂f/∂{root} = 1",
                "phase": "backward",
                "focus": [root],
                "edges": [],
                "values": {},
                "grads": {root: "1"},
                "html": f"<h3>Backward: the seed</h3><p>f = {esc(root)}, so ∂f/∂{esc(root)} = 1. The "
                "backward pass visits the nodes newest first; at each it multiplies the gradient "
                "that arrived (upstream) by the node's local derivative and sends the product on.</p>",
            }
        )
    totals: dict[str, Any] = {}
    for s in e.backward_steps:
        if isinstance(s, Accumulation):
            parts = " + ".join(fmt(v) for _, v in s.contributions)
            sources = ", ".join(w for w, _ in s.contributions)
            totals[s.name] = s.total
            steps.append(
                {
                    "title": f"Sum: ∂f/∂{s.name} from {len(s.contributions)} paths",
                    "phase": "backward",
                    "focus": [s.name],
                    "edges": [],
                    "values": {},
                    "grads": {s.name: _short(s.total)},
                    "html": f"<h3>{esc(s.name)} feeds {len(s.contributions)} places</h3><p>Its gradient is the sum of "
                    f"what each path sent back (from {esc(sources)}):</p><table>"
                    + _row(f"∂f/∂{esc(s.name)}", f"<code>{esc(parts)}</code> = {_code(s.total)}")
                    + "</table>",
                }
            )
            continue
        if s.product is not None:
            totals[s.input] = s.product if s.input not in totals else totals[s.input] + s.product
        layer = layer_of.get(s.node)
        rows = []
        if s.shapes:
            rows.append(_row("shapes", esc(s.shapes)))
        if s.form:
            rows.append(_row("matrix form", esc(s.form)))
        if s.local is not None:
            rows.append(
                _row("local derivative", _code(s.local) + (f" <span class=at>at {esc(s.at)}</span>" if s.at else ""))
            )
        rows.append(_row(f"upstream ∂f/∂{esc(s.node)}", _code(s.upstream)))
        how = "upstream × local" if s.local is not None else "the rule applied to upstream"
        rows.append(_row(f"∂f/∂{esc(s.input)} ⟵ {how}", _code(s.product)))
        if totals.get(s.input) is not None and s.product is not totals[s.input]:
            rows.append(_row(f"∂f/∂{esc(s.input)} so far", _code(totals[s.input])))
        edge = graph.edge_of.get((s.node, s.index))
        steps.append(
            {
                "title": f"Backward: {s.node} → ∂f/∂{s.input}",
                "phase": "backward",
                "focus": [s.node, s.input],
                "edges": [] if edge is None else [edge],
                "values": {},
                "grads": {} if s.product is None else {s.input: _short(totals[s.input])},
                "html": f"<h3>Chain rule at {esc(s.node)} ({esc(s.op)}), input {esc(s.input)}</h3>"
                + (f"<p>in module {esc(layer)}</p>" if layer else "")
                + _rule_html(s)
                + "<table>"
                + "".join(rows)
                + "</table>",
            }
        )
    grads = {n: _short(g) for n, g in e.gradients.items()}
    rows = "".join(_row(f"∂f/∂{esc(n)}", _code(g)) for n, g in e.gradients.items())
    steps.append(
        {
            "title": "Done: the gradient",
            "phase": "done",
            "focus": list(e.gradients),
            "edges": [],
            "values": {},
            "grads": grads,
            "html": "<h3>The gradient</h3><p>Every input's gradient is complete:</p><table>" + rows + "</table>",
        }
    )
    return steps


def page_data(e) -> dict[str, Any]:
    """The data the page's script draws: nodes, edges, module clusters and the steps (plain JSON types)."""
    graph = _Graph(e)
    layer_of = {}
    for layer in e.layers:
        title = layer.name + (f" ({layer.module})" if layer.module and layer.module != layer.name else "")
        for n in layer.nodes:
            layer_of.setdefault(n, title)
    steps = _steps(e, graph, layer_of)
    # Each box is as wide as the longest text it will show, so nothing moves while stepping.
    widest: dict[str, int] = {n["id"]: len(n["title"]) for n in graph.nodes}
    for step in steps:
        for key, prefix in (("values", "value "), ("grads", "grad ")):
            for node_id, text in step[key].items():
                if node_id in widest and text is not None:
                    widest[node_id] = max(widest[node_id], len(prefix) + len(text))
    for n in graph.nodes:
        n["chars"] = widest[n["id"]]
        del n["value"]
    return {"nodes": graph.nodes, "edges": graph.edges, "clusters": graph.clusters, "steps": steps}


def _title_math(e) -> str:
    if any(f is not None for f in e.formulas.values()):  # SymPy is loaded: its TeX of the expression
        return to_mathml(f"{e.tex_signature()} = {e.tex_expression()}")
    # No formulas (arrays, a network, no SymPy): the expression as written, without importing SymPy for a title.
    return to_mathml(e.tex_signature()) + " = " + html.escape(e.expression)


def _gradient_table(e) -> str:
    esc = html.escape
    rows = []
    for n, g in e.gradients.items():
        tex = e.formula_tex(n)
        formula = to_mathml(tex) if tex is not None else "—"
        rows.append(
            f'<tr data-variable="{esc(n, quote=True)}"><th>∂f/∂{esc(n)}</th><td>{_code(g)}</td><td>{formula}</td></tr>'
        )
    note = f"<p class=note>{esc(e.formula_note)}</p>" if e.formula_note else ""
    return (
        "<table id=cr-gradients><thead><tr><th>variable</th><th>gradient</th><th>formula</th></tr></thead>"
        "<tbody>" + "".join(rows) + "</tbody></table>" + note
    )


def to_html(e, title: str | None = None) -> str:
    """One self-contained HTML page (scripts, styles and data inline) that steps through the explanation."""
    if title is not None and not isinstance(title, str):
        raise TypeError(f"to_html: title must be a str, got {type(title).__name__}")
    _memo.cache = {}
    try:
        data = page_data(e)
        gradients = _gradient_table(e)
    finally:
        _memo.cache = None
    esc = html.escape
    at = ", ".join(f"{n} = {fmt(v)}" for n, v in e.point.items() if np.ndim(v) == 0)
    heading = esc(title) if title else _title_math(e)
    page_title = title or f"{e._signature()} = {e.expression}"
    value = fmt(e.value)
    finite = all(math.isfinite(v) for v in np.ravel(np.asarray(e.value, dtype=float)))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="chainrule">
<title>{esc(page_title)} — chainrule</title>
<style>{_static("page.css")}</style>
</head>
<body>
<header>
<h1>{heading}</h1>
<p class="sub">{esc(f"at {at}; " if at else "")}value f = <code>{esc(value if finite else str(e.value))}</code>
</p>
</header>
<nav id="cr-controls" aria-label="steps">
<button id="cr-first" title="first step (Home)">« first</button>
<button id="cr-prev" title="previous step (←)">◀ back</button>
<span id="cr-counter" aria-live="polite"></span>
<button id="cr-next" title="next step (→)">next ▶</button>
<button id="cr-last" title="last step (End)">last »</button>
<span class="hint">keys ← → Home End</span>
</nav>
<main>
<div id="cr-graph" role="img" aria-label="the computation graph"></div>
<aside id="cr-panel"></aside>
</main>
<section>
<h2>Gradient</h2>
{gradients}
</section>
<section>
<h2>All steps</h2>
<ol id="cr-steps"></ol>
</section>
<footer>Made by chainrule from the graph that backward uses. Layout by dagre 3.1.3 (MIT).</footer>
<script type="application/json" id="cr-data">{_script_json(data)}</script>
<script>{_dagre()}</script>
<script>{_static("page.js")}</script>
</body>
</html>
"""


def to_iframe(e, height: int = 620) -> str:
    """The page inside an ``<iframe srcdoc>``: how Jupyter shows it, its styles and scripts kept to themselves."""
    page = html.escape(to_html(e), quote=True)
    return (
        f'<iframe srcdoc="{page}" style="width: 100%; height: {int(height)}px; border: 1px solid #ddd; '
        'border-radius: 4px" sandbox="allow-scripts" title="chainrule explanation"></iframe>'
    )
