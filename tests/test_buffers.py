"""The backward pass reuses buffers only when nothing else can see them (refcount-checked): these tests make sure
no two gradients share memory where a user could notice, and that the reuse leaves every value right."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

BIG = (80, 60)  # above the size where in-place reuse kicks in


def _leaves(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [cr.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]


class CR:
    """The operations the cases use, from chainrule."""

    concatenate = staticmethod(lambda ts, axis: cr.concatenate(ts, axis=axis))
    sin = staticmethod(cr.sin)
    tanh = staticmethod(cr.tanh)


def _shared_pending(a, b, m):
    p, q = a * 2.0, b * 3.0
    r = p * 5.0
    return (p + q) + r


CASES = {
    "add passes g to both": (lambda a, b, m: a + b, [BIG, BIG]),
    "transpose of a matmul result": (lambda a, b, m: a @ b.T, [BIG, BIG]),
    "reshape and add": (lambda a, b, m: a.reshape(60, 80) + b.T, [BIG, BIG]),
    "concatenate slices": (lambda a, b, m: m.concatenate([a, b], axis=0) * 2.0, [BIG, BIG]),
    "same tensor twice": (lambda a, b, m: a * a + b, [BIG, BIG]),
    "many uses accumulate": (lambda a, b, m: m.sin(a) * a + m.tanh(a) * b + a * b, [BIG, BIG]),
    "broadcast bias": (lambda a, b, m: a + b[0], [BIG, BIG]),
    # a's gradient is a view of a view of the seed (g.T.T): the seed's owner still holds it, so a gets a copy.
    "transpose of a transpose": (lambda a, b, m: a.T.T + b, [BIG, BIG]),
    # S = P + Q hands one gradient object to both P and Q; R, visited after S, adds to P's: it must not touch Q's.
    "one gradient shared by two pending sums": (_shared_pending, [BIG, BIG]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_leaf_gradients_own_their_memory(name):
    f, shapes = CASES[name]
    a, b = _leaves(*shapes)
    out = f(a, b, CR)
    seed = np.random.default_rng(1).standard_normal(out.shape)
    seed_copy = seed.copy()
    out.backward(seed)
    np.testing.assert_array_equal(seed, seed_copy)  # the user's seed is never written to
    ga, gb = a.grad.data, b.grad.data
    assert not np.shares_memory(ga, gb)
    assert not np.shares_memory(ga, seed) and not np.shares_memory(gb, seed)
    assert ga.flags.writeable and gb.flags.writeable
    before = gb.copy()
    ga[...] = 123.0  # what an optimizer's in-place update could do
    np.testing.assert_array_equal(gb, before)


@pytest.mark.parametrize("name", list(CASES))
def test_values_equal_an_independent_reference(name):
    torch = pytest.importorskip("torch")

    class TorchOps:
        concatenate = staticmethod(lambda ts, axis: torch.cat(ts, dim=axis))
        sin = staticmethod(torch.sin)
        tanh = staticmethod(torch.tanh)

    f, shapes = CASES[name]
    a, b = _leaves(*shapes)
    out = f(a, b, CR)
    seed = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(seed)
    ta, tb = (torch.tensor(t.data, requires_grad=True) for t in (a, b))
    f(ta, tb, TorchOps).backward(torch.tensor(seed))
    np.testing.assert_allclose(a.grad.data, ta.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.grad.data, tb.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_grads_accumulated_across_calls_stay_separate():
    a, b = _leaves(BIG, BIG)
    for _ in range(2):
        (a @ b.T).sum().backward()
    first = a.grad
    (a * 2.0).sum().backward()
    assert a.grad is not first  # accumulation makes a new array: an earlier .grad keeps its values
    assert not np.shares_memory(a.grad.data, b.grad.data)


@pytest.mark.parametrize("transposed", [True, False])
def test_a_weight_gradient_is_laid_out_like_the_weight(transposed):
    # x @ W.T (a Linear layer written with plain ops): W's gradient must come back C-ordered like W, or every
    # optimizer update on it runs strided (several times slower); the values must not change with the layout.
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((16, 30)).astype(np.float32))
    w = cr.tensor(rng.standard_normal((20, 30) if transposed else (30, 20)).astype(np.float32), requires_grad=True)
    g = rng.standard_normal((16, 20)).astype(np.float32)
    (x @ (w.T if transposed else w)).backward(g)
    assert w.grad.data.flags.c_contiguous and w.grad.dtype == np.float32
    expected = (g.T @ x.data) if transposed else (x.data.T @ g)
    np.testing.assert_allclose(w.grad.data, expected, rtol=1e-5, atol=1e-5)


SUMMED = {  # under a sum the upstream gradient is a broadcast 1, and 1 · local is local itself: not multiplied
    "product": (lambda a, b: a * b, lambda a, b: (b, a)),
    "product through exp": (lambda a, b: cr.exp(a) * b, lambda a, b: (np.exp(a) * b, np.exp(a))),
    "exp kept by the user": (lambda a, b: cr.exp(a) + b, lambda a, b: (np.exp(a), np.ones_like(b))),
    "sin times tanh": (lambda a, b: cr.sin(a) * cr.tanh(b), lambda a, b: (np.cos(a) * np.tanh(b),
                                                                           np.sin(a) * (1 - np.tanh(b) ** 2))),
}


@pytest.mark.parametrize("name", list(SUMMED))
def test_gradients_under_a_sum_never_alias_values(name):
    f, expected = SUMMED[name]
    a, b = _leaves(BIG, BIG)
    a_data, b_data = a.data.copy(), b.data.copy()
    inner = f(a, b)
    inner_data = inner.data.copy()
    cr.sum(inner).backward()
    ga, gb = a.grad.data, b.grad.data
    np.testing.assert_allclose(ga, expected(a_data, b_data)[0], rtol=1e-12)
    np.testing.assert_allclose(gb, expected(a_data, b_data)[1], rtol=1e-12)
    for grad in (ga, gb):
        for value in (a.data, b.data, inner.data):
            assert not np.shares_memory(grad, value)
    ga[...] = 7.0  # an optimizer writing into .grad leaves every value alone
    gb[...] = 8.0
    np.testing.assert_array_equal(a.data, a_data)
    np.testing.assert_array_equal(b.data, b_data)
    np.testing.assert_array_equal(inner.data, inner_data)
