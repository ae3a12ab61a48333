"""Gradient hooks against torch==2.13: Tensor.register_hook, retain_grad, register_post_accumulate_grad_hook and
Module full backward (pre-)hooks. Each test runs the same computation in both and compares which hooks were called,
in which order, with which values, and the gradients that come out (replaced ones included); central differences
check what a hook sees; and graphs without hooks must keep the fast loop."""

from __future__ import annotations

import gc
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.engine import hooks
from chainrule.nn.backward_hooks import hooked_modules


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return torch


RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 3))
W1, B1 = RNG.standard_normal((5, 3)), RNG.standard_normal(5)
W2 = RNG.standard_normal((2, 5))


def _values(g):
    return np.asarray(g.detach().numpy() if hasattr(g, "detach") else g.numpy(), dtype=np.float64)


def _same_log(ours, theirs):
    """The two logs name the same hooks in the same order with the same values (float64: to the last bits)."""
    assert [entry[0] for entry in ours] == [entry[0] for entry in theirs]
    for (name, a), (_, b) in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(_values(a), _values(b), rtol=1e-13, atol=1e-14, err_msg=name)


@pytest.fixture(autouse=True)
def no_hooks_left():
    """Every test ends with no hook in the process (so other tests keep the fast loop). A failed test may leave
    some behind (its traceback holds them): they are forgotten before the next test, which starts clean."""
    gc.collect()
    hooks.owners.clear()
    hooked_modules.clear()
    yield
    gc.collect()
    assert not hooks.owners and not hooked_modules, "a hook outlived its test"


# ---------------------------------------------------------------------------------------------------------------
# Tensor hooks.
# ---------------------------------------------------------------------------------------------------------------
def _mlp(lib, tensor, log, replace=True):
    """tanh(x W1ᵀ + b1) W2ᵀ, squared and summed, with hooks on the leaves, the hidden layer and the output."""
    x, w1, b1, w2 = (tensor(a) for a in (X, W1, B1, W2))
    for name, leaf in (("x", x), ("w1", w1), ("b1", b1), ("w2", w2)):
        leaf.register_hook(lambda g, name=name: log.append((name, g)))
    pre = x @ w1.T + b1
    pre.register_hook(lambda g: log.append(("pre", g)))
    h = lib.tanh(pre)
    h.register_hook(lambda g: log.append(("h.1", g)))
    if replace:
        h.register_hook(lambda g: g * 3)  # every gradient below h is three times larger
    h.register_hook(lambda g: log.append(("h.3", g)))
    out = h @ w2.T
    out.register_hook(lambda g: log.append(("out", g)))
    loss = (out ** 2).sum()
    return loss, (x, w1, b1, w2)


@pytest.mark.parametrize("replace", [False, True])
def test_hook_order_values_and_replaced_gradients_match_torch(torch, replace):
    ours_log, theirs_log = [], []
    loss, leaves = _mlp(cr, lambda a: cr.tensor(a, requires_grad=True), ours_log, replace)
    loss.backward()
    loss_t, leaves_t = _mlp(torch, lambda a: torch.tensor(a, requires_grad=True), theirs_log, replace)
    loss_t.backward()
    # torch runs a leaf's hooks as soon as its gradient is complete: w2's before the hidden layer's
    assert [n for n, _ in theirs_log] == ["out", "w2", "h.1", "h.3", "pre", "b1", "x", "w1"]
    _same_log(ours_log, theirs_log)
    for ours, theirs in zip(leaves, leaves_t, strict=True):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-13, atol=1e-14)


def test_what_a_hook_sees_is_the_gradient_by_central_differences():
    """The hidden layer's hook sees dL/dh: checked element by element against central differences of
    L(h) = sum((h W2ᵀ)²) at that h."""
    seen = []
    h = cr.tanh(cr.tensor(X) @ cr.tensor(W1).T + cr.tensor(B1)).detach().requires_grad_()
    hh = h * 1.0
    hh.register_hook(seen.append)
    ((hh @ cr.tensor(W2).T) ** 2).sum().backward()
    h0, eps = h.numpy().copy(), 1e-6
    numeric = np.zeros_like(h0)
    for i in np.ndindex(h0.shape):
        up, down = h0.copy(), h0.copy()
        up[i] += eps
        down[i] -= eps
        numeric[i] = (((up @ W2.T) ** 2).sum() - ((down @ W2.T) ** 2).sum()) / (2 * eps)
    np.testing.assert_allclose(seen[0].numpy(), numeric, rtol=1e-7, atol=1e-8)


