"""From a graph, fetches and feeds to a Plan: prune to what the fetches need, order, lower."""

from __future__ import annotations

from collections.abc import Sequence

from graphnet.compiler.plan import Buffer, Plan, Step
from graphnet.ir import FeedError, Node, Tensor
from graphnet.ir.types import format_shape
from graphnet.ops.registry import get_op


def prune(fetches: Sequence[Tensor | Node], feeds: Sequence[Tensor]) -> list[Node]:
    """The nodes that computing `fetches` needs, given `feeds`, in topological order."""
    fed = set(feeds)
    needed: set[Node] = set()
    stack: list[Node] = []
    for f in fetches:
        if isinstance(f, Node):
            stack.append(f)
        elif f not in fed:
            stack.append(f.node)
    while stack:
        node = stack.pop()
        if node in needed:
            continue
        needed.add(node)
        stack.extend(t.node for t in node.inputs if t not in fed)
        stack.extend(node.control_inputs)
    return sorted(needed, key=lambda n: n.id)  # creation order is topological


def build_plan(fetches: Sequence[Tensor | Node], feeds: Sequence[Tensor]) -> Plan:
    """Lowers the pruned, ordered graph to a Plan; raises FeedError for missing feeds."""
    nodes = prune(fetches, feeds)
    fed = set(feeds)
    missing = [n for n in nodes if n.type == "placeholder" and n.outputs[0] not in fed]
    if missing:
        listed = ", ".join(
            f"'{n.outputs[0].name}' ({n.outputs[0].dtype}{format_shape(n.outputs[0].shape)})"
            for n in missing
        )
        raise FeedError(f"missing feed for placeholder {listed}: the fetches depend on it")

    buffers: list[Buffer] = []
    index: dict[Tensor, int] = {}
    plan = Plan(buffers=buffers, steps=[], feeds={}, fetches=[])

    def new_buffer(t: Tensor, kind: str) -> int:
        buffers.append(Buffer(len(buffers), t.name, t.dtype.name, t.shape, kind))  # type: ignore[arg-type]
        return len(buffers) - 1

    for t in feeds:
        index[t] = plan.feeds[t.name] = new_buffer(t, "feed")
    for node in nodes:
        if node.type == "const" and node.outputs[0] not in fed:
            b = index[node.outputs[0]] = new_buffer(node.outputs[0], "const")
            plan.constants[b] = node.attrs["value"]
        elif node.type == "variable" and node.outputs[0] not in fed:
            b = index[node.outputs[0]] = new_buffer(node.outputs[0], "variable")
            plan.variables[b] = node.name
        elif node.type in ("const", "variable", "placeholder", "no_op"):
            continue
        else:
            outputs = []
            for t in node.outputs:
                b = new_buffer(t, "temp")
                if t not in fed:
                    index[t] = b
                outputs.append(b)
            opdef = get_op(node.type)
            inputs = tuple(index[t] for t in node.inputs)
            writes = inputs[opdef.writes_input] if opdef.writes_input is not None else None
            plan.steps.append(
                Step(
                    node.name,
                    node.type,
                    node.attrs,
                    inputs,
                    tuple(outputs),
                    writes,
                    opdef.reads_written_input,
                )
            )
    plan.fetches = [None if isinstance(f, Node) else index[f] for f in fetches]
    return plan
