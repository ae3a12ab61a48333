"""PyTorch as an independent reference: values, gradients and second derivatives agree to float64 precision.

Torch is a test-only dependency; this module is skipped without it. Every comparison runs in float64, on random
inputs inside each function's domain and away from kinks, with tolerances near machine precision (1e-12 for a
single op, 1e-10 for random compositions of several).
"""

from __future__ import annotations

import math
import zlib

import numpy as np
import pytest
from helpers import API_ELEMENTWISE, assert_close, sample_inputs
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import chainrule as cr
from chainrule.rules.registry import ELEMENTWISE, all_rules, lookup

torch = pytest.importorskip("torch")
F = torch.nn.functional


@pytest.fixture(autouse=True)
def _float64_torch():
    """torch's default dtype is float64 in these tests only (restored after each, so other modules are unaffected)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)

RTOL = 1e-12


# ---------------------------------------------------------------------------------------------------------------
# Running the same function in both libraries.
# ---------------------------------------------------------------------------------------------------------------
def _torch_index(index):
    """A NumPy index as torch reads it (arrays become torch tensors)."""
    if isinstance(index, tuple):
        return tuple(_torch_index(i) for i in index)
    if isinstance(index, np.ndarray):
        return torch.as_tensor(index)
    return index


def _value_and_grads(lib, f, arrays, weight_seed=11, second=False):
    """f's value, d sum(w * f)/d inputs and (with ``second``) d sum_i <w_i, grad_i>/d inputs, in ``lib``."""
    rng = np.random.default_rng(weight_seed)
    if lib == "cr":
        xs = [cr.tensor(a, requires_grad=True) for a in arrays]
        out = f(*xs)
        w = rng.standard_normal(out.shape)
        cr.sum(out * w).backward(create_graph=second)
        grads = [x.grad for x in xs]
        result = [out.data, [np.zeros(a.shape) if g is None else g.data for g, a in zip(grads, arrays, strict=True)]]
        if second:
            for x in xs:
                x.grad = None
            ws = [rng.standard_normal(a.shape) for a in arrays]
            terms = [cr.sum(g * v) for g, v in zip(grads, ws, strict=True) if g is not None and g.requires_grad]
            if terms:
                cr.sum(cr.stack(terms)).backward()
            result.append([np.zeros(a.shape) if x.grad is None else x.grad.data for x, a in zip(xs, arrays,
                                                                                               strict=True)])
        return result
    xs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = f(*xs)
    w = torch.as_tensor(rng.standard_normal(tuple(out.shape)))
    grads = torch.autograd.grad((out * w).sum(), xs, create_graph=second, allow_unused=True, materialize_grads=True)
    result = [out.detach().numpy(), [g.detach().numpy(force=True) for g in grads]]
    if second:
        ws = [torch.as_tensor(rng.standard_normal(a.shape)) for a in arrays]
        s2 = sum((g * v).sum() for g, v in zip(grads, ws, strict=True))
        if isinstance(s2, torch.Tensor) and s2.requires_grad:
            second_grads = torch.autograd.grad(s2, xs, allow_unused=True, materialize_grads=True)
            result.append([g.detach().numpy(force=True) for g in second_grads])
        else:
            result.append([np.zeros(a.shape) for a in arrays])
    return result


def _compare(cr_f, torch_f, arrays, rtol=RTOL, second=True):
    ours = _value_and_grads("cr", cr_f, arrays, second=second)
    theirs = _value_and_grads("torch", torch_f, arrays, second=second)
    assert_close(ours[0], theirs[0], rtol=rtol, err_msg="value")
    for i, (a, b) in enumerate(zip(ours[1], theirs[1], strict=True)):
        assert_close(a, b, rtol=rtol, err_msg=f"gradient of input {i}")
    if second:
        for i, (a, b) in enumerate(zip(ours[2], theirs[2], strict=True)):
            assert_close(a, b, rtol=rtol, err_msg=f"second derivative, input {i}")


def _uniform(rng, domain, shape):
    lo, hi = domain
    return rng.uniform(lo, hi, size=shape)


# ---------------------------------------------------------------------------------------------------------------
# Elementwise functions: every one in the API, and every differentiable elementwise rule in the table.
# ---------------------------------------------------------------------------------------------------------------
def _recip(f):
    return lambda x: 1 / f(x)


