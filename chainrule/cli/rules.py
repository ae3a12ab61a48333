"""``chainrule rules``: the rule table printed with each derivative checked live against a central difference."""

from __future__ import annotations

import argparse
import sys

from .options import seed_option


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``chainrule rules``."""
    parser.add_argument("--seed", type=seed_option, default=0, help="seed for the sample points (default 0)")
    parser.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                        help="import MODULE first, so the primitives it defines (cr.primitive) join the table")


def run(args: argparse.Namespace) -> int:
    """``chainrule rules``: the table of derivative rules, each checked live; status 1 if one fails."""
    import importlib

    from ..rulecheck import check_all, format_table

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
