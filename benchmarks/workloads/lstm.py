"""W8: an LSTM layer (input 128, hidden 256, sequence 50, batch 32, float32), forward and backward of the loss
Σ output · r (r fixed), gradients of all four parameters; ``cr.nn.LSTM``, PyTorch's fused ``nn.LSTM`` and a
hand-written NumPy floor (the input projection of every time step in one product, then the loop over time, and
backpropagation through time with the weight gradients as one product each at the end).

The checksum: the loss of each of the two inputs, then the norm of each parameter's gradient on the second.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import Case, data

NAMES = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    out = np.exp(-np.abs(x))  # never overflows: σ(x) = 1/(1+e^−x) for x ≥ 0, e^x/(1+e^x) below
    return np.where(x >= 0, 1, out) / (1 + out)


def _numpy(setup: data.LSTMSetup) -> Callable:
    w_ih, w_hh, b_ih, b_hh = (setup.weights[name] for name in NAMES)
    r = setup.readout
    hidden = w_hh.shape[1]

    def run(x):
        length, batch, _ = x.shape
        projected = (x.reshape(length * batch, -1) @ w_ih.T + (b_ih + b_hh)).reshape(length, batch, -1)
        gates = np.empty_like(projected)  # i, f, o after σ and g after tanh, per step
        cells = np.zeros((length + 1, batch, hidden), np.float32)
        hs = np.zeros((length + 1, batch, hidden), np.float32)
        for t in range(length):
            z = projected[t] + hs[t] @ w_hh.T
            a = gates[t]
            a[:] = _sigmoid(z)
            a[:, 2 * hidden : 3 * hidden] = np.tanh(z[:, 2 * hidden : 3 * hidden])
            i, f, g, o = np.split(a, 4, axis=1)
            cells[t + 1] = f * cells[t] + i * g
            hs[t + 1] = o * np.tanh(cells[t + 1])
        loss = float(np.sum(hs[1:] * r, dtype=np.float64))
        dz = np.empty_like(projected)
        gh = np.zeros((batch, hidden), np.float32)
        gc = np.zeros((batch, hidden), np.float32)
        for t in range(length - 1, -1, -1):
            gh += r[t]
            i, f, g, o = np.split(gates[t], 4, axis=1)
            tc = np.tanh(cells[t + 1])
            gc += gh * o * (1 - tc * tc)
            d = dz[t]
            d[:, :hidden] = gc * g * i * (1 - i)
            d[:, hidden : 2 * hidden] = gc * cells[t] * f * (1 - f)
            d[:, 2 * hidden : 3 * hidden] = gc * i * (1 - g * g)
            d[:, 3 * hidden :] = gh * tc * o * (1 - o)
            gc *= f
            gh = d @ w_hh
        flat = dz.reshape(length * batch, -1)
        bias = flat.sum(axis=0)
        grads = (flat.T @ x.reshape(length * batch, -1), flat.T @ hs[:-1].reshape(length * batch, -1), bias, bias)
        return loss, grads

    return run


def _chainrule_nn(setup: data.LSTMSetup) -> Callable:
    import chainrule as cr

    hidden, input_size = setup.weights["weight_hh_l0"].shape[1], setup.weights["weight_ih_l0"].shape[1]
    model = cr.nn.LSTM(input_size, hidden)
    model.load_state_dict(setup.weights)
    params = [getattr(model, name) for name in NAMES]
    r = setup.readout

    def run(x):
        for p in params:
            p.grad = None
        out, _ = model(x)
        loss = (out * r).sum()
        loss.backward()
        return loss.item(), [p.grad.data for p in params]

    return run


def _torch(setup: data.LSTMSetup) -> Callable:
    import torch

    hidden, input_size = setup.weights["weight_hh_l0"].shape[1], setup.weights["weight_ih_l0"].shape[1]
    model = torch.nn.LSTM(input_size, hidden)
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in setup.weights.items()})
    params = [getattr(model, name) for name in NAMES]
    r = torch.from_numpy(setup.readout)

    def run(x):
        for p in params:
            p.grad = None
        out, _ = model(x)
        loss = (out * r).sum()
        loss.backward()
        return loss.item(), [p.grad.numpy() for p in params]

    return run


IMPLEMENTATIONS: dict[str, Callable] = {"numpy": _numpy, "chainrule-nn": _chainrule_nn, "torch": _torch}


def make_case(lib: str, params: dict[str, Any]) -> Case:
    setup = data.lstm(**params)
    run = IMPLEMENTATIONS[lib](setup)
    inputs = setup.inputs
    if lib == "torch":
        import torch

        inputs = [torch.from_numpy(x) for x in inputs]

    def checksum() -> list[float]:
        losses = []
        for x in inputs:
            loss, grads = run(x)
            losses.append(loss)
        return [*losses, *(float(np.linalg.norm(np.asarray(g, np.float64))) for g in grads)]

    count = 0

    def step() -> float:
        nonlocal count
        count += 1
        return run(inputs[count % len(inputs)])[0]

    return Case(step, checksum)
