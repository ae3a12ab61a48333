"""The workloads W1–W6 of issue 5, W7 and W8 of issue 12, W9 of issue 10, and the libraries that run them.

Every workload module (``mlp``, ``scalar_graph``, ``elementwise``, ``hessian``, ``chain``, ``charlm``, ``lstm``,
``gp``) has a table ``IMPLEMENTATIONS`` mapping a library name to a builder, and ``make_case(lib, params) -> Case``.
A Case holds the timed unit of work and a checksum: numbers computed from a fresh, seeded state that every library
must reproduce. W6 (import time and memory) needs no implementation: the runner measures it from outside.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Library:
    """A library as the runner knows it: the module that must be importable, and its column label."""

    name: str
    module: str
    label: str


LIBRARIES: dict[str, Library] = {lib.name: lib for lib in (
    Library("numpy", "numpy", "floor"),
    Library("numpy-default-heap", "numpy", "floor, glibc heap defaults"),
    Library("numpy-after-chainrule", "chainrule", "floor after import chainrule"),
    Library("chainrule", "chainrule", "chainrule"),
    Library("chainrule-nn", "chainrule", "chainrule nn+optim"),
    Library("torch", "torch", "torch eager"),
    Library("jax", "jax", "jax.jit"),
    Library("jax-eager", "jax", "jax eager"),
    Library("autograd", "autograd", "HIPS autograd"),
    Library("micrograd", "micrograd", "micrograd"),
)}
FLOOR = "numpy"

# Worker argument -> workload module.
MODULES = {"W1": "mlp", "W2": "scalar_graph", "W3": "elementwise", "W4": "hessian", "W5": "chain", "W7": "charlm",
           "W8": "lstm", "W9": "gp"}

_ARRAY_PEERS = ("numpy", "chainrule", "torch", "jax", "jax-eager", "autograd")
_ELEMENTWISE_PEERS = ("numpy", "numpy-default-heap", "numpy-after-chainrule", *_ARRAY_PEERS[1:])
_SCALAR_PEERS = ("numpy", "chainrule", "torch", "jax", "autograd", "micrograd")
_GP_PEERS = ("numpy", "chainrule", "torch", "jax", "autograd")  # the floor and chainrule need SciPy
_MLP_SIZES = [784, 256, 256, 10]


@dataclass(frozen=True)
class Workload:
    """One row of the table: a workload at one size.

    ``rtol`` is the tolerance for the checksums (float32 or float64 arithmetic, in different orders). ``per`` names
    a parameter the time is divided by (W2 reports time per node). ``quick`` holds the tiny sizes of ``--quick``;
    None leaves the row out of a quick run.
    """

    key: str
    id: str
    title: str
    short: str  # the chart's label
    params: dict[str, Any]
    quick: dict[str, Any] | None
    libs: tuple[str, ...]
    rtol: float
    unit: str = "ms"
    per: str | None = None

    def display(self, seconds: float, params: dict[str, Any]) -> float:
        """A time in this row's unit (ms per call, or µs per node)."""
        if self.per is None:
            return seconds * 1e3
        return seconds * 1e6 / params[self.per]


