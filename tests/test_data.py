"""Tests of coursekit.data. None of them reaches the network: urllib's opener is
replaced for every test, by one that fails the test unless a test serves bytes itself.

The real-MNIST tests read the shared copies in ../shared/data (never copied into the
repository): mnist/ holds the official test split as the mirrors serve it, mnist-full/ all
four files, the training pair re-compressed. They skip where those folders are absent.
"""

import gzip
import hashlib
import io
import json
import shutil
import struct
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from coursekit import data

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
SHARED_FULL = SHARED_MNIST.parent / "mnist-full"
needs_shared_mnist = pytest.mark.skipif(
    not SHARED_MNIST.is_dir(), reason=f"no shared MNIST copy at {SHARED_MNIST}"
)
needs_shared_full = pytest.mark.skipif(
    not SHARED_FULL.is_dir(), reason=f"no shared copy of all four MNIST files at {SHARED_FULL}"
)
T10K = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
TRAIN = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
MANIFEST = json.loads((Path(data.__file__).parents[2] / "data" / "manifest.json").read_text())


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No real network, no $COURSEKIT_DATA from outside, no writes to the repo's cache."""

    def refuse(*args, **kwargs):
        raise AssertionError("a test tried to open a URL for real")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.delenv(data.ENV_DATA, raising=False)
    monkeypatch.setattr(data.mnist, "default_cache_dir", lambda: tmp_path / "default-cache")


class FakeResponse(io.BytesIO):
    def __init__(self, payload: bytes):
        super().__init__(payload)
        self.headers = {"Content-Length": str(len(payload))}


def serve(monkeypatch, files: dict[str, bytes]) -> list[str]:
    """Make urlopen serve ``files`` by name (URLError for anything else); log the URLs."""
    asked = []

    def fake_urlopen(request, timeout=None):
        url = getattr(request, "full_url", request)
        asked.append(url)
        name = url.rsplit("/", 1)[-1]
        if name not in files:
            raise urllib.error.URLError("no network (test)")
        return FakeResponse(files[name])

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    return asked


def shared_bytes() -> dict[str, bytes]:
    return {name: (SHARED_MNIST / name).read_bytes() for name in T10K}


def copy_t10k(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in T10K:
        shutil.copyfile(SHARED_MNIST / name, dest / name)
    return dest


def check_images(ds: data.Digits, n_total: int, side: int):
    assert len(ds.x_train) + len(ds.x_test) == n_total
    assert ds.image_shape == (side, side)
    for x, y in ((ds.x_train, ds.y_train), (ds.x_test, ds.y_test)):
        assert x.dtype == torch.float32 and x.shape[1:] == (1, side, side)
        assert y.dtype == torch.int64 and len(y) == len(x)
        assert x.min() >= 0 and x.max() <= 1
        assert set(y.unique().tolist()) == set(range(10))
    assert ds.x_train.max() == 1.0  # scaled by the true maximum, not left in 0..255 or 0..16


# --- scikit-learn digits -----------------------------------------------------------


def test_digits_shapes_and_range():
    ds = data.load_digits()
    check_images(ds, 1797, 8)
    assert (len(ds.x_train), len(ds.x_test)) == (1438, 359)
    assert ds.name == "digits" and "scikit-learn" in ds.source


def test_digits_equal_scikit_learns_load_digits():
    # The oracle: read without scikit-learn, the same images and labels, in the same order.
    from sklearn.datasets import load_digits

    bunch = load_digits()
    ds = data.load_digits(test_fraction=0.5)
    x = torch.cat([ds.x_train, ds.x_test]).squeeze(1).double() * 16
    y = torch.cat([ds.y_train, ds.y_test])
    order = torch.from_numpy(np.concatenate(data.core._split_indices(1797, 0.5, 0)))
    assert torch.equal(x, torch.from_numpy(bunch.images)[order])
    assert torch.equal(y, torch.from_numpy(bunch.target)[order])


def test_digits_split_is_deterministic():
    a, b, c = data.load_digits(seed=0), data.load_digits(seed=0), data.load_digits(seed=1)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.x_train, c.x_train)
    half = data.load_digits(test_fraction=0.5)
    assert (len(half.x_train), len(half.x_test)) == (899, 898)


def test_bad_test_fraction_is_refused():
    with pytest.raises(ValueError, match="test_fraction"):
        data.load_digits(test_fraction=1.5)


# --- MNIST from local files ----------------------------------------------------------


