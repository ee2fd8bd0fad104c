"""Array ops: shapes, reshapes, broadcasting, fills (more array ops below the core ones)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from graphnet.ir import Node, ShapeError, Tensor
from graphnet.ir.types import (
    DType,
    as_dtype,
    broadcast_shapes,
    int32,
    is_fully_defined,
    num_elements,
)
from graphnet.ops.core import (
    TensorLike,
    apply_op1,
    convert_to_tensor,
    normalize_axis,
    partial_shape_value,
    require_dtype,
)
from graphnet.ops.registry import OpDef, define_op, register_op

Grads = Sequence[Tensor | None]

# -- shape queries ------------------------------------------------------------------------------


def _shape_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    x = inputs[0]
    return [(as_dtype(attrs["out_type"]), None if x.shape is None else (len(x.shape),))]


def _scalar_int_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    return [(as_dtype(attrs["out_type"]), ())]


register_op(OpDef("shape", _shape_infer, differentiable=False, doc="The runtime shape of x."))
register_op(OpDef("size", _scalar_int_infer, differentiable=False, doc="The element count of x."))
register_op(OpDef("rank", _scalar_int_infer, differentiable=False, doc="The rank of x."))


def shape(input: TensorLike, name: str | None = None, out_type: DType | str = int32) -> Tensor:
    """The shape of `input` as a 1-D int tensor, known at run time."""
    return apply_op1("shape", [input], {"out_type": as_dtype(out_type).name}, name=name)


def size(input: TensorLike, name: str | None = None, out_type: DType | str = int32) -> Tensor:
    """The number of elements of `input` as a scalar int tensor."""
    return apply_op1("size", [input], {"out_type": as_dtype(out_type).name}, name=name)


def rank(input: TensorLike, name: str | None = None) -> Tensor:
    """The rank of `input` as a scalar int32 tensor."""
    return apply_op1("rank", [input], {"out_type": "int32"}, name=name)


# -- reshape family -----------------------------------------------------------------------------


def _resolve_reshape(x_shape: tuple | None, target: tuple | None) -> tuple | None:
    if target is None:
        return None
    if sum(1 for d in target if d == -1) > 1:
        raise ShapeError(f"reshape target {list(target)} has more than one -1")
    if any(d is not None and d < -1 for d in target):
        raise ShapeError(f"reshape target {list(target)} has a negative dimension")
    total = num_elements(x_shape) if x_shape is not None else None
    known = [d for d in target if d is not None and d != -1]
    product = int(np.prod(known, dtype=np.int64)) if known else 1
    if -1 in target:
        if total is not None and None not in target:
            if product == 0 or total % product:
                raise ShapeError(f"cannot reshape {total} elements into {list(target)}")
            return tuple(total // product if d == -1 else d for d in target)
        return tuple(None if d == -1 else d for d in target)
    if total is not None and None not in target and total != product:
        raise ShapeError(f"cannot reshape {list(x_shape)} ({total} elements) into {list(target)}")
    return tuple(target)


def _reshape_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    x, target = inputs
    require_dtype(target, "int", "shape")
    return [(x.dtype, _resolve_reshape(x.shape, partial_shape_value(target)))]


@define_op("reshape", _reshape_infer, fusion_kind="injective",
           doc="x with a new shape of the same element count; one dim may be -1.")  # fmt: skip
def _reshape_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    return [reshape_like(grads[0], node.inputs[0]), None]


def reshape(tensor: TensorLike, shape: TensorLike, name: str | None = None) -> Tensor:
    """`tensor` reshaped to `shape` (a list with at most one -1, or a 1-D int tensor)."""
    x = convert_to_tensor(tensor)
    target = convert_to_tensor(shape, dtype=int32) if not isinstance(shape, Tensor) else shape
    return apply_op1("reshape", [x, target], name=name)


def reshape_like(g: Tensor, like: Tensor) -> Tensor:
    """g reshaped to the (runtime) shape of `like`; static when like's shape is known."""
    if g.shape == like.shape and is_fully_defined(g.shape):
        return g
    target = like.shape if is_fully_defined(like.shape) else shape(like)
    return reshape(g, target)


