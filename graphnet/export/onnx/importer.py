"""ONNX -> graphnet: `import_model` builds a graph from a model with graphnet's builders.

Each ONNX value is held as a graphnet tensor plus a layout (see layout.py): convolutions and
pools need channels last, so their inputs are transposed NCHW -> NHWC where needed and their
outputs stay NHWC until an op needs the ONNX order again (a graph output, a Reshape, a MatMul)
or can use the layout as it is (elementwise ops, reductions and Concat remap their axes).
Nodes whose inputs are all constants are evaluated while importing and become constants.

Before building, the whole model is checked: every unsupported op, attribute combination,
dtype and input that must be known while importing is reported in one OnnxImportError.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

import graphnet.backends  # noqa: F401 - registers the reference kernels as constant evaluator
from graphnet.compiler.evaluate import evaluate
from graphnet.export.onnx import layout as lay
from graphnet.export.onnx.layout import Layout
from graphnet.ir import Graph, GraphnetError, ShapeError, Tensor
from graphnet.ir.graph import ancestors
from graphnet.ir.types import DType, Shape, bool_, float32, float64, int32, int64
from graphnet.ops.array import expand_dims_axes, reshape, transpose
from graphnet.ops.core import constant, constant_value
from graphnet.ops.state import placeholder

MIN_OPSET, MAX_OPSET = 9, 25

#: ONNX element types graphnet has.
DTYPES: dict[int, DType] = {
    onnx.TensorProto.FLOAT: float32,
    onnx.TensorProto.DOUBLE: float64,
    onnx.TensorProto.INT32: int32,
    onnx.TensorProto.INT64: int64,
    onnx.TensorProto.BOOL: bool_,
}


class OnnxImportError(GraphnetError):
    """A model graphnet cannot import; the message lists every reason at once."""


@dataclass(frozen=True)
class Value:
    """An ONNX value as a graphnet tensor stored in `layout` (stored axis i = ONNX axis p[i])."""

    tensor: Tensor
    layout: Layout

    @property
    def rank(self) -> int:
        return len(self.layout)

    @property
    def shape(self) -> Shape:
        """The ONNX (logical) shape."""
        stored = self.tensor.shape
        return tuple(stored[i] for i in lay.inverse(self.layout))  # type: ignore[index]

    @property
    def dtype(self) -> DType:
        return self.tensor.dtype


@dataclass(frozen=True)
class OnnxNode:
    """One ONNX node, its attributes decoded; absent optional inputs are ''."""

    op_type: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: Mapping[str, Any]
    opset: int

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    def has_input(self, i: int) -> bool:
        return i < len(self.inputs) and self.inputs[i] != ""

    def __str__(self) -> str:
        return f"{self.op_type} '{self.name}'"


#: (ONNX elem type, ONNX shape or None) of a value, from ONNX shape inference.
TypeInfo = tuple[int, Shape | None]


@dataclass(frozen=True)
class ModelInfo:
    """What the checks know before building: value types and the values of constants
    (initializers, fixed inputs, Constant nodes)."""

    types: Mapping[str, TypeInfo]
    consts: Mapping[str, np.ndarray]

    def shape(self, name: str) -> Shape | None:
        return self.types.get(name, (0, None))[1]

    def rank(self, name: str) -> int | None:
        shape = self.shape(name)
        return None if shape is None else len(shape)


ConvertFn = Callable[["Importer", OnnxNode], Sequence["Value | Tensor"]]
CheckFn = Callable[[OnnxNode, ModelInfo], list[str]]


@dataclass(frozen=True)
class Converter:
    """How one ONNX op becomes graphnet ops; `check` lists attribute combinations it cannot
    import (reasons, without the node name); `static` the input positions that must be known
    while importing (shapes, axes, pads...)."""

    fn: ConvertFn
    check: CheckFn | None
    static: tuple[int, ...]


CONVERTERS: dict[str, Converter] = {}


def converter(
    *op_types: str, check: CheckFn | None = None, static: tuple[int, ...] = ()
) -> Callable[[ConvertFn], ConvertFn]:
    """Registers the decorated function as the converter of `op_types`."""

    def decorate(fn: ConvertFn) -> ConvertFn:
        for op in op_types:
            if op in CONVERTERS:
                raise GraphnetError(f"ONNX op {op} has two converters")
            CONVERTERS[op] = Converter(fn, check, static)
        return fn

    return decorate


def dtype_of(elem_type: int) -> DType:
    return DTYPES[elem_type]


# -- the import context -----------------------------------------------------------------------


@dataclass
class Importer:
    """The values imported so far and the helpers converters build with."""

    graph: Graph
    opset: int
    types: Mapping[str, TypeInfo]
    values: dict[str, Value] = field(default_factory=dict)
    _stored: dict[tuple[Tensor, Layout], Tensor] = field(default_factory=dict)

    def value(self, name: str) -> Value:
        return self.values[name]

    def tensor(self, name: str, layout: Layout | None = None) -> Tensor:
        """ONNX value `name` stored in `layout` (default: the ONNX order itself)."""
        v = self.values[name]
        return self.stored(v, lay.identity(v.rank) if layout is None else layout)

    def stored(self, v: Value, target: Layout) -> Tensor:
        """v's tensor stored in layout `target`: itself, a transposed constant, a reshape when
        only size-1 axes move, else an explicit transpose (made once per tensor and layout)."""
        if v.layout == target:
            return v.tensor
        key = (v.tensor, target)
        if key not in self._stored:
            perm = lay.move(v.layout, target)
            known = constant_value(v.tensor)
            if known is not None:
                result = constant(np.transpose(known, perm), name="const")
            elif v.tensor.shape is not None and lay.reshape_only(v.tensor.shape, perm):
                result = reshape(v.tensor, [v.tensor.shape[a] for a in perm])
            else:
                result = transpose(v.tensor, perm)
            self._stored[key] = result
        return self._stored[key]

    def static(self, name: str) -> np.ndarray | None:
        """The value of `name` in ONNX order when it is a constant, else None."""
        v = self.values[name]
        known = constant_value(v.tensor)
        return None if known is None else np.transpose(known, lay.inverse(v.layout))

    def static_ints(self, node: OnnxNode, i: int) -> list[int]:
        """Input i of `node` as a list of ints (checked static before building)."""
        known = self.static(node.inputs[i])
        if known is None:
            raise OnnxImportError(f"{node}: input {i} must be known while importing")
        return [int(v) for v in np.ravel(known)]

    def constant(self, value: np.ndarray | float, dtype: DType | None = None) -> Tensor:
        return constant(value, dtype=dtype, name="const")

    def broadcast(self, names: Sequence[str]) -> tuple[list[Tensor], Layout]:
        """The operands of an ONNX broadcasting op stored in one common layout: that of the
        first full-rank operand not in ONNX order, else the ONNX order (lower-rank operands
        get leading size-1 axes first, scalars stay as they are)."""
        values = [self.values[n] for n in names]
        rank = max(v.rank for v in values)
        full = [v.layout for v in values if v.rank == rank and not lay.is_identity(v.layout)]
        target = full[0] if full else lay.identity(rank)
        return [self._aligned(v, target) for v in values], target

    def _aligned(self, v: Value, target: Layout) -> Tensor:
        if v.rank == 0 or (v.rank < len(target) and lay.is_identity(target)):
            return self.stored(v, lay.identity(v.rank))
        if v.rank < len(target):
            ones = (1,) * (len(target) - v.rank)
            plain = self.stored(v, lay.identity(v.rank))
            known = constant_value(plain)
            if known is not None:
                expanded = self.constant(known.reshape(ones + known.shape))
            else:
                expanded = expand_dims_axes(plain, range(len(ones)))
            v = Value(expanded, lay.identity(len(target)))
        return self.stored(v, target)


# -- the model --------------------------------------------------------------------------------


def _load(model: onnx.ModelProto | str | os.PathLike | bytes) -> onnx.ModelProto:
    if isinstance(model, onnx.ModelProto):
        return model
    if isinstance(model, bytes):
        return onnx.load_model_from_string(model)
    return onnx.load(os.fspath(model))


def _opset(model: onnx.ModelProto) -> int:
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            return int(entry.version)
    raise OnnxImportError("the model imports no version of the default ONNX opset")


def _type_info(vi: onnx.ValueInfoProto) -> TypeInfo | None:
    if not vi.type.HasField("tensor_type"):
        return None
    tt = vi.type.tensor_type
    shape = None
    if tt.HasField("shape"):
        shape = tuple(d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim)
    return tt.elem_type, shape


def _types(model: onnx.ModelProto) -> dict[str, TypeInfo]:
    """Elem type and shape of every value ONNX's shape inference can tell."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:
        inferred = model
    g = inferred.graph
    types: dict[str, TypeInfo] = {}
    for init in g.initializer:
        types[init.name] = (init.data_type, tuple(init.dims))
    for vi in [*g.input, *g.value_info, *g.output]:
        info = _type_info(vi)
        if info is not None and info[0] != onnx.TensorProto.UNDEFINED:
            types.setdefault(vi.name, info)
    return types


