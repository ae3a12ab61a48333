"""The engine's semantics: accumulation, released graphs, create_graph, no_grad, memory, dtypes, indexing, errors."""

from __future__ import annotations

import gc
import operator
import tracemalloc
import weakref

import numpy as np
import pytest

import chainrule as cr


# ---------------------------------------------------------------------------------------------------------------
# Accumulation and resetting.
# ---------------------------------------------------------------------------------------------------------------
def test_gradients_accumulate_across_backward_calls():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    first = x.grad
    np.testing.assert_array_equal(first.data, [2.0, 4.0])
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [5.0, 7.0])
    np.testing.assert_array_equal(first.data, [2.0, 4.0])  # the earlier .grad Tensor was not changed in place


def test_setting_grad_to_none_resets():
    x = cr.tensor(3.0, requires_grad=True)
    (x * x).backward()
    x.grad = None
    (x * x).backward()
    assert float(x.grad) == 6.0


def test_grad_is_a_tensor_without_graph_and_intermediates_get_none():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    (h * h).sum().backward()
    assert isinstance(x.grad, cr.Tensor) and not x.grad.requires_grad and x.grad.shape == (2,)
    assert h.grad is None
    np.testing.assert_array_equal(x.grad.data, 8 * x.data)


def test_an_input_used_many_times_sums_its_contributions():
    x = cr.tensor(1.5, requires_grad=True)
    a = cr.sin(x)
    y = a * a + a * x + cr.exp(a)  # a diamond: x reaches y along four paths
    y.backward()
    s, c = np.sin(1.5), np.cos(1.5)
    assert float(x.grad) == pytest.approx(2 * s * c + c * 1.5 + s + np.exp(s) * c, rel=1e-14)


def test_constants_get_no_gradient():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    c = cr.tensor([3.0, 4.0])
    (x * c).sum().backward()
    assert c.grad is None and not c.requires_grad
    np.testing.assert_array_equal(x.grad.data, [3.0, 4.0])


def test_backward_with_an_explicit_gradient():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).backward(np.array([1.0, 0.0, -1.0]))
    np.testing.assert_array_equal(x.grad.data, [2.0, 0.0, -6.0])
    x.grad = None
    (x * x).backward(cr.tensor([1.0, 1.0, 1.0]))
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0, 6.0])
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        (x * x).backward(np.ones(2))


@pytest.mark.parametrize("build", [
    lambda x, y: x + y, lambda x, y: x - y, lambda x, y: (x + y).reshape(2, 2).reshape(4),
    lambda x, y: cr.concatenate([x, y])[2:6] + cr.broadcast_to(y[:1], (4,)) * 0,
    lambda x, y: cr.stack([x, y]).sum(axis=0),
], ids=["add", "subtract", "reshape", "concatenate", "stack"])
def test_grads_never_alias_the_seed_or_each_other(build):
    x = cr.tensor(np.ones(4), requires_grad=True)
    y = cr.tensor(np.ones(4), requires_grad=True)
    seed = np.arange(4.0)
    build(x, y).backward(seed)
    gx, gy = x.grad.data.copy(), y.grad.data.copy()
    seed[:] = -100.0
    x.grad.data[:] = 1000.0
    np.testing.assert_array_equal(y.grad.data, gy)
    assert not np.shares_memory(x.grad.data, y.grad.data)
    assert not np.any(gx == -100.0) and not np.any(y.grad.data == -100.0)


