"""Spatial transformers and pairwise distances, as PyTorch's: ``F.affine_grid`` (the sampling grid of affine maps),
``F.grid_sample`` (read an image at any points: bilinear or nearest, padding zeros/border/reflection) and
``F.pdist`` (the distances between the rows of a matrix).

``grid_sample`` is composed: the points' pixel coordinates (un-normalized, then clamped or reflected as the padding
mode says), the four neighbours of each point gathered from the image (indexing) and weighed by the bilinear
weights, so gradients reach both the image and the grid. At a clamp's edge the coordinate's derivative is 0, as in
PyTorch's ``clip_coordinates_set_grad``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ... import ops
from ...errors import DomainError, ShapeError
from ...tensor import Tensor
from .core import _float, _vector_norm

_DEFAULT_WARNING = ("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. "
                    "Please specify align_corners=True if the old behavior is desired.")


def _align(align_corners: bool | None) -> bool:
    if align_corners is None:  # PyTorch's default, with its warning
        warnings.warn(_DEFAULT_WARNING, UserWarning, stacklevel=3)
        return False
    return bool(align_corners)


def _positions(steps: int, align_corners: bool, dtype: np.dtype) -> np.ndarray:
    """The normalized centres of ``steps`` pixels in [−1, 1]: the corners' centres at ±1 with align_corners, else
    the pixels' edges at ±1 (PyTorch's ``linspace_from_neg_one``)."""
    if steps <= 1:
        return np.zeros(max(steps, 0), dtype)
    values = np.linspace(-1, 1, steps, dtype=dtype)
    return values if align_corners else values * dtype.type((steps - 1) / steps)


def affine_grid(theta: Any, size: Sequence[int], align_corners: bool | None = None) -> Tensor:
    """The grid (N, H, W, 2) of the points θ·(x, y, 1) for the output pixels' normalized positions (x, y), for
    ``theta`` (N, 2, 3) and ``size`` (N, C, H, W); (N, D, H, W, 3) for theta (N, 3, 4) and size (N, C, D, H, W).
    Differentiable in theta; feed it to ``grid_sample``."""
    where = "affine_grid"
    align = _align(align_corners)
    t = theta if isinstance(theta, Tensor) else Tensor(theta)
    if t.dtype.kind != "f":
        raise TypeError(f"{where}: expected theta to have a floating point dtype, got {t.dtype}")
    size = tuple(int(s) for s in size)
    if len(size) not in (4, 5):
        raise NotImplementedError(f"{where}: supports 4-D and 5-D sizes (2-D and 3-D affine maps), got size {size}")
    spatial = len(size) - 2
    if t.ndim != 3 or t.shape[1:] != (spatial, spatial + 1) or t.shape[0] != size[0]:
        raise ShapeError(f"{where}: expected a batch of {spatial}-D affine matrices of shape "
                         f"({size[0]}, {spatial}, {spatial + 1}) for size {size}, got {t.shape}")
    if min(size) <= 0:
        raise ValueError(f"{where}: expected a positive output size, got {size}")
    axes = [_positions(n, align, t.dtype) for n in reversed(size[2:])]  # x (width) first
    try:
        mesh = np.meshgrid(*axes[::-1], indexing="ij")[::-1]  # each of shape size[2:]
        base = np.stack([*mesh, np.ones(size[2:], t.dtype)], axis=-1).reshape(-1, spatial + 1)  # (points, k+1)
        grid = ops.matmul(base, ops.swapaxes(t, 1, 2))  # (N, points, k)
    except MemoryError:
        points = size[0] * math.prod(size[2:])
        raise MemoryError(f"{where}: a grid of size {size} ({points:,} points of {spatial} coordinates) needs more "
                          "memory than this machine can allocate; expected a smaller output size") from None
    return ops.reshape(grid, (size[0], *size[2:], spatial))


def _unnormalize(coordinate: Tensor, size: int, align_corners: bool) -> Tensor:
    if align_corners:
        return (coordinate + 1) / 2 * (size - 1)
    return ((coordinate + 1) * size - 1) / 2


def _clip(coordinate: Tensor, size: int) -> Tensor:
    """Clamp to [0, size − 1]; the derivative is 1 strictly inside only, as PyTorch's."""
    value = coordinate.data
    inside = (value > 0) & (value < size - 1)
    return ops.where(inside, coordinate, np.clip(value, 0, size - 1).astype(value.dtype))


def _reflect(coordinate: Tensor, twice_low: int, twice_high: int) -> Tensor:
    """Reflect into [low, high] by mirroring at the ends as often as needed (PyTorch's ``reflect_coordinates``)."""
    if twice_low == twice_high:
        return coordinate * 0
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    shifted = coordinate - low
    sign = np.where(shifted.data < 0, -1, 1).astype(shifted.dtype)
    distance = shifted * sign
    flips = np.floor(distance.data / span)
    extra = distance - (flips * span).astype(distance.dtype)  # fmod, derivative 1
    return ops.where(flips % 2 == 0, extra + low, (span + low) - extra)


