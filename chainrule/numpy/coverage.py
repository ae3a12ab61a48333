"""The README's coverage table of ``chainrule.numpy``: which rule-table entries each NumPy function records.

Each public function of ``cnp`` (and of its submodules) is called on small sample Tensors; the rules of the graph it
recorded are read back from the graph itself, so the table says what really happens, never what a list claims.
``python -m chainrule.numpy.coverage`` prints it; a test keeps the README's copy current.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Iterator

import numpy as np

from ..engine import reachable_nodes
from ..tensor import Tensor

# Namespaces in the table, each with a heading; a submodule not importable (an extra missing) is left out.
NAMESPACES = (
    ("chainrule.numpy", "cnp"),
    ("chainrule.numpy.linalg", "cnp.linalg"),
    ("chainrule.numpy.fft", "cnp.fft"),
)
# What the table says instead of a rule list for calls that record no node.
ZERO_GRADIENT = "gradient 0 (piecewise constant, or a boolean or integer result)"
UNCHANGED = "returns its input Tensor itself (gradient 1)"
CONSTANT = "takes sizes, not arrays: returns constants"


def _samples() -> Iterator[tuple]:
    """Argument lists to try, most common shapes first: the first that a function accepts is the one traced."""
    rng = np.random.default_rng(0)
    a = rng.uniform(0.2, 0.8, (3, 3))
    spd = a @ a.T + 3 * np.eye(3)
    v = rng.uniform(0.2, 0.8, 3)

    def t(x):
        return Tensor(x, requires_grad=True)

    yield (t(spd),)
    yield (t(v),)
    yield (t(spd), t(spd))
    yield (t(v), t(v))
    yield ("ij,jk->ik", t(spd), t(spd))
    yield ([t(v), t(v)],)
    yield ((t(v) > 0.5), t(v), t(v))
    yield ([t(v) > 0.5], [t(v)])
    yield (t(spd), 2)
    yield (t(v), 2)
    yield (t(v), [1, 0, 2])
    yield (t(spd), np.array([[0, 1, 2]] * 3), 0)
    yield (t(spd), ((1, 1), (1, 1)))
    yield (t(spd), (9,))
    yield (t(v), (3, 3))
    yield (t(spd), 0, 1)
    yield (t(rng.uniform(0.2, 0.8, (2, 2, 4))), 2)
    yield ((3, 3), t(v))  # a shape first (cnp.full)
    yield (t(spd), t(v))  # a system and its right-hand side (cnp.linalg.tensorsolve)
    yield (np.sum, 0, t(spd))  # a function, an axis and an array (cnp.apply_along_axis)
    yield (t(v), [v > 0.5], [np.exp, np.sin])  # conditions and functions (cnp.piecewise)


def trace_rules(function: Callable) -> tuple[str, ...] | str | None:
    """The rule names (in graph order, each once) recorded by ``function`` on the first sample it accepts;
    ZERO_GRADIENT or UNCHANGED when it records none, CONSTANT for a function of a size (fftfreq); None when it
    accepts no sample."""
    for args in _samples():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = function(*args)
        except Exception:  # a sample the function does not accept: try the next one
            continue
        outs = out if isinstance(out, tuple | list) else (out,)
        tensors = [o for o in outs if isinstance(o, Tensor)]
        if not tensors:
            continue
        names: dict[str, None] = {}
        for o in tensors:
            for node in reachable_nodes(o):
                names[node.rule.name] = None
        if names:
            return tuple(names)
        return UNCHANGED if any(o.requires_grad for o in tensors) else ZERO_GRADIENT
    try:
        constant = function(4)
    except Exception:  # not a function of a size either
        return None
    return CONSTANT if isinstance(constant, np.ndarray) else None


def rows() -> Iterator[tuple[str, str, str]]:
    """(namespace, function name, what it records) for every public function."""
    for module_name, label in NAMESPACES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name in sorted(getattr(module, "__all__", ())):
            function = getattr(module, name)
            if not callable(function) or isinstance(function, type):
                continue
            rules = trace_rules(function)
            if rules is None:
                what = "see its docstring (no sample of the table fits its signature)"
            elif isinstance(rules, str):
                what = rules
            else:
                what = ", ".join(f"`{r}`" for r in rules)
            yield label, name, what


def markdown() -> str:
    """The table, grouped by namespace: one line per function, its rules joined."""
    lines = ["| function | rule-table entries it records |", "|---|---|"]
    lines += [f"| `{label}.{name}` | {what} |" for label, name, what in rows()]
    return "\n".join(lines) + "\n"


START, END = "<!-- cnp coverage: start (python -m chainrule.numpy.coverage --readme) -->", "<!-- cnp coverage: end -->"


def update_readme(path: str) -> bool:
    """Write the current table between the README's START and END markers; True if it changed."""
    from pathlib import Path

    text = Path(path).read_text(encoding="utf-8")
    head, found, rest = text.partition(START)
    _, found_end, tail = rest.partition(END)
    if not (found and found_end):
        raise ValueError(f"{path} has no coverage markers {START!r} ... {END!r}")
    new = f"{head}{START}\n{markdown()}{END}{tail}"
    Path(path).write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--readme"]:
        print("README.md", "updated" if update_readme("README.md") else "already current")
    else:
        print(markdown(), end="")