# ---------------------------------------------------------------------------------------------------------------
# Released graphs, retain_graph, create_graph.
# ---------------------------------------------------------------------------------------------------------------
def test_second_backward_through_a_released_graph_raises():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = cr.sin(x * 2).sum()
    y.backward()
    with pytest.raises(cr.GraphError, match="retain_graph"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = cr.sin(x * 2).sum()
    y.backward(retain_graph=True)
    once = x.grad.data.copy()
    y.backward()
    np.testing.assert_allclose(x.grad.data, 2 * once, rtol=1e-15)
    np.testing.assert_allclose(once, 2 * np.cos(2 * x.data), rtol=1e-15)


def test_shared_subgraph_released_by_one_backward():
    x = cr.tensor(1.0, requires_grad=True)
    h = cr.exp(x)
    (h * 2).backward()
    with pytest.raises(cr.GraphError, match="retain_graph"):
        (h * 3).backward()  # h's node was released by the first backward


def test_create_graph_makes_grad_differentiable():
    x = cr.tensor(2.0, requires_grad=True)
    (x ** 3).backward(create_graph=True)
    g = x.grad
    assert g.requires_grad and float(g) == 12.0  # 3x²
    x.grad = None
    g.backward()
    assert float(x.grad) == 12.0  # 6x


def test_create_graph_third_order():
    x = cr.tensor(0.7, requires_grad=True)
    cr.sin(x).backward(create_graph=True)
    g1, x.grad = x.grad, None
    g1.backward(create_graph=True)
    g2, x.grad = x.grad, None
    g2.backward()
    assert float(g1) == pytest.approx(np.cos(0.7), rel=1e-15)
    assert float(g2) == pytest.approx(-np.sin(0.7), rel=1e-15)
    assert float(x.grad) == pytest.approx(-np.cos(0.7), rel=1e-15)


# ---------------------------------------------------------------------------------------------------------------
# no_grad, detach, requires_grad_.
# ---------------------------------------------------------------------------------------------------------------
def test_no_grad_records_nothing_and_restores_the_mode():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    assert cr.is_grad_enabled()
    with cr.no_grad():
        assert not cr.is_grad_enabled()
        y = cr.exp(x) * 2 + x
        z = y.sum()
    assert not y.requires_grad and y.is_leaf and not z.requires_grad and z.is_leaf
    assert cr.is_grad_enabled()
    with pytest.raises(ZeroDivisionError), cr.no_grad():
        raise ZeroDivisionError
    assert cr.is_grad_enabled()
    with pytest.raises(cr.GraphError):
        z.backward()


def test_detach_cuts_the_graph_and_shares_data():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    np.testing.assert_array_equal(d.data, [2.0, 4.0])
    (x * x.detach()).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 2.0])  # d/dx (x * const) = const
    assert np.shares_memory(x.detach().data, x.data)


def test_requires_grad_():
    t = cr.tensor([1.0])
    assert t.requires_grad_() is t and t.requires_grad and t.is_leaf
    with pytest.raises(TypeError, match="int64"):
        cr.tensor([1, 2]).requires_grad_()
    with pytest.raises(TypeError):
        cr.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError):
        cr.tensor([True], requires_grad=True)


def test_backward_on_a_non_scalar_without_grad_names_the_shape():
    x = cr.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        (x * 2).backward()


def test_backward_on_a_tensor_that_does_not_require_grad_raises():
    with pytest.raises(cr.GraphError, match="require"):
        cr.tensor([1.0, 2.0]).sum().backward()


