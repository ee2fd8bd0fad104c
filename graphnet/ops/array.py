"""Array ops: shapes, reshapes, broadcasting, fills, transpose, concat/stack/split, one_hot,
gather (slicing, pad and tile are in ops/slicing.py)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from graphnet.ir import Node, ShapeError, Tensor
from graphnet.ir.types import (
    DType,
    as_dtype,
    broadcast_shapes,
    float32,
    format_shape,
    int32,
    is_fully_defined,
    merge_dim,
    merge_shapes,
    num_elements,
)
from graphnet.ops.core import (
    TensorLike,
    apply_op,
    apply_op1,
    convert_operands,
    convert_to_tensor,
    default_dtype_of,
    normalize_axis,
    partial_shape_value,
    require_dtype,
    same_dtype,
    static_array,
    static_ints,
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


def _dims_read_from(x: Tensor, target: Tensor) -> dict[int, int]:
    """Entries of a stacked shape that are `shape(x)[j]`: target position -> axis j of x."""
    found = {}
    if target.node.type == "pack" and x.shape is not None:
        for i, t in enumerate(target.node.inputs):
            n = t.node
            if (
                n.type == "strided_slice"
                and len(n.attrs["spec"]) == 1
                and isinstance(n.attrs["spec"][0], int)
                and n.inputs[0].node.type == "shape"
                and n.inputs[0].node.inputs[0] is x
            ):
                found[i] = n.attrs["spec"][0] % len(x.shape)
    return found


def _reshape_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    """An unknown dim of x kept as `shape(x)[j]` in the target cancels out of the element
    count, so reshape(x, [shape(x)[0], -1]) of x: [?, 3, 4] is [?, 12], as in TF."""
    x, target = inputs
    require_dtype(target, "int", "shape")
    dims = partial_shape_value(target)
    if dims is None or x.shape is None:
        return [(x.dtype, _resolve_reshape(x.shape, dims))]
    dims = list(dims)
    kept: dict[int, int] = {}  # target position -> the unknown axis of x it carries over
    for i, j in _dims_read_from(x, target).items():
        if x.shape[j] is None and j not in kept.values():
            kept[i] = j
        else:
            dims[i] = x.shape[j]
    rest = _resolve_reshape(
        tuple(d for j, d in enumerate(x.shape) if j not in kept.values()),
        tuple(d for i, d in enumerate(dims) if i not in kept),
    )
    assert rest is not None
    resolved = iter(rest)
    return [(x.dtype, tuple(None if i in kept else next(resolved) for i in range(len(dims))))]


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


def squeeze(
    input: TensorLike, axis: int | Sequence[int] | None = None, name: str | None = None
) -> Tensor:
    """`input` without size-1 axes: all of them, or those listed in `axis`."""
    if axis is not None:
        axis = (int(axis),) if isinstance(axis, int | np.integer) else tuple(int(a) for a in axis)
    return apply_op1("squeeze", [input], {"axis": axis}, name=name)


# -- broadcasting ---------------------------------------------------------------------------------


def _sum_to_like_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    g, like = inputs
    return [(g.dtype, like.shape)]


@define_op(
    "sum_to_like",
    _sum_to_like_infer,
    fusion_kind="reduce",
    doc="Sums g over its broadcast axes down to the shape of `like` (undoes broadcasting).",
)
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


def zeros_like(
    tensor: TensorLike, dtype: DType | str | None = None, name: str | None = None
) -> Tensor:
    """Zeros with the shape (and by default the dtype) of `tensor`."""
    return apply_op1(
        "zeros_like", [tensor], {"dtype": as_dtype(dtype).name if dtype else None}, name
    )


def ones_like(
    tensor: TensorLike, dtype: DType | str | None = None, name: str | None = None
) -> Tensor:
    """Ones with the shape (and by default the dtype) of `tensor`."""
    return apply_op1(
        "ones_like", [tensor], {"dtype": as_dtype(dtype).name if dtype else None}, name
    )


def _fill_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    dims, value = inputs
    require_dtype(dims, "int", "dims")
    if value.shape not in (None, ()):
        raise ShapeError(f"fill value must be a scalar, got shape {list(value.shape)}")
    target = partial_shape_value(dims)
    if target is not None and any(d is not None and d < 0 for d in target):
        raise ShapeError(f"fill dims {list(target)} must be non-negative")
    return [(value.dtype, target)]


@define_op(
    "fill",
    _fill_infer,
    fusion_kind="elementwise",
    doc="A tensor of shape `dims` filled with `value`.",
)
def _fill_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    from graphnet.ops.math import reduce_sum

    return [None, reduce_sum(grads[0])]


def fill(dims: TensorLike, value: TensorLike, name: str | None = None) -> Tensor:
    """A tensor of shape `dims` (a list or a 1-D int tensor) filled with the scalar `value`."""
    dims_t = dims if isinstance(dims, Tensor) else convert_to_tensor(dims, dtype=int32)
    return apply_op1("fill", [dims_t, value], name=name)


def _filled(shape_: TensorLike, value: int, dtype: DType | str, name: str) -> Tensor:
    """A constant when `shape_` is static, else a fill (a tensor, or a list with tensors)."""
    from graphnet.ops.core import constant

    dims = shape_ if isinstance(shape_, list | tuple) else [shape_]
    if isinstance(shape_, Tensor) or any(isinstance(d, Tensor) for d in dims):
        return fill(shape_, convert_to_tensor(value, dtype=dtype), name=name)
    return constant(value, dtype=dtype, shape=shape_, name=name)


def zeros(shape: TensorLike, dtype: DType | str = "float32", name: str | None = None) -> Tensor:
    """Zeros of `shape` (a list, possibly holding scalar tensors, or a 1-D int tensor)."""
    return _filled(shape, 0, dtype, name or "zeros")


def ones(shape: TensorLike, dtype: DType | str = "float32", name: str | None = None) -> Tensor:
    """Ones of `shape` (a list, possibly holding scalar tensors, or a 1-D int tensor)."""
    return _filled(shape, 1, dtype, name or "ones")


# -- static arguments -------------------------------------------------------------------------


def _dtype_of(value: TensorLike) -> DType:
    """A tensor's dtype, or the one a Python or NumPy value would get as a constant."""
    return value.dtype if isinstance(value, Tensor) else default_dtype_of(value)


