"""The interactive explanation page: its data, its safety, its command lines, and the page itself in headless Chromium.

The browser tests start Debian's ``chromium`` through the DevTools Protocol (tests/browser.py), load the page from a
file, and check what the scripts built: the nodes laid out by dagre, the gradients, stepping by a real key press and
a real click, no network request, and a screenshot that is not blank. Without Chromium they skip, except in CI
(the environment variable CI set), where they fail: .ci/run installs Chromium first.
"""

from __future__ import annotations

import html
import io
import json
import math
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from browser import Browser, find_chromium

import chainrule as cr
from chainrule.cli import main
from chainrule.explain import page
from chainrule.explain.mathml import to_mathml, unknown_commands
from chainrule.explain.steps import rule_forms, vjp_forms
from chainrule.rules.registry import ELEMENTWISE, all_rules

NEURON = {"w": 0.5, "x": 2.0, "b": -1.0}


def sigmoid(u: float) -> float:
    return 1 / (1 + math.exp(-u))


def neuron_gradients() -> dict[str, float]:
    """σ(wx + b) by hand: σ'(u) = σ(u)(1 − σ(u)); ∂/∂w = σ'·x, ∂/∂x = σ'·w, ∂/∂b = σ'."""
    u = NEURON["w"] * NEURON["x"] + NEURON["b"]
    d = sigmoid(u) * (1 - sigmoid(u))
    return {"w": d * NEURON["x"], "x": d * NEURON["w"], "b": d}


def mlp():
    """The README's 2-layer MLP with its cross-entropy, and the same network in PyTorch (test-only reference)."""
    torch = pytest.importorskip("torch")
    net = cr.nn.Sequential(cr.nn.Linear(3, 4, seed=0), cr.nn.Sigmoid(), cr.nn.Linear(4, 2, seed=1))
    x = np.random.default_rng(0).normal(size=(5, 3))
    labels = np.array([0, 1, 1, 0, 1])
    e = cr.explain(lambda x: cr.nn.functional.cross_entropy(net(x), labels), x=x)
    params = {n: torch.tensor(p.data, dtype=torch.float64, requires_grad=True) for n, p in net.named_parameters()}
    hidden = torch.sigmoid(torch.tensor(x) @ params["0.weight"].T + params["0.bias"])
    logits = hidden @ params["2.weight"].T + params["2.bias"]
    torch.nn.functional.cross_entropy(logits, torch.tensor(labels)).backward()
    return e, {n: p.grad.numpy() for n, p in params.items()}


def page_json(text: str) -> dict:
    found = re.search(r'<script type="application/json" id="cr-data">(.*?)</script>', text, re.DOTALL)
    assert found, "the page carries its data as JSON"
    return json.loads(found.group(1))


@pytest.fixture(scope="module")
def neuron():
    return cr.explain("sigmoid(w*x + b)", **NEURON)


# ---------------------------------------------------------------------------------------------------------------
# The page as text.
# ---------------------------------------------------------------------------------------------------------------
def test_page_is_self_contained_and_small(neuron):
    text = neuron.to_html()
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert len(text.encode()) < 150_000  # the layout library is ~49 kB of it
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text), "no resource from the network"
    assert "@import" not in text and "url(http" not in text
    assert text.count("<script") == 3 and "dagre" in text and "sourceMappingURL" not in text
    assert "Copyright (c) 2012-2014 Chris Pettitt" in text  # the layout library's MIT notice travels with it


def test_page_data_graph_and_steps(neuron):
    data = page_json(neuron.to_html())
    assert [n["id"] for n in data["nodes"]] == ["w", "x", "b", "v1", "v2", "v3"]
    assert [(e["from"], e["to"]) for e in data["edges"]] == [
        ("w", "v1"),
        ("x", "v1"),
        ("v1", "v2"),
        ("b", "v2"),
        ("v2", "v3"),
    ]
    phases = [s["phase"] for s in data["steps"]]
    assert phases == ["start"] + ["forward"] * 3 + ["backward"] * 6 + ["done"]
    assert data["steps"][1]["values"] == {"v1": "1"} and data["steps"][3]["values"] == {"v3": "0.5"}
    done = data["steps"][-1]["grads"]
    expected = neuron_gradients()
    assert {n: float(v) for n, v in done.items()} == pytest.approx(expected, rel=1e-12, abs=0)
    assert done == {"w": "0.5", "x": "0.125", "b": "0.25"}
    # The running gradients the steps reveal end at the engine's (and the closed form's) values.
    known = {}
    for s in data["steps"][:-1]:
        known.update(s["grads"])
    assert {n: float(known[n]) for n in expected} == pytest.approx(expected, rel=1e-12, abs=0)


