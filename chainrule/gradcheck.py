"""Check analytic gradients against central finite differences, element by element, in float64."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .engine import backward, set_grad_enabled
from .errors import GradcheckError
from .tensor import Tensor


def _as_float64(x: Any, i: int) -> np.ndarray:
    data = x.data if isinstance(x, Tensor) else x
    try:
        array = np.array(data)
        if array.dtype.kind not in "biufc":  # None, strings, objects: NumPy would make nan of None, silently
            raise TypeError
        array = array.astype(np.complex128 if array.dtype.kind == "c" else np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"gradcheck: input {i} is {type(x).__name__}; expected a Tensor, array or number") from None
    return array


def _output(out: Any) -> np.ndarray:
    """f's value as an array of numbers, or a TypeError saying what f returned instead."""
    value = out.data if isinstance(out, Tensor) else out
    array = np.asarray(value) if isinstance(value, np.ndarray | np.generic | int | float | complex) else None
    if array is None or array.dtype.kind not in "biufc":
        raise TypeError(f"gradcheck: the function must return a Tensor or a number, not {type(out).__name__}")
    return array


def _check_tolerances(eps: Any, atol: Any, rtol: Any) -> None:
    for name, value in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise TypeError(f"gradcheck: {name} must be a number, got {type(value).__name__} {value!r:.40}")
        low_ok = value > 0 if name == "eps" else value >= 0
        if not (math.isfinite(value) and low_ok):
            raise ValueError(f"gradcheck: {name} must be a finite number {'> 0' if name == 'eps' else '>= 0'}, "
                             f"got {value!r}")


def _check_jacobian_fits(outputs: int, arrays: list[np.ndarray]) -> None:
    """A clear MemoryError before any work when the Jacobians that gradcheck builds cannot be held."""
    size = outputs * sum(a.size for a in arrays) * 8
    try:
        np.empty(2 * size, dtype=np.uint8)  # analytic and numerical, asked for once and untouched
    except MemoryError:
        raise MemoryError(
            f"gradcheck: checking {sum(a.size for a in arrays):,} input elements against {outputs:,} outputs "
            f"element by element needs Jacobians of {2 * size / 2**30:.1f} GiB, more than this machine can "
            "allocate; check a smaller input, or one direction at a time (cr.jvp against a central difference)"
        ) from None


def _split_complex(f: Callable, arrays: list[np.ndarray]) -> tuple[Callable, list[np.ndarray], list[str]] | None:
    """For complex inputs or outputs: f as a real function of real inputs, (re, im) for each complex input and the
    real and imaginary parts of a complex output stacked on a new last axis; None when all is real. The names say
    which part each real input is, for the error message."""
    with set_grad_enabled(False):
        out = f(*[Tensor._make(a, None, False) for a in arrays])
    complex_out = np.iscomplexobj(out.data if isinstance(out, Tensor) else out)
    if not complex_out and not any(a.dtype.kind == "c" for a in arrays):
        return None
    from . import ops

    kinds = [a.dtype.kind == "c" for a in arrays]
    parts, names = [], []
    for i, (a, is_complex) in enumerate(zip(arrays, kinds, strict=True)):
        parts += [a.real.copy(), a.imag.copy()] if is_complex else [a]
        names += [f"{i} (real part)", f"{i} (imaginary part)"] if is_complex else [str(i)]

    def real_f(*xs):
        args, k = [], 0
        for is_complex in kinds:
            args.append(xs[k] + xs[k + 1] * 1j if is_complex else xs[k])
            k += 2 if is_complex else 1
        y = f(*args)
        if isinstance(y, Tensor) and y.dtype.kind == "c":
            return ops.stack([ops.real(y), ops.imag(y)], -1)
        return y

    return real_f, parts, names


def _evaluate(f: Callable, arrays: list[np.ndarray]) -> np.ndarray:
    with set_grad_enabled(False):
        out = f(*[Tensor._make(a, None, False) for a in arrays])
    return np.array(_output(out), dtype=np.float64)


def numerical_jacobian(f: Callable, arrays: list[np.ndarray], i: int, eps: float) -> np.ndarray:
    """∂f/∂input_i by central differences: shape (output size, input size)."""
    x = arrays[i]
    columns = []
    for j in range(x.size):
        original = x.flat[j]
        x.flat[j] = original + eps
        plus = _evaluate(f, arrays)
        x.flat[j] = original - eps
        minus = _evaluate(f, arrays)
        x.flat[j] = original
        columns.append(((plus - minus) / (2 * eps)).ravel())
    if not columns:
        return np.zeros((_evaluate(f, arrays).size, 0))
    return np.stack(columns, axis=1)


