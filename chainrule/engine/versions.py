"""Version counters: an array changed in place after a node saved it makes backward raise, never a wrong gradient.

NumPy arrays have no write hook, so writes are seen where chainrule hands arrays out. ``Tensor.data`` and
``Tensor.numpy()`` give a :class:`TrackedArray`, a view of the tensor's own array whose in-place paths (item
assignment, in-place operators, ``out=``, ``fill``, ``sort``, ``np.copyto``...) call :func:`bump`; library code that
writes parameters (optimizers, ``load_state_dict``, ``nn.init``) calls :func:`bump` itself. A write counts for the
whole array: the count is kept per *root* array (the one that owns the memory), so writing through any view of it —
a slice of ``.data``, the ``.data`` of a reshaped or transposed result — counts, as PyTorch's views share their
base's counter.

Nodes and writes share one timeline: a node's sequence number (``Node.seq``, which orders backward) and the time of
each write are drawn from the same counter, ``node_sequence``. So recording costs nothing at all: "changed after the
node was made" is "last written at a time later than the node's ``seq``". Backward tests ``LAST_WRITE[0] >
node.seq`` per node (one comparison), and only a node older than the latest write has the arrays its derivatives
read looked up. Writes that bypass NumPy's Python-level entry points (``.flat[...] =``, ``ctypes``, the buffer
protocol, ``np.asarray(t)``) and writes to plain NumPy arrays passed to ops as constants are not seen.
"""

from __future__ import annotations

import inspect
import itertools
import weakref
from typing import Any

import numpy as np

from ..errors import GraphError
from ..rules.registry import ELEMENTWISE, _Marker, _parameters_read

# The timeline: graph nodes take their sequence numbers from it, and each write takes its time from it.
node_sequence = itertools.count()
# id(root array) -> [times it was changed in place, time of the last change]. An array that was never changed has
# no entry; an entry dies with its array (weakref.finalize), so an id is never mistaken for another array's.
VERSIONS: dict[int, list[int]] = {}
LAST_WRITE = [-1]  # the time of the latest write of any array


def root(array: np.ndarray) -> np.ndarray:
    """The array that owns ``array``'s memory (itself when it is no view): where its version is kept."""
    base = array.base
    while isinstance(base, np.ndarray):
        array, base = base, base.base
    return array


def bump(*arrays: np.ndarray) -> None:
    """Count one in-place change of each array (any view of it counts for its root array): at one time, after every
    node made so far, before every node made later."""
    now = LAST_WRITE[0] = next(node_sequence)
    entries = VERSIONS
    for array in arrays:
        owner = array if array.base is None else root(array)
        entry = entries.get(id(owner))
        if entry is None:
            key = id(owner)
            entries[key] = [1, now]
            weakref.finalize(owner, entries.pop, key, None).atexit = False  # nothing to tidy at exit
        else:
            entry[0] += 1
            entry[1] = now


def version(array: Any) -> int:
    """How many times ``array`` (or any view of its memory) was changed in place through chainrule: 0 if never."""
    if not isinstance(array, np.ndarray):
        return 0
    entry = VERSIONS.get(id(root(array)))
    return 0 if entry is None else entry[0]


def check(node: Any, forward: bool = False) -> None:
    """Raise GraphError if a value that ``node``'s derivatives read was changed in place after the node was made.

    ``forward`` checks the values forward mode reads (the rule's jvp) instead of those its backward reads.
    """
    made = node.seq
    if LAST_WRITE[0] < made:  # nothing was written since the node was made
        return
    xs, y, parents = node.inputs, node.output, node.parents
    n = len(xs)
    for position in _positions_read(node, forward):
        value = y if position == n else xs[position]
        if type(value) is not np.ndarray and position < n:
            # The operators read a 0-d leaf as a NumPy scalar copy (immutable), but create_graph differentiates
            # through the leaf Tensor itself, whose array the user may have changed: that counts.
            value = getattr(parents[position], "_data", value)
        if isinstance(value, np.ndarray):  # NotSaved holds no values; op results' NumPy scalars are immutable
            entry = VERSIONS.get(id(root(value)))
            if entry is not None and entry[1] > made:
                which = "its output" if position == n else f"input {position}"
                raise _changed(node, f"({which}, shape {value.shape})", entry[0], forward)
    for name, value in node.params.items():  # constants such as clip's bounds, which the derivatives may read
        for array in value if isinstance(value, tuple) else (value,):
            if isinstance(array, np.ndarray):
                entry = VERSIONS.get(id(root(array)))
                if entry is not None and entry[1] > made:
                    raise _changed(node, f"(its parameter '{name}', shape {array.shape})", entry[0], forward)


