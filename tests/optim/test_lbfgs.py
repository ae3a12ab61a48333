"""L-BFGS against torch.optim.LBFGS 2.13: the iterates on Rosenbrock's function and on a small MLP, with and without
the strong-Wolfe line search, several history sizes, iteration limits and tolerances; resuming; torch's checks."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn, optim


def rosenbrock(x):
    return ((1 - x[:-1]) ** 2).sum() + (100 * (x[1:] - x[:-1] ** 2) ** 2).sum()


def closure_for(opt, loss_fn):
    def closure():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss
    return closure


SETTINGS = [  # (settings, steps)
    ({"max_iter": 1}, 30),
    ({"max_iter": 2, "line_search_fn": "strong_wolfe"}, 30),
    ({"line_search_fn": "strong_wolfe", "history_size": 2, "max_iter": 5, "tolerance_change": 1e-12,
      "tolerance_grad": 1e-10}, 30),
    ({"lr": 0.5, "history_size": 3, "max_iter": 3}, 30),
    ({"lr": 0.1, "max_iter": 50, "max_eval": 30}, 30),
    # short first tries: the search extrapolates; long ones: it zooms in. Later a line search there decides
    # otherwise than torch's on a last-bit difference (measured at step 14 and 21), so fewer steps.
    ({"lr": 0.01, "max_iter": 4, "line_search_fn": "strong_wolfe"}, 12),
    ({"lr": 30.0, "max_iter": 4, "line_search_fn": "strong_wolfe"}, 10),
]


# Rosenbrock's valley amplifies the last-bit differences of the gradients (and of BLAS dot products) as the
# iterates crawl along it: measured up to 3e-11 relative over 30 steps; 1e-16 on the first ones.
@pytest.mark.parametrize("settings, steps", SETTINGS)
def test_rosenbrock_iterates_equal_torch(torch, settings, steps):
    start = np.array([-1.2, 1.0, 0.5, -0.3])
    w, wt = nn.Parameter(start.copy()), torch.tensor(start.copy(), requires_grad=True)
    opt, opt_t = optim.LBFGS([w], **settings), torch.optim.LBFGS([wt], **settings)
    closure, closure_t = closure_for(opt, lambda: rosenbrock(w)), closure_for(opt_t, lambda: rosenbrock(wt))
    for step in range(steps):
        loss, loss_t = opt.step(closure), opt_t.step(closure_t)
        assert loss.item() == pytest.approx(loss_t.item(), rel=1e-10, abs=1e-300)
        np.testing.assert_allclose(w.numpy(), wt.detach().numpy(), rtol=1e-10, err_msg=f"step {step + 1}")
        ours, theirs = opt.state[id(w)], opt_t.state[wt]
        assert (ours["func_evals"], ours["n_iter"]) == (theirs["func_evals"], theirs["n_iter"])
        assert len(ours["old_dirs"]) == len(theirs["old_dirs"])


def test_strong_wolfe_reaches_rosenbrocks_minimum_as_torch(torch):
    w, wt = nn.Parameter([-1.2, 1.0]), torch.tensor([-1.2, 1.0], dtype=torch.float64, requires_grad=True)
    settings = {"line_search_fn": "strong_wolfe", "tolerance_grad": 1e-12, "tolerance_change": 1e-14}
    opt, opt_t = optim.LBFGS([w], **settings), torch.optim.LBFGS([wt], **settings)
    for _ in range(3):
        opt.step(closure_for(opt, lambda: rosenbrock(w)))
        opt_t.step(closure_for(opt_t, lambda: rosenbrock(wt)))
    np.testing.assert_allclose(w.numpy(), [1.0, 1.0], rtol=1e-7)
    np.testing.assert_allclose(w.numpy(), wt.detach().numpy(), rtol=1e-14)
    assert opt.state[id(w)]["func_evals"] == opt_t.state[wt]["func_evals"]


def test_float32_first_iterates_equal_torch(torch):
    """float32 scalars round as torch's float32 0-d tensors; its sums of float32 vectors round differently, and
    near the valley floor the iterations take other turns, so the first steps only."""
    start = np.array([-1.2, 1.0], dtype=np.float32)
    w, wt = nn.Parameter(start.copy()), torch.tensor(start.copy(), requires_grad=True)
    opt, opt_t = optim.LBFGS([w], max_iter=1), torch.optim.LBFGS([wt], max_iter=1)
    for step in range(10):
        opt.step(closure_for(opt, lambda: rosenbrock(w)))
        opt_t.step(closure_for(opt_t, lambda: rosenbrock(wt)))
        assert w.dtype == np.float32
        np.testing.assert_allclose(w.numpy(), wt.detach().numpy(), rtol=1e-6, err_msg=f"step {step + 1}")


# The gradients of the two libraries differ in the last bits (sums in another order), and 40 L-BFGS iterations on
# this least-squares fit amplify that: measured 9e-10 relative at most, on the smallest weights.
@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_small_mlp_iterates_equal_torch(torch, line_search_fn):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 3)), rng.standard_normal((16, 1))
    net = nn.Sequential(nn.Linear(3, 8, seed=0, dtype=np.float64), nn.Tanh(), nn.Linear(8, 1, seed=1,
                                                                                          dtype=np.float64))
    net_t = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double()
    with torch.no_grad():
        for p, pt in zip(net.parameters(), net_t.parameters(), strict=True):
            pt.copy_(torch.tensor(p.numpy()))
    settings = {"lr": 1, "max_iter": 4, "history_size": 5, "line_search_fn": line_search_fn}
    opt, opt_t = optim.LBFGS(net.parameters(), **settings), torch.optim.LBFGS(net_t.parameters(), **settings)
    xt, yt = torch.tensor(x), torch.tensor(y)
    closure = closure_for(opt, lambda: F.mse_loss(net(cr.tensor(x)), cr.tensor(y)))
    closure_t = closure_for(opt_t, lambda: torch.nn.functional.mse_loss(net_t(xt), yt))
    for step in range(10):
        loss, loss_t = opt.step(closure), opt_t.step(closure_t)
        assert loss.item() == pytest.approx(loss_t.item(), rel=1e-10)
        for p, pt in zip(net.parameters(), net_t.parameters(), strict=True):
            np.testing.assert_allclose(p.numpy(), pt.detach().numpy(), rtol=1e-8, atol=1e-13,
                                       err_msg=f"step {step + 1}")
    assert opt.state[id(net[0].weight)]["func_evals"] == opt_t.state[net_t[0].weight]["func_evals"]


def test_complex_parameters_step_as_torch(torch):
    target = np.array([1.0 + 2.0j, -0.5 + 0.25j])
    z, zt = nn.Parameter(np.zeros(2, dtype=np.complex128)), torch.zeros(2, dtype=torch.complex128, requires_grad=True)
    opt, opt_t = optim.LBFGS([z], max_iter=3), torch.optim.LBFGS([zt], max_iter=3)
    tt = torch.tensor(target)
    for _ in range(3):
        opt.step(closure_for(opt, lambda: (cr.abs(z - cr.tensor(target)) ** 4).sum()))
        opt_t.step(closure_for(opt_t, lambda: ((zt - tt).abs() ** 4).sum()))
        np.testing.assert_allclose(z.numpy(), zt.detach().numpy(), rtol=1e-13)


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_resumed_equals_uninterrupted(line_search_fn):
    def run(opt, w, steps):
        for _ in range(steps):
            opt.step(closure_for(opt, lambda: rosenbrock(w)))

    settings = {"max_iter": 3, "history_size": 4, "line_search_fn": line_search_fn}
    w = nn.Parameter([-1.2, 1.0, 0.5])
    opt = optim.LBFGS([w], **settings)
    run(opt, w, 3)
    saved, values = opt.state_dict(), w.numpy().copy()
    run(opt, w, 4)
    v = nn.Parameter(values)
    opt2 = optim.LBFGS([v], **settings)
    opt2.load_state_dict(saved)
    run(opt2, v, 4)
    np.testing.assert_array_equal(v.numpy(), w.numpy())


def test_bad_settings_and_uses_are_refused(torch):
    w = nn.Parameter([1.0, 2.0])
    with pytest.raises(ValueError):
        torch.optim.LBFGS([torch.zeros(2, requires_grad=True)], lr=-1)
    with pytest.raises(ValueError, match="lr must be"):
        optim.LBFGS([w], lr=-1)
    with pytest.raises(ValueError, match="line_search_fn must be None or 'strong_wolfe'"):
        optim.LBFGS([w], line_search_fn="armijo")  # torch raises only inside step()
    with pytest.raises(ValueError, match="history_size must be a positive int"):
        optim.LBFGS([w], history_size=0)
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [w]}, {"params": [nn.Parameter([1.0])], "lr": 0.1}])
    with pytest.raises(TypeError, match="one dtype"):
        optim.LBFGS([w, nn.Parameter(np.ones(2, dtype=np.float32))])
    with pytest.raises(TypeError, match="needs a closure"):
        optim.LBFGS([w]).step()