def analytical_jacobians(f: Callable, arrays: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """The output and ∂f/∂input_i for every input by reverse mode, one backward pass per output element."""
    inputs = [Tensor._make(a.copy(), None, True) for a in arrays]
    with set_grad_enabled(True):
        out = f(*inputs)
    if not isinstance(out, Tensor):
        out = Tensor(np.asarray(_output(out), dtype=np.float64))
    _check_jacobian_fits(out.size, arrays)
    jacobians = [np.zeros((out.size, a.size)) for a in arrays]
    if out.requires_grad:
        for k in range(out.size):
            seed = np.zeros(out.size)
            seed[k] = 1
            grads = backward([out], [seed.reshape(out.shape).astype(out.dtype)], targets=inputs,
                             retain_graph=True, accumulate=False)
            for i, g in enumerate(grads):
                if g is not None:
                    jacobians[i][k] = np.broadcast_to(g, arrays[i].shape).ravel()
    return out.data, jacobians


def gradcheck(f: Callable, *inputs: Any, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-4) -> bool:
    """True when reverse-mode gradients of ``f`` match central differences at ``inputs``; else GradcheckError.

    Every input is converted to float64 and checked element by element: |analytic − numeric| ≤ atol + rtol·|numeric|.
    The error names the input, the element's index, the output element, and both values. Complex inputs (complex128)
    are checked through their real and imaginary parts, and a complex output through its real and imaginary parts.

    >>> import chainrule as cr
    >>> cr.gradcheck(lambda x: cr.sin(x) * x, cr.tensor([0.5, 1.5]))
    True
    """
    if not callable(f):
        raise TypeError(f"gradcheck expects a function as its first argument, got {type(f).__name__}")
    if not inputs:
        raise ValueError("gradcheck needs at least one input to differentiate with respect to")
    _check_tolerances(eps, atol, rtol)
    arrays = [_as_float64(x, i) for i, x in enumerate(inputs)]
    names = [str(i) for i in range(len(arrays))]
    split = _split_complex(f, arrays)
    if split is not None:
        f, arrays, names = split
    out, analytic = analytical_jacobians(f, arrays)
    for i, a in enumerate(arrays):
        numeric = numerical_jacobian(f, arrays, i, eps)
        bad = ~(np.abs(analytic[i] - numeric) <= atol + rtol * np.abs(numeric))
        bad &= ~(np.isnan(analytic[i]) & np.isnan(numeric))
        if bad.any():
            k, j = (int(v) for v in np.argwhere(bad)[0])
            element = np.unravel_index(j, a.shape) if a.ndim else ()
            output = np.unravel_index(k, np.shape(out)) if np.ndim(out) else ()
            found, expected = float(analytic[i][k, j]), float(numeric[k, j])
            raise GradcheckError(
                f"gradcheck failed for input {names[i]} at element {tuple(int(e) for e in element)} "
                f"(output element {tuple(int(o) for o in output)}): analytic gradient {found!r}, "
                f"numerical gradient {expected!r}, difference {abs(found - expected):.3g} > "
                f"atol + rtol·|numerical| = {atol + rtol * abs(expected):.3g}; "
                f"{int(bad.sum())} of {bad.size} entries of this input's Jacobian disagree"
            )
    return True


def directional_check(f: Callable, arrays: list[np.ndarray], seed: int = 0, eps: float = 1e-6) -> tuple[float, float]:
    """⟨u, J v⟩ by reverse mode and by central differences along a random direction v (for quick large checks)."""
    rng = np.random.default_rng(seed)
    directions = [rng.standard_normal(a.shape) for a in arrays]
    out, jacobians = analytical_jacobians(f, arrays)
    u = rng.standard_normal(np.shape(out))
    analytic = float(sum(u.ravel() @ J @ v.ravel() for J, v in zip(jacobians, directions, strict=True)))
    plus = _evaluate(f, [a + eps * v for a, v in zip(arrays, directions, strict=True)])
    minus = _evaluate(f, [a - eps * v for a, v in zip(arrays, directions, strict=True)])
    numeric = float(np.sum(u * (plus - minus)) / (2 * eps))
    return analytic, numeric


__all__ = ["GradcheckError", "analytical_jacobians", "directional_check", "gradcheck", "numerical_jacobian"]