def _changed(node: Any, which: str, now: int, forward: bool) -> GraphError:
    return GraphError(
        f"one of the values saved by '{node.rule.name}' for its {'forward mode' if forward else 'backward'} "
        f"{which} was changed in place after it was recorded (it is now at version {now}); compute again after "
        "the change, or change a copy (t.data.copy())"
    )


# rule -> {(which inputs get a gradient, forward): positions read}; weak, so a user's redefined primitive goes
_READ: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _positions_read(node: Any, forward: bool) -> tuple[int, ...]:
    """Which saved values the node's derivatives read: input positions, and ``len(inputs)`` for the output.

    Backward runs the derivative of each input that gets a gradient (a parent that is not None), so only what
    those read counts: in ``x * 2`` the derivative for x is 2, and writing x afterwards changes no gradient.
    """
    rule = node.rule
    mask = tuple(parent is not None for parent in node.parents)
    known = _READ.setdefault(rule, {})
    positions = known.get((mask, forward))
    if positions is None:
        positions = known[(mask, forward)] = _read_by(rule, mask, forward)
    return positions


def _read_by(rule: Any, mask: tuple[bool, ...], forward: bool) -> tuple[int, ...]:
    n = len(mask)
    if forward:  # the rule's own summary covers its jvp (and multilinear rules, which read every input)
        inputs, output = rule.saves_input, rule.saves_output
        return tuple(i for i in range(n) if inputs[i]) + ((n,) if output else ())
    read: set[int] = set()
    variadic = rule.arity < 0
    table = rule.derivatives if rule.kind == ELEMENTWISE else rule.vjps
    offset = 0 if rule.kind == ELEMENTWISE else 1  # d(*xs, y, m) or vjp(g, *xs, y, m)
    for j, needed in enumerate(mask):
        function = table[0] if variadic else table[j]
        if not needed or isinstance(function, _Marker):
            continue
        names = _parameters_read(function)
        if names is None:  # no Python code to read: assume it reads everything
            return tuple(range(n + 1))
        names = {p: name for p, name in names.items() if name not in rule.shape_only}
        if variadic:  # vjp(i, g, xs, y, m): xs holds every input
            read.update(range(n) if 2 in names else ())
            if 3 in names:
                read.add(n)
        else:
            read.update(p - offset for p in names if offset <= p <= offset + n)
    return tuple(sorted(read))


# ---------------------------------------------------------------------------------------------------------------
# The array that Tensor.data hands out.
# ---------------------------------------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    return value.view(np.ndarray) if isinstance(value, TrackedArray) else value


# NumPy functions that write into their first argument (besides ``out=``, which any function may take).
_WRITE_FIRST = {np.copyto, np.place, np.putmask, np.put, np.put_along_axis, np.fill_diagonal}
_WRITTEN: dict[Any, tuple[tuple[int | None, str], ...]] = {}  # function -> (position or None, name) it writes


def _written_parameters(func: Any) -> tuple[tuple[int | None, str], ...]:
    try:
        parameters = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return ((None, "out"),)
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    written = []
    for i, p in enumerate(parameters):
        if p.name == "out" or (i == 0 and func in _WRITE_FIRST):
            written.append((i if p.kind in positional else None, p.name))
    return tuple(written)


def _tracked_written(func: Any, args: tuple, kwargs: dict) -> list:
    """The TrackedArrays that a call of the NumPy function ``func`` writes into."""
    spec = _WRITTEN.get(func)
    if spec is None:
        spec = _WRITTEN[func] = _written_parameters(func)
    found = []
    for position, name in spec:
        value = args[position] if position is not None and position < len(args) else kwargs.get(name)
        for array in value if isinstance(value, tuple) else (value,):
            if isinstance(array, TrackedArray):
                found.append(array)
    return found


def _roots_of(args: Any, roots: set[int]) -> set[int]:
    for a in args:
        if isinstance(a, TrackedArray):
            roots.add(id(root(a)))
        elif isinstance(a, list | tuple):
            _roots_of(a, roots)
    return roots


