"""TensorDataset, default_collate and the DataLoader: mini-batches of Tensors, reshuffled every epoch.

Two forms, as in PyTorch plus chainrule's original one:

- ``DataLoader(dataset, batch_size=1, shuffle=False, drop_last=False, collate_fn=None, seed=None)``: any object with
  ``__len__`` and ``__getitem__`` (a ``Dataset``, a ``TensorDataset``, a list of samples), or an
  ``IterableDataset``; each batch is ``collate_fn([dataset[i] for i in batch_indices])``, by default
  ``default_collate``. PyTorch's other arguments (``sampler``, ``batch_sampler``, ``generator``, the worker
  options) are taken by keyword, with PyTorch's checks; loading stays in the main process.
- ``DataLoader(X, y, batch_size, shuffle=True, seed=None, drop_last=False)``: arrays sharing their first
  dimension, yielding ``(xb, yb)``; it is ``TensorDataset(X, y)`` with shuffling on by default.

Either form takes ``distributed=True`` (training over MPI, see ``cr.distributed``): each process then iterates over
its own share, a ``cr.distributed.DistributedSampler`` (``loader.sampler``) whose shuffle all processes draw alike
and that moves to the next epoch at each iteration; ``batch_size`` is per process.

With the built-in samplers the loader only ever asks for ``dataset[i]`` with ``0 <= i < len(dataset)``. (Before, a
dataset object went through ``np.asarray``, which iterates with ``__getitem__`` until an IndexError: a dataset that
builds a sample for any index never raises one, and the loader hung.)
"""

from __future__ import annotations

import copy
import multiprocessing
import numbers
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import DomainError, ShapeError
from .dataset_classes import Dataset, IterableDataset, Subset
from .datasets import _as_array, _check_pair
from .samplers import (
    BatchSampler,
    RandomSampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
    _is_int,
    make_generator,
)
from .workers import call_worker_init_fn

if TYPE_CHECKING:
    from ..tensor import Tensor

