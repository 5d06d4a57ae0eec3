"""Datasets of handwritten digits for the course's notebooks.

Every loader returns a :class:`Digits` (:mod:`coursekit.data.core`): float32 images in
[0, 1] of shape (N, 1, H, W) and int64 labels 0..9, already divided into train and test.

* :func:`load_digits` -- scikit-learn's bundled 8x8 digits (1,797 images), there with
  or without a network (:mod:`coursekit.data.core`).
* :func:`load_mnist` -- MNIST, 28x28, from its IDX files found locally or downloaded,
  each checked by the SHA-256 of its content (:mod:`coursekit.data.mnist`, with the
  IDX format and the checks in :mod:`coursekit.data.idx`).

Notebooks call ``load("mnist_or_digits")``: MNIST where it can be had, otherwise the
8x8 digits, with one printed line saying so.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, TensorDataset

from coursekit import validate
from coursekit.data.core import Digits, load_digits
from coursekit.data.idx import (
    ChecksumError,
    CorruptFileError,
    DataFileError,
    IDXFormatError,
    TruncatedFileError,
    read_idx,
)
from coursekit.data.mnist import (
    ENV_DATA,
    OFFICIAL_COUNTS,
    DatasetUnavailableError,
    TrainSplitUnavailableError,
    load_mnist,
    mnist_manifest,
)

__all__ = [
    "DATASETS", "ENV_DATA", "FALLBACK_MESSAGE", "OFFICIAL_COUNTS", "TEST_ONLY_MESSAGE",
    "ChecksumError", "CorruptFileError", "DataFileError", "DatasetUnavailableError", "Digits",
    "IDXFormatError", "TrainSplitUnavailableError", "TruncatedFileError", "as_loader", "load",
    "load_digits", "load_mnist", "mnist_manifest", "read_idx",
]  # fmt: skip

DATASETS = ("digits", "mnist", "mnist_or_digits")
FALLBACK_MESSAGE = (
    "coursekit: MNIST not available (no network and no local copy; set COURSEKIT_DATA "
    "to a folder with the IDX files) -- using scikit-learn's 8x8 digits instead"
)
# When the official split was asked for and only MNIST's test files were found.
TEST_ONLY_MESSAGE = (
    "coursekit: only MNIST's test files were found, and this notebook needs the official "
    "split (the train files too; set COURSEKIT_DATA to a folder with all four) -- using "
    "scikit-learn's 8x8 digits instead"
)


def load(name: str, **kwargs) -> Digits:
    """Load a dataset by name: "digits", "mnist" or "mnist_or_digits".

    Keyword arguments go to :func:`load_digits` or :func:`load_mnist`. "mnist_or_digits"
    tries MNIST and, if it can't be had, prints one line and returns the 8x8 digits.
    """
    if name == "digits":
        return load_digits(**kwargs)
    if name == "mnist":
        return load_mnist(**kwargs)
    if name == "mnist_or_digits":
        try:
            return load_mnist(**kwargs)
        except DatasetUnavailableError as exc:
            only_test = isinstance(exc, TrainSplitUnavailableError)
            print(TEST_ONLY_MESSAGE if only_test else FALLBACK_MESSAGE)
            shared = {k: v for k, v in kwargs.items() if k in ("test_fraction", "seed")}
            return load_digits(**shared)
    raise ValueError(f"name={name!r} is not a known dataset; allowed names: {', '.join(DATASETS)}")


def as_loader(
    x: torch.Tensor, y: torch.Tensor, batch_size: int = 64, shuffle: bool = True, seed: int = 0
) -> DataLoader:
    """A DataLoader over (x, y); with ``shuffle`` its order is fixed by ``seed``."""
    batch_size = validate.integer("batch_size", batch_size, minimum=1)
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length: {len(x)} and {len(y)}")
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(
        TensorDataset(x, y), batch_size=int(batch_size), shuffle=shuffle, generator=generator
    )