# ---------------------------------------------------------------------------------------------------------------
# Deep graphs and memory.
# ---------------------------------------------------------------------------------------------------------------
def test_a_chain_of_100000_ops_backpropagates():
    x = cr.tensor(0.5, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 0.999 + 0.001
    y.backward()
    assert float(x.grad) == pytest.approx(0.999 ** 100_000, rel=1e-9)
    assert float(y) == pytest.approx(1 - 0.5 * 0.999 ** 100_000, rel=1e-9)


def test_graph_is_freed_by_reference_counting_alone():
    gc.collect()
    gc.disable()
    try:
        x = cr.tensor(np.ones(5), requires_grad=True)
        h = x * 2.0
        saved = weakref.ref(h.data.base)  # .data is a view (chainrule.engine.versions) of the array the graph keeps
        y = cr.sin(h).sum()
        del h
        assert saved() is not None  # the graph of y holds h's value
        del y
        assert saved() is None, "the graph outlived its root: a reference cycle"

        h = x * 2.0
        saved = weakref.ref(h.data.base)
        y = cr.sin(h).sum()
        del h
        y.backward()
        assert saved() is None, "backward() did not release the saved arrays"
        del y
    finally:
        gc.enable()


def _training_step(w, b, xs, ys):
    loss = cr.mean((cr.tanh(xs @ w + b) - ys) ** 2)
    loss.backward()
    with cr.no_grad():
        w.data -= 0.1 * w.grad.data
        b.data -= 0.1 * b.grad.data
    w.grad = b.grad = None
    return float(loss)


def test_training_loop_makes_no_cyclic_garbage_and_memory_is_stable():
    rng = np.random.default_rng(0)
    xs, ys = rng.standard_normal((16, 4)), rng.standard_normal((16, 2))
    w = cr.tensor(rng.standard_normal((4, 2)) * 0.1, requires_grad=True)
    b = cr.tensor(np.zeros(2), requires_grad=True)
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        losses = [_training_step(w, b, xs, ys) for _ in range(200)]
        first, first_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        losses += [_training_step(w, b, xs, ys) for _ in range(800)]
        last, last_peak = tracemalloc.get_traced_memory()
        garbage = gc.collect()
    finally:
        tracemalloc.stop()
        gc.enable()
    assert garbage == 0, f"{garbage} objects were only reclaimable by the cycle collector"
    assert last - first < 64 * 1024, f"memory grew by {last - first} bytes over 800 steps"
    assert last_peak < first_peak + 64 * 1024
    assert losses[-1] < losses[0]


# ---------------------------------------------------------------------------------------------------------------
# float32 stays float32.
# ---------------------------------------------------------------------------------------------------------------
F32_OPS = {
    **{name: getattr(cr, name) for name in (
        "exp", "log", "log2", "log10", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "csc", "sec", "cot",
        "arcsin", "arccos", "arctan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "sigmoid", "softplus", "relu",
        "abs", "leaky_relu", "negative", "softmax", "log_softmax", "logsumexp", "sum", "mean", "max", "min", "var",
        "std", "prod", "flatten", "transpose", "squeeze")},
    "log(x, float32 base)": lambda x: cr.log(x, cr.tensor(3.0, dtype=np.float32)),
    "2 * x": lambda x: 2 * x, "x + 1": lambda x: x + 1, "1 - x": lambda x: 1 - x, "1 / x": lambda x: 1 / x,
    "x / 2": lambda x: x / 2, "x ** 3": lambda x: x ** 3, "x ** 0.5": lambda x: x ** 0.5,
    "x ** x": lambda x: x ** x, "pow(x, 2)": lambda x: cr.pow(x, 2), "-x": lambda x: -x, "abs()": abs,
    "maximum(x, 0.5)": lambda x: cr.maximum(x, 0.5), "minimum(x, x²)": lambda x: cr.minimum(x, x * x),
    "clip": lambda x: cr.clip(x, 0.3, 0.6), "leaky_relu(x - .5, 0.1)": lambda x: cr.leaky_relu(x - 0.5, 0.1),
    "where": lambda x: cr.where(x > 0.5, x, x * x),
    "where(x, 0.0)": lambda x: cr.where(x > 0.5, x, 0.0),
    "sum axis": lambda x: x.sum(axis=1, keepdims=True), "mean axis": lambda x: x.mean(axis=0),
    "var ddof": lambda x: x.var(axis=1, ddof=1), "std ddof": lambda x: x.std(axis=(0, 1), ddof=1),
    "max axis": lambda x: x.max(axis=0), "prod axis": lambda x: x.prod(axis=1),
    "softmax 0": lambda x: cr.softmax(x, axis=0), "logsumexp 1": lambda x: cr.logsumexp(x, axis=1),
    "reshape": lambda x: x.reshape(3, 2), "T": lambda x: x.T, "unsqueeze": lambda x: x.unsqueeze(0),
    "broadcast_to": lambda x: cr.broadcast_to(x, (4, 2, 3)), "swapaxes": lambda x: cr.swapaxes(x, 0, 1),
    "getitem": lambda x: x[np.array([0, 0, 1]), 1:], "mask": lambda x: x[x > 0.5],
    "concatenate": lambda x: cr.concatenate([x, x * 2], axis=1), "stack": lambda x: cr.stack([x, x], axis=-1),
    "split": lambda x: cr.split(x, 3, axis=1)[1], "matmul": lambda x: x @ x.T, "matvec": lambda x: x @ x[0],
    "float32 array + x": lambda x: np.ones(3, dtype=np.float32) + x,
    "astype": lambda x: x.astype(np.float64).astype(np.float32),
}
F32_OPS["log(x, 3)"] = lambda x: cr.log(x, 3)  # a Python-number base (was a bug: float64 out)
F32_OPS["log(x, 2.0)"] = lambda x: cr.log(x, 2.0)
F32_CASES = [pytest.param(f, id=name) for name, f in F32_OPS.items()]


X32 = np.array([[0.25, 0.5, 0.75], [0.4, 0.6, 0.8]], dtype=np.float32)


@pytest.mark.parametrize("f", F32_CASES)
def test_float32_stays_float32_in_values_and_gradients(f):
    x = cr.tensor(X32, requires_grad=True)
    y = f(x)
    assert isinstance(y, cr.Tensor)
    assert y.dtype == np.float32, f"value is {y.dtype}"
    cr.sum(y).backward(create_graph=True)
    assert x.grad.dtype == np.float32, f"gradient is {x.grad.dtype}"
    g = x.grad
    if g.requires_grad:
        x.grad = None
        cr.sum(g * g).backward()
        assert x.grad.dtype == np.float32, f"second-order gradient is {x.grad.dtype}"
    grad = cr.grad(lambda t: cr.sum(f(t)))(X32)
    assert isinstance(grad, np.ndarray) and grad.dtype == np.float32, f"cr.grad gave {grad.dtype}"


@pytest.mark.parametrize("transform", ["grad", "vjp", "jvp", "jacobian", "grad of grad"])
def test_float32_gradient_of_number_to_the_x(transform):
    # Regression: power's d/db = y * log(a) with a Python-number base a once gave float64 (log(2) as a float64
    # NumPy scalar); leaf .grad hid it by casting, the transforms did not.
    x = np.array([0.5, 1.5], dtype=np.float32)
    if transform == "grad":
        out = cr.grad(lambda t: cr.sum(2 ** t))(x)
    elif transform == "vjp":
        out = cr.vjp(lambda t: 2 ** t, x)[1](np.ones(2, dtype=np.float32))[0]
    elif transform == "jvp":
        out = cr.jvp(lambda t: 2 ** t, (x,), (np.ones(2, dtype=np.float32),))[1]
    elif transform == "grad of grad":
        out = cr.grad(lambda t: cr.sum(cr.grad(lambda s: cr.sum(2 ** s * 3 ** s))(t)))(x)
    else:
        out = cr.jacobian(lambda t: 2 ** t)(x)
    assert out.dtype == np.float32


def test_python_floats_make_float64_and_float32_mixes_follow_numpy():
    assert cr.tensor(1.5).dtype == np.float64
    assert cr.tensor([1, 2]).dtype == np.int64
    x32 = cr.tensor([1.0], dtype="float32")
    assert (x32 * 2.5).dtype == np.float32
    assert (x32 + cr.tensor([1.0])).dtype == np.float64  # float32 + float64 arrays: NumPy promotes


@pytest.mark.parametrize("dtype_a", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("dtype_b", [np.float32, np.float64])
@pytest.mark.parametrize("b_kind", ["0-d leaf", "scalar result", "array"])
def test_0d_leaves_in_arithmetic_follow_numpy(dtype_a, dtype_b, b_kind):
    # The operators read a 0-d leaf's array as its NumPy scalar (faster); values, dtypes and gradients must be what
    # NumPy gives for the arrays themselves, and the leaf keeps its 0-d array.
    a_data = np.array(3, dtype=dtype_a)
    a = cr.tensor(a_data, requires_grad=dtype_a != np.int64)
    b_data = {"0-d leaf": np.array(1.25, dtype=dtype_b), "scalar result": np.array(1.25, dtype=dtype_b),
              "array": np.array([1.25, -0.5], dtype=dtype_b)}[b_kind]
    b = cr.tensor(b_data, requires_grad=True)
    if b_kind == "scalar result":
        b = b * 1  # an op's 0-d result: a NumPy scalar of dtype_b
    for op in (operator.add, operator.sub, operator.mul, operator.truediv):
        out = op(a, b)
        expected = op(a_data, b_data)
        assert out.dtype == np.result_type(expected), (op, out.dtype, np.result_type(expected))
        np.testing.assert_array_equal(out.numpy(), expected)
    y = cr.sum(a * b + a / b)
    y.backward()
    leaf_b = b if b_kind != "scalar result" else None
    if a.requires_grad:
        np.testing.assert_allclose(float(a.grad), np.sum(b_data + 1 / b_data), rtol=1e-6)
        assert isinstance(a.data, np.ndarray) and a.data.shape == ()
    if leaf_b is not None:
        np.testing.assert_allclose(leaf_b.grad.numpy(), a_data - a_data / b_data ** 2, rtol=1e-6)
        assert leaf_b.grad.dtype == dtype_b


# ---------------------------------------------------------------------------------------------------------------
# Python numbers, NumPy arrays and comparisons.
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("expr", "value", "derivative"), [
    (lambda t: 2 * t, lambda x: 2 * x, lambda x: 2 + 0 * x),
    (lambda t: t * 2, lambda x: 2 * x, lambda x: 2 + 0 * x),
    (lambda t: t ** 3, lambda x: x ** 3, lambda x: 3 * x ** 2),
    (lambda t: 1 / t, lambda x: 1 / x, lambda x: -1 / x ** 2),
    (lambda t: t / 4, lambda x: x / 4, lambda x: 0.25 + 0 * x),
    (lambda t: 3 - t, lambda x: 3 - x, lambda x: -1 + 0 * x),
    (lambda t: t - 3, lambda x: x - 3, lambda x: 1 + 0 * x),
    (lambda t: 1 + t, lambda x: 1 + x, lambda x: 1 + 0 * x),
    (lambda t: 2 ** t, lambda x: 2 ** x, lambda x: np.log(2) * 2 ** x),
    (lambda t: -t, lambda x: -x, lambda x: -1 + 0 * x),
    (lambda t: +t, lambda x: x, lambda x: 1 + 0 * x),
    (lambda t: abs(t - 1.2), lambda x: abs(x - 1.2), lambda x: np.sign(x - 1.2)),
    (lambda t: np.array([1.0, 2.0, 3.0]) + t, lambda x: x + [1, 2, 3], lambda x: 1 + 0 * x),
    (lambda t: np.array([1.0, 2.0, 3.0]) * t, lambda x: x * [1, 2, 3], lambda x: np.array([1.0, 2.0, 3.0])),
    (lambda t: np.array([1.0, 2.0, 3.0]) / t, lambda x: [1, 2, 3] / x, lambda x: -np.array([1, 2, 3]) / x ** 2),
    (lambda t: np.array([2.0, 2.0, 2.0]) ** t, lambda x: 2 ** x, lambda x: np.log(2) * 2 ** x),
    (lambda t: np.float64(2.0) * t, lambda x: 2 * x, lambda x: 2 + 0 * x),
    (lambda t: t @ np.array([1.0, 2.0, 3.0]), lambda x: x @ [1, 2, 3], lambda x: np.array([1.0, 2.0, 3.0])),
    (lambda t: np.array([1.0, 2.0, 3.0]) @ t, lambda x: x @ [1, 2, 3], lambda x: np.array([1.0, 2.0, 3.0])),
], ids=["2*t", "t*2", "t**3", "1/t", "t/4", "3-t", "t-3", "1+t", "2**t", "-t", "+t", "abs", "ndarray+t",
        "ndarray*t", "ndarray/t", "ndarray**t", "np.float64*t", "t@ndarray", "ndarray@t"])
def test_python_numbers_and_arrays_mix_with_tensors(expr, value, derivative):
    x = np.array([0.5, 1.0, 2.0])
    t = cr.tensor(x, requires_grad=True)
    y = expr(t)
    assert isinstance(y, cr.Tensor), f"got {type(y).__name__}"
    np.testing.assert_allclose(y.data, value(x), rtol=1e-15)
    y.sum().backward()
    np.testing.assert_allclose(t.grad.data, derivative(x), rtol=1e-15)


@pytest.mark.parametrize("op", ["<", "<=", ">", ">=", "==", "!="])
def test_comparisons_return_tensors_without_grad(op):
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = eval(f"x {op} 2.0", {"x": x})  # the operator itself is what is under test
    expected = eval(f"a {op} 2.0", {"a": x.data})
    assert isinstance(y, cr.Tensor) and y.dtype == np.bool_
    assert not y.requires_grad and y.is_leaf
    np.testing.assert_array_equal(y.data, expected)
    z = eval(f"2.0 {op} x", {"x": x})
    np.testing.assert_array_equal(z.data, eval(f"2.0 {op} a", {"a": x.data}))
    (x * y).sum().backward()  # a mask multiplying x: the gradient is the mask, nothing flows through it
    np.testing.assert_array_equal(x.grad.data, expected.astype(float))


# ---------------------------------------------------------------------------------------------------------------
# Indexing.
# ---------------------------------------------------------------------------------------------------------------
X34 = np.arange(12.0).reshape(3, 4) / 7
INDICES = {
    "int": 1, "negative int": -2, "numpy int": np.int64(2), "slice": slice(1, None),
    "reversed slice": slice(None, None, -1),
    "int and slice": (1, slice(0, 3, 2)), "slice and int": (slice(None), 3), "None": None,
    "None inside": (slice(None), None, 1), "ellipsis": Ellipsis, "ellipsis and int": (Ellipsis, 0),
    "int array with repeats": np.array([2, 0, 2, 2]), "list with repeats": [1, 1, 0],
    "2-d int array": np.array([[0, 0], [2, 1]]), "two int arrays": (np.array([0, 0, 2]), np.array([3, 3, 1])),
    "int array and slice": (np.array([1, 1]), slice(1, 3)), "boolean mask": X34 > 0.6,
    "boolean rows": np.array([True, False, True]), "boolean columns": (slice(None), np.array([1, 0, 0, 1], bool)),
    "int tensor": cr.tensor([0, 2, 0]), "boolean tensor": cr.tensor(X34) > 0.9,
}


@pytest.mark.parametrize("name", sorted(INDICES))
def test_indexing_values_and_gradients(name):
    index = INDICES[name]
    np_index = index.data if isinstance(index, cr.Tensor) else (np.asarray(index) if isinstance(index, list)
                                                                 else index)
    x = cr.tensor(X34, requires_grad=True)
    y = x[index]
    expected = X34[np_index]
    assert y.shape == np.shape(expected)
    np.testing.assert_array_equal(y.data, expected)
    g = np.random.default_rng(0).standard_normal(y.shape)
    y.backward(g)
    # Reference: which element of x each output element came from; repeats add up.
    source = np.arange(X34.size).reshape(X34.shape)[np_index]
    reference = np.bincount(np.ravel(source), weights=np.ravel(g), minlength=X34.size).reshape(X34.shape)
    np.testing.assert_allclose(x.grad.data, reference, rtol=1e-15, atol=0)


def test_index_errors():
    x = cr.tensor(X34)
    with pytest.raises(IndexError, match="float"):
        x[1.5]
    with pytest.raises(TypeError, match="assignment"):
        x[0] = 1.0
    with pytest.raises(IndexError, match="getitem"):
        x[5]


# ---------------------------------------------------------------------------------------------------------------
# Errors at the boundary.
# ---------------------------------------------------------------------------------------------------------------
def test_matmul_shape_error_names_both_shapes():
    with pytest.raises(cr.ShapeError, match=r"\(3, 4\).*\(3, 4\)"):
        cr.ones(3, 4) @ cr.ones(3, 4)
    with pytest.raises(cr.ShapeError, match=r"\(4,\).*\(3,\)"):
        cr.matmul(cr.ones(4), np.ones(3))
    with pytest.raises(cr.ShapeError, match=r"\(\)"):
        cr.matmul(cr.tensor(2.0), cr.ones(3))


@pytest.mark.parametrize(("expr", "op"), [
    (lambda a, b: a + b, "add"), (lambda a, b: a * b, "multiply"), (lambda a, b: cr.maximum(a, b), "maximum"),
    (lambda a, b: cr.where(np.ones(3, bool), a, b), "where"), (lambda a, b: a - b, "subtract"),
])
def test_broadcasting_mismatch_names_the_op_and_shapes(expr, op):
    with pytest.raises(cr.ShapeError, match=rf"{op}.*\(3,\).*\(4,\)|{op}.*\(4,\).*\(3,\)") as info:
        expr(cr.ones(3, requires_grad=True), cr.ones(4))
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(("data", "dtype", "pattern"), [
    ("abc", None, "str|<U3"),
    ([[1, 2], [3]], None, "equal lengths|inhomogeneous"),
    ([1.0], "float99", "float99"),
    ([1.0], "datetime64[s]", "datetime64"),
    (None, None, "NoneType|object"),
    ({"a": 1}, None, "dict|object"),
])
def test_bad_tensor_data_raises_type_error(data, dtype, pattern):
    with pytest.raises(TypeError, match=pattern):
        cr.tensor(data, dtype=dtype)


def test_reshape_to_a_wrong_size():
    with pytest.raises(cr.ShapeError, match=r"\(3, 4\).*12.*\(5, 2\)"):
        cr.ones(3, 4).reshape(5, 2)
    with pytest.raises(cr.ShapeError):
        cr.ones(3, 4).reshape(-1, 5)
    with pytest.raises(cr.ShapeError):
        cr.ones(3, 4).reshape(-1, -1)


@pytest.mark.parametrize(("call", "error", "pattern"), [
    (lambda x: x.sum(axis=2), cr.ShapeError, "axis 2"),
    (lambda x: x.mean(axis=-3), cr.ShapeError, "axis -3"),
    (lambda x: x.max(axis=(0, 0)), cr.ShapeError, "repeat"),
    (lambda x: x.sum(axis=1.5), TypeError, "1.5"),
    (lambda x: cr.softmax(x, axis=3), cr.ShapeError, "axis 3"),
    (lambda x: cr.softmax(x, axis=(0, 1)), TypeError, "axis"),
    (lambda x: x.transpose(0, 0), cr.ShapeError, "permutation"),
    (lambda x: x.squeeze(0), cr.ShapeError, "length 3"),
    (lambda x: cr.concatenate([x, cr.ones(2, 2)], axis=0), cr.ShapeError, r"\(2, 2\)"),
    (lambda x: cr.stack([x, x.T]), cr.ShapeError, r"\(4, 3\)"),
    (lambda x: cr.split(x, 5, axis=1), cr.ShapeError, "5"),
    (lambda x: cr.broadcast_to(x, (4, 4)), cr.ShapeError, r"\(4, 4\)"),
    (lambda x: cr.max(cr.ones(0)), cr.ShapeError, "empty"),
])
def test_bad_axes_and_shapes(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call(cr.ones(3, 4))


def test_reductions_of_0d_accept_axis_0():
    t = cr.tensor(2.0, requires_grad=True)
    y = cr.sum(t, axis=0)
    assert float(y) == 2.0
    y.backward()
    assert float(t.grad) == 1.0


def test_reductions_of_0d_accept_axis_minus_1():
    # Regression: axis=-1 on a 0-d tensor was rejected while axis=0 was accepted (NumPy accepts both).
    assert float(cr.sum(cr.tensor(2.0), axis=-1)) == float(np.sum(np.array(2.0), axis=-1))
    t = cr.tensor(2.0, requires_grad=True)
    cr.max(t, axis=-1, keepdims=True).backward()
    assert float(t.grad) == 1.0
    with pytest.raises(cr.ShapeError, match="axis 1"):
        cr.sum(cr.tensor(2.0), axis=1)
    with pytest.raises(cr.ShapeError, match="axis -2"):
        cr.sum(cr.tensor(2.0), axis=-2)


# ---------------------------------------------------------------------------------------------------------------
# Shape functions follow NumPy's conventions (negative axes, tuples, lists), and creation functions.
# ---------------------------------------------------------------------------------------------------------------
A234 = np.arange(24.0).reshape(2, 3, 4)
SHAPE_CASES = {
    "unsqueeze(-1)": (lambda t: t.unsqueeze(-1), lambda a: np.expand_dims(a, -1)),
    "unsqueeze((0, -1))": (lambda t: t.unsqueeze((0, -1)), lambda a: np.expand_dims(a, (0, -1))),
    "flatten(1)": (lambda t: t.flatten(1), lambda a: a.reshape(2, 12)),
    "flatten(0, 1)": (lambda t: t.flatten(0, 1), lambda a: a.reshape(6, 4)),
    "transpose(-1, 0, 1)": (lambda t: t.transpose(-1, 0, 1), lambda a: np.transpose(a, (-1, 0, 1))),
    "transpose((2, 0, 1))": (lambda t: t.transpose((2, 0, 1)), lambda a: np.transpose(a, (2, 0, 1))),
    "transpose()": (lambda t: t.transpose(), lambda a: a.transpose()),
    "swapaxes(-1, 0)": (lambda t: cr.swapaxes(t, -1, 0), lambda a: np.swapaxes(a, -1, 0)),
    "T": (lambda t: t.T, lambda a: a.T),
    "squeeze()": (lambda t: t[:1, :, :1].squeeze(), lambda a: a[:1, :, :1].squeeze()),
    "squeeze(-1)": (lambda t: t[..., :1].squeeze(-1), lambda a: a[..., :1].squeeze(-1)),
    "reshape((4, -1))": (lambda t: t.reshape((4, -1)), lambda a: a.reshape((4, -1))),
    "reshape([4, 6])": (lambda t: t.reshape([4, 6]), lambda a: a.reshape([4, 6])),
    "broadcast_to": (lambda t: cr.broadcast_to(t[:, :1], (5, 2, 3, 4)), lambda a: np.broadcast_to(a[:, :1],
                                                                                                 (5, 2, 3, 4))),
    "split [-1]": (lambda t: cr.split(t, [-1], axis=-1)[1], lambda a: np.split(a, [-1], axis=-1)[1]),
    "split beyond": (lambda t: cr.split(t, [2, 10], axis=-1)[1], lambda a: np.split(a, [2, 10], axis=-1)[1]),
    "concatenate axis -2": (lambda t: cr.concatenate([t, t * 2], axis=-2), lambda a: np.concatenate([a, a * 2], -2)),
    "stack axis 3": (lambda t: cr.stack([t, t * 2], axis=3), lambda a: np.stack([a, a * 2], axis=3)),
    "mean((-1, 0))": (lambda t: t.mean(axis=(-1, 0)), lambda a: a.mean(axis=(-1, 0))),
    "sum(())": (lambda t: t.sum(axis=()), lambda a: a.sum(axis=())),
    "iteration": (lambda t: cr.stack(list(t)), lambda a: a),
}


@pytest.mark.parametrize("name", sorted(SHAPE_CASES))
def test_shape_functions_follow_numpy(name):
    ours, numpys = SHAPE_CASES[name]
    x = cr.tensor(A234, requires_grad=True)
    y = ours(x)
    expected = numpys(A234)
    assert y.shape == expected.shape
    np.testing.assert_array_equal(y.data, expected)
    # Each output element is x's element times an integer, so ⟨g, y⟩ / x's sensitivities are checked by a
    # linear-map identity: ⟨g, J·x⟩ == ⟨Jᵀg, x⟩ with J·x = y.
    g = np.random.default_rng(0).standard_normal(y.shape)
    y.backward(g)
    assert x.grad.shape == A234.shape
    assert float(np.sum(x.grad.data * A234)) == pytest.approx(float(np.sum(g * expected)), rel=1e-12)


def test_creation_functions():
    assert cr.zeros(2, 3).shape == cr.zeros((2, 3)).shape == (2, 3) and cr.zeros(2).dtype == np.float64
    assert cr.ones(2, dtype="float32").dtype == np.float32 and cr.ones(2, requires_grad=True).requires_grad
    assert cr.full((2,), 3).dtype == np.int64 and float(cr.full(2, 1.5).sum()) == 3.0
    np.testing.assert_array_equal(cr.arange(3).data, [0, 1, 2])
    np.testing.assert_array_equal(cr.arange(0, 1, 0.25).data, [0, 0.25, 0.5, 0.75])
    np.testing.assert_array_equal(cr.eye(2).data, np.eye(2))
    np.testing.assert_array_equal(cr.rand(3, seed=1).data, cr.rand(3, seed=1).data)
    assert not np.array_equal(cr.rand(3, seed=1).data, cr.rand(3, seed=2).data)
    r1 = cr.randn(2, 2, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(r1.data, np.random.default_rng(0).standard_normal((2, 2)))
    assert cr.randn(2, seed=0, dtype="float32").dtype == np.float32
    with pytest.raises(ValueError):
        cr.rand(2, seed=1, rng=np.random.default_rng(0))
    data = np.array([1.0, 2.0])
    t = cr.tensor(data)
    data[0] = 5.0
    assert float(t.data[0]) == 1.0  # tensor() copies its data
    assert np.shares_memory(t.numpy(), t.data)
    assert cr.tensor([2.5]).item() == 2.5 and isinstance(cr.tensor([2.5]).item(), float)
    with pytest.raises(ValueError, match=r"\(2,\)"):
        cr.tensor([1.0, 2.0]).item()


@pytest.mark.parametrize("bounds", [(np.zeros(3), np.ones(3)), (cr.tensor(0.0), cr.tensor(1.0))],
                         ids=["arrays", "tensors"])
def test_clip_with_array_bounds_works_like_numpy_or_says_why_not(bounds):
    x = cr.tensor([-1.0, 0.5, 2.0], requires_grad=True)
    lo, hi = bounds
    try:
        y = cr.clip(x, lo, hi)
    except (TypeError, ValueError) as exc:
        assert "clip" in str(exc), f"unclear error: {exc}"
        return
    np.testing.assert_array_equal(y.data, np.clip(x.data, np.asarray(lo), np.asarray(hi)))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, 0.0])


def test_a_rule_without_forward_mode_is_a_clear_error():
    from chainrule.rules import registry

    name = "no_jvp_planted_by_test_engine"
    rule = registry.Rule(
        name=name, forward=lambda x: np.sum(x * x), kind=registry.GENERAL, arity=1, args=("x",),
        vjps=(lambda g, x, y, m: g * 2 * x,), jvp=None, text=("2x",), tex=("2x",), display="x^2",
        samples=(registry.Sample(((3,),)),),
    )
    registry.register(rule)
    try:
        f = lambda t: cr.ops.apply(rule, (t,))  # noqa: E731
        np.testing.assert_array_equal(cr.grad(f)(np.array([1.0, 2.0, 3.0])), [2.0, 4.0, 6.0])
        with pytest.raises(cr.NoDerivativeError, match=name):
            cr.jvp(f, (np.ones(3),), (np.ones(3),))
    finally:
        registry.unregister(name)


@pytest.mark.parametrize("first_is_older", [True, False])
def test_a_shared_node_gets_every_contribution_before_its_turn(first_is_older):
    # backward follows a chain without the heap only while nothing newer waits: out = a + c, where c = 2·sin(a),
    # must give a its gradient from both terms (1 + 2·cos a) before a's own rule runs.
    x0 = 0.7
    x = cr.tensor(x0, requires_grad=True)
    a = cr.exp(x)
    c = cr.sin(a) * 2.0
    out = a + c if first_is_older else c + a
    out.backward()
    expected = (1 + 2 * np.cos(np.exp(x0))) * np.exp(x0)
    np.testing.assert_allclose(float(x.grad), expected, rtol=1e-14)


def test_data_is_always_an_array():
    # 0-d results of scalar arithmetic are NumPy scalars inside (speed); .data shows the array API.md promises.
    x = cr.tensor(0.5, requires_grad=True)
    for t in (x * 2.0, cr.sin(x), x + x, -x, cr.sum(cr.tensor([1.0, 2.0])), x ** 2):
        assert isinstance(t.data, np.ndarray) and t.data.shape == (), type(t.data)
        assert t.data is t.data  # the same array each time
    y = cr.tanh(x * 3.0)
    y.data += 1.0  # in place on the array .data gave: it sticks
    np.testing.assert_allclose(float(y), np.tanh(1.5) + 1.0)
    assert (x * np.float32(2)).data.dtype == np.float64
    assert (cr.tensor(np.float32(0.5)) * np.float32(2)).data.dtype == np.float32
