"""NAdam step by step against torch.optim.NAdam 2.13 (float64 to 1e-14, float32, complex), resumed runs."""

from __future__ import annotations

import numpy as np
import pytest
from torch_steps import rejected_like_torch, resumed_equals_uninterrupted, run_side_by_side

SETTINGS = [{}, {"lr": 0.05, "betas": (0.8, 0.9), "eps": 1e-4}, {"lr": 0.05, "momentum_decay": 0.05},
            {"lr": 0.05, "weight_decay": 0.1}, {"lr": 0.05, "weight_decay": 0.1, "decoupled_weight_decay": True},
            {"lr": 0.01, "maximize": True, "momentum_decay": 0.0}]


@pytest.mark.parametrize("settings", SETTINGS)
@pytest.mark.parametrize("dtype, rtol, atol", [(np.float64, 1e-14, 1e-15), (np.float32, 1e-6, 1e-7),
                                               (np.complex128, 1e-14, 1e-15)])
def test_steps_equal_torch(torch, settings, dtype, rtol, atol):
    run_side_by_side(torch, "NAdam", settings, dtype=dtype, rtol=rtol, atol=atol)


def test_momentum_product_is_rounded_to_float32_as_torch_keeps_it(torch):
    """torch holds μ₁⋯μₜ in a float32 tensor; kept in float64 the steps would differ from torch's by ~1e-8."""
    start = run_side_by_side(torch, "NAdam", {"lr": 0.05}, steps=30)
    assert start < 1e-14


def test_groups_with_their_own_settings(torch):
    run_side_by_side(torch, "NAdam", {"lr": 0.01}, groups=[{"momentum_decay": 0.1},
                                                          {"lr": 0.1, "weight_decay": 0.2,
                                                           "decoupled_weight_decay": True}])


def test_resumed_equals_uninterrupted():
    resumed_equals_uninterrupted("NAdam", {"lr": 0.05, "weight_decay": 0.1})


@pytest.mark.parametrize("settings, match", [({"lr": -1.0}, "lr must be"), ({"betas": (1.0, 0.9)}, r"betas\[0\]"),
                                             ({"betas": (0.9, 1.0)}, r"betas\[1\]"), ({"eps": -1.0}, "eps must be"),
                                             ({"weight_decay": -0.1}, "weight_decay must be"),
                                             ({"momentum_decay": -1e-3}, "momentum_decay must be")])
def test_bad_settings_rejected_like_torch(torch, settings, match):
    rejected_like_torch(torch, "NAdam", settings, match)
