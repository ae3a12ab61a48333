"""Datasets and the DataLoader: mini-batches of Tensors, reshuffled every epoch.

Two forms, as in PyTorch plus chainrule's original one:

- ``DataLoader(dataset, batch_size=1, shuffle=False, drop_last=False, collate_fn=None, seed=None)``: any object with
  ``__len__`` and ``__getitem__`` (a ``Dataset``, a ``TensorDataset``, a list of samples); each batch is
  ``collate_fn([dataset[i] for i in batch_indices])``, by default ``default_collate``.
- ``DataLoader(X, y, batch_size, shuffle=True, seed=None, drop_last=False)``: arrays sharing their first
  dimension, yielding ``(xb, yb)``; it is ``TensorDataset(X, y)`` with shuffling on by default.

Either form takes ``distributed=True`` (training over MPI, see ``cr.distributed``): each process then iterates over
its own share, a ``cr.distributed.DistributedSampler`` (``loader.sampler``) whose shuffle all processes draw alike
and that moves to the next epoch at each iteration; ``batch_size`` is per process.

The loader only ever asks for ``dataset[i]`` with ``0 <= i < len(dataset)``. (Before, a dataset object went through
``np.asarray``, which iterates with ``__getitem__`` until an IndexError: a dataset that builds a sample for any
index never raises one, and the loader hung.)
"""

from __future__ import annotations

import numbers
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DomainError, ShapeError
from .datasets import _as_array, _check_pair

if TYPE_CHECKING:
    from ..tensor import Tensor

__all__ = ["DataLoader", "Dataset", "TensorDataset", "default_collate"]


class Dataset:
    """Base class of map-style datasets: subclass it and define ``__len__`` and ``__getitem__(i)`` (one sample).

    A sample can be an array, a number, a Tensor, or a tuple/dict of them; ``default_collate`` batches them.

    >>> import numpy as np
    >>> class Squares(Dataset):
    ...     def __len__(self):
    ...         return 5
    ...     def __getitem__(self, i):
    ...         return np.array([i], np.float32), i * i
    >>> [yb.tolist() for xb, yb in DataLoader(Squares(), batch_size=2)]
    [[0, 1], [4, 9], [16]]
    """

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__ (the number of samples)")

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index) returning one sample")

    def __iter__(self) -> Iterator[Any]:
        # Without this, Python iterates by calling __getitem__ until IndexError, which may never come.
        return (self[i] for i in range(len(self)))


class TensorDataset(Dataset):
    """Samples are the rows of arrays or Tensors sharing their first dimension: ``ds[i] == (a[i], b[i], ...)``.

    >>> import numpy as np
    >>> ds = TensorDataset(np.zeros((4, 2)), np.arange(4))
    >>> len(ds), [t.tolist() for t in ds[3]]
    (4, [[0.0, 0.0], 3])
    """

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ShapeError("TensorDataset needs at least one array or Tensor")
        self.arrays = [_as_array(t) for t in tensors]
        for i, a in enumerate(self.arrays):
            if a.dtype.kind not in "biufc":  # found now, not when the first batch is made
                raise TypeError(f"TensorDataset: argument {i} has dtype {a.dtype}; expected numbers (bool, int, "
                                "float or complex): encode labels as ints first")
            if a.ndim == 0:
                raise ShapeError(f"TensorDataset: argument {i} is a scalar (shape ()); expected one row per sample")
            if a.shape[0] != self.arrays[0].shape[0]:
                raise ShapeError(f"TensorDataset: argument {i} has {a.shape[0]} rows (shape {a.shape}) but "
                                 f"argument 0 has {self.arrays[0].shape[0]}; expected the same number")

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        from ..tensor import Tensor

        return tuple(Tensor(a) for a in self.arrays)

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        from ..tensor import tensor

        return tuple(tensor(a[index]) for a in self.arrays)

    def _batch(self, indices: np.ndarray) -> tuple[Tensor, ...]:
        """Rows ``indices`` of every array at once (what default_collate of the samples gives, without the loop)."""
        from ..tensor import tensor

        return tuple(tensor(a[indices]) for a in self.arrays)


