"""W2: a graph of scalars, y ← exp(0.1·tanh(y·c + x)) for 2,000 constants c: 10,000 nodes of +, *, tanh, exp.

x enters every step, so dy/dx stays O(1) and the checksum (y, dy/dx) means something. Each implementation is a
function ``() -> (y, dy/dx)`` that builds the graph from x = 0.3 and differentiates it. The floor is a bare Python
tape on floats (``tape.py``). jax.jit runs the loop as a ``lax.scan``: jit of the unrolled 10k-node loop took
82 s to compile here, and eager jax.grad about 3–4 s per call.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

from . import Case, data, jax_modules, tape

X = 0.3


def _numpy(constants: list[float]) -> Callable:
    return lambda: tape.scalar_graph(X, constants)


def _chainrule(constants: list[float]) -> Callable:
    import chainrule as cr

    def run():
        x = cr.tensor(X, requires_grad=True)
        y = x
        for c in constants:
            y = cr.tanh(y * c + x)
            y = cr.exp(y * 0.1)
        y.backward()
        return y.item(), x.grad.item()

    return run


def _torch(constants: list[float]) -> Callable:
    import torch

    def run():
        x = torch.tensor(X, dtype=torch.float64, requires_grad=True)
        y = x
        for c in constants:
            y = torch.tanh(y * c + x)
            y = torch.exp(y * 0.1)
        y.backward()
        return y.item(), x.grad.item()

    return run


def _jax(constants: list[float]) -> Callable:
    jax, jnp = jax_modules()
    cs = jnp.asarray(constants)

    def f(x):
        def body(y, c):
            return jnp.exp(jnp.tanh(y * c + x) * 0.1), None

        return jax.lax.scan(body, x, cs)[0]

    value_and_grad = jax.jit(jax.value_and_grad(f))
    x = jnp.asarray(X)

    def run():
        y, g = jax.block_until_ready(value_and_grad(x))
        return float(y), float(g)

    return run


def _autograd(constants: list[float]) -> Callable:
    import autograd.numpy as anp
    from autograd import value_and_grad

    def f(x):
        y = x
        for c in constants:
            y = anp.tanh(y * c + x)
            y = anp.exp(y * 0.1)
        return y

    vg = value_and_grad(f)
    return lambda: tuple(float(v) for v in vg(X))


def _micrograd(constants: list[float]) -> Callable:
    """micrograd 0.1.0 (PyPI) has +, *, ** and relu only: tanh and exp are added here the way its own ops are
    written (a closure that adds local derivative · out.grad). Its topological sort recurses once per graph level,
    so the recursion limit is raised to cover this graph's depth (W5 keeps the default)."""
    from micrograd.engine import Value

    def tanh(v):
        t = math.tanh(v.data)
        out = Value(t, (v,), "tanh")

        def _backward():
            v.grad += (1.0 - t * t) * out.grad

        out._backward = _backward
        return out

    def exp(v):
        e = math.exp(v.data)
        out = Value(e, (v,), "exp")

        def _backward():
            v.grad += e * out.grad

        out._backward = _backward
        return out

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 4 * 5 * len(constants) + 1000))

    def run():
        x = Value(X)
        y = x
        for c in constants:
            y = tanh(y * c + x)
            y = exp(y * 0.1)
        y.backward()
        return y.data, x.grad

    return run


IMPLEMENTATIONS: dict[str, Callable[[list[float]], Callable]] = {
    "numpy": _numpy,
    "chainrule": _chainrule,
    "torch": _torch,
    "jax": _jax,
    "autograd": _autograd,
    "micrograd": _micrograd,
}


def make_case(lib: str, params: dict[str, Any]) -> Case:
    run = IMPLEMENTATIONS[lib](data.scalar_constants(params["nodes"]))
    return Case(run, lambda: [float(v) for v in run()])
