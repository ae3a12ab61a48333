"""The processes of a run and their collectives, on mpi4py: init, rank, world_size, all_reduce, broadcast, barrier.

One process (no launcher, or mpi4py not installed) is a world of size 1, and every function works there: the same
script runs alone or under ``mpiexec -n N``. Started by a launcher with several processes but without mpi4py, the
first call raises MissingDependencyError instead of letting N processes each believe they are the only one.
"""

from __future__ import annotations

import numbers
import os
import sys
from typing import Any

import numpy as np

from ..errors import MissingDependencyError
from ..tensor import Tensor

__all__ = ["abort", "all_reduce", "barrier", "broadcast", "init", "is_mpi", "launched_size", "rank", "world_size"]

OPS = ("sum", "mean", "max", "min")

# Variables that launchers set in each process they start, with the number of processes: MPICH's and Intel MPI's
# Hydra and Slurm's PMI (PMI_SIZE), Open MPI (OMPI_COMM_WORLD_SIZE), MVAPICH, Slurm's srun (SLURM_NTASKS).
_LAUNCHER_SIZES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "PMIX_SIZE")


class _World:
    """What ``init`` found: the communicator (None in a world of one) and this process's place in it."""

    def __init__(self, comm: Any, mpi: Any) -> None:
        self.comm = comm
        self.mpi = mpi
        self.rank = 0 if comm is None else comm.Get_rank()
        self.size = 1 if comm is None else comm.Get_size()


_world: _World | None = None


def launched_size() -> int:
    """How many processes a launcher (mpiexec, srun) says it started, read from the environment without starting
    MPI: 1 when no launcher's variables are set. Code that runs alone most of the time can check this first."""
    for name in _LAUNCHER_SIZES:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    if "SLURM_PROCID" in os.environ and os.environ.get("SLURM_NTASKS", "").isdigit():
        return int(os.environ["SLURM_NTASKS"])
    return 1


def init(require_mpi: bool = False) -> None:
    """Join the run's processes (MPI_COMM_WORLD through mpi4py); safe to call again. The other functions call it.

    Without mpi4py this process is alone (world size 1), unless a launcher started several processes or
    ``require_mpi=True``: then MissingDependencyError says to install the extra ``distributed``.

    >>> import chainrule as cr
    >>> cr.distributed.init()
    >>> cr.distributed.rank() < cr.distributed.world_size()
    True
    """
    global _world
    if _world is not None and (_world.comm is not None or not require_mpi):
        return
    try:
        from mpi4py import MPI
    except ImportError as exc:
        launched = launched_size()
        if require_mpi or launched > 1:
            why = f"a launcher started {launched} processes" if launched > 1 else "init(require_mpi=True) was called"
            raise MissingDependencyError(
                f"cr.distributed needs mpi4py and an MPI library ({why}), but mpi4py is not installed; install "
                "them with: pip install 'chainrule[distributed]'"
            ) from exc
        _world = _World(None, None)
        return
    _world = _World(MPI.COMM_WORLD, MPI)
    if _world.size > 1:
        _abort_on_uncaught_exceptions()


def _abort_on_uncaught_exceptions() -> None:
    """An exception that ends one process would leave the others waiting forever in their next collective (and
    the failed one in MPI_Finalize): after printing it, end them all, as ``python -m mpi4py script.py`` does."""
    previous = sys.excepthook

    def hook(kind, value, traceback) -> None:
        previous(kind, value, traceback)
        sys.stderr.flush()
        abort(1)

    sys.excepthook = hook


def abort(code: int = 1) -> None:
    """End every process of the run with exit status ``code`` (MPI_Abort); alone, ``sys.exit(code)``.

    Call it when one process fails but others may still be running: they would wait for it forever otherwise."""
    world = _get()
    if world.size > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        world.comm.Abort(code)
    raise SystemExit(code)


def _get() -> _World:
    if _world is None:
        init()
    return _world  # type: ignore[return-value]


def rank() -> int:
    """This process's number, 0 to world_size() - 1 (rank 0 is the one that prints and saves)."""
    return _get().rank


def world_size() -> int:
    """How many processes take part (1 without MPI or when started without ``mpiexec``)."""
    return _get().size


def is_mpi() -> bool:
    """Whether this process talks to others through MPI (False in a world of one without mpi4py)."""
    return _get().comm is not None


def barrier() -> None:
    """Wait until every process has reached this call."""
    world = _get()
    if world.size > 1:
        world.comm.Barrier()


