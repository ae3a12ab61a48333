"""Ready-made parametrizations, as ``torch.nn.utils.parametrizations``: ``orthogonal``, ``weight_norm`` and
``spectral_norm``, each registered with ``parametrize.register_parametrization`` (state_dict keys as PyTorch's:
``parametrizations.weight.original``, ``…original0``/``original1`` for weight norm, ``…weight.0._u`` and ``_v``
for spectral norm).

>>> import chainrule as cr
>>> layer = cr.nn.utils.parametrizations.orthogonal(cr.nn.Linear(4, 4, seed=0, dtype="float64"))
>>> w = layer.weight.numpy()
>>> bool(abs(w.T @ w - cr.eye(4).numpy()).max() < 1e-12)
True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ... import ops
from ...numpy import linalg as cnp_linalg
from ...tensor import Tensor
from .. import init
from ..module import Module
from . import parametrize


def _const(array: Any, like: Tensor) -> Tensor:
    return Tensor(np.asarray(array, dtype=like.dtype))


def matrix_exp(a: Tensor) -> Tensor:
    """exp(A) of a (batch of) square matrices by scaling and squaring a degree-18 Taylor polynomial (error below
    float64's rounding once ‖A/2ˢ‖₁ ≤ 1/2), composed of matmuls, so its gradient is exact for it."""
    n = a.shape[-1]
    norm = float(np.max(np.sum(np.abs(np.asarray(a.data)), axis=-2))) if a.size else 0.0
    squarings = max(0, math.ceil(math.log2(norm / 0.5))) if norm > 0.5 else 0
    x = a * _const(0.5 ** squarings, a) if squarings else a
    eye = _const(np.eye(n), a)
    result = eye
    for j in range(18, 0, -1):  # Horner: I + X/1 (I + X/2 (I + … (I + X/18)))
        result = eye + ops.matmul(x, result) * _const(1.0 / j, a)
    for _ in range(squarings):
        result = ops.matmul(result, result)
    return result


def householder_product(a: Tensor, tau: Tensor) -> Tensor:
    """The first k columns of H₁H₂…H_k, H_i = I − τ_i v_i v_iᴴ, v_i = (0…0, 1, a[i+1:, i]) — LAPACK's orgqr, as
    ``torch.linalg.householder_product``, from differentiable ops."""
    n, k = a.shape[-2], a.shape[-1]
    q = _const(np.eye(n, k), a)
    rows = np.arange(n)
    for i in range(k - 1, -1, -1):
        v = a[..., :, i] * _const(rows > i, a) + _const(rows == i, a)
        projection = ops.matmul(ops.unsqueeze(v, -2), q)  # (…, 1, k)
        q = q - ops.unsqueeze(ops.unsqueeze(tau[..., i], -1), -1) * ops.unsqueeze(v, -1) * projection
    return q


def _qr_positive(a: np.ndarray) -> np.ndarray:
    """Q of A = QR with R's diagonal made positive (unique for a full-rank A)."""
    q, r = np.linalg.qr(a)
    return q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]


