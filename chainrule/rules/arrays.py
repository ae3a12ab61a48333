"""Array primitives: shape changes, indexing, joining, reductions, matmul, and the stable softmax family.

Each entry gives, per input, ``vjp(g, *xs, y, m, **params)``: the upstream gradient ``g`` (shaped like the output)
carried back to that input. The engine sums away broadcast dimensions afterwards, so a vjp may return a gradient
that is broadcast-compatible with its input rather than exactly its shape. Parameters (``axis``, ``shape``...)
arrive already normalised by ``chainrule.ops``: axes are tuples of non-negative ints, or None for all axes.
Variadic rules (concatenate, stack) take ``vjp(i, g, xs, y, m, **params)`` instead. Every vjp here also works on
a batch of cotangents (``batchable=True``, checked rule by rule in tests/test_batching.py).
"""

from __future__ import annotations

import math
import operator

import numpy as np

from . import numpy_math
from .registry import GENERAL, LINEAR, MULTILINEAR, Rule, Sample, is_complex, register


def _expand(g, x, axis, keepdims, m):
    """Reinsert reduced axes into ``g`` so it broadcasts against the reduction's input ``x``."""
    if keepdims or axis is None:
        return g
    return m.expand_dims(g, axis)


def _count(x, axis) -> int:
    shape = np.shape(x)
    return math.prod(shape if axis is None else (shape[a] for a in axis))


def _numpy_axis(axis):
    return axis if axis is None or len(axis) != 1 else axis[0]


# ---------------------------------------------------------------------------------------------------------------
# Shapes: linear, so forward mode applies the op itself to the tangent.
# ---------------------------------------------------------------------------------------------------------------
register(Rule(
    name="identity", forward=lambda x: x, kind=LINEAR, batchable=True, arity=1, vjps=(lambda g, x, y, m: g,),
    text=("1",), tex=("1",), display="x", samples=(Sample(((3,),)),),
))
register(Rule(
    name="reshape", forward=np.reshape, kind=LINEAR, batchable=True, arity=1,
    vjps=(lambda g, x, y, m, shape: m.reshape(g, np.shape(x)),), shape_only=("x",),
    text=("reshape g back to x's shape",), tex=(r"\operatorname{reshape}^{-1}",), display=r"\operatorname{reshape}(x)",
    samples=(Sample(((2, 3),), {"shape": (3, 2)}), Sample(((6,),), {"shape": (2, 1, 3)})),
))
register(Rule(
    name="transpose", forward=np.transpose, kind=LINEAR, batchable=True, arity=1,
    vjps=(lambda g, x, y, m, axes: m.transpose(g, tuple(np.argsort(axes))),),
    text=("transpose g back",), tex=(r"\operatorname{transpose}^{-1}",), display="x^{T}",
    samples=(Sample(((2, 3),), {"axes": (1, 0)}), Sample(((2, 3, 4),), {"axes": (2, 0, 1)})),
))
register(Rule(
    name="broadcast_to", forward=np.broadcast_to, kind=LINEAR, batchable=True, arity=1,
    # The engine sums the broadcast gradient back down to x's shape.
    vjps=(lambda g, x, y, m, shape: g,),
    text=("sum g over the broadcast axes",), tex=(r"\sum_{\text{broadcast}}",), display=r"\operatorname{broadcast}(x)",
    samples=(Sample(((3,),), {"shape": (2, 3)}), Sample(((2, 1),), {"shape": (4, 2, 5)})),
))
register(Rule(
    name="astype", forward=lambda x, dtype: x.astype(dtype), kind=LINEAR, batchable=True, arity=1,
    # Back to x's dtype; a complex g for a real x keeps its real part (the covector of a real input).
    vjps=(lambda g, x, y, m, dtype: m.astype(m.real(g) if is_complex(g, m) and not is_complex(x, m) else g,
                                             x.dtype),), shape_only=("x",),
    text=("1 (cast back)",), tex=("1",), display=r"\operatorname{cast}(x)",
    samples=(Sample(((3,),), {"dtype": np.dtype(np.float64)}),),
))

