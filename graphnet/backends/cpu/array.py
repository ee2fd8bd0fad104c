"""CPU kernels of the array ops.

The ops that only move elements run their copy plans (backends.copies: strided block copies,
after a fill for pad and the slice gradient) in one generated kernel per arity that calls
`copy_block` once per copy. shape, size and rank write static values; gather, its gradient and
one_hot index by values and have kernels of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numba import njit

from graphnet.backends.copies import COPY_PLANS, Copy, Planner, typed_scalar
from graphnet.backends.cpu.cache import load_source
from graphnet.backends.cpu.kernel import CpuKernel
from graphnet.backends.registry import kernel

Type = tuple[str, tuple[int, ...]]


@njit(cache=True)
def copy_block(src, dst, s_off, s_strides, d_off, d_strides, shape):  # type: ignore[no-untyped-def]
    """Copies the block `shape` of flat src (at s_off, s_strides) into flat dst."""
    s = src.reshape(src.size)
    d = dst.reshape(dst.size)
    n = len(shape)
    inner = shape[n - 1]
    si = s_strides[n - 1]
    di = d_strides[n - 1]
    rows = 1
    for k in range(n - 1):
        rows *= shape[k]
    if inner == 0:
        return
    for r in range(rows):
        sp = s_off
        dp = d_off
        rest = r
        for k in range(n - 2, -1, -1):
            at = rest % shape[k]
            rest //= shape[k]
            sp += at * s_strides[k]
            dp += at * d_strides[k]
        if si == 1 and di == 1:
            d[dp : dp + inner] = s[sp : sp + inner]
        else:
            for i in range(inner):
                d[dp + i * di] = s[sp + i * si]


def copies_kernel(num_inputs: int, num_outputs: int, pairs: Sequence[tuple[int, int]],
                  copies: Sequence[Copy], fill: object = None) -> CpuKernel:  # fmt: skip
    """The generated kernel doing `copies[k]` from input pairs[k][0] to output pairs[k][1],
    after filling every output with `fill` unless it is None."""
    params = [*(f"in{i}" for i in range(num_inputs)), *(f"out{j}" for j in range(num_outputs))]
    lines = [
        "from numba import njit",
        "",
        "from graphnet.backends.cpu.array import copy_block",
        "",
        "",
        "@njit(cache=True)",
        f"def kernel({', '.join([*params, *(f'c{k}' for k in range(len(pairs)))])}, fill):",
    ]
    body = [f"    out{j}.reshape(out{j}.size)[:] = fill" for j in range(num_outputs)]
    body = body if fill is not None else []
    body += [f"    copy_block(in{i}, out{j}, *c{k})" for k, (i, j) in enumerate(pairs)]
    lines += body or ["    return"]
    module = load_source("copy", "\n".join(lines) + "\n")
    return CpuKernel(module.kernel, (*copies, fill))


def _copies_binder(plan_of: Planner) -> Callable[..., CpuKernel]:
    """The binder running the copy plan of an op (backends.copies)."""

    def bind(attrs: Mapping[str, Any], in_types: Sequence[Type], out_types: Sequence[Type]
             ) -> CpuKernel:  # fmt: skip
        plan = plan_of(attrs, in_types, out_types)
        return copies_kernel(len(in_types), len(out_types), plan.pairs, plan.copies, plan.fill)

    return bind


for _op, _plan_of in COPY_PLANS.items():
    kernel(_op, backend="cpu")(_copies_binder(_plan_of))


# -- shape queries ---------------------------------------------------------------------------


@njit(cache=True)
def set_values(x, out, values):  # type: ignore[no-untyped-def]
    """out's elements set to `values` (x is read for nothing: its shape is static)."""
    o = out.reshape(out.size)
    for i in range(o.size):
        o[i] = values[i]


