"""cnp's NaN-ignoring reductions and order statistics (ptp, nanmax..., median, quantile, percentile).

Compositions of rules; ``chainrule.numpy`` publishes ``FUNCTIONS`` under NumPy's names. Conventions at ties:

- ``nanmax``/``nanmin``/``ptp`` are ``max``/``min``: tied elements share the gradient evenly.
- ``median``, ``quantile``, ``percentile`` and their NaN-ignoring twins gather order statistics as ``sort`` does:
  each sorted position is one element (NumPy's stable order), so of equal elements one receives the gradient, as
  with ``torch.median``. The interpolated ones (``method='linear'``, the default) give weights 1 − γ and γ to the
  two neighbouring order statistics, computed with NumPy's own formula, so the values are NumPy's exactly.
"""

from __future__ import annotations

import numpy as np

from .. import ops
from ..tensor import Tensor
from ._helpers import _axis, _nan_free, _no_out, _positions, _t

# NumPy's quantile methods that interpolate between two order statistics: the virtual index v (a float position in
# the sorted values) as a function of the count n and q, and γ from the fractional part (Hyndman & Fan's table).
_LINEAR_IN = {"interpolated_inverted_cdf": (0.0, 1.0), "hazen": (0.5, 0.5), "weibull": (0.0, 0.0),
              "median_unbiased": (1 / 3.0, 1 / 3.0), "normal_unbiased": (3 / 8.0, 3 / 8.0)}
_METHODS = ("linear", "lower", "higher", "nearest", "midpoint", *_LINEAR_IN)


def _virtual_index(method: str, n, q):
    if method == "linear":
        return (n - 1) * q
    if method == "lower":
        return np.floor((n - 1) * q).astype(np.intp)
    if method == "higher":
        return np.ceil((n - 1) * q).astype(np.intp)
    if method == "nearest":
        return np.around((n - 1) * q).astype(np.intp)
    if method == "midpoint":
        return 0.5 * (np.floor((n - 1) * q) + np.ceil((n - 1) * q))
    alpha, beta = _LINEAR_IN[method]
    return n * q + (alpha + q * (1 - alpha - beta)) - 1


def _all_nan(a: Tensor, axis, keepdims) -> np.ndarray | bool:
    if a.dtype.kind not in "fc":
        return False
    return np.all(np.isnan(a._array()), axis=axis, keepdims=keepdims)


def _nan_extreme(name: str, op, fill):
    def function(a, axis=None, out=None, keepdims=False, initial=None, where=None):
        _no_out(name, out, initial=initial, where=where)
        a = _t(a)
        axis = _axis(axis)
        result = op(_nan_free(a, fill), axis=axis, keepdims=keepdims)
        empty = _all_nan(a, axis, keepdims)  # NumPy's answer there: NaN (with a RuntimeWarning)
        return ops.where(empty, np.asarray(np.nan, dtype=a.dtype), result) if np.any(empty) else result

    function.__name__ = function.__qualname__ = name
    function.__doc__ = (f"NumPy's {name}: {op.__name__} with NaNs skipped (NaN where a slice holds only NaNs); "
                        "tied elements share the gradient evenly, as max/min.")
    return function


nanmax = _nan_extreme("nanmax", ops.max, -np.inf)
nanmin = _nan_extreme("nanmin", ops.min, np.inf)


def ptp(a, axis=None, out=None, keepdims=False):
    """The range max − min over ``axis``; tied extremes share their gradient evenly (as max and min)."""
    _no_out("ptp", out)
    a = _t(a)
    axis = _axis(axis)
    return ops.max(a, axis=axis, keepdims=keepdims) - ops.min(a, axis=axis, keepdims=keepdims)


def nanprod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=None):
    """The product with NaNs counted as 1 (they get no gradient)."""
    _no_out("nanprod", out, dtype=dtype, initial=initial, where=where)
    return ops.prod(_nan_free(_t(a), 1), axis=axis, keepdims=keepdims)


def nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, mean=None, correction=None):
    """The variance of the non-NaN elements, Σ|x − mean|² / (count − ddof); NaNs get no gradient."""
    _no_out("nanvar", out, dtype=dtype, where=where, mean=mean)
    if correction is not None:
        ddof = correction
    a = _t(a)
    axis = _axis(axis)
    nan = np.isnan(a._array()) if a.dtype.kind in "fc" else np.zeros(a.shape, bool)
    count = np.sum(~nan, axis=axis, keepdims=True)
    real = a.dtype if a.dtype.kind in "fc" else np.dtype(np.float64)
    clean = _nan_free(a, 0)
    centered = ops.where(nan, np.zeros((), real), clean - ops.sum(clean, axis=axis, keepdims=True) / count.astype(real))
    square = ops.real(centered * ops.conj(centered)) if real.kind == "c" else centered * centered
    with np.errstate(divide="ignore", invalid="ignore"):
        divisor = np.maximum(count - ddof, 0).astype(np.finfo(real).dtype)
    divisor = divisor if keepdims else np.squeeze(divisor, axis=axis)
    return ops.sum(square, axis=axis, keepdims=keepdims) / divisor


def nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=None, mean=None, correction=None):
    """√nanvar: the standard deviation of the non-NaN elements."""
    _no_out("nanstd", out, dtype=dtype, where=where, mean=mean)
    return ops.sqrt(nanvar(a, axis=axis, ddof=ddof if correction is None else correction, keepdims=keepdims))


# ---------------------------------------------------------------------------------------------------------------
# Order statistics: values of sort, gathered (and interpolated) where NumPy's formula points.
# ---------------------------------------------------------------------------------------------------------------
def _last_axis(name: str, a: Tensor, axis):
    """``a`` with the reduced axes moved last and merged into one, its order kept; and the reduced axes."""
    axes = list(range(a.ndim)) if axis is None else _positions(axis, a.ndim, name)
    if len(set(axes)) != len(axes):
        raise ValueError(f"cnp.{name}: axis {axis!r} repeats an axis")
    rest = [i for i in range(a.ndim) if i not in axes]
    moved = ops.transpose(a, tuple(rest + axes)) if a.ndim > 1 else a
    n = int(np.prod([a.shape[i] for i in axes], dtype=np.int64))
    return ops.reshape(moved, tuple(a.shape[i] for i in rest) + (n,)), axes


def _reduced_shape(a: Tensor, axes, keepdims: bool) -> tuple:
    return tuple(1 if i in axes else n for i, n in enumerate(a.shape)) if keepdims else \
        tuple(n for i, n in enumerate(a.shape) if i not in axes)


def _pick(values: Tensor, order: np.ndarray, ranks: np.ndarray) -> Tensor:
    """The order statistics of rank ``ranks`` (shaped (Q..., rest...)) of each slice values[rest..., :], where
    ``order`` is the slices' argsort: each one is the element itself, gathered (its gradient, getitem's)."""
    rest, n = values.shape[:-1], values.shape[-1]
    base = np.arange(int(np.prod(rest, dtype=np.int64)), dtype=np.intp).reshape(rest) * n
    ranks = np.asarray(ranks)
    lead = ranks.shape[:max(ranks.ndim - len(rest), 0)]
    ranks = np.broadcast_to(ranks, lead + rest)
    position = np.take_along_axis(np.broadcast_to(order, lead + order.shape), ranks[..., None], axis=-1)[..., 0]
    return ops.getitem(ops.reshape(values, (-1,)), base + position)


def _lerp(a: Tensor, b: Tensor, t) -> Tensor:
    """NumPy's interpolation a + (b − a)·t, written from b when t >= 0.5 (so t = 1 gives b exactly)."""
    diff = b - a
    return ops.where(t >= 0.5, b - diff * (1 - t), a + diff * t)