# A move between array libraries or devices: ``to`` moves x there, ``back`` moves an array to where x was (both
# functions given by ``Tensor.to``; rules know no library). The gradient goes back, a tangent goes along.
register(Rule(
    name="move", forward=lambda x, to, back: to(x), kind=GENERAL, batchable=True, arity=1,
    vjps=(lambda g, x, y, m, to, back: m.transfer(g, back, to),),
    jvp=lambda ts, x, y, m, to, back: m.transfer(ts[0], to, back),
    text=("1 (g moved back to x's library and device)",), tex=("1",), display=r"\operatorname{to}(x)",
    samples=(Sample(((3,),), {"to": operator.pos, "back": operator.pos}),),  # +x: a copy in any library
))


# ---------------------------------------------------------------------------------------------------------------
# Complex parts: linear over the reals, so forward mode applies them to the tangent. Gradients are covectors
# (HIPS autograd's and JAX's convention): real z = x has the covector 1, imag z = y has −i, conj's vjp is conj(g).
# A complex input gets a complex gradient even where it is real (g cast back to z's dtype).
# ---------------------------------------------------------------------------------------------------------------
register(Rule(
    name="real", forward=np.real, kind=LINEAR, batchable=True, arity=1,
    vjps=(lambda g, x, y, m: m.astype(g, x.dtype),), shape_only=("x",),
    text=("1",), tex=("1",), display=r"\operatorname{Re} z", samples=(Sample(((3,),)),), public=True,
))
register(Rule(
    name="imag", forward=np.imag, kind=LINEAR, batchable=True, arity=1,
    vjps=(lambda g, x, y, m: -1j * g if is_complex(x, m) else 0 * g,), shape_only=("x",),
    text=("-i",), tex=("-i",), display=r"\operatorname{Im} z", samples=(Sample(((3,),)),), public=True,
))
register(Rule(
    name="conj", forward=np.conj, kind=LINEAR, batchable=True, arity=1, vjps=(lambda g, x, y, m: m.conj(g),),
    text=("conj(g)",), tex=(r"\bar{g}",), display=r"\bar{z}", samples=(Sample(((3,),)),), aliases=("conjugate",),
    public=True,
))

# ---------------------------------------------------------------------------------------------------------------
# Indexing: the gradient of x[index] scatters g into zeros, adding where an index repeats.
# ---------------------------------------------------------------------------------------------------------------
register(Rule(
    name="getitem", forward=lambda x, index: x[index], kind=LINEAR, batchable=True, arity=1,
    vjps=(lambda g, x, y, m, index: m.scatter(g, index, np.shape(x)),), shape_only=("x",),
    text=("g scattered back to the indexed places (repeats add up)",), tex=(r"\operatorname{scatter}(g)",),
    display="x[i]",
    samples=(Sample(((5,),), {"index": 2}), Sample(((4, 3),), {"index": (slice(1, 3), slice(None, None, 2))}),
             Sample(((5,),), {"index": np.array([0, 2, 2, 4, 0])}),
             Sample(((3, 4),), {"index": (np.array([0, 2, 0]), np.array([1, 1, 1]))}),
             Sample(((2, 3),), {"index": np.array([[True, False, True], [False, True, True]])}),
             Sample(((2, 3, 4),), {"index": (np.array([0, 1, 1]), slice(None), np.array([1, 2, 1]))}),
             Sample(((2, 3, 4),), {"index": (Ellipsis, np.array([3, 0]))})),
))
register(Rule(
    name="scatter", forward=numpy_math.scatter, kind=LINEAR, batchable=True, arity=1,
    vjps=(lambda g, x, y, m, index, shape: m.getitem(g, index),),
    text=("g at the indexed places",), tex=("g[i]",), display=r"\operatorname{scatter}(x)",
    samples=(Sample(((3,),), {"index": np.array([0, 2, 2]), "shape": (4,)}),),
))


