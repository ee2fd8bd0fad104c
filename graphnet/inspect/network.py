"""A networkx view of a graph or plan, built on demand for analysis (the IR is not networkx)."""

from __future__ import annotations

import networkx as nx

from graphnet.inspect.view import FeedShapes, GraphOrPlan, as_graph


def to_networkx(target: GraphOrPlan, feed_shapes: FeedShapes | None = None) -> nx.MultiDiGraph:
    """A MultiDiGraph with one node per graph node (a Plan: per step, fed/const/variable buffer
    and fetch, see `inspect.view`), keyed by name.

    Node attributes: `op`, `attrs` (a dict), `dtypes` and `shapes` (one per output, shapes as
    tuples with None for unknown dims, None for unknown rank). One edge per input, producer to
    consumer, with `tensor` (its name), `index` (the producer's output), `position` (the
    consumer's input slot) and `control=False`; one edge per control input with `control=True`.
    """
    graph = as_graph(target, feed_shapes)
    view = nx.MultiDiGraph()
    for node in graph.nodes:
        view.add_node(
            node.name,
            op=node.type,
            attrs=dict(node.attrs),
            dtypes=[t.dtype.name for t in node.outputs],
            shapes=[t.shape for t in node.outputs],
        )
    for node in graph.nodes:
        for position, t in enumerate(node.inputs):
            view.add_edge(
                t.node.name, node.name, tensor=t.name, index=t.index, position=position,
                control=False,
            )  # fmt: skip
        for c in node.control_inputs:
            view.add_edge(c.name, node.name, control=True)
    return view
