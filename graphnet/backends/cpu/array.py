"""CPU kernels of the array ops.

Most array ops move elements without computing: reshape and its kin, transpose, broadcasts,
slices and their gradients, pad, tile, concat, pack, split. Each is planned here as a few
strided block copies — (source offset, source strides, destination offset, destination
strides, shape) in elements over the flat buffers, axes collapsed where both sides are
contiguous — and run by one generated kernel per arity that calls `copy_block` once per copy
(after filling the output, for pad and the slice gradient). gather, its gradient and one_hot
index by values and have kernels of their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numba import njit

from graphnet.backends.cpu.cache import load_source
from graphnet.backends.cpu.kernel import CpuKernel
from graphnet.backends.registry import kernel

Type = tuple[str, tuple[int, ...]]
Shape = tuple[int, ...]
#: One strided copy: (src offset, src strides, dst offset, dst strides, shape), in elements.
Copy = tuple[int, Shape, int, Shape, Shape]


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


def c_strides(shape: Sequence[int]) -> Shape:
    """Element strides of a C-ordered array of `shape`."""
    strides, step = [], 1
    for d in reversed(shape):
        strides.append(step)
        step *= d
    return tuple(reversed(strides))


def block(s_off: int, s_strides: Sequence[int], d_off: int, d_strides: Sequence[int],
          shape: Sequence[int]) -> Copy:  # fmt: skip
    """The copy with size-1 axes dropped and neighbouring axes merged where both sides step
    through them contiguously; at least one axis."""
    dims: list[list[int]] = []  # [size, src stride, dst stride]
    for size, ss, ds in zip(shape, s_strides, d_strides, strict=True):
        if size == 1:
            continue
        if dims and dims[-1][1] == ss * size and dims[-1][2] == ds * size:
            dims[-1] = [dims[-1][0] * size, ss, ds]
        else:
            dims.append([size, ss, ds])
    dims = dims or [[int(np.prod(shape, dtype=np.int64)), 1, 1]]
    sizes, sss, dss = zip(*dims, strict=True)
    return (s_off, tuple(sss), d_off, tuple(dss), tuple(sizes))


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


def _copy(in_types: Sequence[Type], copy: Copy, fill: object = None) -> CpuKernel:
    """One copy from input 0 into the output."""
    return copies_kernel(len(in_types), 1, [(0, 0)], [copy], fill)


def _flat(in_types: Sequence[Type], out_types: Sequence[Type]) -> CpuKernel:
    """The output is the input's elements in order (reshape and its kin)."""
    size = int(np.prod(out_types[0][1], dtype=np.int64))
    return _copy(in_types, block(0, (1,), 0, (1,), (size,)))


for _op in ("reshape", "expand_dims", "squeeze", "placeholder_with_default"):
    kernel(_op, backend="cpu")(lambda attrs, in_types, out_types: _flat(in_types, out_types))


def _typed(value: object, dtype: str) -> object:
    """A Python scalar of the kind `dtype` stores (Numba types literals by Python type)."""
    kind = np.dtype(dtype).kind
    return bool(value) if kind == "b" else int(value) if kind in "iu" else float(value)  # type: ignore[arg-type]


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


# -- broadcasts, transpose, tile -------------------------------------------------------------


def _broadcast(in_types: Sequence[Type], out_types: Sequence[Type]) -> CpuKernel:
    """Input 0 broadcast to the output's shape: stride 0 along the stretched axes."""
    shape, out = in_types[0][1], out_types[0][1]
    padded = (1,) * (len(out) - len(shape)) + tuple(shape)
    strides = [0 if d == 1 else s for d, s in zip(padded, c_strides(padded), strict=True)]
    return _copy(in_types, block(0, strides, 0, c_strides(out), out))


kernel("broadcast_to", backend="cpu")(lambda attrs, ins, outs: _broadcast(ins, outs))
kernel("broadcast_like", backend="cpu")(lambda attrs, ins, outs: _broadcast(ins, outs))


@kernel("transpose", backend="cpu")
def bind_transpose(attrs: Mapping[str, Any], in_types: Sequence[Type],
                   out_types: Sequence[Type]) -> CpuKernel:  # fmt: skip
    strides = c_strides(in_types[0][1])
    out = out_types[0][1]
    return _copy(in_types, block(0, [strides[p] for p in attrs["perm"]], 0, c_strides(out), out))


@kernel("tile", backend="cpu")
def bind_tile(attrs: Mapping[str, Any], in_types: Sequence[Type], out_types: Sequence[Type]
              ) -> CpuKernel:  # fmt: skip
    """The output seen as [m0, d0, m1, d1, ...]: x read with stride 0 along each m."""
    shape, out = in_types[0][1], out_types[0][1]
    src, dst, dims = [], [], []
    for m, d, xs, os in zip(attrs["multiples"], shape, c_strides(shape), c_strides(out),
                            strict=True):  # fmt: skip
        src += [0, xs]
        dst += [d * os, os]
        dims += [m, d]
    return _copy(in_types, block(0, src, 0, dst, dims))


# -- slices, pad -------------------------------------------------------------------------------


