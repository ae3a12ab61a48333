"""Seeded inputs shared by every library. Each worker rebuilds the same NumPy arrays from the same seeds, then
converts them to its library's arrays, so that all libraries start from identical numbers."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

SEED = 5


@dataclass(frozen=True)
class MLPSetup:
    """W1: weights (out, in) and biases as in PyTorch's Linear, in the order W1, b1, W2, b2, W3, b3; the batches."""

    params: list[np.ndarray]
    batches: list[tuple[np.ndarray, np.ndarray]]
    lr: float


def mlp(batch: int, sizes: list[int], n_batches: int = 4, lr: float = 0.01) -> MLPSetup:
    rng = np.random.default_rng(SEED)
    params = []
    for n_in, n_out in itertools.pairwise(sizes):
        bound = 1 / np.sqrt(n_in)  # PyTorch's default Linear init
        params.append(rng.uniform(-bound, bound, (n_out, n_in)).astype(np.float32))
        params.append(rng.uniform(-bound, bound, n_out).astype(np.float32))
    batches = [(rng.standard_normal((batch, sizes[0])).astype(np.float32),
                rng.integers(0, sizes[-1], batch).astype(np.int64)) for _ in range(n_batches)]
    return MLPSetup(params, batches, lr)


def scalar_constants(nodes: int) -> list[float]:
    """W2: one constant per 5 nodes (y·c, + x, tanh, ·0.1, exp)."""
    return np.random.default_rng(SEED).uniform(-0.5, 0.5, nodes // 5).tolist()


def elementwise_input(n: int, dtype: str = "float32") -> np.ndarray:
    """W3: values centred at 0.5, so the sums of odd functions do not cancel to noise."""
    return (np.random.default_rng(SEED).standard_normal(n) + 0.5).astype(dtype)


def hessian_problem(n: int) -> tuple[np.ndarray, np.ndarray]:
    """W4: A with entries of variance 1/n (so Ax is O(1)) and the point x."""
    rng = np.random.default_rng(SEED)
    return rng.standard_normal((n, n)) / np.sqrt(n), rng.standard_normal(n)


def gp_problem(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """W7: n points in [0, 1]³, targets from a smooth function plus noise, and the hyperparameters
    θ = (log ℓ, log σ², log s²) at which the NLML and its gradient are taken."""
    rng = np.random.default_rng(SEED)
    x = rng.uniform(size=(n, 3))
    y = np.sin(3 * x[:, 0]) + np.cos(2 * x[:, 1]) * x[:, 2] + 0.1 * rng.standard_normal(n)
    return x, y, np.array([np.log(0.3), np.log(1.2), np.log(0.05)])


def squared_distances(x: np.ndarray) -> np.ndarray:
    """‖xᵢ − xⱼ‖² for every pair of rows (a constant of W7)."""
    sq = (x * x).sum(axis=1)
    return np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0.0)
