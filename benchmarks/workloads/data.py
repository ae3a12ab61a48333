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
    """W9: n points in [0, 1]³, targets from a smooth function plus noise, and the hyperparameters
    θ = (log ℓ, log σ², log s²) at which the NLML and its gradient are taken."""
    rng = np.random.default_rng(SEED)
    x = rng.uniform(size=(n, 3))
    y = np.sin(3 * x[:, 0]) + np.cos(2 * x[:, 1]) * x[:, 2] + 0.1 * rng.standard_normal(n)
    return x, y, np.array([np.log(0.3), np.log(1.2), np.log(0.05)])


def squared_distances(x: np.ndarray) -> np.ndarray:
    """‖xᵢ − xⱼ‖² for every pair of rows (a constant of W9)."""
    sq = (x * x).sum(axis=1)
    return np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0.0)

@dataclass(frozen=True)
class CharLMSetup:
    """W7: the model's sizes, its weights under the names both libraries' state dicts use, and the batches."""

    sizes: dict[str, int]
    state: dict[str, np.ndarray]
    batches: list[tuple[np.ndarray, np.ndarray]]


def charlm(vocab: int, context: int, width: int, layers: int, heads: int, batch: int,
           n_batches: int = 4) -> CharLMSetup:
    """Embeddings N(0, 1), every matrix and bias U(±1/√fan_in), norms at weight 1 and bias 0 (PyTorch's defaults,
    drawn here once so that every library starts from the same numbers); ids uniform over the vocabulary."""
    rng = np.random.default_rng(SEED)

    def uniform(*shape: int, fan_in: int) -> np.ndarray:
        bound = 1 / np.sqrt(fan_in)
        return rng.uniform(-bound, bound, shape).astype(np.float32)

    state = {"tok_emb.weight": rng.standard_normal((vocab, width)).astype(np.float32),
             "pos_emb.weight": rng.standard_normal((context, width)).astype(np.float32)}
    for k in range(layers):
        p = f"layers.{k}."
        state |= {p + "self_attn.in_proj_weight": uniform(3 * width, width, fan_in=width),
                  p + "self_attn.in_proj_bias": uniform(3 * width, fan_in=width),
                  p + "self_attn.out_proj.weight": uniform(width, width, fan_in=width),
                  p + "self_attn.out_proj.bias": uniform(width, fan_in=width),
                  p + "linear1.weight": uniform(4 * width, width, fan_in=width),
                  p + "linear1.bias": uniform(4 * width, fan_in=width),
                  p + "linear2.weight": uniform(width, 4 * width, fan_in=4 * width),
                  p + "linear2.bias": uniform(width, fan_in=4 * width)}
        for norm in ("norm1", "norm2"):
            state |= {p + norm + ".weight": np.ones(width, np.float32), p + norm + ".bias": np.zeros(width, np.float32)}
    state |= {"norm.weight": np.ones(width, np.float32), "norm.bias": np.zeros(width, np.float32),
              "head.weight": uniform(vocab, width, fan_in=width), "head.bias": uniform(vocab, fan_in=width)}
    text = rng.integers(0, vocab, 20 * context * batch)
    batches = []
    for _ in range(n_batches):
        starts = rng.integers(0, len(text) - context, batch)
        windows = text[starts[:, None] + np.arange(context + 1)].astype(np.int64)
        batches.append((windows[:, :-1].copy(), windows[:, 1:].copy()))
    sizes = {"vocab": vocab, "context": context, "width": width, "layers": layers, "heads": heads}
    return CharLMSetup(sizes, state, batches)


@dataclass(frozen=True)
class LSTMSetup:
    """W8: LSTM weights in PyTorch's gate order (i, f, g, o) and shapes, the input sequences (L, N, input) and the
    fixed weights of the loss Σ out · r."""

    weights: dict[str, np.ndarray]
    inputs: list[np.ndarray]
    readout: np.ndarray


def lstm(input_size: int, hidden: int, length: int, batch: int, n_batches: int = 2) -> LSTMSetup:
    rng = np.random.default_rng(SEED)
    bound = 1 / np.sqrt(hidden)  # PyTorch's LSTM initialisation

    def uniform(*shape: int) -> np.ndarray:
        return rng.uniform(-bound, bound, shape).astype(np.float32)

    weights = {"weight_ih_l0": uniform(4 * hidden, input_size), "weight_hh_l0": uniform(4 * hidden, hidden),
               "bias_ih_l0": uniform(4 * hidden), "bias_hh_l0": uniform(4 * hidden)}
    inputs = [rng.standard_normal((length, batch, input_size)).astype(np.float32) for _ in range(n_batches)]
    readout = (rng.standard_normal((length, batch, hidden)) / (length * batch)).astype(np.float32)
    return LSTMSetup(weights, inputs, readout)
