"""Explanations over arrays and nn modules (issue 13, item 1): gradients, matrix forms, layers, size."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr

torch = pytest.importorskip("torch")

ACTIVATIONS = {"sigmoid": (cr.nn.Sigmoid, torch.sigmoid), "tanh": (cr.nn.Tanh, torch.tanh),
               "relu": (cr.nn.ReLU, torch.relu)}


def _network(sizes, activation, seed):
    layers = []
    for k, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(cr.nn.Linear(n_in, n_out, seed=seed + k))
        if k < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation][0]())
    return cr.nn.Sequential(*layers)


def _torch_gradients(net, x, target, activation, loss):
    """The same network in PyTorch (float64): ∂loss/∂ each parameter, by torch's autograd."""
    params = {n: torch.tensor(p.data, dtype=torch.float64, requires_grad=True) for n, p in net.named_parameters()}
    h = torch.tensor(x)
    linears = [n.split(".")[0] for n in params if n.endswith(".weight")]
    for k, name in enumerate(linears):
        h = h @ params[f"{name}.weight"].T + params[f"{name}.bias"]
        if k < len(linears) - 1:
            h = ACTIVATIONS[activation][1](h)
    if loss == "mse":
        value = ((h - torch.tensor(target)) ** 2).mean()
    else:
        value = torch.nn.functional.cross_entropy(h, torch.tensor(target))
    value.backward()
    return {n: p.grad.numpy() for n, p in params.items()}


def _loss(kind, target):
    if kind == "mse":
        return lambda out: ((out - target) ** 2).mean()
    return lambda out: cr.nn.functional.cross_entropy(out, target)


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(1, 4), min_size=2, max_size=4), batch=st.integers(1, 4),
       activation=st.sampled_from(sorted(ACTIVATIONS)), loss=st.sampled_from(["mse", "cross_entropy"]),
       seed=st.integers(0, 1000))
def test_gradients_of_random_networks_equal_backward_and_torch(sizes, batch, activation, loss, seed):
    rng = np.random.default_rng(seed)
    net = _network(sizes, activation, seed)
    for p in net.parameters():
        p.data = p.data.astype(np.float64)
    x = rng.normal(size=(batch, sizes[0]))
    if loss == "mse":
        target = rng.normal(size=(batch, sizes[-1]))
    else:
        target = rng.integers(0, sizes[-1], batch)
    f = _loss(loss, target)
    e = cr.explain(lambda x: f(net(x)), x=x)

    # the engine's backward on the same computation, outside explain
    net.zero_grad()
    f(net(cr.tensor(x))).backward()
    reference = _torch_gradients(net, x, target, activation, loss)
    for name, p in net.named_parameters():
        assert e.gradients[name].shape == p.shape
        np.testing.assert_allclose(e.gradients[name], p.grad, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(e.gradients[name], reference[name], rtol=1e-9, atol=1e-12)
    # and by finite differences, for one weight entry
    w = net[0].weight
    h = 1e-6
    old = w.data[0, 0]
    w.data[0, 0] = old + h
    up = float(f(net(cr.tensor(x))).data)
    w.data[0, 0] = old - h
    down = float(f(net(cr.tensor(x))).data)
    w.data[0, 0] = old
    assert e.gradients["0.weight"][0, 0] == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-8)


def _mlp():
    net = _network([3, 4, 2], "sigmoid", 0)
    x = np.random.default_rng(1).normal(size=(5, 3))
    labels = np.array([0, 1, 1, 0, 1])
    return net, x, labels


def test_layers_read_as_the_recipe():
    """δ of the output layer, then δ of the hidden layer = (δ W) ⊙ σ'(z), then ∂L/∂W = δᵀa and ∂L/∂b = Σ δ."""
    net, x, labels = _mlp()
    e = cr.explain(lambda x: cr.nn.functional.cross_entropy(net(x), labels), x=x)
    assert [(layer.name, layer.module) for layer in e.layers] == [
        ("(outside modules)", ""), ("2", "Linear"), ("1", "Sigmoid"), ("0", "Linear")]

    # the recipe by hand in NumPy
    W1, b1, W2, b2 = (p.data for p in net.parameters())
    z1 = x @ W1.T + b1
    a1 = 1 / (1 + np.exp(-z1))
    z2 = a1 @ W2.T + b2
    softmax = np.exp(z2 - z2.max(1, keepdims=True))
    softmax /= softmax.sum(1, keepdims=True)
    delta2 = (softmax - np.eye(2)[labels]) / len(labels)
    delta1 = (delta2 @ W2) * a1 * (1 - a1)

    output, activation, hidden = e.layers[1], e.layers[2], e.layers[3]
    np.testing.assert_allclose(output.delta, delta2, rtol=1e-12)
    by_input = {s.input: s for s in output.steps}
    np.testing.assert_allclose(by_input["2.weight"].product, delta2.T @ a1, rtol=1e-12)
    np.testing.assert_allclose(by_input["2.bias"].product, delta2.sum(0), rtol=1e-12)
    assert by_input["2.weight"].form.startswith("∂f/∂2.weight = gᵀ·x")
    (sigmoid_step,) = activation.steps
    np.testing.assert_allclose(sigmoid_step.product, delta1, rtol=1e-12)
    assert sigmoid_step.form == "∂f/∂v1 = ∂f/∂v2 ⊙ σ'(v1)"
    np.testing.assert_allclose(hidden.delta, delta1, rtol=1e-12)
    by_input = {s.input: s for s in hidden.steps}
    np.testing.assert_allclose(by_input["0.weight"].product, delta1.T @ x, rtol=1e-12)
    assert by_input["x"].form.startswith("∂f/∂x = g·W")
    text = e.to_text()
    assert "Layers (the backward pass by nn module" in text
    assert "  1 (Sigmoid): δ = " in text


