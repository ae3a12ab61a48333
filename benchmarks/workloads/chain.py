"""W5: a chain y ← 0.999·y + 0.001 of depth 100,000 (200,000 nodes) from x = 2, forward + backward.

The checksum is (y, dy/dx = 0.999^depth). Deep graphs expose recursive topological sorts: micrograd keeps Python's
default recursion limit here and fails with RecursionError. The floor is a bare Python tape (``tape.py``); jax.jit
runs the chain as a ``lax.scan`` (eager JAX and an unrolled jit are far too slow at this depth).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import Case, jax_modules, tape

X = 2.0  # not the fixed point 1, so y moves


def _numpy(depth: int) -> Callable:
    return lambda: tape.chain(X, depth)


def _chainrule(depth: int) -> Callable:
    import chainrule as cr

    def run():
        x = cr.tensor(X, requires_grad=True)
        y = x
        for _ in range(depth):
            y = y * 0.999 + 0.001
        y.backward()
        return y.item(), x.grad.item()

    return run


def _torch(depth: int) -> Callable:
    import torch

    def run():
        x = torch.tensor(X, dtype=torch.float64, requires_grad=True)
        y = x
        for _ in range(depth):
            y = y * 0.999 + 0.001
        y.backward()
        return y.item(), x.grad.item()

    return run


def _jax(depth: int) -> Callable:
    jax, jnp = jax_modules()

    def f(x):
        return jax.lax.scan(lambda y, _: (y * 0.999 + 0.001, None), x, None, length=depth)[0]

    value_and_grad = jax.jit(jax.value_and_grad(f))
    x = jnp.asarray(X)

    def run():
        y, g = jax.block_until_ready(value_and_grad(x))
        return float(y), float(g)

    return run


def _autograd(depth: int) -> Callable:
    from autograd import value_and_grad

    def f(x):
        y = x
        for _ in range(depth):
            y = y * 0.999 + 0.001
        return y

    vg = value_and_grad(f)
    return lambda: tuple(float(v) for v in vg(X))


def _micrograd(depth: int) -> Callable:
    from micrograd.engine import Value

    def run():
        x = Value(X)
        y = x
        for _ in range(depth):
            y = y * 0.999 + 0.001
        y.backward()
        return y.data, x.grad

    return run


IMPLEMENTATIONS: dict[str, Callable[[int], Callable]] = {
    "numpy": _numpy,
    "chainrule": _chainrule,
    "torch": _torch,
    "jax": _jax,
    "autograd": _autograd,
    "micrograd": _micrograd,
}


def make_case(lib: str, params: dict[str, Any]) -> Case:
    run = IMPLEMENTATIONS[lib](params["depth"])
    return Case(run, lambda: [float(v) for v in run()])
