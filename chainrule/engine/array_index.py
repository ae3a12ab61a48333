"""NumPy's indexing on arrays of other libraries: ``x[index]`` and its gradient, the scatter-add, for every index
NumPy takes, in any Array API library.

The standard indexes with ints, slices, ``...`` and None, with integer arrays only when every axis has one, and with
one boolean mask alone; NumPy takes any mix. ``plan`` reduces a NumPy index to three steps that every library has:

1. new axes: None and boolean scalars (``x[True]``) insert axes of length 1 (a reshape);
2. slices and, when no array is present, ints: basic indexing (a slice of negative step reads the flipped axis
   forwards, as PyTorch's slices take no negative step);
3. integer arrays, masks (the positions of their True elements, one array per axis they cover), and the ints and
   boolean scalars among them: a ``take`` of rows at flat positions, whose broadcast axes then go where NumPy puts
   them: at the first array's place when the arrays are adjacent in the index, else in front.

The gradient takes the steps backwards: the axes moved back, the rows scatter-added (repeated places add up), the
slices placed into zeros, the new axes dropped. Bounds are checked as NumPy checks them, with NumPy's IndexError
messages: for index arrays on a device, that reads one boolean back per array (a mask's positions are a read too).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

_VALID = ("only integers, slices (`:`), ellipsis (`...`), numpy.newaxis (`None`) and integer or boolean arrays are "
          "valid indices")


@dataclass(frozen=True)
class Plan:
    """A NumPy index on an array of ``shape``, as the three steps of the module's docstring."""

    shape: tuple[int, ...]  # the indexed array's
    expanded: tuple[int, ...]  # the same with the new axes (length 1) inserted
    basic: tuple  # per expanded axis, an int or a slice (slice(None) where arrays index)
    axes: tuple[int, ...]  # the expanded axes that arrays index, ascending
    arrays: tuple  # for each of those axes, non-negative int64 positions, broadcastable to ``picked``
    picked: tuple[int, ...]  # the shape the arrays broadcast to
    place: int  # where the picked axes go in the result


