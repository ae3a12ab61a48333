"""``stats.chi2``: the chi-squared distribution with df degrees of freedom (a gamma with shape df/2 and scale 2).

logpdf gradients in x, df, loc and scale; cdf = P(df/2, z/2): gradients in x, loc and scale, none in df.
"""

from __future__ import annotations

from typing import Any

from ...tensor import Tensor
from . import gamma
from ._common import distribution_function, operand, ops, scipy_attribute

__all__ = ["cdf", "logpdf", "pdf"]


@distribution_function("chi2")
def logpdf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
    """log of the chi-squared density: the gamma one with a = df/2, scale 2·scale."""
    df = operand(df, "df", "stats.chi2.logpdf")
    return gamma.logpdf(ops.as_tensor(operand(x, "x", "stats.chi2.logpdf")), df / 2, loc, 2 * scale)


@distribution_function("chi2")
def pdf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
    """The chi-squared density, exp(logpdf)."""
    return ops.exp(logpdf(x, df, loc, scale))


@distribution_function("chi2")
def cdf(x: Any, df: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
    """P(df/2, (x − loc)/(2 scale)); no gradient flows into df."""
    df = operand(df, "df", "stats.chi2.cdf")
    return gamma.cdf(ops.as_tensor(operand(x, "x", "stats.chi2.cdf")), df / 2, loc, 2 * scale)


__getattr__ = scipy_attribute("chi2")
