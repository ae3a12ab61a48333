"""The ``chainrule`` command line: the apps ``rules``, ``derive``, ``demo``, ``train``, ``explain-net``, a module each.

Exit status: 0 on success; 1 when a check fails or a job stops (e.g. training diverged); 2 for bad arguments (each
numeric option is checked when the command line is read, and the message names the option); 130 after Ctrl-C (one
line on stderr, no traceback); 141 when the reader of the output goes away (``chainrule rules | head -1``), the
status a shell reports for a program ended by SIGPIPE, so ``set -o pipefail`` scripts see what they would see with
``cat``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

INTERRUPTED = 130  # 128 + SIGINT, what shells report for a program stopped by Ctrl-C
BROKEN_PIPE = 141  # 128 + SIGPIPE


def build_parser() -> argparse.ArgumentParser:
    from .._version import __version__

    parser = argparse.ArgumentParser(
        prog="chainrule", description="Backpropagation that shows its work: derivatives, chain rule, training."
    )
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    from . import demo, derive, explain_net, rules, train  # the apps load when the command line is built, not at import

    apps = (
        (rules, "rules", "print the table of derivative rules, each checked live"),
        (derive, "derive", "value, gradient, higher orders, explanation and plot of an expression"),
        (demo, "demo", "the story end to end: the table, one sigmoid neuron, a trained network"),
        (train, "train", "train a network on the bundled digits (or MNIST)"),
        (explain_net, "explain-net", "write the interactive page for the sigmoid neuron or a small MLP"),
    )
    for app, name, description in apps:
        sub = commands.add_parser(name, help=description)
        app.add_arguments(sub)
        sub.set_defaults(run=app.run)
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
