"""From a program graph to a Plan: buffers for values, steps for kernel calls, in graph order."""

from __future__ import annotations

from collections.abc import Sequence

from graphnet.compiler.plan import Buffer, Plan, Step
from graphnet.ir import FeedError, Graph, Node, Tensor
from graphnet.ir.graph import ancestors
from graphnet.ir.types import format_shape
from graphnet.ops.registry import get_op

#: Node types that become buffers, not steps.
_SOURCES = ("const", "variable", "placeholder")


def prune(fetches: Sequence[Tensor | Node], feeds: Sequence[Tensor]) -> list[Node]:
    """The nodes that computing `fetches` needs, given `feeds`, in topological order; raises
    FeedError naming every placeholder that is needed but not fed."""
    fed = set(feeds)
    roots = [f if isinstance(f, Node) else f.node for f in fetches if f not in fed]
    needed = ancestors(roots, cut=lambda t: t in fed)
    nodes = sorted(needed, key=lambda n: n.id)  # creation order is topological
    missing = [n.outputs[0] for n in nodes if n.type == "placeholder" and n.outputs[0] not in fed]
    if missing:
        listed = ", ".join(f"'{t.name}' ({t.dtype}{format_shape(t.shape)})" for t in missing)
        raise FeedError(f"missing feed for placeholder {listed}: the fetches depend on it")
    return nodes


def lower(program: Graph) -> Plan:
    """The Plan of a program graph (see compiler.program): one buffer per value, one step per
    node that computes, in the program's node order."""
    plan = Plan(buffers=[], steps=[], feeds={}, fetches=[])
    index: dict[Tensor, int] = {}
    fetches: dict[int, int | None] = {}

    def new_buffer(t: Tensor, kind: str) -> int:
        plan.buffers.append(Buffer(len(plan.buffers), t.name, t.dtype.name, t.shape, kind))  # type: ignore[arg-type]
        return len(plan.buffers) - 1

    for node in program.nodes:
        if node.type == "fetch":
            fetches[node.attrs["index"]] = index[node.inputs[0]] if node.inputs else None
        elif node.type == "const":
            b = index[node.outputs[0]] = new_buffer(node.outputs[0], "const")
            plan.constants[b] = node.attrs["value"]
        elif node.type == "variable":
            b = index[node.outputs[0]] = new_buffer(node.outputs[0], "variable")
            plan.variables[b] = node.name
        elif node.type == "placeholder":
            if "feed" not in node.attrs:
                t = node.outputs[0]
                raise FeedError(f"missing feed for placeholder '{t.name}' "
                                f"({t.dtype}{format_shape(t.shape)})")  # fmt: skip
            b = index[node.outputs[0]] = new_buffer(node.outputs[0], "feed")
            plan.feeds[node.attrs["feed"]] = b
        elif node.type != "no_op":
            outputs = tuple(new_buffer(t, "temp") for t in node.outputs)
            index.update(zip(node.outputs, outputs, strict=True))
            opdef = get_op(node.type)
            inputs = tuple(index[t] for t in node.inputs)
            writes = inputs[opdef.writes_input] if opdef.writes_input is not None else None
            plan.steps.append(Step(node.name, node.type, node.attrs, inputs, outputs, writes,
                                   opdef.reads_written_input))  # fmt: skip
    plan.fetches = [fetches[i] for i in range(len(fetches))]
    return plan