__all__ = ["DataLoader", "Dataset", "TensorDataset", "default_collate"]  # Dataset: from dataset_classes


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
    floats as float64, ints as int64, bools as bool); tuples, lists and dicts (keeping an OrderedDict's or named
    tuple's type) position by position or key by key, to any depth; strings and bytes into a list. PyTorch returns
    a list for tuples; this keeps the tuple.

    >>> [t.tolist() for t in default_collate([(1.5, 0), (2.5, 1)])]
    [[1.5, 2.5], [0, 1]]
    """
    from ..tensor import Tensor, tensor

    if not isinstance(batch, Sequence) or not batch:
        raise TypeError(f"default_collate expects a non-empty list of samples, got {batch!r:.80}")
    first = batch[0]
    if isinstance(first, str | bytes):  # before the numbers: numpy.str_ is a NumPy scalar too
        return list(batch)
    if isinstance(first, Tensor | np.ndarray | np.generic | numbers.Number):
        arrays = []
        for sample in batch:
            if isinstance(sample, Tensor):
                sample = sample.data
            elif not isinstance(sample, np.ndarray | np.generic | numbers.Number):
                raise TypeError(f"default_collate: samples mix {type(first).__name__} and {type(sample).__name__}")
            arrays.append(np.asarray(sample))
            if arrays[-1].dtype.kind not in "biufc":
                raise TypeError(f"default_collate cannot batch arrays of dtype {arrays[-1].dtype} into a Tensor; "
                                "expected numbers (bool, int, float or complex), or pass a collate_fn")
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
    if isinstance(first, Mapping):
        for sample in batch:
            if not isinstance(sample, Mapping) or set(sample) != set(first):
                raise TypeError("default_collate: every dict sample must have the same keys, got "
                                f"{sorted(map(str, first))} and {sample!r:.80}")
        collated = {key: default_collate([sample[key] for sample in batch]) for key in first}
        try:  # an OrderedDict or defaultdict keeps its type (and a defaultdict its default), as in PyTorch
            same_type = copy.copy(first)
            same_type.update(collated)  # type: ignore[attr-defined]
            return same_type
        except (TypeError, AttributeError):  # a read-only Mapping
            return collated
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
    if isinstance(value, bool | np.bool_) or (_is_int(value) and operator.index(value) in (0, 1)):
        return bool(value)
    raise TypeError(f"DataLoader: {name} must be True or False, got {value!r:.60}")


def _fast_batcher(dataset: Any) -> Callable[[np.ndarray], Any] | None:
    """Rows of a TensorDataset (or of a Subset of one) taken in one indexing, which is what ``default_collate`` of
    the samples gives; None for any other dataset, or a subclass that changes ``__getitem__``."""
    if isinstance(dataset, TensorDataset) and type(dataset).__getitem__ is TensorDataset.__getitem__:
        return dataset._batch
    if isinstance(dataset, Subset) and type(dataset).__getitem__ is Subset.__getitem__:
        inner = _fast_batcher(dataset.dataset)
        if inner is not None:
            positions = np.asarray(dataset.indices, dtype=np.int64).reshape(-1)
            return lambda indices: inner(positions[indices])
    return None


# Samplers whose epoch is drawn as one array (and batched by slicing it), unless a subclass changes __iter__.
_ARRAY_SAMPLERS = (SequentialSampler, RandomSampler, SubsetRandomSampler, WeightedRandomSampler)


class DataLoader:
    """Mini-batches over a dataset, or ``(xb, yb)`` Tensors over arrays ``X`` and ``y`` (see the module doc).

    Each ``iter()`` (each epoch) draws a new order from the loader's own ``numpy.random.Generator``: with an
    int ``seed`` (or a ``generator``) the sequence of epochs is the same every run, and the global NumPy random state
    is untouched. ``len(loader)`` is the number of batches per epoch: ceil(n / batch_size), or floor with
    ``drop_last=True`` (which skips a last batch smaller than ``batch_size``). Batches keep the arrays' dtypes (int64
    labels stay int64) and never share memory with ``X`` or ``y``.

    PyTorch's arguments, by keyword, with its checks: ``sampler`` (an iterable of indices; not with ``shuffle``),
    ``batch_sampler`` (an iterable of lists of indices; not with ``batch_size``, ``shuffle``, ``sampler`` or
    ``drop_last``), ``generator``, and an ``IterableDataset``, batched in the order it yields (no ``shuffle``,
    ``sampler`` or ``batch_sampler``). ``num_workers``, ``prefetch_factor``, ``persistent_workers``, ``timeout``,
    ``pin_memory``, ``multiprocessing_context`` are checked as PyTorch does, but loading stays in the main process:
    the batches and their order are those of ``num_workers=0``. With ``num_workers > 0``, ``worker_init_fn(0)`` is
    called at the start of each epoch (once in all with ``persistent_workers=True``), and ``get_worker_info()`` is
    ``WorkerInfo(id=0, num_workers=1, ...)`` during that call and None otherwise.

    >>> import numpy as np
    >>> loader = DataLoader(np.zeros((10, 3), np.float32), np.arange(10), batch_size=4, seed=0)
    >>> len(loader), [xb.shape for xb, yb in loader]
    (3, [(4, 3), (4, 3), (2, 3)])
    >>> ds = TensorDataset(np.zeros((10, 3)), np.arange(10))
    >>> [len(yb) for xb, yb in DataLoader(ds, batch_size=4, drop_last=True)]
    [4, 4]
    >>> [yb.tolist() for xb, yb in DataLoader(ds, batch_sampler=[[9, 0], [5]])]
    [[9, 0], [5]]
    """

    def __init__(self, dataset: Any, *args: Any, batch_size: int | None = None, shuffle: bool | None = None,
                 sampler: Iterable[Any] | None = None, batch_sampler: Iterable[Sequence[Any]] | None = None,
                 num_workers: int = 0, collate_fn: Callable[[list[Any]], Any] | None = None,
                 pin_memory: bool = False, drop_last: bool | None = None, timeout: float = 0,
                 worker_init_fn: Callable[[int], Any] | None = None, multiprocessing_context: Any = None,
                 generator: np.random.Generator | None = None, prefetch_factor: int | None = None,
                 persistent_workers: bool = False, pin_memory_device: str = "", in_order: bool = True,
                 seed: int | np.random.Generator | None = None, distributed: bool = False) -> None:
        given = {"batch_size": batch_size, "shuffle": shuffle, "drop_last": drop_last, "collate_fn": collate_fn,
                 "seed": seed}
        arrays_form = bool(args) and not _is_int(args[0]) and not isinstance(dataset, Dataset)
        if arrays_form:  # DataLoader(X, y, batch_size, shuffle=True, seed=None, drop_last=False)
            names = ("y", "batch_size", "shuffle", "seed", "drop_last")
        else:  # DataLoader(dataset, batch_size=1, shuffle=False, drop_last=False, collate_fn=None, seed=None)
            names = ("batch_size", "shuffle", "drop_last", "collate_fn", "seed")
            if len(args) >= 3 and not isinstance(args[2], bool | np.bool_ | numbers.Integral):
                raise TypeError(f"DataLoader's third positional argument is drop_last (chainrule's order: dataset, "
                                f"batch_size, shuffle, drop_last, collate_fn, seed), got a {type(args[2]).__name__}; "
                                "pass sampler=, batch_sampler= and PyTorch's other arguments by keyword")
        if len(args) > len(names):
            raise TypeError(f"DataLoader takes at most {len(names) + 1} positional arguments, got {len(args) + 1}")
        for name, value in zip(names, args, strict=False):
            if name != "y" and given[name] is not None:
                raise TypeError(f"DataLoader got two values for {name}")
            given[name] = value
        self._iterable = isinstance(dataset, IterableDataset)
        if arrays_form:
            X, y = _as_array(dataset), _as_array(given["y"])
            _check_pair(X, y, "DataLoader")
            self.dataset: Any = TensorDataset(X, y)
            self.X, self.y = X, y
            if given["batch_size"] is None and batch_sampler is None:
                raise TypeError("DataLoader(X, y, batch_size) needs a batch_size")
            shuffle_default = sampler is None and batch_sampler is None
        else:
            if not self._iterable and (not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__"))
                                       or isinstance(dataset, str)):
                raise TypeError(f"DataLoader expects a dataset (an object with __len__ and __getitem__, such as "
                                f"cr.data.TensorDataset, or a cr.data.IterableDataset) or arrays X, y; got a "
                                f"{type(dataset).__name__}")
            if isinstance(dataset, np.ndarray) or type(dataset).__name__ == "Tensor":
                dataset = TensorDataset(dataset)  # rows of one array: each batch is a 1-tuple
            self.dataset = dataset
            shuffle_default = False
        self._check_workers(num_workers, prefetch_factor, persistent_workers, timeout, worker_init_fn,
                            multiprocessing_context, pin_memory, pin_memory_device, in_order)
        if given["collate_fn"] is not None and not callable(given["collate_fn"]):
            raise TypeError(f"DataLoader: collate_fn must be a function of a list of samples, got "
                            f"{given['collate_fn']!r}")
        self.collate_fn = given["collate_fn"]
        self.shuffle = shuffle_default if given["shuffle"] is None else _flag(given["shuffle"], "shuffle")
        self.drop_last = False if given["drop_last"] is None else _flag(given["drop_last"], "drop_last")
        self._arrays_form = arrays_form
        self._rng = self._generator(given["seed"], generator)
        self.generator = generator
        if not isinstance(distributed, bool):
            raise TypeError(f"DataLoader: distributed must be True or False, got {distributed!r}")
        self._distributed = distributed
        self._check_samplers(sampler, batch_sampler, given["batch_size"])
        if batch_sampler is not None:  # as PyTorch: the batch sampler decides the batches' sizes
            self.batch_size: int | None = None
        else:
            self.batch_size = self._batch_size(1 if given["batch_size"] is None else given["batch_size"])
        if distributed:
            sampler = self._distributed_sampler()
        elif sampler is None and not self._iterable:
            sampler = RandomSampler(self.dataset, generator=self._rng) if self.shuffle else \
                SequentialSampler(self.dataset)
        self.sampler: Any = sampler
        if batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(self.sampler, self.batch_size, self.drop_last)
        self.batch_sampler: Any = batch_sampler

    @staticmethod
    def _batch_size(batch_size: Any) -> int:
        if isinstance(batch_size, bool):
            raise TypeError(f"DataLoader got batch_size={batch_size!r}; expected a positive int")
        try:
            batch_size = operator.index(batch_size)
        except TypeError:
            raise TypeError(
                f"DataLoader got batch_size={batch_size!r} ({type(batch_size).__name__}); "
                "expected a positive int"
            ) from None
        if batch_size <= 0:
            raise DomainError(f"DataLoader got batch_size={batch_size}; expected a positive int")
        return batch_size

    @staticmethod
    def _generator(seed: Any, generator: Any) -> np.random.Generator:
        if isinstance(seed, bool) or not (seed is None or isinstance(seed, np.random.Generator)
                                          or (_is_int(seed) and operator.index(seed) >= 0)):
            raise TypeError(f"DataLoader: seed must be None, an int >= 0 or a numpy.random.Generator, got "
                            f"{seed!r:.60}")
        if generator is None:
            return np.random.default_rng(seed)
        if seed is not None:
            raise TypeError("DataLoader: pass seed= or generator=, not both")
        return make_generator(generator, None, "DataLoader")

    def _check_samplers(self, sampler: Any, batch_sampler: Any, batch_size: Any) -> None:
        """PyTorch's rules on which of shuffle, sampler, batch_sampler, batch_size and drop_last go together."""
        if self._iterable:
            for name, value in (("shuffle", self.shuffle), ("sampler", sampler), ("batch_sampler", batch_sampler),
                                ("distributed", self._distributed)):
                if value is not None and value is not False:  # identity: a NumPy array sampler has no truth
                    raise ValueError(f"DataLoader with an IterableDataset: expected no {name} option, got "
                                     f"{name}={value!r:.60}; an IterableDataset is read in the order it yields its "
                                     "samples (shuffle or shard inside its __iter__)")
            return
        for name, value in (("sampler", sampler), ("batch_sampler", batch_sampler)):
            if value is not None and (isinstance(value, str | bytes) or not isinstance(value, Iterable)):
                raise TypeError(f"DataLoader: {name} must be an iterable of "
                                f"{'indices' if name == 'sampler' else 'lists of indices'} (a Sampler, a list), got "
                                f"a {type(value).__name__}")
        if self._distributed and (sampler is not None or batch_sampler is not None):
            raise ValueError("DataLoader: distributed=True makes its own sampler (a DistributedSampler); pass "
                             "sampler=DistributedSampler(...) instead of distributed=True to choose it yourself")
        if sampler is not None and self.shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle (the sampler sets the "
                             "order; use sampler=RandomSampler(dataset) for a random one)")
        if batch_sampler is not None and ((batch_size is not None and batch_size != 1) or self.shuffle
                                          or sampler is not None or self.drop_last):
            raise ValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, shuffle, "
                             "sampler, and drop_last (the batch sampler makes the batches)")

    def _check_workers(self, num_workers: Any, prefetch_factor: Any, persistent_workers: Any, timeout: Any,
                       worker_init_fn: Any, multiprocessing_context: Any, pin_memory: Any, pin_memory_device: Any,
                       in_order: Any) -> None:
        """PyTorch's checks on the worker options (loading itself stays in this process)."""
        if not _is_int(num_workers):
            raise TypeError(f"DataLoader: num_workers must be an int >= 0, got {num_workers!r:.60}")
        if num_workers < 0:
            raise ValueError(f"DataLoader: num_workers option should be non-negative, got {num_workers}; use "
                             "num_workers=0 to disable multiprocessing")
        if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or not timeout >= 0:
            raise ValueError(f"DataLoader: timeout option should be a non-negative number of seconds, got "
                             f"{timeout!r:.60}")
        if timeout > 0 and num_workers == 0:  # PyTorch accepts it here and fails when iterating
            raise ValueError(f"DataLoader: timeout={timeout} is for loading in worker processes; it needs "
                             "num_workers > 0 (PyTorch refuses timeout with num_workers=0 when iterating)")
        if prefetch_factor is not None:
            if num_workers == 0:
                raise ValueError("DataLoader: prefetch_factor option could only be specified with num_workers > 0; "
                                 "let num_workers > 0, otherwise set prefetch_factor to None")
            if not _is_int(prefetch_factor) or prefetch_factor < 0:
                raise ValueError(f"DataLoader: prefetch_factor option should be an int >= 0, got "
                                 f"{prefetch_factor!r:.60}")
        for name, value in (("persistent_workers", persistent_workers), ("pin_memory", pin_memory),
                            ("in_order", in_order)):
            if not isinstance(value, bool | np.bool_):
                raise TypeError(f"DataLoader: {name} must be True or False, got {value!r:.60}")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
        if worker_init_fn is not None and not callable(worker_init_fn):
            raise TypeError(f"DataLoader: worker_init_fn must be a function of the worker id, got "
                            f"{worker_init_fn!r:.60}")
        if not isinstance(pin_memory_device, str):
            raise TypeError(f"DataLoader: pin_memory_device must be a str, got {pin_memory_device!r:.60}")
        if multiprocessing_context is not None:
            if num_workers == 0:
                raise ValueError("DataLoader: multiprocessing_context can only be used with multi-process loading "
                                 "(num_workers > 0), but got num_workers=0")
            if isinstance(multiprocessing_context, str):
                methods = multiprocessing.get_all_start_methods()
                if multiprocessing_context not in methods:
                    raise ValueError(f"DataLoader: multiprocessing_context should be a start method in {methods!r}, "
                                     f"got {multiprocessing_context!r}")
            elif not isinstance(multiprocessing_context, multiprocessing.context.BaseContext):
                raise TypeError(f"DataLoader: multiprocessing_context should be a context object or the name of a "
                                f"start method, got {multiprocessing_context!r:.60}")
        self.num_workers = int(num_workers)
        self.prefetch_factor = 2 if prefetch_factor is None and num_workers > 0 else prefetch_factor
        self.persistent_workers = bool(persistent_workers)
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.pin_memory = bool(pin_memory)  # NumPy arrays live in host memory already: nothing to pin
        self.pin_memory_device = pin_memory_device
        self.in_order = bool(in_order)
        self._workers_started = False

    def _distributed_sampler(self) -> Any:
        """This process's share (cr.distributed.DistributedSampler); its seed is rank 0's draw from the loader's
        generator, so all processes shuffle alike whatever ``seed`` each was given."""
        from ..distributed import DistributedSampler, broadcast

        seed = int(broadcast(np.array(self._rng.integers(2**62), dtype=np.int64)))
        return DistributedSampler(self._count(), seed=seed, shuffle=self.shuffle)

    def set_epoch(self, epoch: int) -> None:
        """With ``distributed=True``: the epoch whose shuffle the next iteration uses (each iteration moves on by
        one by itself)."""
        if not self._distributed:
            raise ValueError("DataLoader.set_epoch is for DataLoader(..., distributed=True); this loader draws a "
                             "new order each epoch from its own generator")
        self.sampler.set_epoch(epoch)

    def _count(self) -> int:
        try:
            n = type(self.dataset).__len__(self.dataset)  # Python's len() refuses a bad value with its own message
        except (TypeError, ValueError, OverflowError, NotImplementedError) as exc:
            if self._iterable:
                raise TypeError(f"DataLoader: this IterableDataset ({type(self.dataset).__name__}) has no length, "
                                "so neither has the loader; define __len__ on it, or count the batches while "
                                "iterating") from None
            raise TypeError(f"DataLoader: len(dataset) must be an int >= 0, and it failed ({exc})") from None
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
            raise TypeError(f"DataLoader: len(dataset) must be an int >= 0, got {n!r}")
        return int(n)

    def __len__(self) -> int:
        """Number of batches in one epoch (of this process's share, with ``distributed=True``)."""
        n = self._count()
        if self._iterable:
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)  # type: ignore[operator]
        try:
            return len(self.batch_sampler)
        except TypeError as exc:
            raise TypeError(f"DataLoader: the number of batches is unknown: {exc}") from None

    def __iter__(self) -> Iterator[Any]:
        """Start an epoch: fix its sample order now (for the built-in samplers), then yield its batches."""
        self._start_workers()
        if self._iterable:
            return self._stream(iter(self.dataset))
        fetch = self._fetcher()
        if self._distributed:
            if self.sampler.n != self._count():
                raise ValueError(f"DataLoader(distributed=True): the dataset now has {self._count()} samples, "
                                 f"{self.sampler.n} when the loader was made; make a new loader")
            order = self.sampler.indices()
            self.sampler.set_epoch(self.sampler.epoch + 1)
            return self._sliced(order, fetch, self.batch_sampler.batch_size, self.batch_sampler.drop_last)
        bs = self.batch_sampler
        if (type(bs) is BatchSampler and type(bs.sampler).__iter__ in {s.__iter__ for s in _ARRAY_SAMPLERS}
                and len(bs.sampler) <= 1 << 24):  # (a longer epoch streams from the sampler: no huge array)
            return self._sliced(bs.sampler._order(), fetch, bs.batch_size, bs.drop_last)
        batches = iter(bs)  # as PyTorch, the sampler's epoch starts now
        return (fetch(indices) for indices in batches)

    def _start_workers(self) -> None:
        """``worker_init_fn(0)``, as a worker would run it at its start (each epoch, unless persistent)."""
        if self.num_workers == 0 or self.worker_init_fn is None:
            return
        if self.persistent_workers and self._workers_started:
            return
        if not hasattr(self, "_worker_seeds"):  # its own stream: the shuffle stays that of num_workers=0
            try:
                self._worker_seeds = np.random.default_rng(self._rng.bit_generator.seed_seq.spawn(1)[0])
            except (AttributeError, TypeError):
                self._worker_seeds = np.random.default_rng()
        call_worker_init_fn(self.worker_init_fn, int(self._worker_seeds.integers(2**63)), self.dataset)
        self._workers_started = True

    def _sliced(self, order: np.ndarray, fetch: Callable[[Any], Any], batch_size: int,
                drop_last: bool) -> Iterator[Any]:
        stop = order.shape[0] - order.shape[0] % batch_size if drop_last else order.shape[0]
        for start in range(0, stop, batch_size):
            yield fetch(order[start : start + batch_size])

    def _stream(self, samples: Iterator[Any]) -> Iterator[Any]:
        collate = self.collate_fn or default_collate
        batch: list[Any] = []
        for sample in samples:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield collate(batch)
                batch = []
        if batch and not self.drop_last:
            yield collate(batch)

    def _fetcher(self) -> Callable[[Any], Any]:
        """The function from one batch's indices to the batch, for this epoch."""
        fast = _fast_batcher(self.dataset) if self.collate_fn is None else None
        collate = self.collate_fn or default_collate
        getitems = getattr(self.dataset, "__getitems__", None)
        n = self._count()

        def fetch(indices: Any) -> Any:
            if fast is not None:
                return fast(self._checked(indices, n))
            if callable(getitems):  # PyTorch's protocol for a dataset that reads a batch at once
                return collate(getitems([operator.index(i) if _is_int(i) else i for i in indices]))
            return collate([self._sample(operator.index(i) if _is_int(i) else i, n) for i in indices])

        return fetch

    @staticmethod
    def _checked(indices: Any, n: int) -> np.ndarray:
        """A batch of int indices in range for the fast path (NumPy's IndexError would not say where they came
        from)."""
        array = np.asarray(indices)
        if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
            raise TypeError(f"DataLoader: the sampler gave the batch {indices!r:.80}; expected a list of int indices")
        if array.size and (array.min() < -n or array.max() >= n):
            bad = int(array[(array < -n) | (array >= n)][0])
            raise IndexError(f"DataLoader: the sampler gave index {bad}, but the dataset has {n} samples")
        return array.astype(np.int64, copy=False)

    def _sample(self, i: Any, n: int) -> Any:
        try:
            return self.dataset[i]
        except (IndexError, KeyError) as exc:  # say which index and why it was asked for
            if isinstance(i, int) and not 0 <= i < n:
                raise type(exc)(f"DataLoader: the sampler gave index {i}, but the dataset has {n} samples "
                                f"(dataset[{i}] raised {type(exc).__name__}({exc}))") from exc
            raise type(exc)(f"DataLoader: dataset[{i!r}] raised {type(exc).__name__}({exc}), but len(dataset) is "
                            f"{n}: a dataset's __getitem__ must accept every index from 0 to len - 1 "
                            "(is __len__ right?)") from exc

    def __repr__(self) -> str:
        share = "" if not self._distributed else f", rank={self.sampler.rank} of {self.sampler.num_replicas}"
        if self._iterable:
            return f"DataLoader(IterableDataset {type(self.dataset).__name__}, batch_size={self.batch_size}, " \
                   f"drop_last={self.drop_last})"
        try:
            batches = str(len(self))
        except TypeError:
            batches = "unknown"
        return (
            f"DataLoader(samples={self._count()}, batch_size={self.batch_size}, batches={batches}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}{share})"
        )
