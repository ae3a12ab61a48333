"""``stats.beta``: the beta distribution with shapes a, b, location loc and scale.

logpdf = (a − 1) log z + (b − 1) log(1 − z) − log B(a, b) − log scale, z = (x − loc)/scale: gradients in x, a, b,
loc and scale. cdf = I_z(a, b) (``betainc``): gradients in x, loc and scale, none in a and b.
"""

from __future__ import annotations

from typing import Any

from ...tensor import Tensor
from ._common import (
    apply,
    check_positive,
    constant,
    distribution_function,
    operand,
    ops,
    outside_support,
    raw,
    scipy_attribute,
    standardise,
)

__all__ = ["cdf", "logpdf", "pdf"]


@distribution_function("beta")
def logpdf(x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
    """log of the beta density."""
    where = "stats.beta.logpdf"
    z, log_scale = standardise(x, loc, scale, where)
    a, b = operand(a, "a", where), operand(b, "b", where)
    check_positive(a, "a", where)
    check_positive(b, "b", where)
    values = raw(z)
    return outside_support(
        z, (values >= 0) & (values <= 1), 0.5,
        lambda z: apply("xlogy", a - 1, z) + apply("xlog1py", b - 1, -z) - apply("betaln", a, b) - log_scale,
    )


@distribution_function("beta")
def pdf(x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
    """The beta density, exp(logpdf)."""
    return ops.exp(logpdf(x, a, b, loc, scale))


@distribution_function("beta")
def cdf(x: Any, a: Any, b: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
    """I_z(a, b) with z = (x − loc)/scale; no gradient flows into a and b."""
    where = "stats.beta.cdf"
    z = standardise(x, loc, scale, where)[0]
    a, b = constant(a, "a", where), constant(b, "b", where)
    check_positive(a, "a", where)
    check_positive(b, "b", where)
    from ..special import betainc

    return betainc(a, b, ops.clip(z if isinstance(z, Tensor) else ops.as_tensor(z), 0.0, 1.0))


__getattr__ = scipy_attribute("beta")
