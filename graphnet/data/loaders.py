"""Readers of the textbooks' image sets: MNIST-format IDX files (MNIST, Fashion-MNIST), CIFAR-10
binary batches, and scikit-learn's bundled digits.

Every reader checks what it reads against what the format declares and raises a DataError naming
the file, what was expected and what was found; a missing file raises DataNotFoundError. Files
may be gzip-compressed (recognized by their content, not their name).
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from typing import Any

import numpy as np

from graphnet.data.errors import DataError, DataNotFoundError, OptionalDependencyError

Path = str | os.PathLike[str]
Arrays = tuple[np.ndarray, np.ndarray]

#: Where Debian's ``dataset-fashion-mnist`` package installs Fashion-MNIST.
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip

#: IDX type codes (the third byte of the magic number) and their big-endian dtypes.
IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
_CIFAR10_IMAGE_BYTES = 32 * 32 * 3
_CIFAR10_RECORD_BYTES = 1 + _CIFAR10_IMAGE_BYTES
_CIFAR10_FILES = {
    "train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
    "test": ("test_batch.bin",),
}
_MNIST_KINDS = {"train": "train", "t10k": "t10k", "test": "t10k"}


def _read_bytes(path: Path) -> bytes:
    """The content of `path`, decompressed when it is gzip data."""
    name = os.fspath(path)
    if not os.path.isfile(name):
        raise DataNotFoundError(f"{name}: no such file")
    with open(name, "rb") as f:
        data = f.read()
    if not data.startswith(_GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as exc:
        raise DataError(f"{name}: corrupt or truncated gzip data ({exc})") from exc


def load_idx(path: Path) -> np.ndarray:
    """The array stored in an IDX file (the format of MNIST), plain or gzip-compressed.

    An IDX file is a magic number ``00 00 <type code> <rank>``, then `rank` big-endian uint32
    dimensions, then the data in C order, big-endian. The array comes back in native byte order.
    """
    name = os.fspath(path)
    data = _read_bytes(name)
    if len(data) < 4:
        raise DataError(
            f"{name}: truncated IDX file: expected a 4-byte magic number, the file holds "
            f"{len(data)} bytes"
        )
    if data[0] != 0 or data[1] != 0 or data[2] not in IDX_DTYPES:
        codes = ", ".join(f"0x{c:02x}" for c in IDX_DTYPES)
        raise DataError(
            f"{name}: not an IDX file: expected a magic number 00 00 <type code in {codes}> "
            f"<rank>, got {data[:4].hex(' ')}"
        )
    dtype, rank = IDX_DTYPES[data[2]], data[3]
    header = 4 + 4 * rank
    if len(data) < header:
        raise DataError(
            f"{name}: truncated IDX header: rank {rank} needs {header} header bytes, the file "
            f"holds {len(data)} bytes"
        )
    dims = struct.unpack(f">{rank}I", data[4:header])
    count = math.prod(dims)
    expected, given = count * dtype.itemsize, len(data) - header
    if given != expected:
        shape = "x".join(map(str, dims)) or "scalar"
        raise DataError(
            f"{name}: the header declares a {shape} array of {dtype.name} ({expected} data "
            f"bytes), the file holds {given} data bytes"
            + (" (truncated)" if given < expected else " (trailing bytes)")
        )
    array = np.frombuffer(data, dtype=dtype, count=count, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="))


def _find(directory: str, name: str) -> str:
    """The path of `name` in `directory`, or of its .gz, or of its Kaggle spelling (.idx)."""
    candidates = [name, name + ".gz", name.replace("-idx", ".idx")]
    for candidate in candidates:
        path = os.path.join(directory, candidate)
        if os.path.isfile(path):
            return path
    raise DataNotFoundError(f"{directory}: found none of {', '.join(candidates)}")


def _check_pair(what: str, images: np.ndarray, labels: np.ndarray, image_shape: tuple) -> None:
    """Images [n, *image_shape] and labels [n], both uint8."""
    if images.dtype != np.uint8 or images.shape[1:] != image_shape:
        raise DataError(
            f"{what}: expected uint8 images of shape [n, {', '.join(map(str, image_shape))}], "
            f"got {images.dtype} of shape {list(images.shape)}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(
            f"{what}: expected uint8 labels of shape [n], got {labels.dtype} of shape "
            f"{list(labels.shape)}"
        )
    if len(images) != len(labels):
        raise DataError(f"{what}: {len(images)} images but {len(labels)} labels")


def load_mnist(directory: Path, kind: str = "train") -> Arrays:
    """(images uint8 [n, 28, 28], labels uint8 [n]) of an MNIST-format set in `directory`.

    `kind` is "train" or "t10k" (alias "test"): the files ``<kind>-images-idx3-ubyte`` and
    ``<kind>-labels-idx1-ubyte``, each possibly ``.gz``. Fashion-MNIST uses the same files."""
    if kind not in _MNIST_KINDS:
        raise DataError(f"load_mnist: kind must be one of {sorted(_MNIST_KINDS)}, got {kind!r}")
    prefix = _MNIST_KINDS[kind]
    folder = os.fspath(directory)
    if not os.path.isdir(folder):
        raise DataNotFoundError(f"{folder}: no such directory")
    images_path = _find(folder, f"{prefix}-images-idx3-ubyte")
    labels_path = _find(folder, f"{prefix}-labels-idx1-ubyte")
    images, labels = load_idx(images_path), load_idx(labels_path)
    _check_pair(f"{images_path} and {labels_path}", images, labels, (28, 28))
    return images, labels


def load_fashion_mnist(directory: Path | None = None, kind: str = "train") -> Arrays:
    """(images uint8 [n, 28, 28], labels uint8 [n]) of Fashion-MNIST; class names in
    FASHION_MNIST_CLASSES. By default read from where Debian's package installs it."""
    folder = os.fspath(directory) if directory is not None else FASHION_MNIST_DIR
    if not os.path.isdir(folder):
        hint = (
            " (install it with `apt install dataset-fashion-mnist`, or pass directory=)"
            if directory is None
            else ""
        )
        raise DataNotFoundError(f"Fashion-MNIST: no directory {folder}{hint}")
    return load_mnist(folder, kind)


