"""cnp's builders, float decompositions, interpolation, convolution, polynomials and user-function mappers.

Compositions of rules; ``chainrule.numpy`` publishes ``FUNCTIONS`` under NumPy's names. Each follows NumPy's own
algorithm (Horner's loop for polyval, running products for vander), so the values are NumPy's; the gradient is
that of the composition.
"""

from __future__ import annotations

import builtins

import numpy as np

from .. import ops
from ..errors import ShapeError
from ..tensor import Tensor
from ._helpers import _no_out, _positions, _t


# ---------------------------------------------------------------------------------------------------------------
# Building arrays.
# ---------------------------------------------------------------------------------------------------------------
def copy(a, order="K", subok=False):
    """A new Tensor with a's values (the rule ``identity``: gradient 1)."""
    return ops.identity(_t(a))


def block(arrays):
    """An array assembled from nested lists of blocks: the innermost lists joined along the last axis, the next
    ones along the second-to-last, and so on (blocks first given at least as many axes as the nesting is deep)."""

    def depth(x, where: str) -> int:
        if isinstance(x, tuple):
            raise TypeError(f"cnp.block: {where} is a tuple; expected nested lists of arrays (as NumPy's block)")
        if not isinstance(x, list):
            return 0
        if not x:
            raise ValueError(f"cnp.block: {where} is an empty list; expected at least one block")
        depths = {depth(e, f"{where}[{i}]") for i, e in enumerate(x)}
        if len(depths) != 1:
            raise ValueError(f"cnp.block: the lists in {where} are nested to different depths {sorted(depths)}; "
                             "expected the same depth everywhere")
        return 1 + depths.pop()

    levels = depth(arrays, "arrays")

    def leaves(x):
        return [leaf for e in x for leaf in leaves(e)] if isinstance(x, list) else [_t(x)]

    ndim = builtins.max([levels] + [leaf.ndim for leaf in leaves(arrays)])

    def build(x, level: int) -> Tensor:
        if level == levels:
            t = _t(x)
            return ops.reshape(t, (1,) * (ndim - t.ndim) + t.shape)
        return ops.concatenate([build(e, level + 1) for e in x], -(levels - level))

    return build(arrays, 0)


def broadcast_arrays(*args, subok=False):
    """The inputs broadcast to their common shape (a tuple, as NumPy 2)."""
    tensors = [_t(a) for a in args]
    shape = np.broadcast_shapes(*(t.shape for t in tensors))
    return tuple(ops.broadcast_to(t, shape) for t in tensors)


def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    """Coordinate arrays from 1-D coordinates: 'xy' (Cartesian: the first two axes swapped) or 'ij' (matrix)
    indexing; ``sparse`` keeps them unbroadcast."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"cnp.meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    ones = (1,) * len(xi)
    out = [ops.reshape(_t(x), ones[:i] + (-1,) + ones[i + 1:]) for i, x in enumerate(xi)]
    if indexing == "xy" and len(xi) > 1:
        out[0] = ops.reshape(out[0], (1, -1) + ones[2:])
        out[1] = ops.reshape(out[1], (-1, 1) + ones[2:])
    return tuple(out) if sparse else broadcast_arrays(*out)


def vander(x, N=None, increasing=False):
    """The Vandermonde matrix: columns x^(N−1) ... x^0 (ascending with ``increasing``), as running products x·x·...,
    NumPy's own algorithm."""
    x = _t(x)
    if x.ndim != 1:
        raise ShapeError(f"cnp.vander: x has shape {x.shape}; expected a one-dimensional array")
    n = x.shape[0] if N is None else N
    x = ops.astype(x, np.promote_types(x.dtype, int)) if np.promote_types(x.dtype, int) != x.dtype else x
    columns = [ops.as_tensor(np.ones(x.shape, x.dtype))] if n > 0 else []
    while len(columns) < n:
        columns.append(x if len(columns) == 1 else columns[-1] * x)
    if not columns:
        return ops.reshape(x, (-1, 1))[:, :0]
    out = ops.stack(columns, 1)
    return out if increasing else ops.getitem(out, (slice(None), slice(None, None, -1)))


