"""Imports run one way: no module of the package imports, directly or through others, a module that imports it.

Every ``import`` statement counts, at the top of a module or inside a function (a lazy import is still a
dependency), except under ``if TYPE_CHECKING:``. ``from . import name`` is an edge to the submodule ``name`` when
there is one, else to the package's ``__init__``.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "chainrule"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_blocks(tree: ast.AST) -> set[int]:
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for child in node.body for n in ast.walk(child))
    return skipped


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The package's modules that ``path`` imports."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    skipped = _type_checking_blocks(tree)
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target not in modules:
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in modules else target)
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, modules) for p in paths}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if state.get(start):
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph.get(nxt, ()))))
    return None


def test_the_package_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = import_graph()
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    graph["chainrule.rules.registry"] = graph["chainrule.rules.registry"] | {"chainrule.nn.module"}
    assert find_cycle(graph) is not None


# The layers, bottom up: a module may import its own layer and the ones below, never one above.
LAYERS = (
    ("chainrule.errors", "chainrule._version"),
    ("chainrule.rules",),
    ("chainrule.engine",),
    ("chainrule.tensor",),
    ("chainrule.arguments", "chainrule.ops", "chainrule.torch_methods"),
    ("chainrule.transforms", "chainrule.gradcheck", "chainrule.extend", "chainrule.rulecheck", "chainrule.symbolic",
     "chainrule.numpy", "chainrule.pytree"),
    ("chainrule.explain",),
    ("chainrule.nn", "chainrule.optim", "chainrule.data", "chainrule.io", "chainrule.distributed"),
    ("chainrule.cli",),
    ("chainrule", "chainrule.__main__"),
)


def layer_of(module: str) -> int:
    """The layer of the longest prefix of ``module`` in LAYERS."""
    best, found = -1, None
    for k, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), k
    assert found is not None, f"{module} is in no layer of LAYERS; add it"
    return found


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{a} (layer {layer_of(a)}) imports {b} (layer {layer_of(b)})"
                  for a, deps in graph.items() for b in deps if layer_of(b) > layer_of(a))


def test_imports_go_down_the_layers():
    assert upward_imports(import_graph()) == []


def test_an_upward_import_is_found():
    graph = import_graph()
    graph["chainrule.engine.chain"] = graph["chainrule.engine.chain"] | {"chainrule.ops"}
    assert upward_imports(graph) == ["chainrule.engine.chain (layer 2) imports chainrule.ops (layer 4)"]
