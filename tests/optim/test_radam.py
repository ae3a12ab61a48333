"""RAdam step by step against torch.optim.RAdam 2.13 (float64 to 1e-14, float32, complex), resumed runs; both
branches (momentum only while ρₜ ≤ 5, then rectified)."""

from __future__ import annotations

import numpy as np
import pytest
from torch_steps import rejected_like_torch, resumed_equals_uninterrupted, run_side_by_side

SETTINGS = [{}, {"lr": 0.05, "betas": (0.5, 0.6), "eps": 1e-4}, {"lr": 0.05, "weight_decay": 0.1},
            {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True},
            {"lr": 0.01, "maximize": True, "betas": (0.9, 0.9)}]


@pytest.mark.parametrize("settings", SETTINGS)
@pytest.mark.parametrize("dtype, rtol, atol", [(np.float64, 1e-14, 1e-15), (np.float32, 1e-6, 1e-7),
                                               (np.complex128, 1e-14, 1e-15)])
def test_steps_equal_torch(torch, settings, dtype, rtol, atol):
    run_side_by_side(torch, "RAdam", settings, dtype=dtype, rtol=rtol, atol=atol)


def test_groups_with_their_own_settings(torch):
    run_side_by_side(torch, "RAdam", {"lr": 0.01}, groups=[{"betas": (0.5, 0.6)}, {"lr": 0.1, "weight_decay": 0.2}])


def test_resumed_equals_uninterrupted():
    resumed_equals_uninterrupted("RAdam", {"lr": 0.05, "betas": (0.5, 0.6), "weight_decay": 0.1})


@pytest.mark.parametrize("settings, match", [({"lr": -1.0}, "lr must be"), ({"betas": (1.0, 0.9)}, r"betas\[0\]"),
                                             ({"betas": (0.9, 1.0)}, r"betas\[1\]"), ({"eps": -1.0}, "eps must be"),
                                             ({"weight_decay": -0.1}, "weight_decay must be")])
def test_bad_settings_rejected_like_torch(torch, settings, match):
    rejected_like_torch(torch, "RAdam", settings, match)