def _node(proto: onnx.NodeProto, index: int, opset: int) -> OnnxNode:
    attrs = {}
    for a in proto.attribute:
        value = onnx.helper.get_attribute_value(a)
        if isinstance(value, bytes):
            value = value.decode()
        elif isinstance(value, onnx.TensorProto):
            value = numpy_helper.to_array(value)
        elif isinstance(value, list) and value and isinstance(value[0], bytes):
            value = [v.decode() for v in value]
        attrs[a.name] = value
    return OnnxNode(
        proto.op_type,
        proto.name or f"{proto.op_type}_{index}",
        tuple(proto.input),
        tuple(proto.output),
        attrs,
        opset,
    )


_DTYPE_NAMES = ", ".join(d.name for d in DTYPES.values())


def _model_info(
    model: onnx.ModelProto, nodes: Sequence[OnnxNode], fixed: Mapping[str, np.ndarray]
) -> ModelInfo:
    consts = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    consts.update((k, np.asarray(v)) for k, v in fixed.items())
    for node in nodes:
        if node.op_type == "Constant" and "value" in node.attrs:
            consts[node.outputs[0]] = node.attrs["value"]
    return ModelInfo(_types(model), consts)


def _problems(model: onnx.ModelProto, nodes: Sequence[OnnxNode], info: ModelInfo) -> list[str]:
    """Every reason the model cannot be imported, each with the nodes it concerns."""
    found: dict[str, list[str]] = defaultdict(list)
    opset = _opset(model)
    if not MIN_OPSET <= opset <= MAX_OPSET:
        found[f"opset {opset} (graphnet imports opsets {MIN_OPSET} to {MAX_OPSET})"].append("")
    protos = model.graph.node
    types = info.types
    static = set(info.consts)
    for proto, node in zip(protos, nodes, strict=True):
        if proto.domain not in ("", "ai.onnx"):
            found[f"op {proto.domain}.{node.op_type} (custom domain)"].append(node.name)
            continue
        conv = CONVERTERS.get(node.op_type)
        if conv is None:
            found[f"op {node.op_type}"].append(node.name)
            continue
        reasons = conv.check(node, info) if conv.check else []
        for name in (*node.inputs, *node.outputs):
            known = types.get(name)
            if name and known is not None and known[0] not in DTYPES:
                dt = onnx.TensorProto.DataType.Name(known[0]).lower()
                reasons.append(f"dtype {dt} (graphnet has {_DTYPE_NAMES})")
        for i in conv.static:
            if node.has_input(i) and node.inputs[i] not in static:
                reasons.append(
                    f"input {i} must be known while importing (an initializer, a Constant or "
                    "computed from them; pass constants={name: value} to fix a graph input)"
                )
        for reason in dict.fromkeys(reasons):
            found[f"{node.op_type}: {reason}"].append(node.name)
        if _foldable(node, static, types):
            static.update(o for o in node.outputs if o)
    return [_problem_line(reason, names) for reason, names in found.items()]