def dims_of(x: Tensor, rank: int) -> list[int | Tensor]:
    """x's dims: static ints where known, else scalar int32 tensors read at run time."""
    return [
        x.shape[i] if x.shape is not None and x.shape[i] is not None else shape(x)[i]
        for i in range(rank)
    ]


def _dense_grads(grads: Grads, outputs: Sequence[Tensor]) -> list[Tensor]:
    """The gradients of a multi-output node with zeros for the outputs that got none."""
    return [zeros_like(t) if g is None else g for g, t in zip(grads, outputs, strict=True)]


# -- transpose --------------------------------------------------------------------------------


def _transpose_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    x, perm = inputs[0], attrs["perm"]
    rank = len(perm) if x.shape is None else len(x.shape)
    if sorted(perm) != list(range(rank)):
        raise ShapeError(
            f"perm {list(perm)} is not a permutation of the {rank} axes; expected a reordering "
            f"of {list(range(rank))}"
        )
    return [(x.dtype, None if x.shape is None else tuple(x.shape[p] for p in perm))]


@define_op("transpose", _transpose_infer, fusion_kind="injective",
           doc="x with its axes reordered: output axis i is input axis perm[i].")  # fmt: skip
def _transpose_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    inverse = tuple(int(i) for i in np.argsort(node.attrs["perm"]))
    return [transpose(grads[0], inverse)]


def transpose(a: TensorLike, perm: TensorLike | None = None, name: str | None = None) -> Tensor:
    """`a` with axes permuted by `perm` (default: reversed, so matrices are transposed)."""
    x = convert_to_tensor(a)
    if perm is None:
        if x.shape is None:
            raise ShapeError(f"transpose of {x.name} (unknown rank) needs an explicit perm")
        order = tuple(reversed(range(len(x.shape))))
    else:
        order = static_ints(perm, "perm")
    return apply_op1("transpose", [x], {"perm": order}, name=name)


# -- concat, stack, split, unstack ------------------------------------------------------------


def _concat_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    if not inputs:
        raise ShapeError("concat needs at least one input")
    dtype = same_dtype(inputs)
    known = [t for t in inputs if t.shape is not None]
    if not known:
        return [(dtype, None)]
    rank = len(known[0].shape)
    axis = normalize_axis(attrs["axis"], rank)
    expected: list[int | None] = [None if i == axis else d for i, d in enumerate(known[0].shape)]
    for t in known[1:]:
        try:
            if len(t.shape) != rank:
                raise ShapeError("rank differs")
            expected = [
                e if i == axis else merge_dim(e, d)
                for i, (e, d) in enumerate(zip(expected, t.shape, strict=True))
            ]
        except ShapeError:
            raise ShapeError(
                f"input {t.name} has shape {format_shape(t.shape)}; expected "
                f"{format_shape(tuple(expected))} (rank {rank}, all dims but axis {axis} equal)"
            ) from None
    sizes = [None if t.shape is None else t.shape[axis] for t in inputs]
    expected[axis] = None if None in sizes else sum(sizes)
    return [(dtype, tuple(expected))]


