"""MNIST, 28x28 (60,000 train + 10,000 test images), from its four IDX files.

Each file is looked for in ``root``, then in the folder named by the environment variable
``COURSEKIT_DATA``, then in the cache (``data/mnist/`` in the repository), under any of
its usual names: the mirrors' ``train-images-idx3-ubyte.gz``, the uncompressed
``train-images-idx3-ubyte``, or ``train-images.idx3-ubyte`` as some packages ship it. A
file found nowhere is downloaded into the cache from the mirrors in data/manifest.json.

Every file is checked by its content (:mod:`coursekit.data.idx`): the SHA-256 of its
decompressed IDX bytes must be the manifest's ``payload_sha256``. A download is also
checked against the mirror's published SHA-256 of the ``.gz`` before it is kept.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import sys
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

from coursekit.bars import progress
from coursekit.data.core import Digits, _divided, _tensors
from coursekit.data.idx import (
    ChecksumError,
    DataFileError,
    IDXFormatError,
    read_verified,
)

ENV_DATA = "COURSEKIT_DATA"
MNIST_SPLITS = ("auto", "official", "t10k")
DOWNLOAD_TIMEOUT_S = 10.0
# The official split's labels per class, 0..9 (LeCun et al.'s published counts).
OFFICIAL_COUNTS = {
    "train": (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
    "t10k": (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
}

_REPO_ROOT = Path(__file__).resolve().parents[2]
_MANIFEST = _REPO_ROOT / "data" / "manifest.json"


class DatasetUnavailableError(FileNotFoundError):
    """The files are neither on disk nor downloadable (no network, download=False)."""


class TrainSplitUnavailableError(DatasetUnavailableError):
    """The official split was asked for; the test files are at hand, the train files are not."""


def mnist_manifest() -> dict:
    """The "mnist" part of data/manifest.json: mirrors and each file's checksums."""
    if not _MANIFEST.is_file():
        raise FileNotFoundError(
            f"{_MANIFEST} is missing: coursekit reads dataset checksums from it; "
            "restore it from the course's repository (git checkout data/manifest.json)"
        )
    return json.loads(_MANIFEST.read_text(encoding="utf-8"))["mnist"]


def file_names(name: str) -> tuple[str, ...]:
    """The names a copy of ``name`` (a mirror's ``.gz`` name) may have on disk."""
    stem = name.removesuffix(".gz")  # train-images-idx3-ubyte
    dotted = stem.replace("-idx", ".idx", 1)  # train-images.idx3-ubyte
    return (name, stem, dotted)


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
                f"{how}={str(folder)!r} is not a folder; it should hold the MNIST IDX files "
                "(.gz or uncompressed), directly or in an mnist/ subfolder"
            )
        folders += [folder, folder / "mnist"]
    return folders


def _download(name: str, entry: dict, folder: Path, mirrors: list[str]) -> Path:
    """Fetch ``name`` from each mirror in turn into a temporary file; move it into
    ``folder`` once the mirror's SHA-256 matches. A bad download is deleted, never used."""
    folder.mkdir(parents=True, exist_ok=True)
    dest, expected = folder / name, entry["sha256"]
    failures, bad = [], None
    for url in (base + name for base in mirrors):
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".part")
        digest = hashlib.sha256()
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
                dest, "sha256", expected, digest.hexdigest(), f"downloaded from {url}; deleted"
            )
            failures.append(f"{url}: sha256 mismatch")
            continue
        os.replace(tmp, dest)
        return dest
    if bad is not None:
        raise bad  # a mirror served wrong bytes: say so rather than "unavailable"
    raise DatasetUnavailableError(f"{name}: no mirror could be reached ({'; '.join(failures)})")