def test_accumulation_on_the_page_matches_the_closed_form():
    # x feeds three places: sin(x), and x*x twice; ∂f/∂x = cos x + x + x, built up one chain-rule step at a time.
    x = 0.7
    data = page_json(cr.explain("x*x + sin(x)", x=x).to_html())
    so_far = [float(s["grads"]["x"]) for s in data["steps"] if s["title"].startswith("Backward") and "x" in s["grads"]]
    expected = [math.cos(x), math.cos(x) + x, math.cos(x) + 2 * x]  # backward visits sin (the newer node) first
    assert so_far == pytest.approx(expected, rel=1e-5)
    sums = [s for s in data["steps"] if s["title"].startswith("Sum: ∂f/∂x")]
    assert len(sums) == 1 and float(sums[0]["grads"]["x"]) == pytest.approx(2 * x + math.cos(x), rel=1e-5)
    assert float(data["steps"][-1]["grads"]["x"]) == pytest.approx(2 * x + math.cos(x), rel=1e-5)


def test_mlp_page_shows_shapes_and_summaries_and_torch_gradients():
    e, torch_grads = mlp()
    text = e.to_html(title="mlp")
    data = page_json(text)
    assert len(text.encode()) < 1_000_000
    assert {c["label"] for c in data["clusters"]} == {"0 (Linear)", "1 (Sigmoid)", "2 (Linear)"}
    steps = " ".join(s["html"] for s in data["steps"])
    assert "(5, 4)" in steps and "matrix form" in steps and "∂f/∂0.weight = gᵀ·x" in html.unescape(steps)
    nodes = {n["id"]: n for n in data["nodes"]}
    assert nodes["v1"]["cluster"] == "module:0" and nodes["x"]["kind"] == "leaf"
    done = data["steps"][-1]["grads"]
    bias = [float(v) for v in re.findall(r"-?\d+\.\d+", done["2.bias"])]
    np.testing.assert_allclose(bias, torch_grads["2.bias"], rtol=1e-3)
    assert done["0.weight"].startswith("(4, 3) mean ")  # a 12-entry array: shape and mean in the box
    mean = float(done["0.weight"].split("mean ")[1])
    assert mean == pytest.approx(torch_grads["0.weight"].mean(), rel=1e-2)
    for name, g in torch_grads.items():
        np.testing.assert_allclose(e.gradients[name], g, rtol=1e-5, atol=1e-7)  # float32 parameters


def test_large_arrays_are_summarised_not_written_out():
    rng = np.random.default_rng(1)
    net = cr.nn.Sequential(cr.nn.Linear(64, 32, seed=0), cr.nn.ReLU(), cr.nn.Linear(32, 10, seed=1))
    x = rng.normal(size=(128, 64))
    labels = rng.integers(0, 10, size=128)
    e = cr.explain(lambda x: cr.nn.functional.cross_entropy(net(x), labels), x=x)
    text = e.to_html()
    assert len(text.encode()) < 200_000  # 8192 inputs and 2,400 weights, each shown as shape and summary
    assert "shape (128, 64)" in text


def test_the_W1_network_page_is_small():
    """784-256-256-10 at batch 128 (the benchmark's W1): the page stays far below 10 MB (README: size and time)."""
    rng = np.random.default_rng(0)
    nn = cr.nn
    net = nn.Sequential(
        nn.Linear(784, 256, seed=0), nn.ReLU(), nn.Linear(256, 256, seed=1), nn.ReLU(), nn.Linear(256, 10, seed=2)
    )
    x = rng.standard_normal((128, 784)).astype(np.float32)
    y = rng.integers(0, 10, 128)
    e = cr.explain(lambda x: nn.functional.cross_entropy(net(x), y), x=x)
    text = e.to_html()
    assert len(text.encode()) < 250_000
    data = page_json(text)
    assert len(data["nodes"]) == 13 and data["steps"][-1]["grads"]["0.weight"].startswith("(256, 784) mean ")


