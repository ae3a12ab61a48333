"""The benchmark runner works at tiny sizes and the libraries agree on the numbers. Speed is reported by
``python -m benchmarks.run``, never asserted here."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `benchmarks` lives beside the package, not inside it
    sys.path.insert(0, str(ROOT))

from benchmarks import report  # noqa: E402 - needs ROOT on sys.path
from benchmarks.run import Measurement, compare_checksums  # noqa: E402
from benchmarks.workloads import WORKLOADS, tape  # noqa: E402

LIBS = ["numpy", "chainrule", "chainrule-nn"] + (["torch"] if importlib.util.find_spec("torch") else [])
QUICK_ROWS = {"W1-b128", "W2", "W3", "W4-n100", "W5", "W7", "W8"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("benchmarks")
    command = [sys.executable, "-m", "benchmarks.run", "--quick", "--libs", ",".join(LIBS), "--out", str(out),
               "--no-chart"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, f"the runner failed:\n{done.stderr[-3000:]}"
    return json.loads((out / "latest.json").read_text()), (out / "latest.md").read_text()


def test_quick_run_writes_the_table(quick_run):
    results, table = quick_run
    assert {row["key"] for row in results["rows"]} == QUICK_ROWS
    for name in ("W1", "W2", "W3", "W4", "W5", "W6", "peak memory", "chainrule ÷ peer", "Checksums"):
        assert name in table
    assert results["machine"]["cpu"] and results["versions"]["numpy"]
    assert " ✗ |" not in table and "| ✗ " not in table  # no cell marked as disagreeing
    assert table.count("| none |") == len(QUICK_ROWS)  # the checksum table lists no disagreeing library


def test_every_library_runs_every_workload_and_they_agree(quick_run):
    results, _ = quick_run
    libs_of = {w.key: w.libs for w in WORKLOADS}
    for row in results["rows"]:
        assert row["reference"] == ("numpy" if "numpy" in libs_of[row["key"]] else "chainrule-nn")
        expected = [lib for lib in LIBS if lib in libs_of[row["key"]]]
        assert sorted(row["libs"]) == sorted(expected)
        for lib, entry in row["libs"].items():
            assert entry["error"] is None, f"{row['key']} {lib}: {entry['error']}"
            assert entry["agrees"] is True, f"{row['key']} {lib}: {entry['checksum']} vs {row['reference']}"
            assert entry["median"] > 0 and len(entry["rounds"]) == 3
            assert all(math.isfinite(v) for v in entry["checksum"])


def test_import_times_and_memory_are_measured(quick_run):
    results, _ = quick_run
    for name in ("python", "numpy", "chainrule"):
        assert results["imports"][name]["error"] is None
        assert results["imports"][name]["median"] > 0
    w1 = next(row for row in results["rows"] if row["id"] == "W1")
    assert w1["libs"]["chainrule"]["maxrss"] > 2**20


def test_a_wrong_checksum_is_flagged():
    results = {
        "chainrule": Measurement(checksum=[1.0, 2.0 * (1 + 1e-4)]),
        "numpy": Measurement(checksum=[1.0, 2.0]),
        "torch": Measurement(checksum=[1.0, 2.0 * (1 + 1e-7)]),
        "micrograd": Measurement(error="RecursionError: maximum recursion depth exceeded"),
    }
    reference, agree = compare_checksums(results, rtol=1e-5)
    assert reference == "numpy"
    assert agree == {"chainrule": False, "numpy": True, "torch": True}


def test_a_disagreement_is_marked_in_the_report():
    entry = {"median": 1.0, "seconds": 1e-3, "rounds": [1.0], "error": None, "maxrss": None}
    row = {"key": "W3", "id": "W3", "title": "W3", "unit": "ms", "params": {"n": 10}, "rtol": 1e-5,
           "reference": "numpy", "libs": {"numpy": {**entry, "checksum": [1.0], "agrees": True},
                                          "chainrule": {**entry, "checksum": [1.5], "agrees": False}}}
    results = {"date": "today", "elapsed_seconds": 1.0, "missing": [], "imports": None, "rows": [row],
               "machine": {"cpu": "cpu", "cores": 1, "system": "os", "load_before": [0.0], "load_after": [0.0]},
               "versions": {"python": "3", "numpy": "2"},
               "settings": {"quick": True, "repeats": 1, "round_seconds": 0.1, "threads": {"XLA_FLAGS": ""}}}
    table = report.markdown(results)
    assert "1.00 (1.00×) ✗" in table and "| ✗ chainrule |" in table
    assert report.disagreements(results) == ["W3: chainrule [1.5] vs numpy [1.0]"]


def test_a_worker_reports_failures_as_data():
    command = [sys.executable, "-m", "benchmarks.worker", "micrograd", "W3", '{"n": 10}']
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert json.loads(done.stdout) == {
        "error": "ValueError: W3 has no implementation for 'micrograd'; it has numpy, numpy-default-heap, "
                 "numpy-after-chainrule, chainrule, torch, jax, jax-eager, autograd"
    }


def test_the_scalar_floor_is_right():
    y, dy = tape.chain(2.0, 10)
    assert y == pytest.approx(1 + 0.999**10) and dy == pytest.approx(0.999**10, rel=1e-14)
    constants, x, h = [0.3, -0.2, 0.45], 0.3, 1e-6
    y, dy = tape.scalar_graph(x, constants)
    numeric = (tape.scalar_graph(x + h, constants)[0] - tape.scalar_graph(x - h, constants)[0]) / (2 * h)
    assert dy == pytest.approx(numeric, rel=1e-8)


def test_bytecode_counts_are_exact_and_see_the_graph():
    """The load-free measure of Python overhead: the same count on every run, and chainrule's graph costs
    bytecodes that the hand-written floor does not run."""
    import re

    from benchmarks.profiling import bytecodes

    def count(lib):
        return int(re.search(r": ([\d,]+) bytecodes per call", bytecodes("W1-tiny", lib, calls=3)).group(1)
                   .replace(",", ""))

    floor, ours = count("numpy"), count("chainrule-nn")
    assert count("chainrule-nn") == ours
    assert 100 < floor < ours
    assert "_backward_arrays" in bytecodes("W1-tiny", "chainrule-nn", calls=1)