def _obtain(name: str, manifest: dict, user_dirs: list[Path], cache: Path, download: bool):
    """(path, values) of a verified copy of ``name``: found on disk, else downloaded."""
    entry = manifest["files"][name]
    for folder in user_dirs:
        for candidate in file_names(name):
            if (folder / candidate).is_file():  # the user's file: a bad one is refused, kept
                return folder / candidate, read_verified(folder / candidate, entry)
    for candidate in file_names(name):
        cached = cache / candidate
        if not cached.is_file():
            continue
        try:
            return cached, read_verified(cached, entry)
        except DataFileError as exc:  # our own cache: move the bad copy aside
            aside = cached.with_name(cached.name + ".corrupt")
            os.replace(cached, aside)
            exc.add_note(f"moved aside to {aside}")
            if not download:
                raise
            print(f"coursekit: {exc}; moved aside to {aside}, downloading again", file=sys.stderr)
            break
    if not download:
        looked = ", ".join(str(d) for d in [*user_dirs, cache])
        raise DatasetUnavailableError(f"{name}: not in {looked}, and download=False")
    path = _download(name, entry, cache, manifest["mirrors"])
    return path, read_verified(path, entry)


def shown(folder: Path) -> str:
    """A folder as a page should show it: relative to the repository where it is near it
    (``data/mnist``, ``../shared/data/mnist-full``), so no machine's absolute path is printed."""
    folder = Path(folder).resolve()
    if folder.is_relative_to(_REPO_ROOT.parent):
        return os.path.relpath(folder, _REPO_ROOT)
    return str(folder)


def _checked_pair(images, labels, images_path: Path, labels_path: Path):
    if images.ndim != 3 or images.dtype != np.uint8:
        raise IDXFormatError(images_path, f"expected (N, H, W) uint8 images, got {images.shape}")
    if labels.shape != images.shape[:1] or labels.dtype != np.uint8 or labels.max() > 9:
        raise IDXFormatError(labels_path, f"expected {len(images)} uint8 labels 0..9")
    return images, labels


def load_mnist(
    root=None,
    download: bool = True,
    split: str = "auto",
    test_fraction: float = 0.2,
    seed: int = 0,
    cache_dir=None,
) -> Digits:
    """MNIST as a :class:`Digits`, from content-verified IDX files.

    root: a folder holding the four IDX files (directly or in ``mnist/``), looked in
        before $COURSEKIT_DATA and the cache. Such folders are only read.
    download: fetch files found nowhere into the cache (``cache_dir``, by default
        :func:`default_cache_dir`).
    split: "official" -- the 60,000/10,000 split, or an error;
        "t10k" -- only the 10,000 test images, divided by ``test_fraction`` and ``seed``;
        "auto" -- "official" where the train files can be had, else "t10k".

    Raises DatasetUnavailableError when the needed files can't be had; for a file that is
    there but unusable, TruncatedFileError, ChecksumError (content differs) or
    IDXFormatError (not an IDX file), each naming the file.
    """
    if split not in MNIST_SPLITS:
        raise ValueError(f"split must be one of {MNIST_SPLITS}, got {split!r}")
    manifest, user_dirs = mnist_manifest(), _user_dirs(root)
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()

    def obtain(part: str):  # images first: if they fail, stop there
        (ip, images), (lp, labels) = (
            _obtain(f"{part}-{kind}-ubyte.gz", manifest, user_dirs, cache, download)
            for kind in ("images-idx3", "labels-idx1")
        )
        return _checked_pair(images, labels, ip, lp), ip.parent

    (test_images, test_labels), test_dir = obtain("t10k")
    why_not_train = "split='t10k' was asked for"
    if split != "t10k":
        try:
            (train_images, train_labels), train_dir = obtain("train")
        except DatasetUnavailableError as exc:
            if split == "official":
                raise TrainSplitUnavailableError(
                    f"MNIST's official split needs the train files: the test files are in "
                    f"{shown(test_dir)}, but {exc}"
                ) from exc
            why_not_train = f"the train files are not available: {exc}"
        else:
            x_train, y_train = _tensors(train_images, train_labels, 255.0)
            x_test, y_test = _tensors(test_images, test_labels, 255.0)
            source = (
                f"MNIST, official split: {len(y_train)} train images from {shown(train_dir)}, "
                f"{len(y_test)} test images from {shown(test_dir)} (content sha256 verified)"
            )
            return Digits(x_train, y_train, x_test, y_test, "mnist", (28, 28), source, "official")

    source = (
        f"MNIST t10k only: {len(test_labels)} images from {shown(test_dir)} (content sha256 verified), "
        f"divided {1 - test_fraction:.0%}/{test_fraction:.0%} into train/test with seed {seed}, "
        f"because {why_not_train}"
    )
    return _divided(test_images, test_labels, 255.0, test_fraction, seed, "mnist", source, "t10k")
