"""Complex numbers: values and gradients in the convention of HIPS autograd and JAX.

Gradients are covectors with no conjugation: a holomorphic f has vjp g·f'(z), and for a real-valued f of complex z,
``cr.grad(f)(z)`` is ∂f/∂x − i ∂f/∂y. Every check here is against something independent of chainrule's rules:
central differences that perturb the real and imaginary parts separately, closed forms, and PyTorch (whose ``.grad``
is the conjugate of ours).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import complex_covector

import chainrule as cr
import chainrule.numpy as cnp
from chainrule.rules import registry

EPS = 1e-6
RNG = np.random.default_rng(0)


def _complex(shape, rng=RNG, scale=1.0):
    return scale * (rng.uniform(-1, 1, shape) + 1j * rng.uniform(-1, 1, shape))


def _plain(f):
    """f on NumPy values (through chainrule, no gradient): for finite differences."""
    return lambda z: np.real(np.asarray(f(cr.tensor(z)).data))


# Holomorphic functions: (chainrule, torch, sample scale). The loss Re(Σ w·f(z)) with complex w makes a real-valued
# function that depends on both parts of f.
HOLOMORPHIC = {
    "exp": (cnp.exp, torch.exp),
    "log": (cnp.log, torch.log),
    "log2": (cnp.log2, torch.log2),
    "log10": (cnp.log10, torch.log10),
    "log1p": (cnp.log1p, torch.log1p),
    "expm1": (cnp.expm1, torch.expm1),
    "sqrt": (cnp.sqrt, torch.sqrt),
    "sin": (cnp.sin, torch.sin),
    "cos": (cnp.cos, torch.cos),
    "tan": (cnp.tan, torch.tan),
    "arcsin": (cnp.arcsin, torch.asin),
    "arccos": (cnp.arccos, torch.acos),
    "arctan": (cnp.arctan, torch.atan),
    "sinh": (cnp.sinh, torch.sinh),
    "cosh": (cnp.cosh, torch.cosh),
    "tanh": (cnp.tanh, torch.tanh),
    "arcsinh": (cnp.arcsinh, torch.asinh),
    "arccosh": (cnp.arccosh, torch.acosh),
    "arctanh": (cnp.arctanh, torch.atanh),
    "square": (cnp.square, torch.square),
    "reciprocal": (cnp.reciprocal, torch.reciprocal),
    "negative": (cnp.negative, torch.neg),
    "exp2": (cnp.exp2, torch.exp2),
    "power_real": (lambda z: z**2.5, lambda z: z**2.5),
    "power_complex": (lambda z: z ** (0.5 + 0.25j), lambda z: z ** (0.5 + 0.25j)),
    "power_self": (lambda z: (z + 2) ** z, lambda z: (z + 2) ** z),
    "csc": (cr.csc, lambda z: 1 / torch.sin(z)),
    "sec": (cr.sec, lambda z: 1 / torch.cos(z)),
    "cot": (cr.cot, lambda z: torch.cos(z) / torch.sin(z)),
}
# Real-valued (or non-holomorphic) functions of z.
NON_HOLOMORPHIC = {
    "abs": (cnp.abs, torch.abs),
    "angle": (cnp.angle, torch.angle),
    "real": (cnp.real, torch.real),
    "imag": (cnp.imag, torch.imag),
    "conj": (cnp.conj, torch.conj),
    "abs2": (lambda z: z * cnp.conj(z), lambda z: z * torch.conj(z)),
}
ELEMENTWISE = {**HOLOMORPHIC, **NON_HOLOMORPHIC}
W = _complex((2, 3), np.random.default_rng(5))


def _sample(name, shape=(2, 3)):
    z = _complex(shape, np.random.default_rng(len(name)))
    if name in ("arccosh",):
        z = z + 2.0  # away from the branch cut (-inf, 1]
    return z


def _loss(f, w=W):
    return lambda z: cnp.sum(cnp.real(w * f(z)))


def _torch_grad(f, z, w=W):
    """PyTorch's gradient of the same loss, conjugated into our convention."""
    zt = torch.tensor(z, requires_grad=True)
    (torch.tensor(w) * f(zt)).real.sum().backward()
    return np.conj(zt.grad.resolve_conj().numpy())


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_gradient_matches_finite_differences_and_torch(name):
    f, torch_f = ELEMENTWISE[name]
    z = _sample(name)
    loss = _loss(f)
    g = cr.grad(loss)(z)
    assert g.dtype == np.complex128 and g.shape == z.shape
    np.testing.assert_allclose(g, complex_covector(_plain(loss), z), rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(g, _torch_grad(torch_f, z), rtol=1e-12, atol=1e-12)
    value = f(cr.tensor(z)).data
    expected = torch_f(torch.tensor(z)).resolve_conj().numpy()
    np.testing.assert_allclose(value, expected, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_forward_mode_agrees_with_reverse_mode(name):
    # ⟨u, jvp(v)⟩ = ⟨vjp(u), v⟩ with the real pairing Re(Σ a·b) of covectors and vectors.
    f, _ = ELEMENTWISE[name]
    z = _sample(name)
    rng = np.random.default_rng(9)
    v = _complex(z.shape, rng)
    out, tangent = cr.jvp(f, (z,), (v,))
    u = _complex(np.shape(out), rng) if np.iscomplexobj(out) else rng.standard_normal(np.shape(out))
    _, vjp = cr.vjp(f, z)
    (cotangent,) = vjp(u)
    assert np.real(np.sum(u * tangent)) == pytest.approx(np.real(np.sum(cotangent * v)), rel=1e-12, abs=1e-12)
    # ...and jvp is the directional derivative (finite differences along v).
    numeric = (np.asarray(f(cr.tensor(z + EPS * v)).data) - np.asarray(f(cr.tensor(z - EPS * v)).data)) / (2 * EPS)
    np.testing.assert_allclose(tangent, numeric, rtol=1e-6, atol=1e-8)
    assert np.iscomplexobj(tangent) == np.iscomplexobj(out)  # a real function of z has real tangents


@pytest.mark.parametrize("name", ["exp", "sin", "tanh", "sqrt", "abs", "angle", "imag", "abs2", "power_self"])
def test_second_order_matches_finite_differences_of_the_gradient(name):
    f, _ = ELEMENTWISE[name]
    z = _sample(name)
    w2 = _complex(z.shape, np.random.default_rng(2))

    def of_gradient(z):  # a real-valued function of the (complex) gradient
        return cnp.sum(cnp.real(w2 * cr.grad(_loss(f))(z)))

    second = cr.grad(of_gradient)(z)
    numeric = complex_covector(lambda z: float(np.sum(np.real(w2 * cr.grad(_loss(f))(z)))), z, eps=1e-5)
    np.testing.assert_allclose(second, numeric, rtol=1e-5, atol=1e-6)


def test_closed_forms_and_the_convention():
    # |z|² at 3+4j: 2x − 2iy = 6 − 8j (jax.grad gives the same; torch's .grad is 6 + 8j).
    assert cr.grad(lambda z: cnp.abs(z) ** 2)(3 + 4j) == pytest.approx(6 - 8j, abs=1e-12)
    # A complex output needs holomorphic=True (as in JAX; autograd's holomorphic_grad): then f'(z), d z² = 2z.
    assert cr.grad(lambda z: z * z, holomorphic=True)(3 + 4j) == 6 + 8j
    with pytest.raises(TypeError, match=r"real scalar output.*complex128.*holomorphic=True"):
        cr.grad(lambda z: z * z)(3 + 4j)
    with pytest.raises(TypeError, match=r"real scalar output"):
        cr.value_and_grad(lambda x: x * (1.0 + 0.2j))(1.0)  # autograd's test_grad_complex_output
    # angle = atan2(y, x): ∂/∂x = −y/r², ∂/∂y = x/r², so −i/z.
    assert cr.grad(cnp.angle)(1 + 1j) == pytest.approx(-0.5 - 0.5j, abs=1e-15)
    # Re and Im: covectors 1 and −i; conj: vjp conj(g).
    assert cr.grad(cnp.real)(2 + 1j) == 1 + 0j
    assert cr.grad(cnp.imag)(2 + 1j) == -1j
    _, vjp = cr.vjp(cnp.conj, 2 + 1j)
    assert vjp(1 + 2j) == (1 - 2j,)
    # abs'(0) = 0 for complex zero, as for real zero.
    assert cr.grad(cnp.abs)(0j) == 0
    assert cr.grad(cnp.angle)(0j) == 0


def test_real_inputs_receive_the_real_part_and_complex_inputs_a_complex_gradient():
    c = 1 + 2j
    g = cr.grad(lambda x: cnp.imag(cnp.exp(c * x)))(0.3)  # d/dx Im e^{cx} = Im(c e^{cx})
    assert isinstance(g, float) and g == pytest.approx(np.imag(c * np.exp(c * 0.3)), rel=1e-14)
    assert np.isrealobj(cr.grad(lambda x: cnp.sum(cnp.real(x)))(np.array([2.0])))
    g = cr.grad(lambda x: cnp.sum(cnp.real(x)))(np.array([1j]))
    assert np.iscomplexobj(g) and g[0] == 1
    # A complex input of a real intermediate: |z| then real arithmetic.
    g = cr.grad(lambda z: cnp.abs(z) * 3.0 + 1.0)(3 + 4j)
    assert g == pytest.approx(3 * (3 - 4j) / 5, abs=1e-15)
    # Mixed leaves through backward: real a and complex z in one product.
    a = cr.tensor([0.5, -1.0], requires_grad=True)
    z = cr.tensor(np.array([1 + 1j, 2 - 1j]), requires_grad=True)
    cr.real(a * z * z).sum().backward()
    assert a.grad.dtype == np.float64
    np.testing.assert_allclose(a.grad.data, np.real(np.array([1 + 1j, 2 - 1j]) ** 2), rtol=1e-15)
    np.testing.assert_allclose(z.grad.data, 2 * np.array([0.5, -1.0]) * np.array([1 + 1j, 2 - 1j]), rtol=1e-15)


def _mixed_reference(a, z):
    at = torch.tensor(a, requires_grad=True)
    zt = torch.tensor(z, requires_grad=True)
    loss = (torch.abs(at * zt + torch.sin(zt)) ** 2).sum() + (at / zt).imag.sum()
    loss.backward()
    return loss.item(), at.grad.numpy(), np.conj(zt.grad.numpy())


def test_mixed_real_and_complex_graph_against_torch():
    rng = np.random.default_rng(4)
    a, z = rng.uniform(-1, 1, (3, 2)), _complex((2,), rng) + 1.5

    def loss(a, z):
        return cnp.sum(cnp.abs(a * z + cnp.sin(z)) ** 2) + cnp.sum(cnp.imag(a / z))

    value, grads = cr.value_and_grad(loss, argnums=(0, 1))(a, z)
    expected_value, ga, gz = _mixed_reference(a, z)
    assert value == pytest.approx(expected_value, rel=1e-14)
    assert grads[0].dtype == np.float64 and grads[1].dtype == np.complex128
    np.testing.assert_allclose(grads[0], ga, rtol=1e-12)
    np.testing.assert_allclose(grads[1], gz, rtol=1e-12)


# Array functions on complex values: reductions, shapes, indexing, products.
ARRAY_FUNCTIONS = {
    "sum": (lambda z: cnp.sum(z, axis=0), lambda z: z.sum(0)),
    "mean": (lambda z: cnp.mean(z, axis=1), lambda z: z.mean(1)),
    "prod": (lambda z: cnp.prod(z, axis=1), lambda z: z.prod(1)),
    "cumsum": (lambda z: cnp.cumsum(z, axis=1), lambda z: z.cumsum(1)),
    "cumprod": (lambda z: cnp.cumprod(z, axis=1), lambda z: z.cumprod(1)),
    "reshape": (lambda z: cnp.reshape(z, (3, 2)) * 2, lambda z: z.reshape(3, 2) * 2),
    "transpose": (lambda z: cnp.transpose(z) @ z, lambda z: z.T @ z),
    "index": (lambda z: z[np.array([0, 0, 1]), 1:], lambda z: z[[0, 0, 1], 1:]),
    "concatenate": (lambda z: cnp.concatenate([z, z * z], axis=0), lambda z: torch.cat([z, z * z], 0)),
    "stack": (lambda z: cnp.stack([z, cnp.exp(z)]), lambda z: torch.stack([z, torch.exp(z)])),
    "matmul": (lambda z: z @ cnp.transpose(z), lambda z: z @ z.T),
    "dot": (lambda z: cnp.dot(z[0], z[1]), lambda z: (z[0] * z[1]).sum()),
    "vdot": (lambda z: cnp.vdot(z[0], z[1]), lambda z: torch.vdot(z[0], z[1])),
    "einsum": (lambda z: cnp.einsum("ij,kj->ik", z, z * z), lambda z: torch.einsum("ij,kj->ik", z, z * z)),
    "where": (
        lambda z: cnp.where(np.array([True, False, True]), z, z * z),
        lambda z: torch.where(torch.tensor([True, False, True]), z, z * z),
    ),
    "var": (lambda z: cnp.var(z, axis=1), lambda z: torch.var(z, 1, correction=0)),
    "std": (lambda z: cnp.std(z, ddof=1), lambda z: torch.std(z)),
    "broadcast": (lambda z: z + cnp.sum(z, axis=0), lambda z: z + z.sum(0)),
    "flip": (lambda z: cnp.flip(z, 1) * z, lambda z: torch.flip(z, (1,)) * z),
}


@pytest.mark.parametrize("name", sorted(ARRAY_FUNCTIONS))
def test_array_functions_against_torch_and_finite_differences(name):
    f, torch_f = ARRAY_FUNCTIONS[name]
    z = _complex((2, 3), np.random.default_rng(11))
    out = f(cr.tensor(z))
    np.testing.assert_allclose(out.data, torch_f(torch.tensor(z)).numpy(), rtol=1e-13, atol=1e-14)
    w = _complex(out.shape, np.random.default_rng(12))
    loss = _loss(f, w)
    g = cr.grad(loss)(z)
    np.testing.assert_allclose(g, _torch_grad(torch_f, z, w), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g, complex_covector(_plain(loss), z), rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("name", ["exp", "sqrt", "abs", "angle", "real", "conj", "power_self"])
def test_complex64_and_float32_keep_their_precision(name):
    f, _ = ELEMENTWISE[name]
    z = _sample(name).astype(np.complex64)
    out = f(cr.tensor(z))
    assert out.dtype in (np.complex64, np.float32)
    assert cr.grad(_loss(f, W.astype(np.complex64)))(z).dtype == np.complex64
    _, tangent = cr.jvp(f, (z,), (np.ones_like(z),))
    assert tangent.dtype == out.dtype
    x = np.array([0.5, 1.5], np.float32)  # float32 times complex64: complex64, and a float32 gradient
    g = cr.grad(lambda x: cnp.sum(cnp.abs(x * np.complex64(1 + 2j)) ** 2))(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, 10 * x, rtol=1e-6)


def test_tensor_methods_and_creation():
    t = cr.tensor([1 + 2j, 3 - 1j], requires_grad=True)
    assert t.dtype == np.complex128 and t.requires_grad
    assert cr.tensor(np.array([1 + 2j], np.complex64)).dtype == np.complex64
    np.testing.assert_array_equal(t.real.data, [1.0, 3.0])
    np.testing.assert_array_equal(t.imag.data, [2.0, -1.0])
    np.testing.assert_array_equal(t.conj().data, [1 - 2j, 3 + 1j])
    (t.real * t.imag).sum().backward()  # d(xy): y − i x
    np.testing.assert_array_equal(t.grad.data, [2 - 1j, -1 - 3j])
    assert cr.real is cnp.real.__wrapped__ or cr.real(t).dtype == np.float64
    assert isinstance(np.real(t), cr.Tensor) or isinstance(cnp.real(t), cr.Tensor)
    assert isinstance(np.conj(t), cr.Tensor) and isinstance(np.angle(t), cr.Tensor)


def test_holomorphic_rules_give_the_complex_derivative():
    # The complex derivative (d/dz) through a composition: f(z) = exp(sin z), f' = cos z · exp(sin z).
    z = 0.3 + 0.7j
    expected = np.cos(z) * np.exp(np.sin(z))
    assert cr.grad(lambda z: cnp.exp(cnp.sin(z)), holomorphic=True)(z) == pytest.approx(expected, rel=1e-14)
    jac = cr.jacobian(lambda z: z**3, holomorphic=True)(np.array([1 + 1j, 2j]))
    np.testing.assert_allclose(jac, np.diag(3 * np.array([1 + 1j, 2j]) ** 2), rtol=1e-14)


def test_jacobian_of_a_complex_output_of_real_inputs():
    # Re and Im parts both recovered: J = vjp(1) + i vjp(−i).
    x = np.array([0.2, -0.4])
    jac = cr.jacobian(lambda x: cnp.exp(1j * x) * x)(x)
    expected = np.diag(np.exp(1j * x) * (1 + 1j * x))
    np.testing.assert_allclose(jac, expected, rtol=1e-14)


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("maximum", lambda z: cr.maximum(z, z)),
        ("minimum", lambda z: cnp.minimum(z, 1.0)),
        ("relu", lambda z: cr.relu(z)),
        ("floor", lambda z: cnp.floor(z)),
        ("sign", lambda z: cnp.sign(z)),
        ("less", lambda z: z < 1),
        ("greater_equal", lambda z: z >= z),
        ("clip", lambda z: cr.clip(z, 0, 1)),
        ("sort", lambda z: cnp.sort(z)),
        ("sigmoid", lambda z: cr.sigmoid(z)),
        ("arctan2", lambda z: cnp.arctan2(z, z)),
        ("hypot", lambda z: cnp.hypot(z, 1.0)),
        ("leaky_relu", lambda z: cr.leaky_relu(z)),
    ],
)
def test_functions_without_a_complex_meaning_raise_a_clear_type_error(name, call):
    z = cr.tensor(np.array([1 + 2j, -1 + 0.5j]), requires_grad=True)
    with pytest.raises(TypeError, match=rf"{name}.*complex"):
        call(z)
    with pytest.raises(TypeError, match=rf"{name}.*complex"):
        call(cr.tensor(np.array([1 + 2j, -1 + 0.5j])))  # without a gradient too: never NumPy's lexicographic answer


def test_astype_to_real_refuses_to_drop_the_imaginary_part():
    z = cr.tensor([1 + 2j])
    with pytest.raises(TypeError, match="imaginary part"):
        z.astype(np.float64)
    assert cr.tensor([1.0]).astype(np.complex64).dtype == np.complex64
    g = cr.grad(lambda x: cnp.sum(cnp.imag(x.astype(np.complex128) * 1j)))(cr.tensor([1.0, 2.0]))
    np.testing.assert_array_equal(g.data, [1.0, 1.0])


def test_jacobian_of_a_complex_matrix_product_of_real_inputs():
    # Batched backward passes (matmul's vjp on a batch of seeds): the −i seeds are not unit vectors.
    c = _complex((3, 2), np.random.default_rng(1))
    jac = cr.jacobian(lambda x: c @ x)(np.array([0.5, -1.0]))
    np.testing.assert_allclose(jac, c, rtol=1e-15)
    jac = cr.jacobian(lambda x: cnp.exp(c @ x))(np.array([0.5, -1.0]))
    np.testing.assert_allclose(jac, np.exp(c @ np.array([0.5, -1.0]))[:, None] * c, rtol=1e-14)


def test_readme_example_runs():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("### Complex numbers and Fourier transforms", 1)[1]
    code = section.split("```python", 1)[1].split("```", 1)[0]
    namespace = {"np": np, "cr": cr}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["x"].tolist() == [1.0, 2.0, 0.0, -1.0]


def test_a_complex_primitive_and_gradcheck_on_complex_inputs(monkeypatch):
    registry.load_all()  # this test's primitives leave the rule table when it ends (other tests read the table)
    monkeypatch.setattr(registry, "_TABLE", dict(registry._TABLE))
    monkeypatch.setattr(registry, "_REPLACEABLE", set(registry._REPLACEABLE))
    # |z|² as a user's primitive: its covector is 2 conj(z). gradcheck splits complex inputs into their real and
    # imaginary parts, so a vjp that forgets the conjugate is caught, naming the part.
    right = cr.primitive(lambda z: np.abs(z) ** 2, name="abs2_right").defvjp(lambda g, y, z: 2 * g * cnp.conj(z))
    wrong = cr.primitive(lambda z: np.abs(z) ** 2, name="abs2_wrong").defvjp(lambda g, y, z: 2 * g * z)
    z = np.array([1 + 2j, -0.5 + 0.25j])
    assert cr.gradcheck(right, z)
    np.testing.assert_allclose(cr.grad(lambda z: cnp.sum(right(z)))(z), 2 * np.conj(z), rtol=1e-15)
    with pytest.raises(cr.GradcheckError, match=r"input 0 \(imaginary part\)"):
        cr.gradcheck(wrong, z)
    # A complex output of a real input: checked through its real and imaginary parts.
    assert cr.gradcheck(lambda x: cnp.exp(1j * x) * x, np.array([0.3, -1.2]))
    with pytest.raises(cr.GradcheckError, match=r"input 0"):
        bad = cr.primitive(lambda x: np.exp(1j * x), name="cis_wrong").defvjp(lambda g, y, x: g * y)
        cr.gradcheck(bad, np.array([0.3, -1.2]))


def test_explain_shows_complex_values_and_gradients():
    z = cr.tensor(np.array([1 + 2j, 3 - 1j]), requires_grad=True)
    explanation = cr.explain(cr.sum(cnp.abs(z * z)))
    np.testing.assert_allclose(explanation.gradients["p1"], 2 * np.conj(np.array([1 + 2j, 3 - 1j])), rtol=1e-15)
    text = explanation.to_text()
    assert "[-3.+4.j,  8.-6.j]" in text and "[2.-4.j, 6.+2.j]" in text


def test_python_numbers_from_complex_tensors():
    t = cr.tensor(1 + 2j)
    assert complex(t) == 1 + 2j and complex(cr.tensor(2.0)) == 2 + 0j
    assert t.item() == 1 + 2j
    with pytest.raises(TypeError, match="imaginary part"):
        float(t)
    assert float(t.real) == 1.0


def test_real_if_close_keeps_the_gradient_of_its_branch():
    g = cr.grad(lambda z: cnp.sum(cnp.real_if_close(z * 2)))(np.array([1 + 1e-18j, 2 + 0j]))
    assert np.iscomplexobj(g) and np.all(g == 2)
    assert cnp.real_if_close(cr.tensor([1 + 1e-18j])).dtype == np.float64
    assert cnp.real_if_close(cr.tensor([1 + 1e-3j])).dtype == np.complex128
    np.testing.assert_array_equal(cnp.real_if_close(np.array([1 + 1e-3j])), np.real_if_close(np.array([1 + 1e-3j])))


def test_backward_of_a_complex_scalar_needs_an_explicit_grad():
    z = cr.tensor(1 + 2j, requires_grad=True)
    y = z * z
    with pytest.raises(TypeError, match=r"complex tensor.*explicit `grad`.*y.real.backward"):
        y.backward()
    y.backward(grad=1)  # the holomorphic derivative 2z
    assert complex(z.grad) == 2 + 4j


def test_std_over_one_complex_element_has_gradient_zero():
    # std over a single element is 0 for every z: gradient 0 (as for real x), not sqrt′(0)·0 = nan.
    z = np.array([[0.6 + 0.2j], [-1.0 + 0.5j]])
    np.testing.assert_array_equal(cr.grad(lambda z: cr.sum(cnp.std(z, axis=1)))(z), np.zeros_like(z))
    _, tangent = cr.jvp(lambda z: cnp.std(z), (np.array(0.3 + 0.1j),), (np.array(1.0 + 1.0j),))
    assert tangent == 0.0
    # Over two elements it is |z1 − z2|/2, whose gradient is conj(z1 − z2)/(2|z1 − z2|) (∂x − i∂y), closed form.
    d = z[0, 0] - z[1, 0]
    np.testing.assert_allclose(cr.grad(lambda z: cnp.std(z))(z[:, 0]),
                               np.array([1, -1]) * np.conj(d) / (2 * abs(d)), rtol=1e-14)


def test_a_complex_cotangent_or_tangent_for_a_real_tensor_is_refused_not_cast():
    # found by the adversarial probes: the imaginary part was dropped silently (y.grad = [3, 0] for [1+2j, 1j])
    y = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"backward\(\): `grad` is complex but the tensor is real \(float64\)"):
        (y * 3).backward(np.array([1 + 2j, 1j]))
    with pytest.raises(TypeError, match=r"jvp: tangent 0 is complex but its primal is real \(float64\)"):
        cr.jvp(lambda x: x * 2, (np.ones(2),), (np.ones(2) * 1j,))
    _, pullback = cr.vjp(lambda x: x * 2, np.ones(2))
    with pytest.raises(TypeError, match=r"vjp: the cotangent is complex but the output is real \(float64\)"):
        pullback(np.array([1j, 0.0]))
    np.testing.assert_array_equal(pullback(np.array([1 + 0j, 0.5]))[0], [2.0, 1.0])
    (y * 3).backward(np.array([1 + 0j, 2 + 0j]))  # nothing to drop: accepted as the real cotangent
    np.testing.assert_array_equal(y.grad.data, [3.0, 6.0])
    assert y.grad.dtype == np.float64
    z = cr.tensor(np.array([1 + 1j]), requires_grad=True)
    (z * z).backward(np.array([1.0]))  # a real cotangent of a complex output is fine
    np.testing.assert_allclose(z.grad.data, [2 + 2j])


