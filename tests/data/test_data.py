"""Tests for chainrule.data: bundled digits, MNIST IDX reading, train_test_split and DataLoader."""

from __future__ import annotations

import gzip
import hashlib
import re
import struct
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import chainrule.data as crdata
from chainrule.data import (
    DataFormatError,
    DataLoader,
    load_digits,
    load_mnist,
    load_mnist_files,
    read_idx,
    train_test_split,
)

DATA_DIR = Path(crdata.__file__).parent

# ------------------------------------------------------------------------------------------------- fixtures


@pytest.fixture
def tensor_cls(monkeypatch: pytest.MonkeyPatch) -> type:
    """The Tensor class batches should be; a stand-in module while chainrule.tensor is not importable."""
    try:
        from chainrule.tensor import Tensor, tensor
    except ImportError:
        pass
    else:
        return Tensor

    class StandInTensor:
        def __init__(self, data: np.ndarray) -> None:
            self.data = data

        @property
        def shape(self) -> tuple[int, ...]:
            return self.data.shape

    def tensor(data, dtype=None, requires_grad=False):
        return StandInTensor(np.array(data, dtype=dtype))

    module = types.ModuleType("chainrule.tensor")
    module.Tensor = StandInTensor
    module.tensor = tensor
    monkeypatch.setitem(sys.modules, "chainrule.tensor", module)
    return StandInTensor


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """Build an IDX file by hand (independently of the reader): magic, big-endian sizes, big-endian data."""
    dtypes = {0x08: ">u1", 0x0C: ">i4", 0x0D: ">f4"}
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(struct.pack(">I", s) for s in array.shape)
    return header + array.astype(dtypes[type_code]).tobytes()


def write(path: Path, payload: bytes, compress: bool = False) -> Path:
    path.write_bytes(gzip.compress(payload) if compress else payload)
    return path


@pytest.fixture
def tiny_mnist() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(123)
    images = rng.integers(0, 256, size=(5, 3, 4), dtype=np.uint8)
    images[0, 0, 0], images[0, 0, 1] = 255, 0  # pin both ends of the scale
    labels = np.array([7, 0, 9, 3, 3], dtype=np.uint8)
    return images, labels


# --------------------------------------------------------------------------------------------------- digits


def test_digits_shapes_dtypes_and_range() -> None:
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    # Values are the original counts 0..16 divided by 16, so X * 16 is a whole number.
    np.testing.assert_array_equal(X * 16, np.round(X * 16))
    assert set(np.unique(y).tolist()) == set(range(10))


def test_digits_class_counts_and_pinned_values() -> None:
    X, y = load_digits()
    np.testing.assert_array_equal(np.bincount(y), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
    assert y[:10].tolist() == list(range(10))
    assert y[-1] == 8
    assert X[0].sum() * 16 == pytest.approx(294.0)
    assert X[-1].sum() * 16 == pytest.approx(392.0)
    assert float(X.astype(np.float64).sum()) * 16 == pytest.approx(561718.0)
    # First image, top row: 0 0 5 13 9 1 0 0 (the zero in the middle of a drawn "0").
    np.testing.assert_array_equal(X[0, :8] * 16, [0, 0, 5, 13, 9, 1, 0, 0])


def test_digits_returns_fresh_arrays() -> None:
    X1, y1 = load_digits()
    X1[:] = -1.0
    y1[:] = -1
    X2, y2 = load_digits()
    assert X2.min() == 0.0 and y2.min() == 0
    assert not np.shares_memory(X1, X2)


def test_digits_file_is_plain_uint8_and_matches_license_checksum() -> None:
    path = DATA_DIR / "digits.npz"
    with np.load(path, allow_pickle=False) as archive:
        assert sorted(archive.files) == ["images", "labels"]
        assert archive["images"].dtype == np.uint8 and archive["labels"].dtype == np.uint8
        assert archive["images"].max() == 16 and archive["labels"].max() == 9
    license_text = (DATA_DIR / "DIGITS_LICENSE.txt").read_text(encoding="utf-8")
    assert "CC BY 4.0" in license_text and "10.24432/C50P49" in license_text
    stated = re.search(r"sha256\(digits\.npz\) = ([0-9a-f]{64})", license_text)
    assert stated is not None
    assert hashlib.sha256(path.read_bytes()).hexdigest() == stated.group(1)


# ---------------------------------------------------------------------------------------------------- MNIST


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("kind, prefix", [("train", "train"), ("test", "t10k")])
def test_mnist_round_trip(tmp_path: Path, tiny_mnist, compress: bool, kind: str, prefix: str) -> None:
    images, labels = tiny_mnist
    suffix = ".gz" if compress else ""
    write(tmp_path / f"{prefix}-images-idx3-ubyte{suffix}", idx_bytes(images), compress)
    write(tmp_path / f"{prefix}-labels-idx1-ubyte{suffix}", idx_bytes(labels), compress)
    X, y = load_mnist(tmp_path, kind=kind)
    assert X.shape == (5, 12) and X.dtype == np.float32
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, [7, 0, 9, 3, 3])
    np.testing.assert_allclose(X, images.reshape(5, 12) / 255.0, rtol=0, atol=1e-7)
    assert X[0, 0] == 1.0 and X[0, 1] == 0.0


