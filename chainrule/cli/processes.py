"""The processes a training job runs in: one, or the N of ``mpiexec -n N chainrule train`` (cr.distributed).

Rank 0 alone prints, draws progress bars, plots and saves; every process trains a DataParallel replica on its own
share of each step's data, and the numbers they report (losses, accuracies) are combined so that all agree.
"""

from __future__ import annotations

import sys

import numpy as np

from ..nn import Module

__all__ = ["Processes", "failed"]


class Processes:
    """A world of one, or cr.distributed's when ``distributed`` is True (None: when a launcher such as mpiexec
    started several processes; MPI is not started otherwise)."""

    def __init__(self, distributed: bool | None = None) -> None:
        self.rank, self.size, self.module = 0, 1, None
        if distributed is not None and not isinstance(distributed, bool):
            raise TypeError(f"distributed must be True, False or None (automatic), got {distributed!r}")
        if distributed is None:
            from ..distributed.comm import launched_size

            distributed = launched_size() > 1
        if distributed:
            from .. import distributed as module

            module.init()
            self.rank, self.size, self.module = module.rank(), module.world_size(), module

    @property
    def leader(self) -> bool:
        """Whether this process is the one that prints and saves (rank 0)."""
        return self.rank == 0

    def wrap(self, net: Module) -> Module:
        """The network to call: a DataParallel replica (rank 0's weights) when there are several processes."""
        return net if self.size == 1 else self.module.DataParallel(net)

    def total(self, values: np.ndarray) -> np.ndarray:
        """The elementwise sum of ``values`` over the processes."""
        return values if self.size == 1 else self.module.all_reduce(values, op="sum")


def failed() -> int:
    """Exit status 1; in a run of several processes, end them all (the others would wait for this one forever)."""
    comm = sys.modules.get("chainrule.distributed.comm")
    world = None if comm is None else comm._world  # never start MPI here
    if world is not None and world.size > 1:
        comm.abort(1)
    return 1
