"""A program: the part of a graph that one run needs, as a standalone Graph.

`extract` copies the nodes the fetches need into a fresh Graph under their own names. Fed tensors
become placeholders (attr `feed` holds the fed tensor's name; shape the fed shape when known) and
each fetch becomes a `fetch` node, so compiler passes are plain `Graph -> Graph` functions that
see what is live: everything a `fetch` node depends on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from graphnet.compiler.lowering import prune
from graphnet.ir import Graph, Node, Tensor
from graphnet.ir.types import Shape
from graphnet.ops.registry import OpDef, register_op

FETCH = register_op(
    OpDef(
        "fetch",
        lambda inputs, attrs: [],
        differentiable=False,
        stateful=True,
        doc="Marks a value (or, with no input, a control dependency) a run returns; `index` is "
        "its position among the fetches.",
    )
)


def extract(
    graph: Graph,
    fetches: Sequence[Tensor | Node],
    feeds: Mapping[Tensor, Shape | None],
) -> Graph:
    """The program computing `fetches` from `feeds` (fed tensor -> concrete shape, or None)."""
    program = Graph()
    program.seed = graph.seed
    nodes = prune(fetches, list(feeds))
    program.reserve_names(n.name for n in nodes)
    mapped: dict[Tensor, Tensor] = {}
    copied: dict[Node, Node] = {}
    for fed, shape in feeds.items():
        mapped[fed] = _feed_placeholder(program, fed, shape)
    for node in nodes:
        if all(t in mapped for t in node.outputs) and node.outputs:
            continue  # every output is fed
        copied[node] = program.create_node(
            node.type,
            [mapped[t] for t in node.inputs],
            node.attrs,
            [(t.dtype, t.shape) for t in node.outputs],
            name=node.name + "/",
            control_inputs=[copied[c] for c in node.control_inputs if c in copied],
        )
        for old, new in zip(node.outputs, copied[node].outputs, strict=True):
            mapped.setdefault(old, new)
    for i, f in enumerate(fetches):
        if isinstance(f, Node):
            program.create_node("fetch", [], {"index": i}, [], name="fetch",
                                control_inputs=[copied[f]] if f in copied else [])  # fmt: skip
        else:
            program.create_node("fetch", [mapped[f]], {"index": i}, [], name="fetch")
    return program


def _feed_placeholder(program: Graph, fed: Tensor, shape: Shape | None) -> Tensor:
    name = fed.node.name if fed.index == 0 else f"{fed.node.name}_{fed.index}"
    node = program.create_node(
        "placeholder",
        [],
        {"dtype": fed.dtype.name, "shape": fed.shape if shape is None else tuple(shape),
         "feed": fed.name},
        [(fed.dtype, fed.shape if shape is None else tuple(shape))],
        name=name if name not in program else None,
    )  # fmt: skip
    return node.outputs[0]


def fetch_nodes(program: Graph) -> list[Node]:
    """The program's fetch nodes, by fetch index."""
    return sorted((n for n in program.nodes if n.type == "fetch"), key=lambda n: n.attrs["index"])
