"""Data for training: the bundled 8x8 digits and English text, MNIST IDX files, a train/test split, datasets and a
mini-batch loader."""

from .datasets import (
    DataFormatError,
    load_digits,
    load_mnist,
    load_mnist_files,
    read_idx,
    train_test_split,
)
from .loader import DataLoader, Dataset, TensorDataset, default_collate
from .text import CharTokenizer, load_text

__all__ = [
    "CharTokenizer",
    "DataFormatError",
    "DataLoader",
    "Dataset",
    "TensorDataset",
    "default_collate",
    "load_digits",
    "load_mnist",
    "load_mnist_files",
    "load_text",
    "read_idx",
    "train_test_split",
]
