"""Reverse mode over a whole graph: one loop (``backward_pass``) and a fast path for plain arrays held to it.

Nodes are visited newest first (a heap of sequence numbers), so each is reached after every node that uses it;
gradients are accumulated, never overwritten, and freed once consumed. Explanations and drawings observe the loop
through its ``on_node`` hook instead of walking the graph themselves.
"""

from __future__ import annotations

import heapq
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..rules import numpy_math
from ..rules.registry import ELEMENTWISE, MINUS_ONE, NO_GRAD, ONE
from . import batching, hooks
from .backends import backend, is_foreign
from .chain import _released, _shape, _unbroadcast_to, chain_rule, local_derivative, unbroadcast
from .mode import set_grad_enabled
from .node import Node
from .versions import LAST_WRITE
from .versions import check as check_versions


# ---------------------------------------------------------------------------------------------------------------
# Reverse mode over a whole graph: one loop, and a fast path for plain arrays that a differential test holds to it.
# ---------------------------------------------------------------------------------------------------------------
def _differentiable_inputs(node: Node, wrap: Callable[..., Any]) -> list:
    """The node's inputs as Tensors connected to the graph (for create_graph), or constants.

    ``wrap(parent, value)`` stands for the parent's output with the value this node kept (a NotSaved when the rule
    does not read it); ``wrap(None, value)`` is a constant Tensor, which another library's array must be for the
    Tensor namespace's functions to take it (a NumPy array or a number they take as it is).
    """
    xs = []
    for value, parent in zip(node.inputs, node.parents, strict=True):
        if parent is None:
            xs.append(value if type(value) is np.ndarray or not is_foreign(value) else wrap(None, value))
        elif isinstance(parent, Node):
            xs.append(wrap(parent, value))
        else:
            xs.append(parent)  # a leaf Tensor
    return xs


#: Functions called with no argument after each backward pass that added gradients to leaves' ``.grad``, in order.
#: Layers above attach here without the engine knowing them: cr.distributed's DataParallel averages gradients over
#: processes at this point, as PyTorch's DDP does by the end of ``loss.backward()``.
after_backward: list[Callable[[], None]] = []

def _home(node: Node):
    """An array of the library a node's gradients are computed in: its output's, but a move's input's (its rule
    only moves g back there, and gradients of several cotangents are stacked there)."""
    return node.x0 if node.rule.name == "move" else node.output


def _namespace_of(node: Node):
    home = _home(node)
    return backend(home).m if type(home) is not np.ndarray and is_foreign(home) else numpy_math


def _batching_namespace_of(node: Node):
    return batching.namespace(_home(node))


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
    stop_at = {id(t): t for t in targets if type(t) is Node} if targets else {}

    hooked = None
    if hooks.owners:  # some tensor or module has gradient hooks: the plain loop, which runs them (hooks.py)
        hooked, fast = hooks.Pass(heap, pending, stop_at, accumulate, targets), False
    if fast and m is numpy_math and wrap is None and on_node is None:
        found = _backward_arrays(heap, pending, stop_at, retain_graph)
    elif wrap is not None:
        with set_grad_enabled(True):
            found = backward_pass(heap, pending, stop_at, retain_graph, m, wrap, on_node, hooked)
    else:
        found = backward_pass(heap, pending, stop_at, retain_graph, m, wrap, on_node, hooked)
    if hooked is not None:
        hooked.finish()

    results = [found.get(id(t)) if type(t) is Node else pending.pop(t, None) for t in targets] if targets else []
    if accumulate:
        for leaf in pending:
            if type(leaf) is not Node:  # a leaf Tensor: it adds every leaf's gradient to its .grad
                leaf._accumulate_grads(pending)
                break
        for hook in after_backward:
            hook()
    return results


