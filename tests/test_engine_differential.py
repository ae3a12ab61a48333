"""The fast backward loop against the plain one: random graphs of random rules must give bit-identical gradients.

``engine.reverse._backward_arrays`` inlines the chain rule for elementwise rules, skips the heap along chains and
reuses memory that only it holds; ``engine.reverse.backward_pass`` applies ``chain_rule`` node by node and nothing
else. Hypothesis builds graphs with shapes that broadcast, parameters that broadcast (clip's bounds, where's
condition), repeated inputs (x * x, a value feeding many places) and arrays large enough (4096 elements) for the
memory reuse to run.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.engine import reverse

SMALL = ((), (3,), (2, 1), (2, 3), (1, 3))
LARGE = ((64, 64), (64, 1), (1, 64), (64,), ())  # 4096 elements: the in-place paths of the fast loop run

UNARY = {
    "sin": cr.sin, "cos": cr.cos, "tanh": cr.tanh, "sigmoid": cr.sigmoid, "softplus": cr.softplus,
    "exp": lambda x: cr.exp(cr.tanh(x)), "abs": cr.abs, "relu": cr.relu, "neg": lambda x: -x,
    "square": lambda x: x ** 2, "leaky": lambda x: cr.leaky_relu(x, 0.1), "sum0": lambda x: x.sum(axis=0),
    "mean": lambda x: x.mean(), "sumkeep": lambda x: x.sum(axis=-1, keepdims=True), "T": lambda x: x.T,
    "max": lambda x: x.max(axis=0) if x.ndim else x, "scale": lambda x: 3.0 * x,
    "reshape": lambda x: x.reshape(-1), "repeat_index": lambda x: x[np.array([0, 0, -1])] if x.ndim else x,
    "self_outer": lambda x: x.reshape(-1, 1) @ x.reshape(1, -1) if x.size <= 64 else x,  # the same input twice
    "gram": lambda x: x @ x.T if x.ndim == 2 and x.size <= 4096 else x,
    "xent": lambda x: F.cross_entropy(x, np.arange(len(x)) % x.shape[1]) if x.ndim == 2 else x,  # general rules
}
BINARY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (1.5 + cr.tanh(b)), "maximum": cr.maximum, "minimum": cr.minimum,
    "where": None, "clip": None, "matmul": lambda a, b: a @ b, "concat": lambda a, b: cr.concatenate(
        [a.reshape(-1), b.reshape(-1)]) if a.size + b.size <= 8192 else a, "stack": lambda a, b: cr.stack([a, b])
    if a.size <= 4096 else a,
    "linear": lambda a, b: F.linear(a, b, b.sum(axis=1)) if a.ndim == b.ndim == 2 and a.shape[1] == b.shape[1] else a,
}


# Complex programs: the rules with a complex meaning, on complex64/complex128 leaves or on real and complex leaves
# mixed (a real leaf receives the real part of a complex gradient: the path chain_rule takes for complex outputs).
COMPLEX_OPS = ("sin", "cos", "tanh", "exp", "abs", "neg", "square", "sum0", "mean", "sumkeep", "T", "scale",
               "reshape", "repeat_index", "self_outer", "gram", "conj", "real", "imag", "angle", "add", "sub", "mul",
               "div", "where", "matmul", "concat", "stack")
UNARY.update({"conj": cr.conj, "real": cr.real, "imag": cr.imag, "angle": cr.angle})


@st.composite
def programs(draw, shapes, names=None, dtypes=("float64", "float32")):
    """A list of leaves (shape, values) and ops (name, operand indices, parameters) over a growing pool."""
    n_leaves = draw(st.integers(1, 3))
    leaves = [draw(st.sampled_from(shapes)) for _ in range(n_leaves)]
    ops = []
    for _ in range(draw(st.integers(1, 10))):
        pool = n_leaves + len(ops)
        name = draw(st.sampled_from(sorted(names or set(UNARY) - {"conj", "real", "imag", "angle"} | set(BINARY))))
        a = draw(st.integers(0, pool - 1))
        b = draw(st.integers(0, pool - 1))  # may equal a: the same input twice
        params = draw(st.sampled_from(shapes))  # shape of clip's bounds / where's condition: they broadcast
        ops.append((name, a, b, params))
    outputs = draw(st.lists(st.integers(0, n_leaves + len(ops) - 1), min_size=1, max_size=3))
    seed = draw(st.integers(0, 2**32 - 1))
    dtype = draw(st.sampled_from(dtypes))
    return leaves, ops, outputs, seed, dtype


def _leaf(rng, shape, dtype, k):
    if dtype == "mixed":  # real and complex leaves alternate
        dtype = "complex128" if k % 2 else "float64"
    values = rng.uniform(-2, 2, shape)
    if dtype.startswith("complex"):
        values = values + 1j * rng.uniform(-2, 2, shape)
    return cr.tensor(values, dtype=dtype, requires_grad=True)


def _real_valued(term):
    """A complex root term as a real number that depends on both parts (the root of backward is real)."""
    return cr.real(term) + 0.5 * cr.imag(term) if term.dtype.kind == "c" else term


def build(program):
    leaves_shapes, ops, outputs, seed, *dtype = program
    rng = np.random.default_rng(seed)
    dtype = dtype[0] if dtype else "float64"
    leaves = [_leaf(rng, s, dtype, k) for k, s in enumerate(leaves_shapes)]
    dtype = "float64" if dtype == "mixed" else dtype.replace("complex64", "float32").replace("complex128", "float64")
    pool = list(leaves)
    for name, a, b, pshape in ops:
        x, y = pool[a], pool[b]
        try:
            if name in UNARY:
                out = UNARY[name](x)
            elif name == "where":
                out = cr.where(rng.random(pshape) > 0.5, x, y)
            elif name == "clip":
                lo = rng.uniform(-1.5, 0, pshape).astype(dtype)  # bounds of the leaves' dtype: float32 stays
                out = cr.clip(x, lo, lo + rng.uniform(0.2, 2, pshape).astype(dtype))
            else:
                out = BINARY[name](x, y)
        except (cr.ShapeError, IndexError):  # shapes that do not fit: use x alone
            out = cr.sin(x)
        pool.append(out)
    # Weights make the upstream gradients full, writeable arrays (a plain sum hands down a read-only broadcast 1),
    # so the fast loop's in-place paths run; a value used twice at the root gives them sums to reuse.
    weights = [rng.uniform(0.5, 1.5, pool[i].shape).astype(dtype) for i in outputs]
    root = sum(_real_valued((pool[i] * w).sum() if k % 2 else (pool[i] * pool[i].sum()).sum())
               for k, (i, w) in enumerate(zip(outputs, weights, strict=True)))
    return leaves, root


def gradients(program, fast: bool):
    global result_leaves
    leaves, root = build(program)
    result_leaves = leaves
    if not root.requires_grad:
        return None
    seed = np.ones_like(root.data)
    with np.errstate(all="ignore"):
        first = reverse.backward([root], [seed], targets=leaves, retain_graph=True, accumulate=False, fast=fast)
        again = reverse.backward([root], [seed], targets=leaves, retain_graph=True, accumulate=False, fast=not fast)
        root.backward()  # the user's path, into .grad
    return first, again, [leaf.grad for leaf in leaves]


def assert_identical(a, b):
    if a is None or b is None:
        assert a is None and b is None
        return
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape and a.dtype == b.dtype
    if a.dtype.kind in "fc" and a.size and np.all(np.isfinite(a)) and np.all(np.isfinite(b)):
        # Equal to the last bits the order of a sum can change: NumPy sums a transposed (F-ordered) gradient in a
        # different order than a C-ordered copy of it (found: x.T / f(x.sum(0)) differed by 3e-16 of its size).
        scale = float(np.max(np.abs(b))) or 1.0
        np.testing.assert_allclose(a, b, rtol=0, atol=8 * np.finfo(a.dtype).eps * scale)
    else:
        np.testing.assert_array_equal(a, b)  # bit for bit (nan where nan)


result_leaves: list = []


def check(program):
    result = gradients(program, fast=True)
    if result is None:
        return
    fast, plain_after_fast, user = result
    plain, fast_after_plain, _ = gradients(program, fast=False)
    for f, p, pf, fp, u in zip(fast, plain, plain_after_fast, fast_after_plain, user, strict=True):
        assert_identical(f, p)
        assert_identical(f, pf)  # the fast pass did not overwrite any value the graph keeps
        assert_identical(f, fp)
        assert_identical(f, None if u is None else u.data)
    grads = [u.data for u in user if u is not None]
    for k, a in enumerate(grads):  # each leaf's .grad is its own memory: no other leaf's, no value of the graph's
        assert not any(np.shares_memory(a, b) for b in grads[k + 1:])
        assert not any(np.shares_memory(a, leaf.data) for leaf in result_leaves)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(SMALL))
def test_fast_loop_equals_plain_loop_small(program):
    check(program)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(LARGE))
def test_fast_loop_equals_plain_loop_large_arrays(program):
    check(program)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(SMALL, COMPLEX_OPS, ("complex128", "complex64", "mixed")))
def test_fast_loop_equals_plain_loop_complex(program):
    check(program)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(LARGE, COMPLEX_OPS, ("complex128", "complex64", "mixed")))
def test_fast_loop_equals_plain_loop_complex_large_arrays(program):
    check(program)


def test_complex_gradients_keep_their_kind_and_precision():
    """A real leaf mixed with complex values gets a real gradient; complex64 stays complex64 (no float64 creep)."""
    program = ([(64, 64), (64,)], [("mul", 0, 1, ()), ("exp", 2, 2, ()), ("abs", 3, 3, ())], [3, 4], 5, "mixed")
    _, _, user = gradients(program, fast=True)
    assert user[0].dtype == np.float64 and user[1].dtype == np.complex128
    program = ([(64, 64), (64,)], [("mul", 0, 1, ()), ("tanh", 2, 2, ())], [3], 5, "complex64")
    _, _, user = gradients(program, fast=True)
    assert [u.dtype for u in user] == [np.complex64, np.complex64]


def test_differential_test_can_fail(monkeypatch):
    """A planted fault in the fast loop's inlined elementwise rule (upstream dropped) is caught."""
    program = ([(3,)], [("sin", 0, 0, ())], [1], 0)
    check(program)
    original = reverse._times_upstream
    monkeypatch.setattr(reverse, "_times_upstream", lambda g, local, parent: original(g, local, parent) * 1.0000001)
    leaves_shapes = [(64, 64)]
    with pytest.raises(AssertionError):
        check((leaves_shapes, [("sin", 0, 0, ())], [1], 0))