def default_collate(batch: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch: arrays, NumPy scalars, Tensors and numbers into one Tensor (Python
    floats as float64, ints as int64, bools as bool); tuples, lists and dicts position by position or key by key;
    strings into a list. PyTorch returns a list for tuples; this keeps the tuple.

    >>> [t.tolist() for t in default_collate([(1.5, 0), (2.5, 1)])]
    [[1.5, 2.5], [0, 1]]
    """
    from ..tensor import Tensor, tensor

    if not isinstance(batch, Sequence) or not batch:
        raise TypeError(f"default_collate expects a non-empty list of samples, got {batch!r:.80}")
    first = batch[0]
    if isinstance(first, Tensor | np.ndarray | np.generic | numbers.Number):
        arrays = []
        for sample in batch:
            if isinstance(sample, Tensor):
                sample = sample.data
            elif not isinstance(sample, np.ndarray | np.generic | numbers.Number):
                raise TypeError(f"default_collate: samples mix {type(first).__name__} and {type(sample).__name__}")
            arrays.append(np.asarray(sample))
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            raise ShapeError(f"default_collate cannot stack samples of different shapes {sorted(shapes)}; pad them "
                             "to one shape, or pass a collate_fn that does")
        if isinstance(first, bool | numbers.Integral) and not isinstance(first, np.generic):
            dtype = bool if isinstance(first, bool) else np.int64
            return tensor(np.array(arrays, dtype=np.result_type(dtype, *arrays)))
        if isinstance(first, numbers.Real) and not isinstance(first, np.generic):
            return tensor(np.array(arrays, dtype=np.float64))
        return tensor(np.stack(arrays))
    if isinstance(first, str | bytes):
        return list(batch)
    if isinstance(first, Mapping):
        for sample in batch:
            if not isinstance(sample, Mapping) or set(sample) != set(first):
                raise TypeError("default_collate: every dict sample must have the same keys, got "
                                f"{sorted(map(str, first))} and {sample!r:.80}")
        return {key: default_collate([sample[key] for sample in batch]) for key in first}
    if isinstance(first, tuple | list):
        for sample in batch:
            if not isinstance(sample, tuple | list) or len(sample) != len(first):
                raise ShapeError(f"default_collate: every sample must have {len(first)} parts like the first; "
                                 f"got {sample!r:.80}")
        parts = [default_collate([sample[i] for sample in batch]) for i in range(len(first))]
        if hasattr(first, "_fields"):  # a named tuple keeps its type
            return type(first)(*parts)
        return tuple(parts) if isinstance(first, tuple) else parts
    raise TypeError(f"default_collate does not know how to batch a {type(first).__name__}; samples should be "
                    "arrays, numbers, Tensors, strings, or tuples/dicts of them, or pass collate_fn=...")


def _flag(value: Any, name: str) -> bool:
    """A yes/no option: True, False (or 1, 0); ``shuffle="no"`` would otherwise count as True."""
    if isinstance(value, bool | np.bool_) or (_is_index(value) and operator.index(value) in (0, 1)):
        return bool(value)
    raise TypeError(f"DataLoader: {name} must be True or False, got {value!r:.60}")


def _is_index(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        operator.index(value)
    except TypeError:
        return False
    return True


class DataLoader:
    """Mini-batches over a dataset, or ``(xb, yb)`` Tensors over arrays ``X`` and ``y`` (see the module doc).

    Each ``iter()`` (each epoch) draws a new order from the loader's own ``numpy.random.Generator``: with an
    int ``seed`` the sequence of epochs is the same every run, and the global NumPy random state is untouched.
    ``len(loader)`` is the number of batches per epoch: ceil(n / batch_size), or floor with ``drop_last=True``
    (which skips a last batch smaller than ``batch_size``). Batches keep the arrays' dtypes (int64 labels stay
    int64) and never share memory with ``X`` or ``y``.

    >>> import numpy as np
    >>> loader = DataLoader(np.zeros((10, 3), np.float32), np.arange(10), batch_size=4, seed=0)
    >>> len(loader), [xb.shape for xb, yb in loader]
    (3, [(4, 3), (4, 3), (2, 3)])
    >>> ds = TensorDataset(np.zeros((10, 3)), np.arange(10))
    >>> [len(yb) for xb, yb in DataLoader(ds, batch_size=4, drop_last=True)]
    [4, 4]
    """

    def __init__(self, dataset: Any, *args: Any, batch_size: int | None = None, shuffle: bool | None = None,
                 drop_last: bool | None = None, collate_fn: Callable[[list[Any]], Any] | None = None,
                 seed: int | np.random.Generator | None = None, distributed: bool = False) -> None:
        given = {"batch_size": batch_size, "shuffle": shuffle, "drop_last": drop_last, "collate_fn": collate_fn,
                 "seed": seed}
        arrays_form = bool(args) and not _is_index(args[0]) and not isinstance(dataset, Dataset)
        if arrays_form:  # DataLoader(X, y, batch_size, shuffle=True, seed=None, drop_last=False)
            names = ("y", "batch_size", "shuffle", "seed", "drop_last")
        else:  # DataLoader(dataset, batch_size=1, shuffle=False, drop_last=False, collate_fn=None, seed=None)
            names = ("batch_size", "shuffle", "drop_last", "collate_fn", "seed")
        if len(args) > len(names):
            raise TypeError(f"DataLoader takes at most {len(names) + 1} positional arguments, got {len(args) + 1}")
        for name, value in zip(names, args, strict=False):
            if name != "y" and given[name] is not None:
                raise TypeError(f"DataLoader got two values for {name}")
            given[name] = value
        if arrays_form:
            X, y = _as_array(dataset), _as_array(given["y"])
            _check_pair(X, y, "DataLoader")
            self.dataset: Any = TensorDataset(X, y)
            self.X, self.y = X, y
            if given["batch_size"] is None:
                raise TypeError("DataLoader(X, y, batch_size) needs a batch_size")
            shuffle_default = True
        else:
            if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")) or isinstance(dataset, str):
                raise TypeError(f"DataLoader expects a dataset (an object with __len__ and __getitem__, such as "
                                f"cr.data.TensorDataset) or arrays X, y; got a {type(dataset).__name__}")
            if isinstance(dataset, np.ndarray) or type(dataset).__name__ == "Tensor":
                dataset = TensorDataset(dataset)  # rows of one array: each batch is a 1-tuple
            self.dataset = dataset
            shuffle_default = False
        batch_size = 1 if given["batch_size"] is None else given["batch_size"]
        if isinstance(batch_size, bool):
            raise TypeError(f"DataLoader got batch_size={batch_size!r}; expected a positive int")
        try:
            self.batch_size = operator.index(batch_size)
        except TypeError:
            raise TypeError(
                f"DataLoader got batch_size={batch_size!r} ({type(batch_size).__name__}); "
                "expected a positive int"
            ) from None
        if self.batch_size <= 0:
            raise DomainError(f"DataLoader got batch_size={self.batch_size}; expected a positive int")
        if given["collate_fn"] is not None and not callable(given["collate_fn"]):
            raise TypeError(f"DataLoader: collate_fn must be a function of a list of samples, got "
                            f"{given['collate_fn']!r}")
        self.collate_fn = given["collate_fn"]
        self.shuffle = shuffle_default if given["shuffle"] is None else _flag(given["shuffle"], "shuffle")
        self.drop_last = False if given["drop_last"] is None else _flag(given["drop_last"], "drop_last")
        self._arrays_form = arrays_form
        seed = given["seed"]
        if isinstance(seed, bool) or not (seed is None or isinstance(seed, np.random.Generator)
                                          or (_is_index(seed) and operator.index(seed) >= 0)):
            raise TypeError(f"DataLoader: seed must be None, an int >= 0 or a numpy.random.Generator, got "
                            f"{seed!r:.60}")
        self._rng = np.random.default_rng(seed)
        self.sampler: Any = None
        if not isinstance(distributed, bool):
            raise TypeError(f"DataLoader: distributed must be True or False, got {distributed!r}")
        if distributed:
            self.sampler = self._distributed_sampler()

    def _distributed_sampler(self) -> Any:
        """This process's share (cr.distributed.DistributedSampler); its seed is rank 0's draw from the loader's
        generator, so all processes shuffle alike whatever ``seed`` each was given."""
        from ..distributed import DistributedSampler, broadcast

        seed = int(broadcast(np.array(self._rng.integers(2**62), dtype=np.int64)))
        return DistributedSampler(self._count(), seed=seed, shuffle=self.shuffle)

    def set_epoch(self, epoch: int) -> None:
        """With ``distributed=True``: the epoch whose shuffle the next iteration uses (each iteration moves on by
        one by itself)."""
        if self.sampler is None:
            raise ValueError("DataLoader.set_epoch is for DataLoader(..., distributed=True); this loader draws a "
                             "new order each epoch from its own generator")
        self.sampler.set_epoch(epoch)

    def _count(self) -> int:
        try:
            n = type(self.dataset).__len__(self.dataset)  # Python's len() refuses a bad value with its own message
        except (TypeError, ValueError, OverflowError) as exc:
            raise TypeError(f"DataLoader: len(dataset) must be an int >= 0, and it failed ({exc})") from None
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
            raise TypeError(f"DataLoader: len(dataset) must be an int >= 0, got {n!r}")
        return int(n)

    def __len__(self) -> int:
        """Number of batches in one epoch (of this process's share, with ``distributed=True``)."""
        n = self._count() if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        """Start an epoch: fix its sample order now, then yield its batches."""
        if self.sampler is not None:
            if self.sampler.n != self._count():
                raise ValueError(f"DataLoader(distributed=True): the dataset now has {self._count()} samples, "
                                 f"{self.sampler.n} when the loader was made; make a new loader")
            order = self.sampler.indices()
            self.sampler.set_epoch(self.sampler.epoch + 1)
            return self._batches(order)
        n = self._count()
        order = self._rng.permutation(n) if self.shuffle else np.arange(n)
        return self._batches(order)

    def _batches(self, order: np.ndarray) -> Iterator[Any]:
        stop = len(self) * self.batch_size
        fast = self.collate_fn is None and isinstance(self.dataset, TensorDataset)
        collate = self.collate_fn or default_collate
        for start in range(0, min(stop, order.shape[0]), self.batch_size):
            idx = order[start : start + self.batch_size]
            if fast:
                yield self.dataset._batch(idx)
            else:
                yield collate([self._sample(int(i)) for i in idx])

    def _sample(self, i: int) -> Any:
        try:
            return self.dataset[i]
        except (IndexError, KeyError) as exc:  # the dataset's own bug: say which index and why it was asked for
            raise type(exc)(f"DataLoader: dataset[{i}] raised {type(exc).__name__}({exc}), but len(dataset) is "
                            f"{self._count()}: a dataset's __getitem__ must accept every index from 0 to len - 1 "
                            "(is __len__ right?)") from exc

    def __repr__(self) -> str:
        share = "" if self.sampler is None else f", rank={self.sampler.rank} of {self.sampler.num_replicas}"
        return (
            f"DataLoader(samples={self._count()}, batch_size={self.batch_size}, batches={len(self)}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}{share})"
        )
