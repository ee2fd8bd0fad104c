"""train_test_split, with scikit-learn's signature and sizes."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from graphnet.data.errors import DataError


def _size(what: str, value: Any, n: int) -> int | None:
    """An absolute size from a fraction in (0, 1) or a count in [0, n] (None stays None)."""
    if value is None:
        return None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        if 0 <= value <= n:
            return int(value)
    elif isinstance(value, numbers.Real) and 0.0 < value < 1.0:
        return math.ceil(value * n) if what == "test_size" else math.floor(value * n)
    raise DataError(
        f"train_test_split: {what} must be a fraction in (0, 1) or a count in [0, {n}], "
        f"got {value!r}"
    )


def _sizes(n: int, test_size: Any, train_size: Any) -> tuple[int, int]:
    if test_size is None and train_size is None:
        test_size = 0.25
    n_test, n_train = _size("test_size", test_size, n), _size("train_size", train_size, n)
    n_test = n - n_train if n_test is None else n_test
    n_train = n - n_test if n_train is None else n_train
    if n_train + n_test > n:
        raise DataError(
            f"train_test_split: train ({n_train}) and test ({n_test}) sizes add up to more "
            f"than the {n} samples"
        )
    if n_train == 0:
        raise DataError(f"train_test_split: {n} samples leave an empty training set")
    return n_train, n_test


def _apportion(counts: np.ndarray, total: int, rng: np.random.Generator) -> np.ndarray:
    """`total` split over classes in proportion to `counts` (largest remainders, ties random)."""
    exact = counts * total / counts.sum()
    share = np.floor(exact).astype(np.int64)
    remainder = exact - share
    order = np.lexsort((rng.random(len(counts)), -remainder))
    share[order[: total - share.sum()]] += 1
    return share


def _stratified(
    labels: np.ndarray, n_train: int, n_test: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    classes, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if counts.min() < 2:
        raise DataError(
            f"train_test_split: stratify needs at least 2 samples per class, class "
            f"{classes[np.argmin(counts)].item()!r} has {counts.min()}"
        )
    train_counts = _apportion(counts, n_train, rng)
    test_counts = _apportion(counts - train_counts, n_test, rng)
    train, test = [], []
    for c in range(len(classes)):
        members = rng.permutation(np.flatnonzero(inverse == c))
        train.append(members[: train_counts[c]])
        test.append(members[train_counts[c] : train_counts[c] + test_counts[c]])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def train_test_split(
    *arrays: Any,
    test_size: float | int | None = None,
    train_size: float | int | None = None,
    random_state: int | np.random.Generator | None = None,
    shuffle: bool = True,
    stratify: Any = None,
) -> list[np.ndarray]:
    """Splits arrays of the same length into ``[a_train, a_test, b_train, b_test, ...]``.

    As scikit-learn: sizes are fractions or counts, the test set 25% when neither is given (a
    fractional test size rounds up, a fractional train size down). Without `shuffle` the first
    samples train; with `stratify` (labels) each class keeps its share in both sets."""
    if not arrays:
        raise DataError("train_test_split: needs at least one array")
    values = [np.asarray(a) for a in arrays]
    lengths = [len(v) if v.ndim else None for v in values]
    if None in lengths or len(set(lengths)) > 1:
        raise DataError(f"train_test_split: the arrays' first dimensions must agree, got {lengths}")
    n = lengths[0]
    n_train, n_test = _sizes(n, test_size, train_size)
    rng = np.random.default_rng(random_state)
    if stratify is not None:
        if not shuffle:
            raise DataError("train_test_split: stratify needs shuffle=True")
        labels = np.asarray(stratify)
        if labels.shape != (n,):
            raise DataError(
                f"train_test_split: stratify must be labels of shape ({n},), got {labels.shape}"
            )
        train, test = _stratified(labels, n_train, n_test, rng)
    elif shuffle:
        order = rng.permutation(n)
        test, train = order[:n_test], order[n_test : n_test + n_train]
    else:
        train, test = np.arange(n_train), np.arange(n_train, n_train + n_test)
    return [part for v in values for part in (v[train], v[test])]