def _as_array(value: Any, function: str, name: str = "array") -> np.ndarray:
    if isinstance(value, Tensor):
        return value.detach().numpy().view(np.ndarray)
    if isinstance(value, np.ndarray | np.generic | numbers.Number):
        array = np.asarray(value)
    elif isinstance(value, list | tuple):
        try:
            array = np.asarray(value)
        except ValueError as exc:
            raise ValueError(f"{function}: {name} is a ragged list ({exc}); pass a NumPy array or a Tensor") from None
    else:
        raise TypeError(f"{function} expects a NumPy array, a Tensor or a number as {name}, not {type(value).__name__}")
    if array.dtype.kind not in "biufc":
        raise TypeError(
            f"{function} sends numbers; {name} has dtype {array.dtype}. Pass an array of bools, ints, "
            "floats or complex numbers"
        )
    return array


def _contiguous(array: np.ndarray) -> np.ndarray:
    # Not np.ascontiguousarray: it turns a 0-d array into shape (1,).
    return array if array.flags.c_contiguous else array.copy()


def _like(value: Any, result: np.ndarray) -> Any:
    """The result in the caller's form: a Tensor for a Tensor, an array for an array, a number for a number."""
    if isinstance(value, Tensor):
        return Tensor(result)
    if isinstance(value, np.ndarray):
        return result
    return result[()].item() if result.ndim == 0 and not isinstance(value, np.generic) else result[()]


def _agree(world: _World, what: tuple, function: str) -> None:
    """Check that every process passes the same ``what`` (shape and dtype) before a collective that would otherwise
    fail deep inside MPI or wait forever."""
    seen = world.comm.allgather(what)
    if any(other != seen[0] for other in seen):
        listing = ", ".join(f"rank {r}: shape {s} dtype {d}" for r, (s, d) in enumerate(seen))
        raise ValueError(f"{function}: every process must pass an array of the same shape and dtype; got {listing}")


def _same_everywhere(world: _World, value: Any, name: str, function: str) -> None:
    """Check that every process passes the same ``value`` of argument ``name`` (an MPI collective given different
    roots or operations is erroneous: it may hang, or silently give some processes what others asked for)."""
    seen = world.comm.allgather(value)
    if any(other != seen[0] for other in seen):
        listing = ", ".join(f"rank {r}: {v!r}" for r, v in enumerate(seen))
        raise ValueError(f"{function}: every process must pass the same {name}; got {listing}")


def all_reduce(array: Any, op: str = "sum") -> Any:
    """Combine ``array`` elementwise over all processes: ``op`` is "sum", "mean", "max" or "min".

    Returns a new array (a Tensor without graph for a Tensor, a number for a number); every process gets the same
    result. The argument is not changed. "mean" is the sum divided by world_size() (a float for integers).

    >>> import numpy as np, chainrule as cr
    >>> cr.distributed.all_reduce(np.array([1.0, 2.0]), op="mean")  # one process: the array itself
    array([1., 2.])
    """
    if not isinstance(op, str) or op not in OPS:
        raise ValueError(f"all_reduce: op must be one of {', '.join(map(repr, OPS))}, got {op!r}")
    data = _as_array(array, "all_reduce")
    if data.dtype.kind == "b":
        raise TypeError("all_reduce adds numbers; got an array of bools. Convert it first, e.g. mask.astype(np.int64)")
    if data.dtype.kind == "c" and op in ("max", "min"):
        raise TypeError(f"all_reduce: op={op!r} needs real numbers; the array is {data.dtype}")
    world = _get()
    if world.size == 1:
        result = data.copy()
    else:
        _same_everywhere(world, op, "op", "all_reduce")
        _agree(world, (data.shape, data.dtype.str), "all_reduce")
        send = _contiguous(data)
        result = np.empty_like(send)
        mpi_op = {"sum": world.mpi.SUM, "mean": world.mpi.SUM, "max": world.mpi.MAX, "min": world.mpi.MIN}[op]
        world.comm.Allreduce(send, result, op=mpi_op)
    if op == "mean":
        result = np.divide(result, world.size)
    return _like(array, result)


def broadcast(array: Any, root: int = 0) -> Any:
    """Every process gets process ``root``'s ``array`` (shape and dtype included; other processes' arguments are
    only used for the form of the result and may be None).

    >>> import numpy as np, chainrule as cr
    >>> cr.distributed.broadcast(np.arange(3))
    array([0, 1, 2])
    """
    world = _get()
    if isinstance(root, bool) or not isinstance(root, numbers.Integral) or not 0 <= root < world.size:
        raise ValueError(f"broadcast: root must be a rank from 0 to {world.size - 1}, got {root!r}")
    if world.rank == root or world.size == 1:
        data = _contiguous(_as_array(array, "broadcast"))
    if world.size == 1:
        return _like(array, data.copy())
    _same_everywhere(world, int(root), "root", "broadcast")
    header = world.comm.bcast((data.shape, data.dtype.str) if world.rank == root else None, root=root)
    if world.rank != root:
        data = np.empty(header[0], np.dtype(header[1]))
    world.comm.Bcast(data, root=root)
    if array is None:
        return data
    return _like(array, data if world.rank != root else data.copy())
