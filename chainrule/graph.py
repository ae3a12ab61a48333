"""The computation graph and the chain rule over it: backward (reverse mode) and forward mode.

A Tensor produced by an op points at a ``Node``; the node points at its inputs' nodes (or, for leaves, at the leaf
Tensors themselves) and holds the arrays its rule needs. Nothing points back from a node to its output Tensor, so
the graph has no reference cycles and is freed by reference counting as soon as nothing uses it.

Nodes carry increasing sequence numbers: an op's output is always newer than its inputs, so visiting nodes from the
newest down is a topological order, found without recursion (a heap), however deep the graph.

This module knows no particular derivative: it reads each node's rule from the rule table.
"""

from __future__ import annotations

import heapq
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import GraphError, NoDerivativeError
from .rules import numpy_math
from .rules.registry import ELEMENTWISE, LINEAR, MINUS_ONE, MULTILINEAR, NO_GRAD, ONE
from .versions import LAST_WRITE, node_sequence
from .versions import check as check_versions

if TYPE_CHECKING:
    from .tensor import Tensor


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

    __slots__ = ("output", "p0", "p1", "params", "rule", "seq", "x0", "x1")

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


# ---------------------------------------------------------------------------------------------------------------
# Grad mode.
# ---------------------------------------------------------------------------------------------------------------
class _GradMode:
    enabled = True
    # Arrays with fewer elements than this are kept whether their rule reads them or not (a NotSaved would save
    # little); ``keep_values`` raises it to infinity for code that shows every value (explanations).
    keep_below: float = 4096


grad_mode = _GradMode()


@contextmanager
def keep_values() -> Iterator[None]:
    """Inside this block, nodes keep every input and output value, read by their rules or not (for display)."""
    previous = grad_mode.keep_below
    grad_mode.keep_below = float("inf")
    try:
        yield
    finally:
        grad_mode.keep_below = previous


def is_grad_enabled() -> bool:
    """Whether ops record the graph (False inside ``no_grad``)."""
    return grad_mode.enabled


@contextmanager
def set_grad_enabled(enabled: bool) -> Iterator[None]:
    """Turn graph recording on or off inside a ``with`` block."""
    previous = grad_mode.enabled
    grad_mode.enabled = enabled
    try:
        yield
    finally:
        grad_mode.enabled = previous


def no_grad():
    """``with cr.no_grad(): ...`` computes values without recording a graph (e.g. for evaluation or updates)."""
    return set_grad_enabled(False)


# ---------------------------------------------------------------------------------------------------------------
# One node's chain rule: upstream gradient -> a gradient for each input.
# ---------------------------------------------------------------------------------------------------------------
def unbroadcast(g, shape: tuple[int, ...], m):
    """Sum ``g`` over the axes that broadcasting added or stretched, giving an array of ``shape``."""
    g_shape = np.shape(g)
    if g_shape[1:] == shape and len(g_shape) == len(shape) + 1:  # the common case: a bias summed over the batch
        return m.sum(g, axis=0)
    extra = len(g_shape) - len(shape)
    axes = tuple(range(extra)) + tuple(i + extra for i, n in enumerate(shape) if n == 1 and g_shape[i + extra] != 1)
    if axes:
        g = m.sum(g, axis=axes, keepdims=False)
    if np.shape(g) != shape:
        g = m.reshape(g, shape)
    return g


def local_gradients(node: Node, g, m, xs=None, y=None) -> list:
    """The chain rule at one node: for each input, its gradient (``None`` where no gradient is needed).

    With ``m = numpy_math`` this works on arrays; with ``m = ops.tensor_math`` on Tensors, building a graph of the
    backward pass itself (``create_graph``). ``xs`` and ``y`` default to the node's saved arrays.
    """
    rule = node.rule
    if xs is None:
        if node.output is None:
            raise _released(node)
        if LAST_WRITE[0] > node.seq:  # something was changed in place after the node was made
            check_versions(node)
        xs, y = node.inputs, node.output
    params = node.params
    grads = []
    for i, parent in enumerate(node.parents):
        if parent is None:
            grads.append(None)
            continue
        if rule.kind == ELEMENTWISE:
            local = rule.derivatives[i]
            if local is ONE:
                gi = g
            elif local is MINUS_ONE:
                gi = -g
            elif local is NO_GRAD:
                gi = None
            else:
                gi = g * local(*xs, y, m, **params)
        else:
            vjp = rule.vjps[0] if rule.arity < 0 else rule.vjps[i]
            if vjp is NO_GRAD:
                gi = None
            elif rule.arity < 0:
                gi = vjp(i, g, xs, y, m, **params)
            else:
                gi = vjp(g, *xs, y, m, **params)
        if gi is not None:
            x = xs[i]
            shape = x.shape if type(x) is np.ndarray else np.shape(x)
            if (gi.shape if type(gi) is np.ndarray else np.shape(gi)) != shape:
                gi = unbroadcast(gi, shape, m)
        grads.append(gi)
    return grads