def _expand_dims_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    x = inputs[0]
    if x.shape is None:
        return [(x.dtype, None)]
    axis = normalize_axis(attrs["axis"], len(x.shape) + 1)
    return [(x.dtype, (*x.shape[:axis], 1, *x.shape[axis:]))]


@define_op("expand_dims", _expand_dims_infer, fusion_kind="injective",
           doc="x with a size-1 axis inserted at `axis`.")  # fmt: skip
def _expand_dims_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    return [reshape_like(grads[0], node.inputs[0])]


def expand_dims(input: TensorLike, axis: int, name: str | None = None) -> Tensor:
    """`input` with a size-1 axis inserted at `axis` (negative counts from the end)."""
    return apply_op1("expand_dims", [input], {"axis": int(axis)}, name=name)


def expand_dims_axes(x: Tensor, axes: Sequence[int]) -> Tensor:
    """Inserts size-1 axes at the sorted positions `axes` of the result (undoes a reduction)."""
    for a in sorted(axes):
        x = expand_dims(x, a)
    return x


def _squeeze_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    x = inputs[0]
    axes = attrs["axis"]
    if x.shape is None:
        return [(x.dtype, None)]
    if axes is None:
        if None in x.shape:
            return [(x.dtype, None)]
        return [(x.dtype, tuple(d for d in x.shape if d != 1))]
    axes = {normalize_axis(a, len(x.shape)) for a in axes}
    for a in axes:
        if x.shape[a] not in (1, None):
            raise ShapeError(f"cannot squeeze axis {a} of size {x.shape[a]}")
    return [(x.dtype, tuple(d for i, d in enumerate(x.shape) if i not in axes))]


@define_op("squeeze", _squeeze_infer, fusion_kind="injective",
           doc="x without its size-1 axes (all, or those in `axis`).")  # fmt: skip
def _squeeze_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    return [reshape_like(grads[0], node.inputs[0])]


def squeeze(input: TensorLike, axis: int | Sequence[int] | None = None, name: str | None = None) -> Tensor:
    """`input` without size-1 axes: all of them, or those listed in `axis`."""
    if axis is not None:
        axis = (int(axis),) if isinstance(axis, int | np.integer) else tuple(int(a) for a in axis)
    return apply_op1("squeeze", [input], {"axis": axis}, name=name)


# -- broadcasting ---------------------------------------------------------------------------------


def _sum_to_like_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    g, like = inputs
    return [(g.dtype, like.shape)]


@define_op("sum_to_like", _sum_to_like_infer, fusion_kind="reduce",
           doc="Sums g over its broadcast axes down to the shape of `like` (undoes broadcasting).")
def _sum_to_like_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    return [broadcast_like(grads[0], node.inputs[0]), None]


def _broadcast_like_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    x, like = inputs
    return [(x.dtype, broadcast_shapes(x.shape, like.shape))]


@define_op("broadcast_like", _broadcast_like_infer, fusion_kind="injective",
           doc="x broadcast against the shape of `like`.")  # fmt: skip
def _broadcast_like_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    return [sum_to_like(grads[0], node.inputs[0]), None]


def sum_to_like(g: Tensor, like: Tensor) -> Tensor:
    return apply_op1("sum_to_like", [g, like])


def broadcast_like(x: Tensor, like: Tensor) -> Tensor:
    if x.shape == like.shape and is_fully_defined(x.shape):
        return x
    return apply_op1("broadcast_like", [x, like])


def unbroadcast(g: Tensor | None, x: Tensor) -> Tensor | None:
    """The gradient g of a broadcast result, summed back to x's shape (a no-op when equal)."""
    if g is None:
        return None
    if g.shape == x.shape and is_fully_defined(x.shape):
        return g
    return sum_to_like(g, x)


def _broadcast_to_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    x, target = inputs
    require_dtype(target, "int", "shape")
    dims = partial_shape_value(target)
    if dims is None:
        return [(x.dtype, None)]
    try:
        return [(x.dtype, broadcast_shapes(x.shape, tuple(dims)))]
    except ShapeError:
        raise ShapeError(f"cannot broadcast {x.shape} to {list(dims)}") from None


