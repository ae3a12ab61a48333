"""Never silently a constant (issue 10, API.md "Tensors, continued"): a tensor that requires grad becomes a plain
array only explicitly; lists of tensors where an array is expected are stacked differentiably."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr


def _leaf(values):
    return cr.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


@pytest.mark.parametrize("convert", [
    lambda t: np.asarray(t), lambda t: np.array(t), lambda t: np.array([t, t]), lambda t: np.asarray([t, 1.0]),
])
def test_implicit_conversion_of_a_tensor_that_requires_grad_is_refused(convert):
    x = _leaf(2.0)
    with pytest.raises(TypeError, match=r"requires grad.*detach\(\)\.numpy\(\)"):
        convert(x)
    with pytest.raises(TypeError, match="requires grad"):
        convert(x * 3)  # a result of an op carries the graph too


def test_explicit_conversions_and_constant_tensors_still_give_arrays():
    x = _leaf([1.0, 2.0])
    np.testing.assert_array_equal(np.asarray(x.detach()), [1.0, 2.0])
    np.testing.assert_array_equal(x.detach().numpy(), [1.0, 2.0])
    np.testing.assert_array_equal(np.asarray(cr.tensor([3.0, 4.0])), [3.0, 4.0])  # no graph: nothing to lose
    assert float(_leaf(2.5)) == 2.5 and _leaf([2.5]).item() == 2.5


def test_an_explicit_cast_to_integers_gives_an_array_and_indexes_differentiably():
    # np.int64(t) and np.asarray(t, dtype=int) ask for integers: no gradient by definition, so no silent loss.
    w = _leaf([[0.5, 1.0, 0.0], [2.0, -1.0, 1.0]])
    index = np.int64(w[:, -1])
    assert isinstance(index, np.ndarray) and index.dtype == np.int64 and list(index) == [0, 1]
    np.testing.assert_array_equal(np.asarray(w, dtype=bool), w.data.astype(bool))
    w[:, :-1][index].sum().backward()  # rows 0 and 1 of the first two columns: gradient 1 there, as torch
    tw = torch.tensor(w.data, requires_grad=True)
    tw[:, :-1][torch.tensor(index)].sum().backward()
    np.testing.assert_array_equal(w.grad.data, tw.grad.numpy())
    with pytest.raises(TypeError, match="requires grad"):
        np.asarray(w, dtype=np.float32)  # a float cast would lose the gradient: still refused
    with pytest.raises(TypeError, match="Cannot cast"):
        np.take(np.arange(5.0), w[0])  # float indices: NumPy's own refusal, as for a float array, never truncated


def test_float_and_int_of_a_non_scalar_are_type_errors():
    for function in (float, int):
        with pytest.raises(TypeError, match=rf"{function.__name__}\(\) of a tensor of shape \(2,\)"):
            function(cr.tensor([1.0, 2.0]))


def test_a_list_of_tensors_is_stacked_differentiably():
    x = _leaf(3.0)
    y = cr.mean([x, x + 2])
    assert y.item() == 4.0
    y.backward()
    assert x.grad.item() == 1.0  # the example: 0 when the list became a constant

    x.grad = None
    t = cr.tensor([x, 2 * x, 5.0])
    assert t.requires_grad and t.tolist() == [3.0, 6.0, 5.0]
    (t * cr.tensor([1.0, 10.0, 100.0])).sum().backward()
    assert x.grad.item() == 21.0


def test_nested_lists_against_torch():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(3), rng.standard_normal(3)
    x, y = _leaf(a), _leaf(b)
    out = cr.sum(cr.tensor([[x, y], [y * x, x]]) ** 2)
    out.backward()
    tx, ty = (torch.tensor(v, requires_grad=True) for v in (a, b))
    expected = (torch.stack([torch.stack([tx, ty]), torch.stack([ty * tx, tx])]) ** 2).sum()
    expected.backward()
    np.testing.assert_allclose(out.item(), expected.item(), rtol=1e-14)
    np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-14)
    np.testing.assert_allclose(y.grad.data, ty.grad.numpy(), rtol=1e-14)
    assert cr.gradcheck(lambda p, q: cr.sum(cr.tensor([[p, q], [q * p, p]]) ** 2), a, b)


def test_a_list_of_constant_tensors_makes_a_leaf():
    t = cr.tensor([cr.tensor(1.0), 2.0], requires_grad=True)
    assert t.is_leaf and t.requires_grad and t.tolist() == [1.0, 2.0]