def plan(backend: Any, index: Any, shape: tuple[int, ...], like: Any, check: bool = True) -> Plan:
    """The plan of ``index`` on an array of ``shape`` (index arrays moved to ``like``'s library and device).

    Errors are NumPy's, in NumPy's order: the index's form (types, ellipses, count, masks' shapes), then the ints'
    bounds, then whether the arrays broadcast, then the arrays' bounds (only when they pick something). With
    ``check``, that last check reads one boolean per array on a device; ``check=False`` (for the gradient, of an index
    already checked) reads nothing."""
    items = [_kind(backend, i, like) for i in (index if type(index) is tuple else (index,))]
    if sum(kind == "ellipsis" for kind, _ in items) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    ndim = len(shape)
    named = sum(len(value.shape) if kind == "mask" else kind in ("int", "slice", "array") for kind, value in items)
    if named > ndim:
        raise IndexError(f"too many indices for array: array is {ndim}-dimensional, but {named} were indexed")
    axis, outside = 0, None
    for kind, value in items:  # (axis: where each item starts)
        if kind == "mask":
            for k, (n, m) in enumerate(zip(shape[axis:], value.shape, strict=False)):
                if n != m:
                    raise IndexError(f"boolean index did not match indexed array along axis {axis + k}; size of "
                                     f"axis is {n} but size of corresponding boolean axis is {m}")
        elif kind == "int" and not -shape[axis] <= value < shape[axis]:
            outside = outside or (value, axis)
        axis += ndim - named if kind == "ellipsis" else len(value.shape) if kind == "mask" else kind in (
            "int", "slice", "array")
    if outside:
        raise IndexError(f"index {outside[0]} is out of bounds for axis {outside[1]} with size {shape[outside[1]]}")
    fancy = any(kind in ("bool", "mask", "array") for kind, _ in items)  # then ints are advanced too (NumPy's rule)
    expanded, basic, axes, arrays, unchecked, from_ints = [], [], [], [], [], set()
    axis, run, place = 0, 0, 0  # run: 0 before the arrays, 1 among them, 2 after them, 3 when they are apart

    def keep(size, item=slice(None)):
        expanded.append(size)
        basic.append(item)

    def advanced(size, positions):
        nonlocal run, place
        if run == 0:
            run, place = 1, len(expanded)
        elif run == 2:
            run = 3
        axes.append(len(expanded))
        arrays.append(positions)
        keep(size)

    for kind, value in items:
        if kind not in ("bool", "mask", "array") and not (kind == "int" and fancy) and run == 1:
            run = 2  # a slice, None or ... (even one of no axes) ends the arrays' run
        if kind == "ellipsis":
            for _ in range(ndim - named):
                keep(shape[axis])
                axis += 1
        elif kind == "new":
            keep(1)
        elif kind == "bool":
            advanced(1, _bool_positions(backend, value, like))
        elif kind == "mask":
            positions = np.nonzero(value) if isinstance(value, np.ndarray) else backend.xp.nonzero(value)
            for p in positions:
                advanced(shape[axis], _moved(backend, p, like))
                axis += 1
        elif kind == "slice":
            keep(shape[axis], value)
            axis += 1
        elif kind == "int":
            n = shape[axis]
            if fancy:
                from_ints.add(len(arrays))
                advanced(n, backend.asarray(np.asarray(value % n, dtype=np.int64), like))
            else:
                keep(n, value % n)
            axis += 1
        else:
            unchecked.append((len(arrays), axis))
            advanced(shape[axis], value)
            axis += 1
    for n in shape[axis:]:
        keep(n)
    try:
        picked = np.broadcast_shapes(*(tuple(a.shape) for a in arrays))
    except ValueError:
        # NumPy's message leaves out the ints and 0-d arrays (scalars to it)
        shapes = " ".join(_numpy_shape(a.shape) for k, a in enumerate(arrays) if k not in from_ints and a.shape)
        raise IndexError(f"shape mismatch: indexing arrays could not be broadcast together with shapes {shapes} ") \
            from None
    for k, axis in unchecked:  # (NumPy checks no bounds when the arrays pick nothing)
        arrays[k] = _positions(backend, arrays[k], shape[axis], axis, like, check and math.prod(picked) > 0)
    return Plan(tuple(shape), tuple(expanded), tuple(basic), tuple(axes), tuple(arrays), picked,
                place if run in (1, 2) else 0)


def _numpy_shape(shape: tuple[int, ...]) -> str:
    """A shape written as NumPy writes it in its messages: (2,1), (3,), ()."""
    return "(" + ",".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _kind(backend: Any, item: Any, like: Any) -> tuple[str, Any]:
    """(kind, value) of one item of an index: new, ellipsis, slice, int, bool (a scalar), mask or array."""
    if item is None:
        return "new", None
    if item is Ellipsis:
        return "ellipsis", None
    if isinstance(item, slice):
        return "slice", item
    if isinstance(item, bool | np.bool_):  # (before int: True is an int to Python)
        return "bool", bool(item)
    if isinstance(item, numbers.Integral):
        return "int", int(item)
    if isinstance(item, list | tuple):
        item = np.asarray(item) if len(item) else np.asarray(item, dtype=np.int64)
    if not isinstance(item, np.ndarray):
        if not (hasattr(item, "dtype") and hasattr(item, "shape")):
            raise IndexError(_VALID)
        _same_home(backend, item, like)
    if _is(backend, item, "bool"):
        return ("bool", item) if len(item.shape) == 0 else ("mask", item)
    if not _is(backend, item, "integral"):
        raise IndexError("arrays used as indices must be of integer (or boolean) type")
    return "array", item


def _is(backend: Any, array: Any, kind: str) -> bool:
    if isinstance(array, np.ndarray):
        return array.dtype.kind == "b" if kind == "bool" else array.dtype.kind in "iu"
    return backend.xp.isdtype(array.dtype, kind)


