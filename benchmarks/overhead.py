"""Per-operation overhead of the engine: what an op and its backward cost beyond the NumPy call itself.

Run: ``python -m benchmarks.overhead`` (prints a Markdown table). Every speed target stands on these numbers:
the time of one recorded op and of its backward step, against the bare NumPy ufunc on the same data.
Medians of interleaved repeats, one thread.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import platform
import statistics
import sys
import time

import numpy as np

import chainrule as cr


def _median_time(fn, number: int, repeats: int = 7) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return statistics.median(times)


def per_op(size: int, number: int = 2000) -> dict[str, float]:
    """Seconds per multiply: bare NumPy, chainrule without grad, with a recorded node, and its backward step."""
    a = np.random.default_rng(0).standard_normal(size) if size else np.float64(1.5)
    a = np.asarray(a)
    b = a + 1.0
    ta, tb = cr.tensor(a), cr.tensor(b)
    ga, gb = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)

    seed = np.ones_like(a)

    def backward_of_chain(number: int) -> float:
        """Seconds of backward alone per call, each on a freshly built chain of 10 multiplies."""
        total = 0.0
        for _ in range(number):
            y = forward_chain()
            start = time.perf_counter()
            y.backward(seed)
            total += time.perf_counter() - start
        return total / number

    def forward_chain():
        y = ga * gb
        for _ in range(9):
            y = y * gb
        return y

    numpy_time = _median_time(lambda: np.multiply(a, b), number)
    plain = _median_time(lambda: ta * tb, number)
    recorded = _median_time(lambda: ga * gb, number)
    backward10 = statistics.median(backward_of_chain(number // 10) for _ in range(7))
    return {
        "numpy": numpy_time,
        "no_grad": plain,
        "recorded": recorded,
        "backward_per_node": backward10 / 10,
    }


def scalar_graph(nodes: int = 10_000) -> float:
    """Seconds per node for a forward + backward pass of a scalar graph of +, *, tanh, exp (the W2 workload)."""
    rng = np.random.default_rng(0)
    consts = rng.uniform(-0.5, 0.5, size=nodes // 4)

    def run():
        x = cr.tensor(0.3, requires_grad=True)
        y = x
        for c in consts:
            y = cr.tanh(y * c + 0.1)
            y = cr.exp(y * 0.1)
        y.backward()

    return _median_time(run, 1, repeats=5) / nodes


def chain(depth: int = 100_000) -> float:
    """Seconds for forward + backward of y <- 0.999*y + 0.001, depth 100,000 (the W5 workload)."""

    def run():
        x = cr.tensor(1.0, requires_grad=True)
        y = x
        for _ in range(depth):
            y = y * 0.999 + 0.001
        y.backward()

    return _median_time(run, 1, repeats=3)


def main() -> None:
    print(f"chainrule {cr.__version__}, NumPy {np.__version__}, Python {platform.python_version()}, "
          f"{platform.machine()}, {os.cpu_count()} cores, one thread\n")
    print("| multiply of | NumPy ufunc | chainrule, no graph | chainrule, recorded | backward step per node |")
    print("|---|---|---|---|---|")
    for size in (0, 1000, 100_000):
        r = per_op(size, number=2000 if size < 100_000 else 200)
        label = "0-d" if size == 0 else f"{size:,} float64"
        print(f"| {label} | {r['numpy'] * 1e6:.2f} µs | {r['no_grad'] * 1e6:.2f} µs | {r['recorded'] * 1e6:.2f} µs "
              f"| {r['backward_per_node'] * 1e6:.2f} µs |")
    print(f"\nScalar graph of 10k nodes (+, *, tanh, exp), forward + backward: {scalar_graph() * 1e6:.2f} µs per node")
    print(f"Chain y <- 0.999*y + 0.001 of depth 100,000, forward + backward: {chain() * 1e3:.0f} ms")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