# name -> (chainrule function, torch function, domain)
UNARY = {
    "exp": (cr.exp, torch.exp, (-2, 2)),
    "log": (cr.log, torch.log, (0.2, 3)),
    "log2": (cr.log2, torch.log2, (0.2, 3)),
    "log10": (cr.log10, torch.log10, (0.2, 3)),
    "log1p": (cr.log1p, torch.log1p, (-0.5, 2)),
    "expm1": (cr.expm1, torch.expm1, (-2, 2)),
    "sqrt": (cr.sqrt, torch.sqrt, (0.2, 3)),
    "sin": (cr.sin, torch.sin, (-3, 3)),
    "cos": (cr.cos, torch.cos, (-3, 3)),
    "tan": (cr.tan, torch.tan, (-1.2, 1.2)),
    "csc": (cr.csc, _recip(torch.sin), (0.3, 2.8)),
    "sec": (cr.sec, _recip(torch.cos), (-1.2, 1.2)),
    "cot": (cr.cot, _recip(torch.tan), (0.3, 1.5)),
    "arcsin": (cr.arcsin, torch.asin, (-0.9, 0.9)),
    "arccos": (cr.arccos, torch.acos, (-0.9, 0.9)),
    "arctan": (cr.arctan, torch.atan, (-3, 3)),
    "asin": (cr.asin, torch.asin, (-0.9, 0.9)),
    "acos": (cr.acos, torch.acos, (-0.9, 0.9)),
    "atan": (cr.atan, torch.atan, (-3, 3)),
    "sinh": (cr.sinh, torch.sinh, (-2, 2)),
    "cosh": (cr.cosh, torch.cosh, (-2, 2)),
    "tanh": (cr.tanh, torch.tanh, (-2, 2)),
    "sigmoid": (cr.sigmoid, torch.sigmoid, (-6, 6)),
    "softplus": (cr.softplus, F.softplus, (-6, 6)),
    "relu": (cr.relu, torch.relu, (-2, 2)),
    "leaky_relu": (cr.leaky_relu, F.leaky_relu, (-2, 2)),
    "leaky_relu(0.2)": (lambda x: cr.leaky_relu(x, 0.2), lambda x: F.leaky_relu(x, 0.2), (-2, 2)),
    "abs": (cr.abs, torch.abs, (-2, 2)),
    "angle": (cr.angle, torch.angle, (-2, 2)),
    "negative": (cr.negative, torch.neg, (-2, 2)),
    "log(x, 3)": (lambda x: cr.log(x, 3.0), lambda x: torch.log(x) / math.log(3.0), (0.2, 3)),
    "clip": (lambda x: cr.clip(x, -0.5, 0.7), lambda x: torch.clamp(x, -0.5, 0.7), (-2, 2)),
    "clip(min)": (lambda x: cr.clip(x, 0.1), lambda x: torch.clamp(x, min=0.1), (-2, 2)),
    "pow(x, 3)": (lambda x: x ** 3, lambda x: x ** 3, (-2, 2)),
    "pow(x, -1.5)": (lambda x: cr.pow(x, -1.5), lambda x: x ** -1.5, (0.3, 2)),
    "pow(2, x)": (lambda x: 2.0 ** x, lambda x: 2.0 ** x, (-2, 2)),
    "softmax": (cr.softmax, lambda x: torch.softmax(x, -1), (-2, 2)),
    "log_softmax": (cr.log_softmax, lambda x: torch.log_softmax(x, -1), (-2, 2)),
    "logsumexp": (cr.logsumexp, lambda x: torch.logsumexp(x, (0, 1)), (-2, 2)),
    "square": (cr.square, torch.square, (-2, 2)),
    "reciprocal": (cr.reciprocal, torch.reciprocal, (0.3, 2)),
    "cbrt": (cr.cbrt, lambda x: torch.sign(x) * torch.abs(x) ** (1 / 3), (0.2, 2)),
    "exp2": (cr.exp2, torch.exp2, (-2, 2)),
    "sinc": (cr.sinc, torch.sinc, (-2, 2)),
    "arcsinh": (cr.arcsinh, torch.asinh, (-2, 2)),
    "arccosh": (cr.arccosh, torch.acosh, (1.2, 3)),
    "arctanh": (cr.arctanh, torch.atanh, (-0.8, 0.8)),
    "erf": (cr.ops.erf, torch.erf, (-2, 2)),  # the rules of nn layers: in chainrule.ops, not cr
    "gelu": (cr.ops.gelu, F.gelu, (-3, 3)),
    "gelu_tanh": (cr.ops.gelu_tanh, lambda x: F.gelu(x, approximate="tanh"), (-3, 3)),
}

