"""PyTorch spellings on Tensor (size(), numel, view, permute, clone, clamp, argmax, float/double, grad_fn), checked
against torch==2.13: values and gradients."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return torch


X = np.random.default_rng(0).standard_normal((2, 3, 4))


def both(torch, f_ours, f_theirs, x=X):
    ours, theirs = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = f_ours(ours), f_theirs(theirs)
    weights = np.random.default_rng(1).standard_normal(y.shape)
    (y * cr.tensor(weights, dtype=y.dtype)).sum().backward()
    (yt * torch.tensor(weights, dtype=yt.dtype)).sum().backward()
    assert y.shape == tuple(yt.shape) and y.dtype == yt.detach().numpy().dtype
    np.testing.assert_allclose(y.numpy(), yt.detach().numpy(), rtol=1e-6 if y.dtype == np.float32 else 1e-15)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-6, atol=0)


@pytest.mark.parametrize("name, f", [
    ("view", lambda t: t.view(4, 6) * 1.5),
    ("view -1", lambda t: t.view(-1, 2).exp()),
    ("permute", lambda t: t.permute(2, 0, 1).sin()),
    ("permute list", lambda t: t.permute([1, 2, 0]) ** 2),
    ("clone", lambda t: t.clone() * t),
    ("clamp", lambda t: t.clamp(-0.5, 0.25) * 3),
    ("clamp min", lambda t: t.clamp(min=0.25)),
    ("float", lambda t: t.float() * 2),
    ("double", lambda t: t.float().double() ** 3),
])
def test_methods_equal_torch_with_gradients(torch, name, f):
    both(torch, f, f)


def test_clamp_on_a_bound_keeps_clips_convention(torch):
    """A difference kept (README): on a bound, clip's derivative is 0 (the rule table); torch's clamp gives 1."""
    t, tt = cr.tensor([0.25, 0.5], requires_grad=True), torch.tensor([0.25, 0.5], requires_grad=True)
    t.clamp(0.25, 1.0).sum().backward()
    tt.clamp(0.25, 1.0).sum().backward()
    assert t.grad.tolist() == [0.0, 1.0] and tt.grad.tolist() == [1.0, 1.0]


def test_size_numel_argmax_grad_fn(torch):
    t, tt = cr.tensor(X), torch.tensor(X)
    assert t.size() == tuple(tt.size()) and t.size(1) == tt.size(1) and t.size(-1) == tt.size(-1)
    assert t.size == X.size and t.size + 0 == 24  # NumPy's meaning kept: an int until called
    assert t.numel() == tt.numel() == 24
    with pytest.raises(IndexError, match="dimension out of range"):
        t.size(3)
    assert t.argmax().item() == tt.argmax().item()
    for axis in (0, 1, -1):
        for keep in (False, True):
            got, expected = t.argmax(axis, keep), tt.argmax(axis, keep).numpy()
            assert got.dtype == np.int64 and not got.requires_grad
            np.testing.assert_array_equal(got.numpy(), expected)
    leaf = cr.tensor(X, requires_grad=True)
    y = leaf.clone()
    assert leaf.grad_fn is None and y.grad_fn is y.node and y.grad_fn is not None
    y.data[0, 0, 0] = 99.0
    assert leaf.numpy()[0, 0, 0] == X[0, 0, 0]  # clone has its own memory
    with pytest.raises(AttributeError):
        y.grad_fn = None
    with pytest.raises(cr.errors.ShapeError, match="give all 3 axes"):
        leaf.permute(1, 0)


@pytest.mark.parametrize("name", ["sum", "mean", "prod", "logsumexp", "argmax"])
@pytest.mark.parametrize(("dim", "keepdim"), [(1, False), (0, True), (-1, True), ((0, 1), False)])
def test_reductions_take_pytorchs_dim_and_keepdim(name, dim, keepdim):
    torch = pytest.importorskip("torch")
    if name in ("argmax", "prod") and isinstance(dim, tuple):
        dim = 1  # PyTorch's argmax and prod take one dim
    x = np.random.default_rng(3).standard_normal((3, 4))
    t, tt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours = getattr(t, name)(dim=dim, keepdim=keepdim)
    theirs = getattr(tt, name)(dim=dim, keepdim=keepdim)
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-14)
    if name != "argmax":
        w = np.random.default_rng(4).standard_normal(ours.shape)
        (ours * cr.tensor(w)).sum().backward()
        (theirs * torch.tensor(w)).sum().backward()
        np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy(), rtol=1e-13)


@pytest.mark.parametrize(("name", "hint"), [("max", "argmax"), ("min", "argmin"), ("std", "n − 1"), ("var", "n − 1")])
def test_dim_is_refused_where_pytorchs_reduction_means_something_else(name, hint):
    t = cr.tensor(np.ones((2, 3)))
    with pytest.raises(TypeError, match=hint):
        getattr(t, name)(dim=1)
    with pytest.raises(TypeError, match="not both"):
        t.sum(axis=0, dim=1)