# ---------------------------------------------------------------------------------------------------------------
# Elementwise functions of two arguments, and float decompositions.
# ---------------------------------------------------------------------------------------------------------------
def float_power(x1, x2):
    """x1 ** x2 computed in float64 (complex128 for complex inputs), as NumPy's."""
    a, b = _t(x1), _t(x2)
    dt = np.result_type(a.dtype, b.dtype, np.float64)
    return ops.pow(ops.astype(a, dt) if a.dtype != dt else a, ops.astype(b, dt) if b.dtype != dt else b)


def heaviside(x1, x2):
    """0 for x1 < 0, x2 at x1 = 0, 1 for x1 > 0: (sign(x1) + 1)/2 off zero, so x1 gets the zero gradient of sign and
    x2 its gradient where x1 == 0."""
    x = _t(x1)
    dt = np.result_type(x.dtype, ops.stop(x2))
    h = _t(x2)
    step = (ops.sign(ops.astype(x, dt) if x.dtype != dt else x) + 1) / 2
    return ops.where(x._array() == 0, ops.astype(h, dt) if h.dtype != dt else h, step)


def copysign(x1, x2):
    """|x1| with the sign (sign bit) of x2: the gradient ±sign(x1) flows to x1 (0 at x1 = 0, abs's convention); x2,
    whose sign only is read, gets none."""
    a = _t(x1)
    if a.dtype.kind in "biu":
        a = ops.astype(a, np.result_type(a.dtype, np.float16, ops.stop(x2)))
    magnitude = ops.abs(a)
    return ops.where(np.signbit(ops.stop(x2)), -magnitude, magnitude)


def modf(x, out=None):
    """(fractional part, integral part), both with x's sign: x − trunc(x) (gradient 1) and trunc(x) (gradient 0)."""
    _no_out("modf", out)
    x = _t(x)
    whole = ops.trunc(x)
    with np.errstate(invalid="ignore"):  # inf − inf, replaced: modf(±inf) = (±0, ±inf)
        fraction = ops.where(np.isinf(x._array()), np.zeros((), x.dtype), x - whole)
    return fraction, whole


def divmod(x1, x2, out=None):
    """(floor_divide(x1, x2), mod(x1, x2)): the quotient is a step function (a constant), the remainder :func:`mod`."""
    _no_out("divmod", out)
    quotient = np.floor_divide(ops.stop(x1), ops.stop(x2))
    return ops.as_tensor(np.asarray(quotient)), ops.remainder(x1, x2)


def _times_power_of_two(x: Tensor, e: np.ndarray) -> Tensor:
    """x · 2^e exactly (two factors, so 2^e itself never overflows where the product does not)."""
    half = e // 2
    one = np.ones((), x.dtype)
    return x * np.ldexp(one, half).astype(x.dtype) * np.ldexp(one, e - half).astype(x.dtype)


def frexp(x, out=None):
    """(mantissa, exponent) with x = mantissa · 2^exponent: the mantissa x · 2^−e has the gradient 2^−e; the integer
    exponent is a constant."""
    _no_out("frexp", out)
    x = _t(x)
    if x.dtype.kind not in "f":
        x = ops.astype(x, np.float64)
    _, exponent = np.frexp(x._array())
    return _times_power_of_two(x, -exponent.astype(np.int64)), ops.as_tensor(exponent)


def ldexp(x1, x2, out=None):
    """x1 · 2^x2 for integer x2: gradient 2^x2 in x1 (x2, an integer, has none)."""
    _no_out("ldexp", out)
    x = _t(x1)
    e = np.asarray(ops.stop(x2))
    if e.dtype.kind not in "biu":
        raise TypeError(f"cnp.ldexp: x2 must hold integers, got dtype {e.dtype}")
    if x.dtype.kind not in "f":
        x = ops.astype(x, np.float64)
    return _times_power_of_two(x, e.astype(np.int64))


