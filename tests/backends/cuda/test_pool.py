"""CUDA pooling kernels against the reference: SAME padding at the borders, strides other than
the window, ties in max pooling's windows (the first position wins), avg_pool's count of the
unpadded elements only, float32 / float64 / int32."""

from __future__ import annotations

import numpy as np
import pytest

from graphnet.backends.reference.executor import bind_kernel
from tests.backends.cuda.harness import check_kernel

rng = np.random.default_rng(3)
WINDOWS = [
    ((2, 2), (2, 2), "VALID"),
    ((3, 3), (2, 2), "SAME"),
    ((3, 2), (1, 2), "SAME"),
    ((2, 3), (3, 1), "VALID"),
    ((3, 3), (1, 1), "SAME"),
]


def _attrs(window: tuple) -> dict:
    return dict(zip(("ksize", "strides", "padding"), window, strict=True))


def _x(dtype: str = "float64") -> np.ndarray:
    """[2, 5, 7, 3] with ties: rounded values, and two equal neighbouring pixels."""
    x = np.round(rng.standard_normal((2, 5, 7, 3)), 1).astype(dtype)
    x[0, 1, 1] = x[0, 1, 2]
    return x


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pools(window: tuple, dtype: str) -> None:
    attrs, x = _attrs(window), _x(dtype)
    check_kernel("max_pool", attrs, [x])
    check_kernel("avg_pool", attrs, [x])


@pytest.mark.parametrize("window", WINDOWS[:2])
def test_int_max_pool(window: tuple) -> None:
    x = rng.integers(-5, 5, (1, 6, 5, 2)).astype(np.int32)
    check_kernel("max_pool", _attrs(window), [x])


@pytest.mark.parametrize("window", WINDOWS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pool_gradients(window: tuple, dtype: str) -> None:
    attrs, x = _attrs(window), _x(dtype)
    y = bind_kernel("max_pool", attrs)(x)
    dy = rng.standard_normal(y.shape).astype(dtype)
    check_kernel("max_pool_grad", attrs, [x, y, dy])
    check_kernel("max_pool_grad_grad", attrs, [x, y, rng.standard_normal(x.shape).astype(dtype)])
    check_kernel("avg_pool_grad", attrs, [np.array(x.shape, np.int32), dy])


def test_max_pool_grad_of_nan_and_lowest() -> None:
    """A NaN max matches no position (the window's first gets the gradient); an all -inf window
    under SAME padding matches the padding first (the gradient is dropped)."""
    attrs = _attrs(((3, 3), (2, 2), "SAME"))
    x = _x()
    x[0, 2, 3, 0] = np.nan
    x[1, :2, :2, 1] = -np.inf
    y = bind_kernel("max_pool", attrs)(x)
    dy = rng.standard_normal(y.shape)
    check_kernel("max_pool_grad", attrs, [x, y, dy])
    check_kernel("max_pool_grad_grad", attrs, [x, y, rng.standard_normal(x.shape)])


def test_empty_batch() -> None:
    attrs = _attrs(WINDOWS[1])
    check_kernel("max_pool", attrs, [np.zeros((0, 5, 7, 3))])
    check_kernel("avg_pool", attrs, [np.zeros((0, 5, 7, 3))])
