"""Edge cases a NumPy or PyTorch user runs into: each once gave a silently wrong number or a NumPy traceback."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F


def test_argnums_naming_an_argument_twice_is_an_error():
    for transform in (cr.grad, cr.value_and_grad, cr.jacobian):
        with pytest.raises(ValueError, match="twice"):
            transform(lambda x, y: x * y, argnums=(0, 0))(2.0, 3.0)
        with pytest.raises(ValueError, match="twice"):
            transform(lambda x, y: x * y, argnums=(1, -1))(2.0, 3.0)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, bool])
def test_a_cast_to_integers_or_booleans_carries_no_gradient(dtype):
    x = cr.tensor([1.7, 2.2], requires_grad=True)
    y = x.astype(dtype)
    assert not y.requires_grad and y.dtype == np.dtype(dtype)
    (y * 2.0 + x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0])  # only the "+ x" path
    assert cr.grad(lambda t: (t.astype(dtype) * t).sum())(np.array([1.5, -2.5])).tolist() == (
        np.array([1.5, -2.5]).astype(dtype).astype(float).tolist())


def test_a_cast_between_float_dtypes_keeps_the_gradient_in_the_input_dtype():
    x = cr.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    (x.astype(np.float64) ** 2).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])


@pytest.mark.parametrize("axes", [(0, 5), (0, -3), (2, 1)])
def test_transpose_rejects_axes_out_of_range(axes):
    with pytest.raises(ValueError, match="out of range"):
        cr.ones(2, 3).transpose(*axes)


@pytest.mark.parametrize("ddof", [2, 3])
def test_var_without_degrees_of_freedom_follows_its_formula(ddof):
    # d var / dx_i = 2 (x_i − mean) / max(n − ddof, 0): ±inf by the sign of x_i − mean (torch says +inf for both).
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        x.var(ddof=ddof).backward()  # no ZeroDivisionError
    np.testing.assert_array_equal(x.grad.data, [-np.inf, np.inf])


def test_std_without_degrees_of_freedom_matches_torch():
    torch = pytest.importorskip("torch")
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        x.std(ddof=2).backward()
    t = torch.tensor([1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        torch.std(t, correction=2).backward()
    np.testing.assert_array_equal(x.grad.data, t.grad.numpy())


def test_max_and_min_with_a_nan_send_the_gradient_to_the_nan():
    torch = pytest.importorskip("torch")
    values = np.array([1.0, np.nan, 0.5])
    for op in ("max", "min"):
        x = cr.tensor(values, requires_grad=True)
        getattr(x, op)().backward()
        t = torch.tensor(values, requires_grad=True)
        getattr(t, op)().backward()
        np.testing.assert_array_equal(x.grad.data, t.grad.numpy())


def test_a_leaf_never_keeps_the_callers_seed_array():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    seed = np.ones(3)
    x.backward(seed)
    seed[:] = 7.0
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0, 1.0])


def test_reductions_give_array_data_even_when_0_d():
    loss = (cr.tensor([1.0, 2.0], requires_grad=True) ** 2).mean()
    assert isinstance(loss.data, np.ndarray) and loss.data.shape == ()
    assert isinstance(loss.numpy(), np.ndarray)


@pytest.mark.parametrize(("call", "error", "fragment"), [
    (lambda: F.conv2d(cr.ones(1, 2, 5, 5), cr.ones(3, 2, 3)), ValueError, "4-D"),
    (lambda: F.conv2d(cr.ones(1, 2, 5, 5), cr.ones(3, 2, 3, 3), cr.ones(4)), ValueError, "bias"),
    (lambda: cr.ones(2, 2, 3) @ cr.ones(3, 3, 4), ValueError, "batch dimensions"),
    (lambda: -cr.tensor([True]), TypeError, "bool"),
    (lambda: cr.zeros(2.0), TypeError, "shape"),
    (lambda: cr.randn(2, dtype="int64"), TypeError, "floating point"),
])
def test_clear_errors(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()


def test_softmax_of_a_single_value_is_one():
    x = cr.tensor(3.0, requires_grad=True)
    assert cr.softmax(x).item() == 1.0 and cr.log_softmax(x).item() == 0.0
    cr.log_softmax(x).backward()
    assert x.grad.item() == 0.0


def test_an_empty_list_index_selects_nothing():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x[[]]
    assert y.shape == (0,)
    (y.sum() + x.sum()).backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0, 1.0])


def test_gradcheck_error_shows_plain_numbers():
    with pytest.raises(cr.GradcheckError) as info:
        cr.gradcheck(lambda x: cr.Tensor(x.data ** 2) + x, np.array([1.0]))  # the square is cut from the graph
    assert "np.float64" not in str(info.value) and "analytic gradient 1.0" in str(info.value)


def test_parameters_that_broadcast_are_unbroadcast_like_inputs():
    # clip's bounds broadcast a scalar x to shape (2,): d/dx sum(clip(x, [0, .6], 1)) at 0.5 is 1 + 0, a scalar.
    def f(x):
        return cr.clip(x, np.array([0.0, 0.6]), 1.0)

    assert cr.grad(lambda x: f(x).sum())(0.5) == 1.0
    t = cr.tensor(0.5, requires_grad=True)
    f(t).sum().backward()
    assert t.grad.shape == () and float(t.grad.data) == 1.0
    np.testing.assert_array_equal(cr.jacobian(f)(0.5), [1.0, 0.0])
    assert cr.explain(lambda x: f(x).sum(), x=0.5).gradients == {"x": 1.0}
    # Bounds of shape (3, 1) against x of shape (2,): the gradient sums over the added axis.
    x = np.array([0.1, 0.5])
    hi = np.array([[0.3], [0.8], [1.0]])
    np.testing.assert_array_equal(cr.grad(lambda v: cr.clip(v, None, hi).sum())(x), [3.0, 2.0])


def test_a_gradient_of_the_wrong_shape_never_reaches_a_leaf():
    t = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(cr.GraphError, match=r"shape \(2, 2\) for a leaf of shape \(2,\)"):
        t._accumulate_grad(np.ones((2, 2)))
    assert t.grad is None


@pytest.mark.parametrize("make", [lambda m: cr.tensor(m), lambda m: cr.grad(lambda x: (x * x).sum())(m),
                                  lambda m: cr.jacobian(lambda x: x * 2)(m)])
def test_a_masked_array_is_refused_rather_than_its_mask_dropped(make):
    masked = np.ma.array([1.0, 2.0], mask=[False, True])  # as data, [1, 2]: the hidden 2 would count
    with pytest.raises(TypeError, match="mask would be lost"):
        make(masked)
