"""Containers of arrays (pytrees): flatten nested dicts, lists and tuples to a list of leaves, and rebuild them.

A pytree is a leaf, ``None``, or a dict, list or tuple (namedtuples included) of pytrees. Everything else is a leaf
(a float, a NumPy array, a Tensor, ...); ``None`` holds no leaf and comes back as ``None``.

Order of the leaves: list and tuple items in order; dict values in the order of their **sorted keys**, as JAX does,
so that two dicts with the same keys flatten alike whatever order they were built in (a parameter vector for
scipy.optimize does not depend on how the dict was written). Keys that cannot be sorted against each other (say
``1`` and ``"a"``) keep their insertion order. A rebuilt dict has its keys in the original dict's order.

>>> from chainrule.pytree import flatten
>>> leaves, tree = flatten({"b": 2.0, "a": [1.0, None, (3.0,)]})
>>> leaves
[1.0, 3.0, 2.0]
>>> tree.unflatten([10.0, 30.0, 20.0])
{'b': 20.0, 'a': [10.0, None, (30.0,)]}
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

_LEAF, _NONE, _DICT, _LIST, _TUPLE = "leaf", "none", "dict", "list", "tuple"


def _key_order(d: dict) -> list:
    try:
        return sorted(d)
    except TypeError:  # keys of mixed types: the insertion order is the only order there is
        return list(d)


class TreeDef:
    """The structure of a pytree without its leaves: ``unflatten(leaves)`` rebuilds it."""

    __slots__ = ("children", "keys", "kind", "num_leaves", "order", "type")

    def __init__(self, kind: str, children: tuple = (), keys: tuple = (), order: tuple = (), type_: type | None = None):
        self.kind, self.children, self.keys, self.order, self.type = kind, children, keys, order, type_
        self.num_leaves = 1 if kind == _LEAF else sum(c.num_leaves for c in children)

    @property
    def is_leaf(self) -> bool:
        return self.kind == _LEAF

    def unflatten(self, leaves: list | tuple) -> Any:
        """The container with ``leaves`` (in flattening order) in place of the original leaves."""
        leaves = list(leaves)
        if len(leaves) != self.num_leaves:
            raise ValueError(f"unflatten: the structure holds {self.num_leaves} leaves but {len(leaves)} were given")
        it = iter(leaves)
        return self._build(it)

    def _build(self, it: Iterator) -> Any:
        if self.kind == _LEAF:
            return next(it)
        if self.kind == _NONE:
            return None
        built = [c._build(it) for c in self.children]
        if self.kind == _DICT:
            by_key = dict(zip(self.order, built, strict=True))
            d = {k: by_key[k] for k in self.keys}
            if self.type is dict:
                return d
            try:  # a dict subclass such as OrderedDict; one that cannot be built from a dict comes back as a dict
                return self.type(d)
            except TypeError:
                return d
        if self.kind == _LIST:
            return built
        if hasattr(self.type, "_fields"):  # a namedtuple takes its items as arguments
            return self.type(*built)
        return tuple(built) if self.type is tuple else self.type(built)

    def paths(self, prefix: str = "") -> list[str]:
        """Where each leaf sits, as indexing text (``"['w'][0]"``), in flattening order; for error messages."""
        if self.kind == _LEAF:
            return [prefix]
        if self.kind == _NONE:
            return []
        steps = self.order if self.kind == _DICT else range(len(self.children))
        return [p for step, c in zip(steps, self.children, strict=True) for p in c.paths(f"{prefix}[{step!r}]")]

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, TreeDef) and self.kind == other.kind and self.type == other.type
                and self.order == other.order and self.children == other.children)

    def __hash__(self) -> int:
        return hash((self.kind, self.order, self.children))

    def __repr__(self) -> str:
        if self.kind == _LEAF:
            return "*"
        if self.kind == _NONE:
            return "None"
        if self.kind == _DICT:
            return "{" + ", ".join(f"{k!r}: {c!r}" for k, c in zip(self.order, self.children, strict=True)) + "}"
        inner = ", ".join(repr(c) for c in self.children)
        return f"[{inner}]" if self.kind == _LIST else f"({inner}{',' if len(self.children) == 1 else ''})"


def _structure(tree: Any, leaves: list, is_leaf: Callable[[Any], bool] | None) -> TreeDef:
    if is_leaf is not None and is_leaf(tree):
        leaves.append(tree)
        return TreeDef(_LEAF)
    if tree is None:
        return TreeDef(_NONE)
    if isinstance(tree, dict):
        order = _key_order(tree)
        children = tuple(_structure(tree[k], leaves, is_leaf) for k in order)
        return TreeDef(_DICT, children, tuple(tree), tuple(order), type(tree))
    if isinstance(tree, list):
        return TreeDef(_LIST, tuple(_structure(x, leaves, is_leaf) for x in tree), type_=list)
    if isinstance(tree, tuple):
        return TreeDef(_TUPLE, tuple(_structure(x, leaves, is_leaf) for x in tree), type_=type(tree))
    leaves.append(tree)
    return TreeDef(_LEAF)


def flatten(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> tuple[list, TreeDef]:
    """``(leaves, treedef)``: the leaves of ``tree`` in order (see the module's note on dict keys) and its structure.

    ``is_leaf(x)`` may stop the descent at a container (it is then one leaf).
    """
    leaves: list = []
    try:
        return leaves, _structure(tree, leaves, is_leaf)
    except RecursionError:
        raise ValueError("a container (dicts, lists, tuples) nested too deeply to walk (deeper than Python's "
                         "recursion limit); pass a flatter structure, e.g. a list of arrays or one stacked array"
                         ) from None


def unflatten(treedef: TreeDef, leaves: list | tuple) -> Any:
    """``treedef.unflatten(leaves)``."""
    return treedef.unflatten(leaves)


def tree_map(f: Callable[..., Any], tree: Any, *rest: Any) -> Any:
    """``tree`` with ``f(leaf, *matching leaves of rest)`` in place of each leaf; ``rest`` must share its structure."""
    leaves, treedef = flatten(tree)
    others = []
    for r in rest:
        r_leaves, r_def = flatten(r)
        if r_def != treedef:
            raise ValueError(f"tree_map: structures differ: {treedef!r} and {r_def!r}")
        others.append(r_leaves)
    return treedef.unflatten([f(x, *xs) for x, *xs in zip(leaves, *others, strict=True)])
