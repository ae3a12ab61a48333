"""Where chainrule's time goes: cProfile of one library on one workload, at the full sizes of the table.

    python -m benchmarks.profiling [W1-b128|W1-b1024|W2|W3|W4-n100|W4-n300|W5] [--lib chainrule] [--seconds 3]
    python -m benchmarks.profiling W1-tiny --lib chainrule-nn --bytecodes

Builds the same case as the runner (same inputs, one thread), warms it up with the checksum, then profiles calls
for about ``--seconds`` and prints the top functions by own time and by cumulative time.
"""

from __future__ import annotations

import os

from .worker import THREAD_ENV

for _name, _value in THREAD_ENV.items():
    os.environ.setdefault(_name, _value)

import argparse  # noqa: E402 - after the thread settings
import cProfile  # noqa: E402
import io  # noqa: E402
import pstats  # noqa: E402
import time  # noqa: E402

from .workloads import WORKLOADS, make_case  # noqa: E402


def profile(key: str, lib: str = "chainrule", seconds: float = 3.0, top: int = 15) -> str:
    """The pstats report (own time, then cumulative) of ``lib`` on the workload row ``key``."""
    workload = next((w for w in WORKLOADS if w.key == key), None)
    if workload is None:
        raise SystemExit(f"unknown workload {key!r}; expected one of {', '.join(w.key for w in WORKLOADS)}")
    case = make_case(workload.id, lib, workload.params)
    case.checksum()
    start = time.perf_counter()
    case.step()
    calls = max(1, round(seconds / (time.perf_counter() - start)))
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        case.step()
    profiler.disable()
    text = io.StringIO()
    text.write(f"{lib} on {workload.title}: {calls} calls profiled\n")
    stats = pstats.Stats(profiler, stream=text).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return text.getvalue()


def bytecodes(key: str, lib: str = "chainrule", calls: int = 50, top: int = 15) -> str:
    """Python bytecodes executed per call, in all and by function (``sys.settrace``'s opcode events): a count that
    does not depend on the machine's load, for comparing Python overhead where timings are noisy."""
    import collections
    import sys

    workload = next((w for w in WORKLOADS if w.key == key), None)
    if workload is None:
        raise SystemExit(f"unknown workload {key!r}; expected one of {', '.join(w.key for w in WORKLOADS)}")
    case = make_case(workload.id, lib, workload.params)
    case.checksum()
    for _ in range(5):
        case.step()
    counts: collections.Counter = collections.Counter()

    def trace(frame, event, arg):
        frame.f_trace_opcodes = True
        if event == "opcode":
            code = frame.f_code
            counts[f"{code.co_filename.rsplit('/', 1)[-1]}:{code.co_firstlineno}({code.co_name})"] += 1
        return trace

    sys.settrace(trace)
    try:
        for _ in range(calls):
            case.step()
    finally:
        sys.settrace(None)
    lines = [f"{lib} on {workload.title}: {sum(counts.values()) / calls:,.0f} bytecodes per call"]
    lines += [f"{n / calls:9,.0f}  {name}" for name, n in counts.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profiling", description=__doc__.splitlines()[0])
    parser.add_argument("workload", nargs="?", default="W1-b128", help="a row key, e.g. W1-b128, W2, W4-n100")
    parser.add_argument("--lib", default="chainrule")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--bytecodes", action="store_true", help="count Python bytecodes per call instead")
    args = parser.parse_args(argv)
    if args.bytecodes:
        print(bytecodes(args.workload, args.lib, top=args.top))
    else:
        print(profile(args.workload, args.lib, args.seconds, args.top))


if __name__ == "__main__":
    main()
