"""DataParallel: the same model in every process, each on its own share of the batch, gradients averaged.

What happens, as in PyTorch's DistributedDataParallel:

1. At construction, rank 0's parameters and buffers are copied to every process, so all replicas start equal
   whatever seed each process used.
2. A forward pass through the wrapper (with gradients on) marks it for synchronisation.
3. At the end of the next ``loss.backward()`` (a hook of the engine's backward loop), the gradients of the model's
   parameters are averaged over the processes: per dtype, they are copied into one persistent flat buffer, reduced
   with ONE ``MPI_Allreduce`` and divided by the world size. ``optimizer.step()`` is unchanged, and since every
   process applies the same update to the same values, the replicas stay bit-identical.

Inside ``with model.no_sync():`` forward passes do not mark the model, so gradients accumulate locally; the first
backward after a forward outside the block averages the accumulated sum. A parameter that no process's backward
reached keeps ``.grad = None`` (the buffer carries one "reached" flag per parameter, in the same Allreduce).
Buffers (BatchNorm's running statistics) are rank 0's after every averaging backward (one Bcast per dtype), as
with PyTorch's ``broadcast_buffers``.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..engine import is_grad_enabled
from ..engine.reverse import after_backward
from ..nn.module import Module
from ..tensor import Tensor
from .comm import _get

__all__ = ["DataParallel", "no_sync"]

# Every DataParallel, in creation order: the hook reduces pending ones in this order, the same in every process.
_instances: list[weakref.ref] = []


def _sync_pending() -> None:
    """The engine's after-backward hook: average the gradients of every model a forward pass marked."""
    alive = []
    for ref in _instances:
        model = ref()
        if model is None:
            continue
        alive.append(ref)
        if model._pending:
            model.sync_gradients()
    _instances[:] = alive


class _FlatBuffer:
    """One dtype's gradients side by side, then one "reached" flag per parameter: [g_0 | g_1 | ... | f_0 f_1 ...]."""

    def __init__(self, params: list[Tensor], dtype: np.dtype) -> None:
        self.params = params
        self.offsets = np.cumsum([0] + [p.size for p in params]).tolist()
        self.flags = self.offsets[-1]
        self.array = np.empty(self.flags + len(params), dtype)

    def fill(self) -> None:
        array, offsets = self.array, self.offsets
        for k, p in enumerate(self.params):
            start, stop = offsets[k], offsets[k + 1]
            if p.grad is None:
                array[start:stop] = 0
                array[self.flags + k] = 0
            else:
                array[start:stop] = p.grad.data.reshape(-1)
                array[self.flags + k] = 1

    def unpack(self, size: int) -> None:
        array, offsets = self.array, self.offsets
        for k, p in enumerate(self.params):
            if array[self.flags + k] == 0:  # no process reached it: keep "no gradient", as a single process would
                p.grad = None
            else:
                p.grad = Tensor(np.divide(array[offsets[k] : offsets[k + 1]], size).reshape(p.shape))


