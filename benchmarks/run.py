"""The benchmark runner of issue 5: chainrule beside PyTorch, JAX, HIPS autograd, micrograd and a hand-written floor.

    python -m benchmarks.run [--quick] [--only W1,W3] [--libs chainrule,numpy,torch] [--repeats N] [--out DIR]

Each library runs each workload in its own process (``benchmarks.worker``) with one thread. All the workers of a
workload start together (setup, checksum and warm-up overlap), then the timed rounds are interleaved: one round of
each library in turn, the order rotated every round, so that slow drifts of the machine touch every library alike.
Reported: medians of the rounds, ratios to the floor and chainrule ÷ each peer from the same run, and whether all
libraries computed the same numbers. W6 times ``python -c "import X"`` the same way and reads the W1 processes'
peak memory. Writes ``latest.md``, ``latest.json`` and ``latest.png`` (if matplotlib is installed) to ``--out``.
The exit status is 1 when libraries disagree on a checksum; a library that fails (micrograd's RecursionError on
W5) is shown in the table, not treated as a failure.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import os
import platform
import select
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import report
from .worker import THREAD_ENV
from .workloads import FLOOR, IMPORTS, LIBRARIES, WORKLOADS, Workload

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = Path(__file__).resolve().parent / "results"
SLOW_CALL = 1.0  # seconds per call: such libraries get a third of the rounds (at least 3)
WORKER_TIMEOUT = 900.0  # seconds to wait for one answer of a worker (setup included)
VERSIONED = ("numpy", "chainrule", "torch", "jax", "jaxlib", "autograd", "micrograd", "matplotlib")


@dataclass
class Measurement:
    """What one library did on one workload: seconds per call in each round, its checksum, or why it failed."""

    times: list[float] = field(default_factory=list)
    checksum: list[float] | None = None
    error: str | None = None
    maxrss: int | None = None

    @property
    def median(self) -> float | None:
        return statistics.median(self.times) if self.times and self.error is None else None


class _Worker:
    """A ``benchmarks.worker`` process, spoken to one JSON line at a time."""

    def __init__(self, lib: str, workload: Workload, params: dict, options: argparse.Namespace, env: dict) -> None:
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the worker; closed in close()
        command = [sys.executable, "-m", "benchmarks.worker", lib, workload.id, json.dumps(params),
                   "--round-seconds", str(options.round_seconds), "--warmup-seconds", str(options.warmup_seconds)]
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, text=True, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self.stderr)

    def request(self, command: str | None = None) -> dict[str, Any]:
        if command is not None:
            try:
                self.process.stdin.write(command + "\n")
                self.process.stdin.flush()
            except BrokenPipeError:
                return {"error": self._crash("exited")}
        ready, _, _ = select.select([self.process.stdout], [], [], WORKER_TIMEOUT)
        if not ready:
            self.process.kill()
            return {"error": f"no answer within {WORKER_TIMEOUT:.0f} s"}
        line = self.process.stdout.readline()
        if not line:
            return {"error": self._crash("exited")}
        return json.loads(line)

    def _crash(self, what: str) -> str:
        code = self.process.wait()
        self.stderr.seek(0)
        lines = self.stderr.read().decode(errors="replace").strip().splitlines()
        return f"worker {what} with status {code}: {lines[-1] if lines else 'no message'}"

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.close()
                self.process.wait(timeout=30)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        self.stderr.close()


def measure_workload(workload: Workload, params: dict, libs: list[str], options: argparse.Namespace,
                     env: dict) -> dict[str, Measurement]:
    """Start one worker per library, then run interleaved rounds; returns each library's measurement."""
    results = {lib: Measurement() for lib in libs}
    workers = {lib: _Worker(lib, workload, params, options, env) for lib in libs}
    rounds = {}
    for lib, worker in workers.items():
        answer = worker.request()
        if "error" in answer:
            results[lib].error = answer["error"]
            continue
        results[lib].checksum = answer["checksum"]
        slow = answer["call"] > SLOW_CALL
        rounds[lib] = max(3, options.repeats // 3) if slow else options.repeats
    live = list(rounds)
    for r in range(max(rounds.values(), default=0)):
        shift = r % len(live) if live else 0
        for lib in live[shift:] + live[:shift]:
            if len(results[lib].times) >= rounds[lib] or results[lib].error:
                continue
            answer = workers[lib].request("run")
            if "error" in answer:
                results[lib].error = answer["error"]
            else:
                results[lib].times.append(answer["time"])
    for lib, worker in workers.items():
        if lib in rounds and results[lib].error is None:
            results[lib].maxrss = worker.request("quit").get("maxrss")
        worker.close()
    return results


def measure_imports(libs: list[str], runs: int, env: dict, warm_up: bool = True) -> dict[str, Measurement]:
    """W6: wall time of ``python -c "import X"`` (interpreter start included), interleaved; with ``warm_up``, one
    untimed run first (file cache, .pyc files). The key "python" holds ``python -c pass``, the interpreter alone."""
    commands = {"python": "pass"} | {lib: f"import {IMPORTS[lib]}" for lib in libs if lib in IMPORTS}
    # As installed packages are imported: from their .pyc files, which the warm-up run writes (an environment that
    # forbids writing them would time Python's compiler instead).
    env = {k: v for k, v in env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    results = {name: Measurement() for name in commands}
    failures: dict[str, list[str]] = {name: [] for name in commands}
    names = list(commands)
    with tempfile.TemporaryDirectory() as cwd:  # away from the source tree: import what is installed
        first = 0 if warm_up else 1
        for r in range(first, runs + 1):
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                start = time.perf_counter()
                done = subprocess.run([sys.executable, "-c", commands[name]], cwd=cwd, env=env, check=False,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                elapsed = time.perf_counter() - start
                if done.returncode != 0:
                    last = done.stderr.strip().splitlines()
                    failures[name].append(last[-1] if last else f"exit status {done.returncode}")
                elif r > 0:
                    results[name].times.append(elapsed)
    for name, errors in failures.items():
        if errors and not results[name].times:
            results[name].error = errors[-1]
        elif errors:  # e.g. a module caught half-edited while others work on the tree: reported, not fatal
            print(f"W6: {len(errors)} of {runs} imports of {name} failed ({errors[-1]})", file=sys.stderr)
    return results


def compare_checksums(results: dict[str, Measurement], rtol: float) -> tuple[str | None, dict[str, bool]]:
    """The reference library (the floor, else chainrule, else the first with a checksum) and, for each library
    with a checksum, whether it matches the reference to ``rtol`` (relative, per number)."""
    have = [lib for lib, m in results.items() if m.checksum is not None]
    if not have:
        return None, {}
    reference = next((lib for lib in (FLOOR, "chainrule") if lib in have), have[0])
    expected = np.asarray(results[reference].checksum, dtype=np.float64)
    agree = {}
    for lib in have:
        found = np.asarray(results[lib].checksum, dtype=np.float64)
        agree[lib] = found.shape == expected.shape and bool(np.allclose(found, expected, rtol=rtol, atol=0.0))
    return reference, agree


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _select(only: str | None) -> tuple[list[Workload], bool]:
    """The workloads named by ``--only`` (ids like W1 or keys like W1-b128), and whether W6 is included."""
    if not only:
        return list(WORKLOADS), True
    names = {name.strip() for name in only.split(",") if name.strip()}
    known = {w.id for w in WORKLOADS} | {w.key for w in WORKLOADS} | {"W6"}
    unknown = sorted(names - known)
    if unknown:
        raise SystemExit(f"--only: unknown workload(s) {', '.join(unknown)}; "
                         f"expected some of {', '.join(sorted(known))}")
    return [w for w in WORKLOADS if w.id in names or w.key in names], "W6" in names


def _libraries(requested: str | None) -> tuple[list[str], list[str]]:
    """(available, missing) among the requested libraries, in the table's order."""
    names = list(LIBRARIES) if not requested else [n.strip() for n in requested.split(",") if n.strip()]
    unknown = [n for n in names if n not in LIBRARIES]
    if unknown:
        raise SystemExit(f"--libs: unknown library {', '.join(unknown)}; expected some of {', '.join(LIBRARIES)}")
    ordered = [n for n in LIBRARIES if n in names]
    available = [n for n in ordered if importlib.util.find_spec(LIBRARIES[n].module) is not None]
    return available, [n for n in ordered if n not in available]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a few rounds: checks that all runs")
    parser.add_argument("--only", help="comma-separated workloads, e.g. W1,W3 or W4-n300 (default: all, W1–W6)")
    parser.add_argument("--libs", help="comma-separated libraries (default: all importable of "
                                        f"{', '.join(LIBRARIES)})")
    parser.add_argument("--repeats", type=int, help="interleaved timed rounds per library (default 15; 3 with --quick)")
    parser.add_argument("--round-seconds", type=float, help="length of one round (default 0.2 s; 0.002 s with --quick)")
    parser.add_argument("--warmup-seconds", type=float, help="warm-up after the checksum (default 0.5 s; 0 if --quick)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="directory for latest.md/.json/.png")
    parser.add_argument("--no-chart", action="store_true", help="skip the PNG bar chart")
    options = parser.parse_args(argv)
    defaults = (3, 0.002, 0.0) if options.quick else (15, 0.2, 0.5)
    for name, default in zip(("repeats", "round_seconds", "warmup_seconds"), defaults, strict=True):
        if getattr(options, name) is None:
            setattr(options, name, default)
    if options.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {options.repeats}")
    return options


def run(options: argparse.Namespace) -> dict[str, Any]:
    """Measure everything ``options`` selects; returns the results as plain data (what latest.json holds)."""
    workloads, with_imports = _select(options.only)
    libs, missing = _libraries(options.libs)
    log = sys.stderr
    if missing:
        print(f"not installed, skipped: {', '.join(missing)}", file=log)
    env = os.environ | THREAD_ENV
    started = time.perf_counter()
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {"cpu": _cpu_model(), "cores": os.cpu_count(), "system": f"{platform.system()} {platform.release()}",
                    "load_before": os.getloadavg()},
        "versions": _versions(),
        "settings": {"quick": options.quick, "repeats": options.repeats, "round_seconds": options.round_seconds,
                     "warmup_seconds": options.warmup_seconds, "threads": THREAD_ENV, "python": sys.executable},
        "libraries": libs, "missing": missing, "rows": [], "imports": None,
    }
    for workload in workloads:
        params = workload.quick if options.quick else workload.params
        if params is None:
            continue
        here = [lib for lib in workload.libs if lib in libs]
        print(f"{workload.key}: {', '.join(here)} ...", file=log, flush=True)
        measured = measure_workload(workload, params, here, options, env)
        reference, agree = compare_checksums(measured, workload.rtol)
        title = workload.title
        if options.quick:
            title = f"{workload.id} at quick sizes: " + ", ".join(f"{k} = {v}" for k, v in params.items())
        row = {"key": workload.key, "id": workload.id, "title": title, "short": workload.short, "unit": workload.unit,
               "params": params, "rtol": workload.rtol, "reference": reference, "libs": {}}
        for lib, m in measured.items():
            median = m.median
            row["libs"][lib] = {
                "median": None if median is None else workload.display(median, params), "seconds": median,
                "min": min(m.times) if m.times else None,
                "rounds": [workload.display(t, params) for t in m.times], "error": m.error,
                "checksum": m.checksum, "agrees": agree.get(lib), "maxrss": m.maxrss,
            }
            shown = f"{row['libs'][lib]['median']:.4g} {workload.unit}" if median is not None else m.error
            flag = "" if agree.get(lib, True) else "  ✗ checksum disagrees"
            print(f"  {lib:>12}: {shown}{flag}", file=log, flush=True)
        results["rows"].append(row)
    if with_imports:
        print("W6: python -c 'import X' ...", file=log, flush=True)
        measured = measure_imports(libs, options.repeats, env, warm_up=not options.quick)
        results["imports"] = {name: {"median": None if m.median is None else m.median * 1e3,
                                     "rounds": [t * 1e3 for t in m.times], "error": m.error}
                              for name, m in measured.items()}
    results["machine"]["load_after"] = os.getloadavg()
    results["elapsed_seconds"] = time.perf_counter() - started
    return results


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    results = run(options)
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "latest.md").write_text(report.markdown(results))
    print(f"wrote {out / 'latest.md'} and {out / 'latest.json'}", file=sys.stderr)
    if not options.no_chart:
        print(report.chart(results, out / "latest.png"), file=sys.stderr)
    disagreements = report.disagreements(results)
    for line in disagreements:
        print(f"checksum disagreement: {line}", file=sys.stderr)
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
