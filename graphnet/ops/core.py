"""Building nodes: apply_op (shape inference with node-named errors), constants, conversion."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from graphnet.ir import DTypeError, Graph, GraphError, Node, ShapeError, Tensor
from graphnet.ir.graph import get_default_graph
from graphnet.ir.types import DType, as_dtype, float32, format_shape, int32, merge_shapes
from graphnet.ops.registry import OpDef, get_op, register_op

TensorLike = Any  # a Tensor, a Variable, or anything np.asarray accepts

#: Types (like Variable) that stand for a Tensor: type -> function returning the Tensor.
TENSOR_CONVERSIONS: dict[type, Any] = {}


def graph_of(values: Sequence[Any]) -> Graph:
    """The one graph the tensors among `values` belong to, else the default graph."""
    graphs = {id(t.graph): t.graph for t in map(_as_tensor_or_none, values) if t is not None}
    if len(graphs) > 1:
        names = ", ".join(t.name for t in map(_as_tensor_or_none, values) if t is not None)
        raise GraphError(f"tensors {names} belong to different graphs; an op needs one graph")
    return next(iter(graphs.values())) if graphs else get_default_graph()


def _as_tensor_or_none(value: Any) -> Tensor | None:
    if isinstance(value, Tensor):
        return value
    for cls, convert in TENSOR_CONVERSIONS.items():
        if isinstance(value, cls):
            return convert(value)
    return None


def default_dtype_of(value: Any) -> DType:
    """TF's rule: Python floats are float32, ints int32; NumPy arrays keep their dtype."""
    if isinstance(value, np.ndarray | np.generic):
        return as_dtype(value.dtype)
    arr = np.asarray(value)
    if arr.dtype.kind == "f":
        return float32
    if arr.dtype.kind in "iu":
        return int32
    return as_dtype(arr.dtype)


def _const_infer(inputs: Sequence[Tensor], attrs: Mapping[str, Any]) -> list:
    value = attrs["value"]
    return [(as_dtype(value.dtype), value.shape)]


register_op(OpDef("const", _const_infer, doc="A constant value held in the graph."))


def constant(
    value: Any,
    dtype: DType | str | None = None,
    shape: Sequence[int] | None = None,
    name: str = "Const",
    graph: Graph | None = None,
) -> Tensor:
    """A constant tensor holding `value` (cast to `dtype`, broadcast to `shape` if given)."""
    dt = as_dtype(dtype) if dtype is not None else default_dtype_of(value)
    raw = np.asarray(value)
    if raw.dtype.kind in "fc" and dt.is_integer and not np.all(np.mod(raw, 1) == 0):
        raise DTypeError(f"constant {name!r}: value {value!r} is not an integer but dtype is {dt}")
    arr = raw.astype(dt.np)
    if shape is not None:
        shape = tuple(int(d) for d in shape)
        if arr.size not in (1, int(np.prod(shape))):
            raise ShapeError(
                f"constant {name!r}: {arr.size} values cannot fill shape {format_shape(shape)}"
            )
        arr = np.broadcast_to(arr, shape) if arr.size == 1 else arr.reshape(shape)
    arr = np.array(arr, copy=True)
    arr.flags.writeable = False
    g = graph or get_default_graph()
    node = g.create_node("const", [], {"value": arr}, [(dt, arr.shape)], name=name)
    return node.outputs[0]


def convert_to_tensor(
    value: TensorLike,
    dtype: DType | str | None = None,
    name: str = "Const",
    graph: Graph | None = None,
) -> Tensor:
    """Returns `value` as a Tensor: Tensors pass through (dtype checked), the rest become consts."""
    tensor = _as_tensor_or_none(value)
    if tensor is not None:
        if dtype is not None and tensor.dtype != as_dtype(dtype):
            raise DTypeError(
                f"tensor {tensor.name} has dtype {tensor.dtype}; expected {as_dtype(dtype)}"
            )
        return tensor
    if isinstance(value, list | tuple) and any(_as_tensor_or_none(v) is not None for v in value):
        from graphnet.ops.array import stack

        return stack(list(value), axis=0)
    return constant(value, dtype=dtype, name=name, graph=graph)


def convert_operands(*values: TensorLike, dtype: DType | str | None = None) -> list[Tensor]:
    """Converts operands of one op: non-Tensors take the dtype of the first Tensor among them."""
    graph = graph_of(values)
    tensors = [_as_tensor_or_none(v) for v in values]
    if dtype is None:
        dtype = next((t.dtype for t in tensors if t is not None), None)
    return [t if t is not None else convert_to_tensor(v, dtype=dtype, graph=graph)
            for t, v in zip(tensors, values, strict=True)]  # fmt: skip


def apply_op(
    op: str,
    inputs: Sequence[TensorLike],
    attrs: Mapping[str, Any] | None = None,
    name: str | None = None,
    control_inputs: Sequence[Node] = (),
) -> Node:
    """Creates a node of `op`: converts inputs, runs the shape/dtype rule, names errors."""
    opdef = get_op(op)
    graph = graph_of(inputs)
    tensors = [convert_to_tensor(v, graph=graph) for v in inputs]
    attrs = dict(attrs or {})
    try:
        output_types = opdef.infer(tensors, attrs)
    except (ShapeError, DTypeError) as err:
        node_name = graph.unique_name(name or op, mark_as_used=False)
        given = ", ".join(f"{t.name}: {t.dtype.short}{format_shape(t.shape)}" for t in tensors)
        raise type(err)(f"node '{node_name}' ({op}): {err} [inputs: {given}]") from None
    return graph.create_node(
        op, tensors, attrs, list(output_types), name=name, control_inputs=control_inputs
    )


