"""Explanations: the chain rule at work on the user's own expression, read from the graph that backward uses.

``explain("sigmoid(w*x + b)", w=0.5, x=2.0, b=-1.0)`` evaluates the expression with chainrule's ops on one leaf
Tensor per variable, so the engine records its usual graph. The forward steps are that graph's nodes, oldest first
(v1, v2, ...). The backward steps visit the nodes newest first, the order ``backward`` pops them from its heap; at
each node and input they show the rule from the table, the local derivative computed by the very entry the engine
calls (the rule's derivative with the NumPy namespace at the node's saved values), the upstream gradient and their
product. Where a value feeds several places, the contributions and their sum are shown. The final gradients are
the engine's own (``backward`` on the same graph), and the tests check that they equal ``cr.grad``.
"""

from __future__ import annotations

import inspect
import math
import numbers
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .. import ops
from ..engine import Node, backends, backward, keep_values, local_derivative, reachable_nodes, unbroadcast
from ..engine.mode import call_observers
from ..errors import DomainError, ExpressionError
from ..rules import numpy_math
from ..rules.registry import ELEMENTWISE, MINUS_ONE, ONE, Rule, all_rules, find
from ..symbolic import parser
from ..tensor import Tensor
from .records import Accumulation, BackwardStep, ForwardStep, Layer, Step, fmt, number, shape_of
from .render import Explanation

SYMBOLIC_HINT = "install SymPy for symbolic formulas: pip install 'chainrule[symbolic]'"


# ---------------------------------------------------------------------------------------------------------------
# Rules written for people: σ'(u) = σ(u)(1−σ(u)).
# ---------------------------------------------------------------------------------------------------------------
_SUPERSCRIPTS = {"2": "²", "3": "³"}


def _function_symbol(name: str) -> str:
    """How a rule's text writes the function ``name``: the entry's ``symbol`` (σ, ln, √), else its name."""
    rule = find(name)
    return rule.symbol if rule is not None and rule.symbol else name


def _rule_name(rule: Rule) -> str:
    """The function's name on the left of its rule, σ'(u): its symbol when that is a name (σ, ln, not √)."""
    return rule.symbol if rule.symbol.isalpha() else rule.name


def _operator_forms(rule: Rule) -> tuple[str, str]:
    """An operator's function as (Unicode text, TeX): ("a − b", "a - b"); the TeX is the entry's display."""
    a, b = rule.args
    text = f"{a} {rule.operator} {b}" if rule.operator in "+-" else f"{a}{rule.operator}{b}"
    return pretty(text), rule.display


_TOKEN = re.compile(r"\s+|\*\*|[A-Za-z_][A-Za-z_0-9]*|\d+(?:\.\d*)?|.")


def pretty(text: str, rename: Mapping[str, str] | None = None) -> str:
    """A rule's plain text in Unicode: ``sigmoid(x)*(1 - sigmoid(x))`` -> ``σ(u)(1−σ(u))`` (with x renamed u)."""
    rename = rename or {}
    tokens = _TOKEN.findall(text)
    out: list[str] = []
    depth = 0
    skip_space = False
    previous = ""  # the last non-space token
    for k, tok in enumerate(tokens):
        if not tok:  # consumed as a superscript
            continue
        nxt = next((t for t in tokens[k + 1:] if t and not t.isspace()), "")
        if tok.isspace():
            if not skip_space:
                out.append(" ")
            skip_space = False
            continue
        skip_space = False
        binary = bool(previous) and (previous[-1].isalnum() or previous in (")", "²", "³"))
        if tok[0].isalpha() or tok[0] == "_":
            piece = rename.get(tok, _function_symbol(tok) if nxt == "(" else tok)
        elif tok == "**":
            following = tokens[k + 1] if k + 1 < len(tokens) else ""
            after = tokens[k + 2] if k + 2 < len(tokens) else ""
            if following in _SUPERSCRIPTS and after in ("", " ", ")", "*", "/"):
                tokens[k + 1] = ""  # consumed
                piece = _SUPERSCRIPTS[following]
            else:
                piece = "^"
        elif tok == "*":
            piece = "" if previous == ")" and nxt == "(" else "·"
        elif tok in "+-" and binary:
            symbol = "−" if tok == "-" else "+"
            if depth > 0:
                while out and out[-1] == " ":
                    out.pop()
                piece, skip_space = symbol, True
            else:
                piece = symbol
        elif tok == "-":
            piece = "−"
        else:
            piece = tok
            depth += tok == "("
            depth -= tok == ")"
        if piece:
            out.append(piece)
            previous = piece
    return "".join(out).strip()


def _rename_tex(tex: str, rename: Mapping[str, str]) -> str:
    if not rename:
        return tex
    pattern = re.compile(r"(?<![\\A-Za-z])\b(" + "|".join(map(re.escape, rename)) + r")\b")
    return pattern.sub(lambda m: rename[m.group(1)], tex)


