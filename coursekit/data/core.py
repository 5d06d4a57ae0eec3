"""The one shape every dataset comes in, and scikit-learn's 8x8 digits.

A :class:`Digits` holds float32 images in [0, 1] of shape (N, 1, H, W) and int64 labels
0..9, already divided into train and test, with a sentence saying where they came from.
:func:`load_digits` reads scikit-learn's 1,797 bundled 8x8 digits: they ship inside
scikit-learn, so they are there with or without a network.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from coursekit import validate


@dataclass(frozen=True, eq=False, repr=False)
class Digits:
    """Images (N, 1, H, W) float32 in [0, 1] and labels (N,) int64, train and test."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    name: str
    image_shape: tuple[int, int]
    source: str  # where the data came from and how it was divided, in words
    split: str = ""  # MNIST's: "official" (60,000/10,000) or "t10k" (the test images divided)

    def __post_init__(self):
        for x, y in ((self.x_train, self.y_train), (self.x_test, self.y_test)):
            if x.dtype != torch.float32 or x.shape[1:] != (1, *self.image_shape):
                raise ValueError(f"images must be float32 (N, 1, *{self.image_shape})")
            if y.dtype != torch.int64 or y.shape != (len(x),):
                raise ValueError(f"labels must be int64 of shape ({len(x)},)")

    @property
    def key(self) -> str:
        """Which data, in one word: "digits", "mnist-official" or "mnist-t10k"."""
        return f"{self.name}-{self.split}" if self.split else self.name

    @property
    def num_classes(self) -> int:
        return 10

    def __repr__(self) -> str:  # the source is a sentence of its own: print(ds.source)
        return (
            f"Digits(name={self.name!r}, train={len(self.y_train)}, test={len(self.y_test)}, "
            f"image_shape={self.image_shape}, split={self.split!r})"
        )


def _split_indices(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded shuffle of range(n), cut into (train, test) index arrays."""
    validate.in_interval("test_fraction", test_fraction, 0, 1, closed="neither")
    order = np.random.default_rng(seed).permutation(n)
    n_test = max(1, round(n * test_fraction))
    return order[n_test:], order[:n_test]


def _tensors(images: np.ndarray, labels: np.ndarray, scale: float):
    """(N, H, W) pixels in [0, scale] -> (N, 1, H, W) float32 in [0, 1]; labels -> int64."""
    x = torch.from_numpy(np.asarray(images, dtype=np.float32) / np.float32(scale))
    return x.unsqueeze(1), torch.from_numpy(np.asarray(labels, dtype=np.int64))


def _divided(images, labels, scale, test_fraction, seed, name, source, split="") -> Digits:
    x, y = _tensors(images, labels, scale)
    train, test = (torch.from_numpy(i) for i in _split_indices(len(y), test_fraction, seed))
    shape = tuple(x.shape[-2:])
    return Digits(x[train], y[train], x[test], y[test], name, shape, source, split)


def load_digits(test_fraction: float = 0.2, seed: int = 0) -> Digits:
    """scikit-learn's 1,797 8x8 digits (pixels 0..16), divided by a seeded shuffle.

    Read from the CSV file scikit-learn ships (one row per image: 64 pixels, then the label),
    as ``sklearn.datasets.load_digits`` reads it, without importing scikit-learn (1.7 s,
    which every sweep point's fresh kernel would pay); tested equal to ``load_digits``.
    """
    spec = importlib.util.find_spec("sklearn")  # finds the package without importing it
    path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz" if spec else None
    if path is None or not path.exists():
        raise FileNotFoundError(
            f"scikit-learn's digits.csv.gz was not found ({path}): pip install scikit-learn"
        )
    table = np.loadtxt(path, delimiter=",")
    images, labels = table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(np.int64)
    source = (
        f"scikit-learn's bundled 8x8 digits ({len(labels)} images), "
        f"divided {1 - test_fraction:.0%}/{test_fraction:.0%} into train/test with seed {seed}"
    )
    return _divided(images, labels, 16.0, test_fraction, seed, "digits", source)
