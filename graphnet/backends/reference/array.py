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
    return (
        np.sum(g, axis=axes, keepdims=True).reshape(like.shape) if axes else g.reshape(like.shape)
    )


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


@kernel("transpose")
def transpose(x: np.ndarray, perm: tuple[int, ...]) -> np.ndarray:
    return np.transpose(x, perm)


@kernel("concat")
def concat(*values: np.ndarray, axis: int) -> np.ndarray:
    return np.concatenate(values, axis=axis)


@kernel("concat_grad")
def concat_grad(g: np.ndarray, *values: np.ndarray, axis: int) -> tuple[np.ndarray, ...]:
    """g cut along `axis` into pieces as long as the values are there at run time."""
    bounds = np.cumsum([v.shape[axis] for v in values])[:-1]
    return tuple(np.split(g, bounds, axis=axis))


@kernel("pack")
def pack(*values: np.ndarray, axis: int) -> np.ndarray:
    return np.stack(values, axis=axis)


@kernel("split")
def split(
    x: np.ndarray, axis: int, num_split: int | None, size_splits: tuple[int, ...] | None
) -> tuple[np.ndarray, ...]:
    if num_split is not None:
        return tuple(np.split(x, num_split, axis=axis))
    dim = x.shape[axis]
    sizes = [dim - sum(s for s in size_splits if s != -1) if s == -1 else s for s in size_splits]
    if sum(sizes) != dim or min(sizes) < 0:
        raise ValueError(f"size_splits {list(size_splits)} do not fit a dim of size {dim}")
    return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=axis))


def _index(spec: tuple) -> tuple:
    """The NumPy index of a strided_slice spec: ints, (start, stop, step), "newaxis", "..."."""
    return tuple(
        Ellipsis
        if e == "..."
        else None
        if e == "newaxis"
        else slice(*e)
        if isinstance(e, tuple)
        else e
        for e in spec
    )


@kernel("strided_slice")
def strided_slice(x: np.ndarray, spec: tuple) -> np.ndarray:
    return x[_index(spec)]


@kernel("strided_slice_grad")
def strided_slice_grad(g: np.ndarray, x: np.ndarray, spec: tuple) -> np.ndarray:
    out = np.zeros(x.shape, dtype=g.dtype)
    out[_index(spec)] = g
    return out


@kernel("pad")
def pad(x: np.ndarray, paddings: tuple, constant_values: float) -> np.ndarray:
    return np.pad(x, paddings, constant_values=constant_values)


@kernel("tile")
def tile(x: np.ndarray, multiples: tuple[int, ...]) -> np.ndarray:
    return np.tile(x, multiples)


@kernel("one_hot")
def one_hot(
    indices: np.ndarray, depth: int, on_value: float, off_value: float, axis: int, dtype: str
) -> np.ndarray:
    hot = np.moveaxis(indices[..., None] == np.arange(depth), -1, axis)
    return np.where(hot, on_value, off_value).astype(dtype)


@kernel("gather")
def gather(params: np.ndarray, indices: np.ndarray, axis: int) -> np.ndarray:
    dim = params.shape[axis]
    if np.any((indices < 0) | (indices >= dim)):
        raise IndexError(f"indices {indices.ravel().tolist()} are not all in [0, {dim})")
    return np.take(params, indices, axis=axis)


@kernel("gather_grad")
def gather_grad(g: np.ndarray, indices: np.ndarray, params: np.ndarray, axis: int) -> np.ndarray:
    """Zeros shaped like params with g's slices added at `indices` (repeats accumulate)."""
    out = np.zeros(params.shape, dtype=g.dtype)
    np.add.at(out, (slice(None),) * (axis % params.ndim) + (indices,), g)
    return out