def test_explain_a_loss_already_computed():
    net, x, labels = _mlp()
    loss = cr.nn.functional.cross_entropy(net(cr.tensor(x)), labels)
    e = cr.explain(loss, model=net)
    assert list(e.gradients) == [n for n, _ in net.named_parameters()]
    assert [layer.module for layer in e.layers if layer.module] == ["Linear", "Linear"]
    loss.backward()  # the graph is still the user's: explain kept it
    for name, p in net.named_parameters():
        np.testing.assert_allclose(e.gradients[name], p.grad, rtol=1e-12)
    unnamed = cr.explain(cr.nn.functional.cross_entropy(net(cr.tensor(x)), labels))
    assert list(unnamed.gradients) == ["p1", "p2", "p3", "p4"]
    with pytest.raises(cr.errors.ExpressionError, match="no recorded graph"):
        cr.explain(cr.tensor(1.0))
    with pytest.raises(TypeError, match="takes only model="):
        cr.explain(loss, x=1.0)


def test_broadcasting_and_reductions_show_their_sums():
    e = cr.explain(lambda W, b: cr.sum(cr.tanh(W + b)), W=np.ones((2, 3)) * 0.1, b=np.array([0.0, 0.5, 1.0]))
    steps = {(s.node, s.input): s for s in e.backward_steps if hasattr(s, "form")}
    form = steps[("v1", "b")].form
    assert form == "∂f/∂b = Σ over axis 0 of (∂f/∂v1)  (the sum that undoes broadcasting)"
    expected = (1 - np.tanh(np.ones((2, 3)) * 0.1 + [0.0, 0.5, 1.0]) ** 2).sum(0)
    np.testing.assert_allclose(e.gradients["b"], expected, rtol=1e-12)
    assert "g spread back over the reduced axes to shape (2, 3)" in steps[("v3", "v2")].form
    assert steps[("v3", "v2")].shapes == "∂f/∂v3 () → ∂f/∂v2 (2, 3)"
    text = e.to_text()
    assert "[0.099 , 0.099 , 0.099 ]" not in text  # small arrays are shown in full, on one line:
    assert "∂f/∂b = [" in text and "shape (" not in text.split("Gradient")[1]


def test_large_arrays_are_summarised():
    x = np.arange(200.0).reshape(20, 10) / 100
    e = cr.explain(lambda x: cr.sum(x * x), x=x)
    text = e.to_text()
    assert "shape (20, 10): min 0, mean 1.99, max 3.98; first [0, 0.02, 0.04, 0.06, …]" in text
    data = e.to_dict()
    assert data["gradients"]["x"] == {"shape": [20, 10], "min": 0.0, "mean": 1.99, "max": 3.98,
                                      "first": [0.0, 0.02, 0.04, 0.06]}
    np.testing.assert_allclose(e.gradients["x"], 2 * x, rtol=1e-15)


def test_bad_array_values_are_refused_clearly():
    with pytest.raises(cr.errors.ExpressionError, match=r"an array of dtype <U1 and shape \(2,\)"):
        cr.explain(lambda W: cr.sum(W), W=np.array(["a", "b"]))
    with pytest.raises(cr.errors.DomainError, match="must be finite, but 1 of its 3 entries are not"):
        cr.explain(lambda W: cr.sum(W), W=[1.0, np.inf, 2.0])
    with pytest.raises(cr.errors.ExpressionError, match="ragged list"):
        cr.explain(lambda W: cr.sum(W), W=[[1.0], [1.0, 2.0]])


def test_the_W1_network_explains_in_little_text():
    """784-256-256-10 at batch 128: summaries keep every rendering far below 10 MB (README: the time)."""
    rng = np.random.default_rng(0)
    net = cr.nn.Sequential(cr.nn.Linear(784, 256, seed=0), cr.nn.ReLU(), cr.nn.Linear(256, 256, seed=1),
                           cr.nn.ReLU(), cr.nn.Linear(256, 10, seed=2))
    x = rng.standard_normal((128, 784)).astype(np.float32)
    y = rng.integers(0, 10, 128)
    e = cr.explain(lambda x: cr.nn.functional.cross_entropy(net(x), y), x=x)
    for text in (e.to_text(), e.to_markdown(), e.to_json(), e.to_latex()):
        assert len(text.encode()) < 200_000
    assert e.gradients["0.weight"].shape == (256, 784)