# ---------------------------------------------------------------------------------------------------------------
# Interpolation, integration, convolution, polynomials.
# ---------------------------------------------------------------------------------------------------------------
def interp(x, xp, fp, left=None, right=None, period=None):
    """Piecewise-linear interpolation, NumPy's formula slope·(x − xp[j]) + fp[j] on xp[j] <= x < xp[j+1].

    Gradients flow to x (the slope inside, 0 outside [xp[0], xp[-1]]; at a knot, the slope on its right), to fp, to
    xp when it requires grad, and to left/right.
    """
    x, xp, fp = _t(x), _t(xp), _t(fp)
    if xp.ndim != 1 or fp.ndim != 1 or xp.shape != fp.shape or xp.shape[0] == 0:
        raise ShapeError(f"cnp.interp: xp and fp must be 1-D of the same nonzero length; got shapes {xp.shape} "
                         f"and {fp.shape}")
    real = np.complex128 if fp.dtype.kind == "c" else np.float64  # NumPy interpolates in float64 (complex128)
    fp = fp if fp.dtype == real else ops.astype(fp, real)
    x, xp = (t if t.dtype == np.float64 else ops.astype(t, np.float64) for t in (x, xp))
    if period is not None:
        if period == 0:
            raise ValueError("cnp.interp: period must be a non-zero value")
        period = abs(period)
        left = right = None
        x, xp = ops.remainder(x, period), ops.remainder(xp, period)
        order = np.argsort(xp._array(), kind="stable")
        xp, fp = ops.getitem(xp, order), ops.getitem(fp, order)
        xp = ops.concatenate([xp[-1:] - period, xp, xp[0:1] + period])
        fp = ops.concatenate([fp[-1:], fp, fp[0:1]])
    n = xp.shape[0]
    xv, xpv = x._array(), xp._array()
    if n == 1:
        inside = ops.broadcast_to(fp[0], x.shape)
    else:
        j = np.clip(np.searchsorted(xpv, xv, side="right") - 1, 0, n - 2)
        x0, x1 = ops.getitem(xp, j), ops.getitem(xp, j + 1)
        f0, f1 = ops.getitem(fp, j), ops.getitem(fp, j + 1)
        slope = (f1 - f0) / (x1 - x0)
        inside = ops.where(xv == xpv[j], f0, slope * (x - x0) + f0)  # a knot: fp there exactly, as NumPy
        inside = ops.where(xv == xpv[-1], fp[-1], inside)
    below = fp[0] if left is None else _t(left)
    above = fp[-1] if right is None else _t(right)
    return ops.where(xv < xpv[0], below, ops.where(xv > xpv[-1], above, inside))


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """The trapezoidal rule Σ Δx·(y[i+1] + y[i])/2 along ``axis`` (NumPy's formula); differentiable in y, x and dx."""
    y = _t(y)
    axis = _positions(axis, y.ndim, "trapezoid")[0]
    if x is None:
        d = dx
    else:
        x = _t(x)
        if x.ndim == 1:
            shape = [1] * y.ndim
            shape[axis] = x.shape[0] - 1
            d = ops.reshape(_difference(x, 0), tuple(shape))
        else:
            d = _difference(x, axis)
    head = (slice(None),) * axis
    upper, lower = ops.getitem(y, head + (slice(1, None),)), ops.getitem(y, head + (slice(None, -1),))
    return ops.sum(d * (upper + lower) / 2.0, axis=axis)


def _difference(x: Tensor, axis: int) -> Tensor:
    """x[1:] − x[:-1] along ``axis`` (NumPy's diff)."""
    head = (slice(None),) * axis
    return ops.getitem(x, head + (slice(1, None),)) - ops.getitem(x, head + (slice(None, -1),))


def _full_correlation(name: str, a, v, conjugate: bool, rows: slice) -> Tensor:
    """Rows of the full correlation c[j] = Σ_n a[j − (N−1) + n]·v̄[n] (a zero outside), as windows of a @ v̄."""
    a, v = _t(a), _t(v)
    if a.ndim != 1 or v.ndim != 1 or a.shape[0] == 0 or v.shape[0] == 0:
        raise ShapeError(f"cnp.{name}: expected two non-empty 1-D arrays, got shapes {a.shape} and {v.shape}")
    m, n = a.shape[0], v.shape[0]
    dtype = np.result_type(a.dtype, v.dtype)
    zeros = ops.as_tensor(np.zeros(n - 1, dtype))
    padded = ops.concatenate([zeros, a, zeros]) if n > 1 else a
    start, stop, _ = rows.indices(m + n - 1)
    windows = ops.getitem(padded, np.arange(start, stop)[:, None] + np.arange(n))
    if conjugate and v.dtype.kind == "c":
        v = ops.conj(v)
    return ops.matmul(windows, v)


