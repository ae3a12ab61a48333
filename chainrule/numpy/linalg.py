"""``cnp.linalg``: NumPy's linear algebra with NumPy's names and signatures, differentiable.

With a Tensor among the inputs a function returns Tensors (named tuples of them where NumPy returns one); with
none it returns exactly what ``numpy.linalg`` returns. Each function is a rule of ``chainrule/rules/linalg.py``
(whose docstring states the conventions: symmetric inputs read from the lower triangle, inf/nan for eigenvector
and singular-vector gradients at repeated values) or a composition of rules (``matrix_power``, ``norm``). Complex
matrices work in every function (Hermitian ones for cholesky, eigh, eigvalsh), in the covector convention of the
README's "Complex numbers".

>>> import chainrule as cr, chainrule.numpy as cnp, numpy as np
>>> a = cr.tensor(np.array([[2.0, 1.0], [1.0, 3.0]]), requires_grad=True)
>>> cnp.linalg.det(a).backward(); np.round(a.grad, 12).tolist()   # d det A = det A · A⁻ᵀ
[[3.0, -1.0], [-1.0, 2.0]]
"""

from __future__ import annotations

import operator
from typing import Any, NamedTuple

import numpy as np

from .. import ops
from ..engine import backends
from ..errors import NoDerivativeError, ShapeError
from ..rules import linalg as _rules  # noqa: F401 - registers solve, inv, det, eigh, svd...
from ..rules.linalg import qr_parts, svd_parts
from ..rules.registry import lookup
from ..tensor import Tensor, as_tensor
from ._errors import named_errors

__all__ = ["cholesky", "det", "eigh", "eigvalsh", "inv", "matrix_power", "norm", "pinv", "qr", "slogdet", "solve",
           "svd"]


class SlogdetResult(NamedTuple):
    sign: Any
    logabsdet: Any


class EighResult(NamedTuple):
    eigenvalues: Any
    eigenvectors: Any


class SVDResult(NamedTuple):
    U: Any
    S: Any
    Vh: Any


class QRResult(NamedTuple):
    Q: Any
    R: Any


def _any_tensor(*xs) -> bool:
    return ops.holds_tensor(xs)  # a Tensor, or a (nested) list holding one


def _operand(x, function: str, name: str, *, square: bool = False, min_ndim: int = 2) -> Tensor:
    """``x`` as a float or complex Tensor with at least ``min_ndim`` axes (square in the last two when asked), or a
    clear error naming the function and the operand."""
    if isinstance(x, list | tuple) and ops.holds_tensor(x):
        x = ops.stack_nested(x)  # [x, x + 2]: stacked differentiably
    dtype = x.dtype if isinstance(x, Tensor) else np.asarray(x).dtype
    if dtype.kind not in "biufc":
        raise TypeError(f"{function}: `{name}` has dtype {dtype}; chainrule.numpy.linalg differentiates real and "
                        "complex matrices (float32/64, complex64/128; integers are read as float64)")
    t = x if isinstance(x, Tensor) else as_tensor(np.asarray(x))
    if t.dtype.kind not in "fc":
        t = ops.astype(t, np.float64)
    if t.ndim < min_ndim:
        what = "a matrix" if min_ndim == 2 else f"an array of at least {min_ndim} dimensions"
        raise ShapeError(f"{function}: `{name}` has shape {t.shape}; expected {what} (or a stack of them, "
                         "shape (..., m, n))")
    if square and t.shape[-1] != t.shape[-2]:
        raise ShapeError(f"{function}: `{name}` has shape {t.shape}, whose last two dimensions differ; expected a "
                         "square matrix (or a stack of them, shape (..., n, n))")
    return t


def _apply(name: str, *args) -> Tensor:
    return ops.apply(lookup(name), args)


def solve(a, b):
    """x with a @ x = b: b is a vector when 1-D, else a stack of (n, k) matrices (NumPy 2).

    Gradients: b̄ = A⁻ᵀ ḡ, Ā = −b̄ xᵀ, by solves.
    """
    if not _any_tensor(a, b):
        return np.linalg.solve(a, b)
    ta = _operand(a, "solve", "a", square=True)
    tb = _operand(b, "solve", "b", min_ndim=1)
    n = ta.shape[-1]
    rows = tb.shape[0] if tb.ndim == 1 else tb.shape[-2]
    if rows != n:
        raise ShapeError(f"solve: `b` has shape {tb.shape} but `a` is {n}x{n}; expected b of shape ({n},) or "
                         f"(..., {n}, k)")
    return _apply("solve", ta, tb)


