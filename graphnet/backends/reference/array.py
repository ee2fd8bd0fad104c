"""Reference kernels of the array ops."""

from __future__ import annotations

import numpy as np

from graphnet.backends.registry import kernel


@kernel("shape")
def shape(x: np.ndarray, out_type: str) -> np.ndarray:
    return np.array(x.shape, dtype=out_type)


@kernel("size")
def size(x: np.ndarray, out_type: str) -> np.ndarray:
    return np.array(x.size, dtype=out_type)


@kernel("rank")
def rank(x: np.ndarray, out_type: str) -> np.ndarray:
    return np.array(x.ndim, dtype=out_type)


@kernel("reshape")
def reshape(x: np.ndarray, shape: np.ndarray) -> np.ndarray:
    return x.reshape(tuple(int(d) for d in shape))


@kernel("expand_dims")
def expand_dims(x: np.ndarray, axis: int) -> np.ndarray:
    return np.expand_dims(x, axis)


@kernel("squeeze")
def squeeze(x: np.ndarray, axis: tuple[int, ...] | None) -> np.ndarray:
    return np.squeeze(x, axis=axis)


@kernel("sum_to_like")
def sum_to_like(g: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Sums the broadcast axes of g away until it has the shape of `like`."""
    extra = g.ndim - like.ndim
    axes = tuple(range(extra)) + tuple(
        i + extra for i, d in enumerate(like.shape) if d == 1 and g.shape[i + extra] != 1
    )
    return np.sum(g, axis=axes, keepdims=True).reshape(like.shape) if axes else g.reshape(like.shape)


@kernel("broadcast_like")
def broadcast_like(x: np.ndarray, like: np.ndarray) -> np.ndarray:
    return np.broadcast_to(x, np.broadcast_shapes(x.shape, like.shape)).copy()


@kernel("broadcast_to")
def broadcast_to(x: np.ndarray, shape: np.ndarray) -> np.ndarray:
    return np.broadcast_to(x, tuple(int(d) for d in shape)).copy()


@kernel("zeros_like")
def zeros_like(x: np.ndarray, dtype: str | None) -> np.ndarray:
    return np.zeros(x.shape, dtype=dtype or x.dtype)


@kernel("ones_like")
def ones_like(x: np.ndarray, dtype: str | None) -> np.ndarray:
    return np.ones(x.shape, dtype=dtype or x.dtype)


@kernel("fill")
def fill(dims: np.ndarray, value: np.ndarray) -> np.ndarray:
    return np.full(tuple(int(d) for d in dims), value, dtype=value.dtype)
