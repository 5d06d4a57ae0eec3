"""Datasets of handwritten digits for the course's notebooks.

Both loaders return a :class:`Digits`: float32 images in [0, 1] of shape
(N, 1, H, W) and int64 labels 0..9, already divided into train and test.

* :func:`load_digits` -- scikit-learn's bundled 8x8 digits (1,797 images). They ship
  inside scikit-learn, so they are there with or without a network.
* :func:`load_mnist` -- MNIST, 28x28 (60,000 train + 10,000 test images), read from
  the original IDX files. Each file is looked for in ``root``, then in the folder
  named by the environment variable ``COURSEKIT_DATA``, then in the cache
  (``data/mnist/`` in the repository). A file found nowhere is downloaded into the
  cache. Every file is checked against the SHA-256 in ``data/manifest.json``
  before it is read.

Notebooks call ``load("mnist_or_digits")``: MNIST where it can be had, otherwise
the 8x8 digits, with one printed line saying so.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import importlib.util
import json
import math
import os
import struct
import sys
import tempfile
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from coursekit import validate
from coursekit.bars import progress

ENV_DATA = "COURSEKIT_DATA"
DATASETS = ("digits", "mnist", "mnist_or_digits")
MNIST_SPLITS = ("auto", "official", "t10k")
DOWNLOAD_TIMEOUT_S = 10.0
FALLBACK_MESSAGE = (
    "coursekit: MNIST not available (no network and no local copy; set COURSEKIT_DATA "
    "to a folder with the IDX files) -- using scikit-learn's 8x8 digits instead"
)

_REPO_ROOT = Path(__file__).resolve().parents[1]
_MANIFEST = _REPO_ROOT / "data" / "manifest.json"

# --- Errors ------------------------------------------------------------------------


class ChecksumError(ValueError):
    """A data file's checksum differs from the one the manifest expects."""

    def __init__(self, path, algorithm: str, expected: str, actual: str, detail: str = ""):
        self.path, self.algorithm = Path(path), algorithm
        self.expected, self.actual = expected, actual
        super().__init__(
            f"{path}: {algorithm} mismatch: expected {expected}, got {actual}"
            + (f" ({detail})" if detail else "")
        )


class IDXFormatError(ValueError):
    """A file is not a well-formed IDX file."""


class DatasetUnavailableError(FileNotFoundError):
    """The files are neither on disk nor downloadable (no network, download=False)."""


# --- The result --------------------------------------------------------------------


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

    def __post_init__(self):
        for x, y in ((self.x_train, self.y_train), (self.x_test, self.y_test)):
            if x.dtype != torch.float32 or x.shape[1:] != (1, *self.image_shape):
                raise ValueError(f"images must be float32 (N, 1, *{self.image_shape})")
            if y.dtype != torch.int64 or y.shape != (len(x),):
                raise ValueError(f"labels must be int64 of shape ({len(x)},)")

    @property
    def num_classes(self) -> int:
        return 10

    def __repr__(self) -> str:
        return (
            f"Digits(name={self.name!r}, train={len(self.y_train)}, test={len(self.y_test)}, "
            f"image_shape={self.image_shape}, source={self.source!r})"
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


def _divided(images, labels, scale, test_fraction, seed, name, source) -> Digits:
    x, y = _tensors(images, labels, scale)
    train, test = (torch.from_numpy(i) for i in _split_indices(len(y), test_fraction, seed))
    return Digits(x[train], y[train], x[test], y[test], name, tuple(x.shape[-2:]), source)


# --- scikit-learn's 8x8 digits -------------------------------------------------------


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


# --- IDX files and checksums ---------------------------------------------------------

# IDX type codes (third byte of the magic number) -> numpy dtype, big-endian.
_IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path) -> np.ndarray:
    """Read an IDX file (gzip-compressed if it ends in .gz) into a numpy array.

    Layout: a 4-byte magic number (0x00, 0x00, type code, number of dimensions),
    then each dimension as a big-endian uint32, then the values, big-endian.
    """
    path = Path(path)
    try:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
            raw = f.read()
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise IDXFormatError(f"{path}: not a readable gzip file ({exc})") from exc

    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise IDXFormatError(
            f"{path}: wrong magic number 0x{raw[:4].hex()}; an IDX file starts with two zero "
            "bytes, a type code (0x08 = unsigned byte) and the number of dimensions "
            "(MNIST images: 0x00000803, labels: 0x00000801)"
        )
    ndim, header = raw[3], 4 + 4 * raw[3]
    if len(raw) < header:
        raise IDXFormatError(f"{path}: truncated in the header ({len(raw)} bytes)")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = math.prod(shape) * dtype.itemsize
    if len(raw) - header != expected:
        raise IDXFormatError(
            f"{path}: the header promises shape {shape} ({expected} bytes of values) "
            f"but {len(raw) - header} bytes follow it"
        )
    values = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))  # native byte order, writable copy


