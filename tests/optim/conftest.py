"""The optimizer tests' reference: PyTorch (test-only; chainrule never imports it), on one thread."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return torch
