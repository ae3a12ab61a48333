"""Optimizers and schedulers, step by step against torch==2.13 (the reference), in float64; and their contracts."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.errors import DomainError

SHAPES = [(3, 4), (5,)]
STEPS = 10

SETTINGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.5}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.1, "weight_decay": 0.1}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.1, "amsgrad": True, "weight_decay": 0.05, "betas": (0.5, 0.6)}),
    ("AdamW", {}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.05, "amsgrad": True, "betas": (0.7, 0.9)}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-6}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    ("Adagrad", {}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1}),
    ("Adagrad", {"lr": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-6}),
]


@pytest.mark.parametrize("name, settings", SETTINGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SETTINGS)])
def test_updates_equal_torch_step_by_step(torch, name, settings):
    rng = np.random.default_rng(0)
    start = [rng.standard_normal(s) for s in SHAPES]
    ours = [nn.Parameter(a) for a in start]
    theirs = [torch.tensor(a, requires_grad=True) for a in start]
    opt = getattr(optim, name)(ours, **settings)
    opt_t = getattr(torch.optim, name)(theirs, **settings)
    for step in range(STEPS):
        for p, pt in zip(ours, theirs, strict=True):
            g = rng.standard_normal(p.shape)
            p.grad, pt.grad = cr.tensor(g), torch.tensor(g)
        opt.step()
        opt_t.step()
        for p, pt in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(p.numpy(), pt.detach().numpy(), rtol=1e-12, atol=1e-14,
                                       err_msg=f"{name} {settings} at step {step + 1}")


def test_float32_parameters_stay_float32_and_match_torch(torch):
    start = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    p, pt = nn.Parameter(start), torch.tensor(start, requires_grad=True)
    opt, opt_t = optim.Adam([p], lr=0.01), torch.optim.Adam([pt], lr=0.01)
    for _ in range(STEPS):
        g = np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32)
        p.grad, pt.grad = cr.tensor(g), torch.tensor(g)
        opt.step()
        opt_t.step()
    assert p.dtype == np.float32
    np.testing.assert_allclose(p.numpy(), pt.detach().numpy(), rtol=1e-6, atol=1e-7)


def test_parameters_without_gradient_are_skipped_like_torch(torch):
    a, b = nn.Parameter(np.ones(3)), nn.Parameter(np.ones(2))
    at, bt = torch.ones(3, dtype=torch.float64, requires_grad=True), torch.ones(2, dtype=torch.float64,
                                                                                requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1, weight_decay=0.1)
    opt_t = torch.optim.Adam([at, bt], lr=0.1, weight_decay=0.1)
    for step in range(4):
        a.grad, at.grad = cr.tensor([1.0, -2.0, 3.0]), torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)
        if step % 2:
            b.grad, bt.grad = cr.tensor([0.5, 0.5]), torch.tensor([0.5, 0.5], dtype=torch.float64)
        else:
            b.grad = bt.grad = None
        opt.step()
        opt_t.step()
    np.testing.assert_allclose(a.numpy(), at.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(b.numpy(), bt.detach().numpy(), rtol=1e-12)


def test_step_updates_in_place_without_recording_a_graph():
    net = nn.Linear(3, 2, seed=0)
    weight = net.weight
    memory = weight.data
    state = net.state_dict()
    opt = optim.SGD(net.parameters(), lr=0.5, momentum=0.9)
    net(cr.ones(4, 3, dtype="float32")).sum().backward()
    opt.step()
    assert net.weight is weight and weight.data is memory  # same array, changed in place
    assert weight.is_leaf and weight.requires_grad and weight.node is None
    np.testing.assert_array_equal(state["weight"].numpy(), weight.numpy())
    opt.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_parameter_groups_have_their_own_settings():
    a, b = nn.Parameter([1.0]), nn.Parameter([1.0])
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    a.grad = b.grad = cr.tensor([1.0])
    opt.step()
    assert a.item() == pytest.approx(0.9) and b.item() == pytest.approx(0.5)


def test_optimizer_state_dict_round_trip():
    def run(opt, p, steps):
        for _ in range(steps):
            p.grad = cr.tensor([0.3, -0.2])
            opt.step()

    p = nn.Parameter([1.0, 2.0])
    opt = optim.Adam([p], lr=0.1)
    run(opt, p, 3)
    saved, value = opt.state_dict(), p.numpy().copy()
    run(opt, p, 2)
    expected = p.numpy().copy()
    q = nn.Parameter(value)
    restored = optim.Adam([q], lr=0.5)
    restored.load_state_dict(saved)
    assert restored.param_groups[0]["lr"] == 0.1
    run(restored, q, 2)
    np.testing.assert_array_equal(q.numpy(), expected)


def test_bad_settings_and_parameters_are_rejected():
    p = nn.Parameter([1.0])
    with pytest.raises(DomainError, match="lr must be a finite number >= 0, got -1"):
        optim.SGD([p], lr=-1)
    with pytest.raises(DomainError, match="nesterov=True needs momentum > 0"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(DomainError, match=r"betas\[1\] must be in \[0, 1\), got 1.0"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(TypeError, match="not a single Tensor"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="must be a leaf tensor with requires_grad=True"):
        optim.SGD([cr.tensor([1.0])], lr=0.1)
    with pytest.raises(ValueError, match="appears more than once"):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(TypeError, match=r"unknown setting\(s\) \['momentum'\]"):
        optim.Adam([{"params": [p], "momentum": 0.9}])


def test_step_lr_matches_torch(torch):
    p, pt = nn.Parameter([1.0]), torch.ones(1, requires_grad=True)
    opt, opt_t = optim.SGD([p], lr=0.3), torch.optim.SGD([pt], lr=0.3)
    sched = optim.StepLR(opt, step_size=3, gamma=0.5)
    sched_t = torch.optim.lr_scheduler.StepLR(opt_t, step_size=3, gamma=0.5)
    assert sched.get_last_lr() == sched_t.get_last_lr() == [0.3]
    for _ in range(10):
        opt.step()
        opt_t.step()
        sched.step()
        sched_t.step()
        assert sched.get_last_lr() == pytest.approx(sched_t.get_last_lr(), rel=1e-15)
        assert opt.param_groups[0]["lr"] == pytest.approx(opt_t.param_groups[0]["lr"], rel=1e-15)


def test_cosine_annealing_matches_torch_past_t_max(torch):
    p, pt = nn.Parameter([1.0]), torch.ones(1, requires_grad=True)
    opt, opt_t = optim.Adam([p], lr=0.1), torch.optim.Adam([pt], lr=0.1)
    sched = optim.CosineAnnealingLR(opt, T_max=5, eta_min=0.01)
    sched_t = torch.optim.lr_scheduler.CosineAnnealingLR(opt_t, T_max=5, eta_min=0.01)
    rates = []
    for _ in range(15):
        opt.step()
        opt_t.step()
        sched.step()
        sched_t.step()
        rates.append(sched.get_last_lr()[0])
        assert sched.get_last_lr() == pytest.approx(sched_t.get_last_lr(), rel=1e-13)
    assert rates[4] == pytest.approx(0.01) and rates[9] == pytest.approx(0.1)


def test_scheduler_arguments_are_checked():
    opt = optim.SGD([nn.Parameter([1.0])], lr=0.1)
    with pytest.raises(DomainError, match="step_size must be a positive int"):
        optim.StepLR(opt, step_size=0)
    with pytest.raises(DomainError, match="T_max must be a positive int"):
        optim.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(TypeError, match=r"expects a cr\.optim optimizer"):
        optim.StepLR("sgd", step_size=1)


def test_plain_sgd_updates_every_parameter_and_counts_one_write_each():
    """Plain SGD (no momentum, no decay) takes its short path: θ − lr·g for each parameter with a gradient, a state
    entry for each as the general loop makes, and a version count for each, so a graph that saved them raises."""
    from chainrule.engine import versions

    a, b, c = nn.Parameter([1.0, -2.0]), nn.Parameter(np.ones((2, 2))), nn.Parameter([3.0])
    opt = optim.SGD([{"params": [a, c]}, {"params": [b], "lr": 0.5}], lr=0.1)
    a.grad, b.grad = cr.tensor([10.0, 20.0]), cr.tensor(np.full((2, 2), 4.0))  # c has none: left alone
    before = [versions.version(p.data) for p in (a, b, c)]
    opt.step()
    np.testing.assert_array_equal(a.numpy(), [0.0, -4.0])  # 1 − 0.1·10, −2 − 0.1·20
    np.testing.assert_array_equal(b.numpy(), np.full((2, 2), -1.0))  # 1 − 0.5·4
    np.testing.assert_array_equal(c.numpy(), [3.0])
    assert [versions.version(p.data) - v for p, v in zip((a, b, c), before, strict=True)] == [1, 1, 0]
    assert sorted(opt.state_dict()["state"]) == [0, 2]  # a and b (numbered a, c, b), as the general loop


def test_a_subclass_of_sgd_with_its_own_update_is_used():
    """SGD's short path for plain updates must not bypass a subclass's update formula."""

    class HalfSGD(optim.SGD):
        def update(self, param, grad, state, group, xp):
            return param - 0.5 * group["lr"] * grad

    w = nn.Parameter([1.0, 2.0])
    w.grad = cr.tensor([4.0, -4.0])
    HalfSGD([w], lr=0.5).step()
    np.testing.assert_array_equal(w.numpy(), [0.0, 3.0])  # 1 − 0.25·4, 2 + 0.25·4
