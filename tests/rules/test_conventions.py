"""The conventions at kinks and edges, pinned (the table at the top of chainrule/rules/elementwise.py).

A piecewise-linear function's derivative at its kink is that of its flat side, 0: abs'(0) = relu'(0) = 0, clip' = 0
on a bound, and maximum/minimum send nothing to either input on a tie. leaky_relu'(0) = slope. Reductions max/min
share the gradient evenly among tied elements. Each convention is checked in reverse mode, in reverse mode that
records its graph (create_graph: the rules then run on Tensors, through a different namespace) and in forward mode.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr

GRID = np.linspace(-2.0, 2.0, 9)  # contains 0 exactly
assert 0.0 in GRID


def _grad(f, x):
    """d sum(f(x)) / dx in plain reverse mode."""
    t = cr.tensor(x, requires_grad=True)
    cr.sum(f(t)).backward()
    return t.grad.data


def _grad_recorded(f, x):
    """The same through a recorded backward pass (create_graph=True)."""
    t = cr.tensor(x, requires_grad=True)
    cr.sum(f(t)).backward(create_graph=True)
    return t.grad.data


def _forward(f, x):
    """The same derivative by forward mode with a tangent of ones (elementwise f: the diagonal)."""
    _, tangent = cr.jvp(f, (np.asarray(x, dtype=np.float64),), (np.ones(np.shape(x)),))
    return np.asarray(tangent)


MODES = [pytest.param(_grad, id="backward"), pytest.param(_grad_recorded, id="create_graph"),
         pytest.param(_forward, id="jvp")]


@pytest.mark.parametrize("mode", MODES)
def test_abs_derivative_at_zero_is_zero(mode):
    np.testing.assert_array_equal(mode(cr.abs, GRID), np.sign(GRID))
    assert mode(cr.abs, np.array([0.0]))[0] == 0.0


@pytest.mark.parametrize("mode", MODES)
def test_relu_derivative_at_zero_is_zero(mode):
    np.testing.assert_array_equal(mode(cr.relu, GRID), (GRID > 0).astype(float))
    assert mode(cr.relu, np.array([0.0]))[0] == 0.0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("slope", [0.01, 0.2])
def test_leaky_relu_derivative_at_zero_is_slope(mode, slope):
    got = mode(lambda x: cr.leaky_relu(x, slope), GRID)
    np.testing.assert_array_equal(got, np.where(GRID > 0, 1.0, slope))
    assert mode(lambda x: cr.leaky_relu(x, slope), np.array([0.0]))[0] == slope


@pytest.mark.parametrize("mode", MODES)
def test_relu_maximum_and_clip_have_identical_gradients(mode):
    relu = mode(cr.relu, GRID)
    np.testing.assert_array_equal(mode(lambda x: cr.maximum(x, 0.0), GRID), relu)
    np.testing.assert_array_equal(mode(lambda x: cr.maximum(0.0, x), GRID), relu)
    np.testing.assert_array_equal(mode(lambda x: cr.clip(x, 0, None), GRID), relu)
    np.testing.assert_array_equal(relu, [0, 0, 0, 0, 0, 1, 1, 1, 1])


@pytest.mark.parametrize(("op", "grad_a", "grad_b"), [
    (cr.maximum, [0.5, 1.0, 0.0], [0.5, 0.0, 1.0]),
    (cr.minimum, [0.5, 0.0, 1.0], [0.5, 1.0, 0.0]),
])
def test_maximum_minimum_tie_of_two_variables_splits_the_gradient(op, grad_a, grad_b):
    a = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = cr.tensor([1.0, 1.0, 4.0], requires_grad=True)  # element 0 is a tie
    out = op(a, b)
    np.testing.assert_array_equal(out.data, op(a.data, b.data))
    out.backward(np.ones(3))
    np.testing.assert_array_equal(a.grad.data, grad_a)
    np.testing.assert_array_equal(b.grad.data, grad_b)


@pytest.mark.parametrize("op", [cr.maximum, cr.minimum])
def test_maximum_of_a_variable_and_itself_has_derivative_one(op):
    x = np.array([-1.5, 0.0, 2.0])
    np.testing.assert_array_equal(cr.grad(lambda t: op(t, t).sum())(x), np.ones(3))
    np.testing.assert_array_equal(cr.grad(lambda t: op(t * 2, t + t).sum())(x), np.full(3, 2.0))
    _, tangent = cr.jvp(lambda t: op(t, t), (x,), (np.ones(3),))
    np.testing.assert_array_equal(tangent, np.ones(3))


@pytest.mark.parametrize("op", [cr.maximum, cr.minimum])
def test_a_tie_with_a_constant_sends_zero(op):
    x = cr.tensor([0.0, 1.0, -1.0], requires_grad=True)
    op(x, np.array([0.0, 0.0, 0.0])).sum().backward()
    expected = [0.0, 1.0, 0.0] if op is cr.maximum else [0.0, 0.0, 1.0]
    np.testing.assert_array_equal(x.grad.data, expected)


def test_maximum_ties_values_stay_numpys_at_the_extremes():
    a = np.array([np.inf, -np.inf, np.nan, 1.0, 1.7976931348623157e308, 5e-324])
    b = np.array([np.inf, -np.inf, 1.0, np.nan, 1.7976931348623157e308, 5e-324])
    ta, tb = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    np.testing.assert_array_equal(cr.maximum(ta, tb).data, np.maximum(a, b))
    np.testing.assert_array_equal(cr.minimum(ta, tb).data, np.minimum(a, b))


def test_maximum_tie_in_forward_mode_and_second_order():
    _, tangent = cr.jvp(cr.maximum, (np.array([1.0, 2.0]), np.array([1.0, 1.0])), (np.ones(2), np.ones(2)))
    np.testing.assert_array_equal(tangent, [1.0, 1.0])  # ½·1 + ½·1 at the tie
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor([1.0, 1.0], requires_grad=True)
    cr.maximum(a, b).sum().backward(create_graph=True)
    np.testing.assert_array_equal(a.grad.data, [0.5, 1.0])
    np.testing.assert_array_equal(b.grad.data, [0.5, 0.0])


@pytest.mark.parametrize("mode", MODES)
def test_clip_bounds_get_zero(mode):
    x = np.array([-1.0, -0.5, -0.25, 0.0, 0.5, 0.75])
    np.testing.assert_array_equal(mode(lambda t: cr.clip(t, -0.5, 0.5), x), [0, 0, 1, 1, 0, 0])
    np.testing.assert_array_equal(mode(lambda t: cr.clip(t, None, 0.5), x), [1, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(mode(lambda t: cr.clip(t, -0.5, None), x), [0, 0, 1, 1, 1, 1])
    np.testing.assert_array_equal(mode(lambda t: cr.clip(t), x), np.ones(6))


def test_clip_rejects_reversed_bounds():
    with pytest.raises(ValueError, match="min"):
        cr.clip(cr.tensor([1.0]), 1.0, 0.0)


@pytest.mark.parametrize(("op", "x", "expected"), [
    (cr.max, [1.0, 3.0, 3.0], [0.0, 0.5, 0.5]),
    (cr.min, [2.0, 1.0, 1.0, 1.0, 5.0], [0.0, 1 / 3, 1 / 3, 1 / 3, 0.0]),
    (cr.max, [4.0, 4.0, 4.0, 4.0], [0.25] * 4),
    (cr.max, [1.0, 2.0, 0.0], [0.0, 1.0, 0.0]),
])
def test_max_min_reductions_share_ties_evenly(op, x, expected):
    t = cr.tensor(x, requires_grad=True)
    op(t).backward()
    np.testing.assert_allclose(t.grad.data, expected, rtol=1e-15, atol=0)
    _, tangent = cr.jvp(op, (np.array(x),), (np.ones(len(x)),))
    assert float(tangent) == pytest.approx(1.0, rel=1e-15)


def test_max_ties_are_shared_per_reduction_group():
    x = cr.tensor([[1.0, 1.0, 0.0], [2.0, 5.0, 5.0], [7.0, 7.0, 7.0]], requires_grad=True)
    cr.max(x, axis=1).backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(x.grad.data, [[0.5, 0.5, 0.0], [0.0, 1.0, 1.0], [1.0, 1.0, 1.0]], rtol=1e-15)
    y = cr.tensor([[3.0, 1.0], [2.0, 1.0]], requires_grad=True)
    cr.min(y, axis=0, keepdims=True).sum().backward()
    np.testing.assert_allclose(y.grad.data, [[0.0, 0.5], [1.0, 0.5]], rtol=1e-15)


def test_log_of_negative_is_nan_with_warning_not_an_exception():
    x = cr.tensor([-1.0, 2.0], requires_grad=True)
    with pytest.warns(RuntimeWarning):
        y = cr.log(x)
    assert np.isnan(y.data[0]) and y.data[1] == pytest.approx(np.log(2.0), rel=1e-15)
    y.sum().backward()  # no exception mid-graph; the local derivative 1/x is still finite
    np.testing.assert_array_equal(x.grad.data, [-1.0, 0.5])


def test_sqrt_derivative_at_zero_is_inf():
    x = cr.tensor([0.0, 4.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # 1/(2*0): NumPy may warn about the division
        cr.sqrt(x).sum().backward()
    assert np.isposinf(x.grad.data[0])
    assert x.grad.data[1] == 0.25


def test_std_derivative_where_the_spread_is_zero_is_not_finite():
    # Documented: std' = (x − mean)/(n·std) is 0/0 where std = 0, as 1/(2·sqrt(0)) is (PyTorch returns 0 here).
    x = cr.tensor([1.0, 1.0, 1.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        cr.std(x).backward()
    assert not np.any(np.isfinite(x.grad.data))


# a ** b with respect to the exponent at a = 0: 0 ** b = 0 for every b > 0, a flat function of b, so the derivative
# is 0 (PyTorch, JAX and autograd agree); ln a is nan for a < 0, and 0 ** b = inf for b < 0 has none.
POWER_A = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.3, 2.0, -1.5, 0.0])
POWER_B = np.array([2.0, 0.5, 1.0, 3.0, 0.0, 0.7, -1.5, 2.0, -1.0])
POWER_DB = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.3 ** 0.7 * np.log(0.3), 2.0 ** -1.5 * np.log(2.0), np.nan, np.nan])


def _exponent_gradient(mode, a):
    """d sum(a ** b) / db at POWER_B for the base ``a`` (an array, a Tensor or a Python number)."""
    return mode(lambda b: (a if not isinstance(a, np.ndarray) else cr.tensor(a)) ** b, POWER_B)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_power_exponent_derivative_at_a_zero_base_is_zero(mode):
    np.testing.assert_allclose(_exponent_gradient(mode, POWER_A), POWER_DB, rtol=1e-15, atol=0, equal_nan=True)
    for a in (0.0, 0, np.float64(0.0)):  # a constant base: a Python number or a NumPy scalar
        np.testing.assert_array_equal(_exponent_gradient(mode, a), np.where(POWER_B >= 0, 0.0, np.nan))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_power_exponent_derivative_matches_torch_with_its_second_order():
    torch = pytest.importorskip("torch")
    a, b = cr.tensor(POWER_A, requires_grad=True), cr.tensor(POWER_B, requires_grad=True)
    ta, tb = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (POWER_A, POWER_B))
    (a ** b).sum().backward(create_graph=True)
    torch_da, torch_db = torch.autograd.grad((ta ** tb).sum(), (ta, tb), create_graph=True)
    # At a = 0, b < 0 (the last element; 0 ** b = inf) torch says -inf, we say nan as JAX and autograd do.
    np.testing.assert_allclose(b.grad.data[:-1], torch_db.detach().numpy()[:-1], rtol=1e-15, atol=0, equal_nan=True)
    assert np.isnan(b.grad.data[-1]) and torch_db[-1] == -np.inf
    np.testing.assert_allclose(a.grad.data, torch_da.detach().numpy(), rtol=1e-15, atol=0, equal_nan=True)
    # Second order: torch gives nan at a = 0 (0 · ln 0 inside its own derivative); elsewhere the two agree.
    second = [t.numpy() for t in torch.autograd.grad(torch_db.sum(), (ta, tb))]
    db = cr.grad(lambda a, b: cr.grad(lambda b: cr.sum(a ** b))(b).sum(), argnums=(0, 1))(POWER_A, POWER_B)
    positive = POWER_A > 0
    for ours, theirs in zip(db, second, strict=True):
        np.testing.assert_allclose(ours[positive], theirs[positive], rtol=1e-14, atol=0)
    # d²/db² 0 ** b = 0 (the function is 0 for all b > 0), where torch says nan.
    zero = (POWER_A == 0) & (POWER_B > 0)
    np.testing.assert_array_equal(db[1][zero], 0.0)


# std over groups of one element is 0 for every x, so its derivative is 0 (the formula's (x − mean)/(n·std) is 0/0).
SINGLE_GROUPS = [((1,), None, False), ((3, 1), (1,), False), ((1, 4), (0,), True), ((2, 1, 3), (1,), False)]


@pytest.mark.parametrize(("shape", "axis", "keepdims"), SINGLE_GROUPS)
def test_std_over_a_single_element_has_zero_gradient(shape, axis, keepdims):
    x = np.random.default_rng(3).standard_normal(shape)

    def f(v):
        return cr.std(v, axis=axis, keepdims=keepdims)

    u = np.random.default_rng(4).standard_normal(np.shape(np.std(x, axis=axis, keepdims=keepdims)))
    # Finite differences of NumPy's std: exactly 0, since std is 0 at every point.
    h = 1e-3 * np.random.default_rng(5).standard_normal(shape)
    numeric = np.sum(u * (np.std(x + h, axis=axis, keepdims=keepdims) - np.std(x - h, axis=axis, keepdims=keepdims)))
    assert numeric == 0.0
    zeros = np.zeros(shape)
    np.testing.assert_array_equal(cr.grad(lambda v: cr.sum(f(v) * u))(x), zeros)
    t = cr.tensor(x, requires_grad=True)
    cr.sum(f(t) * u).backward(create_graph=True)
    np.testing.assert_array_equal(t.grad.data, zeros)
    _, tangent = cr.jvp(f, (x,), (np.ones(shape),))
    np.testing.assert_array_equal(tangent, np.zeros(u.shape))
    np.testing.assert_array_equal(cr.jacobian(f)(x), np.zeros(u.shape + shape))
    np.testing.assert_array_equal(cr.hessian(lambda v: cr.sum(f(v) * u))(x), np.zeros(shape + shape))
    torch = pytest.importorskip("torch")
    tx = torch.tensor(x, requires_grad=True)
    dims = None if axis is None else axis
    (torch.std(tx, dim=dims, keepdim=keepdims, correction=0) * torch.tensor(u)).sum().backward()
    np.testing.assert_array_equal(tx.grad.numpy(), zeros)  # PyTorch agrees here (it masks every std = 0 to 0)


def test_std_over_a_single_element_without_a_degree_of_freedom_stays_nan():
    # ddof=1 over one element: std itself is nan (0/0), and so is its derivative, as in PyTorch.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert np.isnan(cr.grad(lambda v: cr.std(v, ddof=1))(np.array([2.0]))[0])
