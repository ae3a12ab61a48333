"""Dataset kinds and combinations with PyTorch's names and semantics: ``Dataset`` (map-style) and ``IterableDataset``
(a stream), ``Subset``, ``ConcatDataset`` (also ``a + b``), ``ChainDataset``, ``StackDataset`` and ``random_split``.
"""

from __future__ import annotations

import bisect
import math
import numbers
import operator
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from ..errors import DomainError
from .samplers import _is_int, make_generator

__all__ = ["ChainDataset", "ConcatDataset", "Dataset", "IterableDataset", "StackDataset", "Subset", "random_split"]


class Dataset:
    """Base class of map-style datasets: subclass it and define ``__len__`` and ``__getitem__(i)`` (one sample).

    A sample can be an array, a number, a Tensor, or a tuple/dict of them; ``default_collate`` batches them.
    ``a + b`` is ``ConcatDataset([a, b])``.

    >>> import numpy as np
    >>> from chainrule.data import DataLoader
    >>> class Squares(Dataset):
    ...     def __len__(self):
    ...         return 5
    ...     def __getitem__(self, i):
    ...         return np.array([i], np.float32), i * i
    >>> [yb.tolist() for xb, yb in DataLoader(Squares(), batch_size=2)]
    [[0, 1], [4, 9], [16]]
    >>> len(Squares() + Squares())
    10
    """

    def __len__(self) -> int:
        # A TypeError, as Python's for an object without len(): list(dataset) and other callers of
        # operator.length_hint then do without it (a NotImplementedError broke list() of every IterableDataset).
        raise TypeError(f"{type(self).__name__} has no len(): define __len__ (the number of samples)")

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index) returning one sample")

    def __iter__(self) -> Iterator[Any]:
        # Without this, Python iterates by calling __getitem__ until IndexError, which may never come.
        return (self[i] for i in range(len(self)))

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """Base class of datasets read as a stream: subclass it and define ``__iter__`` (and ``__len__`` if the number
    of samples is known). A DataLoader batches the samples in the order they come; it refuses ``shuffle``, ``sampler``
    and ``batch_sampler``, which need indices. ``a + b`` is ``ChainDataset([a, b])``.

    >>> from chainrule.data import DataLoader
    >>> class Count(IterableDataset):
    ...     def __iter__(self):
    ...         return iter(range(5))
    >>> [b.tolist() for b in DataLoader(Count(), batch_size=2)]
    [[0, 1], [2, 3], [4]]
    """

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__ (yielding the samples)")

    def __getitem__(self, index: int) -> Any:
        raise TypeError(f"{type(self).__name__} is an IterableDataset: its samples are read by iterating over it, "
                        "not by index")

    def __add__(self, other: Dataset) -> ChainDataset:  # type: ignore[override]
        return ChainDataset([self, other])


def _check_map_style(dataset: Any, owner: str, what: str = "dataset") -> None:
    if isinstance(dataset, IterableDataset):
        raise TypeError(f"{owner}: {what} is an IterableDataset ({type(dataset).__name__}), which has no indices; "
                        "expected a map-style dataset (with __len__ and __getitem__)")
    if isinstance(dataset, str | bytes) or not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
        raise TypeError(f"{owner}: {what} must be a dataset (with __len__ and __getitem__), got a "
                        f"{type(dataset).__name__}")


def _index(index: Any, n: int, owner: str) -> int:
    """An int index in [-n, n), made non-negative; IndexError outside, TypeError for a non-int."""
    if not _is_int(index):
        raise TypeError(f"{owner} indices must be ints, got {index!r:.60} ({type(index).__name__})")
    i = operator.index(index)
    if not -n <= i < n:
        raise IndexError(f"{owner}: index {i} is out of range for {n} samples")
    return i + n if i < 0 else i


