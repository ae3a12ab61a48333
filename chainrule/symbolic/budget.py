"""A budget in time and memory for SymPy work, which has none of its own.

``sympy.simplify`` of ``sin(128*x)**2`` expands multiple angles and used more than 17 GB; ``9**9**9`` is computed
exactly; a 75-level power tower recurses past Python's limit. So every symbolic step runs in a forked child
process, with a wall-clock deadline and a cap on its address space, as a sequence of *stages*, each result better
than the last (e.g. the raw chain-rule formula, then its simplified form). The child sends each stage's result as
soon as it has it; when the budget runs out the child is killed and the caller gets the last result that arrived,
with ``finished=False`` so it can say so. Without ``fork`` (Windows), the stages run in-process, unbounded.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import struct
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from typing import Any

#: Wall-clock seconds a symbolic step may take before the best result so far is used.
SECONDS = 2.0
#: Bytes of address space the child may add to what it inherits.
MEMORY = 1 << 30

_HEADER = struct.Struct("<Q")
_DONE = 2**64 - 1  # a length that marks "every stage finished"


def run(stages: Callable[[], Iterable[Any]], seconds: float | None = None,
        memory: int | None = None) -> tuple[Any, bool]:
    """(the last result ``stages()`` yielded within the budget or None, whether every stage finished).

    ``seconds`` and ``memory`` default to :data:`SECONDS` and :data:`MEMORY` (read at each call).
    """
    seconds = SECONDS if seconds is None else seconds
    memory = MEMORY if memory is None else memory
    if not hasattr(os, "fork") or sys.platform == "win32":
        return _in_process(stages)
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # 3.12+ warns about fork with threads; the child
        pid = os.fork()  # only runs SymPy (pure Python) and exits without touching the parent's state
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _child(stages, write_end, memory)
    os.close(write_end)
    try:
        return _collect(read_end, pid, seconds)
    finally:
        os.close(read_end)


def _in_process(stages: Callable[[], Iterable[Any]]) -> tuple[Any, bool]:
    result = None
    try:
        for result in stages():  # noqa: B007 - the last one is the answer
            pass
    except (RecursionError, MemoryError):
        return result, False
    return result, True


def _child(stages: Callable[[], Iterable[Any]], write_end: int, memory: int) -> None:
    status = 0
    try:
        _limit_memory(memory)
        for result in stages():
            data = pickle.dumps(result)
            _write_all(write_end, _HEADER.pack(len(data)) + data)
        _write_all(write_end, _HEADER.pack(_DONE))
    except BaseException:  # RecursionError, MemoryError, SymPy's own errors: the parent keeps what it has
        status = 1
    finally:
        os._exit(status)  # no atexit handlers, no flushing of the parent's buffers


def _limit_memory(memory: int) -> None:
    try:
        import resource

        with open("/proc/self/statm") as file:
            inherited = int(file.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = inherited + memory
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        if soft == resource.RLIM_INFINITY or limit < soft:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, OSError, ValueError):
        pass  # no /proc or no resource module: the deadline still applies


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _collect(read_end: int, pid: int, seconds: float) -> tuple[Any, bool]:
    deadline = time.monotonic() + seconds
    buffer = bytearray()
    result, finished, ended = None, False, False
    while not ended:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([read_end], [], [], remaining)[0]:
            break  # out of time
        chunk = os.read(read_end, 1 << 20)
        ended = not chunk
        buffer += chunk
        while len(buffer) >= _HEADER.size:
            (length,) = _HEADER.unpack_from(buffer)
            if length == _DONE:
                finished, ended = True, True
                break
            if len(buffer) < _HEADER.size + length:
                break
            result = pickle.loads(bytes(buffer[_HEADER.size:_HEADER.size + length]))  # our own child's bytes
            del buffer[:_HEADER.size + length]
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return result, finished


__all__ = ["MEMORY", "SECONDS", "run"]
