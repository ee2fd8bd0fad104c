"""CPU kernels of matmul, the reductions (reduce_*, sum_to_like) and argmax/argmin.

matmul calls BLAS through np.dot inside Numba (scipy's BLAS), batch by batch, with the batch
axes broadcast by strides. A reduction is generated from the scalar template of its combining
op (add, multiply, maximum, ...) as one loop nest over the input, collapsed to alternating kept
and reduced axes; it accumulates in a scratch array (float64 for float sums and products,
int64 for integer ones) and writes the output once at the end.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numba import njit

from graphnet.backends.cpu.cache import load_source
from graphnet.backends.cpu.expr import DECORATOR, PRELUDE, Emitter, literal
from graphnet.backends.cpu.kernel import CpuKernel
from graphnet.backends.registry import BackendError, kernel

Type = tuple[str, tuple[int, ...]]

# -- matmul ----------------------------------------------------------------------------------


@njit(cache=True)
def gemm(x, y, o, ta, tb):  # type: ignore[no-untyped-def]
    """o = op(x) @ op(y) for 2-D x, y, o; op transposes where ta / tb."""
    if ta and tb:
        np.dot(x.T, y.T, o)
    elif ta:
        np.dot(x.T, y, o)
    elif tb:
        np.dot(x, y.T, o)
    else:
        np.dot(x, y, o)


@njit(cache=True)
def batch_offsets(j, batch, sa, sb):  # type: ignore[no-untyped-def]
    """The a and b batch indices of output batch j (broadcast axes have stride 0)."""
    ia = 0
    ib = 0
    for d in range(len(batch) - 1, -1, -1):
        k = j % batch[d]
        j //= batch[d]
        ia += k * sa[d]
        ib += k * sb[d]
    return ia, ib


@njit(cache=True)
def matmul(a, b, out, ta, tb, a3, b3, o3, batch, sa, sb):  # type: ignore[no-untyped-def]
    x = a.reshape(a3)
    y = b.reshape(b3)
    o = out.reshape(o3)
    for j in range(o3[0]):
        ia, ib = batch_offsets(j, batch, sa, sb)
        gemm(x[ia], y[ib], o[j], ta, tb)


def matmul_args(attrs: Mapping[str, Any], in_types: Sequence[Type], out_type: Type) -> tuple:
    """(ta, tb, a3, b3, o3, batch, sa, sb): the operands as stacks of matrices and, per output
    batch axis, its size and the operands' batch strides (0 where they broadcast)."""
    (da, sa_), (db, sb_), (do, so) = in_types[0], in_types[1], out_type
    if not (da == db == do and np.dtype(do).kind == "f"):
        raise BackendError(f"matmul of {da} and {db}: BLAS needs float operands")
    batch = so[:-2] or (1,)
    strides = []
    for shape in (sa_, sb_):
        dims = (1,) * (len(batch) - len(shape[:-2])) + tuple(shape[:-2])
        stride, out = 1, []
        for d in reversed(dims):
            out.append(0 if d == 1 else stride)
            stride *= d
        strides.append(tuple(reversed(out)))
    count = int(np.prod(batch))
    stacks = tuple((int(np.prod(s[:-2], dtype=np.int64)), *s[-2:]) for s in (sa_, sb_, so))
    return (bool(attrs["transpose_a"]), bool(attrs["transpose_b"]), *stacks[:2],
            (count, *so[-2:]), tuple(batch), *strides)  # fmt: skip


@kernel("matmul", backend="cpu")
def bind_matmul(attrs: Mapping[str, Any], in_types: Sequence[Type], out_types: Sequence[Type]
                ) -> CpuKernel:  # fmt: skip
    return CpuKernel(matmul, matmul_args(attrs, in_types, out_types[0]))


# -- reductions ------------------------------------------------------------------------------