def _problem_line(reason: str, names: Sequence[str]) -> str:
    """The reason and the first nodes it concerns."""
    if not any(names):
        return reason
    more = " ..." if len(names) > 5 else ""
    return f"{reason} [{', '.join(names[:5])}{more}]"


def _foldable(node: OnnxNode, static: set[str], types: Mapping[str, TypeInfo]) -> bool:
    """Whether the node's outputs are known while importing (its inputs are, or it reads
    only the fully known shape of its input)."""
    if node.op_type == "Shape":
        shape = types.get(node.inputs[0], (0, None))[1]
        return shape is not None and None not in shape
    return all(i in static for i in node.inputs if i)


_INVALID = re.compile(r"[^A-Za-z0-9_.\-/]")


def _scope_name(name: str) -> str:
    """A valid graphnet name scope for an ONNX name."""
    clean = _INVALID.sub("_", name).strip("/")
    clean = re.sub("/+", "/", clean)
    return clean if clean and re.match(r"[A-Za-z0-9.]", clean) else f"n{clean}"


def import_model(
    model: onnx.ModelProto | str | os.PathLike | bytes,
    constants: Mapping[str, np.ndarray] | None = None,
) -> tuple[Graph, list[Tensor], list[Tensor]]:
    """Builds a graphnet Graph from an ONNX model (a ModelProto, its bytes or a file path).

    Returns (graph, inputs, outputs): a placeholder per graph input (in ONNX's NCHW order and
    shapes; symbolic dims are None) and a tensor per graph output. `constants` fixes graph
    inputs to values (they become constants), e.g. shapes a Reshape needs while importing.
    Raises OnnxImportError listing every unsupported op, attribute and dtype at once.
    """
    proto = _load(model)
    fixed = dict(constants or {})
    opset = _opset(proto)
    nodes = [_node(n, i, opset) for i, n in enumerate(proto.graph.node)]
    info = _model_info(proto, nodes, fixed)
    problems = _problems(proto, nodes, info)
    if problems:
        raise OnnxImportError(
            f"cannot import ONNX model '{proto.graph.name}' (opset {opset}):\n  - "
            + "\n  - ".join(problems)
        )
    graph = Graph()
    with graph.as_default():
        ctx = Importer(graph, opset, info.types)
        inputs = _inputs(ctx, proto.graph, fixed)
        for node in nodes:
            _convert(ctx, node)
        outputs = [ctx.tensor(o.name) for o in proto.graph.output]
    return _live_copy(graph, inputs, outputs)