def _released(node: Node) -> GraphError:
    return GraphError(
        f"cannot backpropagate through '{node.rule.name}' again: its saved values were released by an earlier "
        "backward(); call the first backward(retain_graph=True) to backpropagate twice"
    )


# ---------------------------------------------------------------------------------------------------------------
# Reverse mode over a whole graph.
# ---------------------------------------------------------------------------------------------------------------
def _differentiable_inputs(node: Node, wrap: Callable[..., Tensor]) -> list:
    """The node's inputs as Tensors connected to the graph (for create_graph), or constants.

    ``wrap(parent, value)`` stands for the parent's output with the value this node kept (a NotSaved when the rule
    does not read it).
    """
    xs = []
    for value, parent in zip(node.inputs, node.parents, strict=True):
        if parent is None:
            xs.append(value)
        elif isinstance(parent, Node):
            xs.append(wrap(parent, value))
        else:
            xs.append(parent)  # a leaf Tensor
    return xs


def backward(
    roots: Sequence[Tensor],
    seeds: Sequence[Any],
    *,
    targets: Sequence[Any] = (),
    retain_graph: bool = False,
    create_graph: bool = False,
    accumulate: bool = True,
    batched: bool = False,
) -> list:
    """Backpropagate ``seeds`` (upstream gradients of ``roots``) through the graph.

    With ``accumulate`` the gradients of leaf Tensors are added to their ``.grad``. ``targets`` (leaf Tensors or
    Nodes) have their gradients returned instead, in order (None where no gradient reaches them); backpropagation
    stops at a target node. Nodes are visited newest first, so each is reached after every node that uses it.
    With ``batched`` the seeds are ``batching.Batched`` stacks of cotangents, all carried back in one pass.
    """
    pending: dict[Any, Any] = {}  # Node or leaf Tensor -> gradient so far
    heap: list[tuple[int, Node]] = []  # (-seq, node): the newest node on top, compared as ints in C
    for root, seed in zip(roots, seeds, strict=True):
        key = root.node if root.node is not None else root
        if root.node is None and type(seed) is np.ndarray:
            seed = seed.copy()  # a leaf keeps this as .grad: never the caller's own array
        if key in pending:
            pending[key] = pending[key] + seed
        else:
            pending[key] = seed
            if root.node is not None:
                heap.append((-root.node.seq, root.node))
    heapq.heapify(heap)
    stop_at = {id(t): t for t in targets if type(t) is Node}

    if create_graph:
        with set_grad_enabled(True):
            found = _backward_differentiable(heap, pending, stop_at, retain_graph)
    else:
        if batched:
            from . import batching

            found = _backward_arrays(heap, pending, stop_at, retain_graph, batching)
        else:
            found = _backward_arrays(heap, pending, stop_at, retain_graph, numpy_math)

    results = [found.get(id(t)) if type(t) is Node else pending.pop(t, None) for t in targets]
    if accumulate:
        for leaf, gi in pending.items():
            if type(leaf) is not Node:
                leaf._accumulate_grad(gi)
    return results


