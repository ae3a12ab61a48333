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

import numpy as np

from .. import ops
from ..errors import ShapeError
from ..rules import scipy_signal
from ..tensor import Tensor
from ._util import apply, operand, scipy_fallback

__all__ = ["convolve"]


def convolve(
    in1: Any, in2: Any, mode: str = "full", method: str = "auto", *, axes: Any = None, dot_axes: Any = None
) -> Any:
    """The N-d convolution of ``in1`` and ``in2``: ``mode`` "full" (all overlaps), "valid" (full overlaps only; one
    input must be at least as large as the other along every axis) or "same" (the size of ``in1``, centred).

    ``axes=(axes1, axes2)`` convolves only those pairs of axes and ``dot_axes=(dots1, dots2)`` sums products over
    those pairs (a tensordot), as in HIPS autograd: the result's axes are in1's others, in2's others, then the
    convolved ones. With no Tensor among the inputs and neither of them, it is SciPy's own function.
    """
    where = "signal.convolve"
    if mode not in scipy_signal.MODES:
        raise ValueError(f"{where}: `mode` must be one of {scipy_signal.MODES}; got {mode!r}")
    if method not in ("auto", "direct", "fft"):  # the result is the same whichever SciPy would pick
        raise ValueError(f"{where}: `method` must be 'auto', 'direct' or 'fft'; got {method!r}")
    tensors = ops.holds_tensor((in1, in2))
    if not tensors and axes is None and dot_axes is None:
        from scipy import signal as scipy_signal_module

        return scipy_signal_module.convolve(in1, in2, mode=mode, method=method)
    a, b = operand(in1, "in1", where), operand(in2, "in2", where)
    if a.size == 0 or b.size == 0:
        raise ShapeError(f"{where}: an empty input (shapes {a.shape} and {b.shape}); expected non-empty arrays")
    if axes is None and dot_axes is None:
        if a.ndim != b.ndim:
            raise ShapeError(
                f"{where}: `in1` of shape {a.shape} and `in2` of shape {b.shape} have different numbers "
                "of dimensions; expected the same"
            )
        _check_valid(mode, a.shape, b.shape, where)
        return apply("convolve", a, b, mode=mode)
    out = _general(a, b, axes, dot_axes, mode, where)
    return out if tensors else np.asarray(out.data)


def _axis_pairs(pairs: Any, a: Any, b: Any, name: str, where: str) -> tuple[list[int], list[int]]:
    try:
        first, second = ([int(i) for i in side] for side in pairs)
    except (TypeError, ValueError):
        raise TypeError(f"{where}: `{name}` must be a pair of lists of axes, e.g. ([1], [0]); got {pairs!r}") from None
    if len(first) != len(second):
        raise ShapeError(f"{where}: `{name}` pairs {len(first)} axes of in1 with {len(second)} of in2")
    return [i % a.ndim for i in first], [i % b.ndim for i in second]


def _check_valid(mode: str, a_sizes: Any, b_sizes: Any, where: str) -> None:
    if mode != "valid":
        return
    larger = all(p >= q for p, q in zip(a_sizes, b_sizes, strict=True))
    smaller = all(p <= q for p, q in zip(a_sizes, b_sizes, strict=True))
    if not (larger or smaller):
        raise ShapeError(
            f"{where}: for mode 'valid' one input must be at least as large as the other along "
            f"every convolved axis; got sizes {tuple(a_sizes)} and {tuple(b_sizes)}"
        )


def _general(a: Any, b: Any, axes: Any, dot_axes: Any, mode: str, where: str) -> Tensor:
    """Convolution along some axis pairs, products summed along others, the rest kept (outer product).

    One full N-d convolution does it all: in1's other axes face length-1 axes of in2 (and in2's others face
    length-1 axes of in1), where a convolution is a broadcast product; along a summed pair, in2 is flipped and the
    middle entry of the full convolution is Σ aᵢbᵢ. The mode then takes its centred slice of the convolved axes.
    """
    a = a if isinstance(a, Tensor) else ops.as_tensor(a)
    b = b if isinstance(b, Tensor) else ops.as_tensor(b)
    conv_a, conv_b = _axis_pairs(axes if axes is not None else ([], []), a, b, "axes", where)
    dot_a, dot_b = _axis_pairs(dot_axes if dot_axes is not None else ([], []), a, b, "dot_axes", where)
    for i, j in zip(dot_a, dot_b, strict=True):
        if a.shape[i] != b.shape[j]:
            raise ShapeError(
                f"{where}: dot_axes pair axis {i} of in1 (length {a.shape[i]}) with axis {j} of in2 "
                f"(length {b.shape[j]}); expected equal lengths"
            )
    if len(set(conv_a + dot_a)) != len(conv_a + dot_a) or len(set(conv_b + dot_b)) != len(conv_b + dot_b):
        raise ShapeError(f"{where}: an axis appears twice in axes and dot_axes ({axes!r}, {dot_axes!r})")
    sizes_a, sizes_b = [a.shape[i] for i in conv_a], [b.shape[j] for j in conv_b]
    _check_valid(mode, sizes_a, sizes_b, where)
    keep_a = [i for i in range(a.ndim) if i not in conv_a + dot_a]
    keep_b = [j for j in range(b.ndim) if j not in conv_b + dot_b]
    n_a, n_b, n_dot = len(keep_a), len(keep_b), len(dot_a)
    # (keep_a, 1 for keep_b, dot, conv) and (1 for keep_a, keep_b, dot flipped, conv)
    a2 = ops.transpose(a, *(keep_a + dot_a + conv_a)) if a.ndim else a
    a2 = ops.reshape(a2, a2.shape[:n_a] + (1,) * n_b + a2.shape[n_a:])
    b2 = ops.transpose(b, *(keep_b + dot_b + conv_b)) if b.ndim else b
    b2 = ops.reshape(b2, (1,) * n_a + b2.shape)
    if n_dot:
        b2 = b2[(slice(None),) * (n_a + n_b) + (slice(None, None, -1),) * n_dot]
    if a2.ndim == 0:
        return a2 * b2
    full = apply("convolve", a2, b2, mode="full")
    index = [slice(None)] * (n_a + n_b) + [b.shape[j] - 1 for j in dot_b]
    for p, q in zip(sizes_a, sizes_b, strict=True):
        size = p + q - 1 if mode == "full" else (p if mode == "same" else abs(p - q) + 1)
        start = (p + q - 1 - size) // 2
        index.append(slice(start, start + size))
    return full[tuple(index)]


__getattr__ = scipy_fallback("signal", "chainrule.scipy.signal")