def test_a_leaf_used_twice_and_post_accumulate_hooks_match_torch(torch):
    logs = []
    for lib in (cr, torch):
        log = []
        a = lib.tensor(1.5, requires_grad=True)
        a.register_hook(lambda g, log=log: log.append(("a", float(g))))
        a.register_hook(lambda g: g * 2)
        a.register_post_accumulate_grad_hook(lambda t, log=log: log.append(("post", float(t.grad))))
        b = a * 2
        b.register_hook(lambda g, log=log: log.append(("b", float(g))))
        (a * b + a).backward()
        log.append(("grad", float(a.grad)))
        a.backward(lib.tensor(5.0))  # a leaf as the root: its hooks run too
        log.append(("grad", float(a.grad)))
        logs.append(log)
    assert logs[0] == logs[1] == [("b", 1.5), ("a", 7.0), ("post", 14.0), ("grad", 14.0), ("a", 5.0),
                                  ("post", 24.0), ("grad", 24.0)]


def test_retain_grad_over_two_backward_calls_matches_torch(torch):
    results = []
    for lib in (cr, torch):
        x = lib.tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)
        h = lib.sin(x) * 3
        h.retain_grad()
        h.retain_grad()  # twice: still once
        h.register_hook(lambda g: g * 10)  # registered after retain_grad, yet .grad sees it (torch runs it last)
        y = (h ** 2).sum()
        y.backward(retain_graph=True)
        first = _values(h.grad).copy()
        y.backward()
        x.retain_grad()  # a leaf: nothing to do
        results.append((first, _values(h.grad), _values(x.grad), h.retains_grad, x.retains_grad))
    (f, s, gx, r, rx), (ft, st, gxt, rt, rxt) = results
    np.testing.assert_allclose(f, ft, rtol=1e-14)
    np.testing.assert_allclose(s, st, rtol=1e-14)
    np.testing.assert_allclose(s, 2 * f, rtol=1e-15)
    np.testing.assert_allclose(gx, gxt, rtol=1e-14)
    assert (r, rx) == (rt, rxt) == (True, False)


def test_retained_gradient_is_a_copy():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    h = x + 0  # its gradient reaches x unchanged: the same array, unless retain_grad copies it
    h.retain_grad()
    (h * cr.tensor([2.0, 3.0])).sum().backward()
    x.grad.data[...] = 7  # as clip_grad_norm_ would change a gradient in place
    assert h.grad.tolist() == [2.0, 3.0]


def test_hooks_run_on_each_pass_and_stop_when_removed(torch):
    for lib in (cr, torch):
        calls = []
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        h = x * x
        handle = h.register_hook(lambda g, calls=calls: calls.append(g.tolist()))
        y = h.sum()
        y.backward(retain_graph=True)
        y.backward(retain_graph=True)
        handle.remove()
        handle.remove()  # again: nothing
        y.backward()
        with x.register_hook(lambda g: g * 0):
            (x * 3).sum().backward()
        (x * 3).sum().backward()  # the with block removed it
        assert calls == [[1.0, 1.0], [1.0, 1.0]]
        assert x.grad.tolist() == [9.0, 15.0]


def test_without_hooks_backward_takes_the_fast_loop_again(monkeypatch):
    from chainrule.engine import reverse

    calls = []
    fast = reverse._backward_arrays
    monkeypatch.setattr(reverse, "_backward_arrays", lambda *a: calls.append(1) or fast(*a))
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    handle = x.register_hook(lambda g: g)
    h = cr.exp(x)
    h.retain_grad()
    (h * 2).sum().backward()
    assert calls == [] and hooks.owners
    handle.remove()
    del h
    gc.collect()
    assert not hooks.owners  # the retained tensor's node died with its graph
    (cr.exp(x) * 2).sum().backward()
    assert calls == [1]