def _backward_arrays(heap: list, pending: dict, stop_at: dict, retain_graph: bool, m) -> dict:
    """First-order backward on NumPy arrays: the hot loop, kept lean (one rule call per input, no wrappers).

    Along a chain it skips the heap: when an elementwise node's first newly reached parent is newer than every node
    waiting in the heap, that parent is next in the order anyway and its gradient is complete (every node that
    uses it is newer, so done), and it is processed at once.
    """
    found = {}
    heappop, heappush = heapq.heappop, heapq.heappush
    last_write = LAST_WRITE[0]  # rules write no arrays in place, so it holds for the whole pass
    node = None
    while node is not None or heap:
        if node is None:
            node = heappop(heap)[1]
            g = pending.pop(node)
        if stop_at and id(node) in stop_at:
            found[id(node)] = g
            node = None
            continue
        follow = None  # a newly reached parent to process next, if nothing in the heap is newer
        rule = node.rule
        y = node.output
        if y is None:
            raise _released(node)
        if last_write > node.seq:  # something was changed in place after the node was made
            check_versions(node)
        if rule.kind is ELEMENTWISE:
            params, derivatives, arity = node.params, rule.derivatives, rule.arity
            if arity == 1:  # one input, recorded because it needs a gradient; g and local have its shape
                local, parent = derivatives[0], node.p0
                if local is ONE:
                    gi = g
                elif local is MINUS_ONE:
                    gi = -g
                else:
                    value = local(node.x0, y, m, **params) if params else local(node.x0, y, m)
                    gi = g * value if type(value) is not np.ndarray else _times_upstream(g, value, parent)
                if type(parent) is Node and parent not in pending:
                    pending[parent] = gi
                    follow = parent
                else:
                    _accumulate(pending, heap, heappush, parent, gi, g)
                parents = ()
            elif arity == 2:
                xs, parents = (node.x0, node.x1), (node.p0, node.p1)
            else:
                xs, parents = node.inputs, node.parents
            if len(parents) == 2 and parents[0] is parents[1] and parents[0] is not None:
                # x * x, x + x...: add the two local derivatives first, multiply by g once (2x, not g·x + g·x).
                value = _local_value(derivatives[0], xs, y, m, params) + _local_value(derivatives[1], xs, y, m, params)
                gi = _times_upstream(g, value, parents[0])
                if gi.shape != xs[0].shape:
                    gi = unbroadcast(gi, xs[0].shape, m)
                _accumulate(pending, heap, heappush, parents[0], gi, g)
                parents = ()
            i = -1
            for parent in parents:
                i += 1
                if parent is None:
                    continue
                local = derivatives[i]
                if local is ONE:
                    gi = g
                elif local is MINUS_ONE:
                    gi = -g
                else:
                    value = local(*xs, y, m, **params) if params else local(*xs, y, m)
                    gi = g * value if type(value) is not np.ndarray else _times_upstream(g, value, parent)
                if (type(gi) is np.ndarray or m is not numpy_math) and gi.shape != xs[i].shape:  # a NumPy scalar
                    gi = unbroadcast(gi, xs[i].shape, m)  # came from 0-d values only: no broadcasting to undo
                if type(parent) is Node and parent not in pending:  # the common case, inlined
                    pending[parent] = gi
                    if follow is None:
                        follow = parent
                    else:
                        heappush(heap, (-parent.seq, parent))
                else:
                    _accumulate(pending, heap, heappush, parent, gi, g)
        else:
            if m is numpy_math or rule.batchable:
                grads = local_gradients(node, g, m)
            else:
                grads = _rowwise_gradients(node, g)
            for parent, gi in zip(node.parents, grads):  # noqa: B905 - same length
                if gi is not None:
                    _accumulate(pending, heap, heappush, parent, gi, g)
        if not retain_graph:
            node.release()
        if follow is None:
            node = None
        elif heap and -heap[0][0] > follow.seq:  # a newer node waits: follow takes its turn
            heappush(heap, (-follow.seq, follow))
            node = None
        else:
            node, g = follow, pending.pop(follow)
    return found


def _local_value(local, xs, y, m, params):
    """An elementwise rule's local derivative for one input: a number for ONE / MINUS_ONE, else the rule's value."""
    if local is ONE:
        return 1
    if local is MINUS_ONE:
        return -1
    return local(*xs, y, m, **params)


