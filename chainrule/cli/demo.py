"""``chainrule demo``: the text's story end to end.

The table of derivatives checked live, a single sigmoid neuron explained step by step and trained by gradient
descent, and a short network trained on the bundled digits.
"""

from __future__ import annotations

import argparse
import math
import time

from ..errors import ChainruleError
from ..explain.steps import explain, fmt
from .derive import fail
from .options import seed_option


def add_arguments(parser_: argparse.ArgumentParser) -> None:
    """The arguments of ``chainrule demo``."""
    parser_.add_argument("--seed", type=seed_option, default=0, help="seed for the sample points and the network")
    parser_.add_argument("--no-train", action="store_true", help="skip the network training at the end")


def _section(title: str) -> str:
    return f"\n{title}\n{'=' * len(title)}\n"


def demo_table(seed: int = 0) -> tuple[str, bool]:
    """Part 1: the elementwise table of derivatives, each checked live against a central difference."""
    from ..rulecheck import check_all, format_table
    from ..rules.registry import ELEMENTWISE, lookup

    rows = check_all(seed=seed)
    table_rows = [r for r in rows if lookup(r.rule).kind == ELEMENTWISE]
    failed = [r for r in rows if not r.ok]
    text = format_table(table_rows)
    text += (f"\n\n{len(table_rows)} elementwise derivatives shown; {len(rows) - len(failed)} of {len(rows)} rules "
             f"in the whole table OK" + (f", {len(failed)} FAILED" if failed else "")
             + " (chainrule rules prints them all)")
    return text, not failed


NEURON = "(sigmoid(w*x + b) - t)**2"


def demo_neuron(steps: int = 5, lr: float = 2.0) -> str:
    """Part 2: one sigmoid neuron y = σ(w·x + b), the loss L = (y − t)², explained, then trained a few steps."""
    w, b, x, t = 0.5, -1.0, 2.0, 1.0
    u = w * x + b
    y = 1 / (1 + math.exp(-u))
    dldy = 2 * (y - t)
    dydu = y * (1 - y)
    lines = [
        "A single neuron: y = σ(u) with u = w·x + b; for one example the MSE loss is L = (y − t)².",
        f"Input x = {fmt(x)}, target t = {fmt(t)}, weight w = {fmt(w)}, bias b = {fmt(b)}.",
        "",
        "Forward:   u = w·x + b = " + f"{fmt(w)}·{fmt(x)} + ({fmt(b)}) = {fmt(u)}",
        f"           y = σ(u) = {fmt(y)}",
        f"           L = (y − t)² = {fmt((y - t) ** 2)}",
        "Backward:  dL/dy = 2(y − t) = " + fmt(dldy),
        f"           σ'(u) = σ(u)(1−σ(u)) = {fmt(y)}·{fmt(1 - y)} = {fmt(dydu)}",
        f"           dL/du = dL/dy · σ'(u) = {fmt(dldy)} · {fmt(dydu)} = {fmt(dldy * dydu)}",
        f"           dL/dw = dL/du · x = {fmt(dldy * dydu * x)},  dL/db = dL/du · 1 = {fmt(dldy * dydu)}",
        "",
        "The same, step by step from chainrule's own graph (t is a variable too):",
        "",
    ]
    e = explain(NEURON, w=w, x=x, b=b, t=t)
    lines.append(e.to_text())
    lines += ["", f"Gradient descent on w and b (learning rate {fmt(lr)}): w ← w − lr·dL/dw, b ← b − lr·dL/db", ""]
    for k in range(steps + 1):
        e = explain(NEURON, w=w, x=x, b=b, t=t)
        gw, gb = e.gradients["w"], e.gradients["b"]
        lines.append(f"  step {k}:  w = {w:+.4f}  b = {b:+.4f}  y = {_neuron_output(w, b, x):.4f}  "
                     f"L = {e.value:.5f}  dL/dw = {gw:+.5f}  dL/db = {gb:+.5f}")
        w, b = w - lr * gw, b - lr * gb
    lines.append("  the loss falls as y moves toward the target t.")
    lines.append("")
    lines.append("To step through this neuron's graph in a browser: chainrule explain-net --model neuron --html "
                 "neuron.html (--model mlp for a 2-layer network).")
    return "\n".join(lines)


def _neuron_output(w: float, b: float, x: float) -> float:
    return 1 / (1 + math.exp(-(w * x + b)))


def demo_training(seed: int = 0) -> str:
    """Part 3: ``chainrule train``'s MLP on the bundled digits, with its defaults (about a second)."""
    from .train import train

    started = time.perf_counter()
    result = train(model="mlp", seed=seed, out_dir=None, progress=False, verbose=True)
    accuracy = result.history["test_accuracy"][-1]
    epochs = len(result.history["test_accuracy"])
    return (f"test accuracy {accuracy:.1%} after {epochs} epochs in {time.perf_counter() - started:.1f} s; "
            "`chainrule train --model cnn` trains a convolutional network (about 98.3%)")


def run(args: argparse.Namespace) -> int:
    """Run ``chainrule demo``: the table checked live, the sigmoid neuron explained, a network trained."""
    try:
        table, ok = demo_table(args.seed)
        print(_section("1. The table of derivatives, checked live (engine vs central difference)"))
        print(table)
        print(_section("2. One sigmoid neuron, explained step by step"))
        print(demo_neuron())
        if not getattr(args, "no_train", False):
            print(_section("3. A network trained on the bundled 8x8 digits"), flush=True)
            print(demo_training(args.seed))
    except (ChainruleError, ValueError, TypeError) as exc:
        return fail("demo", exc)
    return 0 if ok else 1
