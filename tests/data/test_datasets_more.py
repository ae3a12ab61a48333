"""Subset, ConcatDataset (and +), StackDataset, IterableDataset/ChainDataset and random_split against
torch.utils.data (torch 2.13, test-only): the same samples and lengths, torch's fraction rounding, seeded
reproducibility, and errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from chainrule.data import (
    ChainDataset,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
    random_split,
)


@pytest.fixture(scope="module")
def tud():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    import torch.utils.data as tud

    return tud


class Letters(Dataset):
    def __init__(self, text):
        self.text = text

    def __len__(self):
        return len(self.text)

    def __getitem__(self, i):
        return self.text[i]


def make_stream(base):
    """An IterableDataset class on top of ``base`` (ours or torch's) counting from ``start``."""

    class Stream(base):
        def __init__(self, start, n, sized=True):
            self.start, self.n, self.sized = start, n, sized

        def __iter__(self):
            return iter(range(self.start, self.start + self.n))

        def __len__(self):
            if not self.sized:
                raise TypeError(f"object of type '{type(self).__name__}' has no len()")
            return self.n

    return Stream


def test_subset_equals_torchs(tud):
    data = Letters("abcdefgh")
    indices = [5, 0, 7, 7, -1]
    ours, theirs = Subset(data, indices), tud.Subset(data, indices)
    assert len(ours) == len(theirs) == 5
    assert [ours[i] for i in range(-5, 5)] == [theirs[i] for i in range(-5, 5)]
    assert list(ours) == [theirs[i] for i in range(5)] == ["f", "a", "h", "h", "h"]
    assert Subset(list(range(10)), range(3, 6))[2] == 5
    arrays = TensorDataset(np.arange(10.0))
    assert Subset(arrays, [3, 1])[[0, 1]][0].tolist() == [3.0, 1.0]  # a list of positions, as torch
    with pytest.raises(IndexError, match=r"indices\[1\] is 8, out of range for a dataset of 8 samples"):
        Subset(data, [0, 8])
    with pytest.raises(TypeError, match=r"indices\[0\] is 1\.0; expected an int"):
        Subset(data, [1.0])
    with pytest.raises(IndexError, match="Subset: index 5 is out of range for 5 samples"):
        ours[5]


def test_concat_dataset_and_plus_equal_torchs(tud):
    parts = [Letters("abc"), Letters(""), Letters("de"), Letters("fghi")]
    ours, theirs = ConcatDataset(parts), tud.ConcatDataset(parts)
    assert len(ours) == len(theirs) == 9 and ours.cumulative_sizes == theirs.cumulative_sizes == [3, 3, 5, 9]
    assert [ours[i] for i in range(-9, 9)] == [theirs[i] for i in range(-9, 9)]
    both = Letters("ab") + Letters("xyz")
    assert isinstance(both, ConcatDataset) and list(both) == list(tud.Dataset.__add__(Letters("ab"), Letters("xyz")))
    three = Letters("ab") + Letters("c") + Letters("d")
    assert [three[i] for i in range(4)] == ["a", "b", "c", "d"]
    for bad in (9, -10):
        with pytest.raises(Exception):  # noqa: B017 - torch: IndexError or ValueError
            theirs[bad]
        with pytest.raises(IndexError, match=f"index {bad} is out of range for 9 samples"):
            ours[bad]
    with pytest.raises(ValueError, match="at least one dataset"):
        ConcatDataset([])
    stream = make_stream(IterableDataset)(0, 3)
    with pytest.raises(TypeError, match=r"datasets\[1\] is an IterableDataset"):
        ConcatDataset([Letters("a"), stream])
    with pytest.raises(TypeError, match="expects a list of datasets"):
        ConcatDataset(Letters("a"))


def test_stack_dataset_equals_torchs(tud):
    a, b = Letters("abc"), [10, 11, 12]
    assert [StackDataset(a, b)[i] for i in range(3)] == [tud.StackDataset(a, b)[i] for i in range(3)]
    assert [StackDataset(x=a, y=b)[i] for i in range(3)] == [tud.StackDataset(x=a, y=b)[i] for i in range(3)]
    assert len(StackDataset(a, b)) == len(tud.StackDataset(a, b)) == 3
    batch = next(iter(DataLoader(StackDataset(x=TensorDataset(np.arange(3.0)), y=b), batch_size=3)))
    assert batch["y"].tolist() == [10, 11, 12] and batch["x"][0].tolist() == [0.0, 1.0, 2.0]
    for args, kwargs, message in [((a, [1]), {}, "same length; got argument 0: 3, argument 1: 1"),
                                  ((a,), {"y": b}, "not both"), ((), {}, "at least one dataset")]:
        with pytest.raises(ValueError):
            tud.StackDataset(*args, **kwargs)
        with pytest.raises(ValueError, match=message):
            StackDataset(*args, **kwargs)


def test_chain_dataset_equals_torchs(tud):
    Ours, Theirs = make_stream(IterableDataset), make_stream(tud.IterableDataset)
    ours = ChainDataset([Ours(0, 3), Ours(10, 2), Ours(20, 0)])
    theirs = tud.ChainDataset([Theirs(0, 3), Theirs(10, 2), Theirs(20, 0)])
    assert list(ours) == list(theirs) == [0, 1, 2, 10, 11]
    assert list(ours) == list(ours)  # a second epoch reads it all again
    assert len(ours) == len(theirs) == 5
    plus = Ours(0, 2) + Ours(5, 1)
    assert isinstance(plus, ChainDataset) and list(plus) == list(Theirs(0, 2) + Theirs(5, 1)) == [0, 1, 5]
    assert list(ChainDataset(d for d in [Ours(0, 1), Ours(1, 1)])) == [0, 1]
    with pytest.raises(TypeError, match=r"datasets\[0\] is a Letters; expected an IterableDataset"):
        ChainDataset([Letters("a")])
    with pytest.raises(TypeError, match="read by iterating over it, not by index"):
        Ours(0, 1)[0]


@pytest.mark.parametrize("lengths", [[0.5, 0.5], [0.3, 0.3, 0.4], [0.1] * 10, [1 / 3] * 3, [0.25] * 4, [0.7, 0.3],
                                     [0.05, 0.9, 0.05], [1.0], [0.2, 0.8]])
def test_random_split_fractions_round_as_torch(tud, lengths):
    import torch

    for n in range(0, 23):
        with warnings.catch_warnings(record=True) as theirs_warned:
            warnings.simplefilter("always")
            theirs = tud.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
        with warnings.catch_warnings(record=True) as ours_warned:
            warnings.simplefilter("always")
            ours = random_split(range(n), lengths, seed=0)
        assert [len(s) for s in ours] == [len(s) for s in theirs], n
        assert len(ours_warned) == len(theirs_warned)  # a warning for each empty split, as torch
        assert sorted(i for s in ours for i in s) == list(range(n))


def test_random_split_lengths_seed_and_errors(tud):
    data = Letters("abcdefghij")
    first = random_split(data, [3, 7], seed=1)
    assert [len(s) for s in first] == [3, 7] and all(isinstance(s, Subset) and s.dataset is data for s in first)
    assert sorted(first[0].indices + first[1].indices) == list(range(10))
    again = random_split(data, [3, 7], generator=np.random.default_rng(1))
    assert [s.indices for s in again] == [s.indices for s in first]
    assert [s.indices for s in random_split(data, [3, 7], seed=2)] != [s.indices for s in first]
    # Each sample is equally likely to land in the first split (as torch's randperm gives).
    counts = np.zeros(10)
    for seed in range(3000):
        counts[random_split(range(10), [1, 9], seed=seed)[0].indices[0]] += 1
    assert float(((counts - 300) ** 2 / 300).sum()) < 27.877  # chi-square, 9 degrees of freedom, 99.9%
    for lengths, error, message in [([3, 6], ValueError, r"sum to 9, but the dataset has 10 samples"),
                                    ([1.5, -0.5], ValueError, r"fraction lengths\[0\] = 1\.5 is not between 0 and 1"),
                                    ([-1, 11], ValueError, r"lengths\[0\] is -1; lengths must be >= 0"),
                                    ([2.5, 7.5], TypeError, r"lengths\[0\] is 2\.5; expected ints"),
                                    (["a"], TypeError, r"lengths\[0\] is 'a'"),
                                    ([], TypeError, "non-empty list")]:
        with pytest.raises(error, match=message):
            random_split(data, lengths, seed=0)
    with pytest.raises(ValueError):
        tud.random_split(data, [3, 6])
    with pytest.raises(TypeError, match="expected a map-style dataset"):
        random_split(make_stream(IterableDataset)(0, 3), [1, 2])


def test_loader_over_an_iterable_dataset_equals_torchs(tud):
    import torch

    Ours, Theirs = make_stream(IterableDataset), make_stream(tud.IterableDataset)
    for batch_size in (1, 2, 3, 7, 8):
        for drop_last in (False, True):
            ours = DataLoader(Ours(5, 7), batch_size=batch_size, drop_last=drop_last)
            theirs = tud.DataLoader(Theirs(5, 7), batch_size=batch_size, drop_last=drop_last)
            assert [b.tolist() for b in ours] == [b.tolist() for b in theirs]
            assert len(ours) == len(theirs)
    ours = [b.tolist() for b in DataLoader(Ours(0, 4) + Ours(10, 3), batch_size=3)]
    assert ours == [b.tolist() for b in tud.DataLoader(Theirs(0, 4) + Theirs(10, 3), batch_size=3)]
    for kwargs in ({"shuffle": True}, {"sampler": [0, 1]}, {"batch_sampler": [[0, 1]]}):
        with pytest.raises(ValueError, match="IterableDataset"):
            tud.DataLoader(Theirs(0, 3), **kwargs)
        with pytest.raises(ValueError, match=f"IterableDataset: expected no {next(iter(kwargs))} option"):
            DataLoader(Ours(0, 3), **kwargs)
    assert [b.tolist() for b in DataLoader(Ours(0, 3), shuffle=False, batch_size=2)] == [[0, 1], [2]]
    with pytest.raises(ValueError, match="expected no distributed option"):
        DataLoader(Ours(0, 3), distributed=True)
    with pytest.raises(TypeError):
        len(tud.DataLoader(Theirs(0, 3, sized=False)))
    with pytest.raises(TypeError, match="has no length, so neither has the loader"):
        len(DataLoader(Ours(0, 3, sized=False)))
    assert [b.tolist() for b in DataLoader(Ours(0, 3, sized=False), batch_size=2)] == [[0, 1], [2]]
    del torch
