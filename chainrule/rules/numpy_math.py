"""The math namespace ``m`` for plain NumPy arrays: what first-order backward passes compute with.

Rules are written as ``d(x, y, m)``; with this namespace they run on arrays at NumPy speed. The namespace for
differentiable Tensors is ``chainrule.ops`` (same names), and the one for formulas lives in ``chainrule.symbolic``.
Every function here keeps the dtype of its array arguments (Python numbers are NumPy's weak scalars).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import DomainError

exp = np.exp


def log(x):
    """Natural log; a Python number stays a Python float, so it remains a weak scalar next to float32 arrays."""
    if type(x) is float or type(x) is int:
        return float(np.log(x))
    return np.log(x)

sqrt = np.sqrt
pi = np.pi
sinc = np.sinc
sin = np.sin
cos = np.cos
tan = np.tan
sinh = np.sinh
cosh = np.cosh
tanh = np.tanh
abs = np.abs
sign = np.sign
maximum = np.maximum
minimum = np.minimum
where = np.where
matmul = np.matmul
real = np.real
imag = np.imag
conj = np.conj


def swapaxes(x, a, b):
    if type(x) is np.ndarray:  # the method skips np.swapaxes's dispatch (a few µs on the per-op path)
        return x.swapaxes(a, b)
    return np.swapaxes(x, a, b)


expand_dims = np.expand_dims
broadcast_to = np.broadcast_to
reshape = np.reshape
transpose = np.transpose
concatenate = np.concatenate
stack = np.stack
zeros_like = np.zeros_like
ones_like = np.ones_like


def sum(x, axis=None, keepdims=False):
    if type(x) is np.ndarray:  # what the method calls, without np.sum's dispatch: µs per call on small arrays
        return np.add.reduce(x, axis=axis, keepdims=keepdims)
    return np.sum(x, axis=axis, keepdims=keepdims)


def cumsum(x, axis):
    return np.cumsum(x, axis=axis)


def softmax(x, axis=-1):
    """exp(x) / Σ exp(x) along ``axis``, from the shifted values, so it never overflows."""
    if type(x) is not np.ndarray:
        x = np.asarray(x)
    peak = x.max(axis=axis, keepdims=True)  # methods rather than np.max / np.sum: no dispatch, µs on small arrays
    e = np.exp(x - np.where(np.isfinite(peak), peak, 0))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def sigmoid(x):
    """Logistic function, stable for large |x|: only exp(-|x|) is ever formed."""
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))


def stop(x):
    """The raw value of ``x`` (for masks and counts, through which no gradient flows)."""
    return x


def apply_rule(rule, args, params):
    """The rule's forward on arrays (forward mode applies linear rules to tangents this way)."""
    return rule.forward(*args, **params)


def index_add(g, index, shape):
    """A zero array of ``shape`` with ``g`` added at ``index``; repeated indices accumulate."""
    out = np.zeros(shape, dtype=g.dtype)
    np.add.at(out, index, g)
    return out


def is_basic_index(index) -> bool:
    """True when ``index`` selects each element at most once (ints, slices, None, Ellipsis)."""
    items = index if type(index) is tuple else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, int | slice | np.integer) for i in items)


def scatter(g, index, shape):
    """Gradient of ``x[index]``: ``g`` placed (and for repeats, summed) into zeros of ``x``'s shape."""
    if is_basic_index(index):
        out = np.zeros(shape, dtype=g.dtype)
        out[index] = g
        return out
    return index_add(g, index, shape)


def astype(x, dtype):
    return np.asarray(x).astype(dtype, copy=False)


def prod(x, axis=None, keepdims=False):
    return np.prod(x, axis=axis, keepdims=keepdims)