def rule_forms(rule: Rule, i: int) -> tuple[str, str]:
    """The rule for input ``i`` as (Unicode text, TeX): ``σ'(u) = σ(u)(1−σ(u))`` and its TeX."""
    arg = rule.args[i] if i < len(rule.args) else f"x{i + 1}"
    rename = {"x": "u"} if rule.arity == 1 else {}
    tex_rhs = _rename_tex(rule.tex[i], rename)
    display = rule.display
    if " = " in display and "(x)" in display.split(" = ")[0]:  # "\sigma(x) = \frac{1}{1 + e^{-x}}": the name
        display = display.split(" = ")[0]
    display = _rename_tex(display, rename)
    if any(op in display for op in (" - ", " + ", "<", ">", "=", r"\le", r"\ge", r"\ne", "?")):
        display = rf"\left({display}\right)"
    text_rhs = pretty(rule.text[i], rename)
    tex_arg = arg if len(arg) == 1 else rf"\text{{{arg}}}"
    if rule.arity == 1:
        symbol = _rule_name(rule)
        if rule.operator == "-":  # negative
            return f"d(−u)/du = {text_rhs}", rf"\frac{{d}}{{du}}\left(-u\right) = {tex_rhs}"
        return f"{symbol}'(u) = {text_rhs}", rf"\frac{{d}}{{du}} {display} = {tex_rhs}"
    if rule.operator:
        text_f, tex_f = _operator_forms(rule)
        left = f"∂({text_f})/∂{arg}"
        return f"{left} = {text_rhs}", rf"\frac{{\partial}}{{\partial {tex_arg}}}\left({tex_f}\right) = {tex_rhs}"
    call = f"{rule.written_as or rule.name}({', '.join(rule.args)})"  # logb is written log(x, a)
    left = f"∂{call}/∂{arg}"
    return f"{left} = {text_rhs}", rf"\frac{{\partial}}{{\partial {tex_arg}}} {display} = {tex_rhs}"


def vjp_forms(rule: Rule, i: int) -> tuple[str, str]:
    """The rule of a non-elementwise input as (text, TeX): its name and the gradient formula from the entry."""
    k = 0 if rule.arity < 0 else i
    text = f"{rule.name}: {rule.text[k]}"
    if k >= len(rule.tex) or not rule.tex[k] or not rule.display:
        return text, ""
    arg = rule.args[i] if i < len(rule.args) else f"x_{{{i + 1}}}"
    return text, rf"\frac{{\partial}}{{\partial {arg}}} {rule.display}:\quad {rule.tex[k]}"


# ---------------------------------------------------------------------------------------------------------------
# Evaluating expressions with chainrule's ops.
# ---------------------------------------------------------------------------------------------------------------
class _ExpressionMath:
    """The parser's functions and constants as chainrule ops, so evaluating an expression records a graph."""

    pi = math.pi
    e = math.e

    def __getattr__(self, name: str):
        if name not in parser.DEFAULT_FUNCTIONS:
            raise AttributeError(name)
        return getattr(ops, name)


expression_math = _ExpressionMath()


def _describe(value: Any) -> str:
    """What a refused value is, in a few words (never a clipped repr)."""
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype} and shape {value.shape}"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def _check_value(name: str, value: Any) -> float | np.ndarray:
    """A variable's value: a finite real number (a float), or an array of them (for networks)."""
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, list | tuple):
        try:
            value = np.asarray(value)
        except (ValueError, TypeError):
            raise ExpressionError(f"the value of '{name}' must be a real number or an array of them, got a ragged "
                                  f"{type(value).__name__}; give a number or a rectangular array") from None
    if isinstance(value, np.ndarray) and value.ndim > 0:
        if value.dtype.kind not in "fiu" or value.size == 0:
            raise ExpressionError(f"the value of '{name}' must be a real number or a non-empty array of them, got "
                                  f"{_describe(value)}; e.g. {name}=np.ones((3, 2))")
        # Integers become float64; float32 stays float32, as the network it feeds (and as fast).
        array = value.astype(np.float64) if value.dtype.kind != "f" else value.copy()
        if not np.all(np.isfinite(array)):
            raise DomainError(f"the value of '{name}' must be finite, but {int(np.sum(~np.isfinite(array)))} of its "
                              f"{array.size} entries are not")
        return array
    if isinstance(value, np.ndarray):
        value = value[()]
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise ExpressionError(
            f"the value of '{name}' must be a real number, got {_describe(value)}; give a number or an array of "
            f"numbers, e.g. {name}=1.5 or {name}=np.ones((3, 2))"
        )
    try:
        value = float(value)
    except OverflowError:  # an int beyond float64
        raise DomainError(f"the value of '{name}' is too large for float64 (got an int of {len(str(value))} "
                          "digits); it must be finite") from None
    if not math.isfinite(value):
        raise DomainError(f"the value of '{name}' must be finite, got {value}")
    return value


