"""DataLoader's PyTorch arguments against torch.utils.data.DataLoader (torch 2.13, test-only): sampler= and
batch_sampler= give the same batches for the same explicit order, torch's mutual-exclusion and worker-option errors,
worker options that leave the batches those of num_workers=0, worker_init_fn and get_worker_info, generator=, and
default_collate on nested structures."""

from __future__ import annotations

import collections
import multiprocessing

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    TensorDataset,
    WeightedRandomSampler,
    WorkerInfo,
    default_collate,
    get_worker_info,
)


@pytest.fixture(scope="module")
def tud():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    import torch.utils.data as tud

    return tud


X = np.random.default_rng(0).standard_normal((11, 3)).astype(np.float32)
Y = np.arange(11) * 10


class Pairs(Dataset):
    """A plain map-style dataset (the loader's general path, sample by sample)."""

    def __len__(self):
        return len(Y)

    def __getitem__(self, i):
        return {"x": X[i], "y": int(Y[i])}


def as_numpy(batch):
    if isinstance(batch, dict):
        return {k: as_numpy(v) for k, v in batch.items()}
    if isinstance(batch, tuple | list):
        return [as_numpy(v) for v in batch]
    return np.asarray(batch.numpy())


def assert_same_batches(ours, theirs):
    ours, theirs = [as_numpy(b) for b in ours], [as_numpy(b) for b in theirs]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        if isinstance(a, dict):
            a, b = [a["x"], a["y"]], [b["x"], b["y"]]
        for u, v in zip(a, b, strict=True):
            assert u.dtype == v.dtype
            np.testing.assert_array_equal(u, v)


ORDER = [4, 10, 0, 0, 7, 3, 9, 1]  # repeats allowed: a sampler may draw an index twice


@pytest.mark.parametrize("batch_size, drop_last", [(1, False), (3, False), (3, True), (8, True), (9, False)])
@pytest.mark.parametrize("kind", ["tensor", "plain", "subset"])
def test_sampler_gives_torchs_batches_for_the_same_order(tud, kind, batch_size, drop_last):
    import torch

    if kind == "tensor":
        ours_ds, theirs_ds = TensorDataset(X, Y), tud.TensorDataset(torch.tensor(X), torch.tensor(Y))
    elif kind == "plain":
        ours_ds = theirs_ds = Pairs()
    else:  # a Subset of a TensorDataset (the loader's fast path through the subset)
        keep = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
        ours_ds = Subset(TensorDataset(X, Y), keep)
        theirs_ds = tud.Subset(tud.TensorDataset(torch.tensor(X), torch.tensor(Y)), keep)
    ours = DataLoader(ours_ds, batch_size=batch_size, drop_last=drop_last, sampler=ORDER)
    theirs = tud.DataLoader(theirs_ds, batch_size=batch_size, drop_last=drop_last, sampler=ORDER)
    assert len(ours) == len(theirs)
    assert_same_batches(ours, theirs)
    sampler = SequentialSampler(ours_ds)
    assert_same_batches(DataLoader(ours_ds, batch_size=batch_size, drop_last=drop_last, sampler=sampler),
                        tud.DataLoader(theirs_ds, batch_size=batch_size, drop_last=drop_last,
                                       sampler=tud.SequentialSampler(theirs_ds)))
    batches = [[3], [0, 1, 2], [10, 10]]
    assert_same_batches(DataLoader(ours_ds, batch_sampler=batches), tud.DataLoader(theirs_ds, batch_sampler=batches))
    assert_same_batches(DataLoader(ours_ds, batch_sampler=BatchSampler(ORDER, batch_size, drop_last)),
                        tud.DataLoader(theirs_ds, batch_sampler=tud.BatchSampler(ORDER, batch_size, drop_last)))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sampler": [0, 1], "shuffle": True},
        {"batch_sampler": [[0]], "batch_size": 2},
        {"batch_sampler": [[0]], "shuffle": True},
        {"batch_sampler": [[0]], "sampler": [0]},
        {"batch_sampler": [[0]], "drop_last": True},
        {"num_workers": -1},
        {"timeout": -1},
        {"prefetch_factor": 2},
        {"num_workers": 2, "prefetch_factor": -1},
        {"persistent_workers": True},
        {"multiprocessing_context": "spawn"},
        {"num_workers": 1, "multiprocessing_context": "no-such-method"},
    ],
)
def test_option_conflicts_are_refused_as_torch_refuses_them(tud, kwargs):
    ds = TensorDataset(X, Y)
    with pytest.raises(ValueError):
        tud.DataLoader(ds, **kwargs)
    with pytest.raises(ValueError, match="|".join(kwargs)):
        DataLoader(ds, **kwargs)


