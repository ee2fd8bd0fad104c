"""eliminate_common_subexpressions: nodes computing the same value merge into the first one."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from graphnet.compiler.passes.eliminate_dead import written_nodes
from graphnet.compiler.pipeline import PassContext, register_pass
from graphnet.compiler.rewrite import Rewriter, rewrite
from graphnet.ir import Graph, Node, Tensor
from graphnet.ops.registry import get_op


@register_pass("eliminate_common_subexpressions")
def eliminate_common_subexpressions(graph: Graph, ctx: PassContext) -> Graph:
    """Merges each node into an earlier one of the same op, attrs, inputs and control inputs.

    Consts with equal values merge (Attrs compare arrays by dtype, shape and bytes). Stateful
    and random nodes never merge, nor reads of a variable that the graph assigns (where a read
    happens matters), nor nodes without outputs. Needs nothing before it. Counts `merged`.
    """
    written = written_nodes(graph)
    first: dict[Hashable, Node] = {}

    def visit(node: Node, rw: Rewriter) -> Sequence[Tensor] | None:
        opdef = get_op(node.type)
        if (opdef.stateful or opdef.random or not node.outputs
                or any(t.node in written for t in node.inputs)):  # fmt: skip
            return None
        key = (node.type, node.attrs, tuple(rw.inputs(node)), frozenset(rw.control_inputs(node)))
        earlier = first.get(key)
        if earlier is None:
            first[key] = rw.copy(node)
            return None
        ctx.count("merged")
        return earlier.outputs

    return rewrite(graph, visit)