def inv(a):
    """The inverse of a square matrix (stack); Ā = −Yᵀ ḡ Yᵀ with Y = A⁻¹."""
    if not _any_tensor(a):
        return np.linalg.inv(a)
    return _apply("inv", _operand(a, "inv", "a", square=True))


def det(a):
    """The determinant; Ā = ḡ det A · A⁻ᵀ (by a solve, so a singular A raises in backward)."""
    if not _any_tensor(a):
        return np.linalg.det(a)
    return _apply("det", _operand(a, "det", "a", square=True))


def slogdet(a):
    """(sign, log|det a|): log|det a| has the gradient A⁻ᵀ; a real sign (±1) is a constant, a complex one, the phase
    exp(i Im log det a), has a gradient (both come from the holomorphic log det a)."""
    if not _any_tensor(a):
        return np.linalg.slogdet(a)
    t = _operand(a, "slogdet", "a", square=True)
    if t.dtype.kind == "c":
        logdet = _apply("logdet", t)
        return SlogdetResult(ops.exp(1j * ops.imag(logdet)), ops.real(logdet))
    data = ops.stop(t)
    if backends.is_foreign(data):  # the sign computed in the tensor's library, on its device
        return SlogdetResult(as_tensor(backends.backend(data).xp.linalg.slogdet(data)[0]), _apply("logabsdet", t))
    sign = np.linalg.slogdet(data)[0]
    return SlogdetResult(as_tensor(np.asarray(sign)), _apply("logabsdet", t))


def cholesky(a, /, *, upper: bool = False):
    """L lower triangular with a = L Lᴴ (U = Lᴴ with ``upper``); reads a's lower triangle (upper with ``upper``), as
    NumPy does (for complex a, a Hermitian matrix: the imaginary part of its diagonal is not read)."""
    if not _any_tensor(a):
        return np.linalg.cholesky(a, upper=upper)
    t = _operand(a, "cholesky", "a", square=True)
    if upper:  # a = Uᴴ U, read from the upper triangle: the lower one of aᴴ, whose factor is Uᴴ
        return _conj_transpose(_apply("cholesky", _conj_transpose(t)))
    return _apply("cholesky", t)


def _conj_transpose(t: Tensor) -> Tensor:
    t = ops.swapaxes(t, -1, -2)
    return ops.conj(t) if t.dtype.kind == "c" else t


def _triangle(t: Tensor, uplo: str, function: str) -> Tensor:
    if uplo not in ("L", "U"):
        raise ValueError(f"{function}: UPLO must be 'L' or 'U', got {uplo!r}")
    return t if uplo == "L" else _conj_transpose(t)  # the upper triangle of a is the lower one of aᴴ


def eigh(a, UPLO: str = "L"):
    """Eigenvalues (ascending) and eigenvectors of a symmetric (complex: Hermitian) matrix, read from one triangle.

    Eigenvector gradients contain 1/(λ_j − λ_i): inf/nan at repeated eigenvalues; a loss of the eigenvalues alone
    stays finite there. Complex eigenvectors have an arbitrary phase each: only losses that do not depend on it
    (|v_ij|, V diag(f(λ)) Vᴴ...) have a meaningful gradient.
    """
    if not _any_tensor(a):
        return np.linalg.eigh(a, UPLO)
    t = _triangle(_operand(a, "eigh", "a", square=True), UPLO, "eigh")
    packed = _apply("eigh", t)
    values, vectors = packed[..., 0, :], packed[..., 1:, :]
    if values.dtype.kind == "c":  # packed with complex eigenvectors; the eigenvalues of a Hermitian matrix are real
        values = ops.real(values)
    if UPLO == "U":
        if backends.is_foreign(ops.stop(a)):
            raise NotImplementedError("eigh: UPLO='U' on arrays of other libraries than NumPy is not supported yet "
                                      "(it aligns the eigenvectors' signs with NumPy's); pass the conjugate transpose "
                                      "with UPLO='L'")
        # Reading aᴴ's lower triangle, LAPACK may choose another sign (phase) for an eigenvector than NumPy's own
        # eigh(a, "U"); turn those columns by a constant ±1 (unit phase) so values (and derivatives) are NumPy's.
        reference = np.linalg.eigh(ops.stop(a), "U")[1]
        overlap = np.sum(np.conj(vectors.data) * reference, axis=-2, keepdims=True)
        if vectors.dtype.kind == "c":
            phases = overlap / np.where(np.abs(overlap) > 0, np.abs(overlap), 1)
        else:
            phases = np.where(overlap < 0, -1.0, 1.0)
        vectors = vectors * phases.astype(vectors.dtype)
    return EighResult(values, vectors)


