"""Complex numbers through the rest of the table: SciPy's special functions and linear algebra, the softmax family,
sinc, the no-gradient ops NumPy defines on C, the optimizers and nn.Linear.

The convention is that of tests/test_complex.py (HIPS autograd and JAX): for a real loss L of complex z, ``cr.grad``
is ∂L/∂x − i ∂L/∂y, the conjugate of PyTorch's ``.grad``. Each gradient is checked against complex central
differences and against an independent reference: PyTorch (conjugated), or SciPy's own derivative (``jvp``, ``ivp``,
``yvp``) where PyTorch has no complex version.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sl
import scipy.special as ss
import torch
from helpers import complex_covector

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.scipy import linalg as csl
from chainrule.scipy import special as cs


def _complex(shape, seed, scale=1.0, shift=0.0):
    rng = np.random.default_rng(seed)
    return scale * (rng.uniform(-1, 1, shape) + 1j * rng.uniform(-1, 1, shape)) + shift


_Z = _complex((4,), 1, shift=1.5)  # off the branch cuts of log and the Bessel functions' (−inf, 0]
_WIDE = _complex((5,), 2, scale=3.0)  # imaginary parts up to 3: a log of the sum must pick the principal branch
_U = np.triu(_complex((3, 3), 3)) + 2 * np.eye(3)
_B = _complex((3, 2), 4)
_A = _complex((3, 3), 5)
_HPD = _A @ _A.conj().T + 3 * np.eye(3)  # Hermitian positive definite
_T_C = torch.complex128


def _t(a):
    return torch.tensor(a, dtype=_T_C)


def _hermitian_from_upper(a):
    """The matrix SciPy's cholesky reads: the upper triangle, and the real part of the diagonal (as LAPACK)."""
    return torch.triu(a, 1) + torch.triu(a, 1).mH + torch.diag(torch.diagonal(a).real).to(a.dtype)


# name: (chainrule function, NumPy/SciPy reference, PyTorch function or None, sample)
CASES = {
    "sinc": (cnp.sinc, np.sinc, torch.sinc, _complex((5,), 6)),
    "xlogy_x": (lambda a: cs.xlogy(a, _Z), lambda a: ss.xlogy(a, _Z),
                lambda a: a * torch.log(_t(_Z)), _complex((4,), 7)),
    "xlogy_y": (lambda b: cs.xlogy(_Z - 1, b), lambda b: ss.xlogy(_Z - 1, b),
                lambda b: _t(_Z - 1) * torch.log(b), _Z + 0.1j),
    "xlog1py_y": (lambda b: cs.xlog1py(_Z, b), lambda b: ss.xlog1py(_Z, b),
                  lambda b: _t(_Z) * torch.log1p(b), _Z - 0.5),
    "jv": (lambda z: cs.jv(1.5, z), lambda z: ss.jv(1.5, z), None, _Z),
    "jn": (lambda z: cs.jn(2, z), lambda z: ss.jn(2, z), None, _Z),
    "iv": (lambda z: cs.iv(0.5, z), lambda z: ss.iv(0.5, z), None, _Z),
    "yv": (lambda z: cs.yv(1.0, z), lambda z: ss.yv(1.0, z), None, _Z),
    "logsumexp": (cs.logsumexp, ss.logsumexp, lambda z: torch.logsumexp(z, 0), _WIDE),
    "logsumexp_axis": (lambda z: cs.logsumexp(z.reshape(2, 3), axis=1), lambda z: ss.logsumexp(z.reshape(2, 3), axis=1),
                       lambda z: torch.logsumexp(z.reshape(2, 3), 1), _complex((6,), 8, scale=3.0)),
    "cr_logsumexp": (cr.logsumexp, ss.logsumexp, lambda z: torch.logsumexp(z, 0), _WIDE),
    "logsumexp_b": (lambda z: cs.logsumexp(z, b=np.arange(1.0, 6.0)), lambda z: ss.logsumexp(z, b=np.arange(1.0, 6.0)),
                    lambda z: torch.log((torch.arange(1.0, 6.0) * torch.exp(z)).sum()), _complex((5,), 9)),
    "softmax": (cs.softmax, ss.softmax, lambda z: torch.exp(z) / torch.exp(z).sum(), _WIDE),
    "log_softmax": (cs.log_softmax, ss.log_softmax, None, _WIDE),
    "solve_triangular_a": (lambda a: csl.solve_triangular(a, _B), lambda a: sl.solve_triangular(a, _B),
                           lambda a: torch.linalg.solve_triangular(a, _t(_B), upper=True), _U),
    "solve_triangular_b_T": (lambda b: csl.solve_triangular(_U.T, b, lower=True, trans="T"),
                             lambda b: sl.solve_triangular(_U.T, b, lower=True, trans="T"),
                             lambda b: torch.linalg.solve_triangular(_t(_U), b, upper=True), _B),
    "solve_triangular_a_C": (lambda a: csl.solve_triangular(a, _B, trans="C"),
                             lambda a: sl.solve_triangular(a, _B, trans="C"),
                             lambda a: torch.linalg.solve_triangular(a.mH, _t(_B), upper=False), _U),
    "cholesky_upper": (csl.cholesky, sl.cholesky,
                       lambda a: torch.linalg.cholesky(_hermitian_from_upper(a), upper=True), _HPD),
    "cho_solve_b": (lambda b: csl.cho_solve(csl.cho_factor(_HPD, lower=True), b),
                    lambda b: sl.cho_solve(sl.cho_factor(_HPD, lower=True), b),
                    lambda b: torch.linalg.solve(_t(_HPD), b), _B),
    "cho_solve_upper_b": (lambda b: csl.cho_solve(csl.cho_factor(_HPD), b),
                          lambda b: sl.cho_solve(sl.cho_factor(_HPD), b),
                          lambda b: torch.linalg.solve(_t(_HPD), b), _B),
    "sqrtm": (csl.sqrtm, sl.sqrtm, None, _A + 3 * np.eye(3)),
    "solve_sylvester": (lambda a: csl.solve_sylvester(a, _A.T + 2 * np.eye(3), _B @ _B.T),
                        lambda a: sl.solve_sylvester(a, _A.T + 2 * np.eye(3), _B @ _B.T), None, _A + 2 * np.eye(3)),
    "inv": (csl.inv, sl.inv, torch.linalg.inv, _A),
    "det": (csl.det, sl.det, torch.linalg.det, _A),
    "solve": (lambda a: csl.solve(a, _B), lambda a: sl.solve(a, _B), lambda a: torch.linalg.solve(a, _t(_B)), _A),
    "solve_banded": (lambda ab: csl.solve_banded((1, 1), ab, _B), lambda ab: sl.solve_banded((1, 1), ab, _B),
                     None, _complex((3, 3), 10, shift=3.0)),
}