def apply_op1(
    op: str,
    inputs: Sequence[TensorLike],
    attrs: Mapping[str, Any] | None = None,
    name: str | None = None,
) -> Tensor:
    """apply_op for the common single-output case: returns the output Tensor."""
    return apply_op(op, inputs, attrs, name).outputs[0]


def constant_value(tensor: Tensor) -> np.ndarray | None:
    """The value of `tensor` if it is known while building (a const, or the shape of a
    fully known shape), else None (TF's tf.get_static_value)."""
    node = tensor.node
    if node.type == "const":
        return node.attrs["value"]
    if node.type == "shape":
        src = node.inputs[0].shape
        if src is not None and all(d is not None for d in src):
            return np.array(src, dtype=tensor.dtype.np)
    if node.type == "identity":
        return constant_value(node.inputs[0])
    if node.type == "strided_slice" and node.inputs[0].node.type == "shape":
        # shape(x)[j] is known whenever dim j of x is
        spec, dims = node.attrs["spec"], node.inputs[0].node.inputs[0].shape
        if len(spec) == 1 and isinstance(spec[0], int) and dims is not None:
            dim = dims[spec[0]]
            if dim is not None:
                return np.array(dim, dtype=tensor.dtype.np)
    return None


def partial_shape_value(tensor: Tensor) -> tuple[int | None, ...] | None:
    """A 1-D int tensor used as a shape, as far as known: `shape(x)` of a partly known x
    gives its static dims; a const gives its values (-1 kept). None if the length is unknown."""
    value = constant_value(tensor)
    if value is not None:
        return tuple(int(v) for v in np.ravel(value))
    node = tensor.node
    if node.type == "shape" and node.inputs[0].shape is not None:
        return node.inputs[0].shape
    if node.type == "pack" and all(t.shape == () for t in node.inputs):
        dims = []
        for t in node.inputs:
            v = constant_value(t)
            dims.append(None if v is None else int(v))
        return tuple(dims)
    if tensor.shape is not None and len(tensor.shape) == 1 and tensor.shape[0] is not None:
        return (None,) * tensor.shape[0]
    return None


def require_dtype(t: Tensor, allowed: Sequence[DType] | str, what: str = "input") -> None:
    """Raises DTypeError unless t.dtype is allowed ('float', 'numeric', 'int' or a list)."""
    ok = {
        "float": lambda d: d.is_floating,
        "numeric": lambda d: d.is_floating or d.is_integer,
        "int": lambda d: d.is_integer,
        "bool": lambda d: d.is_bool,
    }
    if isinstance(allowed, str):
        if not ok[allowed](t.dtype):
            raise DTypeError(f"{what} {t.name} must be {allowed}, got {t.dtype}")
    elif t.dtype not in allowed:
        raise DTypeError(
            f"{what} {t.name} must be one of {[str(d) for d in allowed]}, got {t.dtype}"
        )


def same_dtype(tensors: Sequence[Tensor]) -> DType:
    """The common dtype of `tensors`; raises DTypeError naming both when they differ."""
    first = tensors[0].dtype
    for t in tensors[1:]:
        if t.dtype != first:
            raise DTypeError(
                f"expected matching dtypes, got {first} ({tensors[0].name}) and "
                f"{t.dtype} ({t.name})"
            )
    return first


def normalize_axis(axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < rank:
        raise ShapeError(f"{what} {axis} is out of range for rank {rank}")
    return axis % rank


@contextlib.contextmanager
def op_scope(values: Sequence[object], name: str | None, default: str) -> Iterator[str]:
    """TF1's `name_scope(name, default_name, values)`: the graph of `values`, made the default,
    inside the name scope `name or default`; yields the scope's prefix."""
    graph = graph_of(values)
    with graph.as_default(), graph.name_scope(name or default) as scope:
        yield scope


def check_same_shape(a: Tensor, b: Tensor, what: str, scope: str) -> None:
    """Raises ShapeError unless the static shapes of a and b are compatible."""
    try:
        merge_shapes(a.shape, b.shape)
    except ShapeError:
        raise ShapeError(
            f"'{scope.rstrip('/')}': {what} {a.name} has shape {format_shape(a.shape)}, "
            f"expected the shape of {b.name}, {format_shape(b.shape)}"
        ) from None


def static_array(value: TensorLike, what: str) -> np.ndarray:
    """`value` as an array known while building: a Python value or a tensor of known value."""
    if isinstance(value, Tensor):
        known = constant_value(value)
        if known is None:
            raise ShapeError(
                f"{what} must be known while building the graph; {value.name} is only known "
                "at run time"
            )
        return np.asarray(known)
    return np.asarray(value)


def static_ints(value: TensorLike, what: str) -> tuple[int, ...]:
    """A static list of ints (a scalar counts as one) for perm, begin, multiples and the like."""
    arr = static_array(value, what)
    if arr.size and arr.dtype.kind not in "iu":
        raise DTypeError(f"{what} must be integers, got {arr.tolist()!r}")
    return tuple(int(v) for v in arr.ravel())
