"""eliminate_dead: removes nodes no fetch needs. Also the effect queries other passes use."""

from __future__ import annotations

from graphnet.compiler.pipeline import PassContext, register_pass
from graphnet.compiler.rewrite import rewrite
from graphnet.ir import Graph, Node
from graphnet.ir.graph import ancestors
from graphnet.ops.registry import get_op


def live_nodes(graph: Graph) -> set[Node]:
    """The fetch nodes and placeholders (a program's interface: its feeds stay accepted even
    when folding made them unneeded) and all they reach through inputs and control inputs."""
    return ancestors(n for n in graph.nodes if n.type in ("fetch", "placeholder"))


def written_nodes(graph: Graph) -> set[Node]:
    """Nodes (variables) whose value some op of the graph overwrites: reads of them depend on
    where they happen, so passes neither merge, move nor bypass them."""
    found = set()
    for node in graph.nodes:
        index = get_op(node.type).writes_input
        if index is not None:
            found.add(node.inputs[index].node)
    return found


def effect_dependents(graph: Graph) -> set[Node]:
    """Nodes with a side effect (assignments) and every node after one through inputs or
    control inputs: a pass that drops an edge to one of them may skip the effect."""
    found: set[Node] = set()
    for node in graph.nodes:
        if (
            get_op(node.type).writes_input is not None
            or any(t.node in found for t in node.inputs)
            or any(c in found for c in node.control_inputs)
        ):
            found.add(node)
    return found


@register_pass("eliminate_dead")
def eliminate_dead(graph: Graph, ctx: PassContext) -> Graph:
    """Drops every node that no fetch node needs (see live_nodes; placeholders stay); stateful
    nodes go too when nothing live depends on them. Needs a program (fetch nodes). Counts
    `removed`."""
    live = live_nodes(graph)
    if len(live) < len(graph.nodes):
        ctx.count("removed", len(graph.nodes) - len(live))
    return rewrite(graph, lambda node, rw: None, order=[n for n in graph.nodes if n in live])