@define_op("concat", _concat_infer, fusion_kind="injective",
           doc="The inputs joined along `axis`.")  # fmt: skip
def _concat_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    split_node = apply_op("concat_grad", [grads[0], *node.inputs], {"axis": node.attrs["axis"]})
    return list(split_node.outputs)


def _concat_grad_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    g = inputs[0]
    return [(g.dtype, t.shape) for t in inputs[1:]]


@define_op(
    "concat_grad",
    _concat_grad_infer,
    doc="g split along `axis` into pieces as long as the values' runtime sizes there.",
)
def _concat_grad_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    joined = concat(_dense_grads(grads, node.outputs), node.attrs["axis"])
    return [joined, *([None] * (len(node.inputs) - 1))]


def concat(values: Sequence[TensorLike], axis: int, name: str | None = None) -> Tensor:
    """The tensors `values` (one rank and dtype) joined along `axis` (negative counts back)."""
    tensors = convert_operands(*values)
    if len(tensors) == 1:
        return tensors[0]
    return apply_op1("concat", tensors, {"axis": int(axis)}, name=name)


def _pack_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    if not inputs:
        raise ShapeError("stack needs at least one input")
    dtype = same_dtype(inputs)
    common = inputs[0].shape
    for t in inputs[1:]:
        try:
            common = merge_shapes(common, t.shape)
        except ShapeError:
            raise ShapeError(
                f"input {t.name} has shape {format_shape(t.shape)}; expected "
                f"{format_shape(common)} like the inputs before it"
            ) from None
    if common is None:
        return [(dtype, None)]
    axis = normalize_axis(attrs["axis"], len(common) + 1)
    return [(dtype, (*common[:axis], len(inputs), *common[axis:]))]


@define_op("pack", _pack_infer, fusion_kind="injective",
           doc="The same-shaped inputs stacked along a new axis `axis` (TF's Pack).")  # fmt: skip
def _pack_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    return unstack(grads[0], num=len(node.inputs), axis=node.attrs["axis"])


def stack(values: Sequence[TensorLike], axis: int = 0, name: str | None = None) -> Tensor:
    """The same-shaped `values` stacked along a new axis `axis` (rank + 1 result)."""
    return apply_op1("pack", convert_operands(*values), {"axis": int(axis)}, name=name)


