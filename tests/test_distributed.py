"""cr.distributed: two processes under ``mpiexec -n 2`` (tests/distributed_worker.py), checked against each other,
against PyTorch replaying the same steps in one process on the union batch, and against closed forms; then the
world of one process (no mpiexec, and no mpi4py at all) and the errors.

Each MPI run is one launch of the worker under a timeout, so a hang fails the test instead of blocking the suite.
"""

from __future__ import annotations

import doctest
import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule.distributed import comm

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().parent / "distributed_worker.py"
TIMEOUT = 60  # seconds for a whole run (it takes about one)
N, BATCH, EPOCHS = 64, 8, 2
BLOCK_MPI4PY = "import sys; sys.modules['mpi4py'] = None; "


def _env() -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    # MPICH runs as root as it is; Open MPI's mpiexec, if that is the one found, refuses without these.
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    for name in ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "SLURM_PROCID"):
        env.pop(name, None)
    return env


def _mpiexec() -> str:
    pytest.importorskip("mpi4py", reason="the MPI tests need the extra: pip install 'chainrule[distributed]'")
    found = Path(sys.executable).parent / "mpiexec"
    found = str(found) if found.exists() else shutil.which("mpiexec")
    if found is None:
        pytest.skip("mpiexec not found next to Python nor on PATH (pip install mpich)")
    return found


def _run(command: list[str], out: Path, ranks: int) -> list[dict]:
    try:
        done = subprocess.run(command, env=_env(), cwd=out, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(command)} did not finish within {TIMEOUT} s (a hang)")
    assert done.returncode == 0, done.stdout + done.stderr
    results = []
    for r in range(ranks):
        with np.load(out / f"rank{r}.npz") as data:
            result = dict(data)
        result["errors"] = json.loads((out / f"rank{r}.json").read_text())
        results.append(result)
    return results


@pytest.fixture(scope="module")
def two(tmp_path_factory) -> list[dict]:
    """What each of two processes saw, by rank."""
    out = tmp_path_factory.mktemp("mpi2")
    return _run([_mpiexec(), "-n", "2", sys.executable, str(WORKER), str(out)], out, 2)


@pytest.fixture(scope="module")
def alone(tmp_path_factory) -> dict:
    """The same script in one plain process (no mpiexec; mpi4py installed or not)."""
    out = tmp_path_factory.mktemp("mpi1")
    return _run([sys.executable, str(WORKER), str(out)], out, 1)[0]


@pytest.fixture
def world_of_one(monkeypatch):
    """In this test process: a world of one without MPI (and MPI is never initialised inside pytest)."""
    monkeypatch.setattr(comm, "_world", comm._World(None, None))


def _params(result: dict, prefix: str) -> dict[str, np.ndarray]:
    return {key.split("/")[-1]: value for key, value in result.items() if key.startswith(prefix + "/")}


# ---------------------------------------------------------------------------------------------------------------
# PyTorch, one process, the union of the ranks' batches: the reference.
# ---------------------------------------------------------------------------------------------------------------
def _torch_mlp(params: dict[str, np.ndarray]):
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    with torch.no_grad():
        for name, p in net.named_parameters():
            p.copy_(torch.from_numpy(params[name]))
    return net


def _dataset() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(N, 4)), rng.integers(0, 3, size=N)


def _replay_union(init: dict, orders: list[np.ndarray], optimizer: str) -> dict[str, np.ndarray]:
    """Train from ``init`` in one process where step s's batch is the union of every rank's step-s batch."""
    X, y = _dataset()
    net = _torch_mlp(init)
    if optimizer == "sgd":
        opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    else:
        opt = torch.optim.Adam(net.parameters(), lr=0.01)
    per_rank = orders[0].shape[1]
    for epoch in range(EPOCHS):
        for start in range(0, per_rank, BATCH):
            idx = np.concatenate([order[epoch, start : start + BATCH] for order in orders])
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(X[idx])), torch.from_numpy(y[idx]))
            loss.backward()
            opt.step()
    return {name: p.detach().numpy() for name, p in net.named_parameters()}


def _torch_grad(params: dict[str, np.ndarray], rows: slice) -> dict[str, np.ndarray]:
    X, y = _dataset()
    net = _torch_mlp(params)
    torch.nn.functional.cross_entropy(net(torch.from_numpy(X[rows])), torch.from_numpy(y[rows])).backward()
    return {name: p.grad.numpy() for name, p in net.named_parameters()}


