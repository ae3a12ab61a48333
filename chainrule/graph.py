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
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np

from .errors import GraphError, NoDerivativeError
from .rules import numpy_math
from .rules.registry import ELEMENTWISE, LINEAR, MINUS_ONE, MULTILINEAR, NO_GRAD, ONE
from .versions import LAST_WRITE, node_sequence
from .versions import check as check_versions


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
class _ThreadMode(threading.local):
    """One thread's grad mode. The class attributes are the defaults, so a new thread starts recording."""

    enabled = True
    keep_all = False  # inside keep_values()


class _GradMode:
    """Grad mode, per thread as in PyTorch: one thread's ``no_grad`` or ``keep_values`` leaves the others alone.

    Ops read it on every call, and a thread-local read costs twice a plain attribute's. So the hot path reads
    ``all_recording``, a plain attribute that is True while no thread has recording off, and looks at its own
    thread's ``thread_mode.enabled`` only when it is False: ``grad_mode.all_recording or thread_mode.enabled``.
    """

    def __init__(self) -> None:
        self.all_recording = True
        self._threads_off = 0  # threads whose recording is off now
        self._lock = threading.Lock()
        # Arrays with fewer elements than this are kept whether their rule reads them or not (a NotSaved would save
        # little). A process-wide setting; ``keep_values`` makes one thread keep every value (explanations).
        self.keep_below: float = 4096

    @property
    def enabled(self) -> bool:
        """Whether this thread records the graph."""
        return thread_mode.enabled

    def set_enabled(self, enabled: bool) -> bool:
        """Turn this thread's recording on or off; returns what it was."""
        previous = thread_mode.enabled
        if enabled != previous:
            with self._lock:
                thread_mode.enabled = enabled
                self._threads_off += -1 if enabled else 1
                self.all_recording = self._threads_off == 0
        return previous


thread_mode = _ThreadMode()
grad_mode = _GradMode()


@contextmanager
def keep_values() -> Iterator[None]:
    """Inside this block, nodes keep every input and output value, read by their rules or not (for display).

    Per thread: other threads keep only what their rules read.
    """
    previous = thread_mode.keep_all
    thread_mode.keep_all = True
    try:
        yield
    finally:
        thread_mode.keep_all = previous


def is_grad_enabled() -> bool:
    """Whether ops record the graph in this thread (False inside ``no_grad``)."""
    return thread_mode.enabled


@contextmanager
def set_grad_enabled(enabled: bool) -> Iterator[None]:
    """Turn graph recording on or off inside a ``with`` block, in this thread only."""
    previous = grad_mode.set_enabled(bool(enabled))
    try:
        yield
    finally:
        grad_mode.set_enabled(previous)


def no_grad():
    """``with cr.no_grad(): ...`` computes values without recording a graph (e.g. for evaluation or updates)."""
    return set_grad_enabled(False)


# ---------------------------------------------------------------------------------------------------------------
# One node's chain rule: upstream gradient -> a gradient for each input; input tangents -> the output's tangent.
# Every consumer calls these two (backward on arrays, on Tensors for create_graph, on batches for jacobian,
# forward mode, explanations, drawings, symbolic formulas through ``local_derivative``).
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
    if getattr(m, "batched", False) and not rule.batchable:
        return _rowwise(node, g, m, xs, y)
    variadic = rule.arity < 0
    grads = []
    for i, parent in enumerate(parents):
        vjp = rule.vjps[0] if variadic else rule.vjps[i]
        if parent is None or vjp is NO_GRAD:
            grads.append(None)
            continue
        gi = vjp(i, g, xs, y, m, **params) if variadic else vjp(g, *xs, y, m, **params)
        grads.append(None if gi is None else _unbroadcast_to(gi, xs[i], m))
    return grads


def _unbroadcast_to(gi, x, m):
    shape = _shape(x)
    return gi if _shape(gi) == shape else unbroadcast(gi, shape, m)


def _rowwise(node: Node, g, m, xs, y) -> list:
    """A batch of cotangents through a rule whose vjps take one at a time: row by row, then stacked."""
    rows = [chain_rule(node, row, numpy_math, xs, y) for row in m.rows(g)]
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


