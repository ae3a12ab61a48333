"""``stats.norm``: the normal distribution N(loc, scale²); gradients in x, loc and scale.

logpdf = −z²/2 − log scale − log √(2π) with z = (x − loc)/scale; cdf = Φ(z) (``ndtr``), logcdf = log Φ(z)
(``log_ndtr``, accurate in the far left tail), sf = Φ(−z), logsf = log Φ(−z).
"""

from __future__ import annotations

import math
from typing import Any

from ...tensor import Tensor
from ._common import apply, distribution_function, ops, scipy_attribute, standardise

__all__ = ["cdf", "logcdf", "logpdf", "logsf", "pdf", "sf"]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


@distribution_function("norm")
def logpdf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
    """log of the normal density: −((x − loc)/scale)²/2 − log scale − log √(2π)."""
    z, log_scale = standardise(x, loc, scale, "stats.norm.logpdf")
    return -0.5 * (z * z) - log_scale - _LOG_SQRT_2PI


@distribution_function("norm")
def pdf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
    """The normal density, exp(logpdf)."""
    return ops.exp(logpdf(x, loc, scale))


@distribution_function("norm")
def cdf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
    """Φ((x − loc)/scale)."""
    return apply("ndtr", standardise(x, loc, scale, "stats.norm.cdf")[0])


@distribution_function("norm")
def logcdf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
    """log Φ((x − loc)/scale), accurate where Φ underflows."""
    return apply("log_ndtr", standardise(x, loc, scale, "stats.norm.logcdf")[0])


@distribution_function("norm")
def sf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
    """The survival function 1 − Φ(z) = Φ(−z)."""
    return apply("ndtr", -standardise(x, loc, scale, "stats.norm.sf")[0])


@distribution_function("norm")
def logsf(x: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
    """log(1 − Φ(z)) = log Φ(−z)."""
    return apply("log_ndtr", -standardise(x, loc, scale, "stats.norm.logsf")[0])


__getattr__ = scipy_attribute("norm")