# ---------------------------------------------------------------------------------------------------------------
# Two processes.
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("run", ["sync", "adam"])
def test_replicas_are_bit_identical_after_training_from_different_seeds(two, run):
    before = [_params(r, f"{run}/before") for r in two]
    assert all(not np.array_equal(before[0][k], before[1][k]) for k in before[0])  # different seeds
    for r in two:  # rank 0's values everywhere after the broadcast
        init = _params(r, f"{run}/init")
        assert all(np.array_equal(init[k], before[0][k]) for k in init)
    final = [_params(r, f"{run}/final") for r in two]
    for k in final[0]:
        assert final[0][k].tobytes() == final[1][k].tobytes(), k
        assert not np.array_equal(final[0][k], before[0][k])  # it trained


@pytest.mark.parametrize(("run", "optimizer"), [("sync", "sgd"), ("adam", "adam")])
def test_two_processes_equal_one_process_on_the_union_batch(two, run, optimizer):
    orders = [r["order"] for r in two]
    for epoch in range(EPOCHS):  # the ranks' shares cover the dataset exactly once per epoch
        assert sorted(np.concatenate([o[epoch] for o in orders]).tolist()) == list(range(N))
    assert not np.array_equal(orders[0][0], orders[0][1])  # a new shuffle in the second epoch
    expected = _replay_union(_params(two[0], f"{run}/init"), orders, optimizer)
    for r in two:
        final = _params(r, f"{run}/final")
        for k in expected:
            np.testing.assert_allclose(final[k], expected[k], rtol=1e-11, atol=1e-13, err_msg=k)


def test_negative_control_without_synchronisation_the_replicas_differ(two):
    init = [_params(r, "nosync/init") for r in two]
    final = [_params(r, "nosync/final") for r in two]
    for k in init[0]:
        assert np.array_equal(init[0][k], init[1][k])  # they started equal (the broadcast)...
        assert np.abs(final[0][k] - final[1][k]).max() > 1e-3  # ...and drifted apart on different data


def test_no_sync_accumulates_locally_then_averages_the_sum(two):
    params = _params(two[0], "accumulate/params")
    first = [_torch_grad(params, slice(16 * r, 16 * r + 8)) for r in range(2)]
    second = [_torch_grad(params, slice(16 * r + 8, 16 * r + 16)) for r in range(2)]
    for r, result in enumerate(two):
        local, synced = _params(result, "accumulate/local"), _params(result, "accumulate/synced")
        for k in params:
            np.testing.assert_allclose(local[k], first[r][k], rtol=1e-12, atol=1e-14)
            expected = (first[0][k] + second[0][k] + first[1][k] + second[1][k]) / 2
            np.testing.assert_allclose(synced[k], expected, rtol=1e-12, atol=1e-14)
    assert not np.allclose(
        _params(two[0], "accumulate/local")["0.weight"], _params(two[1], "accumulate/local")["0.weight"]
    )


def _numpy_loss(params: dict[str, np.ndarray], rows: slice) -> float:
    """Mean cross-entropy of the worker's MLP on ``rows`` of the data, in plain NumPy (float64)."""
    X, y = _dataset()
    h = np.tanh(X[rows] @ params["0.weight"].T + params["0.bias"])
    z = h @ params["2.weight"].T + params["2.bias"]
    top = z.max(axis=1, keepdims=True)
    logsumexp = np.log(np.exp(z - top).sum(axis=1)) + top[:, 0]
    return float(np.mean(logsumexp - z[np.arange(len(z)), y[rows]]))


def test_the_averaged_gradient_matches_central_differences_of_the_union_loss(two):
    """The synchronised gradient is that of F(p) = (sum over ranks and micro-batches of the mean loss) / 2."""
    params = _params(two[0], "accumulate/params")
    parts = [slice(16 * r + k, 16 * r + k + 8) for r in range(2) for k in (0, 8)]

    def union(p):
        return sum(_numpy_loss(p, rows) for rows in parts) / 2

    synced = _params(two[0], "accumulate/synced")
    rng = np.random.default_rng(3)
    for _ in range(3):
        direction = {k: rng.normal(size=v.shape) for k, v in params.items()}
        eps = 1e-6
        plus = union({k: params[k] + eps * direction[k] for k in params})
        minus = union({k: params[k] - eps * direction[k] for k in params})
        analytic = sum(float(np.sum(synced[k] * direction[k])) for k in params)
        assert abs((plus - minus) / (2 * eps) - analytic) <= 1e-7 * max(1.0, abs(analytic))


