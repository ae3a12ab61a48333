"""``chainrule.scipy.signal``: ``convolve(in1, in2, mode)``, N-dimensional, differentiable in both inputs.

A rule of ``chainrule/rules/scipy_signal.py``: the gradient of each input is a "valid" correlation of the upstream
gradient (placed in the full output) with the other input, the same rule again, so higher orders work.

>>> import numpy as np, chainrule as cr
>>> from chainrule.scipy import signal
>>> signal.convolve(cr.tensor([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5]))
tensor([0. , 1. , 2.5, 4. , 1.5])
"""

from __future__ import annotations

from typing import Any

from ..errors import ShapeError
from ..rules import scipy_signal
from ..tensor import Tensor
from ._util import apply, operand, scipy_name

__all__ = ["convolve"]


@scipy_name("signal")
def convolve(in1: Any, in2: Any, mode: str = "full", method: str = "auto") -> Tensor:
    """The N-d convolution of ``in1`` and ``in2``: ``mode`` "full" (all overlaps), "valid" (full overlaps only; one
    input must be at least as large as the other along every axis) or "same" (the size of ``in1``, centred)."""
    where = "signal.convolve"
    if mode not in scipy_signal.MODES:
        raise ValueError(f"{where}: `mode` must be one of {scipy_signal.MODES}; got {mode!r}")
    a, b = operand(in1, "in1", where), operand(in2, "in2", where)
    if a.ndim != b.ndim:
        raise ShapeError(
            f"{where}: `in1` of shape {a.shape} and `in2` of shape {b.shape} have different numbers "
            "of dimensions; expected the same"
        )
    if a.size == 0 or b.size == 0:
        raise ShapeError(f"{where}: an empty input (shapes {a.shape} and {b.shape}); expected non-empty arrays")
    if mode == "valid":
        larger = all(p >= q for p, q in zip(a.shape, b.shape, strict=True))
        smaller = all(p <= q for p, q in zip(a.shape, b.shape, strict=True))
        if not (larger or smaller):
            raise ShapeError(
                f"{where}: for mode 'valid' one input must be at least as large as the other along "
                f"every axis; got shapes {a.shape} and {b.shape}"
            )
    return apply("convolve", a, b, mode=mode)
