"""chainrule.numpy and NumPy's protocols on Tensor (issue 10): values against NumPy, gradients against PyTorch and
finite differences (first and second order), jvp against vjp."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.numpy as cnp

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 4))
B = RNG.standard_normal((4, 3))
V = RNG.standard_normal(3)

# name: (chainrule function, torch function or None, inputs)
CASES = {
    "dot": (lambda a, b: cnp.dot(a, b), lambda a, b: a @ b, (A, B)),
    "dot_nd": (lambda a, b: cnp.dot(a, b), None, (RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3, 2)))),
    "vdot": (cnp.vdot, lambda a, b: (a * b).sum(), (A, A + 1)),
    "inner": (cnp.inner, torch.inner, (A, RNG.standard_normal((2, 4)))),
    "outer": (cnp.outer, torch.outer, (V, V[:2])),
    "tensordot": (lambda a, b: cnp.tensordot(a, b, ([1, 0], [0, 1])),
                  lambda a, b: torch.tensordot(a, b, ([1, 0], [0, 1])), (A, B)),
    "einsum_ij_jk": (lambda a, b: cnp.einsum("ij,jk->ik", a, b), lambda a, b: torch.einsum("ij,jk->ik", a, b), (A, B)),
    "einsum_trace": (lambda a: cnp.einsum("ii", a), lambda a: torch.einsum("ii", a), (A[:, :3],)),
    "einsum_ellipsis": (lambda a, b: cnp.einsum("...j,j", a, b), lambda a, b: torch.einsum("...j,j", a, b),
                        (RNG.standard_normal((2, 3, 4)), A[0])),
    "kron": (cnp.kron, torch.kron, (A[:2, :2], B[:3, :2])),
    "cross": (cnp.cross, lambda a, b: torch.linalg.cross(a, b), (A[:, :3], B[:3, :])),
    "trace": (lambda a: cnp.trace(a, 1), None, (A,)),
    "diag_vector": (lambda v: cnp.diag(v, 1), lambda v: torch.diag(v, 1), (V,)),
    "diagonal": (lambda a: cnp.diagonal(a, -1), lambda a: torch.diagonal(a, -1), (A,)),
    "tril": (lambda a: cnp.tril(a, 1), lambda a: torch.tril(a, 1), (A,)),
    "triu": (lambda a: cnp.triu(a, -1), lambda a: torch.triu(a, -1), (A,)),
    "cumsum": (lambda a: cnp.cumsum(a, axis=0), lambda a: torch.cumsum(a, 0), (A,)),
    "cumprod": (lambda a: cnp.cumprod(a, axis=1), lambda a: torch.cumprod(a, 1), (A,)),
    "diff": (lambda a: cnp.diff(a, 2, axis=1), lambda a: torch.diff(torch.diff(a, dim=1), dim=1), (A,)),
    "sort": (lambda a: cnp.sort(a, axis=0), lambda a: torch.sort(a, 0).values, (A,)),
    "take": (lambda a: cnp.take(a, [0, 2, 2], axis=1), None, (A,)),
    "take_along_axis": (lambda a: cnp.take_along_axis(a, np.array([[0], [3], [1]]), 1), None, (A,)),
    "pad_reflect": (lambda a: cnp.pad(a, ((1, 2), (0, 1)), mode="reflect"), None, (A,)),
    "pad_constant": (lambda a: cnp.pad(a, 1, constant_values=0.5), None, (A,)),
    "tile": (lambda a: cnp.tile(a, (2, 1)), lambda a: a.tile((2, 1)), (A,)),
    "repeat": (lambda a: cnp.repeat(a, 2, axis=0), lambda a: a.repeat_interleave(2, 0), (A,)),
    "roll": (lambda a: cnp.roll(a, 1, axis=1), lambda a: torch.roll(a, 1, 1), (A,)),
    "flip": (cnp.flip, lambda a: torch.flip(a, (0, 1)), (A,)),
    "fliplr": (cnp.fliplr, torch.fliplr, (A,)),
    "flipud": (cnp.flipud, torch.flipud, (A,)),
    "rot90": (cnp.rot90, lambda a: torch.rot90(a, 1, (0, 1)), (A,)),
    "moveaxis": (lambda a: cnp.moveaxis(a, 0, -1), lambda a: torch.movedim(a, 0, -1),
                 (RNG.standard_normal((2, 3, 4)),)),
    "hstack": (lambda a, b: cnp.hstack([a, b]), lambda a, b: torch.hstack([a, b]), (A, A)),
    "vstack": (lambda a, b: cnp.vstack([a, b]), lambda a, b: torch.vstack([a, b]), (A, A[0])),
    "dstack": (lambda a, b: cnp.dstack([a, b]), lambda a, b: torch.dstack([a, b]), (A, A)),
    "column_stack": (lambda a, b: cnp.column_stack([a, b]), lambda a, b: torch.column_stack([a, b]), (V, A[:, :2])),
    "array_split": (lambda a: cnp.array_split(a, 3, axis=1)[1], None, (A,)),
    "average": (lambda a, w: cnp.average(a, axis=1, weights=w), None, (A, np.abs(V[:1]) + np.arange(4.0))),
    "var_ddof": (lambda a: cnp.var(a, axis=0, ddof=1), lambda a: torch.var(a, 0, correction=1), (A,)),
    "select": (lambda a, b: cnp.select([a > 0, b > 0.5], [a, b * 2], 0.25), None, (A, A.T[::-1].T)),
    "mod": (lambda a, b: cnp.mod(a, b), lambda a, b: torch.remainder(a, b), (A * 3, np.abs(A) + 0.5)),
    "fmod": (lambda a, b: cnp.fmod(a, b), lambda a, b: torch.fmod(a, b), (A * 3, np.abs(A) + 0.5)),
    "clip_tensor_bounds": (lambda a, lo: cnp.clip(a, lo, 1.0), None, (A, A[0] * 0.1 - 0.3)),
}


def _numpy_value(name, function, inputs):
    return function(*inputs)  # no Tensor among the inputs: NumPy's own answer


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_gradients(name):
    function, reference, inputs = CASES[name]
    expected_value = np.asarray(_numpy_value(name, function, inputs))
    assert isinstance(function(*inputs), np.ndarray | np.generic | float)  # no Tensor in: NumPy's type out
    weights = RNG.standard_normal(expected_value.shape)
    leaves = [cr.tensor(x, requires_grad=True) for x in inputs]
    out = function(*leaves)
    assert isinstance(out, cr.Tensor)
    np.testing.assert_allclose(out.data, expected_value, rtol=1e-13, atol=1e-14)
    cr.sum(out * weights).backward()
    if reference is not None:
        ts = [torch.tensor(x, requires_grad=True) for x in inputs]
        (reference(*ts) * torch.tensor(weights)).sum().backward()
        for leaf, t in zip(leaves, ts, strict=True):
            np.testing.assert_allclose(leaf.grad.data, t.grad.numpy(), rtol=1e-12, atol=1e-13)
    assert cr.gradcheck(lambda *xs: cr.sum(function(*xs) * weights), *inputs)
    grad_function = cr.grad(lambda *xs: cr.sum(function(*xs) * weights))
    assert cr.gradcheck(lambda *xs: cr.sum(grad_function(*xs) * np.cos(np.arange(np.size(inputs[0])))
                                           .reshape(np.shape(inputs[0]))), *inputs)


@pytest.mark.parametrize("name", ["dot", "einsum_ij_jk", "cumprod", "sort", "pad_reflect", "kron"])
def test_jvp_agrees_with_vjp(name):
    function, _, inputs = CASES[name]
    tangents = [RNG.standard_normal(np.shape(x)) for x in inputs]
    y, dy = cr.jvp(function, inputs, tangents)
    u = RNG.standard_normal(np.shape(y))
    _, pullback = cr.vjp(function, *inputs)
    cotangents = pullback(u)
    cotangents = cotangents if isinstance(cotangents, tuple) else (cotangents,)
    np.testing.assert_allclose(np.sum(u * np.asarray(dy)),
                               sum(np.sum(np.asarray(c) * t) for c, t in zip(cotangents, tangents, strict=True)),
                               rtol=1e-12)


def test_numpy_functions_on_tensors_differentiate():
    t = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    ((t * 2).sum() + np.dot(t, t)).backward()
    np.testing.assert_array_equal(t.grad.data, [4.0, 6.0, 8.0])  # the example; [2, 2, 2] before
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(cr.grad(lambda v: np.sqrt(np.sum(v * v)))(x), x / np.linalg.norm(x), rtol=1e-15)
    m = cr.tensor(A, requires_grad=True)
    out = np.sum(np.sin(m), axis=0)
    assert isinstance(out, cr.Tensor) and out.shape == (4,)
    np.testing.assert_allclose(cr.grad(lambda a: np.einsum("ij,ij", np.tanh(a), a))(A),
                               np.tanh(A) + A / np.cosh(A) ** 2, rtol=1e-13)
    assert isinstance(np.ones(3) + cr.tensor([1.0, 2.0, 3.0]), cr.Tensor)  # ndarray + Tensor is still a Tensor


def test_what_cannot_be_differentiated_is_refused_loudly():
    t = cr.tensor(A[:, :3], requires_grad=True)
    with pytest.raises(TypeError, match=r"np\.linalg\.eig has no derivative"):
        np.linalg.eig(t)
    with pytest.raises(TypeError, match=r"np\.frexp has no derivative"):
        np.frexp(t)
    with pytest.raises(TypeError, match="out="):
        np.sin(t, out=np.empty((3, 3)))
    assert np.argmax(t) == np.argmax(A[:, :3]) and np.shape(t) == (3, 3)  # no gradient by nature: NumPy's answer
    np.testing.assert_array_equal(np.linalg.eigvals(t.detach()), np.linalg.eigvals(A[:, :3]))


def test_rounding_has_zero_gradient():
    x = cr.tensor([-1.5, 0.3, 2.7], requires_grad=True)
    for f in (np.floor, np.ceil, np.rint, np.trunc, np.round, cnp.round):
        np.testing.assert_array_equal(f(x).data, f(x.data))
    g = cr.grad(lambda v: cnp.sum(np.floor(v) + np.ceil(v) + np.rint(v) + np.trunc(v) + cnp.round(v, 1) + v))
    np.testing.assert_array_equal(g(x.data), [1.0, 1.0, 1.0])


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda x: cnp.take(x, [10]), IndexError, r"cnp\.take: index 10 is out of bounds"),
    (lambda x: cnp.repeat(x, -1), cr.DomainError, r"cnp\.repeat: negative dimensions"),
    (lambda x: cnp.sort(x, axis=5), IndexError, r"cnp\.sort: axis 5 is out of bounds"),
    (lambda x: cnp.linalg.norm(x, ord="abc"), cr.DomainError, r"cnp\.linalg\.norm: Invalid norm order"),
])
def test_numpys_own_errors_on_tensors_name_the_function(call, error, message):
    x = cr.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(error, match=message):
        call(x)


def test_without_a_tensor_numpys_own_error_is_raised_unchanged():
    with pytest.raises(np.linalg.LinAlgError):
        cnp.linalg.inv(np.zeros((2, 2)))
    with pytest.raises(IndexError, match=r"^index 10 is out of bounds"):
        cnp.take(np.ones(3), [10])


EINSUMS = [
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("ijk,jl,lk->i", [(2, 3, 4), (3, 5), (5, 4)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]), ("ij,ij->", [(3, 4), (3, 4)]), ("i,i,i->", [(3,), (3,), (3,)]),
    ("ab,cd->abcd", [(2, 3), (4, 5)]), ("ii,i->i", [(3, 3), (3,)]), ("bi,bi->b", [(5, 3), (5, 3)]),
    ("...i,...i->...", [(2, 1, 3), (4, 3)]), ("i,->i", [(3,), ()]), ("ij,kj->ik", [(3, 4), (5, 4)]),
    ("aij,ajk,akl->ail", [(2, 3, 4), (2, 4, 5), (2, 5, 6)]), ("ij->", [(3, 4)]), ("ji", [(3, 4)]),
]


@pytest.mark.parametrize("subscripts, shapes", EINSUMS, ids=[s for s, _ in EINSUMS])
def test_einsum_values_and_gradients_against_torch(subscripts, shapes):
    xs = [RNG.standard_normal(s) for s in shapes]
    ts = [cr.tensor(x, requires_grad=True) for x in xs]
    out = cnp.einsum(subscripts, *ts)
    np.testing.assert_allclose(out.data, np.einsum(subscripts, *xs), rtol=1e-13, atol=1e-14)
    w = RNG.standard_normal(out.shape)
    (out * w).sum().backward()
    refs = [torch.tensor(x, requires_grad=True) for x in xs]
    (torch.einsum(subscripts, *refs) * torch.tensor(w)).sum().backward()
    for t, r in zip(ts, refs, strict=True):
        np.testing.assert_allclose(t.grad.data, r.grad.numpy(), rtol=1e-12, atol=1e-13)


def test_einsum_contracts_pairwise_without_the_full_product():
    import tracemalloc

    a = cr.tensor(RNG.standard_normal((300, 300)), requires_grad=True)
    b = RNG.standard_normal((300, 300))
    tracemalloc.start()
    cnp.einsum("ij,jk->ik", a, b).sum().backward()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 10 * 300 * 300 * 8  # a few 300×300 arrays; the broadcast product (300³ floats) is 216 MB


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_cumsum_is_one_rule_linear_in_memory(axis):
    import tracemalloc

    x = RNG.standard_normal((4, 250_000))
    t = cr.tensor(x, requires_grad=True)
    tracemalloc.start()
    y = cnp.cumsum(t, axis)
    weights = np.linspace(-1, 1, y.size).reshape(y.shape)
    (y * weights).sum().backward()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 12 * x.nbytes  # a few arrays of x's size; a triangular matrix of ones would be terabytes
    np.testing.assert_allclose(y.data, np.cumsum(x, axis), rtol=1e-12, atol=1e-9)
    flat = weights.reshape(-1) if axis is None else weights
    along = 0 if axis is None else axis
    expected = np.flip(np.cumsum(np.flip(flat, along), along), along).reshape(x.shape)  # Σ_{i ≥ j} w_i
    np.testing.assert_allclose(t.grad.data, expected, rtol=1e-12, atol=1e-9)


def test_cumprod_scans_in_n_log_n_memory_with_exact_gradients_at_zeros():
    import tracemalloc

    x = 1 + RNG.standard_normal(100_000) * 1e-3
    x[[10, 50_000]] = 0.0
    t = cr.tensor(x, requires_grad=True)
    tracemalloc.start()
    y = cnp.cumprod(t)
    y.sum().backward()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 200 * x.nbytes  # ~3 arrays per doubling step; the prefix products of n×n would be 80 GB
    np.testing.assert_allclose(y.data, np.cumprod(x), rtol=1e-12)
    reference = torch.tensor(x, requires_grad=True)
    torch.cumprod(reference, 0).sum().backward()
    np.testing.assert_allclose(t.grad.data, reference.grad.numpy(), rtol=1e-10, atol=1e-300)
    assert t.grad.data[10] != 0 and np.all(t.grad.data[11:] == 0)  # past the first zero, products vanish


def test_bad_counts_and_axes_are_named():
    t = cr.tensor(A, requires_grad=True)
    with pytest.raises(MemoryError, match=r"^cnp\.tile: the result is too large"):
        cnp.tile(t, 10**12)
    with pytest.raises(MemoryError, match=r"^cnp\.repeat: the result is too large"):
        cnp.repeat(t, 10**12)
    with pytest.raises(ValueError, match=r"cnp.diff: the order n must be a non-negative int, got -1"):
        cnp.diff(t, -1)
    assert cnp.diff(t, 10**12).shape == np.diff(A, 10).shape == (3, 0)  # no loop of 10¹² steps
    with pytest.raises(cr.ShapeError, match=r"^cnp\.tensordot: axis -3 is out of range"):
        cnp.tensordot(t, t, axes=5)
    with pytest.raises(cr.ShapeError, match=r"^cnp\.moveaxis: axis 5 is out of range"):
        cnp.moveaxis(t, 0, 5)
    with pytest.raises(TypeError, match=r"^cnp\.flip: an axis must be an int"):
        cnp.flip(t, 0.5)
