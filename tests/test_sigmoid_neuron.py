"""The single sigmoid neuron example: hand-derived chain rule equals backward, and gradient descent lowers the loss."""

from __future__ import annotations

import importlib.util
import itertools
import math
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sigmoid_neuron.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("sigmoid_neuron", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_numbers_match_the_textbook_formulas(example, capsys):
    result = example.main()
    out = capsys.readouterr().out
    # Independent arithmetic: x = 0.6·1 − 0.4·2 + 0.1 = −0.1, y = σ(−0.1), L = (y − 1)².
    y = 1 / (1 + math.exp(0.1))
    dL_dx = 2 * (y - 1) * y * (1 - y)
    hand, engine = result["hand"], result["engine"]
    assert hand["x"] == pytest.approx(-0.1, abs=1e-15)
    assert hand["y"] == pytest.approx(0.47502081252106, rel=1e-13)
    assert hand["loss"] == pytest.approx((y - 1) ** 2, rel=1e-14)
    assert hand["dsigma"] == pytest.approx(y * (1 - y), rel=1e-14)
    for source in (hand, engine):
        assert source["dL_dy"] == pytest.approx(2 * (y - 1), rel=1e-14)
        assert source["dL_dx"] == pytest.approx(dL_dx, rel=1e-13)
        assert source["dL_dw"] == pytest.approx([dL_dx * 1.0, dL_dx * 2.0], rel=1e-13)
        assert source["dL_db"] == pytest.approx(dL_dx, rel=1e-13)
    assert result["agree"] is True
    assert "hand and backward() agree: True" in out
    assert "dL/dx = dL/dy · σ'(x)" in out and "-0.26183446" in out


def test_gradient_descent_lowers_the_loss_every_step(example):
    losses = example.gradient_descent(steps=5)
    assert len(losses) == 6
    assert all(b < a for a, b in itertools.pairwise(losses))
    # The first step by hand: w ← w − lr·dL/dw, b ← b − lr·dL/db, then the new loss.
    hand = example.by_hand(example.A, example.W, example.B, example.T)
    w = [wi - example.LEARNING_RATE * gi for wi, gi in zip(example.W, hand["dL_dw"], strict=True)]
    b = example.B - example.LEARNING_RATE * hand["dL_db"]
    assert losses[1] == pytest.approx(example.by_hand(example.A, w, b, example.T)["loss"], rel=1e-12)
