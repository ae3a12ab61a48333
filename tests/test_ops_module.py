"""chainrule.ops defines sum, max, min, abs and pow (the public API); inside it, Python's own must be reached as
``builtins.max`` and so on. A bare ``max(...)`` there silently calls the Tensor reduction (once, it recursed)."""

from __future__ import annotations

import ast
from pathlib import Path

import chainrule.ops

SHADOWED = {"sum", "max", "min", "abs", "pow"}


def bare_calls(source: str) -> list[str]:
    """Calls of a shadowed name by its bare name, as 'line N: name(...)'."""
    return [f"line {node.lineno}: {node.func.id}(...)" for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in SHADOWED]


def test_ops_never_calls_a_shadowed_builtin_by_its_bare_name():
    bare = bare_calls(Path(chainrule.ops.__file__).read_text())
    assert not bare, "use builtins.<name>(...) in chainrule/ops.py: " + ", ".join(bare)


def test_a_planted_bare_call_is_found():
    source = "import builtins\ndef f(x):\n    return builtins.max(x, 1) + max(x, 2) + x.max()\n"
    assert bare_calls(source) == ["line 3: max(...)"]