def _live_copy(
    graph: Graph, inputs: Sequence[Tensor], outputs: Sequence[Tensor]
) -> tuple[Graph, list[Tensor], list[Tensor]]:
    """The nodes the outputs need, and the inputs, copied under their names into a new graph
    (importing leaves behind initializers only used transposed and folded nodes' inputs)."""
    live = {t.node for t in inputs} | ancestors(t.node for t in outputs)
    copy = Graph()
    mapped: dict[Tensor, Tensor] = {}
    for node in graph.nodes:
        if node in live:
            new = copy.create_node(node.type, [mapped[t] for t in node.inputs], node.attrs,
                                   [(t.dtype, t.shape) for t in node.outputs],
                                   name=node.name + "/")  # fmt: skip
            mapped.update(zip(node.outputs, new.outputs, strict=True))
    return copy, [mapped[t] for t in inputs], [mapped[t] for t in outputs]


def _inputs(ctx: Importer, g: onnx.GraphProto, fixed: Mapping[str, np.ndarray]) -> list[Tensor]:
    """Constants for the initializers and fixed inputs, placeholders for the other inputs."""
    for init in g.initializer:
        arr = numpy_helper.to_array(init)
        ctx.values[init.name] = Value(
            constant(arr, dtype=dtype_of(init.data_type), name=_scope_name(init.name)),
            lay.identity(arr.ndim),
        )
    placeholders = []
    for vi in g.input:
        if vi.name in ctx.values:
            continue  # an initializer listed as an input (IR < 4)
        elem, shape = ctx.types.get(vi.name) or _type_info(vi) or (0, None)
        if vi.name in fixed:
            arr = np.asarray(fixed[vi.name])
            t = constant(arr, dtype=dtype_of(elem), name=_scope_name(vi.name))
        else:
            if shape is None:
                raise OnnxImportError(f"graph input '{vi.name}' has no known rank")
            t = placeholder(dtype_of(elem), shape, name=_scope_name(vi.name))
            placeholders.append(t)
        ctx.values[vi.name] = Value(t, lay.identity(len(t.shape or ())))
    return placeholders


def _as_value(out: Value | Tensor) -> Value:
    if isinstance(out, Value):
        return out
    if out.shape is None:
        raise ShapeError(f"{out.name} has no known rank")
    return Value(out, lay.identity(len(out.shape)))


def _convert(ctx: Importer, node: OnnxNode) -> None:
    conv = CONVERTERS[node.op_type]
    present = [i for i in node.inputs if i]
    fold = bool(present) and all(ctx.static(i) is not None for i in present)
    try:
        with ctx.graph.name_scope(_scope_name(node.name)):
            outs = _folded(ctx, node, conv) if fold else [_as_value(o) for o in conv.fn(ctx, node)]
    except GraphnetError as err:
        raise OnnxImportError(f"{node}: {err}") from err
    for name, v in zip(node.outputs, outs, strict=False):
        if name:
            ctx.values[name] = v


def _folded(ctx: Importer, node: OnnxNode, conv: Converter) -> list[Value]:
    """The node evaluated on its constant inputs in a scratch graph, as constants here."""
    scratch = Graph()
    with scratch.as_default():
        sub = Importer(scratch, ctx.opset, ctx.types)
        for name in node.inputs:
            if name:
                sub.values[name] = Value(constant(ctx.static(name)), lay.identity(
                    ctx.values[name].rank))  # fmt: skip
        outs = [_as_value(o) for o in conv.fn(sub, node)]
    env: dict[Tensor, np.ndarray] = {}
    for n in scratch.nodes:
        args = [env[t] for t in n.inputs]
        results = [n.attrs["value"]] if n.type == "const" else evaluate(n.type, n.attrs, args)
        for t, r in zip(n.outputs, results, strict=True):
            env[t] = np.asarray(r).astype(t.dtype.np, copy=False)
    return [
        Value(constant(np.transpose(env[v.tensor], lay.inverse(v.layout)), dtype=v.dtype,
                       name="const"), lay.identity(v.rank))
        for v in outs
    ]  # fmt: skip
