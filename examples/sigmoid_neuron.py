"""One sigmoid neuron, worked by hand and by chainrule: forward pass, loss, backward pass, gradient descent.

The neuron takes inputs a, weights w and a bias b:

    x = w · a + b        (the weighted input)
    y = σ(x)             (the activation, σ(x) = 1 / (1 + e^−x))
    L = (y − t)²         (squared error against the target t)

The chain rule walks back from L:

    dL/dy = 2 (y − t)
    dy/dx = σ'(x) = σ(x) (1 − σ(x)) = y (1 − y)
    dL/dx = dL/dy · σ'(x)
    dL/dw = dL/dx · a,   dL/db = dL/dx

Run it: ``python examples/sigmoid_neuron.py``.
"""

from __future__ import annotations

import math

import chainrule as cr

A = [1.0, 2.0]  # the inputs
W = [0.6, -0.4]  # the initial weights
B = 0.1  # the initial bias
T = 1.0  # the target
LEARNING_RATE = 1.0


def by_hand(a: list[float], w: list[float], b: float, t: float) -> dict[str, float | list[float]]:
    """Every quantity of the forward and backward pass, with plain Python arithmetic."""
    x = sum(wi * ai for wi, ai in zip(w, a, strict=True)) + b
    y = 1 / (1 + math.exp(-x))
    loss = (y - t) ** 2
    dL_dy = 2 * (y - t)
    dsigma = y * (1 - y)  # σ'(x) = σ(x)(1 − σ(x)): the sigmoid's rule uses its own output
    dL_dx = dL_dy * dsigma
    return {"x": x, "y": y, "loss": loss, "dL_dy": dL_dy, "dsigma": dsigma, "dL_dx": dL_dx,
            "dL_dw": [dL_dx * ai for ai in a], "dL_db": dL_dx}


def by_chainrule(a: list[float], w: list[float], b: float, t: float) -> dict[str, float | list[float]]:
    """The same numbers from chainrule's backward pass (x and y keep their gradients via small leaf tricks)."""
    w_t = cr.tensor(w, requires_grad=True)
    b_t = cr.tensor(b, requires_grad=True)
    x = (w_t * cr.tensor(a)).sum() + b_t
    # Cut the graph at x and at y so that backward also reports dL/dx and dL/dy.
    x_leaf = x.detach().requires_grad_()
    y = cr.sigmoid(x_leaf)
    y_leaf = y.detach().requires_grad_()
    loss = (y_leaf - t) ** 2
    loss.backward()  # dL/dy
    y.backward(y_leaf.grad)  # dL/dx = dL/dy · σ'(x)
    x.backward(x_leaf.grad)  # dL/dw, dL/db
    return {"x": x.item(), "y": y.item(), "loss": loss.item(), "dL_dy": y_leaf.grad.item(),
            "dL_dx": x_leaf.grad.item(), "dL_dw": w_t.grad.numpy().tolist(), "dL_db": b_t.grad.item()}


def gradient_descent(steps: int = 5, lr: float = LEARNING_RATE) -> list[float]:
    """A few steps of w ← w − lr · dL/dw (and b likewise); returns the loss before each step and after the last."""
    w = cr.tensor(W, requires_grad=True)
    b = cr.tensor(B, requires_grad=True)
    a = cr.tensor(A)
    losses = []
    for _ in range(steps + 1):
        loss = (cr.sigmoid((w * a).sum() + b) - T) ** 2
        losses.append(loss.item())
        if len(losses) > steps:
            break
        w.grad = b.grad = None
        loss.backward()
        with cr.no_grad():
            w = (w - lr * w.grad).detach().requires_grad_()
            b = (b - lr * b.grad).detach().requires_grad_()
    return losses


def main() -> dict:
    hand = by_hand(A, W, B, T)
    engine = by_chainrule(A, W, B, T)
    print(f"inputs a = {A}, weights w = {W}, bias b = {B}, target t = {T}\n")
    print("forward pass")
    print(f"  x = w·a + b  = {hand['x']:.6f}")
    print(f"  y = σ(x)     = {hand['y']:.6f}")
    print(f"  L = (y − t)² = {hand['loss']:.6f}\n")
    rows = [("dL/dy = 2(y − t)", hand["dL_dy"], engine["dL_dy"]),
            ("σ'(x) = σ(x)(1 − σ(x))", hand["dsigma"], None),
            ("dL/dx = dL/dy · σ'(x)", hand["dL_dx"], engine["dL_dx"])]
    rows += [(f"dL/dw{i + 1} = dL/dx · a{i + 1}", h, e)
             for i, (h, e) in enumerate(zip(hand["dL_dw"], engine["dL_dw"], strict=True))]
    rows.append(("dL/db = dL/dx", hand["dL_db"], engine["dL_db"]))
    print(f"  {'backward pass':<24}{'by hand':>13}{'backward()':>13}")
    for label, h, e in rows:
        print(f"  {label:<24}{h:>13.8f}" + (f"{e:>13.8f}" if e is not None else ""))
    same = all(math.isclose(h, e, rel_tol=1e-12) for _, h, e in rows if e is not None)
    print(f"\nhand and backward() agree: {same}\n")
    losses = gradient_descent()
    print(f"gradient descent, learning rate {LEARNING_RATE}")
    for step, loss in enumerate(losses):
        print(f"  step {step}: L = {loss:.6f}")
    return {"hand": hand, "engine": engine, "agree": same, "losses": losses}


if __name__ == "__main__":
    main()