class _Orthogonal(Module):
    def __init__(self, weight: Tensor, orthogonal_map: str, *, use_trivialization: bool = True) -> None:
        super().__init__()
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        self.use_trivialization = use_trivialization
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, x: Tensor) -> Tensor:
        n, k = x.shape[-2], x.shape[-1]
        transposed = n < k
        if transposed:
            x = ops.swapaxes(x, -1, -2)
            n, k = k, n
        if self.orthogonal_map in ("matrix_exp", "cayley"):
            x = x * _const(np.tri(n, k), x)
            if n != k:
                x = ops.concatenate([x, _const(np.zeros((*x.shape[:-2], n, n - k)), x)], axis=-1)
            a = x - ops.swapaxes(x, -1, -2)  # skew-symmetric
            if self.orthogonal_map == "matrix_exp":
                q = matrix_exp(a)
            else:
                eye = _const(np.eye(n), a)
                half = _const(0.5, a)
                q = cnp_linalg.solve(eye - half * a, eye + half * a)
            if n != k:
                q = q[..., :k]
        else:
            a = x * _const(np.tri(n, k, -1), x)
            tau = _const(2.0, x) / (_const(1.0, x) + ops.sum(a * a, axis=-2))
            q = householder_product(a, tau)
            signs = np.trunc(np.diagonal(np.asarray(x.data), axis1=-2, axis2=-1))  # PyTorch's .int()
            q = q * _const(signs[..., None, :], x)
        if self.use_trivialization:
            q = ops.matmul(self.base, q)
        return ops.swapaxes(q, -1, -2) if transposed else q

    def right_inverse(self, q: Tensor) -> Tensor:
        if q.shape != self.shape:
            raise ValueError(f"orthogonal: expected a matrix or batch of matrices of shape {self.shape}, got "
                             f"{q.shape}")
        if not self.use_trivialization:
            raise NotImplementedError("orthogonal: assigning to the weight needs use_trivialization=True (the "
                                      "default)")
        value = np.asarray(q.data)
        n, k = value.shape[-2], value.shape[-1]
        if n < k:
            value = np.swapaxes(value, -1, -2)
            n, k = k, n
        if n == k:
            eye = np.eye(k)
            gram = np.swapaxes(value, -1, -2) @ value
            if not np.allclose(gram, eye, rtol=0, atol=10.0 * n * np.finfo(value.dtype).eps):
                value = _qr_positive(value)
        else:  # complete the k columns to a square orthogonal matrix with random ones
            extra = init.default_generator().standard_normal((*value.shape[:-2], n, n - k))
            value = _qr_positive(np.concatenate([value, extra.astype(value.dtype)], axis=-1))
        self.base = Tensor(np.array(value, dtype=q.dtype))
        neg_eye = np.zeros(self.shape, dtype=q.dtype)
        diagonal = np.arange(min(self.shape[-2:]))
        neg_eye[..., diagonal, diagonal] = -1.0
        return Tensor(neg_eye)


