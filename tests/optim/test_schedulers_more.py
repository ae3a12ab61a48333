"""ConstantLR, MultiplicativeLR, PolynomialLR, CosineAnnealingWarmRestarts (with fractional epochs), CyclicLR (its
three modes, with SGD's momentum and Adam's β₁) and ChainedScheduler against torch 2.13, step by step: rates,
get_last_lr, last_epoch and the state_dict entries both keep; every scheduler resumed equal to uninterrupted."""

from __future__ import annotations

import pytest

from chainrule import nn, optim


def decay(epoch):
    return 0.9 if epoch % 2 else 0.97


CASES = [
    ("ConstantLR", {}),
    ("ConstantLR", {"factor": 0.5, "total_iters": 3}),
    ("ConstantLR", {"factor": 1.0, "total_iters": 0}),
    ("MultiplicativeLR", {"lr_lambda": decay}),
    ("PolynomialLR", {}),
    ("PolynomialLR", {"total_iters": 8, "power": 2.5}),
    ("CosineAnnealingWarmRestarts", {"T_0": 3}),
    ("CosineAnnealingWarmRestarts", {"T_0": 2, "T_mult": 2, "eta_min": 0.001}),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 3}),
    ("CyclicLR", {"base_lr": [0.01, 0.02], "max_lr": 0.2, "step_size_up": 2, "step_size_down": 4,
                  "mode": "triangular2", "base_momentum": 0.7, "max_momentum": [0.95, 0.9]}),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 4, "mode": "exp_range", "gamma": 0.9}),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 3, "scale_fn": decay, "scale_mode": "iterations"}),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 3, "cycle_momentum": False}),
    ("chain", [("ConstantLR", {"factor": 0.5, "total_iters": 4}), ("ExponentialLR", {"gamma": 0.9})]),
    ("chain", [("LinearLR", {"start_factor": 0.2, "total_iters": 3}), ("CosineAnnealingLR", {"T_max": 6}),
               ("MultiStepLR", {"milestones": [4, 8]})]),
    # the schedulers that were there before, for get_last_lr, last_epoch and state_dict
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [2, 5], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("LinearLR", {"start_factor": 0.1, "total_iters": 5}),
    ("CosineAnnealingLR", {"T_max": 4, "eta_min": 0.001}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": 25}),
]
STEPS = 24
MOMENTUM = {"SGD": "momentum", "Adam": "betas"}


def build(lib, opt, case):
    if case[0] == "chain":
        return lib.ChainedScheduler([getattr(lib, name)(opt, **settings) for name, settings in case[1]])
    return getattr(lib, case[0])(opt, **case[1])


def two_groups(torch, name):
    settings = {"momentum": 0.9} if name == "SGD" else {}
    ours = getattr(optim, name)([{"params": [nn.Parameter([1.0])]}, {"params": [nn.Parameter([2.0])], "lr": 0.05}],
                                lr=0.1, **settings)
    theirs = getattr(torch.optim, name)([{"params": [torch.ones(1, requires_grad=True)]},
                                         {"params": [torch.ones(1, requires_grad=True)], "lr": 0.05}],
                                        lr=0.1, **settings)
    return ours, theirs


def momenta(opt, name):
    return [g[MOMENTUM[name]][0] if name == "Adam" else g[MOMENTUM[name]] for g in opt.param_groups]


def assert_same(sched, sched_t, opt, opt_t, name, step):
    assert sched.get_last_lr() == pytest.approx(sched_t.get_last_lr(), rel=1e-14, abs=1e-300), step
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([g["lr"] for g in opt_t.param_groups], rel=1e-14)
    assert momenta(opt, name) == pytest.approx(momenta(opt_t, name), rel=1e-14), step
    if hasattr(sched_t, "last_epoch"):
        assert sched.last_epoch == sched_t.last_epoch, step
    ours, theirs = sched.state_dict(), sched_t.state_dict()
    shared = [k for k in ours.keys() & theirs.keys() if numeric(ours[k]) and numeric(theirs[k])]
    assert {"_last_lr"} <= set(shared)
    for key in shared:  # base_lrs, last_epoch, T_cur, T_i, max_lrs, total_size, step_ratio, factor ...
        assert ours[key] == pytest.approx(theirs[key], rel=1e-14), (step, key)


def numeric(value):
    if isinstance(value, list):
        return all(isinstance(v, int | float) for v in value)
    return isinstance(value, int | float)


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_equal_to_torch_step_by_step(torch, case, name):
    opt, opt_t = two_groups(torch, name)
    sched, sched_t = build(optim, opt, case), build(torch.optim.lr_scheduler, opt_t, case)
    assert_same(sched, sched_t, opt, opt_t, name, 0)
    for step in range(1, STEPS + 1):
        opt.step()
        opt_t.step()
        sched.step()
        sched_t.step()
        assert_same(sched, sched_t, opt, opt_t, name, step)


