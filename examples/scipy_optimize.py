"""Fit a model with scipy.optimize.minimize, its parameters a dict, its gradient from chainrule.

The model is y = a · exp(b · t) + c. Its parameters live in a dict, as a model's parameters usually do; scipy wants
one flat vector, so ``ravel`` flattens the dict (chainrule.pytree: leaves in sorted-key order) and ``unravel``
rebuilds it. ``cr.value_and_grad`` returns the loss and a gradient dict of the same structure in one pass, which is
what ``minimize(..., jac=True)`` asks for: fun(x) -> (value, gradient vector).

Run it: ``python examples/scipy_optimize.py`` (needs scipy).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

import chainrule as cr
from chainrule.pytree import flatten

# Data made with a = 2, b = -0.5, c = 0.3 and a little noise.
rng = np.random.default_rng(0)
T = np.linspace(0.0, 4.0, 40)
Y = 2.0 * np.exp(-0.5 * T) + 0.3 + 0.01 * rng.normal(size=T.size)


def loss(params: dict) -> cr.Tensor:
    """Mean squared error of the model against the data."""
    prediction = params["a"] * cr.exp(params["b"] * T) + params["c"]
    return ((prediction - Y) ** 2).mean()


def ravel(tree) -> np.ndarray:
    """The leaves of a container, in flattening order, as one float64 vector."""
    return np.concatenate([np.ravel(np.asarray(leaf, dtype=np.float64)) for leaf in flatten(tree)[0]])


def unraveler(like):
    """The inverse of ``ravel`` for containers shaped like ``like``: a vector back to the container."""
    leaves, treedef = flatten(like)
    shapes = [np.shape(leaf) for leaf in leaves]
    sizes = [int(np.prod(s)) for s in shapes]

    def unravel(vector: np.ndarray):
        parts = np.split(np.asarray(vector, dtype=np.float64), np.cumsum(sizes)[:-1])
        return treedef.unflatten([float(p[0]) if s == () else p.reshape(s) for p, s in zip(parts, shapes, strict=True)])

    return unravel


def main() -> None:
    start = {"a": 1.0, "b": -1.0, "c": 0.0}
    unravel = unraveler(start)
    value_and_grad = cr.value_and_grad(loss)

    def fun(vector: np.ndarray) -> tuple[float, np.ndarray]:
        value, gradient = value_and_grad(unravel(vector))
        return value, ravel(gradient)

    result = minimize(fun, ravel(start), jac=True, method="BFGS", options={"gtol": 1e-10})
    fitted = unravel(result.x)
    for name, value in fitted.items():
        print(f"{name} = {value:.6f}")
    print(f"loss = {result.fun:.3e} after {result.nit} iterations ({result.message})")

    # The gradient scipy was given, against central differences of the loss at the optimum.
    _, analytic = fun(result.x)
    eps = 1e-6
    numeric = np.array([(float(loss(unravel(result.x + eps * e)).data) - float(loss(unravel(result.x - eps * e)).data))
                        / (2 * eps) for e in np.eye(result.x.size)])
    assert np.allclose(analytic, numeric, rtol=1e-5, atol=1e-9), (analytic, numeric)
    print("gradient at the optimum agrees with central differences")


if __name__ == "__main__":
    main()
