"""W7: one AdamW training step of the character transformer of ``chainrule train --model charlm`` (4 pre-norm
encoder layers of width 128, 4 heads, tanh-GELU, causal mask, context 64, batch 32, float32), with gradient clipping
as the training job does, in ``cr.nn`` + ``cr.optim`` and in PyTorch eager with the same weights.

Every library starts from the same weights (``data.charlm``: NumPy arrays named as both state dicts name them) and
cycles through the same four batches. The checksum: the losses of three steps, then the norm of the weights.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import Case, data

LR, WEIGHT_DECAY, CLIP = 1e-3, 0.01, 1.0


def _chainrule_nn(setup: data.CharLMSetup) -> tuple[Callable, Callable, Callable]:
    import chainrule as cr
    from chainrule.cli.charlm import CharTransformer, lm_loss

    def init():
        s = setup.sizes
        model = CharTransformer(s["vocab"], s["context"], s["width"], s["layers"], s["heads"], seed=0)
        model.load_state_dict(setup.state)
        return model, cr.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)

    def step(state, x, y):
        model, optimizer = state
        loss = lm_loss(model, x, y)
        optimizer.zero_grad()
        loss.backward()
        cr.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        optimizer.step()
        return loss.item()

    return init, step, lambda state: [p.numpy() for p in state[0].parameters()]


def _torch(setup: data.CharLMSetup) -> tuple[Callable, Callable, Callable]:
    import torch

    tnn = torch.nn
    s = setup.sizes

    class CharTransformer(tnn.Module):
        def __init__(self):
            super().__init__()
            width = s["width"]
            self.tok_emb = tnn.Embedding(s["vocab"], width)
            self.pos_emb = tnn.Embedding(s["context"], width)
            self.layers = tnn.ModuleList(
                [
                    tnn.TransformerEncoderLayer(
                        width,
                        s["heads"],
                        4 * width,
                        0.0,
                        activation=lambda x: tnn.functional.gelu(x, approximate="tanh"),
                        batch_first=True,
                        norm_first=True,
                    )
                    for _ in range(s["layers"])
                ]
            )
            self.norm = tnn.LayerNorm(width)
            self.head = tnn.Linear(width, s["vocab"])
            t = s["context"]
            self.mask = torch.triu(torch.ones(t, t, dtype=torch.bool), 1)
            self.positions = torch.arange(t)

        def forward(self, ids):
            x = self.tok_emb(ids) + self.pos_emb(self.positions)
            for layer in self.layers:
                x = layer(x, src_mask=self.mask)
            return self.head(self.norm(x))

    def init():
        model = CharTransformer()
        model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in setup.state.items()})
        return model, torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)

    def step(state, x, y):
        model, optimizer = state
        logits = model(x)
        loss = tnn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        tnn.utils.clip_grad_norm_(model.parameters(), CLIP)
        optimizer.step()
        return loss.item()

    def export(state):
        return [p.detach().numpy() for p in state[0].parameters()]

    return init, step, export


IMPLEMENTATIONS: dict[str, Callable] = {"chainrule-nn": _chainrule_nn, "torch": _torch}
CONVERT = {"torch": lambda x: __import__("torch").from_numpy(x)}


def make_case(lib: str, params: dict[str, Any]) -> Case:
    setup = data.charlm(**params)
    init, train_step, export = IMPLEMENTATIONS[lib](setup)
    convert = CONVERT.get(lib, lambda x: x)
    batches = [(convert(x), convert(y)) for x, y in setup.batches]

    def checksum() -> list[float]:
        state = init()
        losses = [train_step(state, x, y) for x, y in batches[:3]]
        norm = np.sqrt(sum(np.sum(np.square(np.asarray(p, np.float64))) for p in export(state)))
        return [*losses, float(norm)]

    state = init()
    count = 0

    def step() -> float:
        nonlocal count
        x, y = batches[count % len(batches)]
        count += 1
        return train_step(state, x, y)

    return Case(step, checksum)
