"""The same MLP, trained from the same initial weights on the same batches, in chainrule and in PyTorch:
the losses agree to float32 precision at every step, and so do the final weights."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn, optim
from chainrule.data import DataLoader, load_digits


def _models(torch, seed):
    ours = nn.Sequential(nn.Linear(64, 32, seed=seed), nn.ReLU(), nn.Linear(32, 16, seed=seed + 1), nn.Tanh(),
                         nn.Linear(16, 10, seed=seed + 2))
    theirs = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 16), torch.nn.Tanh(),
                                 torch.nn.Linear(16, 10)).float()  # whatever torch's default dtype is
    with torch.no_grad():
        for (name, p), (name_t, pt) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
            assert name == name_t
            pt.copy_(torch.from_numpy(p.numpy().copy()))
    return ours, theirs


OPTIMIZERS = {
    "sgd-momentum": (lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
                     lambda torch, p: torch.optim.SGD(p, lr=0.1, momentum=0.9)),
    "adam": (lambda p: optim.Adam(p, lr=1e-2), lambda torch, p: torch.optim.Adam(p, lr=1e-2)),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_same_mlp_same_batches_same_losses(torch, name):
    X, y = load_digits()
    X, y = X[:320], y[:320]
    ours, theirs = _models(torch, seed=0)
    make_ours, make_theirs = OPTIMIZERS[name]
    opt, opt_t = make_ours(ours.parameters()), make_theirs(torch, theirs.parameters())
    losses, losses_t = [], []
    for _ in range(3):
        for xb, yb in DataLoader(X, y, batch_size=32, seed=len(losses)):
            loss = F.cross_entropy(ours(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            loss_t = torch.nn.functional.cross_entropy(theirs(torch.from_numpy(xb.numpy())),
                                                       torch.from_numpy(yb.numpy()))
            opt_t.zero_grad()
            loss_t.backward()
            opt_t.step()
            losses_t.append(loss_t.item())
    assert len(losses) == 30
    assert losses[-1] < 0.7 * losses[0]  # it learns
    np.testing.assert_allclose(losses, losses_t, rtol=2e-5)
    for p, pt in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert p.dtype == np.float32
        np.testing.assert_allclose(p.numpy(), pt.detach().numpy(), rtol=1e-4, atol=1e-5)


def test_cnn_forward_and_gradients_agree_in_float32(torch):
    cr.nn.init.manual_seed(1)
    ours = nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(24, 10))
    theirs = torch.nn.Sequential(torch.nn.Unflatten(1, (1, 8, 8)), torch.nn.Conv2d(1, 4, 3, padding=1),
                                 torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Conv2d(4, 6, 3, stride=2, padding=1),
                                 torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(24, 10)).float()
    with torch.no_grad():
        for p, pt in zip(ours.parameters(), theirs.parameters(), strict=True):
            pt.copy_(torch.from_numpy(p.numpy().copy()))
    X, y = load_digits()
    loss = F.cross_entropy(ours(X[:50]), y[:50])
    loss.backward()
    loss_t = torch.nn.functional.cross_entropy(theirs(torch.from_numpy(X[:50])), torch.from_numpy(y[:50]))
    loss_t.backward()
    assert loss.item() == pytest.approx(loss_t.item(), rel=1e-6)
    for p, pt in zip(ours.parameters(), theirs.parameters(), strict=True):
        np.testing.assert_allclose(p.grad.numpy(), pt.grad.numpy(), rtol=1e-4, atol=1e-6)