def test_max_and_min_of_complex_numbers_follow_numpys_order_and_pass_the_gradient_to_the_chosen_element():
    # NumPy orders complex numbers by real part, then imaginary part (3 − i < 3 + 0i); as HIPS autograd and JAX do,
    # the reduction's gradient goes to the element chosen. f(w) = 2 Re w + Im w has gradient 2 − i (∂x − i∂y).
    z = np.array([1 + 2j, 3 - 1j, 3 + 0j])
    assert complex(cnp.max(cr.tensor(z)).data) == np.max(z) == 3 + 0j
    f = lambda z: 2 * cnp.real(cnp.max(z)) + cnp.imag(cnp.max(z))  # noqa: E731
    np.testing.assert_array_equal(cr.grad(f)(z), [0, 0, 2 - 1j])
    away = np.array([1 + 2j, 2.5 - 1j, 3 + 0j])  # no equal real parts: central differences see one winner
    np.testing.assert_allclose(cr.grad(f)(away), complex_covector(_plain(f), away), atol=1e-8)
    _, tangent = cr.jvp(cnp.max, (z,), (np.array([1j, 2.0, 3 + 1j]),))
    assert tangent == 3 + 1j
    m = np.array([[1 + 2j, 3 - 1j], [0.5 + 0j, -1j]])
    g = cr.grad(lambda m: cnp.real(cnp.min(m, axis=1)).sum() + cnp.imag(cnp.min(m, axis=1)).sum())(m)
    np.testing.assert_array_equal(g, [[1 - 1j, 0], [0, 1 - 1j]])
    tied = np.array([2 + 1j, 2 + 1j, 1 + 0j])  # ties share the gradient, as for real numbers
    np.testing.assert_array_equal(cr.grad(lambda z: cnp.real(cnp.max(z)))(tied), [0.5, 0.5, 0])
