"""Gradient hooks: functions that see, and may replace, a gradient while the backward pass computes it.

A hook belongs to a graph key, as backward's ``pending`` dict knows it: a Node (the gradient of the tensor that node
made, complete when the node is popped) or a leaf Tensor (complete once the last node that uses the leaf is done).
The owner keeps its hooks itself (``owner._hooks``), so they live and die with it, and ``owners`` lists every owner
that has some, weakly. While ``owners`` is empty, and it is unless someone registered a hook, ``backward`` takes its
fast loop untouched; otherwise the plain loop runs and calls ``Pass`` at each node. PyTorch's order is kept: a
tensor's hooks in registration order, then ``retain_grad``'s, then group hooks (modules' backward hooks); a leaf's
hooks as soon as its gradient is complete, then its accumulation into ``.grad``, then its post-accumulate hooks.

The engine knows no Tensor: the functions registered here take and return raw gradients (arrays, or Tensors under
``create_graph``); chainrule.tensor wraps the user's functions.
"""

from __future__ import annotations

import heapq
import itertools
import weakref
from collections.abc import Callable
from typing import Any

from .batching import Batched, namespace
from .node import Node

#: id(owner) -> a weak reference to it, for every Node or leaf Tensor that has hooks now. backward reads only
#: whether it is empty.
owners: dict[int, weakref.ref] = {}

_ids = itertools.count()

#: What a group's function returns for a member whose gradient it drops (None leaves a gradient as it is).
DROP = object()


class Hooks:
    """The hooks of one owner: ``pre`` (gradient -> replacement or None), ``retain`` (retain_grad's
    (tensor reference, function)), ``post`` (after a leaf's .grad was updated) and ``groups`` it is a member of."""

    __slots__ = ("groups", "post", "pre", "retain")

    def __init__(self) -> None:
        self.pre: dict[int, Callable] = {}
        self.retain: tuple[weakref.ref, Callable] | None = None
        self.post: dict[int, Callable] = {}
        self.groups: list[Group] = []

    def __bool__(self) -> bool:
        return bool(self.pre or self.retain or self.post or self.groups)

    def __deepcopy__(self, memo: dict) -> None:
        return None  # a copy of a tensor has no hooks (PyTorch's copies neither)


class Group:
    """A hook on several nodes' gradients at once: ``function(grads)`` (None where no gradient came) returns None
    or replacements, once per backward pass, when the first member is reached. Members must be made one after
    another with nothing that uses them made in between (an identity node per module input or output), so that all
    of their gradients are complete when the first is popped."""

    __slots__ = ("fired", "function", "members")

    def __init__(self, members: list[Node | None], function: Callable[[list], list | None]) -> None:
        # Weakly: each member holds the group, so a strong reference back would make every graph a cycle, kept
        # (with its arrays) until the garbage collector's next run instead of freed when the last use goes.
        self.members = [None if m is None else weakref.ref(m) for m in members]
        self.function, self.fired = function, None


class RemovableHandle:
    """What registering a hook returns: ``handle.remove()`` takes the hook off (again: nothing happens); as a
    context manager, the hook is removed when the block ends.

    >>> import chainrule as cr
    >>> x = cr.tensor(2.0, requires_grad=True)
    >>> with x.register_hook(lambda g: g * 10):
    ...     (x * 3).backward()
    >>> float(x.grad)
    30.0
    """

    __slots__ = ("_remove", "id")

    def __init__(self, remove: Callable[[int], None], hook_id: int) -> None:
        self._remove, self.id = remove, hook_id

    def remove(self) -> None:
        self._remove(self.id)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    def __repr__(self) -> str:
        return f"<RemovableHandle {self.id}>"


def add_to_table(table: dict, function: Callable, prepend: bool, remove: Callable[[int], None]) -> RemovableHandle:
    """Put ``function`` in ``table`` (first with ``prepend``) under a new id; its handle calls ``remove(id)``."""
    hook_id = next(_ids)
    if prepend:
        items = list(table.items())
        table.clear()
        table[hook_id] = function
        table.update(items)
    else:
        table[hook_id] = function
    return RemovableHandle(remove, hook_id)


def hooks_of(owner: Any) -> Hooks:
    """The owner's hooks, made (and the owner listed in ``owners``) on first use."""
    record = getattr(owner, "_hooks", None)
    if record is None:
        record = owner._hooks = Hooks()
    key = id(owner)
    if key not in owners:
        owners[key] = weakref.ref(owner, lambda _, key=key: owners.pop(key, None))
    return record


