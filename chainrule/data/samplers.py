"""Samplers: the order in which a DataLoader visits a dataset, with PyTorch's names, arguments and semantics.

A sampler is any iterable of indices (``sampler=``), a batch sampler any iterable of lists of indices
(``batch_sampler=``). The random ones draw from their own ``numpy.random.Generator``: pass ``seed=`` (an int) for
the same sequence of epochs on every run, or ``generator=`` to share one; the global NumPy random state is never
touched. Each ``iter()`` is a new epoch with a new draw, as in PyTorch. The numbers differ from PyTorch's (another
generator); the distributions are the same (tested against ``torch.utils.data``).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Sequence, Sized
from typing import Any

import numpy as np

from ..errors import DomainError

__all__ = [
    "BatchSampler",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
]


# Draws with replacement are made this many at a time (even: NumPy's bounded 32-bit integers use both halves of each
# 64-bit draw, so the stream is the one a single call would give).
CHUNK = 1 << 16


def _stream(blocks: Iterator[np.ndarray]) -> Iterator[int]:
    for block in blocks:
        yield from block.tolist()


def _is_int(value: Any) -> bool:
    """An integer as ``operator.index`` takes it (NumPy's too), not a bool (the loader and datasets use it too)."""
    if isinstance(value, bool | np.bool_):
        return False
    try:
        operator.index(value)
    except TypeError:
        return False
    return True


def _positive_int(value: Any, owner: str, name: str) -> int:
    if not _is_int(value):
        raise TypeError(f"{owner}: {name} must be a positive int, got {value!r:.60} ({type(value).__name__})")
    if operator.index(value) <= 0:
        raise DomainError(f"{owner}: {name} must be a positive int, got {value}")
    return operator.index(value)


def _bool(value: Any, owner: str, name: str) -> bool:
    """True or False only: ``replacement="no"`` would otherwise count as True."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{owner}: {name} must be True or False, got {value!r:.60}")
    return bool(value)


def _check_sized(data_source: Any, owner: str) -> None:
    # Only that it has a length: len() itself is asked each epoch (a dataset may grow), as in PyTorch.
    if not hasattr(type(data_source), "__len__"):
        raise TypeError(f"{owner} needs a data source with a length (a dataset, a list, range(n)), got a "
                        f"{type(data_source).__name__}")


def make_generator(generator: Any, seed: Any, owner: str) -> np.random.Generator:
    """The generator a sampler or split draws from: ``generator`` itself, or a new one from ``seed`` (an int >= 0),
    or, with neither, fresh entropy from the operating system."""
    if generator is not None and seed is not None:
        raise TypeError(f"{owner}: pass generator= or seed=, not both")
    if generator is not None:
        if not isinstance(generator, np.random.Generator):
            raise TypeError(f"{owner}: generator must be a numpy.random.Generator (e.g. numpy.random.default_rng(0)), "
                            f"got a {type(generator).__module__}.{type(generator).__name__}; for a fixed order pass "
                            "seed=<int>")
        return generator
    if seed is not None and not (_is_int(seed) and operator.index(seed) >= 0):
        raise TypeError(f"{owner}: seed must be an int >= 0 or None, got {seed!r:.60}")
    return np.random.default_rng(None if seed is None else operator.index(seed))


class Sampler:
    """Base class of samplers: subclass it and define ``__iter__`` (yielding indices, or lists of indices for a batch
    sampler) and, for ``len(loader)``, ``__len__``.

    >>> class Backwards(Sampler):
    ...     def __init__(self, n):
    ...         self.n = n
    ...     def __iter__(self):
    ...         return iter(range(self.n - 1, -1, -1))
    ...     def __len__(self):
    ...         return self.n
    >>> list(Backwards(4))
    [3, 2, 1, 0]
    """

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__ (yielding the indices of one epoch)")


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1, every epoch.

    >>> list(SequentialSampler(range(4)))
    [0, 1, 2, 3]
    """

    def __init__(self, data_source: Sized) -> None:
        _check_sized(data_source, "SequentialSampler")
        self.data_source = data_source

    def _order(self) -> np.ndarray:
        return np.arange(len(self.data_source))

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class _DrawnInBlocks(Sampler):
    """A sampler of ``num_samples`` indices that draws them in blocks (``_blocks``), so that an epoch of 10¹² draws
    is a stream, not one allocation."""

    num_samples: int

    def _blocks(self) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def _order(self) -> np.ndarray:
        """One epoch's indices, drawn now."""
        return np.concatenate([np.arange(0), *self._blocks()])

    def __iter__(self) -> Iterator[int]:
        return _stream(self._blocks())

    def __len__(self) -> int:
        return self.num_samples


class RandomSampler(_DrawnInBlocks):
    """A random order of ``range(len(data_source))``, new each epoch; with ``replacement=True``, ``num_samples``
    independent uniform draws. Without replacement, ``num_samples`` (default ``len(data_source)``) beyond the length
    continues with further permutations, as PyTorch's.

    >>> s = RandomSampler(range(5), seed=0)
    >>> sorted(s), len(s)
    ([0, 1, 2, 3, 4], 5)
    >>> len(list(RandomSampler(range(5), replacement=True, num_samples=12, seed=0)))
    12
    """

    def __init__(self, data_source: Sized, replacement: bool = False, num_samples: int | None = None,
                 generator: np.random.Generator | None = None, *, seed: int | None = None) -> None:
        _check_sized(data_source, "RandomSampler")
        self.data_source = data_source
        self.replacement = _bool(replacement, "RandomSampler", "replacement")
        self._num_samples = None if num_samples is None else _positive_int(num_samples, "RandomSampler",
                                                                           "num_samples")
        self.generator = make_generator(generator, seed, "RandomSampler")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _blocks(self) -> Iterator[np.ndarray]:
        """One epoch's indices, in blocks drawn as they are needed (so that a huge num_samples streams)."""
        n, count = len(self.data_source), self.num_samples
        if count == 0:
            return
        if n == 0:
            raise ValueError(f"RandomSampler: cannot draw {count} samples from an empty data source")
        if self.replacement:
            for start in range(0, count, CHUNK):
                yield self.generator.integers(n, size=min(CHUNK, count - start), dtype=np.int64)
            return
        # Whole permutations, then the start of one more (PyTorch's order of draws, not its numbers).
        for _ in range(count // n):
            yield self.generator.permutation(n)
        if count % n:
            yield self.generator.permutation(n)[: count % n]


class SubsetRandomSampler(Sampler):
    """The given indices in a random order, new each epoch (without replacement).

    >>> sorted(SubsetRandomSampler([7, 3, 9], seed=1))
    [3, 7, 9]
    """

    def __init__(self, indices: Sequence[int], generator: np.random.Generator | None = None, *,
                 seed: int | None = None) -> None:
        if isinstance(indices, str | bytes) or not isinstance(indices, Sequence | np.ndarray):
            raise TypeError(f"SubsetRandomSampler: indices must be a sequence of ints (a list, range or 1-d array), "
                            f"got a {type(indices).__name__}")
        for position, i in enumerate(indices):
            if not _is_int(i):
                raise TypeError(f"SubsetRandomSampler: indices[{position}] is {i!r:.60}; expected an int")
        self.indices = indices
        self.generator = make_generator(generator, seed, "SubsetRandomSampler")

    def _order(self) -> np.ndarray:
        chosen = self.generator.permutation(len(self.indices))
        return np.asarray([operator.index(self.indices[i]) for i in chosen], dtype=np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(self._order().tolist())

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(_DrawnInBlocks):
    """``num_samples`` indices of ``range(len(weights))``, index i drawn with probability weights[i] / sum(weights);
    without replacement, each draw among the indices not drawn yet, with the remaining weights (PyTorch's
    ``torch.multinomial``). The weights need not sum to 1.

    >>> s = WeightedRandomSampler([0.0, 1.0, 3.0], num_samples=6, seed=0)
    >>> len(list(s)), 0 in list(s)
    (6, False)
    """

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator: np.random.Generator | None = None, *, seed: int | None = None) -> None:
        owner = "WeightedRandomSampler"
        self.num_samples = _positive_int(num_samples, owner, "num_samples")
        self.replacement = _bool(replacement, owner, "replacement")
        if type(weights).__name__ == "Tensor" and hasattr(weights, "data"):
            weights = weights.data
        try:
            w = np.array(weights, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{owner}: weights must be a 1-d sequence of numbers, got {weights!r:.80}") from None
        if w.ndim != 1:
            raise ValueError(f"{owner}: weights should be a 1-d sequence, but they have shape {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            bad = int(np.flatnonzero(~np.isfinite(w) | (w < 0))[0])
            raise DomainError(f"{owner}: weights must be finite and >= 0; weights[{bad}] is {w[bad]}")
        positive = int(np.count_nonzero(w))
        if positive == 0:
            raise DomainError(f"{owner}: the weights sum to 0 ({w.size} weights); at least one must be positive")
        if not self.replacement and self.num_samples > positive:
            raise DomainError(f"{owner}: cannot draw num_samples={self.num_samples} indices without replacement when "
                              f"only {positive} weights are positive; lower num_samples or pass replacement=True")
        self.weights = w
        self.generator = make_generator(generator, seed, owner)

    def _blocks(self) -> Iterator[np.ndarray]:
        """The indices, in blocks drawn as they are needed (so that a huge num_samples streams)."""
        w, rng = self.weights, self.generator
        if self.replacement:  # inverse CDF: a zero weight owns an empty interval, so it is never drawn
            cdf = np.cumsum(w)
            for start in range(0, self.num_samples, CHUNK):
                u = rng.random(min(CHUNK, self.num_samples - start)) * cdf[-1]
                yield np.minimum(np.searchsorted(cdf, u, side="right"), w.size - 1).astype(np.int64)
            return
        # Exponential races: index i finishes at E_i / w_i; sorting the finishing times gives successive draws
        # proportional to the remaining weights (the order, not only the set, is multinomial's).
        with np.errstate(divide="ignore"):
            times = rng.standard_exponential(w.size) / w
        yield np.argsort(times, kind="stable")[: self.num_samples].astype(np.int64)


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` (any iterable of indices) into lists of ``batch_size``; with
    ``drop_last=True`` a shorter last list is left out.

    >>> list(BatchSampler(SequentialSampler(range(7)), batch_size=3, drop_last=False))
    [[0, 1, 2], [3, 4, 5], [6]]
    >>> list(BatchSampler(range(7), 3, drop_last=True))
    [[0, 1, 2], [3, 4, 5]]
    """

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        if not isinstance(sampler, Iterable) and not hasattr(sampler, "__getitem__"):
            raise TypeError(f"BatchSampler: sampler must be an iterable of indices (a Sampler, a list, range(n)), "
                            f"got a {type(sampler).__name__}")
        self.sampler = sampler
        self.batch_size = _positive_int(batch_size, "BatchSampler", "batch_size")
        self.drop_last = _bool(drop_last, "BatchSampler", "drop_last")

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        try:
            n = len(self.sampler)  # type: ignore[arg-type]
        except TypeError:
            raise TypeError(f"BatchSampler: its sampler (a {type(self.sampler).__name__}) has no length, so the "
                            "number of batches is unknown; give the sampler a __len__") from None
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

