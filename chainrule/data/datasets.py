"""Datasets: the bundled 8x8 digits, MNIST IDX files, and a shuffled train/test split.

Everything here returns plain NumPy arrays; wrap them in tensors yourself or let ``DataLoader`` do it.
"""

from __future__ import annotations

import contextlib
import gzip
import math
import operator
import os
import zlib
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import ChainruleError, DomainError, ShapeError

__all__ = ["DataFormatError", "load_digits", "load_mnist", "load_mnist_files", "read_idx", "train_test_split"]

PathLike = str | os.PathLike[str]

IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions: (count, rows, cols)
IDX_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension: (count,)

# The third byte of an IDX magic number names the element type; all are stored big-endian.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


class DataFormatError(ChainruleError, ValueError):
    """A data file whose contents break its format: bad magic number, truncated data, counts that differ."""


# --------------------------------------------------------------------------------------------------- digits


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """Load the 1,797 handwritten 8x8 digits that ship with chainrule (works offline).

    Returns ``(X, y)``: ``X`` float32 of shape (1797, 64), pixel counts 0..16 divided by 16 so they lie in
    [0, 1], rows are the 8x8 images in row-major order; ``y`` int64 labels 0..9. Each call returns new arrays.
    Source and licence (CC BY 4.0): ``DIGITS_LICENSE.txt`` next to this module.

    >>> X, y = load_digits()
    >>> X.shape, y[:3].tolist()
    ((1797, 64), [0, 1, 2])
    """
    ref = resources.files(__package__).joinpath("digits.npz")
    with resources.as_file(ref) as path:
        if not path.is_file():
            raise FileNotFoundError(
                f"the bundled digits file is missing: expected {path}; reinstall chainrule to restore it"
            )
        with np.load(path, allow_pickle=False) as archive:
            images = archive["images"]
            labels = archive["labels"]
    if images.shape != (1797, 64) or labels.shape != (1797,):
        raise DataFormatError(
            f"the bundled digits file {path} holds images of shape {images.shape} and labels of shape "
            f"{labels.shape}; expected (1797, 64) and (1797,); reinstall chainrule to restore it"
        )
    X = images.astype(np.float32) / np.float32(16.0)
    y = labels.astype(np.int64)
    return X, y


# ---------------------------------------------------------------------------------------------------- MNIST


_MAX_IDX_DIMS = 32
_MAX_DEFLATE_RATIO = 1032  # deflate inflates at most ~1032:1, so a gzip file bounds the data it can hold
_TRAILING_PEEK = 1 << 20  # after the data, look this far for trailing bytes (never inflate a bomb's tail)


@contextlib.contextmanager
def _gzip_errors(path: Path):
    """Turn a broken gzip stream into a DataFormatError that names the file."""
    try:
        yield
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DataFormatError(
            f"{path} starts with the gzip magic bytes 1f 8b but is not a complete gzip stream ({exc}); "
            "the file is probably truncated or corrupt: download it again"
        ) from None


def _read_full(stream, view: memoryview) -> int:
    """Read into ``view`` until it is full or the stream ends; the number of bytes read."""
    done = 0
    while done < len(view):
        count = stream.readinto(view[done:])
        if not count:
            break
        done += count
    return done


