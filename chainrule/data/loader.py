"""DataLoader: iterate over (inputs, targets) in mini-batches of Tensors, reshuffled every epoch."""

from __future__ import annotations

import operator
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DomainError
from .datasets import _as_array, _check_pair

if TYPE_CHECKING:
    from ..tensor import Tensor

__all__ = ["DataLoader"]


class DataLoader:
    """Mini-batches of ``(xb, yb)`` Tensors over arrays ``X`` and ``y`` that share their first dimension.

    Each ``iter()`` (each epoch) draws a new order from the loader's own ``numpy.random.Generator``: with an
    int ``seed`` the sequence of epochs is the same every run, and the global NumPy random state is untouched.
    ``len(loader)`` is the number of batches per epoch: ceil(n / batch_size), or floor with ``drop_last=True``
    (which skips a last batch smaller than ``batch_size``). Batches keep the arrays' dtypes (int64 labels stay
    int64) and never share memory with ``X`` or ``y``.

    >>> import numpy as np
    >>> loader = DataLoader(np.zeros((10, 3), np.float32), np.arange(10), batch_size=4, seed=0)
    >>> len(loader), [xb.shape for xb, yb in loader]
    (3, [(4, 3), (4, 3), (2, 3)])
    """

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        batch_size: int,
        shuffle: bool = True,
        seed: int | np.random.Generator | None = None,
        drop_last: bool = False,
    ) -> None:
        self.X, self.y = _as_array(X), _as_array(y)
        _check_pair(self.X, self.y, "DataLoader")
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
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        """Number of batches in one epoch."""
        n = self.X.shape[0]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        """Start an epoch: fix its sample order now, then yield its batches."""
        # The tensor module imports lazily so that the NumPy-only loaders above work without the engine.
        from ..tensor import tensor

        n = self.X.shape[0]
        order = self._rng.permutation(n) if self.shuffle else np.arange(n)
        return self._batches(order, tensor)

    def _batches(self, order: np.ndarray, tensor) -> Iterator[tuple[Tensor, Tensor]]:
        stop = len(self) * self.batch_size
        for start in range(0, min(stop, order.shape[0]), self.batch_size):
            idx = order[start : start + self.batch_size]
            yield tensor(self.X[idx]), tensor(self.y[idx])

    def __repr__(self) -> str:
        return (
            f"DataLoader(samples={self.X.shape[0]}, batch_size={self.batch_size}, batches={len(self)}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last})"
        )
