"""Data-parallel training over MPI (extra ``distributed``: mpi4py and MPICH from PyPI).

Run the same script in N processes, ``mpiexec -n N python train.py``: each process holds a replica of the model
(``DataParallel``), reads its own share of the data (``DistributedSampler``, ``DataLoader(..., distributed=True)``),
and the gradients are averaged over the processes during ``loss.backward()``. Without MPI, or started without
``mpiexec``, the same code runs as a world of one process.
"""

from .comm import abort, all_reduce, barrier, broadcast, init, is_mpi, launched_size, rank, world_size
from .parallel import DataParallel, no_sync
from .sampler import DistributedSampler

__all__ = [
    "DataParallel",
    "DistributedSampler",
    "abort",
    "all_reduce",
    "barrier",
    "broadcast",
    "init",
    "is_mpi",
    "launched_size",
    "no_sync",
    "rank",
    "world_size",
]
