"""Data for training: the bundled 8x8 digits and English text, MNIST IDX files, a train/test split, datasets, samplers
and a mini-batch loader (PyTorch's ``torch.utils.data`` names and semantics; loading stays in the main process)."""

from .dataset_classes import ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset, Subset, random_split
from .datasets import (
    DataFormatError,
    load_digits,
    load_mnist,
    load_mnist_files,
    read_idx,
    train_test_split,
)
from .loader import DataLoader, TensorDataset, default_collate
from .samplers import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from .text import CharTokenizer, load_text
from .workers import WorkerInfo, get_worker_info

__all__ = [
    "BatchSampler",
    "ChainDataset",
    "CharTokenizer",
    "ConcatDataset",
    "DataFormatError",
    "DataLoader",
    "Dataset",
    "IterableDataset",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "StackDataset",
    "Subset",
    "SubsetRandomSampler",
    "TensorDataset",
    "WeightedRandomSampler",
    "WorkerInfo",
    "default_collate",
    "get_worker_info",
    "load_digits",
    "load_mnist",
    "load_mnist_files",
    "load_text",
    "random_split",
    "read_idx",
    "train_test_split",
]