class ConcatDataset(Dataset):
    """The samples of several map-style datasets one after the other: index ``len(a)`` is ``b[0]``.

    >>> ds = ConcatDataset([[10, 11], [20, 21, 22]])
    >>> len(ds), ds[2], ds[-1], ds.cumulative_sizes
    (5, 20, 22, [2, 5])
    """

    def __init__(self, datasets: Iterable[Any]) -> None:
        if isinstance(datasets, Dataset) or not isinstance(datasets, Iterable):
            raise TypeError(f"ConcatDataset expects a list of datasets, got a {type(datasets).__name__}; e.g. "
                            "ConcatDataset([a, b])")
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset needs at least one dataset; got an empty list")
        for k, dataset in enumerate(self.datasets):
            _check_map_style(dataset, "ConcatDataset", f"datasets[{k}]")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> Any:
        i = _index(index, len(self), "ConcatDataset")
        k = bisect.bisect_right(self.cumulative_sizes, i)
        return self.datasets[k][i - (self.cumulative_sizes[k - 1] if k else 0)]


class ChainDataset(IterableDataset):
    """Iterable datasets read one after the other.

    >>> class Count(IterableDataset):
    ...     def __init__(self, n):
    ...         self.n = n
    ...     def __iter__(self):
    ...         return iter(range(self.n))
    ...     def __len__(self):
    ...         return self.n
    >>> ds = ChainDataset([Count(2), Count(3)])
    >>> list(ds), len(ds), list(Count(1) + Count(2))
    ([0, 1, 0, 1, 2], 5, [0, 0, 1])
    """

    def __init__(self, datasets: Iterable[IterableDataset]) -> None:
        if isinstance(datasets, Dataset) or not isinstance(datasets, Iterable):
            raise TypeError(f"ChainDataset expects a list of IterableDatasets, got a {type(datasets).__name__}")
        # A list, not the iterable itself: a generator would be used up by the first epoch.
        self.datasets = list(datasets)
        for k, dataset in enumerate(self.datasets):
            if not isinstance(dataset, IterableDataset):
                raise TypeError(f"ChainDataset: datasets[{k}] is a {type(dataset).__name__}; expected an "
                                "IterableDataset (join map-style datasets with ConcatDataset)")

    def __iter__(self) -> Iterator[Any]:
        for dataset in self.datasets:
            yield from dataset

    def __len__(self) -> int:
        return sum(len(dataset) for dataset in self.datasets)


class StackDataset(Dataset):
    """Datasets of the same length side by side: ``StackDataset(a, b)[i] == (a[i], b[i])`` and
    ``StackDataset(x=a, y=b)[i] == {"x": a[i], "y": b[i]}``.

    >>> StackDataset([1, 2], ["a", "b"])[1], StackDataset(x=[1, 2], y=["a", "b"])[0]
    ((2, 'b'), {'x': 1, 'y': 'a'})
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args and kwargs:
            raise ValueError("StackDataset takes datasets either positionally (samples are tuples) or by keyword "
                             "(samples are dicts), not both")
        if not args and not kwargs:
            raise ValueError("StackDataset needs at least one dataset")
        named = dict(kwargs) if kwargs else {f"argument {k}": d for k, d in enumerate(args)}
        lengths = {}
        for name, dataset in named.items():
            _check_map_style(dataset, "StackDataset", name)
            lengths[name] = len(dataset)
        if len(set(lengths.values())) > 1:
            listing = ", ".join(f"{name}: {n}" for name, n in lengths.items())
            raise ValueError(f"StackDataset: the datasets must have the same length; got {listing}")
        self.datasets: tuple[Any, ...] | dict[str, Any] = dict(kwargs) if kwargs else tuple(args)
        self._length = next(iter(lengths.values()))

    def __getitem__(self, index: int) -> Any:
        if isinstance(self.datasets, dict):
            return {key: dataset[index] for key, dataset in self.datasets.items()}
        return tuple(dataset[index] for dataset in self.datasets)

    def __len__(self) -> int:
        return self._length


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order: ``Subset(ds, [4, 1])[0] is ds[4]``.

    >>> s = Subset(["a", "b", "c", "d"], [3, 0])
    >>> len(s), s[0], list(s)
    (2, 'd', ['d', 'a'])
    """

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        _check_map_style(dataset, "Subset")
        if isinstance(indices, str | bytes) or not isinstance(indices, Sequence | np.ndarray):
            raise TypeError(f"Subset: indices must be a sequence of ints (a list, range or 1-d array), got a "
                            f"{type(indices).__name__}")
        n = len(dataset)
        for position, i in enumerate(indices):
            if not _is_int(i):
                raise TypeError(f"Subset: indices[{position}] is {i!r:.60}; expected an int")
            if not -n <= operator.index(i) < n:
                raise IndexError(f"Subset: indices[{position}] is {operator.index(i)}, out of range for a dataset "
                                 f"of {n} samples")
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, list):  # as PyTorch: a list of positions asks the dataset for a list of its indices
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[_index(index, len(self), "Subset")]]

    def __len__(self) -> int:
        return len(self.indices)


