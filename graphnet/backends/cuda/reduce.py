"""CUDA kernels of the reductions (reduce_*, sum_to_like) and argmax / argmin, and the warp and
block reduction helpers the other kernel modules share.

The input of a reduction is collapsed as on the CPU (cpu.math.reduce_pattern: size-1 axes
dropped, neighbours of one kind merged); output element k then reads the elements at
offset(k over the kept axes) + offset(r over the reduced axes), r in [0, count). Two ways:

- a block per output element (grid-stride over them) when the innermost axis is reduced (its
  threads read consecutive elements) or there are few outputs: the threads stride over r, then
  combine their partial results with warp shuffles and one shared-memory slot per warp;
- a thread per output element otherwise (the innermost axis is kept, so neighbouring threads read
  neighbouring elements), looping over r.

Accumulators are float64 for float inputs and int64 for integer and bool ones (as the CPU
backend's); reduce_all / reduce_any are the min / max of the bools as 0 / 1; max and min
propagate NaN like np.max.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numba import cuda

from graphnet.backends.cpu.math import broadcast_axes, reduce_pattern, reduced_axes
from graphnet.backends.cuda.device import simulated
from graphnet.backends.cuda.kernel import THREADS, WARP, CudaKernel, Type, threads_for
from graphnet.backends.registry import BackendError, kernel

#: Combining ops (the `op` argument of the device functions).
SUM, PROD, MAX, MIN = 0, 1, 2, 3
#: Shared-memory slots of a block reduction: one per warp of the largest block.
WARPS = THREADS // WARP
FULL_MASK = 0xFFFFFFFF
#: Most blocks of a grid-stride launch over output elements.
MAX_BLOCKS = 1 << 15

# -- shared device functions ------------------------------------------------------------------


@cuda.jit(device=True)
def combine(a, b, op):  # type: ignore[no-untyped-def]
    """a op b; max and min keep a NaN of either side."""
    if op == SUM:
        return a + b
    if op == PROD:
        return a * b
    if op == MAX:
        return a if a > b or a != a else b
    return a if a < b or a != a else b


if simulated():
    #: The simulator's shuffle buffer: it runs one block at a time. (Not a cuda.shared.array:
    #: the simulator allocates those racily, one per thread that asks first.)
    _LANES = np.empty(THREADS, np.object_)

    @cuda.jit(device=True)
    def shfl_down(value, delta):  # type: ignore[no-untyped-def]
        """Numba's simulator has no shuffles: the block's threads swap through a buffer (of
        Python objects, so any value passes exactly); every thread of the block must call it."""
        lanes = _LANES
        t = cuda.threadIdx.x
        cuda.syncthreads()
        lanes[t] = value
        cuda.syncthreads()
        return lanes[t + delta] if t % WARP + delta < WARP else value

else:

    @cuda.jit(device=True)
    def shfl_down(value, delta):  # type: ignore[no-untyped-def]
        """value of the lane `delta` above this one in the warp."""
        return cuda.shfl_down_sync(FULL_MASK, value, delta)


@cuda.jit(device=True)
def warp_reduce(acc, op):  # type: ignore[no-untyped-def]
    """acc combined over the 32 lanes of the warp, in lane 0 (tree of shuffles)."""
    delta = WARP // 2
    while delta > 0:
        acc = combine(acc, shfl_down(acc, delta), op)
        delta //= 2
    return acc


@cuda.jit(device=True)
def block_reduce(acc, op, shared):  # type: ignore[no-untyped-def]
    """acc combined over the block's threads (a whole number of warps), returned to every
    thread: warp shuffles, then thread 0 combines the warps' results through `shared` (WARPS
    values of acc's type). Every thread of the block must call it."""
    acc = warp_reduce(acc, op)
    if cuda.threadIdx.x % WARP == 0:
        shared[cuda.threadIdx.x // WARP] = acc
    cuda.syncthreads()
    if cuda.threadIdx.x == 0:
        for w in range(1, cuda.blockDim.x // WARP):
            acc = combine(acc, shared[w], op)
        shared[0] = acc
    cuda.syncthreads()
    acc = shared[0]
    cuda.syncthreads()
    return acc


@cuda.jit(device=True)
def _offset(i, sizes, strides):  # type: ignore[no-untyped-def]
    """The element offset of row-major index i over axes of `sizes` laid out at `strides`."""
    off = 0
    for d in range(len(sizes) - 1, -1, -1):
        off += (i % sizes[d]) * strides[d]
        i //= sizes[d]
    return off


@cuda.jit(device=True)
def _store(out, k, acc, op, count):  # type: ignore[no-untyped-def]
    """out[k] = acc, or acc / count for a mean (op < 0 marks it: the combining op is -1 - op)."""
    if op < 0:
        out[k] = acc / count
    else:
        out[k] = acc


def _reduction_kernels(acc: Any) -> tuple[Any, Any]:
    """The (block per output, thread per output) kernels accumulating in numpy type `acc`."""

    @cuda.jit(cache=True)
    def by_block(x, out, init, op, count, ksizes, kstrides, rsizes, rstrides):  # type: ignore[no-untyped-def]
        shared = cuda.shared.array(WARPS, acc)
        combining = op if op >= 0 else -1 - op
        for k in range(cuda.blockIdx.x, out.size, cuda.gridDim.x):
            base = _offset(k, ksizes, kstrides)
            total = acc(init)
            for r in range(cuda.threadIdx.x, count, cuda.blockDim.x):
                total = combine(total, acc(x[base + _offset(r, rsizes, rstrides)]), combining)
            total = block_reduce(total, combining, shared)
            if cuda.threadIdx.x == 0:
                _store(out, k, total, op, count)

    @cuda.jit(cache=True)
    def by_thread(x, out, init, op, count, ksizes, kstrides, rsizes, rstrides):  # type: ignore[no-untyped-def]
        combining = op if op >= 0 else -1 - op
        for k in range(cuda.grid(1), out.size, cuda.gridsize(1)):
            base = _offset(k, ksizes, kstrides)
            total = acc(init)
            for r in range(count):
                total = combine(total, acc(x[base + _offset(r, rsizes, rstrides)]), combining)
            _store(out, k, total, op, count)

    return by_block, by_thread


_FLOAT_KERNELS = _reduction_kernels(np.float64)
_INT_KERNELS = _reduction_kernels(np.int64)

#: reduce op -> (combining op, whether it is a mean).
_OPS = {
    "reduce_sum": SUM, "reduce_mean": -1 - SUM, "reduce_prod": PROD, "reduce_max": MAX,
    "reduce_min": MIN, "reduce_all": MIN, "reduce_any": MAX, "sum_to_like": SUM,
}  # fmt: skip


def _init(op: str, dtype: np.dtype) -> float | int:
    """The identity of op's combining over `dtype`."""
    if op in ("reduce_all", "reduce_any"):
        return int(op == "reduce_all")
    if op in ("reduce_max", "reduce_min"):
        big = math.inf if dtype.kind == "f" else int(np.iinfo(dtype).max)
        return -big if op == "reduce_max" else big
    return int(op == "reduce_prod")


def _axes_args(dims: Sequence[int], pick: Sequence[bool]) -> tuple[tuple[int, ...], ...]:
    """(sizes, strides) of the collapsed axes where `pick`, at least one (a size-1 axis)."""
    strides = [math.prod(dims[d + 1 :]) for d in range(len(dims))]
    chosen = [(size, stride) for size, stride, p in zip(dims, strides, pick, strict=True) if p]
    sizes, steps = zip(*chosen, strict=True) if chosen else ((1,), (0,))
    return tuple(sizes), tuple(steps)


def reduction_kernel(op: str, in_type: Type, out_type: Type, axes: set[int]) -> CudaKernel:
    """The kernel reducing input 0 over `axes` into output 0 (any shape of the kept size)."""
    dtype, shape = np.dtype(in_type[0]), in_type[1]
    size = math.prod(shape)
    if dtype.kind not in "fiub" or (dtype.kind == "u" and dtype.itemsize == 8):
        raise BackendError(f"{op} has no CUDA kernel for dtype {dtype}")
    count = math.prod(shape[d] for d in axes)
    if count == 0 and op in ("reduce_max", "reduce_min"):
        raise BackendError(f"{op} over an empty axis has no identity")
    dims, reduced = reduce_pattern(shape, axes)
    kept_args = _axes_args(dims, [not r for r in reduced])
    reduced_args = _axes_args(dims, reduced)
    n_out = math.prod(out_type[1])
    by_block, by_thread = _FLOAT_KERNELS if dtype.kind == "f" else _INT_KERNELS
    init = _init(op, dtype)
    static = (init, _OPS[op], count, *kept_args, *reduced_args)
    if count >= WARP and (reduced[-1] or n_out < 4 * THREADS):
        fn, threads = by_block, threads_for(count)
        blocks = max(1, min(n_out, MAX_BLOCKS))
    else:
        fn, threads = by_thread, threads_for(n_out)
        blocks = max(1, min(-(-n_out // threads), MAX_BLOCKS))

    def launch(inputs: Sequence[Any], outputs: Sequence[Any], scratch: Sequence[Any],
               stream: Any) -> None:  # fmt: skip
        fn[blocks, threads, stream](inputs[0].reshape(size), outputs[0].reshape(n_out), *static)

    return CudaKernel(launch)


def _reduction_binder(op: str) -> Any:
    def bind(attrs: Mapping[str, Any], in_types: Sequence[Type], out_types: Sequence[Type]
             ) -> CudaKernel:  # fmt: skip
        axes = reduced_axes(attrs, in_types[0][1])
        return reduction_kernel(op, in_types[0], out_types[0], axes)

    bind.__name__ = bind.__qualname__ = op
    return bind


for _op in _OPS:
    if _op != "sum_to_like":
        kernel(_op, backend="cuda")(_reduction_binder(_op))


@kernel("sum_to_like", backend="cuda")
def sum_to_like(attrs: Mapping[str, Any], in_types: Sequence[Type],
                out_types: Sequence[Type]) -> CudaKernel:  # fmt: skip
    axes = broadcast_axes(in_types[0][1], in_types[1][1])
    return reduction_kernel("sum_to_like", in_types[0], out_types[0], axes)


# -- argmax / argmin ----------------------------------------------------------------------------


@cuda.jit(cache=True)
def arg_extremum(x, out, length, inner, largest):  # type: ignore[no-untyped-def]
    """out[p, q] = the first index j of the largest (or smallest) x[p, j, q] of x viewed as
    [outer, length, inner]; the first NaN wins, as in NumPy. A thread per output element."""
    for k in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        base = (k // inner) * length * inner + k % inner
        best = x[base]
        at = 0
        if best == best:
            for j in range(1, length):
                v = x[base + j * inner]
                if v != v:
                    at = j
                    break
                if (v > best) if largest else (v < best):
                    best = v
                    at = j
        out[k] = at


def _arg_binder(largest: bool) -> Any:
    def bind(attrs: Mapping[str, Any], in_types: Sequence[Type], out_types: Sequence[Type]
             ) -> CudaKernel:  # fmt: skip
        shape = in_types[0][1]
        axis = attrs["axis"] % len(shape)
        if shape[axis] == 0:
            raise BackendError("an arg-reduction over an empty axis has no result")
        inner = math.prod(shape[axis + 1 :])
        size = math.prod(shape)
        n_out = math.prod(out_types[0][1])
        threads = threads_for(n_out)
        blocks = max(1, min(-(-n_out // threads), MAX_BLOCKS))

        def launch(inputs: Sequence[Any], outputs: Sequence[Any], scratch: Sequence[Any],
                   stream: Any) -> None:  # fmt: skip
            arg_extremum[blocks, threads, stream](
                inputs[0].reshape(size), outputs[0].reshape(n_out), shape[axis], inner, largest
            )

        return CudaKernel(launch)

    return bind


kernel("argmax", backend="cuda")(_arg_binder(True))
kernel("argmin", backend="cuda")(_arg_binder(False))