def forget_if_empty(owner: Any) -> None:
    """Once an owner has no hook left, backward may take its fast loop again."""
    record = getattr(owner, "_hooks", None)
    if record is not None and not record:
        owner._hooks = None
        owners.pop(id(owner), None)


def add_hook(owner: Any, function: Callable, table: str = "pre", prepend: bool = False) -> RemovableHandle:
    """Register ``function`` in the owner's ``pre`` hooks (gradient -> replacement or None) or ``post`` hooks
    (no argument, after a leaf's .grad was updated); returns its handle."""
    ref = weakref.ref(owner)

    def remove(hook_id: int) -> None:
        owner = ref()
        record = getattr(owner, "_hooks", None) if owner is not None else None
        if record is not None:
            getattr(record, table).pop(hook_id, None)
            forget_if_empty(owner)

    return add_to_table(getattr(hooks_of(owner), table), function, prepend, remove)


def set_retain(node: Node, tensor: Any, function: Callable) -> None:
    """``function(gradient)`` after the node's other hooks, in every pass: retain_grad for ``tensor`` (weakly)."""
    hooks_of(node).retain = (weakref.ref(tensor), function)


def retains(node: Node | None, tensor: Any) -> bool:
    """Whether ``tensor`` (made by ``node``) keeps its gradient (retain_grad)."""
    record = getattr(node, "_hooks", None)
    return record is not None and record.retain is not None and record.retain[0]() is tensor


def share(source: Any, node: Node) -> None:
    """Run ``source``'s hooks (a leaf's, or a node's and its retain_grad) on the gradient of ``node``, an identity
    of it that a transform differentiates against: as torch.autograd.grad runs the hooks of the tensors it
    differentiates with respect to, and returns what they give."""
    if not getattr(source, "_hooks", None):
        return
    ref = weakref.ref(source)

    def run_source_hooks(g: Any) -> Any:
        record = getattr(ref(), "_hooks", None)
        if record is None:
            return None
        for function in list(record.pre.values()):
            result = function(g)
            if result is not None:
                g = result
        if record.retain is not None:
            record.retain[1](g)
        return g

    add_hook(node, run_source_hooks)


def add_group(members: list[Node | None], function: Callable[[list], list | None]) -> Group:
    """Call ``function`` with the gradients of all ``members`` at once (see ``Group``); it lives as long as they."""
    group = Group(members, function)
    for member in members:
        if member is not None:
            hooks_of(member).groups.append(group)
    return group


def call(function: Callable, g: Any) -> Any:
    """``function(g)``; for a batch of cotangents (jacobian), row by row, as PyTorch's jacobian calls the hooks
    once per row. Returns the replacement, or None."""
    if type(g) is not Batched:
        return function(g)
    rows = [g.value[i, ...] for i in range(g.value.shape[0])]
    results = [function(row) for row in rows]
    if all(r is None for r in results):
        return None
    return namespace(g.value).stack_rows([row if r is None else r for r, row in zip(results, rows, strict=True)])


def _call_group(function: Callable, grads: list) -> list | None:
    """``function(grads)``, row by row when some are batches (the others are passed to every row as they are)."""
    batch = next((g for g in grads if type(g) is Batched), None)
    if batch is None:
        return function(grads)
    rows = range(batch.value.shape[0])
    results = [function([g.value[i, ...] if type(g) is Batched else g for g in grads]) for i in rows]
    if all(r is None for r in results):
        return None
    out = []
    for j, g in enumerate(grads):
        replaced = [None if r is None else r[j] for r in results]
        if all(v is None for v in replaced):
            out.append(g)
            continue
        like = next((v for v in replaced if v is not None and v is not DROP), None)
        if like is None:  # dropped in every row where it changed
            out.append(DROP)
            continue
        kept = [g.value[i, ...] if type(g) is Batched else like * 0 if g is None else g for i in rows]
        out.append(namespace(batch.value).stack_rows([
            kept[i] if v is None else kept[i] * 0 if v is DROP else v for i, v in zip(rows, replaced, strict=True)]))
    return out


def _snapshot(table: dict) -> list:
    """The items of ``table`` now. Its weak references' callbacks remove entries whenever an owner dies, which the
    garbage collector may make happen in the middle of copying: then copy again."""
    while True:
        try:
            return list(table.items())
        except RuntimeError:  # "dictionary changed size during iteration"
            continue