@kernel("shape", backend="cpu")
def bind_shape(attrs: Mapping[str, Any], in_types: Sequence[Type], out_types: Sequence[Type]
               ) -> CpuKernel:  # fmt: skip
    return CpuKernel(set_values, (tuple(in_types[0][1]) or (0,),))


@kernel("size", backend="cpu")
def bind_size(attrs: Mapping[str, Any], in_types: Sequence[Type], out_types: Sequence[Type]
              ) -> CpuKernel:  # fmt: skip
    return CpuKernel(set_values, ((int(np.prod(in_types[0][1], dtype=np.int64)),),))


@kernel("rank", backend="cpu")
def bind_rank(attrs: Mapping[str, Any], in_types: Sequence[Type], out_types: Sequence[Type]
              ) -> CpuKernel:  # fmt: skip
    return CpuKernel(set_values, ((len(in_types[0][1]),),))


# -- gather, one_hot -------------------------------------------------------------------------


@njit(cache=True)
def gather(params, indices, out, outer, n, inner):  # type: ignore[no-untyped-def]
    p = params.reshape((outer, n, inner))
    idx = indices.reshape(indices.size)
    o = out.reshape((outer, idx.size, inner))
    for j in range(idx.size):
        if idx[j] < 0 or idx[j] >= n:
            raise IndexError("gather: index " + str(idx[j]) + " is outside [0, " + str(n) + ")")
    for a in range(outer):
        for j in range(idx.size):
            o[a, j, :] = p[a, idx[j], :]


@njit(cache=True)
def gather_grad(g, indices, params, out, outer, n, inner):  # type: ignore[no-untyped-def]
    """Zeros shaped like params with g's slices added at `indices` (repeats accumulate)."""
    idx = indices.reshape(indices.size)
    x = g.reshape((outer, idx.size, inner))
    o = out.reshape((outer, n, inner))
    o[:] = 0
    for j in range(idx.size):
        if idx[j] < 0 or idx[j] >= n:
            raise IndexError(
                "gather_grad: index " + str(idx[j]) + " is outside [0, " + str(n) + ")"
            )
    for a in range(outer):
        for j in range(idx.size):
            o[a, idx[j], :] += x[a, j, :]


def around(shape: Sequence[int], axis: int) -> tuple[int, int, int]:
    """(elements before `axis`, its size, elements after)."""
    return (int(np.prod(shape[:axis], dtype=np.int64)), shape[axis],
            int(np.prod(shape[axis + 1 :], dtype=np.int64)))  # fmt: skip


@kernel("gather", backend="cpu")
def bind_gather(attrs: Mapping[str, Any], in_types: Sequence[Type], out_types: Sequence[Type]
                ) -> CpuKernel:  # fmt: skip
    shape = in_types[0][1]
    return CpuKernel(gather, around(shape, attrs["axis"] % len(shape)))


@kernel("gather_grad", backend="cpu")
def bind_gather_grad(attrs: Mapping[str, Any], in_types: Sequence[Type],
                     out_types: Sequence[Type]) -> CpuKernel:  # fmt: skip
    shape = in_types[2][1]
    return CpuKernel(gather_grad, around(shape, attrs["axis"] % len(shape)))


@njit(cache=True)
def one_hot(indices, out, outer, depth, inner, on, off):  # type: ignore[no-untyped-def]
    idx = indices.reshape((outer, inner))
    o = out.reshape((outer, depth, inner))
    for a in range(outer):
        for d in range(depth):
            for i in range(inner):
                o[a, d, i] = on if idx[a, i] == d else off


@kernel("one_hot", backend="cpu")
def bind_one_hot(attrs: Mapping[str, Any], in_types: Sequence[Type], out_types: Sequence[Type]
                 ) -> CpuKernel:  # fmt: skip
    dtype, out = out_types[0]
    outer, depth, inner = around(out, attrs["axis"] % len(out))
    on, off = (typed_scalar(attrs[k], dtype) for k in ("on_value", "off_value"))
    return CpuKernel(one_hot, (outer, depth, inner, on, off))
