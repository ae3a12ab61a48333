"""Batches of sequences of different lengths, as ``torch.nn.utils.rnn``: padding, and ``PackedSequence``, which the
recurrent layers (RNN, LSTM, GRU) take and return so that each sequence is run for its own length only.

A packed batch holds, time step by time step, the elements of the sequences still running at that step (sequences
sorted by decreasing length): ``data`` (sum of lengths, *), ``batch_sizes`` (how many at each step, int64),
``sorted_indices`` (the sorting; None when the input was sorted already) and ``unsorted_indices`` (its inverse).
Packing and padding are indexing, so gradients flow through them.

>>> import chainrule as cr
>>> from chainrule.nn.utils import rnn
>>> seqs = [cr.ones(3, 2), cr.ones(1, 2), cr.ones(2, 2)]
>>> packed = rnn.pack_sequence(seqs, enforce_sorted=False)
>>> packed.batch_sizes.tolist(), packed.sorted_indices.tolist()
([3, 2, 1], [0, 2, 1])
>>> padded, lengths = rnn.pad_packed_sequence(packed, batch_first=True)
>>> padded.shape, lengths.tolist()
((3, 3, 2), [3, 1, 2])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ... import ops
from ...errors import ShapeError
from ...tensor import Tensor


class PackedSequence(NamedTuple):
    """Sequences of several lengths packed step by step (see the module's docstring); build it with
    ``pack_padded_sequence`` or ``pack_sequence``, not by hand."""

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None

    def lengths(self) -> np.ndarray:
        """Each sequence's length, in the sorted order."""
        sizes = np.asarray(self.batch_sizes.data)
        return (np.arange(sizes[0])[:, None] < sizes[None, :]).sum(axis=1)

    def to(self, target: Any) -> PackedSequence:
        """``data`` converted or moved (``Tensor.to``); the index tensors stay."""
        return self._replace(data=self.data.to(target))

    @property
    def is_cuda(self) -> bool:
        return False


def _as_tensor(x: Any, where: str, name: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    try:
        return Tensor(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{where}: {name} must be a Tensor, got {type(x).__name__} ({exc})") from None


def _lengths(lengths: Any, batch: int, where: str) -> np.ndarray:
    values = np.asarray(lengths.data if isinstance(lengths, Tensor) else lengths)
    if values.ndim != 1 or values.dtype.kind not in "iu":
        raise TypeError(f"{where}: lengths must be a 1-D list or int64 tensor of lengths, got {values.dtype} with "
                        f"shape {values.shape}")
    values = values.astype(np.int64)
    if values.shape[0] != batch:
        raise ShapeError(f"{where}: lengths has {values.shape[0]} entries but the batch has {batch} sequences")
    if np.any(values <= 0):
        raise ShapeError(f"{where}: every length must be > 0, got {values.tolist()}")
    return values


def invert_permutation(permutation: np.ndarray) -> np.ndarray:
    """The permutation q with q[p[i]] = i, which undoes p (PyTorch's ``torch.nn.utils.rnn.invert_permutation``)."""
    inverse = np.empty_like(permutation)
    inverse[permutation] = np.arange(permutation.size)
    return inverse


def pack_padded_sequence(input: Any, lengths: Any, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (L, B, *) — (B, L, *) with ``batch_first`` — whose sequence b has ``lengths[b]`` real
    steps. ``enforce_sorted``: the lengths must already decrease (else pass False to have them sorted)."""
    where = "pack_padded_sequence"
    x = _as_tensor(input, where, "input")
    if x.ndim < 2:
        raise ShapeError(f"{where}: input must have a time and a batch axis, got shape {x.shape}")
    if batch_first:
        x = ops.swapaxes(x, 0, 1)
    steps, batch = x.shape[0], x.shape[1]
    if batch == 0:  # (was NumPy's "index 0 is out of bounds")
        raise ShapeError(f"{where}: input of shape {x.shape} has no sequences; expected at least one to pack")
    lengths = _lengths(lengths, batch, where)
    if np.any(lengths > steps):
        raise ShapeError(f"{where}: a length ({lengths.max()}) is larger than the padded sequence ({steps} steps)")
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise ShapeError(f"{where}: `lengths` array must be sorted in decreasing order when `enforce_sorted` is "
                             f"True (got {lengths.tolist()}). You can pass `enforce_sorted=False` to "
                             "pack_padded_sequence and/or pack_sequence to sidestep this requirement")
        order, sorted_indices, unsorted_indices = np.arange(batch), None, None
    else:
        order = np.argsort(-lengths, kind="stable")
        sorted_indices = Tensor(order.astype(np.int64))
        unsorted_indices = Tensor(invert_permutation(order).astype(np.int64))
    sorted_lengths = lengths[order]
    batch_sizes = (np.arange(sorted_lengths[0])[:, None] < sorted_lengths[None, :]).sum(axis=1)
    # the rows of the (L·B, *) view to keep, step by step: step t, the first batch_sizes[t] sorted sequences
    rows = np.concatenate([t * batch + order[:size] for t, size in enumerate(batch_sizes)])
    data = ops.reshape(x, (steps * batch, *x.shape[2:]))[rows]
    return PackedSequence(data, Tensor(batch_sizes.astype(np.int64)), sorted_indices, unsorted_indices)


def _check_packed(sequence: Any, where: str) -> PackedSequence:
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"{where}: expected a PackedSequence (from pack_padded_sequence or pack_sequence), got "
                        f"{type(sequence).__name__}")
    return sequence


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """Undo packing: (padded (L, B, *) — (B, L, *) with ``batch_first`` —, lengths int64 (B,)), sequences in
    their original order; ``total_length`` pads to that many steps (at least the longest sequence)."""
    where = "pad_packed_sequence"
    sequence = _check_packed(sequence, where)
    sizes = np.asarray(sequence.batch_sizes.data)
    steps, batch = len(sizes), int(sizes[0])
    if total_length is not None:
        if total_length < steps:
            raise ShapeError(f"{where}: expected total_length to be at least the length of the longest sequence in "
                             f"input, but got total_length={total_length} and max sequence length being {steps}")
        steps = int(total_length)
    data = sequence.data
    order = np.arange(batch) if sequence.sorted_indices is None else np.asarray(sequence.sorted_indices.data)
    # for every (t, b) of the padded result: its row of data, or the padding row appended at the end
    pad_row = data.shape[0]
    index = np.full((steps, batch), pad_row, dtype=np.int64)
    start = 0
    for t, size in enumerate(sizes):
        index[t, order[:size]] = np.arange(start, start + size)
        start += size
    pad = Tensor(np.full((1, *data.shape[1:]), padding_value, dtype=data.dtype))
    padded = ops.concatenate([data, pad], axis=0)[index.reshape(-1)]
    padded = ops.reshape(padded, (steps, batch, *data.shape[1:]))
    lengths = sequence.lengths()[invert_permutation(order)]
    return (ops.swapaxes(padded, 0, 1) if batch_first else padded), Tensor(lengths.astype(np.int64))


def pad_sequence(sequences: Sequence[Any], batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack sequences (L_i, *) of different lengths into (L_max, B, *) — (B, L_max, *) with ``batch_first`` —
    filling with ``padding_value`` on the ``padding_side`` ("right" or "left")."""
    where = "pad_sequence"
    if padding_side not in ("left", "right"):
        raise ValueError(f"{where}: padding_side must be 'left' or 'right', got {padding_side!r}")
    if isinstance(sequences, Tensor):
        sequences = list(sequences)
    seqs = [_as_tensor(s, where, f"sequence {i}") for i, s in enumerate(sequences)]
    if not seqs:
        raise ShapeError(f"{where}: received an empty list of sequences")
    trailing = seqs[0].shape[1:]
    for i, s in enumerate(seqs):
        if s.ndim < 1 or s.shape[1:] != trailing:
            raise ShapeError(f"{where}: every sequence must be (L, {', '.join(map(str, trailing))}) like the first; "
                             f"sequence {i} has shape {s.shape}")
    longest = max(s.shape[0] for s in seqs)
    dtype = np.result_type(*[s.dtype for s in seqs])
    rows = []
    for s in seqs:
        gap = longest - s.shape[0]
        if gap:
            fill = Tensor(np.full((gap, *trailing), padding_value, dtype=dtype))
            s = ops.concatenate([s, fill] if padding_side == "right" else [fill, s], axis=0)
        rows.append(s)
    return ops.stack(rows, axis=0 if batch_first else 1)


def unpad_sequence(padded_sequences: Tensor, lengths: Any, batch_first: bool = False) -> list[Tensor]:
    """The list of sequences, each cut to its length, from a padded batch (the inverse of ``pad_sequence``)."""
    where = "unpad_sequence"
    x = _as_tensor(padded_sequences, where, "padded_sequences")
    if x.ndim < 2:
        raise ShapeError(f"{where}: padded_sequences must have a time and a batch axis, got shape {x.shape}")
    if not batch_first:
        x = ops.swapaxes(x, 0, 1)
    lengths = _lengths(lengths, x.shape[0], where)
    if np.any(lengths > x.shape[1]):
        raise ShapeError(f"{where}: a length ({lengths.max()}) is larger than the padded sequences ({x.shape[1]})")
    return [x[b, :int(n)] for b, n in enumerate(lengths)]


def pack_sequence(sequences: Sequence[Any], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences (L_i, *) (``pad_sequence`` then ``pack_padded_sequence``)."""
    seqs = [_as_tensor(s, "pack_sequence", f"sequence {i}") for i, s in enumerate(sequences)]
    lengths = [s.shape[0] if s.ndim else 0 for s in seqs]
    return pack_padded_sequence(pad_sequence(seqs), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The list of sequences of a PackedSequence, in their original order (the inverse of ``pack_sequence``)."""
    padded, lengths = pad_packed_sequence(_check_packed(packed_sequences, "unpack_sequence"), batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pack_sequence", "pad_packed_sequence",
           "pad_sequence", "unpack_sequence", "unpad_sequence"]
