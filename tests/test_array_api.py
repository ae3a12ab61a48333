"""Tensors of other array libraries (Array API): array-api-strict on its default device and on its fake device
``device1`` (which raises on any hidden transfer to the host), and PyTorch CPU tensors through array-api-compat.

Each rule of the table that has a forward in the backend is run on the same inputs in NumPy and in the library:
values and gradients must agree to 1e-12 (float64), stay in the library and on the device, and the library's
gradients must also match central differences of the library's own forward. The NumPy path is the reference here
(itself checked against PyTorch and finite differences in tests/rules/): the backend computes with other code (the
library's functions and the Array API math namespace), so a wrong forward or derivative there shows.
"""

from __future__ import annotations

import dis
import functools
import inspect
import subprocess
import sys
from pathlib import Path

import array_api_strict as strict
import helpers
import numpy as np
import pytest
import torch
from helpers import differentiable_inputs, sample_inputs

import chainrule as cr
from chainrule import ops
from chainrule.engine import backends
from chainrule.rules import numpy_math
from chainrule.rules.registry import ELEMENTWISE, NO_GRAD, all_rules

TOL = 1e-12
DEVICE1 = strict.Device("device1")
CPU = strict.Device("CPU_DEVICE")


class Library:
    """One test configuration: how to put a NumPy array into the library and read it back (independently of
    chainrule's own conversion code)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def put(self, array: np.ndarray):
        if self.name == "torch":
            return torch.asarray(np.array(array, copy=True))
        return strict.asarray(np.array(array, copy=True), device=DEVICE1 if self.name == "strict-device1" else CPU)

    def get(self, x) -> np.ndarray:
        self.check_home(x)
        if self.name == "torch":
            return x.detach().resolve_conj().resolve_neg().numpy()
        return np.asarray(strict.asarray(x, device=CPU))

    def check_home(self, x) -> None:
        """x is an array of this library, on this configuration's device."""
        if self.name == "torch":
            assert type(x) is torch.Tensor and x.device.type == "cpu"
        else:
            assert type(x) is strict._array_object.Array, type(x)
            assert x.device == (DEVICE1 if self.name == "strict-device1" else CPU)


LIBRARIES = [Library("strict"), Library("strict-device1"), Library("torch")]
LIBRARY_IDS = [lib.name for lib in LIBRARIES]

# Rules whose forward on PyTorch is PyTorch's own function (torch.special, listed in backends._OWN_SPECIAL): their
# gradients are checked against central differences on PyTorch too (the portable forwards, on array-api-strict).
TORCH_OWN = set(backends._OWN_SPECIAL["torch"])
# Rules compared with NumPy's at a looser tolerance, and why. odeint: two different solvers (SciPy's LSODA, the
# portable Dormand–Prince) at the sample's rtol = atol = 1e-12 each err by up to ~2e-12 (LSODA; the portable one by
# ~1e-13), so they agree to ~1e-11, not to 1e-12.
RULE_TOL = {"odeint": 1e-10}


def _backend():
    return backends.backend(strict.asarray(0.0))


def _table_cases():
    """(rule, sample index) of every rule of the table."""
    return [pytest.param(rule, k, id=f"{rule.name}-{k}") for rule in all_rules() for k in range(len(rule.samples))]


def _library_cases():
    return [pytest.param(*case.values, lib, id=f"{case.id}-{lib.name}") for lib in LIBRARIES
            for case in _table_cases()]


@pytest.mark.parametrize("lib", [LIBRARIES[0], LIBRARIES[1], LIBRARIES[2]], ids=LIBRARY_IDS)
def test_every_rule_has_a_forward_in_every_library(lib):
    backend = backends.backend(lib.put(np.zeros(1)))
    missing = []
    for rule in all_rules():
        try:
            backend.forward(rule)
        except NotImplementedError as exc:
            missing.append(f"{rule.name}: {exc}")
    assert missing == []


def _run(rule, k, lib):
    """The rule on the sample's inputs in NumPy and in ``lib``: (numpy inputs, numpy output, library inputs,
    library output, upstream weights of the library's output); backward done on both with the same loss: weights
    ``w`` of NumPy's output, and those weights put in the library's layout (library_layout) of the library's."""
    sample = rule.samples[k]
    xs = sample_inputs(rule, sample, seed=k)
    diff = set(differentiable_inputs(rule, sample))
    tn = [cr.tensor(x, requires_grad=i in diff and x.dtype.kind == "f") for i, x in enumerate(xs)]
    tf = [cr.tensor(lib.put(x), requires_grad=i in diff and x.dtype.kind == "f") for i, x in enumerate(xs)]
    yn = ops.apply(rule, tn, sample.params)
    yf = ops.apply(rule, tf, sample.params)
    w = None
    if yn.requires_grad:
        w = np.random.default_rng(k + 1).standard_normal(yn.shape + (2,))  # weights of the real and imaginary parts
        _loss(yn, w, np.asarray).backward()
        layout = library_layout(rule.name, yn.data, lib.get(yf._data), xs[0].shape)
        w = np.stack([layout(w[..., 0]), layout(w[..., 1])], axis=-1)  # the same loss, of the library's output
        _loss(yf, w, lib.put).backward()
    return tn, yn, tf, yf, w


def library_layout(name, yn, yf, shape):
    """A function that puts an array laid out as NumPy's output ``yn`` of rule ``name`` into the layout of the
    library's output ``yf``: ``yf ≈ layout(yn)``, and a loss of ``yf`` weighted by ``layout(w)`` is NumPy's loss of
    weights ``w`` (the same gradient). The identity but for eigen- and singular vectors, whose signs the library may
    choose otherwise (vector_signs), and eig and eigvals, whose eigenvalues a portable forward (QR iterations) gives
    in another order than LAPACK's: each matrix's eigenvalues are paired with NumPy's (the assignment of least total
    distance), and the columns (eigenvalue and eigenvector) permuted so. The eigenvectors then differ by a sign
    only (both have unit norm and their largest component real), found as for eigh. The values and gradients are
    still compared at 1e-12: only the arbitrary order and signs are forgiven."""
    if name not in ("eig", "eigvals"):
        signs = vector_signs(name, yn, yf, shape)
        return lambda a: a * signs
    from scipy.optimize import linear_sum_assignment

    wn, wf = (y[..., 0, :] if name == "eig" else y for y in (yn, yf))
    order = np.empty(wn.shape, dtype=np.intp)  # library column j is NumPy's column order[..., j]
    for index in np.ndindex(wn.shape[:-1]):
        _, order[index] = linear_sum_assignment(np.abs(wf[index][:, None] - wn[index][None, :]))
    if name == "eig":
        moved = np.take_along_axis(yn, order[..., None, :], axis=-1)
        signs = np.sign(np.sum(np.conj(moved[..., 1:, :]) * yf[..., 1:, :], axis=-2, keepdims=True).real)
        signs = np.concatenate([np.ones_like(signs), np.broadcast_to(signs, yn[..., 1:, :].shape)], axis=-2)
        return lambda a: np.take_along_axis(a, order[..., None, :], axis=-1) * signs
    return lambda a: np.take_along_axis(a, order, axis=-1)


def vector_signs(name, yn, yf, shape):
    """±1 for each element of a packed eigh or svd output (1 for other rules): the sign by which the library's
    eigenvector (singular vector pair) differs from NumPy's. Both are right (a vector's sign is arbitrary), and
    PyTorch's LAPACK calls choose other signs than NumPy's for some matrices. A loss of the library's output
    weighted by ``w · signs`` is NumPy's loss of weights ``w``: the same gradient."""
    if name == "eigh":
        s = np.sign(np.sum(yn[..., 1:, :] * yf[..., 1:, :], axis=-2, keepdims=True))  # one per column
        return np.concatenate([np.ones_like(s), np.broadcast_to(s, yn[..., 1:, :].shape)], axis=-2)
    if name == "svd":
        rows, cols = shape[-2:]
        k, lead = min(rows, cols), shape[:-2]
        u_n, u_f = (y[..., :rows * k].reshape(lead + (rows, k)) for y in (yn, yf))
        s = np.sign(np.sum(u_n * u_f, axis=-2))  # one per singular triple: U's column and Vh's row flip together
        return np.concatenate([np.broadcast_to(s[..., None, :], lead + (rows, k)).reshape(lead + (-1,)),
                               np.ones(lead + (k,)),
                               np.broadcast_to(s[..., :, None], lead + (k, cols)).reshape(lead + (-1,))], axis=-1)
    return np.ones(np.shape(yn))


def _loss(y, w, put):
    """Σ w·y for a real y; Σ w_re·Re y + w_im·Im y for a complex one (the FFTs, complex matrices)."""
    if y.dtype.kind != "c":
        return (y * cr.tensor(put(w[..., 0]))).sum()
    return (cr.real(y) * cr.tensor(put(w[..., 0])) + cr.imag(y) * cr.tensor(put(w[..., 1]))).sum()


def _weighted(out: np.ndarray, w: np.ndarray) -> float:
    """_loss on NumPy values."""
    return float(np.sum(out.real * w[..., 0]) + (np.sum(out.imag * w[..., 1]) if out.dtype.kind == "c" else 0.0))


@pytest.mark.parametrize(("rule", "k", "lib"), _library_cases())
def test_values_and_gradients_equal_numpys(rule, k, lib):
    tn, yn, tf, yf, _ = _run(rule, k, lib)
    lib.check_home(yf._data)
    assert yf.shape == yn.shape and yf.dtype == yn.dtype
    found = lib.get(yf._data)
    layout = library_layout(rule.name, yn.data, found, tn[0].shape)
    tol = RULE_TOL.get(rule.name, TOL)
    np.testing.assert_allclose(found, layout(yn.data), rtol=tol, atol=tol)
    for a, b in zip(tn, tf, strict=True):
        if not a.requires_grad:
            continue
        assert b.grad is not None, f"no gradient for an input of {rule.name}"
        lib.check_home(b.grad._data)
        np.testing.assert_allclose(lib.get(b.grad._data), a.grad.data, rtol=tol, atol=tol)


@pytest.mark.parametrize(("rule", "k", "lib"), [
    case for case in _library_cases() if case.values[2].name == "strict" or (
        case.values[2].name == "torch" and case.values[0].name in TORCH_OWN)])
