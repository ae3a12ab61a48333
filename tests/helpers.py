"""Helpers shared by the tests: sampling a rule's inputs from its entry, and independent finite differences.

Nothing here calls chainrule's own gradient checker: the numeric side of every check below evaluates the rule's
NumPy ``forward`` directly, so a test compares the engine against plain arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

import chainrule as cr
from chainrule.rules.registry import Rule, Sample, all_rules

EPS = 1e-6

# The functions API.md lists under "Elementwise functions".
API_ELEMENTWISE = (
    "exp", "log", "pow", "sin", "cos", "tan", "csc", "sec", "cot", "asin", "acos", "atan", "arcsin", "arccos",
    "arctan", "sigmoid", "log2", "log10", "log1p", "expm1", "sqrt", "abs", "sign", "sinh", "cosh", "tanh", "relu",
    "leaky_relu", "softplus", "maximum", "minimum", "clip", "where", "softmax", "log_softmax", "logsumexp",
)


def rule_cases() -> list:
    """One ``pytest.param(rule, sample, id="name-k")`` per rule and sample of the table."""
    import pytest

    return [pytest.param(rule, sample, id=f"{rule.name}-{k}")
            for rule in all_rules() for k, sample in enumerate(rule.samples)]


def input_domain(rule: Rule, sample: Sample, i: int) -> tuple[float, float]:
    """Where input ``i`` of ``rule`` is sampled: the sample's own domain, else the rule's (shared or per input)."""
    if sample.domain is not None:
        return sample.domain
    domain = rule.domain
    return domain[i] if isinstance(domain[0], tuple) else domain


def sample_inputs(rule: Rule, sample: Sample, seed: int = 0, dtype=np.float64) -> list[np.ndarray]:
    """Inputs for one sample of a rule: its fixed ``values``, or uniform inside its domain (boolean masks where the
    sample says so)."""
    if sample.values is not None:  # fixed inputs (a positive-definite matrix for cholesky)
        return [np.array(v, dtype=dtype if np.asarray(v).dtype.kind == "f" else None) for v in sample.values]
    rng = np.random.default_rng(seed)
    inputs = []
    for i, shape in enumerate(sample.shapes):
        if i in sample.boolean:
            inputs.append(np.asarray(rng.random(shape) < 0.5))
        else:
            lo, hi = input_domain(rule, sample, i)
            inputs.append(np.asarray(rng.uniform(lo, hi, size=shape), dtype=dtype))
    return inputs


def differentiable_inputs(rule: Rule, sample: Sample) -> list[int]:
    """Indices of the inputs a gradient flows into (floats, not masks, and not NO_GRAD)."""
    return [i for i in range(len(sample.shapes)) if i not in sample.boolean and rule.differentiable(i)]


def rule_function(rule: Rule, inputs: Sequence, params: dict, wrt: Sequence[int]) -> Callable:
    """``f(*xs)``: the rule applied with the inputs at positions ``wrt`` replaced by ``xs`` (others held fixed)."""

    def f(*xs):
        args = list(inputs)
        for i, x in zip(wrt, xs, strict=True):
            args[i] = x
        return _realified(cr.ops.apply(rule, args, params))

    return f


def _realified(out):
    """A complex output (the FFTs of real samples) as its real and imaginary parts stacked on a last axis, so the
    real-valued checks below test it; real outputs unchanged."""
    if isinstance(out, cr.Tensor):
        return cr.stack([cr.real(out), cr.imag(out)], -1) if out.dtype.kind == "c" else out
    out = np.asarray(out)
    return np.stack([out.real, out.imag], -1) if out.dtype.kind == "c" else out


def numpy_function(rule: Rule, inputs: Sequence, params: dict, wrt: Sequence[int]) -> Callable:
    """The same function on plain arrays, through the rule's NumPy forward only (no engine)."""

    def f(*xs):
        args = list(inputs)
        for i, x in zip(wrt, xs, strict=True):
            args[i] = x
        return np.asarray(_realified(rule.forward(*args, **params)), dtype=np.float64)

    return f


def directional_derivative(rule: Rule, inputs: Sequence[np.ndarray], params: dict, wrt: Sequence[int],
                           seed: int = 1, eps: float = EPS) -> tuple[float, float]:
    """⟨u, J v⟩ for random u, v: by the engine's backward pass, and by central differences of the NumPy forward."""
    rng = np.random.default_rng(seed)
    leaves = [cr.tensor(inputs[i], requires_grad=True) for i in wrt]
    out = rule_function(rule, inputs, params, wrt)(*leaves)
    u = rng.standard_normal(out.shape)
    vs = [rng.standard_normal(np.shape(inputs[i])) for i in wrt]
    if out.requires_grad:
        out.backward(u)
    for t in leaves:
        assert t.grad is None or t.grad.shape == t.shape, f"a gradient of shape {t.grad.shape} for shape {t.shape}"
    analytic = sum(0.0 if t.grad is None else float(np.sum(t.grad.data * v)) for t, v in zip(leaves, vs, strict=True))
    forward = numpy_function(rule, inputs, params, wrt)
    plus = forward(*[inputs[i] + eps * v for i, v in zip(wrt, vs, strict=True)])
    minus = forward(*[inputs[i] - eps * v for i, v in zip(wrt, vs, strict=True)])
    numeric = float(np.sum(u * (plus - minus)) / (2 * eps))
    return analytic, numeric


def assert_close(actual, expected, rtol: float = 1e-12, atol: float | None = None, err_msg: str = "") -> None:
    """Elementwise closeness, with ``atol`` defaulting to ``rtol`` times the largest |expected| (at least 1)."""
    actual = np.asarray(actual.data if isinstance(actual, cr.Tensor) else actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"shape {actual.shape} != expected {expected.shape}. {err_msg}"
    if atol is None:
        atol = rtol * max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=err_msg)


def complex_covector(f: Callable, z, eps: float = 1e-6) -> np.ndarray:
    """∂f/∂x − i ∂f/∂y of a real-valued f at complex z by central differences, element by element: the gradient
    in the convention of HIPS autograd and JAX (what ``cr.grad`` returns for complex inputs)."""
    z = np.array(z, dtype=complex)
    out = np.zeros_like(z)
    for j in range(z.size):
        for step, weight in ((eps, 1.0), (1j * eps, -1j)):
            plus, minus = z.copy(), z.copy()
            plus.flat[j] += step
            minus.flat[j] -= step
            out.flat[j] += weight * (float(f(plus)) - float(f(minus))) / (2 * eps)
    return out


def assert_jvp_matches_vjp(function: Callable, inputs: Sequence, rng: np.random.Generator) -> None:
    """⟨u, J t⟩ from forward mode equals ⟨Jᵀu, t⟩ from reverse mode, for random tangents t and cotangent u."""
    tangents = [rng.standard_normal(np.shape(x)) for x in inputs]
    y, dy = cr.jvp(function, inputs, tangents)
    u = rng.standard_normal(np.shape(y))
    _, pullback = cr.vjp(function, *inputs)
    cotangents = pullback(u)
    cotangents = cotangents if isinstance(cotangents, tuple) else (cotangents,)
    np.testing.assert_allclose(np.sum(u * np.asarray(dy)),
                               sum(np.sum(np.asarray(c) * t) for c, t in zip(cotangents, tangents, strict=True)),
                               rtol=1e-12)
