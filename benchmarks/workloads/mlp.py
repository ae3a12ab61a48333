"""W1: one training step of an MLP (784-256-256-10, ReLU) with mean cross-entropy and plain SGD, in float32.

Every library starts from the same weights and cycles through the same four batches (``data.mlp``). A trainer is
``init(params) -> state``, ``step(state, x, y) -> (state, loss)``, ``export(state) -> arrays`` and
``convert(x, y)``, which turns a NumPy batch into the library's arrays once, before timing.
The checksum: the losses of four steps from the initial weights, and the norm of the weights after them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from . import Case, data, jax_modules


class Trainer(NamedTuple):
    init: Callable
    step: Callable
    export: Callable
    convert: Callable = lambda x, y: (x, y)


def _numpy(setup: data.MLPSetup) -> Trainer:
    """The floor: forward, backward and SGD written by hand."""
    lr = setup.lr

    def step(params, x, y):
        w1, b1, w2, b2, w3, b3 = params
        rows = np.arange(len(y))
        h1 = x @ w1.T
        h1 += b1
        a1 = np.maximum(h1, 0)
        h2 = a1 @ w2.T
        h2 += b2
        a2 = np.maximum(h2, 0)
        z = a2 @ w3.T
        z += b3
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        total = e.sum(axis=1, keepdims=True)
        loss = float(np.log(total[:, 0]).mean() - z[rows, y].mean())
        dz = e / total  # softmax − onehot, over the batch
        dz[rows, y] -= 1
        dz /= len(y)
        da2 = dz @ w3
        da2 *= h2 > 0
        da1 = da2 @ w2
        da1 *= h1 > 0
        grads = (da1.T @ x, da1.sum(0), da2.T @ a1, da2.sum(0), dz.T @ a2, dz.sum(0))
        for p, g in zip(params, grads, strict=True):
            p -= lr * g
        return params, loss

    return Trainer(lambda params: [p.copy() for p in params], step, lambda params: params)


def _chainrule(setup: data.MLPSetup) -> Trainer:
    """Plain chainrule ops: x @ W.T + b, relu, log_softmax, indexing for the loss, SGD on .data."""
    import chainrule as cr

    lr = setup.lr

    def step(params, x, y):
        w1, b1, w2, b2, w3, b3 = params
        h = cr.relu(x @ w1.T + b1)
        h = cr.relu(h @ w2.T + b2)
        logp = cr.log_softmax(h @ w3.T + b3, axis=1)
        loss = -logp[np.arange(len(y)), y].mean()
        loss.backward()
        for p in params:
            p.data -= lr * p.grad.data
            p.grad = None
        return params, loss.item()

    return Trainer(lambda params: [cr.tensor(p, requires_grad=True) for p in params], step,
                   lambda params: [p.numpy() for p in params])


def _chainrule_nn(setup: data.MLPSetup) -> Trainer:
    """chainrule.nn and chainrule.optim: Sequential of Linear/ReLU, functional.cross_entropy, optim.SGD."""
    import chainrule as cr

    nn = cr.nn
    sizes = [setup.params[0].shape[1]] + [w.shape[0] for w in setup.params[::2]]

    def init(params):
        layers = []
        for n_in, n_out in itertools.pairwise(sizes):
            layers += [nn.Linear(n_in, n_out, seed=0), nn.ReLU()]
        model = nn.Sequential(*layers[:-1])
        linears = [layer for layer in model if isinstance(layer, nn.Linear)]
        for layer, w, b in zip(linears, params[::2], params[1::2], strict=True):
            layer.weight.data[...] = w
            layer.bias.data[...] = b
        return model, cr.optim.SGD(model.parameters(), lr=setup.lr)

    def step(state, x, y):
        model, optimizer = state
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return state, loss.item()

    return Trainer(init, step, lambda state: [p.numpy() for p in state[0].parameters()])


def _torch(setup: data.MLPSetup) -> Trainer:
    import torch
    import torch.nn.functional as F

    lr = setup.lr

    def step(params, x, y):
        w1, b1, w2, b2, w3, b3 = params
        h = F.relu(F.linear(x, w1, b1))
        h = F.relu(F.linear(h, w2, b2))
        loss = F.cross_entropy(F.linear(h, w3, b3), y)
        loss.backward()
        with torch.no_grad():
            for p in params:
                p.sub_(p.grad, alpha=lr)
                p.grad = None
        return params, loss.item()

    return Trainer(lambda params: [torch.tensor(p, requires_grad=True) for p in params], step,
                   lambda params: [p.detach().numpy() for p in params],
                   lambda x, y: (torch.from_numpy(x), torch.from_numpy(y)))


def _jax(setup: data.MLPSetup, jit: bool = True) -> Trainer:
    jax, jnp = jax_modules()
    lr = setup.lr

    def loss_fn(params, x, y):
        w1, b1, w2, b2, w3, b3 = params
        h = jax.nn.relu(x @ w1.T + b1)
        h = jax.nn.relu(h @ w2.T + b2)
        logp = jax.nn.log_softmax(h @ w3.T + b3, axis=1)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    def update(params, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        return [p - lr * g for p, g in zip(params, grads, strict=True)], loss

    update = jax.jit(update) if jit else update

    def step(params, x, y):
        params, loss = jax.block_until_ready(update(params, x, y))
        return params, float(loss)

    return Trainer(lambda params: [jnp.asarray(p) for p in params], step,
                   lambda params: [np.asarray(p) for p in params], lambda x, y: (jnp.asarray(x), jnp.asarray(y)))


def _autograd(setup: data.MLPSetup) -> Trainer:
    import autograd.numpy as anp
    from autograd import value_and_grad

    lr = setup.lr

    def loss_fn(params, x, y):
        w1, b1, w2, b2, w3, b3 = params
        h = anp.maximum(anp.dot(x, w1.T) + b1, 0)
        h = anp.maximum(anp.dot(h, w2.T) + b2, 0)
        z = anp.dot(h, w3.T) + b3
        z = z - anp.max(z, axis=1, keepdims=True)
        logp = z - anp.log(anp.sum(anp.exp(z), axis=1, keepdims=True))
        return -anp.mean(logp[anp.arange(len(y)), y])

    loss_and_grads = value_and_grad(loss_fn)

    def step(params, x, y):
        loss, grads = loss_and_grads(params, x, y)
        for p, g in zip(params, grads, strict=True):
            p -= lr * g
        return params, float(loss)

    return Trainer(lambda params: [p.copy() for p in params], step, lambda params: params)


IMPLEMENTATIONS: dict[str, Callable[[data.MLPSetup], Trainer]] = {
    "numpy": _numpy,
    "chainrule": _chainrule,
    "chainrule-nn": _chainrule_nn,
    "torch": _torch,
    "jax": _jax,
    "jax-eager": lambda setup: _jax(setup, jit=False),
    "autograd": _autograd,
}


def make_case(lib: str, params: dict[str, Any]) -> Case:
    setup = data.mlp(params["batch"], params["sizes"])
    trainer = IMPLEMENTATIONS[lib](setup)
    batches = [trainer.convert(x, y) for x, y in setup.batches]

    def checksum() -> list[float]:
        state = trainer.init(setup.params)
        losses = []
        for x, y in batches:
            state, loss = trainer.step(state, x, y)
            losses.append(loss)
        norm = np.sqrt(sum(np.sum(np.square(np.asarray(p, np.float64))) for p in trainer.export(state)))
        return [*losses, float(norm)]

    state = trainer.init(setup.params)
    count = 0

    def step() -> float:
        nonlocal state, count
        x, y = batches[count % len(batches)]
        count += 1
        state, loss = trainer.step(state, x, y)
        return loss

    return Case(step, checksum)
