"""CUDA kernels of the array ops.

The ops that only move elements run their copy plans (backends.copies: strided block copies,
after a fill for pad and the slice gradient): `copy_block` runs a copy with a thread per
element, `copy_tiles` one whose contiguous axis differs between the sides (a transpose) through
shared-memory tiles, `fill` the fill. shape, size and rank write static values; gather, its
gradient and one_hot index by values and have kernels of their own.

gather cannot raise on the device: an index outside [0, dim) gives zeros (as TensorFlow's GPU
gather), and gather_grad adds nothing for it. The reference and CPU kernels raise instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numba import cuda

from graphnet.backends.copies import COPY_PLANS, Copy, Planner, typed_scalar
from graphnet.backends.cpu.array import around
from graphnet.backends.cpu.math import batch_offsets  # an @njit the kernels call
from graphnet.backends.cuda.kernel import CudaKernel, Type, blocks_for, launch_1d, threads_for
from graphnet.backends.registry import kernel

# -- device kernels ----------------------------------------------------------------------------


@cuda.jit(cache=True)
def copy_block(src, dst, n, s_off, s_strides, d_off, d_strides, shape):  # type: ignore[no-untyped-def]
    """dst[d_off + at . d_strides] = src[s_off + at . s_strides] for each of the n positions
    `at` of the block `shape` (flat src and dst; a thread per element)."""
    t = cuda.grid(1)
    if t < n:
        s = src.reshape(src.size)
        d = dst.reshape(dst.size)
        sp, dp = batch_offsets(t, shape, s_strides, d_strides)
        d[d_off + dp] = s[s_off + sp]


#: The tiles of copy_tiles: TILE x TILE elements, TILE x TILE_ROWS threads; a padded column
#: keeps the transposed reads of shared memory free of bank conflicts.
TILE = 32
TILE_ROWS = 8
TILE_SHAPE = (TILE, TILE + 1)


@cuda.jit(cache=True)
def copy_tiles(src, dst, s_off, d_off, size_a, d_stride_a, size_b, s_stride_b, batch, s_batch,
               d_batch):  # type: ignore[no-untyped-def]  # fmt: skip
    """A copy whose source is contiguous along axis a and destination along axis b (a
    transpose), a TILE x TILE tile per block through shared memory so that both the reads and
    the writes are coalesced; the other axes (`batch`, with their strides) index the blocks."""
    tile = cuda.shared.array(TILE_SHAPE, src.dtype)
    s = src.reshape(src.size)
    d = dst.reshape(dst.size)
    tiles_a = (size_a + TILE - 1) // TILE
    tiles_b = (size_b + TILE - 1) // TILE
    rest = cuda.blockIdx.x
    a0 = (rest % tiles_a) * TILE
    rest //= tiles_a
    b0 = (rest % tiles_b) * TILE
    sp, dp = batch_offsets(rest // tiles_b, batch, s_batch, d_batch)
    sp += s_off
    dp += d_off
    tx = cuda.threadIdx.x
    a = a0 + tx
    for r in range(cuda.threadIdx.y, TILE, TILE_ROWS):
        if a < size_a and b0 + r < size_b:
            tile[r, tx] = s[sp + a + (b0 + r) * s_stride_b]
    cuda.syncthreads()
    b = b0 + tx
    for r in range(cuda.threadIdx.y, TILE, TILE_ROWS):
        if a0 + r < size_a and b < size_b:
            d[dp + (a0 + r) * d_stride_a + b] = tile[tx, r]


@cuda.jit(cache=True)
def fill(dst, n, value):  # type: ignore[no-untyped-def]
    t = cuda.grid(1)
    if t < n:
        dst.reshape(dst.size)[t] = value


@cuda.jit(cache=True)
def set_values(out, values):  # type: ignore[no-untyped-def]
    """out's elements set to the static `values`."""
    t = cuda.grid(1)
    if t < len(values):
        out.reshape(out.size)[t] = values[t]


