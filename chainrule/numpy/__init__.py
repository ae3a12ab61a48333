"""``import chainrule.numpy as cnp``: NumPy's names and signatures, differentiable.

A function with a Tensor among its inputs returns a Tensor whose gradient flows to it; with none, it returns what
NumPy returns. Each function is a rule of the table (``cnp.sin`` is ``cr.sin``) or an honest composition of rules:
rearrangements (``roll``, ``tile``, ``sort``, ``pad``...) gather the elements by index, so their gradient is the
scatter-add of ``getitem``; products (``dot``, ``tensordot``, ``einsum``...) are ``matmul``, or broadcast products and
sums. ``cnp.linalg`` is loaded on first use. The same functions answer NumPy's own calls on Tensors (``np.sin(t)``).

>>> import numpy as np, chainrule as cr, chainrule.numpy as cnp
>>> x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> ((x * 2).sum() + cnp.dot(x, x)).backward()
>>> x.grad
tensor([4., 6., 8.])
"""

from __future__ import annotations

import builtins
import functools
import itertools
import numbers
import string
import types

import numpy as np

from .. import ops
from ..errors import DomainError, ShapeError
from ..tensor import Tensor
from ._errors import named_errors
from ._helpers import _axis, _nan_free, _no_out, _positions, _t

__all__: list[str] = []


def _numpy_name(function):
    """``function`` under NumPy's name: with no Tensor among the inputs it is NumPy's function itself."""
    numpy_function = getattr(np, function.__name__)

    on_tensors = named_errors(function.__name__)(function)

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        if not ops.holds_tensor(args) and not ops.holds_tensor(kwargs.values()):
            return numpy_function(*args, **kwargs)
        return on_tensors(*args, **kwargs)

    __all__.append(function.__name__)
    return wrapper


# ---------------------------------------------------------------------------------------------------------------
# Elementwise functions: the rule table's entries under NumPy's names.
# ---------------------------------------------------------------------------------------------------------------
_ELEMENTWISE = (
    "add", "subtract", "multiply", "divide", "true_divide", "power", "negative", "exp", "expm1", "exp2", "log",
    "log2", "log10", "log1p", "sqrt", "square", "reciprocal", "cbrt", "sin", "cos", "tan", "arcsin", "arccos",
    "arctan", "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh", "sinc", "abs", "absolute", "sign", "maximum",
    "minimum", "arctan2", "hypot", "logaddexp", "logaddexp2", "floor", "ceil", "rint", "trunc", "less",
    "less_equal", "greater", "greater_equal", "equal", "not_equal",
)


def _elementwise(name: str):
    op = ops.log if name == "log" else getattr(ops, name)

    def function(*args):
        return op(*args)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"NumPy's {name}, differentiable: chainrule's rule '{name}'."
    return _numpy_name(function)


for _name in _ELEMENTWISE:
    globals()[_name] = _elementwise(_name)
fabs = absolute = globals()["absolute"]


@_numpy_name
def positive(x):
    return _t(x)


@_numpy_name
def mod(a, b):
    """a mod b with the sign of b (NumPy's values exactly). ∂/∂a = 1, ∂/∂b = −floor(a/b)."""
    return _remainder(a, b, np.mod, np.floor)


@_numpy_name
def remainder(a, b):
    """The same as :func:`mod`."""
    return _remainder(a, b, np.remainder, np.floor)


@_numpy_name
def fmod(a, b):
    """C's fmod: the remainder with the sign of a. ∂/∂a = 1, ∂/∂b = −trunc(a/b)."""
    return _remainder(a, b, np.fmod, np.trunc)


def _remainder(a, b, numpy_function, rounding):
    return ops.remainder(a, b, numpy_function, rounding)


@_numpy_name
def round(a, decimals: int = 0, out=None):
    """Round to ``decimals`` places; no gradient (piecewise constant)."""
    _no_out("round", out)
    a = _t(a)
    if a.dtype.kind in "biuc":  # NumPy rounds integers to integers; complex parts each, not by complex division
        return Tensor._make(np.round(a._array(), decimals), None, False)
    if decimals == 0:
        return ops.apply(ops.lookup("rint"), (_t(a),))
    scale = 10.0 ** decimals
    return ops.apply(ops.lookup("rint"), (_t(a) * scale,)) / scale


around = round


@_numpy_name
def clip(a, a_min=None, a_max=None, out=None, *, min=None, max=None):
    """Limit values to [a_min, a_max]; bounds that require grad get theirs too (as maximum and minimum)."""
    _no_out("clip", out)
    lo = a_min if a_min is not None else min
    hi = a_max if a_max is not None else max
    if ops.holds_tensor([lo, hi]) and builtins.any(isinstance(b, Tensor) and b.requires_grad for b in (lo, hi)):
        out = _t(a) if lo is None else ops.maximum(a, lo)
        return out if hi is None else ops.minimum(out, hi)
    return ops.clip(a, ops.stop(lo), ops.stop(hi))


@_numpy_name
def where(condition, x=None, y=None):
    """x where condition, else y; with the condition only, NumPy's indices of its nonzero elements."""
    if x is None and y is None:
        return np.nonzero(ops.stop(condition))
    return ops.where(condition, x, y)


_where_positional = where


@functools.wraps(_where_positional)
def where(condition, x=None, y=None):  # keywords too, as HIPS autograd accepts (NumPy: positional only)
    if (x is None) != (y is None):
        raise ValueError("cnp.where: give both x and y, or neither (then the indices where condition holds)")
    return _where_positional(condition) if x is None else _where_positional(condition, x, y)


@_numpy_name
def select(condlist, choicelist, default=0):
    """The choice of the first condition that holds, element by element (nested ``where``)."""
    if len(condlist) != len(choicelist):
        raise ValueError(f"select: {len(condlist)} conditions but {len(choicelist)} choices; expected as many")
    out = default
    for condition, choice in zip(reversed(condlist), reversed(choicelist), strict=True):
        out = ops.where(condition, choice, out)
    return _t(out)


# ---------------------------------------------------------------------------------------------------------------
# Reductions.
# ---------------------------------------------------------------------------------------------------------------
def _reduction(name: str, op):
    def function(a, axis=None, dtype=None, out=None, keepdims=False, **rest):
        _no_out(name, out, dtype=dtype, **rest)
        return op(a, axis=axis, keepdims=keepdims)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"NumPy's {name} over ``axis``, differentiable."
    return _numpy_name(function)


sum = _reduction("sum", ops.sum)
mean = _reduction("mean", ops.mean)
prod = _reduction("prod", ops.prod)


def _extreme(name: str, op):
    def function(a, axis=None, out=None, keepdims=False, **rest):
        _no_out(name, out, **rest)
        return op(a, axis=axis, keepdims=keepdims)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"NumPy's {name}; tied elements share the gradient evenly."
    return _numpy_name(function)


max = _extreme("max", ops.max)
min = _extreme("min", ops.min)
amax = _extreme("amax", ops.max)
amin = _extreme("amin", ops.min)


@_numpy_name
def ptp(a, axis=None, out=None, keepdims=False):
    """Peak to peak, max − min along ``axis``; tied extremes share the gradient evenly."""
    _no_out("ptp", out)
    return ops.max(a, axis=axis, keepdims=keepdims) - ops.min(a, axis=axis, keepdims=keepdims)


