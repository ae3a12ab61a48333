"""chainrule.scipy as a package: the core never imports SciPy, a missing SciPy names the extra to install, and the
SciPy entries are part of the rule table (``chainrule rules``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_the_core_never_imports_scipy_even_with_the_whole_table_loaded():
    result = _run(
        "import sys, chainrule as cr\n"
        "from chainrule.rules.registry import all_rules\n"
        "names = {r.name for r in all_rules()}\n"
        "x = cr.tensor([1.0, 2.0], requires_grad=True); (cr.exp(x) * 2).sum().backward()\n"
        "print('scipy' in sys.modules)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_a_missing_scipy_names_the_extra():
    # SciPy made unimportable (None in sys.modules): the rule modules register nothing, the package says what to do.
    result = _run(
        "import sys\n"
        "sys.modules['scipy'] = None\n"
        "import importlib.util\n"
        "importlib.util.find_spec = lambda name, *a: None if name == 'scipy' else real(name, *a)\n"
        "from importlib.util import find_spec as real\n"
        "import chainrule as cr\n"
        "from chainrule.rules.registry import all_rules, find\n"
        "all_rules()\n"
        "print(find('gammaln'))\n"
        "try:\n"
        "    import chainrule.scipy\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "None"
    assert lines[1].startswith("MissingDependencyError") and "pip install 'chainrule[scipy]'" in lines[1]


def test_the_entries_are_listed_by_chainrule_rules():
    pytest.importorskip("scipy")
    result = subprocess.run(
        [sys.executable, "-m", "chainrule", "rules"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    for name in ("gammaln", "polygamma", "log_ndtr", "solve_triangular", "cho_factor", "sqrtm", "convolve"):
        assert name in result.stdout, name


def test_the_readme_example_runs():
    pytest.importorskip("scipy")
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## SciPy: `chainrule.scipy`") :]
    code = section[section.index("```python") + len("```python") :]
    code = code[: code.index("```")]
    exec(compile(code, "README.md", "exec"), {})


@pytest.mark.parametrize("module", ["", ".special", ".stats", ".linalg", ".signal", ".integrate"])
def test_the_docstring_examples_run(module):
    pytest.importorskip("scipy")
    import doctest
    import importlib

    results = doctest.testmod(importlib.import_module(f"chainrule.scipy{module}"))
    assert results.attempted > 0 and results.failed == 0