@pytest.mark.parametrize("T_mult", [1, 2, 3])
def test_warm_restarts_with_fractional_epochs_equal_torch(torch, T_mult):
    opt, opt_t = two_groups(torch, "SGD")
    sched = optim.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=T_mult, eta_min=0.005)
    sched_t = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt_t, T_0=2, T_mult=T_mult, eta_min=0.005)
    for epoch in range(12):
        for batch in range(5):
            sched.step(epoch + batch / 5)
            sched_t.step(epoch + batch / 5)
            assert sched.get_last_lr() == pytest.approx(sched_t.get_last_lr(), rel=1e-14)
            assert (sched.last_epoch, sched.T_i) == (sched_t.last_epoch, sched_t.T_i)
            assert sched.T_cur == pytest.approx(sched_t.T_cur, rel=1e-14, abs=1e-15)
    with pytest.raises(ValueError, match="epoch must be a finite number >= 0"):
        sched.step(-1)


RESUME = [case for case in CASES if case[0] != "OneCycleLR"]


@pytest.mark.parametrize("case", RESUME, ids=[f"{c[0]}-{i}" for i, c in enumerate(RESUME)])
def test_resumed_equals_uninterrupted(case):
    def run(opt, sched, steps):
        for _ in range(steps):
            opt.step()
            sched.step()

    def fresh():
        opt = optim.Adam([{"params": [nn.Parameter([1.0])]}, {"params": [nn.Parameter([2.0])], "lr": 0.05}], lr=0.1)
        return opt, build(optim, opt, case)

    opt, sched = fresh()
    run(opt, sched, 7)
    saved = opt.state_dict(), sched.state_dict()
    run(opt, sched, 9)
    opt2, sched2 = fresh()
    opt2.load_state_dict(saved[0])
    sched2.load_state_dict(saved[1])
    run(opt2, sched2, 9)
    assert sched2.get_last_lr() == sched.get_last_lr()
    assert [g["betas"] for g in opt2.param_groups] == [g["betas"] for g in opt.param_groups]


def test_bad_arguments_are_refused_like_torch(torch):
    opt, opt_t = two_groups(torch, "SGD")
    bad = [("ConstantLR", {"factor": 1.5}, "factor must be"),
           ("CosineAnnealingWarmRestarts", {"T_0": 0}, "T_0 must be a positive int"),
           ("CosineAnnealingWarmRestarts", {"T_0": 2, "T_mult": 0}, "T_mult must be an int >= 1"),
           ("CyclicLR", {"base_lr": 0.1, "max_lr": 1.0, "mode": "square"}, "mode must be"),
           ("CyclicLR", {"base_lr": [0.1], "max_lr": 1.0}, "one per parameter group"),
           ("MultiplicativeLR", {"lr_lambda": [decay]}, "expected 2 lr_lambda")]
    for name, settings, match in bad:
        with pytest.raises(ValueError):
            getattr(torch.optim.lr_scheduler, name)(opt_t, **settings)
        with pytest.raises(ValueError, match=match):
            getattr(optim, name)(opt, **settings)
    with pytest.raises(ValueError, match="needs an optimizer with momentum or betas"):
        optim.CyclicLR(optim.Adagrad([nn.Parameter([1.0])]), base_lr=0.1, max_lr=1.0)
    with pytest.raises(TypeError, match="other than ReduceLROnPlateau"):
        optim.ChainedScheduler([optim.ReduceLROnPlateau(opt)])
    other = optim.SGD([nn.Parameter([1.0])], lr=0.1)
    with pytest.raises(ValueError, match="belongs to another optimizer"):
        optim.ChainedScheduler([optim.StepLR(opt, 2), optim.StepLR(other, 2)])
    with pytest.raises(ValueError, match="must be a positive int"):
        optim.PolynomialLR(opt, total_iters=0)  # torch divides by zero later


def test_constant_factor_zero_gives_the_base_rate_back_where_torch_divides_by_zero():
    opt = optim.SGD([nn.Parameter([1.0])], lr=0.1)
    sched = optim.ConstantLR(opt, factor=0.0, total_iters=2)
    rates = [sched.get_last_lr()[0]]
    for _ in range(3):
        sched.step()
        rates.append(sched.get_last_lr()[0])
    assert rates == [0.0, 0.0, 0.1, 0.1]