def eigvalsh(a, UPLO: str = "L"):
    """Eigenvalues (ascending) of a symmetric matrix; Ā = V diag(ḡ) Vᵀ onto the triangle read."""
    if not _any_tensor(a):
        return np.linalg.eigvalsh(a, UPLO)
    return _apply("eigvalsh", _triangle(_operand(a, "eigvalsh", "a", square=True), UPLO, "eigvalsh"))


def svd(a, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False):
    """Singular value decomposition a = U diag(S) Vh; on Tensors the reduced one (``full_matrices`` only matters,
    and is refused, for a non-square matrix), and singular values alone with ``compute_uv=False``.

    Singular-vector gradients contain 1/(s_j² − s_i²): inf/nan at repeated singular values.
    """
    if not _any_tensor(a):
        return np.linalg.svd(a, full_matrices=full_matrices, compute_uv=compute_uv, hermitian=hermitian)
    t = _operand(a, "svd", "a")
    if not compute_uv:
        return _apply("svdvals", t)
    if full_matrices and t.shape[-1] != t.shape[-2]:
        raise NoDerivativeError(f"svd: the full U and Vh of a non-square matrix (shape {t.shape}) are not unique, "
                                "so they have no derivative; pass full_matrices=False")
    u, s, vh = svd_parts(_apply("svd", t), t.shape, ops)
    return SVDResult(u, ops.real(s) if s.dtype.kind == "c" else s, vh)


def qr(a, mode: str = "reduced"):
    """QR factorisation a = Q R, ``mode`` 'reduced' or 'r' on Tensors (differentiable for rows >= columns)."""
    if not _any_tensor(a):
        return np.linalg.qr(a, mode=mode)
    t = _operand(a, "qr", "a")
    if mode not in ("reduced", "r") and not (mode == "complete" and t.shape[-2] <= t.shape[-1]):
        raise NoDerivativeError(f"qr: mode={mode!r} has no derivative here; use mode='reduced' (or 'r')")
    q, r = qr_parts(_apply("qr", t), t.shape, ops)
    return r if mode == "r" else QRResult(q, r)


def pinv(a, rcond=None, hermitian: bool = False, **kwargs):
    """The Moore–Penrose pseudo-inverse; differentiable where the rank is locally constant (Golub–Pereyra)."""
    if not _any_tensor(a):
        if rcond is not None:
            kwargs["rcond"] = rcond
        return np.linalg.pinv(a, hermitian=hermitian, **kwargs)
    if rcond is not None or kwargs:
        raise NoDerivativeError("pinv: on Tensors only the default cutoff is supported (no rcond / rtol)")
    return _apply("pinv", _operand(a, "pinv", "a"))


def matrix_power(a, n: int):
    """a @ a @ ... (n times) by repeated squaring; n < 0 uses inv(a), n = 0 gives the identity."""
    if not _any_tensor(a):
        return np.linalg.matrix_power(a, n)
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"matrix_power: the exponent n must be an integer, got {n!r}") from None
    t = _operand(a, "matrix_power", "a", square=True)
    if n == 0:
        return t * 0 + np.eye(t.shape[-1], dtype=t.dtype)  # constant, but still a function of a (gradient zero)
    if n < 0:
        t, n = inv(t), -n
    result = None
    while n:
        if n & 1:
            result = t if result is None else ops.matmul(result, t)
        n >>= 1
        if n:
            t = ops.matmul(t, t)
    return result


