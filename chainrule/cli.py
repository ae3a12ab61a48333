"""The ``chainrule`` command line: ``rules``, ``train``, and (with the explanation tools) ``derive`` and ``demo``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _rules(args: argparse.Namespace) -> int:
    import importlib

    from .rulecheck import check_all, format_table

    for module in args.imports:  # modules that define the user's own primitives (cr.primitive)
        importlib.import_module(module)
    rows = check_all(seed=args.seed)
    print("The rule table, checked live: each derivative from the engine against a central difference.\n")
    print(format_table(rows))
    checked = [r for r in rows if r.checked]
    failed = [r for r in checked if not r.ok]
    unchecked = len(rows) - len(checked)
    summary = f"{len(checked) - len(failed)} of {len(checked)} derivatives OK"
    summary += f", {len(failed)} FAILED" if failed else ""
    summary += f"; {unchecked} listed but not checked" if unchecked else ""
    print(f"\n{summary}")
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chainrule", description="Backpropagation that shows its work: derivatives, chain rule, training."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    rules = commands.add_parser("rules", help="print the table of derivative rules, each checked live")
    rules.add_argument("--seed", type=int, default=0, help="seed for the sample points (default 0)")
    rules.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                       help="import MODULE first, so the primitives it defines (cr.primitive) join the table")
    rules.set_defaults(run=_rules)

    from . import derive

    sub = commands.add_parser("derive", help="value, gradient, higher orders, explanation and plot of an expression")
    derive.add_derive_arguments(sub)
    sub.set_defaults(run=derive.run_derive)
    sub = commands.add_parser("demo", help="the story end to end: the table, one sigmoid neuron, a trained network")
    derive.add_demo_arguments(sub)
    sub.set_defaults(run=derive.run_demo)

    try:
        from . import train
    except ImportError:  # the training job is optional until its module exists
        train = None
    if train is not None and hasattr(train, "add_arguments"):
        sub = commands.add_parser("train", help="train a network on the bundled digits (or MNIST)")
        train.add_arguments(sub)
        sub.set_defaults(run=train.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
