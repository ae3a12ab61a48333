"""The training job behind ``chainrule train``: a forward pass, a loss, a backward pass and an optimizer step, repeated.

``train()`` fits a small MLP or CNN to the bundled 8×8 digits (or to MNIST from a directory), shows a progress
bar per epoch with the running loss (tqdm, if installed; on stderr, when it is a terminal), prints train and test
accuracy after each epoch, and saves the weights (safetensors) and a plot of the curves (PNG, if matplotlib is
installed). With the defaults it takes seconds and reaches over 97% (MLP) and 98% (CNN) test accuracy on the digits.

>>> from chainrule.cli.train import train
>>> result = train(model="mlp", epochs=1, out_dir=None, progress=False, verbose=False)
>>> result.history["test_accuracy"][-1] > 0.8
True
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from .. import nn, optim
from ..data import DataLoader, load_digits, load_mnist, train_test_split
from ..engine import no_grad
from ..errors import ChainruleError, DomainError, ShapeError
from ..io import check_writable, load, save
from ..nn import functional as F
from ..tensor import Tensor
from .charlm import DEFAULTS as CHARLM
from .charlm import SAMPLING
from .options import int_option, positive_float, probability_below_one, seed_option
from .processes import Processes, failed

MODELS = ("mlp", "cnn")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
#: Learning rates that work for the digits with each optimizer (``lr=None`` picks one).
DEFAULT_LR = {"sgd": 0.05, "adam": 2e-3, "adamw": 2e-3, "rmsprop": 1e-3}
DEFAULT_EPOCHS = {"mlp": 30, "cnn": 20}
# Bounds of the command line's options: far above any useful run, low enough that a typo or a hostile value is
# refused at once instead of running for days or allocating gigabytes for one batch.
MAX_EPOCHS = 10_000
MAX_BATCH_SIZE = 4096
MAX_THREADS = 256


class TrainingDivergedError(ChainruleError, RuntimeError):
    """The loss became NaN or infinite; the message names the epoch and batch and suggests a lower rate."""


@dataclass
class TrainResult:
    """What ``train`` returns: the trained model, the per-epoch curves, where it saved files, and the time taken."""

    model: nn.Module
    history: dict[str, list[float]] = field(default_factory=dict)
    model_path: Path | None = None
    plot_path: Path | None = None
    seconds: float = 0.0


# ---------------------------------------------------------------------------------------------------------------
# Models.
# ---------------------------------------------------------------------------------------------------------------
class Standardize(nn.Module):
    """(x − mean) / std with the training set's statistics, kept as buffers so a saved model carries them."""

    def __init__(self, mean: np.ndarray | float, std: np.ndarray | float) -> None:
        super().__init__()
        self.register_buffer("mean", np.asarray(mean, dtype=np.float32))
        self.register_buffer("std", np.asarray(std, dtype=np.float32))

    def forward(self, x):
        return (x - self.mean) / self.std

    def extra_repr(self) -> str:
        return f"features={self.mean.size}"