# ---------------------------------------------------------------------------------------------------------------
# Joining: variadic, one input per joined array.
# ---------------------------------------------------------------------------------------------------------------
def _concatenate_vjp(i, g, xs, y, m, axis):
    start = sum(np.shape(x)[axis] for x in xs[:i])
    stop = start + np.shape(xs[i])[axis]
    return g[(slice(None),) * axis + (slice(start, stop), Ellipsis)]  # the Array API asks for every axis


register(Rule(
    name="concatenate", forward=lambda *xs, axis: np.concatenate(xs, axis=axis), kind=LINEAR, batchable=True, arity=-1,
    vjps=(_concatenate_vjp,), shape_only=("xs",), text=("g's slice for this input",), tex=("g_{[i]}",),
    display=r"\operatorname{concat}(x_1, \dots)", aliases=("concat",),
    samples=(Sample(((2, 3), (4, 3)), {"axis": 0}), Sample(((2, 1), (2, 3), (2, 2)), {"axis": 1})),
))
register(Rule(
    name="stack", forward=lambda *xs, axis: np.stack(xs, axis=axis), kind=LINEAR, batchable=True, arity=-1,
    vjps=(lambda i, g, xs, y, m, axis: g[(slice(None),) * axis + (i, Ellipsis)],),
    text=("g's slice for this input",), tex=("g_{[i]}",), display=r"\operatorname{stack}(x_1, \dots)",
    samples=(Sample(((3,), (3,)), {"axis": 0}), Sample(((2, 3), (2, 3), (2, 3)), {"axis": 2})),
))


# ---------------------------------------------------------------------------------------------------------------
# Reductions.
# ---------------------------------------------------------------------------------------------------------------
REDUCE_SAMPLES = (
    Sample(((5,),), {"axis": None, "keepdims": False}),
    Sample(((3, 4),), {"axis": (1,), "keepdims": False}),
    Sample(((2, 3, 4),), {"axis": (0, 2), "keepdims": True}),
)


register(Rule(
    name="sum", forward=numpy_math.sum, kind=LINEAR, batchable=True, arity=1,
    vjps=(lambda g, x, y, m, axis, keepdims: m.broadcast_to(_expand(g, x, axis, keepdims, m), np.shape(x)),),
    shape_only=("x",),
    text=("1 for every summed element",), tex=("1",), display=r"\sum_i x_i", samples=REDUCE_SAMPLES,
))
register(Rule(
    name="cumsum", forward=numpy_math.cumsum, kind=LINEAR, batchable=True, arity=1,
    # y_i = Σ_{j ≤ i} x_j, so ∂L/∂x_j = Σ_{i ≥ j} g_i: the running sum of g taken from the end.
    vjps=(lambda g, x, y, m, axis: m.flip(m.cumsum(m.flip(g, axis), axis), axis),),
    text=("running sum of g from the end",), tex=(r"\sum_{i \geq j} g_i",), display=r"\sum_{j \leq i} x_j",
    samples=(Sample(((5,),), {"axis": 0}), Sample(((3, 4),), {"axis": 1}), Sample(((2, 3, 2),), {"axis": 1})),
))
register(Rule(
    name="mean", forward=numpy_math.mean, kind=LINEAR, batchable=True, arity=1,
    vjps=(lambda g, x, y, m, axis, keepdims:
          m.broadcast_to(_expand(g, x, axis, keepdims, m) / _count(x, axis), np.shape(x)),), shape_only=("x",),
    text=("1/n for every averaged element",), tex=(r"\frac{1}{n}",), display=r"\frac{1}{n}\sum_i x_i",
    samples=REDUCE_SAMPLES,
))


def _extreme_share(x, y, axis, keepdims, m):
    """Where x attains its max (min): 1/k for each of the k tied elements, 0 elsewhere. A constant mask."""
    data, out = m.stop(x), m.stop(y)
    r = numpy_math.raw_namespace(data, m)
    expanded = _expand(out, data, axis, keepdims, r)
    hit = r.astype((data == expanded) | (r.isnan(data) & r.isnan(expanded)), data.dtype)  # a NaN max: at the NaN
    return hit / r.sum(hit, axis=axis, keepdims=True)


