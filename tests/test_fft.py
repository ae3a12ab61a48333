"""cnp.fft: values and gradients against NumPy, PyTorch's torch.fft (conjugated grads) and finite differences.

Gradients follow HIPS autograd and JAX (covectors, no conjugation); PyTorch's ``.grad`` is their conjugate.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule.numpy as cnp

EPS = 1e-6


def _complex(shape, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def _fd_covector(f, x, eps=EPS):
    """∂f/∂Re − i ∂f/∂Im of a real-valued f, element by element (just ∂f/∂x for real x)."""
    x = np.array(x)
    out = np.zeros_like(x)
    steps = ((eps, 1.0), (1j * eps, -1j)) if np.iscomplexobj(x) else ((eps, 1.0),)
    for j in range(x.size):
        for step, weight in steps:
            plus, minus = x.copy(), x.copy()
            plus.flat[j] += step
            minus.flat[j] -= step
            out.flat[j] += weight * (f(plus) - f(minus)) / (2 * eps)
    return out


# name: (chainrule function, torch function, NumPy function, keyword arguments, input kind)
# Input kinds: "real", "complex", and "hermitian" (the rfft of a real array: what irfft inverts).
T = torch.fft
CASES = {
    "fft": (cnp.fft.fft, T.fft, np.fft.fft, {}, "complex"),
    "fft_real_input": (cnp.fft.fft, T.fft, np.fft.fft, {}, "real"),
    "fft_n_smaller": (cnp.fft.fft, T.fft, np.fft.fft, {"n": 3}, "complex"),
    "fft_n_bigger_axis0": (
        cnp.fft.fft,
        lambda x, n, axis: T.fft(x, n, axis),
        np.fft.fft,
        {"n": 7, "axis": 0},
        "complex",
    ),
    "fft_ortho": (cnp.fft.fft, T.fft, np.fft.fft, {"norm": "ortho"}, "complex"),
    "fft_forward": (cnp.fft.fft, T.fft, np.fft.fft, {"norm": "forward"}, "complex"),
    "ifft": (cnp.fft.ifft, T.ifft, np.fft.ifft, {}, "complex"),
    "ifft_n": (cnp.fft.ifft, T.ifft, np.fft.ifft, {"n": 6, "norm": "ortho"}, "complex"),
    "rfft": (cnp.fft.rfft, T.rfft, np.fft.rfft, {}, "real"),
    "rfft_n_odd": (cnp.fft.rfft, T.rfft, np.fft.rfft, {"n": 7}, "real"),
    "rfft_n_smaller_axis0": (
        cnp.fft.rfft,
        lambda x, n, axis: T.rfft(x, n, axis),
        np.fft.rfft,
        {"n": 3, "axis": 0},
        "real",
    ),
    "irfft": (cnp.fft.irfft, T.irfft, np.fft.irfft, {}, "hermitian"),
    "irfft_complex_input": (cnp.fft.irfft, T.irfft, np.fft.irfft, {}, "complex"),
    "irfft_n_odd": (cnp.fft.irfft, T.irfft, np.fft.irfft, {"n": 7, "norm": "ortho"}, "complex"),
    "irfft_n_smaller": (cnp.fft.irfft, T.irfft, np.fft.irfft, {"n": 4, "norm": "forward"}, "complex"),
    "fft2": (cnp.fft.fft2, lambda x: T.fft2(x), np.fft.fft2, {}, "complex"),
    "ifft2_s": (cnp.fft.ifft2, lambda x, s: T.ifft2(x, s), np.fft.ifft2, {"s": (3, 7)}, "complex"),
    "fftn": (cnp.fft.fftn, lambda x: T.fftn(x), np.fft.fftn, {}, "complex"),
    "fftn_s_axes": (
        cnp.fft.fftn,
        lambda x, s, axes: T.fftn(x, s, axes),
        np.fft.fftn,
        {"s": (6, 3), "axes": (0, 2)},
        "complex",
    ),
    "ifftn_axes": (
        cnp.fft.ifftn,
        lambda x, axes, norm: T.ifftn(x, dim=axes, norm=norm),
        np.fft.ifftn,
        {"axes": (1,), "norm": "ortho"},
        "complex",
    ),
    "rfft2": (cnp.fft.rfft2, lambda x: T.rfft2(x), np.fft.rfft2, {}, "real"),
    "irfft2": (cnp.fft.irfft2, lambda x: T.irfft2(x), np.fft.irfft2, {}, "complex"),
    "rfftn_odd": (cnp.fft.rfftn, lambda x: T.rfftn(x), np.fft.rfftn, {}, "real"),
    "rfftn_s_axes": (
        cnp.fft.rfftn,
        lambda x, s, axes: T.rfftn(x, s, axes),
        np.fft.rfftn,
        {"s": (6, 3), "axes": (0, 2)},
        "real",
    ),
    "irfftn": (cnp.fft.irfftn, lambda x: T.irfftn(x), np.fft.irfftn, {}, "complex"),
    "irfftn_s_axes": (
        cnp.fft.irfftn,
        lambda x, s, axes, norm: T.irfftn(x, s, axes, norm),
        np.fft.irfftn,
        {"s": (3, 5), "axes": (1, 2), "norm": "forward"},
        "complex",
    ),
    "fftshift": (cnp.fft.fftshift, lambda x: T.fftshift(x), np.fft.fftshift, {}, "complex"),
    "fftshift_axes": (cnp.fft.fftshift, lambda x, axes: T.fftshift(x, axes), np.fft.fftshift, {"axes": 1}, "real"),
    "ifftshift": (cnp.fft.ifftshift, lambda x: T.ifftshift(x), np.fft.ifftshift, {}, "complex"),
}
SHAPE = (4, 5, 3)


def _input(name, kind):
    seed = sum(map(ord, name))
    if kind == "real":
        return np.random.default_rng(seed).standard_normal(SHAPE)
    if kind == "hermitian":
        return np.fft.rfft(np.random.default_rng(seed).standard_normal(SHAPE))
    return _complex(SHAPE, seed)


def _torch_call(torch_f, x, kwargs):
    names = {"n": "n", "axis": "axis", "norm": "norm", "s": "s", "axes": "axes"}
    if torch_f in (T.fft, T.ifft, T.rfft, T.irfft):
        return torch_f(x, n=kwargs.get("n"), dim=kwargs.get("axis", -1), norm=kwargs.get("norm"))
    return torch_f(x, **{names[k]: v for k, v in kwargs.items()})


def _weights(shape, complex_out, seed=3):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(shape)
    return w + 1j * rng.standard_normal(shape) if complex_out else w


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_gradients_against_numpy_torch_and_finite_differences(name):
    f, torch_f, numpy_f, kwargs, kind = CASES[name]
    x = _input(name, kind)
    out = f(cr.tensor(x), **kwargs)
    expected = numpy_f(x, **kwargs)
    assert isinstance(out, cr.Tensor) and out.dtype == expected.dtype and out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-13, atol=1e-13)
    w = _weights(out.shape, np.iscomplexobj(expected))

    def loss(x):
        return cnp.sum(cnp.real(w * f(x, **kwargs)))

    g = cr.grad(loss)(x)
    assert g.dtype == x.dtype and g.shape == x.shape
    xt = torch.tensor(x, requires_grad=True)
    (torch.tensor(w) * _torch_call(torch_f, xt, kwargs)).real.sum().backward()
    reference = np.conj(xt.grad.resolve_conj().numpy())
    np.testing.assert_allclose(g, reference, rtol=1e-12, atol=1e-12)
    numeric = _fd_covector(lambda x: float(np.sum(np.real(w * numpy_f(x, **kwargs)))), x)
    np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_mode_agrees_with_reverse_mode_and_finite_differences(name):
    f, _, numpy_f, kwargs, kind = CASES[name]
    x = _input(name, kind)
    rng = np.random.default_rng(8)
    v = rng.standard_normal(x.shape) + (1j * rng.standard_normal(x.shape) if np.iscomplexobj(x) else 0)
    out, tangent = cr.jvp(lambda x: f(x, **kwargs), (x,), (v,))
    u = _weights(np.shape(out), np.iscomplexobj(out), seed=5)
    _, vjp = cr.vjp(lambda x: f(x, **kwargs), x)
    (cotangent,) = vjp(u)
    assert np.real(np.sum(u * tangent)) == pytest.approx(np.real(np.sum(cotangent * v)), rel=1e-12, abs=1e-12)
    numeric = (numpy_f(x + EPS * v, **kwargs) - numpy_f(x - EPS * v, **kwargs)) / (2 * EPS)
    np.testing.assert_allclose(tangent, numeric, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    "name", ["fft_n_smaller", "rfft_n_odd", "irfft", "irfft_n_odd", "fftn_s_axes", "irfftn_s_axes", "fftshift"]
)
def test_second_order(name):
    # A nonlinear loss (|F x|⁴ summed), so its Hessian is not zero: grad of a real function of the gradient.
    f, _, _, kwargs, kind = CASES[name]
    x = _input(name, kind)[:2, :3]
    w = _weights(x.shape, np.iscomplexobj(x), seed=6)

    def loss(x):
        return cnp.sum(cnp.abs(f(x, **kwargs)) ** 4)

    def of_gradient(x):
        return cnp.sum(cnp.real(w * cr.grad(loss)(x)))

    second = cr.grad(of_gradient)(x)
    numeric = _fd_covector(lambda x: float(np.sum(np.real(w * cr.grad(loss)(x)))), x, eps=1e-5)
    np.testing.assert_allclose(second, numeric, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("function", "kind", "out_dtype"),
    [
        (cnp.fft.fft, "real", np.complex64),
        (cnp.fft.ifft2, "complex", np.complex64),
        (cnp.fft.rfftn, "real", np.complex64),
        (cnp.fft.irfft, "complex", np.float32),
        (cnp.fft.irfftn, "complex", np.float32),
        (cnp.fft.fftshift, "real", np.float32),
    ],
)
def test_float32_and_complex64_keep_their_precision(function, kind, out_dtype):
    x = _input("dtype", kind).astype(np.float32 if kind == "real" else np.complex64)
    out = function(cr.tensor(x))
    assert out.dtype == out_dtype
    g = cr.grad(lambda x: cnp.sum(cnp.abs(function(x)) ** 2))(x)
    assert g.dtype == x.dtype


def test_numpys_own_fft_on_a_tensor_dispatches_here():
    x = cr.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    y = np.fft.fft(x, axis=0)
    assert isinstance(y, cr.Tensor) and y.requires_grad
    cr.sum(cr.real(np.fft.ifft2(y) * (1 + 1j))).backward()  # ifft2(fft(x, axis=0)) = ifft(x, axis=1)
    expected = np.real(np.fft.ifft(np.full((3, 4), 1 + 1j), axis=1))
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-14, atol=1e-15)
    assert isinstance(np.fft.rfftn(x), cr.Tensor) and isinstance(np.fft.fftshift(x), cr.Tensor)


def test_without_a_tensor_numpys_result_is_returned():
    x = np.arange(6.0)
    assert type(cnp.fft.fft(x)) is np.ndarray
    np.testing.assert_array_equal(cnp.fft.irfftn(np.fft.rfftn(x)), np.fft.irfftn(np.fft.rfftn(x)))
    np.testing.assert_array_equal(cnp.fft.fftfreq(5, 0.1), np.fft.fftfreq(5, 0.1))
    np.testing.assert_array_equal(cnp.fft.rfftfreq(6), np.fft.rfftfreq(6))


def test_parseval_closed_form():
    # Σ|X_k|² = n Σ x² for X = fft(x): the gradient is 2n x.
    x = np.array([1.0, 2.0, 0.0, -1.0])
    g = cr.grad(lambda x: cnp.sum(cnp.abs(cnp.fft.fft(x)) ** 2))(x)
    np.testing.assert_allclose(g, 8 * x, rtol=1e-15)
    # ...and the unitary transform keeps the norm: a gradient of 2x.
    g = cr.grad(lambda x: cnp.sum(cnp.abs(cnp.fft.fftn(x, norm="ortho")) ** 2))(x.reshape(2, 2) + 1j)
    np.testing.assert_allclose(g, 2 * np.conj(x.reshape(2, 2) + 1j), rtol=1e-14)


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (lambda x: cnp.fft.fft(x, n=0), ValueError, r"fft.*0 points.*at least 1"),
        (lambda x: cnp.fft.fft(x, axis=3), cr.ShapeError, r"axis 3 is out of range"),
        (lambda x: cnp.fft.fft(x, norm="bad"), ValueError, r"norm='bad'.*'ortho'"),
        (lambda x: cnp.fft.fftn(x, s=(3, 3), axes=(0,)), ValueError, r"different lengths"),
        (lambda x: cnp.fft.fftn(x, axes=(0, 0)), ValueError, r"repeats an axis"),
        (lambda x: cnp.fft.rfft(x * 1j), TypeError, r"rfft.*complex128.*real input"),
        (lambda x: cnp.fft.fft(x, out=np.zeros(3)), TypeError, r"out= is not supported"),
        (lambda x: cnp.fft.fftn(x, s=3), TypeError, r"s=3.*sequence"),
        (lambda x: cnp.fft.fftshift(x, axes=5), cr.ShapeError, r"axis 5 is out of range"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call(cr.tensor(np.ones((3, 4)), requires_grad=True))


def test_shifting_nothing_is_the_identity_not_numpys_unpacking_error():
    # found by the adversarial probes: a 0-d input (or axes=()) failed inside roll, "not enough values to unpack"
    x = cr.tensor(1.5, requires_grad=True)
    for shift in (cnp.fft.fftshift, cnp.fft.ifftshift):
        out = shift(x)
        assert out.shape == () and out.item() == 1.5
        v = cr.tensor([1.0, 2.0, 3.0])
        np.testing.assert_array_equal(shift(v, axes=()).data, [1.0, 2.0, 3.0])
    assert cr.grad(lambda t: cnp.fft.fftshift(t) * 2)(1.5) == 2.0


@pytest.mark.parametrize("n", [0, -3, 2.5, True, "4"])
def test_fftfreq_takes_a_positive_int_count(n):
    # found by the adversarial probes: n = 0 divided by zero inside NumPy; a Tensor n gave "n should be an integer"
    for function in (cnp.fft.fftfreq, cnp.fft.rfftfreq):
        with pytest.raises(ValueError, match=rf"fft.{function.__name__}: n is the number of samples, a positive int"):
            function(n)
    np.testing.assert_array_equal(cnp.fft.fftfreq(np.int64(4), 0.5), np.fft.fftfreq(4, 0.5))
    np.testing.assert_array_equal(cnp.fft.rfftfreq(5), np.fft.rfftfreq(5))