def check_point(wanted: tuple[str, ...], point: Mapping[str, Any], what: str) -> dict[str, Any]:
    """The point's values in ``wanted`` order, after checking names and types; clear errors otherwise."""
    missing = [n for n in wanted if n not in point]
    extra = [n for n in point if n not in wanted]
    have = ", ".join(wanted) or "no variables"
    if missing:
        listed = ", ".join(f"{n}=..." for n in missing)
        raise ExpressionError(f"missing value for {', '.join(map(repr, missing))}: {what} has {have}; give {listed}")
    if extra:
        raise ExpressionError(
            f"unknown variable {', '.join(map(repr, extra))}: {what} has {have}; remove the extra value"
        )
    return {n: _check_value(n, point[n]) for n in wanted}


def _ordered(names: tuple[str, ...], point: Mapping[str, Any]) -> tuple[str, ...]:
    """Variables in the order the user gave them (then any missing ones, alphabetically)."""
    given = [n for n in point if n in names]
    return tuple(given + [n for n in names if n not in given])


# ---------------------------------------------------------------------------------------------------------------
# The graph as a parser tree (for functions of Tensors, so their formulas come from the same rule table).
# ---------------------------------------------------------------------------------------------------------------
_TREE_OPERATORS = {rule.name: rule.operator for rule in all_rules() if rule.operator and rule.arity == 2}


def graph_to_tree(root: Tensor, names: Mapping[int, str]) -> parser.Expr | None:
    """The recorded computation as an expression tree, or None if it uses ops outside the parser's grammar."""
    built: dict[int, parser.Expr] = {}

    def operand(node: Node, i: int) -> parser.Expr | None:
        parent = node.parents[i]
        if isinstance(parent, Node):
            return built.get(id(parent))
        if parent is not None:
            name = names.get(id(parent))
            return None if name is None else parser.Variable(name)
        value = np.asarray(node.inputs[i])
        if value.size != 1:
            return None
        v = float(value)
        return parser.Number(v) if v >= 0 else parser.Negate(parser.Number(-v))

    for node in reachable_nodes(root):
        rule = node.rule
        args = [operand(node, i) for i in range(len(node.parents))]
        if any(a is None for a in args) or node.params:
            return None
        if rule.name in _TREE_OPERATORS:
            tree = parser.Binary(_TREE_OPERATORS[rule.name], args[0], args[1])
        elif rule.operator == "-" and rule.arity == 1:  # negative
            tree = parser.Negate(args[0])
        elif rule.grammar and len(args) == rule.arity:  # a function of the grammar: exp(v1), log(x, a)...
            tree = parser.Call(rule.written_as or rule.name, tuple(args))
        else:
            return None
        built[id(node)] = tree
    if root.node is None:
        return None
    return built.get(id(root.node))


# ---------------------------------------------------------------------------------------------------------------
# The walk.
# ---------------------------------------------------------------------------------------------------------------
def _param_text(value: Any) -> str:
    """A rule's parameter as a step shows it: an array of labels by its shape, not 128 numbers."""
    if isinstance(value, np.ndarray) and value.size > 8:
        return f"<{value.dtype} array {value.shape}>"
    return repr(value)


def _expression(rule: Rule, inputs: list[str], params: dict) -> str:
    if rule.name in _TREE_OPERATORS:
        return f"{inputs[0]} {_TREE_OPERATORS[rule.name]} {inputs[1]}"
    if rule.name == "negative":
        return f"-{inputs[0]}"
    shown = [*inputs, *(f"{k}={_param_text(v)}" for k, v in params.items())]
    return f"{rule.name}({', '.join(shown)})"


_MATRIX_TEXT = ((".T", "ᵀ"), (" @ ", "·"), ("@", "·"))


def _matrix_form(rule: Rule, i: int, node: str, inputs: list[str], text: str, constant: bool, g: Any,
                 x: Any) -> str:
    """The rule as arrays see it: ∂f/∂input from ∂f/∂node (g): g ⊙ local, gᵀx, or the sum that undoes broadcasting."""
    target, upstream = f"∂f/∂{inputs[i]}", f"∂f/∂{node}"
    gs, xs = shape_of(g), shape_of(x)
    extra = len(gs) - len(xs)
    summed = () if extra < 0 else tuple(range(extra)) + tuple(
        k + extra for k, n in enumerate(xs) if n == 1 and gs[k + extra] != 1)
    if rule.kind == ELEMENTWISE:
        local = text.split(" = ")[0].replace("(u)", f"({inputs[i]})")  # "σ'(v1)", "∂(a·b)/∂a"
        sign = "−" if rule.derivatives[i] is MINUS_ONE else ""
        body = f"{sign}{upstream}" if constant else f"{upstream} ⊙ {local}"
        if summed:  # the engine sums the broadcast axes back (a bias added to every row of a batch)
            axes = ", ".join(map(str, summed))
            return f"{target} = Σ over axis {axes} of ({body})  (the sum that undoes broadcasting)"
        return f"{target} = {body}"
    k = 0 if rule.arity < 0 else i
    formula = rule.text[k] if k < len(rule.text) else ""
    for old, new in _MATRIX_TEXT:
        formula = formula.replace(old, new)
    legend = [f"g = {upstream}"] + [f"{a} = {n}" for a, n in zip(rule.args, inputs, strict=False) if a != n]
    note = ""
    if len(gs) < len(xs):
        note = f"; g spread back over the reduced axes to shape {xs}"
    return f"{target} = {formula}  ({', '.join(legend)}{note})"