def slice_view(spec: tuple, shape: Sequence[int]) -> tuple[int, Shape, Shape]:
    """x[spec] as (offset, strides, shape) over the flat x of `shape` (index spec entries:
    int, (start, stop, step), "newaxis", "...")."""
    used = sum(1 for e in spec if e not in ("newaxis", "..."))
    at = spec.index("...") if "..." in spec else len(spec)
    full = (*spec[:at], *[(None, None, None)] * (len(shape) - used), *spec[at + 1 :])
    strides = c_strides(shape)
    offset, out_strides, out_shape = 0, [], []
    axis = 0
    for e in full:
        if e == "newaxis":
            out_strides.append(0)
            out_shape.append(1)
            continue
        size, stride = shape[axis], strides[axis]
        if isinstance(e, tuple):
            start, stop, step = slice(*e).indices(size)
            out_shape.append(len(range(start, stop, step)))
            out_strides.append(stride * step)
            offset += start * stride if out_shape[-1] else 0
        else:
            offset += (e % size) * stride
        axis += 1
    return offset, tuple(out_strides), tuple(out_shape)


@kernel("strided_slice", backend="cpu")
def bind_strided_slice(attrs: Mapping[str, Any], in_types: Sequence[Type],
                       out_types: Sequence[Type]) -> CpuKernel:  # fmt: skip
    offset, strides, shape = slice_view(attrs["spec"], in_types[0][1])
    return _copy(in_types, block(offset, strides, 0, c_strides(shape), shape))


@kernel("strided_slice_grad", backend="cpu")
def bind_strided_slice_grad(attrs: Mapping[str, Any], in_types: Sequence[Type],
                            out_types: Sequence[Type]) -> CpuKernel:  # fmt: skip
    """Zeros with g written where x[spec] reads."""
    offset, strides, shape = slice_view(attrs["spec"], in_types[1][1])
    copy = block(0, c_strides(shape), offset, strides, shape)
    return _copy(in_types, copy, _typed(0, out_types[0][0]))


@kernel("pad", backend="cpu")
def bind_pad(attrs: Mapping[str, Any], in_types: Sequence[Type], out_types: Sequence[Type]
             ) -> CpuKernel:  # fmt: skip
    (dtype, out), shape = out_types[0], in_types[0][1]
    strides = c_strides(out)
    offset = sum(before * s for (before, _), s in zip(attrs["paddings"], strides, strict=True))
    copy = block(0, c_strides(shape), offset, strides, shape)
    return _copy(in_types, copy, _typed(attrs["constant_values"], dtype))


# -- concat, pack, split -----------------------------------------------------------------------


def _joined(parts: Sequence[Shape], axis: int, whole: Shape, into: bool) -> list[Copy]:
    """Copies between consecutive blocks `parts` along `axis` of `whole` and the parts (into
    whole when `into`, else out of it)."""
    strides = c_strides(whole)
    copies, start = [], 0
    for part in parts:
        inside = (start * strides[axis], strides)
        own = (0, c_strides(part))
        src, dst = (own, inside) if into else (inside, own)
        copies.append(block(*src, *dst, part))
        start += part[axis]
    return copies


@kernel("concat", backend="cpu")
def bind_concat(attrs: Mapping[str, Any], in_types: Sequence[Type], out_types: Sequence[Type]
                ) -> CpuKernel:  # fmt: skip
    out = out_types[0][1]
    axis = attrs["axis"] % len(out)
    copies = _joined([s for _, s in in_types], axis, out, into=True)
    return copies_kernel(len(in_types), 1, [(i, 0) for i in range(len(in_types))], copies)


@kernel("pack", backend="cpu")
def bind_pack(attrs: Mapping[str, Any], in_types: Sequence[Type], out_types: Sequence[Type]
              ) -> CpuKernel:  # fmt: skip
    """concat of the inputs seen with a size-1 axis at `axis`."""
    out = out_types[0][1]
    axis = attrs["axis"] % len(out)
    parts = [(*s[:axis], 1, *s[axis:]) for _, s in in_types]
    copies = _joined(parts, axis, out, into=True)
    return copies_kernel(len(in_types), 1, [(i, 0) for i in range(len(in_types))], copies)


def _pieces(in_types: Sequence[Type], out_types: Sequence[Type], axis: int) -> CpuKernel:
    """Input 0 cut along `axis` into the outputs."""
    whole = in_types[0][1]
    copies = _joined([s for _, s in out_types], axis % len(whole), whole, into=False)
    return copies_kernel(len(in_types), len(out_types), [(0, j) for j in range(len(out_types))],
                         copies)  # fmt: skip


kernel("split", backend="cpu")(lambda attrs, ins, outs: _pieces(ins, outs, attrs["axis"]))
kernel("concat_grad", backend="cpu")(lambda attrs, ins, outs: _pieces(ins, outs, attrs["axis"]))


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


def _around(shape: Sequence[int], axis: int) -> tuple[int, int, int]:
    """(elements before `axis`, its size, elements after)."""
    return (int(np.prod(shape[:axis], dtype=np.int64)), shape[axis],
            int(np.prod(shape[axis + 1 :], dtype=np.int64)))  # fmt: skip


@kernel("gather", backend="cpu")
def bind_gather(attrs: Mapping[str, Any], in_types: Sequence[Type], out_types: Sequence[Type]
                ) -> CpuKernel:  # fmt: skip
    shape = in_types[0][1]
    return CpuKernel(gather, _around(shape, attrs["axis"] % len(shape)))


@kernel("gather_grad", backend="cpu")
def bind_gather_grad(attrs: Mapping[str, Any], in_types: Sequence[Type],
                     out_types: Sequence[Type]) -> CpuKernel:  # fmt: skip
    shape = in_types[2][1]
    return CpuKernel(gather_grad, _around(shape, attrs["axis"] % len(shape)))


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
    outer, depth, inner = _around(out, attrs["axis"] % len(out))
    on, off = (_typed(attrs[k], dtype) for k in ("on_value", "off_value"))
    return CpuKernel(one_hot, (outer, depth, inner, on, off))
