"""gn.data loaders on small files the tests write: IDX (MNIST, Fashion-MNIST), CIFAR-10, digits."""

import gzip
import os
import struct
import sys

import numpy as np
import pytest

from graphnet.data import (
    DataError,
    DataNotFoundError,
    OptionalDependencyError,
    load_cifar10,
    load_cifar10_batch,
    load_digits,
    load_fashion_mnist,
    load_idx,
    load_mnist,
    loaders as loaders_mod,
)

IDX_CODES = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of `array`, written independently of the reader."""
    kind = array.dtype.str[1:]
    header = bytes([0, 0, IDX_CODES[kind], array.ndim])
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path, data: bytes, compress: bool = False) -> str:
    with open(path, "wb") as f:
        f.write(gzip.compress(data) if compress else data)
    return str(path)


def mnist_dir(directory, n: int, kind: str = "train", compress: bool = False, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    suffix = ".gz" if compress else ""
    write(directory / f"{kind}-images-idx3-ubyte{suffix}", idx_bytes(images), compress)
    write(directory / f"{kind}-labels-idx1-ubyte{suffix}", idx_bytes(labels), compress)
    return images, labels


# -- IDX ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["u1", "i1", ">i2", ">i4", ">f4", ">f8"])
@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, dtype, compress):
    values = np.arange(24).reshape(2, 3, 4)
    if dtype != "u1":
        values = values - 7
    array = (values * 0.25 if "f" in dtype else values).astype(dtype)
    path = write(tmp_path / "a.idx", idx_bytes(array), compress)
    got = load_idx(path)
    assert got.shape == array.shape and got.dtype == array.dtype.newbyteorder("=")
    assert np.array_equal(got, array) and got.flags.writeable


def test_idx_reads_big_endian_values(tmp_path):
    raw = bytes([0, 0, 0x0C, 1, 0, 0, 0, 2]) + struct.pack(">ii", 1, -2)
    assert load_idx(write(tmp_path / "be.idx", raw)).tolist() == [1, -2]


def test_idx_errors_name_the_file_the_expected_and_the_given(tmp_path):
    good = idx_bytes(np.zeros((2, 3), np.uint8))
    cases = [
        (b"\x00\x00", r"expected a 4-byte magic number, the file holds 2 bytes"),
        (b"\x08\x03" + good[2:], r"expected a magic number 00 00 .* got 08 03 08 02"),
        (b"\x00\x00\x07\x02" + good[4:], r"not an IDX file.* got 00 00 07 02"),
        (good[:9], r"rank 2 needs 12 header bytes, the file holds 9"),
        (good[:-1], r"2x3 array of uint8 \(6 data bytes\), the file holds 5 data bytes \(trunc"),
        (good + b"\x00", r"the file holds 7 data bytes \(trailing bytes\)"),
    ]
    for i, (data, message) in enumerate(cases):
        path = write(tmp_path / f"bad{i}.idx", data)
        with pytest.raises(DataError, match=message) as info:
            load_idx(path)
        assert path in str(info.value)


def test_truncated_or_missing_files(tmp_path):
    packed = gzip.compress(idx_bytes(np.zeros((50, 50), np.uint8)))
    path = write(tmp_path / "cut.idx.gz", packed[: len(packed) // 2])
    with pytest.raises(DataError, match=r"cut.idx.gz: corrupt or truncated gzip"):
        load_idx(path)
    with pytest.raises(DataNotFoundError, match=r"nothing.idx: no such file") as info:
        load_idx(tmp_path / "nothing.idx")
    assert isinstance(info.value, FileNotFoundError)


# -- MNIST and Fashion-MNIST -------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
def test_load_mnist(tmp_path, compress):
    train = mnist_dir(tmp_path, 5, "train", compress, seed=1)
    test = mnist_dir(tmp_path, 3, "t10k", compress, seed=2)
    for kind, (images, labels) in [("train", train), ("t10k", test), ("test", test)]:
        got_images, got_labels = load_mnist(tmp_path, kind)
        assert got_images.dtype == np.uint8 and got_images.shape == images.shape
        assert np.array_equal(got_images, images) and np.array_equal(got_labels, labels)


def test_load_mnist_reads_kaggles_file_names(tmp_path):
    images, labels = mnist_dir(tmp_path, 2)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        os.rename(tmp_path / name, tmp_path / name.replace("-idx", ".idx"))
    got_images, got_labels = load_mnist(tmp_path)
    assert np.array_equal(got_images, images) and np.array_equal(got_labels, labels)


def test_load_mnist_errors(tmp_path):
    with pytest.raises(DataError, match="kind must be one of"):
        load_mnist(tmp_path, "validation")
    with pytest.raises(DataNotFoundError, match="no such directory"):
        load_mnist(tmp_path / "absent")
    with pytest.raises(DataNotFoundError, match=r"none of train-images-idx3-ubyte, .*\.gz"):
        load_mnist(tmp_path)
    mnist_dir(tmp_path, 4)
    write(tmp_path / "train-labels-idx1-ubyte", idx_bytes(np.zeros(3, np.uint8)))
    with pytest.raises(DataError, match="4 images but 3 labels"):
        load_mnist(tmp_path)
    write(tmp_path / "train-images-idx3-ubyte", idx_bytes(np.zeros((3, 27, 28), np.uint8)))
    with pytest.raises(DataError, match=r"shape \[n, 28, 28\], got uint8 of shape \[3, 27, 28\]"):
        load_mnist(tmp_path)


def test_load_fashion_mnist(tmp_path, monkeypatch):
    images, labels = mnist_dir(tmp_path, 3, "t10k", compress=True)
    got_images, got_labels = load_fashion_mnist(tmp_path, "test")
    assert np.array_equal(got_images, images) and np.array_equal(got_labels, labels)
    monkeypatch.setattr(loaders_mod, "FASHION_MNIST_DIR", str(tmp_path / "not-installed"))
    with pytest.raises(DataNotFoundError, match=r"not-installed \(install it with `apt install"):
        load_fashion_mnist()
    monkeypatch.setattr(loaders_mod, "FASHION_MNIST_DIR", str(tmp_path))
    assert np.array_equal(load_fashion_mnist(kind="t10k")[0], images)


@pytest.mark.skipif(
    not os.path.isdir(loaders_mod.FASHION_MNIST_DIR), reason="dataset-fashion-mnist not installed"
)
def test_installed_fashion_mnist():
    images, labels = load_fashion_mnist(kind="test")
    assert images.shape == (10000, 28, 28) and np.bincount(labels).tolist() == [1000] * 10


# -- CIFAR-10 ----------------------------------------------------------------------------------


def cifar_records(labels, seed=0):
    """(file bytes, images NHWC) for records with `labels`, planes written one by one."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (len(labels), 32, 32, 3), dtype=np.uint8)
    data = b""
    for label, image in zip(labels, images, strict=True):
        data += bytes([label])
        for channel in range(3):
            data += bytes(int(image[r, c, channel]) for r in range(32) for c in range(32))
    return data, images