#: reduce op -> the elementwise op that combines two partial results.
_COMBINE = {
    "reduce_sum": "add", "reduce_mean": "add", "reduce_prod": "multiply",
    "reduce_max": "maximum", "reduce_min": "minimum", "reduce_all": "logical_and",
    "reduce_any": "logical_or", "sum_to_like": "add",
}  # fmt: skip


def _accumulator(op: str, dtype: str) -> tuple[str, object]:
    """(accumulator dtype, initial value) of a reduction over `dtype`."""
    kind = np.dtype(dtype).kind
    if op in ("reduce_all", "reduce_any"):
        return "bool", op == "reduce_all"
    if op in ("reduce_max", "reduce_min"):
        big = np.inf if kind == "f" else np.iinfo(dtype).max
        return dtype, -big if op == "reduce_max" else big
    return ("float64" if kind == "f" else "int64"), int(op == "reduce_prod")


def reduce_pattern(
    shape: Sequence[int], axes: set[int]
) -> tuple[tuple[int, ...], tuple[bool, ...]]:
    """The input shape collapsed (size-1 axes dropped, neighbours of one kind merged) and which
    collapsed axes are reduced."""
    dims: list[int] = []
    reduced: list[bool] = []
    for d, size in enumerate(shape):
        if size == 1:
            continue
        if reduced and reduced[-1] == (d in axes):
            dims[-1] *= size
        else:
            dims.append(size)
            reduced.append(d in axes)
    return (tuple(dims), tuple(reduced)) if dims else ((1,), (False,))


def reduce_source(combine: str, acc_dtype: str, reduced: Sequence[bool], num_inputs: int,
                  finish: str) -> str:  # fmt: skip
    """Source of `kernel(in0, ..., out, acc, shape, init)`: in0 (viewed at the collapsed
    `shape`) combined into acc along the reduced axes, then `finish` of each accumulated value
    (a template of {0}) stored into out."""
    ndim = len(reduced)
    kept = ", ".join("1" if r else f"n{d}" for d, r in enumerate(reduced))
    index = ", ".join("0" if r else f"i{d}" for d, r in enumerate(reduced))
    emitter = Emitter(lambda i: ("s", "x")[i], [acc_dtype, acc_dtype])
    value, _ = emitter.emit((combine, (), ("in", 0), ("in", 1)))
    params = ", ".join([*(f"in{i}" for i in range(num_inputs)), "out", "acc", "shape", "init"])
    lines = [PRELUDE, "", DECORATOR, f"def kernel({params}):"]
    lines += [f"    n{d} = shape[{d}]" for d in range(ndim)]
    lines += [
        f"    a = in0.reshape(({', '.join(f'n{d}' for d in range(ndim))},))",
        "    acc[:] = init",
        f"    c = acc.reshape(({kept},))",
    ]
    inner_reduced = reduced[-1]
    for d in range(ndim):
        pad = "    " * (d + 1)
        if d == ndim - 1 and inner_reduced:
            lines.append(f"{pad}s = c[{index}]")
        lines.append(f"{pad}for i{d} in range(n{d}):")
    pad = "    " * (ndim + 1)
    if not inner_reduced:
        lines.append(f"{pad}s = c[{index}]")
    lines.append(f"{pad}x = a[{', '.join(f'i{d}' for d in range(ndim))}]")
    lines += [pad + line for line in emitter.lines]
    lines.append(f"{pad}s = {value}")
    if not inner_reduced:
        lines.append(f"{pad}c[{index}] = s")
    else:
        lines.append(f"{'    ' * ndim}c[{index}] = s")
    lines += [
        "    o = out.reshape(out.size)",
        "    for k in range(o.size):",
        f"        o[k] = {finish.format('acc[k]')}",
    ]
    return "\n".join(lines) + "\n"


