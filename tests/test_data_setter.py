"""``t.data = value``: the same dtype rules as ``cr.tensor``; another shape is allowed, as in PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


@pytest.mark.parametrize(("value", "message"), [
    ("abc", "not str"),
    (None, "not NoneType"),
    ({"a": 1}, "not dict"),
    (np.array(["a", "b"]), "dtype <U1"),
    (np.array([1.0, None], dtype=object), "dtype object"),
    (np.array(["2020-01-01"], dtype="datetime64[D]"), "dtype datetime64"),
    ([[1.0, 2.0], [3.0]], "nested lists of equal lengths"),
    (["a", "b"], "expected numbers"),
])
def test_data_refuses_what_tensor_refuses(value, message):
    t = cr.tensor([1.0, 2.0])
    before = t.data.copy()
    with pytest.raises(TypeError, match=message):
        t.data = value
    np.testing.assert_array_equal(t.data, before)  # unchanged
    with pytest.raises(TypeError):
        cr.tensor(value)  # the same rules


def test_data_says_what_dtype_was_given_and_what_is_expected():
    t = cr.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match=r"numbers \(bool, int, float or complex\).*got an array of dtype <U1"):
        t.data = np.array(["a"])


def test_data_accepts_complex_numbers():
    t = cr.tensor([1.0, 2.0])
    t.data = np.array([1 + 2j, 3j], np.complex64)
    assert t.dtype == np.complex64
    t.data = 1 + 2j
    assert t.data == 1 + 2j


def test_a_tensor_that_requires_grad_keeps_floating_point_data():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"requires a gradient.*floating point.*got dtype int64"):
        w.data = np.array([1, 2])
    w.data = np.array([3.0, 4.0], np.float32)
    assert w.dtype == np.float32


def test_data_accepts_arrays_without_copying_tensors_numbers_and_lists():
    t = cr.tensor([1.0, 2.0])
    new = np.array([5.0, 6.0])
    t.data = new
    new[0] = 7.0  # the tensor holds that very array, as torch's .data = shares storage
    assert float(t.sum()) == 13.0
    t.data = cr.tensor([1, 2, 3])
    assert t.dtype == np.int64 and t.shape == (3,)
    t.data = 2.5
    assert t.shape == () and float(t) == 2.5
    t.data = [[True, False]]
    assert t.dtype == np.bool_ and t.shape == (1, 2)
    t.data = np.float32(1.5)
    assert t.dtype == np.float32


def test_another_shape_is_allowed_and_the_next_backward_uses_it():
    torch = pytest.importorskip("torch")
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    new = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    w.data = new.copy()
    (cr.sin(w) * w).sum().backward()

    tw = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    tw.data = torch.tensor(new)  # PyTorch allows a new shape through .data too
    (torch.sin(tw) * tw).sum().backward()
    np.testing.assert_allclose(w.grad.data, tw.grad.numpy(), rtol=1e-13)
    def f(a):
        return np.sum(np.sin(a) * a)

    eps, numeric = 1e-6, np.empty_like(new)
    for i in np.ndindex(new.shape):  # central differences, element by element
        step = np.zeros_like(new)
        step[i] = eps
        numeric[i] = (f(new + step) - f(new - step)) / (2 * eps)
    np.testing.assert_allclose(w.grad.data, numeric, rtol=1e-8)
