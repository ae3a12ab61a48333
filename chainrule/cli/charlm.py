"""``chainrule train --model charlm``: a small character-level transformer trained on the bundled text.

Token and learned position embeddings, ``layers`` pre-norm encoder layers with a causal mask (GELU, tanh form),
a final LayerNorm and a linear head onto the characters. AdamW with a linear warm-up then cosine decay (per step),
gradient clipping, validation loss per epoch, a checkpoint after every epoch (model, optimizer, scheduler, epoch,
settings, tokenizer) that ``resume`` continues from exactly, and a sample of generated text at the end.

Each step's batch and dropout masks are drawn from generators seeded by ``(seed, step)``, so a resumed run sees
the same batches and masks as an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import nn, optim
from ..data import CharTokenizer, load_text
from ..engine import no_grad
from ..errors import DomainError
from ..io import check_writable, load, save
from ..nn import functional as F
from ..nn.utils import clip_grad_norm_
from ..tensor import Tensor
from .processes import Processes

#: The defaults: about 0.4 M parameters, 2,000 steps of about 0.1 s of one CPU core each (readable text after them).
DEFAULTS = {"layers": 2, "width": 128, "heads": 4, "context": 64, "batch_size": 32, "epochs": 8,
            "steps_per_epoch": 250, "lr": 6e-3, "warmup": 100, "weight_decay": 0.01, "clip": 1.0, "dropout": 0.0,
            "val_batches": 8}
#: The settings a checkpoint must share with the run that resumes it (the model's shape and the batches).
#: How the closing sample is drawn: a cooler softmax over the 10 most likely characters keeps most of the model's
#: unlikely picks (misspelt words) out of the text. Measured on the default model, 3 samples of 400 characters: 98%
#: of the words are words of the plays, against 91% at temperature 0.8 over every character.
SAMPLING = {"temperature": 0.6, "top_k": 10}
ARCHITECTURE = ("layers", "width", "heads", "context", "batch_size", "steps_per_epoch", "seed", "vocab")
VALIDATION_FRACTION = 0.1


def _gelu_tanh(x: Tensor) -> Tensor:
    # The tanh form: the exact GELU's erf is several times slower here, and the model does not care.
    return F.gelu(x, approximate="tanh")


class CharTransformer(nn.Module):
    """A decoder-only transformer over characters: ``forward(ids (B, T) ints) -> logits (B, T, vocab)``.

    Submodules: ``tok_emb`` (vocab × width), ``pos_emb`` (context × width), ``layers`` (a ModuleList of
    ``TransformerEncoderLayer(width, heads, 4·width, norm_first=True, batch_first=True)`` run with a causal mask),
    ``norm`` (LayerNorm) and ``head`` (Linear width → vocab).
    """

    def __init__(self, vocab: int, context: int = 64, width: int = 128, layers: int = 2, heads: int = 4,
                 dropout: float = 0.0, seed: int | None = None, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if width % heads:
            raise DomainError(f"CharTransformer: width ({width}) must be a multiple of heads ({heads})")
        rng = rng if rng is not None else np.random.default_rng(seed)
        self.context = int(context)
        self.tok_emb = nn.Embedding(vocab, width, rng=rng)
        self.pos_emb = nn.Embedding(context, width, rng=rng)
        self.layers = nn.ModuleList([
            nn.TransformerEncoderLayer(width, heads, 4 * width, dropout, activation=_gelu_tanh, batch_first=True,
                                       norm_first=True, rng=rng)
            for _ in range(layers)])
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab, rng=rng)
        self._dropout_rng = rng  # after the weights are drawn, only the dropout layers draw from it
        self._causal = {}

    def seed_dropout(self, *key: int) -> None:
        """Restart the generator of the dropout masks at ``key`` (e.g. seed, step): the masks of a step then depend
        on the key alone, so a resumed run draws the same ones as an uninterrupted run."""
        bits = self._dropout_rng.bit_generator
        bits.state = type(bits)(key).state

    def forward(self, ids: Any) -> Tensor:
        ids = np.asarray(getattr(ids, "data", ids))
        if ids.ndim != 2 or ids.shape[1] > self.context or ids.shape[1] < 1:
            raise DomainError(f"CharTransformer expects ids of shape (batch, T) with 1 <= T <= {self.context}, "
                              f"got shape {ids.shape}")
        length = ids.shape[1]
        if length not in self._causal:  # True above the diagonal: position t sees positions <= t only
            self._causal[length] = ~np.tril(np.ones((length, length), dtype=bool))
        x = self.tok_emb(ids) + self.pos_emb(np.arange(length))
        for layer in self.layers:
            x = layer(x, src_mask=self._causal[length])
        return self.head(self.norm(x))


@dataclass
class CharLMResult:
    """What ``train_charlm`` returns: the model, tokenizer, per-epoch curves, the sample, files and time."""

    model: CharTransformer
    tokenizer: CharTokenizer
    history: dict[str, list[float]] = field(default_factory=dict)
    sample: str = ""
    checkpoint_path: Path | None = None
    plot_path: Path | None = None
    seconds: float = 0.0


def batch(data: np.ndarray, context: int, batch_size: int, seed: int, step: int,
          stream: int = 0, share: tuple[int, int] = (0, 1)) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and next-character targets, (batch, context) each, at starts drawn by a generator of
    (seed, stream, step): stream 0 for training, 1 for the fixed validation batches.

    ``share=(rank, processes)``: the step draws ``batch_size`` starts per process and this process takes the
    ``rank``-th part, so N processes together see the batch of one process with N times ``batch_size``."""
    rank, processes = share
    starts = np.random.default_rng((seed, stream, step)).integers(0, len(data) - context, batch_size * processes)
    starts = starts[rank * batch_size : (rank + 1) * batch_size]
    windows = data[starts[:, None] + np.arange(context + 1)]
    return windows[:, :-1], windows[:, 1:]