def _same_home(backend: Any, item: Any, like: Any) -> None:
    """An index array of another library or on another device is refused (it is never moved silently)."""
    if type(item) is not type(like):
        raise TypeError(f"an index array of type {type(item).__module__}.{type(item).__name__} cannot index a "
                        f"{backend.name} array; move it explicitly (to the array's library and device) first")
    here, there = _device(like), _device(item)
    if here != there:
        raise ValueError(f"an index array on device {there} cannot index an array on device {here}; move it "
                         "explicitly first")


def _device(x: Any) -> Any:
    import array_api_compat  # (present: foreign arrays come here only)

    return array_api_compat.device(x)


def _moved(backend: Any, positions: Any, like: Any) -> Any:
    """int64 positions in like's library and on its device."""
    if isinstance(positions, np.ndarray):
        return backend.asarray(positions.astype(np.int64, copy=False), like)
    xp = backend.xp
    return positions if positions.dtype == xp.int64 else xp.astype(positions, xp.int64)


def _bool_positions(backend: Any, value: Any, like: Any) -> Any:
    """A boolean scalar indexes its new axis of length 1 at [0] (True) or at no place (False)."""
    if isinstance(value, bool | np.ndarray):
        return backend.asarray(np.zeros(int(bool(value)), dtype=np.int64), like)
    return _moved(backend, backend.xp.nonzero(backend.xp.reshape(value, (1,)))[0], like)


def _positions(backend: Any, array: Any, n: int, axis: int, like: Any, check: bool) -> Any:
    """An integer index array along an axis of length ``n``: bounds checked as NumPy does, negative entries counted
    from the end, int64 in like's library."""
    if isinstance(array, np.ndarray):
        bad = (array < -n) | (array >= n)
        if check and bad.any():
            raise IndexError(f"index {array[bad].flat[0]} is out of bounds for axis {axis} with size {n}")
        return _moved(backend, np.where(array < 0, array + n, array), like)
    xp = backend.xp
    array = _moved(backend, array, like)
    if check:
        bad = (array < -n) | (array >= n)
        if bool(xp.any(bad)):
            first = xp.reshape(array, (-1,))[xp.reshape(bad, (-1,))][0]
            raise IndexError(f"index {int(first)} is out of bounds for axis {axis} with size {n}")
    return xp.where(array < 0, array + n, array)


# ---------------------------------------------------------------------------------------------------------------
# x[index] and its gradient.
# ---------------------------------------------------------------------------------------------------------------
def take(backend: Any, x: Any, p: Plan) -> Any:
    """``x[index]`` by the plan's steps."""
    xp = backend.xp
    if p.expanded != p.shape:
        x = xp.reshape(x, p.expanded)
    x = _basic(xp, x, p.basic)
    if not p.axes:
        return x
    order = (*p.axes, *(a for a in range(x.ndim) if a not in p.axes))
    if order != tuple(range(x.ndim)):
        x = xp.permute_dims(x, order)
    lead, tail = tuple(x.shape[:len(p.axes)]), tuple(x.shape[len(p.axes):])
    if math.prod(p.picked) == 0 or math.prod(tail) == 0:
        out = xp.zeros(p.picked + tail, dtype=x.dtype, device=_device(x))
    else:
        rows = xp.take(xp.reshape(x, (math.prod(lead), math.prod(tail))), _flat(xp, p, lead), axis=0)
        out = xp.reshape(rows, p.picked + tail)
    return _permuted(xp, out, _picked_to(p.place, len(p.picked), out.ndim))


def put(backend: Any, g: Any, p: Plan) -> Any:
    """The gradient of ``x[index]``: ``g`` added into zeros of x's shape at the indexed places."""
    xp = backend.xp
    if p.axes:
        g = _permuted(xp, g, _inverse(_picked_to(p.place, len(p.picked), g.ndim)))
        rest = [a for a in range(len(p.expanded)) if a not in p.axes]
        lead = tuple(p.expanded[a] for a in p.axes)
        rows = _scatter_add(backend, g, p, lead, tuple(g.shape[len(p.picked):]))
        g = _permuted(xp, rows, _inverse((*p.axes, *rest)))
    out = _basic_put(xp, g, p.basic, p.expanded)
    return out if p.expanded == p.shape else xp.reshape(out, p.shape)


