"""The floor of the scalar workloads (W2, W5): a bare Python tape on floats.

The forward pass appends one edge (node, parent, local derivative) per input of each node, in creation order, so
every edge into a node's consumers comes after the node's own edges; one reversed sweep then applies the chain rule.
No classes and no checks: what any scalar engine must at least do.
"""

from __future__ import annotations

import math


def sweep(tape: list[tuple[int, int, float]], n_nodes: int, output: int, wrt: int = 0) -> float:
    """d output / d wrt, by accumulating upstream · local derivative along the tape, last edge first."""
    grads = [0.0] * n_nodes
    grads[output] = 1.0
    for node, parent, local in reversed(tape):
        grads[parent] += local * grads[node]
    return grads[wrt]


def scalar_graph(x: float, constants: list[float]) -> tuple[float, float]:
    """W2: y ← exp(0.1·tanh(y·c + x)) for each c; returns (y, dy/dx). Node 0 is x."""
    tape: list[tuple[int, int, float]] = []
    edge = tape.append
    y, y_id, n = x, 0, 1
    for c in constants:
        m = y * c
        edge((n, y_id, c))
        s = m + x
        edge((n + 1, n, 1.0))
        edge((n + 1, 0, 1.0))
        t = math.tanh(s)
        edge((n + 2, n + 1, 1.0 - t * t))
        u = t * 0.1
        edge((n + 3, n + 2, 0.1))
        y = math.exp(u)
        edge((n + 4, n + 3, y))
        y_id, n = n + 4, n + 5
    return y, sweep(tape, n, y_id)


def chain(x: float, depth: int) -> tuple[float, float]:
    """W5: y ← 0.999·y + 0.001, ``depth`` times; returns (y, dy/dx)."""
    tape: list[tuple[int, int, float]] = []
    edge = tape.append
    y, n = x, 1
    for _ in range(depth):
        y = y * 0.999 + 0.001
        edge((n, n - 1, 0.999))
        edge((n + 1, n, 1.0))
        n += 2
    return y, sweep(tape, n, n - 1)
