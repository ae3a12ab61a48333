"""NumPy 2's Array API names (np.linalg.vector_norm, matrix_norm, svdvals, vecdot...; np.vecdot, matvec,
cumulative_sum...) on tensors: values equal NumPy's, gradients equal torch's and central differences, and NumPy's own
functions dispatch to them."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.numpy as cnp

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(11)
A, B = RNG.standard_normal((2, 3, 3)), RNG.standard_normal((2, 3, 3))
V3 = RNG.standard_normal((4, 3))
V = RNG.standard_normal(3)

# name: (NumPy function, inputs, keywords, the same in torch on torch tensors)
CASES = {
    "linalg.cross": (np.linalg.cross, (V3, V3[::-1].copy()), {}, lambda a, b: torch.linalg.cross(a, b)),
    "linalg.diagonal": (np.linalg.diagonal, (A,), {"offset": 1},
                        lambda a: torch.linalg.diagonal(a, offset=1)),
    "linalg.matmul": (np.linalg.matmul, (A, B), {}, torch.linalg.matmul),
    "linalg.matrix_norm-fro": (np.linalg.matrix_norm, (A,), {}, torch.linalg.matrix_norm),
    "linalg.matrix_norm-nuc": (np.linalg.matrix_norm, (A,), {"ord": "nuc", "keepdims": True},
                               lambda a: torch.linalg.matrix_norm(a, ord="nuc", keepdim=True)),
    "linalg.matrix_norm-2": (np.linalg.matrix_norm, (A,), {"ord": 2}, lambda a: torch.linalg.matrix_norm(a, ord=2)),
    "linalg.matrix_norm-inf": (np.linalg.matrix_norm, (A,), {"ord": np.inf},
                               lambda a: torch.linalg.matrix_norm(a, ord=np.inf)),
    "linalg.matrix_transpose": (np.linalg.matrix_transpose, (A,), {}, lambda a: a.mT),
    "linalg.outer": (np.linalg.outer, (V, V3[0]), {}, torch.outer),
    "linalg.svdvals": (np.linalg.svdvals, (A,), {}, torch.linalg.svdvals),
    "linalg.tensordot": (np.linalg.tensordot, (A, B.transpose(1, 0, 2).copy()), {"axes": 1},
                         lambda a, b: torch.tensordot(a, b, dims=1)),
    "linalg.trace": (np.linalg.trace, (A,), {"offset": -1}, lambda a: torch.diagonal(a, -1, -2, -1).sum(-1)),
    "linalg.vecdot": (np.linalg.vecdot, (A, B), {"axis": 1}, lambda a, b: torch.linalg.vecdot(a, b, dim=1)),
    "linalg.vector_norm": (np.linalg.vector_norm, (A,), {}, torch.linalg.vector_norm),
    "linalg.vector_norm-axes-3": (np.linalg.vector_norm, (A,), {"axis": (0, 2), "ord": 3, "keepdims": True},
                                  lambda a: torch.linalg.vector_norm(a, ord=3, dim=(0, 2), keepdim=True)),
    "linalg.vector_norm-1": (np.linalg.vector_norm, (A,), {"axis": -1, "ord": 1},
                             lambda a: torch.linalg.vector_norm(a, ord=1, dim=-1)),
    "vecdot": (np.vecdot, (A, V), {}, lambda a, b: (a * b).sum(-1)),
    "matvec": (np.matvec, (A, V), {}, lambda a, b: a @ b),
    "vecmat": (np.vecmat, (V, A), {}, lambda a, b: b.mT @ a),
    "matrix_transpose": (np.matrix_transpose, (A,), {}, lambda a: a.mT),
    "cumulative_sum": (np.cumulative_sum, (A,), {"axis": 1, "include_initial": True},
                       lambda a: torch.cat([torch.zeros(2, 1, 3, dtype=a.dtype), a.cumsum(1)], 1)),
    "cumulative_prod": (np.cumulative_prod, (A,), {"axis": -1}, lambda a: a.cumprod(-1)),
    "unstack": (np.unstack, (A,), {"axis": 1}, lambda a: torch.stack(torch.unbind(a, 1))),
    "astype": (lambda x: np.astype(x, np.float32), (A,), {}, lambda a: a.float()),
}


def _ours(name):
    function, _, keywords, _ = CASES[name]

    def f(*tensors):
        out = function(*tensors, **keywords)
        return cr.stack(list(out)) if isinstance(out, tuple) else out

    return f


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_equal_numpys_and_gradients_equal_torchs(name):
    function, inputs, keywords, theirs = CASES[name]
    tensors = [cr.tensor(a, requires_grad=True) for a in inputs]
    out = _ours(name)(*tensors)
    assert isinstance(out, cr.Tensor)  # np.f(tensor) answered by chainrule.numpy, through NumPy's protocols
    expected = np.asarray(function(*inputs, **keywords))
    assert out.dtype == expected.dtype and out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-13, atol=1e-14)
    weights = RNG.standard_normal(out.shape)
    (out * weights).sum().backward()
    inputs_t = [torch.tensor(a, requires_grad=True) for a in inputs]
    (theirs(*inputs_t) * torch.tensor(weights)).sum().backward()
    tolerance = dict(rtol=1e-10, atol=1e-12) if out.dtype == np.float64 else dict(rtol=1e-6, atol=1e-7)
    for ours, t in zip(tensors, inputs_t, strict=True):
        np.testing.assert_allclose(ours.grad.numpy(), t.grad.numpy(), **tolerance)


@pytest.mark.parametrize("name", sorted(n for n in CASES if n != "astype"))
def test_gradients_agree_with_central_differences(name):
    inputs = CASES[name][1]
    assert cr.gradcheck(_ours(name), *inputs, eps=1e-6, atol=1e-7, rtol=1e-6)


def test_cnp_names_answer_numpy_arrays_with_numpys_values():
    assert np.array_equal(cnp.linalg.svdvals(A), np.linalg.svdvals(A))
    assert np.array_equal(cnp.cumulative_sum(V, include_initial=True), np.cumulative_sum(V, include_initial=True))
    assert np.array_equal(cnp.linalg.vector_norm(A, ord=1), np.linalg.vector_norm(A, ord=1))


def test_complex_vecdot_conjugates_its_first_argument():
    z, w = RNG.standard_normal(3) + 1j * RNG.standard_normal(3), RNG.standard_normal(3) + 1j * RNG.standard_normal(3)
    out = np.linalg.vecdot(cr.tensor(z), cr.tensor(w))
    assert out.item() == pytest.approx(np.vdot(z, w), rel=1e-14)
    # Re Σ conj(z)·w = Σ (Re z Re w + Im z Im w): the gradients (∂/∂Re − i ∂/∂Im, as autograd and JAX) are
    # conj(z) in w and conj(w) in z
    gz, gw = cr.grad(lambda a, b: cr.real(np.linalg.vecdot(a, b)), argnums=(0, 1))(z, w)
    np.testing.assert_allclose(gw, np.conj(z), rtol=1e-14)
    np.testing.assert_allclose(gz, np.conj(w), rtol=1e-14)


@pytest.mark.parametrize("call, error, words", [
    (lambda: np.linalg.cross(cr.tensor(A), cr.tensor(A[..., :2])), ValueError, "3"),
    (lambda: np.linalg.outer(cr.tensor(A), cr.tensor(V)), ValueError, "one-dimensional"),
    (lambda: np.cumulative_sum(cr.tensor(A)), TypeError, "axis must be given"),
    (lambda: np.matrix_transpose(cr.tensor(V)), ValueError, "2 dimensions"),
    (lambda: np.matvec(cr.tensor(A), cr.tensor(V3)), ValueError, "could not be broadcast"),
])
def test_bad_input_is_refused_clearly(call, error, words):
    with pytest.raises(error, match=words):
        call()