def _weights(shape, seed=11):
    return _complex(shape, seed)


def _loss(f, w):
    return lambda z: cnp.sum(cnp.real(w * f(z)))


@pytest.mark.parametrize("name", sorted(CASES))
def test_value_and_gradient_against_references(name):
    f, reference, torch_f, z = CASES[name]
    expected = reference(z)
    out = f(cr.tensor(z))
    assert out.dtype == np.complex128
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-13)
    w = _weights(np.shape(expected))
    g = cr.grad(_loss(f, w))(z)
    assert g.dtype == np.complex128
    numeric = complex_covector(lambda z: np.sum(np.real(w * reference(z))), z)
    np.testing.assert_allclose(g, numeric, rtol=1e-7, atol=1e-8)
    if torch_f is not None:
        zt = torch.tensor(z, requires_grad=True)
        (torch.tensor(w) * torch_f(zt)).real.sum().backward()
        np.testing.assert_allclose(g, np.conj(zt.grad.numpy()), rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize(("name", "derivative"), [
    ("jv", lambda z: ss.jvp(1.5, z)), ("iv", lambda z: ss.ivp(0.5, z)), ("yv", lambda z: ss.yvp(1.0, z)),
    ("jn", lambda z: ss.jvp(2, z)), ("xlogy_y", lambda b: (_Z - 1) / b), ("sinc", None),
])
def test_holomorphic_gradient_is_w_times_the_complex_derivative(name, derivative):
    # For L = Re Σ w f(z) with holomorphic f, ∂L/∂x − i ∂L/∂y = w f'(z): SciPy's own Bessel derivatives (jvp, ivp,
    # yvp) are independent of the recurrences in the rule table; sinc' = (cos πz − sinc z)/z.
    f, _, _, z = CASES[name]
    derivative = derivative or (lambda z: (np.cos(np.pi * z) - np.sinc(z)) / z)
    w = _weights(z.shape)
    np.testing.assert_allclose(cr.grad(_loss(f, w))(z), w * derivative(z), rtol=1e-12, atol=1e-13)
    first_only = np.where(np.arange(z.size) == 0, derivative(z), 0)
    np.testing.assert_allclose(cr.grad(lambda z: f(z)[0], holomorphic=True)(z), first_only, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_mode_agrees_with_reverse_mode(name):
    f, reference, _, z = CASES[name]
    v = _complex(z.shape, 12)
    out, tangent = cr.jvp(f, (z,), (v,))
    u = _complex(np.shape(out), 13)
    _, pullback = cr.vjp(f, z)
    (cotangent,) = pullback(u)
    assert np.real(np.sum(u * tangent)) == pytest.approx(np.real(np.sum(cotangent * v)), rel=1e-11, abs=1e-12)
    eps = 1e-6
    numeric = (reference(z + eps * v) - reference(z - eps * v)) / (2 * eps)
    np.testing.assert_allclose(tangent, numeric, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["sinc", "xlogy_y", "jv", "iv", "logsumexp", "softmax", "solve_triangular_a",
                                  "cho_solve_b", "sqrtm", "solve_sylvester"])
def test_second_order_matches_finite_differences_of_the_gradient(name):
    f, _, _, z = CASES[name]
    w = _weights(np.shape(f(cr.tensor(z))))
    w2 = _complex(z.shape, 14)

    def first(z):
        return cr.grad(_loss(f, w))(z)

    second = cr.grad(lambda z: cnp.sum(cnp.real(w2 * first(z))))(z)
    numeric = complex_covector(lambda z: np.sum(np.real(w2 * first(z))), z, eps=1e-5)
    np.testing.assert_allclose(second, numeric, rtol=1e-5, atol=1e-6)


def test_logsumexp_takes_the_principal_log_and_return_sign_the_complex_phase():
    z = np.array([0.2 + 3.0j, 0.1 + 3.5j, -0.3 - 3.1j])  # Σ e^z has argument past π from the largest term
    for function in (cs.logsumexp, cr.logsumexp):
        value = complex(function(cr.tensor(z)).data)
        assert value == pytest.approx(complex(np.log(np.sum(np.exp(z)))), rel=1e-14)
        assert -np.pi < value.imag <= np.pi
    out, sign = cs.logsumexp(cr.tensor(z), return_sign=True)
    expected_out, expected_sign = ss.logsumexp(z, return_sign=True)
    assert out.dtype == np.float64 and float(out.data) == pytest.approx(expected_out, rel=1e-14)
    assert complex(sign) == pytest.approx(complex(expected_sign), rel=1e-14)
    # log|Σ e^z| is real: its gradient is Re(conj(s) e^z)/|s|²... checked by central differences
    g = cr.grad(lambda z: cs.logsumexp(z, return_sign=True)[0])(z)
    np.testing.assert_allclose(g, complex_covector(lambda z: ss.logsumexp(z, return_sign=True)[0], z), rtol=1e-7)


def test_cho_factor_holds_scipys_factor_in_its_triangle():
    for lower in (False, True):
        c, flag = csl.cho_factor(cr.tensor(_HPD), lower=lower)
        expected, expected_flag = sl.cho_factor(_HPD, lower=lower)
        keep = np.tril if lower else np.triu
        assert flag == expected_flag
        np.testing.assert_allclose(c.data, keep(expected), rtol=1e-13, atol=1e-14)


def test_no_gradient_ops_numpy_defines_on_complex_numbers():
    z = np.array([1.5 + 2.5j, -0.4 + 0.6j, 1.5 + 2.5j])
    t = cr.tensor(z, requires_grad=True)
    np.testing.assert_array_equal(cnp.equal(t, t[0]).data, np.equal(z, z[0]))
    np.testing.assert_array_equal(cnp.not_equal(t, z[::-1]).data, np.not_equal(z, z[::-1]))
    np.testing.assert_array_equal(cnp.rint(t).data, np.rint(z))
    np.testing.assert_array_equal(cnp.round(t, 1).data, np.round(z, 1))
    assert cnp.rint(t).dtype == np.complex128
    # rounding is piecewise constant: no gradient flows (the loss's gradient is then the other term's)
    g = cr.grad(lambda z: cnp.sum(cnp.real(cnp.rint(z) * 3 + z)))(z)
    np.testing.assert_array_equal(g, np.ones(3))


@pytest.mark.parametrize(("call", "match"), [
    (lambda z: cs.ive(1.5, z), r"special\.ive: complex `z`.*not holomorphic"),
    (lambda z: cs.digamma(z), r"'digamma' does not support complex"),
    (lambda z: cs.i0(z), r"'i0' does not support complex"),
    (lambda z: cnp.sign(z), r"'sign' does not support complex"),
    (lambda z: cnp.floor(z), r"'floor' does not support complex"),
    (lambda z: cr.sigmoid(z), r"'sigmoid' does not support complex"),
])
def test_functions_without_a_complex_derivative_still_refuse(call, match):
    with pytest.raises(TypeError, match=match):
        call(cr.tensor(_Z, requires_grad=True))


# ---------------------------------------------------------------------------------------------------------------
# Optimizers: a complex parameter is stepped as torch.optim steps it (a pair of reals; torch's gradient is the
# conjugate of ours, and the parameter must move the same way).
# ---------------------------------------------------------------------------------------------------------------
_C = _complex((3,), 15)
_SCALE = np.array([1.0, 2.0, 3.0])


def _objective_cr(z):
    return cnp.sum(cnp.abs(z - _C) ** 2 * _SCALE) + cnp.sum(cnp.real(z**3)) + cnp.sum(cnp.imag(z) * 0.7)


def _objective_torch(z):
    return (torch.abs(z - _t(_C)) ** 2 * torch.tensor(_SCALE)).sum() + (z**3).real.sum() + (z.imag * 0.7).sum()


OPTIMIZERS = [
    ("SGD", {"lr": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.1}),
    ("Adam", {"lr": 0.1, "amsgrad": True, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.1}),
    ("RMSprop", {"lr": 0.05}),
    ("RMSprop", {"lr": 0.05, "centered": True, "momentum": 0.5}),
    ("Adagrad", {"lr": 0.3, "lr_decay": 0.01}),
]


@pytest.mark.parametrize(("name", "settings"), OPTIMIZERS)
def test_optimizers_step_a_complex_parameter_as_torch_does(name, settings):
    z0 = _complex((3,), 16)
    p, pt = cr.nn.Parameter(z0.copy()), torch.tensor(z0.copy(), requires_grad=True)
    opt, opt_t = getattr(cr.optim, name)([p], **settings), getattr(torch.optim, name)([pt], **settings)
    for _ in range(6):
        opt.zero_grad()
        _objective_cr(p).backward()
        opt.step()
        opt_t.zero_grad()
        _objective_torch(pt).backward()
        opt_t.step()
        np.testing.assert_allclose(p.data, pt.detach().numpy(), rtol=1e-13, atol=1e-15)
    assert p.dtype == np.complex128
    ours, theirs = opt.state_dict()["state"].get(0, {}), opt_t.state_dict()["state"].get(0, {})
    for key, value in theirs.items():  # the buffers too: complex, in the parameter's shape
        if key != "step":
            assert ours[key].dtype == np.complex128 and ours[key].shape == (3,)
            np.testing.assert_allclose(ours[key], value.numpy(), rtol=1e-13, atol=1e-15)


def test_a_reloaded_complex_optimizer_continues_the_same_steps():
    z0 = _complex((3,), 17)
    p, q = cr.nn.Parameter(z0.copy()), cr.nn.Parameter(z0.copy())
    a, b = cr.optim.Adam([p], lr=0.1), cr.optim.Adam([q], lr=0.1)
    for _ in range(2):
        a.zero_grad()
        _objective_cr(p).backward()
        a.step()
    q.data[...] = p.data
    b.load_state_dict(a.state_dict())
    for opt, param in ((a, p), (b, q)):
        opt.zero_grad()
        _objective_cr(param).backward()
        opt.step()
    np.testing.assert_array_equal(p.data, q.data)


def test_complex_linear_layer_against_torch():
    layer = cr.nn.Linear(3, 2, dtype=np.complex128, seed=0)
    assert layer.weight.dtype == np.complex128 and np.any(layer.weight.data.imag != 0)
    bound = 1 / np.sqrt(3)  # PyTorch's init bound, on the real and the imaginary parts
    assert np.all(np.abs(layer.weight.data.real) <= bound) and np.all(np.abs(layer.weight.data.imag) <= bound)
    x = _complex((4, 3), 18)
    w = _complex((4, 2), 19)
    y = layer(cr.tensor(x))
    cr.sum(cr.real(cr.tensor(w) * y)).backward()
    reference = torch.nn.Linear(3, 2, dtype=_T_C)
    with torch.no_grad():
        reference.weight.copy_(_t(layer.weight.data))
        reference.bias.copy_(_t(layer.bias.data))
    xt = torch.tensor(x, requires_grad=True)
    yt = reference(xt)
    (torch.tensor(w) * yt).real.sum().backward()
    np.testing.assert_allclose(y.data, yt.detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(layer.weight.grad.data, np.conj(reference.weight.grad.numpy()), rtol=1e-13)
    np.testing.assert_allclose(layer.bias.grad.data, np.conj(reference.bias.grad.numpy()), rtol=1e-13)
    with pytest.raises(TypeError, match=r"Linear: parameters must have a floating-point dtype \(or a complex one\)"):
        cr.nn.Linear(2, 2, dtype=np.int64)