@needs_shared_mnist
def test_mnist_t10k_from_root(tmp_path):
    ds = data.load_mnist(root=SHARED_MNIST, download=False, cache_dir=tmp_path)
    check_images(ds, 10_000, 28)
    assert (len(ds.x_train), len(ds.x_test)) == (8000, 2000)
    assert ds.name == "mnist"
    assert "t10k only" in ds.source and "from ../shared/data/mnist " in ds.source  # no abs path
    assert "sha256 verified" in ds.source and "download=False" in ds.source
    again = data.load_mnist(root=SHARED_MNIST, split="t10k", cache_dir=tmp_path)
    assert torch.equal(ds.x_test, again.x_test)  # same deterministic division
    assert list(tmp_path.iterdir()) == []  # found locally: nothing downloaded, nothing written


@needs_shared_mnist
@pytest.mark.parametrize("env_dir", [SHARED_MNIST, SHARED_MNIST.parent], ids=["direct", "mnist/"])
def test_mnist_from_env_var(monkeypatch, tmp_path, env_dir):
    monkeypatch.setenv(data.ENV_DATA, str(env_dir))
    ds = data.load("mnist", split="t10k", cache_dir=tmp_path)
    check_images(ds, 10_000, 28)
    assert "../shared/data/mnist " in ds.source


def test_env_var_naming_a_missing_folder_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv(data.ENV_DATA, str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match=data.ENV_DATA):
        data.load_mnist(download=False)


@needs_shared_mnist
def test_manifest_matches_shared_checksums():
    files = MANIFEST["mnist"]["files"]
    for sums, algorithm in (("SHA256SUMS", "sha256"), ("MD5SUMS", "md5")):
        for line in (SHARED_MNIST / sums).read_text().splitlines():
            digest, name = line.split()
            assert files[name][algorithm] == digest  # the mirrors' .gz, byte for byte
    for name in T10K:
        assert data.idx.container_sha256(SHARED_MNIST / name) == files[name]["sha256"]


@needs_shared_full
def test_manifest_payloads_match_the_shared_payload_sums():
    files = MANIFEST["mnist"]["files"]
    for line in (SHARED_FULL / "PAYLOAD-SHA256SUMS").read_text().splitlines():
        digest, stem = line.split()
        assert files[stem + ".gz"]["payload_sha256"] == digest
        raw = gzip.decompress((SHARED_FULL / (stem + ".gz")).read_bytes())
        assert len(raw) == files[stem + ".gz"]["payload_bytes"]
        assert hashlib.sha256(raw).hexdigest() == digest  # the manifest's value, recomputed


@pytest.fixture(scope="module")
def official():
    return data.load_mnist(root=SHARED_FULL, split="official", download=False)


@needs_shared_full
def test_official_split_from_the_shared_copy(official):
    # The training pair here is re-compressed: its .gz hash is not the mirrors', its content is.
    assert (
        data.idx.container_sha256(SHARED_FULL / TRAIN[0])
        != (MANIFEST["mnist"]["files"][TRAIN[0]]["sha256"])
    )
    ds = official
    check_images(ds, 70_000, 28)
    assert (len(ds.x_train), len(ds.x_test)) == (60_000, 10_000)
    assert "official split" in ds.source and "../shared/data/mnist-full" in ds.source
    for part, y in (("train", ds.y_train), ("t10k", ds.y_test)):
        counts = tuple(torch.bincount(y, minlength=10).tolist())
        assert counts == data.OFFICIAL_COUNTS[part]
    assert ds.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert ds.x_train.mean().item() == pytest.approx(0.1307, abs=5e-5)
    assert ds.x_train.std().item() == pytest.approx(0.3081, abs=5e-5)


def uncompressed_copy(dest: Path, names=TRAIN + T10K, rename=lambda n: n.removesuffix(".gz")):
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        (dest / rename(name)).write_bytes(gzip.decompress((SHARED_FULL / name).read_bytes()))
    return dest


@needs_shared_full
@pytest.mark.parametrize(
    "rename",
    [lambda n: n.removesuffix(".gz"), lambda n: n.removesuffix(".gz").replace("-idx", ".idx")],
    ids=["train-images-idx3-ubyte", "train-images.idx3-ubyte"],
)
def test_uncompressed_idx_files_are_accepted(tmp_path, official, rename):
    folder = uncompressed_copy(tmp_path / "raw", rename=rename)
    ds = data.load_mnist(root=folder, split="official", download=False, cache_dir=tmp_path / "c")
    assert torch.equal(ds.x_train, official.x_train) and torch.equal(ds.y_test, official.y_test)


def damaged(folder: Path, name: str, how) -> Path:
    path = folder / name
    path.write_bytes(how(path.read_bytes()))
    return path


