"""cr.data samplers against torch.utils.data (torch 2.13, test-only): the same indices for the deterministic ones,
the same distributions for the random ones (against exact probabilities, and torch's draws against the same), seeded
reproducibility, and errors."""

from __future__ import annotations

import doctest
import importlib
import itertools

import numpy as np
import pytest

from chainrule.data import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)


@pytest.fixture(scope="module")
def tud():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    import torch.utils.data as tud

    return tud


def chi2(counts, probabilities):
    counts = np.asarray(counts, dtype=float)
    expected = counts.sum() * np.asarray(probabilities, dtype=float)
    return float(((counts - expected) ** 2 / expected).sum())


# 99.9% points of the chi-square distribution by degrees of freedom (scipy.stats.chi2.ppf(0.999, df)).
CHI2_999 = {3: 16.266, 4: 18.467, 5: 20.515, 6: 22.458, 11: 31.264}


def test_chi2_table_is_right():
    stats = pytest.importorskip("scipy.stats")
    for df, value in CHI2_999.items():
        assert abs(stats.chi2.ppf(0.999, df) - value) < 1e-3


@pytest.mark.parametrize("module", ["samplers", "dataset_classes", "loader", "workers"])
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(f"chainrule.data.{module}"))
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("n", [0, 1, 5, 11])
def test_sequential_sampler_equals_torchs(tud, n):
    ours, theirs = SequentialSampler(range(n)), tud.SequentialSampler(range(n))
    assert list(ours) == list(theirs) == list(range(n))
    assert len(ours) == len(theirs) == n


@pytest.mark.parametrize("n, batch_size, drop_last",
                         list(itertools.product([0, 1, 6, 7, 12], [1, 3, 5, 13], [False, True])))
def test_batch_sampler_equals_torchs_over_the_same_order(tud, n, batch_size, drop_last):
    order = np.random.default_rng(n).permutation(n).tolist()  # any explicit order: both must group it alike
    ours = BatchSampler(order, batch_size, drop_last)
    theirs = tud.BatchSampler(order, batch_size, drop_last)
    assert list(ours) == list(theirs)
    assert len(ours) == len(theirs) == len(list(ours))
    assert list(BatchSampler(SequentialSampler(range(n)), batch_size, drop_last)) == \
        list(tud.BatchSampler(tud.SequentialSampler(range(n)), batch_size, drop_last))


def test_random_sampler_is_a_new_permutation_each_epoch_and_reproducible(tud):
    ours = RandomSampler(range(20), seed=3)
    epochs = [list(ours) for _ in range(4)]
    assert all(sorted(e) == list(range(20)) for e in epochs)
    assert len({tuple(e) for e in epochs}) == 4 and epochs[0] != list(range(20))
    assert [list(s) for s in [RandomSampler(range(20), seed=3)] * 4] == epochs  # same seed, same epochs
    assert list(RandomSampler(range(20), seed=4)) != epochs[0]
    shared = np.random.default_rng(3)
    assert list(RandomSampler(range(20), generator=shared)) == epochs[0]
    assert len(ours) == len(tud.RandomSampler(range(20))) == 20


@pytest.mark.parametrize("n, num_samples", [(5, 13), (5, 3), (4, 8), (1, 3)])
def test_random_sampler_without_replacement_beyond_the_length_chains_permutations_as_torch(tud, n, num_samples):
    import torch

    ours = [list(RandomSampler(range(n), num_samples=num_samples, seed=seed)) for seed in range(40)]
    theirs = [list(tud.RandomSampler(range(n), num_samples=num_samples,
                                     generator=torch.Generator().manual_seed(seed))) for seed in range(40)]
    for draws in ours + theirs:
        assert len(draws) == num_samples
        blocks = [draws[k : k + n] for k in range(0, num_samples, n)]
        assert all(len(set(b)) == len(b) and set(b) <= set(range(n)) for b in blocks)
    assert len(RandomSampler(range(n), num_samples=num_samples)) == num_samples


def test_random_sampler_positions_are_uniform_as_torchs(tud):
    """Where each index lands: uniform over positions for both (chi-square, fixed seeds so it cannot flake)."""
    import torch

    n, epochs = 6, 6000
    ours = RandomSampler(range(n), seed=1)
    theirs = tud.RandomSampler(range(n), generator=torch.Generator().manual_seed(1))
    for sampler in (ours, theirs):
        first = np.bincount([next(iter(sampler)) for _ in range(epochs)], minlength=n)
        assert chi2(first, np.full(n, 1 / n)) < CHI2_999[n - 1]


