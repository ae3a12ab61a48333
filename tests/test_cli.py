"""The command line under misuse: numeric options checked when read, a closed pipe, Ctrl-C, --version, progress
only on a terminal, and an unusable --out noticed before training."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import chainrule as cr
from chainrule.cli import main
from chainrule.cli import train as job
from chainrule.errors import DomainError

ROOT = Path(__file__).resolve().parents[1]


def _run(*argv: str) -> tuple[int, str, str]:
    """Status, stdout and stderr of ``python -m chainrule ARGV``, with ``\r`` kept (text mode would make it ``\n``)."""
    done = subprocess.run([sys.executable, "-m", "chainrule", *argv], capture_output=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    return done.returncode, done.stdout.decode(), done.stderr.decode()


BAD_OPTIONS = [
    (["rules", "--seed", "-1"], "--seed", "from 0 to 2**64 - 1, got '-1'"),
    (["rules", "--seed", "1.5"], "--seed", "got '1.5'"),
    (["demo", "--seed", "-1"], "--seed", "got '-1'"),
    (["demo", "--seed", str(2**64)], "--seed", "from 0 to 2**64 - 1"),
    (["train", "--seed", "-1"], "--seed", "got '-1'"),
    (["train", "--threads", "0"], "--threads", "from 1 to 256, got '0'"),
    (["train", "--threads", "-1"], "--threads", "got '-1'"),
    (["train", "--epochs", "0"], "--epochs", "from 1 to 10000, got '0'"),
    (["train", "--epochs", "1000000"], "--epochs", "got '1000000'"),
    (["train", "--batch-size", "0"], "--batch-size", "from 1 to 4096, got '0'"),
    (["train", "--batch-size", "10**9"], "--batch-size", "got '10**9'"),
    (["train", "--lr", "nan"], "--lr", "a finite number greater than 0, got 'nan'"),
    (["train", "--lr", "inf"], "--lr", "got 'inf'"),
    (["train", "--lr", "1e999"], "--lr", "got '1e999'"),
    (["train", "--lr", "-0.1"], "--lr", "got '-0.1'"),
    (["train", "--lr", "0"], "--lr", "got '0'"),
    (["train", "--model", "charlm", "--dropout", "1"], "--dropout", "from 0 up to (not including) 1, got '1'"),
    (["train", "--model", "charlm", "--dropout", "nan"], "--dropout", "got 'nan'"),
    (["train", "--model", "charlm", "--dropout", "-0.1"], "--dropout", "got '-0.1'"),
    (["train", "--model", "charlm", "--top-k", "-1"], "--top-k", "from 0 to 1000000, got '-1'"),
    (["derive", "x", "--order", "1000000"], "--order", "from 1 to 6, got '1000000'"),
]


@pytest.mark.parametrize(("argv", "option", "message"), BAD_OPTIONS, ids=[" ".join(a) for a, _, _ in BAD_OPTIONS])
def test_numeric_options_are_checked_when_read(capsys, argv, option, message):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"chainrule {argv[0]}: error: argument {option}: expected ")
    assert message in last and "Traceback" not in err


def test_the_train_function_names_a_bad_seed_or_thread_count():
    with pytest.raises(DomainError, match="seed must be a non-negative int, got -1"):
        job.train(seed=-1, out_dir=None, verbose=False)
    with pytest.raises(DomainError, match="threads must be a positive int or None, got 0"):
        job.train(threads=0, out_dir=None, verbose=False)


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"chainrule {cr.__version__}\n"


def test_a_closed_pipe_ends_quietly_with_status_141():
    # The reader is gone before the first line is written (as `chainrule rules | head -0`), so every run hits it.
    child = subprocess.Popen([sys.executable, "-m", "chainrule", "rules"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    child.stdout.close()
    err = child.stderr.read()
    assert child.wait(timeout=60) == 141
    assert err == b""


def test_ctrl_c_during_training_is_one_line_status_130_and_leaves_no_file(tmp_path):
    out = tmp_path / "runs"
    child = subprocess.Popen(
        [sys.executable, "-m", "chainrule", "train", "--epochs", "10000", "--out", str(out), "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # as a terminal's Ctrl-C would find it
    )
    try:
        assert child.stdout.readline().startswith("training the MLP")  # the job has started
        time.sleep(0.3)
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert child.returncode == 130
    assert err.strip() == "chainrule train: interrupted"
    assert list(out.iterdir()) == []  # no model, no plot, no temporary file


def test_progress_goes_to_stderr_only_when_it_is_a_terminal(tmp_path):
    pytest.importorskip("tqdm")
    status, out, err = _run("train", "--epochs", "2", "--out", str(tmp_path))
    assert status == 0, err
    assert "\r" not in out and "\r" not in err
    assert "batch" not in err
    assert "epoch 2/2  loss" in out


def test_progress_bars_draw_on_a_terminal_stderr(monkeypatch):
    bars = []

    class FakeTqdm:
        def __init__(self, iterable, **kwargs):
            self.iterable, self.kwargs = iterable, kwargs
            bars.append(self)

        def __iter__(self):
            return iter(self.iterable)

        def set_postfix(self, **kwargs):
            pass

        def close(self):
            pass

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setitem(sys.modules, "tqdm.auto", type(sys)("tqdm.auto"))
    sys.modules["tqdm.auto"].tqdm = FakeTqdm
    stdout = io.StringIO()
    job.train(epochs=1, out_dir=None, stream=stdout)  # stderr is not a terminal here: no bar
    assert bars == []
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    job.train(epochs=1, out_dir=None, stream=stdout)
    assert len(bars) == 1 and bars[0].kwargs["file"] is terminal
    job.train(epochs=1, out_dir=None, stream=stdout, progress=False)
    assert len(bars) == 1


def _no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the output place should have been checked before the data were loaded")

    monkeypatch.setattr(job, "load_data", refuse)


def test_an_out_dir_under_a_file_is_refused_before_training(tmp_path, monkeypatch):
    _no_training(monkeypatch)
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match=r"cannot save into .*file[/\\]sub: cannot create the directory"):
        job.train(epochs=1, out_dir=tmp_path / "file" / "sub", verbose=False)
    with pytest.raises(NotADirectoryError, match=r"cannot save into .*file: it is a file, not a directory"):
        job.train(epochs=1, out_dir=tmp_path / "file", verbose=False)


def test_an_out_dir_where_the_model_path_is_a_directory_is_refused_before_training(tmp_path, monkeypatch):
    _no_training(monkeypatch)
    (tmp_path / "digits-mlp.safetensors").mkdir()
    with pytest.raises(IsADirectoryError, match=r"cannot write .*digits-mlp\.safetensors: it is a directory"):
        job.train(epochs=1, out_dir=tmp_path, verbose=False)


def test_a_read_only_out_dir_is_refused_before_training_naming_the_model_file(tmp_path, monkeypatch):
    _no_training(monkeypatch)

    def no_permission(*args, **kwargs):  # what mkstemp raises in a read-only directory (root ignores chmod)
        raise PermissionError(13, "Permission denied", os.path.join(kwargs["dir"], ".hidden.tmp"))

    monkeypatch.setattr("chainrule.io.tempfile.mkstemp", no_permission)
    with pytest.raises(PermissionError) as info:
        job.train(epochs=1, out_dir=tmp_path, verbose=False)
    assert "digits-mlp.safetensors: no permission to create files in" in str(info.value)
    assert ".hidden" not in str(info.value)


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_really_read_only_out_dir_is_refused_before_training(tmp_path, monkeypatch):
    _no_training(monkeypatch)
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="no permission to create files in"):
            job.train(epochs=1, out_dir=tmp_path, verbose=False)
    finally:
        tmp_path.chmod(0o700)


def test_the_cli_reports_an_unusable_out_dir_in_one_line_at_once(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    started = time.perf_counter()
    assert main(["train", "--out", str(tmp_path / "file"), "--no-progress"]) == 1
    assert time.perf_counter() - started < 5  # not after 30 epochs
    captured = capsys.readouterr()
    assert captured.out == ""
    expected = f"chainrule train: cannot save into {tmp_path / 'file'}: it is a file, not a directory"
    assert captured.err.strip() == expected
