"""Data for training: the bundled 8x8 digits, MNIST IDX files, a train/test split and a mini-batch loader."""

from .datasets import (
    DataFormatError,
    load_digits,
    load_mnist,
    load_mnist_files,
    read_idx,
    train_test_split,
)
from .loader import DataLoader

__all__ = [
    "DataFormatError",
    "DataLoader",
    "load_digits",
    "load_mnist",
    "load_mnist_files",
    "read_idx",
    "train_test_split",
]