# ---------------------------------------------------------------------------------------------------------------
# Reverse mode over a whole graph: one loop, and a fast path for plain arrays that a differential test holds to it.
# ---------------------------------------------------------------------------------------------------------------
def _differentiable_inputs(node: Node, wrap: Callable[..., Any]) -> list:
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
    roots: Sequence[Any],
    seeds: Sequence[Any],
    *,
    targets: Sequence[Any] = (),
    retain_graph: bool = False,
    accumulate: bool = True,
    m: Any = numpy_math,
    wrap: Callable[..., Any] | None = None,
    on_node: Callable[[Node, Any, list], None] | None = None,
    fast: bool = True,
) -> list:
    """Backpropagate ``seeds`` (upstream gradients of ``roots``) through the graph.

    Nodes are visited newest first, so each is reached after every node that uses it, and ``chain_rule`` turns its
    upstream gradient into its inputs' gradients in the math namespace ``m``. With ``wrap`` (the Tensor class's
    ``_from_node``) the rules see the node's values as Tensors connected to the graph and ``m`` is the Tensor
    namespace: the backward pass is recorded (create_graph). A batching namespace carries many cotangents at once.
    ``on_node(node, upstream, input_gradients)`` observes each step (explanations and drawings use it).

    With ``accumulate`` the gradients of leaves are added to their ``.grad``. ``targets`` (leaves or Nodes) have
    their gradients returned instead, in order (None where no gradient reaches them); backpropagation stops at a
    target node. Plain NumPy backward without an observer takes the fast loop; ``fast=False`` forces the plain one
    (the reference that the differential test compares the fast loop with).
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

    if fast and m is numpy_math and wrap is None and on_node is None:
        found = _backward_arrays(heap, pending, stop_at, retain_graph)
    elif wrap is not None:
        with set_grad_enabled(True):
            found = backward_pass(heap, pending, stop_at, retain_graph, m, wrap, on_node)
    else:
        found = backward_pass(heap, pending, stop_at, retain_graph, m, wrap, on_node)

    results = [found.get(id(t)) if type(t) is Node else pending.pop(t, None) for t in targets]
    if accumulate:
        for leaf, gi in pending.items():
            if type(leaf) is not Node:
                leaf._accumulate_grad(gi)
    return results


def backward_pass(heap: list, pending: dict, stop_at: dict, retain_graph: bool, m, wrap=None, on_node=None) -> dict:
    """The backward loop: pop the newest node, apply the chain rule, add each input's share to what it has so far.

    Returns the gradients that reached the ``stop_at`` nodes (by id); leaves' gradients stay in ``pending``.
    """
    found = {}
    heappop, heappush = heapq.heappop, heapq.heappush
    while heap:
        node = heappop(heap)[1]
        g = pending.pop(node)
        if stop_at and id(node) in stop_at:
            found[id(node)] = g
            continue
        if node.output is None:
            raise _released(node)
        if LAST_WRITE[0] > node.seq:  # something was changed in place after the node was made
            check_versions(node)
        if wrap is None:
            grads = chain_rule(node, g, m)
        else:
            grads = chain_rule(node, g, m, _differentiable_inputs(node, wrap), wrap(node))
        if on_node is not None:
            on_node(node, g, grads)
        if not retain_graph:
            node.release()
        for parent, gi in zip(node.parents, grads, strict=True):
            if gi is None:
                continue
            previous = pending.get(parent)
            if previous is None:
                pending[parent] = gi
                if type(parent) is Node:
                    heappush(heap, (-parent.seq, parent))
            else:
                pending[parent] = previous + gi
    return found


def _backward_arrays(heap: list, pending: dict, stop_at: dict, retain_graph: bool) -> dict:
    """``backward_pass`` on NumPy arrays, kept lean: the same chain rule, the same numbers, less Python per node.

    It inlines ``chain_rule`` for elementwise rules (one call per input, no list), and along a chain it skips the
    heap: when an elementwise node's first newly reached parent is newer than every node waiting in the heap, that
    parent is next in the order anyway and its gradient is complete (every node that uses it is newer, so done), and
    it is processed at once. It reuses memory that only this pass holds (see ``_times_upstream``, ``_accumulate``).
    tests/test_engine_differential.py checks that it gives bit-identical gradients to ``backward_pass``.
    """
    m = numpy_math
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
            if arity == 1:  # one input, recorded because it needs a gradient
                local, parent = derivatives[0], node.p0
                if local is ONE:
                    gi = g
                elif local is MINUS_ONE:
                    gi = -g
                else:
                    value = local(node.x0, y, m, **params) if params else local(node.x0, y, m)
                    gi = g * value if type(value) is not np.ndarray else _times_upstream(g, value, parent)
                if params and _shape(gi) != _shape(node.x0):  # parameters broadcast the input (clip's bounds)
                    gi = unbroadcast(gi, _shape(node.x0), m)
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
                value = (local_derivative(rule, 0, xs, y, m, params) + local_derivative(rule, 1, xs, y, m, params))
                gi = _times_upstream(g, value, parents[0])
                if _shape(gi) != _shape(xs[0]):
                    gi = unbroadcast(gi, _shape(xs[0]), m)
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
                elif local is NO_GRAD:
                    continue
                else:
                    value = local(*xs, y, m, **params) if params else local(*xs, y, m)
                    gi = g * value if type(value) is not np.ndarray else _times_upstream(g, value, parent)
                if type(gi) is np.ndarray and gi.shape != _shape(xs[i]):  # a NumPy scalar came from 0-d values
                    gi = unbroadcast(gi, _shape(xs[i]), m)  # only: no broadcasting to undo
                if type(parent) is Node and parent not in pending:  # the common case, inlined
                    pending[parent] = gi
                    if follow is None:
                        follow = parent
                    else:
                        heappush(heap, (-parent.seq, parent))
                else:
                    _accumulate(pending, heap, heappush, parent, gi, g)
        else:
            for parent, gi in zip(node.parents, chain_rule(node, g, m)):  # noqa: B905 - same length
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


# ---------------------------------------------------------------------------------------------------------------
# Memory the fast loop may reuse. Whether an array is held elsewhere is read from its reference count, with
# thresholds counted by hand for the loop's own names. CPython does not promise reference counts (3.14 changes
# them), so the reuse is switched on only where ``_refcounts_as_counted`` sees the counts behave as assumed, on the
# very functions the loop calls; elsewhere every guard answers "held elsewhere": a wrong guess costs speed, never
# correctness.
# ---------------------------------------------------------------------------------------------------------------
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
    return (_REUSE and type(g) is np.ndarray and local.shape == g.shape and local.dtype == g.dtype
            and local.flags.owndata and sys.getrefcount(local) <= 4)


def _is_private_sum(previous: np.ndarray, gi) -> bool:
    """Whether the pending sum ``previous`` may be updated in place: nothing but the pending dict refers to it
    (three references: the dict, the caller's name, getrefcount's argument) and ``gi`` fits its shape and dtype."""
    return (_REUSE and previous.flags.writeable and previous.flags.owndata and type(gi) is np.ndarray
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
    if not _REUSE or not gi.flags.writeable or type(base) is not np.ndarray or not base.flags.owndata:
        return False
    if base is g:
        known = 6
    elif type(g) is np.ndarray and g.base is base and sys.getrefcount(g) <= 4:
        known = 4
    else:
        known = 3
    return sys.getrefcount(base) <= known


def _refcounts_as_counted() -> bool:
    """Whether this interpreter's reference counts read as the guards above assume, checked on the guards
    themselves, called as the fast loop calls them, with an array held elsewhere and one that is not.

    CPython 3.11-3.13 only (the versions the test suite proves); other interpreters reuse nothing.
    """
    if sys.implementation.name != "cpython" or not (3, 11) <= sys.version_info[:2] <= (3, 13):
        return False
    n, held = _IN_PLACE, []

    def times_upstream(keep: bool) -> bool:  # the loop's frame: one name for the rule's local derivative
        g = np.full(n, 2.0)
        value = np.ones(n)
        if keep:
            held.append(value)
        return _times_upstream(g, value, None) is value

    def accumulate(keep: bool) -> bool:  # a pending sum: the dict's reference only, or one more
        key, pending = object(), {}
        pending[key] = np.ones(n)
        if keep:
            held.append(pending[key])
        before = id(pending[key])  # the new sum, if one is made, is allocated while this array is alive
        _accumulate(pending, [], None, key, np.ones(n), None)
        return id(pending[key]) == before

    def sole_view(keep: bool) -> bool:  # a leaf's gradient that is a view of the node's fresh upstream g
        g = np.ones((64, 64))
        if keep:
            held.append(g.T)
        pending = {}
        _accumulate(pending, [], None, "leaf", g.T, g)
        return pending["leaf"].base is g

    return all(check(False) and not check(True) for check in (times_upstream, accumulate, sole_view))


_REUSE = True
_REUSE = _refcounts_as_counted()


# ---------------------------------------------------------------------------------------------------------------
# Forward mode over a recorded graph.
# ---------------------------------------------------------------------------------------------------------------
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


def forward_tangents(root: Any, tangents: dict[Any, Any], m, wrap=None) -> Any:
    """Push tangents (a dict from leaf Tensor to tangent) through the graph: the output's tangent, or None.

    Each node's output tangent comes from ``tangent_rule``; with ``wrap``, on Tensors connected to the graph.
    """
    tangent_of: dict[Any, Any] = dict(tangents)
    for node in reachable_nodes(root):
        ts = [tangent_of.get(p) if p is not None else None for p in node.parents]
        if all(t is None for t in ts):
            continue
        if LAST_WRITE[0] > node.seq and node.output is not None:
            check_versions(node, forward=True)
        if wrap is None:
            tangent_of[node] = tangent_rule(node, ts, m)
        else:
            tangent_of[node] = tangent_rule(node, ts, m, _differentiable_inputs(node, wrap), wrap(node))
    key = root.node if root.node is not None else root
    return tangent_of.get(key)
