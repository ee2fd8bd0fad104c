"""A plan specialized to the shapes of its feeds: every buffer's shape re-inferred by the
steps' shape rules, and the temporaries placed in an arena for those shapes.

The loader runs plan files this way at each new batch size, and the CPU backend runs a plan
whose feeds had unknown dims (an O0 plan, with no shape inference) once their shapes are known.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from graphnet.compiler.memory import place_buffers
from graphnet.compiler.plan import Plan
from graphnet.ir import Graph, Tensor, as_dtype
from graphnet.ir.errors import ShapeError
from graphnet.ir.types import Shape
from graphnet.ops.registry import OPS


def infer_buffer_types(
    plan: Plan, feed_shapes: Mapping[int, Shape | None] | None = None
) -> list[tuple[str, Shape | None]]:
    """(dtype, shape) of every buffer, re-inferred by each step's shape rule from the feeds
    (their recorded shapes, or `feed_shapes` by buffer index), constants and variables. A rule
    that fails (rejecting its inputs or attrs, or giving another number of outputs than the
    step has) raises a ShapeError naming the step."""
    graph = Graph()
    tensors: dict[int, Tensor] = {}
    types: list[tuple[str, Shape | None]] = [(b.dtype, b.shape) for b in plan.buffers]
    for b in plan.buffers:
        if b.kind == "temp":
            continue
        shape = (feed_shapes or {}).get(b.index, b.shape)
        if b.kind == "const":
            value = plan.constants[b.index]
            node = graph.create_node(
                "const", [], {"value": value}, [(as_dtype(value.dtype), value.shape)]
            )
            shape = value.shape  # what the weight is, whatever the buffer row says
        else:
            op = "placeholder" if b.kind == "feed" else "variable"
            node = graph.create_node(
                op, [], {"dtype": b.dtype, "shape": shape}, [(as_dtype(b.dtype), shape)]
            )
        tensors[b.index] = node.outputs[0]
        types[b.index] = (b.dtype, shape)
    for i, step in enumerate(plan.steps):
        inputs = [tensors[b] for b in step.inputs]
        try:
            out_types = list(OPS[step.op].infer(inputs, step.attrs))
            if len(out_types) != len(step.outputs):
                raise ShapeError(f"{len(out_types)} outputs, the step has {len(step.outputs)}")
        except Exception as err:  # NOTE: plans from files are untrusted: any failure is theirs
            raise ShapeError(
                f"step {i} ('{step.node}', {step.op}): the op's shape rule rejects the inputs "
                f"and attrs ({type(err).__name__}: {err})"
            ) from None
        node = graph.create_node(step.op, inputs, step.attrs, out_types)
        for b, t in zip(step.outputs, node.outputs, strict=True):
            tensors[b] = t
            types[b] = (t.dtype.name, t.shape)
    return types


def batch_feed_shapes(plan: Plan, batch_size: int) -> dict[int, Shape]:
    """Feed buffer -> its shape with an unknown first (batch) dim set to `batch_size`."""
    return {
        b.index: (batch_size, *b.shape[1:])
        for b in plan.buffers
        if b.kind == "feed" and b.shape and b.shape[0] is None
    }


def specialize(plan: Plan, feed_shapes: Mapping[int, Shape | None]) -> Plan:
    """`plan` with every buffer's shape re-inferred from `feed_shapes` (feed buffer -> shape,
    e.g. batch_feed_shapes) and its temporaries placed in a new arena for those shapes
    (compiler.memory.place_buffers, what the plan_memory pass does). A step whose shape rule
    rejects them raises a ShapeError naming it."""
    types = infer_buffer_types(plan, feed_shapes)
    buffers = [
        replace(b, shape=shape, offset=None, inplace=None)
        for b, (_, shape) in zip(plan.buffers, types, strict=True)
    ]
    return place_buffers(replace(plan, buffers=buffers, arena_size=None))
