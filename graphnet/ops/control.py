"""Control ops: identity, stop_gradient, no_op, group."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphnet.ir import Node, Tensor
from graphnet.ir.graph import get_default_graph
from graphnet.ops.core import TensorLike, apply_op, apply_op1
from graphnet.ops.registry import OpDef, define_op, register_op


def _same_type(inputs: Sequence[Tensor], attrs: dict) -> list:
    return [(inputs[0].dtype, inputs[0].shape)]


@define_op("identity", _same_type, fusion_kind="elementwise", doc="Returns x unchanged.")
def _identity_grad(node: Node, grads: Sequence[Tensor | None]) -> list[Tensor | None]:
    return [grads[0]]


register_op(
    OpDef(
        "stop_gradient",
        _same_type,
        differentiable=False,
        fusion_kind="elementwise",
        doc="Returns x; gradients do not flow through it.",
    )
)
register_op(
    OpDef(
        "no_op",
        lambda inputs, attrs: [],
        differentiable=False,
        doc="Does nothing; a node to hang control dependencies on.",
    )
)


def identity(input: TensorLike, name: str | None = None) -> Tensor:
    """A new tensor with the value of `input` (reads a variable's current value)."""
    return apply_op1("identity", [input], name=name)


def stop_gradient(input: TensorLike, name: str | None = None) -> Tensor:
    """`input`, treated as a constant by gn.gradients."""
    return apply_op1("stop_gradient", [input], name=name)


def no_op(name: str | None = None) -> Node:
    """A node that does nothing, useful with control_dependencies."""
    return apply_op("no_op", [], name=name)


def group(*inputs: Any, name: str | None = None) -> Node:
    """A node that runs after all `inputs` (Tensors, Nodes, Variables) and returns nothing."""
    graph = get_default_graph()
    flat: list[Any] = []
    for item in inputs:
        flat.extend(item if isinstance(item, list | tuple) else [item])
    if flat:
        graph = graph.as_graph_element(flat[0]).graph if hasattr(flat[0], "graph") else graph
    controls = [graph.as_graph_element(x).op for x in flat]
    return apply_op("no_op", [], name=name or "group_deps", control_inputs=controls)


__all__ = ["group", "identity", "no_op", "stop_gradient"]
