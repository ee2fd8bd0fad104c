"""Rewriting a graph into a new one, node by node: how passes change graphs without mutating."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from graphnet.ir import Graph, Node, Tensor
from graphnet.ops.core import apply_op
from graphnet.ops.registry import get_op


class Rewriter:
    """Copies nodes of `source` into a fresh graph, mapping old tensors to new ones.

    Copies keep their names (all source names are reserved, so nodes a pass emits get fresh
    ones). A replaced node's control-dependents depend on the nodes of its replacement instead.
    """

    def __init__(self, source: Graph) -> None:
        self.source = source
        self.graph = Graph()
        self.graph.seed = source.seed
        self.graph.reserve_names(n.name for n in source.nodes)
        self._tensors: dict[Tensor, Tensor] = {}
        self._nodes: dict[Node, list[Node]] = {}

    def tensor(self, t: Tensor) -> Tensor:
        """The new tensor standing for source tensor `t`."""
        return self._tensors[t]

    def inputs(self, node: Node) -> list[Tensor]:
        return [self._tensors[t] for t in node.inputs]

    def has(self, node: Node) -> bool:
        return node in self._nodes

    def copy(self, node: Node, reinfer: bool = False) -> Node:
        """A copy of `node` over the mapped inputs; `reinfer` re-runs its shape rule."""
        inputs = self.inputs(node)
        types = (
            get_op(node.type).infer(inputs, node.attrs)
            if reinfer
            else [(t.dtype, t.shape) for t in node.outputs]
        )
        new = self.graph.create_node(
            node.type, inputs, node.attrs, list(types), name=node.name + "/",
            control_inputs=self.control_inputs(node),
        )  # fmt: skip
        self._record(node, list(new.outputs), [new])
        return new

    def control_inputs(self, node: Node) -> list[Node]:
        out: list[Node] = []
        for c in node.control_inputs:
            out.extend(self._nodes.get(c, ()))
        return out

    def emit(self, op: str, inputs: Sequence[Tensor], attrs: Mapping[str, Any] | None = None,
             name: str | None = None) -> Node:  # fmt: skip
        """A new node (its shape rule runs), named `name` or after its op."""
        return apply_op(op, inputs, attrs, name=name)

    def replace(self, node: Node, outputs: Sequence[Tensor]) -> None:
        """Makes `outputs` (new-graph tensors) stand for the outputs of source `node`."""
        producers = list(dict.fromkeys(t.node for t in outputs))
        self._record(node, list(outputs), producers)

    def drop(self, node: Node) -> None:
        """Leaves `node` out; nothing may use its outputs."""
        self._nodes[node] = []

    def _record(self, node: Node, outputs: list[Tensor], nodes: list[Node]) -> None:
        for old, new in zip(node.outputs, outputs, strict=True):
            self._tensors[old] = new
        self._nodes[node] = nodes


Visit = Callable[[Node, Rewriter], Sequence[Tensor] | None]


def rewrite(graph: Graph, visit: Visit, order: Sequence[Node] | None = None) -> Graph:
    """A new graph where each node (in `order`, default creation order) is what `visit`
    returns for it: replacement tensors for its outputs, or None to copy it unchanged.
    `visit` may also call `rewriter.drop(node)` / `copy(node, reinfer=True)` itself and
    return None after having done so."""
    rw = Rewriter(graph)
    with rw.graph.as_default():
        for node in graph.nodes if order is None else order:
            result = visit(node, rw)
            if result is not None:
                rw.replace(node, result)
            elif not rw.has(node):
                rw.copy(node)
    return rw.graph