def _untracked_unless_view(result: Any, roots: set[int]) -> Any:
    """Results that are new arrays become plain ndarrays; views of a tracked array stay tracked."""
    if isinstance(result, TrackedArray):
        return result if id(root(result)) in roots else result.view(np.ndarray)
    if isinstance(result, tuple | list):
        items = [_untracked_unless_view(r, roots) for r in result]
        return type(result)(*items) if hasattr(result, "_fields") else type(result)(items)  # named: SVDResult
    return result


_SHOWN_AS_ARRAYS = {np.array_repr, np.array_str, np.array2string}  # printed as what it is: an ndarray


class TrackedArray(np.ndarray):
    """A view of a tensor's array that counts its in-place changes (see the module docstring).

    It reads, prints and computes like the ndarray it views; results of arithmetic on it are plain ndarrays, and
    views of it (slices, ``reshape``, ``.T``) are tracked too.
    """

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        # Lists, not tuple(generator): a tuple built from a generator is resized, and each resized tuple ends in
        # Python's free list, which then grows by one per call up to its limit (what a memory test would see).
        if out is not None:
            kwargs["out"] = tuple([_plain(o) for o in out])
        result = getattr(ufunc, method)(*[_plain(x) for x in inputs], **kwargs)
        if method == "at":  # np.add.at(a, index, b) adds into a
            if isinstance(inputs[0], TrackedArray):
                bump(inputs[0])
            return result
        if out is None:
            return result
        for o in out:
            if isinstance(o, TrackedArray):
                bump(o)
        # As NumPy does, hand back the caller's own out arrays (so ``a += 1`` leaves ``a`` the same object).
        if len(out) == 1:
            return out[0] if out[0] is not None else result
        return tuple(o if o is not None else r for o, r in zip(out, result, strict=True))

    def __array_function__(self, func, types, args, kwargs):
        if func in _SHOWN_AS_ARRAYS:
            return func(*[_plain(a) for a in args], **kwargs)
        written = _tracked_written(func, args, kwargs)
        result = super().__array_function__(func, types, args, kwargs)
        for array in written:
            bump(array)
        return _untracked_unless_view(result, _roots_of((*args, *kwargs.values()), set()))

    def __setitem__(self, index, value) -> None:
        super().__setitem__(index, value)
        bump(self)

    def __getitem__(self, index):
        result = super().__getitem__(index)
        if isinstance(result, TrackedArray) and root(result) is not root(self):  # advanced indexing copies
            return result.view(np.ndarray)
        return result

    def fill(self, value) -> None:
        super().fill(value)
        bump(self)

    def sort(self, *args, **kwargs) -> None:
        super().sort(*args, **kwargs)
        bump(self)

    def partition(self, *args, **kwargs) -> None:
        super().partition(*args, **kwargs)
        bump(self)

    def put(self, *args, **kwargs) -> None:
        super().put(*args, **kwargs)
        bump(self)

    def setfield(self, *args, **kwargs) -> None:
        super().setfield(*args, **kwargs)
        bump(self)

    def byteswap(self, inplace: bool = False):
        result = super().byteswap(inplace)
        if inplace:
            bump(self)
            return result
        return result.view(np.ndarray)

    if hasattr(np.ndarray, "itemset"):  # NumPy < 2

        def itemset(self, *args) -> None:
            super().itemset(*args)
            bump(self)

    # Copies are new arrays: hand them out plain, so arithmetic on them costs what it costs on any array.
    def copy(self, order: str = "C") -> np.ndarray:
        return self.view(np.ndarray).copy(order)

    def astype(self, *args, **kwargs):
        result = super().astype(*args, **kwargs)
        return result if result is self else result.view(np.ndarray)

    def flatten(self, order: str = "C") -> np.ndarray:
        return self.view(np.ndarray).flatten(order)

    def __copy__(self) -> np.ndarray:
        return self.copy()

    def __deepcopy__(self, memo) -> np.ndarray:
        return self.copy()

    def __reduce__(self):  # pickles as a plain ndarray (a copy, as pickling always is)
        return self.view(np.ndarray).__reduce__()

    def __repr__(self) -> str:
        return repr(self.view(np.ndarray))

