"""The text form of a graph: one line per node, `%name = op(%inputs) {attrs} : type`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from graphnet.ir.graph import Graph, Node, Tensor
from graphnet.ir.types import format_shape

MAX_INLINE_ELEMENTS = 8


def format_tensor_ref(t: Tensor) -> str:
    return f"%{t.node.name}" if t.index == 0 else f"%{t.node.name}:{t.index}"


def format_value(value: Any) -> str:
    """Attribute values: strings quoted, sequences in [], small arrays inline, big ones elided."""
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, tuple):
        return "[" + ",".join(format_value(v) for v in value) + "]"
    if isinstance(value, np.ndarray):
        head = f"{value.dtype.name}{format_shape(value.shape)}"
        if value.size <= MAX_INLINE_ELEMENTS:
            return f"{head}{np.array2string(value.ravel(), separator=',').replace(' ', '')}"
        return f"{head}<...>"
    return repr(value)


def format_node(node: Node) -> str:
    lhs = ", ".join(format_tensor_ref(t) for t in node.outputs) or f"%{node.name}"
    args = ", ".join(format_tensor_ref(t) for t in node.inputs)
    parts = [f"{lhs} = {node.type}({args})"]
    if node.control_inputs:
        parts.append("^[" + ", ".join(f"%{c.name}" for c in node.control_inputs) + "]")
    if node.attrs:
        parts.append("{" + ", ".join(f"{k}={format_value(v)}" for k, v in node.attrs.items()) + "}")
    types = ", ".join(f"{t.dtype.short}{format_shape(t.shape)}" for t in node.outputs)
    return " ".join(parts) + (f" : {types}" if types else "")


def format_graph(graph: Graph, nodes: Iterable[Node] | None = None) -> str:
    """The text form of `nodes` (default: all, in insertion order)."""
    return "\n".join(format_node(n) for n in (graph.nodes if nodes is None else nodes))
