"""Adafactor step by step against torch.optim.Adafactor 2.13 (factored moments for matrices and stacks of them, a
plain one for vectors and scalars), float64 to 1e-14 and float32; resumed runs; torch's checks."""

from __future__ import annotations

import numpy as np
import pytest
from torch_steps import rejected_like_torch, resumed_equals_uninterrupted, run_side_by_side

from chainrule import nn, optim

SHAPES = ((3, 4), (5,), (2, 3, 4), ())
SETTINGS = [{}, {"lr": 0.05, "beta2_decay": -0.5, "eps": (1e-3, 1e-2)}, {"lr": 0.5, "d": 1.5},
            {"lr": 0.05, "weight_decay": 0.1}, {"lr": 0.02, "maximize": True, "eps": (None, 0.1), "d": 10.0}]


@pytest.mark.parametrize("settings", SETTINGS)
# float32: a step of size ~RMS(θ)·lr (here up to 0.5) rounds to ~1e-7 absolute, near a small element too
@pytest.mark.parametrize("dtype, rtol, atol", [(np.float64, 1e-14, 1e-15), (np.float32, 1e-6, 1e-6)])
def test_steps_equal_torch(torch, settings, dtype, rtol, atol):
    run_side_by_side(torch, "Adafactor", settings, shapes=SHAPES, dtype=dtype, rtol=rtol, atol=atol)


def test_factored_state_has_torch_shapes(torch):
    p = nn.Parameter(np.ones((2, 3, 4)))
    p.grad = nn.Parameter(np.full((2, 3, 4), 0.5))
    opt = optim.Adafactor([p])
    opt.step()
    state = opt.state[id(p)]
    assert state["row_var"].shape == (2, 3, 1) and state["col_var"].shape == (2, 1, 4)


def test_groups_with_their_own_settings(torch):
    run_side_by_side(torch, "Adafactor", {"lr": 0.01}, groups=[{"d": 2.0}, {"lr": 0.1, "weight_decay": 0.2}])


def test_resumed_equals_uninterrupted():
    resumed_equals_uninterrupted("Adafactor", {"lr": 0.05, "weight_decay": 0.1}, shapes=SHAPES)


@pytest.mark.parametrize("settings, match", [({"lr": -1.0}, "lr must be"), ({"beta2_decay": 0.1}, "beta2_decay"),
                                             ({"eps": (-1.0, 1e-3)}, "epsilon1"), ({"eps": (None, -1.0)}, "epsilon2"),
                                             ({"d": 0.5}, "threshold d"), ({"weight_decay": -0.1}, "weight_decay")])
def test_bad_settings_rejected_like_torch(torch, settings, match):
    rejected_like_torch(torch, "Adafactor", settings, match)


def test_complex_parameters_are_refused():
    with pytest.raises(TypeError, match="real parameters only"):
        optim.Adafactor([nn.Parameter(np.ones(2, dtype=np.complex128))])
