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
import inspect
import subprocess
import sys
from pathlib import Path

import array_api_strict as strict
import numpy as np
import pytest
import torch
from helpers import differentiable_inputs, sample_inputs

import chainrule as cr
from chainrule import ops
from chainrule.engine import backends
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
            return x.detach().numpy()
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

# Rules with no forward in the Array API backend yet (NotImplementedError naming them): special functions, linear
# algebra, FFTs, convolutions, recurrent cells... This list may only shrink.
NO_FORWARD = {
    "angle", "beta", "betainc", "betaln", "cho_factor", "cholesky", "convolve", "det", "digamma", "eigh", "eigvalsh",
    "entr", "erfc", "erfcinv", "erfinv", "fft_resize", "fftn", "fold", "gamma", "gammainc", "gammaincc",
    "gammaln", "gammasgn", "i0", "i1", "ifftn", "inv", "irfftn", "iv", "ive", "j0", "j1", "jv",
    "log_ndtr", "logabsdet", "logdet", "logit", "lstm", "ndtr", "ndtri", "odeint", "pinv", "polygamma", "prod",
    "qr", "rfftn", "rgamma", "sinc", "solve", "solve_sylvester", "solve_triangular", "sqrtm", "stdtr",
    "step", "svd", "svdvals", "unfold", "xlog1py", "xlogy", "y0", "y1", "yv",
}
# (rule, sample index) that have a forward but do not work yet, with the exception they raise. May only shrink.
KNOWN_GAPS = {
    ("astype", 0): AttributeError,  # its vjp reads dtype.kind
    ("imag", 0): TypeError,  # the Array API's imag takes complex input only
    ("getitem", 2): NotImplementedError,  # integer-array indices: the gradient needs a scatter-add
    ("scatter", 0): NotImplementedError,  # (so does scatter with repeated indices, getitem's own derivative)
    ("getitem", 3): NotImplementedError,
    ("getitem", 4): NotImplementedError,  # a boolean mask
    ("getitem", 5): IndexError,  # array indices mixed with slices: not in the Array API
    ("getitem", 6): IndexError,
    # _extreme_share computes on NumPy values: recording max/min for backward is refused (the forward works)
    ("max", 0): NotImplementedError, ("max", 1): NotImplementedError, ("max", 2): NotImplementedError,
    ("min", 0): NotImplementedError, ("min", 1): NotImplementedError, ("min", 2): NotImplementedError,
}


# Gaps of one library only: PyTorch's slices take no negative step (cumsum's vjp reverses with [::-1]).
LIBRARY_GAPS = {("torch", "cumsum", k): ValueError for k in range(3)}


def _backend():
    return backends.backend(strict.asarray(0.0))


def _table_cases():
    cases = []
    for rule in all_rules():
        if rule.name in NO_FORWARD:
            continue
        for k in range(len(rule.samples)):
            if (rule.name, k) not in KNOWN_GAPS:
                cases.append(pytest.param(rule, k, id=f"{rule.name}-{k}"))
    return cases


def test_rules_without_forward_are_exactly_the_listed_ones():
    backend = _backend()
    missing = set()
    for rule in all_rules():
        try:
            backend.forward(rule)
        except NotImplementedError as exc:
            assert f"'{rule.name}'" in str(exc) and "array_api_strict" in str(exc)
            missing.add(rule.name)
    assert missing == NO_FORWARD


@pytest.mark.parametrize(("name", "k"), sorted(KNOWN_GAPS))
def test_known_gaps_still_fail_loudly(name, k):
    """Each listed gap raises (never a wrong number); when one starts to work, remove it from KNOWN_GAPS."""
    rule = next(r for r in all_rules() if r.name == name)
    with pytest.raises(KNOWN_GAPS[(name, k)]):
        _run(rule, k, LIBRARIES[0])