def test_unchanging_hooks_leave_gradients_bit_identical():
    """The plain loop with hooks gives the fast loop's numbers exactly (the differential test's promise)."""
    def run(hooked):
        x = cr.tensor(X, requires_grad=True)
        w = cr.tensor(W1, requires_grad=True)
        h = cr.relu(x @ w.T) * cr.sigmoid(x @ w.T)
        if hooked:
            h.register_hook(lambda g: None)
            w.register_hook(lambda g: None)
        cr.logsumexp(h * h, axis=1).sum().backward()
        return x.grad.numpy(), w.grad.numpy()

    for a, b in zip(run(False), run(True), strict=True):
        assert np.array_equal(a, b)


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_create_graph_hook_sees_a_tensor_in_the_graph(torch):
    results = []
    for lib in (cr, torch):
        x = lib.tensor(np.array([0.5, -1.5]), requires_grad=True)
        h = x ** 3
        seen = []
        h.register_hook(lambda g, h=h, seen=seen: seen.append(g.requires_grad) or g * h)
        (h ** 2).sum().backward(create_graph=True)
        first = _values(x.grad).copy()
        x.grad.sum().backward()  # through h again: its hook runs again, on a plain gradient this time
        results.append((seen, first, _values(x.grad)))
    (seen, first, second), (seen_t, first_t, second_t) = results
    assert seen == seen_t == [True, False]
    np.testing.assert_allclose(first, first_t, rtol=1e-14)
    np.testing.assert_allclose(second, second_t, rtol=1e-14)
    # by hand: dL/dh = 2h, the hook makes it 2h·h, times dh/dx = 3x²: 6x⁸
    np.testing.assert_allclose(first, 6 * np.array([0.5, -1.5]) ** 8, rtol=1e-14)


def test_grad_and_vjp_run_hooks_as_torch_autograd_grad(torch):
    log, log_t = [], []
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: log.append(("x", g)) or g * 10)

    def f(x, log, lib):
        h = x * 3
        h.register_hook(lambda g: log.append(("h", g)) or g + 1)
        return (h ** 2).sum()

    g = cr.grad(f)(x, log, cr)
    xt = torch.tensor([1.0, 2.0], requires_grad=True)
    xt.register_hook(lambda g: log_t.append(("x", g)) or g * 10)
    (gt,) = torch.autograd.grad(f(xt, log_t, torch), xt)
    _same_log(log, log_t)
    np.testing.assert_allclose(_values(g), gt.numpy(), rtol=1e-15)
    assert x.grad is None and xt.grad is None  # returned, never accumulated
    log.clear()
    _, vjp_fn = cr.vjp(lambda x: f(x, log, cr), x)
    np.testing.assert_allclose(_values(vjp_fn(1.0)[0]), gt.numpy(), rtol=1e-15)
    _same_log(log, log_t)


def test_jacobian_calls_hooks_once_per_row_as_torch(torch):
    rows, rows_t = [], []

    def f(x, rows):
        h = x * x
        h.register_hook(lambda g: rows.append(g) or g * 2)
        return h[[2, 0, 1]] * 3

    x0 = np.array([1.0, 2.0, 3.0])
    jac = cr.jacobian(lambda x: f(x, rows))(x0)
    jac_t = torch.autograd.functional.jacobian(lambda x: f(x, rows_t), torch.tensor(x0))
    np.testing.assert_allclose(jac, jac_t.numpy(), rtol=1e-15)
    expected = np.zeros((3, 3))
    for i, j in enumerate([2, 0, 1]):
        expected[i, j] = 2 * 3 * 2 * x0[j]  # the hook's 2 · d(3 x²)/dx
    np.testing.assert_allclose(jac, expected, rtol=1e-15)
    _same_log([("row", r) for r in rows], [("row", r) for r in rows_t])


def test_hooks_on_another_array_library():
    xp = pytest.importorskip("array_api_strict")
    x = cr.tensor(xp.asarray([1.0, 2.0]), requires_grad=True)
    seen = []
    x.register_hook(seen.append)
    h = x * 3
    h.retain_grad()
    h.register_hook(lambda g: g * 2)
    (h * h).sum().backward()
    assert type(seen[0].data) is type(x.data) and type(h.grad.data) is type(x.data)
    assert h.grad.tolist() == [12.0, 24.0] and x.grad.tolist() == [36.0, 72.0] == seen[0].tolist()


def test_bad_hooks_raise_torchs_errors(torch):
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    xt = torch.tensor([1.0, 2.0], requires_grad=True)
    for t in (cr.tensor([1.0]), torch.tensor([1.0])):
        with pytest.raises(RuntimeError, match="doesn't require gradient"):
            t.register_hook(print)
        with pytest.raises(RuntimeError, match="retain_grad"):
            t.retain_grad()
    for t in (x * 2, xt * 2):
        with pytest.raises(RuntimeError, match="non-leaf"):
            t.register_post_accumulate_grad_hook(print)
    with pytest.raises(TypeError, match="expects a function"):
        x.register_hook(3)
    for t in (x, xt):
        handle = t.register_hook(lambda g: g.sum())
        with pytest.raises(RuntimeError, match=r"shape|size"):
            (t * 2).sum().backward()
        handle.remove()
    with pytest.raises(cr.ShapeError, match=r"the hook '<lambda>' changed the gradient's shape from \(2,\) to \(\)"), \
            x.register_hook(lambda g: g.sum()):
        (x * 2).sum().backward()
    for t in (x, xt):
        with pytest.raises(TypeError), t.register_hook(lambda g: 3):
            (t * 2).sum().backward()
    with pytest.raises(TypeError, match="from float64 to complex128"), x.register_hook(lambda g: g * 1j):
        (x * 2).sum().backward()