# ---------------------------------------------------------------------------------------------------------------
# One backward pass with hooks: called by the plain loop before each node and after it.
# ---------------------------------------------------------------------------------------------------------------
class Pass:
    """The hooks' side of one backward pass over ``heap`` and ``pending`` (backward's own, shared)."""

    def __init__(self, heap: list, pending: dict, stop_at: dict, accumulate: bool, targets) -> None:
        self.heap, self.pending, self.accumulate = heap, pending, accumulate
        self.targets = {id(t) for t in targets if type(t) is not Node}
        self.leaves_after = self._leaf_schedule(stop_at)
        self.done: set[int] = set()

    def _leaf_schedule(self, stop_at: dict) -> dict[int, list]:
        """id(node) -> the hooked leaves whose gradient is complete once that node is done: the oldest node that
        uses each one, among those this pass reaches (as PyTorch's engine runs a leaf's AccumulateGrad as soon as
        it is ready). A walk of the graph, made only when some leaf has hooks."""
        leaves = {key for key, ref in _snapshot(owners) if type(ref()) is not Node}
        if not leaves:
            return {}
        last: dict[int, tuple[Node, Any]] = {}
        stack = [entry[1] for entry in self.heap]
        seen = {id(node) for node in stack}
        while stack:
            node = stack.pop()
            if stop_at and id(node) in stop_at:
                continue  # backpropagation stops there
            for parent in node.parents:
                if type(parent) is Node:
                    if id(parent) not in seen:
                        seen.add(id(parent))
                        stack.append(parent)
                elif parent is not None and id(parent) in leaves:
                    known = last.get(id(parent))
                    if known is None or node.seq < known[0].seq:
                        last[id(parent)] = (node, parent)
        schedule: dict[int, list] = {}
        for node, leaf in last.values():
            schedule.setdefault(id(node), []).append(leaf)
        return schedule

    def before(self, node: Node, g: Any) -> Any:
        """The node's gradient through its hooks: the tensor's hooks, retain_grad, then groups."""
        record = getattr(node, "_hooks", None)
        if record is None or g is None:
            return g
        for function in list(record.pre.values()):
            result = call(function, g)
            if result is not None:
                g = result
        if record.retain is not None:
            call(record.retain[1], g)
        for group in list(record.groups):
            if group.fired is not self:
                group.fired = self
                g = self._fire(group, node, g)
        return g

    def _fire(self, group: Group, node: Node, g: Any) -> Any:
        pending = self.pending
        members = [None if ref is None else ref() for ref in group.members]
        grads = [g if member is node else None if member is None else pending.get(member) for member in members]
        new = _call_group(group.function, grads)
        if new is None:
            return g
        for member, old, value in zip(members, grads, new, strict=True):
            if member is None or value is None or value is old:
                continue
            if value is DROP:
                value = None  # the loop skips a node whose gradient is None
            if member is node:
                g = value
            elif member in pending:
                pending[member] = value
            elif value is not None:  # a gradient where none came: the member joins the pass
                heapq.heappush(self.heap, (-member.seq, member))
                pending[member] = value
        return g

    def after(self, node: Node) -> None:
        """Leaves whose gradient is complete now that ``node`` is done: their hooks and accumulation."""
        leaves = self.leaves_after.get(id(node))
        if leaves:
            for leaf in leaves:
                self.finish_leaf(leaf)

    def finish_leaf(self, leaf: Any) -> None:
        """A leaf's complete gradient through its hooks, then into ``.grad`` and its post-accumulate hooks."""
        if id(leaf) in self.done or leaf not in self.pending:
            return
        self.done.add(id(leaf))
        record = getattr(leaf, "_hooks", None)
        if not record:
            return
        g = self.pending[leaf]
        for function in list(record.pre.values()):
            result = call(function, g)
            if result is not None:
                g = result
        if not self.accumulate or id(leaf) in self.targets:
            self.pending[leaf] = g  # returned, not accumulated (cr.grad, vjp)
            return
        del self.pending[leaf]
        leaf._accumulate_grad(g)
        for function in list(record.post.values()):
            function()

    def finish(self) -> None:
        """Leaves not finished during the loop: a leaf root, or one whose last user got no gradient."""
        for leaf in [key for key in self.pending if type(key) is not Node]:
            self.finish_leaf(leaf)