def _spread(name: str, op):
    def function(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, **rest):
        _no_out(name, out, dtype=dtype, **rest)
        return op(a, axis=axis, keepdims=keepdims, ddof=ddof)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"NumPy's {name} with ``ddof``, differentiable."
    return _numpy_name(function)


var = _spread("var", ops.var)
std = _spread("std", ops.std)


@_numpy_name
def nansum(a, axis=None, dtype=None, out=None, keepdims=False):
    """Sum with NaNs counted as 0 (they get no gradient)."""
    _no_out("nansum", out, dtype=dtype)
    a = _t(a)
    if a.dtype.kind not in "fc":  # integers and booleans hold no NaN: their plain (integer) sum, as NumPy's
        return ops.sum(a, axis=axis, keepdims=keepdims)
    return ops.sum(ops.where(np.isnan(a._array()), 0.0, a), axis=axis, keepdims=keepdims)


@_numpy_name
def nanmean(a, axis=None, dtype=None, out=None, keepdims=False):
    """Mean of the non-NaN elements (they get 1/count each; NaNs get no gradient)."""
    _no_out("nanmean", out, dtype=dtype)
    a = _t(a)
    count = np.sum(~np.isnan(a._array()), axis=_axis(axis), keepdims=keepdims)
    # the count in a's precision; integers and booleans average in float64 (a count cast to bool was 1)
    return nansum(a, axis=axis, keepdims=keepdims) / count.astype(a.dtype if a.dtype.kind in "fc" else np.float64)


