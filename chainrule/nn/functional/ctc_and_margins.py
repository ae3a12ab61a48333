"""The connectionist temporal classification loss (``CTCLoss``, ``F.ctc_loss``), ``MultiLabelMarginLoss`` and
``TripletMarginWithDistanceLoss``, as PyTorch's, composed of rules of the table so that every gradient (and a second
one) comes from the chain rule.

CTC sums the probabilities of every alignment of a target (labels l₁…l_S) with the T frames of the input: on the
extended label l′ = (blank, l₁, blank, l₂, …, l_S, blank) the forward variable in log space is

    α_t(s) = logsumexp(α_{t−1}(s), α_{t−1}(s−1), α_{t−1}(s−2) if l′_s ≠ blank and l′_s ≠ l′_{s−2}) + log p_t(l′_s),

started from α_{−1} = (0, −∞, −∞, …) and read at the last blank and the last label: −log p(l | x) =
−logsumexp(α_{T−1}(2S), α_{T−1}(2S−1)) (Graves et al., 2006). The backward variables are what reverse mode computes
through this recursion, so no β recursion is written out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ... import ops
from ...errors import DomainError, ShapeError
from ...tensor import Tensor
from .core import _check_reduction, _float, _hinge, _real, _reduce, pairwise_distance


def _lengths(value: Any, count: int, limit: int | None, name: str, where: str) -> np.ndarray:
    array = np.asarray(getattr(value, "data", value))
    if array.dtype.kind not in "iu":
        raise TypeError(f"{where}: {name} must hold integers, got dtype {array.dtype}")
    # (one number serves every sample; an array needs one length per sample, as PyTorch's: [6] for a batch of 2
    # was taken as [6, 6])
    array = np.broadcast_to(array, (count,)) if array.ndim == 0 or array.shape == (count,) else None
    if array is None:
        raise ShapeError(f"{where}: {name} must have one length per sample ({count}), got shape "
                         f"{np.shape(getattr(value, 'data', value))}")
    if np.any(array < 0) or (limit is not None and np.any(array > limit)):
        raise DomainError(f"{where}: {name} must lie in [0, {limit}], got {array.tolist()}")
    return array.astype(np.int64)


def ctc_loss(log_probs: Any, targets: Any, input_lengths: Any, target_lengths: Any, blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """−log p(target | input) summed over every alignment, for ``log_probs`` (T, N, C) (or unbatched (T, C)) of
    log-probabilities (e.g. from ``log_softmax``) of C classes, ``blank`` among them.

    ``targets``: (N, S) padded rows, or all targets concatenated (1-D); ``input_lengths`` (N,) frames used per
    sample; ``target_lengths`` (N,). ``reduction="mean"`` divides each loss by its target length (at least 1), then
    averages over the batch; ``"sum"``, ``"none"`` (N,). A target its input cannot align with (too few frames for the
    labels and the blanks between repeats) has loss ∞, or 0 with no gradient when ``zero_infinity``.

    The gradient is the exact one with respect to ``log_probs``. PyTorch's backward returns that plus
    exp(log_probs)·upstream on the frames used — the gradient with respect to logits when ``log_probs`` came from
    ``log_softmax`` (pytorch/pytorch#52241) —, so the two agree through a ``log_softmax``, as networks use it, and
    differ when ``log_probs`` is a leaf.

    >>> import chainrule as cr, numpy as np, chainrule.nn.functional as F
    >>> log_probs = F.log_softmax(cr.zeros(4, 1, 3), -1)  # 4 frames, uniform over blank, a, b
    >>> round(F.ctc_loss(log_probs, np.array([[1, 2]]), [4], [2], reduction="sum").item(), 4)  # −log(15/81)
    1.6864
    """
    where = "ctc_loss"
    _check_reduction(reduction, where)
    x = _float(log_probs, "log_probs", where)
    batched = x.ndim == 3
    if x.ndim not in (2, 3):
        raise ShapeError(f"{where}: log_probs must be (T, N, C) or unbatched (T, C), got shape {x.shape}")
    if not batched:
        x = ops.unsqueeze(x, 1)
    frames, n, classes = x.shape
    if n == 0:  # (PyTorch's RuntimeError too; the loss of no sample was an IndexError from NumPy)
        raise ShapeError(f"{where}: log_probs of shape {x.shape} has an empty batch; expected at least one sample")
    if isinstance(blank, bool) or not isinstance(blank, int | np.integer) or not 0 <= blank < classes:
        raise DomainError(f"{where}: blank must be a class index in [0, {classes}), got {blank!r}")
    input_lengths = _lengths(input_lengths, n, frames, "input_lengths", where)
    labels = np.asarray(getattr(targets, "data", targets))
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{where}: targets must hold integer class indices, got dtype {labels.dtype}")
    target_lengths = _lengths(target_lengths, n, labels.shape[-1] if labels.ndim == 2 else None, "target_lengths",
                              where)
    if not batched and labels.ndim == 1:
        rows = [labels[:target_lengths[0]]]
    elif labels.ndim == 2 and batched:
        if labels.shape[0] != n:
            raise ShapeError(f"{where}: padded targets must be (N, S) with N = {n}, got shape {labels.shape}")
        rows = [labels[i, :target_lengths[i]] for i in range(n)]
    elif labels.ndim == 1:
        if target_lengths.sum() > labels.size:
            raise ShapeError(f"{where}: concatenated targets hold {labels.size} labels, target_lengths ask for "
                             f"{int(target_lengths.sum())}")
        ends = np.cumsum(target_lengths)
        rows = [labels[e - s:e] for s, e in zip(target_lengths, ends, strict=True)]
    else:
        raise ShapeError(f"{where}: targets must be (N, S) or 1-D (concatenated), got shape {labels.shape}")
    for row in rows:
        if row.size and (row.min() < 0 or row.max() >= classes or np.any(row == blank)):
            raise DomainError(f"{where}: target labels must be classes in [0, {classes}) other than blank {blank}, "
                              f"got {row.tolist()}")
    loss = _ctc_negative_log_likelihood(x, rows, input_lengths, blank)
    # an alignment needs one frame per label and one more between equal neighbours
    needed = np.array([row.size + int(np.sum(row[1:] == row[:-1])) for row in rows])
    impossible = needed > input_lengths
    if impossible.any():
        value = np.zeros((), x.dtype) if zero_infinity else np.asarray(np.inf, x.dtype)
        loss = ops.where(impossible, value, loss)
    if reduction == "mean":
        loss = loss * (1 / np.maximum(target_lengths, 1)).astype(x.dtype)
    if not batched and reduction == "none":
        return ops.squeeze(loss, 0)
    return _reduce(loss, reduction, where)


def _ctc_negative_log_likelihood(x: Tensor, rows: list[np.ndarray], input_lengths: np.ndarray,
                                 blank: int) -> Tensor:
    """−log p(l | x) per sample through the α recursion in log space, all samples at once (padded to the longest
    extended label; a sample's α stops moving after its last frame)."""
    frames, n, _ = x.shape
    width = 2 * max((row.size for row in rows), default=0) + 1
    extended = np.full((n, width), blank, np.int64)
    for i, row in enumerate(rows):
        extended[i, 1:2 * row.size:2] = row
    # "log 0": finite, so that logsumexp of unreachable states stays finite (exp of it is exactly 0 next to any
    # reachable state, which therefore gets all the gradient)
    log_zero = np.asarray(np.finfo(x.dtype).min / 8, x.dtype)
    skip = np.zeros((n, width), bool)
    skip[:, 2:] = (extended[:, 2:] != blank) & (extended[:, 2:] != extended[:, :-2])
    emissions = x[:, np.arange(n)[:, None], extended]  # (T, N, width): log p_t(l′_s)
    start = np.full((n, width), log_zero)
    start[:, 0] = 0
    alpha: Tensor | np.ndarray = start
    pad1 = np.full((n, 1), log_zero)
    pad2 = np.full((n, 2), log_zero)
    for t in range(frames):
        a = alpha if isinstance(alpha, Tensor) else Tensor(alpha)
        stay = a
        step = ops.concatenate([pad1, a[:, :-1]], axis=1)
        # [:, :width]: with width 1 (an empty target) a[:, :-2] is empty and the padding alone is 2 wide
        jump = ops.where(skip, ops.concatenate([pad2, a[:, :-2]], axis=1)[:, :width], log_zero)
        moved = ops.logsumexp(ops.stack([stay, step, jump]), axis=0) + emissions[t]
        active = (t < input_lengths)[:, None]
        alpha = ops.where(active, moved, a) if not active.all() else moved
    alpha = alpha if isinstance(alpha, Tensor) else Tensor(alpha)
    lengths = np.array([row.size for row in rows])
    last = alpha[np.arange(n), 2 * lengths]
    before = ops.where(lengths > 0, alpha[np.arange(n), np.maximum(2 * lengths - 1, 0)], log_zero)
    return -ops.logsumexp(ops.stack([last, before]), axis=0)


def multilabel_margin_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Σ_j Σ_{i ∉ targets} max(0, 1 − (x[y_j] − x[i])) / C for scores (N, C) (or (C,)): ``target`` (the input's
    shape) lists each sample's classes y_j first, ended by −1 (or by the row's end). A term exactly at its margin
    gets no gradient, as PyTorch's kernel (``z > 0``)."""
    where = "multilabel_margin_loss"
    _check_reduction(reduction, where)
    x = _float(input, "input", where)
    labels = np.asarray(getattr(target, "data", target))
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{where}: target must hold integer class indices (−1 ends a list), got dtype "
                        f"{labels.dtype}")
    if x.ndim not in (1, 2) or labels.shape != x.shape:
        raise ShapeError(f"{where}: expects input (N, C) or (C,) and a target of the same shape, got {x.shape} and "
                         f"{labels.shape}")
    unbatched = x.ndim == 1
    if unbatched:
        x, labels = ops.unsqueeze(x, 0), labels[None]
    n, classes = x.shape
    valid = np.cumprod(labels != -1, axis=1).astype(bool)  # the classes before the first −1
    if np.any(valid & ((labels < 0) | (labels >= classes))):
        raise DomainError(f"{where}: target classes must lie in [0, {classes}) (or −1 to end the list), got "
                          f"{labels.tolist()}")
    picked = np.where(valid, labels, 0)
    is_target = np.zeros((n, classes), bool)
    rows = np.repeat(np.arange(n), classes).reshape(n, classes)
    is_target[rows[valid], picked[valid]] = True
    scores = x[np.arange(n)[:, None], picked]  # (N, C): x[y_j], padded
    z = 1 - ops.unsqueeze(scores, -1) + ops.unsqueeze(x, 1)  # (N, j, i)
    counted = (valid[:, :, None] & ~is_target[:, None, :]).astype(x.dtype)
    loss = ops.sum(ops.relu(z) * counted, axis=(1, 2)) / classes
    if unbatched:
        loss = ops.squeeze(loss, 0)
    return _reduce(loss, reduction, where)