def reduction_kernel(op: str, in_types: Sequence[Type], out_type: Type, axes: set[int]
                     ) -> CpuKernel:  # fmt: skip
    """The kernel reducing input 0 over `axes` into the output (any shape of the kept size)."""
    dtype, shape = in_types[0]
    dims, reduced = reduce_pattern(shape, axes)
    count = int(np.prod([s for d, s in enumerate(shape) if d in axes], dtype=np.int64))
    if count == 0 and op in ("reduce_max", "reduce_min"):
        raise BackendError(f"{op} over an empty axis has no identity")
    acc_dtype, init = _accumulator(op, dtype)
    finish = f"{{0}} / {literal(count, 'float64')}" if op == "reduce_mean" else "{0}"
    source = reduce_source(_COMBINE[op], acc_dtype, reduced, len(in_types), finish)
    size = int(np.prod(out_type[1], dtype=np.int64))
    return CpuKernel(load_source("reduce", source).kernel, (dims, init), ((acc_dtype, (size,)),))


def reduced_axes(attrs: Mapping[str, Any], shape: Sequence[int]) -> set[int]:
    """The axes a reduce_* op reduces (attrs["axis"]; None: all)."""
    ndim = len(shape)
    return set(range(ndim)) if attrs["axis"] is None else {a % ndim for a in attrs["axis"]}


def broadcast_axes(g: Sequence[int], like: Sequence[int]) -> set[int]:
    """The axes of g that broadcasting `like` to g's shape added or stretched from 1 (what
    sum_to_like sums over)."""
    extra = len(g) - len(like)
    return set(range(extra)) | {
        d + extra for d, size in enumerate(like) if size == 1 and g[d + extra] != 1
    }


def _reduction_binder(op: str) -> Any:
    def bind(attrs: Mapping[str, Any], in_types: Sequence[Type], out_types: Sequence[Type]
             ) -> CpuKernel:  # fmt: skip
        return reduction_kernel(op, in_types, out_types[0], reduced_axes(attrs, in_types[0][1]))

    bind.__name__ = bind.__qualname__ = op
    return bind


for _op in _COMBINE:
    if _op != "sum_to_like":
        kernel(_op, backend="cpu")(_reduction_binder(_op))


@kernel("sum_to_like", backend="cpu")
def bind_sum_to_like(attrs: Mapping[str, Any], in_types: Sequence[Type],
                     out_types: Sequence[Type]) -> CpuKernel:  # fmt: skip
    axes = broadcast_axes(in_types[0][1], in_types[1][1])
    return reduction_kernel("sum_to_like", in_types, out_types[0], axes)


# -- argmax / argmin ---------------------------------------------------------------------------


@njit(cache=True)
def arg_extremum(x, out, shape, sign):  # type: ignore[no-untyped-def]
    """Index along axis 1 of x viewed as `shape` (outer, n, inner) of the largest sign * x; the
    first NaN wins, as in NumPy."""
    a = x.reshape(shape)
    o = out.reshape((shape[0], shape[2]))
    for p in range(shape[0]):
        for q in range(shape[2]):
            best = a[p, 0, q] * sign
            at = 0
            if best == best:
                for j in range(1, shape[1]):
                    v = a[p, j, q] * sign
                    if v > best or v != v:
                        best = v
                        at = j
                        if v != v:
                            break
            o[p, q] = at


def _arg_binder(sign: int) -> Any:
    def bind(attrs: Mapping[str, Any], in_types: Sequence[Type], out_types: Sequence[Type]
             ) -> CpuKernel:  # fmt: skip
        shape = in_types[0][1]
        axis = attrs["axis"] % len(shape)
        if shape[axis] == 0:
            raise BackendError("an arg-reduction over an empty axis has no result")
        outer = int(np.prod(shape[:axis], dtype=np.int64))
        inner = int(np.prod(shape[axis + 1 :], dtype=np.int64))
        return CpuKernel(arg_extremum, ((outer, shape[axis], inner), sign))

    return bind


kernel("argmax", backend="cpu")(_arg_binder(1))
kernel("argmin", backend="cpu")(_arg_binder(-1))