def _expected_hash(entry: dict) -> tuple[str, str]:
    """(algorithm, hex digest) to check a file against: SHA-256, else MD5."""
    algorithm = "sha256" if "sha256" in entry else "md5"
    return algorithm, entry[algorithm]


def verify_file(path, entry: dict) -> None:
    """Raise ChecksumError unless the file at ``path`` has the hash in ``entry``."""
    path = Path(path)
    algorithm, expected = _expected_hash(entry)
    with open(path, "rb") as f:
        actual = hashlib.file_digest(f, algorithm).hexdigest()
    if actual != expected:
        size, want = path.stat().st_size, entry.get("bytes")
        detail = (
            f"truncated: {size} bytes, expected {want}"
            if want and size < want
            else "the file is corrupt or not the expected file"
        )
        raise ChecksumError(path, algorithm, expected, actual, detail)


def mnist_manifest() -> dict:
    """The "mnist" part of data/manifest.json: mirrors and each file's checksums."""
    if not _MANIFEST.is_file():
        raise FileNotFoundError(
            f"{_MANIFEST} is missing: coursekit reads dataset checksums from it; "
            "restore it from the course's repository (git checkout data/manifest.json)"
        )
    return json.loads(_MANIFEST.read_text(encoding="utf-8"))["mnist"]


# --- Finding, downloading and reading the MNIST files ---------------------------------


def default_cache_dir() -> Path:
    """data/mnist/ in the repository; ~/.cache/coursekit/mnist when installed elsewhere."""
    if (_REPO_ROOT / "pyproject.toml").is_file() and _MANIFEST.is_file():
        return _REPO_ROOT / "data" / "mnist"
    return Path.home() / ".cache" / "coursekit" / "mnist"


def _user_dirs(root) -> list[Path]:
    """Folders the user named (``root``, then $COURSEKIT_DATA), each also with mnist/."""
    named = [(root, "root")] if root is not None else []
    if os.environ.get(ENV_DATA):
        named.append((os.environ[ENV_DATA], ENV_DATA))
    folders = []
    for folder, how in named:
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise FileNotFoundError(
                f"{how}={str(folder)!r} is not a folder; it should hold the MNIST IDX .gz "
                "files, directly or in an mnist/ subfolder"
            )
        folders += [folder, folder / "mnist"]
    return folders


def _download(name: str, entry: dict, folder: Path, mirrors: list[str]) -> Path:
    """Fetch ``name`` from each mirror in turn into a temporary file; move it into
    ``folder`` once its checksum is right. A bad download is deleted, never used."""
    folder.mkdir(parents=True, exist_ok=True)
    dest, (algorithm, expected) = folder / name, _expected_hash(entry)
    failures, bad = [], None
    for url in (base + name for base in mirrors):
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
        digest = hashlib.new(algorithm)
        try:
            request = urllib.request.Request(url, headers={"User-Agent": "coursekit"})
            with (
                os.fdopen(fd, "wb") as out,
                urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response,
            ):
                total = int(response.headers.get("Content-Length") or 0) or None
                with progress(total=total, desc=name, unit="B", unit_scale=True) as bar:
                    while chunk := response.read(1 << 16):
                        out.write(chunk)
                        digest.update(chunk)
                        bar.update(len(chunk))
        except (OSError, http.client.HTTPException) as exc:  # URLError is an OSError
            os.unlink(tmp)
            failures.append(f"{url}: {exc}")
            continue
        except BaseException:  # Ctrl-C included: leave no partial file behind
            os.unlink(tmp)
            raise
        if digest.hexdigest() != expected:
            os.unlink(tmp)
            bad = ChecksumError(
                dest, algorithm, expected, digest.hexdigest(), f"downloaded from {url}; deleted"
            )
            failures.append(f"{url}: {algorithm} mismatch")
            continue
        os.replace(tmp, dest)
        return dest
    if bad is not None:
        raise bad  # a mirror served wrong bytes: say so rather than "unavailable"
    raise DatasetUnavailableError(f"{name}: no mirror could be reached ({'; '.join(failures)})")