def _times_upstream(g, local, parent):
    """g · local, without allocating when it can: just ``local`` when g is a broadcast one (the gradient a ``sum``
    hands down: 1 · local = local exactly) and the gradient goes to a node, and into local's own memory when it is
    a fresh array no one else holds. The caller names ``local`` once.

    A leaf keeps its gradient as ``.grad``, so it never receives ``local`` itself (a node's or the user's array).
    """
    if type(local) is np.ndarray and local.size >= _IN_PLACE:
        if type(parent) is Node and _is_unit(g, local):
            return local
        if _is_temporary(local, g):
            return np.multiply(g, local, out=local)
    return g * local


def _rowwise_gradients(node: Node, g) -> list:
    """A batch of cotangents through a rule whose vjps take one at a time: row by row, then stacked."""
    from .batching import Batched

    rows = [local_gradients(node, row, numpy_math) for row in g.value]
    return [None if rows[0][i] is None else Batched(np.stack([r[i] for r in rows])) for i in range(len(rows[0]))]


def _accumulate(pending: dict, heap: list, heappush, parent, gi, g) -> None:
    """Add ``gi`` to the gradient pending for ``parent``; a node seen for the first time joins the heap."""
    previous = pending.get(parent)
    if previous is not None:
        if type(previous) is np.ndarray and previous.size >= _IN_PLACE and _is_private_sum(previous, gi):
            previous += gi  # only this dict holds it: add in place rather than allocate a new array
        else:
            pending[parent] = previous + gi
    elif type(parent) is Node:
        pending[parent] = gi
        heappush(heap, (-parent.seq, parent))
    else:
        # A leaf may keep this array as .grad: copy it if it could alias another node's array.
        if gi is g or (type(gi) is np.ndarray and not gi.flags.owndata and not _sole_view(gi, g)):
            gi = gi.copy()
        pending[parent] = gi


# Arrays at least this large are worth the reference-count checks below (they save an allocation and a copy).
_IN_PLACE = 4096


def _is_unit(g, local: np.ndarray) -> bool:
    """Whether ``g`` is a broadcast 1 of local's shape and dtype (then g · local is local, bit for bit)."""
    return (type(g) is np.ndarray and g.shape == local.shape and g.dtype == local.dtype and not any(g.strides)
            and g.flat[0] == 1)


def _is_temporary(local: np.ndarray, g) -> bool:
    """Whether ``local`` is a fresh array nothing else refers to (so g * local may overwrite it).

    Four references are known: the backward loop's name for it, ``_times_upstream``'s parameter, this function's,
    and getrefcount's argument. A rule that returns one of its inputs or its output (exp' = y) returns an array the
    node still holds, so it never qualifies.
    """
    return (type(g) is np.ndarray and local.shape == g.shape and local.dtype == g.dtype and local.flags.owndata
            and sys.getrefcount(local) <= 4)


def _is_private_sum(previous: np.ndarray, gi) -> bool:
    """Whether the pending sum ``previous`` may be updated in place: nothing but the pending dict refers to it
    (three references: the dict, the caller's name, getrefcount's argument) and ``gi`` fits its shape and dtype."""
    return (previous.flags.writeable and previous.flags.owndata and type(gi) is np.ndarray
            and gi.shape == previous.shape and gi.dtype == previous.dtype and sys.getrefcount(previous) <= 4)


def _sole_view(gi: np.ndarray, g) -> bool:
    """Whether ``gi`` is a writeable view of a base that nothing else refers to (e.g. the transpose of a fresh
    matmul result), so a leaf may keep it without a copy, as PyTorch's AccumulateGrad steals a buffer.

    Known references to the base: the view's own, ``base`` here and getrefcount's argument; when the base is the
    node's upstream gradient ``g``, also the three names for g (the backward loop's, ``_accumulate``'s and this
    function's); when g is another view of the same base that only those names hold (a transpose of a transpose,
    as in ``x @ W.T``), g's own reference. Any more: someone else has it.
    """
    base = gi.base
    if not gi.flags.writeable or type(base) is not np.ndarray or not base.flags.owndata:
        return False
    if base is g:
        known = 6
    elif type(g) is np.ndarray and g.base is base and sys.getrefcount(g) <= 4:
        known = 4
    else:
        known = 3
    return sys.getrefcount(base) <= known