# name -> (chainrule function, torch function, domains of the inputs)
BINARY = {
    "add": (cr.add, torch.add, ((-2, 2), (-2, 2))),
    "subtract": (cr.subtract, torch.sub, ((-2, 2), (-2, 2))),
    "multiply": (cr.multiply, torch.mul, ((-2, 2), (-2, 2))),
    "divide": (cr.divide, torch.div, ((-2, 2), (0.5, 2))),
    "power": (cr.power, torch.pow, ((0.5, 2), (-2, 2))),
    "pow": (cr.pow, torch.pow, ((0.5, 2), (-2, 2))),
    "maximum": (cr.maximum, torch.maximum, ((-2, 2), (-2, 2))),
    "minimum": (cr.minimum, torch.minimum, ((-2, 2), (-2, 2))),
    "logb": (cr.log, lambda x, a: torch.log(x) / torch.log(a), ((0.2, 3), (1.5, 4))),
    "arctan2": (cr.arctan2, torch.atan2, ((-2, 2), (0.5, 2))),
    "hypot": (cr.hypot, torch.hypot, ((0.3, 2), (0.3, 2))),
    "logaddexp": (cr.logaddexp, torch.logaddexp, ((-2, 2), (-2, 2))),
    "logaddexp2": (cr.logaddexp2, torch.logaddexp2, ((-2, 2), (-2, 2))),
}

def test_every_elementwise_rule_and_api_function_has_a_torch_reference():
    covered = set(UNARY) | set(BINARY) | {"where", "sign"}
    missing = [n for n in API_ELEMENTWISE if n not in covered]
    assert not missing, f"no torch reference for {missing}"
    # SciPy's special functions have their references in tests/test_scipy_special.py (torch.special and mpmath).
    rules = [r.name for r in all_rules() if r.kind == ELEMENTWISE and r.order > 0
             and getattr(r.forward, "__module__", "") != "chainrule.rules.scipy_special"]
    missing_rules = [n for n in rules if n not in covered | {"where"}]
    assert not missing_rules, f"differentiable elementwise rules without a torch reference: {missing_rules}"


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_values_gradients_and_second_derivatives(name):
    cr_f, torch_f, domain = UNARY[name]
    x = _uniform(np.random.default_rng(zlib.crc32(name.encode())), domain, (3, 4))
    _compare(cr_f, torch_f, [x])


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((2, 1, 3), (4, 1)), ((), (2, 3))], ids=str)
def test_binary_values_gradients_and_second_derivatives(name, shapes):
    cr_f, torch_f, domains = BINARY[name]
    rng = np.random.default_rng(5)
    arrays = [_uniform(rng, d, s) for d, s in zip(domains, shapes, strict=True)]
    _compare(cr_f, torch_f, arrays)


def test_where():
    rng = np.random.default_rng(0)
    cond = rng.random((3, 4)) < 0.5
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4,))
    _compare(lambda x, y: cr.where(cond, x * x, cr.sin(y)),
             lambda x, y: torch.where(torch.as_tensor(cond), x * x, torch.sin(y)), [a, b])


def _bounds(lo, hi):
    """clip's bounds for torch.clamp, which takes two numbers or two tensors."""
    if not isinstance(lo, np.ndarray) and not isinstance(hi, np.ndarray):
        return lo, hi
    return tuple(None if b is None else torch.as_tensor(np.asarray(b, dtype=np.float64)) for b in (lo, hi))


@pytest.mark.parametrize("k", range(len(lookup("clip").samples)))
def test_clip_on_the_tables_samples(k):
    # Samples include bounds that broadcast x to a larger shape: x's gradient has x's shape, summed over the rest.
    sample = lookup("clip").samples[k]
    x = sample_inputs(lookup("clip"), sample, seed=k)[0]
    lo, hi = sample.params["lo"], sample.params["hi"]
    for second in (False, True):  # plain backward, then the recorded one with second derivatives
        _compare(lambda x: cr.clip(cr.sin(x), lo, hi), lambda x: torch.clamp(torch.sin(x), *_bounds(lo, hi)), [x],
                 second=second)


@pytest.mark.parametrize("k", range(len(lookup("where").samples)))
def test_where_on_the_tables_samples(k):
    # Samples include a condition that broadcasts a scalar a and a smaller b.
    cond, a, b = sample_inputs(lookup("where"), lookup("where").samples[k], seed=k)
    for second in (False, True):
        _compare(lambda a, b: cr.where(cond, a * a, cr.sin(b)),
                 lambda a, b: torch.where(torch.as_tensor(cond), a * a, torch.sin(b)), [a, b], second=second)


def test_sign_value_and_no_gradient():
    x = np.array([-1.5, 0.0, 2.0])
    t = cr.tensor(x, requires_grad=True)
    y = cr.sign(t)
    np.testing.assert_array_equal(y.data, torch.sign(torch.as_tensor(x)).numpy())
    assert not y.requires_grad
    (t * cr.sign(t)).sum().backward()  # |x| built from sign: the gradient is sign(x), sign itself adds nothing
    np.testing.assert_array_equal(t.grad.data, np.sign(x))