def test_random_sampler_with_replacement_is_uniform_and_repeats(tud):
    import torch

    n, count = 12, 24000
    ours = list(RandomSampler(range(n), replacement=True, num_samples=count, seed=2))
    theirs = list(tud.RandomSampler(range(n), replacement=True, num_samples=count,
                                    generator=torch.Generator().manual_seed(2)))
    for draws in (ours, theirs):
        assert len(draws) == count and min(draws) == 0 and max(draws) == n - 1
        assert chi2(np.bincount(draws, minlength=n), np.full(n, 1 / n)) < CHI2_999[n - 1]
    small = list(RandomSampler(range(3), replacement=True, num_samples=10, seed=0))
    assert len(small) == 10 and len(set(small)) < 10  # with replacement, indices repeat
    assert list(RandomSampler(range(0))) == []  # an empty data source: nothing to draw (PyTorch refuses it)


def test_subset_random_sampler_permutes_the_given_indices(tud):
    import torch

    indices = [7, 3, 9, 4, 100]
    ours = SubsetRandomSampler(indices, seed=5)
    epochs = [list(ours) for _ in range(3)]
    assert all(sorted(e) == sorted(indices) for e in epochs) and len({tuple(e) for e in epochs}) == 3
    assert [list(s) for s in [SubsetRandomSampler(indices, seed=5)] * 3] == epochs
    theirs = tud.SubsetRandomSampler(indices, generator=torch.Generator().manual_seed(0))
    assert sorted(theirs) == sorted(ours) and len(theirs) == len(ours) == 5
    first = np.bincount([indices.index(next(iter(ours))) for _ in range(5000)], minlength=5)
    assert chi2(first, np.full(5, 0.2)) < CHI2_999[4]
    assert all(type(i) is int for i in SubsetRandomSampler(np.array([2, 1]), seed=0))


def test_weighted_sampler_with_replacement_follows_the_weights_as_torchs(tud):
    import torch

    weights = [0.1, 0.9, 0.4, 0.7, 3.0, 0.0, 0.6]
    p = np.array(weights) / sum(weights)
    count = 30000
    ours = list(WeightedRandomSampler(weights, count, seed=4))
    theirs = list(tud.WeightedRandomSampler(weights, count, generator=torch.Generator().manual_seed(4)))
    for draws in (ours, theirs):
        counts = np.bincount(draws, minlength=len(weights))
        assert counts[5] == 0  # a zero weight is never drawn
        assert chi2(np.delete(counts, 5), np.delete(p, 5)) < CHI2_999[5]
    assert len(WeightedRandomSampler(weights, 9)) == len(tud.WeightedRandomSampler(weights, 9)) == 9


def test_weighted_sampler_without_replacement_draws_successively_as_multinomial(tud):
    """P(first i, then j) = w_i / W * w_j / (W - w_i): ours and torch.multinomial's against the exact value."""
    import torch

    w = np.array([1.0, 2.0, 3.0, 4.0])
    W = w.sum()
    exact = np.array([[0 if i == j else w[i] / W * w[j] / (W - w[i]) for j in range(4)] for i in range(4)])
    epochs = 12000
    ours = WeightedRandomSampler(w, 2, replacement=False, seed=8)
    theirs = tud.WeightedRandomSampler(w, 2, replacement=False, generator=torch.Generator().manual_seed(8))
    for sampler in (ours, theirs):
        counts = np.zeros((4, 4))
        for _ in range(epochs):
            i, j = list(sampler)
            counts[i, j] += 1
        off = ~np.eye(4, dtype=bool)
        assert np.all(counts[~off] == 0)
        assert chi2(counts[off], exact[off]) < CHI2_999[11]
    full = list(WeightedRandomSampler([5.0, 0.0, 1.0, 2.0], 3, replacement=False, seed=0))
    assert sorted(full) == [0, 2, 3]  # every positive weight once, the zero weight never


def test_sampler_base_and_subclass(tud):
    with pytest.raises(NotImplementedError, match="must define __iter__"):
        iter(Sampler())

    class Evens(Sampler):
        def __iter__(self):
            return iter(range(0, 10, 2))

    assert list(BatchSampler(Evens(), 2, False)) == [[0, 2], [4, 6], [8]]
    with pytest.raises(TypeError, match="has no length"):
        len(BatchSampler(Evens(), 2, False))