def _backward_differentiable(heap: list, pending: dict, stop_at: dict, retain_graph: bool) -> dict:
    """Backward that records its own graph (create_graph): rules run on Tensors through ``ops.tensor_math``."""
    from .ops import tensor_math  # the differentiable namespace; imported here to avoid an import cycle
    from .tensor import Tensor

    wrap = Tensor._from_node
    found = {}
    while heap:
        node = heapq.heappop(heap)[1]
        g = pending.pop(node)
        if stop_at and id(node) in stop_at:
            found[id(node)] = g
            continue
        if node.output is None:
            raise _released(node)
        if LAST_WRITE[0] > node.seq:  # something was changed in place after the node was made
            check_versions(node)
        grads = local_gradients(node, g, tensor_math, _differentiable_inputs(node, wrap), wrap(node))
        if not retain_graph:
            node.release()
        for parent, gi in zip(node.parents, grads, strict=True):
            if gi is None:
                continue
            previous = pending.get(parent)
            if previous is None:
                pending[parent] = gi
                if type(parent) is Node:
                    heapq.heappush(heap, (-parent.seq, parent))
            else:
                pending[parent] = previous + gi
    return found


# ---------------------------------------------------------------------------------------------------------------
# Forward mode over a recorded graph.
# ---------------------------------------------------------------------------------------------------------------
def reachable_nodes(root: Tensor) -> list[Node]:
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


def forward_tangents(root: Tensor, tangents: dict[Any, Any], m, wrap=None) -> Any:
    """Push tangents (a dict from leaf Tensor to tangent) through the graph: the output's tangent, or None.

    Each node's output tangent comes from its rule: for elementwise rules ``sum_i t_i * local_i``; for linear
    rules the op applied to the tangents; for matmul the op with one input replaced by its tangent at a time.
    """
    tangent_of: dict[Any, Any] = dict(tangents)
    for node in reachable_nodes(root):
        ts = [tangent_of.get(p) if p is not None else None for p in node.parents]
        if all(t is None for t in ts):
            continue
        if LAST_WRITE[0] > node.seq and node.output is not None:
            check_versions(node, forward=True)
        if wrap is None:
            xs, y = node.inputs, node.output
        else:
            xs, y = _differentiable_inputs(node, wrap), wrap(node)
        tangent_of[node] = node_tangent(node, ts, xs, y, m)
    key = root.node if root.node is not None else root
    return tangent_of.get(key)


def node_tangent(node: Node, ts: list, xs, y, m):
    """Forward mode at one node: the output's tangent from the inputs' tangents ``ts`` (None means zero)."""
    rule, params = node.rule, node.params
    if rule.kind == ELEMENTWISE:
        out = None
        for i, t in enumerate(ts):
            if t is None:
                continue
            local = rule.derivatives[i]
            if local is NO_GRAD:
                continue
            term = t if local is ONE else -t if local is MINUS_ONE else t * local(*xs, y, m, **params)
            out = term if out is None else out + term
        if out is None:
            return None
        return out if np.shape(out) == np.shape(y) else m.broadcast_to(out, np.shape(y))
    if rule.kind == LINEAR:
        filled = [t if t is not None else _zero_tangent(x, m) for t, x in zip(ts, xs, strict=True)]
        return _apply_forward(rule, filled, params, m)
    if rule.kind == MULTILINEAR:
        out = None
        for i, t in enumerate(ts):
            if t is not None:
                args = list(xs)
                args[i] = t
                term = _apply_forward(rule, args, params, m)
                out = term if out is None else out + term
        return out
    if rule.jvp is None:
        raise NoDerivativeError(f"no forward-mode rule for '{rule.name}'; add a jvp to its entry in the rule table")
    filled = [t if t is not None else _zero_tangent(x, m) for t, x in zip(ts, xs, strict=True)]
    return rule.jvp(filled, *xs, y, m, **params)


def _zero_tangent(x, m):
    """A zero tangent shaped like input ``x``, which may be a NotSaved (or a Tensor holding one)."""
    value = getattr(x, "data", x)
    if type(value) is NotSaved:
        return np.zeros(value.shape, value.dtype)
    return m.zeros_like(x)


def _apply_forward(rule, args, params, m):
    if m is numpy_math:
        return rule.forward(*args, **params)
    from .ops import apply

    return apply(rule, args, params)
