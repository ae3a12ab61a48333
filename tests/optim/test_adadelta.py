"""Adadelta step by step against torch.optim.Adadelta 2.13 (float64 to 1e-14, float32, complex), resumed runs."""

from __future__ import annotations

import numpy as np
import pytest
from torch_steps import rejected_like_torch, resumed_equals_uninterrupted, run_side_by_side

SETTINGS = [{}, {"lr": 0.5, "rho": 0.8, "eps": 1e-4}, {"lr": 2.0, "weight_decay": 0.1, "maximize": True},
            {"rho": 0.0, "foreach": False}, {"rho": 1.0, "eps": 1e-3}]


@pytest.mark.parametrize("settings", SETTINGS)
@pytest.mark.parametrize("dtype, rtol, atol", [(np.float64, 1e-14, 1e-15), (np.float32, 1e-6, 1e-7),
                                               (np.complex128, 1e-14, 1e-15)])
def test_steps_equal_torch(torch, settings, dtype, rtol, atol):
    run_side_by_side(torch, "Adadelta", settings, dtype=dtype, rtol=rtol, atol=atol)


def test_groups_with_their_own_settings(torch):
    run_side_by_side(torch, "Adadelta", {"lr": 1.0}, groups=[{"rho": 0.5}, {"lr": 0.1, "weight_decay": 0.2}])


def test_resumed_equals_uninterrupted():
    resumed_equals_uninterrupted("Adadelta", {"lr": 0.5, "weight_decay": 0.1})


@pytest.mark.parametrize("settings, match", [({"lr": -1.0}, "lr must be"), ({"rho": 1.5}, r"rho must be in \[0, 1\]"),
                                             ({"eps": -1e-6}, "eps must be"),
                                             ({"weight_decay": -0.1}, "weight_decay must be")])
def test_bad_settings_rejected_like_torch(torch, settings, match):
    rejected_like_torch(torch, "Adadelta", settings, match)