def test_script_data_cannot_close_the_script():
    hostile = "</script><script>alert(1)</script><!-- & \u2028"
    safe = page._script_json({"t": hostile})
    assert "<" not in safe and ">" not in safe and "&" not in safe
    assert json.loads(safe) == {"t": hostile}
    e = cr.explain("x*2", x=1.0)
    text = e.to_html(title=hostile)
    assert "<script>alert(1)" not in text and "&lt;/script&gt;&lt;script&gt;alert(1)" in text


def test_save_html_and_its_errors(neuron, tmp_path):
    path = neuron.save_html(tmp_path / "n.html")
    assert path.read_text(encoding="utf-8") == neuron.to_html()
    with pytest.raises(IsADirectoryError, match="is a directory"):
        neuron.save_html(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        neuron.save_html(tmp_path / "missing" / "n.html")
    with pytest.raises(TypeError, match="path must be a str or a path, got int"):
        neuron.save_html(3)
    with pytest.raises(TypeError, match="title must be a str"):
        neuron.to_html(title=3)


def test_too_large_a_graph_is_refused_clearly(neuron, monkeypatch):
    monkeypatch.setattr(page, "MAX_NODES", 5)
    with pytest.raises(ValueError, match=r"the graph has 6 nodes, more than 5; .* use to_text\(\)"):
        neuron.to_html()


# ---------------------------------------------------------------------------------------------------------------
# MathML.
# ---------------------------------------------------------------------------------------------------------------
def test_mathml_structure():
    assert to_mathml(r"\frac{1}{x}") == "<math><mfrac><mn>1</mn><mi>x</mi></mfrac></math>"
    assert to_mathml(r"e^{-x}") == "<math><msup><mi>e</mi><mrow><mo>−</mo><mi>x</mi></mrow></msup></math>"
    assert to_mathml(r"\sqrt{1 - x^2}", display=True) == (
        '<math display="block"><msqrt><mrow><mn>1</mn><mo>−</mo><msup><mi>x</mi><mn>2</mn></msup></mrow></msqrt></math>'
    )
    assert to_mathml(r"\sigma\left(u\right)") == (
        '<math><mi>σ</mi><mrow><mo stretchy="true">(</mo><mi>u</mi><mo stretchy="true">)</mo></mrow></math>'
    )
    assert "<mtext>batch</mtext>" in to_mathml(r"\sum_{\text{batch}} g")
    assert to_mathml("a < b") == "<math><mi>a</mi><mo>&lt;</mo><mi>b</mi></math>"
    assert unknown_commands(r"\foo x") == ["foo"]
    with pytest.raises(TypeError, match="expected TeX as a str"):
        to_mathml(None)


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.name)
def test_every_rule_renders_as_mathml(rule):
    for i in range(max(rule.arity, 1)):
        tex = (rule_forms if rule.kind == ELEMENTWISE else vjp_forms)(rule, i)[1]
        if not tex:
            continue
        assert unknown_commands(tex) == [], tex
        ET.fromstring(to_mathml(tex))  # well-formed


def test_formulas_render_as_mathml():
    pytest.importorskip("sympy")
    e = cr.explain("csc(x) + log(x, 3) + sqrt(abs(x)) + tan(x)**2", x=0.5)
    for name in e.gradients:
        tex = e.formula_tex(name)
        assert unknown_commands(tex) == [], tex
        ET.fromstring(to_mathml(tex))