def input_statistics(model: str, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What Standardize uses: per-feature for the MLP, one mean and std over all pixels for the CNN.

    The MLP treats pixels as unrelated features, so each is centred and scaled on its own (+0.1 keeps the nearly
    constant border pixels from being blown up); the CNN slides one kernel over all pixels, so all share one scale.
    """
    if model == "mlp":
        return X.mean(axis=0), X.std(axis=0) + 0.1
    return np.asarray(X.mean()), np.asarray(X.std())


def build_model(name: str, n_features: int, n_classes: int, rng: np.random.Generator | None = None,
                mean: np.ndarray | float = 0.0, std: np.ndarray | float = 1.0) -> nn.Module:
    """The MLP (one hidden layer of 256 ReLU units) or the CNN (three 3×3 convolutions, two 2×2 max pools).

    Both start with ``Standardize(mean, std)``; ``load_model`` rebuilds them from a saved file.
    """
    if name == "mlp":
        return nn.Sequential(
            Standardize(np.broadcast_to(mean, (n_features,)), np.broadcast_to(std, (n_features,))),
            nn.Linear(n_features, 256, rng=rng), nn.ReLU(),
            nn.Linear(256, n_classes, rng=rng),
        )
    if name == "cnn":
        side = math.isqrt(n_features)
        if side * side != n_features or side < 4:
            raise DomainError(f"the CNN needs square images, but samples have {n_features} features")
        pooled = (side // 2) // 2
        return nn.Sequential(
            Standardize(mean, std),
            nn.Unflatten(1, (1, side, side)),
            nn.Conv2d(1, 32, 3, padding=1, rng=rng), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * pooled * pooled, 128, rng=rng), nn.ReLU(), nn.Dropout(0.3, rng=rng),
            nn.Linear(128, n_classes, rng=rng),
        )
    raise ValueError(f"unknown model {name!r}; expected one of {MODELS}")


def build_optimizer(name: str, params, lr: float) -> optim.Optimizer:
    """The optimizer by name; SGD gets momentum 0.9, which the digits need to train in a few epochs."""
    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=0.9)
    if name == "adam":
        return optim.Adam(params, lr=lr)
    if name == "adamw":
        return optim.AdamW(params, lr=lr)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=lr)
    raise ValueError(f"unknown optimizer {name!r}; expected one of {OPTIMIZERS}")


# ---------------------------------------------------------------------------------------------------------------
# Data and evaluation.
# ---------------------------------------------------------------------------------------------------------------
def load_data(mnist: str | Path | None, seed: int) -> tuple[str, tuple[np.ndarray, ...]]:
    """(name, (X_train, X_test, y_train, y_test)): the digits split 80/20 by class, or MNIST's own two parts."""
    if mnist is None:
        X, y = load_digits()
        return "digits", train_test_split(X, y, test_size=0.2, seed=seed, stratify=True)
    X_train, y_train = load_mnist(mnist, "train")
    X_test, y_test = load_mnist(mnist, "test")
    return "mnist", (X_train, X_test, y_train, y_test)


def accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray, batch_size: int = 1024) -> float:
    """The fraction of samples whose highest logit is the label (in eval mode, without a graph)."""
    correct = 0
    with no_grad():
        for start in range(0, len(X), batch_size):
            logits = model(Tensor(X[start:start + batch_size]))
            correct += int(np.sum(np.argmax(logits.data, axis=1) == y[start:start + batch_size]))
    return correct / len(X)


# ---------------------------------------------------------------------------------------------------------------
# Threads: these matrices are tiny, so BLAS's extra threads only spin and, on a busy machine, fight for the cores.
# ---------------------------------------------------------------------------------------------------------------
_OPENBLAS = (("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
             ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
             ("openblas_set_num_threads", "openblas_get_num_threads"))


def _openblas_libraries() -> list:
    """The OpenBLAS libraries loaded in this process (Linux: from /proc/self/maps), as ctypes handles."""
    import ctypes

    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line}
    except OSError:
        return []
    libraries = []
    for path in sorted(paths):
        try:
            libraries.append(ctypes.CDLL(path))
        except OSError:
            continue
    return libraries


@contextmanager
def blas_threads(n: int | None):
    """Run the block with ``n`` BLAS threads (None: leave them alone), then restore the previous number.

    Uses threadpoolctl when installed, else OpenBLAS's own setter; where neither applies it does nothing.
    """
    if n is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    if threadpool_limits is not None:
        with threadpool_limits(limits=n, user_api="blas"):
            yield
        return
    restore = []
    for library in _openblas_libraries():
        for set_name, get_name in _OPENBLAS:
            if hasattr(library, set_name) and hasattr(library, get_name):
                restore.append((getattr(library, set_name), getattr(library, get_name)()))
                getattr(library, set_name)(n)
                break
    try:
        yield
    finally:
        for setter, previous in restore:
            setter(previous)


# ---------------------------------------------------------------------------------------------------------------
# Progress: tqdm when installed, on stderr, by default only when stderr is a terminal.
# ---------------------------------------------------------------------------------------------------------------
_hinted = False


