"""W1 on a GPU (or any Array API library): chainrule training an MLP with its parameters in CuPy or PyTorch.

Run on a machine with a GPU (README, "GPUs and other array libraries"):

    pip install cupy-cuda12x        # or a CUDA build of torch
    python -m benchmarks.gpu --library cupy
    python -m benchmarks.gpu --library torch --device cuda
    python -m benchmarks.gpu --library array_api_strict --batch 8 --width 16 --steps 2   # a smoke test on a CPU

For each batch size and width: the median time of one training step (784-W-W-10 ReLU MLP, mean cross-entropy,
plain SGD, float32), the per-op overhead (chainrule's add on a one-element array against the library's own), the
peak device memory, and the host↔device transfers per step, counted by wrapping the library's transfer functions.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time

import numpy as np

import chainrule as cr

BATCHES = (128, 512, 2048, 8192)
WIDTHS = (256, 1024, 4096)


class Library:
    """One array library: moving arrays onto its device, synchronising, memory, and the transfer counter."""

    def __init__(self, name: str, device: str | None) -> None:
        self.name, self.transfers = name, 0
        if name == "cupy":
            import cupy

            self.module, self.target = cupy, cupy
            self.put = cupy.asarray
        elif name == "torch":
            import torch

            device = device or ("cuda" if torch.cuda.is_available() else "cpu")
            self.module, self.target = torch, torch.device(device)
            self.put = lambda a: torch.asarray(a, device=self.target)
        elif name == "array_api_strict":
            import array_api_strict

            self.module = array_api_strict
            self.target = array_api_strict.Device(device or "device1")  # device1 raises on hidden transfers
            self.put = lambda a: array_api_strict.asarray(a, device=self.target)
        else:
            raise SystemExit(f"unknown library {name!r}; expected cupy, torch or array_api_strict")
        self._count_transfers()

    def _count(self, owner, name: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def counted(*args, **kwargs):
            if name not in ("asarray", "as_tensor", "tensor") or any(isinstance(a, np.ndarray | list)
                                                                      for a in args[:1]):
                self.transfers += 1  # asarray counts only when it is given host data
            return original(*args, **kwargs)

        setattr(owner, name, counted)

    def _count_transfers(self) -> None:
        if self.name == "cupy":
            for name in ("asnumpy", "asarray"):
                self._count(self.module, name)
            for name in ("get", "item", "tolist"):
                self._count(self.module.ndarray, name)
        elif self.name == "torch":
            for name in ("asarray", "as_tensor", "tensor"):
                self._count(self.module, name)
            for name in ("cpu", "numpy", "item", "tolist", "__array__"):
                self._count(self.module.Tensor, name)
        else:
            self._count(self.module, "asarray")
            for name in ("__array__", "__float__", "__int__", "__bool__"):
                self._count(type(self.module.asarray(0.0)), name)

    def synchronize(self) -> None:
        if self.name == "cupy":
            self.module.cuda.Device().synchronize()
        elif self.name == "torch" and self.target.type == "cuda":
            self.module.cuda.synchronize()

    def reset_peak(self) -> None:
        if self.name == "torch" and self.target.type == "cuda":
            self.module.cuda.reset_peak_memory_stats()

    def peak_memory(self) -> str:
        if self.name == "torch" and self.target.type == "cuda":
            return f"{self.module.cuda.max_memory_allocated() / 2**20:.1f} MiB"
        if self.name == "cupy":
            return f"{self.module.get_default_memory_pool().total_bytes() / 2**20:.1f} MiB (pool)"
        return "n/a (host)"


def mlp(width: int, seed: int = 0) -> cr.nn.Module:
    return cr.nn.Sequential(cr.nn.Linear(784, width, seed=seed), cr.nn.ReLU(),
                            cr.nn.Linear(width, width, seed=seed + 1), cr.nn.ReLU(),
                            cr.nn.Linear(width, 10, seed=seed + 2))


def run(lib: Library, batch: int, width: int, steps: int) -> dict:
    rng = np.random.default_rng(0)
    net = mlp(width).to(lib.target)
    x = cr.tensor(lib.put(rng.standard_normal((batch, 784)).astype(np.float32)))
    labels = rng.integers(0, 10, batch)  # NumPy labels: moved to the device once per step (one transfer)
    optimizer = cr.optim.SGD(net.parameters(), lr=0.01)

    def step():
        optimizer.zero_grad()
        loss = cr.nn.functional.cross_entropy(net(x), labels)
        loss.backward()
        optimizer.step()
        return loss

    step()  # warm-up (allocator, kernels)
    lib.synchronize()
    lib.reset_peak()
    times, transfers = [], []
    for _ in range(steps):
        before = lib.transfers
        start = time.perf_counter()
        loss = step()
        lib.synchronize()
        times.append(time.perf_counter() - start)
        transfers.append(lib.transfers - before)
    return {"step": statistics.median(times), "transfers": max(transfers), "memory": lib.peak_memory(),
            "loss": loss}


def op_overhead(lib: Library, n: int = 2000) -> tuple[float, float]:
    """Seconds per add on a one-element array: through chainrule, and the library's own."""
    raw = lib.put(np.ones(1, dtype=np.float32))
    t = cr.tensor(raw)
    for _ in range(10):
        t + t
        raw + raw
    lib.synchronize()
    start = time.perf_counter()
    for _ in range(n):
        t + t
    lib.synchronize()
    ours = (time.perf_counter() - start) / n
    start = time.perf_counter()
    for _ in range(n):
        raw + raw
    lib.synchronize()
    return ours, (time.perf_counter() - start) / n


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--library", default="cupy", help="cupy, torch or array_api_strict")
    parser.add_argument("--device", default=None, help="torch: cuda (default when available) or cpu")
    parser.add_argument("--batch", type=int, nargs="*", default=BATCHES)
    parser.add_argument("--width", type=int, nargs="*", default=WIDTHS)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args(argv)
    lib = Library(args.library, args.device)
    ours, theirs = op_overhead(lib)
    print(f"library {args.library}, device {lib.target!r}")
    print(f"per-op overhead (add, 1 element): chainrule {ours * 1e6:.1f} µs, {args.library} {theirs * 1e6:.1f} µs, "
          f"overhead {(ours - theirs) * 1e6:.1f} µs")
    print(f"{'batch':>6} {'width':>6} {'step time':>12} {'peak memory':>18} {'transfers per step':>19}")
    for width in args.width:
        for batch in args.batch:
            result = run(lib, batch, width, args.steps)
            print(f"{batch:>6} {width:>6} {result['step'] * 1e3:>9.2f} ms {result['memory']:>18} "
                  f"{result['transfers']:>19}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