def orthogonal(module: Module, name: str = "weight", orthogonal_map: str | None = None, *,
               use_trivialization: bool = True) -> Module:
    """Constrain ``module.<name>`` (a matrix or batch of matrices) to be orthogonal (semi-orthogonal when not
    square): Q = base · map(X), map "matrix_exp" (exp of the skew part of X, default for square), "cayley"
    ((I − A/2)⁻¹(I + A/2)) or "householder" (default otherwise). The starting weight is kept: ``base`` is its
    orthogonalisation (QR) and X starts at −I, which maps to I. Returns ``module``."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"orthogonal: {type(module).__name__} has no parameter or buffer named {name!r}")
    if weight.ndim < 2:
        raise ValueError(f"orthogonal: expected a matrix or batch of matrices, got a tensor of {weight.ndim} "
                         "dimensions")
    if weight.dtype.kind == "c":
        raise TypeError("orthogonal: complex weights are not supported here")
    if orthogonal_map is None:
        orthogonal_map = "matrix_exp" if weight.shape[-2] == weight.shape[-1] else "householder"
    if orthogonal_map not in ("matrix_exp", "cayley", "householder"):
        raise ValueError(f'orthogonal_map has to be one of "matrix_exp", "cayley", "householder", got '
                         f"{orthogonal_map!r}")
    parametrization = _Orthogonal(weight, orthogonal_map, use_trivialization=use_trivialization)
    return parametrize.register_parametrization(module, name, parametrization, unsafe=True)


def _norm_except_dim(v: Any, dim: int, norm: Any) -> Any:
    """‖v‖₂ over every axis but ``dim`` (kept, size 1 elsewhere); dim −1 (or None): over everything, a scalar."""
    if dim == -1:
        return norm(v, None, False)
    axes = tuple(i for i in range(np.ndim(v)) if i != dim)
    return norm(v, axes, True)


def _ops_norm(v: Tensor, axes: Any, keepdims: bool) -> Tensor:
    return ops.sqrt(ops.sum(v * v, axis=axes, keepdims=keepdims))


def _np_norm(v: Any, axes: Any, keepdims: bool) -> np.ndarray:
    v = np.asarray(v.data if isinstance(v, Tensor) else v)
    return np.sqrt(np.sum(v * v, axis=axes, keepdims=keepdims))


class _WeightNorm(Module):
    def __init__(self, dim: int | None = 0) -> None:
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return weight_v * (weight_g / _norm_except_dim(weight_v, self.dim, _ops_norm))

    def right_inverse(self, weight: Tensor) -> tuple[Tensor, Tensor]:
        g = _norm_except_dim(weight, self.dim, _np_norm).astype(weight.dtype)
        return Tensor(g), Tensor(np.array(weight.data))


def _check_dim(dim: Any, ndim: int, where: str) -> int:
    if dim is None or isinstance(dim, bool) or not isinstance(dim, int) or not -ndim <= dim < max(ndim, 1):
        raise IndexError(f"{where}: dim out of range (expected to be in range of [{-ndim}, {ndim - 1}] but got "
                         f"{dim!r})")
    return dim % ndim if ndim else 0


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Salimans & Kingma (2016): w = g · v / ‖v‖ (norm over every axis but ``dim``; None: the whole tensor), with
    g = ``parametrizations.<name>.original0`` and v = ``original1``, as PyTorch's. Returns ``module``."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"weight_norm: {type(module).__name__} has no parameter or buffer named {name!r}")
    if dim is not None and dim != -1:
        _check_dim(dim, weight.ndim, "weight_norm")
        dim = dim % weight.ndim
    return parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)


def _normalize(x: np.ndarray, eps: float) -> np.ndarray:
    return x / max(float(np.sqrt(np.sum(x * x))), eps)


def _weight_matrix(weight: Any, dim: int) -> Any:
    """The weight (an array or a Tensor) as a matrix with axis ``dim`` as its rows (spectral norm's W)."""
    if dim != 0:
        order = (dim, *[d for d in range(weight.ndim) if d != dim])
        weight = weight.transpose(order) if isinstance(weight, np.ndarray) else ops.transpose(weight, order)
    return weight.reshape(weight.shape[0], -1) if isinstance(weight, np.ndarray) else \
        ops.reshape(weight, (weight.shape[0], -1))


def _check_power_iterations(n_power_iterations: Any) -> None:
    if isinstance(n_power_iterations, bool) or not isinstance(n_power_iterations, int) or n_power_iterations <= 0:
        raise ValueError(f"spectral_norm: expected n_power_iterations to be a positive int, got "
                         f"{n_power_iterations!r}")


class _SpectralNorm(Module):
    def __init__(self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12) -> None:
        super().__init__()
        ndim = weight.ndim
        dim = _check_dim(dim, ndim, "spectral_norm")
        _check_power_iterations(n_power_iterations)
        self.dim, self.eps = dim, float(eps)
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            matrix = _weight_matrix(np.asarray(weight.data), dim)
            rng = init.default_generator()
            self.register_buffer("_u", _normalize(rng.standard_normal(matrix.shape[0]), eps).astype(weight.dtype))
            self.register_buffer("_v", _normalize(rng.standard_normal(matrix.shape[1]), eps).astype(weight.dtype))
            self._power_method(matrix, 15)

    def _power_method(self, matrix: np.ndarray, iterations: int) -> None:
        """u ← W v / ‖W v‖, v ← Wᵀu / ‖Wᵀu‖, in place in the buffers (PyTorch's order, no gradient)."""
        u, v = self._u._array(), self._v._array()
        for _ in range(iterations):
            u[...] = _normalize(matrix @ v, self.eps)
            v[...] = _normalize(matrix.T @ u, self.eps)

    def forward(self, weight: Tensor) -> Tensor:
        if weight.ndim == 1:
            norm = ops.sqrt(ops.sum(weight * weight))
            return weight / ops.maximum(norm, _const(self.eps, weight))
        matrix = _weight_matrix(weight, self.dim)
        if self.training:
            self._power_method(np.asarray(matrix.data), self.n_power_iterations)
        u, v = Tensor(np.array(self._u.data)), Tensor(np.array(self._v.data))
        sigma = ops.sum(u * ops.matmul(matrix, v))
        return weight / sigma

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def _transposed_conv(module: Module) -> bool:
    return parametrize.type_before_parametrizations(module).__name__.startswith("ConvTranspose")


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim: int | None = None) -> Module:
    """Miyato et al. (2018): w / σ(w), σ the largest singular value of w as a matrix (axis ``dim`` as rows; by
    default 1 for transposed convolutions, else 0), estimated by power iteration: buffers u and v are refined
    ``n_power_iterations`` times at each access in training mode (15 times at registration) and held in eval
    mode; σ = uᵀ W v, differentiated with u and v fixed. Returns ``module``."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"spectral_norm: {type(module).__name__} has no parameter or buffer named {name!r}")
    if dim is None:
        dim = 1 if _transposed_conv(module) else 0
    return parametrize.register_parametrization(module, name,
                                                _SpectralNorm(weight, n_power_iterations, dim, eps))


__all__ = ["householder_product", "matrix_exp", "orthogonal", "spectral_norm", "weight_norm"]