def test_mnist_gzip_detected_by_magic_bytes_not_name(tmp_path: Path, tiny_mnist) -> None:
    images, labels = tiny_mnist
    img = write(tmp_path / "imgs.raw", idx_bytes(images), compress=True)  # gzip without .gz
    lab = write(tmp_path / "labels.gz", idx_bytes(labels), compress=False)  # plain despite .gz
    X, y = load_mnist_files(img, lab)
    np.testing.assert_array_equal(np.round(X * 255).astype(np.uint8), images.reshape(5, 12))
    np.testing.assert_array_equal(y, labels)


def test_read_idx_general_types_and_dims(tmp_path: Path) -> None:
    values = np.array([[1, -2, 70000], [0, 5, -300000]], dtype=np.int32)
    out = read_idx(write(tmp_path / "ints", idx_bytes(values, 0x0C)))
    assert out.shape == (2, 3) and out.dtype == np.int32 and out.dtype.isnative
    np.testing.assert_array_equal(out, values)
    floats = np.array([0.5, -1.25, 3.0], dtype=np.float32)
    np.testing.assert_array_equal(read_idx(write(tmp_path / "floats", idx_bytes(floats, 0x0D))), floats)


def test_mnist_missing_file(tmp_path: Path, tiny_mnist) -> None:
    images, _ = tiny_mnist
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(images))
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte"):
        load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="nothing"):
        load_mnist(tmp_path / "no-such-dir")
    with pytest.raises(FileNotFoundError, match="not found"):
        read_idx(tmp_path / "absent")


def test_mnist_wrong_magic(tmp_path: Path, tiny_mnist) -> None:
    images, labels = tiny_mnist
    img = write(tmp_path / "img", idx_bytes(images))
    lab = write(tmp_path / "lab", idx_bytes(labels))
    # Files swapped: the labels file has magic 0x00000801 where 0x00000803 is expected.
    with pytest.raises(DataFormatError, match=r"lab has IDX magic number 0x00000801, expected 0x00000803"):
        load_mnist_files(lab, img)
    junk = write(tmp_path / "junk", b"PK\x03\x04" + bytes(20))
    with pytest.raises(ValueError, match="junk has IDX magic number 0x504B0304"):
        load_mnist_files(junk, lab)
    with pytest.raises(DataFormatError, match="not an IDX header"):
        read_idx(junk)


@pytest.mark.parametrize("compress", [False, True])
def test_mnist_truncated_data(tmp_path: Path, tiny_mnist, compress: bool) -> None:
    images, labels = tiny_mnist
    img = write(tmp_path / "img", idx_bytes(images)[:-7], compress)
    lab = write(tmp_path / "lab", idx_bytes(labels), compress)
    with pytest.raises(
        DataFormatError, match=r"img is truncated: .*shape \(5, 3, 4\) \(60 data bytes\).* 53 "
    ):
        load_mnist_files(img, lab)