def _at(rule: Rule, input_names: list[str], values: list[Any]) -> str:
    if rule.arity == 1:
        return f"u = {input_names[0]} = {fmt(number(values[0]))}"
    parts = []
    for a, n, v in zip(rule.args, input_names, map(number, values), strict=False):
        parts.append(f"{a} = {fmt(v)}" if n in (a, fmt(v)) else f"{a} = {n} = {fmt(v)}")
    return ", ".join(parts)


class _Walk:
    """Forward and backward steps over the graph of one scalar root."""

    def __init__(self, root: Tensor, names: Mapping[int, str]) -> None:
        self.root = root
        self.leaf_names = names
        self.nodes = reachable_nodes(root)
        self.node_names = {id(n): f"v{k}" for k, n in enumerate(self.nodes, start=1)}
        self.extra_leaves: dict[int, str] = {}

    def name_of(self, node: Node, i: int) -> str:
        parent = node.parents[i]
        if isinstance(parent, Node):
            return self.node_names[id(parent)]
        if parent is not None:
            name = self.leaf_names.get(id(parent))
            if name is None:  # a leaf made inside the user's function
                name = self.extra_leaves.setdefault(id(parent), f"t{len(self.extra_leaves) + 1}")
            return name
        value = node.inputs[i]
        if math.prod(shape_of(value)) > 1:  # an array made inside the function (not a variable): named by its shape
            return f"const{tuple(np.shape(value))}"
        return fmt(number(value))

    def forward_steps(self) -> list[ForwardStep]:
        steps = []
        for node in self.nodes:
            inputs = [self.name_of(node, i) for i in range(len(node.parents))]
            steps.append(ForwardStep(self.node_names[id(node)], node.rule.name, tuple(inputs), number(node.output),
                                     _expression(node.rule, inputs, node.params)))
        return steps

    def backward_steps(self) -> tuple[list[Step], dict[int, Any]]:
        """Backward steps newest node first, and the gradient accumulated for each leaf (by id).

        The steps are observed on the engine's own backward loop (``on_node``): each shows the gradients that
        ``chain_rule`` computed there, next to the local derivative from the same rule entry.
        """
        steps: list[Step] = []
        if self.root.node is None:  # f is a variable itself (or a constant): ∂f/∂f = 1
            return steps, ({id(self.root): 1.0} if self.root.requires_grad else {})
        received: dict[int, list[tuple[str, Any]]] = {id(self.root.node): [("seed ∂f/∂f", 1.0)]}
        leaves: dict[int, Any] = {}
        # Over arrays every step also shows shapes and the rule in matrix form (gᵀx, ⊙, the sums of broadcasting).
        arrays = any(math.prod(shape_of(x)) > 1 for n in self.nodes for x in (n.output, *n.inputs))

        def on_node(node: Node, g: Any, grads: list) -> None:
            name = self.node_names[id(node)]
            contributions = received.pop(id(node), [])
            if len(contributions) > 1:
                steps.append(Accumulation(name, tuple(contributions), number(g)))
            rule = node.rule
            input_names = [self.name_of(node, i) for i in range(len(node.parents))]
            twice = len(grads) == 2 and node.parents[0] is node.parents[1]  # x * x: one gradient for both
            for i, parent in enumerate(node.parents):
                product = grads[i]
                if parent is None or (product is None and not twice):
                    continue
                constant = rule.kind == ELEMENTWISE and rule.derivatives[i] in (ONE, MINUS_ONE)
                if rule.kind == ELEMENTWISE:
                    local = local_derivative(rule, i, node.inputs, node.output, numpy_math, node.params)
                    if twice:  # the engine forms g·(local_a + local_b) at once; each input's share, for the reader
                        product = unbroadcast(g * local, np.shape(node.inputs[i]), numpy_math)
                    text, tex = rule_forms(rule, i)
                    at = "" if constant else _at(rule, input_names, list(node.inputs))
                else:
                    local, at = None, ""
                    text, tex = vjp_forms(rule, i)
                form = shapes = ""
                if arrays:
                    form = _matrix_form(rule, i, name, input_names, text, constant, g, node.inputs[i])
                    shapes = (f"∂f/∂{name} {shape_of(g)} → ∂f/∂{input_names[i]} {shape_of(node.inputs[i])}")
                    if local is not None and not constant:
                        local = np.broadcast_to(local, np.shape(g))  # the ⊙ factor, entry by entry
                steps.append(BackwardStep(name, rule.name, input_names[i], i, text, tex,
                                          None if local is None else number(local), number(g), number(product), at,
                                          form, shapes))
                where = f"{name}" + (f" (input {rule.args[i]})" if rule.arity > 1 and i < len(rule.args) else "")
                received.setdefault(id(parent), []).append((where, product))

        targets = self.leaf_tensors()
        with np.errstate(all="ignore"):
            totals = backward([self.root], [np.ones_like(self.root.data)], targets=targets, retain_graph=True,
                              accumulate=False, on_node=on_node, fast=False)
        for leaf, total in zip(targets, totals, strict=True):
            contributions = received.get(id(leaf), [])
            if not contributions:
                continue
            if len(contributions) > 1:
                leaf_name = self.leaf_names.get(id(leaf)) or self.extra_leaves.get(id(leaf), "?")
                steps.append(Accumulation(leaf_name, tuple(contributions), number(total)))
            leaves[id(leaf)] = total
        return steps, leaves

    def leaf_tensors(self) -> list:
        """The leaves that gradients reach, in the order the graph first uses them."""
        seen: dict[int, Any] = {}
        for node in self.nodes:
            for parent in node.parents:
                if parent is not None and not isinstance(parent, Node):
                    seen.setdefault(id(parent), parent)
        return list(seen.values())