@pytest.mark.filterwarnings("ignore:This DataLoader will create:UserWarning")  # torch's, on 2 cores
def test_options_torch_accepts_are_accepted(tud):
    ds = TensorDataset(X, Y)
    for kwargs in ({"batch_sampler": [[0]], "batch_size": 1}, {"sampler": [0], "shuffle": False},
                   {"num_workers": 2, "prefetch_factor": 0}, {"num_workers": 2, "persistent_workers": True,
                                                               "multiprocessing_context": "spawn", "timeout": 5},
                   {"pin_memory": True, "pin_memory_device": "", "in_order": False}):
        tud.DataLoader(ds, **kwargs)
        loader = DataLoader(ds, **kwargs)
    assert loader.pin_memory is True
    assert DataLoader(ds, num_workers=3).prefetch_factor == tud.DataLoader(ds, num_workers=3).prefetch_factor == 2
    assert DataLoader(ds).prefetch_factor is tud.DataLoader(ds).prefetch_factor is None
    loader = DataLoader(ds, batch_sampler=[[1, 2]])
    assert loader.batch_size is None and loader.drop_last is False and len(loader) == 1
    context = multiprocessing.get_context("spawn")
    assert DataLoader(ds, num_workers=1, multiprocessing_context=context).multiprocessing_context is context


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"num_workers": 1.5}, TypeError, r"num_workers must be an int >= 0, got 1\.5"),
        ({"timeout": 2}, ValueError, r"timeout=2 is for loading in worker processes"),
        ({"timeout": "5"}, ValueError, "timeout option should be a non-negative number"),
        ({"persistent_workers": "yes", "num_workers": 1}, TypeError, "persistent_workers must be True or False"),
        ({"pin_memory": "no"}, TypeError, "pin_memory must be True or False"),
        ({"worker_init_fn": 3}, TypeError, "worker_init_fn must be a function"),
        ({"multiprocessing_context": 3, "num_workers": 1}, TypeError, "multiprocessing_context should be a context"),
        ({"sampler": 3}, TypeError, "sampler must be an iterable of indices"),
        ({"batch_sampler": "ab"}, TypeError, "batch_sampler must be an iterable of lists of indices"),
        ({"generator": np.random.default_rng(0), "seed": 1}, TypeError, "seed= or generator=, not both"),
        ({"sampler": [0], "distributed": True}, ValueError, "distributed=True makes its own sampler"),
    ],
)
def test_bad_options_are_clear_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        DataLoader(TensorDataset(X, Y), **kwargs)


def test_torch_positional_order_is_caught():
    with pytest.raises(TypeError, match=r"third positional argument is drop_last .* pass sampler="):
        DataLoader(TensorDataset(X, Y), 2, False, SequentialSampler(range(11)))


def epochs(loader, count=3):
    return [[b[1].tolist() for b in loader] for _ in range(count)]


