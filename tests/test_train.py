"""The training job: results, files, reproducibility, divergence, optional extras missing, MNIST files, the CLI."""

from __future__ import annotations

import gzip
import io
import struct
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import train as job
from chainrule.cli.train import TrainingDivergedError, load_model, train


def _quiet(**kwargs):
    return train(progress=False, verbose=False, **kwargs)


def test_default_mlp_reaches_97_percent_and_saves_model_and_plot(tmp_path):
    stream = io.StringIO()
    result = train(out_dir=tmp_path, progress=False, stream=stream)
    text = stream.getvalue()
    assert result.history["test_accuracy"][-1] >= 0.97
    assert len(result.history["loss"]) == job.DEFAULT_EPOCHS["mlp"]
    assert result.history["loss"][-1] < result.history["loss"][0] / 10
    assert "epoch 30/30" in text and "train accuracy" in text and "test accuracy" in text
    assert result.model_path == tmp_path / "digits-mlp.safetensors" and result.model_path.is_file()
    assert f"saved the model to {result.model_path}" in text
    pytest.importorskip("matplotlib")
    assert result.plot_path == tmp_path / "digits-mlp.png"
    assert result.plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"saved the loss and accuracy curves to {result.plot_path}" in text


def test_a_saved_model_loads_back_and_predicts_the_same(tmp_path):
    result = _quiet(epochs=2, out_dir=tmp_path)
    model = load_model(result.model_path)
    X, _ = cr.data.load_digits()
    result.model.eval()
    np.testing.assert_array_equal(model(X[:50]).numpy(), result.model(X[:50]).numpy())
    state = cr.load(result.model_path)
    assert {"0.mean", "0.std", "1.weight", "1.bias", "3.weight", "3.bias"} == set(state)
    bare = tmp_path / "bare.safetensors"
    cr.save(state, bare)
    with pytest.raises(ValueError, match="not saved by chainrule's train job"):
        load_model(bare)


def test_a_tiny_file_claiming_a_huge_model_is_refused_before_building_it(tmp_path, monkeypatch):
    import json

    import chainrule.cli.train as train_module

    def no_building(*args, **kwargs):
        raise AssertionError("load_model built the network before checking the metadata")

    monkeypatch.setattr(train_module, "build_model", no_building)
    path = tmp_path / "crafted.safetensors"
    for settings, message in [({"model": "mlp", "n_features": 1_000_000, "n_classes": 10}, "too few"),
                              ({"model": "mlp", "n_features": 4, "n_classes": 10**9}, "too few"),
                              ({"model": "mlp", "n_features": -1, "n_classes": 10}, "positive integers"),
                              ({"model": "rnn", "n_features": 4, "n_classes": 2}, "expected 'mlp' or 'cnn'")]:
        cr.save({"1.weight": np.zeros((2, 2), np.float32)}, path, metadata={"settings": json.dumps(settings)})
        with pytest.raises(ValueError, match=message):
            load_model(path)


def test_the_cnn_trains(tmp_path):
    result = _quiet(model="cnn", epochs=3, out_dir=tmp_path)
    assert result.history["test_accuracy"][-1] >= 0.93
    assert isinstance(load_model(result.model_path)[2], cr.nn.Conv2d)


def test_the_same_seed_gives_the_same_run_and_another_seed_another():
    a, b = _quiet(epochs=2, out_dir=None), _quiet(epochs=2, out_dir=None)
    assert a.history == b.history
    assert _quiet(epochs=2, out_dir=None, seed=1).history != a.history
    assert a.model_path is None and a.plot_path is None


@pytest.mark.parametrize("optimizer", ["sgd", "adamw", "rmsprop"])
def test_every_optimizer_learns(optimizer):
    assert _quiet(epochs=3, optimizer=optimizer, out_dir=None).history["test_accuracy"][-1] > 0.9


def test_a_nan_loss_stops_with_epoch_batch_and_advice(recwarn):
    with pytest.raises(TrainingDivergedError, match=r"at epoch 1, batch \d+ .* Try a lower learning rate, "
                                                    r"e.g. --lr 1e\+11"):
        _quiet(optimizer="sgd", lr=1e12, epochs=2, out_dir=None)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown model 'rnn'"):
        _quiet(model="rnn")
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        _quiet(optimizer="lbfgs")
    with pytest.raises(ValueError, match="epochs must be a positive int, got 0"):
        _quiet(epochs=0)
    with pytest.raises(ValueError, match="lr must be a positive number"):
        _quiet(lr=-0.1)


def test_progress_bar_shows_the_running_loss(monkeypatch):
    bars = []

    class FakeTqdm:  # records what the job asks of tqdm
        def __init__(self, iterable, **kwargs):
            self.iterable, self.kwargs, self.postfixes, self.closed = iterable, kwargs, [], False
            bars.append(self)

        def __iter__(self):
            return iter(self.iterable)

        def set_postfix(self, **kwargs):
            self.postfixes.append(kwargs)

        def close(self):
            self.closed = True

    monkeypatch.setitem(sys.modules, "tqdm.auto", type(sys)("tqdm.auto"))
    sys.modules["tqdm.auto"].tqdm = FakeTqdm
    train(epochs=2, out_dir=None, progress=True, stream=io.StringIO())
    assert [bar.kwargs["desc"] for bar in bars] == ["epoch 1/2", "epoch 2/2"]
    assert all(bar.closed and bar.kwargs["total"] == 45 for bar in bars)
    running = [float(p["loss"]) for p in bars[0].postfixes]
    assert len(running) == 45 and running[-1] < running[0]