def load_cifar10_batch(path: Path) -> Arrays:
    """(images uint8 [n, 32, 32, 3] NHWC, labels uint8 [n]) of one CIFAR-10 binary batch file.

    A batch is records of 3073 bytes: the label (0..9), then 1024 red, 1024 green and 1024 blue
    bytes, each plane a 32x32 image in row-major order."""
    name = os.fspath(path)
    data = _read_bytes(name)
    if not data or len(data) % _CIFAR10_RECORD_BYTES:
        raise DataError(
            f"{name}: a CIFAR-10 batch is a whole, non-zero number of {_CIFAR10_RECORD_BYTES}-"
            f"byte records (1 label byte + {_CIFAR10_IMAGE_BYTES} pixel bytes), the file holds "
            f"{len(data)} bytes"
        )
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, _CIFAR10_RECORD_BYTES)
    labels = records[:, 0].copy()
    bad = np.flatnonzero(labels >= len(CIFAR10_CLASSES))
    if bad.size:
        raise DataError(
            f"{name}: record {bad[0]} has label {labels[bad[0]]}; CIFAR-10 labels are 0..9"
        )
    images = records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def load_cifar10(directory: Path, kind: str = "train") -> Arrays:
    """(images uint8 [n, 32, 32, 3], labels uint8 [n]) of CIFAR-10's binary version.

    `directory` holds ``data_batch_1.bin`` .. ``data_batch_5.bin`` ("train", 50000 images) and
    ``test_batch.bin`` ("test"), or is the folder the archive unpacks into, which holds
    ``cifar-10-batches-bin``. Class names are in CIFAR10_CLASSES."""
    if kind not in _CIFAR10_FILES:
        raise DataError(f"load_cifar10: kind must be 'train' or 'test', got {kind!r}")
    folder = os.fspath(directory)
    nested = os.path.join(folder, "cifar-10-batches-bin")
    if os.path.isdir(nested):
        folder = nested
    if not os.path.isdir(folder):
        raise DataNotFoundError(f"{folder}: no such directory")
    missing = [f for f in _CIFAR10_FILES[kind] if not os.path.isfile(os.path.join(folder, f))]
    if missing:
        raise DataNotFoundError(f"{folder}: CIFAR-10 {kind} files missing: {', '.join(missing)}")
    batches = [load_cifar10_batch(os.path.join(folder, f)) for f in _CIFAR10_FILES[kind]]
    return (
        np.concatenate([images for images, _ in batches]),
        np.concatenate([labels for _, labels in batches]),
    )


def _import_sklearn_datasets() -> Any:
    try:
        from sklearn import datasets
    except ImportError as exc:
        raise OptionalDependencyError(
            "gn.data.load_digits needs scikit-learn, an optional dependency: "
            "pip install scikit-learn"
        ) from exc
    return datasets


def load_digits() -> Arrays:
    """(images float32 [1797, 8, 8] with values 0..16, labels int64 [1797]): scikit-learn's
    bundled 8x8 digits (an optional dependency)."""
    bunch = _import_sklearn_datasets().load_digits()
    return bunch.images.astype(np.float32), bunch.target.astype(np.int64)