def test_a_parameter_reached_on_one_rank_is_averaged_and_one_reached_nowhere_keeps_no_gradient(two):
    for r in two:
        np.testing.assert_array_equal(r["unused/a"], [1.5, 1.5, 1.5])  # (3 + 0) / 2
        assert r["unused/b_is_none"]
        assert r["unused/c"].dtype == np.float32  # a second dtype: its own buffer
        np.testing.assert_array_equal(r["unused/c"], [2.0, 2.0])


def test_buffers_such_as_batch_norm_statistics_are_rank_0s_everywhere(two):
    states = [_params(r, "batchnorm") for r in two]
    assert {"1.running_mean", "1.running_var", "1.num_batches_tracked", "1.weight"} <= set(states[0])
    for k in states[0]:
        assert states[0][k].tobytes() == states[1][k].tobytes(), k
    assert states[0]["1.num_batches_tracked"] == 3 and np.abs(states[0]["1.running_mean"]).max() > 0


def test_all_reduce_and_broadcast_give_the_closed_forms_on_every_rank(two):
    rows = np.array([[0.0, 0.0, 10.0, 1.0], [1.5, -1.0, 11.0, 0.5]])
    for r in two:
        np.testing.assert_array_equal(r["all_reduce/sum"], rows.sum(0))
        np.testing.assert_array_equal(r["all_reduce/mean"], rows.mean(0))
        np.testing.assert_array_equal(r["all_reduce/max"], rows.max(0))
        np.testing.assert_array_equal(r["all_reduce/min"], rows.min(0))
        assert r["all_reduce/int_sum"].dtype == np.int32
        np.testing.assert_array_equal(r["all_reduce/int_sum"], np.arange(4) * 3)
        np.testing.assert_array_equal(r["all_reduce/tensor"], np.float32([1, 2]))
        assert r["all_reduce/tensor_type"]
        assert r["all_reduce/number"] == 3
        np.testing.assert_array_equal(r["broadcast"], np.arange(5.0) * 2)  # root 1's array
        assert r["broadcast_0d"].shape == () and r["broadcast_0d"].dtype == np.float32
        assert r["broadcast_0d"] == 0.5


def test_mismatched_shapes_are_a_clear_error_on_every_rank_not_a_hang(two):
    for r in two:
        assert "same shape and dtype" in r["errors"]["shape_mismatch"]
        assert "rank 0: shape (2,)" in r["errors"]["shape_mismatch"]
        assert "rank 1: shape (3,)" in r["errors"]["shape_mismatch"]
        assert "'prod'" in r["errors"]["bad_op"]


def _torch_sampler(n: int, ranks: int, r: int, drop_last: bool) -> list[int]:
    from torch.utils.data import DistributedSampler as TorchSampler

    return list(TorchSampler(range(n), num_replicas=ranks, rank=r, shuffle=False, drop_last=drop_last))


@pytest.mark.parametrize("n", [0, 1, 5, 10, 11])
@pytest.mark.parametrize("drop_last", [False, True])
def test_the_ranks_samplers_share_the_data_as_pytorch_does(two, n, drop_last):
    ordered = [r[f"sampler/{n}/{drop_last}/False"].tolist() for r in two]
    assert ordered == [_torch_sampler(n, 2, r, drop_last) for r in range(2)]
    shuffled = [r[f"sampler/{n}/{drop_last}/True"] for r in two]
    assert len(shuffled[0]) == len(shuffled[1]) == len(ordered[0])
    union = np.concatenate(shuffled)
    if drop_last:  # each seen at most once, all but n % 2 of them
        assert len(set(union.tolist())) == len(union) == n - n % 2
    else:  # each seen at least once; the padding repeats n % 2 of them
        assert sorted(set(union.tolist())) == list(range(n)) and len(union) == n + n % 2


# ---------------------------------------------------------------------------------------------------------------
# One process: the same script without mpiexec, and without mpi4py.
# ---------------------------------------------------------------------------------------------------------------
def test_the_same_script_runs_alone_as_a_world_of_one(alone):
    assert alone["world_size"] == 1
    init = _params(alone, "sync/init")
    assert all(np.array_equal(init[k], v) for k, v in _params(alone, "sync/before").items())
    expected = _replay_union(init, [alone["order"]], "sgd")
    for k, value in _params(alone, "sync/final").items():
        np.testing.assert_allclose(value, expected[k], rtol=1e-11, atol=1e-13)
    assert sorted(alone["order"][0].tolist()) == list(range(N))
    np.testing.assert_array_equal(alone["all_reduce/mean"], [0.0, 0.0, 10.0, 1.0])
    assert alone["errors"] == {"bad_op": alone["errors"]["bad_op"]}  # one process: shapes cannot disagree


