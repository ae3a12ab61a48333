"""Properties over generated shapes, axes and dtypes (Hypothesis), each checked against plain NumPy.

- Broadcasting: each input's gradient has that input's shape and equals the upstream gradient summed over the
  broadcast axes (computed here with NumPy, independently of the engine).
- Reductions with random axis tuples (negative axes too) and keepdims: values equal NumPy's, gradients equal the
  textbook formulas evaluated with NumPy.
- float32 in, float32 out, float32 gradients, across random chains of ops.
- ``unbroadcast`` is the adjoint of broadcasting: ⟨unbroadcast(g), x⟩ == ⟨g, broadcast_to(x)⟩.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from chainrule.engine import unbroadcast
from chainrule.rules import numpy_math

SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=4)
SEEDS = st.integers(0, 2**32 - 1)


def _sum_to_shape(g, shape):
    """NumPy reference for undoing broadcasting: sum g over the axes that broadcasting added or stretched."""
    g = np.asarray(g)
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g


BINARY_OPS = {
    # name -> (op, ∂/∂a and ∂/∂b in NumPy)
    "add": (cr.add, lambda a, b: (np.ones_like(a + b), np.ones_like(a + b))),
    "mul": (cr.multiply, lambda a, b: (b + 0 * a, a + 0 * b)),
    "div": (cr.divide, lambda a, b: (1 / b + 0 * a, -a / b ** 2)),
    "maximum": (cr.maximum, lambda a, b: ((a > b) + 0.0 * b, (b > a) + 0.0 * a)),
    "where": (None, None),
}


@pytest.mark.parametrize("name", sorted(BINARY_OPS))
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=3), seed=SEEDS)
def test_broadcasting_gradients_have_the_input_shape(name, shapes, seed):
    sa, sb = shapes.input_shapes
    rng = np.random.default_rng(seed)
    a = rng.uniform(-2, 2, size=sa)
    b = rng.uniform(0.5, 2, size=sb) * rng.choice([-1.0, 1.0], size=sb)
    ta, tb = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    if name == "where":
        cond = rng.random(shapes.result_shape) < 0.5
        out = cr.where(cond, ta, tb)
        expected_value = np.where(cond, a, b)
        da, db = cond + 0.0 * a, (~cond) + 0.0 * b
    else:
        op, derivatives = BINARY_OPS[name]
        out = op(ta, tb)
        expected_value = {"add": np.add, "mul": np.multiply, "div": np.divide, "maximum": np.maximum}[name](a, b)
        da, db = derivatives(a, b)
    assert out.shape == shapes.result_shape
    assert_close(out, expected_value, rtol=1e-15)
    g = rng.standard_normal(shapes.result_shape)
    out.backward(g)
    assert ta.grad.shape == sa and tb.grad.shape == sb
    assert_close(ta.grad, _sum_to_shape(g * da, sa), rtol=1e-13)
    assert_close(tb.grad, _sum_to_shape(g * db, sb), rtol=1e-13)


def _draw_axis(data, ndim):
    """None, an int (maybe negative), or a tuple of distinct axes in any order (maybe negative)."""
    if ndim == 0:
        return data.draw(st.sampled_from([None, 0, -1, ()]), label="axis")
    axes = st.lists(st.integers(-ndim, ndim - 1), min_size=1, max_size=ndim,
                    unique_by=lambda a: a % ndim).map(tuple)
    return data.draw(st.none() | st.integers(-ndim, ndim - 1) | axes, label="axis")


def _numpy_axis(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else axis
    return tuple(a % max(ndim, 1) for a in axes) if ndim else ()


def _expand(r, axes, keepdims):
    return r if keepdims else np.expand_dims(r, axes)


REDUCTIONS = ("sum", "mean", "max", "min", "prod", "var", "std", "logsumexp")


@pytest.mark.parametrize("name", REDUCTIONS)
@given(data=st.data(), shape=SHAPES, seed=SEEDS)
def test_reductions_with_random_axes_and_keepdims(name, data, shape, seed):
    axis = _draw_axis(data, len(shape))
    keepdims = data.draw(st.booleans(), label="keepdims")
    axes = _numpy_axis(axis, len(shape))
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 1.5, size=shape) if name == "prod" else rng.standard_normal(shape)
    n = int(np.prod([shape[a] for a in axes]))
    if name == "std" and n == 1:
        return  # std' = 1/(2 std) is inf at a single element
    t = cr.tensor(x, requires_grad=True)
    out = getattr(cr, name)(t, axis=axis, keepdims=keepdims)
    if name == "logsumexp":
        expected = np.log(np.sum(np.exp(x), axis=axes, keepdims=keepdims))
    else:
        expected = getattr(np, name)(x, axis=axes, keepdims=keepdims)
    assert out.shape == np.shape(expected)
    assert_close(out, expected, rtol=1e-13)

    g = rng.standard_normal(out.shape)
    out.backward(g)
    assert t.grad.shape == x.shape
    r = np.asarray(getattr(np, "max" if name == "logsumexp" else name)(x, axis=axes, keepdims=True))
    local = {
        "sum": lambda: np.ones_like(x),
        "mean": lambda: np.ones_like(x) / n,
        "max": lambda: (x == r) / np.sum(x == r, axis=axes, keepdims=True),
        "min": lambda: (x == r) / np.sum(x == r, axis=axes, keepdims=True),
        "prod": lambda: r / x,
        "var": lambda: 2 * (x - x.mean(axis=axes, keepdims=True)) / n,
        "std": lambda: (x - x.mean(axis=axes, keepdims=True)) / (n * r),
        "logsumexp": lambda: np.exp(x - r) / np.sum(np.exp(x - r), axis=axes, keepdims=True),
    }[name]()
    assert_close(t.grad, _expand(g, axes, keepdims) * local, rtol=1e-12)


@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=1, max_dims=4, max_side=4), seed=SEEDS)
def test_unbroadcast_is_the_adjoint_of_broadcasting(shapes, seed):
    shape, big = shapes.input_shapes[0], shapes.result_shape
    rng = np.random.default_rng(seed)
    g, x = rng.standard_normal(big), rng.standard_normal(shape)
    reduced = unbroadcast(g, shape, numpy_math)
    assert np.shape(reduced) == shape
    assert_close(reduced, _sum_to_shape(g, shape), rtol=1e-13)
    assert float(np.sum(reduced * x)) == pytest.approx(float(np.sum(g * np.broadcast_to(x, big))), rel=1e-12,
                                                       abs=1e-12)
    t = cr.tensor(x, requires_grad=True)
    cr.broadcast_to(t, big).backward(g)
    assert_close(t.grad, _sum_to_shape(g, shape), rtol=1e-13)


ONE_TWO = cr.tensor([1.0, 2.0], dtype=np.float32)  # keeps std away from 0, where its derivative is undefined
THREE = cr.tensor(3.0, dtype=np.float32)
CHAIN_OPS = {
    "exp": lambda x: cr.exp(x * 0.3), "log": lambda x: cr.log(x * x + 1), "sqrt": lambda x: cr.sqrt(x * x + 1),
    "sin": cr.sin, "cos": cr.cos, "tan": lambda x: cr.tan(cr.tanh(x)), "tanh": cr.tanh, "sigmoid": cr.sigmoid,
    "softplus": cr.softplus, "relu": cr.relu, "leaky_relu": cr.leaky_relu, "abs": cr.abs, "arctan": cr.arctan,
    "arcsin": lambda x: cr.arcsin(cr.tanh(x) * 0.5), "sinh": cr.sinh, "cosh": cr.cosh,
    "log1p": lambda x: cr.log1p(x * x), "expm1": lambda x: cr.expm1(cr.tanh(x)), "log2": lambda x: cr.log2(x * x + 1),
    "log_base": lambda x: cr.log(x * x + 2, 3), "log_base_tensor": lambda x: cr.log(x * x + 2, THREE),
    "pow": lambda x: (x * x + 1) ** 1.5, "rpow": lambda x: 2 ** x, "div": lambda x: 1 / (x * x + 1),
    "sub": lambda x: 2 - x, "neg": lambda x: -x, "square": lambda x: x * x, "clip": lambda x: cr.clip(x, -1, 1),
    "maximum": lambda x: cr.maximum(x, 0.5), "minimum": lambda x: cr.minimum(0.5, x),
    "where": lambda x: cr.where(x > 0, x, x * 0.5),
    "softmax": lambda x: cr.softmax(x) if x.ndim else x,
    "log_softmax": lambda x: cr.log_softmax(x) if x.ndim else x,
    "mean_keep": lambda x: x - cr.mean(x, keepdims=True),
    "std": lambda x: x / (cr.std(cr.concatenate([x.reshape(-1), ONE_TWO])) + 1),
    "var": lambda x: x * cr.var(x), "max": lambda x: x - cr.max(x), "min": lambda x: x + cr.min(x),
    "prod": lambda x: x * cr.prod(cr.tanh(x) * 0.1 + 1), "logsumexp": lambda x: x - cr.logsumexp(x),
    "transpose": lambda x: x.T, "reshape": lambda x: x.reshape(-1).reshape(x.shape),
    "getitem": lambda x: x[..., None][..., 0], "matmul": lambda x: (x.reshape(1, -1) @ x.reshape(-1, 1)) * x,
    "concat": lambda x: cr.concatenate([x.reshape(-1), x.reshape(-1)])[: x.size].reshape(x.shape),
    "stack": lambda x: cr.stack([x, x]).sum(axis=0),
}


@given(shape=SHAPES, seed=SEEDS, names=st.lists(st.sampled_from(sorted(CHAIN_OPS)), min_size=1, max_size=8))
def test_float32_stays_float32_through_random_chains(shape, seed, names):
    x = np.random.default_rng(seed).uniform(-1, 1, size=shape).astype(np.float32)
    t = cr.tensor(x, requires_grad=True)
    assert t.dtype == np.float32
    y = t
    for name in names:
        y = CHAIN_OPS[name](y)
        assert y.dtype == np.float32, f"{name} made {y.dtype} from float32 (chain {names})"
        y = cr.tanh(y)  # keeps every value in (-1, 1), so long chains cannot overflow float32
    y.sum().backward()
    assert t.grad.dtype == np.float32, f"the gradient of chain {names} is {t.grad.dtype}"
    assert np.all(np.isfinite(t.grad.data))


@given(shape=SHAPES, seed=SEEDS, names=st.lists(st.sampled_from(sorted(CHAIN_OPS)), min_size=1, max_size=5))
def test_float32_second_order_stays_float32(shape, seed, names):
    x = np.random.default_rng(seed).uniform(-1, 1, size=shape).astype(np.float32)
    t = cr.tensor(x, requires_grad=True)
    y = t
    for name in names:
        y = cr.tanh(CHAIN_OPS[name](y))
    y.sum().backward(create_graph=True)
    g = t.grad
    assert g.dtype == np.float32, f"create_graph gradient of {names} is {g.dtype}"
    if g.requires_grad:
        t.grad = None
        (g * g).sum().backward()
        assert t.grad.dtype == np.float32, f"second-order gradient of {names} is {t.grad.dtype}"
