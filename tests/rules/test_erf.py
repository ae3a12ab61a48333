"""The vectorized error function (``numpy_math.erf``: fitted polynomials, no per-element Python) against math.erf,
SciPy-free high-precision values (mpmath, which SymPy brings), and PyTorch; edges, dtypes and the exact GELU."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.rules.numpy_math import erf

# Every piece of the approximation and its borders (1, 2.5, 6), tiny and huge values, both signs.
GRID = np.concatenate(
    [
        np.linspace(-7, 7, 20001),
        [1 - 1e-16, 1.0, 1 + 2e-16, 2.5 - 4e-16, 2.5, 6 - 8e-16, 6.0],
        np.geomspace(1e-300, 1e-3, 200),
        -np.geomspace(1e-300, 1e-3, 200),
        [1e10, -1e300],
    ]
)


def _relative_error(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.max(np.abs(got - want) / np.maximum(np.abs(want), 1e-300)))


def test_erf_is_within_a_few_ulps_of_math_erf():
    want = np.array([math.erf(v) for v in GRID])
    assert _relative_error(erf(GRID), want) < 4e-16


def test_erf_against_40_digit_values():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    points = np.random.default_rng(0).uniform(-6.5, 6.5, 3000)
    want = np.array([float(mpmath.erf(mpmath.mpf(float(v)))) for v in points])
    assert _relative_error(erf(points), want) < 4e-16


def test_erf_against_pytorch_in_float64_and_float32():
    torch = pytest.importorskip("torch")
    got64 = erf(GRID)
    np.testing.assert_allclose(got64, torch.erf(torch.from_numpy(GRID)).numpy(), rtol=4e-16, atol=0)
    x32 = GRID[np.abs(GRID) < 1e30].astype(np.float32)
    got32 = erf(x32)
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, torch.erf(torch.from_numpy(x32)).numpy(), rtol=2e-7, atol=1e-37)


def test_edges_nan_inf_signed_zero_scalars_and_ints():
    out = erf(np.array([np.nan, np.inf, -np.inf, 0.0, -0.0]))
    assert np.isnan(out[0]) and out[1] == 1 and out[2] == -1
    assert out[3] == 0 and not np.signbit(out[3]) and np.signbit(out[4])
    assert erf(0.5) == pytest.approx(math.erf(0.5), rel=1e-16) and np.ndim(erf(0.5)) == 0
    assert erf(np.array([1, 2])).dtype == np.float64
    assert erf(np.float32(0.3)).dtype == np.float32
    assert erf(np.zeros((0, 3))).shape == (0, 3)


def test_exact_gelu_and_its_gradient_against_pytorch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(1).standard_normal((64, 33)) * 3
    t = cr.tensor(x, requires_grad=True)
    y = cr.nn.functional.gelu(t)
    (y * np.cos(x)).sum().backward()
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.gelu(tx)
    (ty * torch.cos(torch.from_numpy(x))).sum().backward()
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(t.grad.data, tx.grad.numpy(), rtol=1e-14, atol=1e-15)