def test_mnist_truncated_header_and_gzip_stream(tmp_path: Path, tiny_mnist) -> None:
    images, _ = tiny_mnist
    short = write(tmp_path / "short", idx_bytes(images)[:10])
    with pytest.raises(
        DataFormatError, match=r"short is truncated: .*3 dimensions.*16 header bytes.*only 10"
    ):
        read_idx(short)
    tiny = write(tmp_path / "tiny", b"\x00\x00")
    with pytest.raises(DataFormatError, match="tiny has 2 bytes"):
        read_idx(tiny)
    cut = tmp_path / "cut.gz"
    cut.write_bytes(gzip.compress(idx_bytes(images))[:-12])
    with pytest.raises(DataFormatError, match=r"cut\.gz starts with the gzip magic bytes"):
        read_idx(cut)


def test_idx_extra_bytes_is_an_error(tmp_path: Path, tiny_mnist) -> None:
    _, labels = tiny_mnist
    longer = write(tmp_path / "longer", idx_bytes(labels) + b"\x00\x00")
    with pytest.raises(DataFormatError, match="2 bytes past the end"):
        read_idx(longer)


def test_mnist_count_mismatch(tmp_path: Path, tiny_mnist) -> None:
    images, labels = tiny_mnist
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(images))
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(labels[:4]))
    with pytest.raises(DataFormatError, match=r"holds 5 images but .* holds 4 labels"):
        load_mnist(tmp_path)


def test_mnist_bad_kind(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="kind='validation'"):
        load_mnist(tmp_path, kind="validation")


def test_idx_gzip_bomb_is_refused_without_inflating_it(tmp_path: Path) -> None:
    import subprocess
    import sys

    bomb = tmp_path / "bomb.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as file:  # 10 labels, then 256 MiB of zeros
        file.write(bytes([0, 0, 8, 1]) + struct.pack(">I", 10) + bytes(10))
        chunk = bytes(1 << 20)
        for _ in range(256):
            file.write(chunk)
    code = ("import resource, time\n"
            "from chainrule.data import read_idx\n"
            "start = time.perf_counter()\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "try:\n"
            f"    read_idx({str(bomb)!r})\n"
            "except ValueError as exc:\n"
            "    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before\n"
            "    print(grown * 1024, time.perf_counter() - start, type(exc).__name__, exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[2]).stdout
    grown, seconds, kind = out.split()[:3]
    assert kind == "DataFormatError" and "bytes past the end" in out
    assert int(grown) < 32 * 2**20, f"refusing a gzip bomb grew memory by {grown} bytes"
    assert float(seconds) < 5


def test_idx_header_larger_than_the_file_can_hold_is_refused(tmp_path: Path) -> None:
    huge = bytes([0, 0, 8, 3]) + struct.pack(">III", 2**32 - 1, 2**32 - 1, 2**32 - 1)
    with pytest.raises(DataFormatError, match="more than a gzip file of"):
        read_idx(write(tmp_path / "huge.gz", huge + bytes(100), compress=True))
    with pytest.raises(DataFormatError, match="is truncated"):
        read_idx(write(tmp_path / "huge", huge + bytes(100)))


def test_idx_with_too_many_dimensions_or_no_images(tmp_path: Path, tiny_mnist) -> None:
    many = write(tmp_path / "many", bytes([0, 0, 8, 65]) + struct.pack(">I", 1) * 65 + b"\x07")
    with pytest.raises(DataFormatError, match="declaring 65 dimensions; at most 32"):
        read_idx(many)
    empty_images = write(tmp_path / "img", bytes([0, 0, 8, 3]) + struct.pack(">III", 0, 28, 28))
    empty_labels = write(tmp_path / "lab", bytes([0, 0, 8, 1]) + struct.pack(">I", 0))
    with pytest.raises(DataFormatError, match="img holds 0 images"):
        load_mnist_files(empty_images, empty_labels)


# ---------------------------------------------------------------------------------------------------- split


def ids(n: int) -> tuple[np.ndarray, np.ndarray]:
    """X rows carry their own index, so a split can be checked for pairing and coverage."""
    X = np.stack([np.arange(n), -np.arange(n)], axis=1).astype(np.float64)
    return X, np.arange(n, dtype=np.int64)


@pytest.mark.parametrize("test_size, n_test", [(0.2, 2), (0.25, 3), (0.5, 5), (3, 3), (9, 9)])
def test_split_sizes(test_size: float, n_test: int) -> None:
    X, y = ids(10)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_size, seed=0)
    assert X_te.shape == (n_test, 2) and y_te.shape == (n_test,)
    assert X_tr.shape == (10 - n_test, 2) and y_tr.shape == (10 - n_test,)


