"""``stats.gamma``: the gamma distribution with shape a, location loc and scale.

logpdf = (a − 1) log z − z − log Γ(a) − log scale, z = (x − loc)/scale: gradients in x, a, loc and scale.
cdf = P(a, z) (``gammainc``): gradients in x, loc and scale, none in a.
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


@distribution_function("gamma")
def logpdf(x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
    """log of the gamma density (−inf for x ≤ loc, as SciPy's)."""
    where = "stats.gamma.logpdf"
    z, log_scale = standardise(x, loc, scale, where)
    a = operand(a, "a", where)
    check_positive(a, "a", where)
    return outside_support(
        z, raw(z) >= 0, 1.0, lambda z: apply("xlogy", a - 1, z) - z - apply("gammaln", a) - log_scale
    )


@distribution_function("gamma")
def pdf(x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
    """The gamma density, exp(logpdf)."""
    return ops.exp(logpdf(x, a, loc, scale))


@distribution_function("gamma")
def cdf(x: Any, a: Any, loc: Any = 0.0, scale: Any = 1.0) -> Tensor:
    """P(a, (x − loc)/scale); no gradient flows into a."""
    where = "stats.gamma.cdf"
    z = standardise(x, loc, scale, where)[0]
    a = constant(a, "a", where)
    check_positive(a, "a", where)
    from ..special import gammainc

    return gammainc(a, ops.maximum(ops.as_tensor(z), 0.0))


__getattr__ = scipy_attribute("gamma")