@cuda.jit(cache=True)
def gather_rows(params, indices, out, total, dim, inner, zero):  # type: ignore[no-untyped-def]
    """out[a, j, i] = params[a, indices[j], i], or zero for an index outside [0, dim)."""
    t = cuda.grid(1)
    if t < total:
        p = params.reshape(params.size)
        idx = indices.reshape(indices.size)
        o = out.reshape(out.size)
        i = t % inner
        rest = t // inner
        j = rest % idx.size
        k = idx[j]
        if 0 <= k < dim:
            o[t] = p[((rest // idx.size) * dim + k) * inner + i]
        else:
            o[t] = zero


@cuda.jit(cache=True)
def link_repeats(indices, links, dim):  # type: ignore[no-untyped-def]
    """links[0, j] = 1 where j is the first position of a valid index value, links[1, j] the
    next position holding the same value (-1 at the last)."""
    j = cuda.grid(1)
    idx = indices.reshape(indices.size)
    m = idx.size
    if j < m:
        k = idx[j]
        first = 0
        after = -1
        if 0 <= k < dim:
            first = 1
            for b in range(j - 1, -1, -1):
                if idx[b] == k:
                    first = 0
                    break
            for b in range(j + 1, m):
                if idx[b] == k:
                    after = b
                    break
        links[0, j] = first
        links[1, j] = after


@cuda.jit(cache=True)
def sum_repeats(g, indices, links, out, total, dim, inner):  # type: ignore[no-untyped-def]
    """out[a, indices[j], i] = the sum of g[a, j', i] over the positions j' holding the value
    of j, in their order, for each first position j (deterministic: no atomics)."""
    t = cuda.grid(1)
    if t < total:
        x = g.reshape(g.size)
        idx = indices.reshape(indices.size)
        o = out.reshape(out.size)
        m = idx.size
        i = t % inner
        rest = t // inner
        j = rest % m
        if links[0, j] == 1:
            row = (rest // m) * m
            s = x[t]
            b = links[1, j]
            while b >= 0:
                s += x[(row + b) * inner + i]
                b = links[1, b]
            o[((rest // m) * dim + idx[j]) * inner + i] = s


@cuda.jit(cache=True)
def one_hot_values(indices, out, total, depth, inner, on, off):  # type: ignore[no-untyped-def]
    """out[a, d, i] = on where indices[a, i] == d, else off."""
    t = cuda.grid(1)
    if t < total:
        idx = indices.reshape(indices.size)
        o = out.reshape(out.size)
        i = t % inner
        rest = t // inner
        d = rest % depth
        o[t] = on if idx[(rest // depth) * inner + i] == d else off


# -- launch plans ------------------------------------------------------------------------------


def _grid(n: int) -> tuple[int, int]:
    threads = threads_for(n)
    return blocks_for(n, threads), threads


def _size(shape: Sequence[int]) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _ints(values: Sequence[int]) -> tuple[int, ...]:
    """Python ints: a kernel's tuple argument must be homogeneous (a UniTuple of int64)."""
    return tuple(int(v) for v in values)


def _plan_copy(copy: Copy) -> tuple[Any, int, int | tuple[int, int], tuple]:
    """(kernel, blocks, threads, arguments after src and dst) running `copy`: copy_tiles where
    the source's contiguous axis is not the destination's, else copy_block."""
    s_off, ss, d_off, ds, shape = (int(copy[0]), _ints(copy[1]), int(copy[2]), _ints(copy[3]),
                                   _ints(copy[4]))  # fmt: skip
    last = len(shape) - 1
    if ds[last] == 1 and ss[last] != 1 and 1 in ss[:last]:
        a = ss.index(1)
        rest = [k for k in range(last) if k != a]
        batch, s_batch, d_batch = (tuple(v[k] for k in rest) or (empty,)
                                   for v, empty in ((shape, 1), (ss, 0), (ds, 0)))  # fmt: skip
        blocks = _size(batch) * -(-shape[a] // TILE) * -(-shape[last] // TILE)
        args = (s_off, d_off, shape[a], ds[a], shape[last], ss[last], batch, s_batch, d_batch)
        return copy_tiles, blocks, (TILE, TILE_ROWS), args
    n = _size(shape)
    return (copy_block, *_grid(n), (n, s_off, ss, d_off, ds, shape))


def copies_kernel(pairs: Sequence[tuple[int, int]], copies: Sequence[Copy],
                  fill_with: tuple[object, int] | None = None) -> CudaKernel:  # fmt: skip
    """The kernel doing copies[k] from input pairs[k][0] to output pairs[k][1], after filling
    output 0 with fill_with = (value, output size) unless it is None; empty copies launch
    nothing."""
    steps = [(pair, *_plan_copy(copy)) for pair, copy in zip(pairs, copies, strict=True)
             if _size(copy[4])]  # fmt: skip
    value, size = fill_with or (None, 0)
    fill_grid = _grid(size)

    def launch(inputs: Sequence[Any], outputs: Sequence[Any], scratch: Sequence[Any],
               stream: Any) -> None:  # fmt: skip
        if size:
            fill[(*fill_grid, stream)](outputs[0], size, value)
        for (i, j), fn, blocks, threads, args in steps:
            fn[blocks, threads, stream](inputs[i], outputs[j], *args)

    return CudaKernel(launch)


def _copies_binder(plan_of: Planner) -> Callable[..., CudaKernel]:
    """The binder running the copy plan of an op (backends.copies)."""

    def bind(attrs: Mapping[str, Any], in_types: Sequence[Type], out_types: Sequence[Type]
             ) -> CudaKernel:  # fmt: skip
        plan = plan_of(attrs, in_types, out_types)
        fill_with = None if plan.fill is None else (plan.fill, _size(out_types[0][1]))
        return copies_kernel(plan.pairs, plan.copies, fill_with)

    return bind


for _op, _plan_of in COPY_PLANS.items():
    kernel(_op, backend="cuda")(_copies_binder(_plan_of))


# -- shape queries -----------------------------------------------------------------------------


def _values(values: tuple[int, ...]) -> CudaKernel:
    """The output set to the static `values` (none: an empty output, no launch)."""
    values = _ints(values)
    blocks, threads = _grid(len(values))

    def launch(inputs: Sequence[Any], outputs: Sequence[Any], scratch: Sequence[Any],
               stream: Any) -> None:  # fmt: skip
        if values:
            set_values[blocks, threads, stream](outputs[0], values)

    return CudaKernel(launch)


kernel("shape", backend="cuda")(lambda attrs, ins, outs: _values(tuple(ins[0][1])))
kernel("size", backend="cuda")(lambda attrs, ins, outs: _values((_size(ins[0][1]),)))
kernel("rank", backend="cuda")(lambda attrs, ins, outs: _values((len(ins[0][1]),)))


# -- gather, one_hot -------------------------------------------------------------------------


@kernel("gather", backend="cuda")
def bind_gather(attrs: Mapping[str, Any], in_types: Sequence[Type], out_types: Sequence[Type]
                ) -> CudaKernel:  # fmt: skip
    """Zeros where an index is outside [0, dim) (a device kernel cannot raise)."""
    shape = in_types[0][1]
    _, dim, inner = around(shape, attrs["axis"] % len(shape))
    dtype, out = out_types[0]
    return launch_1d(gather_rows, _size(out), _size(out), dim, inner, typed_scalar(0, dtype))


@kernel("gather_grad", backend="cuda")
def bind_gather_grad(attrs: Mapping[str, Any], in_types: Sequence[Type],
                     out_types: Sequence[Type]) -> CudaKernel:  # fmt: skip
    """Zeros shaped like params with g's slices summed in at `indices`, deterministically: a
    pass links each position to the next holding the same index (scratch [2, len(indices)]),
    a thread per (first position, element) then sums its chain in order. Indices outside
    [0, dim) add nothing."""
    (_, g_shape), (_, i_shape), (_, shape) = in_types[:3]
    _, dim, inner = around(shape, attrs["axis"] % len(shape))
    dtype, out = out_types[0]
    m, total, size = _size(i_shape), _size(g_shape), _size(out)
    zero = typed_scalar(0, dtype)
    link_grid, sum_grid, fill_grid = _grid(m), _grid(total), _grid(size)

    def launch(inputs: Sequence[Any], outputs: Sequence[Any], scratch: Sequence[Any],
               stream: Any) -> None:  # fmt: skip
        g, indices = inputs[0], inputs[1]
        if size:
            fill[(*fill_grid, stream)](outputs[0], size, zero)
        if total:
            link_repeats[(*link_grid, stream)](indices, scratch[0], dim)
            sum_repeats[(*sum_grid, stream)](g, indices, scratch[0], outputs[0], total, dim,
                                             inner)  # fmt: skip

    return CudaKernel(launch, (("int64", (2, m)),))


@kernel("one_hot", backend="cuda")
def bind_one_hot(attrs: Mapping[str, Any], in_types: Sequence[Type], out_types: Sequence[Type]
                 ) -> CudaKernel:  # fmt: skip
    dtype, out = out_types[0]
    _, depth, inner = around(out, attrs["axis"] % len(out))
    on, off = (typed_scalar(attrs[k], dtype) for k in ("on_value", "off_value"))
    return launch_1d(one_hot_values, _size(out), _size(out), depth, inner, on, off)
