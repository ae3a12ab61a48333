"""``chainrule derive`` and ``chainrule demo``: output, formats, plots, and clear errors (status 2) for bad input."""

from __future__ import annotations

import importlib
import itertools
import json
import subprocess
import sys

import pytest

from chainrule.cli import derive, main
from chainrule.errors import DomainError

HAS_SYMPY = importlib.util.find_spec("sympy") is not None
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(["derive", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_value_and_gradient(capsys):
    status, out, err = run(capsys, "x**2 * y", "--at", "x=3,y=2")
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert lines[:4] == ["f(x, y) = x**2*y", "at x = 3, y = 2", "", "f = 18"]
    assert lines[4].startswith("∂f/∂x = 12") and lines[5].startswith("∂f/∂y = 9")
    if HAS_SYMPY:
        assert lines[4].endswith("= 2*x*y") and lines[5].endswith("= x**2")


def test_higher_orders_by_nested_grad(capsys):
    status, out, _ = run(capsys, "x**4 + y*x", "--at", "x=2,y=1", "--wrt", "x", "--order", "4")
    assert status == 0
    assert "∂²f/∂x² = 48" in out and "∂³f/∂x³ = 48" in out and "∂^4f/∂x^4 = 24" in out
    status, out, _ = run(capsys, "sin(x)", "--at", "x=pi/2", "--order", "3")
    assert status == 0 and "∂²f/∂x² = -1" in out and "∂³f/∂x³ = -6.12323e-17" in out


def test_explain_in_every_format(capsys):
    status, out, _ = run(capsys, "sigmoid(w*x + b)", "--at", "w=0.5,x=2,b=-1", "--explain")
    assert status == 0
    assert "σ'(u) = σ(u)(1−σ(u))" in out and "local 0.25" in out
    assert "∂f/∂w = 0.5" in out and "∂f/∂x = 0.125" in out and "∂f/∂b = 0.25" in out
    status, out, _ = run(capsys, "sigmoid(w*x + b)", "--at", "w=0.5,x=2,b=-1", "--explain", "--format", "markdown")
    assert status == 0 and "#### Backward pass" in out and "| node | rule |" in out
    status, out, _ = run(capsys, "sigmoid(w*x + b)", "--at", "w=0.5,x=2,b=-1", "--explain", "--format", "latex")
    assert status == 0 and out.startswith("\\begin{aligned}")
    status, out, _ = run(capsys, "sigmoid(w*x + b)", "--at", "w=0.5,x=2,b=-1", "--explain", "--format", "json",
                         "--order", "2")
    data = json.loads(out)
    assert data["gradient"] == {"w": 0.5, "x": 0.125, "b": 0.25}
    assert data["wrt"] == "w" and set(data["derivatives"]) == {"2"}
    assert data["explanation"]["backward"][0]["local"] == 0.25


def test_summary_formats_without_explain(capsys):
    status, out, _ = run(capsys, "x*y", "--at", "x=1,y=2", "--format", "markdown")
    assert status == 0 and "| | value |" in out
    status, out, _ = run(capsys, "x*y", "--at", "x=1,y=2", "--format", "latex", "--order", "2")
    assert status == 0 and "\\end{aligned}" in out and r"\frac{\partial^{2} f}{\partial x^{2}} = 0" in out
    status, out, _ = run(capsys, "x*y", "--at", "x=1,y=2", "--format", "json")
    assert json.loads(out)["value"] == 2.0


@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="plots need matplotlib (pip install 'chainrule[plot]')")
@pytest.mark.parametrize(("suffix", "magic"), [(".png", b"\x89PNG"), (".svg", b"<?xml")])
def test_plot_png_and_svg(capsys, tmp_path, suffix, magic):
    path = tmp_path / f"f{suffix}"
    status, out, err = run(capsys, "log(x) * sin(y)", "--at", "x=1,y=0.5", "--wrt", "x", "--order", "2",
                           "--plot", str(path))
    assert status == 0, err
    assert path.read_bytes()[:5].startswith(magic)
    assert f"plot: {path}" in out


BAD = [
    # malicious and malformed expressions: nothing is executed
    (["__import__('os').system('touch HACKED')", "--at", "x=1"], "only a bare function name can be called"),
    (["().__class__", "--at", "x=1"], "attribute access"),
    (["x.__class__", "--at", "x=1"], "attribute access"),
    (["lambda: 1", "--at", "x=1"], "lambda expressions are not allowed"),
    (["(" * 100_000 + "x" + ")" * 100_000, "--at", "x=1"], "too long"),
    (["(" * 150 + "x" + ")" * 150, "--at", "x=1"], "nested too deeply"),
    (["x" + "+x" * 500_000, "--at", "x=1"], "too long"),
    (["foo(x)", "--at", "x=1"], "unknown function 'foo'"),
    # the point
    (["x*y", "--at", "x=1"], "missing value for 'y'"),
    (["x*y"], "missing value for 'x', 'y'"),
    (["x**2", "--at", "x=1,y=2"], "unknown variable 'y'"),
    (["x**2", "--at", "x"], "expected name=value pairs"),
    (["x**2", "--at", "x="], "expected name=value pairs"),
    (["x**2", "--at", "=1"], "expected name=value pairs"),
    (["x**2", "--at", "x=1,,"], "expected name=value pairs"),
    (["x**2", "--at", "x==1"], "the value of 'x' is not a number"),
    (["x**2", "--at", "1x=1"], "is not a variable name"),
    (["x**2", "--at", "x=1,x=2"], "given twice"),
    (["x**2", "--at", "x=abc"], "must be a number, not an expression in abc"),
    (["x**2", "--at", "x=__import__('os')"], "names starting with an underscore are not allowed"),
    (["x**2", "--at", "x=1e999"], "number is too large"),
    # out of the domain
    (["log(x)", "--at", "x=-1"], "outside the function's domain"),
    (["sqrt(x)", "--at", "x=-4"], "outside the function's domain"),
    (["asin(x)", "--at", "x=2"], "outside the function's domain"),
    (["x*sqrt(x)", "--at", "x=0"], "undefined (nan)"),
    # options
    (["x**2", "--at", "x=1", "--wrt", "y"], "--wrt 'y' is not a variable"),
    (["x**2", "--at", "x=1", "--plot", "f.pdf"], "must end in .png or .svg"),
    (["x**2", "--at", "x=1", "--plot", "/no/such/dir/f.png"], "does not exist"),
    (["2 + 3", "--order", "2"], "need a variable"),
]


@pytest.mark.parametrize(("argv", "message"), BAD, ids=[a[0][:30] + " " + " ".join(a[1:])[:30] for a, _ in BAD])
def test_bad_input_is_one_clear_line_and_status_2(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert err.startswith("chainrule derive: error: ")
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "HACKED").exists()


def test_argparse_errors_are_status_2(capsys):
    for argv in (["derive"], ["derive", "x", "--format", "pdf"], ["derive", "x", "--order", "two"],
                 ["derive", "x", "--order", "0"], ["derive", "x", "--order", "7"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "argument --order: expected an integer from 1 to 6, got '7'" in err
    with pytest.raises(ValueError, match="--order must be an integer from 1 to 6"):
        derive.derive("x**2", at="x=1", order=0)  # the function checks it too


def test_a_malicious_expression_in_a_real_process_executes_nothing(tmp_path):
    marker = tmp_path / "HACKED"
    expr = f"__import__('os').system('touch {marker}')"
    done = subprocess.run([sys.executable, "-m", "chainrule", "derive", expr, "--at", "x=1"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "only a bare function name can be called" in done.stderr
    assert not marker.exists()


def test_parse_point():
    assert derive.parse_point("x=1, y=-2.5,z=pi/2") == {"x": 1.0, "y": -2.5, "z": pytest.approx(1.5707963267948966)}
    assert derive.parse_point("") == {}


def test_demo_tells_the_story(capsys):
    started = __import__("time").perf_counter()
    status = main(["demo"])
    elapsed = __import__("time").perf_counter() - started
    out = capsys.readouterr().out
    assert status == 0
    assert "1. The table of derivatives, checked live" in out
    assert "sigmoid     x    sigmoid(x)*(1 - sigmoid(x))" in out
    assert "FAIL" not in out
    assert "2. One sigmoid neuron, explained step by step" in out
    assert "σ'(u) = σ(u)(1−σ(u)) = 0.5·0.5 = 0.25" in out
    assert "dL/du = dL/dy · σ'(u) = -1 · 0.25 = -0.25" in out
    losses = [float(line.split("L = ")[1].split()[0]) for line in out.splitlines() if line.startswith("  step ")]
    assert len(losses) == 6 and all(b < a for a, b in itertools.pairwise(losses))
    assert "3. A network trained on the bundled 8x8 digits" in out
    assert "test accuracy" in out or "skipped" in out
    assert elapsed < 30


def test_demo_without_training(capsys):
    assert main(["demo", "--no-train"]) == 0
    assert "3. A network" not in capsys.readouterr().out


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "infinity"])
def test_a_non_finite_point_is_named_as_such(value):
    with pytest.raises(DomainError, match=rf"the value of 'x' is '{value}'; it must be a finite number"):
        derive.parse_point(f"x={value}")
