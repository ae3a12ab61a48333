"""What the distributions share: SciPy's function when no Tensor is given, argument checks, the location-scale
standardisation z = (x − loc)/scale."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import numpy as np

from ... import ops
from .._util import apply, check_positive, constant, operand, raw, scipy_name

__all__ = [
    "apply",
    "check_positive",
    "constant",
    "distribution_function",
    "operand",
    "ops",
    "outside_support",
    "raw",
    "scipy_attribute",
    "standardise",
]


def distribution_function(distribution: str) -> Callable[[Callable], Callable]:
    """``scipy.stats.<distribution>.<name>`` itself when no argument is a Tensor; with one, the composition, and
    errors that name the function."""
    return scipy_name("stats", distribution, label=f"stats.{distribution}")


def standardise(x: Any, loc: Any, scale: Any, where: str):
    """(x − loc)/scale and log(scale), with ``scale`` checked positive."""
    x = operand(x, "x", where)
    if x.dtype.kind == "c":
        raise TypeError(f"{where}: `x` has dtype {x.dtype}; a density takes real numbers (take cnp.real(x) or "
                        "cnp.abs(x) first)")
    loc, scale = operand(loc, "loc", where, weak=True), operand(scale, "scale", where, weak=True)
    check_positive(scale, "scale", where)
    # the defaults (loc 0, scale 1) add no node to the graph, nor a step to an explanation
    z = x if isinstance(loc, int | float) and loc == 0 else x - loc
    z = z if isinstance(scale, int | float) and scale == 1 else z / scale
    return z, ops.log(scale) if not (isinstance(scale, int | float) and scale == 1) else 0.0


def outside_support(z: Any, inside: Any, safe: float, logpdf: Any) -> Any:
    """``logpdf(z)`` where ``inside`` holds and −inf elsewhere (SciPy's value off the support). The formula sees
    ``safe`` off the support, so neither its value nor its gradient turns nan there (the gradient is 0)."""
    inside = np.asarray(inside)
    if inside.all():
        return logpdf(z)
    return ops.where(inside, logpdf(ops.where(inside, z, safe)), -np.inf)


def scipy_attribute(distribution: str) -> Callable[[str], Any]:
    """A module ``__getattr__``: the distribution's other methods (``rvs``, ``mean``, ``ppf``...) are SciPy's own,
    on arrays, without gradients."""

    def __getattr__(name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        scipy_distribution = getattr(importlib.import_module("scipy.stats"), distribution)
        try:
            return getattr(scipy_distribution, name)
        except AttributeError:
            raise AttributeError(
                f"chainrule.scipy.stats.{distribution} has no attribute {name!r} (nor has scipy.stats.{distribution})"
            ) from None

    return __getattr__