def read_idx(path: PathLike, expected_magic: int | None = None) -> np.ndarray:
    """Parse one IDX file (plain or gzip-compressed) into an array of the shape its header gives.

    The header is a big-endian 32-bit magic number ``0x0000TTNN`` (TT: element type, 0x08 for unsigned bytes;
    NN: number of dimensions), then NN big-endian 32-bit sizes, then the elements in row-major order.
    MNIST uses ``0x00000803`` for images (n, 28, 28) and ``0x00000801`` for labels (n,).

    The header is read first and checked against the file's size (for gzip, against the most its compressed
    size can inflate to) before the array is allocated; the data is then read straight into it, so a crafted
    or truncated file is refused without reading it whole, and a gzip file is never inflated past its data.

    Args:
        path: the file. Gzip is detected from its first two bytes (1f 8b), not from its name.
        expected_magic: if given, any other magic number is an error.

    Returns the elements in native byte order. Raises ``FileNotFoundError`` for a missing file and
    ``DataFormatError`` (a ``ValueError``) for a bad magic number, a short header or a wrong data length.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file not found: {path}")
    with open(path, "rb") as file, _gzip_errors(path):
        file_size = os.fstat(file.fileno()).st_size
        compressed = file.read(2) == _GZIP_MAGIC
        file.seek(0)
        stream = gzip.GzipFile(fileobj=file, mode="rb") if compressed else file
        return _read_idx_stream(stream, path, expected_magic, file_size, compressed)


def _read_idx_stream(stream, path: Path, expected_magic: int | None, file_size: int,
                     compressed: bool) -> np.ndarray:
    head = stream.read(4)
    if len(head) < 4:
        raise DataFormatError(
            f"{path} has {len(head)} bytes; an IDX file needs at least a 4-byte magic number"
        )
    magic = int.from_bytes(head, "big")
    type_code, ndim = head[2], head[3]
    if expected_magic is not None and magic != expected_magic:
        raise DataFormatError(
            f"{path} has IDX magic number 0x{magic:08X}, expected 0x{expected_magic:08X}; "
            "is it the right file (images vs labels) and an IDX file at all?"
        )
    if head[:2] != b"\x00\x00" or type_code not in _IDX_DTYPES:
        raise DataFormatError(
            f"{path} has magic number 0x{magic:08X}, which is not an IDX header; expected 0x0000TTNN with "
            f"type TT in {{{', '.join(f'0x{code:02X}' for code in _IDX_DTYPES)}}}"
        )
    if ndim > _MAX_IDX_DIMS:
        raise DataFormatError(
            f"{path} has an IDX header declaring {ndim} dimensions; at most {_MAX_IDX_DIMS} are supported "
            "(MNIST uses 3 for images, 1 for labels)"
        )
    header_size = 4 + 4 * ndim
    sizes = stream.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise DataFormatError(
            f"{path} is truncated: its header declares {ndim} dimensions, which needs {header_size} header "
            f"bytes, but the file has only {4 + len(sizes)} bytes"
        )
    shape = tuple(int.from_bytes(sizes[4 * i : 4 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_DTYPES[type_code]
    expected = math.prod(shape) * dtype.itemsize
    if not compressed:
        found = file_size - header_size
        if found < expected:
            _raise_truncated(path, shape, expected, found)
        if found > expected:
            _raise_trailing(path, shape, expected, str(found - expected))
    elif expected > _MAX_DEFLATE_RATIO * file_size:
        raise DataFormatError(
            f"{path} has an IDX header giving shape {shape} ({expected} data bytes), more than a gzip file of "
            f"{file_size} bytes can hold; the file is truncated or crafted"
        )
    data = np.empty(shape, dtype=dtype)
    found = _read_full(stream, memoryview(data.reshape(-1).view(np.uint8)))
    if found < expected:
        _raise_truncated(path, shape, expected, found)
    if compressed:
        extra = len(stream.read(_TRAILING_PEEK))
        if extra:
            _raise_trailing(path, shape, expected, str(extra) if extra < _TRAILING_PEEK else f"at least {extra}")
    return data if dtype.isnative else data.byteswap(inplace=True).view(dtype.newbyteorder("="))


def _raise_truncated(path: Path, shape: tuple[int, ...], expected: int, found: int) -> None:
    raise DataFormatError(
        f"{path} is truncated: its header gives shape {shape} ({expected} data bytes) but only {found} "
        "data bytes follow; download the file again"
    )


def _raise_trailing(path: Path, shape: tuple[int, ...], expected: int, extra: str) -> None:
    raise DataFormatError(
        f"{path} has {extra} bytes past the end of the data its header describes "
        f"(shape {shape}, {expected} data bytes); is the header from another file?"
    )


def _find_idx(directory: Path, stem: str) -> Path:
    """Return ``directory/stem``, or ``directory/stem.gz`` when only that exists."""
    for name in (stem, stem + ".gz"):
        candidate = directory / name
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"MNIST file not found in {directory}: expected {stem} or {stem}.gz")


def load_mnist(path: PathLike, kind: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST (or any dataset in the same IDX layout, such as Fashion-MNIST) from a directory.

    ``path`` is a directory holding the standard file names, plain or gzip-compressed:
    ``train-images-idx3-ubyte[.gz]`` and ``train-labels-idx1-ubyte[.gz]`` for ``kind="train"``,
    ``t10k-images-idx3-ubyte[.gz]`` and ``t10k-labels-idx1-ubyte[.gz]`` for ``kind="test"``.
    The uncompressed name is used when both exist. To read files with other names, use ``load_mnist_files``.

    Returns ``(X, y)``: ``X`` float32 of shape (n, rows * cols) with pixels divided by 255 (so in [0, 1]),
    ``y`` int64 labels.

    Example (with the four files downloaded to ``~/datasets/mnist``)::

        X, y = load_mnist("~/datasets/mnist", kind="test")  # X.shape == (10000, 784), y.dtype == int64
    """
    prefixes = {"train": "train", "test": "t10k"}
    if kind not in prefixes:
        raise ValueError(f"load_mnist got kind={kind!r}; expected 'train' or 'test'")
    directory = Path(path).expanduser()
    if not directory.is_dir():
        found = "a file" if directory.exists() else "nothing"
        raise FileNotFoundError(
            f"load_mnist expects a directory holding the MNIST IDX files, but found {found} at {directory}; "
            "to read two named files use load_mnist_files(images_path, labels_path)"
        )
    prefix = prefixes[kind]
    images_path = _find_idx(directory, f"{prefix}-images-idx3-ubyte")
    labels_path = _find_idx(directory, f"{prefix}-labels-idx1-ubyte")
    return load_mnist_files(images_path, labels_path)