# ---------------------------------------------------------------------------------------------------------------
# Array operations.
# ---------------------------------------------------------------------------------------------------------------
def _reduce(torch_name):
    def f(x, axis=None, keepdims=False, **kw):
        dim = tuple(range(x.ndim)) if axis is None else axis
        return getattr(torch, torch_name)(x, dim=dim, keepdim=keepdims, **kw)

    return f


def _torch_prod(x, axis=None, keepdims=False):
    axes = tuple(range(x.ndim)) if axis is None else (axis,) if isinstance(axis, int) else axis
    for a in sorted((a % x.ndim for a in axes), reverse=True):
        x = torch.prod(x, dim=a, keepdim=keepdims)
    return x


def _torch_var(x, axis=None, keepdims=False, ddof=0):
    dim = tuple(range(x.ndim)) if axis is None else axis
    return torch.var(x, dim=dim, keepdim=keepdims, correction=ddof)


def _torch_std(x, axis=None, keepdims=False, ddof=0):
    dim = tuple(range(x.ndim)) if axis is None else axis
    return torch.std(x, dim=dim, keepdim=keepdims, correction=ddof)


MASK = np.array([[True, False, True, False], [False, False, True, True], [True, True, False, False]])
INDEX_CASES = {
    "int": 1,
    "negative int": -1,
    "slices": (slice(1, 3), slice(None, None, 2)),
    "None and ellipsis": (None, Ellipsis, 2),
    "ellipsis then None": (Ellipsis, None),
    "int array with repeats": np.array([0, 2, 2, 0, 1]),
    "2-d int array": np.array([[0, 1], [2, 2]]),
    "two int arrays": (np.array([0, 2, 2]), np.array([1, 1, 3])),
    "slice and int array": (slice(None), np.array([3, 0, 3])),
    "boolean mask": MASK,
    "boolean rows": np.array([True, False, True]),
}


@pytest.mark.parametrize("name", sorted(INDEX_CASES))
def test_getitem(name):
    index = INDEX_CASES[name]
    x = np.random.default_rng(1).standard_normal((3, 4))
    _compare(lambda t: cr.sin(t[index]), lambda t: torch.sin(t[_torch_index(index)]), [x])