def backward_pass(heap: list, pending: dict, stop_at: dict, retain_graph: bool, m, wrap=None, on_node=None,
                  hooked: hooks.Pass | None = None) -> dict:
    """The backward loop: pop the newest node, apply the chain rule, add each input's share to what it has so far.

    Returns the gradients that reached the ``stop_at`` nodes (by id); leaves' gradients stay in ``pending``.
    ``hooked`` runs the gradient hooks: a node's before its gradient is used, a leaf's once it is complete.
    """
    found = {}
    heappop, heappush = heapq.heappop, heapq.heappush
    per_node = m is _namespace_of or m is _batching_namespace_of  # m(node): the namespace of each node's library
    while heap:
        node = heappop(heap)[1]
        g = pending.pop(node)
        if hooked is not None:
            g = hooked.before(node, g)
            if g is None:  # a module's backward hook dropped it
                continue
        if stop_at and id(node) in stop_at:
            found[id(node)] = g
            continue
        if node.output is None:
            raise _released(node)
        if LAST_WRITE[0] > node.seq:  # something was changed in place after the node was made
            check_versions(node)
        if wrap is None:
            if not per_node and node.rule.name == "move":
                # values cross to another library here: from now on each node computes in its own library's
                m, per_node = (_batching_namespace_of if getattr(m, "batched", False) else _namespace_of), True
            grads = chain_rule(node, g, m(node) if per_node else m)
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
        if hooked is not None and hooked.leaves_after:
            hooked.after(node)
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
            elif type(y) is not np.float64 and y.dtype.kind == "c":
                # A complex output of several inputs, some of which may be real: chain_rule gives those the real
                # part of their gradient. (One input makes a complex output only from a complex input.)
                for parent, gi in zip(node.parents, chain_rule(node, g, m)):  # noqa: B905 - same length
                    if gi is not None:
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
            if rule.name == "move":  # values cross to another library here: the per-node loop takes over
                pending[node] = g
                heappush(heap, (-node.seq, node))
                found.update(backward_pass(heap, pending, stop_at, retain_graph, _namespace_of))
                return found
            # Other rules go through the heap: following them too (as above) saves a push and a pop per node, but
            # changes the order in which arrays are freed, and with glibc's default heap settings that decides
            # whether the heap is trimmed after each step (W3's faults per 20 steps: 97,023 with this order, 3
            # with the other), which tests/test_allocator.py's control measures.
            arity = rule.arity
            if arity < 0:  # variadic (concatenate, stack): chain_rule tells its one vjp each input
                for parent, gi in zip(node.parents, chain_rule(node, g, m)):  # noqa: B905 - same length
                    if gi is not None:
                        _accumulate(pending, heap, heappush, parent, gi, g)
            else:
                # chain_rule's loop for a rule of fixed arity (linear, matmul, cross_entropy, sum...), inlined: the
                # same calls on the same arrays, without the list of gradients and a call per input. (Inline, not
                # a helper: _sole_view counts the names that hold g.)
                params, vjps = node.params, rule.vjps
                if arity == 1:
                    xs, parents = (node.x0,), (node.p0,)
                elif arity == 2:
                    xs, parents = (node.x0, node.x1), (node.p0, node.p1)
                else:
                    xs, parents = node.x0, node.p0
                for parent, vjp, x in zip(parents, vjps, xs):  # noqa: B905 - one vjp per input
                    if parent is None or vjp is NO_GRAD:
                        continue
                    gi = vjp(g, *xs, y, m, **params) if params else vjp(g, *xs, y, m)
                    if gi is None:
                        continue
                    if type(gi) is np.ndarray and type(x) is np.ndarray and gi.dtype is x.dtype:
                        if gi.shape != x.shape:  # a bias summed over the batch (unbroadcast's first case), or
                            gi = np.add.reduce(gi, axis=0) if gi.shape[1:] == x.shape and gi.ndim == x.ndim + 1 \
                                else unbroadcast(gi, x.shape, m)  # any other broadcasting
                    else:
                        gi = _unbroadcast_to(gi, x, m)  # also the real part of a complex gradient of a real input
                    if parent in pending:
                        _accumulate(pending, heap, heappush, parent, gi, g)
                    elif type(parent) is Node:  # the common cases, inlined
                        pending[parent] = gi
                        heappush(heap, (-parent.seq, parent))
                    elif type(gi) is np.ndarray and gi.base is None and gi is not g:
                        pending[parent] = gi  # a fresh array (a weight's gᵀx, a bias's sum): the leaf may keep it
                    else:
                        _accumulate(pending, heap, heappush, parent, gi, g)
        if not retain_graph:
            node.output = node.x0 = node.x1 = None  # node.release(), inline
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