@_numpy_name
def average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    """The (weighted) mean: Σ w·a / Σ w over ``axis``; the weights may be tensors too."""
    a = _t(a)
    if weights is None:
        result = ops.mean(a, axis=axis, keepdims=keepdims)
        total = np.broadcast_to(np.asarray(a.size // builtins.max(result.size, 1), dtype=a.dtype), result.shape)
        return (result, total) if returned else result
    w = _t(weights)
    if w.shape != a.shape:
        if axis is None or not isinstance(axis, numbers.Integral) or w.ndim != 1 or w.shape[0] != a.shape[axis]:
            raise ShapeError(f"average: weights of shape {w.shape} do not fit a of shape {a.shape} along axis "
                             f"{axis}; expected a's shape, or 1-D of a's length along axis")
        shape = [1] * a.ndim
        shape[axis] = w.shape[0]
        w = ops.reshape(w, tuple(shape))
    total = ops.sum(ops.broadcast_to(w, a.shape), axis=axis, keepdims=keepdims)
    result = ops.sum(a * w, axis=axis, keepdims=keepdims) / total
    return (result, total) if returned else result


# ---------------------------------------------------------------------------------------------------------------
# Shapes.
# ---------------------------------------------------------------------------------------------------------------
@_numpy_name
def reshape(a, shape=None, order="C", *, newshape=None):
    """NumPy's reshape (C order)."""
    if order != "C":
        raise TypeError(f"cnp.reshape: order={order!r} is not supported on tensors; expected 'C'")
    return ops.reshape(a, shape if shape is not None else newshape)


@_numpy_name
def transpose(a, axes=None):
    """Permute the axes (reverse them by default)."""
    return ops.transpose(a, axes) if axes is not None else ops.transpose(a)


@_numpy_name
def swapaxes(a, axis1, axis2):
    """Exchange two axes."""
    return ops.swapaxes(a, axis1, axis2)


@_numpy_name
def moveaxis(a, source, destination):
    """Move axes to new positions; the others keep their order."""
    a = _t(a)
    src = _positions(source, a.ndim, "moveaxis")
    dst = _positions(destination, a.ndim, "moveaxis")
    if len(src) != len(dst):
        raise ValueError("moveaxis: source and destination must have the same number of axes")
    order = [n for n in range(a.ndim) if n not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        order.insert(d, s)
    return ops.transpose(a, tuple(order))


@_numpy_name
def ravel(a, order="C"):
    """The elements as a 1-D tensor."""
    return ops.reshape(a, (-1,))


@_numpy_name
def squeeze(a, axis=None):
    return ops.squeeze(a, axis)


@_numpy_name
def expand_dims(a, axis):
    return ops.unsqueeze(a, axis)


@_numpy_name
def broadcast_to(array, shape):
    return ops.broadcast_to(array, shape)


def _atleast(a, ndim):
    a = _t(a)
    if a.ndim >= ndim:
        return a
    shape = {0: {1: (1,), 2: (1, 1), 3: (1, 1, 1)}, 1: {2: (1, -1), 3: (1, -1, 1)}, 2: {3: a.shape + (1,)}}
    return ops.reshape(a, shape[a.ndim][ndim])


def _atleast_function(ndim):
    def function(*arys):
        out = [_atleast(a, ndim) for a in arys]
        return out[0] if len(out) == 1 else out

    function.__name__ = function.__qualname__ = f"atleast_{ndim}d"
    function.__doc__ = f"Inputs viewed with at least {ndim} dimension(s), as NumPy does."
    return _numpy_name(function)


atleast_1d, atleast_2d, atleast_3d = (_atleast_function(n) for n in (1, 2, 3))


@_numpy_name
def concatenate(arrays, axis=0, out=None, **rest):
    _no_out("concatenate", out, **rest)
    if axis is None:
        return ops.concatenate([ravel(a) for a in arrays], 0)
    return ops.concatenate(list(arrays), axis)


@_numpy_name
def stack(arrays, axis=0, out=None, **rest):
    _no_out("stack", out, **rest)
    return ops.stack(list(arrays), axis)


@_numpy_name
def hstack(tup, **rest):
    arrays = [_atleast(a, 1) for a in tup]
    return ops.concatenate(arrays, 0 if arrays[0].ndim == 1 else 1)


@_numpy_name
def vstack(tup, **rest):
    return ops.concatenate([_atleast(a, 2) for a in tup], 0)


@_numpy_name
def dstack(tup, **rest):
    return ops.concatenate([_atleast(a, 3) for a in tup], 2)


@_numpy_name
def column_stack(tup):
    arrays = [_t(a) for a in tup]
    return ops.concatenate([ops.reshape(a, (-1, 1)) if a.ndim < 2 else a for a in arrays], 1)


@_numpy_name
def array_split(ary, indices_or_sections, axis=0):
    """Split into pieces along ``axis``; sections need not divide the length (the first ones are one longer)."""
    a = _t(ary)
    axis = _positions(axis, a.ndim, "array_split")[0]
    n = a.shape[axis]
    if isinstance(indices_or_sections, numbers.Integral):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError(f"array_split: the number of sections must be positive, got {sections}")
        each, extra = builtins.divmod(n, sections)
        sizes = [0] + [each + 1] * extra + [each] * (sections - extra)
        bounds = np.cumsum(sizes).tolist()
    else:
        bounds = [0, *(int(i) for i in indices_or_sections), n]
    head = (slice(None),) * axis
    return [ops.getitem(a, head + (slice(lo, hi),)) for lo, hi in itertools.pairwise(bounds)]


@_numpy_name
def split(ary, indices_or_sections, axis=0):
    """Split into equal sections (an error if they do not divide the length), or at indices."""
    a = _t(ary)
    if isinstance(indices_or_sections, numbers.Integral):
        n = a.shape[_positions(axis, a.ndim, "split")[0]]
        if indices_or_sections <= 0 or n % indices_or_sections:
            raise ShapeError(f"split: an axis of length {n} cannot be split into {indices_or_sections} equal "
                             "sections; use array_split")
    return array_split(a, indices_or_sections, axis)


@_numpy_name
def hsplit(ary, indices_or_sections):
    return split(ary, indices_or_sections, 1 if _t(ary).ndim > 1 else 0)


@_numpy_name
def vsplit(ary, indices_or_sections):
    return split(ary, indices_or_sections, 0)


@_numpy_name
def dsplit(ary, indices_or_sections):
    return split(ary, indices_or_sections, 2)


# ---------------------------------------------------------------------------------------------------------------
# Rearrangements: the elements gathered by index (NumPy's function applied to their positions), so the gradient is
# getitem's scatter-add, exact for every order.
# ---------------------------------------------------------------------------------------------------------------
def _gather(a, positions_of) -> Tensor:
    a = _t(a)
    positions = positions_of(np.arange(a.size).reshape(a.shape))
    return ops.getitem(ops.reshape(a, (-1,)), np.asarray(positions))


@_numpy_name
def roll(a, shift, axis=None):
    return _gather(a, lambda p: np.roll(p, shift, axis))


@_numpy_name
def tile(A, reps):
    return _gather(A, lambda p: np.tile(p, reps))


@_numpy_name
def repeat(a, repeats, axis=None):
    return _gather(a, lambda p: np.repeat(p, ops.stop(repeats), axis))


@_numpy_name
def rot90(m, k=1, axes=(0, 1)):
    return _gather(m, lambda p: np.rot90(p, k, axes))


@_numpy_name
def flip(m, axis=None):
    m = _t(m)
    axes = range(m.ndim) if axis is None else _positions(axis, m.ndim, "flip")
    index = [slice(None)] * m.ndim
    for a in axes:
        index[a] = slice(None, None, -1)
    return ops.getitem(m, tuple(index))


@_numpy_name
def fliplr(m):
    return flip(m, 1)


@_numpy_name
def flipud(m):
    return flip(m, 0)


@_numpy_name
def take(a, indices, axis=None, out=None, mode="raise"):
    _no_out("take", out)
    if isinstance(indices, list | tuple) and ops.holds_tensor(indices):
        indices = [ops.stop(i) for i in indices]
    index = np.asarray(ops.stop(indices))
    if index.dtype.kind not in "iub":  # never truncate floats (a value that may carry a gradient) into indices
        raise TypeError(f"cnp.take: indices must be integers, got dtype {index.dtype}")
    return _gather(a, lambda p: np.take(p, index, axis=axis, mode=mode))


@_numpy_name
def compress(condition, a, axis=None, out=None):
    """The slices of ``a`` along ``axis`` (of the flattened ``a`` by default) where ``condition`` holds."""
    _no_out("compress", out)
    condition = np.asarray(ops.stop(condition))
    if condition.ndim != 1:
        raise ValueError(f"cnp.compress: condition must be 1-D, got shape {condition.shape}")
    return _gather(a, lambda p: np.compress(condition, p, axis=axis))


@_numpy_name
def take_along_axis(arr, indices, axis):
    return _gather(arr, lambda p: np.take_along_axis(p, ops.stop(indices), axis))


@_numpy_name
def sort(a, axis=-1, kind=None, order=None):
    """Sorted values; each carries the gradient of the element it came from (ties: NumPy's stable order)."""
    a = _t(a)
    if a.dtype.kind == "c":
        raise TypeError(f"cnp.sort does not support complex input (got dtype {a.dtype}): complex numbers have no "
                        "order with a derivative; sort by a real key instead, e.g. a[cnp.argsort(cnp.abs(a))]")
    if axis is None:
        a, axis = ops.reshape(a, (-1,)), 0
    order_ = np.argsort(a._array(), axis=axis, kind="stable")
    return _gather(a, lambda p: np.take_along_axis(p, order_, axis))


@_numpy_name
def diagonal(a, offset=0, axis1=0, axis2=1):
    return _gather(a, lambda p: np.diagonal(p, offset, axis1, axis2))


@_numpy_name
def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    _no_out("trace", out, dtype=dtype)
    return ops.sum(diagonal(a, offset, axis1, axis2), axis=-1)


@_numpy_name
def diag(v, k=0):
    """The k-th diagonal of a matrix, or the square matrix with v on its k-th diagonal."""
    v = _t(v)
    if v.ndim == 2:
        return diagonal(v, k)
    if v.ndim != 1:
        raise ShapeError(f"diag: expected a 1-D or 2-D input, got shape {v.shape}")
    # Positions of v's elements, and -1 (an appended zero) everywhere else.
    positions = np.diag(np.arange(1, v.size + 1), k) - 1
    return ops.getitem(ops.concatenate([v, ops.zeros_like(v[:1])], 0), positions)


@_numpy_name
def diagflat(v, k=0):
    """The square matrix with the flattened ``v`` on its k-th diagonal."""
    return diag(ravel(v), k)


@_numpy_name
def pad(array, pad_width, mode="constant", **kwargs):
    """NumPy's pad for the modes that copy elements: constant (a number), edge, reflect, symmetric, wrap."""
    a = _t(array)
    if mode not in ("constant", "edge", "reflect", "symmetric", "wrap") or kwargs.get("reflect_type", "even") != "even":
        raise TypeError(f"cnp.pad: mode={mode!r} is not supported on tensors; expected 'constant', 'edge', "
                        "'reflect', 'symmetric' or 'wrap' (reflect_type='even')")
    if mode == "constant":
        value = kwargs.get("constant_values", 0)
        if np.ndim(ops.stop(value)) != 0:
            raise TypeError("cnp.pad: constant_values must be one number on tensors")
        positions = np.pad(np.arange(a.size).reshape(a.shape), pad_width, constant_values=a.size)
        fill = ops.reshape(ops.astype(ops.as_tensor(value), a.dtype), (1,)) if isinstance(value, Tensor) else \
            ops.as_tensor(np.full(1, value, dtype=a.dtype))
        return ops.getitem(ops.concatenate([ops.reshape(a, (-1,)), fill], 0), positions)
    return _gather(a, lambda p: np.pad(p, pad_width, mode=mode))


@_numpy_name
def tril(m, k=0):
    m = _t(m)
    return ops.where(np.tri(*m.shape[-2:], k=k, dtype=bool), m, np.zeros((), m.dtype))  # zeros of m's dtype


@_numpy_name
def triu(m, k=0):
    m = _t(m)
    return ops.where(np.tri(*m.shape[-2:], k=k - 1, dtype=bool), np.zeros((), m.dtype), m)


# ---------------------------------------------------------------------------------------------------------------
# Cumulative functions and differences.
# ---------------------------------------------------------------------------------------------------------------
def _along_last(a, axis, function, name: str):
    a = _t(a)
    if axis is None:
        return function(ops.reshape(a, (-1,)))
    axis = _positions(axis, a.ndim, name)[0]
    return ops.swapaxes(function(ops.swapaxes(a, axis, -1)), axis, -1)


@_numpy_name
def cumsum(a, axis=None, dtype=None, out=None):
    """Running sums: the rule ``cumsum`` (its gradient is the running sum of g from the end)."""
    _no_out("cumsum", out, dtype=dtype)
    return ops.cumsum(_t(a), axis)


@_numpy_name
def cumprod(a, axis=None, dtype=None, out=None):
    """Running products as a prefix scan: at step k, each element is multiplied by the one 2^k places before it,
    ⌈log₂ n⌉ multiplies in all, so time and memory are O(n log n) and the gradient, a chain of products, is exact
    where elements are 0 (no division)."""
    _no_out("cumprod", out, dtype=dtype)
    a = _t(a)
    if a.dtype.kind == "b":  # NumPy multiplies booleans as integers
        a = ops.astype(a, np.int64)
    if axis is None:
        a, axis = ops.reshape(a, (-1,)), -1

    def running(x):
        n, k = x.shape[-1], 1
        while k < n:
            ones = np.ones(x.shape[:-1] + (k,), dtype=x.dtype)
            x = x * ops.concatenate([ones, ops.getitem(x, (..., slice(0, n - k)))], -1)
            k *= 2
        return x

    return _along_last(a, axis, running, "cumprod")


def _cumulative(x, axis, include_initial: bool, function, initial: float, name: str):
    """NumPy 2's cumulative_sum/prod: ``axis`` needed past 1-D, and ``include_initial`` puts the identity first."""
    t = _t(x)
    if axis is None:
        if t.ndim > 1:
            raise TypeError(f"cnp.{name}: axis must be given for an array of {t.ndim} dimensions, as NumPy's")
        axis = 0 if t.ndim else None
    out = function(t, axis=axis)
    if include_initial:
        axis = _positions(axis if axis is not None else 0, out.ndim or 1, name)[0]
        shape = list(out.shape)
        shape[axis] = 1
        out = ops.concatenate([np.full(shape, initial, dtype=out.dtype), out], axis)
    return out


@_numpy_name
def cumulative_sum(x, /, *, axis=None, dtype=None, out=None, include_initial=False):
    """Running sums along ``axis`` (NumPy 2's name; ``include_initial`` starts with 0)."""
    _no_out("cumulative_sum", out, dtype=dtype)
    return _cumulative(x, axis, include_initial, cumsum, 0, "cumulative_sum")


@_numpy_name
def cumulative_prod(x, /, *, axis=None, dtype=None, out=None, include_initial=False):
    """Running products along ``axis`` (NumPy 2's name; ``include_initial`` starts with 1)."""
    _no_out("cumulative_prod", out, dtype=dtype)
    return _cumulative(x, axis, include_initial, cumprod, 1, "cumulative_prod")


@_numpy_name
def matrix_transpose(x, /):
    """x with its last two axes swapped."""
    t = _t(x)
    if t.ndim < 2:
        raise ShapeError(f"cnp.matrix_transpose: expects at least 2 dimensions, got shape {t.shape}")
    return ops.swapaxes(t, -1, -2)


@_numpy_name
def astype(x, dtype, /, *, copy=True, device=None):
    """x converted to ``dtype`` (the rule ``astype``: the gradient converted back)."""
    if device not in (None, "cpu"):
        raise ValueError(f"cnp.astype: device must be None or 'cpu' for NumPy arrays, got {device!r}")
    return ops.astype(_t(x), dtype)


@_numpy_name
def unstack(x, /, *, axis=0):
    """The slices of x along ``axis``, as a tuple."""
    t = _t(x)
    axis = _positions(axis, t.ndim, "unstack")[0]
    return tuple(ops.getitem(t, (slice(None),) * axis + (i,)) for i in range(t.shape[axis]))


@_numpy_name
def vecdot(x1, x2, /, *, axis=-1, **kwargs):
    """Σ conj(x1)·x2 along ``axis``, broadcast over the other axes."""
    _no_out("vecdot", kwargs.pop("out", None), **kwargs)
    a, b = _t(x1), _t(x2)
    return ops.sum((ops.conj(a) if a.dtype.kind == "c" else a) * b, axis=axis)


@_numpy_name
def matvec(x1, x2, /, **kwargs):
    """Matrix (..., m, n) times vector (..., n), broadcast over the leading axes."""
    _no_out("matvec", kwargs.pop("out", None), **kwargs)
    a, b = _t(x1), _t(x2)
    np.matvec(np.ones(a.shape), np.ones(b.shape))  # NumPy's own shape errors
    return ops.sum(a * ops.expand_dims(b, -2), axis=-1)


@_numpy_name
def vecmat(x1, x2, /, **kwargs):
    """conj(vector) (..., m) times matrix (..., m, n), broadcast over the leading axes."""
    _no_out("vecmat", kwargs.pop("out", None), **kwargs)
    a, b = _t(x1), _t(x2)
    np.vecmat(np.ones(a.shape), np.ones(b.shape))
    return ops.sum(ops.expand_dims(ops.conj(a) if a.dtype.kind == "c" else a, -1) * b, axis=-2)


@_numpy_name
def nancumsum(a, axis=None, dtype=None, out=None):
    """Running sums with NaNs counted as 0 (they get no gradient)."""
    _no_out("nancumsum", out, dtype=dtype)
    return cumsum(_nan_free(_t(a), 0), axis)


@_numpy_name
def nancumprod(a, axis=None, dtype=None, out=None):
    """Running products with NaNs counted as 1 (they get no gradient)."""
    _no_out("nancumprod", out, dtype=dtype)
    return cumprod(_nan_free(_t(a), 1), axis)


@_numpy_name
def diff(a, n=1, axis=-1, prepend=None, append=None):
    a = _t(a)
    if not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"cnp.diff: the order n must be a non-negative int, got {n!r}")
    axis = _positions(axis, a.ndim, "diff")[0]
    parts = []
    for extra, at_end in ((prepend, False), (append, True)):
        if extra is not None:
            extra = _t(extra)
            if extra.ndim == 0:
                extra = ops.broadcast_to(extra, a.shape[:axis] + (1,) + a.shape[axis + 1:])
            parts.append((extra, at_end))
    for extra, at_end in parts:
        a = ops.concatenate([a, extra] if at_end else [extra, a], axis)
    head = (slice(None),) * axis
    if a.dtype.kind == "b" and n:  # NumPy's difference of booleans is "not equal" (it refuses to subtract them)
        return Tensor._make(np.diff(a._array(), n, axis), None, False)
    for _ in range(builtins.min(n, a.shape[axis])):  # past the axis's length every difference is empty
        a = ops.getitem(a, head + (slice(1, None),)) - ops.getitem(a, head + (slice(None, -1),))
    return a


# ---------------------------------------------------------------------------------------------------------------
# Products.
# ---------------------------------------------------------------------------------------------------------------
@_numpy_name
def matmul(a, b, **rest):
    _no_out("matmul", **rest)
    return ops.matmul(a, b)


@_numpy_name
def dot(a, b, out=None):
    """NumPy's dot: a product for scalars, matmul for 1-D and 2-D, a sum over a's last and b's second-to-last
    axis otherwise."""
    _no_out("dot", out)
    a, b = _t(a), _t(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if b.ndim <= 2:
        return ops.matmul(a, b)
    return tensordot(a, b, ([a.ndim - 1], [b.ndim - 2]))


@_numpy_name
def vdot(a, b):
    """Σ conj(a)·b over the flattened inputs (NumPy's: the first argument is conjugated)."""
    a = _t(a)
    return ops.sum(ravel(ops.conj(a) if a.dtype.kind == "c" else a) * ravel(b))


@_numpy_name
def inner(a, b):
    """Σ over the last axes of a and b."""
    a, b = _t(a), _t(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    return tensordot(a, b, ([a.ndim - 1], [b.ndim - 1]))


@_numpy_name
def outer(a, b, out=None):
    _no_out("outer", out)
    return ops.reshape(ravel(a), (-1, 1)) * ops.reshape(ravel(b), (1, -1))


@_numpy_name
def tensordot(a, b, axes=2):
    """Σ over the paired axes: the axes moved together, then one matmul."""
    a, b = _t(a), _t(b)
    if isinstance(axes, numbers.Integral):
        axes_a, axes_b = list(range(a.ndim - axes, a.ndim)), list(range(axes))
    else:
        axes_a, axes_b = ([x] if isinstance(x, numbers.Integral) else list(x) for x in axes)
    axes_a, axes_b = _positions(axes_a, a.ndim, "tensordot"), _positions(axes_b, b.ndim, "tensordot")
    if len(axes_a) != len(axes_b) or any(a.shape[i] != b.shape[j] for i, j in zip(axes_a, axes_b, strict=True)):
        raise ShapeError(f"tensordot: axes {axes_a} of shape {a.shape} and {axes_b} of shape {b.shape} do not match")
    free_a = [i for i in range(a.ndim) if i not in axes_a]
    free_b = [j for j in range(b.ndim) if j not in axes_b]
    k = int(np.prod([a.shape[i] for i in axes_a], dtype=np.int64))
    left = ops.reshape(ops.transpose(a, tuple(free_a + axes_a)), (-1, k))
    right = ops.reshape(ops.transpose(b, tuple(axes_b + free_b)), (k, -1))
    shape = tuple(a.shape[i] for i in free_a) + tuple(b.shape[j] for j in free_b)
    return ops.reshape(ops.matmul(left, right), shape)


@_numpy_name
def kron(a, b):
    """The Kronecker product: every element of a times all of b, in blocks."""
    a, b = _t(a), _t(b)
    nd = builtins.max(a.ndim, b.ndim)
    a = ops.reshape(a, (1,) * (nd - a.ndim) + a.shape)
    b = ops.reshape(b, (1,) * (nd - b.ndim) + b.shape)
    product = ops.reshape(a, _interleave(a.shape, 0)) * ops.reshape(b, _interleave(b.shape, 1))
    return ops.reshape(product, tuple(p * q for p, q in zip(a.shape, b.shape, strict=True)))


def _interleave(shape, position):
    """(n1, 1, n2, 1, ...) for position 0, (1, n1, 1, n2, ...) for position 1."""
    return tuple(d for n in shape for d in ((n, 1) if position == 0 else (1, n)))


@_numpy_name
def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """The cross product of 3-vectors (or the z component for 2-vectors) along the last axis."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = moveaxis(_t(a), axisa, -1), moveaxis(_t(b), axisb, -1)
    if a.shape[-1] not in (2, 3) or b.shape[-1] not in (2, 3):
        raise ShapeError(f"cross: vectors must have 2 or 3 components, got shapes {a.shape} and {b.shape}")
    a0, a1 = a[..., 0], a[..., 1]
    b0, b1 = b[..., 0], b[..., 1]
    if a.shape[-1] == 2 and b.shape[-1] == 2:
        return a0 * b1 - a1 * b0
    a2 = a[..., 2] if a.shape[-1] == 3 else 0.0
    b2 = b[..., 2] if b.shape[-1] == 3 else 0.0
    components = [a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0]
    shape = np.broadcast_shapes(*(np.shape(ops.stop(c)) for c in components))
    out = ops.stack([ops.broadcast_to(c, shape) for c in components], -1)
    return moveaxis(out, -1, axisc)


@_numpy_name
def einsum(subscripts, *operands, optimize=False, **rest):
    """Einstein summation: operands contracted two at a time, left to right, each pair as one ``matmul`` (shared
    labels still needed later are its batch axes, the others its inner axis); repeated labels within an operand take
    its diagonal, labels that appear once and are not in the output are summed first.

    Memory is that of the operands and the pairwise results, never the product of all dimensions; the gradient flows
    to every operand.
    """
    _no_out("einsum", **rest)
    if not isinstance(subscripts, str):
        subscripts, operands = _einsum_interleaved((subscripts, *operands))
    inputs, output = _einsum_labels(subscripts, [_t(x) for x in operands])
    sizes: dict[str, int] = {}
    terms = []
    for spec, x in zip(inputs, operands, strict=True):
        x, spec = _distinct_labels(_t(x), spec)
        for label, n in zip(spec, x.shape, strict=True):
            if sizes.get(label, n) != n and 1 not in (n, sizes[label]):
                raise ShapeError(f"einsum: label {label!r} has sizes {sizes[label]} and {n} in '{subscripts}'")
            sizes[label] = builtins.max(sizes.get(label, n), n) if n != 1 else sizes.get(label, n)
        terms.append((x, spec))
    x, spec = _einsum_drop(terms[0], output + "".join(s for _, s in terms[1:]))
    for k in range(1, len(terms)):
        later = output + "".join(s for _, s in terms[k + 1:])
        y, other = _einsum_drop(terms[k], later + spec)
        x, spec = _einsum_pair(x, spec, y, other, later)
    if spec:
        x = ops.transpose(x, tuple(spec.index(c) for c in output)) if spec != output else x
    return ops.broadcast_to(x, tuple(sizes[c] for c in output)) if output else x


def _einsum_drop(term: tuple[Tensor, str], keep: str) -> tuple[Tensor, str]:
    """Sum out the labels of one operand that no other operand and not the output names."""
    x, spec = term
    gone = tuple(i for i, c in enumerate(spec) if c not in keep)
    if not gone:
        return x, spec
    return ops.sum(x, axis=gone), "".join(c for c in spec if c in keep)


def _einsum_pair(x: Tensor, sx: str, y: Tensor, sy: str, later: str) -> tuple[Tensor, str]:
    """x and y contracted over their shared labels that ``later`` does not need, as one batched matmul."""
    shared = [c for c in sx if c in sy]
    if any(x.shape[sx.index(c)] != y.shape[sy.index(c)] for c in shared):  # a label broadcast from size 1
        product = ops.reshape(x, x.shape + (1,) * len([c for c in sy if c not in sx]))
        labels = sx + "".join(c for c in sy if c not in sx)
        moved = ops.transpose(y, tuple(sy.index(c) for c in labels if c in sy)) if y.ndim else y
        term = ops.reshape(moved, tuple(y.shape[sy.index(c)] if c in sy else 1 for c in labels))
        return _einsum_drop((product * term, labels), later)
    batch = [c for c in shared if c in later]
    inner = [c for c in shared if c not in later]
    free_x = [c for c in sx if c not in shared]
    free_y = [c for c in sy if c not in shared]

    def size(t, s, labels):
        return int(np.prod([t.shape[s.index(c)] for c in labels], dtype=np.int64))

    def arranged(t, s, labels, shape):
        moved = ops.transpose(t, tuple(s.index(c) for c in labels)) if t.ndim > 1 else t
        return ops.reshape(moved, shape)

    nb, k = size(x, sx, batch), size(x, sx, inner)
    left = arranged(x, sx, batch + free_x + inner, (nb, size(x, sx, free_x), k))
    right = arranged(y, sy, batch + inner + free_y, (nb, k, size(y, sy, free_y)))
    shape = tuple(x.shape[sx.index(c)] for c in batch + free_x) + tuple(y.shape[sy.index(c)] for c in free_y)
    return ops.reshape(ops.matmul(left, right), shape), "".join(batch + free_x + free_y)


def _einsum_interleaved(args: tuple) -> tuple[str, tuple]:
    """NumPy's other form, ``einsum(a, [0, 1], b, [1, 2], [0, 2])``, as a subscripts string and the operands."""
    output = args[-1] if len(args) % 2 else None
    args = args[:-1] if len(args) % 2 else args
    operands, sublists = args[0::2], args[1::2]
    if len(sublists) != len(operands):
        raise TypeError("cnp.einsum: expected the subscripts as a string ('ij,jk->ik') or operands each followed by "
                        "a list of axis numbers (a, [0, 1], b, [1, 2])")

    def letters(sublist) -> str:
        out = []
        for label in sublist:
            if label is Ellipsis:
                out.append("...")
            elif isinstance(label, numbers.Integral) and 0 <= label < 52:
                out.append(string.ascii_letters[label])
            else:
                raise ValueError(f"cnp.einsum: axis label {label!r} in {list(sublist)!r}; expected ints 0 to 51 "
                                 "or Ellipsis")
        return "".join(out)

    spec = ",".join(letters(s) for s in sublists)
    if output is not None:
        spec += "->" + letters(output)
    return spec, operands


def _einsum_labels(subscripts: str, operands: list) -> tuple[list[str], str]:
    spec = subscripts.replace(" ", "")
    left, arrow, output = spec.partition("->")
    inputs = left.split(",")
    if len(inputs) != len(operands):
        raise ValueError(f"einsum: '{subscripts}' names {len(inputs)} operands, but {len(operands)} were given")
    used = set(spec) - set(",->.")
    spare = [c for c in string.ascii_letters if c not in used]
    ellipsis_ndim = 0
    for s, x in zip(inputs, operands, strict=True):
        explicit = len(s.replace("...", ""))
        if "..." in s:
            ellipsis_ndim = builtins.max(ellipsis_ndim, x.ndim - explicit)
        elif explicit != x.ndim:
            raise ShapeError(f"einsum: operand of shape {x.shape} has {x.ndim} dimensions but '{s}' names {explicit}")
    broadcast = "".join(spare[:ellipsis_ndim])
    expanded = []
    for s, x in zip(inputs, operands, strict=True):
        if "..." in s:
            k = x.ndim - len(s.replace("...", ""))
            s = s.replace("...", broadcast[ellipsis_ndim - k:])
        expanded.append(s)
    if not arrow:
        counts = {c: "".join(expanded).count(c) for c in "".join(expanded)}
        output = broadcast + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in broadcast))
    else:
        output = output.replace("...", broadcast)
    for c in output:
        if c not in "".join(expanded):
            raise ValueError(f"einsum: output label {c!r} of '{subscripts}' names no input axis")
        if output.count(c) > 1:
            raise ValueError(f"einsum: output label {c!r} of '{subscripts}' appears more than once; expected each "
                             "output label once")
    return expanded, output


def _distinct_labels(x: Tensor, spec: str) -> tuple[Tensor, str]:
    """A repeated label within one operand (``'ii'``) takes the diagonal over those axes."""
    while len(set(spec)) != len(spec):
        label = next(c for c in spec if spec.count(c) > 1)
        first = spec.index(label)
        second = spec.index(label, first + 1)
        x = diagonal(x, 0, first, second)  # the diagonal axis goes last
        spec = spec[:first] + spec[first + 1:second] + spec[second + 1:] + label
    return x, spec


# ---------------------------------------------------------------------------------------------------------------
# Building arrays from tensors, and compositions NumPy code reaches for (HIPS autograd's names).
# ---------------------------------------------------------------------------------------------------------------
@_numpy_name
def array(object, dtype=None, *, copy=True, order="K", subok=False, ndmin=0, like=None):
    """An array from a Tensor or a (nested) list holding Tensors, stacked differentiably (``np.array([x, x**2])``)."""
    t = object if isinstance(object, Tensor) else ops.stack_nested(object)
    if dtype is not None and np.dtype(dtype) != t.dtype:
        t = ops.astype(t, dtype)
    if ndmin > t.ndim:
        t = ops.reshape(t, (1,) * (ndmin - t.ndim) + t.shape)
    return t


@_numpy_name
def asarray(a, dtype=None, order=None, *, copy=None, like=None):
    """The same as :func:`array`: a Tensor stays itself, a list holding Tensors is stacked."""
    return array(a, dtype)


asanyarray = asarray
__all__.append("asanyarray")


class _Concatenator:
    """``r_[...]`` and ``c_[...]``: arrays, Tensors, numbers and slices (``1:10`` is ``arange(1, 10)``), joined."""

    def __init__(self, name: str, numpy_object) -> None:
        self.name, self.numpy_object = name, numpy_object

    def __getitem__(self, key):
        items = key if isinstance(key, tuple) else (key,)
        if not ops.holds_tensor(items):
            return self.numpy_object[key]
        if items and isinstance(items[0], str):
            raise TypeError(
                f"cnp.{self.name}[...]: a directive string ({items[0]!r}) is not supported with tensors; "
                "use cnp.concatenate or cnp.stack with an axis"
            )
        try:
            parts = [self.numpy_object[item] if isinstance(item, slice) else item for item in items]
        except MemoryError:
            raise MemoryError(
                f"cnp.{self.name}[...]: a slice asks for more values than fit in this machine's memory; check its "
                "start, stop and step"
            ) from None
        if self.name == "r_":
            return concatenate([_atleast(p, 1) for p in parts], axis=0)
        columns = [ops.reshape(_t(p), (-1, 1)) if np.ndim(p) <= 1 else _t(p) for p in parts]
        return concatenate(columns, axis=-1)


r_ = _Concatenator("r_", np.r_)
c_ = _Concatenator("c_", np.c_)
__all__ += ["c_", "r_"]


for _name, _factor in (
    ("deg2rad", np.pi / 180),
    ("radians", np.pi / 180),
    ("rad2deg", 180 / np.pi),
    ("degrees", 180 / np.pi),
):

    def _make(name=_name, factor=_factor):
        def function(x):
            return _t(x) * factor

        function.__name__ = function.__qualname__ = name
        function.__doc__ = f"x · {factor!r}, NumPy's {name}; the derivative is that constant."
        return _numpy_name(function)

    globals()[_name] = _make()


@_numpy_name
def fmax(x1, x2):
    """The larger of x1 and x2, ignoring a NaN (NumPy's fmax); elsewhere maximum, with its gradient."""
    return _nan_ignoring(x1, x2, ops.maximum)


@_numpy_name
def fmin(x1, x2):
    """The smaller of x1 and x2, ignoring a NaN (NumPy's fmin); elsewhere minimum, with its gradient."""
    return _nan_ignoring(x1, x2, ops.minimum)


def _nan_ignoring(a, b, op):
    a_nan, b_nan = np.isnan(ops.stop(a)), np.isnan(ops.stop(b))
    return ops.where(b_nan, a, ops.where(a_nan, b, op(a, b)))


@_numpy_name
def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """NaN and infinities replaced by numbers; the gradient flows through the finite elements only."""
    values = ops.stop(x)
    return ops.where(np.isfinite(values), x, np.nan_to_num(values, nan=nan, posinf=posinf, neginf=neginf))


@_numpy_name
def append(arr, values, axis=None):
    """``values`` joined after ``arr`` (both flattened when axis is None), as NumPy's append."""
    if axis is None:
        return concatenate([ravel(arr), ravel(values)], 0)
    return concatenate([arr, values], axis)


@_numpy_name
def rollaxis(a, axis, start=0):
    """Axis ``axis`` moved to position ``start`` (NumPy's older moveaxis)."""
    return _gather(a, lambda p: np.rollaxis(p, axis, start))


@_numpy_name
def partition(a, kth, axis=-1, kind="introselect", order=None):
    """NumPy's partition; each value carries the gradient of the element it came from."""
    if order is not None:
        raise TypeError("cnp.partition: `order` (fields of a structured array) is not supported on tensors, which "
                        "hold numbers; leave it None")
    a = _t(a)
    if axis is None:
        a, axis = ops.reshape(a, (-1,)), 0
    positions = np.argpartition(a._array(), kth, axis=axis)
    return _gather(a, lambda p: np.take_along_axis(p, positions, axis))


@_numpy_name
def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``num`` evenly spaced values from start to stop: start + (stop − start)·k/(num − 1), differentiable in both
    ends (NumPy's values exactly)."""
    if dtype is not None and np.dtype(dtype).kind != "f":
        raise TypeError(f"cnp.linspace: dtype {np.dtype(dtype)} carries no gradient; use a float dtype")
    if isinstance(num, bool) or not isinstance(num, numbers.Integral):
        raise TypeError(f"cnp.linspace: num must be an int, got {num!r}")
    num = int(num)
    if num < 0:
        raise ValueError(f"cnp.linspace: num must be non-negative, got {num}")
    lo, hi = _t(start), _t(stop)
    div = (num - 1) if endpoint else num
    real = np.result_type(lo.dtype, hi.dtype, 1.0)  # NumPy's: float32 ends give float32 values, ints float64
    fractions = (np.arange(num, dtype=np.float64) / div if div > 0 else np.zeros(num)).astype(real)
    shape = np.broadcast_shapes(lo.shape, hi.shape)
    fractions = fractions.reshape((num,) + (1,) * len(shape))
    values = lo + (hi - lo) * fractions if num else ops.broadcast_to(lo, (0, *shape)) * 0
    exact = np.linspace(ops.stop(lo), ops.stop(hi), num, endpoint=endpoint, axis=0)
    values = values + (exact - ops.stop(values))  # NumPy's rounding, added as a constant
    if dtype is not None:
        values = ops.astype(values, dtype)
    values = moveaxis(values, 0, axis) if values.ndim > 1 else values
    if retstep:
        step = (hi - lo) / div if div > 0 else (hi - lo) * np.nan
        return values, step
    return values


@_numpy_name
def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    """base ** linspace(start, stop): differentiable in start, stop and base."""
    if not isinstance(base, float | int) and np.ndim(ops.stop(base)):  # NumPy's broadcasting of an array base
        ndmax = np.broadcast(*(np.empty(np.shape(ops.stop(v))) for v in (start, stop, base))).ndim
        start, stop, base = (ops.reshape(_t(v), (1,) * (ndmax - np.ndim(ops.stop(v))) + np.shape(ops.stop(v)))
                             for v in (start, stop, base))
        base = ops.unsqueeze(base, axis)
    y = ops.pow(base, linspace(start, stop, num=num, endpoint=endpoint, axis=axis))
    return y if dtype is None or np.dtype(dtype) == y.dtype else ops.astype(y, dtype)


@_numpy_name
def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """A geometric sequence from start to stop (the ends exactly), as NumPy computes it: start rotated to positive by
    its sign, 10 ** linspace(log10 start, log10 stop). Real inputs only on tensors."""
    lo, hi = _t(start), _t(stop)
    if lo.dtype.kind == "c" or hi.dtype.kind == "c":
        raise TypeError("cnp.geomspace: complex ends are not supported on tensors; expected real numbers")
    if np.any(lo._array() == 0) or np.any(hi._array() == 0):
        raise DomainError("cnp.geomspace: a geometric sequence cannot include zero; got a zero start or stop")
    dt = np.result_type(lo.dtype, hi.dtype, float(num), np.zeros((), dtype))
    lo, hi = (t if t.dtype == dt else ops.astype(t, dt) for t in (lo, hi))
    out_sign = np.sign(lo._array())
    lo, hi = lo / out_sign, hi / out_sign
    result = logspace(ops.log10(lo), ops.log10(hi), num=num, endpoint=endpoint, base=10.0, dtype=dt)
    if num > 0:  # the ends exactly start and stop (10 ** log10 x need not be x)
        first = np.arange(num).reshape((num,) + (1,) * (result.ndim - 1))
        result = ops.where(first == 0, lo, result)
        if num > 1 and endpoint:
            result = ops.where(first == num - 1, hi, result)
    result = result * out_sign
    if axis != 0:
        result = moveaxis(result, 0, axis)
    return result if dtype is None or np.dtype(dtype) == dt else ops.astype(result, dtype)


@_numpy_name
def gradient(f, *varargs, axis=None, edge_order=1):
    """NumPy's gradient (central differences inside, one-sided at the edges) for uniform spacings: a linear map of f.

    Spacings are numbers (one, or one per axis); coordinate arrays are not supported on tensors.
    """
    f = _t(f)
    axes = tuple(range(f.ndim)) if axis is None else _positions(axis, f.ndim, "gradient")
    if len(varargs) == 0:
        spacings = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        spacings = [varargs[0]] * len(axes)
    elif len(varargs) == len(axes) and builtins.all(np.ndim(h) == 0 for h in varargs):
        spacings = list(varargs)
    else:
        raise TypeError(
            "cnp.gradient: on tensors the spacing must be one number or one number per axis "
            "(coordinate arrays are not supported)"
        )
    if edge_order not in (1, 2):
        raise ValueError(f"cnp.gradient: edge_order must be 1 or 2, got {edge_order!r}")
    out = []
    for ax, h in zip(axes, spacings, strict=True):
        n = f.shape[ax]
        if n < edge_order + 1:
            raise ValueError(
                f"cnp.gradient: axis {ax} has {n} points; at least {edge_order + 1} are needed "
                f"for edge_order={edge_order}"
            )

        def part(i, j, ax=ax):  # f[i:j] along ax
            index = [slice(None)] * f.ndim
            index[ax] = slice(i, j)
            return ops.getitem(f, tuple(index))

        inner = (part(2, n) - part(0, n - 2)) / (2.0 * h) if n > 2 else None
        if edge_order == 1:
            first = (part(1, 2) - part(0, 1)) / h
            last = (part(n - 1, n) - part(n - 2, n - 1)) / h
        else:  # second-order one-sided differences, as NumPy's
            first = (-1.5 * part(0, 1) + 2.0 * part(1, 2) - 0.5 * part(2, 3)) / h
            last = (0.5 * part(n - 3, n - 2) - 2.0 * part(n - 2, n - 1) + 1.5 * part(n - 1, n)) / h
        pieces = [first] + ([inner] if inner is not None else []) + [last]
        out.append(concatenate(pieces, ax))
    return out[0] if len(out) == 1 else tuple(out)


def make_diagonal(D, offset: int = 0, axis1: int = -1, axis2: int = -2):
    """Diagonal matrices from the last axis of ``D``, shape ``D.shape + (n,)``: HIPS autograd's complement of
    ``diagonal`` (not a NumPy function). Only ``offset=0`` on the last two axes, as autograd."""
    if offset != 0 or {axis1, axis2} != {-1, -2}:
        raise NotImplementedError(
            "cnp.make_diagonal: only offset=0 with axis1, axis2 = -1, -2 (as HIPS autograd); "
            "use cnp.diag for one matrix"
        )
    if np.ndim(D.data if isinstance(D, Tensor) else D) == 0:
        raise ShapeError("cnp.make_diagonal: D is a number (shape ()); expected the diagonals as a vector (n,) or a "
                         "stack of them (..., n)")
    if not isinstance(D, Tensor):
        D = np.asarray(D)
        return D[..., None] * np.eye(D.shape[-1], dtype=D.dtype)
    return ops.reshape(D, (*D.shape, 1)) * np.eye(D.shape[-1], dtype=D.dtype)


__all__.append("make_diagonal")


# Predicates, indices, shapes and constants shaped like an input: no gradient by definition, so NumPy's own
# functions (on a Tensor they answer through the protocol, _protocol.py, with NumPy's plain result). They are served
# by the module's __getattr__, never bound as globals nor star-exported: ``any``/``all`` would shadow the builtins.
_NO_GRADIENT = (
    "all",
    "any",
    "argmax",
    "argmin",
    "argpartition",
    "argsort",
    "argwhere",
    "nonzero",
    "flatnonzero",
    "count_nonzero",
    "searchsorted",
    "ndim",
    "shape",
    "size",
    "floor_divide",
    "logical_and",
    "logical_or",
    "logical_not",
    "logical_xor",
    "isfinite",
    "isinf",
    "isnan",
    "isneginf",
    "isposinf",
    "allclose",
    "isclose",
    "array_equal",
    "array_equiv",
    "iscomplexobj",
    "iscomplex",
    "isrealobj",
    "isreal",
    "isscalar",
    "zeros_like",
    "ones_like",
    "empty_like",
    "result_type",
    "fix",
)


@_numpy_name
def full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None, **rest):
    """An array shaped like ``a`` filled with ``fill_value``; the gradient flows to fill_value (none to a)."""
    _no_out("full_like", **rest)
    shape = np.shape(ops.stop(a)) if shape is None else shape
    dtype = dtype if dtype is not None else ops.stop(a).dtype if isinstance(a, Tensor) else np.asarray(a).dtype
    if not isinstance(fill_value, Tensor):
        return np.full(shape, fill_value, dtype=dtype)
    return full(shape, fill_value, dtype)


@_numpy_name
def full(shape, fill_value, dtype=None, order="C", **rest):
    """An array of ``shape`` filled with ``fill_value`` (a Tensor: broadcast, with its gradient)."""
    _no_out("full", **rest)
    value = _t(fill_value)
    if dtype is not None and np.dtype(dtype) != value.dtype:
        value = ops.astype(value, dtype)
    if isinstance(shape, Tensor) or not (
        isinstance(shape, numbers.Integral) or builtins.all(isinstance(n, numbers.Integral) for n in shape)
    ):
        raise TypeError(f"cnp.full: shape must be an int or a tuple of ints, got {type(shape).__name__}")
    return ops.broadcast_to(value, (int(shape),) if isinstance(shape, numbers.Integral) else tuple(shape))


# Constructors from shapes and numbers alone (nothing to differentiate): NumPy's arrays, as in NumPy code.
_CONSTRUCTORS = (
    "zeros",
    "ones",
    "empty",
    "eye",
    "identity",
    "arange",
    "tri",
    "indices",
    "diag_indices",
    "tril_indices",
    "triu_indices",
)


_MISSING = object()


def __getattr__(name: str):
    if name in _NO_GRADIENT or name in _CONSTRUCTORS:
        function = getattr(np, name)
        if isinstance(function, np.ufunc) or name in _CONSTRUCTORS:
            return function  # ufuncs keep their methods (reduce, outer...); constructors take no Tensor
        return named_errors(name)(function)  # on a Tensor, NumPy's error comes back under cnp.<name>
    if name == "row_stack":  # NumPy's old name of vstack
        return vstack
    if name == "random":  # random draws are constants: NumPy's own module (as autograd.numpy.random wraps it)
        return np.random
    value = getattr(np, name, _MISSING)
    public = not name.startswith("_") or name == "__version__"
    if (
        value is not _MISSING
        and (isinstance(value, type) or not callable(value))
        and public
        and not isinstance(value, types.ModuleType)
    ):
        return value  # constants (pi, inf, newaxis) and types (float64, ndarray, finfo), as in NumPy code
    if name in ("linalg", "fft"):  # written in their own modules, loaded on first use
        import importlib

        module = importlib.import_module(f"chainrule.numpy.{name}")
        globals()[name] = module
        return module
    raise AttributeError(
        f"chainrule.numpy has no function '{name}' yet; differentiate through the functions it "
        "has, or define one with cr.primitive"
    )


# ---------------------------------------------------------------------------------------------------------------
# Complex parts. Gradients are covectors, as in HIPS autograd and JAX (see the README's "Complex numbers").
# ---------------------------------------------------------------------------------------------------------------
@_numpy_name
def real(val):
    """The real part: a real tensor. Its vjp passes g back (in the input's dtype)."""
    return ops.real(_t(val))


@_numpy_name
def imag(val):
    """The imaginary part: a real tensor. Its vjp is −i·g."""
    return ops.imag(_t(val))


@_numpy_name
def conj(x):
    """The complex conjugate. Its vjp is conj(g)."""
    return ops.conj(_t(x))


@_numpy_name
def conjugate(x):
    """The same as :func:`conj`."""
    return ops.conj(_t(x))


@_numpy_name
def angle(z, deg: bool = False):
    """The argument of z in (−π, π] (degrees with ``deg=True``). Covector −i/z for complex z; 0 for real z."""
    out = ops.angle(_t(z))
    return out * (180 / np.pi) if deg else out


@_numpy_name
def real_if_close(a, tol=100):
    """The real part when every imaginary part is within ``tol`` machine epsilons of 0 (``tol`` itself when it is at
    most 1), else ``a`` unchanged, as NumPy's. The choice is made on the values; the gradient follows the branch."""
    t = _t(a)
    if t.dtype.kind != "c":
        return t
    bound = tol * np.finfo(t.dtype).eps if tol > 1 else tol
    return ops.real(t) if bool(np.all(np.abs(np.imag(t._array())) < bound)) else t




# More functions, in their own modules (they import only ops and _helpers): published here under NumPy's names.
from . import _functions, _statistics  # noqa: E402

for _function in (*_statistics.FUNCTIONS, *_functions.FUNCTIONS):
    globals()[_function.__name__] = _numpy_name(_function)
vectorize = _functions.vectorize
__all__.append("vectorize")
