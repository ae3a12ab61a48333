"""``stats.poisson``: the Poisson distribution with mean mu, shifted by loc; gradients in mu (k is a count).

logpmf = k log mu − log Γ(k + 1) − mu; cdf = Q(⌊k⌋ + 1, mu) (``gammaincc``, differentiable in mu).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...tensor import Tensor
from ._common import apply, check_positive, constant, distribution_function, operand, ops, scipy_attribute

__all__ = ["cdf", "logpmf", "pmf"]


def _count(k: Any, loc: Any, where: str) -> np.ndarray:
    return np.asarray(constant(k, "k", where), dtype=np.float64) - np.asarray(constant(loc, "loc", where))


@distribution_function("poisson")
def logpmf(k: Any, mu: Any, loc: Any = 0) -> Tensor:
    """log P(K = k) = k log mu − log k! − mu (−inf off the non-negative integers, as SciPy's)."""
    where = "stats.poisson.logpmf"
    k = _count(k, loc, where)
    mu = operand(mu, "mu", where)
    check_positive(mu, "mu", where)
    out = apply("xlogy", k, mu) - apply("gammaln", k + 1) - mu
    valid = (k >= 0) & (k == np.floor(k))
    return out if np.all(valid) else ops.where(valid, out, -np.inf)


@distribution_function("poisson")
def pmf(k: Any, mu: Any, loc: Any = 0) -> Tensor:
    """P(K = k), exp(logpmf)."""
    return ops.exp(logpmf(k, mu, loc))


@distribution_function("poisson")
def cdf(k: Any, mu: Any, loc: Any = 0) -> Tensor:
    """P(K ≤ k) = Q(⌊k⌋ + 1, mu): d/dmu = −pmf(⌊k⌋)."""
    where = "stats.poisson.cdf"
    k = np.floor(_count(k, loc, where))
    mu = operand(mu, "mu", where)
    check_positive(mu, "mu", where)
    from ..special import gammaincc

    mu = mu if isinstance(mu, Tensor) else ops.as_tensor(mu)
    out = gammaincc(np.maximum(k, 0) + 1, mu)
    return out if np.all(k >= 0) else ops.where(k >= 0, out, 0.0)


__getattr__ = scipy_attribute("poisson")