@pytest.mark.parametrize("leaf", [True, False])
def test_a_hook_may_not_change_the_dtype_as_torch(torch, leaf):
    for lib, to32 in ((cr, lambda g: g.astype("float32")), (torch, lambda g: g.to(torch.float32))):
        x = lib.tensor(np.array([1.0, 2.0]), requires_grad=True)
        h = x if leaf else x * 2
        h.register_hook(to32)
        with pytest.raises((TypeError, RuntimeError), match=r"changed the (gradient's dtype|type of value)"):
            (h * h).sum().backward()
        del h, x


# ---------------------------------------------------------------------------------------------------------------
# Module hooks.
# ---------------------------------------------------------------------------------------------------------------
def _copy_parameters(ours, theirs, torch):
    with torch.no_grad():
        for (name, p), (name_t, pt) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
            assert name == name_t
            pt.copy_(torch.from_numpy(p.numpy().copy()))


def _module_log(module, log, name):
    module.register_full_backward_pre_hook(lambda m, go: log.append((f"pre {name}", go)))
    module.register_full_backward_hook(lambda m, gi, go: log.append((f"full {name}", gi, go)))


def _same_module_log(ours, theirs):
    assert [e[0] for e in ours] == [e[0] for e in theirs]
    for a, b in zip(ours, theirs, strict=True):
        for tuple_a, tuple_b in zip(a[1:], b[1:], strict=True):
            assert len(tuple_a) == len(tuple_b)
            for va, vb in zip(tuple_a, tuple_b, strict=True):
                assert (va is None) == (vb is None), a[0]
                if va is not None:
                    np.testing.assert_allclose(_values(va), _values(vb), rtol=1e-12, atol=1e-13, err_msg=a[0])


def _run_both(torch, ours, theirs, x, hook_up, needs_grad=True):
    _copy_parameters(ours, theirs, torch)
    logs = []
    for module, lib in ((ours, cr), (theirs, torch)):
        log = []
        hook_up(module, log)
        xi = lib.tensor(x, requires_grad=needs_grad)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's "full backward hook is firing..." when x needs no gradient
            (module(xi) ** 2).sum().backward()
        logs.append((log, xi, module))
    _same_module_log(logs[0][0], logs[1][0])
    return logs


@pytest.mark.parametrize("needs_grad", [True, False])
def test_linear_hooks_match_torch(torch, needs_grad):
    logs = _run_both(torch, nn.Linear(3, 2, dtype="float64", seed=0), torch.nn.Linear(3, 2).double(), X[:, :3],
                     lambda m, log: _module_log(m, log, "linear"), needs_grad)
    assert [e[0] for e in logs[0][0]] == ["pre linear", "full linear"]
    assert (logs[0][0][1][1][0] is None) == (not needs_grad)


def test_conv2d_hooks_match_torch(torch):
    image = RNG.standard_normal((2, 3, 6, 6))
    _run_both(torch, nn.Conv2d(3, 4, 3, padding=1, dtype="float64", seed=0),
              torch.nn.Conv2d(3, 4, 3, padding=1).double(), image, lambda m, log: _module_log(m, log, "conv"))


def test_sequential_hooks_order_and_values_match_torch(torch):
    ours = nn.Sequential(nn.Linear(3, 5, dtype="float64", seed=0), nn.Tanh(), nn.Linear(5, 2, dtype="float64", seed=1))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2)).double()

    def hook_up(module, log):
        _module_log(module, log, "seq")
        for i, layer in enumerate(module):
            _module_log(layer, log, str(i))

    logs = _run_both(torch, ours, theirs, X, hook_up)
    assert [e[0] for e in logs[0][0]] == ["pre seq", "pre 2", "full 2", "pre 1", "full 1", "pre 0", "full 0",
                                          "full seq"]
    np.testing.assert_allclose(logs[0][1].grad.numpy(), logs[1][1].grad.numpy(), rtol=1e-13)


