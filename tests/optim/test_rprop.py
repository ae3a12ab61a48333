"""Rprop step by step against torch.optim.Rprop 2.13 (float64 exactly, float32, complex), resumed runs."""

from __future__ import annotations

import numpy as np
import pytest
from torch_steps import rejected_like_torch, resumed_equals_uninterrupted, run_side_by_side

SETTINGS = [{}, {"lr": 0.05, "etas": (0.3, 1.5)}, {"lr": 0.05, "step_sizes": (1e-3, 0.08)},
            {"lr": 0.1, "maximize": True, "etas": (0.9, 1.1), "step_sizes": (0.05, 0.2)}]


@pytest.mark.parametrize("settings", SETTINGS)
@pytest.mark.parametrize("dtype, rtol, atol", [(np.float64, 1e-14, 1e-15), (np.float32, 1e-6, 1e-7),
                                               (np.complex128, 1e-14, 1e-15)])
def test_steps_equal_torch(torch, settings, dtype, rtol, atol):
    run_side_by_side(torch, "Rprop", settings, dtype=dtype, rtol=rtol, atol=atol, steps=15)


def test_groups_with_their_own_settings(torch):
    run_side_by_side(torch, "Rprop", {"lr": 0.01}, groups=[{"etas": (0.2, 2.0)}, {"lr": 0.1}])


def test_resumed_equals_uninterrupted():
    resumed_equals_uninterrupted("Rprop", {"lr": 0.05, "etas": (0.3, 1.5)})


@pytest.mark.parametrize("settings, match", [({"lr": -1.0}, "lr must be"), ({"etas": (0.0, 1.2)}, "etas must"),
                                             ({"etas": (0.5, 1.0)}, "etas must"), ({"etas": (1.5, 2.0)}, "etas must")])
def test_bad_settings_rejected_like_torch(torch, settings, match):
    rejected_like_torch(torch, "Rprop", settings, match)
