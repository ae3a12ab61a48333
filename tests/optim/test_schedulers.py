"""Schedulers step by step against torch==2.13's, and resuming (optimizer and scheduler state) equal to an
uninterrupted run, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.errors import DomainError
from chainrule.optim import lr_scheduler as ours_lr


def warm(epoch):
    return 0.5 ** (epoch % 3) + epoch / 10


class Scale:
    """A callable object: LambdaLR keeps its attributes in state_dict."""

    def __init__(self, factor):
        self.factor = factor

    def __call__(self, epoch):
        return self.factor / (epoch + 1)


# (name, settings) shared by both libraries; "seq" builds SequentialLR from the listed parts.
CASES = [
    ("StepLR", {"step_size": 3, "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [2, 5, 5, 9], "gamma": 0.3}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("LambdaLR", {"lr_lambda": warm}),
    ("LinearLR", {}),
    ("LinearLR", {"start_factor": 0.1, "end_factor": 0.7, "total_iters": 8}),
    ("CosineAnnealingLR", {"T_max": 4, "eta_min": 0.001}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": 20}),
    ("OneCycleLR", {"max_lr": [0.5, 0.2], "epochs": 4, "steps_per_epoch": 5, "anneal_strategy": "linear",
                    "three_phase": True, "pct_start": 0.25}),
    ("OneCycleLR", {"max_lr": 0.3, "total_steps": 20, "cycle_momentum": False, "div_factor": 10.0,
                    "final_div_factor": 100.0}),
    ("seq", [("LinearLR", {"start_factor": 0.2, "total_iters": 4}), ("CosineAnnealingLR", {"T_max": 10})], [4]),
    ("seq", [("ExponentialLR", {"gamma": 0.8}), ("LambdaLR", {"lr_lambda": warm}),
             ("MultiStepLR", {"milestones": [3, 4], "gamma": 0.5}), ("StepLR", {"step_size": 2})], [3, 7, 12]),
]
STEPS = 19


def build(lib, opt, case):
    if case[0] == "seq":
        parts = [getattr(lib, name)(opt, **settings) for name, settings in case[1]]
        return lib.SequentialLR(opt, parts, milestones=case[2])
    return getattr(lib, case[0])(opt, **case[1])


def two_groups(torch, optimizer="SGD", **settings):
    ours = optim.__dict__[optimizer]([{"params": [nn.Parameter([1.0])]}, {"params": [nn.Parameter([2.0])],
                                                                           "lr": 0.05}], lr=0.1, **settings)
    theirs = getattr(torch.optim, optimizer)([{"params": [torch.ones(1, requires_grad=True)]},
                                              {"params": [torch.ones(1, requires_grad=True)], "lr": 0.05}],
                                             lr=0.1, **settings)
    return ours, theirs


def group_values(opt, key):
    return [float(g[key]) if key != "betas" else float(g[key][0]) for g in opt.param_groups]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
@pytest.mark.parametrize("optimizer", ["SGD", "Adam"])
def test_rates_equal_torch_step_by_step(torch, case, optimizer):
    settings = {"momentum": 0.9} if optimizer == "SGD" else {}
    opt, opt_t = two_groups(torch, optimizer, **settings)
    sched, sched_t = build(optim, opt, case), build(torch.optim.lr_scheduler, opt_t, case)
    momentum = "momentum" if optimizer == "SGD" else "betas"
    steps = 20 if case[0] == "OneCycleLR" else STEPS
    for step in range(steps + 1):
        assert sched.get_last_lr() == pytest.approx(sched_t.get_last_lr(), rel=1e-14, abs=1e-300), step
        assert group_values(opt, "lr") == pytest.approx(group_values(opt_t, "lr"), rel=1e-14, abs=1e-300), step
        assert group_values(opt, momentum) == pytest.approx(group_values(opt_t, momentum), rel=1e-14), step
        if step < steps:
            opt.step()
            opt_t.step()
            sched.step()
            sched_t.step()


@pytest.mark.parametrize("settings", [{}, {"mode": "max", "factor": 0.5, "patience": 1, "cooldown": 2},
                                      {"threshold_mode": "abs", "threshold": 0.05, "patience": 2,
                                       "min_lr": [0.02, 0.0]},
                                      {"mode": "max", "threshold_mode": "abs", "patience": 0, "eps": 0.01}])
def test_reduce_on_plateau_equals_torch(torch, settings):
    opt, opt_t = two_groups(torch)
    sched = optim.ReduceLROnPlateau(opt, **settings)
    sched_t = torch.optim.lr_scheduler.ReduceLROnPlateau(opt_t, **settings)
    metrics = np.random.default_rng(3).random(40).cumsum() % 1.7
    for metric in metrics:
        opt.step()
        opt_t.step()
        sched.step(metric)
        sched_t.step(metric)
        assert sched.get_last_lr() == pytest.approx(sched_t.get_last_lr(), rel=1e-15)
        assert (sched.num_bad_epochs, sched.cooldown_counter) == (sched_t.num_bad_epochs, sched_t.cooldown_counter)
    assert len(set(sched.get_last_lr())) > 1 or settings == {}  # the schedule did reduce


RESUMABLE = [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}, CASES[10]),
    ("Adam", {"lr": 0.05, "amsgrad": True}, CASES[7]),
    ("AdamW", {"lr": 0.05}, ("LambdaLR", {"lr_lambda": Scale(2.0)})),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5}, CASES[1]),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}, CASES[5]),
    ("Adam", {"lr": 0.05}, ("plateau", {"patience": 1, "factor": 0.5})),
]


@pytest.mark.parametrize("name, settings, case", RESUMABLE, ids=[r[0] + "-" + r[2][0] for r in RESUMABLE])
@pytest.mark.parametrize("through_file", [False, True])
def test_resumed_run_equals_uninterrupted_bit_for_bit(tmp_path, name, settings, case, through_file):
    def fresh(start):
        net = nn.Linear(3, 2, seed=0)
        net.load_state_dict(start)
        opt = getattr(optim, name)(net.parameters(), **settings)
        if case[0] == "plateau":
            sched = optim.ReduceLROnPlateau(opt, **case[1])
        else:
            sched = build(optim, opt, (case[0], {**case[1], "lr_lambda": Scale(2.0)}) if case[0] == "LambdaLR"
                          else case)
        return net, opt, sched

    def run(net, opt, sched, steps, first):
        rng = np.random.default_rng(first)
        for _ in range(steps):
            x = rng.standard_normal((4, 3)).astype(np.float32)
            opt.zero_grad()
            loss = (net(cr.tensor(x)) ** 2).mean()
            loss.backward()
            opt.step()
            sched.step(loss.item()) if case[0] == "plateau" else sched.step()
            first += 1
            rng = np.random.default_rng(first)

    start = nn.Linear(3, 2, seed=0).state_dict()
    net, opt, sched = fresh(start)
    run(net, opt, sched, 12, 0)
    expected = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    expected_rates = sched.get_last_lr()

    net, opt, sched = fresh(start)
    run(net, opt, sched, 5, 0)
    checkpoint = {"model": net.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict()}
    if through_file:
        cr.save(checkpoint, tmp_path / "run.safetensors")
        checkpoint = cr.load(tmp_path / "run.safetensors")
    net2, opt2, sched2 = fresh(nn.Linear(3, 2, seed=9).state_dict())  # other weights: all must come from the file
    if case[0] == "LambdaLR":
        sched2.lr_lambdas[0].factor = 7.0  # the saved attribute must win
    net2.load_state_dict(checkpoint["model"])
    opt2.load_state_dict(checkpoint["optimizer"])
    sched2.load_state_dict(checkpoint["scheduler"])
    run(net2, opt2, sched2, 7, 5)
    for key, value in net2.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), expected[key], err_msg=key)
    assert sched2.get_last_lr() == expected_rates


def test_scheduler_arguments_are_checked():
    opt = optim.SGD([nn.Parameter([1.0])], lr=0.1)
    with pytest.raises(DomainError, match="milestones must be ints >= 0"):
        optim.MultiStepLR(opt, milestones=[2, -1])
    with pytest.raises(DomainError, match=r"start_factor must be in \(0, 1\]"):
        optim.LinearLR(opt, start_factor=0)
    with pytest.raises(DomainError, match="give total_steps, or both epochs and steps_per_epoch"):
        optim.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(DomainError, match="needs an optimizer with momentum or betas"):
        optim.OneCycleLR(optim.Adagrad([nn.Parameter([1.0])]), max_lr=0.1, total_steps=5)
    with pytest.raises(DomainError, match="stepped 3 times, past total_steps=2"):
        s = optim.OneCycleLR(opt, max_lr=0.1, total_steps=2)
        s.step()
        s.step()
        s.step()
    with pytest.raises(DomainError, match="factor must be < 1"):
        optim.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(TypeError, match="expects a number"):
        optim.ReduceLROnPlateau(opt).step("low")
    with pytest.raises(TypeError, match="other than ReduceLROnPlateau"):
        optim.SequentialLR(opt, [optim.ReduceLROnPlateau(opt)], milestones=[])
    with pytest.raises(DomainError, match="expected 1 milestone"):
        optim.SequentialLR(opt, [optim.StepLR(opt, 2), optim.StepLR(opt, 3)], milestones=[])
    with pytest.raises(DomainError, match="expected 1 lr_lambda function"):
        optim.LambdaLR(opt, lr_lambda=[warm, warm])
    with pytest.raises(KeyError, match="no 'initial_lr' to resume from"):
        optim.StepLR(optim.SGD([nn.Parameter([1.0])], lr=0.1), step_size=2, last_epoch=3)
    assert ours_lr.LRScheduler is optim.LRScheduler
