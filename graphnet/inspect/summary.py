"""Summary tables: per node or plan step its op, output, parameters, FLOPs and output bytes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from graphnet.compiler.plan import Plan
from graphnet.inspect.flops import elements, flops
from graphnet.inspect.view import FeedShapes, GraphOrPlan, as_graph, is_step
from graphnet.ir import Node, Tensor, as_dtype
from graphnet.ir.types import Shape, format_shape, is_fully_defined
from graphnet.ops.registry import OPS


@dataclass(frozen=True)
class Row:
    """One node (a Plan: one step, `index` its position in plan.steps) and what it costs."""

    index: int
    name: str
    op: str
    dtypes: tuple[str, ...]
    shapes: tuple[Shape | None, ...]
    params: int
    flops: int
    bytes: int
    flops_known: bool = True

    @property
    def output(self) -> str:
        """The output types in the text form's notation: f32[?,10]."""
        return ", ".join(_type(d, s) for d, s in zip(self.dtypes, self.shapes, strict=True))


def _type(dtype: str, shape: Shape | None) -> str:
    return f"{as_dtype(dtype).short}{format_shape(shape)}"


@dataclass(frozen=True)
class Summary:
    """Rows (one per computing node or step, ready for per-step timings) and totals.

    `params` counts each weight once however many rows read it; `bytes` sums the rows' output
    bytes. `per_unit_batch` is True when some dims are unknown and were counted as 1.
    """

    kind: str
    rows: tuple[Row, ...]
    inputs: tuple[tuple[str, str, Shape | None], ...]
    params: int
    param_bytes: int
    flops: int
    bytes: int
    per_unit_batch: bool

    @property
    def unknown_ops(self) -> list[str]:
        """Ops without a FLOP rule (counted as 0), each once."""
        return list(dict.fromkeys(r.op for r in self.rows if not r.flops_known))

    def __str__(self) -> str:
        inputs = ", ".join(f"{n} {_type(d, s)}" for n, d, s in self.inputs)
        unit = "nodes" if self.kind == "graph" else "steps"
        lines = [f"Summary of a {self.kind}: {len(self.rows)} {unit}; inputs: {inputs or 'none'}"]
        if self.per_unit_batch:
            lines.append("? marks an unknown dim, counted as 1: FLOPs and bytes are per unit batch")
        header = ("name", "op", "output", "params", "FLOPs", "bytes")
        body = [
            (r.name, r.op, r.output, f"{r.params:,}",
             f"{r.flops:,}" + ("" if r.flops_known else "*"), f"{r.bytes:,}")
            for r in self.rows
        ]  # fmt: skip
        total = ("total", "", "", f"{self.params:,}", f"{self.flops:,}", f"{self.bytes:,}")
        lines += _table(header, body, total)
        lines.append(f"parameters: {self.params:,} ({self.param_bytes:,} bytes), each counted once")
        if self.unknown_ops:
            lines.append(f"* no FLOP rule, counted as 0: {', '.join(self.unknown_ops)}")
        return "\n".join(lines)


def _table(header: Sequence[str], body: list[Sequence[str]], total: Sequence[str]) -> list[str]:
    """Text columns: the first three left-aligned, the numbers right-aligned; rules around."""
    widths = [max(len(row[i]) for row in [header, *body, total]) for i in range(len(header))]

    def line(row: Sequence[str]) -> str:
        cells = [
            c.ljust(w) if i < 3 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    return [line(header), rule, *(line(r) for r in body), rule, line(total)]


def summary(target: GraphOrPlan, feed_shapes: FeedShapes | None = None) -> Summary:
    """The summary of a Graph (static shapes; `feed_shapes`, placeholder -> shape, fills in
    dims) or of a compiled Plan (its concrete shapes). Parameters of a node: the elements of
    the variables it reads directly, and of the non-scalar floating constants it reads (the
    weights of an inference plan with frozen variables); assignments read none."""
    graph = as_graph(target, feed_shapes)
    rows = []
    weights: dict[Tensor, int] = {}
    for node in (n for n in graph.nodes if is_step(n)):
        read = _weights(node)
        weights.update(read)
        count = flops(node)
        rows.append(
            Row(
                index=len(rows),
                name=node.name,
                op=node.type,
                dtypes=tuple(t.dtype.name for t in node.outputs),
                shapes=tuple(t.shape for t in node.outputs),
                params=sum(read.values()),
                flops=count or 0,
                bytes=sum(_nbytes(t) for t in node.outputs),
                flops_known=count is not None,
            )
        )
    inputs = tuple(
        (n.attrs.get("feed", n.outputs[0].name), n.outputs[0].dtype.name, n.outputs[0].shape)
        for n in graph.nodes
        if n.type == "placeholder"
    )
    shapes = [s for r in rows for s in r.shapes] + [s for _, _, s in inputs]
    return Summary(
        kind="plan" if isinstance(target, Plan) else "graph",
        rows=tuple(rows),
        inputs=inputs,
        params=sum(weights.values()),
        param_bytes=sum(_nbytes(t) for t in weights),
        flops=sum(r.flops for r in rows),
        bytes=sum(r.bytes for r in rows),
        per_unit_batch=not all(is_fully_defined(s) for s in shapes),
    )


def _weights(node: Node) -> dict[Tensor, int]:
    """The weights `node` reads directly, with their element counts."""
    if OPS.get(node.type) is not None and OPS[node.type].stateful:
        return {}
    return {
        t: elements(t.shape)
        for t in node.inputs
        if t.node.type == "variable"
        or (t.node.type == "const" and t.dtype.is_floating and t.node.attrs["value"].ndim > 0)
    }


def _nbytes(t: Tensor) -> int:
    return elements(t.shape) * t.dtype.np.itemsize
