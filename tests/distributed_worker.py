"""One process of tests/test_distributed.py's runs: ``mpiexec -n 2 python distributed_worker.py OUT_DIR``.

Every scenario runs in each process; each process saves what it saw to ``OUT_DIR/rank<r>.npz`` (and its error
messages to ``OUT_DIR/rank<r>.json``), and the test compares ranks with each other and with independent references.
Run alone (``python distributed_worker.py OUT_DIR``) it is a world of one process.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import distributed as dist
from chainrule.nn import functional as F

N, FEATURES, CLASSES, BATCH, EPOCHS = 64, 4, 3, 8, 2


def dataset() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(N, FEATURES)), rng.integers(0, CLASSES, size=N)


def mlp(seed: int) -> cr.nn.Module:
    rng = np.random.default_rng(seed)
    net = cr.nn.Sequential(cr.nn.Linear(FEATURES, 8), cr.nn.Tanh(), cr.nn.Linear(8, CLASSES))
    for p in net.parameters():  # float64 values drawn from this process's seed
        p.data = rng.normal(scale=0.5, size=p.shape)
    return net


def state(net: cr.nn.Module, prefix: str) -> dict[str, np.ndarray]:
    return {f"{prefix}/{name}": np.array(t.data) for name, t in net.state_dict().items()}


def train(sync: bool, out: dict, prefix: str, optimizer: str = "sgd") -> None:
    """EPOCHS epochs of SGD with momentum from this rank's own seed, through DataParallel."""
    X, y = dataset()
    net = mlp(seed=100 + dist.rank())
    out.update(state(net, f"{prefix}/before"))
    model = dist.DataParallel(net)
    out.update(state(net, f"{prefix}/init"))
    if optimizer == "sgd":
        opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    else:
        opt = cr.optim.Adam(model.parameters(), lr=0.01)
    loader = cr.data.DataLoader(X, y, batch_size=BATCH, seed=7, distributed=True)
    for _ in range(EPOCHS):
        for xb, yb in loader:
            opt.zero_grad()
            if sync:
                loss = F.cross_entropy(model(xb), yb)
            else:
                with model.no_sync():
                    loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
    out.update(state(net, f"{prefix}/final"))


def batch_order(out: dict) -> None:
    """The sample indices each rank's loader gives, epoch by epoch (the union test replays them in PyTorch)."""
    X, _ = dataset()
    loader = cr.data.DataLoader(X, np.arange(N), batch_size=BATCH, seed=7, distributed=True)
    out["order"] = np.stack([np.concatenate([yb.numpy() for _, yb in loader]) for _ in range(EPOCHS)])


def accumulation(out: dict) -> None:
    """Two micro-batches: the first inside no_sync (local gradient), the second outside (the sum, averaged)."""
    X, y = dataset()
    model = dist.DataParallel(mlp(seed=5))
    r = dist.rank()
    parts = [slice(16 * r, 16 * r + 8), slice(16 * r + 8, 16 * r + 16)]
    with model.no_sync():
        F.cross_entropy(model(cr.tensor(X[parts[0]])), y[parts[0]]).backward()
    out.update({f"accumulate/local/{n}": np.array(p.grad.data) for n, p in model.module.named_parameters()})
    F.cross_entropy(model(cr.tensor(X[parts[1]])), y[parts[1]]).backward()
    out.update({f"accumulate/synced/{n}": np.array(p.grad.data) for n, p in model.module.named_parameters()})
    out.update(state(model.module, "accumulate/params"))


