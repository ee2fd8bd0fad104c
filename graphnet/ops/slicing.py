"""Slicing ops: basic indexing (Tensor.__getitem__), strided_slice, slice, reverse, pad, tile."""

from __future__ import annotations

import builtins
from collections.abc import Sequence

import numpy as np

from graphnet.ir import Node, ShapeError, Tensor
from graphnet.ir.types import (
    format_shape,
    merge_shapes,
)
from graphnet.ops.array import concat, dims_of, reshape
from graphnet.ops.core import (
    TensorLike,
    apply_op1,
    convert_to_tensor,
    normalize_axis,
    static_array,
    static_ints,
)
from graphnet.ops.registry import define_op

Grads = Sequence[Tensor | None]

# -- slicing ----------------------------------------------------------------------------------

# An index spec is a tuple of entries: an int (picks one element, drops the axis), a
# (start, stop, step) triple of ints or None (a Python slice), _NEWAXIS or _ELLIPSIS.
newaxis = None  # x[:, gn.newaxis], as tf.newaxis
_NEWAXIS = "newaxis"
_ELLIPSIS = "..."
_FULL = (None, None, None)


def _index_int(value: object, key: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(
            f"tensor index {key!r}: only Python ints, slices, Ellipsis and None (newaxis) are "
            f"supported, got {value!r}; use gn.gather for tensors of indices"
        )
    return int(value)


def _index_spec(key: object) -> tuple:
    """The frozen index spec of a Python key (x[1:, ::-1, None, ..., 0])."""
    spec: list = []
    for k in key if isinstance(key, tuple) else (key,):
        if k is Ellipsis:
            spec.append(_ELLIPSIS)
        elif k is None:
            spec.append(_NEWAXIS)
        elif isinstance(k, builtins.slice):
            spec.append(
                tuple(None if v is None else _index_int(v, key) for v in (k.start, k.stop, k.step))
            )
        else:
            spec.append(_index_int(k, key))
    return tuple(spec)


def _format_index(spec: tuple) -> str:
    def entry(e: object) -> str:
        if e == _NEWAXIS:
            return "None"
        if isinstance(e, tuple):
            start, stop, step = ("" if v is None else str(v) for v in e)
            return f"{start}:{stop}" + (f":{step}" if step else "")
        return str(e)

    return "[" + ", ".join(entry(e) for e in spec) + "]"


def _sliced_shape(shape_: tuple | None, spec: tuple) -> tuple | None:
    """The static shape of x[spec]; raises ShapeError for a spec that cannot index `shape_`."""
    if spec.count(_ELLIPSIS) > 1:
        raise ShapeError(f"index {_format_index(spec)} has more than one Ellipsis")
    if any(isinstance(e, tuple) and e[2] == 0 for e in spec):
        raise ShapeError(f"index {_format_index(spec)} has a slice step of 0")
    if shape_ is None:
        return None
    used = sum(1 for e in spec if e not in (_NEWAXIS, _ELLIPSIS))
    if used > len(shape_):
        raise ShapeError(
            f"index {_format_index(spec)} indexes {used} axes; the input has rank {len(shape_)}"
        )
    at = spec.index(_ELLIPSIS) if _ELLIPSIS in spec else len(spec)
    full = (*spec[:at], *[_FULL] * (len(shape_) - used), *spec[at + 1 :])
    out: list[int | None] = []
    axis = 0
    for e in full:
        if e == _NEWAXIS:
            out.append(1)
            continue
        d = shape_[axis]
        if isinstance(e, tuple):
            out.append(None if d is None else len(range(*builtins.slice(*e).indices(d))))
        elif d is not None and not -d <= e < d:
            raise ShapeError(f"index {e} is out of range for axis {axis} of size {d}")
        axis += 1
    return tuple(out)


def _strided_slice_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    x = inputs[0]
    return [(x.dtype, _sliced_shape(x.shape, attrs["spec"]))]


@define_op("strided_slice", _strided_slice_infer, fusion_kind="injective",
           doc="x[spec]: NumPy basic indexing by a frozen index spec.")  # fmt: skip
def _strided_slice_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    spec = node.attrs["spec"]
    return [apply_op1("strided_slice_grad", [grads[0], node.inputs[0]], {"spec": spec})]


def _strided_slice_grad_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    g, x = inputs
    try:
        merge_shapes(g.shape, _sliced_shape(x.shape, attrs["spec"]))
    except ShapeError:
        raise ShapeError(
            f"gradient {g.name} has shape {format_shape(g.shape)}; expected "
            f"{format_shape(_sliced_shape(x.shape, attrs['spec']))}, the shape of "
            f"x{_format_index(attrs['spec'])}"
        ) from None
    return [(g.dtype, x.shape)]


@define_op(
    "strided_slice_grad",
    _strided_slice_grad_infer,
    doc="Zeros shaped like x with g written where x[spec] reads (strided_slice's gradient).",
)
def _strided_slice_grad_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    return [_strided_slice(grads[0], node.attrs["spec"]), None]


def _strided_slice(x: TensorLike, spec: tuple, name: str | None = None) -> Tensor:
    return apply_op1("strided_slice", [x], {"spec": spec}, name=name)


def tensor_getitem(x: TensorLike, key: object) -> Tensor:
    """x[key] for basic indexing: ints, slices with steps, Ellipsis and None (newaxis)."""
    return _strided_slice(x, _index_spec(key))


def strided_slice(
    input_: TensorLike,
    begin: TensorLike,
    end: TensorLike,
    strides: TensorLike | None = None,
    begin_mask: int = 0,
    end_mask: int = 0,
    ellipsis_mask: int = 0,
    new_axis_mask: int = 0,
    shrink_axis_mask: int = 0,
    name: str | None = None,
) -> Tensor:
    """input_[begin:end:strides] per axis, the masks as in TF (bit i is entry i): begin/end
    masks drop that bound, ellipsis, new-axis and shrink-axis masks make entry i `...`, `None`
    and the int begin[i]."""
    starts, stops = static_ints(begin, "begin"), static_ints(end, "end")
    steps = (1,) * len(starts) if strides is None else static_ints(strides, "strides")
    if not len(starts) == len(stops) == len(steps):
        raise ShapeError(
            f"begin {list(starts)}, end {list(stops)} and strides {list(steps)} differ in length"
        )
    spec: list = []
    for i, (b, e, s) in enumerate(zip(starts, stops, steps, strict=True)):
        bit = 1 << i
        if ellipsis_mask & bit:
            spec.append(_ELLIPSIS)
        elif new_axis_mask & bit:
            spec.append(_NEWAXIS)
        elif shrink_axis_mask & bit:
            spec.append(b)
        else:
            spec.append((None if begin_mask & bit else b, None if end_mask & bit else e, s))
    return _strided_slice(input_, tuple(spec), name=name)


def slice(  # noqa: A001 - TF's name
    input_: TensorLike, begin: TensorLike, size: TensorLike, name: str | None = None
) -> Tensor:
    """The block of `input_` starting at `begin` with extent `size` per axis (-1: to the end)."""
    x = convert_to_tensor(input_)
    starts, sizes = static_ints(begin, "begin"), static_ints(size, "size")
    given = f"begin {list(starts)} and size {list(sizes)}"
    rank = len(starts) if x.shape is None else len(x.shape)
    if len(starts) != rank or len(sizes) != rank:
        raise ShapeError(f"slice of {x.name}: {given} must both have length {rank}, its rank")
    for b, s, d in zip(starts, sizes, x.shape or (None,) * rank, strict=True):
        if b < 0 or s < -1 or (d is not None and (b > d or (s != -1 and b + s > d))):
            raise ShapeError(f"slice of {x.name} {format_shape(x.shape)}: {given} out of range")
    spec = tuple((b, None if s == -1 else b + s, 1) for b, s in zip(starts, sizes, strict=True))
    return _strided_slice(x, spec, name=name)


def reverse(tensor: TensorLike, axis: TensorLike, name: str | None = None) -> Tensor:
    """`tensor` with the order of its elements reversed along each axis in `axis`."""
    x = convert_to_tensor(tensor)
    axes = static_ints(axis, "axis")
    if x.shape is not None:
        axes = tuple(normalize_axis(a, len(x.shape)) for a in axes)
    elif any(a < 0 for a in axes):
        raise ShapeError(f"reverse of {x.name} (unknown rank) needs non-negative axes, got {axes}")
    if len(set(axes)) != len(axes):
        raise ShapeError(f"reverse axes {list(axes)} repeat an axis")
    spec = tuple((None, None, -1) if i in axes else _FULL for i in range(max(axes, default=-1) + 1))
    return _strided_slice(x, spec, name=name)


# -- pad, tile --------------------------------------------------------------------------------


def _pad_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    x, paddings = inputs[0], attrs["paddings"]
    if x.shape is None:
        return [(x.dtype, None)]
    if len(paddings) != len(x.shape):
        raise ShapeError(
            f"paddings has {len(paddings)} rows; expected {len(x.shape)}, one [before, after] "
            "pair per input dim"
        )
    padded = (None if d is None else d + a + b for d, (a, b) in zip(x.shape, paddings, strict=True))
    return [(x.dtype, tuple(padded))]


@define_op("pad", _pad_infer, fusion_kind="injective",
           doc="x with constant_values added before and after each axis.")  # fmt: skip
def _pad_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    return [_strided_slice(grads[0], tuple((a, -b or None, 1) for a, b in node.attrs["paddings"]))]


def _mirror_pad(x: Tensor, paddings: tuple, mode: str) -> Tensor:
    """REFLECT (edge not repeated) or SYMMETRIC (edge repeated) padding as slices + concat."""
    edge = 1 if mode == "REFLECT" else 0
    for axis, (before, after) in enumerate(paddings):
        d = None if x.shape is None else x.shape[axis]
        if d is not None and max(before, after) > d - edge:
            raise ShapeError(
                f"{mode} padding {[before, after]} of axis {axis} of {x.name} exceeds {d - edge}, "
                f"the most its size {d} allows"
            )
        lead = (_FULL,) * axis
        parts = [x]
        if before:
            parts.insert(
                0, _strided_slice(x, (*lead, (before - 1 + edge, 0 if edge else None, -1)))
            )
        if after:
            parts.append(_strided_slice(x, (*lead, (-1 - edge, -after - 1 - edge, -1))))
        x = concat(parts, axis)
    return x


def pad(
    tensor: TensorLike,
    paddings: TensorLike,
    mode: str = "CONSTANT",
    name: str | None = None,
    constant_values: TensorLike = 0,
) -> Tensor:
    """`tensor` padded by paddings[i] = [before, after] along axis i; mode CONSTANT (with
    constant_values), REFLECT or SYMMETRIC."""
    x = convert_to_tensor(tensor)
    pads = static_array(paddings, "paddings")
    if pads.ndim != 2 or pads.shape[1] != 2 or (pads.size and pads.min() < 0):
        raise ShapeError(
            f"paddings of {x.name} must be [rank, 2] non-negative ints, got {pads.tolist()}"
        )
    rows = tuple((int(a), int(b)) for a, b in pads)
    mode = mode.upper()
    if mode == "CONSTANT":
        value = static_array(constant_values, "constant_values").item()
        return apply_op1("pad", [x], {"paddings": rows, "constant_values": value}, name=name)
    if mode not in ("REFLECT", "SYMMETRIC"):
        raise ValueError(f"pad mode must be CONSTANT, REFLECT or SYMMETRIC, got {mode!r}")
    with x.graph.name_scope(name or "MirrorPad"):
        return _mirror_pad(x, rows, mode)


def _tile_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    x, multiples = inputs[0], attrs["multiples"]
    if any(m < 0 for m in multiples):
        raise ShapeError(f"multiples {list(multiples)} must be non-negative")
    if x.shape is None:
        return [(x.dtype, None)]
    if len(multiples) != len(x.shape):
        raise ShapeError(
            f"multiples {list(multiples)} has length {len(multiples)}; expected "
            f"{len(x.shape)}, one per input dim"
        )
    tiled = (None if d is None else d * m for d, m in zip(x.shape, multiples, strict=True))
    return [(x.dtype, tuple(tiled))]


@define_op("tile", _tile_infer, fusion_kind="injective",
           doc="x repeated multiples[i] times along axis i.")  # fmt: skip
def _tile_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    """Each tile's gradient summed: g seen as [m0, d0, m1, d1, ...], reduced over the m's."""
    from graphnet.ops.math import reduce_sum

    multiples = node.attrs["multiples"]
    dims = dims_of(node.inputs[0], len(multiples))
    tiles = reshape(grads[0], [v for m, d in zip(multiples, dims, strict=True) for v in (m, d)])
    return [reduce_sum(tiles, axis=tuple(range(0, 2 * len(multiples), 2)))]


def tile(input: TensorLike, multiples: TensorLike, name: str | None = None) -> Tensor:
    """`input` repeated multiples[i] times along axis i."""
    reps = static_ints(multiples, "multiples")
    return apply_op1("tile", [input], {"multiples": reps}, name=name)


__all__ = ["newaxis", "pad", "reverse", "slice", "strided_slice", "tile"]