def product_of_others(x):
    """For each element along the last axis, the product of the others (exact when some are 0): prefix × suffix
    products, no division."""
    ones = np.ones(x.shape[:-1] + (1,), dtype=x.dtype)
    left = np.cumprod(np.concatenate([ones, x[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, x[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return left * right


def mean(x, axis=None, keepdims=False):
    return np.mean(x, axis=axis, keepdims=keepdims)


def step(x):
    """[x > 0] in x's dtype: 1 where x > 0, else 0 (also at 0, the convention at kinks)."""
    mask = x > 0  # a compare and a cast: about 10x faster than np.heaviside(x, 0)
    return mask.astype(x.dtype) if isinstance(mask, np.ndarray | np.generic) else float(mask)


logical_not = np.logical_not


# Image patches: unfold (im2col) and its adjoint fold (col2im), the forwards of the rules in conv.py.
Pair = tuple[int, int]


def count_windows(size: Pair, kernel_size: Pair, stride: Pair, padding: Pair) -> Pair:
    """(OH, OW): how many windows fit along each axis of an image of ``size`` after padding."""
    return tuple((n + 2 * p - k) // s + 1 for n, k, s, p in zip(size, kernel_size, stride, padding, strict=True))


def unfold(x: np.ndarray, kernel_size: Pair, stride: Pair = (1, 1), padding: Pair = (0, 0)) -> np.ndarray:
    """The windows of an (N, C, H, W) array as columns: shape (N, C·kh·kw, OH·OW)."""
    n, c = x.shape[:2]
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    oh, ow = count_windows(x.shape[2:], kernel_size, stride, padding)
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    # A view (N, C, H', W', kh, kw) of every window at stride 1; keep every s-th one; copy once into columns.
    windows = sliding_window_view(x, (kh, kw), axis=(2, 3))[:, :, : (oh - 1) * sh + 1 : sh, : (ow - 1) * sw + 1 : sw]
    return windows.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, oh * ow)


def fold(x: np.ndarray, output_size: Pair, kernel_size: Pair, stride: Pair = (1, 1),
         padding: Pair = (0, 0)) -> np.ndarray:
    """Columns (N, C·kh·kw, L) added back into an (N, C, H, W) image; overlapping windows add up (col2im)."""
    n = x.shape[0]
    (h, w), (kh, kw), (sh, sw), (ph, pw) = output_size, kernel_size, stride, padding
    c = x.shape[1] // (kh * kw)
    oh, ow = count_windows(output_size, kernel_size, stride, padding)
    patches = x.reshape(n, c, kh, kw, oh, ow)
    image = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
    # One strided add per kernel offset: kh·kw NumPy operations, whatever the image size.
    for i in range(kh):
        for j in range(kw):
            image[:, :, i : i + (oh - 1) * sh + 1 : sh, j : j + (ow - 1) * sw + 1 : sw] += patches[:, :, i, j]
    return np.ascontiguousarray(image[:, :, ph : ph + h, pw : pw + w])


# Linear algebra: the forwards of the rules in linalg.py, and what their derivatives call on arrays. NumPy's
# LinAlgError becomes a DomainError that says which function, which operand and what was expected.
def solve(a, b):
    """A⁻¹ b by LU (NumPy 2's rule for b: a vector when 1-D, else a stack of (n, k) matrices)."""
    try:
        return np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        raise DomainError(f"solve: the matrix `a` of shape {np.shape(a)} is singular; expected an invertible "
                          "matrix (the gradients of det, slogdet, cholesky and qr also solve with their input)"
                          ) from None


def inv(x):
    try:
        return np.linalg.inv(x)
    except np.linalg.LinAlgError:
        raise DomainError(f"inv: the matrix `a` of shape {np.shape(x)} is singular; expected an invertible "
                          "matrix (pinv gives a least-squares inverse)") from None


def cholesky(x):
    try:
        return np.linalg.cholesky(x)
    except np.linalg.LinAlgError:
        raise DomainError(f"cholesky: the matrix `a` of shape {np.shape(x)} is not positive definite (its lower "
                          "triangle is read as a symmetric matrix); expected a symmetric positive-definite matrix"
                          ) from None


def eigh(x):
    """Eigenvalues and eigenvectors of the symmetric matrix in x's lower triangle, packed as (..., n + 1, n):
    the eigenvalues in row 0, the eigenvectors (columns) below."""
    w, v = np.linalg.eigh(x)
    return np.concatenate([w[..., None, :], v], axis=-2)


def svd(x):
    """The reduced SVD U, S, Vh of x, packed as one array (..., m·k + k + k·n), k = min(m, n)."""
    u, s, vh = np.linalg.svd(x, full_matrices=False)
    lead = x.shape[:-2]
    return np.concatenate([u.reshape(lead + (-1,)), s, vh.reshape(lead + (-1,))], axis=-1)


def qr(x):
    """The reduced QR Q, R of x, packed as one array (..., m·k + k·n), k = min(m, n)."""
    q, r = np.linalg.qr(x)
    lead = x.shape[:-2]
    return np.concatenate([q.reshape(lead + (-1,)), r.reshape(lead + (-1,))], axis=-1)


# The error function, vectorized: polynomials fitted by us (Chebyshev interpolation of the exact function in 40-digit
# arithmetic with mpmath, then written in powers of a variable s in [-1, 1]), within 3e-16 relative of erf in float64
# (tests compare with math.erf and PyTorch). |x| < 1: erf x = x·P(2x² − 1). 1 <= |x| < 6: erfc |x| = e^(−x²)·Q(s)
# on two pieces, s mapping the piece onto [-1, 1]. |x| >= 6: ±1 (erfc 6 < 2.2e-17, under half an ulp of 1).
_ERF_NEAR_0 = (
    0.9654687386698673, -0.1405360890227171, 0.019852496688984218, -0.0022854855611440855, 0.00021751715603563488,
    -1.75371694412802e-05, 1.2233827638093572e-06, -7.51156925108609e-08, 4.115751500265885e-09,
    -2.035231956483527e-10, 9.21125018742823e-12, -3.80659122412214e-13,
)
_ERFC_1_TO_2_5 = (
    0.2849722347374364, -0.0982322591358639, 0.03136704192398451, -0.009390935492460326, 0.002659179124249122,
    -0.0007168914456118457, 0.0001849560777696111, -4.585616713646622e-05, 1.0962896542159193e-05,
    -2.5345107841273393e-06, 5.680082501519666e-07, -1.236603545911042e-07, 2.6214568079487618e-08,
    -5.413557157390592e-09, 1.0771290313630326e-09, -2.1245086396244978e-10, 4.8546206397191835e-11,
    -9.112420747968596e-12,
)
_ERFC_2_5_TO_6 = (
    0.12934527478599253, -0.050652579975578184, 0.019391340462986965, -0.007266954317229227, 0.0026690037369852784,
    -0.0009617329863853807, 0.00034031141027692435, -0.00011835411956521039, 4.0487314200447514e-05,
    -1.3632078719121409e-05, 4.517622606655663e-06, -1.4764959666320758e-06, 4.809810786492991e-07,
    -1.5277977174198102e-07, 4.2789506641696626e-08, -1.3332115949837287e-08, 6.827201822898356e-09,
    -2.0449696870215864e-09,
)
_ERFC_PIECES = ((1.0, 2.5, _ERFC_1_TO_2_5), (2.5, 6.0, _ERFC_2_5_TO_6))


def _horner(coefficients, s):
    out = np.full_like(s, coefficients[-1])
    for c in coefficients[-2::-1]:
        out *= s
        out += c
    return out


def erf(x):
    """The error function, element by element, computed in float64 (NumPy has none); float32 stays float32. Complex
    input goes to SciPy's erf (the extra ``scipy``)."""
    array = np.asarray(x)
    if array.dtype.kind == "c":
        try:
            from scipy import special
        except ImportError:
            raise ImportError("erf of complex input uses SciPy, which is not installed; install it with "
                              "`pip install chainrule[scipy]`") from None
        return special.erf(x)
    dtype = array.dtype if array.dtype.kind == "f" else np.dtype(np.float64)
    v = array.astype(np.float64).reshape(-1)  # 1-D, so that 0-d inputs index like the rest
    size = np.abs(v)
    out = np.sign(v)  # ±1 beyond 6 and at ±inf, NaN stays NaN; every finite |x| < 6 is overwritten below
    near = size < 1
    if near.all():
        out = v * _horner(_ERF_NEAR_0, 2 * (v * v) - 1)
    elif near.any():
        u = v[near]
        out[near] = u * _horner(_ERF_NEAR_0, 2 * (u * u) - 1)
    for low, high, coefficients in _ERFC_PIECES:
        piece = (size >= low) & (size < high)
        if piece.any():
            u = size[piece]
            complement = np.exp(-(u * u)) * _horner(coefficients, (2 * u - (low + high)) / (high - low))
            out[piece] = np.copysign(1 - complement, v[piece])
    out = out.astype(dtype, copy=False).reshape(array.shape)
    return out if isinstance(x, np.ndarray) else out[()]