def _shows_progress(progress: bool | None) -> bool:
    """None (the default) means: only on a terminal, so redirected output and logs get no ``\\r`` lines."""
    if progress is not None:
        return bool(progress)
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty is not None and isatty())


def _progress_bar(loader: DataLoader, description: str, enabled: bool):
    """A tqdm bar on stderr over the loader's batches, or the loader itself (with a one-time hint if tqdm is
    missing)."""
    global _hinted
    if not enabled:
        return loader
    try:
        from tqdm.auto import tqdm
    except ImportError:
        if not _hinted:
            print("(install tqdm for progress bars: pip install 'chainrule[nn]')", file=sys.stderr)
            _hinted = True
        return loader
    # Hand tqdm one iterator: tqdm.auto calls iter() on what it gets as well as iterating it, and each iter() of a
    # DataLoader draws a new shuffle, which would make runs with and without the bar differ.
    return tqdm(iter(loader), desc=description, total=len(loader), unit="batch", leave=False, file=sys.stderr)


# ---------------------------------------------------------------------------------------------------------------
# The job.
# ---------------------------------------------------------------------------------------------------------------
def train(
    model: str = "mlp",
    epochs: int | None = None,
    batch_size: int = 32,
    lr: float | None = None,
    optimizer: str = "adam",
    seed: int = 0,
    out_dir: str | Path | None = "runs",
    mnist: str | Path | None = None,
    progress: bool | None = None,
    verbose: bool = True,
    stream: TextIO | None = None,
    threads: int | None = 1,
    distributed: bool | None = None,
) -> TrainResult:
    """Train ``model`` ('mlp' or 'cnn') with cross-entropy and ``optimizer``; report, save, plot.

    Args:
        epochs: passes over the training set (default 30 for the MLP, 20 for the CNN).
        lr: the initial learning rate (default: one that suits ``optimizer``, see ``DEFAULT_LR``); it follows a
            cosine schedule down to 0 over the epochs.
        seed: fixes the split, the initial weights and the batch order: the same seed gives the same run.
        out_dir: where the weights (``<data>-<model>.safetensors``) and the curves (``.png``) go; None saves nothing.
        mnist: a directory of MNIST IDX files to train on instead of the bundled digits.
        progress: show a progress bar per epoch on stderr (None, the default: only when stderr is a terminal);
            ``verbose``: print a line per epoch and where files went.
        stream: where those lines go (default: stdout).
        threads: BLAS threads while training (None leaves the setting alone). One is the fastest here: the
            matrices are small, and extra threads spin and fight other processes for the cores.
        distributed: train data-parallel over the processes of ``mpiexec -n N`` (cr.distributed): each process
            takes ``batch_size`` samples of its share per step, gradients are averaged, and only rank 0 prints,
            plots and saves. None (the default): when a launcher started more than one process.

    Raises ``TrainingDivergedError`` if the loss becomes NaN or infinite.
    """
    stream = stream if stream is not None else sys.stdout
    say: Callable[[str], None] = (lambda text: print(text, file=stream, flush=True)) if verbose else (lambda _: None)
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; expected one of {MODELS}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; expected one of {OPTIMIZERS}")
    epochs = DEFAULT_EPOCHS[model] if epochs is None else epochs
    lr = DEFAULT_LR[optimizer] if lr is None else lr
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise DomainError(f"epochs must be a positive int, got {epochs!r}")
    if not isinstance(lr, int | float) or not math.isfinite(lr) or lr <= 0:
        raise DomainError(f"lr must be a positive number, got {lr!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise DomainError(f"seed must be a non-negative int, got {seed!r}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise DomainError(f"threads must be a positive int or None, got {threads!r}")
    world = Processes(distributed)
    if not world.leader:  # rank 0 alone reports
        say = lambda _: None  # noqa: E731
    with blas_threads(threads):
        return _fit(model, epochs, batch_size, lr, optimizer, seed, out_dir, mnist,
                    _shows_progress(progress) and world.leader, say, world)


def _fit(model: str, epochs: int, batch_size: int, lr: float, optimizer: str, seed: int,
         out_dir: str | Path | None, mnist: str | Path | None, progress: bool,
         say: Callable[[str], None], world: Processes | None = None) -> TrainResult:
    started = time.perf_counter()
    world = world if world is not None else Processes(False)
    files = None
    if world.leader:  # fail now, not after the epochs
        files = _output_files(out_dir, "digits" if mnist is None else "mnist", model)
    dataset, (X_train, X_test, y_train, y_test) = load_data(mnist, seed)
    if len(X_test) == 0:
        raise ShapeError(f"the {dataset} test set is empty; expected at least one test sample to measure accuracy")
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    rng = np.random.default_rng(seed)
    net = build_model(model, X_train.shape[1], n_classes, rng, *input_statistics(model, X_train))
    replica = world.wrap(net)
    opt = build_optimizer(optimizer, net.parameters(), lr)
    schedule = optim.CosineAnnealingLR(opt, T_max=epochs)  # large steps first, fine ones at the end
    loader = DataLoader(X_train, y_train, batch_size=batch_size, shuffle=True, seed=rng, distributed=world.size > 1)
    share = f" per process, {world.size} processes" if world.size > 1 else ""
    say(f"training the {model.upper()} on {dataset}: {len(X_train)} training and {len(X_test)} test samples, "
        f"{sum(p.size for p in net.parameters()):,} parameters, {optimizer} with lr={lr:g}, "
        f"{epochs} epochs of {len(loader)} batches of {batch_size}{share}")

    history: dict[str, list[float]] = {"loss": [], "train_accuracy": [], "test_accuracy": [], "batch_loss": []}
    for epoch in range(1, epochs + 1):
        net.train()
        bar = _progress_bar(loader, f"epoch {epoch}/{epochs}", progress)
        total, count, batch_losses = 0.0, 0, []
        for batch, (xb, yb) in enumerate(bar, start=1):
            # Overflow shows up as a non-finite loss, reported below with what to do about it.
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                loss = F.cross_entropy(replica(xb), yb)
                value = loss.item()
                if not math.isfinite(value):
                    _close(bar)
                    raise TrainingDivergedError(
                        f"the loss became {value} at epoch {epoch}, batch {batch} (learning rate {lr:g}): the "
                        f"updates overshoot. Try a lower learning rate, e.g. --lr {lr / 10:g}"
                    )
                opt.zero_grad()
                loss.backward()
                opt.step()
            total += value * len(yb)
            count += len(yb)
            batch_losses.append(value)
            if bar is not loader:
                bar.set_postfix(loss=f"{total / count:.4f}", refresh=False)
        _close(bar)
        schedule.step()
        net.eval()
        # Over all processes (one sum per epoch): every process keeps the same history.
        *batch_sums, total, count = world.total(np.array([*batch_losses, total, count], dtype=np.float64))
        history["batch_loss"].extend((np.array(batch_sums) / world.size).tolist())
        history["loss"].append(total / count)
        history["train_accuracy"].append(_accuracy(net, X_train, y_train, world))
        history["test_accuracy"].append(_accuracy(net, X_test, y_test, world))
        say(f"epoch {epoch:>{len(str(epochs))}}/{epochs}  loss {total / count:.4f}  "
            f"train accuracy {history['train_accuracy'][-1]:.2%}  test accuracy {history['test_accuracy'][-1]:.2%}")

    result = TrainResult(net, history, seconds=time.perf_counter() - started)
    say(f"done in {result.seconds:.1f} s: test accuracy {history['test_accuracy'][-1]:.2%}")
    if files is not None:
        result.model_path, plot_path = files
        settings = {"model": model, "dataset": dataset, "n_features": int(X_train.shape[1]), "n_classes": n_classes,
                    "epochs": epochs, "batch_size": batch_size, "lr": lr, "optimizer": optimizer, "seed": seed}
        save(net.state_dict(), result.model_path, metadata={
            "format": "chainrule", "settings": json.dumps(settings),
            "test_accuracy": f"{history['test_accuracy'][-1]:.6f}",
        })
        say(f"saved the model to {result.model_path}  (load it with "
            f"chainrule.cli.train.load_model('{result.model_path}'))")
        result.plot_path = plot_history(history, plot_path, f"{model.upper()} on {dataset}", say)
    return result


def _accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray, world: Processes) -> float:
    """``accuracy`` with each process counting its slice of the samples."""
    if world.size == 1:
        return accuracy(model, X, y)
    part = slice(world.rank * len(X) // world.size, (world.rank + 1) * len(X) // world.size)
    right = accuracy(model, X[part], y[part]) * len(X[part]) if len(X[part]) else 0.0
    return float(world.total(np.array([round(right)]))[0]) / len(X)


def _output_files(out_dir: str | Path | None, dataset: str, model: str) -> tuple[Path, Path] | None:
    """The model's and the plot's paths in ``out_dir``, made if missing and checked writable (OSError if not)."""
    if out_dir is None:
        return None
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise NotADirectoryError(f"cannot save into {out}: it is a file, not a directory") from None
    except OSError as exc:
        raise type(exc)(f"cannot save into {out}: cannot create the directory: {exc.strerror}") from None
    paths = out / f"{dataset}-{model}.safetensors", out / f"{dataset}-{model}.png"
    for path in paths:
        check_writable(path)
    return paths


def load_model(path: str | Path) -> nn.Module:
    """Rebuild a model saved by ``train`` (architecture from the file's metadata, then its weights), in eval mode."""
    arrays, metadata = load(path, with_metadata=True)
    try:
        settings = json.loads(metadata["settings"])
        name = settings["model"]
        n_features, n_classes = settings["n_features"], settings["n_classes"]
    except (KeyError, ValueError, TypeError):
        raise ValueError(f"{path} was not saved by chainrule's train job (its metadata has no model settings); "
                         "build the model yourself and call model.load_state_dict(cr.load(path))") from None
    # Check the claims against the weights before building anything: a genuine file holds at least the first
    # layer (256 x n_features for the MLP, 128 x 64 x n_features / 16 for the CNN) and the last (n_classes rows).
    weights = sum(int(array.size) for array in arrays.values())
    if name not in ("mlp", "cnn") or not all(type(n) is int and n >= 1 for n in (n_features, n_classes)):
        raise ValueError(f"{path}: its metadata names model {name!r} with n_features={n_features!r}, "
                         f"n_classes={n_classes!r}; expected 'mlp' or 'cnn' and positive integers")
    if 256 * n_features > weights or 128 * n_classes > weights:
        raise ValueError(f"{path}: its metadata claims n_features={n_features}, n_classes={n_classes}, but the "
                         f"file holds only {weights} weights, too few for such a model; the file is not a model "
                         "saved by train, or it was altered")
    net = build_model(name, n_features, n_classes)
    net.load_state_dict(arrays)
    return net.eval()


def _close(bar) -> None:
    if hasattr(bar, "close"):
        bar.close()


def plot_history(history: dict[str, list[float]], path: Path, title: str,
                 say: Callable[[str], None] = print) -> Path | None:
    """Save the loss and accuracy curves as a PNG (headless); None, with a hint, when matplotlib is missing."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        say("(skipped the plot: it needs matplotlib; install it with: pip install 'chainrule[nn]')")
        return None
    epochs = np.arange(1, len(history["loss"]) + 1)
    figure = Figure(figsize=(9, 3.6), layout="constrained")
    FigureCanvasAgg(figure)  # draws without a display, and without touching pyplot's global backend
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    per_batch = np.asarray(history["batch_loss"])
    if per_batch.size:
        loss_axes.plot(np.linspace(0, len(epochs), per_batch.size + 1)[1:], per_batch, color="0.75", lw=0.8,
                       label="batch")
    loss_axes.plot(epochs, history["loss"], marker="o", label="epoch mean")
    loss_axes.set(xlabel="epoch", ylabel="cross-entropy loss", title="training loss", yscale="log")
    loss_axes.legend()
    accuracy_axes.plot(epochs, np.asarray(history["train_accuracy"]) * 100, marker="o", label="train")
    accuracy_axes.plot(epochs, np.asarray(history["test_accuracy"]) * 100, marker="o", label="test")
    accuracy_axes.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    accuracy_axes.legend()
    accuracy_axes.grid(alpha=0.3)
    for axes in (loss_axes, accuracy_axes):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    figure.suptitle(title)
    figure.savefig(path, dpi=110)
    say(f"saved the loss and accuracy curves to {path}")
    return path


# ---------------------------------------------------------------------------------------------------------------
# Command line: `chainrule train`.
# ---------------------------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``train`` options to an argparse (sub)parser."""
    parser.add_argument("--dataset", choices=("digits", "mnist"), default=None,
                        help="the bundled 8x8 digits (default), or MNIST from --mnist")
    parser.add_argument("--mnist", metavar="DIR", default=None,
                        help="directory with the MNIST IDX files (train-images-idx3-ubyte[.gz], ...)")
    parser.add_argument("--model", choices=MODELS + ("charlm",), default="mlp",
                        help="network to train (default: mlp); charlm: a character-level transformer on the bundled "
                             "plays (AdamW, warm-up + cosine decay; the options below marked charlm)")
    parser.add_argument("--epochs", type=int_option(1, MAX_EPOCHS), default=None,
                        help=f"passes over the data (default: {DEFAULT_EPOCHS['mlp']} for mlp, "
                             f"{DEFAULT_EPOCHS['cnn']} for cnn, 8 for charlm)")
    parser.add_argument("--batch-size", type=int_option(1, MAX_BATCH_SIZE), default=None,
                        help="samples per gradient step (default: 32)")
    parser.add_argument("--lr", type=positive_float, default=None,
                        help="learning rate (default: " + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items())
                        + f"; peak {CHARLM['lr']:g} for charlm)")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="adam", help="default: adam")
    parser.add_argument("--seed", type=seed_option, default=0,
                        help="fixes split, initial weights and batches (default: 0)")
    parser.add_argument("--out", metavar="DIR", default="runs", help="where to save the model and plot (default: runs)")
    parser.add_argument("--threads", type=int_option(1, MAX_THREADS), default=1,
                        help="BLAS threads (default: 1, fastest for these sizes)")
    charlm = parser.add_argument_group("charlm", "the character transformer (--model charlm)")
    charlm.add_argument("--layers", type=int_option(1, 64), default=None, help="encoder layers (default: 2)")
    charlm.add_argument("--width", type=int_option(1, 4096), default=None, help="model width (default: 128)")
    charlm.add_argument("--heads", type=int_option(1, 64), default=None, help="attention heads (default: 4)")
    charlm.add_argument("--context", type=int_option(1, 4096), default=None, help="characters seen (default: 64)")
    charlm.add_argument("--steps", type=int_option(1, 1_000_000), default=None,
                        help="steps per epoch (default: 250; 8 epochs)")
    charlm.add_argument("--warmup", type=int_option(0, 1_000_000), default=None,
                        help="steps of linear warm-up before the cosine decay (default: 100)")
    charlm.add_argument("--clip", type=positive_float, default=None, help="max gradient norm (default: 1)")
    charlm.add_argument("--dropout", type=probability_below_one, default=None,
                        help=f"dropout probability in the encoder layers (default: {CHARLM['dropout']:g})")
    charlm.add_argument("--resume", metavar="FILE", default=None,
                        help="continue from a checkpoint (runs/text-charlm.safetensors) up to --epochs")
    charlm.add_argument("--temperature", type=positive_float, default=SAMPLING["temperature"],
                        help=f"sampling temperature of the generated text (default: {SAMPLING['temperature']:g})")
    charlm.add_argument("--top-k", type=int_option(0, 1_000_000), default=SAMPLING["top_k"],
                        help=f"sample from the k most likely characters only; 0: from all (default: "
                             f"{SAMPLING['top_k']})")
    charlm.add_argument("--sample-length", type=int_option(0, 100_000), default=300,
                        help="characters to generate at the end (default: 300)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                        help="no progress bars (by default they show on stderr when it is a terminal)")


def run(args: argparse.Namespace) -> int:
    """Run the job for parsed arguments; returns the exit status (1 with a message on bad input or divergence)."""
    if args.dataset == "mnist" and args.mnist is None:
        print("chainrule train: --dataset mnist needs --mnist DIR (the directory with the IDX files)", file=sys.stderr)
        return 2
    if args.dataset == "digits" and args.mnist is not None:
        print("chainrule train: --mnist DIR trains on MNIST; drop --dataset digits", file=sys.stderr)
        return 2
    if args.model == "charlm":
        return _run_charlm(args)
    ignored = _charlm_only_options(args)
    if ignored:  # silently ignored, --resume would train from scratch and overwrite the saved model
        print(f"chainrule train: {', '.join(ignored)} {'is' if len(ignored) == 1 else 'are'} for --model charlm "
              f"only; the {args.model} model has no such option{'s' if len(ignored) > 1 else ''}", file=sys.stderr)
        return 2
    try:
        train(model=args.model, epochs=args.epochs, batch_size=args.batch_size or 32, lr=args.lr,
              optimizer=args.optimizer, seed=args.seed, out_dir=args.out, mnist=args.mnist, progress=args.progress,
              threads=args.threads)
    except TrainingDivergedError as exc:
        print(f"chainrule train: stopped: {exc}", file=sys.stderr)
        return failed()
    except (ValueError, TypeError, OSError) as exc:
        print(f"chainrule train: {exc}", file=sys.stderr)
        return failed()
    return 0


def _charlm_only_options(args: argparse.Namespace) -> list[str]:
    """The charlm options given on the command line (their values differ from the defaults)."""
    defaults = {"temperature": SAMPLING["temperature"], "top_k": SAMPLING["top_k"], "sample_length": 300}
    names = ("layers", "width", "heads", "context", "steps", "warmup", "clip", "dropout", "resume", "temperature",
             "top_k", "sample_length")
    return [f"--{name.replace('_', '-')}" for name in names
            if getattr(args, name, None) != defaults.get(name)]


def keep_freed_memory() -> bool:
    """Raise the heap thresholds chainrule sets at import (``chainrule/engine/allocator.py``) for this job's
    process: arrays up to 256 MiB come from the heap and up to 1 GiB of freed memory stays for the next step.

    The char model's step frees and allocates the same multi-MB activations every step; with glibc's defaults each
    new one costs page faults (12,600 faults and 33 ms of system time per W7 step, none with these settings).
    ``CHAINRULE_MALLOC=0`` opts out here too; elsewhere than glibc this does nothing and returns False.
    """
    from ..engine import allocator

    return allocator.tune_heap(mmap_threshold=256 << 20, trim_threshold=1 << 30) == "tuned"


def _run_charlm(args: argparse.Namespace) -> int:
    from .charlm import train_charlm

    if args.dataset is not None or args.mnist is not None:
        print("chainrule train: --model charlm trains on the bundled text; drop --dataset/--mnist", file=sys.stderr)
        return 2
    keep_freed_memory()
    try:
        with blas_threads(args.threads):
            train_charlm(epochs=args.epochs, seed=args.seed, out_dir=args.out, resume=args.resume,
                         temperature=args.temperature, top_k=args.top_k or None, sample_length=args.sample_length,
                         progress=_shows_progress(args.progress), layers=args.layers, width=args.width,
                         heads=args.heads, context=args.context, batch_size=args.batch_size,
                         steps_per_epoch=args.steps, lr=args.lr, warmup=args.warmup, clip=args.clip,
                         dropout=args.dropout)
    except FloatingPointError as exc:  # charlm's divergence (it does not import this module: no import cycle)
        print(f"chainrule train: stopped: {exc}", file=sys.stderr)
        return failed()
    except (ValueError, TypeError, KeyError, OSError, MemoryError) as exc:  # MemoryError: sizes from a --resume file
        print(f"chainrule train: {exc}", file=sys.stderr)
        return failed()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m chainrule.cli.train [options]``: the same as ``chainrule train``."""
    parser = argparse.ArgumentParser(prog="chainrule train", description="Train a network on the bundled digits.")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["Standardize", "TrainResult", "TrainingDivergedError", "accuracy", "add_arguments", "build_model",
           "load_model", "main", "run", "train"]
