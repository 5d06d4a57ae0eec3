"""IDX files (MNIST's format), and checking that one holds the data it should.

A file is identified by its *content*: the SHA-256 of its IDX bytes after decompression.
The same data can come as a mirror's ``.gz``, a re-compressed ``.gz`` (different bytes,
same payload) or an uncompressed IDX file, and all three are accepted; a damaged copy is
refused with an error that says which of three things is true:

* :class:`TruncatedFileError` -- the gzip stream or the IDX body ends early (an
  interrupted download or copy);
* :class:`ChecksumError` -- the file is complete but its content differs from the
  official one (damaged bytes, or another dataset under the same name);
* :class:`IDXFormatError` -- it is not an IDX file at all.

Each names the file and what was expected.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import struct
import zlib
from pathlib import Path

import numpy as np

GZIP_MAGIC = b"\x1f\x8b"
# IDX type codes (third byte of the magic number) -> numpy dtype, big-endian.
_IDX_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class DataFileError(ValueError):
    """A data file cannot be used; ``path`` names it."""

    def __init__(self, path, message: str):
        self.path = Path(path)
        super().__init__(f"{path}: {message}")


class TruncatedFileError(DataFileError):
    """The file ends early: the gzip stream stops before its end, or the IDX body is short."""


class CorruptFileError(DataFileError):
    """The file is complete but its bytes are not the expected ones."""


class ChecksumError(CorruptFileError):
    """A file's (or its content's) SHA-256 differs from the one data/manifest.json expects."""

    def __init__(self, path, algorithm: str, expected: str, actual: str, detail: str = ""):
        self.algorithm, self.expected, self.actual = algorithm, expected, actual
        super().__init__(
            path,
            f"{algorithm} mismatch: expected {expected}, got {actual}"
            + (f" ({detail})" if detail else ""),
        )


class IDXFormatError(DataFileError):
    """The file is not a well-formed IDX file."""


def read_payload(path) -> bytes:
    """The IDX bytes of a file: gunzipped if it is gzip (told by its first two bytes, not its
    name), else the file as it is."""
    path = Path(path)
    with open(path, "rb") as f:
        compressed = f.read(2) == GZIP_MAGIC
    if not compressed:
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except EOFError as exc:
        raise TruncatedFileError(
            path,
            "the gzip stream ends before its end marker, so the file was cut short "
            "(an interrupted download or copy); fetch or copy it again",
        ) from exc
    except (gzip.BadGzipFile, zlib.error) as exc:
        raise CorruptFileError(
            path, f"the gzip data is damaged ({exc}); fetch or copy the file again"
        ) from exc


def parse_idx(raw: bytes, path="<bytes>") -> np.ndarray:
    """IDX bytes -> a numpy array in native byte order.

    Layout: a 4-byte magic number (0x00, 0x00, type code, number of dimensions), then each
    dimension as a big-endian uint32, then the values, big-endian.
    """
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise IDXFormatError(
            path,
            f"not an IDX file: it starts 0x{raw[:4].hex()}, and an IDX file starts with two "
            "zero bytes, a type code (0x08 = unsigned byte) and the number of dimensions "
            "(MNIST images: 0x00000803, labels: 0x00000801)",
        )
    ndim, header = raw[3], 4 + 4 * raw[3]
    if len(raw) < header:
        raise TruncatedFileError(path, f"the IDX header ends early ({len(raw)} bytes)")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected, found = math.prod(shape) * dtype.itemsize, len(raw) - header
    if found < expected:
        raise TruncatedFileError(
            path,
            f"the IDX body ends early: the header promises shape {shape} ({expected} bytes "
            f"of values) but only {found} follow",
        )
    if found > expected:
        raise IDXFormatError(
            path,
            f"not a well-formed IDX file: the header promises shape {shape} ({expected} "
            f"bytes of values) but {found} follow",
        )
    values = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))  # native byte order, writable copy


def read_idx(path) -> np.ndarray:
    """Read an IDX file, gzip-compressed or not, into a numpy array."""
    return parse_idx(read_payload(path), path)


def read_verified(path, entry: dict) -> np.ndarray:
    """Read an IDX file and check its content against a manifest entry's ``payload_sha256``.

    The IDX structure is checked first, so a short file is called truncated rather than
    merely "different"; a complete file whose content differs raises ChecksumError.
    """
    raw = read_payload(path)
    values = parse_idx(raw, path)
    actual = hashlib.sha256(raw).hexdigest()
    if actual != entry["payload_sha256"]:
        raise ChecksumError(
            path,
            "content sha256",
            entry["payload_sha256"],
            actual,
            f"the decompressed IDX data, {len(raw)} bytes of shape {values.shape}, is not the "
            "official file's: damaged bytes, or another dataset under this name",
        )
    return values


def container_sha256(path) -> str:
    """The SHA-256 of the file's own bytes (what a mirror publishes for its ``.gz``)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