class DataParallel(Module):
    """Wrap ``module`` for data-parallel training: one replica per process, gradients averaged after backward.

    Run the same script in every process (``mpiexec -n 4 python train.py``) and give each process a different share
    of the data (``cr.data.DataLoader(..., distributed=True)``). With a loss that averages over its batch and equal
    batch sizes, the averaged gradient is the gradient on the union of the processes' batches. Parameters are named
    ``module.<name>`` as in PyTorch; ``model.module`` is the wrapped network (save its ``state_dict()``).

    >>> import chainrule as cr
    >>> net = cr.distributed.DataParallel(cr.nn.Linear(3, 1))
    >>> loss = net(cr.ones(2, 3)).sum()
    >>> loss.backward()  # gradients are averaged over the processes here (one process: unchanged)
    >>> net.module.weight.grad.shape
    (1, 3)
    """

    def __init__(self, module: Module) -> None:
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel wraps a cr.nn.Module, not a {type(module).__name__}")
        super().__init__()
        self.module = module
        object.__setattr__(self, "_sync", True)
        object.__setattr__(self, "_pending", False)
        object.__setattr__(self, "_flat", None)  # (key of the parameters, [_FlatBuffer per dtype])
        world = _get()
        if world.size > 1:
            self._check_same_model(world)
            self._broadcast_state(world)
        if _sync_pending not in after_backward:
            after_backward.append(_sync_pending)
        _instances.append(weakref.ref(self))

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self._sync and is_grad_enabled():
            object.__setattr__(self, "_pending", True)
        return self.module(*args, **kwargs)

    @contextmanager
    def no_sync(self) -> Iterator[None]:
        """Accumulate gradients locally: forward passes inside the block do not average at backward.

        >>> import chainrule as cr
        >>> net = cr.distributed.DataParallel(cr.nn.Linear(2, 1))
        >>> with net.no_sync():
        ...     net(cr.ones(1, 2)).sum().backward()  # local only
        >>> net(cr.ones(1, 2)).sum().backward()  # adds, then averages the sum of both
        """
        previous = self._sync
        object.__setattr__(self, "_sync", False)
        try:
            yield
        finally:
            object.__setattr__(self, "_sync", previous)

    def sync_gradients(self) -> None:
        """Average the parameters' ``.grad`` over the processes now (backward does it; call it yourself only after
        computing gradients some other way). ONE Allreduce per dtype."""
        object.__setattr__(self, "_pending", False)
        world = _get()
        if world.size == 1:
            return
        for flat in self._buffers_by_dtype(world):
            flat.fill()
            world.comm.Allreduce(world.mpi.IN_PLACE, flat.array, op=world.mpi.SUM)
            flat.unpack(world.size)
        self._broadcast_buffers(world)

    def _broadcast_buffers(self, world) -> None:
        """Rank 0's buffers (BatchNorm's running statistics...) to every process, one Bcast per dtype, so that the
        replicas stay identical although each updated them from its own batch (PyTorch's broadcast_buffers)."""
        by_dtype: dict[np.dtype, list[Tensor]] = {}
        for buffer in self.module.buffers():
            by_dtype.setdefault(buffer.dtype, []).append(buffer)
        for _, group in sorted(by_dtype.items(), key=lambda item: item[0].str):
            if world.rank == 0:
                flat = np.concatenate([b.data.view(np.ndarray).reshape(-1) for b in group])
            else:
                flat = np.empty(sum(b.size for b in group), group[0].dtype)
            world.comm.Bcast(flat, root=0)
            if world.rank != 0:
                start = 0
                for b in group:
                    b.data[...] = flat[start : start + b.size].reshape(b.shape)
                    start += b.size

    def _buffers_by_dtype(self, world) -> list[_FlatBuffer]:
        """The persistent flat buffers, made again only if the trained parameters changed (e.g. a layer frozen)."""
        params = [p for p in self.module.parameters() if p.requires_grad]
        key = tuple((id(p), p.dtype.str, p.shape) for p in params)
        if self._flat is None or self._flat[0] != key:
            self._check_same_model(world, params)
            by_dtype: dict[np.dtype, list[Tensor]] = {}
            for p in params:
                by_dtype.setdefault(p.dtype, []).append(p)
            # Sorted by dtype name, so every process reduces the buffers in the same order.
            flats = [_FlatBuffer(group, dtype) for dtype, group in sorted(by_dtype.items(), key=lambda i: i[0].str)]
            object.__setattr__(self, "_flat", (key, flats))
        return self._flat[1]

    def _check_same_model(self, world, params: list[Tensor] | None = None) -> None:
        """Every process must hold the same parameters (names, shapes, dtypes): otherwise the Allreduce of buffers of
        different lengths would fail inside MPI or wait forever."""
        if params is None:
            mine = [(n, t.shape, t.dtype.str) for n, t in self.module.state_dict().items()]
        else:
            names = {id(p): n for n, p in self.module.named_parameters()}
            mine = [(names[id(p)], p.shape, p.dtype.str) for p in params]
        seen = world.comm.allgather(mine)
        for r, other in enumerate(seen):
            if other != seen[0]:
                diff = next((a, b) for a, b in zip(seen[0] + [None], other + [None], strict=False) if a != b)
                raise ValueError(
                    f"DataParallel: every process must build the same model; rank 0 has {diff[0]} where rank {r} has "
                    f"{diff[1]} (name, shape, dtype). Build the model the same way in every process"
                )

    def _broadcast_state(self, world) -> None:
        """Copy rank 0's parameters and buffers to every process (in place: optimizers keep the same Parameters)."""
        for tensor in [*self.module.parameters(), *self.module.buffers()]:
            data = tensor.data.view(np.ndarray).copy() if world.rank == 0 else np.empty(tensor.shape, tensor.dtype)
            world.comm.Bcast(data, root=0)
            if world.rank != 0:
                tensor.data[...] = data

    def extra_repr(self) -> str:
        world = _get()
        return f"rank={world.rank}, world_size={world.size}"


@contextmanager
def no_sync(*models: DataParallel) -> Iterator[None]:
    """``DataParallel.no_sync()`` for several models at once (every DataParallel when none is named)."""
    for model in models:
        if not isinstance(model, DataParallel):
            raise TypeError(f"no_sync expects DataParallel models, got a {type(model).__name__}")
    if not models:
        models = tuple(m for m in (ref() for ref in _instances) if m is not None)
    previous = [m._sync for m in models]
    for m in models:
        object.__setattr__(m, "_sync", False)
    try:
        yield
    finally:
        for m, was in zip(models, previous, strict=True):
            object.__setattr__(m, "_sync", was)
