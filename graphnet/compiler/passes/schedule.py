"""schedule: a topological order of the program that keeps the bytes live at once low.

A greedy list scheduler: among the nodes whose inputs are ready it runs the one that frees the
most bytes net of what it allocates, the earliest created on ties, so a branch is finished
before the next starts. Besides data and control edges it keeps the order between a variable's
assignment and every other use of that variable, as created (what a read sees depends on it).
The new order is kept only when its peak is lower than creation order's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from graphnet.compiler.pipeline import PassContext, register_pass
from graphnet.compiler.rewrite import rewrite
from graphnet.ir import Graph, Node, Tensor
from graphnet.ops.registry import get_op

#: Node types whose outputs are persistent: no temporary memory.
_PERSISTENT = ("const", "variable", "placeholder")


def tensor_bytes(t: Tensor) -> int:
    """Itemsize times the elements of t's static shape; an unknown dim counts as 1 (after
    infer_shapes, the shapes of a Session's run are concrete)."""
    elements = 1
    for dim in t.shape or ():
        elements *= 1 if dim is None else dim
    return t.dtype.np.itemsize * elements


@dataclass
class _Liveness:
    """Temporary bytes of each tensor, its consumers, and the tensors that are never freed."""

    size: dict[Tensor, int]
    uses: dict[Tensor, int]
    pinned: set[Tensor]

    @classmethod
    def of(cls, graph: Graph) -> _Liveness:
        size: dict[Tensor, int] = {}
        uses: dict[Tensor, int] = {}
        pinned: set[Tensor] = set()
        for node in graph.nodes:
            opdef = get_op(node.type)
            for t in node.outputs:
                persistent = node.type in _PERSISTENT or (
                    opdef.writes_input is not None and t.index == 0  # the variable's new value
                )
                size[t] = 0 if persistent else tensor_bytes(t)
                uses[t] = 0
            for t in set(node.inputs):
                uses[t] += 1
            if node.type == "fetch":
                pinned.update(node.inputs)
        return cls(size, uses, pinned)

    def freed(self, node: Node, remaining: dict[Tensor, int]) -> int:
        """Bytes that running `node` frees: inputs it reads last, outputs nothing reads."""
        dying = [t for t in set(node.inputs) if remaining[t] == 1]
        dying += [t for t in node.outputs if self.uses[t] == 0]
        return sum(self.size[t] for t in dying if t not in self.pinned)

    def allocated(self, node: Node) -> int:
        return sum(self.size[t] for t in node.outputs)


def peak_bytes(graph: Graph, order: Sequence[Node] | None = None) -> int:
    """The most temporary bytes live at once when the graph's nodes run in `order` (default:
    creation order)."""
    return _peak(graph.nodes if order is None else order, _Liveness.of(graph))


def _peak(order: Sequence[Node], live: _Liveness) -> int:
    remaining = dict(live.uses)
    peak = current = 0
    for node in order:
        current += live.allocated(node)
        peak = max(peak, current)
        current -= live.freed(node, remaining)
        for t in set(node.inputs):
            remaining[t] -= 1
    return peak


def _predecessors(graph: Graph) -> dict[Node, set[Node]]:
    """Data and control edges, plus creation order between a variable's assignments and its
    other uses."""
    preds = {n: {t.node for t in n.inputs} | set(n.control_inputs) for n in graph.nodes}
    users: dict[Tensor, list[Node]] = {}
    for node in graph.nodes:
        for t in dict.fromkeys(node.inputs):
            if t.node.type == "variable":
                users.setdefault(t, []).append(node)
    for t, nodes in users.items():
        writers = [n for n in nodes if _writes(n) is t]
        for w in writers:
            for other in nodes:
                if other.id < w.id:
                    preds[w].add(other)
                elif other.id > w.id:
                    preds[other].add(w)
    return preds


def _writes(node: Node) -> Tensor | None:
    k = get_op(node.type).writes_input
    return None if k is None else node.inputs[k]


def _greedy_order(graph: Graph, live: _Liveness) -> list[Node]:
    preds = _predecessors(graph)
    succs: dict[Node, list[Node]] = {n: [] for n in graph.nodes}
    for node, before in preds.items():
        for p in before:
            succs[p].append(node)
    waiting = {n: len(before) for n, before in preds.items()}
    remaining = dict(live.uses)
    ready = [n for n in graph.nodes if waiting[n] == 0]
    order: list[Node] = []
    while ready:
        node = max(ready, key=lambda n: (live.freed(n, remaining) - live.allocated(n), -n.id))
        ready.remove(node)
        order.append(node)
        for t in set(node.inputs):
            remaining[t] -= 1
        for s in succs[node]:
            waiting[s] -= 1
            if waiting[s] == 0:
                ready.append(s)
    return order


@register_pass("schedule")
def schedule(graph: Graph, ctx: PassContext) -> Graph:
    """Reorders the nodes to lower the peak of live temporary bytes (a greedy list scheduler);
    keeps creation order when that is no worse. Runs on any graph; after infer_shapes its byte
    counts are exact."""
    live = _Liveness.of(graph)
    order = _greedy_order(graph, live)
    before, after = _peak(graph.nodes, live), _peak(order, live)
    ctx.count("peak_bytes_before", before)
    if after >= before:
        ctx.count("peak_bytes_after", before)
        return graph
    ctx.count("peak_bytes_after", after)
    ctx.count("moved", sum(a is not b for a, b in zip(order, graph.nodes, strict=True)))
    return rewrite(graph, lambda node, rw: None, order=order)