def test_gradients_match_central_differences_in_the_library(rule, k, lib):
    """⟨grad, v⟩ against (f(x + εv) − f(x − εv)) / 2ε of the library's own forward, for each input (on
    array-api-strict; the rules whose forward is PyTorch's own function, on PyTorch)."""
    _, _, tf, _, w = _run(rule, k, lib)
    if w is None:
        pytest.skip("no gradient flows through this rule")
    sample, eps = rule.samples[k], 1e-6
    xs = [lib.get(t._data) for t in tf]
    rng = np.random.default_rng(99)

    def f(values):
        ts = [cr.tensor(lib.put(v)) for v in values]
        return _weighted(lib.get(ops.apply(rule, ts, sample.params)._data), w)

    for i, t in enumerate(tf):
        if not t.requires_grad:
            continue
        v = rng.standard_normal(xs[i].shape)
        plus, minus = list(xs), list(xs)
        plus[i], minus[i] = xs[i] + eps * v, xs[i] - eps * v
        numeric = (f(plus) - f(minus)) / (2 * eps)
        analytic = float(np.sum(lib.get(t.grad._data) * v))
        assert abs(numeric - analytic) <= 1e-6 * max(1.0, abs(numeric)), (rule.name, i, numeric, analytic)


def test_every_elementwise_rule_is_tested():
    tested = {p.values[0].name for p in _table_cases()}
    elementwise = {r.name for r in all_rules() if r.kind == ELEMENTWISE}
    assert elementwise <= tested


# ---------------------------------------------------------------------------------------------------------------
# A small network trains the same way in every library.
# ---------------------------------------------------------------------------------------------------------------
def _train(move=None, steps=5):
    net = cr.nn.Sequential(cr.nn.Linear(6, 16, seed=0), cr.nn.ReLU(), cr.nn.Linear(16, 3, seed=1)).to("float64")
    rng = np.random.default_rng(0)
    x, labels = rng.standard_normal((32, 6)), rng.integers(0, 3, 32)
    if move is not None:
        net.to(move[0])
        x = move[1](x)
    optimizer = cr.optim.SGD(net.parameters(), lr=0.2)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = cr.nn.functional.cross_entropy(net(cr.tensor(x)), labels)
        loss.backward()
        optimizer.step()
        losses.append(loss)
    return net, losses


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
def test_mlp_trains_with_the_same_losses_as_numpy(lib):
    _, reference = _train()
    target = torch if lib.name == "torch" else DEVICE1 if lib.name == "strict-device1" else strict
    net, losses = _train((target, lib.put))
    for loss, expected in zip(losses, reference, strict=True):
        lib.check_home(loss._data)
        np.testing.assert_allclose(lib.get(loss._data), expected.data, rtol=TOL, atol=TOL)
    assert float(reference[-1].data) < float(reference[0].data)  # it does learn
    assert reference[0].dtype == np.float64
    for p in net.parameters():
        lib.check_home(p._data)
        lib.check_home(p.grad._data)


def test_mlp_against_pytorch_autograd():
    """An independent reference: the same network and first step in PyTorch's own autograd."""
    net, losses = _train((torch, Library("torch").put), steps=1)
    layer0 = cr.nn.Linear(6, 16, seed=0).to("float64")
    layer1 = cr.nn.Linear(16, 3, seed=1).to("float64")
    rng = np.random.default_rng(0)
    x, labels = rng.standard_normal((32, 6)), rng.integers(0, 3, 32)
    w0 = torch.tensor(layer0.weight.data, requires_grad=True)
    b0 = torch.tensor(layer0.bias.data, requires_grad=True)
    w1 = torch.tensor(layer1.weight.data, requires_grad=True)
    b1 = torch.tensor(layer1.bias.data, requires_grad=True)
    out = torch.relu(torch.tensor(x) @ w0.T + b0) @ w1.T + b1
    loss = torch.nn.functional.cross_entropy(out, torch.tensor(labels))
    loss.backward()
    assert abs(float(losses[0]._data) - loss.item()) < TOL
    # after one SGD step, the parameters are the torch ones minus lr·grad
    np.testing.assert_allclose(net[0].weight._data.numpy(), (w0 - 0.2 * w0.grad).detach().numpy(), rtol=0,
                               atol=TOL)


OPTIMIZERS = {
    "adam": lambda p: cr.optim.Adam(p, lr=0.01),
    "adam-amsgrad-l2": lambda p: cr.optim.Adam(p, lr=0.01, amsgrad=True, weight_decay=0.1),
    "adamw": lambda p: cr.optim.AdamW(p, lr=0.01),
    "sgd-nesterov": lambda p: cr.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "sgd-dampening": lambda p: cr.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.5),
    "rmsprop": lambda p: cr.optim.RMSprop(p, lr=0.01),
    "rmsprop-centered-momentum": lambda p: cr.optim.RMSprop(p, lr=0.01, centered=True, momentum=0.5,
                                                            weight_decay=0.1),
    "adagrad": lambda p: cr.optim.Adagrad(p, lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1),
}


def _parameters_after(make, lib=None, steps=4):
    net = cr.nn.Sequential(cr.nn.Linear(6, 16, seed=0), cr.nn.ReLU(), cr.nn.Linear(16, 3, seed=1)).to("float64")
    rng = np.random.default_rng(0)
    x, labels = rng.standard_normal((32, 6)), rng.integers(0, 3, 32)
    if lib is not None:
        net.to(torch if lib.name == "torch" else DEVICE1 if lib.name == "strict-device1" else strict)
        x = lib.put(x)
    optimizer = make(net.parameters())
    for _ in range(steps):
        optimizer.zero_grad()
        cr.nn.functional.cross_entropy(net(cr.tensor(x)), labels).backward()
        optimizer.step()
    return [p._data if lib is None else lib.get(p._data) for p in net.parameters()]


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizers_update_in_the_library_as_on_numpy(name, lib):
    expected = _parameters_after(OPTIMIZERS[name])
    found = _parameters_after(OPTIMIZERS[name], lib)
    for a, b in zip(found, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=TOL, atol=TOL)


def test_optimizers_without_a_foreign_update_say_so():
    class Plain(cr.optim.Optimizer):  # a user's optimizer with only the NumPy update
        def __init__(self, params):
            super().__init__(params, {"lr": 0.1})

        def update(self, param, grad, state, group):
            param -= group["lr"] * grad

    p = cr.nn.Parameter(strict.asarray([1.0, 2.0]))
    (p * p).sum().backward()
    with pytest.raises(NotImplementedError, match="Plain updates NumPy arrays in place"):
        Plain([p]).step()
    q = cr.nn.Parameter([1.0, 2.0])  # on NumPy parameters the in-place form still works
    (q * q).sum().backward()
    Plain([q]).step()
    np.testing.assert_allclose(q.data, [0.8, 1.6], rtol=1e-15)


# ---------------------------------------------------------------------------------------------------------------
# Nothing moves to the host silently; moves are explicit.
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
def test_no_silent_conversion_to_numpy(lib):
    t = cr.tensor(lib.put(np.array([1.0, 2.0])), requires_grad=True)
    lib_name = "torch" if lib.name == "torch" else "array_api_strict"
    for convert in (np.asarray, np.array, lambda t: t.numpy(), lambda t: t.detach().numpy()):
        with pytest.raises(TypeError, match=rf"{lib_name}.*t\.to\(numpy\)"):
            convert(t)
    assert t.data is t._data  # .data is the library's own array
    assert t.shape == (2,) and t.ndim == 1 and t.size == 2 and t.dtype == np.float64


def test_explicit_moves():
    t = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    on_device = t.to(DEVICE1)
    assert on_device._data.device == DEVICE1 and on_device.requires_grad
    back = on_device.to(np)
    assert type(back._data) is np.ndarray and back.tolist() == [1.0, 2.0]
    as_torch = on_device.to(torch)
    assert type(as_torch._data) is torch.Tensor and as_torch._data.tolist() == [1.0, 2.0]
    with pytest.raises(TypeError, match="array library"):
        t.to("gpu")
    with pytest.raises(TypeError, match="array library"):
        (on_device * 2).to("gpu")  # a result of an op: the same check before any node is recorded


def _hop_loss(x, there, home):
    """Σ x · z with z = h·exp(h), h = x·sin(x), computed in ``there`` between two moves (``home`` is x's place)."""
    h = cr.sin(x) * x
    moved = h.to(there) if there is not None else h
    z = cr.exp(moved) * moved
    return ((z.to(home) if there is not None else z) * x).sum()


