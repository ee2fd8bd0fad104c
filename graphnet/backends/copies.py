"""What the data-movement ops copy, planned once for every compiled backend.

reshape and its kin, transpose, broadcasts, slices and their gradients, pad, tile, concat, pack
and split move elements without computing. Each is planned here as a `CopyPlan`: a few strided
block copies — (source offset, source strides, destination offset, destination strides, shape)
in elements over the flat buffers, axes merged where both sides are contiguous — from an input
to an output, after filling the output with a value (pad, the slice gradient). The CPU and CUDA
backends each run a plan with kernels of their own (cpu.array, cuda.array).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Type = tuple[str, tuple[int, ...]]
Shape = tuple[int, ...]
#: One strided copy: (src offset, src strides, dst offset, dst strides, shape), in elements.
Copy = tuple[int, Shape, int, Shape, Shape]


@dataclass(frozen=True)
class CopyPlan:
    """copies[k] goes from input pairs[k][0] to output pairs[k][1], after every output is
    filled with `fill` (unless it is None)."""

    pairs: tuple[tuple[int, int], ...]
    copies: tuple[Copy, ...]
    fill: object = None


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


def typed_scalar(value: object, dtype: str) -> object:
    """A Python scalar of the kind `dtype` stores (Numba types literals by Python type)."""
    kind = np.dtype(dtype).kind
    return bool(value) if kind == "b" else int(value) if kind in "iu" else float(value)  # type: ignore[arg-type]


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


def _one(copy: Copy, fill: object = None) -> CopyPlan:
    """One copy from input 0 into output 0."""
    return CopyPlan(((0, 0),), (copy,), fill)


def _flat(attrs: Mapping[str, Any], ins: Sequence[Type], outs: Sequence[Type]) -> CopyPlan:
    """The output is the input's elements in order (reshape and its kin)."""
    return _one(block(0, (1,), 0, (1,), (int(np.prod(outs[0][1], dtype=np.int64)),)))


def _broadcast(attrs: Mapping[str, Any], ins: Sequence[Type], outs: Sequence[Type]) -> CopyPlan:
    """Input 0 broadcast to the output's shape: stride 0 along the stretched axes."""
    shape, out = ins[0][1], outs[0][1]
    padded = (1,) * (len(out) - len(shape)) + tuple(shape)
    strides = [0 if d == 1 else s for d, s in zip(padded, c_strides(padded), strict=True)]
    return _one(block(0, strides, 0, c_strides(out), out))


def _transpose(attrs: Mapping[str, Any], ins: Sequence[Type], outs: Sequence[Type]) -> CopyPlan:
    strides, out = c_strides(ins[0][1]), outs[0][1]
    return _one(block(0, [strides[p] for p in attrs["perm"]], 0, c_strides(out), out))


def _tile(attrs: Mapping[str, Any], ins: Sequence[Type], outs: Sequence[Type]) -> CopyPlan:
    """The output seen as [m0, d0, m1, d1, ...]: x read with stride 0 along each m."""
    shape, out = ins[0][1], outs[0][1]
    src, dst, dims = [], [], []
    for m, d, xs, os in zip(attrs["multiples"], shape, c_strides(shape), c_strides(out),
                            strict=True):  # fmt: skip
        src += [0, xs]
        dst += [d * os, os]
        dims += [m, d]
    return _one(block(0, src, 0, dst, dims))


def _strided_slice(attrs: Mapping[str, Any], ins: Sequence[Type], outs: Sequence[Type]
                   ) -> CopyPlan:  # fmt: skip
    offset, strides, shape = slice_view(attrs["spec"], ins[0][1])
    return _one(block(offset, strides, 0, c_strides(shape), shape))


def _strided_slice_grad(attrs: Mapping[str, Any], ins: Sequence[Type], outs: Sequence[Type]
                        ) -> CopyPlan:  # fmt: skip
    """Zeros with g written where x[spec] reads."""
    offset, strides, shape = slice_view(attrs["spec"], ins[1][1])
    copy = block(0, c_strides(shape), offset, strides, shape)
    return _one(copy, typed_scalar(0, outs[0][0]))


def _pad(attrs: Mapping[str, Any], ins: Sequence[Type], outs: Sequence[Type]) -> CopyPlan:
    (dtype, out), shape = outs[0], ins[0][1]
    strides = c_strides(out)
    offset = sum(before * s for (before, _), s in zip(attrs["paddings"], strides, strict=True))
    copy = block(0, c_strides(shape), offset, strides, shape)
    return _one(copy, typed_scalar(attrs["constant_values"], dtype))


def _joined(parts: Sequence[Shape], axis: int, whole: Shape, into: bool) -> tuple[Copy, ...]:
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
    return tuple(copies)


def _concat(attrs: Mapping[str, Any], ins: Sequence[Type], outs: Sequence[Type]) -> CopyPlan:
    out = outs[0][1]
    copies = _joined([s for _, s in ins], attrs["axis"] % len(out), out, into=True)
    return CopyPlan(tuple((i, 0) for i in range(len(ins))), copies)


def _pack(attrs: Mapping[str, Any], ins: Sequence[Type], outs: Sequence[Type]) -> CopyPlan:
    """concat of the inputs seen with a size-1 axis at `axis`."""
    out = outs[0][1]
    axis = attrs["axis"] % len(out)
    copies = _joined([(*s[:axis], 1, *s[axis:]) for _, s in ins], axis, out, into=True)
    return CopyPlan(tuple((i, 0) for i in range(len(ins))), copies)


def _pieces(attrs: Mapping[str, Any], ins: Sequence[Type], outs: Sequence[Type]) -> CopyPlan:
    """Input 0 cut along `axis` into the outputs (split, concat_grad)."""
    whole = ins[0][1]
    copies = _joined([s for _, s in outs], attrs["axis"] % len(whole), whole, into=False)
    return CopyPlan(tuple((0, j) for j in range(len(outs))), copies)


Planner = Callable[[Mapping[str, Any], Sequence[Type], Sequence[Type]], CopyPlan]

#: op -> its planner (attrs, input types, output types) -> CopyPlan.
COPY_PLANS: Mapping[str, Planner] = {
    "reshape": _flat, "expand_dims": _flat, "squeeze": _flat, "placeholder_with_default": _flat,
    "broadcast_to": _broadcast, "broadcast_like": _broadcast, "transpose": _transpose,
    "tile": _tile, "strided_slice": _strided_slice, "strided_slice_grad": _strided_slice_grad,
    "pad": _pad, "concat": _concat, "pack": _pack, "split": _pieces, "concat_grad": _pieces,
}  # fmt: skip