def lm_loss(model: CharTransformer, x: np.ndarray, y: np.ndarray) -> Tensor:
    """Mean cross-entropy of the next character over every position of the batch."""
    logits = model(x)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def validation_loss(model: CharTransformer, data: np.ndarray, context: int, batch_size: int, seed: int,
                    batches: int) -> float:
    """The mean loss over ``batches`` fixed batches of the validation text (eval mode, no graph)."""
    was_training = model.training
    model.eval()
    total = 0.0
    with no_grad():
        for i in range(batches):
            x, y = batch(data, context, batch_size, seed, i, stream=1)
            total += lm_loss(model, x, y).item()
    model.train(was_training)
    return total / batches


def _check_sampling(temperature: Any, top_k: Any, where: str) -> None:
    if isinstance(temperature, bool) or not (isinstance(temperature, int | float) and math.isfinite(temperature)
                                             and temperature > 0):
        raise DomainError(f"{where}: temperature must be a positive number, got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise DomainError(f"{where}: top_k must be a positive int (or None for every character), got {top_k!r}")


def generate(model: CharTransformer, tokenizer: CharTokenizer, prompt: str = "\n", length: int = 300,
             temperature: float = SAMPLING["temperature"], seed: int = 0,
             top_k: int | None = SAMPLING["top_k"]) -> str:
    """``prompt`` followed by ``length`` characters sampled one at a time from softmax(logits / temperature),
    restricted to the ``top_k`` most likely characters when given (ties at the k-th logit are kept)."""
    _check_sampling(temperature, top_k, "generate")
    rng = np.random.default_rng(seed)
    ids = list(tokenizer.encode(prompt)) or [0]
    was_training = model.training
    model.eval()
    with no_grad():
        for _ in range(length):
            logits = model(np.asarray([ids[-model.context:]])).data[0, -1].astype(np.float64) / temperature
            if top_k is not None and top_k < len(logits):
                logits[logits < np.partition(logits, -top_k)[-top_k]] = -np.inf
            p = np.exp(logits - logits.max())
            ids.append(int(rng.choice(len(p), p=p / p.sum())))
    model.train(was_training)
    return tokenizer.decode(ids)


def _settings(**given: Any) -> dict[str, Any]:
    settings = dict(DEFAULTS)
    settings.update({k: v for k, v in given.items() if v is not None})
    for name in ("layers", "width", "heads", "context", "batch_size", "epochs", "steps_per_epoch", "val_batches"):
        value = settings[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise DomainError(f"charlm: {name} must be a positive int, got {value!r}")
    for name in ("lr", "clip"):
        value = settings[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
            raise DomainError(f"charlm: {name} must be a positive number, got {value!r}")
    if not 0 <= settings["dropout"] < 1:
        raise DomainError(f"charlm: dropout must be in [0, 1), got {settings['dropout']!r}")
    return settings


def train_charlm(epochs: int | None = None, seed: int = 0, out_dir: str | Path | None = "runs",
                 resume: str | Path | None = None, text: str | None = None,
                 temperature: float = SAMPLING["temperature"], top_k: int | None = SAMPLING["top_k"],
                 sample_length: int = 300, progress: bool = False, say: Callable[[str], None] = print,
                 stop_after: int | None = None, distributed: bool | None = None, **options: Any) -> CharLMResult:
    """Train the character transformer on ``text`` (default: the bundled plays); report, checkpoint, sample.

    ``options``: layers, width, heads, context, batch_size, steps_per_epoch, lr (peak), warmup (steps), weight_decay,
    clip (max gradient norm), dropout, val_batches (see ``DEFAULTS``). ``resume``: a checkpoint this job wrote; the
    run continues after its epoch with the checkpoint's settings and plan (the given ones must agree), exactly as
    if it had not stopped. ``stop_after``: stop (checkpointed) after this epoch, to split a run in parts.
    ``distributed``: data-parallel over the processes of ``mpiexec -n N`` (None: when a launcher started several);
    each process takes ``batch_size`` sequences per step, and rank 0 alone prints, samples and saves.
    ``temperature``, ``top_k``: how the closing sample is drawn (see ``generate`` and ``SAMPLING``).
    """
    started = time.perf_counter()
    world = Processes(distributed)
    if not world.leader:
        say, progress = (lambda _: None), False
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise DomainError(f"seed must be a non-negative int, got {seed!r}")
    _check_sampling(temperature, top_k, "charlm")  # before training, not after it
    state = None
    if resume is not None:
        state, saved = _read_checkpoint(resume)
        for name, value in options.items():
            if value is not None and name in saved and saved[name] != value:
                raise ValueError(f"--resume: the checkpoint was trained with {name}={saved[name]!r}, not {value!r}")
        if epochs is None:
            epochs = saved["epochs"]
        elif epochs != saved["epochs"]:
            raise ValueError(f"--resume: the checkpoint's run plans {saved['epochs']} epochs (its learning-rate "
                             f"schedule is laid out over them); resume continues that plan: drop --epochs or give "
                             f"--epochs {saved['epochs']}, or start a new run for {epochs}")
        seed = saved["seed"]
        options = {k: v for k, v in saved.items() if k in DEFAULTS and k != "epochs"}
    settings = _settings(epochs=epochs, **options)
    settings["seed"] = seed
    text = load_text() if text is None else text
    tokenizer = CharTokenizer(state["tokenizer"]["chars"] if state is not None else text)
    data = tokenizer.encode(text)
    split = int(len(data) * (1 - VALIDATION_FRACTION))
    train_data, val_data = data[:split], data[split:]
    context, batch_size = settings["context"], settings["batch_size"]
    if len(val_data) <= context or len(train_data) <= context:
        raise DomainError(f"charlm: the text ({len(data)} characters) is too short for context {context}")
    settings["vocab"] = tokenizer.vocab_size

    model = CharTransformer(tokenizer.vocab_size, context, settings["width"], settings["layers"], settings["heads"],
                            settings["dropout"], rng=np.random.default_rng(seed))
    opt = optim.AdamW(model.parameters(), lr=settings["lr"], weight_decay=settings["weight_decay"])
    total_steps = settings["epochs"] * settings["steps_per_epoch"]
    warmup = max(1, min(settings["warmup"], total_steps - 1))
    schedule = optim.SequentialLR(opt, [
        optim.LinearLR(opt, start_factor=1 / warmup, end_factor=1.0, total_iters=warmup),
        optim.CosineAnnealingLR(opt, T_max=max(1, total_steps - warmup), eta_min=settings["lr"] / 20),
    ], milestones=[warmup])
    history: dict[str, list[float]] = {"loss": [], "val_loss": [], "batch_loss": []}
    first_epoch = 1
    if state is not None:
        saved = json.loads(state["settings"])
        if any(saved.get(k) != settings[k] for k in ARCHITECTURE):
            raise ValueError(f"--resume: {resume} was trained with different settings: "
                             + ", ".join(f"{k}={saved.get(k)!r}" for k in ARCHITECTURE))
        try:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            schedule.load_state_dict(state["scheduler"])
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ValueError(f"{resume} is not a usable charlm checkpoint: {exc}") from None
        history = {k: list(v) for k, v in state.get("history", history).items()}
        first_epoch = int(state["epoch"]) + 1
        say(f"resuming from {resume} after epoch {first_epoch - 1}")
    replica = world.wrap(model)  # after loading: rank 0's weights go to every process

    checkpoint = None
    if out_dir is not None and world.leader:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        checkpoint = Path(out_dir) / "text-charlm.safetensors"
        check_writable(checkpoint)
    epochs_total = settings["epochs"]
    say(f"training the char transformer on {len(train_data):,} characters ({len(val_data):,} for validation), "
        f"vocabulary {tokenizer.vocab_size}, {sum(p.size for p in model.parameters()):,} parameters; "
        f"{epochs_total} epochs of {settings['steps_per_epoch']} steps, AdamW lr {settings['lr']:g} "
        f"(warm-up {warmup} steps, cosine decay), batch {batch_size} x {context} characters"
        + (f" per process, {world.size} processes" if world.size > 1 else ""))
    model.train()
    last_epoch = epochs_total if stop_after is None else min(int(stop_after), epochs_total)
    for epoch in range(first_epoch, last_epoch + 1):
        steps = range((epoch - 1) * settings["steps_per_epoch"], epoch * settings["steps_per_epoch"])
        bar = _bar(steps, f"epoch {epoch}/{epochs_total}", progress)
        losses = []
        for step in bar:
            x, y = batch(train_data, context, batch_size, seed, step, share=(world.rank, world.size))
            model.seed_dropout(seed, 2, step, world.rank)  # stream 2: 0 and 1 are the batches'
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                loss = lm_loss(replica, x, y)
                value = loss.item()
                if not math.isfinite(value):
                    raise FloatingPointError(f"the loss became {value} at step {step + 1} (learning rate "
                                             f"{opt.param_groups[0]['lr']:g}); try a lower --lr")
                opt.zero_grad()
                loss.backward()
                clip_grad_norm_(model.parameters(), settings["clip"])
                opt.step()
            schedule.step()
            losses.append(value)
            if bar is not steps:
                bar.set_postfix(loss=f"{value:.3f}", refresh=False)
        if hasattr(bar, "close"):
            bar.close()
        losses = world.total(np.array(losses)) / world.size  # every process keeps the same history
        history["batch_loss"].extend(losses.tolist())
        history["loss"].append(sum(losses.tolist()) / len(steps))
        history["val_loss"].append(validation_loss(model, val_data, context, batch_size, seed,
                                                   settings["val_batches"]))
        say(f"epoch {epoch:>{len(str(epochs_total))}}/{epochs_total}  loss {history['loss'][-1]:.4f}  "
            f"validation loss {history['val_loss'][-1]:.4f}  ({time.perf_counter() - started:.0f} s)")
        if checkpoint is not None:
            save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": schedule.state_dict(),
                  "epoch": epoch, "settings": json.dumps(settings), "tokenizer": tokenizer.state_dict(),
                  "history": history}, checkpoint)

    result = CharLMResult(model, tokenizer, history, checkpoint_path=checkpoint)
    if world.leader:  # the same in every process: rank 0 alone spends the time
        result.sample = generate(model, tokenizer, "\n", sample_length, temperature, seed, top_k)
    result.seconds = time.perf_counter() - started
    drawn = f"temperature {temperature:g}" + (f", top-k {top_k}" if top_k is not None else "")
    say(f"done in {result.seconds:.1f} s; a sample ({drawn}, seed {seed}):\n{result.sample}")
    if checkpoint is not None:
        say(f"saved the checkpoint to {checkpoint} (a run stopped early continues with --resume {checkpoint})")
        result.plot_path = plot_losses(history, Path(out_dir) / "text-charlm.png", settings["steps_per_epoch"], say)
    return result


def _read_checkpoint(path: str | Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the checkpoint, its settings), each part checked, so that a wrong or crafted file is a ValueError that says
    what is wrong instead of a KeyError, AttributeError or JSON error from the middle of resuming."""
    state = load(path)

    def bad(problem: str) -> ValueError:
        return ValueError(f"{path} is not a usable charlm checkpoint: {problem}")

    if not isinstance(state, dict) or not {"model", "optimizer", "scheduler", "epoch", "settings"} <= set(state):
        raise ValueError(f"{path} is not a charlm checkpoint (expected model, optimizer, scheduler, epoch "
                         "and settings in it)")
    try:
        saved = json.loads(state["settings"]) if isinstance(state["settings"], str) else None
    except ValueError:
        saved = None
    if not isinstance(saved, dict):
        raise bad("its settings are not a JSON object of the run's settings")
    for name in ("epochs", "seed", *(k for k in DEFAULTS if k in ARCHITECTURE)):
        value = saved.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value < (0 if name == "seed" else 1):
            raise bad(f"its settings have {name}={value!r}; expected an int >= {0 if name == 'seed' else 1}")
    epoch = state["epoch"]
    if isinstance(epoch, bool) or not isinstance(epoch, int) or not 0 <= epoch <= saved["epochs"]:
        raise bad(f"its epoch is {epoch!r}; expected an int from 0 to the planned {saved['epochs']}")
    tokenizer = state.get("tokenizer")
    if not (isinstance(tokenizer, dict) and isinstance(tokenizer.get("chars"), str) and tokenizer["chars"]):
        raise bad("it holds no tokenizer (a dict with the vocabulary's characters as a str)")
    history = state.get("history", {})
    if not (isinstance(history, dict) and all(isinstance(v, list) for v in history.values())):
        raise bad("its history is not a dict of lists of losses")
    for part in ("model", "optimizer", "scheduler"):
        if not isinstance(state[part], dict):
            raise bad(f"its {part} is a {type(state[part]).__name__}, not a state dict")
    return state, saved


def _bar(steps: range, description: str, enabled: bool):
    if not enabled:
        return steps
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return steps
    import sys

    return tqdm(steps, desc=description, unit="step", leave=False, file=sys.stderr)


def plot_losses(history: dict[str, list[float]], path: Path, steps_per_epoch: int,
                say: Callable[[str], None] = print) -> Path | None:
    """Save the training (per step) and validation (per epoch) losses as a PNG; None when matplotlib is missing."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        say("(skipped the plot: it needs matplotlib)")
        return None
    figure = Figure(figsize=(6, 3.6), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    steps = np.arange(1, len(history["batch_loss"]) + 1)
    axes.plot(steps, history["batch_loss"], color="0.7", lw=0.8, label="training batch")
    epochs_end = np.arange(1, len(history["val_loss"]) + 1) * steps_per_epoch
    axes.plot(epochs_end, history["val_loss"], marker="o", label="validation")
    axes.set(xlabel="step", ylabel="cross-entropy (nats per character)", title="char transformer on the plays")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.savefig(path, dpi=110)
    say(f"saved the loss curve to {path}")
    return path


__all__ = ["DEFAULTS", "SAMPLING", "CharLMResult", "CharTransformer", "generate", "train_charlm"]
