"""ONNX -> graphnet converters: shapes, reshapes, transposes, joins, slicing, padding,
constants and gathers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from graphnet.export.onnx import layout as lay
from graphnet.export.onnx.importer import (
    Importer,
    ModelInfo,
    OnnxNode,
    Value,
    converter,
)
from graphnet.ir import ShapeError, Tensor
from graphnet.ir.types import int64
from graphnet.ops import array as a, math as m, slicing as s
from graphnet.ops.core import constant


@converter("Reshape", static=(1,))
def _reshape(ctx: Importer, node: OnnxNode) -> list[Tensor]:
    """A 0 in the target copies the input's dim unless `allowzero` (opset 14+)."""
    x = ctx.tensor(node.inputs[0])
    target = ctx.static_ints(node, 1)
    dims: list[int | Tensor] = list(target)
    if not node.attr("allowzero", 0):
        for i, d in enumerate(target):
            if d == 0:
                dims[i] = x.shape[i] if x.shape[i] is not None else a.shape(x)[i]
    return [a.reshape(x, dims)]


@converter("Flatten")
def _flatten(ctx: Importer, node: OnnxNode) -> list[Tensor]:
    """To 2-D: the dims before `axis` (default 1) times the rest."""
    x = ctx.tensor(node.inputs[0])
    rank = len(x.shape)
    axis = node.attr("axis", 1)
    axis = axis + rank if axis < 0 else axis
    outer, inner = _product(x.shape[:axis]), _product(x.shape[axis:])
    if outer is None and inner is None:
        raise ShapeError(f"Flatten of {x.name} {list(x.shape)} at axis {axis} needs known dims")
    return [a.reshape(x, [-1 if outer is None else outer, -1 if inner is None else inner])]


def _product(dims: Sequence[int | None]) -> int | None:
    return None if None in dims else int(np.prod(dims, dtype=np.int64))


@converter("Transpose")
def _transpose(ctx: Importer, node: OnnxNode) -> list[Value]:
    """Only relabels the stored axes; a transpose is made where an op needs another order."""
    v = ctx.value(node.inputs[0])
    perm = node.attr("perm") or list(reversed(range(v.rank)))
    return [Value(v.tensor, lay.transposed(v.layout, perm))]


@converter("Concat")
def _concat(ctx: Importer, node: OnnxNode) -> list[Value]:
    values = [ctx.value(i) for i in node.inputs if i]
    target = next((v.layout for v in values if not lay.is_identity(v.layout)), values[0].layout)
    tensors = [ctx.stored(v, target) for v in values]
    if len(tensors) == 1:
        return [values[0]]
    return [Value(a.concat(tensors, lay.stored_axis(target, node.attr("axis"))), target)]


def _axes(ctx: Importer, node: OnnxNode, since: int) -> list[int] | None:
    """Axes given as an attribute before opset `since` and as input 1 from it on."""
    if node.opset >= since:
        return ctx.static_ints(node, 1) if node.has_input(1) else None
    axes = node.attr("axes")
    return None if axes is None else list(axes)


@converter("Squeeze", static=(1,))
def _squeeze(ctx: Importer, node: OnnxNode) -> list[Value]:
    v = ctx.value(node.inputs[0])
    axes = _axes(ctx, node, 13)
    if axes is None:
        if None in v.shape:
            raise ShapeError(f"Squeeze without axes of {v.tensor.name} needs a known shape")
        axes = [i for i, d in enumerate(v.shape) if d == 1]
    axes = sorted({x % v.rank for x in axes})
    stored = [lay.stored_axis(v.layout, x) for x in axes]
    return [Value(a.squeeze(v.tensor, stored), lay.removed(v.layout, axes))]


@converter("Unsqueeze", static=(1,))
def _unsqueeze(ctx: Importer, node: OnnxNode) -> list[Value]:
    """New size-1 axes go next to their logical neighbours, so the stored data only reshapes."""
    v = ctx.value(node.inputs[0])
    axes = _axes(ctx, node, 13) or []
    rank = v.rank + len(axes)
    axes = sorted({x % rank for x in axes})
    out = lay.inserted(v.layout, axes)
    new_positions = [i for i, x in enumerate(out) if x in axes]
    stored_shape = v.tensor.shape
    if None in stored_shape:
        return [Value(a.expand_dims_axes(v.tensor, new_positions), out)]
    dims = iter(stored_shape)
    target = [1 if i in new_positions else next(dims) for i in range(rank)]
    return [Value(a.reshape(v.tensor, target), out)]


