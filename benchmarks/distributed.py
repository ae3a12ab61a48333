"""Data-parallel scaling: W1 (MLP 784-256-256-10, cross-entropy, SGD, float32) at batch 1024 *per process*, in
one process and in two under ``mpiexec -n 2`` (one BLAS thread each), through cr.nn, cr.optim and
cr.distributed.DataParallel.

    python -m benchmarks.distributed [--steps 40] [--rounds 7] [--batch 1024] [--out benchmarks/results]

Weak scaling: each process keeps its batch, so ideal is the same step time with 2x the samples per second.
Efficiency = t(1 process) / t(2 processes). A third case, two processes that never synchronise (``no_sync``),
separates the cost of sharing the machine (memory bandwidth, the cores) from the cost of the Allreduce. Configurations
are run in interleaved rounds, medians reported. Writes ``distributed.md``, ``distributed.json`` and
``distributed.png`` (matplotlib) to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CONFIGS = (("1 process", 1, True), ("2 processes", 2, True), ("2 processes, no sync", 2, False))
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def worker(steps: int, batch: int, sync: bool) -> None:
    """One process of a run: time ``steps`` training steps after a warm-up; rank 0 prints a JSON line."""
    import chainrule as cr
    from benchmarks.workloads import data

    dist = cr.distributed
    setup = data.mlp(batch, [784, 256, 256, 10], n_batches=4)
    net = cr.nn.Sequential(
        cr.nn.Linear(784, 256), cr.nn.ReLU(), cr.nn.Linear(256, 256), cr.nn.ReLU(), cr.nn.Linear(256, 10)
    )
    for p, value in zip(net.parameters(), setup.params, strict=True):
        p.data = value.copy()
    model = dist.DataParallel(net)
    opt = cr.optim.SGD(model.parameters(), lr=setup.lr)
    reduce_seconds = []
    plain_sync = model.sync_gradients

    def timed_sync() -> None:
        start = time.perf_counter()
        plain_sync()
        reduce_seconds.append(time.perf_counter() - start)

    model.sync_gradients = timed_sync
    # Each process its own batches (rank r starts r batches later in the cycle).
    batches = [(cr.tensor(x), y) for x, y in setup.batches]
    batches = batches[dist.rank() :] + batches[: dist.rank()]

    def step(i: int) -> float:
        x, y = batches[i % len(batches)]
        opt.zero_grad()
        if sync:
            loss = cr.nn.functional.cross_entropy(model(x), y)
        else:
            with model.no_sync():
                loss = cr.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    for i in range(5):
        step(i)
    dist.barrier()
    reduce_seconds.clear()
    times = []
    for i in range(steps):
        start = time.perf_counter()
        step(i)
        times.append(time.perf_counter() - start)
    per_rank = dist.all_reduce(np.array([statistics.median(times)]), op="max")[0]  # the slowest sets the pace
    # In a step, the Allreduce also waits for the slower process; alone, after a barrier, it is the transfer.
    reduce = statistics.median(reduce_seconds) if reduce_seconds else 0.0
    alone = []
    if sync and dist.world_size() > 1:
        world = dist.comm._get()
        buffer = model._flat[1][0].array
        for _ in range(20):
            dist.barrier()
            start = time.perf_counter()
            world.comm.Allreduce(world.mpi.IN_PLACE, buffer, op=world.mpi.SUM)
            alone.append(time.perf_counter() - start)
    if dist.rank() == 0:
        print(
            json.dumps(
                {
                    "step": float(per_rank),
                    "allreduce": reduce,
                    "allreduce_alone": statistics.median(alone) if alone else 0.0,
                    "bytes": int(sum(p.data.nbytes for p in net.parameters())),
                    "world": dist.world_size(),
                }
            ),
            flush=True,
        )


def _mpiexec() -> str:
    found = Path(sys.executable).parent / "mpiexec"
    if not found.exists():
        sys.exit("benchmarks.distributed needs mpiexec next to Python: pip install 'chainrule[distributed]'")
    return str(found)


def run(steps: int, rounds: int, batch: int, out: Path) -> dict:
    env = dict(os.environ, **{name: "1" for name in THREAD_VARIABLES})
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    samples: dict[str, list[dict]] = {name: [] for name, _, _ in CONFIGS}
    load_before = os.getloadavg()[0]
    for _ in range(rounds):
        for name, processes, sync in CONFIGS:
            command = [
                _mpiexec(),
                "-n",
                str(processes),
                sys.executable,
                "-m",
                "benchmarks.distributed",
                "--worker",
                "--steps",
                str(steps),
                "--batch",
                str(batch),
            ] + ([] if sync else ["--no-sync"])
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=True)
            samples[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
    load_after = os.getloadavg()[0]
    summary = {
        name: {
            "step_ms": 1e3 * statistics.median(s["step"] for s in runs),
            "allreduce_ms": 1e3 * statistics.median(s["allreduce"] for s in runs),
            "allreduce_alone_ms": 1e3 * statistics.median(s["allreduce_alone"] for s in runs),
            "bytes": runs[0]["bytes"],
            "spread": max(s["step"] for s in runs) / min(s["step"] for s in runs) - 1,
            "processes": processes,
        }
        for (name, processes, _), runs in zip(CONFIGS, samples.values(), strict=True)
    }
    for entry in summary.values():
        entry["samples_per_s"] = entry["processes"] * batch / entry["step_ms"] * 1e3
    t1, t2 = summary["1 process"]["step_ms"], summary["2 processes"]["step_ms"]
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "batch_per_process": batch,
        "steps": steps,
        "rounds": rounds,
        "efficiency": t1 / t2,
        "speedup": 2 * t1 / t2,
        "load_average": [load_before, load_after],
        "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "summary": summary,
        "rounds_raw": samples,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "distributed.json").write_text(json.dumps(result, indent=1))
    (out / "distributed.md").write_text(report(result))
    plot(result, out / "distributed.png")
    return result


def report(result: dict) -> str:
    lines = [
        "# Data-parallel scaling (W1 through cr.distributed.DataParallel)",
        "",
        f"- date: {result['date']}; {result['cpus']} cores; load average {result['load_average'][0]:.2f} before, "
        f"{result['load_average'][1]:.2f} after",
        f"- W1 MLP 784-256-256-10, float32, cross-entropy + SGD, batch {result['batch_per_process']} per process; "
        f"one BLAS thread per process; MPICH from PyPI; medians of {result['rounds']} interleaved runs of "
        f"{result['steps']} steps",
        "",
        "| configuration | step (ms) | Allreduce in the step (ms) | Allreduce alone (ms) | samples/s | spread |",
        "|---|---|---|---|---|---|",
    ]
    for name, entry in result["summary"].items():
        synced = entry["processes"] > 1 and "no sync" not in name
        reduce = f"{entry['allreduce_ms']:.2f} | {entry['allreduce_alone_ms']:.2f}" if synced else "— | —"
        lines.append(
            f"| {name} | {entry['step_ms']:.1f} | {reduce} | {entry['samples_per_s']:,.0f} | {entry['spread']:.0%} |"
        )
    size = result["summary"]["2 processes"]["bytes"] / 2**20
    lines += [
        "",
        f'The gradients are {size:.2f} MiB of float32, reduced in one Allreduce per step. "In the step" '
        'includes waiting for the slower process; "alone" is timed right after a barrier.',
    ]
    lines += [
        "",
        f"Scaling efficiency (1 process's step time ÷ 2 processes'): **{result['efficiency']:.0%}**, a "
        f"speed-up of {result['speedup']:.2f}× in samples per second.",
        "",
    ]
    return "\n".join(lines)


def plot(result: dict, path: Path) -> None:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        print("(no plot: matplotlib is not installed)")
        return
    figure = Figure(figsize=(6.4, 3.2))
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    names = list(result["summary"])
    rates = [result["summary"][n]["samples_per_s"] for n in names]
    bars = axes.barh(names[::-1], rates[::-1], color=["0.6", "tab:blue", "tab:green"][::-1])
    ideal = 2 * result["summary"]["1 process"]["samples_per_s"]
    axes.axvline(ideal, color="0.3", ls="--", lw=1)
    axes.text(ideal, len(names) - 0.55, "ideal for 2 ", va="top", ha="right", fontsize=8, color="0.3")
    for bar, rate in zip(bars, rates[::-1], strict=True):
        axes.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {rate:,.0f}", va="center", fontsize=8)
    axes.set_xlabel("samples per second (W1, batch 1024 per process, 1 thread each)")
    axes.set_xlim(0, ideal * 1.15)
    axes.set_title(f"DataParallel over MPI: scaling efficiency {result['efficiency']:.0%}", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-sync", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.steps, args.batch, not args.no_sync)
        return
    result = run(args.steps, args.rounds, args.batch, args.out)
    print(report(result))


if __name__ == "__main__":
    main()
