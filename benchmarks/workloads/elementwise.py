"""W3: value and gradient of f(x) = Σ sin(x)·e^(−x²) + tanh(x)·log1p(x²) over 1e6 float32 (or float64) values.

Each implementation is ``() -> (value, gradient array)`` on the same input (``data.elementwise_input``). The floor
is the derivative written by hand, f′ = e^(−x²)(cos x − 2x sin x) + (1 − tanh²x)·log1p(x²) + tanh x · 2x/(1 + x²).
It runs three times: ``numpy`` with the C heap set as chainrule sets its own (the floor at its best, see
``chainrule/engine/allocator.py``), ``numpy-default-heap`` with glibc's defaults, and ``numpy-after-chainrule`` in a
process that imported chainrule first, which must not slow the user's own NumPy code down.
Checksum: the value, the gradient's norm and its sum (all large, so float32 rounding stays relative).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import Case, data, jax_modules


def _numpy(x: np.ndarray) -> Callable:
    def run():
        xx = x * x
        e = np.exp(-xx)
        s = np.sin(x)
        t = np.tanh(x)
        l = np.log1p(xx)
        value = float(np.sum(s * e + t * l))
        grad = e * (np.cos(x) - 2 * x * s) + (1 - t * t) * l + t * (2 * x) / (1 + xx)
        return value, grad

    return run


def _chainrule(x: np.ndarray) -> Callable:
    import chainrule as cr

    def f(v):
        return (cr.sin(v) * cr.exp(-(v * v)) + cr.tanh(v) * cr.log1p(v * v)).sum()

    vg = cr.value_and_grad(f)
    return lambda: vg(x)


def _torch(x: np.ndarray) -> Callable:
    import torch

    xt = torch.from_numpy(x)

    def run():
        v = xt.detach().requires_grad_()
        y = (torch.sin(v) * torch.exp(-(v * v)) + torch.tanh(v) * torch.log1p(v * v)).sum()
        (g,) = torch.autograd.grad(y, v)
        return y.item(), g.numpy()

    return run


def _jax(x: np.ndarray, jit: bool = True) -> Callable:
    jax, jnp = jax_modules()

    def f(v):
        return jnp.sum(jnp.sin(v) * jnp.exp(-(v * v)) + jnp.tanh(v) * jnp.log1p(v * v))

    vg = jax.jit(jax.value_and_grad(f)) if jit else jax.value_and_grad(f)
    xj = jnp.asarray(x)

    def run():
        y, g = jax.block_until_ready(vg(xj))
        return float(y), g

    return run


def _autograd(x: np.ndarray) -> Callable:
    import autograd.numpy as anp
    from autograd import value_and_grad

    def f(v):
        return anp.sum(anp.sin(v) * anp.exp(-(v * v)) + anp.tanh(v) * anp.log1p(v * v))

    vg = value_and_grad(f)
    return lambda: vg(x)


def _numpy_after_chainrule(x: np.ndarray) -> Callable:
    import chainrule  # noqa: F401 - imported for its effect on the process (its heap settings), not used

    return _numpy(x)


IMPLEMENTATIONS: dict[str, Callable[[np.ndarray], Callable]] = {
    "numpy": _numpy,
    "numpy-default-heap": _numpy,
    "numpy-after-chainrule": _numpy_after_chainrule,
    "chainrule": _chainrule,
    "torch": _torch,
    "jax": _jax,
    "jax-eager": lambda x: _jax(x, jit=False),
    "autograd": _autograd,
}


def make_case(lib: str, params: dict[str, Any]) -> Case:
    dtype = params.get("dtype", "float32")
    run = IMPLEMENTATIONS[lib](data.elementwise_input(params["n"], dtype))

    def checksum() -> list[float]:
        value, grad = run()
        grad = np.asarray(grad)
        if grad.dtype != dtype:
            raise TypeError(f"W3 is {dtype}, but the gradient came back as {grad.dtype}")
        grad = grad.astype(np.float64)
        return [float(value), float(np.linalg.norm(grad)), float(grad.sum())]

    return Case(run, checksum)