def test_load_cifar10_batch_is_nhwc(tmp_path):
    data, images = cifar_records([3, 0, 9])
    for compress in (False, True):
        got_images, got_labels = load_cifar10_batch(write(tmp_path / "b.bin", data, compress))
        assert got_images.shape == (3, 32, 32, 3) and got_images.flags.c_contiguous
        assert np.array_equal(got_images, images) and got_labels.tolist() == [3, 0, 9]


def test_load_cifar10_batch_errors(tmp_path):
    data, _ = cifar_records([1, 2])
    for i, cut in enumerate([b"", data[:-1], data + b"\x00"]):
        path = write(tmp_path / f"bad{i}.bin", cut)
        with pytest.raises(DataError, match=rf"3073-byte records .* holds {len(cut)} bytes"):
            load_cifar10_batch(path)
    path = write(tmp_path / "label.bin", data[:3073] + b"\x0a" + data[3074:])
    with pytest.raises(DataError, match=r"label.bin: record 1 has label 10; .* 0..9"):
        load_cifar10_batch(path)


def test_load_cifar10(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    with pytest.raises(DataNotFoundError, match=r"train files missing: data_batch_1.bin, .*_5"):
        load_cifar10(tmp_path)
    written = {}
    for i, name in enumerate([f"data_batch_{k}.bin" for k in range(1, 6)] + ["test_batch.bin"]):
        data, images = cifar_records([i, (i + 1) % 10], seed=i)
        write(folder / name, data)
        written[name] = images
    train_images, train_labels = load_cifar10(tmp_path)  # the archive's parent folder
    assert train_images.shape == (10, 32, 32, 3) and train_labels.tolist()[:4] == [0, 1, 1, 2]
    assert np.array_equal(train_images[8:], written["data_batch_5.bin"])
    test_images, test_labels = load_cifar10(folder, "test")
    assert np.array_equal(test_images, written["test_batch.bin"])
    assert test_labels.tolist() == [5, 6]
    with pytest.raises(DataError, match="kind must be 'train' or 'test'"):
        load_cifar10(folder, "t10k")


# -- scikit-learn's digits ---------------------------------------------------------------------


def test_load_digits_without_scikit_learn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # makes `import sklearn` fail
    with pytest.raises(OptionalDependencyError, match="pip install scikit-learn") as info:
        load_digits()
    assert isinstance(info.value, ImportError)


def test_load_digits():
    pytest.importorskip("sklearn")
    images, labels = load_digits()
    assert images.shape == (1797, 8, 8) and images.dtype == np.float32
    assert labels.shape == (1797,) and labels.dtype == np.int64
    assert images.min() == 0 and images.max() == 16 and set(labels.tolist()) == set(range(10))