@define_op("broadcast_to", _broadcast_to_infer, fusion_kind="injective",
           doc="x broadcast to `shape`.")  # fmt: skip
def _broadcast_to_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    return [sum_to_like(grads[0], node.inputs[0]), None]


def broadcast_to(input: TensorLike, shape: TensorLike, name: str | None = None) -> Tensor:
    """`input` broadcast to `shape` by NumPy's rules."""
    target = shape if isinstance(shape, Tensor) else convert_to_tensor(shape, dtype=int32)
    return apply_op1("broadcast_to", [input, target], name=name)


# -- fills ------------------------------------------------------------------------------------


def _like_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    x = inputs[0]
    dtype = as_dtype(attrs["dtype"]) if attrs.get("dtype") else x.dtype
    return [(dtype, x.shape)]


register_op(OpDef("zeros_like", _like_infer, differentiable=False, fusion_kind="elementwise",
                  doc="Zeros of x's shape."))  # fmt: skip
register_op(OpDef("ones_like", _like_infer, differentiable=False, fusion_kind="elementwise",
                  doc="Ones of x's shape."))  # fmt: skip


def zeros_like(tensor: TensorLike, dtype: DType | str | None = None, name: str | None = None) -> Tensor:
    """Zeros with the shape (and by default the dtype) of `tensor`."""
    return apply_op1("zeros_like", [tensor], {"dtype": as_dtype(dtype).name if dtype else None}, name)


def ones_like(tensor: TensorLike, dtype: DType | str | None = None, name: str | None = None) -> Tensor:
    """Ones with the shape (and by default the dtype) of `tensor`."""
    return apply_op1("ones_like", [tensor], {"dtype": as_dtype(dtype).name if dtype else None}, name)


def _fill_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    dims, value = inputs
    require_dtype(dims, "int", "dims")
    if value.shape not in (None, ()):
        raise ShapeError(f"fill value must be a scalar, got shape {list(value.shape)}")
    target = partial_shape_value(dims)
    if target is not None and any(d is not None and d < 0 for d in target):
        raise ShapeError(f"fill dims {list(target)} must be non-negative")
    return [(value.dtype, target)]


@define_op("fill", _fill_infer, fusion_kind="elementwise", doc="A tensor of shape `dims` filled with `value`.")
def _fill_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    from graphnet.ops.math import reduce_sum

    return [None, reduce_sum(grads[0])]


def fill(dims: TensorLike, value: TensorLike, name: str | None = None) -> Tensor:
    """A tensor of shape `dims` (a list or a 1-D int tensor) filled with the scalar `value`."""
    dims_t = dims if isinstance(dims, Tensor) else convert_to_tensor(dims, dtype=int32)
    return apply_op1("fill", [dims_t, value], name=name)


def zeros(shape: TensorLike, dtype: DType | str = "float32", name: str | None = None) -> Tensor:
    """Zeros of `shape` (a list or a 1-D int tensor)."""
    from graphnet.ops.core import constant

    if isinstance(shape, Tensor):
        return fill(shape, convert_to_tensor(0, dtype=dtype), name=name)
    return constant(0, dtype=dtype, shape=shape, name=name or "zeros")


def ones(shape: TensorLike, dtype: DType | str = "float32", name: str | None = None) -> Tensor:
    """Ones of `shape` (a list or a 1-D int tensor)."""
    from graphnet.ops.core import constant

    if isinstance(shape, Tensor):
        return fill(shape, convert_to_tensor(1, dtype=dtype), name=name)
    return constant(1, dtype=dtype, shape=shape, name=name or "ones")


__all__ = [
    "broadcast_to", "expand_dims", "fill", "ones", "ones_like", "rank", "reshape", "shape",
    "size", "squeeze", "zeros", "zeros_like",
]  # fmt: skip


def tensor_getitem(x: TensorLike, key: object) -> Tensor:
    """x[key] for basic indexing: ints, slices with steps, Ellipsis and None (newaxis)."""
    raise NotImplementedError("strided slicing lands with the array-ops family")