def _obtain(name: str, manifest: dict, user_dirs: list[Path], cache: Path, download: bool):
    """Path of a verified copy of ``name``: found on disk, else downloaded into ``cache``."""
    entry = manifest["files"][name]
    for folder in user_dirs:
        if (folder / name).is_file():
            verify_file(folder / name, entry)  # the user's file: a bad one is refused, kept
            return folder / name
    cached = cache / name
    if cached.is_file():
        try:
            verify_file(cached, entry)
            return cached
        except ChecksumError as exc:  # our own cache: move the bad copy aside
            aside = cached.with_name(cached.name + ".corrupt")
            os.replace(cached, aside)
            exc.add_note(f"moved aside to {aside}")
            if not download:
                raise
            print(f"coursekit: {exc}; moved aside to {aside}, downloading again", file=sys.stderr)
    if not download:
        looked = ", ".join(str(d) for d in [*user_dirs, cache])
        raise DatasetUnavailableError(f"{name}: not in {looked}, and download=False")
    return _download(name, entry, cache, manifest["mirrors"])


def _read_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise IDXFormatError(f"{images_path}: expected (N, H, W) uint8 images, got {images.shape}")
    if labels.shape != images.shape[:1] or labels.dtype != np.uint8 or labels.max() > 9:
        raise IDXFormatError(f"{labels_path}: expected {len(images)} uint8 labels 0..9")
    return images, labels


def load_mnist(
    root=None,
    download: bool = True,
    split: str = "auto",
    test_fraction: float = 0.2,
    seed: int = 0,
    cache_dir=None,
) -> Digits:
    """MNIST as a :class:`Digits`, from verified IDX files.

    root: a folder holding the four ``*-ubyte.gz`` files (directly or in ``mnist/``),
        looked in before $COURSEKIT_DATA and the cache. Such folders are only read.
    download: fetch files found nowhere into the cache (``cache_dir``, by default
        :func:`default_cache_dir`).
    split: "official" -- the 60,000/10,000 split, or an error;
        "t10k" -- only the 10,000 test images, divided by ``test_fraction`` and ``seed``;
        "auto" -- "official" where the train files can be had, else "t10k".

    Raises DatasetUnavailableError when the needed files can't be had, ChecksumError
    when a file differs from data/manifest.json, IDXFormatError for a malformed file.
    """
    if split not in MNIST_SPLITS:
        raise ValueError(f"split must be one of {MNIST_SPLITS}, got {split!r}")
    manifest, user_dirs = mnist_manifest(), _user_dirs(root)
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()

    def obtain(part: str) -> tuple[Path, Path]:  # images first: if they fail, stop there
        return tuple(
            _obtain(f"{part}-{kind}-ubyte.gz", manifest, user_dirs, cache, download)
            for kind in ("images-idx3", "labels-idx1")
        )

    test_files = obtain("t10k")
    why_not_train = "split='t10k' was asked for"
    if split != "t10k":
        try:
            train_files = obtain("train")
        except DatasetUnavailableError as exc:
            if split == "official":
                raise
            why_not_train = f"the train files are not available: {exc}"
        else:
            x_train, y_train = _tensors(*_read_pair(*train_files), 255.0)
            x_test, y_test = _tensors(*_read_pair(*test_files), 255.0)
            source = (
                f"MNIST, official split: {len(y_train)} train images from {train_files[0].parent}, "
                f"{len(y_test)} test images from {test_files[0].parent} (sha256 verified)"
            )
            return Digits(x_train, y_train, x_test, y_test, "mnist", (28, 28), source)

    images, labels = _read_pair(*test_files)
    source = (
        f"MNIST t10k only: {len(labels)} images from {test_files[0].parent} (sha256 verified), "
        f"divided {1 - test_fraction:.0%}/{test_fraction:.0%} into train/test with seed {seed}, "
        f"because {why_not_train}"
    )
    return _divided(images, labels, 255.0, test_fraction, seed, "mnist", source)


# --- By name, and as a DataLoader --------------------------------------------------------


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
        except DatasetUnavailableError:
            print(FALLBACK_MESSAGE)
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