def test_the_progress_bar_does_not_change_the_run():
    pytest.importorskip("tqdm")
    with_bar = train(epochs=2, out_dir=None, progress=True, verbose=False, stream=io.StringIO())
    assert with_bar.history == _quiet(epochs=2, out_dir=None).history


def test_without_tqdm_and_matplotlib_it_says_which_extra_to_install(tmp_path, monkeypatch, capsys):
    for name in ["tqdm", "tqdm.auto", "matplotlib", "matplotlib.figure", "matplotlib.ticker",
                 "matplotlib.backends.backend_agg"]:
        monkeypatch.setitem(sys.modules, name, None)  # None in sys.modules makes the import fail
    monkeypatch.setattr(job, "_hinted", False)
    stream = io.StringIO()
    result = train(epochs=2, out_dir=tmp_path, progress=True, stream=stream)
    text = stream.getvalue()
    assert capsys.readouterr().err.count("pip install 'chainrule[nn]'") == 1  # the tqdm hint, once, with progress
    assert text.count("pip install 'chainrule[nn]'") == 1  # the plot hint
    assert "skipped the plot" in text and result.plot_path is None and result.model_path.is_file()


def test_blas_threads_are_restored():
    libraries = job._openblas_libraries()
    if not libraries or not hasattr(libraries[0], "scipy_openblas_get_num_threads64_"):
        pytest.skip("no bundled OpenBLAS to inspect")
    get = libraries[0].scipy_openblas_get_num_threads64_
    before = get()
    with job.blas_threads(1):
        assert get() == 1
    assert get() == before


def _write_idx(path, array, magic):
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", n) for n in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_trains_on_mnist_files(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 60), ("t10k", 20)):
        labels = rng.integers(0, 10, n)
        images = (rng.random((n, 12, 12)) * 60 + labels[:, None, None] * 19).clip(0, 255)
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", images, 0x803)
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", labels, 0x801)
    result = _quiet(model="cnn", epochs=1, mnist=tmp_path, out_dir=tmp_path / "out")
    assert result.model_path.name == "mnist-cnn.safetensors"
    assert len(result.history["test_accuracy"]) == 1


def test_cli_runs_and_reports_divergence(tmp_path, capsys):
    from chainrule.cli.train import main

    assert main(["--epochs", "1", "--out", str(tmp_path), "--no-progress"]) == 0
    assert "saved the model to" in capsys.readouterr().out
    assert main(["--epochs", "1", "--optimizer", "sgd", "--lr", "1e12", "--out", str(tmp_path), "--no-progress"]) == 1
    assert "stopped: the loss became nan at epoch 1" in capsys.readouterr().err
    assert main(["--dataset", "mnist", "--out", str(tmp_path)]) == 2
    assert "--dataset mnist needs --mnist DIR" in capsys.readouterr().err
    assert main(["--mnist", str(tmp_path / "missing"), "--out", str(tmp_path)]) == 1
    assert "expects a directory holding the MNIST IDX files" in capsys.readouterr().err


def test_chainrule_train_subcommand(tmp_path, capsys):
    from chainrule.cli import main

    assert main(["train", "--epochs", "1", "--out", str(tmp_path), "--no-progress"]) == 0
    assert "test accuracy" in capsys.readouterr().out


def test_the_training_job_keeps_freed_memory_in_its_process():
    """keep_freed_memory (what `chainrule train --model charlm` calls): a large array no longer gets its own memory
    map (which the system takes back when it is freed, so the next one faults its pages in anew) but comes from
    malloc's heap, which keeps it. Read from glibc's mallinfo2 in a child process, so this process stays as it was."""
    import subprocess
    import sys

    code = (
        "import ctypes, numpy as np\n"
        "from chainrule.cli.train import keep_freed_memory\n"
        "libc = ctypes.CDLL('libc.so.6')\n"
        "class Info(ctypes.Structure):\n"
        "    _fields_ = [(name, ctypes.c_size_t) for name in ('arena', 'ordblks', 'smblks', 'hblks', 'hblkhd',\n"
        "                'usmblks', 'fsmblks', 'uordblks', 'fordblks', 'keepcost')]\n"
        "libc.mallinfo2.restype = Info\n"
        "def mapped_by(size):\n"
        "    before = libc.mallinfo2().hblkhd\n"
        "    a = np.ones(size)\n"
        "    return libc.mallinfo2().hblkhd - before\n"
        "default = mapped_by(5_000_000)\n"
        "kept = keep_freed_memory()\n"
        "print(kept, default, mapped_by(5_000_000))\n"
    )
    if not sys.platform.startswith("linux"):
        pytest.skip("glibc's malloc only")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    if "mallinfo2" in done.stderr:
        pytest.skip("this glibc has no mallinfo2")
    assert done.returncode == 0, done.stderr
    kept, default, after = done.stdout.split()
    assert kept == "True"
    assert int(default) >= 40_000_000  # a 40 MB array: its own memory map by default
    assert int(after) == 0  # from the heap once the threshold is raised