# ---------------------------------------------------------------------------------------------------------------
# The public entry point.
# ---------------------------------------------------------------------------------------------------------------
def explain(expr_or_function: str | Callable[..., Any] | Tensor, **point: Any):
    """Explain how the gradient of a scalar expression (or a function of Tensors) comes about, step by step.

    ``f`` is evaluated at ``point`` with chainrule's ops; the result shows the forward pass (v1, v2, ...), the
    backward pass as chain-rule steps (rule, local derivative, upstream gradient, product), the gradient for each
    variable (the engine's) and, with SymPy installed, its simplified symbolic formula from the rule table.

    >>> import chainrule as cr
    >>> e = cr.explain("sigmoid(w*x + b)", w=0.5, x=2.0, b=-1.0)
    >>> e.value, e.gradients
    (0.5, {'w': 0.5, 'x': 0.125, 'b': 0.25})

    A Python function of Tensors works too; its parameters name the variables, which may be arrays. When it uses
    only the functions of the expression grammar, its graph is read back as an expression, so formulas are given for
    it too. When it calls ``nn`` modules, their parameters join the variables (named by ``named_parameters``) and
    ``.layers`` groups the steps by module. ``explain(loss, model=net)`` explains a loss already computed.
    """
    calls: list[tuple[Any, int, int]] = []  # (module, first node number, end) for each module call
    params: dict[str, Tensor] = {}
    if isinstance(expr_or_function, Tensor):
        return _explain_tensor(expr_or_function, **point)
    if isinstance(expr_or_function, str):
        tree = parser.parse(expr_or_function)
        wanted = _ordered(parser.variables(tree), point)
        values = check_point(wanted, point, f"the expression '{parser.to_string(tree)}'")
        leaves = {n: Tensor._make(np.asarray(v), None, True) for n, v in values.items()}
        with np.errstate(all="ignore"), keep_values():  # every step shows its values
            # Constant parts in float64, as the variable parts: 1/0 is inf and (-8)**(1/3) nan, so they meet the
            # same DomainError below instead of Python's ZeroDivisionError or a complex number.
            out = parser.evaluate(tree, leaves, expression_math, number=np.float64)
        text = parser.to_string(tree)
    elif callable(expr_or_function):
        f = expr_or_function
        wanted, defaults = _parameters(f)
        required = tuple(n for n in wanted if n not in defaults or n in point)
        values = check_point(required, point, f"the function {_function_name(f)}({', '.join(wanted)})")
        leaves = {n: Tensor._make(np.asarray(v), None, True) for n, v in values.items()}
        call_observers.append(lambda module, first, end: calls.append((module, first, end)))
        try:
            with np.errstate(all="ignore"), keep_values():
                out = f(**leaves)
        finally:
            call_observers.pop()
        tree = None
        text = None
        params = _module_parameters(calls, leaves)
    else:
        raise TypeError(
            "explain: expected an expression string or a function of Tensors (or a loss Tensor), got "
            f"{type(expr_or_function).__name__}"
        )

    out = _scalar_output(out)
    names = {id(t): n for n, t in {**leaves, **params}.items()}
    why_no_tree = "no symbolic formulas: the function uses operations outside the grammar"
    if tree is None:
        tree = None if params or any(np.ndim(v) for v in values.values()) else graph_to_tree(out, names)
        if params or any(np.ndim(v) for v in values.values()):
            why_no_tree = "no symbolic formulas: the variables are arrays"
        if tree is not None and _too_large(tree):
            # 28 steps of y = sin(y + y) share each y in the graph, but written out it has 2**28 copies of x.
            tree = None
            why_no_tree = (f"no symbolic formulas: written out, the function's expression would have more than "
                           f"{parser.MAX_NODES} nodes or nest deeper than {parser.MAX_DEPTH}; the steps name each "
                           "shared value (v1, v2, ...) instead")
        text = parser.to_string(tree) if tree is not None else f"{_function_name(expr_or_function)}(...)"
    return _finish(out, text, tree, leaves, params, values, why_no_tree, _module_names(calls), calls)


