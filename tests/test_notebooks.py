"""The example notebooks run top to bottom (executed with nbclient), so they never rot."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "examples" / "notebooks").glob("*.ipynb"))
MISSING = [name for name in ("nbclient", "nbformat", "ipykernel", "matplotlib", "sympy")
           if importlib.util.find_spec(name) is None]

pytestmark = pytest.mark.skipif(
    bool(MISSING),
    reason=f"executing the notebooks needs {', '.join(MISSING)} (pip install 'chainrule[notebook,plot,symbolic]')",
)


def test_the_four_notebooks_are_there():
    assert [p.name for p in NOTEBOOKS] == ["backprop_network.ipynb", "derivatives.ipynb", "sigmoid_neuron.ipynb",
                                           "training.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=60, kernel_name="python3", resources={"metadata": {"path": tmp_path}})
    started = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - started
    errors = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
              if o.get("output_type") == "error"]
    assert errors == []
    assert elapsed < 30, f"{path.name} took {elapsed:.1f} s; keep each notebook well under 30 s"