def _run(rule, k, lib):
    """The rule on the sample's inputs in NumPy and in ``lib``: (numpy inputs, numpy output, library inputs,
    library output, upstream weights); backward done on both with the same upstream gradient."""
    sample = rule.samples[k]
    xs = sample_inputs(rule, sample, seed=k)
    diff = set(differentiable_inputs(rule, sample))
    tn = [cr.tensor(x, requires_grad=i in diff and x.dtype.kind == "f") for i, x in enumerate(xs)]
    tf = [cr.tensor(lib.put(x), requires_grad=i in diff and x.dtype.kind == "f") for i, x in enumerate(xs)]
    yn = ops.apply(rule, tn, sample.params)
    yf = ops.apply(rule, tf, sample.params)
    w = None
    if yn.requires_grad:
        w = np.random.default_rng(k + 1).standard_normal(yn.shape)
        (yn * w).sum().backward()
        (yf * cr.tensor(lib.put(w))).sum().backward()
    return tn, yn, tf, yf, w


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
@pytest.mark.parametrize(("rule", "k"), _table_cases())
def test_values_and_gradients_equal_numpys(rule, k, lib):
    gap = LIBRARY_GAPS.get((lib.name, rule.name, k))
    if gap is not None:
        with pytest.raises(gap):
            _run(rule, k, lib)
        return
    tn, yn, tf, yf, _ = _run(rule, k, lib)
    lib.check_home(yf._data)
    assert yf.shape == yn.shape and yf.dtype == yn.dtype
    np.testing.assert_allclose(lib.get(yf._data), yn.data, rtol=TOL, atol=TOL)
    for a, b in zip(tn, tf, strict=True):
        if not a.requires_grad:
            continue
        assert b.grad is not None, f"no gradient for an input of {rule.name}"
        lib.check_home(b.grad._data)
        np.testing.assert_allclose(lib.get(b.grad._data), a.grad.data, rtol=TOL, atol=TOL)


@pytest.mark.parametrize(("rule", "k"), _table_cases())
def test_gradients_match_central_differences_in_the_library(rule, k):
    """⟨grad, v⟩ against (f(x + εv) − f(x − εv)) / 2ε of the library's own forward, for each input."""
    lib = LIBRARIES[0]
    _, _, tf, _, w = _run(rule, k, lib)
    if w is None:
        pytest.skip("no gradient flows through this rule")
    sample, eps = rule.samples[k], 1e-6
    xs = [lib.get(t._data) for t in tf]
    rng = np.random.default_rng(99)

    def f(values):
        ts = [cr.tensor(lib.put(v)) for v in values]
        return float(np.sum(lib.get(ops.apply(rule, ts, sample.params)._data) * w))

    for i, t in enumerate(tf):
        if not t.requires_grad:
            continue
        v = rng.standard_normal(xs[i].shape)
        plus, minus = list(xs), list(xs)
        plus[i], minus[i] = xs[i] + eps * v, xs[i] - eps * v
        numeric = (f(plus) - f(minus)) / (2 * eps)
        analytic = float(np.sum(lib.get(t.grad._data) * v))
        assert abs(numeric - analytic) <= 1e-6 * max(1.0, abs(numeric)), (rule.name, i, numeric, analytic)


def test_every_elementwise_rule_with_a_forward_is_tested():
    tested = {p.values[0].name for p in _table_cases()}
    elementwise = {r.name for r in all_rules() if r.kind == ELEMENTWISE and r.name not in NO_FORWARD}
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
    with pytest.raises(cr.GraphError, match="leaves"):
        (on_device * 2).to(np)


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


def test_rule_without_backend_forward_names_rule_and_library():
    x = cr.tensor(strict.asarray([0.5]), requires_grad=True)
    with pytest.raises(NotImplementedError, match=r"'sinc'.*array_api_strict"):
        cr.sinc(x)
    with pytest.raises(NotImplementedError, match=r"'prod'.*torch"):
        cr.prod(cr.tensor(torch.tensor([0.5], dtype=torch.float64), requires_grad=True))


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
    """x[0], x[None], x[:, 1:3], x[..., 0] on a matrix: values and gradients as on NumPy (the Array API asks for a
    trailing ... when an index names fewer axes, and takes no None when assigning)."""
    data = np.arange(12.0).reshape(3, 4)
    for index in (0, (None,), (slice(None), slice(1, 3)), (Ellipsis, 0), (1, None, slice(0, 2))):
        xn, xf = cr.tensor(data, requires_grad=True), cr.tensor(lib.put(data), requires_grad=True)
        w = np.random.default_rng(0).standard_normal(data[index].shape)
        (xn[index] * w).sum().backward()
        yf = xf[index]
        (yf * cr.tensor(lib.put(w))).sum().backward()
        np.testing.assert_array_equal(lib.get(yf._data), data[index])
        np.testing.assert_array_equal(lib.get(xf.grad._data), xn.grad.data)


