"""graphnet -> ONNX: `export` writes the inference graph a Session runs as an ONNX model.

The program of the fetches is extracted, its variables frozen to the session's values and
simplified by the compiler's passes (constant folding, batch-norm folding, transpose
cancelling). Each remaining op becomes ONNX nodes. graphnet's tensors are NHWC; ONNX's Conv,
pools and BatchNormalization are NCHW, so an ONNX value holds a graphnet tensor in a layout
(see layout.py) and Transposes are made only where an op needs another order than it has.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

import graphnet.compiler.passes  # noqa: F401 - registers the passes export runs
from graphnet.compiler.pipeline import PassContext, run_passes
from graphnet.compiler.program import extract
from graphnet.export.onnx import layout as lay
from graphnet.export.onnx.layout import Layout
from graphnet.ir import GraphnetError, Node, Tensor
from graphnet.ir.types import DType, Shape

#: Export opsets: Softmax along one axis, Squeeze/Unsqueeze/ReduceSum axes as inputs.
MIN_OPSET, MAX_OPSET = 13, 21

#: The passes that make the inference graph: variables frozen and folded, BN folded.
PASSES = ("infer_shapes", "simplify", "fold_batchnorm", "fold_constants",
          "eliminate_common_subexpressions", "eliminate_dead")  # fmt: skip

ONNX_TYPES = {
    "float32": onnx.TensorProto.FLOAT,
    "float64": onnx.TensorProto.DOUBLE,
    "int32": onnx.TensorProto.INT32,
    "int64": onnx.TensorProto.INT64,
    "bool": onnx.TensorProto.BOOL,
}


class OnnxExportError(GraphnetError):
    """A graph graphnet cannot export; the message lists every reason at once."""


def onnx_type(dtype: DType) -> int:
    return ONNX_TYPES[dtype.name]


@dataclass(frozen=True)
class Stored:
    """An ONNX value `name` holding graphnet `tensor` in `layout` (ONNX axis i is
    graphnet axis layout[i])."""

    name: str
    layout: Layout
    tensor: Tensor


#: An emitter returns, per output, (ONNX name, layout) or the graphnet tensor it equals.
EmitFn = Callable[["Exporter", Node], Sequence["tuple[str, Layout] | Tensor"]]
EMITTERS: dict[str, EmitFn] = {}


def emitter(*ops: str) -> Callable[[EmitFn], EmitFn]:
    """Registers the decorated function as the ONNX emitter of graphnet `ops`."""

    def decorate(fn: EmitFn) -> EmitFn:
        for op in ops:
            if op in EMITTERS:
                raise GraphnetError(f"graphnet op {op} has two ONNX emitters")
            EMITTERS[op] = fn
        return fn

    return decorate


@dataclass
class Exporter:
    """The ONNX graph being built and the helpers emitters use."""

    opset: int
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[onnx.TensorProto] = field(default_factory=list)
    values: dict[Tensor, Stored] = field(default_factory=dict)
    aliases: dict[Tensor, Tensor] = field(default_factory=dict)
    uses: Counter[Tensor] = field(default_factory=Counter)
    producers: dict[str, onnx.NodeProto] = field(default_factory=dict)
    _used: set[str] = field(default_factory=set)
    _stored: dict[tuple[Tensor, Layout], str] = field(default_factory=dict)

    def fresh(self, base: str) -> str:
        name, k = base, 0
        while name in self._used:
            k += 1
            name = f"{base}_{k}"
        self._used.add(name)
        return name

    def add(self, op_type: str, inputs: Sequence[str], base: str, outputs: int = 1,
            **attrs: Any) -> list[str]:  # fmt: skip
        """Adds an ONNX node; returns its output names (fresh names from `base`)."""
        names = [self.fresh(base if i == 0 else f"{base}:{i}") for i in range(outputs)]
        proto = helper.make_node(op_type, list(inputs), names,
                                 name=self.fresh(f"{base}/{op_type}"), **attrs)  # fmt: skip
        self.nodes.append(proto)
        self.producers.update(dict.fromkeys(names, proto))
        return names

    def initializer(self, value: np.ndarray, base: str) -> str:
        name = self.fresh(base)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def ints(self, values: Sequence[int], base: str) -> str:
        """An int64 initializer (shapes, axes, pads)."""
        return self.initializer(np.asarray(values, dtype=np.int64), base)

    def static(self, t: Tensor) -> np.ndarray | None:
        t = self.aliases.get(t, t)
        return t.node.attrs["value"] if t.node.type == "const" else None

    def value(self, t: Tensor) -> Stored:
        t = self.aliases.get(t, t)
        if t in self.values:
            return self.values[t]
        if self.static(t) is None:
            raise OnnxExportError(f"{t.name} ({t.node.type}) has no ONNX value")
        return Stored("", lay.identity(len(t.shape)), t)  # a constant, made when needed

    def stored(self, t: Tensor, target: Layout | None = None) -> str:
        """The ONNX name holding t in `target` (default: graphnet's own order)."""
        t = self.aliases.get(t, t)
        v = self.value(t)
        target = lay.identity(len(v.layout)) if target is None else target
        if v.layout == target and v.name:
            return v.name
        key = (t, target)
        if key not in self._stored:
            known = self.static(t)
            perm = lay.move(v.layout, target)
            if known is not None:
                self._stored[key] = self.initializer(np.transpose(known, perm), t.node.name)
            elif (
                t.shape is not None
                and None not in t.shape
                and lay.reshape_only([t.shape[a] for a in v.layout], perm)
            ):
                dims = [t.shape[a] for a in target]
                shape_name = self.ints(dims, f"{t.node.name}/shape")
                self._stored[key] = self.add("Reshape", [v.name, shape_name], t.node.name)[0]
            else:
                self._stored[key] = self.add("Transpose", [v.name], t.node.name,
                                             perm=list(perm))[0]  # fmt: skip
        return self._stored[key]

    def broadcast(self, tensors: Sequence[Tensor]) -> tuple[list[str], Layout]:
        """Operands of a broadcasting op in one layout: the first full-rank one's that is not
        graphnet's order, else graphnet's order; lower ranks get leading unit axes first."""
        rank = max(len(t.shape) for t in tensors)
        full = [self.value(t).layout for t in tensors if len(t.shape) == rank]
        target = next((p for p in full if not lay.is_identity(p)), lay.identity(rank))
        return [self._aligned(t, target) for t in tensors], target

    def _aligned(self, t: Tensor, target: Layout) -> str:
        rank = len(t.shape)
        if rank == 0 or rank == len(target) or lay.is_identity(target):
            return self.stored(t, target if rank == len(target) else None)
        ones = (1,) * (len(target) - rank)
        known = self.static(t)
        if known is not None:
            expanded = known.reshape(ones + known.shape)
            return self.initializer(np.transpose(expanded, target), t.node.name)
        axes = self.ints(range(len(ones)), f"{t.node.name}/axes")
        name = self.add("Unsqueeze", [self.stored(t), axes], t.node.name)[0]
        return self.add("Transpose", [name], t.node.name, perm=list(target))[0]


def _program(sess: Any, fetches: Sequence[Tensor], feeds: Mapping[Tensor, Shape | None]) -> Any:
    """The fetches' program with variables frozen and the inference passes run."""
    program = extract(sess.graph, list(fetches), dict(feeds))
    ctx = PassContext(opt_level="O1", inference=True, variables=sess.variable_values())
    return run_passes(program, PASSES, ctx)


def _value_info(name: str, t: Tensor) -> onnx.ValueInfoProto:
    dims = None if t.shape is None else list(t.shape)
    return helper.make_tensor_value_info(name, onnx_type(t.dtype), dims)


def export(
    sess: Any,
    fetches: Tensor | Sequence[Tensor],
    feeds: Sequence[Tensor] | Mapping[Tensor, Shape | None],
    path: str | os.PathLike | None = None,
    opset: int = 17,
    name: str = "graphnet",
) -> onnx.ModelProto:
    """The ONNX model computing `fetches` from the placeholders `feeds` (a list, or tensor ->
    the shape to export with) with the variables of `sess` frozen; written to `path` if given.
    Raises OnnxExportError listing every op that has no ONNX form."""
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise OnnxExportError(f"opset {opset}: graphnet exports opsets {MIN_OPSET} to {MAX_OPSET}")
    outs = [fetches] if isinstance(fetches, Tensor) else list(fetches)
    feed_shapes = dict(feeds) if isinstance(feeds, Mapping) else dict.fromkeys(feeds)
    program = _program(sess, outs, feed_shapes)
    missing = sorted({n.type for n in program.nodes if n.type not in EMITTERS and n.type not in
                      ("const", "placeholder", "fetch")})  # fmt: skip
    variables = sorted(n.name for n in program.nodes if n.type == "variable")
    if missing or variables:
        reasons = [f"op {op} has no ONNX form" for op in missing]
        reasons += [f"variable {v} is assigned or uninitialized" for v in variables]
        raise OnnxExportError("cannot export to ONNX:\n  - " + "\n  - ".join(reasons))
    ex = Exporter(opset)
    ex.uses.update(t for n in program.nodes for t in n.inputs)
    inputs, outputs = [], []
    taken: set[str] = set()
    for node in program.nodes:
        if node.type == "placeholder":
            t = node.outputs[0]
            ex.values[t] = Stored(ex.fresh(node.name), lay.identity(len(t.shape)), t)
            inputs.append(_value_info(ex.values[t].name, t))
        elif node.type == "fetch":
            outputs.append(_output(ex, node, taken))
        elif node.type != "const":
            for t, out in zip(node.outputs, EMITTERS[node.type](ex, node), strict=False):
                if isinstance(out, Tensor):
                    ex.aliases[t] = ex.aliases.get(out, out)
                else:
                    ex.values[t] = Stored(out[0], out[1], t)
    graph = helper.make_graph(ex.nodes, name, inputs, outputs, ex.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_operatorsetid("", opset)],
                              producer_name="graphnet")  # fmt: skip
    onnx.checker.check_model(model)
    if path is not None:
        onnx.save(model, os.fspath(path))
    return model


def _output(ex: Exporter, fetch: Node, taken: set[str]) -> onnx.ValueInfoProto:
    """A graph output in graphnet's order; an Identity when its value is a graph input, an
    initializer or already another output."""
    if not fetch.inputs:
        raise OnnxExportError("ONNX outputs are tensors; a fetched node has no value")
    t = fetch.inputs[0]
    name = ex.stored(t)
    produced = {o for n in ex.nodes for o in n.output}
    if name not in produced or name in taken:
        name = ex.add("Identity", [name], f"output_{fetch.attrs['index']}")[0]
    taken.add(name)
    return _value_info(name, t)