def test_without_mpi4py_the_script_gives_the_same_results(alone, tmp_path):
    code = (
        BLOCK_MPI4PY + f"sys.argv = ['w', {str(tmp_path)!r}]; import runpy; runpy.run_path({str(WORKER)!r}, "
        "run_name='__main__')"
    )
    result = _run([sys.executable, "-c", code], tmp_path, 1)[0]
    for key, value in alone.items():
        if key != "errors":
            np.testing.assert_array_equal(result[key], value, err_msg=key)


@pytest.mark.parametrize("variable", ["PMI_SIZE", "OMPI_COMM_WORLD_SIZE"])
def test_launched_with_several_processes_but_without_mpi4py_is_a_clear_error(monkeypatch, variable):
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    monkeypatch.setattr(comm, "_world", None)
    monkeypatch.setenv(variable, "4")
    with pytest.raises(cr.MissingDependencyError, match=r"4 processes.*pip install 'chainrule\[distributed\]'"):
        cr.distributed.world_size()
    monkeypatch.delenv(variable)
    with pytest.raises(cr.MissingDependencyError, match=r"require_mpi=True.*chainrule\[distributed\]"):
        cr.distributed.init(require_mpi=True)
    assert cr.distributed.world_size() == 1 and not cr.distributed.is_mpi()


def test_importing_chainrule_does_not_import_mpi4py():
    code = "import sys, chainrule; print('mpi4py' in sys.modules, 'chainrule.distributed' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=TIMEOUT)
    assert done.stdout.split() == ["False", "False"], done.stderr


def test_data_parallel_alone_leaves_gradients_as_the_plain_model_gives(world_of_one):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(5, 3)), rng.integers(0, 2, size=5)
    plain = cr.nn.Linear(3, 2)
    wrapped = cr.distributed.DataParallel(cr.nn.Linear(3, 2))
    wrapped.module.load_state_dict(plain.state_dict())
    cr.nn.functional.cross_entropy(plain(cr.tensor(x)), y).backward()
    cr.nn.functional.cross_entropy(wrapped(cr.tensor(x)), y).backward()
    assert [n for n, _ in wrapped.named_parameters()] == ["module.weight", "module.bias"]
    for a, b in zip(plain.parameters(), wrapped.module.parameters(), strict=True):
        np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())
    assert "world_size=1" in repr(wrapped)


def test_bad_input_gives_clear_errors(world_of_one):
    d = cr.distributed
    with pytest.raises(TypeError, match=r"wraps a cr\.nn\.Module, not a list"):
        d.DataParallel([1, 2])
    with pytest.raises(TypeError, match="not str"):
        d.all_reduce("abc")
    with pytest.raises(TypeError, match="dtype <U1"):
        d.all_reduce(np.array(["a"]))
    with pytest.raises(TypeError, match="bools"):
        d.all_reduce(np.array([True]))
    with pytest.raises(TypeError, match="real numbers"):
        d.all_reduce(np.array([1j]), op="max")
    with pytest.raises(ValueError, match="root must be a rank from 0 to 0, got 1"):
        d.broadcast(np.zeros(2), root=1)
    with pytest.raises(ValueError, match="rank must be an int from 0 to 1, got 2"):
        d.DistributedSampler(4, num_replicas=2, rank=2)
    with pytest.raises(TypeError, match="number of samples"):
        d.DistributedSampler(-1)
    with pytest.raises(ValueError, match="set_epoch expects an int >= 0"):
        d.DistributedSampler(4).set_epoch(-1)
    with pytest.raises(TypeError, match="distributed must be True or False"):
        cr.data.DataLoader(np.zeros((4, 1)), np.zeros(4), 2, distributed="yes")
    with pytest.raises(ValueError, match="distributed=True"):
        cr.data.DataLoader(np.zeros((4, 1)), np.zeros(4), 2).set_epoch(1)
    with pytest.raises(TypeError, match="DataParallel models"), d.no_sync(cr.nn.Linear(1, 1)):
        pass


def test_ranks_with_different_dataset_lengths_get_a_clear_error_not_overlapping_shares(two):
    for r in two:
        assert "same number of samples" in r["errors"]["sampler_lengths"]
        assert "rank 0: 10, rank 1: 11" in r["errors"]["sampler_lengths"]
        assert "rank 0: 6, rank 1: 7" in r["errors"]["loader_lengths"]


