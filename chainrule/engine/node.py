"""The recorded graph: a ``Node`` per application of a rule, and ``NotSaved`` for values a rule never reads.

A Tensor produced by an op points at a ``Node``; the node points at its inputs' nodes (or, for leaves, at the leaf
Tensors themselves) and holds the arrays its rule needs. Nothing points back from a node to its output Tensor, so
the graph has no reference cycles and is freed by reference counting as soon as nothing uses it.

Nodes carry increasing sequence numbers: an op's output is always newer than its inputs, so visiting nodes from the
newest down is a topological order, found without recursion, however deep the graph.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import GraphError
from .versions import node_sequence


class Node:
    """One recorded application of a rule: its inputs' values, its output value, and where its inputs came from.

    ``parents[i]`` is the Node that produced input ``i``, the leaf Tensor itself, or None when no gradient flows
    there (a constant). ``inputs`` and ``output`` are released (``release()``; ``inputs`` then reads None) by
    backward unless retain_graph.

    Storage: a rule of one or two inputs keeps them in ``x0``, ``x1`` and their parents in ``p0``, ``p1``; any other
    rule keeps the tuple of inputs in ``x0`` and of parents in ``p0``. Scalar graphs are mostly one- and two-input
    nodes, and two tuples fewer per node is a quarter less to allocate and for Python's garbage collector to scan.
    ``inputs`` and ``parents`` give tuples either way.
    """

    # _hooks (unset unless a hook is registered on the node's tensor: see hooks.py) and __weakref__ cost nothing
    # per op: ops set the other fields directly and never touch these.
    __slots__ = ("__weakref__", "_hooks", "output", "p0", "p1", "params", "rule", "seq", "x0", "x1")

    def __init__(self, rule, inputs, output, parents, params) -> None:
        self.rule = rule
        self.output = output
        self.params = params
        self.seq = next(node_sequence)
        if rule.arity == 1:
            (self.x0,), (self.p0,) = inputs, parents
        elif rule.arity == 2:
            (self.x0, self.x1), (self.p0, self.p1) = inputs, parents
        else:
            self.x0, self.p0 = tuple(inputs), tuple(parents)

    @property
    def inputs(self) -> tuple | None:
        """The input values the node kept (NotSaved where its rule does not read them); None once released."""
        if self.output is None:
            return None
        arity = self.rule.arity
        return (self.x0,) if arity == 1 else (self.x0, self.x1) if arity == 2 else self.x0

    @property
    def parents(self) -> tuple:
        arity = self.rule.arity
        return (self.p0,) if arity == 1 else (self.p0, self.p1) if arity == 2 else self.p0

    def release(self) -> None:
        """Drop the saved values (backward does this unless retain_graph); the graph's structure stays."""
        self.output = self.x0 = self.x1 = None

    def __repr__(self) -> str:
        return f"<Node {self.rule.name} #{self.seq}>"


class NotSaved:
    """What a node keeps instead of a large array that its rule's derivatives never read: its shape and dtype.

    The rule table says which values each rule reads (``Rule.saves_input``, ``Rule.saves_output``), so a graph holds
    only those, as PyTorch's saved tensors do: ``sum(exp(-x * x))`` keeps exp's output, not ``x * x`` or its
    negation. Reading a NotSaved's values fails loudly, never with wrong numbers.
    """

    __slots__ = ("dtype", "shape")
    __array_ufunc__ = None  # NumPy's operators give way, so arithmetic on it raises

    def __init__(self, array: np.ndarray) -> None:
        self.shape, self.dtype = array.shape, array.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def __array__(self, *args, **kwargs):
        raise GraphError(f"{self!r}: the graph kept only this value's shape and dtype, because its rule's "
                         "derivatives do not read it; record with cr.keep_values() to keep every value")

    def __repr__(self) -> str:
        return f"<not saved: {self.dtype} array of shape {self.shape}>"


def _refuse(self, *args):
    self.__array__()


for _name in ("add", "sub", "mul", "truediv", "pow", "matmul"):
    setattr(NotSaved, f"__{_name}__", _refuse)
    setattr(NotSaved, f"__r{_name}__", _refuse)
NotSaved.__neg__ = NotSaved.__getitem__ = NotSaved.__float__ = _refuse  # type: ignore[method-assign,assignment]


def reachable_nodes(root: Any) -> list[Node]:
    """Every node the root depends on, oldest first (a topological order), found without recursion."""
    if root.node is None:
        return []
    seen = {id(root.node): root.node}
    stack = [root.node]
    while stack:
        for parent in stack.pop().parents:
            if type(parent) is Node and id(parent) not in seen:
                seen[id(parent)] = parent
                stack.append(parent)
    return sorted(seen.values(), key=lambda n: n.seq)
