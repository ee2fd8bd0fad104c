"""CUDA kernels of matmul and fused_matmul: one shared-memory tiled GEMM, which the convolutions
(cuda.conv) reuse for their im2col products.

`gemm_tiled` computes out[j] = op(a)[ja] @ op(b)[jb] for every output batch j of 3-D stacks of
matrices (op transposes where ta / tb): a block of TILE x TILE threads owns one TILE x TILE tile
of one output matrix and walks the reduction axis TILE at a time, each thread loading one
element of the A tile and one of the B tile into shared memory (along the operand's contiguous
axis, transposed or not, so the loads coalesce) and then summing its row of the one against its
column of the other. The grid is (row tiles, column tiles, batches), the batches strided by the
grid's z size; the batch indices of the operands follow from static strides, 0 along
broadcast axes. The epilogue, before the store, adds what out held (`accumulate`, for sums over
chunks), the bias along the last axis and applies an activation (cpu.conv.ACTIVATIONS codes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import cuda

# CPU @njit helpers the kernels call: Numba compiles them for the device too
from graphnet.backends.cpu.conv import ACTIVATIONS, _activate
from graphnet.backends.cpu.math import batch_offsets, matmul_args
from graphnet.backends.cuda.kernel import CudaKernel
from graphnet.backends.registry import BackendError, kernel

Type = tuple[str, tuple[int, ...]]

#: Side of a GEMM tile, and of its thread block.
TILE = 16
#: Row pitch of the shared tiles: one more than TILE, so a column's loads hit distinct banks.
#: (A module constant: shared array shapes must be literals, and TILE + 1 in a kernel is not.)
PITCH = TILE + 1
#: Most blocks along the grid's y and z axes.
GRID_YZ = 65535


@cuda.jit(device=True)
def store(out, j, m, n, v, bias, epilogue):  # type: ignore[no-untyped-def]
    """out[j, m, n] = the activation of v (+ out[j, m, n]) (+ bias[n]), as `epilogue` =
    (accumulate, has_bias, act, alpha) asks."""
    accumulate, has_bias, act, alpha = epilogue
    if accumulate:
        v += out[j, m, n]
    if has_bias:
        v += bias[n]
    if act == 0:  # stored as it is: integers stay exact
        out[j, m, n] = v
    else:
        out[j, m, n] = _activate(v, act, alpha)


@cuda.jit(device=True)
def load_tile(tile, src, j, corner, flip, zero):  # type: ignore[no-untyped-def]
    """Thread (ty, tx) loads src[j, p0 + ty, q0 + tx] ((p0, q0) = corner; zero outside src)
    into tile[ty, tx], or into tile[tx, ty] where flip: the reads run along src's contiguous
    axis either way, so they coalesce."""
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    p, q = corner[0] + ty, corner[1] + tx
    v = src[j, p, q] if p < src.shape[1] and q < src.shape[2] else zero
    if flip:
        tile[tx, ty] = v
    else:
        tile[ty, tx] = v


@cuda.jit(cache=True)
def gemm_tiled(a, b, bias, out, zero, ta, tb, batch, sa, sb, epilogue):  # type: ignore[no-untyped-def]
    tile_a = cuda.shared.array((TILE, PITCH), a.dtype)  # [row, k]
    tile_b = cuda.shared.array((TILE, PITCH), b.dtype)  # [k, column]
    tx = cuda.threadIdx.x
    ty = cuda.threadIdx.y
    m0 = cuda.blockIdx.x * TILE
    rows, cols = out.shape[1], out.shape[2]
    depth = a.shape[1] if ta else a.shape[2]
    for j in range(cuda.blockIdx.z, out.shape[0], cuda.gridDim.z):
        ia, ib = batch_offsets(j, batch, sa, sb)
        for n0 in range(cuda.blockIdx.y * TILE, cols, cuda.gridDim.y * TILE):
            acc = zero
            for k0 in range(0, depth, TILE):
                # a is [rows, depth], or [depth, rows] where ta; b is [depth, cols], or
                # [cols, depth] where tb
                load_tile(tile_a, a, ia, (k0, m0) if ta else (m0, k0), ta, zero)
                load_tile(tile_b, b, ib, (n0, k0) if tb else (k0, n0), tb, zero)
                cuda.syncthreads()
                for t in range(TILE):
                    acc += tile_a[ty, t] * tile_b[t, tx]
                cuda.syncthreads()
            if m0 + ty < rows and n0 + tx < cols:
                store(out, j, m0 + ty, n0 + tx, acc, bias, epilogue)


@dataclass(frozen=True)
class Gemm:
    """A GEMM of fixed geometry on 3-D stacks: `gemm(stream, a, b, out, bias)` enqueues
    out[j] (+)= epilogue(op(a)[ja] @ op(b)[jb] (+ bias)); bias is any 1-D array of the
    operands' dtype where there is none."""

    grid: tuple[int, int, int] | None  # None: an empty output, nothing to launch
    zero: Any
    args: tuple[Any, ...]  # (ta, tb, batch, sa, sb, epilogue)

    def __call__(self, stream: Any, a: Any, b: Any, out: Any, bias: Any) -> None:
        if self.grid is not None:
            gemm_tiled[self.grid, (TILE, TILE), stream](a, b, bias, out, self.zero, *self.args)