class _Two:
    """A module of two tensor inputs (one may need no gradient), a number and two outputs (one may go unused)."""

    @staticmethod
    def forward(a, b, scale=2.0):
        return a * b * scale, a + 1


class Two(nn.Module):
    forward = staticmethod(_Two.forward)


@pytest.mark.parametrize("b_needs_grad, use_second", [(False, False), (True, True), (True, False)])
def test_custom_module_with_two_inputs_matches_torch(torch, b_needs_grad, use_second):
    class TwoT(torch.nn.Module):
        forward = staticmethod(_Two.forward)

    a0, b0 = RNG.standard_normal(3), RNG.standard_normal(3)
    logs = []
    for module, lib in ((Two(), cr), (TwoT(), torch)):
        log = []
        _module_log(module, log, "two")
        a, b = lib.tensor(a0, requires_grad=True), lib.tensor(b0, requires_grad=b_needs_grad)
        u, v = module(a, b, 3.0)
        (u.sum() + (2 * v).sum() if use_second else u.sum()).backward()
        logs.append(log)
    _same_module_log(*logs)
    pre, full = logs[0]
    assert (pre[1][1] is None) == (not use_second) and len(full[1]) == 3 and full[1][2] is None
    assert full[1][1] is not None  # b's entry: zeros when b needs no gradient, as torch's
    assert np.all(full[1][1].numpy() == 0) == (not b_needs_grad)


def test_module_hooks_replace_gradients_as_torch(torch):
    def hook_up(module, log):
        module.register_full_backward_pre_hook(lambda m, go: (go[0] * 10,))
        module.register_full_backward_hook(lambda m, gi, go: log.append(("full", gi, go)))
        module.register_full_backward_hook(lambda m, gi, go: (gi[0] + 1,))

    logs = _run_both(torch, nn.Linear(3, 2, dtype="float64", seed=0), torch.nn.Linear(3, 2).double(), X, hook_up)
    (_, x, lin), (_, xt, lin_t) = logs
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-13)
    np.testing.assert_allclose(lin.weight.grad.numpy(), lin_t.weight.grad.numpy(), rtol=1e-13)
    # by hand: dL/dW = 10 · 2(xWᵀ + b)ᵀx, dL/dx = 10 · 2(xWᵀ + b)W + 1
    out = X @ lin.weight.numpy().T + lin.bias.numpy()
    np.testing.assert_allclose(lin.weight.grad.numpy(), 20 * out.T @ X, rtol=1e-13)
    np.testing.assert_allclose(x.grad.numpy(), 20 * out @ lin.weight.numpy() + 1, rtol=1e-13)


def test_a_module_hook_that_returns_none_drops_the_gradient_as_torch(torch):
    grads = []
    for lin, lib in ((nn.Linear(3, 2, dtype="float64", seed=0), cr), (torch.nn.Linear(3, 2).double(), torch)):
        lin.register_full_backward_hook(lambda m, gi, go: (None,))
        x = lib.tensor(X, requires_grad=True)
        lin(x).sum().backward()
        grads.append((x.grad, lin.weight.grad is not None))
    assert grads[0][0] is None and grads[1][0] is None and grads[0][1] and grads[1][1]


def test_module_hooks_twice_with_retain_graph_then_removed(torch):
    counts = []
    for lin, lib in ((nn.Linear(3, 2, dtype="float64", seed=0), cr), (torch.nn.Linear(3, 2).double(), torch)):
        calls = []
        pre = lin.register_full_backward_pre_hook(lambda m, go, calls=calls: calls.append("pre"))
        full = lin.register_full_backward_hook(lambda m, gi, go, calls=calls: calls.append("full"))
        y = lin(lib.tensor(X, requires_grad=True)).sum()
        y.backward(retain_graph=True)
        y.backward()
        pre.remove()
        full.remove()
        lin(lib.tensor(X, requires_grad=True)).sum().backward()
        counts.append(calls)
    assert counts[0] == counts[1] == ["pre", "full", "pre", "full"]


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_copies_keep_module_hooks_and_drop_tensor_hooks_as_torch(torch):
    import copy

    seen = []
    for lin, lib in ((nn.Linear(3, 2, dtype="float64", seed=0), cr), (torch.nn.Linear(3, 2).double(), torch)):
        calls = []
        lin.weight.register_hook(lambda g: g * 0)
        handle = lin.register_full_backward_pre_hook(lambda m, go, calls=calls: calls.append(m))
        twin = copy.deepcopy(lin)
        handle.remove()  # the original's only
        twin(lib.tensor(X[:, :3])).sum().backward()
        lin(lib.tensor(X[:, :3])).sum().backward()
        seen.append((calls == [twin], float(twin.weight.grad.abs().sum()) > 0, float(lin.weight.grad.abs().sum())))
        del twin, calls
    assert seen[0] == seen[1] == (True, True, 0.0)