def load_mnist_files(images_path: PathLike, labels_path: PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Load an MNIST-style images file and labels file (plain or gzip), given their paths.

    Returns ``(X, y)`` as ``load_mnist`` does: X float32 (n, rows * cols) in [0, 1], y int64 (n,).
    """
    images_path, labels_path = Path(images_path).expanduser(), Path(labels_path).expanduser()
    images = read_idx(images_path, expected_magic=IDX_IMAGES_MAGIC)
    labels = read_idx(labels_path, expected_magic=IDX_LABELS_MAGIC)
    if images.shape[0] != labels.shape[0]:
        raise DataFormatError(
            f"{images_path} holds {images.shape[0]} images but {labels_path} holds {labels.shape[0]} labels; "
            "expected the same count: are the two files from the same split (train vs t10k)?"
        )
    if images.shape[0] == 0:
        raise DataFormatError(f"{images_path} holds 0 images; expected at least one")
    X = images.reshape(images.shape[0], math.prod(images.shape[1:])).astype(np.float32) / np.float32(255.0)
    y = labels.astype(np.int64)
    return X, y


# ---------------------------------------------------------------------------------------------------- split


def _as_array(data: object) -> np.ndarray:
    """Return the NumPy array behind ``data``: a Tensor's ``.data``, or ``np.asarray`` of anything else."""
    inner = getattr(data, "data", None)
    if not isinstance(data, np.ndarray) and isinstance(inner, np.ndarray):
        return inner
    try:
        return np.asarray(data)
    except ValueError as exc:  # a ragged list: NumPy's "inhomogeneous shape" message
        raise ShapeError(f"expected an array (or a list of equally long rows), got a ragged "
                         f"{type(data).__name__} ({exc})") from None


def _check_pair(X: np.ndarray, y: np.ndarray, where: str) -> None:
    """Check that X and y are non-empty arrays with the same first dimension."""
    if X.ndim == 0 or y.ndim == 0:
        raise ShapeError(
            f"{where} got X of shape {X.shape} and y of shape {y.shape}; "
            "expected arrays with one row per sample"
        )
    if X.shape[0] != y.shape[0]:
        raise ShapeError(
            f"{where} got {X.shape[0]} samples in X (shape {X.shape}) but {y.shape[0]} in y "
            f"(shape {y.shape}); expected the same number"
        )
    if X.shape[0] == 0:
        raise ShapeError(f"{where} got an empty dataset (X of shape {X.shape}); expected at least one sample")


def _test_count(test_size: float | int, n: int) -> int:
    """Turn a fraction in (0, 1) or an integer count into the number of test samples, checking both sides."""
    if isinstance(test_size, bool) or not isinstance(test_size, int | float | np.integer | np.floating):
        raise TypeError(
            f"train_test_split got test_size={test_size!r} ({type(test_size).__name__}); "
            "expected a float in (0, 1) or an int count"
        )
    if isinstance(test_size, int | np.integer):
        n_test = operator.index(test_size)
        if not 1 <= n_test <= n - 1:
            raise DomainError(
                f"train_test_split got test_size={n_test} for {n} samples; an int count must be in "
                f"[1, {n - 1}] so that both parts are non-empty"
            )
        return n_test
    fraction = float(test_size)
    if not 0.0 < fraction < 1.0:
        raise DomainError(f"train_test_split got test_size={fraction}; a fraction must be strictly in (0, 1)")
    n_test = math.ceil(fraction * n)
    if n_test > n - 1:
        raise DomainError(
            f"train_test_split: test_size={fraction} of {n} samples leaves no training sample; "
            "use a smaller test_size or more data"
        )
    return n_test


def _stratified_test_indices(y: np.ndarray, n_test: int, rng: np.random.Generator) -> np.ndarray:
    """Pick ``n_test`` indices so that each class gets its share of the test set (largest remainders)."""
    if y.ndim != 1:
        raise ShapeError(f"train_test_split(stratify=True) needs 1-D labels y; got y of shape {y.shape}")
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    ideal = n_test * counts / y.shape[0]
    per_class = np.floor(ideal).astype(np.int64)
    # Hand the seats left over by rounding down to the classes with the largest fractional parts.
    leftover = n_test - int(per_class.sum())
    order = np.argsort(-(ideal - per_class), kind="stable")
    per_class[order[:leftover]] += 1
    picked = []
    for c in range(classes.shape[0]):
        members = np.flatnonzero(inverse == c)
        picked.append(rng.permutation(members)[: per_class[c]])
    return np.concatenate(picked)


def train_test_split(
    X: np.ndarray,
    y: np.ndarray,
    test_size: float | int = 0.2,
    seed: int | np.random.Generator | None = None,
    stratify: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shuffle the samples and split them into a training part and a test part.

    Args:
        X, y: arrays (or Tensors) with the same first dimension (one row per sample).
        test_size: a fraction in (0, 1) — the test part gets ceil(test_size * n) samples — or an int count.
        seed: an int (same split every time), a ``numpy.random.Generator``, or None (fresh entropy).
        stratify: if True, each class of ``y`` (1-D labels) keeps its proportion in both parts, up to
            rounding.

    Returns ``(X_train, X_test, y_train, y_test)``, new arrays in shuffled order.

    >>> import numpy as np
    >>> X_tr, X_te, y_tr, y_te = train_test_split(np.arange(10).reshape(10, 1), np.arange(10), 0.3, seed=0)
    >>> X_tr.shape, X_te.shape
    ((7, 1), (3, 1))
    """
    X, y = _as_array(X), _as_array(y)
    _check_pair(X, y, "train_test_split")
    if not isinstance(stratify, bool | np.bool_):
        raise TypeError(
            f"train_test_split got stratify={stratify!r}; expected True or False (the labels come from y)"
        )
    n = X.shape[0]
    n_test = _test_count(test_size, n)
    rng = np.random.default_rng(seed)
    if stratify:
        test_idx = _stratified_test_indices(y, n_test, rng)
        in_test = np.zeros(n, dtype=bool)
        in_test[test_idx] = True
        train_idx = rng.permutation(np.flatnonzero(~in_test))
        test_idx = rng.permutation(test_idx)
    else:
        order = rng.permutation(n)
        test_idx, train_idx = order[:n_test], order[n_test:]
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]