def triplet_margin_with_distance_loss(anchor: Any, positive: Any, negative: Any, *,
                                      distance_function: Callable[[Tensor, Tensor], Tensor] | None = None,
                                      margin: float = 1.0, swap: bool = False, reduction: str = "mean") -> Tensor:
    """max(0, d(a, p) − d(a, n) + margin) for any distance ``d`` (default ``pairwise_distance``); ``swap`` uses
    min(d(a, n), d(p, n)) as the negative distance. The hinge passes the gradient at 0, as PyTorch's clamp_min."""
    where = "triplet_margin_with_distance_loss"
    _check_reduction(reduction, where)
    margin = _real(margin, "margin", where)
    if margin <= 0:
        raise DomainError(f"{where}: margin must be greater than 0, got {margin}")
    a, p, n = (_float(v, name, where) for v, name in ((anchor, "anchor"), (positive, "positive"),
                                                      (negative, "negative")))
    if not a.ndim == p.ndim == n.ndim:
        raise ShapeError(f"{where}: anchor, positive and negative must have the same number of axes, got "
                         f"{a.shape}, {p.shape} and {n.shape}")
    if distance_function is not None and not callable(distance_function):
        raise TypeError(f"{where}: distance_function must be callable or None, got {distance_function!r}")
    distance = pairwise_distance if distance_function is None else distance_function
    d_pos, d_neg = distance(a, p), distance(a, n)
    if swap:
        d_neg = ops.minimum(d_neg, distance(p, n))
    return _reduce(_hinge(d_pos - d_neg + margin), reduction, where)