def _extreme_rule(name, forward, text):
    register(Rule(
        name=name, forward=forward, kind=GENERAL, batchable=True, arity=1,
        vjps=(lambda g, x, y, m, axis, keepdims: _expand(g, x, axis, keepdims, m) * _extreme_share(x, y, axis,
                                                                                                   keepdims, m),),
        jvp=lambda ts, x, y, m, axis, keepdims: m.sum(ts[0] * _extreme_share(x, y, axis, keepdims, m), axis=axis,
                                                      keepdims=keepdims),
        text=(text,), tex=(r"\frac{[x_i = y]}{\#\{j : x_j = y\}}",), display=rf"\{name}_i x_i",
        samples=REDUCE_SAMPLES, order=1, aliases=("a" + name,),
        note="tied elements share the gradient evenly; complex numbers in NumPy's order (real part, then imaginary)",
        supports_complex=True,  # NumPy defines it (lexicographically); the gradient goes to the element chosen
    ))


_extreme_rule("max", lambda x, axis, keepdims: np.max(x, axis=axis, keepdims=keepdims),
              "1/k at each of the k places where x equals the max, else 0")
_extreme_rule("min", lambda x, axis, keepdims: np.min(x, axis=axis, keepdims=keepdims),
              "1/k at each of the k places where x equals the min, else 0")


def _per_dof(x, axis, ddof) -> float:
    """1 / max(n - ddof, 0) as NumPy's var uses it: inf when no degree of freedom is left (a weak Python float)."""
    dof = _count(x, axis) - ddof
    return 1 / dof if dof > 0 else math.inf


def _centered(x, axis, m):
    return x - m.mean(x, axis=axis, keepdims=True)


def _var(x, axis, keepdims, ddof):
    return np.var(x, axis=_numpy_axis(axis), keepdims=keepdims, ddof=ddof)


def _std(x, axis, keepdims, ddof):
    return np.std(x, axis=_numpy_axis(axis), keepdims=keepdims, ddof=ddof)


register(Rule(
    name="var", forward=_var, kind=GENERAL, batchable=True, arity=1,
    vjps=(lambda g, x, y, m, axis, keepdims, ddof:
          _expand(g, x, axis, keepdims, m) * (2 * _per_dof(x, axis, ddof)) * _centered(x, axis, m),),
    jvp=lambda ts, x, y, m, axis, keepdims, ddof:
        m.sum(_centered(x, axis, m) * ts[0], axis=axis, keepdims=keepdims) * (2 * _per_dof(x, axis, ddof)),
    text=("2*(x - mean(x))/(n - ddof)",), tex=(r"\frac{2(x_i - \bar x)}{n - \text{ddof}}",),
    display=r"\operatorname{var}(x)",
    samples=tuple(Sample(s.shapes, {**s.params, "ddof": d}) for s, d in zip(REDUCE_SAMPLES, (0, 1, 0), strict=True)),
))
def _std_divisor(x, y, axis):
    """What std's derivative divides by: std itself, or 1 over groups of one element. There std is 0 for every x
    (x - mean(x) = 0 identically), so its derivative is 0, not the formula's 0/0; dividing the exact zeros of
    x - mean(x) by 1 gives it, at every order. Groups of equal values with n > 1 keep 0/0 (std is not flat there)."""
    return y if _count(x, axis) != 1 else 1


register(Rule(
    name="std", forward=_std, kind=GENERAL, batchable=True, arity=1,
    vjps=(lambda g, x, y, m, axis, keepdims, ddof:
          _expand(g / _std_divisor(x, y, axis), x, axis, keepdims, m) * _per_dof(x, axis, ddof)
          * _centered(x, axis, m),),
    jvp=lambda ts, x, y, m, axis, keepdims, ddof:
        m.sum(_centered(x, axis, m) * ts[0], axis=axis, keepdims=keepdims) * _per_dof(x, axis, ddof)
        / _std_divisor(x, y, axis),
    text=("(x - mean(x))/((n - ddof)*std(x))",), tex=(r"\frac{x_i - \bar x}{(n - \text{ddof})\,\sigma}",),
    display=r"\operatorname{std}(x)",
    samples=tuple(Sample(s.shapes, {**s.params, "ddof": d}) for s, d in zip(REDUCE_SAMPLES, (0, 1, 0), strict=True)),
    note="std'(x) is inf/nan where std(x) = 0 over n > 1 equal values, as 1/(2 sqrt(0)) is; 0 over a single "
         "element (std is 0 for every x there)",
))


