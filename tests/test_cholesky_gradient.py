"""The Cholesky factor's gradient on arrays, computed by blocks of columns (rules/linalg.py), for both rules that use
it (``cholesky`` and SciPy's ``cho_factor``): equal to the textbook formula L⁻ᵀ Φ(Lᵀ ḡ) L⁻¹ (written here with SciPy's
triangular solves, not the library's code) at sizes around the block width, batched and in float32; to PyTorch's
gradient (test-only) through a symmetric parametrisation; to central differences; and, at higher order (on Tensors,
the textbook formula), to the same numbers.
"""

from __future__ import annotations

import numpy as np
import pytest

scipy_linalg = pytest.importorskip("scipy.linalg")
torch = pytest.importorskip("torch")

import chainrule as cr  # noqa: E402
import chainrule.numpy as cnp  # noqa: E402
from chainrule.rules.numpy_math import CHOLESKY_BLOCK, cholesky_vjp_blocked  # noqa: E402
from chainrule.scipy import linalg  # noqa: E402

B = CHOLESKY_BLOCK


def _spd(shape, seed, dtype=np.float64):
    x = np.random.default_rng(seed).standard_normal(shape)
    n = shape[-1]
    return (x @ np.swapaxes(x, -1, -2) / n + np.eye(n)).astype(dtype)


def _textbook(g, lower):
    """Ā on A's lower triangle for L = chol(A): S = L⁻ᵀ Φ(Lᵀ ḡ) L⁻¹, then S + Sᵀ below the diagonal, S on it."""
    n = lower.shape[-1]
    phi = np.tril(np.ones((n, n)), -1) + 0.5 * np.eye(n)
    inner = (lower.T @ g) * phi
    left = scipy_linalg.solve_triangular(lower, inner, lower=True, trans=1)
    s = scipy_linalg.solve_triangular(lower, left.T, lower=True, trans=1).T
    return np.tril(s + s.T, -1) + np.diag(np.diag(s))


def _relative(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


CHOLESKY = {"numpy": lambda a: cnp.linalg.cholesky(a), "scipy": lambda a: linalg.cholesky(a, lower=True)}


@pytest.mark.parametrize("which", sorted(CHOLESKY))
@pytest.mark.parametrize("n", [1, 2, 7, B - 1, B, B + 1, 2 * B, 2 * B + 1, 300])
def test_the_blocked_gradient_equals_the_textbook_formula(which, n):
    a = _spd((n, n), n)
    w = np.random.default_rng(n + 1).standard_normal((n, n))
    grad = cr.grad(lambda t: (CHOLESKY[which](t) * w).sum())(a)
    expected = _textbook(w, np.linalg.cholesky(a))
    assert _relative(grad, expected) < 1e-12
    np.testing.assert_array_equal(np.triu(grad, 1), 0.0)  # only the lower triangle is read


@pytest.mark.parametrize("n", range(1, 14))
def test_every_block_edge_with_narrow_blocks(n):
    # Blocks of 3 columns put 1 to 5 blocks, full and partial, through the same code as wide blocks in a wide matrix.
    a = _spd((n, n), 100 + n)
    g = np.random.default_rng(n).standard_normal((n, n))
    lower = np.linalg.cholesky(a)
    for block in (1, 2, 3, n):
        assert _relative(cholesky_vjp_blocked(g, lower, block=block), _textbook(g, lower)) < 1e-12


def test_batched_and_float32():
    n = B + 5
    a = _spd((2, 3, n, n), 7)
    w = np.random.default_rng(8).standard_normal((2, 3, n, n))
    grad = cr.grad(lambda t: (cnp.linalg.cholesky(t) * w).sum())(a)
    lowers = np.linalg.cholesky(a)
    for i in np.ndindex(2, 3):
        assert _relative(grad[i], _textbook(w[i], lowers[i])) < 1e-12
    grad32 = cr.grad(lambda t: (linalg.cholesky(t, lower=True) * w[0, 0].astype(np.float32)).sum())(
        a[0, 0].astype(np.float32))
    assert grad32.dtype == np.float32
    assert _relative(grad32, grad[0, 0]) < 1e-4


def test_against_torch_and_central_differences():
    n = B + 9
    a = _spd((n, n), 11)
    w = np.random.default_rng(12).standard_normal((n, n))
    # A symmetric parametrisation (X + Xᵀ)/2 gives PyTorch's symmetric gradient in both libraries.
    ours = cr.grad(lambda t: (linalg.cholesky((t + t.T) / 2, lower=True) * w).sum())(a)
    t = torch.tensor(a, requires_grad=True)
    (torch.linalg.cholesky((t + t.T) / 2) * torch.tensor(w)).sum().backward()
    assert _relative(ours, t.grad.numpy()) < 1e-12
    # Central differences along a random direction (NumPy's cholesky reads the lower triangle, as ours).
    grad = cr.grad(lambda t: (cnp.linalg.cholesky(t) * w).sum())(a)
    u = np.random.default_rng(13).standard_normal((n, n))
    eps = 1e-6
    difference = np.sum(w * (np.linalg.cholesky(a + eps * u) - np.linalg.cholesky(a - eps * u))) / (2 * eps)
    assert np.sum(grad * u) == pytest.approx(difference, rel=1e-8)


@pytest.mark.parametrize("which", sorted(CHOLESKY))
def test_higher_order_takes_the_formula_and_agrees(which):
    # Differentiating the gradient runs the rule on Tensors, through the textbook formula: its value equals the
    # blocked one on arrays, and its own derivative matches central differences of the blocked gradient.
    n = B + 3
    a = _spd((n, n), 21)
    w = np.random.default_rng(22).standard_normal((n, n))
    u = np.random.default_rng(23).standard_normal((n, n))
    gradient = cr.grad(lambda t: (CHOLESKY[which](t) * w).sum())
    value, vjp_fn = cr.vjp(gradient, a)
    assert _relative(np.asarray(value), gradient(a)) < 1e-12
    (second,) = vjp_fn(u)
    eps = 1e-5
    v = np.tril(np.random.default_rng(24).standard_normal((n, n)))
    difference = np.sum(u * (gradient(a + eps * v) - gradient(a - eps * v))) / (2 * eps)
    assert np.sum(np.asarray(second) * v) == pytest.approx(difference, rel=1e-6)


def test_arrays_take_the_blocked_path(monkeypatch):
    import chainrule.rules.numpy_math as numpy_math

    calls = []
    monkeypatch.setattr(numpy_math, "cholesky_vjp_blocked", lambda g, y: calls.append(g.shape) or
                        cholesky_vjp_blocked(g, y))
    a = _spd((5, 5), 31)
    for cholesky in CHOLESKY.values():
        cr.grad(lambda t, f=cholesky: f(t).sum())(a)
    assert calls == [(5, 5), (5, 5)]