def test_getitem_repeated_indices_accumulate():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[np.array([0, 0, 2, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 0.0, 1.0])


# id -> (chainrule function, torch function, input shapes, domain)
ARRAY_CASES = {
    "reshape": (lambda x: x.reshape(4, 6), lambda x: x.reshape(4, 6), [(2, 3, 4)]),
    "reshape -1": (lambda x: cr.reshape(x, (-1, 3)), lambda x: x.reshape(-1, 3), [(2, 3, 4)]),
    "flatten": (lambda x: x.flatten(), lambda x: x.flatten(), [(2, 3, 4)]),
    "transpose axes": (lambda x: x.transpose(2, 0, 1), lambda x: x.permute(2, 0, 1), [(2, 3, 4)]),
    "transpose default": (lambda x: cr.transpose(x), lambda x: x.permute(2, 1, 0), [(2, 3, 4)]),
    "T": (lambda x: x.T, lambda x: x.T, [(3, 4)]),
    "swapaxes": (lambda x: cr.swapaxes(x, 0, 2), lambda x: x.transpose(0, 2), [(2, 3, 4)]),
    "squeeze": (lambda x: x.squeeze(1), lambda x: x.squeeze(1), [(3, 1, 2)]),
    "unsqueeze": (lambda x: x.unsqueeze(0), lambda x: x.unsqueeze(0), [(3, 2)]),
    "broadcast_to": (lambda x: cr.broadcast_to(x, (2, 3, 4)), lambda x: x.expand(2, 3, 4), [(3, 1)]),
    "broadcast add": (lambda a, b: a + b, lambda a, b: a + b, [(2, 1, 3), (4, 3)]),
    "broadcast mul": (lambda a, b: a * b, lambda a, b: a * b, [(3,), (2, 3)]),
    "broadcast scalar": (lambda a, b: a / (b * b + 1), lambda a, b: a / (b * b + 1), [(), (2, 2)]),
    "concatenate 0": (lambda a, b: cr.concatenate([a, b]), lambda a, b: torch.cat([a, b]), [(2, 3), (4, 3)]),
    "concatenate 1": (lambda a, b, c: cr.concatenate([a, b, c], axis=1), lambda a, b, c: torch.cat([a, b, c], 1),
                      [(2, 1), (2, 3), (2, 2)]),
    "concatenate -1": (lambda a, b: cr.concatenate((a, b), axis=-1), lambda a, b: torch.cat([a, b], -1),
                       [(2, 3), (2, 2)]),
    "stack 0": (lambda a, b: cr.stack([a, b]), lambda a, b: torch.stack([a, b]), [(2, 3), (2, 3)]),
    "stack -1": (lambda a, b: cr.stack([a, b], axis=-1), lambda a, b: torch.stack([a, b], -1), [(2, 3), (2, 3)]),
    "split sections": (lambda x: cr.concatenate([p * (i + 1) for i, p in enumerate(cr.split(x, 3, axis=1))], 1),
                       lambda x: torch.cat([p * (i + 1) for i, p in enumerate(torch.tensor_split(x, 3, 1))], 1),
                       [(2, 6)]),
    "split indices": (lambda x: cr.stack([cr.sum(p ** 2) for p in cr.split(x, [1, 3])]),
                      lambda x: torch.stack([(p ** 2).sum() for p in torch.tensor_split(x, [1, 3])]), [(5, 2)]),
    "logsumexp axis": (lambda x: cr.logsumexp(x, axis=1), lambda x: torch.logsumexp(x, 1), [(3, 4)]),
    "logsumexp keepdims": (lambda x: cr.logsumexp(x, axis=(0, 2), keepdims=True),
                           lambda x: torch.logsumexp(x, (0, 2), keepdim=True), [(2, 3, 4)]),
    "logsumexp large": (lambda x: cr.logsumexp(x * 400, axis=0), lambda x: torch.logsumexp(x * 400, 0), [(5, 2)]),
    "softmax 0": (lambda x: cr.softmax(x, axis=0), lambda x: torch.softmax(x, 0), [(3, 4)]),
    "softmax 1 of 3-d": (lambda x: x.softmax(1), lambda x: torch.softmax(x, 1), [(2, 3, 4)]),
    "softmax large": (lambda x: cr.softmax(x * 400), lambda x: torch.softmax(x * 400, -1), [(2, 5)]),
    "log_softmax 0": (lambda x: cr.log_softmax(x, axis=0), lambda x: torch.log_softmax(x, 0), [(3, 4)]),
    "log_softmax large": (lambda x: x.log_softmax(-1) * 1, lambda x: torch.log_softmax(x, -1), [(2, 5)]),
    "matmul 2-d": (cr.matmul, torch.matmul, [(3, 4), (4, 2)]),
    "matmul 1-d 1-d": (cr.matmul, torch.matmul, [(4,), (4,)]),
    "matmul 1-d 2-d": (cr.matmul, torch.matmul, [(4,), (4, 3)]),
    "matmul 2-d 1-d": (cr.matmul, torch.matmul, [(2, 4), (4,)]),
    "matmul batched": (lambda a, b: a @ b, torch.matmul, [(2, 3, 4), (4, 5)]),
    "matmul batch broadcast": (cr.matmul, torch.matmul, [(2, 1, 3, 4), (3, 4, 2)]),
    "matmul batched 1-d": (cr.matmul, torch.matmul, [(5, 3, 4), (4,)]),
    "matmul 1-d batched": (cr.matmul, torch.matmul, [(4,), (2, 4, 3)]),
    "matmul square": (lambda a: a @ a @ a, lambda a: a @ a @ a, [(3, 3)]),
}

REDUCTIONS = {
    "sum": (cr.sum, _reduce("sum")),
    "mean": (cr.mean, _reduce("mean")),
    "max": (cr.max, _reduce("amax")),
    "min": (cr.min, _reduce("amin")),
    "prod": (cr.prod, _torch_prod),
    "logsumexp": (cr.logsumexp, _reduce("logsumexp")),
}
AXES = [None, 0, 1, -1, (0, 2), (2, 0, 1)]


@pytest.mark.parametrize("name", sorted(ARRAY_CASES))
def test_array_op(name):
    cr_f, torch_f, shapes = ARRAY_CASES[name]
    rng = np.random.default_rng(2)
    _compare(cr_f, torch_f, [rng.uniform(-2, 2, size=s) for s in shapes])


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduction(name, axis, keepdims):
    cr_f, torch_f = REDUCTIONS[name]
    lo = 0.5 if name == "prod" else -2.0
    x = np.random.default_rng(3).uniform(lo, 2, size=(2, 3, 4))
    _compare(lambda t: cr_f(t, axis=axis, keepdims=keepdims), lambda t: torch_f(t, axis, keepdims), [x])


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("ddof", [0, 1])
def test_var_std(name, axis, keepdims, ddof):
    cr_f, torch_f = (cr.var, _torch_var) if name == "var" else (cr.std, _torch_std)
    x = np.random.default_rng(4).uniform(-2, 2, size=(2, 3, 4))
    _compare(lambda t: cr_f(t, axis=axis, keepdims=keepdims, ddof=ddof),
             lambda t: torch_f(t, axis, keepdims, ddof), [x])


METHOD_REFERENCES = {**{n: f for n, (_, f) in REDUCTIONS.items()}, "var": _torch_var, "std": _torch_std}


@pytest.mark.parametrize("name", sorted(METHOD_REFERENCES))
def test_reduction_methods(name):
    x = np.random.default_rng(5).uniform(0.5, 2, size=(3, 4))
    _compare(lambda t: getattr(t, name)(axis=1, keepdims=True), lambda t: METHOD_REFERENCES[name](t, 1, True), [x])


# ---------------------------------------------------------------------------------------------------------------
# Edge values: zeros in products, saturation, infinities, overflow-prone inputs.
# ---------------------------------------------------------------------------------------------------------------
EDGE_CASES = {
    "prod with one zero": (cr.prod, torch.prod, [0.0, 2.0, 3.0]),
    "prod with two zeros": (cr.prod, torch.prod, [0.0, 2.0, 0.0]),
    "prod axis with zeros": (lambda x: cr.prod(x.reshape(2, 2), axis=1), lambda x: torch.prod(x.reshape(2, 2), 1),
                             [0.0, 2.0, 3.0, 4.0]),
    "sigmoid saturates": (cr.sigmoid, torch.sigmoid, [-800.0, 800.0, 0.0, -30.0, 30.0]),
    "softplus saturates": (cr.softplus, F.softplus, [-800.0, 800.0, 0.0, -30.0, 30.0]),
    "tanh saturates": (cr.tanh, torch.tanh, [-30.0, 30.0, 0.0]),
    "exp extremes": (cr.exp, torch.exp, [-800.0, 700.0]),
    "log_softmax large": (cr.log_softmax, lambda x: torch.log_softmax(x, -1), [-800.0, 800.0, 0.0]),
    "softmax -inf": (cr.softmax, lambda x: torch.softmax(x, -1), [-np.inf, 1.0, 0.0]),
    "logsumexp -inf": (cr.logsumexp, lambda x: torch.logsumexp(x, 0), [-np.inf, 1.0, 0.0]),
    "logsumexp +large": (cr.logsumexp, lambda x: torch.logsumexp(x, 0), [1000.0, 1000.0, -1000.0]),
    "x ** 2 at 0": (lambda x: x ** 2, lambda x: x ** 2, [0.0, -1.0]),
    "x ** 1 at 0": (lambda x: x ** 1, lambda x: x ** 1, [0.0, -1.0]),
    "x ** 0.5 at 0": (lambda x: x ** 0.5, lambda x: x ** 0.5, [0.0, 1.0]),
    "|x| ** 3 at 0": (lambda x: cr.abs(x) ** 3, lambda x: x.abs() ** 3, [0.0, -1.0]),
    "x ** 0 at 0": (lambda x: x ** 0, lambda x: x ** 0, [0.0, 1.0]),
}
EDGE_PARAMS = [pytest.param(*case, id=name) for name, case in EDGE_CASES.items()]


@pytest.mark.parametrize(("cr_f", "torch_f", "x"), EDGE_PARAMS)
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_edge_values_match_torch(cr_f, torch_f, x):
    x = np.array(x)
    ours = _value_and_grads("cr", cr_f, [x])
    theirs = _value_and_grads("torch", torch_f, [x])
    np.testing.assert_allclose(ours[0], theirs[0], rtol=RTOL, atol=0, equal_nan=True)
    np.testing.assert_allclose(ours[1][0], theirs[1][0], rtol=RTOL, atol=1e-300, equal_nan=False)


def test_prod_hessian_with_zeros_matches_torch():
    for x in ([0.0, 2.0, 3.0], [0.0, 0.0, 2.0], [1.0, 2.0, 3.0]):
        x = np.array(x)
        theirs = torch.autograd.functional.hessian(torch.prod, torch.as_tensor(x)).numpy()
        np.testing.assert_array_equal(cr.hessian(cr.prod)(x), theirs)
        _, tangent = cr.jvp(cr.prod, (x,), (np.array([1.0, 2.0, 3.0]),))
        t = torch.tensor(x, requires_grad=True)
        (gradient,) = torch.autograd.grad(torch.prod(t), t)
        assert float(tangent) == float(np.array([1.0, 2.0, 3.0]) @ gradient.numpy())


# ---------------------------------------------------------------------------------------------------------------
# Hessians.
# ---------------------------------------------------------------------------------------------------------------
A = np.random.default_rng(6).standard_normal((4, 4))
HESSIAN_CASES = {
    "sin exp": (lambda x: cr.sum(cr.sin(x) * cr.exp(x)), lambda x: (torch.sin(x) * torch.exp(x)).sum()),
    "quadratic form": (lambda x: x @ (A @ x), lambda x: x @ (torch.as_tensor(A) @ x)),
    "logsumexp": (lambda x: cr.logsumexp(x * x), lambda x: torch.logsumexp(x * x, 0)),
    "softmax entropy": (lambda x: -cr.sum(cr.softmax(x) * cr.log_softmax(x)),
                        lambda x: -(torch.softmax(x, 0) * torch.log_softmax(x, 0)).sum()),
    "norm": (lambda x: cr.sqrt(cr.sum(x ** 2) + 1), lambda x: torch.sqrt((x ** 2).sum() + 1)),
    "var std prod": (lambda x: cr.var(x) * cr.std(x, ddof=1) + cr.prod(x * 0.5 + 2),
                     lambda x: torch.var(x, correction=0) * torch.std(x) + torch.prod(x * 0.5 + 2)),
    "tanh sigmoid": (lambda x: cr.sum(cr.tanh(x) * cr.sigmoid(x[::-1].reshape(2, 2)).reshape(-1)),
                     lambda x: (torch.tanh(x) * torch.sigmoid(x.flip(0).reshape(2, 2)).reshape(-1)).sum()),
}


@pytest.mark.parametrize("name", sorted(HESSIAN_CASES))
def test_hessian_matches_torch(name):
    cr_f, torch_f = HESSIAN_CASES[name]
    x = np.random.default_rng(7).uniform(-1, 1, size=4)
    ours = cr.hessian(cr_f)(x)
    theirs = torch.autograd.functional.hessian(torch_f, torch.as_tensor(x)).numpy()
    assert isinstance(ours, np.ndarray)
    assert_close(ours, theirs, rtol=RTOL)


# ---------------------------------------------------------------------------------------------------------------
# Random compositions.
# ---------------------------------------------------------------------------------------------------------------
UNARY_CHAIN = {  # safe on all reals, and bounded growth
    "sin": (cr.sin, torch.sin),
    "cos": (cr.cos, torch.cos),
    "tanh": (cr.tanh, torch.tanh),
    "sigmoid": (cr.sigmoid, torch.sigmoid),
    "arctan": (cr.arctan, torch.atan),
    "softplus": (cr.softplus, F.softplus),
    "exp(tanh)": (lambda x: cr.exp(cr.tanh(x)), lambda x: torch.exp(torch.tanh(x))),
    "log(1+x²)": (lambda x: cr.log(1 + x * x), lambda x: torch.log(1 + x * x)),
    "sqrt(1+x²)": (lambda x: cr.sqrt(1 + x ** 2), lambda x: torch.sqrt(1 + x ** 2)),
    "swish": (lambda x: x * cr.sigmoid(x), lambda x: x * torch.sigmoid(x)),
    "(1+x²)^1.5": (lambda x: (1 + x * x) ** 1.5, lambda x: (1 + x * x) ** 1.5),
    "-x/3": (lambda x: -x / 3, lambda x: -x / 3),
    "log2(1+x²)": (lambda x: cr.log2(1 + x * x), lambda x: torch.log2(1 + x * x)),
    "arcsin(tanh/2)": (lambda x: cr.arcsin(cr.tanh(x) / 2), lambda x: torch.asin(torch.tanh(x) / 2)),
}
BINARY_CHAIN = {  # with a new leaf of a broadcast-compatible shape
    "add": (lambda x, y: x + y, lambda x, y: x + y),
    "sub": (lambda x, y: y - x, lambda x, y: y - x),
    "mul": (lambda x, y: x * y, lambda x, y: x * y),
    "div": (lambda x, y: x / (1 + y * y), lambda x, y: x / (1 + y * y)),
    "pow": (lambda x, y: (1 + x * x) ** y, lambda x, y: (1 + x * x) ** y),
    "maximum": (cr.maximum, torch.maximum),
    "minimum": (cr.minimum, torch.minimum),
}
REDUCE_CHAIN = {
    "sum": (cr.sum, _reduce("sum")),
    "mean": (cr.mean, _reduce("mean")),
    "max": (cr.max, _reduce("amax")),
    "min": (cr.min, _reduce("amin")),
    "logsumexp": (cr.logsumexp, _reduce("logsumexp")),
    "var": (cr.var, _torch_var),
}
OTHER_CHAIN = ("softmax", "log_softmax", "transpose", "flatten", "matmul", "getitem", "where", "concatenate")
OP_NAMES = sorted(UNARY_CHAIN) + sorted(BINARY_CHAIN) + sorted(REDUCE_CHAIN) + list(OTHER_CHAIN)


def _draw_step(data, rng, shape, n_leaves):
    """One op of the chain: (name, its chainrule and torch functions of (x, leaves), the new shape, new leaves)."""
    name = data.draw(st.sampled_from(OP_NAMES), label="op")
    ndim = len(shape)
    if name in UNARY_CHAIN:
        c, t = UNARY_CHAIN[name]
        return name, (lambda x, _: c(x)), (lambda x, _: t(x)), shape, []
    if name in BINARY_CHAIN or name == "where":
        other = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=1, base_shape=shape, max_dims=3, max_side=3),
                          label="other shape").input_shapes[0]
        out_shape = np.broadcast_shapes(shape, other)
        new = [rng.uniform(-2, 2, size=other)]
        k = n_leaves
        if name == "where":
            cond = rng.random(out_shape) < 0.5
            return (name, lambda x, ls: cr.where(cond, x, cr.sin(ls[k])),
                    lambda x, ls: torch.where(torch.as_tensor(cond), x, torch.sin(ls[k])), out_shape, new)
        c, t = BINARY_CHAIN[name]
        return name, (lambda x, ls: c(x, ls[k])), (lambda x, ls: t(x, ls[k])), out_shape, new
    if ndim == 0:
        return "identity", (lambda x, _: x), (lambda x, _: x), shape, []
    if name in REDUCE_CHAIN:
        c, t = REDUCE_CHAIN[name]
        axes = data.draw(st.none() | st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True)
                         .map(tuple), label="axis")
        if axes is not None and len(axes) == 1 and data.draw(st.booleans(), label="int axis"):
            axes = axes[0] - ndim if data.draw(st.booleans(), label="negative") else axes[0]
        keepdims = data.draw(st.booleans(), label="keepdims")
        out_shape = np.sum(np.zeros(shape), axis=axes, keepdims=keepdims).shape
        return (f"{name}(axis={axes}, keepdims={keepdims})", lambda x, _: c(x, axis=axes, keepdims=keepdims),
                lambda x, _: t(x, axes, keepdims), out_shape, [])
    if name in ("softmax", "log_softmax"):
        axis = data.draw(st.integers(-ndim, ndim - 1), label="axis")
        c, t = (cr.softmax, torch.softmax) if name == "softmax" else (cr.log_softmax, torch.log_softmax)
        return f"{name}({axis})", (lambda x, _: c(x, axis=axis)), (lambda x, _: t(x, axis)), shape, []
    if name == "transpose":
        return name, (lambda x, _: x.transpose()), (lambda x, _: x.permute(*range(ndim - 1, -1, -1))), shape[::-1], []
    if name == "flatten":
        return name, (lambda x, _: x.flatten()), (lambda x, _: x.flatten()), (int(np.prod(shape)),), []
    if name == "matmul":
        m = data.draw(st.integers(1, 3), label="columns")
        new = [rng.uniform(-1, 1, size=(shape[-1], m))]
        k = n_leaves
        return name, (lambda x, ls: x @ ls[k]), (lambda x, ls: x @ ls[k]), (*shape[:-1], m), new
    if name == "getitem":
        index = np.array(data.draw(st.lists(st.integers(0, shape[0] - 1), min_size=1, max_size=4), label="index"))
        return (f"getitem({index.tolist()})", lambda x, _: x[index], lambda x, _: x[torch.as_tensor(index)],
                (len(index), *shape[1:]), [])
    # concatenate with a new leaf along a random axis
    axis = data.draw(st.integers(0, ndim - 1), label="axis")
    other = list(shape)
    other[axis] = data.draw(st.integers(1, 2), label="length")
    new = [rng.uniform(-2, 2, size=tuple(other))]
    k = n_leaves
    out_shape = tuple(s + other[axis] if i == axis else s for i, s in enumerate(shape))
    return (f"concatenate(axis={axis})", lambda x, ls: cr.concatenate([x, ls[k]], axis=axis),
            lambda x, ls: torch.cat([x, ls[k]], axis), out_shape, new)


@given(data=st.data())
def test_random_compositions_match_torch(data):
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4), label="shape")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    leaves = [rng.uniform(-2, 2, size=shape)]
    steps = []
    for _ in range(data.draw(st.integers(3, 6), label="length")):
        name, c, t, shape, new = _draw_step(data, rng, shape, len(leaves))
        steps.append((name, c, t))
        leaves.extend(new)

    def run(fs):
        def f(*xs):
            x = xs[0]
            for g in fs:
                x = g(x, xs)
            return x

        return f

    names = " -> ".join(s[0] for s in steps)
    ours = _value_and_grads("cr", run([s[1] for s in steps]), leaves)
    theirs = _value_and_grads("torch", run([s[2] for s in steps]), leaves)
    assert ours[0].shape == tuple(shape)
    assert_close(ours[0], theirs[0], rtol=1e-10, err_msg=f"value of {names}")
    for i, (a, b) in enumerate(zip(ours[1], theirs[1], strict=True)):
        assert_close(a, b, rtol=1e-10, err_msg=f"gradient of leaf {i} through {names}")