def test_split_is_disjoint_covering_and_keeps_pairs() -> None:
    X, y = ids(50)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, seed=1)
    assert set(y_tr.tolist()).isdisjoint(y_te.tolist())
    np.testing.assert_array_equal(np.sort(np.concatenate([y_tr, y_te])), np.arange(50))
    np.testing.assert_array_equal(X_tr[:, 0], y_tr)
    np.testing.assert_array_equal(X_te[:, 1], -y_te)
    assert y_tr.dtype == np.int64
    assert not np.array_equal(y_tr, np.sort(y_tr))  # shuffled, not in original order


def test_split_reproducible_with_seed() -> None:
    X, y = ids(100)
    first = train_test_split(X, y, seed=42)
    again = train_test_split(X, y, seed=42)
    other = train_test_split(X, y, seed=43)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[3], other[3])


def test_split_stratified_keeps_class_proportions() -> None:
    y = np.repeat(np.array([0, 1, 2]), [60, 30, 10])
    X = np.arange(100, dtype=np.float32).reshape(100, 1)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, seed=3, stratify=True)
    np.testing.assert_array_equal(np.bincount(y_te, minlength=3), [12, 6, 2])
    np.testing.assert_array_equal(np.bincount(y_tr, minlength=3), [48, 24, 8])
    np.testing.assert_array_equal(y[X_te[:, 0].astype(int)], y_te)
    assert len(set(X_tr[:, 0].tolist()) | set(X_te[:, 0].tolist())) == 100


def test_split_stratified_rounding_gives_exact_test_size() -> None:
    # 7, 7, 6 samples with 5 test seats: shares 1.75, 1.75, 1.5 -> 2, 2, 1.
    y = np.repeat(np.array([4, 5, 6]), [7, 7, 6])
    _, _, y_tr, y_te = train_test_split(np.zeros((20, 1)), y, test_size=5, seed=0, stratify=True)
    assert np.bincount(y_te - 4, minlength=3).tolist() == [2, 2, 1]
    assert np.bincount(y_tr - 4, minlength=3).tolist() == [5, 5, 5]


@pytest.mark.parametrize(
    "X, y, kwargs, error, message",
    [
        (np.zeros((5, 2)), np.zeros(4), {}, ValueError, "5 samples in X .* but 4 in y"),
        (np.zeros((0, 2)), np.zeros(0), {}, ValueError, "empty dataset"),
        (np.zeros((5, 2)), np.zeros(5), {"test_size": 0.0}, ValueError, r"strictly in \(0, 1\)"),
        (np.zeros((5, 2)), np.zeros(5), {"test_size": 1.0}, ValueError, r"strictly in \(0, 1\)"),
        (np.zeros((5, 2)), np.zeros(5), {"test_size": -0.1}, ValueError, r"strictly in \(0, 1\)"),
        (np.zeros((5, 2)), np.zeros(5), {"test_size": 0.9}, ValueError, "leaves no training sample"),
        (np.zeros((5, 2)), np.zeros(5), {"test_size": 0}, ValueError, r"must be in \[1, 4\]"),
        (np.zeros((5, 2)), np.zeros(5), {"test_size": 5}, ValueError, r"must be in \[1, 4\]"),
        (np.zeros((5, 2)), np.zeros(5), {"test_size": True}, TypeError, "test_size=True"),
        (np.zeros((5, 2)), np.zeros(5), {"test_size": "20%"}, TypeError, "test_size='20%'"),
        (np.zeros((5, 2)), np.zeros((5, 2)), {"stratify": True}, ValueError, "1-D labels"),
        (np.zeros((5, 2)), np.zeros(5), {"stratify": np.zeros(5)}, TypeError, "expected True or False"),
    ],
)
def test_split_errors(X, y, kwargs, error, message) -> None:
    with pytest.raises(error, match=message):
        train_test_split(X, y, **kwargs)


# ----------------------------------------------------------------------------------------------- DataLoader


def epoch_labels(loader: DataLoader) -> list[np.ndarray]:
    return [yb.data for _, yb in loader]