def epilogue_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """A fused op's epilogue attrs (activation, alpha), defaults for a plain op."""
    return {"activation": attrs.get("activation"), "alpha": float(attrs.get("alpha", 0.0))}


def make_epilogue(dtype: str, *, accumulate: bool = False, bias: bool = False,
                  activation: str | None = None, alpha: float = 0.0) -> tuple:  # fmt: skip
    """The `epilogue` argument of `store`; raises BackendError for a dtype or an activation
    it does not handle."""
    kind = np.dtype(dtype).kind
    if kind not in "fiu" or dtype == "float16":
        raise BackendError(f"the CUDA GEMM has no kernel for dtype {dtype}")
    if activation not in ACTIVATIONS:
        raise BackendError(f"the CUDA GEMM has no epilogue activation {activation!r}")
    if activation is not None and kind != "f":
        raise BackendError(f"epilogue activation {activation} of {dtype}: needs floats")
    return (accumulate, bias, ACTIVATIONS[activation], np.dtype(dtype).type(alpha))


def make_gemm(dtype: str, ta: bool, tb: bool, shape: tuple[int, int, int], *,
              batch: tuple[int, ...] = (1,), sa: tuple[int, ...] = (0,),
              sb: tuple[int, ...] = (0,), **epilogue: Any) -> Gemm:  # fmt: skip
    """A Gemm writing out of `shape` (batches, rows, cols); by default one matrix product, no
    epilogue (else make_epilogue's keywords)."""
    count, rows, cols = shape
    grid = (-(-rows // TILE), min(-(-cols // TILE), GRID_YZ), min(count, GRID_YZ))
    args = (ta, tb, batch, sa, sb, make_epilogue(dtype, **epilogue))
    return Gemm(grid if count * rows * cols else None, np.dtype(dtype).type(0), args)


# -- binders ------------------------------------------------------------------------------------


@kernel("matmul", backend="cuda")
@kernel("fused_matmul", backend="cuda")
def matmul(attrs: Mapping[str, Any], in_types: Sequence[Type],
           out_types: Sequence[Type]) -> CudaKernel:  # fmt: skip
    dtype = in_types[0][0]
    if not in_types[0][0] == in_types[1][0] == out_types[0][0]:
        raise BackendError(f"matmul of {in_types[0][0]} and {in_types[1][0]}")
    # matmul_args wants floats (for BLAS); make_gemm checks the dtype here, ints included
    shapes = [("float64", shape) for _, shape in (*in_types[:2], out_types[0])]
    ta, tb, a3, b3, o3, batch, sa, sb = matmul_args(attrs, shapes[:2], shapes[2])
    has_bias = len(in_types) == 3
    gemm = make_gemm(dtype, ta, tb, o3, batch=batch, sa=sa, sb=sb, bias=has_bias,
                     **epilogue_attrs(attrs))  # fmt: skip

    def launch(inputs: Sequence[Any], outputs: Sequence[Any], scratch: Sequence[Any],
               stream: Any) -> None:  # fmt: skip
        out = outputs[0].reshape(o3)
        bias = inputs[2] if has_bias else out.reshape(out.size)
        gemm(stream, inputs[0].reshape(a3), inputs[1].reshape(b3), out, bias)

    return CudaKernel(launch)
