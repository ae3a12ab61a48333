"""``chainrule explain-net``: the interactive page for the text's single sigmoid neuron, or for a small network.

``chainrule explain-net --model neuron --html neuron.html`` explains y = σ(w·x + b) at w = 0.5, x = 2, b = −1;
``--model mlp`` a 2-layer MLP (Linear(3, 4), Sigmoid, Linear(4, 2)) with the cross-entropy of 5 samples, its steps
grouped by layer. The page is one self-contained HTML file: open it in any current browser, offline.
"""

from __future__ import annotations

import argparse

import numpy as np

from ..errors import ChainruleError
from ..explain.steps import explain, fmt
from .derive import fail, html_path, write_page
from .options import seed_option

MODELS = ("neuron", "mlp")
NEURON = "sigmoid(w*x + b)"
NEURON_POINT = {"w": 0.5, "x": 2.0, "b": -1.0}


def add_arguments(parser_: argparse.ArgumentParser) -> None:
    """The arguments of ``chainrule explain-net``."""
    parser_.add_argument(
        "--model",
        choices=MODELS,
        default="neuron",
        help="neuron: σ(w·x + b) at w=0.5, x=2, b=-1; mlp: Linear(3, 4), Sigmoid, Linear(4, 2) "
        "with cross-entropy on 5 samples (default neuron)",
    )
    parser_.add_argument("--html", metavar="FILE", required=True, help="the page to write (.html)")
    parser_.add_argument("--seed", type=seed_option, default=0, help="seed for the MLP's weights and data")


def explain_neuron():
    """The explanation of the text's single neuron, σ(w·x + b) at w = 0.5, x = 2, b = −1, and its page title."""
    return explain(NEURON, **NEURON_POINT), None


def explain_mlp(seed: int = 0):
    """A 2-layer MLP's cross-entropy on 5 samples, explained (steps grouped by layer), and its page title."""
    from .. import nn

    net = nn.Sequential(nn.Linear(3, 4, seed=seed), nn.Sigmoid(), nn.Linear(4, 2, seed=seed + 1))
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(5, 3))
    labels = np.array([0, 1, 1, 0, 1])
    e = explain(lambda x: nn.functional.cross_entropy(net(x), labels), x=x)
    title = "A 2-layer MLP: cross-entropy of Linear(3, 4) → Sigmoid → Linear(4, 2) on 5 samples"
    return e, title


def run(args: argparse.Namespace) -> int:
    """Run ``chainrule explain-net``: write the page, print where it is and the gradients."""
    try:
        path = html_path(args.html)
        e, title = explain_neuron() if args.model == "neuron" else explain_mlp(args.seed)
        write_page(e, path, title=title)
    except (ChainruleError, ValueError, TypeError, OSError) as exc:
        return fail("explain-net", exc)
    print(f"{title or f'f = {e.expression}'}: value {fmt(e.value)}")
    for name, g in e.gradients.items():
        print(f"  ∂f/∂{name} = {fmt(g)}")
    print(f"page: {path} (open it in a browser; step with ← →)")
    return 0