def _finish(out: Tensor, text: str, tree, leaves: dict, params: dict, values: dict, why_no_tree: str,
            module_names: dict, calls: list, owners: dict | None = None):
    """Walk the graph of ``out`` and build the Explanation (shared by functions, expressions and loss Tensors)."""
    value = number(out.data)
    names = {id(t): n for n, t in {**leaves, **params}.items()}
    walk = _Walk(out, names)
    forward = walk.forward_steps()
    every = {**leaves, **params}
    with np.errstate(all="ignore"):
        backward_steps, walked = walk.backward_steps()
        if any(np.ndim(t.data) for t in every.values()):
            # Over arrays, the walk's own totals (the engine's backward loop, observed) are the gradients: a
            # second backward pass would double the cost for a network. The tests hold them to .grad and torch.
            gradients = {n: _zero_if_none(walked.get(id(t)), t) for n, t in every.items()}
        else:
            gradients = _engine_gradients(out, every)
    _check_finite(text, value, forward, gradients, values)
    walked_gradients = {n: _zero_if_none(walked.get(id(t)), t) for n, t in every.items()}
    layers = _layers(walk, backward_steps, module_names, calls, owners or {})

    formulas, note = _formulas(tree, tuple(every), why_no_tree)
    return Explanation(
        expression=text, variables=tuple(every), point=values, value=value,
        steps=[*forward, *backward_steps], gradients=gradients, formulas=formulas, formula_note=note,
        root=out, leaves=every, walked_gradients=walked_gradients, layers=layers,
    )


def _explain_tensor(loss: Tensor, model: Any = None, **unexpected: Any):
    """``explain(loss)``: the recorded graph of a scalar Tensor; leaves named by ``model.named_parameters()``."""
    if unexpected:
        raise TypeError(f"explain(loss) takes only model=..., got {', '.join(map(repr, unexpected))}; the values "
                        "are already in the loss's graph")
    if loss.node is None:
        raise ExpressionError("explain(loss): the Tensor has no recorded graph (it is a leaf or was computed "
                              "without gradients); compute it from Tensors that require grad, outside no_grad()")
    host_leaf: dict[int, Tensor] = {}
    if backends.is_foreign(loss._data):
        loss, host_leaf = _host_copy(loss)
    out = _scalar_output(loss)
    if any(node.output is None for node in reachable_nodes(out)):
        raise ExpressionError("explain(loss): the graph's saved values were released by loss.backward(); explain "
                              "before backward, or call loss.backward(retain_graph=True)")
    named: dict[int, str] = {}
    owners: dict[int, str] = {}  # parameter id -> the name of the module that holds it
    if model is not None:
        if not hasattr(model, "named_parameters") or not hasattr(model, "named_modules"):
            raise TypeError(f"explain(loss, model=...): model must be a cr.nn.Module, got {type(model).__name__}")
        for module_name, module in model.named_modules():
            for p in module._parameters.values():
                if p is not None:
                    owners.setdefault(id(host_leaf.get(id(p), p)), module_name)
        named = {id(host_leaf.get(id(p), p)): n for n, p in model.named_parameters()}
    leaves: dict[str, Tensor] = {}
    for leaf in _Walk(out, {}).leaf_tensors():
        leaves[named.get(id(leaf)) or f"p{len(leaves) + 1}"] = leaf
    module_names = {}
    if model is not None:
        module_names = {id(m): (n or type(model).__name__, type(m).__name__) for n, m in model.named_modules()}
    return _finish(out, "loss", None, {}, leaves, {}, "no symbolic formulas: a loss over arrays",
                   module_names, [], {k: (v, module_names) for k, v in owners.items()})


def _host_copy(loss: Tensor) -> tuple[Tensor, dict[int, Tensor]]:
    """``loss``'s graph with every value copied to the host, for an explanation of another library's tensor: the
    one explicit transfer, made for display (the steps are then computed with NumPy, on the copies). Returns the
    copied loss and, by id of each original leaf, its copy."""

    def host(value):
        return backends.to_numpy(value) if backends.is_foreign(value) else value

    nodes: dict[int, Node] = {}
    leaves: dict[int, Tensor] = {}

    def copied(parent):
        if parent is None or type(parent) is Node:
            return None if parent is None else nodes[id(parent)]
        if id(parent) not in leaves:
            leaves[id(parent)] = Tensor._make(host(parent._data), None, True)
        return leaves[id(parent)]

    for node in reachable_nodes(loss):  # oldest first: each node's parents are copied before it
        if node.output is None:
            break  # released: _explain_tensor's walk says so on the original
        nodes[id(node)] = Node(node.rule, [host(v) for v in node.inputs], host(node.output),
                               [copied(p) for p in node.parents], {k: host(v) for k, v in node.params.items()})
    return Tensor._make(host(loss._data), nodes.get(id(loss.node)), True), leaves


