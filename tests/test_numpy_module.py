"""chainrule.numpy and NumPy's protocols on Tensor (issue 10): values against NumPy, gradients against PyTorch and
finite differences (first and second order), jvp against vjp."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import assert_jvp_matches_vjp

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
    # Names HIPS autograd's tests reach for (issue 10).
    "array_of_tensors": (lambda a: cnp.array([a, a**2]), lambda a: torch.stack([a, a**2]), (A,)),
    "asarray_rows": (lambda a: cnp.asarray([a[0], 2.0 * a[2], a[1]]), lambda a: torch.stack([a[0], 2.0 * a[2], a[1]]),
                     (A,)),
    "r_": (lambda v: cnp.r_[v, np.ones(2), 1:4], lambda v: torch.cat([v, torch.ones(2), torch.arange(1.0, 4.0)]),
           (V,)),
    "c_": (lambda v, a: cnp.c_[v, a[:, :2], v], lambda v, a: torch.column_stack([v, a[:, :2], v]), (V, A)),
    "deg2rad": (cnp.deg2rad, torch.deg2rad, (A * 90,)),
    "radians": (cnp.radians, torch.deg2rad, (A * 90,)),
    "rad2deg": (cnp.rad2deg, torch.rad2deg, (A,)),
    "degrees": (cnp.degrees, torch.rad2deg, (A,)),
    "fmax": (cnp.fmax, torch.fmax, (A, B.T)),
    "fmin": (cnp.fmin, torch.fmin, (A, B.T)),
    "append": (cnp.append, lambda a, b: torch.cat([a.ravel(), b.ravel()]), (A, V)),
    "append_axis": (lambda a, b: cnp.append(a, b, axis=0), lambda a, b: torch.cat([a, b]), (A, A[:2])),
    "rollaxis": (lambda a: cnp.rollaxis(a, 2), lambda a: torch.movedim(a, 2, 0), (RNG.standard_normal((2, 3, 4)),)),
    "partition": (lambda a: cnp.partition(a, 1, axis=1), None, (A,)),
    "linspace": (lambda a, b: cnp.linspace(a, b, 5), lambda a, b: a + (b - a) * torch.linspace(0, 1, 5)[:, None],
                 (V, V[::-1] + 2)),
    "linspace_axis": (lambda a, b: cnp.linspace(a, b, 4, endpoint=False, axis=1),
                      lambda a, b: (a + (b - a) * torch.arange(4.0)[:, None] / 4).T, (V, V + 1)),
    "gradient": (lambda a: cnp.gradient(a, axis=1), lambda a: torch.gradient(a, dim=1)[0], (A,)),
    "gradient_edge2": (lambda a: cnp.gradient(a, 0.5, axis=0, edge_order=2),
                       lambda a: torch.gradient(a, spacing=0.5, dim=0, edge_order=2)[0], (A,)),
    "einsum_interleaved": (lambda a, b: cnp.einsum(a, [0, 1], b, [1, 2], [0, 2]),
                           lambda a, b: torch.einsum("ij,jk->ik", a, b), (A, B)),
    "mod_operator": (lambda a, b: a % b, torch.remainder, (A * 3, np.abs(A) + 0.5)),
    "rmod_operator": (lambda b: 2.5 % b, lambda b: torch.remainder(torch.tensor(2.5, dtype=b.dtype), b),
                      (np.abs(A) + 0.5,)),
    "ravel_method": (lambda a: a.ravel(), lambda a: a.ravel(), (A,)),
    "make_diagonal": (cnp.make_diagonal, torch.diag_embed, (A,)),
    "ptp": (lambda a: cnp.ptp(a, axis=1), lambda a: a.amax(1) - a.amin(1), (A,)),
    "compress": (lambda a: cnp.compress([True, False, True], a, axis=0), lambda a: a[[0, 2]], (A,)),
    # ndarray's method spellings, as HIPS autograd's boxes have them (x.cumsum() in NumPy code as written)
    "cumsum_method": (lambda a: a.cumsum(axis=1), lambda a: a.cumsum(1), (A,)),
    "cumprod_method": (lambda a: a.cumprod(0), lambda a: a.cumprod(0), (A,)),
    "diagonal_method": (lambda a: a.diagonal(1), lambda a: a.diagonal(1), (A,)),
    "trace_method": (lambda a: a.trace(-1), lambda a: a.diagonal(-1).sum(), (A,)),
    "take_method": (lambda a: a.take([5, 0, 5]), lambda a: a.ravel()[[5, 0, 5]], (A,)),
    "repeat_method": (lambda a: a.repeat(2, axis=1), lambda a: a.repeat_interleave(2, 1), (A,)),
    "dot_method": (lambda a, b: a.dot(b), lambda a, b: a @ b, (A, B)),
    "compress_method": (lambda a: a.compress([False, True], axis=1), lambda a: a[:, [1]], (A,)),
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
    assert_jvp_matches_vjp(function, inputs, RNG)


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
    with pytest.raises(TypeError, match=r"np\.unwrap has no derivative"):
        np.unwrap(t)
    with pytest.raises(TypeError, match=r"np\.spacing has no derivative"):
        np.spacing(t)
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


def test_fmax_fmin_and_nan_to_num_skip_nans_as_torch_does():
    a = np.array([1.0, np.nan, 2.0, np.nan, -1.0])
    b = np.array([np.nan, 3.0, 1.0, np.nan, 0.5])
    u = RNG.standard_normal(5)
    for ours, theirs in ((cnp.fmax, torch.fmax), (cnp.fmin, torch.fmin)):
        x, y = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
        out = ours(x, y)
        np.testing.assert_array_equal(out.data, ours(a, b))
        cr.sum(cnp.nan_to_num(out) * u).backward()  # both NaN: the result is NaN, dropped on both sides
        tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
        (torch.nan_to_num(theirs(tx, ty)) * torch.tensor(u)).sum().backward()
        np.testing.assert_array_equal(x.grad.data, tx.grad.numpy())
        np.testing.assert_array_equal(y.grad.data, ty.grad.numpy())
    x = cr.tensor([1.5, np.nan, np.inf, -np.inf], requires_grad=True)
    out = cnp.nan_to_num(x, nan=-7.0, posinf=9.0)
    np.testing.assert_array_equal(out.data, np.nan_to_num(x.data, nan=-7.0, posinf=9.0))
    cr.sum(out * 0.5).backward()
    np.testing.assert_array_equal(x.grad.data, [0.5, 0.0, 0.0, 0.0])


def test_array_of_a_repeated_tensor_shares_a_tie_and_linspace_edges():
    # max over [x, x] is x: the two tied entries share the gradient, 1/2 each, so d/dx = 1.
    assert cr.grad(lambda x: cnp.max(cnp.array([x, x])))(0.7) == 1.0
    assert cr.grad(lambda x: cnp.array(x, ndmin=2).sum() * 3)(0.7) == 3.0
    for num in (0, 1, 2):
        out = cnp.linspace(cr.tensor(1.2), 3.4, num)
        np.testing.assert_array_equal(out.data, np.linspace(1.2, 3.4, num))
    d_start, d_stop = cr.grad(lambda a, b: cnp.linspace(a, b, 1).sum(), argnums=(0, 1))(1.2, 3.4)
    assert (d_start, d_stop) == (1.0, 0.0)
    _, step = cnp.linspace(cr.tensor(0.0), cr.tensor(1.0), 5, retstep=True)
    assert float(step.data) == np.linspace(0.0, 1.0, 5, retstep=True)[1]


def test_new_names_refuse_what_they_cannot_differentiate():
    t = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(TypeError, match="directive string"):
        cnp.r_["0,2", t, t]
    with pytest.raises(TypeError, match="coordinate arrays"):
        cnp.gradient(t, np.array([0.0, 1.0, 3.0]))
    with pytest.raises(ValueError, match="at least 3"):
        cnp.gradient(t[:2], edge_order=2)
    with pytest.raises(ValueError, match="axis label 'i'"):
        cnp.einsum(t, ["i"])
    with pytest.raises(TypeError, match="dtype int64 carries no gradient"):
        cnp.linspace(t[0], 4.0, 3, dtype=np.int64)
    with pytest.raises(TypeError, match="indices must be integers, got dtype float64"):
        cnp.take(t, [t * 0.4])  # never truncated into indices


def test_predicates_and_like_constructors_answer_on_tensors_without_gradient():
    t = cr.tensor([1.0, -2.0, np.inf], requires_grad=True)
    a = t.data
    for name in (
        "iscomplex",
        "isreal",
        "isneginf",
        "isposinf",
        "isfinite",
        "zeros_like",
        "ones_like",
        "fix",
        "argsort",
        "flatnonzero",
    ):
        for call in (getattr(cnp, name), getattr(np, name)):
            np.testing.assert_array_equal(call(t), getattr(np, name)(a))
    assert cnp.iscomplexobj(t) is False and cnp.isscalar(t) is False and cnp.ndim(t) == 1
    np.testing.assert_array_equal(np.floor_divide(t[:2], 2.0), np.floor_divide(a[:2], 2.0))
    # The builtins any/all are not shadowed inside cnp by its own any/all (tensordot and gradient use them).
    assert cnp.tensordot(cr.tensor(np.ones((2, 3))), np.ones((3, 2)), 1).shape == (2, 2)


def test_full_and_full_like_carry_the_fill_values_gradient():
    # Σ full((2, 3), v) = 6v, and torch.full's analogue (expand) agrees.
    assert cr.grad(lambda v: cnp.full((2, 3), v).sum())(1.5) == 6.0
    assert cr.grad(lambda v: (cnp.full_like(np.ones((2, 2)), v) * np.arange(4.0).reshape(2, 2)).sum())(0.5) == 6.0
    np.testing.assert_array_equal(cnp.full_like(cr.tensor([1.0, 2.0]), 7.0), np.full(2, 7.0))
    v = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)
    (v.expand(4) * torch.arange(4.0, dtype=torch.float64)).sum().backward()
    assert cr.grad(lambda x: (cnp.full(4, x) * np.arange(4.0)).sum())(1.5) == v.grad.item()


def test_grad_of_a_boolean_output_is_refused():
    with pytest.raises(TypeError, match="boolean"):
        cr.grad(lambda x: cnp.allclose(x, x * 3.0 / 3.0))(np.array([1.0, 2.0]))
    assert cr.grad(lambda x: 3)(1.0) == 0.0  # a constant number is still fine: its gradient is zero


EINSUMS = [
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ijk,jl,lk->i", [(2, 3, 4), (3, 5), (5, 4)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]),
    ("ij,ij->", [(3, 4), (3, 4)]),
    ("i,i,i->", [(3,), (3,), (3,)]),
    ("ab,cd->abcd", [(2, 3), (4, 5)]),
    ("ii,i->i", [(3, 3), (3,)]),
    ("bi,bi->b", [(5, 3), (5, 3)]),
    ("...i,...i->...", [(2, 1, 3), (4, 3)]),
    ("i,->i", [(3,), ()]),
    ("ij,kj->ik", [(3, 4), (5, 4)]),
    ("aij,ajk,akl->ail", [(2, 3, 4), (2, 4, 5), (2, 5, 6)]),
    ("ij->", [(3, 4)]),
    ("ji", [(3, 4)]),
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


def test_where_takes_keywords_as_autograd_does():
    t = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    out = cnp.where(condition=t > 1.5, x=t * 3.0, y=t)
    np.testing.assert_array_equal(out.data, np.where(t.data > 1.5, t.data * 3.0, t.data))
    out.sum().backward()
    np.testing.assert_array_equal(t.grad.data, [1.0, 3.0, 3.0])  # 3 where the condition holds, else 1
    np.testing.assert_array_equal(cnp.where([True, False], np.ones(2), y=np.zeros(2)), [1.0, 0.0])
    assert cnp.where([1, 0, 1])[0].tolist() == [0, 2]
    with pytest.raises(ValueError, match="give both x and y, or neither"):
        cnp.where([True], x=np.ones(1))


def test_make_diagonal_inverts_diagonal_and_refuses_other_axes():
    d = RNG.standard_normal((2, 3))
    np.testing.assert_array_equal(np.diagonal(cnp.make_diagonal(d), axis1=-1, axis2=-2), d)
    # diagonal ∘ make_diagonal is the identity, so the gradient of ⟨d, ·⟩ through both is d itself.
    np.testing.assert_array_equal(cr.grad(lambda x: cnp.sum(cnp.diagonal(cnp.make_diagonal(x), 0, -1, -2) * d))(d), d)
    with pytest.raises(NotImplementedError, match="only offset=0"):
        cnp.make_diagonal(cr.tensor(d), axis1=0, axis2=1)


def test_numpys_constants_types_and_random_module_are_there_and_functions_stay_strict():
    assert cnp.pi == np.pi and cnp.inf == np.inf and cnp.newaxis is None and cnp.e == np.e
    assert cnp.float32 is np.float32 and cnp.ndarray is np.ndarray and cnp.finfo is np.finfo
    assert cnp.random is np.random and cnp.__version__ == np.__version__
    np.testing.assert_array_equal(cnp.zeros((2, 3)), np.zeros((2, 3)))
    assert type(cnp.eye(2)) is np.ndarray and cnp.arange(3).tolist() == [0, 1, 2]
    with pytest.raises(AttributeError, match="no function 'unwrap'"):
        cnp.unwrap  # noqa: B018  (a NumPy function without a derivative here is not handed over silently)


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


def test_linspace_keeps_float32_ends_float32_as_numpy():
    # found by the adversarial probes: the fractions were float64, so float32 ends gave float64 values
    lo, hi = np.float32(0.1), np.float32(0.7)
    out = cnp.linspace(cr.tensor(lo, requires_grad=True), cr.tensor(hi), 5)
    assert out.dtype == np.linspace(lo, hi, 5).dtype == np.float32
    np.testing.assert_array_equal(out.data, np.linspace(lo, hi, 5))
    assert cnp.linspace(cr.tensor(0), cr.tensor(3), 4).dtype == np.float64  # ints: float64, as NumPy


def test_make_diagonal_of_a_number_names_the_shape_expected():
    # found by the adversarial probes: "tuple index out of range"
    with pytest.raises(cr.errors.ShapeError, match=r"cnp.make_diagonal: D is a number \(shape \(\)\); expected"):
        cnp.make_diagonal(cr.tensor(1.5, requires_grad=True))
    np.testing.assert_array_equal(cnp.make_diagonal(cr.tensor([1.0, 2.0])).data, np.diag([1.0, 2.0]))


@pytest.mark.parametrize("name", ["nanmean", "nansum", "tril", "triu", "round", "cumprod"])
@pytest.mark.parametrize("data", [np.array([[1, 2], [3, 4]]), np.array([[True, False], [True, True]]),
                                  np.array([[15, -25], [35, 44]])])
def test_integer_and_boolean_inputs_give_numpys_values_and_dtypes(name, data):
    # found by the adversarial probes: nanmean of booleans divided by a count cast to bool (1), giving [1.] for
    # [True, False]; nansum, tril, triu and round turned integers into float64; cumprod kept booleans
    out = getattr(cnp, name)(cr.tensor(data))
    expected = getattr(np, name)(data)
    assert out.dtype == expected.dtype, (out.dtype, expected.dtype)
    np.testing.assert_array_equal(out.data, expected)
    if name == "round" and data.dtype.kind == "i":  # (NumPy refuses booleans with negative decimals)
        np.testing.assert_array_equal(cnp.round(cr.tensor(data), -1).data, np.round(data, -1))


def test_numpys_own_functions_name_themselves_when_they_fail_on_a_tensor():
    # found by the adversarial probes: cnp.argmax(t, axis=(0, 2)) ended inside NumPy with "'tuple' object cannot
    # be interpreted as an integer", naming no function
    x = cr.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(TypeError, match=r"^cnp.argmax: 'tuple' object .*; see numpy.argmax"):
        cnp.argmax(x, axis=(0, 1))
    with pytest.raises(IndexError, match=r"^cnp.argsort: axis 5 is out of bounds"):
        cnp.argsort(x, axis=5)
    assert cnp.argmax(cr.tensor([1.0, 3.0, 2.0])) == 1
    assert cnp.isnan is np.isnan  # ufuncs stay NumPy's own (their methods too)
    with pytest.raises(np.exceptions.AxisError):  # no Tensor: NumPy's function, NumPy's error
        cnp.argmax(np.ones(3), axis=4)


def test_diff_of_booleans_is_numpys_not_equal():
    data = np.array([[True, False, False], [True, True, False]])
    for axis in (0, -1):
        out = cnp.diff(cr.tensor(data), axis=axis)
        np.testing.assert_array_equal(out.data, np.diff(data, axis=axis))
        assert out.dtype == np.bool_


def test_ndarray_methods_without_gradient_answer_as_numpy():
    x = cr.tensor(A, requires_grad=True)
    for name, args, kwargs in [("argmin", (), {"axis": 1}), ("argsort", (), {"axis": 0}), ("argpartition", (1,), {}),
                               ("nonzero", (), {}), ("round", (1,), {})]:
        got, expected = getattr(x, name)(*args, **kwargs), getattr(A, name)(*args, **kwargs)
        for g, e in zip(*((got, expected) if name == "nonzero" else ((got,), (expected,))), strict=True):
            np.testing.assert_array_equal(getattr(g, "data", g), e)
    row = cr.tensor(np.sort(A[0]), requires_grad=True)
    np.testing.assert_array_equal(row.searchsorted([0.0, 0.5]), np.sort(A[0]).searchsorted([0.0, 0.5]))
    assert x.round().requires_grad is False  # piecewise constant
    positive = x > 0
    assert positive.all() is bool(np.all(A > 0)) and positive.any() is True
    np.testing.assert_array_equal(positive.all(axis=0), (A > 0).all(axis=0))
    np.testing.assert_array_equal(positive.any(axis=1, keepdims=True), (A > 0).any(axis=1, keepdims=True))


class _Labelled:
    """An array-like container in NumPy's ufunc protocol that keeps what it is given (as xarray's DataArray)."""

    def __init__(self, data):
        self.data = data

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        values = [x.data if isinstance(x, _Labelled) else x for x in inputs]
        return _Labelled(getattr(ufunc, method)(*values, **kwargs))

    def __mul__(self, other):
        return _Labelled(np.multiply(self.data, other))

    def __rmul__(self, other):
        return _Labelled(np.multiply(other, self.data))

    def __rsub__(self, other):
        return _Labelled(np.subtract(other, self.data))

    def __gt__(self, other):
        return _Labelled(np.greater(self.data, other))


def test_operators_defer_to_array_like_containers_which_keep_the_tensor():
    # found by HIPS autograd's test_ufunc_dispatch (xarray): x * DataArray(base) raised instead of letting the
    # container's reflected operator hold the tensor
    base, at = np.array([1.0, -2.0, 3.0]), 0.7
    cases = [(lambda x: x * _Labelled(base), np.sum(base)),
             (lambda x: _Labelled(base) * x, np.sum(base)),
             (lambda x: np.sin(x * _Labelled(base)), np.sum(base * np.cos(base * at)))]
    for f, exact in cases:
        def total(x, f=f):
            inside = f(x).data
            assert isinstance(inside, cr.Tensor if isinstance(x, cr.Tensor) else np.ndarray)
            return cr.sum(inside) if isinstance(inside, cr.Tensor) else np.sum(inside)
        numeric = (total(at + 1e-6) - total(at - 1e-6)) / 2e-6
        assert abs(cr.grad(total)(at) - exact) < 1e-12 and abs(numeric - exact) < 1e-7
    x = cr.tensor(base, requires_grad=True)
    difference = x - _Labelled(np.ones(3))  # Tensor.__sub__ defers; _Labelled.__rsub__ computes x - 1
    assert isinstance(difference, _Labelled) and np.array_equal(difference.data.data, base - 1)
    assert isinstance(x < _Labelled(np.zeros(3)), _Labelled)  # x < L is L > x
    with pytest.raises(TypeError, match="multiply: argument 'b' must be a Tensor, a NumPy array or a number, not str"):
        x * "a"
