"""Dataset, TensorDataset, DataLoader over datasets with collate_fn, default_collate (against torch's), and the bundled
text with CharTokenizer."""

from __future__ import annotations

import hashlib
from collections import namedtuple

import numpy as np
import pytest

import chainrule as cr
from chainrule.data import CharTokenizer, DataLoader, Dataset, TensorDataset, default_collate, load_text


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch")  # the reference for default_collate (test-only)
    torch.set_num_threads(1)
    return torch


class Built(Dataset):
    """Builds each sample from its index, for any index (never an IndexError): this hung the loader before."""

    def __init__(self, n):
        self.n, self.calls = n, []

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.calls.append(i)
        assert len(self.calls) < 10_000, "asked for far more samples than exist"
        return {"x": np.full(3, i, np.float32), "pair": (i, float(i) / 2)}


def test_a_dataset_that_builds_samples_is_batched_without_hanging():
    ds = Built(10)
    loader = DataLoader(ds, 4, shuffle=True, seed=3)
    batches = list(loader)
    assert sorted(ds.calls) == list(range(10))  # each index once, none out of range
    assert len(loader) == 3 and [len(b["pair"][0]) for b in batches] == [4, 4, 2]
    b = batches[0]
    assert b["x"].dtype == np.float32 and b["x"].shape == (4, 3)
    assert b["pair"][0].dtype == np.int64 and b["pair"][1].dtype == np.float64
    np.testing.assert_array_equal(b["x"].numpy()[:, 0], b["pair"][0].numpy())  # the parts stay paired
    np.testing.assert_array_equal(b["pair"][1].numpy(), b["pair"][0].numpy() / 2)
    assert len(list(iter(ds))) == 10  # iterating a Dataset stops at len, too


def test_default_collate_equals_torchs(torch):
    from torch.utils.data import default_collate as torch_collate

    Point = namedtuple("Point", "xy label")
    samples = [(np.arange(6, dtype=np.float32).reshape(2, 3) * i, i, 0.5 * i, True, {"id": np.int32(i)},
                Point(np.array([i, -i], dtype=np.float64), i % 2)) for i in range(5)]
    ours, theirs = default_collate(samples), torch_collate(samples)
    assert isinstance(ours, tuple) and len(ours) == len(theirs) == 6
    for a, b in [(ours[0], theirs[0]), (ours[1], theirs[1]), (ours[2], theirs[2]), (ours[3], theirs[3]),
                 (ours[4]["id"], theirs[4]["id"]), (ours[5].xy, theirs[5].xy), (ours[5].label, theirs[5].label)]:
        expected = b.numpy()
        assert a.dtype == expected.dtype, (a.dtype, expected.dtype)
        np.testing.assert_array_equal(a.numpy(), expected)
    assert type(ours[5]).__name__ == "Point"
    assert default_collate(["a", "b"]) == ["a", "b"]
    with pytest.raises(cr.errors.ShapeError, match=r"different shapes \[\(2,\), \(3,\)\]"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(TypeError, match="does not know how to batch a object"):
        default_collate([object()])


def test_collate_fn_drop_last_and_seeded_shuffle():
    ds = TensorDataset(np.arange(11.0), np.arange(11))

    def pairs(batch):
        return [(x.item(), y.item()) for x, y in batch]

    loader = DataLoader(ds, batch_size=4, drop_last=True, collate_fn=pairs, shuffle=True, seed=7)
    first = list(loader)
    assert len(loader) == 2 and [len(b) for b in first] == [4, 4]
    assert all(x == y for batch in first for x, y in batch)
    again = list(DataLoader(ds, batch_size=4, drop_last=True, collate_fn=pairs, shuffle=True, seed=7))
    assert again == first and list(loader) != first  # reproducible runs; a new order each epoch
    assert [b[1].tolist() for b in DataLoader(ds, batch_size=5)] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10]]


def test_arrays_form_is_the_tensor_dataset_form_with_shuffling():
    X, y = np.random.default_rng(0).standard_normal((13, 2)).astype(np.float32), np.arange(13)
    old = [(xb.numpy(), yb.numpy()) for xb, yb in DataLoader(X, y, 5, seed=2)]
    new = [(xb.numpy(), yb.numpy()) for xb, yb in DataLoader(TensorDataset(X, y), batch_size=5, shuffle=True,
                                                            seed=2)]
    slow = [(xb.numpy(), yb.numpy()) for xb, yb in DataLoader(TensorDataset(X, y), batch_size=5, shuffle=True,
                                                             seed=2, collate_fn=default_collate)]
    for (a, b), (c, d), (e, f) in zip(old, new, slow, strict=True):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)
        np.testing.assert_array_equal(a, e)
        np.testing.assert_array_equal(b, f)
    assert not np.array_equal(np.concatenate([b for _, b in old]), y)  # (X, y) still shuffles by default
    ds = TensorDataset(cr.tensor(X), y)
    assert len(ds) == 13 and [t.shape for t in ds[0]] == [(2,), ()]
    with pytest.raises(cr.errors.ShapeError, match="argument 1 has 12 rows"):
        TensorDataset(X, y[:12])
    with pytest.raises(TypeError, match="expects a dataset"):
        DataLoader(3, batch_size=2)
    with pytest.raises(TypeError, match="two values for batch_size"):
        DataLoader(ds, 2, batch_size=3)


def test_bundled_text_and_char_tokenizer():
    text = load_text()
    assert len(text) == 309_381 and text.isascii()
    assert hashlib.sha256(text.encode()).hexdigest() == \
        "c0cbc4ece16578a8e242da42d148e3cc947a3f63fc74839aaf718a83e2159b76"  # as TEXT_LICENSE.txt says
    assert "Is this a dagger which I see before me" in text and "If music be the food of love" in text
    tok = CharTokenizer(text)
    assert tok.vocab_size == len(set(text)) and tok.chars == sorted(set(text))
    ids = tok.encode(text[:1000])
    assert ids.dtype == np.int64 and tok.decode(ids) == text[:1000] and tok.decode(cr.tensor(ids)) == text[:1000]
    assert [tok.chars[i] for i in ids[:5]] == list(text[:5])
    assert CharTokenizer.from_state_dict(tok.state_dict()).chars == tok.chars
    with pytest.raises(KeyError, match="character '~' is not in the vocabulary"):
        tok.encode("~")
    with pytest.raises(ValueError, match=r"ids must be in \[0, "):
        tok.decode([tok.vocab_size])