def norm(x, ord=None, axis=None, keepdims: bool = False):
    """Vector norms (ord None/2, 1, inf, -inf, 0, any p) and matrix norms ('fro', 'nuc', 2, -2, 1, -1, inf, -inf),
    as NumPy chooses between them from ``ord`` and ``axis``.

    The 2-norm's gradient x/‖x‖ is nan at x = 0 (0/0), as the 2-norm has no derivative there.
    """
    if not _any_tensor(x):
        return np.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims)
    t = _operand(x, "norm", "x", min_ndim=0)
    # NumPy decides the result's shape and rejects bad ord/axis combinations: ask it on a stand-in of t's shape.
    shape = np.linalg.norm(np.ones(t.shape), ord=ord, axis=axis, keepdims=keepdims).shape
    if axis is None:
        if ord is None:
            return ops.reshape(ops.sqrt(ops.sum(_abs2(t))), shape)
        axes = tuple(range(t.ndim))
    else:
        axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    axes = tuple(int(a) % t.ndim for a in axes)
    out = _vector_norm(t, ord, axes[0]) if len(axes) == 1 else _matrix_norm(t, ord, axes)
    return ops.reshape(out, shape)


def _abs2(t: Tensor) -> Tensor:
    """|t|², as t·conj(t) (smooth at 0, unlike abs(t)²'s derivative at a complex 0)."""
    return ops.real(t * ops.conj(t)) if t.dtype.kind == "c" else t * t


def _vector_norm(t: Tensor, ord, axis: int) -> Tensor:
    if ord is None or ord == 2:
        return ops.sqrt(ops.sum(_abs2(t), axis=axis))
    if ord == np.inf:
        return ops.max(ops.abs(t), axis=axis)
    if ord == -np.inf:
        return ops.min(ops.abs(t), axis=axis)
    if ord == 0:  # a count: no gradient (computed in t's library)
        return ops.sum(ops.astype(ops.abs(t.detach()) != 0, np.empty(0, t.dtype).real.dtype), axis=axis)
    if ord == 1:
        return ops.sum(ops.abs(t), axis=axis)
    p = float(ord)
    return ops.sum(ops.abs(t) ** p, axis=axis) ** (1 / p)


def _matrix_norm(t: Tensor, ord, axes: tuple[int, int]) -> Tensor:
    row, col = axes
    if ord is None or ord == "fro":
        return ops.sqrt(ops.sum(_abs2(t), axis=axes))
    if ord in ("nuc", 2, -2):
        rest = [i for i in range(t.ndim) if i not in axes]
        s = _apply("svdvals", ops.transpose(t, (*rest, row, col)))
        return ops.sum(s, axis=-1) if ord == "nuc" else ops.max(s, axis=-1) if ord == 2 else ops.min(s, axis=-1)
    if ord in (1, -1):  # max (min) column sum of |x|
        sums, other = ops.sum(ops.abs(t), axis=row), col - (col > row)
    elif ord in (np.inf, -np.inf):  # max (min) row sum of |x|
        sums, other = ops.sum(ops.abs(t), axis=col), row - (row > col)
    else:
        raise ValueError(f"norm: invalid norm order {ord!r} for matrices")
    return ops.max(sums, axis=other) if ord > 0 else ops.min(sums, axis=other)


for _name in __all__:  # NumPy's own errors (e.g. an unknown ord for norm) come out under the function's name
    globals()[_name] = named_errors(f"linalg.{_name}")(globals()[_name])


def __getattr__(name: str):
    if hasattr(np.linalg, name) and not name.startswith("_"):
        if isinstance(getattr(np.linalg, name), type):
            return getattr(np.linalg, name)  # LinAlgError and the result types, as in NumPy code
        raise AttributeError(
            f"cnp.linalg.{name} has no derivative in chainrule yet (differentiable: {', '.join(__all__)}); "
            "use one of those (eigh for a symmetric matrix rather than eig), or define it with cr.primitive"
        )
    raise AttributeError(f"module 'chainrule.numpy.linalg' has no attribute {name!r}")
