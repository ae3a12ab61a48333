"""``stats.dirichlet``: the Dirichlet distribution with concentrations alpha; gradients in x and alpha.

logpdf = Σ (α_i − 1) log x_i + log Γ(Σ α_i) − Σ log Γ(α_i). As in SciPy, x has shape (K,) or (K, N): its components
along the first axis.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import DomainError, ShapeError
from ...tensor import Tensor
from ._common import apply, check_positive, distribution_function, operand, ops, scipy_attribute

__all__ = ["logpdf", "pdf"]


@distribution_function("dirichlet")
def logpdf(x: Any, alpha: Any) -> Tensor:
    """log of the Dirichlet density at x (components along x's first axis, as SciPy's)."""
    where = "stats.dirichlet.logpdf"
    x, alpha = ops.as_tensor(operand(x, "x", where)), ops.as_tensor(operand(alpha, "alpha", where))
    if alpha.ndim != 1:
        raise ShapeError(f"{where}: `alpha` has shape {alpha.shape}; expected a vector (K,)")
    check_positive(alpha, "alpha", where)
    k = alpha.shape[0]
    if x.ndim == 0 or x.shape[0] not in (k, k - 1):
        raise ShapeError(f"{where}: `x` has shape {x.shape}; expected ({k},) or ({k}, N) for {k} concentrations")
    if x.shape[0] == k - 1:  # SciPy accepts K − 1 components and completes them to sum to 1
        x = ops.concatenate([x, 1 - ops.sum(x, axis=0, keepdims=True)], axis=0)
    values = x.data
    if np.any(values < 0) or np.any(values > 1) or np.any(np.abs(values.sum(axis=0) - 1) > 1e-9):
        raise DomainError(
            f"{where}: `x` must lie on the simplex (components in [0, 1] summing to 1 along the first axis), as "
            f"SciPy requires; got component sums {np.round(values.sum(axis=0), 12).ravel()[:5]} and values from "
            f"{values.min():.6g} to {values.max():.6g}"
        )
    alpha_column = alpha if x.ndim == 1 else ops.reshape(alpha, (k,) + (1,) * (x.ndim - 1))
    return (
        ops.sum(apply("xlogy", alpha_column - 1, x), axis=0)
        + apply("gammaln", ops.sum(alpha))
        - ops.sum(apply("gammaln", alpha))
    )


@distribution_function("dirichlet")
def pdf(x: Any, alpha: Any) -> Tensor:
    """The Dirichlet density, exp(logpdf)."""
    return ops.exp(logpdf(x, alpha))


__getattr__ = scipy_attribute("dirichlet")
