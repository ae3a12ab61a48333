"""Functional transforms: grad, value_and_grad, vjp, jvp, jacobian, hessian — forms, nesting, references, errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from helpers import assert_close

import chainrule as cr

EPS = 1e-6


def _central_jacobian(f, x, eps=EPS):
    """∂f/∂x by central differences on plain arrays: shape f(x).shape + x.shape."""
    x = np.asarray(x, dtype=np.float64)
    columns = []
    for j in range(x.size):
        dx = np.zeros(x.size)
        dx[j] = eps
        dx = dx.reshape(x.shape)
        columns.append((np.asarray(f(x + dx)) - np.asarray(f(x - dx))) / (2 * eps))
    out_shape = np.shape(f(x))
    return np.stack(columns, axis=-1).reshape(out_shape + x.shape)


# ---------------------------------------------------------------------------------------------------------------
# grad: forms and argnums.
# ---------------------------------------------------------------------------------------------------------------
def test_grad_of_a_float_is_a_float():
    g = cr.grad(lambda x: x * cr.sin(x))(1.2)
    assert type(g) is float
    assert g == pytest.approx(np.sin(1.2) + 1.2 * np.cos(1.2), rel=1e-15)
    assert type(cr.grad(lambda x: x ** 2)(3)) is float and cr.grad(lambda x: x ** 2)(3) == 6.0


def test_grad_of_an_ndarray_is_an_ndarray():
    x = np.array([[0.5, 1.0], [1.5, 2.0]])
    g = cr.grad(lambda t: cr.sum(t ** 3))(x)
    assert type(g) is np.ndarray and g.shape == x.shape and g.dtype == np.float64
    np.testing.assert_allclose(g, 3 * x ** 2, rtol=1e-15)


def test_grad_of_a_tensor_is_a_tensor():
    x = cr.tensor([0.5, 1.0])
    g = cr.grad(lambda t: cr.sum(cr.exp(t)))(x)
    assert isinstance(g, cr.Tensor) and not g.requires_grad
    np.testing.assert_allclose(g.data, np.exp(x.data), rtol=1e-15)
    assert x.grad is None  # a transform does not touch .grad


def test_grad_argnums_tuple_returns_a_tuple():
    f = lambda x, y, z: x * y ** 2 + z  # noqa: E731
    gx, gz = cr.grad(f, argnums=(0, 2))(2.0, 3.0, 4.0)
    assert (gx, gz) == (9.0, 1.0)
    gs = cr.grad(f, argnums=(1,))(2.0, 3.0, 4.0)
    assert isinstance(gs, tuple) and gs == (12.0,)
    assert cr.grad(f, argnums=1)(2.0, 3.0, 4.0) == 12.0
    assert cr.grad(f, argnums=-1)(2.0, 3.0, 4.0) == 1.0


def test_grad_of_a_constant_function_is_zero_in_form():
    assert cr.grad(lambda x: 3.0)(1.0) == 0.0
    g = cr.grad(lambda x, y: cr.sum(y * 2), argnums=(0, 1))(np.ones(3), np.ones(2))
    np.testing.assert_array_equal(g[0], np.zeros(3))
    np.testing.assert_array_equal(g[1], [2.0, 2.0])


# ---------------------------------------------------------------------------------------------------------------
# Nesting to higher orders.
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("f", "derivatives"), [
    (lambda x: x ** 5, lambda x: (5 * x ** 4, 20 * x ** 3, 60 * x ** 2, 120 * x)),
    (cr.sin, lambda x: (np.cos(x), -np.sin(x), -np.cos(x), np.sin(x))),
    (cr.exp, lambda x: (np.exp(x),) * 4),
    (lambda x: cr.log(x), lambda x: (1 / x, -1 / x ** 2, 2 / x ** 3, -6 / x ** 4)),
    (lambda x: x * cr.exp(-x), lambda x: ((1 - x) * np.exp(-x), (x - 2) * np.exp(-x), (3 - x) * np.exp(-x),
                                          (x - 4) * np.exp(-x))),
    (cr.tanh, lambda x: (1 - np.tanh(x) ** 2, -2 * np.tanh(x) * (1 - np.tanh(x) ** 2),
                         (1 - np.tanh(x) ** 2) * (6 * np.tanh(x) ** 2 - 2),
                         8 * np.tanh(x) * (1 - np.tanh(x) ** 2) * (2 - 3 * np.tanh(x) ** 2))),
], ids=["x^5", "sin", "exp", "log", "x e^-x", "tanh"])
def test_nested_grad_to_fourth_order(f, derivatives):
    x = 1.3
    expected = derivatives(x)
    g = f
    for order in range(4):
        g = cr.grad(g)
        value = g(x)
        assert type(value) is float
        assert value == pytest.approx(expected[order], rel=1e-12), f"order {order + 1}"


def test_nested_grad_of_arrays():
    x = np.array([0.2, 0.5, 0.9])
    d2 = cr.grad(lambda t: cr.sum(cr.grad(lambda s: cr.sum(cr.sin(s) * s))(t)))(x)
    np.testing.assert_allclose(d2, 2 * np.cos(x) - x * np.sin(x), rtol=1e-14)


def test_no_perturbation_confusion():
    # d/dx [ d/dy (x*y) ] = d/dx x = 1; a confused implementation mixes the two levels and gets 2.
    assert cr.grad(lambda x: cr.grad(lambda y: x * y)(1.0))(2.0) == 1.0
    # d/dx [ x * d/dy (x + y) ] = d/dx [ x * 1 ] = 1
    assert cr.grad(lambda x: x * cr.grad(lambda y: x + y)(1.0))(2.0) == 1.0
    # d/dx [ x * d/dy (x * y) ] = d/dx x² = 2x
    assert cr.grad(lambda x: x * cr.grad(lambda y: x * y)(1.0))(2.0) == 4.0
    # d/dx [ d/dy sin(x y) at y = x ] = d/dx [x cos(x²)] = cos(x²) − 2x² sin(x²)
    x = 0.8
    got = cr.grad(lambda x: cr.grad(lambda y: cr.sin(x * y))(x))(x)
    assert got == pytest.approx(np.cos(x ** 2) - 2 * x ** 2 * np.sin(x ** 2), rel=1e-13)


def test_nested_grad_with_tensor_inputs_leaves_grad_alone():
    x = cr.tensor(0.5, requires_grad=True)
    g = cr.grad(lambda t: t ** 3)(x)
    assert float(g) == 0.75
    assert g.requires_grad  # connected to x's graph, so it can be differentiated again
    g.backward()
    assert float(x.grad) == 3.0  # d/dx 3x² = 6x


# ---------------------------------------------------------------------------------------------------------------
# value_and_grad, vjp, jvp.
# ---------------------------------------------------------------------------------------------------------------
def test_value_and_grad():
    value, grad = cr.value_and_grad(lambda x: cr.sum(x ** 2))(np.array([1.0, 2.0]))
    assert type(value) is float and value == 5.0
    np.testing.assert_array_equal(grad, [2.0, 4.0])
    value, grads = cr.value_and_grad(lambda x, y: x * y * y, argnums=(0, 1))(2.0, 3.0)
    assert value == 18.0 and grads == (9.0, 12.0)


def test_vjp_can_be_called_twice_and_returns_a_tuple():
    a, b = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    out, vjp_fn = cr.vjp(lambda x, y: cr.sin(x) * y, a, b)
    np.testing.assert_allclose(out, np.sin(a) * b, rtol=1e-15)
    first = vjp_fn(np.ones(2))
    second = vjp_fn(np.array([1.0, -2.0]))
    assert isinstance(first, tuple) and len(first) == 2
    np.testing.assert_allclose(first[0], np.cos(a) * b, rtol=1e-15)
    np.testing.assert_allclose(first[1], np.sin(a), rtol=1e-15)
    np.testing.assert_allclose(second[0], np.cos(a) * b * [1, -2], rtol=1e-15)
    np.testing.assert_allclose(second[1], np.sin(a) * [1, -2], rtol=1e-15)
    one = cr.vjp(cr.exp, 0.5)[1](2.0)
    assert isinstance(one, tuple) and len(one) == 1 and one[0] == pytest.approx(2 * np.exp(0.5), rel=1e-15)
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        vjp_fn(np.ones(3))


def _vector_function(x):
    return cr.stack([cr.sin(x[0]) * x[1], cr.exp(x[1] - x[2]), x[0] * x[1] * x[2], cr.log(x[2])])


def _vector_function_numpy(x):
    return np.array([np.sin(x[0]) * x[1], np.exp(x[1] - x[2]), x[0] * x[1] * x[2], np.log(x[2])])


X3 = np.array([0.4, 1.3, 0.7])


def test_jvp_equals_jacobian_times_tangent():
    v = np.array([1.0, -0.5, 2.0])
    out, tangent = cr.jvp(_vector_function, (X3,), (v,))
    np.testing.assert_allclose(out, _vector_function_numpy(X3), rtol=1e-15)
    jacobian = cr.jacobian(_vector_function)(X3)
    np.testing.assert_allclose(tangent, jacobian @ v, rtol=1e-14)
    out, tangent = cr.jvp(lambda x, y: x * y, (2.0, 3.0), (1.0, 0.0))
    assert (out, tangent) == (6.0, 3.0)


def test_jvp_argument_errors():
    with pytest.raises(ValueError, match="tangent"):
        cr.jvp(cr.sin, (1.0, 2.0), (1.0,))
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        cr.jvp(cr.sin, (np.ones(2),), (np.ones(3),))


# ---------------------------------------------------------------------------------------------------------------
# jacobian and hessian.
# ---------------------------------------------------------------------------------------------------------------
def test_jacobian_against_finite_differences():
    jacobian = cr.jacobian(_vector_function)(X3)
    assert jacobian.shape == (4, 3)
    np.testing.assert_allclose(jacobian, _central_jacobian(_vector_function_numpy, X3), rtol=1e-6, atol=1e-8)


def test_jacobian_shapes_and_argnums():
    a, b = np.ones((2, 3)), np.arange(3.0)
    ja, jb = cr.jacobian(lambda x, y: x * y, argnums=(0, 1))(a, b)
    assert ja.shape == (2, 3, 2, 3) and jb.shape == (2, 3, 3)
    np.testing.assert_array_equal(ja.reshape(6, 6), np.diag(np.tile(b, 2)))
    np.testing.assert_array_equal(jb, np.broadcast_to(np.eye(3), (2, 3, 3)))
    assert cr.jacobian(lambda x: cr.sum(x))(np.ones(3)).shape == (3,)


def _index_jacobian(shape, index):
    """The Jacobian of x -> x[index]: 1 where output element o is input element i (a reference from NumPy)."""
    source = np.arange(int(np.prod(shape))).reshape(shape)[index]
    reference = np.zeros(source.shape + (int(np.prod(shape)),))
    for o, i in np.ndenumerate(source):
        reference[(*o, i)] = 1.0
    return reference.reshape(source.shape + tuple(shape))


INDEX_CASES = {
    "int": 1, "slices": (slice(None), slice(1, 3)), "ellipsis and None": (Ellipsis, None, 0),
    "int array with repeats": np.array([1, 1, 0]), "adjacent int arrays": (np.array([1, 0]), np.array([0, 2])),
    "slice then int array": (slice(None), np.array([0, 0]), slice(1, 3)), "boolean mask": np.arange(24).reshape(
        2, 3, 4) % 5 == 0,
}
INDEX_SPLIT_BY_A_SLICE = {
    "int arrays split by a slice": (np.array([0, 1]), slice(None), np.array([1, 2])),
    "int and int array split by a slice": (0, slice(None), np.array([1, 2, 3])),
}


@pytest.mark.parametrize("index", [pytest.param(v, id=k) for k, v in {**INDEX_CASES, **INDEX_SPLIT_BY_A_SLICE}.items()])
def test_jacobian_through_indexing(index):
    x = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(cr.jacobian(lambda t: t[index])(x), _index_jacobian(x.shape, index))


def test_jacobian_of_a_jacobian():
    x = np.array([1.0, 2.0])
    second = cr.jacobian(cr.jacobian(lambda t: t ** 3))(x)
    expected = np.zeros((2, 2, 2))
    expected[0, 0, 0], expected[1, 1, 1] = 6.0, 12.0
    np.testing.assert_array_equal(second, expected)


def _scalar_function(x):
    return cr.sum(cr.sin(x) * x[::-1]) + cr.logsumexp(x * x) + cr.prod(x + 2)


def _scalar_function_grad_fd(x):
    return _central_jacobian(lambda z: float(_scalar_function(cr.tensor(z)).data), x)


def test_hessian_against_finite_differences_of_grad():
    x = np.array([0.3, -0.7, 1.1])
    hessian = cr.hessian(_scalar_function)(x)
    assert hessian.shape == (3, 3)
    np.testing.assert_allclose(hessian, hessian.T, rtol=1e-14)
    numeric = _central_jacobian(cr.grad(_scalar_function), x)
    np.testing.assert_allclose(hessian, numeric, rtol=1e-6, atol=1e-8)


def test_hessian_with_two_arguments():
    h = cr.hessian(lambda x, y: x * x * y, argnums=(0, 1))(2.0, 3.0)
    assert h == ((6.0, 4.0), (4.0, 0.0))


def test_hessian_vector_product_by_forward_over_reverse():
    x = np.array([0.3, -0.7, 1.1])
    v = np.array([1.0, -2.0, 0.5])
    gradient, hvp = cr.jvp(cr.grad(_scalar_function), (x,), (v,))
    np.testing.assert_allclose(gradient, cr.grad(_scalar_function)(x), rtol=1e-15)
    np.testing.assert_allclose(hvp, cr.hessian(_scalar_function)(x) @ v, rtol=1e-13)


def test_hessian_vector_product_by_reverse_over_forward():
    x = np.array([0.3, -0.7, 1.1])
    v = np.array([1.0, -2.0, 0.5])
    hvp = cr.grad(lambda z: cr.sum(cr.jvp(_scalar_function, (z,), (v,))[1]))(x)
    np.testing.assert_allclose(hvp, cr.hessian(_scalar_function)(x) @ v, rtol=1e-13)


def test_forward_over_forward():
    _, second = cr.jvp(lambda x: cr.jvp(cr.sin, (x,), (1.0,))[1], (0.5,), (1.0,))
    assert second == pytest.approx(-np.sin(0.5), rel=1e-15)


class TestAgainstTorch:
    torch = pytest.importorskip("torch")

    def test_jacobian(self):
        torch = self.torch

        def torch_f(x):
            return torch.stack([torch.sin(x[0]) * x[1], torch.exp(x[1] - x[2]), x[0] * x[1] * x[2], torch.log(x[2])])

        theirs = torch.autograd.functional.jacobian(torch_f, torch.tensor(X3, dtype=torch.float64)).numpy()
        assert_close(cr.jacobian(_vector_function)(X3), theirs, rtol=1e-13)

    def test_hessian(self):
        torch = self.torch

        def torch_f(x):
            return (torch.sin(x) * x.flip(0)).sum() + torch.logsumexp(x * x, 0) + torch.prod(x + 2)

        x = np.array([0.3, -0.7, 1.1])
        theirs = torch.autograd.functional.hessian(torch_f, torch.tensor(x, dtype=torch.float64)).numpy()
        assert_close(cr.hessian(_scalar_function)(x), theirs, rtol=1e-13)


# ---------------------------------------------------------------------------------------------------------------
# Errors.
# ---------------------------------------------------------------------------------------------------------------
def test_grad_of_a_non_scalar_function_names_the_shape():
    with pytest.raises(ValueError, match=r"scalar.*\(3,\)"):
        cr.grad(lambda x: x * 2)(np.ones(3))
    with pytest.raises(ValueError, match=r"\(2, 2\)"):
        cr.value_and_grad(lambda x: x * 2)(np.ones((2, 2)))


@pytest.mark.parametrize(("argnums", "bad"), [(2, 2), (-3, -3), ((0, 5), 5), ((5, 0), 5), ((1, 2, 1), 2)])
@pytest.mark.parametrize("transform", [cr.grad, cr.value_and_grad, cr.jacobian, cr.hessian])
def test_argnums_out_of_range_says_so(transform, argnums, bad):
    # Out of range, not "names an argument twice" (which an out-of-range number used to be counted as).
    # The message names the transform that checks: grad is value_and_grad's; hessian names itself.
    name = {cr.value_and_grad: "grad"}.get(transform, transform.__name__)
    message = (f"{name}: argnums {argnums!r}: argument {bad} is out of range for a function called with 2 "
               "arguments; valid: -2 to 1")
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        transform(lambda x, y: x * y, argnums=argnums)(1.0, 2.0)


def test_argnums_for_a_function_called_without_arguments():
    with pytest.raises(ValueError, match="argument 0 is out of range for a function called with 0 arguments"):
        cr.grad(lambda: cr.tensor(1.0))()


@pytest.mark.parametrize("argnums", [1.5, "0", (0, 1.0)], ids=["float", "str", "tuple with a float"])
def test_grad_with_argnums_of_the_wrong_type(argnums):
    # Regression: 1.5 raised "'float' object is not iterable" and "0" was silently read as (0,).
    with pytest.raises(TypeError, match="argnums"):
        cr.grad(lambda x, y: x * y, argnums=argnums)(1.0, 2.0)


def test_grad_rejects_non_numeric_arguments_and_outputs():
    with pytest.raises(TypeError, match="str"):
        cr.grad(lambda x: x)("a")
    with pytest.raises(TypeError, match="list"):
        cr.grad(lambda x: [x])(1.0)


def test_hessian_through_indexing_with_advanced_indices_split_by_a_slice():
    x = np.arange(1.0, 25.0).reshape(2, 3, 4) / 10
    index = (np.array([0, 1]), slice(None), np.array([1, 2]))
    hessian = cr.hessian(lambda t: cr.sum(t[index] ** 3))(x)
    expected = np.diag((6 * x * (_index_jacobian(x.shape, index).reshape(-1, 24).sum(axis=0).reshape(x.shape)
                                 > 0)).ravel())
    np.testing.assert_allclose(hessian.reshape(24, 24), expected, rtol=1e-15)


def test_transforms_work_inside_no_grad():
    with cr.no_grad():
        assert cr.grad(lambda x: x ** 3)(2.0) == 12.0
        np.testing.assert_array_equal(cr.hessian(lambda x: cr.sum(x ** 3))(np.array([1.0, 2.0])), [[6, 0], [0, 12]])
        assert cr.jvp(cr.sin, (0.0,), (1.0,)) == (0.0, 1.0)
    assert cr.is_grad_enabled()


def test_grad_of_a_tensor_inside_no_grad_records_no_graph():
    x = cr.tensor(2.0, requires_grad=True)
    with cr.no_grad():
        g = cr.grad(lambda t: t ** 3)(x)
    assert float(g) == 12.0
    assert not g.requires_grad and g.is_leaf


def test_keyword_arguments_pass_through_to_the_function_undifferentiated():
    def f(a, b, scale=1.0, shift=0.0):
        return scale * cr.sin(a) * b**2 + shift

    # ∂/∂a = scale cos(a) b², ∂/∂b = 2 scale sin(a) b (closed forms); the keywords change the values.
    a, b = 0.4, -1.3
    ga, gb = cr.grad(f, argnums=[0, 1])(a, b, scale=2.5, shift=7.0)
    assert ga == pytest.approx(2.5 * np.cos(a) * b**2, rel=1e-14)
    assert gb == pytest.approx(2 * 2.5 * np.sin(a) * b, rel=1e-14)
    gb_first, ga_second = cr.grad(f, argnums=[1, 0])(a, b, scale=2.5)  # the order asked for
    assert (gb_first, ga_second) == (gb, ga)
    value, g = cr.value_and_grad(f)(a, b, shift=7.0)
    assert value == pytest.approx(np.sin(a) * b**2 + 7.0, rel=1e-14) and g == pytest.approx(np.cos(a) * b**2)
    x = np.array([0.3, -0.8])
    jac = cr.jacobian(lambda v, power=2: v**power)(x, power=3)
    np.testing.assert_allclose(jac, np.diag(3 * x**2), rtol=1e-14)
    hess = cr.hessian(lambda v, power=2: cr.sum(v**power))(x, power=3)
    np.testing.assert_allclose(hess, np.diag(6 * x), rtol=1e-14)
    assert cr.grad(cr.grad(f))(a, b, scale=2.5) == pytest.approx(-2.5 * np.sin(a) * b**2, rel=1e-14)


def test_a_vjp_function_made_outside_transforms_is_differentiable_in_its_cotangent():
    # vjp_fn(g) = Jᵀ g is linear in g: its own vjp is J u, its jvp Jᵀ t, its Jacobian Jᵀ (the vjp of a vjp, as a
    # Gauss-Newton product builds a jvp). Formerly the cotangent's graph was dropped and all of these were 0.
    x0 = np.array([0.3, -0.7, 1.1])
    _, f_vjp = cr.vjp(lambda x: cr.sin(x[:, None] * x[None, :]).sum(axis=1), x0)  # a full Jacobian J
    xx = x0[:, None] * x0[None, :]
    jac = np.diag((np.cos(xx) * x0[None, :]).sum(axis=1)) + np.cos(xx) * x0[:, None]  # ∂f_i/∂x_j by hand
    u, t = np.array([1.0, 2.0, -0.5]), np.array([0.2, -1.0, 0.4])
    _, vjp_of_vjp = cr.vjp(lambda g: f_vjp(g)[0], np.ones(3))
    assert_close(vjp_of_vjp(u)[0], jac @ u, rtol=1e-13, atol=1e-14)
    assert_close(cr.jvp(lambda g: f_vjp(g)[0], (np.ones(3),), (t,))[1], jac.T @ t, rtol=1e-13, atol=1e-14)
    assert_close(cr.jacobian(lambda g: f_vjp(g)[0])(np.ones(3)), jac.T, rtol=1e-13, atol=1e-14)
    # A Gauss-Newton product Jᵀ J v from vjps only, against torch.
    import torch

    tx = torch.tensor(x0)
    tj = torch.autograd.functional.jacobian(lambda x: torch.sin(x[:, None] * x[None, :]).sum(1), tx).numpy()
    f_jvp = vjp_of_vjp  # v -> J v
    assert_close(f_vjp(f_jvp(t)[0])[0], tj.T @ tj @ t, rtol=1e-12, atol=1e-13)


def test_a_tangent_or_cotangent_that_requires_grad_keeps_its_graph():
    # jvp is linear in the tangent: Σ J t has gradient Jᵀ 1 with respect to t; vjp's Jᵀ c has gradient J 1.
    x0 = np.array([0.3, -0.7])
    t = cr.tensor([1.0, 2.0], requires_grad=True)
    _, out = cr.jvp(lambda x: cr.sin(x) * 2, (x0,), (t,))
    assert isinstance(out, cr.Tensor) and out.requires_grad
    cr.sum(out * np.array([3.0, -1.0])).backward()
    assert_close(t.grad.data, 2 * np.cos(x0) * np.array([3.0, -1.0]), rtol=1e-14, atol=0)
    c = cr.tensor([0.5, 1.5], requires_grad=True)
    _, pullback = cr.vjp(lambda x: cr.sin(x) * 2, x0)
    cr.sum(pullback(c)[0]).backward()
    assert_close(c.grad.data, 2 * np.cos(x0), rtol=1e-14, atol=0)
    with cr.no_grad():  # nothing recorded inside no_grad: plain values, as before
        assert not isinstance(cr.jvp(lambda x: cr.sin(x), (x0,), (t,))[1], cr.Tensor)


def test_a_jacobian_too_large_for_memory_is_refused_before_any_work():
    calls = []

    def f(x):
        calls.append(1)
        return x * 2

    with pytest.raises(MemoryError, match=r"jacobian: the Jacobian has 3,000,000 × 3,000,000 entries \(\d+\.\d GiB\)"):
        cr.jacobian(f)(np.ones(3_000_000))
    assert len(calls) == 1  # the forward pass only


def test_a_single_precision_number_keeps_its_precision_through_the_transforms():
    # autograd's vector spaces compare dtypes: np.float32 in, np.float32 out (a Python float would be float64)
    x = np.float32(0.5)
    reference = torch.tensor(0.5, dtype=torch.float32, requires_grad=True)
    torch.sin(reference).backward()
    g = cr.grad(cr.sin)(x)
    assert type(g) is np.float32 and g == reference.grad.item()
    value, tangent = cr.jvp(cr.sin, (x,), (np.float32(1.0),))
    assert type(value) is np.float32 and type(tangent) is np.float32 and tangent == g
    total, pullback = cr.vjp(lambda v: cr.sum(v * v), np.arange(3, dtype=np.float32))
    assert type(total) is np.float32 and total == 5.0 and pullback(np.float32(1.0))[0].dtype == np.float32
    z = cr.grad(lambda w: cr.abs(w) ** 2)(np.complex64(1 - 2j))
    assert type(z) is np.complex64 and abs(z - (2 + 4j)) < 1e-6  # ∂f/∂x − i ∂f/∂y = 2 z̄
    # double precision stays a Python float, as before
    assert type(cr.grad(cr.sin)(0.5)) is float and type(cr.grad(cr.sin)(np.float64(0.5))) is float
    assert type(cr.value_and_grad(cr.sin)(0.5)[0]) is float
