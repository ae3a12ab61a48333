"""One library on one workload, in its own process: ``python -m benchmarks.worker LIB WORKLOAD PARAMS``.

LIB is a name from ``workloads.LIBRARIES``, WORKLOAD one of W1..W5 and PARAMS a JSON object of sizes. The worker
builds the case, computes the checksum (which is also the first warm-up, and where JIT compilers compile), warms
up, and picks how many calls make one round last ``--round-seconds``. Then it answers the runner on stdin/stdout,
one JSON object per line:

    → {"ready": true, "checksum": [...], "number": k, "call": seconds}   (or {"error": "..."} and exit)
    ← run    → {"time": seconds per call, the mean of k calls}
    ← quit   → {"maxrss": peak resident memory of this process in bytes}

Libraries may print to stdout; the protocol keeps its own copy of the stdout descriptor and sends everything else
to stderr.
"""

from __future__ import annotations

import os

# One thread everywhere, set before any library is imported (the runner sets the same in the environment).
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "JAX_PLATFORMS": "cpu",
}
for _name, _value in THREAD_ENV.items():
    os.environ.setdefault(_name, _value)

import argparse  # noqa: E402 - after the thread settings
import json  # noqa: E402
import math  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Any, TextIO  # noqa: E402


def _tune_heap_as_chainrule_does() -> None:
    """Give the floor the same C heap settings chainrule's own process has (``chainrule/engine/allocator.py``), run
    from that file so the floor's process never imports chainrule: the floor at its best, not in glibc's trimming
    state (see the ``numpy-default-heap`` column for that)."""
    import importlib.util
    from pathlib import Path

    package = importlib.util.find_spec("chainrule")
    if package is None or package.origin is None:
        return
    path = Path(package.origin).parent / "engine" / "allocator.py"
    spec = importlib.util.spec_from_file_location("_floor_allocator", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.tune_heap()


def _configure(lib: str) -> None:
    if lib == "numpy":
        _tune_heap_as_chainrule_does()
    if lib == "torch":
        import torch

        torch.set_num_threads(1)
        torch.set_num_interop_threads(1)


def _describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def _calibrate(step, round_seconds: float, warmup_seconds: float) -> tuple[int, float]:
    """Calls per round, and the time of one call; the checksum before this already ran the workload once."""
    start = time.perf_counter()
    step()
    call = time.perf_counter() - start
    while time.perf_counter() - start < warmup_seconds:
        t0 = time.perf_counter()
        step()
        call = min(call, time.perf_counter() - t0)
    number = max(1, math.ceil(round_seconds / max(call, 1e-9)))
    return number, call


def serve(lib: str, workload: str, params: dict[str, Any], round_seconds: float, warmup_seconds: float,
          out: TextIO, commands: TextIO) -> None:
    """Build, check, calibrate, then answer ``run``/``quit`` commands (the protocol in the module docstring)."""
    from .workloads import make_case

    def send(message: dict[str, Any]) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    try:
        _configure(lib)
        case = make_case(workload, lib, params)
        checksum = case.checksum()
        number, call = _calibrate(case.step, round_seconds, warmup_seconds)
    except Exception as exc:  # reported to the runner, which shows it in the table (e.g. micrograd's RecursionError)
        send({"error": _describe(exc)})
        return
    send({"ready": True, "checksum": checksum, "number": number, "call": call})
    for line in commands:
        command = line.strip()
        if command == "quit":
            break
        if command != "run":
            send({"error": f"unknown command {command!r}; expected 'run' or 'quit'"})
            return
        try:
            start = time.perf_counter()
            for _ in range(number):
                case.step()
            send({"time": (time.perf_counter() - start) / number})
        except Exception as exc:
            send({"error": _describe(exc)})
            return
    send({"maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024})  # Linux reports KiB


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker", description=__doc__.splitlines()[0])
    parser.add_argument("lib")
    parser.add_argument("workload", help="W1..W5")
    parser.add_argument("params", help='JSON object, e.g. \'{"batch": 128, "sizes": [784, 256, 256, 10]}\'')
    parser.add_argument("--round-seconds", type=float, default=0.2)
    parser.add_argument("--warmup-seconds", type=float, default=0.5)
    args = parser.parse_args(argv)
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(args.lib, args.workload, json.loads(args.params), args.round_seconds, args.warmup_seconds, out, sys.stdin)


if __name__ == "__main__":
    main()
