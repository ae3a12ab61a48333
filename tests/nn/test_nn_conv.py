"""unfold/fold (the im2col primitives), conv2d and max_pool2d: against PyTorch, adjointness, gradcheck, order 2."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.errors import DomainError, ShapeError

CASES = [  # (input shape, kernel, stride, padding)
    ((2, 3, 5, 5), (3, 3), (1, 1), (1, 1)),
    ((1, 2, 6, 7), (2, 3), (2, 1), (0, 1)),
    ((2, 1, 7, 6), (3, 2), (2, 3), (2, 0)),
    ((1, 2, 4, 4), (4, 4), (1, 1), (0, 0)),
]


@pytest.mark.parametrize("shape, kernel, stride, padding", CASES)
def test_unfold_and_fold_match_torch(torch, shape, kernel, stride, padding):
    x = np.random.default_rng(0).standard_normal(shape)
    ours = F.unfold(x, kernel, padding=padding, stride=stride)
    theirs = torch.nn.functional.unfold(torch.tensor(x), kernel, padding=padding, stride=stride).numpy()
    np.testing.assert_array_equal(ours.numpy(), theirs)
    cols = np.random.default_rng(1).standard_normal(theirs.shape)
    folded = F.fold(cols, shape[2:], kernel, padding=padding, stride=stride)
    expected = torch.nn.functional.fold(torch.tensor(cols), shape[2:], kernel, padding=padding, stride=stride)
    np.testing.assert_allclose(folded.numpy(), expected.numpy(), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("shape, kernel, dilation, padding, stride", [
    ((2, 3, 7, 8), (3, 2), (2, 3), (1, 0), (1, 2)), ((1, 2, 9, 9), 2, 3, 1, 2), ((1, 1, 5, 6), (1, 3), (1, 2), 0, 1)])
def test_unfold_and_fold_take_torchs_argument_order_and_dilation(torch, shape, kernel, dilation, padding, stride):
    x = np.random.default_rng(3).standard_normal(shape)
    ours = F.unfold(x, kernel, dilation, padding, stride)  # PyTorch's positional order
    theirs = torch.nn.functional.unfold(torch.tensor(x), kernel, dilation, padding, stride).numpy()
    np.testing.assert_array_equal(ours.numpy(), theirs)
    cols = np.random.default_rng(4).standard_normal(theirs.shape)
    folded = F.fold(cols, shape[2:], kernel, dilation, padding, stride)
    expected = torch.nn.functional.fold(torch.tensor(cols), shape[2:], kernel, dilation, padding, stride).numpy()
    np.testing.assert_allclose(folded.numpy(), expected, rtol=1e-13, atol=1e-13)
    assert cr.gradcheck(lambda c: F.fold(c, shape[2:], kernel, dilation, padding, stride), cols[:1, :, :])
    assert cr.gradcheck(lambda v: F.unfold(v, kernel, dilation, padding, stride), x[:1, :1])


@pytest.mark.parametrize("shape, kernel, stride, padding", CASES)
def test_fold_is_the_adjoint_of_unfold(shape, kernel, stride, padding):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape)
    columns = F.unfold(x, kernel, padding=padding, stride=stride).numpy()
    p = rng.standard_normal(columns.shape)
    # <unfold(x), p> == <x, fold(p)>: each is the other's transpose, which is what makes them each other's vjp.
    lhs = np.sum(columns * p)
    rhs = np.sum(x * F.fold(p, shape[2:], kernel, padding=padding, stride=stride).numpy())
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_unfold_keeps_float32():
    x = cr.randn(1, 2, 4, 4, dtype="float32", requires_grad=True, seed=0)
    y = F.unfold(x, 2, padding=1)
    (y * y).sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1), ((1, 2), (1, 0))])
def test_conv2d_matches_torch_values_and_gradients(torch, stride, padding):
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((2, 3, 6, 5)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    g = None
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    out_t = torch.nn.functional.conv2d(xt, wt, bt, stride=stride, padding=padding)
    g = rng.standard_normal(tuple(out_t.shape))
    out_t.backward(torch.tensor(g))
    xc, wc, bc = (cr.tensor(a, requires_grad=True) for a in (x, w, b))
    out = F.conv2d(xc, wc, bc, stride=stride, padding=padding)
    out.backward(g)
    np.testing.assert_allclose(out.numpy(), out_t.detach().numpy(), rtol=1e-12, atol=1e-12)
    for ours, theirs in ((xc, xt), (wc, wt), (bc, bt)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kernel, stride", [(2, None), (3, 1), ((2, 3), (1, 2))])
def test_max_pool2d_matches_torch(torch, kernel, stride):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3, 6, 7))  # continuous values: no ties, where the conventions differ
    g_shape = torch.nn.functional.max_pool2d(torch.tensor(x), kernel, stride).shape
    g = rng.standard_normal(tuple(g_shape))
    xt = torch.tensor(x, requires_grad=True)
    out_t = torch.nn.functional.max_pool2d(xt, kernel, stride)
    out_t.backward(torch.tensor(g))
    xc = cr.tensor(x, requires_grad=True)
    out = F.max_pool2d(xc, kernel, stride)
    out.backward(g)
    np.testing.assert_array_equal(out.numpy(), out_t.detach().numpy())
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-14)


def test_max_pool2d_ties_give_the_gradient_to_the_first_maximum(torch):
    x = np.array([[[[1.0, 3.0, 3.0], [3.0, 0.0, 3.0], [2.0, 3.0, 1.0]]]])
    xc = cr.tensor(x, requires_grad=True)
    F.max_pool2d(xc, 2, 1).sum().backward()
    np.testing.assert_array_equal(xc.grad.numpy(), [[[[0, 2, 0], [1, 0, 1], [0, 0, 0]]]])  # row-major first
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.max_pool2d(xt, 2, 1).sum().backward()
    np.testing.assert_array_equal(xc.grad.numpy(), xt.grad.numpy())


def test_gradcheck_conv2d_with_stride_and_padding():
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((1, 2, 5, 4)), rng.standard_normal((3, 2, 3, 2)), rng.standard_normal(3)
    assert cr.gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1), x, w, b)


def test_gradcheck_max_pool2d_overlapping_windows():
    x = np.random.default_rng(6).standard_normal((1, 2, 5, 5))
    assert cr.gradcheck(lambda x: F.max_pool2d(x, 3, 2), x)


def test_second_order_through_conv2d():
    """grad of grad: d²/dw² of sum(conv(x, w)³) from the rule table vs central differences of the gradient."""
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((2, 2, 2, 2))

    def first(w):
        return cr.grad(lambda w: (F.conv2d(x, w, stride=1, padding=1) ** 3).sum())(w)

    assert isinstance(first(cr.tensor(w)), cr.Tensor)
    assert cr.gradcheck(lambda w: first(w), w)


def test_jvp_agrees_with_vjp_for_conv_and_pool():
    rng = np.random.default_rng(8)
    x, v = rng.standard_normal((1, 2, 6, 6)), rng.standard_normal((1, 2, 6, 6))
    w = rng.standard_normal((3, 2, 3, 3))

    def f(x):
        return F.max_pool2d(F.conv2d(x, w, padding=1), 2)

    out, tangent = cr.jvp(f, (x,), (v,))
    u = rng.standard_normal(np.shape(out))
    _, vjp_fn = cr.vjp(f, x)
    (cotangent,) = vjp_fn(u)
    assert np.sum(u * np.asarray(tangent)) == pytest.approx(np.sum(np.asarray(cotangent) * v), rel=1e-10)


@pytest.mark.parametrize("call, message", [
    (lambda: F.unfold(np.zeros((3, 4)), 2), "4-D input"),  # (C, H, W) is one image, as in PyTorch
    (lambda: F.unfold(np.zeros((1, 1, 3, 3)), 4), "larger than the padded image"),
    (lambda: F.fold(np.zeros((1, 5, 9)), 4, 2), "does not fit"),
    (lambda: F.conv2d(np.zeros((1, 2, 4, 4)), cr.zeros(3, 1, 2, 2)), "2 channels"),
])
def test_shape_errors(call, message):
    with pytest.raises(ShapeError, match=message):
        call()


def test_bad_stride_and_kernel_values():
    with pytest.raises(DomainError, match="stride must be >= 1"):
        F.unfold(np.zeros((1, 1, 4, 4)), 2, stride=0)
    with pytest.raises(TypeError, match="kernel_size must be an int or a pair"):
        F.unfold(np.zeros((1, 1, 4, 4)), 2.5)
