"""The chain rule at one node, written once: every consumer of the rule table interprets an entry here.

``chain_rule`` turns a node's upstream gradient into its inputs' gradients; ``tangent_rule`` turns its inputs'
tangents into its output's tangent; ``local_derivative`` is an elementwise rule's ∂y/∂x_i. The math namespace ``m``
is a parameter: NumPy arrays (first-order backward), differentiable Tensors (create_graph, higher order), batches of
cotangents (jacobian), SymPy symbols (formulas). Conventions as in the rule table: ``x`` inputs, ``y`` the output,
``g`` the upstream gradient, ``t`` a tangent.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..errors import GraphError, NoDerivativeError
from ..rules import numpy_math
from ..rules.registry import ELEMENTWISE, LINEAR, MINUS_ONE, MULTILINEAR, NO_GRAD, ONE
from .node import Node, NotSaved


# ---------------------------------------------------------------------------------------------------------------
# One node's chain rule: upstream gradient -> a gradient for each input; input tangents -> the output's tangent.
# Every consumer calls these two (backward on arrays, on Tensors for create_graph, on batches for jacobian,
# forward mode, explanations, drawings, symbolic formulas through ``local_derivative``).
# ---------------------------------------------------------------------------------------------------------------
def unbroadcast(g, shape: tuple[int, ...], m):
    """Sum ``g`` over the axes that broadcasting added or stretched, giving an array of ``shape``."""
    g_shape = _shape(g)
    if g_shape[1:] == shape and len(g_shape) == len(shape) + 1:  # the common case: a bias summed over the batch
        return m.sum(g, axis=0)
    extra = len(g_shape) - len(shape)
    axes = tuple(range(extra)) + tuple(i + extra for i, n in enumerate(shape) if n == 1 and g_shape[i + extra] != 1)
    if axes:
        g = m.sum(g, axis=axes, keepdims=False)
    if _shape(g) != shape:
        g = m.reshape(g, shape)
    return g


def local_derivative(rule, i: int, xs, y, m, params: dict):
    """An elementwise rule's local derivative ∂y/∂x_i: the rule's function at (xs, y) in namespace ``m``, or the
    number its marker stands for (1 for ONE, -1 for MINUS_ONE, 0 for NO_GRAD)."""
    local = rule.derivatives[i]
    if local is ONE:
        return 1
    if local is MINUS_ONE:
        return -1
    if local is NO_GRAD:
        return 0
    return local(*xs, y, m, **params)


def _shape(x) -> tuple[int, ...]:
    return x.shape if type(x) is np.ndarray else np.shape(x)


def chain_rule(node: Node, g, m, xs=None, y=None) -> list:
    """The chain rule at one node: for each input, ``upstream × local derivative`` (None where no gradient flows).

    ``m`` is the math namespace the rule computes in: ``numpy_math`` on arrays; the differentiable Tensor namespace
    for ``create_graph``, with ``xs`` and ``y`` the node's values as Tensors connected to the graph; a batching
    namespace (``m.batched``) for many cotangents at once. ``xs`` and ``y`` default to the node's saved arrays.
    Each gradient has its input's shape: broadcasting, by inputs or by parameters (clip's bounds), is undone here.
    An input that appears twice (``x * x``) gets one gradient, upstream × the sum of its local derivatives, in the
    first of its places (None in the second): the same numbers as the fast loop, which saves a product that way.
    """
    rule = node.rule
    if xs is None:
        if node.output is None:
            raise _released(node)
        xs, y = node.inputs, node.output
    params, parents = node.params, node.parents
    if rule.kind == ELEMENTWISE:
        grads = [None] * len(parents)
        if len(parents) == 2 and parents[0] is parents[1] and parents[0] is not None:
            local = (local_derivative(rule, 0, xs, y, m, params) + local_derivative(rule, 1, xs, y, m, params))
            grads[0] = _unbroadcast_to(g * local, xs[0], m)
            return grads
        for i, parent in enumerate(parents):
            if parent is None or rule.derivatives[i] is NO_GRAD:
                continue
            local = rule.derivatives[i]
            gi = g if local is ONE else -g if local is MINUS_ONE else g * local(*xs, y, m, **params)
            grads[i] = _unbroadcast_to(gi, xs[i], m)
        return grads
    if m is not numpy_math and getattr(m, "batched", False) and not (rule.batchable and m.batches_rules):
        return _rowwise(node, g, m, xs, y)
    grads = []
    if rule.arity < 0:  # variadic: one vjp, told which input
        vjp = rule.vjps[0]
        for i, (parent, x) in enumerate(zip(parents, xs, strict=True)):
            gi = None if parent is None or vjp is NO_GRAD else vjp(i, g, xs, y, m, **params)
            grads.append(None if gi is None else _unbroadcast_to(gi, x, m))
        return grads
    for vjp, parent, x in zip(rule.vjps, parents, xs, strict=True):
        gi = None if parent is None or vjp is NO_GRAD else vjp(g, *xs, y, m, **params)
        grads.append(None if gi is None else _unbroadcast_to(gi, x, m))
    return grads


def _unbroadcast_to(gi, x, m):
    if type(gi) is np.ndarray and type(x) is np.ndarray:  # the common case, without _is_complex's lookups
        if gi.dtype.kind == "c" and x.dtype.kind != "c":
            gi = m.real(gi)
        return gi if gi.shape == x.shape else unbroadcast(gi, x.shape, m)
    shape = _shape(x)
    if _is_complex(gi) and not _is_complex(x):
        gi = m.real(gi)  # a real input receives the real part of a complex gradient (as in autograd and JAX)
    return gi if _shape(gi) == shape else unbroadcast(gi, shape, m)


def _is_complex(x) -> bool:
    """Whether ``x`` (an array, NumPy scalar, Tensor, NotSaved, Batched or Python number) holds complex numbers."""
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return type(x) is complex
    kind = getattr(dtype, "kind", None)  # another array library's dtype has no kind: read its name
    return kind == "c" if kind is not None else "complex" in str(dtype)


def _rowwise(node: Node, g, m, xs, y) -> list:
    """A batch of cotangents through a rule whose vjps take one at a time: row by row, then stacked."""
    rows = [chain_rule(node, row, m.unbatched, xs, y) for row in m.rows(g)]
    return [None if rows[0][i] is None else m.stack_rows([r[i] for r in rows]) for i in range(len(rows[0]))]


def tangent_rule(node: Node, ts: list, m, xs=None, y=None):
    """Forward mode at one node: the output's tangent from the inputs' tangents ``ts`` (None means zero).

    Elementwise rules: ``Σ t_i × local_i``; linear rules: the op applied to the tangents; multilinear rules (matmul):
    the op with one input replaced by its tangent at a time, summed; general rules: their ``jvp``. ``node`` needs
    only ``rule`` and ``params`` when ``xs`` and ``y`` are given (symbolic formulas pass a ``RuleApplication``).
    """
    rule, params = node.rule, node.params
    if xs is None:
        if node.output is None:
            raise _released(node)
        xs, y = node.inputs, node.output
    if rule.kind == ELEMENTWISE:
        out = None
        for i, t in enumerate(ts):
            local = rule.derivatives[i]
            if t is None or local is NO_GRAD:
                continue
            term = t if local is ONE else -t if local is MINUS_ONE else t * local(*xs, y, m, **params)
            out = term if out is None else out + term
        if out is None:
            return None
        if _is_complex(out) and not _is_complex(y):
            out = m.real(out)  # a real-valued function of complex input (abs, angle): df = Re(t · local)
        return out if np.shape(out) == np.shape(y) else m.broadcast_to(out, np.shape(y))
    if rule.kind == LINEAR:
        filled = [t if t is not None else _zero_tangent(x, m) for t, x in zip(ts, xs, strict=True)]
        return m.apply_rule(rule, filled, params)
    if rule.kind == MULTILINEAR:
        out = None
        for i, t in enumerate(ts):
            if t is not None:
                args = list(xs)
                args[i] = t
                term = m.apply_rule(rule, args, params)
                out = term if out is None else out + term
        return out
    if rule.jvp is None:
        raise NoDerivativeError(f"no forward-mode rule for '{rule.name}'; add a jvp to its entry in the rule table")
    filled = [t if t is not None else _zero_tangent(x, m) for t, x in zip(ts, xs, strict=True)]
    return rule.jvp(filled, *xs, y, m, **params)


class RuleApplication(NamedTuple):
    """A rule applied with parameters, outside any graph: what ``tangent_rule`` reads of a node."""

    rule: Any
    params: dict


def _zero_tangent(x, m):
    """A zero tangent shaped like input ``x``, which may be a NotSaved (or a Tensor holding one)."""
    value = getattr(x, "data", x)
    if type(value) is NotSaved:
        return np.zeros(value.shape, value.dtype)
    return m.zeros_like(x)


def _released(node: Node) -> GraphError:
    return GraphError(
        f"cannot backpropagate through '{node.rule.name}' again: its saved values were released by an earlier "
        "backward(); call the first backward(retain_graph=True) to backpropagate twice"
    )