def _source(coordinate: Tensor, size: int, padding_mode: str, align_corners: bool) -> Tensor:
    x = _unnormalize(coordinate, size, align_corners)
    if padding_mode == "border":
        x = _clip(x, size)
    elif padding_mode == "reflection":
        x = _reflect(x, 0, 2 * (size - 1)) if align_corners else _reflect(x, -1, 2 * size - 1)
        x = _clip(x, size)
    return x


def grid_sample(input: Any, grid: Any, mode: str = "bilinear", padding_mode: str = "zeros",
                align_corners: bool | None = None) -> Tensor:
    """Sample (N, C, H, W) ``input`` at the points of ``grid`` (N, H_out, W_out, 2), given as (x, y) in [−1, 1]
    (−1 the left/top edge, +1 the right/bottom one; the pixels' centres with ``align_corners=True``): output
    (N, C, H_out, W_out).

    ``mode``: "bilinear" (differentiable in input and grid) or "nearest" (the nearest pixel, halves to even, as
    PyTorch's ``nearbyint``; no gradient to the grid). ``padding_mode`` for points outside: "zeros", "border" (the
    nearest edge pixel) or "reflection" (mirrored at the edges). 5-D input and "bicubic" are not implemented.
    """
    where = "grid_sample"
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"{where}: expected mode to be 'bilinear', 'nearest' or 'bicubic', got {mode!r}")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"{where}: expected padding_mode to be 'zeros', 'border' or 'reflection', got "
                         f"{padding_mode!r}")
    align = _align(align_corners)
    x, g = _float(input, "input", where), _float(grid, "grid", where)
    if x.ndim == 5:
        raise NotImplementedError(f"{where}: 5-D (volumetric) input is not implemented; 4-D (N, C, H, W) is")
    if mode == "bicubic":
        raise NotImplementedError(f"{where}: mode 'bicubic' is not implemented; use 'bilinear' or 'nearest'")
    if x.ndim != 4 or g.ndim != 4 or g.shape[-1] != 2 or g.shape[0] != x.shape[0]:
        raise ShapeError(f"{where}: expects input (N, C, H, W) and grid (N, H_out, W_out, 2) with the same N, got "
                         f"{x.shape} and {g.shape}")
    if x.dtype != g.dtype:
        raise TypeError(f"{where}: input and grid must have the same dtype, got {x.dtype} and {g.dtype}")
    if 0 in x.shape[2:]:  # (PyTorch's RuntimeError; there is no pixel to sample, it was NumPy's IndexError)
        raise ShapeError(f"{where}: expected input with non-empty spatial dimensions, got shape {x.shape}")
    n, _, h, w = x.shape
    ix = _source(g[..., 0], w, padding_mode, align)
    iy = _source(g[..., 1], h, padding_mode, align)
    batch = np.arange(n)[:, None, None]

    def tap(rows: np.ndarray, cols: np.ndarray) -> tuple[Tensor, np.ndarray]:
        """input at (rows, cols) per output point, (N, H_out, W_out, C), and where it lies inside the image."""
        inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
        picked = x[batch, :, np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1)]
        return picked, inside

    if mode == "nearest":
        rows, cols = np.rint(iy.data).astype(np.int64), np.rint(ix.data).astype(np.int64)
        picked, inside = tap(rows, cols)
        out = picked * inside[..., None].astype(x.dtype)
    else:
        x0, y0 = np.floor(ix.data), np.floor(iy.data)
        east, south = ix - x0.astype(x.dtype), iy - y0.astype(x.dtype)  # the weights of the far neighbours
        west, north = 1 - east, 1 - south
        x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
        out = None
        for rows, cols, weight in ((y0, x0, north * west), (y0, x0 + 1, north * east), (y0 + 1, x0, south * west),
                                   (y0 + 1, x0 + 1, south * east)):
            picked, inside = tap(rows, cols)
            term = picked * ops.unsqueeze(weight * inside.astype(x.dtype), -1)
            out = term if out is None else out + term
    return ops.transpose(out, 0, 3, 1, 2)


def pdist(input: Any, p: float = 2.0) -> Tensor:
    """The p-norm distances ‖x_i − x_j‖_p between the rows of (N, M) input, for i < j in row-major order: shape
    (N(N − 1)/2,), as ``scipy.spatial.distance.pdist``. Equal rows have distance 0 with gradient 0 (PyTorch's);
    p = 0 counts the differing entries (no gradient), p = ∞ takes the largest difference."""
    where = "pdist"
    x = _float(input, "input", where)
    if x.ndim != 2:
        raise ShapeError(f"{where}: expects a 2-D input (N, M), got shape {x.shape}")
    if isinstance(p, bool) or not isinstance(p, int | float) or math.isnan(p) or p < 0:
        raise DomainError(f"{where}: p must be a non-negative number (or math.inf), got {p!r}")
    first, second = np.triu_indices(x.shape[0], 1)
    differences = x[first] - x[second]
    if p == 0:
        counts = np.count_nonzero(differences.data, axis=-1).astype(x.dtype)
        return ops.sum(differences * 0, axis=-1) + counts  # a count: gradient 0, still in the graph
    return _vector_norm(differences, float(p), -1)


__all__ = ["affine_grid", "grid_sample", "pdist"]