def _module_parameters(calls: list, leaves: dict) -> dict[str, Tensor]:
    """The parameters of the outermost modules the function called, by ``named_parameters`` (not already inputs)."""
    taken = {id(t) for t in leaves.values()}
    found: dict[str, Tensor] = {}
    for module in _outermost(calls):
        for name, p in module.named_parameters():
            if id(p) not in taken and p.requires_grad:
                taken.add(id(p))
                found[name if name not in leaves and name not in found else f"{type(module).__name__}.{name}"] = p
    return found


def _outermost(calls: list) -> list:
    """Modules called directly by the function (not from inside another module), each once."""
    tops, seen = [], set()
    for module, first, end in calls:
        inside = any(f < first and end < e for _, f, e in calls)
        if not inside and id(module) not in seen:
            seen.add(id(module))
            tops.append(module)
    return tops


def _module_names(calls: list) -> dict[int, tuple[str, str]]:
    """id(module) -> (dotted name, class name) for every module below the outermost ones."""
    names: dict[int, tuple[str, str]] = {}
    for module in _outermost(calls):
        for name, sub in module.named_modules():
            names.setdefault(id(sub), (name or type(module).__name__, type(sub).__name__))
    return names


def _layers(walk: _Walk, steps: list, module_names: dict, calls: list, owners: dict) -> list[Layer]:
    """The backward steps grouped by the module that made each node (the innermost call around it), in order."""
    if not module_names:
        return []
    outside = "(outside modules)"

    def module_of(node: Node) -> tuple[str, str]:
        best = None
        for module, first, end in calls:  # the innermost call whose span holds the node
            if first < node.seq < end and (best is None or end - first < best[2] - best[1]):
                best = (module, first, end)
        if best is not None:
            return module_names.get(id(best[0]), (type(best[0]).__name__, type(best[0]).__name__))
        for parent in node.parents:  # a loss given with model=: the module whose parameter the node reads
            if parent is not None and id(parent) in owners:
                name, names = owners[id(parent)]
                return next(v for v in names.values() if v[0] == (name or v[0]))
        return outside, ""

    by_name = {walk.node_names[id(n)]: n for n in walk.nodes}
    module_by_node = {name: module_of(node) for name, node in by_name.items()}
    layers: list[Layer] = []
    group: list = []
    current = None
    for step in steps:
        key = module_by_node.get(step.node if isinstance(step, BackwardStep) else step.name, current)
        if key != current and group:
            layers.append(_layer(current, group, module_by_node))
            group = []
        current = key
        group.append(step)
    if group:
        layers.append(_layer(current, group, module_by_node))
    return layers


def _layer(key: tuple[str, str], steps: list, module_by_node: dict) -> Layer:
    first = next((s for s in steps if isinstance(s, BackwardStep)), None)
    own = {s.node for s in steps if isinstance(s, BackwardStep)}  # this group's nodes: a module called twice, or
    nodes = tuple(n for n, k in module_by_node.items() if k == key and n in own)  # two runs outside, are two groups
    return Layer(key[0], key[1], nodes, None if first is None else first.upstream, tuple(steps))


def _zero_if_none(g: Any, leaf: Tensor) -> Any:
    """A leaf's gradient as shown: a float for a number, an array of the leaf's shape for an array (even (1, 1))."""
    if leaf.ndim == 0:
        return 0.0 if g is None else number(g)
    dtype = leaf.dtype if leaf.dtype.kind in "fc" else np.float64  # as backward leaves it in .grad
    return np.zeros(leaf.shape, dtype) if g is None else np.asarray(g, dtype=dtype).reshape(leaf.shape)


def _function_name(f: Callable) -> str:
    return getattr(f, "__name__", type(f).__name__)


def _parameters(f: Callable) -> tuple[tuple[str, ...], dict[str, Any]]:
    try:
        signature = inspect.signature(f)
    except (TypeError, ValueError):
        raise TypeError(f"explain: cannot read the parameters of {_function_name(f)!r}") from None
    names, defaults = [], {}
    for p in signature.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(
                f"explain: {_function_name(f)} takes *{p.name}; give it named parameters, one per variable"
            )
        if p.kind == p.POSITIONAL_ONLY:
            raise TypeError(f"explain: parameter '{p.name}' of {_function_name(f)} is positional-only")
        names.append(p.name)
        if p.default is not p.empty:
            defaults[p.name] = p.default
    return tuple(names), defaults


def _scalar_output(out: Any) -> Tensor:
    if isinstance(out, numbers.Real | np.ndarray | np.generic) and not isinstance(out, Tensor):
        out = Tensor(out)
    if not isinstance(out, Tensor):
        raise TypeError(f"explain: the function must return a Tensor or a number, not {type(out).__name__}")
    if out.size != 1:
        raise ExpressionError(
            f"explain needs a scalar result, but the function returned shape {out.shape}; reduce it, e.g. .sum()"
        )
    if out.ndim:
        out = out.reshape(())
    return out