def _product_of_others(x, y, axis, keepdims, m):
    """For each element, the product of the other elements of its reduction group (exact when some are 0)."""
    data = m.stop(x)
    if not m.has_zero(data):  # (other libraries: always the products below, no test of device values)
        return _expand(y, x, axis, keepdims, m) / x
    axes = tuple(range(np.ndim(data))) if axis is None else axis
    rest = tuple(a for a in range(np.ndim(data)) if a not in axes)
    order = rest + axes
    moved = m.transpose(x, order)
    shape = np.shape(moved)
    k = _count(data, axes)
    flat = m.reshape(moved, shape[: len(rest)] + (k,))
    others = m.product_of_others(flat)  # along the last axis: the namespace knows how (cumulative products, or
    return m.transpose(m.reshape(others, shape), tuple(np.argsort(order)))  # differentiable ones on Tensors)


register(Rule(
    name="prod", forward=numpy_math.prod, kind=GENERAL, batchable=True, arity=1, supports_complex=True,
    vjps=(lambda g, x, y, m, axis, keepdims:
          _expand(g, x, axis, keepdims, m) * _product_of_others(x, y, axis, keepdims, m),),
    jvp=lambda ts, x, y, m, axis, keepdims:
        m.sum(ts[0] * _product_of_others(x, y, axis, keepdims, m), axis=axis, keepdims=keepdims),
    text=("product of the other elements",), tex=(r"\prod_{j \ne i} x_j",), display=r"\prod_i x_i",
    samples=REDUCE_SAMPLES, domain=(0.5, 1.5),
))


# ---------------------------------------------------------------------------------------------------------------
# The softmax family: primitives, because the composites overflow. Holomorphic, so complex inputs take the same
# formulas (SciPy's softmax and log_softmax shift by NumPy's complex max, logsumexp by the largest real part).
# ---------------------------------------------------------------------------------------------------------------
def _shifted(x, axis):
    if x.size == 0:  # (an empty axis has no maximum, and nothing to shift)
        return x
    # The array method skips np.max's dispatch: a few µs per call, which count on small batches.
    peak = x.max(axis=axis, keepdims=True) if type(x) is np.ndarray else np.max(x, axis=axis, keepdims=True)
    return x - np.where(np.isfinite(peak), peak, 0)


def _logsumexp(x, axis, keepdims):
    # complex x is shifted by its largest real part: the log of the sum is then the principal one, SciPy's value
    if np.size(x) == 0:  # (an empty axis has no maximum: no shift, and its sum is 0, so −inf as PyTorch's)
        peak = 0.0
    else:
        peak = np.max(np.real(x) if np.iscomplexobj(x) else x, axis=axis, keepdims=True)
        peak = np.where(np.isfinite(peak), peak, 0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x - peak), axis=axis, keepdims=True)) + peak
    return out if keepdims else np.squeeze(out, axis=axis)


def _log_softmax(x, axis):
    z = _shifted(x, axis)
    with np.errstate(divide="ignore"):
        return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


SOFTMAX_SAMPLES = (Sample(((5,),), {"axis": (0,)}), Sample(((3, 4),), {"axis": (1,)}),
                   Sample(((2, 3, 4),), {"axis": (0,)}))