def _hop_reference(data: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """The loss, gradient and Hessian of ``_hop_loss`` by PyTorch's autograd."""
    def f(x):
        h = torch.sin(x) * x
        return (torch.exp(h) * h * x).sum()

    x = torch.tensor(data, requires_grad=True)
    (grad,) = torch.autograd.grad(f(x), x)
    return f(x).item(), grad.numpy(), torch.autograd.functional.hessian(f, torch.tensor(data)).numpy()


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
@pytest.mark.parametrize("direction", ["from-numpy", "to-numpy"])
def test_moving_a_result_is_differentiable(lib, direction):
    """t.to(...) on a result of an op is a node: its gradient moves back to t's library and device, so backward,
    grad, grad of grad, hessian and jvp go through a host<->device hop and equal PyTorch's autograd."""
    data, tangent = np.array([0.3, -1.2, 2.0]), np.array([1.0, -0.5, 2.0])
    there = torch if lib.name == "torch" else DEVICE1 if lib.name == "strict-device1" else strict
    if direction == "from-numpy":
        start, home = data, np
    else:
        start, home, there = lib.put(data), (torch if lib.name == "torch" else backends.device(lib.put(data))), np

    def f(x):
        return _hop_loss(x, there, home)

    value, grad, hessian = _hop_reference(data)
    x = cr.tensor(start, requires_grad=True)
    loss = f(x)
    assert loss.node.parents[0].parents[0].rule.name == "move"  # sum(z.to(home) * x): the product's first input
    loss.backward()
    found = x.grad._data
    if direction == "to-numpy":
        lib.check_home(found)
        found = lib.get(found)
    assert type(found) is np.ndarray
    np.testing.assert_allclose(found, grad, rtol=TOL, atol=TOL)
    wrap = lib.get if direction == "to-numpy" else np.asarray
    assert abs(float(wrap(loss._data)) - value) < TOL
    np.testing.assert_allclose(wrap(cr.grad(f)(cr.tensor(start))._data), grad, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(wrap(cr.hessian(f)(cr.tensor(start))._data), hessian, rtol=TOL, atol=TOL)
    second = cr.grad(lambda t: (cr.grad(f)(t) * cr.tensor(tangent if direction == "from-numpy" else
                                                         lib.put(tangent))).sum())(cr.tensor(start))
    np.testing.assert_allclose(wrap(second._data), hessian @ tangent, rtol=TOL, atol=TOL)
    _, forward = cr.jvp(f, (cr.tensor(start),), (tangent,))
    assert abs(float(wrap(forward._data)) - float(grad @ tangent)) < TOL


def test_numpy_constants_move_into_the_library():
    """A NumPy operand joins the foreign one on its device (array-api-strict's device1 would raise on the reverse)."""
    x = cr.tensor(strict.asarray([1.0, 2.0], device=DEVICE1), requires_grad=True)
    y = (x * np.array([3.0, 4.0]) + 1.5).sum()
    y.backward()
    assert y._data.device == DEVICE1
    np.testing.assert_array_equal(Library("strict-device1").get(x.grad._data), [3.0, 4.0])


def test_two_libraries_in_one_op_is_an_error():
    with pytest.raises(TypeError, match=r"different array libraries.*torch"):
        cr.tensor(strict.asarray([1.0])) + cr.tensor(torch.tensor([1.0], dtype=torch.float64))


def test_raw_foreign_operand_asks_for_a_tensor():
    with pytest.raises(TypeError, match=r"cr\.tensor"):
        cr.tensor([1.0]) + strict.asarray([1.0])


def test_rule_without_backend_forward_names_rule_and_library(monkeypatch):
    """(Every rule of the table has a forward now: a rule the backends do not know, and one built on a special
    function the library lacks (backends._BUILT_ON), stand in.)"""
    from types import SimpleNamespace

    for lib in (LIBRARIES[0], LIBRARIES[2]):
        backend = backends.backend(lib.put(np.zeros(1)))
        with pytest.raises(NotImplementedError, match=rf"'no_such_rule'.*{backend.name}"):
            backend.forward(SimpleNamespace(name="no_such_rule"))
    monkeypatch.setitem(backends._BUILT_ON, "built_on_a_special", "no_such_special")
    with pytest.raises(NotImplementedError, match=r"'built_on_a_special'.*array_api_strict.*no_such_special"):
        _backend().forward(SimpleNamespace(name="built_on_a_special"))


def test_a_library_without_the_linalg_or_fft_extension_says_so():
    """A namespace without ``linalg`` (or ``fft``): the rules that need it raise NotImplementedError naming the
    function and the library, never a host copy; the rest of the namespace works."""
    import types

    names = {n: getattr(strict, n) for n in dir(strict) if not n.startswith("_") and n not in ("linalg", "fft")}
    bare = types.ModuleType("bare_arrays")
    bare.__dict__.update(names)
    backend = backends.Backend(bare)
    for name, needed in (("solve", "linalg.solve"), ("eigh", "linalg.eigh"), ("fftn", "fft.fftn")):
        with pytest.raises(NotImplementedError, match=rf"'{name}' needs {needed}.*bare_arrays"):
            backend.forward(lookup_rule(name))
    assert backend.forward(lookup_rule("sinc")) is not None


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
def test_conventions_at_kinks(lib):
    """relu'(0) = 0, abs'(0) = 0, maximum's tie sends 0 to both (as on NumPy): random inputs never hit these."""
    x = cr.tensor(lib.put(np.array([-1.0, 0.0, 2.0])), requires_grad=True)
    (cr.relu(x) + 3 * cr.abs(x) + 5 * cr.maximum(x, cr.tensor(lib.put(np.zeros(3))))).sum().backward()
    np.testing.assert_array_equal(lib.get(x.grad._data), [-3.0, 0.0, 9.0])


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
def test_tensor_copies_and_converts_in_the_library(lib):
    raw = lib.put(np.array([1.0, 2.0]))
    t = cr.tensor(raw)
    raw[0] = 5.0  # cr.tensor copied, as it does a NumPy array
    assert t.tolist() == [1.0, 2.0]
    single = cr.tensor(raw, dtype="float32")
    lib.check_home(single._data)
    assert single.dtype == np.float32 and single.tolist() == [5.0, 2.0]
    with pytest.raises(TypeError, match="floating"):
        cr.tensor(lib.put(np.array([1, 2])), requires_grad=True)


def test_array_api_compat_is_imported_only_for_foreign_arrays():
    code = ("import sys, numpy, chainrule as cr\n"
            "(cr.tensor([1.0, 2.0], requires_grad=True) * 2).sum().backward()\n"
            "assert 'array_api_compat' not in sys.modules, 'imported for NumPy'\n"
            "import array_api_strict\n"
            "cr.tensor(array_api_strict.asarray([1.0])) + 1\n"
            "assert 'array_api_compat' in sys.modules\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            cwd=Path(__file__).resolve().parent.parent)
    assert result.returncode == 0, result.stderr


def test_missing_array_api_compat_names_the_extra():
    code = ("import sys; sys.modules['array_api_compat'] = None\n"
            "import array_api_strict, chainrule as cr\n"
            "try:\n    cr.tensor(array_api_strict.asarray([1.0]))\n"
            "except ImportError as exc:\n    print(exc)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            cwd=Path(__file__).resolve().parent.parent)
    assert "pip install chainrule[backends]" in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
def test_labels_on_the_device(lib):
    """Labels already in the library are checked there (the range test's one boolean is all that comes back;
    array-api-strict's device1 raises on any other transfer) and give NumPy's loss and gradient."""
    logits = np.random.default_rng(0).standard_normal((4, 3))
    labels = np.array([0, 2, 1, 2])
    xn, xf = cr.tensor(logits, requires_grad=True), cr.tensor(lib.put(logits), requires_grad=True)
    for reduction in ("mean", "sum", "none"):
        xn.grad = xf.grad = None
        ln = cr.nn.functional.cross_entropy(xn, labels, reduction=reduction)
        lf = cr.nn.functional.cross_entropy(xf, cr.tensor(lib.put(labels)), reduction=reduction)
        lib.check_home(lf._data)
        np.testing.assert_allclose(lib.get(lf._data), ln.data, rtol=TOL, atol=TOL)
        lf.sum().backward()
        ln.sum().backward()
        np.testing.assert_allclose(lib.get(xf.grad._data), xn.grad.data, rtol=TOL, atol=TOL)
    with pytest.raises(cr.DomainError, match=r"cross_entropy: .*out of range.*0\.\.2"):
        cr.nn.functional.cross_entropy(xf, cr.tensor(lib.put(np.array([0, 3, 1, 2]))))
    with pytest.raises(TypeError, match=r"cross_entropy: targets must be integer"):
        cr.nn.functional.cross_entropy(xf, cr.tensor(lib.put(np.array([0.0, 2.0, 1.0, 2.0]))))
    with pytest.raises(cr.ShapeError, match=r"cross_entropy: targets have shape \(3,\)"):
        cr.nn.functional.cross_entropy(xf, cr.tensor(lib.put(np.array([0, 2, 1]))))


def test_labels_on_another_device_are_refused():
    x = cr.tensor(strict.asarray(np.zeros((2, 3))), requires_grad=True)
    labels = cr.tensor(strict.asarray(np.array([0, 2]), device=DEVICE1))
    with pytest.raises(ValueError, match=r"cross_entropy: the labels are on device .*device1.*t\.to\(device\)"):
        cr.nn.functional.cross_entropy(x, labels)


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
def test_optimizer_state_dict_keeps_buffers_in_the_library(lib):
    """state_dict() copies the buffers where they are (changing them does not reach the optimizer), and
    load_state_dict() restores them there: training resumed from it continues exactly as NumPy's does."""
    target = torch if lib.name == "torch" else DEVICE1 if lib.name == "strict-device1" else strict

    def run(net, optimizer, x, steps):
        for _ in range(steps):
            optimizer.zero_grad()
            cr.nn.functional.cross_entropy(net(x), np.array([0, 1, 2, 1])).backward()
            optimizer.step()

    x = np.random.default_rng(1).standard_normal((4, 5))
    reference = cr.nn.Linear(5, 3, seed=0).to("float64")
    run(reference, cr.optim.Adam(reference.parameters(), lr=0.05), cr.tensor(x), 4)
    net = cr.nn.Linear(5, 3, seed=0).to("float64").to(target)
    optimizer = cr.optim.Adam(net.parameters(), lr=0.05)
    run(net, optimizer, cr.tensor(lib.put(x)), 2)
    saved = optimizer.state_dict()
    for buffer in ("exp_avg", "exp_avg_sq"):
        lib.check_home(saved["state"][0][buffer])
        assert saved["state"][0][buffer] is not optimizer.state[id(net.weight)][buffer]
    kept = lib.get(saved["state"][0]["exp_avg"]).copy()
    run(net, optimizer, cr.tensor(lib.put(x)), 1)  # later steps leave the saved copy as it was
    np.testing.assert_array_equal(lib.get(saved["state"][0]["exp_avg"]), kept)
    resumed = cr.nn.Linear(5, 3, seed=0).to("float64").to(target)  # the parameters at the save: two steps again
    warmup = cr.optim.Adam(resumed.parameters(), lr=0.05)
    run(resumed, warmup, cr.tensor(lib.put(x)), 2)
    again = cr.optim.Adam(resumed.parameters(), lr=0.05)
    again.load_state_dict(saved)
    for buffer in ("exp_avg", "exp_avg_sq"):
        lib.check_home(again.state[id(resumed.weight)][buffer])
        assert again.state[id(resumed.weight)][buffer] is not saved["state"][0][buffer]
    run(resumed, again, cr.tensor(lib.put(x)), 2)
    for p, q in zip(resumed.parameters(), reference.parameters(), strict=True):
        lib.check_home(p._data)
        np.testing.assert_allclose(lib.get(p._data), q.data, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
def test_explain_a_foreign_loss(lib):
    """cr.explain(loss) reads another library's graph through one explicit copy to the host, for display: the
    same steps and gradients as the NumPy graph's explanation."""
    data = np.array([0.3, -1.2, 2.0])
    xn, xf = cr.tensor(data, requires_grad=True), cr.tensor(lib.put(data), requires_grad=True)
    with cr.keep_values():  # every value kept on NumPy too (other libraries' nodes keep them all)
        en = cr.explain((cr.sin(xn) * xn * cr.tensor(np.array([1.0, 2.0, 3.0]))).sum())
        ef = cr.explain((cr.sin(xf) * xf * cr.tensor(np.array([1.0, 2.0, 3.0]))).sum())
    assert str(ef) == str(en)
    np.testing.assert_allclose(ef.gradients["p1"], np.cos(data) * data * [1, 2, 3] + np.sin(data) * [1, 2, 3],
                               rtol=TOL, atol=TOL)
    lib.check_home(xf._data)


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
def test_basic_indexing_in_the_library(lib):
    """x[0], x[None], x[:, 1:3], x[..., 0] on a matrix, and negative steps (x[::-1], x[..., 3:0:-2]: PyTorch's
    slices take none, the backend reverses the axis and slices forwards): values and gradients as on NumPy (the
    Array API asks for a trailing ... when an index names fewer axes, and takes no None when assigning)."""
    data = np.arange(12.0).reshape(3, 4)
    for index in (0, (None,), (slice(None), slice(1, 3)), (Ellipsis, 0), (1, None, slice(0, 2)),
                  slice(None, None, -1), (Ellipsis, slice(3, 0, -2)), (None, slice(1, None, -1), slice(5, -9, -3)),
                  (slice(0, 0, -1),)):
        xn, xf = cr.tensor(data, requires_grad=True), cr.tensor(lib.put(data), requires_grad=True)
        w = np.random.default_rng(0).standard_normal(data[index].shape)
        (xn[index] * w).sum().backward()
        yf = xf[index]
        (yf * cr.tensor(lib.put(w))).sum().backward()
        np.testing.assert_array_equal(lib.get(yf._data), data[index])
        np.testing.assert_array_equal(lib.get(xf.grad._data), xn.grad.data)


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
def test_max_and_min_ties_share_the_gradient_as_on_numpy(lib):
    """Tied maxima (minima) share the gradient evenly; a NaN is the max and takes it all (closed forms)."""
    data = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, -1.0, 2.0]])
    x = cr.tensor(lib.put(data), requires_grad=True)
    (x.max(axis=1) * cr.tensor(lib.put(np.array([1.0, 6.0])))).sum().backward()
    np.testing.assert_allclose(lib.get(x.grad._data), [[0, 0.5, 0.5, 0], [2, 2, 0, 2]], rtol=1e-15, atol=0)
    x.grad = None
    (cr.min(x, axis=(0, 1)) * 4.0 + cr.max(x) * 2.0).backward()  # min -1 once; max 3 twice
    np.testing.assert_allclose(lib.get(x.grad._data), [[0, 1, 1, 0], [0, 0, 4, 0]], rtol=1e-15, atol=0)
    lib.check_home(x.grad._data)
    z = cr.tensor(lib.put(np.array([1.0, np.nan, 3.0])), requires_grad=True)
    z.max().backward()
    assert lib.get(z.grad._data).tolist() == [0.0, 1.0, 0.0]


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
def test_prod_with_zeros_is_exact(lib):
    """The product of the others, without dividing by x: exact at one zero and at two (closed forms)."""
    data = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 4.0], [1.5, 2.0, -1.0]])
    x = cr.tensor(lib.put(data), requires_grad=True)
    y = cr.prod(x, axis=1)
    y.sum().backward()
    np.testing.assert_array_equal(lib.get(y._data), [0.0, 0.0, -3.0])
    np.testing.assert_array_equal(lib.get(x.grad._data), [[0, 6, 0], [0, 0, 0], [-2, -1.5, 3]])


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
def test_sinc_at_zero_and_angle_of_complex_numbers(lib):
    """sinc(0) = 1 with sinc'(0) = 0, elsewhere (cos πx − sinc x)/x; angle of complex z: the covector of
    atan2(Im z, Re z) (central differences in x and y), 0 at z = 0."""
    data = np.array([0.0, 0.5, -1.5, 2.25])
    x = cr.tensor(lib.put(data), requires_grad=True)
    y = cr.sinc(x)
    y.sum().backward()
    np.testing.assert_allclose(lib.get(y._data), np.sinc(data), rtol=1e-15, atol=1e-16)
    safe = np.where(data == 0, 1.0, data)
    expected = np.where(data == 0, 0.0, (np.cos(np.pi * safe) - np.sinc(safe)) / safe)
    np.testing.assert_allclose(lib.get(x.grad._data), expected, rtol=1e-14, atol=1e-15)
    z = np.array([1.0 + 2.0j, -0.5 - 1.5j, 0.0j, -2.0 + 0.5j])
    w = np.array([0.7, -1.3, 2.0, 0.4])
    t = cr.tensor(lib.put(z), requires_grad=True)
    a = cr.angle(t)
    (a * cr.tensor(lib.put(w))).sum().backward()
    np.testing.assert_allclose(lib.get(a._data), np.angle(z), rtol=1e-15, atol=0)
    found = lib.get(t.grad._data)
    numeric = helpers.complex_covector(lambda v: np.sum(w[[0, 1, 3]] * np.angle(v)), z[[0, 1, 3]])
    np.testing.assert_allclose(found[[0, 1, 3]], numeric, rtol=1e-7, atol=1e-9)
    assert found[2] == 0
    reference = cr.tensor(z, requires_grad=True)
    (cr.angle(reference) * w).sum().backward()
    np.testing.assert_allclose(found, reference.grad.data, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
@pytest.mark.parametrize("block", [None, 2])
def test_indexing_with_arrays_adds_repeated_gradients(lib, block, monkeypatch):
    """Integer arrays (repeats add up, negative ones count from the end) and masks: the gradient is the count of
    each place's uses (np.bincount, not np.add.at), also when the one-hot product runs in blocks of rows."""
    if block is not None:
        monkeypatch.setattr(backends.ArrayAPIMath, "ONE_HOT_BLOCK", block * 6)  # rows of 6 places: 2 at a time
    data = np.arange(18.0).reshape(6, 3)
    rows = np.array([0, 2, 2, -1, 0, 2, 5])
    x = cr.tensor(lib.put(data), requires_grad=True)
    y = x[rows]
    np.testing.assert_array_equal(lib.get(y._data), data[rows])
    (y * 2.0).sum().backward()
    counts = np.bincount(rows % 6, minlength=6)
    np.testing.assert_array_equal(lib.get(x.grad._data), 2.0 * counts[:, None] * np.ones((1, 3)))
    x.grad = None
    i, j = np.array([[1, 1], [4, 0]]), np.array([[2, 2], [0, 2]])
    x[i, j].sum().backward()
    expected = np.zeros((6, 3))
    expected[1, 2], expected[4, 0], expected[0, 2] = 2.0, 1.0, 1.0
    np.testing.assert_array_equal(lib.get(x.grad._data), expected)
    x.grad = None
    mask = data % 4 == 1
    (x[mask] * cr.tensor(lib.put(np.arange(1.0, mask.sum() + 1)))).sum().backward()
    expected = np.zeros((6, 3))
    expected[mask] = np.arange(1.0, mask.sum() + 1)  # row-major order, as NumPy's mask
    np.testing.assert_array_equal(lib.get(x.grad._data), expected)
    lib.check_home(x.grad._data)


MIXED_INDICES = [
    (np.array([0, 2, 2, 1]), slice(None), np.array([1, 4, 4, 0])),  # arrays apart: their axes go in front
    (slice(None), np.array([[3, 0], [3, 1]]), np.array([[1, 1], [4, 0]])),  # adjacent: their axes stay in place
    (slice(1, None), np.array([-1, 0, -1])),  # negative entries count from the end
    (np.array([2, 0, 2]), slice(None, None, -2), 3),  # an int is an array with the others; a negative step
    (Ellipsis, np.array([4, 0, 4])),
    (1, slice(0, 3), np.array([[2], [2]])),
]


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
@pytest.mark.parametrize("index", MIXED_INDICES, ids=range(len(MIXED_INDICES)))
def test_indexing_mixes_arrays_with_slices(lib, index):
    """Integer arrays mixed with slices, in NumPy's order of axes: the values are NumPy's, the gradient adds up
    repeated places (np.add.at), and so does the second derivative (made with the scatter on Tensors)."""
    data = np.random.default_rng(5).standard_normal((3, 4, 5))
    w = np.random.default_rng(6).standard_normal(data[index].shape)
    v = np.random.default_rng(7).standard_normal(data.shape)
    x = cr.tensor(lib.put(data), requires_grad=True)
    y = x[index]
    np.testing.assert_array_equal(lib.get(y._data), data[index])
    (y * cr.tensor(lib.put(w))).sum().backward()
    expected = np.zeros_like(data)
    np.add.at(expected, index, w)
    np.testing.assert_array_equal(lib.get(x.grad._data), expected)

    def cubic(t):
        return (t[index] ** 3 * cr.tensor(lib.put(w))).sum()

    second = cr.grad(lambda t: (cr.grad(cubic)(t) * cr.tensor(lib.put(v))).sum())(cr.tensor(lib.put(data)))
    lib.check_home(second._data)
    expected = np.zeros_like(data)
    np.add.at(expected, index, 6 * w * data[index] * v[index])
    np.testing.assert_allclose(lib.get(second._data), expected, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
def test_embedding_trains_in_every_library(lib):
    table = cr.nn.Embedding(5, 3, seed=0).to("float64")
    reference = cr.nn.Embedding(5, 3, seed=0).to("float64")
    table.to(torch if lib.name == "torch" else DEVICE1 if lib.name == "strict-device1" else strict)
    tokens = np.array([[0, 2, 2], [4, 0, 2]])
    for module in (table, reference):
        (module(tokens) * 2.0).sum().backward()
    np.testing.assert_array_equal(lib.get(table.weight.grad._data), reference.weight.grad.data)
    assert lib.get(table.weight.grad._data).tolist()[2] == [6.0, 6.0, 6.0]  # token 2 three times, times 2


def _torch_leaf(array):
    return torch.tensor(array, requires_grad=True)


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
def test_convolutions_and_pooling_against_pytorch(lib):
    """conv2d (stride, padding, dilation, groups), conv1d and max_pool2d in the library: values and gradients
    against PyTorch's own autograd (an independent reference) and equal to chainrule's NumPy path."""
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((6, 2, 3, 2)), rng.standard_normal(6)
    xt, wt, bt = (_torch_leaf(v) for v in (x, w, b))
    out = torch.nn.functional.conv2d(xt, wt, bt, stride=(2, 1), padding=(1, 1), dilation=(1, 2), groups=2)
    up = rng.standard_normal(tuple(out.shape))
    (out * torch.tensor(up)).sum().backward()
    xf, wf, bf = (cr.tensor(lib.put(v), requires_grad=True) for v in (x, w, b))
    y = cr.nn.functional.conv2d(xf, wf, bf, stride=(2, 1), padding=(1, 1), dilation=(1, 2), groups=2)
    (y * cr.tensor(lib.put(up))).sum().backward()
    np.testing.assert_allclose(lib.get(y._data), out.detach().numpy(), rtol=1e-12, atol=1e-12)
    for ours, theirs in ((xf, xt), (wf, wt), (bf, bt)):
        lib.check_home(ours.grad._data)
        np.testing.assert_allclose(lib.get(ours.grad._data), theirs.grad.numpy(), rtol=1e-12, atol=1e-12)
    signal, kernel = rng.standard_normal((2, 3, 9)), rng.standard_normal((4, 3, 3))
    st, kt = _torch_leaf(signal), _torch_leaf(kernel)
    torch.nn.functional.conv1d(st, kt, stride=2, padding=1).sum().backward()
    sf, kf = cr.tensor(lib.put(signal), requires_grad=True), cr.tensor(lib.put(kernel), requires_grad=True)
    cr.nn.functional.conv1d(sf, kf, stride=2, padding=1).sum().backward()
    np.testing.assert_allclose(lib.get(sf.grad._data), st.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(lib.get(kf.grad._data), kt.grad.numpy(), rtol=1e-12, atol=1e-12)
    image = rng.standard_normal((1, 2, 4, 6))
    it = _torch_leaf(image)
    torch.nn.functional.max_pool2d(it, 2).sum().backward()
    imf = cr.tensor(lib.put(image), requires_grad=True)
    pooled = cr.nn.functional.max_pool2d(imf, 2)
    pooled.sum().backward()
    np.testing.assert_array_equal(lib.get(pooled._data), torch.nn.functional.max_pool2d(it, 2).detach().numpy())
    np.testing.assert_array_equal(lib.get(imf.grad._data), it.grad.numpy())
    it.grad, imf.grad = None, None
    averaged = torch.nn.functional.avg_pool2d(it, 3, stride=2, padding=1, count_include_pad=False)
    (averaged * torch.tensor(up[:1, :2, :2, :3])).sum().backward()
    ours = cr.nn.functional.avg_pool2d(imf, 3, stride=2, padding=1, count_include_pad=False)
    (ours * cr.tensor(lib.put(up[:1, :2, :2, :3]))).sum().backward()
    np.testing.assert_allclose(lib.get(ours._data), averaged.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(lib.get(imf.grad._data), it.grad.numpy(), rtol=1e-12, atol=1e-12)


def _from_lower(a):
    """The symmetric matrix that a function reading a's lower triangle sees, built differentiably in PyTorch."""
    return torch.tril(a) + torch.tril(a, -1).mT


def _spd(rng, n):
    a = rng.standard_normal((n, n))
    return a @ a.T + n * np.eye(n)


LINALG_CASES = {  # chainrule.numpy.linalg's function of a (or a, b) -> a real loss, and the same in PyTorch
    "solve": (lambda cnp, a, b: cnp.linalg.solve(a, b), lambda a, b: torch.linalg.solve(a, b)),
    "inv": (lambda cnp, a, b: cnp.linalg.inv(a), lambda a, b: torch.linalg.inv(a)),
    "det": (lambda cnp, a, b: cnp.linalg.det(a), lambda a, b: torch.linalg.det(a)),
    "slogdet": (lambda cnp, a, b: cnp.linalg.slogdet(a)[1] * cnp.linalg.slogdet(a)[0],
                lambda a, b: torch.linalg.slogdet(a)[1] * torch.linalg.slogdet(a)[0]),
    "cholesky": (lambda cnp, a, b: cnp.linalg.cholesky(a), lambda a, b: torch.linalg.cholesky(_from_lower(a))),
    "eigh": (lambda cnp, a, b: cnp.linalg.eigh(a)[0] + cnp.abs(cnp.linalg.eigh(a)[1]).sum(axis=0),
             lambda a, b: torch.linalg.eigh(_from_lower(a))[0] + torch.linalg.eigh(_from_lower(a))[1].abs().sum(0)),
    "eigvalsh": (lambda cnp, a, b: cnp.linalg.eigvalsh(a), lambda a, b: torch.linalg.eigvalsh(_from_lower(a))),
    "svd": (lambda cnp, a, b: cnp.linalg.svd(a)[1] + cnp.abs(cnp.linalg.svd(a)[0]).sum(axis=0),
            lambda a, b: torch.linalg.svd(a)[1] + torch.linalg.svd(a)[0].abs().sum(0)),
    "qr": (lambda cnp, a, b: cnp.linalg.qr(a)[0] + cnp.linalg.qr(a)[1],
           lambda a, b: torch.linalg.qr(a)[0] + torch.linalg.qr(a)[1]),
    "pinv": (lambda cnp, a, b: cnp.linalg.pinv(a), lambda a, b: torch.linalg.pinv(a)),
    "matrix_power": (lambda cnp, a, b: cnp.linalg.matrix_power(a, 3) + cnp.linalg.matrix_power(a, -2),
                     lambda a, b: torch.linalg.matrix_power(a, 3) + torch.linalg.matrix_power(a, -2)),
    "norm": (lambda cnp, a, b: cnp.stack([cnp.linalg.norm(a), cnp.linalg.norm(a, 2), cnp.linalg.norm(a, "nuc"),
                                          cnp.linalg.norm(a, 1), cnp.linalg.norm(a, np.inf),
                                          cnp.linalg.norm(a[0], 3.0),
                                          cnp.linalg.norm(cnp.where(a[1] > 0, a[1], 0.0), 0)]),
             lambda a, b: torch.stack([torch.linalg.matrix_norm(a), torch.linalg.matrix_norm(a, 2),
                                       torch.linalg.matrix_norm(a, "nuc"), torch.linalg.matrix_norm(a, 1),
                                       torch.linalg.matrix_norm(a, float("inf")),
                                       torch.linalg.vector_norm(a[0], 3.0),
                                       torch.linalg.vector_norm(torch.where(a[1] > 0, a[1], 0.0), 0)])),
}


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
@pytest.mark.parametrize("name", sorted(LINALG_CASES))
def test_linear_algebra_against_pytorch(name, lib):
    """chainrule.numpy.linalg on the library's tensors: values and gradients of a loss that does not depend on
    the vectors' signs, against PyTorch's own autograd (symmetric inputs read from the lower triangle on both
    sides) and against chainrule's NumPy path."""
    import chainrule.numpy as cnp

    rng = np.random.default_rng(sorted(LINALG_CASES).index(name))
    a = _spd(rng, 4) if name in ("cholesky", "eigh", "eigvalsh") else rng.standard_normal((4, 4)) + 3 * np.eye(4)
    b = rng.standard_normal((4, 2))
    ours, theirs = LINALG_CASES[name]
    at, bt = _torch_leaf(a), _torch_leaf(b)
    out = theirs(at, bt)
    up = rng.standard_normal(tuple(out.shape))
    (out * torch.tensor(up)).sum().backward()
    found = []
    for put in (lib.put, np.asarray):
        af, bf = cr.tensor(put(a), requires_grad=True), cr.tensor(put(b), requires_grad=True)
        y = ours(cnp, af, bf)
        (y * cr.tensor(put(up))).sum().backward()
        found.append((y, af.grad, bf.grad))
    (y, ga, gb), (yn, gan, _) = found
    lib.check_home(y._data)
    np.testing.assert_allclose(lib.get(y._data), out.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(lib.get(ga._data), at.grad.numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(lib.get(y._data), yn.data, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(lib.get(ga._data), gan.data, rtol=1e-11, atol=1e-11)
    if name == "solve":
        np.testing.assert_allclose(lib.get(gb._data), bt.grad.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
def test_singular_and_indefinite_matrices_are_domain_errors(lib):
    """The library's LinAlgError becomes chainrule's DomainError naming the function and what was expected, as
    on NumPy."""
    import chainrule.numpy as cnp

    ones = cr.tensor(lib.put(np.ones((2, 2))), requires_grad=True)
    for function, message in ((cnp.linalg.inv, "inv: .* is singular; expected an invertible matrix"),
                              (lambda t: cnp.linalg.solve(t, t), "solve: .* is singular"),
                              (cnp.linalg.cholesky, "cholesky: .* is not positive definite; expected a symmetric")):
        with pytest.raises(cr.DomainError, match=message):
            function(ones)


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
def test_fft_functions_against_pytorch(lib):
    """chainrule.numpy.fft on the library's tensors (fft, ifft with n, rfft, irfft, fft2, rfftn with s, norms):
    a real loss of real and imaginary parts, its gradient (real input: one convention) against PyTorch's."""
    import chainrule.numpy as cnp

    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 8))
    cases = (
        (lambda f, v: f.fft(v), lambda v: torch.fft.fft(v)),
        (lambda f, v: f.ifft(v, n=6, norm="ortho"), lambda v: torch.fft.ifft(v, n=6, norm="ortho")),
        (lambda f, v: f.rfft(v, axis=0), lambda v: torch.fft.rfft(v, dim=0)),
        (lambda f, v: f.irfft(v, n=10), lambda v: torch.fft.irfft(v, n=10)),
        (lambda f, v: f.fft2(v, norm="forward"), lambda v: torch.fft.fft2(v, norm="forward")),
        (lambda f, v: f.rfftn(v, s=(4, 5)), lambda v: torch.fft.rfftn(v, s=(4, 5))),
    )
    for ours, theirs in cases:
        xt = _torch_leaf(x)
        out = theirs(xt)
        w = rng.standard_normal(tuple(out.shape) + (2,))
        real = out.real if out.is_complex() else out
        loss = (real * torch.tensor(w[..., 0])).sum()
        if out.is_complex():
            loss = loss + (out.imag * torch.tensor(w[..., 1])).sum()
        loss.backward()
        xf = cr.tensor(lib.put(x), requires_grad=True)
        y = ours(cnp.fft, xf)
        _loss(y, w, lib.put).backward()
        expected = out.detach().resolve_conj().numpy()
        np.testing.assert_allclose(lib.get(y._data), expected, rtol=1e-12, atol=1e-12)
        lib.check_home(xf.grad._data)
        np.testing.assert_allclose(lib.get(xf.grad._data), xt.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_different_devices_in_one_op_is_an_error():
    a = cr.tensor(strict.asarray([1.0], device=DEVICE1))
    with pytest.raises(ValueError, match=r"different devices.*t\.to\(device\)"):
        a + cr.tensor(strict.asarray([1.0]))


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
def test_dropout_and_python_numbers(lib):
    x = cr.tensor(lib.put(np.ones((4, 5))), requires_grad=True)
    y = cr.nn.functional.dropout(x, 0.5, rng=np.random.default_rng(0))
    (y.sum() * 2.0).backward()
    expected = (np.random.default_rng(0).random((4, 5)) >= 0.5) * 2.0
    np.testing.assert_array_equal(lib.get(y._data), expected)
    np.testing.assert_array_equal(lib.get(x.grad._data), expected * 2.0)
    assert float(y.sum()) == expected.sum() and y.sum().item() == expected.sum()


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
def test_power_at_zero_as_on_numpy(lib):
    """d/da a**0 = 0 at a = 0 and d/db 0**b = 0 for b >= 0: the masks apply on every library (not only when a NumPy
    test of the values finds a zero)."""
    a, b = np.array([0.0, 0.0, 2.0, 0.0]), np.array([0.0, 2.0, 0.0, 1.5])
    an, bn = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    af, bf = cr.tensor(lib.put(a), requires_grad=True), cr.tensor(lib.put(b), requires_grad=True)
    (an ** bn).sum().backward()
    (af ** bf).sum().backward()
    np.testing.assert_array_equal(lib.get(af.grad._data), an.grad.data)
    np.testing.assert_array_equal(lib.get(bf.grad._data), bn.grad.data)
    assert np.isfinite(an.grad.data).all() and np.isfinite(bn.grad.data).all()


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
def test_grad_and_value_and_grad_on_foreign_tensors(lib):
    """cr.grad / value_and_grad (first order) keep the library: the same numbers as on NumPy, and as by hand
    (d/dx Σ sin(x)·x² = cos(x)·x² + 2x·sin(x))."""
    data = np.array([0.3, -1.2, 2.0])
    f = lambda x: (cr.sin(x) * x * x).sum()  # noqa: E731
    g = cr.grad(f)(cr.tensor(lib.put(data)))
    lib.check_home(g._data)
    np.testing.assert_allclose(lib.get(g._data), cr.grad(f)(cr.tensor(data)).data, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(lib.get(g._data), np.cos(data) * data**2 + 2 * data * np.sin(data), rtol=TOL, atol=TOL)
    value, (ga, gb) = cr.value_and_grad(lambda a, b: (a * b).sum(), argnums=(0, 1))(
        cr.tensor(lib.put(data)), cr.tensor(lib.put(2 * data)))
    lib.check_home(value._data)
    np.testing.assert_allclose(lib.get(ga._data), 2 * data, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(lib.get(gb._data), data, rtol=TOL, atol=TOL)
    unused = cr.grad(lambda a, b: a.sum(), argnums=1)(cr.tensor(lib.put(data)), cr.tensor(lib.put(data)))
    lib.check_home(unused._data)  # no path: zeros, made in the library
    assert lib.get(unused._data).tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
def test_vjp_on_foreign_tensors(lib):
    data = np.array([0.5, -1.0, 2.0])
    out, vjp_fn = cr.vjp(lambda x: cr.exp(x) * 3.0, cr.tensor(lib.put(data)))
    lib.check_home(out._data)
    for cotangent in (np.array([1.0, 2.0, -1.0]), cr.tensor(lib.put(np.array([1.0, 2.0, -1.0])))):
        (g,) = vjp_fn(cotangent)  # a NumPy cotangent moves into the library
        lib.check_home(g._data)
        np.testing.assert_allclose(lib.get(g._data), 3.0 * np.exp(data) * [1.0, 2.0, -1.0], rtol=TOL, atol=0)


def _cubic(x):
    return (cr.sin(x) * x * x).sum()


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
def test_higher_order_on_foreign_tensors(lib):
    """create_graph and nested grad compute the derivatives' graph in the library: the second derivative of
    Σ sin(x)·x² is −sin(x)·x² + 4x·cos(x) + 2 sin(x), as on NumPy."""
    data = np.array([0.3, -1.2, 2.0])
    exact = -np.sin(data) * data**2 + 4 * data * np.cos(data) + 2 * np.sin(data)
    second = cr.grad(lambda x: cr.grad(_cubic)(x).sum())(cr.tensor(lib.put(data)))
    lib.check_home(second._data)
    np.testing.assert_allclose(lib.get(second._data), cr.grad(lambda x: cr.grad(_cubic)(x).sum())(data), rtol=TOL,
                               atol=TOL)
    np.testing.assert_allclose(lib.get(second._data), exact, rtol=TOL, atol=TOL)
    leaf = cr.tensor(lib.put(data), requires_grad=True)
    _cubic(leaf).backward(create_graph=True)
    first = leaf.grad
    assert first.requires_grad
    lib.check_home(first._data)
    leaf.grad = None
    first.sum().backward()
    np.testing.assert_allclose(lib.get(leaf.grad._data), exact, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
def test_jvp_on_foreign_tensors(lib):
    """Forward mode in the library: ∂f·t equals NumPy's, the closed form, and ⟨vjp(u), t⟩ = ⟨u, jvp(t)⟩."""
    data, t = np.array([0.3, -1.2, 2.0]), np.array([1.0, -2.0, 0.5])
    a = np.arange(6.0).reshape(2, 3) / 5

    def f(x):
        return cr.exp(cr.matmul(cr.tensor(a), cr.sin(x) * x))

    for tangent in (t, cr.tensor(lib.put(t))):  # a NumPy tangent moves into the library
        value, found = cr.jvp(f, (cr.tensor(lib.put(data)),), (tangent,))
        lib.check_home(value._data)
        lib.check_home(found._data)
        _, expected = cr.jvp(f, (data,), (t,))
        np.testing.assert_allclose(lib.get(found._data), expected, rtol=TOL, atol=TOL)
    exact = np.exp(a @ (np.sin(data) * data)) * (a @ ((np.cos(data) * data + np.sin(data)) * t))
    np.testing.assert_allclose(lib.get(found._data), exact, rtol=TOL, atol=TOL)
    u = np.array([0.7, -1.1])
    (pulled,) = cr.vjp(f, cr.tensor(lib.put(data)))[1](u)
    assert abs(float(np.dot(lib.get(pulled._data), t)) - float(np.dot(u, exact))) < TOL


def _mlp_loss(x):
    """A small network's loss as a function of its input: linear, tanh, indexing, log_softmax, softmax..."""
    w = np.linspace(-1, 1, 12).reshape(4, 3)
    h = cr.tanh(cr.nn.functional.linear(x, cr.tensor(w), cr.tensor(np.array([0.1, -0.2, 0.3, 0.0]))))
    logits = cr.reshape(h, (2, 2)) * 2.0 + cr.log_softmax(cr.reshape(x[:2], (1, 2)), axis=1)
    return -cr.log_softmax(logits, axis=1)[:, 0].sum() + (cr.softmax(x, axis=0) * x).sum()


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
def test_jacobian_and_hessian_on_foreign_tensors(lib):
    """The batched paths (a basis of unit cotangents made in the library, on its device): the Jacobian and the
    Hessian equal NumPy's, and the Hessian is symmetric and matches central differences of the gradient."""
    data = np.array([0.3, -1.2, 2.0])
    jac = cr.jacobian(lambda x: cr.exp(x[::-1] if lib.name != "torch" else x) * cr.sum(x * x))(
        cr.tensor(lib.put(data)))
    lib.check_home(jac._data)
    expected = cr.jacobian(lambda x: cr.exp(x[::-1] if lib.name != "torch" else x) * cr.sum(x * x))(data)
    np.testing.assert_allclose(lib.get(jac._data), expected, rtol=TOL, atol=TOL)
    hess = cr.hessian(_mlp_loss)(cr.tensor(lib.put(data)))
    lib.check_home(hess._data)
    reference = cr.hessian(_mlp_loss)(data)
    np.testing.assert_allclose(lib.get(hess._data), reference, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(reference, reference.T, rtol=0, atol=1e-14)
    eps, grad = 1e-5, cr.grad(_mlp_loss)
    numeric = np.stack([(grad(data + eps * e) - grad(data - eps * e)) / (2 * eps) for e in np.eye(3)])
    np.testing.assert_allclose(reference, numeric, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_erf_against_math_erf(dtype):
    """The backend's erf (numpy_math's polynomials, selected with where) against Python's math.erf, an independent
    implementation, across every piece, the joins, ±inf and NaN."""
    import math

    values = np.concatenate([np.linspace(-7, 7, 2001), [0.0, -0.0, 1.0, -1.0, 2.5, -2.5, 6.0, -6.0]]).astype(dtype)
    found = Library("strict").get(ops.apply(lookup_rule("erf"), (cr.tensor(strict.asarray(values)),))._data)
    expected = np.array([math.erf(float(v)) for v in values], dtype=dtype)
    tolerance = 4e-16 if dtype == np.float64 else 1e-7
    np.testing.assert_allclose(found, expected, rtol=0, atol=tolerance)
    assert found.dtype == dtype
    edges = Library("strict").get(ops.apply(lookup_rule("erf"), (cr.tensor(strict.asarray(
        np.array([np.inf, -np.inf, np.nan]))),))._data)
    assert edges[0] == 1.0 and edges[1] == -1.0 and np.isnan(edges[2])


def lookup_rule(name):
    return next(r for r in all_rules() if r.name == name)


def test_float32_stays_float32():
    x = cr.tensor(strict.asarray(np.array([0.5, 1.5], dtype=np.float32)), requires_grad=True)
    y = (cr.exp(x) * 2.0 + cr.relu(x)).sum()
    y.backward()
    assert x.grad._data.dtype == strict.float32 and y._data.dtype == strict.float32


# ---------------------------------------------------------------------------------------------------------------
# Derivatives that call NumPy directly (np.<name>) cannot run on another library: none does, and none may.
# ---------------------------------------------------------------------------------------------------------------
# NumPy names that only read metadata or guard a NumPy-only fast path (np.shape, isinstance(x, np.ndarray)...):
# allowed for good.
NP_METADATA = {"shape", "ndim", "size", "argsort", "ndarray"}
# NumPy calls on values inside derivatives (directly or in the table's helpers they call), by rule: none. Every
# derivative computes with ``m``, whose constructors (m.eye, m.tril_mask, m.one_hot, m.arange, m.zeros_like) make
# constants in the operand's library and on its device, and whose ``has_zero`` decides the branches at 0 (always
# masked on other libraries). NumPy-only fast paths call numpy_math's kernels (in place, on the arrays the forward
# kept) behind a test that ``m`` is numpy_math. This table must stay empty: a rule that needs np. breaks on GPUs.
NP_IN_DERIVATIVES = {}


def _np_names(function) -> set[str]:
    """The attributes of ``np`` that a derivative's code reads, and the code of the rule-table helpers it calls
    (functions of chainrule.rules modules named in it, followed recursively)."""
    found, seen = set(), set()
    stack = [(function.__code__, function.__globals__)] if hasattr(function, "__code__") else []
    while stack:
        code, namespace = stack.pop()
        if code in seen:
            continue
        seen.add(code)
        previous = None
        for instruction in dis.get_instructions(code):
            if previous is not None and previous.argval == "np" and instruction.opname in ("LOAD_ATTR", "LOAD_METHOD"):
                found.add(instruction.argval)
            if instruction.opname == "LOAD_GLOBAL":
                helper = namespace.get(instruction.argval)
                helper = inspect.unwrap(helper) if callable(helper) else helper  # (through functools.cache...)
                if inspect.isfunction(helper) and helper.__module__.startswith("chainrule.rules"):
                    stack.append((helper.__code__, helper.__globals__))
            previous = instruction
        stack.extend((c, namespace) for c in code.co_consts if inspect.iscode(c))
    return found


def test_derivatives_call_numpy_only_as_allowed():
    used = {}
    for rule in all_rules():
        functions = rule.derivatives if rule.kind == ELEMENTWISE else (*rule.vjps, rule.jvp)
        for function in functions:
            if function is None or function is NO_GRAD or not callable(function):
                continue
            for name in _np_names(function) - NP_METADATA:
                used.setdefault(name, set()).add(rule.name)
    assert used == NP_IN_DERIVATIVES  # a new np. call fails; a removed one asks to shrink the table


def test_the_np_scan_sees_np_calls():
    def planted(x, y, m):
        return np.cos(x) + np.shape(y)[0]

    assert _np_names(planted) == {"cos", "shape"}


@functools.cache
def _cached_triangle(n):
    return np.tri(n)


_cached_triangle.__wrapped__.__module__ = "chainrule.rules.planted"  # (the scan follows the table's helpers only)


def test_the_np_scan_follows_cached_helpers():
    def planted(x, y, m):
        return x * _cached_triangle(3)

    assert _np_names(planted) == {"tri"}


_NAMESPACES = ["numpy", "tensor", *LIBRARY_IDS]


def _namespace(name, array):
    """(m, like, read): a namespace, an operand ``like`` of it holding ``array``, and how to read its arrays back."""
    if name == "numpy":
        return numpy_math, array, np.asarray
    if name == "tensor":
        return ops.tensor_math, cr.tensor(array), np.asarray
    lib = LIBRARIES[LIBRARY_IDS.index(name)]
    like = lib.put(array)
    return backends.backend(like).m, like, lib.get


@pytest.mark.parametrize("dtype", [np.float32, np.complex128])
@pytest.mark.parametrize("name", _NAMESPACES)
def test_the_namespaces_make_constants_like_their_operand(name, dtype):
    """m.eye, m.tril_mask, m.arange and m.one_hot (what derivatives build constants with): in like's library, on
    its device and in its dtype, against the matrices written out element by element."""
    m, like, read = _namespace(name, np.ones((2, 3), dtype=dtype))
    for n, k in [(3, 0), (4, -1), (3, 1), (1, -1)]:
        triangle = read(m.tril_mask(n, k, like))
        np.testing.assert_array_equal(triangle, [[float(j - i <= k) for j in range(n)] for i in range(n)])
        assert triangle.dtype == dtype
    identity = read(m.eye(3, like))
    np.testing.assert_array_equal(identity, [[float(i == j) for j in range(3)] for i in range(3)])
    assert identity.dtype == dtype
    np.testing.assert_array_equal(read(m.arange(4, like)), [0, 1, 2, 3])
    one_hot = read(m.one_hot(np.array([2, 0]), like))
    np.testing.assert_array_equal(one_hot, [[0, 0, 1], [1, 0, 0]])
    assert one_hot.dtype == dtype


@pytest.mark.parametrize("name", _NAMESPACES)
def test_has_zero_tests_numpy_values_and_masks_always_elsewhere(name):
    m, like, _ = _namespace(name, np.array([1.0, 2.0]))
    raw = m.stop(like)
    on_numpy = name in ("numpy", "tensor")  # (the Tensor namespace's stop gives the NumPy array)
    assert m.has_zero(raw) is not on_numpy  # other libraries: True, no test of device values
    assert m.has_zero(m.stop(_namespace(name, np.array([1.0, 0.0]))[1])) is True


def test_readme_example_runs():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("## GPUs and other array libraries", 1)[1]
    code = section.split("```python", 1)[1].split("```", 1)[0]
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert type(namespace["x"].grad.data) is torch.Tensor
    assert type(namespace["net"][0].weight.data) is torch.Tensor


# ---------------------------------------------------------------------------------------------------------------
# The GPU benchmark script runs here at a tiny size (array-api-strict and torch CPU).
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("library", ["array_api_strict", "torch"])
def test_gpu_benchmark_smoke(library):
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run([sys.executable, "-m", "benchmarks.gpu", "--library", library, "--batch", "8",
                             "--width", "16", "--steps", "2"], cwd=root, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "step time" in result.stdout and "transfers per step" in result.stdout


# ---------------------------------------------------------------------------------------------------------------
# Special functions: portable forms on every library, PyTorch's own functions on PyTorch, over wide ranges and at the
# edges SciPy pins (the table's samples above only reach small domains).
# ---------------------------------------------------------------------------------------------------------------
def _forward_values(name, lib, *xs, **params):
    """The rule's forward in ``lib`` on NumPy inputs xs, read back."""
    ts = [cr.tensor(lib.put(np.asarray(x, dtype=np.float64))) for x in xs]
    with np.errstate(all="ignore"):  # (array-api-strict computes with NumPy, which warns at nan and inf inputs)
        out = ops.apply(lookup_rule(name), ts, params)
    return lib.get(out._data)


def _assert_relative(found, expected, rtol, atol=0.0):
    """found equals expected to rtol relative where expected is a normal number (atol: near a root); elsewhere (0,
    ±inf, nan, and the subnormals below 1e-300, which SciPy flushes to 0 earlier) exactly, or both below 1e-300."""
    found, expected = np.asarray(found), np.asarray(expected)
    normal = np.isfinite(expected) & (np.abs(expected) > 1e-300)
    np.testing.assert_allclose(found[normal], expected[normal], rtol=rtol, atol=atol)
    rest = ~normal
    tiny = np.isfinite(found[rest]) & (np.abs(found[rest]) <= 1e-300) & (np.abs(expected[rest]) <= 1e-300)
    np.testing.assert_array_equal(np.where(tiny, 0.0, found[rest]), np.where(tiny, 0.0, expected[rest]))


EDGES = np.array([0.0, -0.0, np.inf, -np.inf, np.nan])


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
def test_erfc_against_mpmath_in_the_tail(lib):
    """erfc where SciPy's own erfc is 6e-14 off (it rounds x² before e^(−x²)): against 40-digit mpmath."""
    import mpmath

    mpmath.mp.dps = 40
    x = np.concatenate([np.random.default_rng(0).uniform(-6, 26.5, 400), [1.0, 2.5, 6.0, -1.0, 0.999, 5.999]])
    expected = np.array([float(mpmath.erfc(mpmath.mpf(float(v)))) for v in x])
    np.testing.assert_allclose(_forward_values("erfc", lib, x), expected, rtol=1.5e-15, atol=0)


_PORTABLE_SPECIAL = [
    ("erfc", np.concatenate([np.linspace(-7, 27.5, 20001), EDGES]), 6e-14),  # (SciPy's tail error, above)
    ("ndtr", np.concatenate([np.linspace(-38.5, 9, 20001), EDGES]), 6e-14),
    ("log_ndtr", np.concatenate([np.linspace(-1e3, 40, 20001), np.linspace(-3, 3, 2001), EDGES]), 6e-14),
    ("logit", np.concatenate([np.linspace(0, 1, 20001), 0.5 + np.geomspace(1e-15, 1e-3, 50), [-1, 2], EDGES]),
     1e-15),
    ("entr", np.concatenate([np.geomspace(1e-300, 1e300, 2001), [-1.0], EDGES]), 0),
    ("gammasgn", np.concatenate([np.linspace(-50, 50, 20001), [-1.0, -2.0, -170.0], EDGES]), 0),
]
_OWN_ON_TORCH = {"erfc", "log_ndtr"}  # (backends._OWN_SPECIAL: PyTorch has them, accurate: tested further down)


@pytest.mark.parametrize(("name", "values", "rtol", "lib"), [
    pytest.param(*case, lib, id=f"{case[0]}-{lib.name}") for case in _PORTABLE_SPECIAL for lib in LIBRARIES
    if not (lib.name == "torch" and case[0] in _OWN_ON_TORCH)])
def test_special_functions_against_scipy(name, values, rtol, lib):
    """The portable forms (backends.Backend._forward_*) against SciPy, at SciPy's accuracy."""
    from scipy import special

    with np.errstate(all="ignore"):
        expected = getattr(special, name)(values)
    _assert_relative(_forward_values(name, lib, values), expected, rtol)


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
@pytest.mark.parametrize("name", ["xlogy", "xlog1py"])
def test_x_log_y_against_scipy(name, lib):
    from scipy import special

    a = np.array([0.0, 0.0, 0.0, 0.0, 1.0, 2.0, -1.5, 3.0, np.nan, 0.0, 1e-300])
    b = np.array([0.0, np.nan, -1.0, -2.0, 0.0, 3.0, 2.0, np.inf, 1.0, np.inf, 1e300])
    with np.errstate(all="ignore"):
        expected = getattr(special, name)(a, b)
    _assert_relative(_forward_values(name, lib, a, b), expected, 1e-15)


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
def test_xlogy_gradient_in_b_is_zero_where_a_is_zero(lib):
    """Where a = 0, xlogy is 0 for every b, so ∂/∂b is 0 also at b = 0 (a/b would be 0/0), as on NumPy."""
    a, b = (cr.tensor(lib.put(np.array(v)), requires_grad=True) for v in ([0.0, 0.0, 2.0], [0.0, 3.0, 4.0]))
    with np.errstate(divide="ignore"):  # ∂/∂a = log b is −inf at b = 0 (array-api-strict's NumPy warns)
        ops.apply(lookup_rule("xlogy"), (a, b)).sum().backward()
    np.testing.assert_array_equal(lib.get(b.grad._data), [0.0, 0.0, 0.5])
    np.testing.assert_array_equal(lib.get(a.grad._data), [-np.inf, np.log(3.0), np.log(4.0)])


@pytest.mark.parametrize(("name", "values", "params", "rtol"), [
    ("erfinv", np.concatenate([np.linspace(-1, 1, 20001), [1 - 1e-12, -1 + 1e-15, 2.0, np.nan]]), {}, 1e-15),
    ("ndtri", np.concatenate([np.geomspace(1e-300, 0.5, 2001), 1 - np.geomspace(1e-16, 0.5, 2001), [0, 1, 2, np.nan]]),
     {}, 1e-15),
    ("erfcinv", np.concatenate([np.geomspace(1e-300, 2, 4001), [0, 2, -1, 3, np.nan]]), {}, 1e-15),
    ("gammaln", np.concatenate([np.geomspace(1e-300, 1e300, 2001), np.linspace(-50.5, 50, 2001)]), {}, 1e-14),
    ("i0", np.linspace(-700, 700, 20001), {}, 1e-15),
    ("i1", np.linspace(-700, 700, 20001), {}, 1e-15),
    ("gammainc", np.concatenate([np.geomspace(1e-50, 1e4, 2001), [0, np.inf]]), {"a": 1.5}, 3e-14),
    # (portable on PyTorch too: engine/portable/incomplete.py; Q near 1e-284 has the exponent's error, 6e-14)
    ("gammaincc", np.concatenate([np.geomspace(1e-50, 1e4, 2001), [0, np.inf]]), {"a": 0.5}, 6e-14),
    ("erfc", np.concatenate([np.linspace(-7, 27.5, 20001), EDGES]), {}, 6e-14),
    ("log_ndtr", np.concatenate([np.linspace(-1e3, 40, 20001), np.linspace(-3, 3, 2001), EDGES]), {}, 6e-14),
])
def test_torch_special_functions_against_scipy(name, values, params, rtol):
    """The special functions the backend uses on PyTorch tensors (PyTorch's own, and the portable erfcinv,
    gammainc, gammaincc), against SciPy over wide ranges (see _OWN_SPECIAL; the portable gamma family on PyTorch:
    tests/test_portable_gamma.py)."""
    from scipy import special

    with np.errstate(all="ignore"):
        expected = getattr(special, name)(*params.values(), values)
    near_roots = {"gammaln": 5e-16}.get(name, 0.0)  # absolute: log Γ at 1 and 2
    _assert_relative(_forward_values(name, LIBRARIES[2], values, **params), expected, rtol, near_roots)


# ---------------------------------------------------------------------------------------------------------------
# SciPy's triangular solve and Cholesky factor, N-d convolution and the LSTM layer in other libraries.
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
@pytest.mark.parametrize(("lower", "trans", "unit", "columns"), [
    (True, 0, False, None), (False, 1, False, 2), (True, 1, True, 3), (False, 0, True, None)])
def test_solve_triangular_against_pytorch(lower, trans, unit, columns, lib):
    """Values and gradients against torch.linalg.solve_triangular's autograd: only the triangle read (without its
    diagonal when unit) gets a gradient; the other triangle's entries must not change anything."""
    rng = np.random.default_rng(3)
    a = rng.standard_normal((4, 4)) + 4 * np.eye(4)
    b = rng.standard_normal((4,) if columns is None else (4, columns))
    w = rng.standard_normal(b.shape)
    ta, tb = cr.tensor(lib.put(a), requires_grad=True), cr.tensor(lib.put(b), requires_grad=True)
    y = ops.apply(lookup_rule("solve_triangular"), (ta, tb), {"trans": trans, "lower": lower, "unit_diagonal": unit})
    (y * cr.tensor(lib.put(w))).sum().backward()

    ra, rb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    triangle = (torch.tril(ra, -1 if unit else 0) if lower else torch.triu(ra, 1 if unit else 0))
    if unit:
        triangle = triangle + torch.eye(4, dtype=torch.float64)
    op = triangle.T if trans else triangle
    ref = torch.linalg.solve_triangular(op, rb if columns else rb[:, None], upper=lower == bool(trans))
    ref = ref if columns else ref[:, 0]
    (ref * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(lib.get(y._data), ref.detach().numpy(), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(lib.get(ta.grad._data), ra.grad.numpy(), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(lib.get(tb.grad._data), rb.grad.numpy(), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
def test_singular_triangle_and_indefinite_cho_factor_are_domain_errors(lib):
    a = np.tril(np.ones((3, 3)))
    a[1, 1] = 0.0
    with pytest.raises(cr.DomainError, match=r"solve_triangular: .*singular; expected nonzero diagonal entries"):
        ops.apply(lookup_rule("solve_triangular"), (cr.tensor(lib.put(a)), cr.tensor(lib.put(np.ones(3)))),
                  {"lower": True})
    with pytest.raises(cr.DomainError, match=r"cholesky: .*not positive definite"):
        ops.apply(lookup_rule("cho_factor"), (cr.tensor(lib.put(-np.eye(3))),))


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
def test_cho_factor_gradient_against_pytorch(lib):
    rng = np.random.default_rng(4)
    m = rng.standard_normal((4, 4))
    a, w = m @ m.T + 4 * np.eye(4), rng.standard_normal((4, 4))
    t = cr.tensor(lib.put(a), requires_grad=True)
    (ops.apply(lookup_rule("cho_factor"), (t,)) * cr.tensor(lib.put(w))).sum().backward()
    r = torch.tensor(a, requires_grad=True)
    lower = torch.tril(r) + torch.tril(r, -1).T  # cho_factor reads the lower triangle only
    (torch.linalg.cholesky(lower) * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(lib.get(t.grad._data), r.grad.numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
@pytest.mark.parametrize(("shapes", "mode"), [
    (((7,), (3,)), "full"), (((3,), (7,)), "valid"), (((6,), (4,)), "same"), (((4, 5), (3, 2)), "valid"),
    (((2, 3, 4), (2, 2, 3)), "full"), (((3, 4, 2), (2, 3, 2)), "same"), (((5,), (5,)), "valid")])
def test_convolve_against_scipy(shapes, mode, lib):
    """Values against scipy.signal.convolve (direct method); gradients against SciPy's correlate of the upstream
    gradient placed in the full output: ā = correlate(ḡ, b, "valid") (an independent formula)."""
    from scipy import signal

    rng = np.random.default_rng(5)
    a, b = (rng.standard_normal(s) for s in shapes)
    y_ref = signal.convolve(a, b, mode=mode, method="direct")
    w = rng.standard_normal(y_ref.shape)
    ta, tb = (cr.tensor(lib.put(v), requires_grad=True) for v in (a, b))
    y = ops.apply(lookup_rule("convolve"), (ta, tb), {"mode": mode})
    (y * cr.tensor(lib.put(w))).sum().backward()
    np.testing.assert_allclose(lib.get(y._data), y_ref, rtol=1e-13, atol=1e-13)
    full = tuple(p + q - 1 for p, q in zip(a.shape, b.shape, strict=True))
    g = np.zeros(full)
    g[tuple(slice((n - k) // 2, (n - k) // 2 + k) for n, k in zip(full, w.shape, strict=True))] = w
    np.testing.assert_allclose(lib.get(ta.grad._data), signal.correlate(g, b, mode="valid", method="direct"),
                               rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(lib.get(tb.grad._data), signal.correlate(g, a, mode="valid", method="direct"),
                               rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
def test_lstm_layer_against_pytorch(lib):
    """cr.nn.LSTM moved to the library: outputs and every parameter's gradient equal torch.nn.LSTM's autograd with
    the same weights (two layers, so the second runs on the first's output)."""
    rng = np.random.default_rng(6)
    reference = torch.nn.LSTM(3, 4, num_layers=2).double()
    net = cr.nn.LSTM(3, 4, num_layers=2).to("float64")
    for name, p in reference.named_parameters():
        getattr(net, name).data = np.array(p.detach().numpy(), copy=True)
    target = torch if lib.name == "torch" else DEVICE1 if lib.name == "strict-device1" else strict
    net.to(target)
    x, w = rng.standard_normal((5, 2, 3)), rng.standard_normal((5, 2, 4))
    out, _ = net(cr.tensor(lib.put(x)))
    (out * cr.tensor(lib.put(w))).sum().backward()
    ref_out, _ = reference(torch.tensor(x))
    (ref_out * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(lib.get(out._data), ref_out.detach().numpy(), rtol=1e-12, atol=1e-13)
    for name, p in reference.named_parameters():
        found = getattr(net, name).grad._data
        np.testing.assert_allclose(lib.get(found), p.grad.numpy(), rtol=1e-12, atol=1e-13, err_msg=name)


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
def test_eigh_reads_the_upper_triangle_on_other_libraries(lib):
    import chainrule.numpy as cnp

    rng = np.random.default_rng(3)
    a = rng.standard_normal((4, 4))
    a = a + a.T + np.diag([0.0, 3.0, 6.0, 9.0])  # well separated eigenvalues
    upper = np.triu(a) + np.tril(rng.standard_normal((4, 4)), -1)  # the lower triangle is noise never read
    w_ref, v_ref = np.linalg.eigh(upper, "U")

    def loss(t):  # eigenvalues and |V|²: no dependence on the eigenvectors' signs
        w, v = cnp.linalg.eigh(t, "U")
        return (w * np.arange(1.0, 5.0)).sum() + ((v * v) * np.cos(np.arange(16.0)).reshape(4, 4)).sum()

    t = cr.tensor(lib.put(upper), requires_grad=True)
    w, v = cnp.linalg.eigh(t, "U")
    np.testing.assert_allclose(lib.get(w.data), w_ref, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(np.abs(lib.get(v.data)), np.abs(v_ref), rtol=1e-10, atol=1e-12)
    loss(t).backward()
    np.testing.assert_allclose(lib.get(t.grad.data), cr.grad(loss)(upper), rtol=1e-10, atol=1e-12)


def test_numpy_graphs_keep_the_fast_loop_after_a_move(monkeypatch):
    """A move is found in the graph being differentiated, never remembered: NumPy graphs made after one (in the same
    process) still take the fast backward loop, and a graph with a move hands over to the per-node loop there."""
    from chainrule.engine import reverse

    x = cr.tensor(np.arange(3.0), requires_grad=True)
    (cr.sin(x * 2).to(torch) * 3).sum().to(np).backward()  # a NumPy -> torch -> NumPy graph
    np.testing.assert_allclose(x.grad.numpy(), 6 * np.cos(2 * np.arange(3.0)), rtol=1e-14)
    calls = []
    for name in ("_backward_arrays", "backward_pass"):
        monkeypatch.setattr(reverse, name, (lambda f, n: lambda *a, **k: calls.append(n) or f(*a, **k))(
            getattr(reverse, name), name))
    y = cr.tensor(np.arange(3.0), requires_grad=True)
    (cr.exp(y) * y).sum().backward()
    assert calls == ["_backward_arrays"]
    calls.clear()
    z = cr.tensor(np.arange(3.0), requires_grad=True)
    cr.exp(cr.exp(z).to(torch)).sum().to(np).backward()
    assert calls == ["_backward_arrays", "backward_pass"]  # NumPy's part fast, then from the move on per node
    np.testing.assert_allclose(z.grad.numpy(), np.exp(np.exp(np.arange(3.0))) * np.exp(np.arange(3.0)), rtol=1e-14)