def flip_middle(raw: bytes) -> bytes:
    raw = bytearray(raw)
    raw[len(raw) // 2] ^= 0xFF
    return bytes(raw)


@needs_shared_full
@pytest.mark.parametrize(
    "compressed, how, error, words",
    [
        (True, lambda b: b[: len(b) // 2], data.TruncatedFileError, "gzip stream ends"),
        (False, lambda b: b[:-784], data.TruncatedFileError, "IDX body ends early"),
        (True, flip_middle, data.CorruptFileError, "gzip data is damaged"),
        (False, flip_middle, data.ChecksumError, "content sha256 mismatch"),
        (
            True,
            lambda b: gzip.compress(flip_middle(gzip.decompress(b)), compresslevel=1),
            data.ChecksumError,
            "not the official file's",
        ),
        (False, lambda b: b"<html>404 Not Found</html>", data.IDXFormatError, "not an IDX file"),
    ],  # fmt: skip
    ids=["gz-cut", "idx-cut", "gz-flipped", "idx-flipped", "regzipped-flipped", "not-idx"],
)
def test_damaged_copies_get_the_right_error(tmp_path, compressed, how, error, words):
    folder = tmp_path / "mine"
    if compressed:
        folder.mkdir()
        for name in TRAIN + T10K:
            shutil.copyfile(SHARED_FULL / name, folder / name)
        path = damaged(folder, TRAIN[0], how)
    else:
        path = damaged(uncompressed_copy(folder), TRAIN[0].removesuffix(".gz"), how)
    kept = path.read_bytes()
    with pytest.raises(error, match=words) as err:
        data.load_mnist(root=folder, split="official", download=False, cache_dir=tmp_path / "c")
    assert str(path) in str(err.value)  # the message names the file
    assert path.read_bytes() == kept  # the user's file: refused, not deleted or moved
    if error is data.ChecksumError:
        assert MANIFEST["mnist"]["files"][TRAIN[0]]["payload_sha256"] in str(err.value)


@needs_shared_full
def test_the_truncated_train_file_is_not_what_the_old_check_said(tmp_path):
    # The regression of issue 13: the re-compressed training images were refused as
    # "truncated: 9719438 bytes, expected 9912422". They are whole, and they load.
    (path, images) = data.mnist._obtain(
        TRAIN[0], data.mnist_manifest(), [SHARED_FULL], tmp_path, download=False
    )
    assert path == SHARED_FULL / TRAIN[0] and images.shape == (60_000, 28, 28)


@needs_shared_mnist
def test_corrupt_cached_file_is_moved_aside_and_downloaded_again(monkeypatch, tmp_path):
    cache = copy_t10k(tmp_path / "cache")
    (cache / T10K[0]).write_bytes(b"not mnist")
    serve(monkeypatch, shared_bytes())
    ds = data.load_mnist(split="t10k", cache_dir=cache)
    assert len(ds.y_train) + len(ds.y_test) == 10_000
    assert (cache / (T10K[0] + ".corrupt")).read_bytes() == b"not mnist"


# --- IDX parsing -------------------------------------------------------------------


def write_gz(path: Path, payload: bytes) -> Path:
    with gzip.open(path, "wb") as f:
        f.write(payload)
    return path


def test_read_idx_big_endian(tmp_path):
    values = np.array([[1, -2, 300], [-4000, 5, 32767]], dtype=">i2")
    header = bytes([0, 0, 0x0B, 2]) + struct.pack(">II", 2, 3)
    path = write_gz(tmp_path / "x.idx.gz", header + values.tobytes())
    out = data.read_idx(path)
    assert out.shape == (2, 3) and out.dtype == np.int16 and out.dtype.isnative
    np.testing.assert_array_equal(out, values)


def test_read_idx_wrong_magic(tmp_path):
    path = write_gz(tmp_path / "bad.gz", b"\x12\x34\x08\x01" + struct.pack(">I", 1) + b"\x07")
    with pytest.raises(data.IDXFormatError, match="not an IDX file: it starts 0x12340801"):
        data.read_idx(path)


def test_read_idx_size_mismatch_and_not_gzip(tmp_path):
    path = write_gz(tmp_path / "short.gz", bytes([0, 0, 8, 1]) + struct.pack(">I", 5) + b"ab")
    with pytest.raises(data.TruncatedFileError, match="promises shape"):
        data.read_idx(path)
    (tmp_path / "plain.gz").write_bytes(b"this is not gzip")  # told by its bytes, not its name
    with pytest.raises(data.IDXFormatError, match="not an IDX file"):
        data.read_idx(tmp_path / "plain.gz")


# --- Downloads (served by a fake opener) ------------------------------------------------


@needs_shared_mnist
def test_download_verifies_and_tries_mirrors_in_turn(monkeypatch, tmp_path):
    served = shared_bytes()
    asked = []

    def first_mirror_down(request, timeout=None):
        url = request.full_url
        asked.append(url)
        if url.startswith(MANIFEST["mnist"]["mirrors"][0]):
            raise urllib.error.URLError("first mirror down (test)")
        return FakeResponse(served[url.rsplit("/", 1)[-1]])

    monkeypatch.setattr(urllib.request, "urlopen", first_mirror_down)
    ds = data.load_mnist(split="t10k", cache_dir=tmp_path)
    check_images(ds, 10_000, 28)
    mirrors = MANIFEST["mnist"]["mirrors"]
    assert asked == [mirrors[0] + T10K[0], mirrors[1] + T10K[0]] + [
        mirrors[0] + T10K[1],
        mirrors[1] + T10K[1],
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(T10K)  # no .part left
    assert (tmp_path / T10K[0]).read_bytes() == served[T10K[0]]


@needs_shared_mnist
def test_auto_uses_t10k_when_train_cannot_be_downloaded(monkeypatch, tmp_path):
    asked = serve(monkeypatch, shared_bytes())  # t10k served; train files: URLError
    ds = data.load_mnist(cache_dir=tmp_path)
    assert "t10k only" in ds.source and "no mirror could be reached" in ds.source
    assert len(ds.y_train) + len(ds.y_test) == 10_000
    train_asks = [u for u in asked if "train-" in u]
    assert len(train_asks) == len(MANIFEST["mnist"]["mirrors"])  # labels not tried after images
    with pytest.raises(data.DatasetUnavailableError):
        data.load_mnist(split="official", cache_dir=tmp_path)


@needs_shared_mnist
def test_corrupt_download_is_not_kept(monkeypatch, tmp_path):
    bad = shared_bytes()
    bad[T10K[0]] = bad[T10K[0]][:-10] + b"0123456789"
    serve(monkeypatch, bad)
    with pytest.raises(data.ChecksumError) as err:
        data.load_mnist(split="t10k", cache_dir=tmp_path)
    expected = MANIFEST["mnist"]["files"][T10K[0]]["sha256"]
    assert str(tmp_path / T10K[0]) in str(err.value) and expected in str(err.value)
    assert list(tmp_path.iterdir()) == []  # neither the file nor a temporary copy


def test_no_network_falls_back_to_digits_with_one_line(monkeypatch, tmp_path, capsys):
    asked = serve(monkeypatch, {})  # every mirror: URLError
    ds = data.load("mnist_or_digits", cache_dir=tmp_path, seed=3)
    out, err = capsys.readouterr()
    assert out.splitlines() == [data.FALLBACK_MESSAGE] and err == ""
    assert ds.name == "digits" and "seed 3" in ds.source
    assert len(asked) == len(MANIFEST["mnist"]["mirrors"])  # one file tried, then gave up
    assert not any(p.suffix == ".part" for p in tmp_path.rglob("*"))
    with pytest.raises(data.DatasetUnavailableError, match="no mirror could be reached"):
        data.load_mnist(cache_dir=tmp_path)


@needs_shared_mnist
def test_official_split_with_only_the_test_files_says_so(monkeypatch, tmp_path, capsys):
    # The shared t10k-only folder: the test files verify, the train files are nowhere.
    monkeypatch.setenv(data.ENV_DATA, str(SHARED_MNIST))
    with pytest.raises(data.TrainSplitUnavailableError, match="test files are in .*train-images"):
        data.load_mnist(split="official", download=False, cache_dir=tmp_path)
    ds = data.load("mnist_or_digits", split="official", download=False, cache_dir=tmp_path)
    out, err = capsys.readouterr()
    assert out.splitlines() == [data.TEST_ONLY_MESSAGE] and err == ""
    assert ds.name == "digits"


def test_download_false_and_nothing_local_is_unavailable(tmp_path):
    with pytest.raises(data.DatasetUnavailableError, match="download=False"):
        data.load_mnist(download=False, cache_dir=tmp_path)


# --- Names, arguments, loaders ---------------------------------------------------------


def test_unknown_name_and_split():
    with pytest.raises(ValueError, match=r"name='cifar'.*digits, mnist, mnist_or_digits"):
        data.load("cifar")
    with pytest.raises(ValueError, match="split"):
        data.load_mnist(split="validation")


def test_as_loader():
    x, y = torch.arange(10.0).reshape(10, 1), torch.arange(10)
    batches = list(data.as_loader(x, y, batch_size=4, shuffle=False))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    order = [torch.cat([b[1] for b in data.as_loader(x, y, 3, True, seed=s)]) for s in (0, 0, 1)]
    assert torch.equal(order[0], order[1]) and not torch.equal(order[0], order[2])
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            data.as_loader(x, y, batch_size=bad)
