"""Drawing a computation graph: Graphviz DOT text, Mermaid text, or SVG through Graphviz's ``dot`` when installed.

``cr.draw(y)`` reads the graph that backward uses (the nodes reachable from ``y``) and writes one box per node with
its operation, value and gradient. Mermaid renders in Jupyter and on GitHub with nothing installed; DOT is for
Graphviz. Layout is always left to those tools.

>>> import chainrule as cr
>>> x = cr.tensor(2.0, requires_grad=True)
>>> y = cr.sin(x * x)
>>> print(cr.draw(y, format="mermaid", names={"x": x}).splitlines()[0])
flowchart LR
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..engine import Node, NotSaved, backward, reachable_nodes
from ..errors import GraphError, MissingDependencyError
from ..tensor import Tensor

FORMATS = ("dot", "mermaid", "svg")


class Drawing(str):
    """The text of a drawing (DOT, Mermaid or SVG) that also displays itself in Jupyter."""

    format: str = "dot"

    def _repr_svg_(self) -> str | None:
        return str(self) if self.format == "svg" else None

    def _repr_markdown_(self) -> str | None:
        if self.format == "mermaid":
            return f"```mermaid\n{self}\n```"
        if self.format == "dot":
            return f"```dot\n{self}\n```"
        return None


def _drawing(text: str, format: str) -> Drawing:
    d = Drawing(text)
    d.format = format
    return d


def _value(v: Any) -> str:
    from .records import fmt

    if type(v) is NotSaved:
        return f"array{tuple(v.shape)} (not saved)"
    array = np.asarray(v)
    if array.size == 1:
        return fmt(float(array))
    return f"array{tuple(array.shape)}"


def node_gradients(root: Tensor, seed: Any = None) -> dict[int, Any]:
    """∂root/∂(each node and leaf), by id, observed on the engine's backward loop (its ``on_node`` hook).

    Needs the graph's saved values (before backward, or after ``backward(retain_graph=True)``).
    """
    if root.node is None:
        return {}
    if seed is None:
        if root.size != 1:
            raise GraphError(f"draw: gradients of a root of shape {root.shape} need a seed of that shape")
        seed = np.ones_like(root.data)
    gradients: dict[int, Any] = {}

    def on_node(node: Node, g: Any, grads: list) -> None:
        gradients[id(node)] = g

    leaves = list({id(p): p for n in reachable_nodes(root) for p in n.parents
                   if p is not None and not isinstance(p, Node)}.values())
    with np.errstate(all="ignore"):
        totals = backward([root], [seed], targets=leaves, retain_graph=True, accumulate=False, on_node=on_node)
    gradients.update((id(leaf), g) for leaf, g in zip(leaves, totals, strict=True) if g is not None)
    return gradients


class _Graph:
    """Boxes and arrows of a graph, independent of the output format."""

    def __init__(self, root: Tensor, names: Mapping[str, Tensor], gradients: Mapping[int, Any] | None,
                 max_nodes: int) -> None:
        self.boxes: list[tuple[str, list[str], str]] = []  # (id, lines, shape: box | leaf | constant)
        self.arrows: list[tuple[str, str, str]] = []  # (from, to, label)
        nodes = reachable_nodes(root)
        if len(nodes) > max_nodes:
            raise GraphError(
                f"draw: the graph has {len(nodes)} nodes, more than max_nodes={max_nodes}; draw a smaller part "
                "or raise max_nodes"
            )
        leaf_names = {id(t): n for n, t in names.items()}
        grads = gradients or {}
        ids: dict[int, str] = {}
        constants = leaves = 0
        shown: dict[str, str] = {}  # box id -> the name its box shows (x, leaf 1, c1, v2)
        for k, node in enumerate(nodes, start=1):
            node_id = f"n{k}"
            shown[node_id] = f"v{k}"
            for i, parent in enumerate(node.parents):
                label = node.rule.args[i] if node.rule.arity > 1 and i < len(node.rule.args) else ""
                if isinstance(parent, Node):
                    source = ids[id(parent)]
                elif parent is not None:
                    source = ids.get(id(parent))
                    if source is None:
                        leaves += 1
                        source = ids[id(parent)] = f"x{leaves}"
                        name = shown[source] = leaf_names.get(id(parent), f"leaf {source[1:]}")
                        lines = [name, f"value = {_value(parent.data)}"]
                        g = grads.get(id(parent), parent.grad.data if parent.grad is not None else None)
                        if g is not None:
                            lines.append(f"grad = {_value(g)}")
                        self.boxes.append((source, lines, "leaf"))
                else:
                    constants += 1
                    source = f"c{constants}"
                    shown[source] = source
                    if node.inputs is not None:
                        lines = [f"{source} = {_value(node.inputs[i])}", "(a constant: nothing flows back to it)"]
                    else:
                        lines = [f"{source}: a constant", "(value released by backward)"]
                    self.boxes.append((source, lines, "constant"))
                self.arrows.append((source, node_id, label))
            sources = [shown[a] for a, b, _ in self.arrows if b == node_id]
            lines = [f"v{k} = {node.rule.name}({', '.join(sources)})"]
            if node.output is not None:
                lines.append(f"value = {_value(node.output)}")
            else:
                lines.append("(values released by backward; draw before it)")
            if id(node) in grads:
                lines.append(f"grad = {_value(grads[id(node)])}")
            self.boxes.append((node_id, lines, "box"))
            ids[id(node)] = node_id
        if not nodes:
            lines = [leaf_names.get(id(root), "tensor"), f"value = {_value(root.data)}"]
            self.boxes.append(("x1", lines, "leaf"))

    def dot(self) -> str:
        def quote(text: str) -> str:
            return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

        shapes = {"box": 'shape=box, style="rounded"', "leaf": "shape=ellipse",
                  "constant": 'shape=plaintext, fontcolor="gray40"'}
        out = ["digraph chainrule {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=11];']
        for box_id, lines, kind in self.boxes:
            label = "\\n".join(quote(line)[1:-1] for line in lines)
            out.append(f'  {box_id} [label="{label}", {shapes[kind]}];')
        for a, b, label in self.arrows:
            out.append(f"  {a} -> {b}" + (f" [label={quote(label)}];" if label else ";"))
        out.append("}")
        return "\n".join(out)

    def mermaid(self) -> str:
        def text(lines: list[str]) -> str:
            escaped = [line.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
                       for line in lines]
            return '"' + "<br/>".join(escaped) + '"'

        shapes = {"box": ("[", "]"), "leaf": ("([", "])"), "constant": ("[/", "/]")}
        out = ["flowchart LR"]
        for box_id, lines, kind in self.boxes:
            left, right = shapes[kind]
            out.append(f"  {box_id}{left}{text(lines)}{right}")
        for a, b, label in self.arrows:
            out.append(f"  {a} -->|{label}| {b}" if label else f"  {a} --> {b}")
        return "\n".join(out)


def draw(obj: Any, format: str = "dot", *, names: Mapping[str, Tensor] | None = None,
         gradients: bool | None = None, max_nodes: int = 1000) -> Drawing:
    """Draw the computation graph behind ``obj`` (a Tensor, or an explanation from ``cr.explain``).

    ``format``: ``"dot"`` (Graphviz text), ``"mermaid"`` (renders in Jupyter and on GitHub) or ``"svg"`` (needs the
    Graphviz ``dot`` program). Each box shows its operation and value, and its gradient ∂root/∂box: leaves show their
    ``.grad`` when backward has run; ``gradients=True`` computes every box's gradient from the saved graph (the
    default for explanations). ``names`` maps names to leaf Tensors, to label them.
    """
    if format not in FORMATS:
        raise ValueError(f"draw: format must be one of {', '.join(FORMATS)}, not {format!r}")
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
        error = ValueError if isinstance(max_nodes, int) and not isinstance(max_nodes, bool) else TypeError
        raise error(f"draw: max_nodes must be an int >= 1, got {max_nodes!r:.40}")
    if names is not None and (not isinstance(names, Mapping) or not all(
            isinstance(k, str) and isinstance(v, Tensor) for k, v in names.items())):
        raise TypeError("draw: names must map names (str) to the leaf Tensors they label, e.g. names={'w': w}")
    from .render import Explanation

    if isinstance(obj, Explanation):
        root, names = obj.root, {**obj.leaves, **(names or {})}
        gradients = True if gradients is None else gradients
    elif isinstance(obj, Tensor):
        root = obj
    else:
        raise TypeError(f"draw: expected a Tensor or an explanation, got {type(obj).__name__}")
    grads = None
    if gradients:
        if any(n.output is None for n in reachable_nodes(root)):
            raise GraphError("draw: the graph's saved values were released by backward(); draw before backward, "
                             "or call backward(retain_graph=True), to show every gradient")
        grads = node_gradients(root)
    graph = _Graph(root, names or {}, grads, max_nodes)
    if format == "mermaid":
        return _drawing(graph.mermaid(), "mermaid")
    dot_text = graph.dot()
    if format == "dot":
        return _drawing(dot_text, "dot")
    return _drawing(render_svg(dot_text), "svg")


def render_svg(dot_text: str) -> str:
    """SVG from DOT text through Graphviz's ``dot`` program; a clear error when it is not installed."""
    program = shutil.which("dot")
    if program is None:
        raise MissingDependencyError(
            "draw(format='svg') needs the Graphviz program 'dot', which is not installed; use format='mermaid' "
            "(renders in Jupyter and on GitHub with nothing to install) or format='dot', or install Graphviz "
            "(e.g. apt install graphviz, brew install graphviz)"
        )
    done = subprocess.run([program, "-Tsvg"], input=dot_text, capture_output=True, text=True, timeout=60,
                          check=False)
    if done.returncode != 0:
        raise GraphError(f"Graphviz 'dot' failed (exit status {done.returncode}): {done.stderr.strip()[:500]}")
    return done.stdout
