"""Grad mode, per thread: whether ops record a graph (``no_grad``), and whether nodes keep every value."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


# ---------------------------------------------------------------------------------------------------------------
# Grad mode.
# ---------------------------------------------------------------------------------------------------------------
class _ThreadMode(threading.local):
    """One thread's grad mode. The class attributes are the defaults, so a new thread starts recording."""

    enabled = True
    keep_all = False  # inside keep_values()


class _GradMode:
    """Grad mode, per thread as in PyTorch: one thread's ``no_grad`` or ``keep_values`` leaves the others alone.

    Ops read it on every call, and a thread-local read costs twice a plain attribute's. So the hot path reads
    ``all_recording``, a plain attribute that is True while no thread has recording off, and looks at its own
    thread's ``thread_mode.enabled`` only when it is False: ``grad_mode.all_recording or thread_mode.enabled``.
    """

    def __init__(self) -> None:
        self.all_recording = True
        self._threads_off = 0  # threads whose recording is off now
        self._lock = threading.Lock()
        # Arrays with fewer elements than this are kept whether their rule reads them or not (a NotSaved would save
        # little). A process-wide setting; ``keep_values`` makes one thread keep every value (explanations).
        self.keep_below: float = 4096

    @property
    def enabled(self) -> bool:
        """Whether this thread records the graph."""
        return thread_mode.enabled

    def set_enabled(self, enabled: bool) -> bool:
        """Turn this thread's recording on or off; returns what it was."""
        previous = thread_mode.enabled
        if enabled != previous:
            with self._lock:
                thread_mode.enabled = enabled
                self._threads_off += -1 if enabled else 1
                self.all_recording = self._threads_off == 0
        return previous


thread_mode = _ThreadMode()
grad_mode = _GradMode()


@contextmanager
def keep_values() -> Iterator[None]:
    """Inside this block, nodes keep every input and output value, read by their rules or not (for display).

    Per thread: other threads keep only what their rules read.
    """
    previous = thread_mode.keep_all
    thread_mode.keep_all = True
    try:
        yield
    finally:
        thread_mode.keep_all = previous


def is_grad_enabled() -> bool:
    """Whether ops record the graph in this thread (False inside ``no_grad``)."""
    return thread_mode.enabled


@contextmanager
def set_grad_enabled(enabled: bool) -> Iterator[None]:
    """Turn graph recording on or off inside a ``with`` block, in this thread only."""
    previous = grad_mode.set_enabled(bool(enabled))
    try:
        yield
    finally:
        grad_mode.set_enabled(previous)


def no_grad():
    """``with cr.no_grad(): ...`` computes values without recording a graph (e.g. for evaluation or updates)."""
    return set_grad_enabled(False)


#: Observers of module calls: ``observer(module, first_seq, end_seq)`` learns which node sequence numbers a call
#: made. Explanations add one while they run (to group steps by layer); empty otherwise, so a call pays one check.
call_observers: list = []


def observe_call(owner: object, call, *args, **kwargs):
    """``call(*args, **kwargs)``, telling each of ``call_observers`` the span of node numbers it made for ``owner``."""
    from .versions import node_sequence

    first = next(node_sequence)
    out = call(*args, **kwargs)
    end = next(node_sequence)
    for observer in list(call_observers):
        observer(owner, first, end)
    return out
