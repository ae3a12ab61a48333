"""The ``chainrule`` command line: ``rules``, ``train``, and (with the explanation tools) ``derive`` and ``demo``.

Exit status: 0 on success; 1 when a check fails or a job stops (e.g. training diverged); 2 for bad arguments (each
numeric option is checked when the command line is read, and the message names the option); 130 after Ctrl-C (one
line on stderr, no traceback); 141 when the reader of the output goes away (``chainrule rules | head -1``), the
status a shell reports for a program ended by SIGPIPE, so ``set -o pipefail`` scripts see what they would see with
``cat``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Sequence

#: Seeds are any integer NumPy's generators accept, up to 64 bits (the largest every seeded component takes).
MAX_SEED = 2**64 - 1
INTERRUPTED = 130  # 128 + SIGINT, what shells report for a program stopped by Ctrl-C
BROKEN_PIPE = 141  # 128 + SIGPIPE


def int_option(low: int, high: int | None = None, bounds: str | None = None) -> Callable[[str], int]:
    """An argparse ``type`` that reads an integer in [low, high]; argparse names the option in its message."""

    def read(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            expected = bounds or (f"from {low} to {high}" if high is not None else f"of at least {low}")
            raise argparse.ArgumentTypeError(f"expected an integer {expected}, got {text!r}")
        return value

    return read


def positive_float(text: str) -> float:
    """An argparse ``type`` for a finite number > 0 (a learning rate): not nan, inf, 0 or negative."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number greater than 0, got {text!r}")
    return value


#: ``--seed``: a non-negative integer, as NumPy's random generators need.
seed_option = int_option(0, MAX_SEED, "from 0 to 2**64 - 1")


def _rules(args: argparse.Namespace) -> int:
    import importlib

    from .rulecheck import check_all, format_table

    for module in args.imports:  # modules that define the user's own primitives (cr.primitive)
        try:
            importlib.import_module(module)
        except Exception as exc:  # a missing module, a bad name, or an error in the module's own code
            print(f"chainrule rules: error: --import {module}: cannot import it: {type(exc).__name__}: {exc}",
                  file=sys.stderr)
            return 2
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
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="chainrule", description="Backpropagation that shows its work: derivatives, chain rule, training."
    )
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    rules = commands.add_parser("rules", help="print the table of derivative rules, each checked live")
    rules.add_argument("--seed", type=seed_option, default=0, help="seed for the sample points (default 0)")
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
    """Run the command line; returns the exit status (see the module's docstring)."""
    command = "chainrule"
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        command = f"chainrule {args.command}"
        status = int(args.run(args) or 0)
        sys.stdout.flush()  # a reader that went away shows up here when the output was buffered
        return status
    except BrokenPipeError:
        _discard_stdout()
        return BROKEN_PIPE
    except KeyboardInterrupt:
        # Files are written atomically (a temporary file renamed at the end), so nothing half-written is left.
        print(f"\n{command}: interrupted", file=sys.stderr)
        return INTERRUPTED


def _discard_stdout() -> None:
    """Point stdout at /dev/null: the interpreter flushes stdout at exit, and would fail on the closed pipe again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, AttributeError, ValueError):  # stdout replaced by an object without a file (tests)
        pass


if __name__ == "__main__":
    sys.exit(main())