register(Rule(
    name="logsumexp", forward=_logsumexp, kind=GENERAL, batchable=True, arity=1, supports_complex=True,
    vjps=(lambda g, x, y, m, axis, keepdims:
          _expand(g, x, axis, keepdims, m) * m.exp(x - _expand(y, x, axis, keepdims, m)),),
    jvp=lambda ts, x, y, m, axis, keepdims:
        m.sum(ts[0] * m.exp(x - _expand(y, x, axis, keepdims, m)), axis=axis, keepdims=keepdims),
    text=("softmax(x)",), tex=(r"\operatorname{softmax}(x)_i",), display=r"\ln \sum_i e^{x_i}",
    samples=REDUCE_SAMPLES,
))
register(Rule(
    name="softmax", forward=numpy_math.softmax, kind=GENERAL, batchable=True, arity=1, supports_complex=True,
    vjps=(lambda g, x, y, m, axis: y * (g - m.sum(g * y, axis=axis, keepdims=True)),),
    jvp=lambda ts, x, y, m, axis: y * (ts[0] - m.sum(ts[0] * y, axis=axis, keepdims=True)),
    text=("y_i*(delta_ij - y_j)",), tex=(r"y_i(\delta_{ij} - y_j)",), display=r"\frac{e^{x_i}}{\sum_j e^{x_j}}",
    samples=SOFTMAX_SAMPLES,
))
register(Rule(
    name="log_softmax", forward=_log_softmax, kind=GENERAL, batchable=True, arity=1, supports_complex=True,
    vjps=(lambda g, x, y, m, axis: g - m.exp(y) * m.sum(g, axis=axis, keepdims=True),),
    jvp=lambda ts, x, y, m, axis: ts[0] - m.sum(m.exp(y) * ts[0], axis=axis, keepdims=True),
    text=("delta_ij - softmax(x)_j",), tex=(r"\delta_{ij} - \operatorname{softmax}(x)_j",),
    display=r"x_i - \ln \sum_j e^{x_j}", samples=SOFTMAX_SAMPLES,
))


# Softmax cross-entropy with integer labels, −log softmax(x)[n, labels[n]], as one primitive (what
# nn.functional.cross_entropy uses for (N, C) logits): one node instead of log_softmax, indexing and a mean, and
# the gradient (softmax(x) − onehot) · g formed at once. ``reduction`` is "mean", "sum" or "none".
def _cross_entropy(x, labels, reduction):
    if type(x) is np.ndarray and x.dtype.kind == "f" and x.size:
        peak = np.maximum.reduce(x, axis=1, keepdims=True)  # x.max's own call, without its Python wrapper
        if np.count_nonzero(np.isfinite(peak)) == len(peak):
            # Every row's maximum is finite (two quick NumPy calls, which never warn, to know): each row of
            # exp(x − max) then holds a 1, so no total is 0 and nothing needs an errstate (each costs µs); the shift
            # is _shifted's, without its guard.
            return _cross_entropy_of_shifted(x - peak, x, labels, reduction)
    # One errstate: log(0) of a row of -inf is -inf without a warning. Such a row, or a +inf logit, makes the
    # subtraction warn of an invalid value (a nan loss), and then the softmax's division too.
    with np.errstate(divide="ignore"):
        return _cross_entropy_of_shifted(_shifted(x, 1), x, labels, reduction)


def _cross_entropy_of_shifted(z, x, labels, reduction):
    e = np.exp(z)
    total = np.add.reduce(e, axis=1)
    losses = np.log(total) - z[np.arange(len(labels)), labels]
    # np.add.reduce: what losses.sum() calls, without its Python wrapper
    value = losses if reduction == "none" else np.add.reduce(losses, axis=None) / len(labels) if reduction == "mean" \
        else np.add.reduce(losses, axis=None)
    if type(x) is not np.ndarray or x.dtype.kind != "f" or not x.size:
        return value
    # The softmax, which the gradient needs, is at hand here: it is kept beside the output, in the buffer the output
    # is a view of (as lstm keeps its gates), so backward need not recompute it (_cross_entropy_saved).
    head = len(labels) if reduction == "none" else 1
    buffer = np.empty(head + x.size, dtype=x.dtype)
    np.divide(e, total[:, None], out=buffer[head:].reshape(x.shape))
    out = buffer[:head]
    out[...] = value
    return out if reduction == "none" else out.reshape(())


