"""SciPy's N-dimensional convolution as a rule: ``convolve(a, b, mode)`` with mode "full", "valid" or "same".

Conventions as in arrays.py: ``a``, ``b`` the inputs, ``y`` the output, ``g`` the upstream gradient, ``m`` the math
namespace. The convolution is linear in each input separately (multilinear: forward mode needs no rule of its own).
Every mode is a centred slice of the full convolution, so each vjp first places ``g`` in the full output (zeros
elsewhere, a scatter) and then correlates it with the other input: ā = convolve(g_full, flip(b), "valid"), whose
shape is a's, and likewise b̄. Both are this rule again, so gradients of any order follow.
"""

from __future__ import annotations

import importlib.util

import numpy as np

from .registry import MULTILINEAR, Rule, Sample, lookup, register

MODES = ("full", "valid", "same")


def _convolve(a, b, mode="full"):
    from scipy import signal

    out = signal.convolve(a, b, mode=mode)
    return np.asarray(out, dtype=np.result_type(a, b))


def _full_shape(a, b) -> tuple[int, ...]:
    return tuple(p + q - 1 for p, q in zip(np.shape(a), np.shape(b), strict=True))


def _in_full(g, a, b, m):
    """``g`` of a "valid" or "same" output placed where it lies in the full output (zeros elsewhere)."""
    full = _full_shape(a, b)
    if tuple(np.shape(g)) == full:
        return g
    index = tuple(slice((n - k) // 2, (n - k) // 2 + k) for n, k in zip(full, np.shape(g), strict=True))
    return m.scatter(g, index, full)


def _flip(x, m):
    """x reversed along every axis (m.flip: other libraries take no negative-step slice)."""
    for axis in range(np.ndim(x)):
        x = m.flip(x, axis)
    return x


def _correlate(m, g_full, other):
    return m.apply_rule(lookup("convolve"), (g_full, _flip(other, m)), {"mode": "valid"})


def _register_all() -> None:
    register(
        Rule(
            name="convolve",
            forward=_convolve,
            kind=MULTILINEAR,
            arity=2,
            args=("a", "b"),
            vjps=(
                lambda g, a, b, y, m, mode="full": _correlate(m, _in_full(g, a, b, m), b),
                lambda g, a, b, y, m, mode="full": _correlate(m, _in_full(g, a, b, m), a),
            ),
            text=("correlate(g, b)", "correlate(g, a)"),
            tex=(r"\bar y \star b", r"\bar y \star a"),
            display=r"a * b",
            samples=(
                Sample(((5,), (3,)), {"mode": "full"}),
                Sample(((5,), (3,)), {"mode": "valid"}),
                Sample(((3,), (5,)), {"mode": "valid"}),
                Sample(((4, 3), (2, 2)), {"mode": "same"}),
                Sample(((2, 5), (3, 2)), {"mode": "same"}),
                Sample(((3, 4), (2, 3)), {"mode": "full"}),
            ),
            note="N-d; every mode is a centred slice of the full convolution, as in scipy.signal.convolve",
        )
    )


if importlib.util.find_spec("scipy") is not None:  # without SciPy the entry could not run: leave it out
    _register_all()
