"""W9: the negative log marginal likelihood of a Gaussian process and its gradient in the hyperparameters, float64.

RBF kernel K = σ² exp(−‖xᵢ − xⱼ‖² / 2ℓ²) + s² I on n points in 3 dimensions (``data.gp_problem``), with the
hyperparameters θ = (log ℓ, log σ², log s²). With K = LLᵀ and z = L⁻¹y:

    NLML(θ) = ½ zᵀz + Σ log Lᵢᵢ + (n/2) log 2π,

computed with a Cholesky factorization, triangular solves and the log-determinant. Each implementation is
``() -> (NLML, ∂NLML/∂θ)``. The floor is written by hand in NumPy (SciPy's triangular solves): the analytic gradient
½ tr((K⁻¹ − ααᵀ) ∂K/∂θ) with α = K⁻¹y. chainrule differentiates the forward as written, with
``chainrule.scipy.linalg`` (cholesky and solve_triangular). Checksum: the NLML and the three gradient entries.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from . import Case, data, jax_modules

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _numpy(x: np.ndarray, y: np.ndarray, theta: np.ndarray) -> Callable:
    from scipy.linalg import solve_triangular

    d2 = data.squared_distances(x)
    n = len(y)

    def run():
        lengthscale2, variance, noise = np.exp(2 * theta[0]), np.exp(theta[1]), np.exp(theta[2])
        rbf = variance * np.exp(-0.5 / lengthscale2 * d2)
        k = rbf.copy()
        k[np.diag_indices(n)] += noise
        lower = np.linalg.cholesky(k)
        z = solve_triangular(lower, y, lower=True)
        nlml = 0.5 * z @ z + np.log(np.diag(lower)).sum() + n * _HALF_LOG_2PI
        alpha = solve_triangular(lower, z, lower=True, trans=1)
        inverse_lower = solve_triangular(lower, np.eye(n), lower=True)
        w = inverse_lower.T @ inverse_lower - np.outer(alpha, alpha)  # K⁻¹ − ααᵀ
        weighted = w * rbf
        grad = 0.5 * np.array([(weighted * d2).sum() / lengthscale2, weighted.sum(), noise * np.trace(w)])
        return nlml, grad

    return run


def _chainrule(x: np.ndarray, y: np.ndarray, theta: np.ndarray) -> Callable:
    import chainrule as cr
    import chainrule.numpy as cnp
    from chainrule.scipy.linalg import cholesky, solve_triangular

    d2 = data.squared_distances(x)
    n = len(y)
    eye = np.eye(n)

    def nlml(t):
        k = cr.exp(t[1]) * cr.exp(-0.5 * cr.exp(-2 * t[0]) * d2) + cr.exp(t[2]) * eye
        lower = cholesky(k, lower=True)
        z = solve_triangular(lower, y, lower=True)
        return 0.5 * (z * z).sum() + cr.log(cnp.diagonal(lower)).sum() + n * _HALF_LOG_2PI

    value_and_grad = cr.value_and_grad(nlml)
    return lambda: value_and_grad(theta)


def _torch(x: np.ndarray, y: np.ndarray, theta: np.ndarray) -> Callable:
    import torch

    d2 = torch.from_numpy(data.squared_distances(x))
    yt = torch.from_numpy(y)[:, None]
    n = len(y)
    eye = torch.eye(n, dtype=torch.float64)

    def run():
        t = torch.tensor(theta, requires_grad=True)
        k = torch.exp(t[1]) * torch.exp(-0.5 * torch.exp(-2 * t[0]) * d2) + torch.exp(t[2]) * eye
        lower = torch.linalg.cholesky(k)
        z = torch.linalg.solve_triangular(lower, yt, upper=False)
        value = 0.5 * (z * z).sum() + torch.log(torch.diagonal(lower)).sum() + n * _HALF_LOG_2PI
        value.backward()
        return float(value), t.grad.numpy()

    return run


def _jax(x: np.ndarray, y: np.ndarray, theta: np.ndarray) -> Callable:
    jax, jnp = jax_modules()
    from jax.scipy.linalg import solve_triangular

    d2 = jnp.asarray(data.squared_distances(x))
    yj = jnp.asarray(y)
    n = len(y)

    def nlml(t):
        k = jnp.exp(t[1]) * jnp.exp(-0.5 * jnp.exp(-2 * t[0]) * d2) + jnp.exp(t[2]) * jnp.eye(n)
        lower = jnp.linalg.cholesky(k)
        z = solve_triangular(lower, yj, lower=True)
        return 0.5 * z @ z + jnp.log(jnp.diag(lower)).sum() + n * _HALF_LOG_2PI

    value_and_grad = jax.jit(jax.value_and_grad(nlml))
    tj = jnp.asarray(theta)
    return lambda: jax.block_until_ready(value_and_grad(tj))


def _autograd(x: np.ndarray, y: np.ndarray, theta: np.ndarray) -> Callable:
    import autograd.numpy as anp
    from autograd import value_and_grad
    from autograd.scipy.linalg import solve_triangular

    d2 = data.squared_distances(x)
    n = len(y)
    eye = np.eye(n)

    def nlml(t):
        k = anp.exp(t[1]) * anp.exp(-0.5 * anp.exp(-2 * t[0]) * d2) + anp.exp(t[2]) * eye
        lower = anp.linalg.cholesky(k)
        z = solve_triangular(lower, y, lower=True)
        return 0.5 * anp.dot(z, z) + anp.sum(anp.log(anp.diag(lower))) + n * _HALF_LOG_2PI

    f = value_and_grad(nlml)
    return lambda: f(theta)


IMPLEMENTATIONS: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], Callable]] = {
    "numpy": _numpy,
    "chainrule": _chainrule,
    "torch": _torch,
    "jax": _jax,
    "autograd": _autograd,
}


def make_case(lib: str, params: dict[str, Any]) -> Case:
    x, y, theta = data.gp_problem(params["n"])
    run = IMPLEMENTATIONS[lib](x, y, theta)

    def checksum() -> list[float]:
        value, grad = run()
        grad = np.asarray(grad, dtype=np.float64)
        if grad.shape != (3,):
            raise ValueError(f"W9: the gradient has shape {grad.shape}, expected (3,)")
        return [float(value), *(float(g) for g in grad)]

    return Case(run, checksum)
