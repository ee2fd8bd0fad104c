"""One graph for every view: a Graph as it is, a Plan as its program graph, shapes refined.

A Plan holds no graph objects, so the views rebuild the program it was lowered from: a
placeholder per fed buffer (attr `feed`), a const per constant, a variable per variable buffer,
a node per step (named after the step's node) and a `fetch` node per fetch, as
`compiler.program.extract` makes them. Shapes are re-inferred from the feeds through each op's
shape rule and merged with the recorded ones, so a plan compiled without `infer_shapes` still
gets the concrete shapes its feeds imply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from graphnet.compiler.plan import Buffer, Plan
from graphnet.ir import DTypeError, Graph, Node, ShapeError, Tensor, as_dtype
from graphnet.ir.types import Shape, as_shape, format_shape, merge_shapes
from graphnet.ops.registry import OPS

GraphOrPlan = Graph | Plan
#: Feed shapes keyed by placeholder Tensor or by tensor name ('x:0').
FeedShapes = Mapping[Tensor | str, Sequence[int | None] | None]

#: Node types that hold values rather than compute them (buffers in a Plan, not steps).
SOURCES = ("const", "variable", "placeholder")


def as_graph(target: GraphOrPlan, feed_shapes: FeedShapes | None = None) -> Graph:
    """`target` as a Graph: a Graph itself (a refined copy when `feed_shapes` is given), a Plan
    as its program graph; unknown dims the feeds determine are filled in."""
    feeds = {_feed_key(k): as_shape(v) for k, v in (feed_shapes or {}).items()}
    if isinstance(target, Plan):
        return _program_of_plan(target, feeds)
    if not isinstance(target, Graph):
        raise TypeError(f"expected a gn.Graph or a compiled Plan, got {type(target).__name__}")
    if not feeds:
        return target
    return _refined_copy(target, feeds)


def is_step(node: Node) -> bool:
    """Whether `node` computes something (lowering makes it a plan step)."""
    return node.type not in (*SOURCES, "fetch", "no_op")


def _feed_key(key: Tensor | str) -> str:
    return key.name if isinstance(key, Tensor) else key


class _Builder:
    """Adds nodes to a fresh graph under given names, re-running each op's shape rule."""

    def __init__(self) -> None:
        self.graph = Graph()

    def add(
        self,
        name: str | None,
        op: str,
        inputs: Sequence[Tensor],
        attrs: Mapping[str, Any],
        recorded: Sequence[tuple[Any, Shape | None]],
        control_inputs: Sequence[Node] = (),
    ) -> Node:
        types = [(as_dtype(d), s) for d, s in recorded]
        if op in OPS:
            try:
                inferred = OPS[op].infer(list(inputs), attrs)
                types = [
                    (d, merge_shapes(s, t)) for (d, s), (_, t) in zip(types, inferred, strict=True)
                ]
            except (ShapeError, DTypeError) as err:
                shapes = ", ".join(f"{t.name}: {format_shape(t.shape)}" for t in inputs)
                raise ShapeError(
                    f"node '{name}' ({op}): {err} (with the given feed shapes; inputs {shapes})"
                ) from None
        exact = None if name is None else name + "/"
        return self.graph.create_node(op, inputs, attrs, types, exact, control_inputs)


def _refined_copy(graph: Graph, feeds: Mapping[str, Shape | None]) -> Graph:
    unknown = set(feeds) - {n.outputs[0].name for n in graph.nodes if n.type == "placeholder"}
    if unknown:
        raise ShapeError(f"feed_shapes names {sorted(unknown)}, which are not placeholders")
    builder = _Builder()
    tensors: dict[Tensor, Tensor] = {}
    nodes: dict[Node, Node] = {}
    for node in graph.nodes:
        attrs = dict(node.attrs)
        recorded = [(t.dtype, t.shape) for t in node.outputs]
        if node.type == "placeholder" and node.outputs[0].name in feeds:
            attrs["shape"] = _fed_shape(node.outputs[0].name, node.outputs[0].shape, feeds)
            recorded = [(node.outputs[0].dtype, attrs["shape"])]
        new = builder.add(
            node.name,
            node.type,
            [tensors[t] for t in node.inputs],
            attrs,
            recorded,
            [nodes[c] for c in node.control_inputs],
        )
        nodes[node] = new
        tensors.update(zip(node.outputs, new.outputs, strict=True))
    return builder.graph


def _program_of_plan(plan: Plan, feeds: Mapping[str, Shape | None]) -> Graph:
    unknown = set(feeds) - set(plan.feeds)
    if unknown:
        raise ShapeError(
            f"feed_shapes names {sorted(unknown)}; the plan's feeds are {list(plan.feeds)}"
        )
    fed = {b: name for name, b in plan.feeds.items()}
    builder = _Builder()
    values: dict[int, Tensor] = {}
    for b in plan.buffers:
        if b.kind == "temp":
            continue
        recorded = [(b.dtype, b.shape)]
        if b.kind == "const":
            attrs: dict[str, Any] = {"value": plan.constants[b.index]}
            node = builder.add(_node_name(b), "const", [], attrs, recorded)
        elif b.kind == "variable":
            attrs = {"dtype": b.dtype, "shape": b.shape}
            node = builder.add(plan.variables[b.index], "variable", [], attrs, recorded)
        else:
            shape = _fed_shape(fed[b.index], b.shape, feeds)
            attrs = {"dtype": b.dtype, "shape": shape, "feed": fed[b.index]}
            node = builder.add(_node_name(b), "placeholder", [], attrs, [(b.dtype, shape)])
        values[b.index] = node.outputs[0]
    for step in plan.steps:
        recorded = [(plan.buffers[o].dtype, plan.buffers[o].shape) for o in step.outputs]
        inputs = [values[i] for i in step.inputs]
        node = builder.add(step.node, step.op, inputs, step.attrs, recorded)
        values.update(zip(step.outputs, node.outputs, strict=True))
    for i, b in enumerate(plan.fetches):
        builder.add(None, "fetch", [] if b is None else [values[b]], {"index": i}, [])
    return builder.graph


def _fed_shape(
    name: str, declared: Shape | None, feeds: Mapping[str, Shape | None]
) -> Shape | None:
    """The declared shape of fed tensor `name` refined by its entry in feed_shapes, if any."""
    try:
        return merge_shapes(declared, feeds.get(name))
    except ShapeError:
        raise ShapeError(
            f"feed_shapes gives {name} the shape {format_shape(feeds[name])}, which does not "
            f"fit its declared shape {format_shape(declared)}"
        ) from None


def _node_name(buffer: Buffer) -> str:
    """The node a buffer's tensor name ('scope/x:0') belongs to."""
    return buffer.name.rpartition(":")[0] or buffer.name