def _mode_rows(name: str, mode: str, m: int, n: int, longer_first: bool) -> slice:
    k, length = builtins.min(m, n), builtins.max(m, n)
    if mode == "full":
        return slice(0, m + n - 1)
    if mode == "valid":
        return slice(k - 1, k - 1 + length - k + 1)
    if mode == "same":
        start = (k - 1) // 2 if longer_first else (k - 1) - (k - 1) // 2
        return slice(start, start + length)
    raise ValueError(f"cnp.{name}: mode must be 'full', 'same' or 'valid', got {mode!r}")


def correlate(a, v, mode="valid"):
    """The cross-correlation c[k] = Σ_n a[n + k]·conj(v[n]) (NumPy's), in modes 'valid', 'same' or 'full'."""
    m, n = np.shape(ops.stop(a))[0], np.shape(ops.stop(v))[0]
    return _full_correlation("correlate", a, v, True, _mode_rows("correlate", mode, m, n, m >= n))


def convolve(a, v, mode="full"):
    """The discrete linear convolution (a ∗ v)[k] = Σ_m a[m]·v[k − m], in modes 'full', 'same' or 'valid'."""
    m, n = np.shape(ops.stop(a))[0], np.shape(ops.stop(v))[0]
    if n > m:  # NumPy's order: the longer one slides under the shorter
        a, v, m, n = v, a, n, m
    v = _t(v)
    reversed_v = ops.getitem(v, slice(None, None, -1)) if v.ndim == 1 else v
    return _full_correlation("convolve", a, reversed_v, False, _mode_rows("convolve", mode, m, n, True))


def polyval(p, x):
    """p[0]·x^(N−1) + ... + p[N−1] by Horner's loop y = y·x + p[i], as NumPy's; differentiable in p and x."""
    p, x = _t(p), _t(x)
    y = ops.as_tensor(np.zeros_like(x._array()))
    for i in range(p.shape[0]):
        y = y * x + p[i]
    return y


# ---------------------------------------------------------------------------------------------------------------
# Functions of user functions: called on Tensor slices, the pieces stacked.
# ---------------------------------------------------------------------------------------------------------------
def apply_along_axis(func1d, axis, arr, *args, **kwargs):
    """``func1d`` applied to each 1-D slice of ``arr`` along ``axis`` (a Tensor slice, so its gradient flows), the
    results stacked where the axis was, as NumPy's."""
    a = _t(arr)
    axis = _positions(axis, a.ndim, "apply_along_axis")[0]
    moved = ops.transpose(a, (*(i for i in range(a.ndim) if i != axis), axis)) if a.ndim > 1 else a
    outer = moved.shape[:-1]
    if 0 in outer:
        raise ValueError(f"cnp.apply_along_axis: cannot apply along axis {axis} of shape {a.shape}: another axis "
                         "has no elements")
    results = [_t(func1d(moved[index], *args, **kwargs)) for index in np.ndindex(*outer)]
    shapes = {r.shape for r in results}
    if len(shapes) != 1:
        raise ShapeError(f"cnp.apply_along_axis: func1d returned results of shapes {sorted(shapes)}; expected one "
                         "shape for every slice")
    inner = results[0].shape
    out = ops.reshape(ops.stack(results, 0), outer + inner)
    k = len(inner)
    order = [*range(axis), *range(len(outer), len(outer) + k), *range(axis, len(outer))]
    return ops.transpose(out, tuple(order)) if out.ndim > 1 else out


