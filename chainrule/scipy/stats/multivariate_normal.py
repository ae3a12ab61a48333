"""``stats.multivariate_normal``: the normal distribution N(mean, cov) in d dimensions; gradients in x, mean, cov.

With L the Cholesky factor of cov (cov = LLᵀ, read from its lower triangle) and z = L⁻¹(x − mean) (a triangular
solve): logpdf = −|z|²/2 − Σ log L_ii − (d/2) log 2π, entropy = Σ log L_ii + (d/2)(1 + log 2π). As with
``cholesky``, the gradient of cov lives on its lower triangle (the entries read); for a symmetric parametrisation,
f((C + Cᵀ)/2), it equals the symmetric one. ``allow_singular=True`` accepts a singular constant cov (SciPy's
pseudo-inverse and pseudo-determinant, computed once); no gradient flows into a singular cov.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...errors import DomainError, NoDerivativeError, ShapeError
from ...numpy import linalg as cnp_linalg
from ...tensor import Tensor
from ..linalg import solve_triangular
from ._common import distribution_function, operand, ops, raw, scipy_attribute

__all__ = ["entropy", "logpdf", "pdf"]

_LOG_2PI = math.log(2 * math.pi)


def _covariance(cov: Any, d: int, where: str) -> Any:
    """cov as a (d, d) matrix: a number is cov·I, a vector the diagonal (SciPy's forms)."""
    cov = operand(cov, "cov", where)
    if not np.all(np.isfinite(raw(cov))):
        raise DomainError(f"{where}: `cov` holds nan or inf; expected a finite covariance")
    if cov.ndim == 0:
        return cov * np.eye(d)
    if cov.ndim == 1:
        if cov.shape[0] != d:
            raise ShapeError(f"{where}: `cov` of shape {cov.shape} does not match dimension {d}; expected ({d},)")
        return (cov if isinstance(cov, Tensor) else ops.as_tensor(cov))[:, None] * np.eye(d)
    if cov.shape != (d, d):
        raise ShapeError(f"{where}: `cov` has shape {cov.shape}; expected ({d}, {d}) for the dimension of mean")
    return cov


def _dimension(mean: Any, cov: Any, x: Any) -> int:
    if mean is not None and np.ndim(raw(mean)) > 0:
        return np.shape(raw(mean))[-1]
    if np.ndim(raw(cov)) > 0:
        return np.shape(raw(cov))[-1]
    return 1 if x is None or np.ndim(raw(x)) == 0 else np.shape(raw(x))[-1]


def _parts(mean: Any, cov: Any, x: Any, where: str):
    d = _dimension(mean, cov, x)
    mean = np.zeros(d) if mean is None else operand(mean, "mean", where)
    if mean.ndim == 0:
        mean = mean * np.ones(d)
    if mean.ndim != 1:
        raise ShapeError(f"{where}: `mean` has shape {mean.shape}; expected a vector (d,)")
    return d, mean, _covariance(cov, d, where)


def _factor(cov: Any, where: str) -> Any:
    try:
        return cnp_linalg.cholesky(cov if isinstance(cov, Tensor) else ops.as_tensor(cov))
    except DomainError:
        raise DomainError(
            f"{where}: `cov` is not positive definite; expected a symmetric positive-definite "
            "matrix (or pass allow_singular=True for a singular one)"
        ) from None


@distribution_function("multivariate_normal")
def logpdf(x: Any, mean: Any = None, cov: Any = 1, allow_singular: bool = False) -> Tensor:
    """log of the density at x, of shape (d,) or (..., d); SciPy's squeezed shape comes back."""
    where = "stats.multivariate_normal.logpdf"
    d, mean, cov = _parts(mean, cov, x, where)
    x = operand(x, "x", where)
    if x.ndim == 0 or (d == 1 and x.ndim == 1):
        x = x[..., None]
    if x.shape[-1] != d:
        raise ShapeError(f"{where}: `x` has shape {x.shape}; expected (..., {d}) for mean of shape ({d},)")
    diff = x - mean
    if allow_singular and isinstance(cov, Tensor) and cov.requires_grad:
        try:
            np.linalg.cholesky(raw(cov))
        except np.linalg.LinAlgError:
            raise NoDerivativeError(
                f"{where}: no gradient flows into a singular `cov` (allow_singular=True); "
                "pass cov detached, or a positive-definite one"
            ) from None
    elif allow_singular:
        return _singular_logpdf(diff, raw(cov), d)
    factor = _factor(cov, where)
    flat = ops.reshape(diff if isinstance(diff, Tensor) else ops.as_tensor(diff), (-1, d))
    z = solve_triangular(factor, ops.swapaxes(flat, 0, 1), lower=True)  # (d, n)
    half_log_det = ops.sum(ops.log(ops.sum(factor * np.eye(d), axis=-1)))  # log det cov / 2 = Σ log L_ii
    out = -0.5 * ops.sum(z * z, axis=0) - half_log_det - 0.5 * d * _LOG_2PI
    return ops.squeeze(ops.reshape(out, x.shape[:-1])) if x.ndim > 1 else ops.reshape(out, ())


def _singular_logpdf(diff: Any, cov: np.ndarray, d: int) -> Tensor:
    """SciPy's form for a singular cov: the pseudo-inverse and pseudo-determinant from its eigenvalues."""
    w, v = np.linalg.eigh(cov)
    cutoff = 1e6 * np.finfo(cov.dtype).eps * np.max(np.abs(w))
    kept = w > cutoff
    if not np.any(kept):
        raise DomainError("stats.multivariate_normal.logpdf: `cov` is zero; expected a nonzero covariance")
    root = v[:, kept] / np.sqrt(w[kept])  # U with U Uᵀ = cov⁺
    rank = int(np.sum(kept))
    diff = diff if isinstance(diff, Tensor) else ops.as_tensor(diff)
    z = ops.matmul(diff, root)
    out = -0.5 * ops.sum(z * z, axis=-1) - 0.5 * float(np.sum(np.log(w[kept]))) - 0.5 * rank * _LOG_2PI
    return ops.squeeze(out) if out.ndim else out


@distribution_function("multivariate_normal")
def pdf(x: Any, mean: Any = None, cov: Any = 1, allow_singular: bool = False) -> Tensor:
    """The density, exp(logpdf)."""
    return ops.exp(logpdf(x, mean, cov, allow_singular))


@distribution_function("multivariate_normal")
def entropy(mean: Any = None, cov: Any = 1) -> Tensor:
    """The differential entropy ½ log det(2πe cov) = Σ log L_ii + (d/2)(1 + log 2π)."""
    where = "stats.multivariate_normal.entropy"
    d, _, cov = _parts(mean, cov, None, where)
    factor = _factor(cov, where)
    return ops.sum(ops.log(ops.sum(factor * np.eye(d), axis=-1))) + 0.5 * d * (1 + _LOG_2PI)


__getattr__ = scipy_attribute("multivariate_normal")
