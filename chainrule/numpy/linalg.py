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
from ..errors import DomainError, NoDerivativeError, ShapeError
from ..rules import linalg as _rules  # noqa: F401 - registers solve, inv, det, eigh, svd...
from ..rules.linalg import qr_parts, svd_parts
from ..rules.registry import lookup
from ..tensor import Tensor, as_tensor
from ._errors import named_errors

__all__ = ["cholesky", "det", "eig", "eigh", "eigvals", "eigvalsh", "inv", "matrix_power", "norm", "pinv", "qr",
           "slogdet", "solve", "svd"]


class SlogdetResult(NamedTuple):
    sign: Any
    logabsdet: Any


class EighResult(NamedTuple):
    eigenvalues: Any
    eigenvectors: Any


class EigResult(NamedTuple):
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
        raise ShapeError(f"{function}: `{name}` has shape {tuple(t.shape)}; expected {what} (or a stack of them, "
                         "shape (..., m, n))")
    if square and t.shape[-1] != t.shape[-2]:
        raise ShapeError(f"{function}: `{name}` has shape {tuple(t.shape)}, whose last two dimensions differ; "
                         "expected a square matrix (or a stack of them, shape (..., n, n))")
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
    (|v_ij|, V diag(f(λ)) Vᴴ...) have a meaningful gradient. On NumPy arrays the signs (phases) are NumPy's own for
    either triangle; on another library's arrays they are that library's.
    """
    if not _any_tensor(a):
        return np.linalg.eigh(a, UPLO)
    t = _triangle(_operand(a, "eigh", "a", square=True), UPLO, "eigh")
    packed = _apply("eigh", t)
    values, vectors = packed[..., 0, :], packed[..., 1:, :]
    if values.dtype.kind == "c":  # packed with complex eigenvectors; the eigenvalues of a Hermitian matrix are real
        values = ops.real(values)
    if UPLO == "U" and not backends.is_foreign(ops.stop(a)):  # another library's signs are its own, as for "L"
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


def _real_in_numpy(t: Tensor, values: Tensor) -> bool:
    """Whether NumPy's eig and eigvals return real arrays here: for a real matrix whose eigenvalues are all real
    (LAPACK then leaves imaginary parts of exactly 0; so do other libraries' forwards). Near such a matrix they stay
    real, so the imaginary parts dropped have a zero derivative too."""
    if t.dtype.kind != "f":
        return False
    raw = values._data
    if backends.is_foreign(raw):  # (one boolean read from the device, as NumPy's test reads one)
        xp = backends.backend(raw).xp
        return not bool(xp.any(xp.imag(raw) != 0))
    return not np.any(np.imag(raw))


def eig(a):
    """Eigenvalues and right eigenvectors (columns, unit norm) of a general square matrix (stack), as NumPy's.

    dλ = diag(V⁻¹ dA V) and dV = V (F ∘ V⁻¹ dA V + diag(c)), F_ij = 1/(λ_j − λ_i), with c keeping each column as
    LAPACK leaves it: unit norm, its largest component real (rules/linalg.py). Values are complex, or real as in
    NumPy when ``a`` is real and every eigenvalue is. Eigenvector gradients are inf/nan at repeated eigenvalues.
    A complex eigenvector's phase is LAPACK's convention: losses that do not depend on it (|v_ij|, V f(Λ) V⁻¹,
    eigenvalues) are the ones that mean something, and the ones whose gradients agree with JAX and PyTorch.

    >>> import chainrule as cr, chainrule.numpy as cnp, numpy as np
    >>> a = cr.tensor(np.array([[2.0, 1.0], [0.0, 3.0]]), requires_grad=True)
    >>> w, v = cnp.linalg.eig(a)
    >>> w.sum().backward(); np.round(a.grad, 12).tolist()   # Σλ = tr A
    [[1.0, 0.0], [0.0, 1.0]]
    """
    if not _any_tensor(a):
        return np.linalg.eig(a)
    t = _operand(a, "eig", "a", square=True)
    packed = _apply("eig", t)
    values, vectors = packed[..., 0, :], packed[..., 1:, :]
    if _real_in_numpy(t, values):
        values, vectors = ops.real(values), ops.real(vectors)
    return EigResult(values, vectors)


def eigvals(a):
    """Eigenvalues of a general square matrix (stack); Ā = V⁻ᵀ diag(ḡ) Vᵀ. Complex, or real as in NumPy when ``a``
    is real and every eigenvalue is."""
    if not _any_tensor(a):
        return np.linalg.eigvals(a)
    t = _operand(a, "eigvals", "a", square=True)
    values = _apply("eigvals", t)
    return ops.real(values) if _real_in_numpy(t, values) else values


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


def multi_dot(arrays, *, out=None):
    """The product of two or more matrices in the cheapest order (NumPy's chain-order rule); a first (last) 1-D
    array is a row (column) vector."""
    if not _any_tensor(*arrays):
        return np.linalg.multi_dot(arrays, out=out)
    if out is not None:
        raise TypeError("multi_dot: out= is not supported (a tensor is never written in place); use the result")
    if len(arrays) < 2:
        raise ValueError(f"multi_dot: expected at least two arrays, got {len(arrays)}")
    ts = [_operand(x, "multi_dot", f"arrays[{i}]", min_ndim=1) for i, x in enumerate(arrays)]
    first, last = ts[0].ndim, ts[-1].ndim
    if len(ts) == 2:
        return ops.matmul(ts[0], ts[1])
    ts[0] = ops.reshape(ts[0], (1, -1)) if first == 1 else ts[0]
    ts[-1] = ops.reshape(ts[-1], (-1, 1)) if last == 1 else ts[-1]
    for i, t in enumerate(ts):
        if t.ndim != 2:
            raise ShapeError(f"multi_dot: arrays[{i}] has shape {t.shape}; expected a matrix (the first and last "
                             "may be vectors)")
    dims = [t.shape[0] for t in ts] + [ts[-1].shape[1]]
    split = _chain_order(dims)

    def product(i, j):
        return ts[i] if i == j else ops.matmul(product(i, split[i][j]), product(split[i][j] + 1, j))

    result = product(0, len(ts) - 1)
    if first == 1 or last == 1:
        return ops.reshape(result, (-1,)) if first + last > 2 else ops.reshape(result, ())
    return result


def _chain_order(dims: list[int]) -> list[list[int]]:
    """The split of each chain i..j that costs fewest multiplications (ties: the first split, as NumPy's)."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = None
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def lstsq(a, b, rcond=None):
    """(x, residuals, rank, s): the least-squares solution x = pinv(a) b, the squared residual norms (when a has
    full column rank and more rows than columns), a's rank and its singular values, as NumPy's.

    The gradient of x is that of pinv (Golub–Pereyra) for a of full rank; a rank-deficient a (by ``rcond``) is
    refused, as its solution jumps where the rank changes.
    """
    if not _any_tensor(a, b):
        return np.linalg.lstsq(a, b, rcond=rcond)
    ta = _operand(a, "lstsq", "a")
    tb = _operand(b, "lstsq", "b", min_ndim=1)
    if ta.ndim != 2 or tb.ndim > 2 or tb.shape[0] != ta.shape[0]:
        raise ShapeError(f"lstsq: a has shape {ta.shape} and b {tb.shape}; expected a matrix (m, n) and b of shape "
                         "(m,) or (m, k)")
    _, _, rank, _ = np.linalg.lstsq(ta.data, tb.data, rcond=rcond)
    m, n = ta.shape
    if rank < min(m, n):
        raise NoDerivativeError(f"lstsq: a (shape {ta.shape}) has rank {rank} < {min(m, n)} at this rcond, so its "
                                "least-squares solution has no derivative here; expected a of full rank")
    x = ops.matmul(_apply("pinv", ta), tb)
    if rank == n and m > n:
        residual = tb - ops.matmul(ta, x)
        residuals = ops.sum(_abs2(residual), axis=0)
        residuals = ops.reshape(residuals, (1,)) if tb.ndim == 1 else residuals
    else:
        residuals = as_tensor(np.empty((0,), np.real(ta.data).dtype))
    return x, residuals, rank, _apply("svdvals", ta)


def cond(x, p=None):
    """The condition number: s_max / s_min (p None or 2), s_min / s_max (p −2), else norm(x, p)·norm(inv(x), p).
    A singular matrix gives inf, as NumPy's."""
    if not _any_tensor(x):
        return np.linalg.cond(x, p)
    t = _operand(x, "cond", "x")
    if p is None or p == 2 or p == -2:
        s = _apply("svdvals", t)
        big, small = s[..., 0], s[..., -1]
        with np.errstate(divide="ignore", invalid="ignore"):
            r = big / small if p != -2 else small / big
    else:
        if t.shape[-1] != t.shape[-2]:
            raise ShapeError(f"cond: x has shape {t.shape}; p={p!r} needs square matrices")
        try:
            r = norm(t, p, axis=(-2, -1)) * norm(inv(t), p, axis=(-2, -1))
        except DomainError:  # a singular matrix: NumPy's value (inf), a constant
            return as_tensor(np.asarray(np.linalg.cond(t.data, p)))
    singular = np.isnan(r.data) & ~np.isnan(t.data).any(axis=(-2, -1))
    return ops.where(singular, np.asarray(np.inf, r.dtype), r) if singular.any() else r


def tensorsolve(a, b, axes=None):
    """x with tensordot(a, x, x.ndim) = b: a reshaped to a square matrix, one solve, as NumPy's."""
    if not _any_tensor(a, b):
        return np.linalg.tensorsolve(a, b, axes=axes)
    ta, tb = _operand(a, "tensorsolve", "a", min_ndim=1), _operand(b, "tensorsolve", "b", min_ndim=0)
    if axes is not None:
        order = list(range(ta.ndim))
        for k in axes:
            order.remove(k)
            order.insert(ta.ndim, k)
        ta = ops.transpose(ta, tuple(order))
    shape = ta.shape[-(ta.ndim - tb.ndim):] if ta.ndim > tb.ndim else ()
    size = int(np.prod(shape, dtype=np.int64))
    if ta.ndim <= tb.ndim or int(np.prod(ta.shape, dtype=np.int64)) != size * size:
        raise ShapeError(f"tensorsolve: a of shape {ta.shape} and b of shape {tb.shape}: expected a's leading axes "
                         "to be b's shape and its trailing ones x's, of as many elements (a square system)")
    x = _apply("solve", ops.reshape(ta, (size, size)), ops.reshape(tb, (size,)))
    return ops.reshape(x, shape)


def tensorinv(a, ind=2):
    """The inverse for tensordot over ``ind`` axes: a reshaped to a square matrix and inverted, as NumPy's."""
    if not _any_tensor(a):
        return np.linalg.tensorinv(a, ind=ind)
    if not isinstance(ind, int) or ind <= 0:
        raise ValueError(f"tensorinv: ind must be a positive int, got {ind!r}")
    t = _operand(a, "tensorinv", "a", min_ndim=1)
    rows = int(np.prod(t.shape[ind:], dtype=np.int64))
    matrix = ops.reshape(t, (rows, -1))
    if matrix.shape[0] != matrix.shape[1]:
        raise ShapeError(f"tensorinv: a of shape {t.shape} with ind={ind} is not square ({matrix.shape[0]} x "
                         f"{matrix.shape[1]} as a matrix)")
    return ops.reshape(_apply("inv", matrix), t.shape[ind:] + t.shape[:ind])


__all__ += ["cond", "lstsq", "multi_dot", "tensorinv", "tensorsolve"]

# ---------------------------------------------------------------------------------------------------------------
# The Array API's names (NumPy 2's np.linalg): each one of the functions above, or the top-level one, over the last
# axes. NumPy validates the arguments first (a stand-in of the same shape), so its own errors come out.
# ---------------------------------------------------------------------------------------------------------------
def _top(name: str):
    from .. import numpy as cnp  # the top-level functions (this module is imported by it)

    return getattr(cnp, name)


def matrix_transpose(x, /):
    """x with its last two axes swapped."""
    if not _any_tensor(x):
        return np.linalg.matrix_transpose(x)
    return _top("matrix_transpose")(_operand(x, "matrix_transpose", "x"))


def matmul(x1, x2, /):
    """The matrix product of the last two axes (broadcast over the rest), as ``@``."""
    if not _any_tensor(x1, x2):
        return np.linalg.matmul(x1, x2)
    np.linalg.matmul(np.ones(np.shape(x1)), np.ones(np.shape(x2)))  # NumPy's own shape errors
    return ops.matmul(as_tensor(x1), as_tensor(x2))


def outer(x1, x2, /):
    """The outer product of two 1-D arrays."""
    if not _any_tensor(x1, x2):
        return np.linalg.outer(x1, x2)
    np.linalg.outer(np.ones(np.shape(x1)), np.ones(np.shape(x2)))  # 1-D only, as NumPy's
    return _top("outer")(x1, x2)


def cross(x1, x2, /, *, axis: int = -1):
    """The cross product of 3-vectors along ``axis``."""
    if not _any_tensor(x1, x2):
        return np.linalg.cross(x1, x2, axis=axis)
    np.linalg.cross(np.ones(np.shape(x1)), np.ones(np.shape(x2)), axis=axis)
    return _top("cross")(x1, x2, axis=axis)


def diagonal(x, /, *, offset: int = 0):
    """The diagonal of the last two axes (offset above it for > 0)."""
    if not _any_tensor(x):
        return np.linalg.diagonal(x, offset=offset)
    return _top("diagonal")(_operand(x, "diagonal", "x"), offset=offset, axis1=-2, axis2=-1)


def trace(x, /, *, offset: int = 0, dtype=None):
    """The sum of the diagonal of the last two axes."""
    if not _any_tensor(x):
        return np.linalg.trace(x, offset=offset, dtype=dtype)
    t = _operand(x, "trace", "x")
    if dtype is not None and np.dtype(dtype) != t.dtype:
        t = ops.astype(t, dtype)
    return ops.sum(diagonal(t, offset=offset), axis=-1)


def tensordot(x1, x2, /, *, axes=2):
    """Sum of products over ``axes`` (an int: the last axes of x1 with the first of x2; or two lists)."""
    if not _any_tensor(x1, x2):
        return np.linalg.tensordot(x1, x2, axes=axes)
    return _top("tensordot")(x1, x2, axes=axes)


def vecdot(x1, x2, /, *, axis: int = -1):
    """Σ conj(x1)·x2 along ``axis`` (broadcast over the rest)."""
    if not _any_tensor(x1, x2):
        return np.linalg.vecdot(x1, x2, axis=axis)
    np.linalg.vecdot(np.ones(np.shape(x1)), np.ones(np.shape(x2)), axis=axis)
    return _top("vecdot")(x1, x2, axis=axis)


def vector_norm(x, /, *, axis=None, keepdims: bool = False, ord=2):
    """The vector ``ord``-norm along ``axis`` (a tuple: over those axes together; None: over all)."""
    if not _any_tensor(x):
        return np.linalg.vector_norm(x, axis=axis, keepdims=keepdims, ord=ord)
    t = _operand(x, "vector_norm", "x", min_ndim=0)
    shape = np.linalg.vector_norm(np.ones(t.shape), axis=axis, keepdims=keepdims, ord=ord).shape
    axes = tuple(range(t.ndim)) if axis is None else (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    axes = tuple(int(a) % max(t.ndim, 1) for a in axes)
    if len(axes) != 1:  # several axes count as one: move them to the end and flatten them
        rest = [a for a in range(t.ndim) if a not in axes]
        t = ops.reshape(ops.transpose(t, rest + list(axes)), tuple(t.shape[a] for a in rest) + (-1,))
        axes = (t.ndim - 1,)
    return ops.reshape(_vector_norm(t, ord, axes[0]), shape)


def matrix_norm(x, /, *, keepdims: bool = False, ord="fro"):
    """The matrix ``ord``-norm of the last two axes ('fro', 'nuc', 1, -1, 2, -2, inf, -inf)."""
    if not _any_tensor(x):
        return np.linalg.matrix_norm(x, keepdims=keepdims, ord=ord)
    return norm(_operand(x, "matrix_norm", "x"), ord=ord, axis=(-2, -1), keepdims=keepdims)


def svdvals(x, /):
    """The singular values of the last two axes, in descending order."""
    if not _any_tensor(x):
        return np.linalg.svdvals(x)
    return svd(_operand(x, "svdvals", "x"), compute_uv=False)


__all__ += ["cross", "diagonal", "matmul", "matrix_norm", "matrix_transpose", "outer", "svdvals", "tensordot",
            "trace", "vecdot", "vector_norm"]
# Answers with no gradient by definition: NumPy's own function (on a Tensor it answers through the protocol).
_NO_GRADIENT = ("matrix_rank",)


for _name in __all__:  # NumPy's own errors (e.g. an unknown ord for norm) come out under the function's name
    globals()[_name] = named_errors(f"linalg.{_name}")(globals()[_name])


def __getattr__(name: str):
    if name in _NO_GRADIENT:
        return named_errors(f"linalg.{name}")(getattr(np.linalg, name))
    if hasattr(np.linalg, name) and not name.startswith("_"):
        if isinstance(getattr(np.linalg, name), type):
            return getattr(np.linalg, name)  # LinAlgError and the result types, as in NumPy code
        raise AttributeError(
            f"cnp.linalg.{name} has no derivative in chainrule yet (differentiable: {', '.join(__all__)}); "
            "use one of those, or define it with cr.primitive"
        )
    raise AttributeError(f"module 'chainrule.numpy.linalg' has no attribute {name!r}")