WORKLOADS: tuple[Workload, ...] = (
    Workload("W1-b128", "W1", "W1 MLP 784-256-256-10 training step (cross-entropy + SGD), float32, batch 128",
             "W1 MLP\nbatch 128",
             {"batch": 128, "sizes": _MLP_SIZES}, {"batch": 16, "sizes": [64, 32, 32, 10]},
             ("numpy", "chainrule", "chainrule-nn", "torch", "jax", "jax-eager", "autograd"), rtol=1e-5),
    Workload("W1-b1024", "W1", "W1 same, batch 1024", "W1 MLP\nbatch 1024", {"batch": 1024, "sizes": _MLP_SIZES}, None,
             ("numpy", "chainrule", "chainrule-nn", "torch", "jax", "jax-eager", "autograd"), rtol=1e-5),
    Workload("W1-tiny", "W1", "W1 tiny: MLP 64-32-32-10, batch 32 (Python overhead)", "W1 MLP\ntiny",
             {"batch": 32, "sizes": [64, 32, 32, 10]}, None,
             ("numpy", "chainrule", "chainrule-nn", "torch", "jax", "jax-eager", "autograd"), rtol=1e-5),
    Workload("W2", "W2", "W2 scalar graph of 10k nodes (+, *, tanh, exp), forward + backward", "W2 scalar\ngraph",
             {"nodes": 10_000}, {"nodes": 200}, _SCALAR_PEERS, rtol=1e-9, unit="µs/node", per="nodes"),
    Workload("W3", "W3", "W3 Σ sin(x)e^(−x²) + tanh(x)log1p(x²), value + gradient, 1e6 float32", "W3 element-\nwise",
             {"n": 1_000_000, "dtype": "float32"}, {"n": 1000, "dtype": "float32"}, _ELEMENTWISE_PEERS, rtol=1e-5),
    Workload("W3-f64", "W3", "W3 same, float64", "W3 float64", {"n": 1_000_000, "dtype": "float64"}, None,
             _ELEMENTWISE_PEERS, rtol=1e-9),
    Workload("W4-n100", "W4", "W4 Hessian of Σ tanh(Ax) + ½‖x‖², n = 100, float64", "W4 Hessian\nn = 100",
             {"n": 100}, {"n": 8},
             _ARRAY_PEERS, rtol=1e-9),
    Workload("W4-n300", "W4", "W4 same, n = 300", "W4 Hessian\nn = 300", {"n": 300}, None, _ARRAY_PEERS, rtol=1e-9),
    Workload("W5", "W5", "W5 chain y ← 0.999·y + 0.001, depth 100,000, forward + backward", "W5 chain\ndepth 1e5",
             {"depth": 100_000}, {"depth": 500}, _SCALAR_PEERS, rtol=1e-9),
    Workload("W7", "W7", "W7 char transformer (4 layers, width 128, context 64, batch 32) AdamW step, float32",
             "W7 char\ntransformer", {"vocab": 65, "context": 64, "width": 128, "layers": 4, "heads": 4, "batch": 32},
             {"vocab": 11, "context": 8, "width": 16, "layers": 2, "heads": 2, "batch": 4},
             ("chainrule-nn", "torch"), rtol=2e-4),
    Workload("W8", "W8", "W8 LSTM (input 128, hidden 256, sequence 50, batch 32) forward + backward, float32",
             "W8 LSTM", {"input_size": 128, "hidden": 256, "length": 50, "batch": 32},
             {"input_size": 6, "hidden": 8, "length": 5, "batch": 3}, ("numpy", "chainrule-nn", "torch"), rtol=2e-4),
    Workload("W9-n300", "W9", "W9 Gaussian-process NLML (RBF, Cholesky) + gradient in 3 hyperparameters, n = 300, "
             "float64", "W9 GP\nn = 300", {"n": 300}, None, _GP_PEERS, rtol=1e-8),
    Workload("W9-n1000", "W9", "W9 same, n = 1000", "W9 GP\nn = 1000", {"n": 1000}, None, _GP_PEERS, rtol=1e-8),
)

# W6: which module `python -c "import X"` imports for each column.
IMPORTS = {"numpy": "numpy", "chainrule": "chainrule", "torch": "torch", "jax": "jax", "autograd": "autograd",
           "micrograd": "micrograd"}


@dataclass
class Case:
    """What a worker times: ``step()`` runs one unit of work and waits for its result; ``checksum()`` computes the
    numbers every library must agree on, from fresh seeded inputs (it also serves as the first warm-up)."""

    step: Callable[[], Any]
    checksum: Callable[[], list[float]]


def make_case(workload_id: str, lib: str, params: dict[str, Any]) -> Case:
    """The Case of ``lib`` on a workload ("W1".."W5"); imports the library."""
    if workload_id not in MODULES:
        raise ValueError(f"unknown workload {workload_id!r}; expected one of {', '.join(MODULES)}")
    module = importlib.import_module(f"{__name__}.{MODULES[workload_id]}")
    if lib not in module.IMPLEMENTATIONS:
        raise ValueError(f"{workload_id} has no implementation for {lib!r}; it has {', '.join(module.IMPLEMENTATIONS)}")
    return module.make_case(lib, params)


def jax_modules():
    """jax and jax.numpy with float64 enabled (W2, W4, W5 are float64; W1 and W3 pass float32 arrays explicitly)."""
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax, jax.numpy