def unused_parameters(out: dict) -> None:
    """``a`` is used on rank 0 only, ``b`` nowhere: ``a`` gets the average (half of rank 0's), ``b`` stays None."""

    class Two(cr.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = cr.nn.Parameter(np.ones(3))
            self.b = cr.nn.Parameter(np.ones(2, dtype=np.float32))
            self.c = cr.nn.Parameter(np.ones(2, dtype=np.float32))

        def forward(self, x):
            total = (self.c * 2).sum() * x
            return total + (self.a * 3).sum() if dist.rank() == 0 else total

    model = dist.DataParallel(Two())
    model(cr.tensor(1.0)).backward()
    out["unused/a"] = np.array(model.module.a.grad.data)
    out["unused/b_is_none"] = np.array(model.module.b.grad is None)
    out["unused/c"] = np.array(model.module.c.grad.data)


def batch_norm(out: dict) -> None:
    """BatchNorm's running statistics, updated by each process from its own batch, end as rank 0's everywhere."""
    rng = np.random.default_rng(20 + dist.rank())
    net = cr.nn.Sequential(cr.nn.Linear(4, 6, rng=rng), cr.nn.BatchNorm1d(6), cr.nn.Linear(6, 2, rng=rng))
    model = dist.DataParallel(net)
    opt = cr.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        model(cr.tensor(rng.normal(size=(5, 4)) * (1 + dist.rank()))).sum().backward()
        opt.step()
    out.update(state(net, "batchnorm"))


def collectives(out: dict, errors: dict) -> None:
    r, size = dist.rank(), dist.world_size()
    values = np.array([1.5 * r, -r, 10.0 + r, 2.0**-r])
    for op in ("sum", "mean", "max", "min"):
        out[f"all_reduce/{op}"] = dist.all_reduce(values, op=op)
    out["all_reduce/int_sum"] = dist.all_reduce(np.arange(4, dtype=np.int32) * (r + 1))
    t = dist.all_reduce(cr.tensor(np.float32([r, 1.0])), op="sum")
    out["all_reduce/tensor"] = t.numpy()
    out["all_reduce/tensor_type"] = np.array(type(t).__name__ == "Tensor" and t.dtype == np.float32)
    out["all_reduce/number"] = np.array(dist.all_reduce(r + 1))
    root = size - 1
    out["broadcast"] = dist.broadcast(np.arange(5.0) * (r + 1) if r == root else None, root=root)
    out["broadcast_0d"] = dist.broadcast(np.float32(r + 0.5), root=0)
    dist.barrier()
    try:
        dist.all_reduce(np.zeros(2 + r))
    except ValueError as exc:
        errors["shape_mismatch"] = str(exc)
    try:
        dist.all_reduce(values, op="prod")
    except ValueError as exc:
        errors["bad_op"] = str(exc)


def sampling(out: dict) -> None:
    for n in (0, 1, 5, 10, 11):
        for drop_last in (False, True):
            for shuffle in (False, True):
                sampler = dist.DistributedSampler(n, seed=3, shuffle=shuffle, drop_last=drop_last)
                sampler.set_epoch(2)
                out[f"sampler/{n}/{drop_last}/{shuffle}"] = sampler.indices()


def sampler_lengths(errors: dict) -> None:
    try:  # each rank with a dataset of its own length: the shares would overlap
        dist.DistributedSampler(10 + dist.rank())
    except ValueError as exc:
        errors["sampler_lengths"] = str(exc)
    try:
        cr.data.DataLoader(np.zeros((6 + dist.rank(), 1)), np.zeros(6 + dist.rank()), 2, distributed=True)
    except ValueError as exc:
        errors["loader_lengths"] = str(exc)


def main() -> None:
    out_dir = Path(sys.argv[1])
    dist.init()
    out: dict = {"world_size": np.array(dist.world_size())}
    errors: dict = {}
    train(sync=True, out=out, prefix="sync")
    train(sync=True, out=out, prefix="adam", optimizer="adam")
    train(sync=False, out=out, prefix="nosync")
    batch_order(out)
    accumulation(out)
    unused_parameters(out)
    batch_norm(out)
    collectives(out, errors)
    sampling(out)
    sampler_lengths(errors)
    np.savez(out_dir / f"rank{dist.rank()}.npz", **out)
    (out_dir / f"rank{dist.rank()}.json").write_text(json.dumps(errors))


if __name__ == "__main__":
    main()