def test_graphs_with_hooks_are_freed_without_the_garbage_collector():
    """No reference cycle: a hooked graph (and its arrays) goes as soon as its last use does."""
    net = nn.Sequential(nn.Linear(3, 5, dtype="float64", seed=0), nn.Tanh(), nn.Linear(5, 2, dtype="float64", seed=1))
    x = cr.tensor(X, requires_grad=True)
    handles = [net[2].register_full_backward_hook(lambda m, gi, go: None),
               net[1].register_full_backward_pre_hook(lambda m, go: None), x.register_hook(lambda g: g)]
    gc.disable()
    try:
        for _ in range(3):
            h = net(x)
            h.retain_grad()
            h.register_hook(lambda g: g * 1)
            (h ** 2).sum().backward()
            del h
        assert [type(ref()) for ref in hooks.owners.values()] == [cr.Tensor]  # x's own hook only
    finally:
        gc.enable()
    for handle in handles:
        handle.remove()
    assert not hooks.owners and not hooked_modules


def test_forward_and_backward_hooks_compose_as_torch(torch):
    """PyTorch's order: forward pre-hooks, the inputs' side of the backward hooks, forward, forward hooks, the
    outputs' side: grad_output is the gradient of the output the forward hooks made, grad_input of the arguments
    the pre-hooks made."""
    logs = []
    for lin, lib in ((nn.Linear(3, 2, dtype="float64", seed=0), cr), (torch.nn.Linear(3, 2).double(), torch)):
        log = []
        lin.register_forward_pre_hook(lambda m, args: (args[0] * 3,))
        lin.register_forward_hook(lambda m, args, out: out ** 2)
        _module_log(lin, log, "linear")
        x = lib.tensor(X, requires_grad=True)
        lin(x).sum().backward()
        logs.append((log, x.grad))
    assert [e[0] for e in logs[0][0]] == [e[0] for e in logs[1][0]] == ["pre linear", "full linear"]
    ours, theirs = logs[0][0], logs[1][0]
    np.testing.assert_allclose(_values(ours[0][1][0]), 1.0)  # d(sum)/d(out²): ones, the hook's output's gradient
    np.testing.assert_allclose(_values(theirs[0][1][0]), 1.0)
    # grad_input is for the tripled argument: dL/dx = 3 · grad_input
    np.testing.assert_allclose(logs[0][1].numpy(), 3 * _values(ours[1][1][0]), rtol=1e-14)
    np.testing.assert_allclose(logs[1][1].numpy(), 3 * _values(theirs[1][1][0]), rtol=1e-14)


def test_module_hook_errors(torch):
    lin = nn.Linear(3, 2, dtype="float64", seed=0)
    with pytest.raises(TypeError, match="register_full_backward_hook expects a function"):
        lin.register_full_backward_hook(None)
    for module, lib in ((lin, cr), (torch.nn.Linear(3, 2).double(), torch)):
        handle = module.register_full_backward_hook(lambda m, gi, go: (None, None))
        with pytest.raises(RuntimeError, match="invalid number of grad_input"):
            module(lib.tensor(X, requires_grad=True)).sum().backward()
        handle.remove()
    with pytest.raises(cr.ShapeError, match=r"grad_output\[0\]"), \
            lin.register_full_backward_pre_hook(lambda m, go: (go[0].sum(),)):
        lin(cr.tensor(X)).sum().backward()


# ---------------------------------------------------------------------------------------------------------------
# The examples in the docstrings and in the README run as written.
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["chainrule.engine.hooks", "chainrule.nn.backward_hooks"])
def test_docstring_examples(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0 and result.attempted > 0


def test_readme_hooks_example():
    import doctest
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme[readme.index("### Watching one gradient"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    test = doctest.DocTestParser().get_doctest(code, {"cr": cr}, "README hooks", "README.md", 0)
    runner = doctest.DocTestRunner()
    runner.run(test)
    assert runner.summarize(verbose=False).failed == 0 and test.examples