def _order_statistic(name, a, q, axis, method, keepdims, *, ignore_nan, weak, median=False):
    a = _t(a)
    if isinstance(q, Tensor) and q.requires_grad:
        raise TypeError(f"cnp.{name}: q requires grad, but the quantiles are constants here (no gradient flows "
                        "to q); pass q.detach()")
    if method not in _METHODS:
        raise ValueError(f"cnp.{name}: method={method!r} is not supported on tensors; expected one of "
                         f"{', '.join(_METHODS)} (the discrete inverted_cdf, averaged_inverted_cdf and "
                         "closest_observation have steps where the order statistic changes: use 'lower' or 'higher')")
    if a.dtype.kind == "c":
        raise TypeError(f"cnp.{name}: complex input (dtype {a.dtype}) has no order; expected real numbers")
    if a.dtype.kind in "biu":
        a = ops.astype(a, np.float64)
    q = np.asanyarray(ops.stop(q))
    if not median and (q.dtype.kind not in "biuf" or np.any(q < 0) or np.any(q > 1)):
        raise ValueError(f"cnp.{name}: the quantiles must be real numbers in [0, 1] (percentiles in [0, 100]); "
                         f"got {q.tolist()!r}")
    values, axes = _last_axis(name, a, axis)
    if values.shape[-1] == 0:
        raise ValueError(f"cnp.{name}: the reduced axes of shape {a.shape} hold no values")
    order = np.argsort(values._array(), axis=-1, kind="stable")  # NaNs sort last, as in sort
    rest = values.shape[:-1]
    nan_last = np.any(np.isnan(values._array()), axis=-1)
    if ignore_nan:
        n = np.sum(~np.isnan(values._array()), axis=-1)
    else:
        n = values.shape[-1]
    if median:  # NumPy's median is the mean of the middle one or two values
        low, high = (np.maximum(n - 1, 0) // 2), n // 2
        result = (_pick(values, order, low) + _pick(values, order, high)) / 2
        shape = ()
    else:
        shape = q.shape
        v = _virtual_index(method, n, q.reshape(q.shape + (1,) * len(rest)))
        v = np.broadcast_to(v, q.shape + rest)
        top = np.maximum(n - 1, 0)
        previous = np.floor(v)
        gamma = v - previous  # NumPy's γ (before it moves the out-of-range indexes: there γ multiplies b − a = 0)
        if method == "midpoint":
            gamma = np.where(v % 1 == 0, 0.0, 0.5)
        gamma = np.asanyarray(gamma, dtype=v.dtype if v.dtype.kind == "f" else np.float64)
        with np.errstate(invalid="ignore"):
            lo = np.where(np.isnan(v) | (v >= top), top, np.clip(previous, 0, None)).astype(np.intp)
            hi = np.where(np.isnan(v) | (v >= top), top, np.clip(previous + 1, 0, None)).astype(np.intp)
        if weak:  # a Python q: γ in a's precision (NumPy's weak float), so float32 stays float32
            gamma = gamma.astype(values.dtype)
        result = _lerp(_pick(values, order, lo), _pick(values, order, hi), gamma)
    if not ignore_nan and nan_last.any():  # NumPy: NaN wherever the slice holds one
        result = ops.where(np.broadcast_to(nan_last, result.shape), np.asarray(np.nan, result.dtype), result)
    return ops.reshape(result, shape + _reduced_shape(a, axes, keepdims))


def _is_weak(q) -> bool:
    return type(q) in (int, float)  # a Python number: the result keeps a's precision, as NumPy's


def _quantile_function(name: str, scale: float, ignore_nan: bool):
    def function(a, q, axis=None, out=None, overwrite_input=False, method="linear", keepdims=False, *,
                 weights=None, interpolation=None):
        _no_out(name, out, weights=weights)
        if interpolation is not None:
            method = interpolation
        weak = _is_weak(q)
        if scale != 1:
            q = np.true_divide(ops.stop(q), scale)
        return _order_statistic(name, a, q, axis, method, keepdims, ignore_nan=ignore_nan, weak=weak)

    function.__name__ = function.__qualname__ = name
    unit = "percentiles q in [0, 100]" if scale != 1 else "quantiles q in [0, 1]"
    skipping = " NaNs are skipped." if ignore_nan else ""
    function.__doc__ = (f"NumPy's {name}: {unit} of the values along ``axis``, interpolated between the two nearest "
                        "order statistics as ``method`` says (continuous methods and lower, higher, nearest, "
                        f"midpoint). Each order statistic carries the gradient of the element it is.{skipping}")
    return function


quantile = _quantile_function("quantile", 1, False)
percentile = _quantile_function("percentile", 100, False)
nanquantile = _quantile_function("nanquantile", 1, True)
nanpercentile = _quantile_function("nanpercentile", 100, True)


def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """The middle value along ``axis`` (the mean of the two middle ones for an even count). Of equal middle values
    one receives the gradient (sort's stable order), as torch.median."""
    _no_out("median", out)
    return _order_statistic("median", a, 0.5, axis, "linear", keepdims, ignore_nan=False, weak=True, median=True)


def nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """The median of the non-NaN values (NaN where a slice holds only NaNs)."""
    _no_out("nanmedian", out)
    return _order_statistic("nanmedian", a, 0.5, axis, "linear", keepdims, ignore_nan=True, weak=True, median=True)



FUNCTIONS = (ptp, nanmax, nanmin, nanprod, nanvar, nanstd, quantile, percentile, nanquantile, nanpercentile, median,
             nanmedian)
