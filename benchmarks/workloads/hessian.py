"""W4: the Hessian of f(x) = Σ tanh(Ax) + ½‖x‖² in float64, at n = 100 and 300.

Each implementation is ``() -> H`` at the same A and x (``data.hessian_problem``); torch uses torch.func.hessian.
The floor is the Hessian written by hand: with t = tanh(Ax), H = Aᵀ diag(−2t(1 − t²)) A + I.
Checksum: trace, Frobenius norm and sum of H.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import Case, data, jax_modules


def _numpy(a: np.ndarray, x: np.ndarray) -> Callable:
    def run():
        t = np.tanh(a @ x)
        h = (a.T * (-2 * t * (1 - t * t))) @ a
        h[np.diag_indices_from(h)] += 1
        return h

    return run


def _chainrule(a: np.ndarray, x: np.ndarray) -> Callable:
    import chainrule as cr

    def f(v):
        return cr.tanh(a @ v).sum() + 0.5 * (v * v).sum()

    hessian = cr.hessian(f)
    return lambda: hessian(x)


def _torch(a: np.ndarray, x: np.ndarray) -> Callable:
    import torch

    at, xt = torch.from_numpy(a), torch.from_numpy(x)

    def f(v):
        return torch.tanh(at @ v).sum() + 0.5 * (v * v).sum()

    hessian = torch.func.hessian(f)
    return lambda: hessian(xt).numpy()


def _jax(a: np.ndarray, x: np.ndarray, jit: bool = True) -> Callable:
    jax, jnp = jax_modules()

    def f(v, m):
        return jnp.sum(jnp.tanh(m @ v)) + 0.5 * jnp.sum(v * v)

    hessian = jax.jit(jax.hessian(f)) if jit else jax.hessian(f)
    aj, xj = jnp.asarray(a), jnp.asarray(x)
    return lambda: jax.block_until_ready(hessian(xj, aj))


def _autograd(a: np.ndarray, x: np.ndarray) -> Callable:
    import autograd.numpy as anp
    from autograd import hessian

    def f(v):
        return anp.sum(anp.tanh(anp.dot(a, v))) + 0.5 * anp.sum(v * v)

    h = hessian(f)
    return lambda: h(x)


IMPLEMENTATIONS: dict[str, Callable[[np.ndarray, np.ndarray], Callable]] = {
    "numpy": _numpy,
    "chainrule": _chainrule,
    "torch": _torch,
    "jax": _jax,
    "jax-eager": lambda a, x: _jax(a, x, jit=False),
    "autograd": _autograd,
}


def make_case(lib: str, params: dict[str, Any]) -> Case:
    a, x = data.hessian_problem(params["n"])
    run = IMPLEMENTATIONS[lib](a, x)

    def checksum() -> list[float]:
        h = np.asarray(run(), dtype=np.float64)
        if h.shape != (len(x), len(x)):
            raise ValueError(f"W4: the Hessian has shape {h.shape}, expected {(len(x), len(x))}")
        return [float(np.trace(h)), float(np.linalg.norm(h)), float(h.sum())]

    return Case(run, checksum)