@pytest.mark.parametrize("lib", LIBRARIES, ids=LIBRARY_IDS)
def test_max_forward_works_and_its_gradient_is_refused(lib):
    x = cr.tensor(lib.put(np.array([1.0, 3.0, 2.0])), requires_grad=True)
    assert lib.get(x.detach().max()._data) == 3.0
    with pytest.raises(NotImplementedError, match=r"gradient of 'max'"):
        x.max()


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


@pytest.mark.parametrize("k", [2, 3, 4])
def test_indexing_with_arrays_on_torch(k):
    """Integer-array and mask indexing (repeated indices add up) through PyTorch's index_put_(accumulate=True):
    values and gradients as NumPy's np.add.at gives them; on array-api-strict the same raises (KNOWN_GAPS)."""
    rule, lib = lookup_rule("getitem"), Library("torch")
    tn, yn, tf, yf, _ = _run(rule, k, lib)
    np.testing.assert_array_equal(lib.get(yf._data), yn.data)
    np.testing.assert_allclose(lib.get(tf[0].grad._data), tn[0].grad.data, rtol=TOL, atol=TOL)


def test_embedding_trains_on_torch():
    table = cr.nn.Embedding(5, 3, seed=0).to("float64")
    reference = cr.nn.Embedding(5, 3, seed=0).to("float64")
    table.to(torch)
    tokens = np.array([[0, 2, 2], [4, 0, 2]])
    for module in (table, reference):
        (module(tokens) * 2.0).sum().backward()
    np.testing.assert_array_equal(table.weight.grad._data.numpy(), reference.weight.grad.data)
    assert table.weight.grad.data.tolist()[2] == [6.0, 6.0, 6.0]  # token 2 three times, times 2


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
# Derivatives that still call NumPy directly (np.<name>) cannot run on another library. This list may only shrink.
# ---------------------------------------------------------------------------------------------------------------
# NumPy names that only read metadata or guard a NumPy-only fast path (np.shape, isinstance(x, np.ndarray)...):
# allowed for good.
NP_METADATA = {"shape", "ndim", "size", "argsort", "ndarray", "generic", "int64"}
# NumPy calls on values still inside derivatives (directly or in the table's helpers they call), by rule: each has
# to move behind ``m`` for the rule to run on other libraries. This table may only shrink.
NP_IN_DERIVATIVES = {
    "all": {"prod"},
    "any": {"abs", "angle", "eigh", "power", "sinc", "svd", "xlog1py", "xlogy"},  # branches on NumPy values only
    "arange": {"cross_entropy"},  # _one_hot's NumPy branch; other libraries use m.one_hot
    "concatenate": {"lstm"},
    "dtype": {"betainc", "cho_factor", "gammainc", "gammaincc", "solve_triangular", "stdtr"},
    "empty": {"irfftn", "lstm"},
    "asarray": {"logabsdet", "logdet"},
    "eye": {"cholesky", "det", "eigh", "eigvalsh", "logabsdet", "logdet", "pinv", "qr", "svd"},
    "float64": {"betainc", "gammainc", "gammaincc", "stdtr"},
    "full": {"irfftn"},
    "isnan": {"max", "min"},
    "log": {"stdtr"},
    "multiply": {"lstm"},
    "ones": {"cholesky", "eigh", "eigvalsh", "qr"},
    "pi": {"stdtr"},
    "prod": {"mean", "prod", "std", "var"},  # mean, std, var: np.prod of a shape (metadata)
    "result_type": {"betainc", "gammainc", "gammaincc", "logabsdet", "logdet", "max", "min", "stdtr"},
    "subtract": {"gelu_tanh"},
    "sum": {"max", "min"},
    "tanh": {"gelu_tanh"},
    "tril": {"cholesky", "eigh", "eigvalsh", "qr"},
    "zeros": {"cross_entropy", "odeint"},  # cross_entropy: _one_hot's NumPy branch
}


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
