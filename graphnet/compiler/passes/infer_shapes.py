"""infer_shapes: every op's shape rule re-run in order, so fed shapes reach the whole program."""

from __future__ import annotations

from graphnet.compiler.pipeline import PassContext, register_pass
from graphnet.compiler.rewrite import Rewriter, rewrite
from graphnet.ir import DTypeError, Graph, Node, OpError, ShapeError
from graphnet.ir.types import format_shape


@register_pass("infer_shapes")
def infer_shapes(graph: Graph, ctx: PassContext) -> Graph:
    """Copies every node with its shape rule re-run over its (re-inferred) inputs.

    A program's placeholders carry the fed shapes, so those propagate; dims nothing fed stay
    unknown. A shape rule that rejects what the feeds give raises OpError naming the node (the
    error a run without this pass raises when the kernel fails). Needs nothing before it.
    Counts `refined`: outputs whose static type changed.
    """
    refined = 0

    def visit(node: Node, rw: Rewriter) -> None:
        nonlocal refined
        try:
            new = rw.copy(node, reinfer=True)
        except (ShapeError, DTypeError) as err:
            given = ", ".join(f"{t.name}: {t.dtype.short}{format_shape(t.shape)}"
                              for t in rw.inputs(node))  # fmt: skip
            raise OpError(
                f"node '{node.name}' ({node.type}) cannot run on the fed shapes: {err} "
                f"[inputs: {given}]"
            ) from None
        refined += sum(a.shape != b.shape or a.dtype != b.dtype
                       for a, b in zip(node.outputs, new.outputs, strict=True))  # fmt: skip

    result = rewrite(graph, visit)
    if refined:
        ctx.count("refined", refined)
    return result