@pytest.mark.parametrize("ranks", [1, 2, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_matches_pytorch_for_any_size(ranks, drop_last):
    for n in range(13):
        for r in range(ranks):
            ours = cr.distributed.DistributedSampler(n, shuffle=False, drop_last=drop_last, num_replicas=ranks, rank=r)
            assert list(ours) == _torch_sampler(n, ranks, r, drop_last), (n, r)
            assert len(ours) == len(_torch_sampler(n, ranks, r, drop_last))


def test_sampler_shuffles_alike_in_every_rank_and_anew_each_epoch():
    def share(r, epoch):
        s = cr.distributed.DistributedSampler(10, seed=4, num_replicas=2, rank=r)
        s.set_epoch(epoch)
        return s.indices()

    for epoch in (0, 1):
        assert sorted(np.concatenate([share(0, epoch), share(1, epoch)]).tolist()) == list(range(10))
    assert not np.array_equal(share(0, 0), share(0, 1))
    np.testing.assert_array_equal(share(1, 1), share(1, 1))


def test_distributed_loader_alone_covers_the_data_once_per_epoch(world_of_one):
    X, y = np.arange(10.0)[:, None], np.arange(10)
    loader = cr.data.DataLoader(X, y, batch_size=4, seed=0, distributed=True)
    epochs = [np.concatenate([yb.numpy() for _, yb in loader]) for _ in range(2)]
    assert len(loader) == 3 and "rank=0 of 1" in repr(loader)
    assert all(sorted(e.tolist()) == list(range(10)) for e in epochs)
    assert not np.array_equal(*epochs)
    ds = cr.data.TensorDataset(X, y)
    in_order = cr.data.DataLoader(ds, batch_size=3, distributed=True)
    assert [yb.tolist() for _, yb in in_order] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


@pytest.mark.parametrize("name", ["comm", "parallel", "sampler"])
def test_docstring_examples(world_of_one, name):
    module = importlib.import_module(f"chainrule.distributed.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


# ---------------------------------------------------------------------------------------------------------------
# mpiexec -n 2 chainrule train: one report, the same model in every process; a failure ends every process.
# ---------------------------------------------------------------------------------------------------------------
TRAIN_SCRIPT = """
import sys
import numpy as np
from chainrule import distributed as dist
from chainrule.cli.train import train

result = train(model="mlp", epochs=2, batch_size=16, out_dir=None, progress=False)
state = {name: np.array(t.data) for name, t in result.model.state_dict().items()}
np.savez(f"{sys.argv[1]}/train{dist.rank()}.npz", **state, **{k: np.array(v) for k, v in result.history.items()})
"""


def _mpirun(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            [_mpiexec(), "-n", "2", *args], env=_env(), cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"mpiexec -n 2 {' '.join(args)} did not finish within {TIMEOUT} s (a hang)")


def test_train_under_mpiexec_reports_once_and_ends_with_the_same_model_everywhere(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(TRAIN_SCRIPT)
    done = _mpirun([sys.executable, str(script), str(tmp_path)], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("epoch 2/2") == 1 and "batches of 16 per process, 2 processes" in done.stdout
    ranks = [dict(np.load(tmp_path / f"train{r}.npz")) for r in range(2)]
    assert ranks[0].keys() == ranks[1].keys() and "0.weight" not in ranks[0]  # Standardize first: "1.weight"
    for key in ranks[0]:
        assert ranks[0][key].tobytes() == ranks[1][key].tobytes(), key
    assert len(ranks[0]["batch_loss"]) == 2 * 45  # 1437 samples: 719 per process, 45 batches of 16
    assert ranks[0]["test_accuracy"][-1] > 0.8


@pytest.mark.parametrize("model", ["mlp", "charlm"])
def test_chainrule_train_command_under_mpiexec_rank_0_alone_prints_and_saves(tmp_path, model):
    options = ["--epochs", "2"]
    if model == "charlm":
        options += [
            "--steps",
            "3",
            "--width",
            "16",
            "--heads",
            "2",
            "--layers",
            "1",
            "--context",
            "8",
            "--batch-size",
            "4",
            "--sample-length",
            "20",
        ]
    done = _mpirun(
        [sys.executable, "-m", "chainrule", "train", "--model", model, *options, "--out", "runs", "--no-progress"],
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("epoch 1/2") == 1 and done.stdout.count("saved") >= 2
    assert "2 processes" in done.stdout
    saved = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert saved == (
        ["digits-mlp.png", "digits-mlp.safetensors"]
        if model == "mlp"
        else ["text-charlm.png", "text-charlm.safetensors"]
    )


def test_a_failure_in_one_process_ends_all_of_them(tmp_path):
    (tmp_path / "runs").write_text("a file where the output directory should be")
    done = _mpirun([sys.executable, "-m", "chainrule", "train", "--epochs", "1", "--out", "runs"], tmp_path)
    assert done.returncode != 0 and "it is a file, not a directory" in done.stderr
    script = tmp_path / "fails.py"
    script.write_text(
        "from chainrule import distributed as d\nd.init()\nif d.rank() == 1:\n"
        "    raise RuntimeError('rank 1 fails')\nd.barrier()\n"
    )
    done = _mpirun([sys.executable, str(script)], tmp_path)
    assert done.returncode != 0 and "RuntimeError: rank 1 fails" in done.stderr


THREE_SCRIPT = """
import numpy as np
import chainrule as cr
from chainrule import distributed as dist

rng = np.random.default_rng(dist.rank())  # each process its own initial weights
net = cr.nn.Sequential(cr.nn.Linear(20, 64, rng=rng), cr.nn.Tanh(), cr.nn.Linear(64, 5, rng=rng)).to("float32")
model = dist.DataParallel(net)
opt = cr.optim.Adam(model.parameters(), lr=1e-2)
X = np.random.default_rng(0).normal(size=(301, 20)).astype(np.float32)
loader = cr.data.DataLoader(X, np.arange(301) % 5, batch_size=7, seed=1, distributed=True)
for epoch in range(2):
    for xb, yb in loader:
        opt.zero_grad()
        cr.nn.functional.cross_entropy(model(xb), yb).backward()
        opt.step()
flat = np.concatenate([p.data.ravel() for p in net.parameters()])
same = np.array_equal(dist.all_reduce(flat, "max"), dist.all_reduce(flat, "min"))
lengths = [dist.all_reduce(len(loader), op) for op in ("min", "max")]
if dist.rank() == 0:  # one writer: the launcher may interleave several processes' lines
    print("identical" if same else "different", *lengths, dist.world_size())
"""


def test_three_processes_float32_end_bit_identical(tmp_path):
    script = tmp_path / "three.py"
    script.write_text(THREE_SCRIPT)
    try:
        done = subprocess.run(
            [_mpiexec(), "-n", "3", sys.executable, str(script)],
            env=_env(),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"mpiexec -n 3 did not finish within {TIMEOUT} s")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["identical", "15", "15", "3"]  # 301 samples: 101 per process, 15 batches of 7


# ---------------------------------------------------------------------------------------------------------------
# Found by the adversarial probes: processes that disagree on op or root. MPI calls such a collective erroneous;
# MPICH gave rank 1 the sum it did not ask for, and the value of a root it did not name, silently.
# ---------------------------------------------------------------------------------------------------------------
DISAGREE_SCRIPT = """
import sys
import numpy as np
import chainrule as cr

cr.distributed.init()
r = cr.distributed.rank()
lines = []
for call in (lambda: cr.distributed.all_reduce(np.array([1.0 + r, 5.0 - r]), op="sum" if r == 0 else "max"),
             lambda: cr.distributed.broadcast(np.array([float(r)]), root=r)):
    try:
        lines.append(f"answered {call()}")
    except ValueError as exc:
        lines.append(f"refused {exc}")
lines.append(f"then {cr.distributed.all_reduce(np.array([1.0 + r]), op='max')}")
open(f"{sys.argv[1]}/rank{r}.txt", "w").write("\\n".join(lines))
"""


def test_processes_that_disagree_on_op_or_root_are_refused_in_every_process(tmp_path):
    script = tmp_path / "disagree.py"
    script.write_text(DISAGREE_SCRIPT)
    done = _mpirun([sys.executable, str(script), str(tmp_path)], tmp_path)
    assert done.returncode == 0, done.stderr
    for r in (0, 1):
        assert (tmp_path / f"rank{r}.txt").read_text().splitlines() == [
            "refused all_reduce: every process must pass the same op; got rank 0: 'sum', rank 1: 'max'",
            "refused broadcast: every process must pass the same root; got rank 0: 0, rank 1: 1",
            "then [2.]",  # the world is still usable afterwards
        ]