def piecewise(x, condlist, funclist, *args, **kw):
    """Where condlist[i] holds, funclist[i] (a function, called on the Tensor of those elements of x, or a number);
    one extra function covers where none holds; elsewhere 0. Later conditions win, as NumPy's."""
    x = _t(x)
    conditions = ops.stop(condlist) if isinstance(condlist, Tensor) else condlist
    if np.isscalar(conditions) or (not isinstance(conditions[0], list | np.ndarray | Tensor) and x.ndim != 0):
        conditions = [conditions]  # one condition (NumPy's test)
    masks = [np.broadcast_to(np.asarray(ops.stop(c), dtype=bool), x.shape) for c in conditions]
    if len(masks) == len(funclist) - 1:
        masks.append(~np.any(masks, axis=0) if masks else np.ones(x.shape, bool))
    elif len(masks) != len(funclist):
        raise ValueError(f"cnp.piecewise: {len(masks)} conditions but {len(funclist)} functions; expected as many "
                         "(or one more, for where no condition holds)")
    y = ops.as_tensor(np.zeros(x.shape, x.dtype))
    for mask, function in zip(masks, funclist, strict=True):
        count = int(mask.sum())
        if count == 0:
            continue
        values = _t(function(ops.getitem(x, mask), *args, **kw)) if callable(function) else _t(function)
        values = ops.reshape(ops.broadcast_to(values, (count,)) if values.ndim == 0 else values, (-1,))
        if values.dtype != x.dtype:
            values = ops.astype(values, x.dtype)
        positions = np.full(x.shape, count)  # count points at the appended 0, off the mask
        positions[mask] = np.arange(count)
        placed = ops.getitem(ops.concatenate([values, ops.as_tensor(np.zeros(1, x.dtype))]), positions)
        y = ops.where(mask, placed, y)
    return y


class vectorize:
    """NumPy's vectorize for Tensors: ``pyfunc`` called on each element (a 0-d Tensor, so its gradient flows) of the
    broadcast inputs, the results stacked. Slow, as NumPy's (a Python loop); prefer whole-array cnp functions.
    ``signature`` (generalized ufuncs) is not supported on tensors."""

    def __init__(self, pyfunc=np._NoValue, otypes=None, doc=None, excluded=None, cache=False, signature=None):
        self.numpy = np.vectorize(pyfunc, otypes=otypes, doc=doc, excluded=excluded, cache=cache,
                                  signature=signature)
        self.pyfunc, self.otypes, self.signature = pyfunc, otypes, signature
        self.excluded = set(excluded or ())
        self.__doc__ = self.numpy.__doc__

    def __call__(self, *args, **kwargs):
        if not ops.holds_tensor(args) and not ops.holds_tensor(kwargs.values()):
            return self.numpy(*args, **kwargs)
        if self.signature is not None:
            raise TypeError(f"cnp.vectorize: signature={self.signature!r} is not supported on tensors; vectorize "
                            "element by element (no signature), or use cnp.apply_along_axis for 1-D slices")
        mapped = [i for i in range(len(args)) if i not in self.excluded]
        named = [k for k in kwargs if k not in self.excluded]
        tensors = {i: _t(args[i]) for i in mapped} | {k: _t(kwargs[k]) for k in named}
        shape = np.broadcast_shapes(*(t.shape for t in tensors.values()))
        tensors = {key: ops.broadcast_to(t, shape) for key, t in tensors.items()}
        results = []
        for index in np.ndindex(*shape):
            call_args = [tensors[i][index] if i in tensors else a for i, a in enumerate(args)]
            call_kwargs = {k: tensors[k][index] if k in tensors else v for k, v in kwargs.items()}
            results.append(self.pyfunc(*call_args, **call_kwargs))
        if results and isinstance(results[0], tuple):
            return tuple(self._stacked([r[k] for r in results], shape, k) for k in range(len(results[0])))
        return self._stacked(results, shape, 0)

    def _stacked(self, values, shape, k):
        if not values:
            raise ValueError("cnp.vectorize: the inputs are empty, so no call shows the output type; give "
                             "otypes or non-empty inputs")
        out = ops.reshape(ops.stack([_t(v) for v in values], 0), shape)
        if self.otypes:
            dtype = np.dtype(self.otypes[k] if len(self.otypes) > k else self.otypes[0])
            out = ops.astype(out, dtype) if dtype != out.dtype else out
        return out


FUNCTIONS = (copy, block, broadcast_arrays, meshgrid, vander, float_power, heaviside, copysign, modf, divmod, frexp,
             ldexp, interp, trapezoid, correlate, convolve, polyval, apply_along_axis, piecewise)
