"""Shared by the optimizer tests: run a chainrule optimizer and torch.optim's side by side on the same gradients."""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule import nn, optim

SHAPES = ((3, 4), (5,))


def start_values(shapes, dtype, seed):
    rng = np.random.default_rng(seed)
    values = []
    for shape in shapes:
        a = rng.standard_normal(shape)
        if np.dtype(dtype).kind == "c":
            a = a + 1j * rng.standard_normal(shape)
        values.append(a.astype(dtype))
    return values


def gradients(rng, shapes, dtype, sparse_rows=None):
    """Random gradients (torch's convention); with sparse_rows, only those rows of each matrix are nonzero."""
    out = []
    for shape in shapes:
        g = rng.standard_normal(shape)
        if np.dtype(dtype).kind == "c":
            g = g + 1j * rng.standard_normal(shape)
        out.append(g.astype(dtype))
    return out


def grouped(params, groups):
    if groups is None:
        return params
    return [{"params": [p], **options} for p, options in zip(params, groups, strict=True)]


def run_side_by_side(torch, name, settings, *, shapes=SHAPES, steps=10, dtype=np.float64, groups=None, seed=0,
                     rtol=1e-14, atol=1e-15, check=True):
    """Take ``steps`` steps of both optimizers on the same random gradients; after each, the parameters must agree
    to rtol (relative to each element, plus atol). Returns the largest relative difference seen."""
    start = start_values(shapes, dtype, seed)
    ours = [nn.Parameter(a.copy()) for a in start]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in start]
    opt = getattr(optim, name)(grouped(ours, groups), **settings)
    opt_t = getattr(torch.optim, name)(grouped(theirs, groups), **settings)
    rng = np.random.default_rng(seed + 1)
    worst = 0.0
    for step in range(steps):
        for p, pt, g in zip(ours, theirs, gradients(rng, shapes, dtype), strict=True):
            pt.grad = torch.tensor(g)
            p.grad = cr.tensor(np.conj(g))  # chainrule's covector of a complex parameter is torch's conjugate
        opt.step()
        opt_t.step()
        for p, pt in zip(ours, theirs, strict=True):
            a, b = p.numpy(), pt.detach().numpy()
            worst = max(worst, float(np.max(np.abs(a - b) / (np.abs(b) + atol / rtol))))
            assert p.dtype == np.dtype(dtype)
            if check:
                np.testing.assert_allclose(a, b, rtol=rtol, atol=atol,
                                           err_msg=f"{name} {settings} {groups} at step {step + 1}")
    return worst


def resumed_equals_uninterrupted(name, settings, *, shapes=SHAPES, dtype=np.float64, before=4, after=6, seed=3):
    """Save the optimizer's state after ``before`` steps, load it into a fresh optimizer over copies of the
    parameters, take ``after`` more steps: the values must equal an uninterrupted run's, bit for bit."""
    def grads_at(step):
        return gradients(np.random.default_rng((seed, step)), shapes, dtype)

    start = start_values(shapes, dtype, seed)
    params = [nn.Parameter(a.copy()) for a in start]
    opt = getattr(optim, name)(params, **settings)
    saved = saved_values = None
    for step in range(before + after):
        if step == before:
            saved, saved_values = opt.state_dict(), [p.numpy().copy() for p in params]
        for p, g in zip(params, grads_at(step), strict=True):
            p.grad = cr.tensor(g)
        opt.step()
    resumed = [nn.Parameter(a) for a in saved_values]
    opt2 = getattr(optim, name)(resumed, **settings)
    opt2.load_state_dict(saved)
    for step in range(before, before + after):
        for p, g in zip(resumed, grads_at(step), strict=True):
            p.grad = cr.tensor(g)
        opt2.step()
    for p, q in zip(params, resumed, strict=True):
        np.testing.assert_array_equal(q.numpy(), p.numpy())


def rejected_like_torch(torch, name, settings, match):
    """torch.optim refuses these settings with a ValueError; ours must too, with a message saying what is wrong."""
    import pytest

    with pytest.raises(ValueError):
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **settings)
    with pytest.raises(ValueError, match=match):
        getattr(optim, name)([nn.Parameter(np.zeros(2))], **settings)
