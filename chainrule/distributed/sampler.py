"""DistributedSampler: each process's share of a dataset's indices, a new shuffle every epoch, as PyTorch's."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np

from .comm import _get
from .comm import rank as _rank
from .comm import world_size as _world_size

__all__ = ["DistributedSampler"]


def _count(n: Any) -> int:
    if isinstance(n, str | bytes):
        raise TypeError(f"DistributedSampler expects the number of samples (an int >= 0) or a dataset, got {n!r:.80}")
    if hasattr(n, "__len__") and not isinstance(n, numbers.Integral):
        n = len(n)
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise TypeError(f"DistributedSampler expects the number of samples (an int >= 0) or a dataset, got {n!r:.80}")
    return int(n)


def _same_length_everywhere(n: int) -> None:
    """Every process of the MPI world must share the same number of samples: with different lengths each would
    shuffle, pad and split its own dataset, so their shares would overlap and their step counts differ (PyTorch's
    sampler assumes it without a check)."""
    world = _get()
    if world.size == 1:
        return
    seen = world.comm.allgather(n)
    if any(other != seen[0] for other in seen):
        listing = ", ".join(f"rank {r}: {count}" for r, count in enumerate(seen))
        raise ValueError(f"DistributedSampler: every process must have the same number of samples to share them out; "
                         f"got {listing}. Give each process the same (whole) dataset; the sampler splits it")


class DistributedSampler:
    """The indices of ``n`` samples (or of a dataset) that this process handles: every ``world_size``-th one of a
    permutation that all processes draw alike from ``seed`` and the epoch.

    Every process gets ``len(sampler)`` indices, so all run the same number of steps. When ``world_size`` does not
    divide ``n``, the permutation is padded with its own first indices (a few samples are seen twice), or, with
    ``drop_last=True``, cut to a multiple of ``world_size`` (a few are not seen this epoch), as in PyTorch. Call
    ``set_epoch(e)`` before each epoch for a new shuffle (``DataLoader(..., distributed=True)`` does it itself).
    ``num_replicas`` and ``rank`` default to ``cr.distributed.world_size()`` and ``rank()``; then the processes also
    check that they all have the same ``n`` (a ValueError listing each rank's otherwise, where shares would overlap).

    >>> [list(DistributedSampler(5, shuffle=False, num_replicas=2, rank=r)) for r in (0, 1)]
    [[0, 2, 4], [1, 3, 0]]
    """

    def __init__(
        self,
        n: Any,
        seed: int = 0,
        shuffle: bool = True,
        drop_last: bool = False,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        self.n = _count(n)
        if num_replicas is None and rank is None:
            _same_length_everywhere(self.n)
        self.num_replicas = _world_size() if num_replicas is None else num_replicas
        if (
            isinstance(self.num_replicas, bool)
            or not isinstance(self.num_replicas, numbers.Integral)
            or self.num_replicas < 1
        ):
            raise ValueError(f"DistributedSampler: num_replicas must be a positive int, got {num_replicas!r}")
        self.rank = _rank() if rank is None else rank
        if (
            isinstance(self.rank, bool)
            or not isinstance(self.rank, numbers.Integral)
            or not 0 <= self.rank < self.num_replicas
        ):
            raise ValueError(f"DistributedSampler: rank must be an int from 0 to {self.num_replicas - 1}, got {rank!r}")
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f"DistributedSampler: seed must be an int >= 0, got {seed!r}")
        self.seed = int(seed)
        for name, flag in (("shuffle", shuffle), ("drop_last", drop_last)):
            if not isinstance(flag, bool | np.bool_):  # shuffle="no" would be truthy: it would shuffle
                raise TypeError(f"DistributedSampler: {name} must be True or False, got {flag!r}")
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.epoch = 0
        if self.drop_last and self.n % self.num_replicas:
            self.num_samples = math.ceil((self.n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(self.n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose shuffle the next iteration uses (the same in every process)."""
        if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 0:
            raise ValueError(f"set_epoch expects an int >= 0, got {epoch!r}")
        self.epoch = int(epoch)

    def indices(self) -> np.ndarray:
        """This process's indices for the current epoch, as an int64 array."""
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        else:
            order = np.arange(self.n)
        if self.total_size > self.n:  # pad with the first indices, repeated as often as needed
            order = np.resize(order, self.total_size)
        else:
            order = order[: self.total_size]
        return order[self.rank : self.total_size : self.num_replicas].astype(np.int64)

    def __iter__(self) -> Iterator[int]:
        try:
            return iter(self.indices().tolist())
        except MemoryError:
            raise MemoryError(
                f"DistributedSampler: a permutation of n={self.n:,} indices is too large for this machine's memory; "
                "expected the number of samples of the dataset"
            ) from None

    def __len__(self) -> int:
        return self.num_samples

    def __repr__(self) -> str:
        return (
            f"DistributedSampler(n={self.n}, rank={self.rank}, num_replicas={self.num_replicas}, "
            f"shuffle={self.shuffle}, seed={self.seed}, drop_last={self.drop_last}, epoch={self.epoch})"
        )