# ---------------------------------------------------------------------------------------------------------------
# Reference counts: the memory reuse is on only where the interpreter counts as the guards assume.
# ---------------------------------------------------------------------------------------------------------------
def test_reuse_is_on_for_the_interpreters_the_suite_proves():
    import sys

    expected = sys.implementation.name == "cpython" and (3, 11) <= sys.version_info[:2] <= (3, 13)
    assert reverse._REUSE is expected
    assert reverse._refcounts_as_counted() is expected


def test_without_reuse_the_fast_loop_gives_the_same_gradients(monkeypatch):
    program = ([(64, 64), (64,)], [("mul", 0, 0, ()), ("exp", 2, 2, ()), ("add", 3, 1, ()), ("sin", 4, 4, ())],
               [4, 5], 7)
    with_reuse = gradients(program, fast=True)
    monkeypatch.setattr(reverse, "_REUSE", False)
    without = gradients(program, fast=True)
    for a, b in zip(with_reuse[0], without[0], strict=True):
        assert_identical(a, b)


def test_the_refcount_probe_notices_counts_that_differ(monkeypatch):
    """If the interpreter counted one reference fewer (as 3.14's borrowed references can), the probe says no."""
    import sys

    real = sys.getrefcount
    monkeypatch.setattr(reverse.sys, "getrefcount", lambda x: real(x) - 2)  # the lambda holds one more itself
    assert reverse._refcounts_as_counted() is False