@pytest.mark.parametrize(
    "make_ours, make_theirs, ours_error, message",
    [
        (lambda: RandomSampler(range(3), replacement="yes"), lambda t: t.RandomSampler(range(3), replacement="yes"),
         TypeError, "replacement must be True or False"),
        (lambda: RandomSampler(range(3), num_samples=0), lambda t: t.RandomSampler(range(3), num_samples=0),
         ValueError, "num_samples must be a positive int, got 0"),
        (lambda: RandomSampler(range(3), num_samples=2.5), lambda t: t.RandomSampler(range(3), num_samples=2.5),
         TypeError, r"num_samples must be a positive int, got 2\.5"),
        (lambda: WeightedRandomSampler([[1.0, 2.0]], 2), lambda t: t.WeightedRandomSampler([[1.0, 2.0]], 2),
         ValueError, r"1-d sequence, but they have shape \(1, 2\)"),
        (lambda: WeightedRandomSampler([1.0], 0), lambda t: t.WeightedRandomSampler([1.0], 0),
         ValueError, "num_samples must be a positive int, got 0"),
        (lambda: WeightedRandomSampler([1.0], 1, replacement=1), lambda t: t.WeightedRandomSampler([1.0], 1, 1),
         TypeError, "replacement must be True or False"),
        (lambda: list(WeightedRandomSampler([1.0, -1.0], 2)), lambda t: list(t.WeightedRandomSampler([1.0, -1.0], 2)),
         ValueError, r"weights\[1\] is -1\.0"),
        (lambda: list(WeightedRandomSampler([0.0, 0.0], 2)), lambda t: list(t.WeightedRandomSampler([0.0, 0.0], 2)),
         ValueError, "the weights sum to 0"),
        (lambda: list(WeightedRandomSampler([1.0, np.nan], 2)),
         lambda t: list(t.WeightedRandomSampler([1.0, np.nan], 2)), ValueError, r"weights\[1\] is nan"),
        (lambda: list(WeightedRandomSampler([1.0, 2.0], 3, replacement=False)),
         lambda t: list(t.WeightedRandomSampler([1.0, 2.0], 3, replacement=False)),
         ValueError, "num_samples=3 indices without replacement when only 2 weights are positive"),
        (lambda: BatchSampler(range(3), 0, False), lambda t: t.BatchSampler(range(3), 0, False),
         ValueError, "batch_size must be a positive int, got 0"),
        (lambda: BatchSampler(range(3), True, False), lambda t: t.BatchSampler(range(3), True, False),
         TypeError, "batch_size must be a positive int, got True"),
        (lambda: BatchSampler(range(3), 2, "no"), lambda t: t.BatchSampler(range(3), 2, "no"),
         TypeError, "drop_last must be True or False"),
    ],
)
def test_bad_arguments_are_refused_as_torch_refuses_them(tud, make_ours, make_theirs, ours_error, message):
    with pytest.raises(Exception):  # noqa: B017 - torch's type varies (ValueError, RuntimeError)
        make_theirs(tud)
    with pytest.raises(ours_error, match=message):
        make_ours()


def test_generator_and_seed_errors(tud):
    import torch

    with pytest.raises(TypeError, match=r"numpy\.random\.Generator .* got a torch\._C\.Generator"):
        RandomSampler(range(3), generator=torch.Generator())
    with pytest.raises(TypeError, match="generator= or seed=, not both"):
        SubsetRandomSampler([1], generator=np.random.default_rng(), seed=1)
    with pytest.raises(TypeError, match="seed must be an int >= 0"):
        WeightedRandomSampler([1.0], 1, seed=-1)
    with pytest.raises(TypeError, match="needs a data source with a length"):
        RandomSampler(iter(range(3)))
    with pytest.raises(TypeError, match=r"indices\[1\] is 'a'; expected an int"):
        SubsetRandomSampler([0, "a"])
    with pytest.raises(TypeError, match="sampler must be an iterable of indices"):
        BatchSampler(3, 2, False)
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    list(RandomSampler(range(9))), list(WeightedRandomSampler([1.0, 2.0], 4)), list(SubsetRandomSampler([1, 2]))
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # the global NumPy state is never touched
