"""ASGD step by step against torch.optim.ASGD 2.13 (float64 to 1e-14, float32, complex), its running average, and
resumed runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch_steps
from torch_steps import rejected_like_torch, resumed_equals_uninterrupted, run_side_by_side

import chainrule as cr
from chainrule import nn, optim

SETTINGS = [{}, {"lr": 0.05, "lambd": 0.01, "alpha": 0.5}, {"lr": 0.05, "t0": 3, "weight_decay": 0.1},
            {"lr": 0.1, "t0": 0, "maximize": True, "lambd": 0.1, "alpha": 1.0}]


@pytest.mark.parametrize("settings", SETTINGS)
@pytest.mark.parametrize("dtype, rtol, atol", [(np.float64, 1e-14, 1e-15), (np.float32, 1e-6, 1e-7),
                                               (np.complex128, 1e-14, 1e-15)])
def test_steps_equal_torch(torch, settings, dtype, rtol, atol):
    run_side_by_side(torch, "ASGD", settings, dtype=dtype, rtol=rtol, atol=atol)


def test_the_average_and_rates_equal_torch(torch):
    start = torch_steps.start_values([(4,)], np.float64, 0)[0]
    p, pt = nn.Parameter(start.copy()), torch.tensor(start.copy(), requires_grad=True)
    opt, opt_t = optim.ASGD([p], lr=0.1, t0=2, lambd=0.05), torch.optim.ASGD([pt], lr=0.1, t0=2, lambd=0.05)
    rng = np.random.default_rng(5)
    for _ in range(8):
        g = rng.standard_normal(4)
        p.grad, pt.grad = cr.tensor(g), torch.tensor(g)
        opt.step()
        opt_t.step()
        ours, theirs = opt.state[id(p)], opt_t.state[pt]
        np.testing.assert_allclose(ours["ax"], theirs["ax"].numpy(), rtol=1e-14, atol=1e-15)
        assert ours["eta"] == theirs["eta"].item() and ours["mu"] == theirs["mu"].item()


def test_groups_with_their_own_settings(torch):
    run_side_by_side(torch, "ASGD", {"lr": 0.01}, groups=[{"t0": 2}, {"lr": 0.1, "weight_decay": 0.2}])


def test_resumed_equals_uninterrupted():
    resumed_equals_uninterrupted("ASGD", {"lr": 0.05, "t0": 2, "weight_decay": 0.1})


def test_bad_settings_rejected_like_torch(torch):
    rejected_like_torch(torch, "ASGD", {"lr": -1.0}, "lr must be")
    rejected_like_torch(torch, "ASGD", {"weight_decay": -0.1}, "weight_decay must be")
    with pytest.raises(ValueError, match="lambd must be a number"):  # torch takes it and fails inside step()
        optim.ASGD([nn.Parameter([1.0])], lambd="0.1")
