"""Checks of the arguments that ops and layers share (sizes given as an int or a pair, batches of images), so that
every function that takes them reports a bad one in the same words."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .engine import backends
from .errors import DomainError, ShapeError
from .tensor import Tensor

Pair = tuple[int, int]
#: How a loss over a batch may be reduced.
REDUCTIONS = ("mean", "sum", "none")


def is_int(value: Any) -> bool:
    """An integer, and not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def pair(value: Any, name: str, where: str, minimum: int) -> Pair:
    """An int or a pair of ints as a pair, each at least ``minimum``."""
    if is_int(value):
        result = (int(value), int(value))
    elif isinstance(value, tuple | list) and len(value) == 2 and all(is_int(v) for v in value):
        result = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{where}: {name} must be an int or a pair of ints, not {value!r}")
    if min(result) < minimum:
        raise DomainError(f"{where}: {name} must be >= {minimum}, got {value!r}")
    return result


def sizes(value: Any, dims: int, name: str, where: str, minimum: int) -> tuple[int, ...]:
    """An int or ``dims`` ints as a ``dims``-tuple (``pair`` for two), each at least ``minimum``: the kernel size,
    stride, padding... of a layer over 1, 2 or 3 spatial axes."""
    if dims == 2:
        return pair(value, name, where, minimum)
    if is_int(value):
        result = (int(value),) * dims
    elif isinstance(value, tuple | list) and len(value) == dims and all(is_int(v) for v in value):
        result = tuple(int(v) for v in value)
    else:
        raise TypeError(f"{where}: {name} must be an int or {dims} ints, not {value!r}")
    if min(result) < minimum:
        raise DomainError(f"{where}: {name} must be >= {minimum}, got {value!r}")
    return result


def image(x: Any, where: str) -> Tensor | np.ndarray:
    """Check that ``x`` is a 4-D NCHW batch of images."""
    if not isinstance(x, Tensor):
        x = np.asarray(x)
    if x.ndim != 4:
        raise ShapeError(
            f"{where} expects a 4-D input of shape (batch, channels, height, width), got shape {x.shape}; "
            "for a single image add the batch axis with x.reshape(1, *x.shape) (the nn functions and layers take "
            "one (channels, height, width) image as PyTorch's do)"
        )
    return x


def class_labels(target: Any, n_classes: int, expected_shape: tuple[int, ...], where: str, like: Any = None) -> Any:
    """Integer class labels: checked for dtype, shape and range. Labels of another array library (on its device)
    stay there and are checked there (``like``: the logits' array, whose library and device they must share)."""
    if type(target) is np.ndarray:  # the common case first
        labels = target
    else:
        data = target._data if isinstance(target, Tensor) else target
        if type(data) is not np.ndarray and backends.is_foreign(data):
            return _labels_in_library(data, n_classes, expected_shape, where, like)
        labels = target._array() if isinstance(target, Tensor) else np.asarray(target)
    if labels.dtype.kind not in "iu":
        hint = ("; convert them with .astype(np.int64)" if labels.dtype.kind == "f" and labels.size
                and np.all(labels == np.round(labels)) else "")
        raise _not_labels(where, labels.dtype, hint)
    _check_label_shape(labels.shape, n_classes, expected_shape, where)
    if not labels_in_range(labels, n_classes):
        index = tuple(int(i) for i in np.argwhere((labels < 0) | (labels >= n_classes))[0])
        raise DomainError(
            f"{where}: target label {int(labels[index])} at index {index} is out of range; with {n_classes} "
            f"classes labels must be 0..{n_classes - 1}"
        )
    return labels.astype(np.intp, copy=False)


def _labels_in_library(labels: Any, n_classes: int, expected_shape: tuple[int, ...], where: str, like: Any) -> Any:
    """``class_labels`` for labels of another library: dtype and shape read from metadata, the range tested on the
    device. The one value that comes back to the host is that test's answer (a single boolean)."""
    library = backends.backend(labels)
    dtype = backends.numpy_dtype(labels.dtype)
    if dtype.kind not in "iu":
        raise _not_labels(where, dtype, "")
    _check_label_shape(tuple(labels.shape), n_classes, expected_shape, where)
    if like is not None and backends.is_foreign(like):
        if backends.backend(like) is not library:
            raise TypeError(f"{where}: the labels are {library.name} arrays but the input is "
                            f"{backends.backend(like).name}; move them to one library with t.to(library)")
        if str(backends.device(like)) != str(backends.device(labels)):
            raise ValueError(f"{where}: the labels are on device {backends.device(labels)} but the input on "
                             f"{backends.device(like)}; move them to one with t.to(device)")
    if math.prod(labels.shape) and bool(library.xp.any((labels < 0) | (labels >= n_classes))):
        raise DomainError(f"{where}: some target labels are out of range (tested on the device); with {n_classes} "
                          f"classes labels must be 0..{n_classes - 1}")
    return labels


def _not_labels(where: str, dtype: np.dtype, hint: str) -> TypeError:
    return TypeError(
        f"{where}: targets must be integer class labels (e.g. int64), got dtype {dtype}{hint}. "
        "For one-hot or soft targets p use -(p * cr.log_softmax(logits, axis=1)).sum(axis=1).mean()"
    )


def _check_label_shape(shape: tuple[int, ...], n_classes: int, expected_shape: tuple[int, ...], where: str) -> None:
    if shape != expected_shape:
        raise ShapeError(
            f"{where}: targets have shape {shape}, but input of {n_classes} classes expects class labels "
            f"of shape {expected_shape} (one label per sample, classes along axis 1 of the input)"
        )


_UNSIGNED: dict[np.dtype, np.dtype] = {}


def labels_in_range(labels: np.ndarray, n_classes: int) -> bool:
    """Whether every integer label is a class, 0..n_classes − 1: one NumPy call, the largest label read as unsigned
    (where a negative label is at least 2^(bits − 1), more than any class of a signed dtype's range)."""
    if not labels.size:
        return True
    dtype = labels.dtype
    if dtype.kind == "u":
        unsigned = labels
    elif n_classes <= 1 << (8 * dtype.itemsize - 1):
        unsigned_dtype = _UNSIGNED.get(dtype)
        if unsigned_dtype is None:  # int64 -> uint64, >i2 -> >u2: made once per dtype
            unsigned_dtype = _UNSIGNED[dtype] = np.dtype(dtype.str.replace("i", "u"))
        unsigned = labels.view(unsigned_dtype)
    else:  # more classes than the dtype's positive range (int8 labels of 200 classes): check both ends
        return bool(np.minimum.reduce(labels, axis=None) >= 0 and np.maximum.reduce(labels, axis=None) < n_classes)
    return bool(np.maximum.reduce(unsigned, axis=None) < n_classes)
