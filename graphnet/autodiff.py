"""gn.gradients: reverse-mode differentiation that adds the backward graph as ordinary nodes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphnet.ir import GradientError, Node, Tensor
from graphnet.ir.graph import Graph
from graphnet.ops.array import ones_like
from graphnet.ops.core import convert_to_tensor, graph_of
from graphnet.ops.math import add_n
from graphnet.ops.registry import get_op


def _as_list(x: Any) -> list[Any]:
    return list(x) if isinstance(x, list | tuple) else [x]


def _between(ys: Sequence[Tensor], xs: Sequence[Tensor], stops: set[Node]) -> list[Node]:
    """Nodes on a data path from some x to some y, in topological (creation) order."""
    reach_from_x: set[Node] = set()
    x_nodes = {x.node for x in xs}
    graph = ys[0].graph
    for node in graph.nodes:  # creation order is a topological order
        if node in x_nodes or any(t.node in reach_from_x for t in node.inputs):
            if node not in stops or node in x_nodes:
                reach_from_x.add(node)
    needed: set[Node] = set()
    stack = [y.node for y in ys]
    while stack:
        node = stack.pop()
        if node in needed or node not in reach_from_x:
            continue
        needed.add(node)
        if node not in x_nodes:
            stack.extend(t.node for t in node.inputs)
    return sorted(needed, key=lambda n: n.id)


def gradients(
    ys: Tensor | Sequence[Tensor],
    xs: Any,
    grad_ys: Tensor | Sequence[Tensor | None] | None = None,
    name: str = "gradients",
    stop_gradients: Sequence[Any] | None = None,
) -> list[Tensor | None]:
    """d(sum(ys))/d(x) for each x in xs, as new nodes in the graph (TF1's tf.gradients).

    Gradients over several paths are summed, broadcasts are reduced back to input shapes,
    an x that ys do not depend on gets None, and stop_gradient nodes (or the tensors listed
    in `stop_gradients`) block the flow. The result can be differentiated again.
    """
    ys_list = [convert_to_tensor(y) for y in _as_list(ys)]
    xs_list = [convert_to_tensor(x) for x in _as_list(xs)]
    graph: Graph = graph_of(ys_list + xs_list)
    grad_ys_list = _as_list(grad_ys) if grad_ys is not None else [None] * len(ys_list)
    if len(grad_ys_list) != len(ys_list):
        raise ValueError(f"gradients: {len(ys_list)} ys but {len(grad_ys_list)} grad_ys")
    stops = {convert_to_tensor(s).node for s in (stop_gradients or ())}

    with graph.as_default(), graph.name_scope(name):
        pending: dict[Tensor, list[Tensor]] = {}
        for y, gy in zip(ys_list, grad_ys_list, strict=True):
            if not y.dtype.is_floating:
                raise GradientError(f"cannot differentiate {y.name} of dtype {y.dtype}")
            g = ones_like(y, name="grad_ys") if gy is None else convert_to_tensor(gy, dtype=y.dtype)
            pending.setdefault(y, []).append(g)

        x_nodes = {x.node for x in xs_list}
        for node in reversed(_between(ys_list, xs_list, stops)):
            out_grads = [_sum(pending.get(t)) for t in node.outputs]
            for t, g in zip(node.outputs, out_grads, strict=True):
                if g is not None:
                    pending[t] = [g]
            if node in x_nodes or node in stops or all(g is None for g in out_grads):
                continue
            for t, g in zip(node.inputs, _node_input_grads(node, out_grads), strict=True):
                if g is not None and t.dtype.is_floating:
                    pending.setdefault(t, []).append(g)
        return [_sum(pending.get(x)) for x in xs_list]


def _sum(grads: list[Tensor] | None) -> Tensor | None:
    if not grads:
        return None
    return grads[0] if len(grads) == 1 else add_n(grads)


def _node_input_grads(node: Node, out_grads: list[Tensor | None]) -> list[Tensor | None]:
    opdef = get_op(node.type)
    if not opdef.differentiable:
        return [None] * len(node.inputs)
    if opdef.grad is None:
        raise GradientError(
            f"no gradient is defined for node '{node.name}' ({node.type}); "
            "wrap its input in gn.stop_gradient if none is needed"
        )
    with node.graph.name_scope(f"{node.name}_grad"):
        grads = list(opdef.grad(node, out_grads))
    if len(grads) != len(node.inputs):
        raise GradientError(
            f"gradient rule of '{node.type}' returned {len(grads)} values "
            f"for {len(node.inputs)} inputs"
        )
    for t, g in zip(node.inputs, grads, strict=True):
        if g is not None and g.dtype != t.dtype and t.dtype.is_floating:
            raise GradientError(
                f"gradient rule of '{node.type}' (node '{node.name}') gave {g.dtype} for input "
                f"{t.name} of dtype {t.dtype}"
            )
    return grads