def test_worker_options_leave_the_batches_of_num_workers_0(tud):
    ds = TensorDataset(X, Y)
    plain = epochs(DataLoader(ds, batch_size=4, shuffle=True, seed=3))
    assert plain[0] != plain[1]  # shuffled anew each epoch
    calls = []

    def init(worker_id):
        info = get_worker_info()
        calls.append((worker_id, info))

    with_workers = DataLoader(ds, batch_size=4, shuffle=True, seed=3, num_workers=4, prefetch_factor=3,
                              worker_init_fn=init)
    assert epochs(with_workers) == plain
    assert [c[0] for c in calls] == [0, 0, 0]  # once an epoch, as worker 0 of the only worker
    info = calls[0][1]
    assert isinstance(info, WorkerInfo) and (info.id, info.num_workers) == (0, 1) and info.dataset is ds
    assert len({c[1].seed for c in calls}) == 3
    with pytest.raises(AttributeError):
        info.id = 2  # read-only, as torch's
    calls.clear()
    persistent = DataLoader(ds, batch_size=4, shuffle=True, seed=3, num_workers=2, persistent_workers=True,
                            worker_init_fn=init)
    assert epochs(persistent) == plain and len(calls) == 1
    calls.clear()
    assert epochs(DataLoader(ds, batch_size=4, worker_init_fn=init), 1) and calls == []  # no workers, no call
    assert get_worker_info() is None and tud.get_worker_info() is None  # the main process, as torch's

    class Sees(Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            assert get_worker_info() is None  # while loading, too: sharding code keeps the whole dataset
            return i

    assert [b.tolist() for b in DataLoader(Sees(), batch_size=2, num_workers=2)] == [[0, 1], [2]]


def test_torch_worker_sharding_idiom_keeps_the_whole_dataset():
    """The worker_init_fn of torch's documentation: with WorkerInfo(num_workers=1), each 'worker' keeps all."""
    import math

    from chainrule.data import IterableDataset

    class Range(IterableDataset):
        def __init__(self, start, end):
            self.start, self.end = start, end

        def __iter__(self):
            return iter(range(self.start, self.end))

    def init(worker_id):
        info = get_worker_info()
        ds = info.dataset
        per_worker = math.ceil((ds.end - ds.start) / info.num_workers)
        ds.start, ds.end = ds.start + info.id * per_worker, min(ds.start + (info.id + 1) * per_worker, ds.end)

    loader = DataLoader(Range(3, 10), batch_size=4, num_workers=2, worker_init_fn=init)
    assert [b.tolist() for b in loader] == [[3, 4, 5, 6], [7, 8, 9]]


def test_generator_is_the_seed_as_a_generator(tud):
    import torch

    ds = TensorDataset(X, Y)
    by_seed = epochs(DataLoader(ds, batch_size=5, shuffle=True, seed=9))
    by_generator = epochs(DataLoader(ds, batch_size=5, shuffle=True, generator=np.random.default_rng(9)))
    assert by_seed == by_generator
    # The shuffle is NumPy's permutation from the seed, epoch after epoch (pinned independently).
    rng = np.random.default_rng(9)
    assert by_seed == [[Y[p[k : k + 5]].tolist() for k in range(0, 11, 5)] for p in
                       [rng.permutation(11) for _ in range(3)]]
    with pytest.raises(TypeError, match=r"numpy\.random\.Generator"):
        DataLoader(ds, shuffle=True, generator=torch.Generator())
    loader = DataLoader(ds, shuffle=True, seed=0)
    assert isinstance(loader.sampler, RandomSampler) and isinstance(loader.batch_sampler, BatchSampler)
    assert isinstance(DataLoader(ds).sampler, SequentialSampler)


def test_random_and_weighted_samplers_in_a_loader():
    ds = TensorDataset(X, Y)
    loader = DataLoader(ds, batch_size=6, sampler=RandomSampler(ds, replacement=True, num_samples=20, seed=1))
    assert len(loader) == 4 and [len(b[1]) for b in loader] == [6, 6, 6, 2]
    labels = np.array([0] * 9 + [1] * 2)  # 9 to 2: weights 1/count balance the classes
    weights = 1.0 / np.bincount(labels)[labels]
    balanced = DataLoader(TensorDataset(X, labels), batch_size=100,
                          sampler=WeightedRandomSampler(weights, 4000, seed=2))
    drawn = np.concatenate([b[1].numpy() for b in balanced])
    assert drawn.shape == (4000,) and abs(drawn.mean() - 0.5) < 0.03  # sd 0.008


def test_sampler_indices_out_of_range_are_named():
    with pytest.raises(IndexError, match="the sampler gave index 11, but the dataset has 11 samples"):
        list(DataLoader(TensorDataset(X, Y), sampler=[0, 11]))
    with pytest.raises(IndexError, match="the sampler gave index 12, but the dataset has 11 samples"):
        list(DataLoader(Pairs(), batch_sampler=[[12]]))
    with pytest.raises(TypeError, match="expected a list of int indices"):
        list(DataLoader(TensorDataset(X, Y), sampler=["a"]))
    assert next(iter(DataLoader({"a": 1.0, "b": 2.0}, sampler=["b", "a"], batch_size=2))).tolist() == [2.0, 1.0]


def test_subclass_getitem_and_getitems_are_used():
    class Doubled(TensorDataset):
        def __getitem__(self, i):
            return tuple(t * 2 for t in super().__getitem__(i))

    batch = next(iter(DataLoader(Doubled(np.arange(4.0)), batch_size=4)))
    assert batch[0].tolist() == [0.0, 2.0, 4.0, 6.0]  # the subclass's samples, not the raw rows

    class Batched(Dataset):
        def __init__(self):
            self.asked = []

        def __len__(self):
            return 5

        def __getitem__(self, i):
            raise AssertionError("read in batches")

        def __getitems__(self, indices):
            self.asked.append(indices)
            return [float(i) for i in indices]

    ds = Batched()
    assert [b.tolist() for b in DataLoader(ds, batch_size=3)] == [[0.0, 1.0, 2.0], [3.0, 4.0]]
    assert ds.asked == [[0, 1, 2], [3, 4]]


def test_default_collate_nested_structures_equal_torchs(tud):
    samples = [collections.OrderedDict(a={"b": [np.float32(i), (i, "s")]}, t=("x", b"y"), u=np.str_("v"))
               for i in range(3)]
    ours, theirs = default_collate(samples), tud.default_collate(samples)
    assert type(ours) is type(theirs) is collections.OrderedDict and list(ours) == list(theirs)
    np.testing.assert_array_equal(ours["a"]["b"][0].numpy(), theirs["a"]["b"][0].numpy())
    assert ours["a"]["b"][0].dtype == np.float32 and ours["a"]["b"][1][0].dtype == np.int64
    assert ours["a"]["b"][1][0].tolist() == theirs["a"]["b"][1][0].tolist()
    assert ours["a"]["b"][1][1] == list(theirs["a"]["b"][1][1])
    assert [list(p) for p in ours["t"]] == [list(p) for p in theirs["t"]]
    assert ours["u"] == theirs["u"] == ["v"] * 3
    counts = [collections.defaultdict(int, k=i) for i in range(2)]
    ours_dd, theirs_dd = default_collate(counts), tud.default_collate(counts)
    assert type(ours_dd) is type(theirs_dd) and ours_dd["missing"] == theirs_dd["missing"] == 0
    for bad in ([np.array(["a"]), np.array(["b"])], [np.array([None]), np.array([None])]):
        with pytest.raises(TypeError):
            tud.default_collate(bad)
        with pytest.raises(TypeError, match="cannot batch arrays of dtype"):
            default_collate(bad)
    assert isinstance(default_collate([cr.tensor([1.0]), cr.tensor([2.0])]), cr.Tensor)
