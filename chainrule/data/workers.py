"""``get_worker_info()`` as PyTorch's, for a DataLoader that loads in the main process.

chainrule's DataLoader takes ``num_workers`` but starts no worker process: the batches, and their order, are those of
``num_workers=0``. ``get_worker_info()`` is therefore None, as PyTorch's is in the main process, except while the
loader calls ``worker_init_fn(0)``: then it describes the one worker there is, ``WorkerInfo(id=0, num_workers=1)``,
so the usual sharding code (``per_worker = ceil(n / info.num_workers)``) keeps the whole dataset.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

__all__ = ["WorkerInfo", "get_worker_info"]

_state = threading.local()


@dataclass(frozen=True)
class WorkerInfo:
    """The loading worker calling ``worker_init_fn``: its ``id``, how many there are, its ``seed`` and the
    ``dataset`` it reads (the loader's own here: there is no copy in another process)."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


def get_worker_info() -> WorkerInfo | None:
    """None in the main process; a ``WorkerInfo`` inside ``worker_init_fn``.

    >>> get_worker_info() is None
    True
    """
    return getattr(_state, "info", None)


@contextmanager
def _as_worker(info: WorkerInfo) -> Iterator[None]:
    before = get_worker_info()
    _state.info = info
    try:
        yield
    finally:
        _state.info = before


def call_worker_init_fn(worker_init_fn: Callable[[int], Any], seed: int, dataset: Any) -> None:
    """Call ``worker_init_fn(0)`` with ``get_worker_info()`` describing worker 0 of 1."""
    with _as_worker(WorkerInfo(id=0, num_workers=1, seed=seed, dataset=dataset)):
        worker_init_fn(0)