def _split_lengths(n: int, lengths: Sequence[Any]) -> list[int]:
    """Ints summing to n, or fractions summing to 1 turned into counts as PyTorch does: floor(n * f) each, then the
    remainder handed out one by one from the first split on."""
    if isinstance(lengths, str | bytes) or not isinstance(lengths, Sequence | np.ndarray) or len(lengths) == 0:
        raise TypeError(f"random_split: lengths must be a non-empty list of ints or fractions, got {lengths!r:.80}")
    for k, value in enumerate(lengths):
        if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
            raise TypeError(f"random_split: lengths[{k}] is {value!r:.60}; expected an int or a fraction")
    total = sum(lengths)
    if math.isclose(total, 1) and total <= 1:
        counts = []
        for k, fraction in enumerate(lengths):
            if not 0 <= fraction <= 1:
                raise DomainError(f"random_split: the fraction lengths[{k}] = {fraction} is not between 0 and 1")
            counts.append(math.floor(n * fraction))
        for k in range(n - sum(counts)):
            counts[k % len(counts)] += 1
        for k, count in enumerate(counts):
            if count == 0:
                warnings.warn(f"random_split: split {k} has length 0 ({lengths[k]} of {n} samples)", stacklevel=3)
        return counts
    for k, value in enumerate(lengths):
        if not _is_int(value) and not float(value).is_integer():
            raise TypeError(f"random_split: lengths[{k}] is {value}; expected ints summing to len(dataset) = {n}, or "
                            f"fractions summing to 1 (these sum to {total})")
        if value < 0:
            raise DomainError(f"random_split: lengths[{k}] is {value}; lengths must be >= 0")
    if total != n:
        raise DomainError(f"random_split: the lengths {list(lengths)} sum to {total}, but the dataset has {n} samples; "
                          "expected lengths summing to len(dataset), or fractions summing to 1")
    return [int(value) for value in lengths]


def random_split(dataset: Any, lengths: Sequence[int | float], generator: np.random.Generator | None = None, *,
                 seed: int | None = None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping ``Subset``s of the given lengths (ints summing to ``len(dataset)``, or
    fractions summing to 1), from one random permutation. ``seed`` (or a ``numpy.random.Generator``) makes the split
    the same on every run.

    >>> train, test = random_split(range(10), [0.7, 0.3], seed=0)
    >>> len(train), len(test), sorted(list(train) + list(test)) == list(range(10))
    (7, 3, True)
    """
    _check_map_style(dataset, "random_split")
    counts = _split_lengths(len(dataset), lengths)
    order = make_generator(generator, seed, "random_split").permutation(sum(counts)).tolist()
    ends = np.cumsum(counts).tolist()
    return [Subset(dataset, order[end - count : end]) for end, count in zip(ends, counts, strict=True)]