def _flat(xp: Any, p: Plan, lead: tuple[int, ...]) -> Any:
    """The flat position of each picked row over the arrays' axes (1-D, in NumPy's order)."""
    flat = 0
    for positions, n in zip(p.arrays, lead, strict=True):
        flat = flat * n + positions
    return xp.reshape(xp.broadcast_to(flat, p.picked), (math.prod(p.picked),))


def _scatter_add(backend: Any, g: Any, p: Plan, lead: tuple[int, ...], tail: tuple[int, ...]) -> Any:
    """Zeros of lead + tail with g's rows (g of shape picked + tail) added at the arrays' places: PyTorch's
    ``index_put_(..., accumulate=True)``, else a one-hot matrix product per block of rows (the Array API has no
    scatter-add). Repeated places add up; every sum is of g's own values."""
    xp = backend.xp
    out = xp.zeros(lead + tail, dtype=g.dtype, device=_device(g))
    if math.prod(p.picked) == 0 or math.prod(lead + tail) == 0:
        return out
    if backend.name == "torch":
        out.index_put_(p.arrays, g, accumulate=True)
        return out
    size, width, count = math.prod(lead), math.prod(tail), math.prod(p.picked)
    flat = _flat(xp, p, lead)
    rows = xp.reshape(g, (count, width))
    places = xp.arange(size, device=_device(g))
    out = xp.reshape(out, (size, width))
    step = max(1, backend.m.ONE_HOT_BLOCK // size)
    for start in range(0, count, step):
        block = slice(start, min(start + step, count))  # (the standard takes no stop past the end)
        one_hot = xp.astype(flat[block, None] == places[None, :], g.dtype)
        out = out + xp.matmul(xp.matrix_transpose(one_hot), rows[block, ...])
    return xp.reshape(out, lead + tail)


def _basic(xp: Any, x: Any, basic: tuple) -> Any:
    """x[basic] for ints and slices naming every axis."""
    if all(i == slice(None) for i in basic):
        return x
    flips, items = _forward_slices(basic, tuple(x.shape))
    if flips:
        x = xp.flip(x, axis=flips)
    return x[items]


def _basic_put(xp: Any, g: Any, basic: tuple, shape: tuple[int, ...]) -> Any:
    """Zeros of ``shape`` with g at ``basic`` (each place once)."""
    if all(i == slice(None) for i in basic):
        return g
    out = xp.zeros(shape, dtype=g.dtype, device=_device(g))
    flips, items = _forward_slices(basic, shape)
    if math.prod(g.shape):
        out[items] = g
    return xp.flip(out, axis=flips) if flips else out


def _forward_slices(basic: tuple, shape: tuple[int, ...]) -> tuple[tuple[int, ...], tuple]:
    """(axes, items): ``basic`` with each slice made one of positive step and bounds inside the axis (the standard
    asks for both), a slice of negative step made the one that picks the same elements, in the same order, from the
    array flipped along ``axes``."""
    flips, items = [], []
    for axis, (i, n) in enumerate(zip(basic, shape, strict=True)):
        if isinstance(i, slice):
            picked = range(*i.indices(n))
            if not picked:
                i = slice(0, 0)
            elif picked.step > 0:
                i = slice(picked[0], picked[-1] + 1, picked.step)
            else:
                i = slice(n - 1 - picked[0], n - picked[-1], -picked.step)
                flips.append(axis)
        items.append(i)
    return tuple(flips), tuple(items)


def _picked_to(place: int, picked: int, ndim: int) -> tuple[int, ...]:
    """The order of axes that moves the ``picked`` leading axes of a take's result to position ``place``."""
    return (*range(picked, picked + place), *range(picked), *range(picked + place, ndim))


def _permuted(xp: Any, x: Any, order: tuple[int, ...]) -> Any:
    return x if order == tuple(range(len(order))) else xp.permute_dims(x, order)


def _inverse(order: tuple[int, ...]) -> tuple[int, ...]:
    """The permutation of axes that undoes ``order``."""
    return tuple(int(a) for a in np.argsort(order))
