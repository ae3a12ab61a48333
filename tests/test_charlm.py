"""`chainrule train --model charlm`: the character transformer end to end, resume, and against PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import charlm
from chainrule.cli.train import main

TINY = ["--model", "charlm", "--layers", "1", "--width", "16", "--heads", "2", "--context", "8",
        "--batch-size", "4", "--steps", "3", "--warmup", "2", "--sample-length", "20", "--no-progress"]
TINY_KW = dict(layers=1, width=16, heads=2, context=8, batch_size=4, warmup=2, val_batches=2, sample_length=20)


def test_main_runs_end_to_end(tmp_path, capsys):
    assert main([*TINY, "--epochs", "2", "--out", str(tmp_path), "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "epoch 1/2" in out and "epoch 2/2" in out and "validation loss" in out
    assert "a sample (temperature 0.6, top-k 10, seed 3)" in out
    state = cr.load(tmp_path / "text-charlm.safetensors")
    assert state["epoch"] == 2 and set(state) >= {"model", "optimizer", "scheduler", "settings", "tokenizer"}


def test_bad_options_are_refused(tmp_path, capsys):
    assert main([*TINY, "--width", "15", "--out", str(tmp_path)]) == 1
    assert "multiple of heads" in capsys.readouterr().err
    assert main([*TINY, "--epochs", "1", "--out", str(tmp_path)]) == 0
    assert main([*TINY, "--width", "32", "--epochs", "2", "--out", str(tmp_path),
                 "--resume", str(tmp_path / "text-charlm.safetensors")]) == 1
    assert "width=16" in capsys.readouterr().err


def test_sampling_options_reach_the_sample(tmp_path, capsys):
    assert main([*TINY, "--epochs", "1", "--out", str(tmp_path), "--temperature", "1.5", "--top-k", "0"]) == 0
    assert "a sample (temperature 1.5, seed 0)" in capsys.readouterr().out
    assert main([*TINY, "--epochs", "1", "--out", str(tmp_path), "--top-k", "3", "--dropout", "0.2"]) == 0
    assert "a sample (temperature 0.6, top-k 3, seed 0)" in capsys.readouterr().out
    assert cr.load(tmp_path / "text-charlm.safetensors")["settings"].count('"dropout": 0.2') == 1
    result = charlm.train_charlm(epochs=1, steps_per_epoch=2, out_dir=None, say=lambda _: None, top_k=2,
                                 **{**TINY_KW, "sample_length": 200})
    assert result.sample == charlm.generate(result.model, result.tokenizer, "\n", 200, 0.6, 0, top_k=2)
    with pytest.raises(cr.errors.DomainError, match="charlm: top_k must be a positive int"):
        charlm.train_charlm(out_dir=None, top_k=0, **TINY_KW)  # refused before training, not after


class Fixed(charlm.CharTransformer):
    """Logits that ignore the input: a fixed distribution over 6 characters, to count what generate draws."""

    def forward(self, ids):
        return cr.Tensor(np.broadcast_to(np.log([0.3, 0.25, 0.2, 0.15, 0.07, 0.03]), (*np.shape(ids), 6)))


def test_generate_draws_from_the_top_k_at_the_temperature():
    tok = cr.data.CharTokenizer("abcdef")
    model = Fixed(6, context=4, width=4, layers=1, heads=1, seed=0)
    counts = np.bincount(tok.encode(charlm.generate(model, tok, "a", 20_000, 0.5, 1, top_k=3)[1:]), minlength=6)
    p = np.array([0.3, 0.25, 0.2]) ** 2  # temperature 0.5 squares the probabilities; then renormalized over 3
    expected = np.concatenate([p / p.sum(), np.zeros(3)])
    np.testing.assert_array_equal(counts[3:], 0)
    # 20,000 draws: a standard error of at most 0.0035 per frequency; 0.015 is more than four of them
    np.testing.assert_allclose(counts / counts.sum(), expected, atol=0.015)
    everything = np.bincount(tok.encode(charlm.generate(model, tok, "a", 20_000, 1.0, 1, top_k=None)[1:]),
                             minlength=6)
    np.testing.assert_allclose(everything / everything.sum(), [0.3, 0.25, 0.2, 0.15, 0.07, 0.03], atol=0.015)
    with pytest.raises(cr.errors.DomainError, match="generate: top_k must be a positive int"):
        charlm.generate(model, tok, "a", 3, top_k=2.5)


def test_loss_decreases():
    result = charlm.train_charlm(epochs=4, steps_per_epoch=15, out_dir=None, say=lambda _: None, lr=1e-2,
                                 **TINY_KW)
    losses = result.history["batch_loss"]
    assert np.mean(losses[-10:]) < np.mean(losses[:10]) - 0.5
    assert result.history["val_loss"][-1] < result.history["val_loss"][0]


def test_resume_equals_uninterrupted(tmp_path):
    quiet = dict(say=lambda _: None, steps_per_epoch=3, **TINY_KW)
    whole = charlm.train_charlm(epochs=3, seed=5, out_dir=tmp_path / "whole", **quiet)
    charlm.train_charlm(epochs=3, seed=5, out_dir=tmp_path / "part", stop_after=1, **quiet)
    checkpoint = tmp_path / "part" / "text-charlm.safetensors"
    resumed = charlm.train_charlm(seed=5, out_dir=tmp_path / "part", resume=checkpoint, **quiet)
    assert resumed.history["batch_loss"] == whole.history["batch_loss"]
    assert resumed.history["val_loss"] == whole.history["val_loss"]
    for name, value in whole.model.state_dict().items():
        np.testing.assert_array_equal(resumed.model.state_dict()[name].data, value.data, err_msg=name)
    assert resumed.sample == whole.sample
    with pytest.raises(ValueError, match="plans 3 epochs"):
        charlm.train_charlm(epochs=4, out_dir=None, resume=checkpoint, **quiet)


def test_resume_with_dropout_equals_uninterrupted(tmp_path):
    # The masks come from (seed, step): a resumed run draws the ones the uninterrupted run drew.
    quiet = dict(say=lambda _: None, steps_per_epoch=3, dropout=0.3, **TINY_KW)
    whole = charlm.train_charlm(epochs=2, seed=5, out_dir=tmp_path / "whole", **quiet)
    charlm.train_charlm(epochs=2, seed=5, out_dir=tmp_path / "part", stop_after=1, **quiet)
    resumed = charlm.train_charlm(seed=5, out_dir=tmp_path / "part", resume=tmp_path / "part" /
                                  "text-charlm.safetensors", **quiet)
    assert resumed.history["batch_loss"] == whole.history["batch_loss"]
    undropped = charlm.train_charlm(epochs=2, seed=5, out_dir=None, **{**quiet, "dropout": 0.0})
    assert undropped.history["batch_loss"][0] != whole.history["batch_loss"][0]  # the masks did act


def _torch_model(model: charlm.CharTransformer, width: int, heads: int, layers: int):
    torch = pytest.importorskip("torch")
    tnn = torch.nn

    class Reference(tnn.Module):
        def __init__(self, vocab, context):
            super().__init__()
            self.tok_emb = tnn.Embedding(vocab, width)
            self.pos_emb = tnn.Embedding(context, width)
            self.layers = tnn.ModuleList([
                tnn.TransformerEncoderLayer(width, heads, 4 * width, 0.0,
                                            activation=lambda x: tnn.functional.gelu(x, approximate="tanh"),
                                            batch_first=True, norm_first=True) for _ in range(layers)])
            self.norm = tnn.LayerNorm(width)
            self.head = tnn.Linear(width, vocab)

        def forward(self, ids):
            t = ids.shape[1]
            mask = torch.triu(torch.ones(t, t, dtype=torch.bool), 1)
            x = self.tok_emb(ids) + self.pos_emb(torch.arange(t))
            for layer in self.layers:
                x = layer(x, src_mask=mask)
            return self.head(self.norm(x))

    ref = Reference(model.head.out_features, model.context)
    ref.load_state_dict({k: torch.tensor(np.asarray(getattr(v, "data", v))) for k, v in model.state_dict().items()})
    return torch, ref


def test_forward_and_adamw_steps_equal_pytorch():
    rng = np.random.default_rng(0)
    vocab, context, width, heads, layers = 11, 8, 16, 2, 2
    model = charlm.CharTransformer(vocab, context, width, layers, heads, seed=1)
    torch, ref = _torch_model(model, width, heads, layers)
    ids = rng.integers(0, vocab, (3, context))
    np.testing.assert_allclose(model(ids).data, ref(torch.tensor(ids)).detach().numpy(), rtol=2e-5, atol=2e-5)

    # Several AdamW steps with clipping: the losses of both stay equal to float32 precision.
    opt = cr.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.01)
    topt = torch.optim.AdamW(ref.parameters(), lr=1e-2, weight_decay=0.01)
    for step in range(5):
        x, y = charlm.batch(rng.integers(0, vocab, 200), context, 4, 0, step)
        loss = charlm.lm_loss(model, x, y)
        opt.zero_grad()
        loss.backward()
        cr.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        opt.step()
        logits = ref(torch.tensor(x))
        tloss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), torch.tensor(y).reshape(-1))
        topt.zero_grad()
        tloss.backward()
        torch.nn.utils.clip_grad_norm_(ref.parameters(), 0.5)
        topt.step()
        assert loss.item() == pytest.approx(tloss.item(), rel=1e-5), step
    np.testing.assert_allclose(model.head.weight.data, ref.head.weight.detach().numpy(), rtol=1e-4, atol=1e-5)
