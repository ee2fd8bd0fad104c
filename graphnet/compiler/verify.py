"""The verifier: every use defined before it, names unique, types what each op's rule says."""

from __future__ import annotations

from graphnet.ir import DTypeError, Graph, GraphError, ShapeError
from graphnet.ir.types import format_shape, merge_shapes
from graphnet.ops.registry import get_op


def verify(graph: Graph, where: str = "") -> None:
    """Raises GraphError naming the first broken node (after pass `where`, if given)."""
    after = f" after pass '{where}'" if where else ""
    seen: set[int] = set()
    names: set[str] = set()
    for node in graph.nodes:
        prefix = f"verify{after}: node '{node.name}' ({node.type})"
        if node.graph is not graph:
            raise GraphError(f"{prefix} belongs to another graph")
        if node.name in names:
            raise GraphError(f"{prefix}: the name is used twice")
        names.add(node.name)
        for t in node.inputs:
            if t.graph is not graph or id(t.node) not in seen:
                raise GraphError(f"{prefix}: input {t.name} is not defined before its use")
        for c in node.control_inputs:
            if id(c) not in seen:
                raise GraphError(f"{prefix}: control input '{c.name}' is not defined before it")
        try:
            expected = get_op(node.type).infer(list(node.inputs), node.attrs)
        except (ShapeError, DTypeError) as err:
            raise GraphError(f"{prefix}: its shape rule rejects its inputs: {err}") from None
        if len(expected) != len(node.outputs):
            raise GraphError(
                f"{prefix}: {len(node.outputs)} outputs, its op defines {len(expected)}"
            )
        for t, (dtype, shape) in zip(node.outputs, expected, strict=True):
            if t.dtype != dtype:
                raise GraphError(f"{prefix}: output {t.name} is {t.dtype}, its op says {dtype}")
            try:
                merge_shapes(t.shape, shape)
            except ShapeError:
                raise GraphError(
                    f"{prefix}: output {t.name} has shape {format_shape(t.shape)}, its op says "
                    f"{format_shape(shape)}"
                ) from None
        seen.add(id(node))
