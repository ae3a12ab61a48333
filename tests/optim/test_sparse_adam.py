"""SparseAdam on an embedding: equal to torch.optim.SparseAdam with nn.Embedding(sparse=True), where only looked-up
rows move; resumed runs; torch's checks."""

from __future__ import annotations

import numpy as np
import pytest
from torch_steps import resumed_equals_uninterrupted

import chainrule as cr
from chainrule import nn, optim


def embedding_pair(torch, dtype):
    emb = nn.Embedding(10, 3, dtype=dtype, seed=0)
    emb_t = torch.nn.Embedding(10, 3, sparse=True, dtype=getattr(torch, np.dtype(dtype).name))
    with torch.no_grad():
        emb_t.weight.copy_(torch.tensor(emb.weight.numpy()))
    return emb, emb_t


@pytest.mark.parametrize("settings", [{"lr": 0.05}, {"lr": 0.1, "betas": (0.5, 0.7), "eps": 1e-4},
                                      {"lr": 0.02, "maximize": True}])
@pytest.mark.parametrize("dtype, rtol, atol", [(np.float64, 1e-14, 1e-15), (np.float32, 1e-6, 1e-7)])
@pytest.mark.parametrize("column_weights", [(1.0, 1.0, 1.0), (1.0, 0.0, 2.0)])
def test_embedding_steps_equal_torch_sparse(torch, settings, dtype, rtol, atol, column_weights):
    """With a column weighted 0 (every other step) a looked-up row has zero entries: they are in torch's sparse
    gradient, and their moments decay and move them; the whole row counts as touched here too."""
    emb, emb_t = embedding_pair(torch, dtype)
    opt, opt_t = optim.SparseAdam(emb.parameters(), **settings), torch.optim.SparseAdam(emb_t.parameters(),
                                                                                         **settings)
    rng = np.random.default_rng(0)
    start = emb.weight.numpy().copy()
    for step in range(12):
        idx = rng.integers(0, 6, size=(4, 2))  # rows 6-9 are never looked up; some of 0-5 skip a step
        target = rng.standard_normal((4, 2, 3)).astype(dtype)
        opt.zero_grad()
        opt_t.zero_grad()
        w = np.array(column_weights if step % 2 else (1.0, 1.0, 1.0), dtype=dtype)
        ((emb(cr.tensor(idx)) - cr.tensor(target)) ** 2 * cr.tensor(w)).sum().backward()
        ((emb_t(torch.tensor(idx)) - torch.tensor(target)) ** 2 * torch.tensor(w)).sum().backward()
        assert emb_t.weight.grad.is_sparse
        opt.step()
        opt_t.step()
        np.testing.assert_allclose(emb.weight.numpy(), emb_t.weight.detach().numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"step {step + 1}")
    np.testing.assert_array_equal(emb.weight.numpy()[6:], start[6:])


def test_rows_without_gradient_keep_their_moments_unlike_adam():
    """Adam would keep moving a row by its momentum after its last look-up; SparseAdam leaves it."""
    results = {}
    for name in ("SparseAdam", "Adam"):
        emb = nn.Embedding(4, 2, dtype=np.float64, seed=1)
        opt = getattr(optim, name)(emb.parameters(), lr=0.1)
        for idx in ([0, 1], [1], [1]):
            opt.zero_grad()
            emb(cr.tensor(np.array(idx))).sum().backward()
            opt.step()
        results[name] = emb.weight.numpy()
    start = nn.Embedding(4, 2, dtype=np.float64, seed=1).weight.numpy()
    np.testing.assert_allclose(results["SparseAdam"][0], start[0] - 0.1, rtol=1e-6)  # one step of ~lr
    assert np.all(results["Adam"][0] < start[0] - 0.2)  # Adam moved it on each step (0.1, 0.067, 0.05)


def test_resumed_equals_uninterrupted():
    resumed_equals_uninterrupted("SparseAdam", {"lr": 0.05, "betas": (0.5, 0.6)})


@pytest.mark.parametrize("settings, match", [({"lr": 0.0}, "lr must be > 0"), ({"eps": 0.0}, "eps must be > 0"),
                                             ({"betas": (1.0, 0.9)}, r"betas\[0\]"),
                                             ({"betas": (0.9, 1.0)}, r"betas\[1\]")])
def test_bad_settings_rejected_like_torch(torch, settings, match):
    with pytest.raises(ValueError):
        torch.optim.SparseAdam([torch.zeros(2, requires_grad=True)], **settings)
    with pytest.raises(ValueError, match=match):
        optim.SparseAdam([nn.Parameter(np.zeros(2))], **settings)


def test_complex_parameters_are_refused():
    with pytest.raises(TypeError, match="real parameters only"):
        optim.SparseAdam([nn.Parameter(np.ones(2, dtype=np.complex128))])
