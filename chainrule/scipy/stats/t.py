"""``stats.t``: Student's t distribution with df degrees of freedom, location loc and scale.

logpdf = log Γ((ν+1)/2) − log Γ(ν/2) − ½ log(νπ) − log scale − (ν+1)/2 · log(1 + z²/ν), z = (x − loc)/scale:
gradients in x, df, loc and scale. cdf = F_ν(z) (``stdtr``): gradients in x, loc and scale, none in df.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...errors import DomainError
from ...tensor import Tensor
from ._common import (
    apply,
    check_positive,
    constant,
    distribution_function,
    operand,
    ops,
    raw,
    scipy_attribute,
    standardise,
)

__all__ = ["cdf", "logcdf", "logpdf", "pdf"]


@distribution_function("t")
def logpdf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
    """log of Student's t density."""
    where = "stats.t.logpdf"
    z, log_scale = standardise(x, loc, scale, where)
    df = operand(df, "df", where)
    check_positive(df, "df", where)
    if not np.all(np.isfinite(raw(df))):
        raise DomainError(f"{where}: `df` must be finite; for df = inf (the normal limit) use stats.norm.logpdf")
    half = (df + 1) / 2
    return (
        apply("gammaln", half)
        - apply("gammaln", df / 2)
        - 0.5 * ops.log(df * math.pi)
        - log_scale
        - half * ops.log1p(z * z / df)
    )


@distribution_function("t")
def pdf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
    """Student's t density, exp(logpdf)."""
    return ops.exp(logpdf(x, df, loc, scale))


@distribution_function("t")
def cdf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
    """F_ν((x − loc)/scale); no gradient flows into df (a parameter of the ``stdtr`` rule)."""
    where = "stats.t.cdf"
    z = standardise(x, loc, scale, where)[0]
    df = constant(df, "df", where)
    check_positive(df, "df", where)
    from ..special import stdtr

    return stdtr(df, z if isinstance(z, Tensor) else ops.as_tensor(z))


@distribution_function("t")
def logcdf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
    """log F_ν((x − loc)/scale); no gradient in df."""
    return ops.log(cdf(x, df, loc, scale))


__getattr__ = scipy_attribute("t")