# ---------------------------------------------------------------------------------------------------------------
# Command lines.
# ---------------------------------------------------------------------------------------------------------------
def test_derive_html(capsys, tmp_path):
    path = tmp_path / "neuron.html"
    assert main(["derive", "sigmoid(w*x + b)", "--at", "w=0.5,x=2,b=-1", "--html", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"page: {path}" in out
    assert page_json(path.read_text(encoding="utf-8"))["steps"][-1]["grads"]["x"] == "0.125"
    assert main(["derive", "x*y", "--at", "x=1,y=2", "--format", "json", "--html", str(path)]) == 0
    assert json.loads(capsys.readouterr().out)["html"] == str(path)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("f.pdf", "--html: the file name must end in .html, got"),
        ("missing/f.html", "does not exist"),
        (".", "must end in .html"),
    ],
)
def test_derive_html_errors(capsys, tmp_path, name, message):
    assert main(["derive", "x", "--at", "x=1", "--html", str(tmp_path / name)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_explain_net(capsys, tmp_path):
    pytest.importorskip("torch")
    for model in ("neuron", "mlp"):
        path = tmp_path / f"{model}.html"
        assert main(["explain-net", "--model", model, "--html", str(path)]) == 0
        out = capsys.readouterr().out
        assert f"page: {path}" in out
        text = path.read_text(encoding="utf-8")
        assert len(text.encode()) < 1_000_000
    assert "∂f/∂2.bias" in out
    _, torch_grads = mlp()
    assert "A 2-layer MLP" in text and page_json(text)["clusters"]
    assert main(["explain-net", "--html", str(tmp_path / "n.txt")]) == 2
    assert "must end in .html" in capsys.readouterr().err
    np.testing.assert_allclose(
        [float(v) for v in re.findall(r"-?\d+\.\d+", page_json(text)["steps"][-1]["grads"]["2.bias"])],
        torch_grads["2.bias"],
        rtol=1e-3,
    )


def test_ci_installs_chromium_before_the_readmes_test_command():
    root = Path(__file__).resolve().parent.parent
    lines = (root / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    readme = (root / "README.md").read_text(encoding="utf-8")
    command = next(line for line in lines if "pytest" in line)
    assert f"\n{command}\n" in readme, "CI runs exactly the README's test command"
    install = lines.index("command -v chromium || (apt-get update && apt-get install -y chromium)")
    assert install < lines.index(command) and 'export CI="${CI:-1}"' in lines


# ---------------------------------------------------------------------------------------------------------------
# In a real browser.
# ---------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    if find_chromium() is None:
        reason = "Chromium is not installed (apt-get install chromium); .ci/run installs it"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {reason}")
        pytest.skip(reason)
    with Browser() as b:
        yield b


def _open(browser, path) -> None:
    browser.call("Network.enable", session=True)
    browser.open(path.as_uri())
    requests = [e["params"]["request"]["url"] for e in browser.events if e.get("method") == "Network.requestWillBeSent"]
    browser.call("Network.disable", session=True)
    assert all(url == path.as_uri() or url.startswith("data:") for url in requests), requests
    assert browser.evaluate("document.body.dataset.ready") == "true", "the page's script did not finish"


def _state(browser) -> dict:
    return browser.evaluate("""({
        step: Number(document.body.dataset.step),
        active: [...document.querySelectorAll('.cr-node.active')].map(n => n.dataset.node),
        counter: document.getElementById('cr-counter').textContent,
        current: document.querySelector('#cr-steps li.current').textContent,
        grads: Object.fromEntries([...document.querySelectorAll('.cr-node')].map(
            n => [n.dataset.node, n.querySelector('.grad').textContent])),
        values: Object.fromEntries([...document.querySelectorAll('.cr-node')].map(
            n => [n.dataset.node, n.querySelector('.value').textContent])),
        panel: document.getElementById('cr-panel').textContent,
    })""")


def _distinct_colours(png: bytes) -> int:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (1200, 820)
    return len(image.getcolors(maxcolors=1 << 24))


def test_neuron_page_in_chromium(browser, neuron, tmp_path):
    path = neuron.save_html(tmp_path / "neuron.html")
    _open(browser, path)
    # The graph: one SVG group per node, placed by dagre (distinct positions inside the drawing), edges routed.
    layout = browser.evaluate("""({
        dagre: typeof dagre === 'object' && typeof dagre.layout === 'function',
        nodes: [...document.querySelectorAll('#cr-graph svg g.cr-node')].map(n => [n.dataset.node,
               n.getAttribute('transform'), n.querySelector('rect').getBBox().width]),
        edges: [...document.querySelectorAll('#cr-graph svg g.cr-edge path')].map(p => p.getAttribute('d')),
        box: document.querySelector('#cr-graph svg').getAttribute('viewBox'),
    })""")
    assert layout["dagre"]
    assert [n for n, _, _ in layout["nodes"]] == ["w", "x", "b", "v1", "v2", "v3"]
    positions = {t for _, t, _ in layout["nodes"]}
    assert len(positions) == 6 and all(t.startswith("translate(") for t in positions)
    xs = {n: float(t[len("translate(") :].split(",")[0]) for n, t, _ in layout["nodes"]}
    assert xs["w"] < xs["v1"] < xs["v2"] < xs["v3"], "layered left to right along the computation"
    assert len(layout["edges"]) == 5 and all(d.startswith("M") and "L" in d for d in layout["edges"])
    # Stepping: a real key press, a real click, back, and to the end.
    state = _state(browser)
    assert state["step"] == 0 and state["grads"]["x"] == "grad ·" and state["values"]["v1"] == "value ·"
    browser.key("ArrowRight")
    state = _state(browser)
    assert state["step"] == 1 and state["active"] == ["v1"] and state["values"]["v1"] == "value 1"
    assert state["counter"].startswith("step 2 of 11") and state["current"].startswith("Forward: v1 = w * x")
    browser.click("#cr-next")
    state = _state(browser)
    assert state["step"] == 2 and state["active"] == ["v2"]
    browser.key("ArrowLeft")
    assert _state(browser)["active"] == ["v1"]
    for _ in range(4):  # v2, v3, the seed, then the chain rule at v3
        browser.key("ArrowRight")
    state = _state(browser)
    assert state["active"] == ["v2", "v3"] and "σ'(u) = σ(u)(1−σ(u))" in state["panel"]
    assert "0.25" in state["panel"] and state["grads"]["v2"] == "grad 0.25" and state["grads"]["x"] == "grad ·"
    assert browser.evaluate("document.querySelector('#cr-panel math') !== null")
    browser.key("End")
    state = _state(browser)
    assert state["step"] == 10
    assert {n: state["grads"][n] for n in "wxb"} == {"w": "grad 0.5", "x": "grad 0.125", "b": "grad 0.25"}
    table = browser.evaluate("[...document.querySelectorAll('#cr-gradients tbody tr')].map(r => r.textContent)")
    assert any("∂f/∂x0.125" in row for row in table) and any("∂f/∂b0.25" in row for row in table)
    # MathML laid out by the browser itself: a fraction is taller than its line.
    assert browser.evaluate("document.querySelector('#cr-gradients math').getBoundingClientRect().height") > 10
    assert _distinct_colours(browser.screenshot()) > 200
    browser.key("Home")
    assert _state(browser)["step"] == 0


def test_mlp_page_in_chromium(browser, tmp_path):
    e, torch_grads = mlp()
    path = e.save_html(tmp_path / "mlp.html", title="A 2-layer MLP")
    _open(browser, path)
    clusters = browser.evaluate("[...document.querySelectorAll('g.cr-cluster text')].map(t => t.textContent)")
    assert sorted(clusters) == ["0 (Linear)", "1 (Sigmoid)", "2 (Linear)"]
    count = browser.evaluate("document.querySelectorAll('g.cr-node').length")
    assert count == len(page_json(path.read_text(encoding="utf-8"))["nodes"])
    browser.click("#cr-last")
    state = _state(browser)
    bias = [float(v) for v in re.findall(r"-?\d+\.\d+", state["grads"]["2.bias"])]
    np.testing.assert_allclose(bias, torch_grads["2.bias"], rtol=1e-3)
    assert state["grads"]["x"].startswith("grad (5, 3) mean ")
    browser.click("#cr-first")
    assert _state(browser)["step"] == 0
    assert _distinct_colours(browser.screenshot()) > 200


def test_a_long_graph_scrolls_to_the_current_step(browser, tmp_path):
    def chain(x):
        for _ in range(28):
            x = cr.sin(x + x)
        return x

    path = cr.explain(chain, x=0.3).save_html(tmp_path / "chain.html")
    _open(browser, path)
    scroll = "document.getElementById('cr-graph').scrollLeft"
    assert browser.evaluate(scroll) == 0
    for _ in range(40):
        browser.key("ArrowRight")
    assert _state(browser)["active"] == ["v40"]
    inside = browser.evaluate("""(function () {
        var node = document.querySelector('.cr-node.active').getBoundingClientRect();
        var view = document.getElementById('cr-graph').getBoundingClientRect();
        return node.left >= view.left && node.right <= view.right; })()""")
    assert browser.evaluate(scroll) > 0 and inside