def _cross_entropy_saved(y, x):
    """The softmax of x that ``_cross_entropy`` kept beside its output y, or None (y a Tensor, or another array)."""
    base = y.base if type(y) is np.ndarray else None
    shape = x.shape if type(x) is np.ndarray else np.shape(x)  # (np.shape's dispatch costs more than the rest)
    if type(base) is not np.ndarray or base.shape != (y.size + math.prod(shape),) or base.dtype != y.dtype:
        return None
    return base[y.size:].reshape(shape)


def _per_sample(g, x, reduction, m):
    """The upstream gradient of each sample's loss, as a column that broadcasts against x's classes."""
    if reduction == "none":
        return m.expand_dims(g, 1)
    if reduction == "mean":
        return g / (x.shape[0] if type(x) is np.ndarray else np.shape(x)[0])
    return g


def _cross_entropy_jvp(ts, x, y, m, labels, reduction):
    per_sample = m.sum((m.softmax(x, axis=1) - m.one_hot(labels, x)) * ts[0], axis=1)
    if reduction == "none":
        return per_sample
    total = m.sum(per_sample)
    return total / np.shape(x)[0] if reduction == "mean" else total


def _cross_entropy_vjp(g, x, y, m, labels, reduction):
    if m is numpy_math and type(x) is np.ndarray and (getattr(g, "ndim", None) == 0 or np.ndim(g) == 0):
        # On arrays, the same numbers with fewer passes: the softmax the forward kept (else computed), the one-hot
        # subtracted in place.
        saved = _cross_entropy_saved(y, x)
        p = numpy_math.softmax(x, axis=1) if saved is None else saved.copy()
        p[m.arange(len(labels), p), labels] -= 1
        p *= _per_sample(g, x, reduction, m)
        return p
    return (m.softmax(x, axis=1) - m.one_hot(labels, x)) * _per_sample(g, x, reduction, m)


register(Rule(
    name="cross_entropy", forward=_cross_entropy, kind=GENERAL, batchable=True, arity=1, args=("x",),
    vjps=(_cross_entropy_vjp,),
    jvp=_cross_entropy_jvp,
    text=("softmax(x) - onehot(labels), per sample",), tex=(r"\operatorname{softmax}(x)_{nj} - [j = t_n]",),
    display=r"-\log \operatorname{softmax}(x)_{n t_n}",
    samples=(Sample(((4, 3),), {"labels": np.array([0, 2, 1, 2]), "reduction": "mean"}),
             Sample(((3, 5),), {"labels": np.array([4, 0, 4]), "reduction": "sum"}),
             Sample(((2, 4),), {"labels": np.array([1, 3]), "reduction": "none"})),
))


# ---------------------------------------------------------------------------------------------------------------
# Matrix product: linear in each input separately. 1-D operands follow NumPy (a vector is promoted, then the
# added axis is dropped); batch dimensions broadcast, and the engine sums them back.
# ---------------------------------------------------------------------------------------------------------------
def _matmul_vjp_a(g, a, b, y, m):
    if np.ndim(b) == 1:
        return m.expand_dims(g, (-1,)) * b if np.ndim(a) > 1 else g * b
    if np.ndim(a) == 1:
        return m.matmul(b, m.expand_dims(g, (-1,)))[..., 0]
    return m.matmul(g, m.swapaxes(b, -1, -2))


def _matmul_vjp_b(g, a, b, y, m):
    if np.ndim(a) == 1:
        return m.expand_dims(a, (-1,)) * m.expand_dims(g, (-2,)) if np.ndim(b) > 1 else g * a
    if np.ndim(b) == 1:
        return m.matmul(m.swapaxes(a, -1, -2), m.expand_dims(g, (-1,)))[..., 0]
    if isinstance(b, np.ndarray) and b.ndim == 2 and b.flags.f_contiguous and not b.flags.c_contiguous:
        # b is a transposed view (x @ W.T): form (gᵀa)ᵀ, the same numbers laid out like b, so W's gradient comes
        # back C-ordered like W and later updates run contiguously.
        return m.swapaxes(m.matmul(m.swapaxes(g, -1, -2), a), -1, -2)
    return m.matmul(m.swapaxes(a, -1, -2), g)