def _engine_gradients(out: Tensor, leaves: dict[str, Tensor]) -> dict[str, Any]:
    """∂f/∂variable from the engine's own backward pass over the same graph (kept for the explanation).

    A float for a number, an array (the variable's shape) for an array: 0 where no path reaches the variable.
    """
    if not out.requires_grad:
        return {n: _zero_if_none(None, t) for n, t in leaves.items()}
    targets = list(leaves.values())
    grads = backward([out], [np.ones_like(out.data)], targets=targets, retain_graph=True, accumulate=False)
    return {n: _zero_if_none(g, t) for (n, t), g in zip(leaves.items(), grads, strict=True)}


def _check_finite(text: str, value: float, forward: list[ForwardStep], gradients: dict, point: dict) -> None:
    at = ", ".join(f"{n} = {fmt(v)}" for n, v in point.items()) or "this point"
    if not np.all(np.isfinite(value)):
        culprit = next((s for s in forward if not np.all(np.isfinite(s.value))), None)
        where = f": {culprit.name} = {culprit.expression} is {fmt(culprit.value)}" if culprit else ""
        if np.any(np.isnan(value)):
            why = "the point is outside the function's domain (e.g. log or sqrt of a negative number, arcsin beyond ±1)"
        else:
            why = "the value overflows float64 (or a pole is hit, e.g. 1/0 or log 0); try a point of smaller magnitude"
        raise DomainError(f"'{text}' is {fmt(value)} at {at}{where}; {why}")
    bad = [n for n, g in gradients.items() if np.any(np.isnan(g))]
    if bad:
        raise DomainError(
            f"the derivative of '{text}' with respect to {', '.join(bad)} is undefined (nan) at {at}; "
            "the point is at the edge of the function's domain"
        )


def _too_large(tree: parser.Expr) -> bool:
    """Whether the tree, with its shared subtrees written out, passes the parser's limits of size or depth."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    for node in parser._postorder(tree):  # each shared node once, children first: no recursion, no expansion
        children = parser._children(node)
        size[id(node)] = 1 + sum(size[id(c)] for c in children)
        depth[id(node)] = max((depth[id(c)] + (0 if _same_chain(node, c) else 1) for c in children), default=1)
        if size[id(node)] > parser.MAX_NODES or depth[id(node)] > parser.MAX_DEPTH:
            return True
    return False


def _same_chain(node: parser.Expr, child: parser.Expr) -> bool:
    """A flat sum (or product) nests no deeper for each term, as the parser counts depth."""
    families = ({"+", "-"}, {"*", "/"})
    return (isinstance(node, parser.Binary) and isinstance(child, parser.Binary) and child is node.left
            and any(node.op in family and child.op in family for family in families))


def _formulas(tree: parser.Expr | None, names: tuple[str, ...],
              why_no_tree: str = "no symbolic formulas") -> tuple[dict[str, Any], str]:
    """Symbolic ∂f/∂name for each variable (None each, with a note, when SymPy or a tree is missing)."""
    if tree is None:
        return {n: None for n in names}, why_no_tree
    try:
        from ..symbolic import formulas
    except ImportError:  # MissingDependencyError: SymPy is not installed
        return {n: None for n in names}, SYMBOLIC_HINT
    found, finished = formulas.derivatives(tree, names, max_chars=MAX_FORMULA_CHARS)
    if found is None:
        return {n: None for n in names}, (
            f"no symbolic formulas: SymPy ran past its budget ({formulas.budget.SECONDS:g} s) before the chain "
            "rule's formula was ready; the numbers above are complete")
    found = {n: None if f is None else _reciprocal_trig(f) for n, f in found.items()}
    notes = []
    if not finished:
        notes.append(f"formulas not fully simplified: SymPy ran past its budget ({formulas.budget.SECONDS:g} s)")
    long = [n for n in names if found.get(n) is None]
    if long:
        notes.append(f"no formula for {', '.join(long)}: longer than {MAX_FORMULA_CHARS} characters")
    return found, "; ".join(notes)


def _reciprocal_trig(formula: Any) -> Any:
    """Where the formula already uses csc, sec or cot, write 1/tan as cot (and 1/sin, 1/cos as csc, sec).

    SymPy's simplification turns the rule −csc·cot into −csc/tan; a learner who wrote csc(x) reads the rule back.
    """
    import sympy

    if not formula.has(sympy.csc, sympy.sec, sympy.cot):
        return formula
    reciprocals = {sympy.tan: sympy.cot, sympy.sin: sympy.csc, sympy.cos: sympy.sec}

    def is_reciprocal(e: Any) -> bool:
        return e.is_Pow and e.exp.is_negative and e.exp.is_integer and e.base.func in reciprocals

    return formula.replace(is_reciprocal, lambda e: reciprocals[e.base.func](*e.base.args) ** (-e.exp))


#: Longest symbolic formula an explanation shows.
MAX_FORMULA_CHARS = 2000