@pytest.mark.parametrize(
    "n, batch_size, drop_last, sizes",
    [
        (10, 3, False, [3, 3, 3, 1]),
        (10, 3, True, [3, 3, 3]),
        (9, 3, False, [3, 3, 3]),
        (9, 3, True, [3, 3, 3]),
        (4, 10, False, [4]),
        (4, 10, True, []),
    ],
)
def test_loader_len_and_batch_sizes(tensor_cls, n: int, batch_size: int, drop_last: bool, sizes) -> None:
    X, y = ids(n)
    loader = DataLoader(X, y, batch_size, seed=0, drop_last=drop_last)
    assert len(loader) == len(sizes)
    assert [yb.data.shape[0] for _, yb in loader] == sizes
    assert [xb.shape for xb, _ in loader] == [(s, 2) for s in sizes]


def test_loader_covers_every_sample_once_with_tensors(tensor_cls) -> None:
    X, y = ids(23)
    X = X.astype(np.float32)
    loader = DataLoader(X, y, batch_size=5, seed=0)
    for _ in range(3):
        seen = []
        for xb, yb in loader:
            assert isinstance(xb, tensor_cls) and isinstance(yb, tensor_cls)
            assert yb.data.dtype == np.int64 and xb.data.dtype == np.float32
            np.testing.assert_array_equal(xb.data[:, 0], yb.data)  # rows stay paired with their labels
            seen.append(yb.data)
        np.testing.assert_array_equal(np.sort(np.concatenate(seen)), np.arange(23))


def test_loader_drop_last_never_repeats(tensor_cls) -> None:
    X, y = ids(10)
    labels = np.concatenate(epoch_labels(DataLoader(X, y, batch_size=4, seed=5, drop_last=True)))
    assert labels.shape == (8,) and np.unique(labels).shape == (8,)


def test_loader_reshuffles_each_epoch_and_is_reproducible(tensor_cls) -> None:
    X, y = ids(30)
    a = DataLoader(X, y, batch_size=7, seed=11)
    b = DataLoader(X, y, batch_size=7, seed=11)
    c = DataLoader(X, y, batch_size=7, seed=12)
    epochs_a = [np.concatenate(epoch_labels(a)) for _ in range(3)]
    epochs_b = [np.concatenate(epoch_labels(b)) for _ in range(3)]
    epochs_c = [np.concatenate(epoch_labels(c)) for _ in range(3)]
    for ea, eb in zip(epochs_a, epochs_b, strict=True):
        np.testing.assert_array_equal(ea, eb)
    assert not np.array_equal(epochs_a[0], epochs_a[1])
    assert not np.array_equal(epochs_a[1], epochs_a[2])
    assert not np.array_equal(epochs_a[0], epochs_c[0])
    assert not np.array_equal(epochs_a[0], np.arange(30))


def test_loader_without_shuffle_keeps_order_and_global_rng(tensor_cls) -> None:
    X, y = ids(7)
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    loader = DataLoader(X, y, batch_size=3, shuffle=False)
    assert [b.tolist() for b in epoch_labels(loader)] == [[0, 1, 2], [3, 4, 5], [6]]
    list(DataLoader(X, y, batch_size=3, seed=None))
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_loader_batches_do_not_alias_inputs(tensor_cls) -> None:
    X, y = ids(6)
    xb, _ = next(iter(DataLoader(X, y, batch_size=6, shuffle=False)))
    xb.data[:] = 99.0
    assert X.max() == 5.0


@pytest.mark.parametrize(
    "X, y, batch_size, error, message",
    [
        (np.zeros((5, 2)), np.zeros(6), 2, ValueError, "5 samples in X .* but 6 in y"),
        (np.zeros((0, 2)), np.zeros(0), 2, ValueError, r"empty dataset \(X of shape \(0, 2\)\)"),
        (np.zeros((5, 2)), np.zeros(5), 0, ValueError, "batch_size=0"),
        (np.zeros((5, 2)), np.zeros(5), -3, ValueError, "batch_size=-3"),
        (np.zeros((5, 2)), np.zeros(5), 2.5, TypeError, r"batch_size=2\.5 \(float\)"),
        (np.zeros((5, 2)), np.zeros(5), True, TypeError, "batch_size=True"),
    ],
)
def test_loader_errors(X, y, batch_size, error, message) -> None:
    with pytest.raises(error, match=message):
        DataLoader(X, y, batch_size)