register(Rule(
    name="matmul", forward=np.matmul, kind=MULTILINEAR, batchable=True, arity=2, args=("a", "b"),
    vjps=(_matmul_vjp_a, _matmul_vjp_b),
    text=("g @ b.T", "a.T @ g"), tex=(r"g\,b^{T}", r"a^{T} g"), display="a b",
    samples=(Sample(((3, 4), (4, 2))), Sample(((4,), (4,))), Sample(((4,), (4, 3))), Sample(((2, 4), (4,))),
             Sample(((2, 3, 4), (4, 5))), Sample(((2, 1, 3, 4), (3, 4, 2)))),
))


# ---------------------------------------------------------------------------------------------------------------
# The linear layer x Wᵀ + b as one primitive: one node instead of three, the bias added in place, and the weight's
# gradient formed directly as gᵀx (no transposed view to copy at the leaf).
# ---------------------------------------------------------------------------------------------------------------
def _flat_product(a, b):
    """a @ b for a of shape (..., k) and a 2-D array b, as one product of a's rows: NumPy runs a stack of small
    products for a 3-D @ 2-D matmul (half the speed of one large one, for sequences (L, N, k) and (N, T, k))."""
    if type(a) is np.ndarray and a.ndim > 2 and type(b) is np.ndarray and b.ndim == 2:
        return (a.reshape(-1, a.shape[-1]) @ b).reshape(a.shape[:-1] + b.shape[1:])
    return None


def _linear(x, weight, bias):
    transposed = weight.swapaxes(-1, -2) if type(weight) is np.ndarray else np.swapaxes(weight, -1, -2)
    out = _flat_product(x, transposed) if type(x) is not np.ndarray or x.ndim > 2 else None
    if out is None:
        out = np.matmul(x, transposed)
    if type(out) is np.ndarray and (bias.dtype == out.dtype if type(bias) is np.ndarray
                                    else np.result_type(out, bias) == out.dtype):
        out += bias  # out is fresh from matmul: add the bias in place
        return out
    return out + bias


def _linear_vjp_input(g, x, weight, bias, y, m):
    if m is numpy_math and (type(g) is not np.ndarray or g.ndim > 2):
        out = _flat_product(g, weight)
        if out is not None:
            return out
    return m.matmul(g, weight)


def _linear_vjp_weight(g, x, weight, bias, y, m):
    if m is numpy_math and type(g) is np.ndarray and type(x) is np.ndarray and x.ndim > 1:
        if g.ndim == x.ndim > 2 and np.ndim(weight) == 2:  # gᵀx summed over every leading axis: one product
            return g.reshape(-1, g.shape[-1]).T @ x.reshape(-1, x.shape[-1])
        return g.swapaxes(-1, -2) @ x
    if np.ndim(x) == 1:
        return m.expand_dims(g, (-1,)) * x
    return m.matmul(m.swapaxes(g, -1, -2), x)


register(Rule(
    name="linear", forward=_linear, kind=GENERAL, batchable=True, arity=3, args=("x", "W", "b"), supports_complex=True,
    vjps=(_linear_vjp_input, _linear_vjp_weight, lambda g, x, weight, bias, y, m: g),
    jvp=lambda ts, x, weight, bias, y, m: (m.matmul(ts[0], m.swapaxes(weight, -1, -2))
                                           + m.matmul(x, m.swapaxes(ts[1], -1, -2)) + ts[2]),
    text=("g @ W", "g.T @ x", "g summed over the batch"), tex=(r"g\,W", "g^{T} x", r"\sum_{\text{batch}} g"),
    display="x W^{T} + b",
    samples=(Sample(((4, 3), (2, 3), (2,))), Sample(((3,), (2, 3), (2,))), Sample(((2, 5, 3), (4, 3), (4,)))),
))