def _split_sizes(dim: int | None, num: int | None, sizes: tuple[int, ...] | None) -> list:
    """The static sizes of the pieces of a dim of size `dim` (None where unknown)."""
    if num is not None:
        if num <= 0:
            raise ShapeError(f"cannot split into {num} parts; expected a positive count")
        if dim is not None and dim % num:
            raise ShapeError(f"cannot split a dim of size {dim} into {num} equal parts")
        return [None if dim is None else dim // num] * num
    assert sizes is not None
    if not sizes or sizes.count(-1) > 1 or any(s < -1 for s in sizes):
        raise ShapeError(
            f"size_splits {list(sizes)} must be sizes >= 0 with at most one -1 (the rest)"
        )
    known = sum(s for s in sizes if s != -1)
    if dim is not None and (known > dim or (-1 not in sizes and known != dim)):
        raise ShapeError(f"size_splits {list(sizes)} sum to {known}; expected {dim}, the split dim")
    rest = None if dim is None else dim - known
    return [rest if s == -1 else s for s in sizes]


def _split_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    x, num, sizes = inputs[0], attrs["num_split"], attrs["size_splits"]
    if x.shape is None:
        return [(x.dtype, None)] * len(_split_sizes(None, num, sizes))
    axis = normalize_axis(attrs["axis"], len(x.shape))
    pieces = _split_sizes(x.shape[axis], num, sizes)
    return [(x.dtype, (*x.shape[:axis], k, *x.shape[axis + 1 :])) for k in pieces]


@define_op("split", _split_infer, doc="x cut along `axis` into num_split or size_splits parts.")
def _split_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    return [concat(_dense_grads(grads, node.outputs), node.attrs["axis"])]


def split(
    value: TensorLike,
    num_or_size_splits: TensorLike,
    axis: int = 0,
    num: int | None = None,
    name: str | None = None,
) -> list[Tensor]:
    """`value` cut along `axis` into num_or_size_splits equal parts (an int) or parts of the
    listed sizes (one may be -1: the rest)."""
    x = convert_to_tensor(value)
    splits = static_array(num_or_size_splits, "num_or_size_splits")
    if splits.ndim == 0:
        attrs = {"num_split": int(splits), "size_splits": None}
    else:
        attrs = {"num_split": None, "size_splits": static_ints(splits, "num_or_size_splits")}
    node = apply_op("split", [x], {**attrs, "axis": int(axis)}, name=name)
    if num is not None and num != len(node.outputs):
        raise ShapeError(f"split into {len(node.outputs)} parts, but num={num} was given")
    return list(node.outputs)


def unstack(
    value: TensorLike, num: int | None = None, axis: int = 0, name: str | None = None
) -> list[Tensor]:
    """The rank-R `value` cut along `axis` into its `num` rank-(R-1) slices."""
    x = convert_to_tensor(value)
    if num is None:
        dim = None if x.shape is None else x.shape[normalize_axis(axis, len(x.shape))]
        if dim is None:
            raise ShapeError(
                f"cannot infer num from {x.name} of shape {format_shape(x.shape)} along axis "
                f"{axis}; pass num"
            )
        num = dim
    if num == 0:
        return []
    return [squeeze(p, axis) for p in split(x, num, axis, name=name or "unstack")]


# -- one_hot, gather --------------------------------------------------------------------------


def _one_hot_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    (indices,) = inputs
    require_dtype(indices, "int", "indices")
    dtype, depth = as_dtype(attrs["dtype"]), attrs["depth"]
    if depth < 0:
        raise ShapeError(f"depth must be non-negative, got {depth}")
    if indices.shape is None:
        return [(dtype, None)]
    axis = normalize_axis(attrs["axis"], len(indices.shape) + 1)
    return [(dtype, (*indices.shape[:axis], depth, *indices.shape[axis:]))]


_ONE_HOT_DOC = "on_value where the new axis's index equals indices, else off_value."
register_op(OpDef("one_hot", _one_hot_infer, differentiable=False, fusion_kind="injective",
                  doc=_ONE_HOT_DOC))  # fmt: skip


def one_hot(
    indices: TensorLike,
    depth: TensorLike,
    on_value: TensorLike | None = None,
    off_value: TensorLike | None = None,
    axis: int | None = None,
    dtype: DType | str | None = None,
    name: str | None = None,
) -> Tensor:
    """A one-hot encoding of `indices` along a new axis of size `depth` (last by default);
    indices outside [0, depth) give all off_value. dtype defaults to on/off_value's, else
    float32."""
    given = next((v for v in (on_value, off_value) if v is not None), None)
    if dtype is not None:
        dt = as_dtype(dtype)
    else:
        dt = float32 if given is None else _dtype_of(given)
    on = dt.np.type(1 if on_value is None else static_array(on_value, "on_value")).item()
    off = dt.np.type(0 if off_value is None else static_array(off_value, "off_value")).item()
    (depth_,) = static_ints(depth, "depth")
    attrs = {
        "depth": depth_,
        "on_value": on,
        "off_value": off,
        "axis": -1 if axis is None else int(axis),
        "dtype": dt.name,
    }
    return apply_op1("one_hot", [convert_to_tensor(indices)], attrs, name=name)


def _gather_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    params, indices = inputs
    require_dtype(indices, "int", "indices")
    if params.shape is None or indices.shape is None:
        return [(params.dtype, None)]
    axis = normalize_axis(attrs["axis"], len(params.shape))
    return [(params.dtype, (*params.shape[:axis], *indices.shape, *params.shape[axis + 1 :]))]


@define_op("gather", _gather_infer, fusion_kind="injective",
           doc="Slices of params along `axis` at `indices` (each in [0, dim)).")  # fmt: skip
def _gather_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    params, indices = node.inputs
    scatter = apply_op1("gather_grad", [grads[0], indices, params], {"axis": node.attrs["axis"]})
    return [scatter, None]


def _gather_grad_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    g, _, params = inputs
    return [(g.dtype, params.shape)]


@define_op(
    "gather_grad",
    _gather_grad_infer,
    doc="Zeros shaped like params with g's slices added at `indices` (gather's gradient).",
)
def _gather_grad_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    return [gather(grads[0], node.inputs[1], axis=node.attrs["axis"]), None, None]


def gather(
    params: TensorLike,
    indices: TensorLike,
    validate_indices: bool | None = None,
    name: str | None = None,
    axis: int | None = None,
) -> Tensor:
    """Slices of `params` along `axis` (default 0) at `indices`: the result's shape is
    params.shape[:axis] + indices.shape + params.shape[axis + 1:]. validate_indices is
    accepted and ignored, as in TF (indices are always checked)."""
    x = convert_to_tensor(params)
    attrs = {"axis": 0 if axis is None else int(axis)}
    return apply_op1("gather", [x, convert_to_tensor(indices)], attrs, name=name)


__all__ = [
    "broadcast_to", "expand_dims", "fill", "ones", "ones_like", "rank", "reshape", "shape",
    "size", "squeeze", "zeros", "zeros_like",
    "concat", "gather", "one_hot", "split", "stack", "transpose", "unstack",
]  # fmt: skip