@converter("Split", static=(1,))
def _split(ctx: Importer, node: OnnxNode) -> list[Value]:
    """Sizes from `split` (an attribute before opset 13, input 1 after), else equal parts
    (opset 18's num_outputs: the last part may be smaller)."""
    v = ctx.value(node.inputs[0])
    axis = node.attr("axis", 0) % v.rank
    count = len(node.outputs)
    if node.opset >= 13:
        sizes = ctx.static_ints(node, 1) if node.has_input(1) else None
    else:
        sizes = node.attr("split")
    if sizes is None:
        dim = v.shape[axis]
        if dim is None or dim % count == 0:
            sizes = count
        else:
            part = -(-dim // count)
            sizes = [part] * (count - 1) + [dim - part * (count - 1)]
    parts = a.split(v.tensor, sizes, lay.stored_axis(v.layout, axis))
    return [Value(p, v.layout) for p in parts]


def _slice_bounds(start: int, end: int, step: int, dim: int | None) -> tuple:
    """ONNX's clamping of (start, end) for a known dim, as a Python slice; Python's own
    clamping (the same but at the very ends) for an unknown dim."""
    if dim is None:
        return (start, end, step)
    start, end = (i + dim if i < 0 else i for i in (start, end))
    if step > 0:
        return (min(max(start, 0), dim), min(max(end, 0), dim), step)
    start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
    return (max(start, 0), None if end < 0 else end, step)


@converter("Slice", static=(1, 2, 3, 4))
def _slice(ctx: Importer, node: OnnxNode) -> list[Value]:
    """Starts, ends, axes (and steps from opset 10) are attributes before opset 10, inputs
    from it on."""
    v = ctx.value(node.inputs[0])
    if node.opset >= 10:
        starts, ends = ctx.static_ints(node, 1), ctx.static_ints(node, 2)
        axes = ctx.static_ints(node, 3) if node.has_input(3) else list(range(len(starts)))
        steps = ctx.static_ints(node, 4) if node.has_input(4) else [1] * len(starts)
    else:
        starts, ends = list(node.attr("starts")), list(node.attr("ends"))
        axes = list(node.attr("axes", range(len(starts))))
        steps = [1] * len(starts)
    bounds = {x % v.rank: (b, e, st) for x, b, e, st in zip(axes, starts, ends, steps, strict=True)}
    dims = v.shape
    spec = tuple(
        _slice_bounds(*bounds[x], dims[x]) if x in bounds else (None, None, None) for x in v.layout
    )
    return [Value(s.tensor_getitem(v.tensor, tuple(slice(*e) for e in spec)), v.layout)]


def _check_pad(node: OnnxNode, info: ModelInfo) -> list[str]:
    mode = node.attr("mode", "constant")
    return [] if mode in ("constant", "reflect", "edge", "wrap") else [f"mode {mode!r}"]


@converter("Pad", check=_check_pad, static=(1, 2, 3))
def _pad(ctx: Importer, node: OnnxNode) -> list[Value]:
    """pads [x1_begin, x2_begin, ..., x1_end, ...] over all axes or (opset 18) `axes`; an
    attribute with `value` before opset 11. Negative pads crop."""
    v = ctx.value(node.inputs[0])
    if node.opset >= 11:
        pads = ctx.static_ints(node, 1)
        known = ctx.static(node.inputs[2]) if node.has_input(2) else None
        value = 0 if known is None else known.item()
        axes = ctx.static_ints(node, 3) if node.has_input(3) else list(range(v.rank))
    else:
        pads, value, axes = list(node.attr("pads")), node.attr("value", 0.0), range(v.rank)
    half = len(pads) // 2
    logical = {x % v.rank: (pads[i], pads[half + i]) for i, x in enumerate(axes)}
    rows = [logical.get(x, (0, 0)) for x in v.layout]
    x = v.tensor
    if any(p < 0 for row in rows for p in row):  # crop first
        x = s.tensor_getitem(x, tuple(slice(-min(b, 0), min(e, 0) or None) for b, e in rows))
        rows = [(max(b, 0), max(e, 0)) for b, e in rows]
    mode = node.attr("mode", "constant")
    if mode == "constant":
        y = s.pad(x, rows, constant_values=np.asarray(value, dtype=x.dtype.np))
    elif mode == "reflect":
        y = s.pad(x, rows, mode="REFLECT")
    else:
        y = _edge_or_wrap_pad(x, rows, mode)
    return [Value(y, v.layout)]


def _edge_or_wrap_pad(x: Tensor, rows: Sequence[tuple[int, int]], mode: str) -> Tensor:
    """`edge` repeats the border element, `wrap` continues from the other side."""
    for axis, (before, after) in enumerate(rows):
        if not before and not after:
            continue
        lead = (slice(None),) * axis
        tile = [1] * len(rows)
        parts = [x]
        if before:
            if mode == "edge":
                tile[axis] = before
                parts.insert(0, s.tile(x[(*lead, slice(0, 1))], tile))
            else:
                parts.insert(0, x[(*lead, slice(-before, None))])
        if after:
            if mode == "edge":
                tile[axis] = after
                parts.append(s.tile(x[(*lead, slice(-1, None))], tile))
            else:
                parts.append(x[(*lead, slice(0, after))])
        x = a.concat(parts, axis)
    return x


def _check_constant(node: OnnxNode, info: ModelInfo) -> list[str]:
    keys = set(node.attrs) - {"value", "value_float", "value_floats", "value_int", "value_ints"}
    return [f"attribute {k}" for k in sorted(keys)]


@converter("Constant", check=_check_constant)
def _constant(ctx: Importer, node: OnnxNode) -> list[Tensor]:
    if "value" in node.attrs:
        return [constant(node.attrs["value"], name="value")]
    key = next(iter(node.attrs))
    dtype = np.float32 if key.startswith("value_float") else np.int64
    return [constant(np.asarray(node.attrs[key], dtype=dtype), name="value")]


@converter("ConstantOfShape")
def _constant_of_shape(ctx: Importer, node: OnnxNode) -> list[Tensor]:
    """`value` (one element, default float32 0) in the shape given by the input."""
    fill = np.asarray(node.attr("value", np.zeros(1, np.float32))).reshape(())
    dims = ctx.static(node.inputs[0])
    if dims is not None:
        return [constant(np.full([int(d) for d in dims], fill), name="value")]
    return [a.fill(ctx.tensor(node.inputs[0]), constant(fill))]


@converter("Shape")
def _shape(ctx: Importer, node: OnnxNode) -> list[Tensor]:
    """The ONNX shape (opset 15: dims start:end), a constant when known."""
    v = ctx.value(node.inputs[0])
    window = slice(node.attr("start", 0), node.attr("end"))
    if None not in v.shape:
        return [constant(np.asarray(v.shape, np.int64)[window], name="shape")]
    dims = a.shape(v.tensor, out_type=int64)
    if not lay.is_identity(v.layout):
        dims = a.gather(dims, list(lay.inverse(v.layout)))
    return [dims[window]]


@converter("Gather")
def _gather(ctx: Importer, node: OnnxNode) -> list[Value]:
    """Negative indices count from the end; the data keeps its layout."""
    v = ctx.value(node.inputs[0])
    axis = node.attr("axis", 0) % v.rank
    dim = v.shape[axis]
    indices = ctx.tensor(node.inputs[1])
    known = ctx.static(node.inputs[1])
    if known is not None and dim is not None:
        indices = constant(np.where(known < 0, known + dim, known).astype(known.dtype))
    elif dim is not None:
        indices = m.where(m.less(indices, 0), indices + dim, indices)
    else:
        raise ShapeError(f"Gather along axis {axis} of unknown size needs a known dim")
    k = len(indices.shape)
    g = lay.stored_axis(v.layout, axis)

    def renumber(x: int) -> int:
        return x if x < axis else x + k - 1

    out = (*(renumber(x) for x in v.layout[:g]), *range(axis, axis + k),
           *(renumber(x) for x in v.layout[g + 1 :]))  # fmt: skip
    return [Value(a.gather(v.tensor, indices, axis=g), out)]
