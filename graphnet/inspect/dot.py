"""DOT text of a graph or plan, and drawing it with Graphviz's `dot` program when installed."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from graphnet.inspect.view import FeedShapes, GraphOrPlan, as_graph
from graphnet.ir import GraphnetError, Node
from graphnet.ir.types import format_shape

#: Graphs bigger than this are cut (the first nodes, in order) unless max_nodes says otherwise.
DEFAULT_MAX_NODES = 1000
#: Output formats `draw` renders through `dot`; .dot / .gv files are written directly.
RENDERED_FORMATS = ("svg", "png", "pdf")

_HEADER = """digraph graphnet {
  graph [rankdir=TB, fontname="Helvetica", fontsize=10, labeljust=l];
  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica", \
fontsize=10];
  edge [color="#555555", arrowsize=0.6];"""

#: Node styles by op: feeds, variables, constants and fetches stand out from computing nodes.
_STYLES = {
    "placeholder": 'shape=invhouse, fillcolor="#dae8fc"',
    "variable": 'shape=cylinder, fillcolor="#fff2cc"',
    "const": 'shape=box, style=filled, fillcolor="#eeeeee", fontsize=8',
    "fetch": 'shape=doubleoctagon, fillcolor="#d5e8d4"',
}


class GraphvizError(GraphnetError, RuntimeError):
    """Graphviz's `dot` program is missing or failed while drawing."""


def to_dot(
    target: GraphOrPlan,
    max_nodes: int | None = DEFAULT_MAX_NODES,
    feed_shapes: FeedShapes | None = None,
) -> str:
    """DOT text: a node per graph node (a Plan: per step, buffer and fetch) labelled with its
    name, op and output types; name scopes as nested clusters; control edges dashed; feeds,
    variables, constants and fetches styled apart. Only the first `max_nodes` nodes are drawn
    (None: all); a note says how many were left out."""
    if max_nodes is not None and max_nodes < 1:
        raise ValueError(f"max_nodes must be at least 1 (or None for all), got {max_nodes}")
    graph = as_graph(target, feed_shapes)
    shown = graph.nodes if max_nodes is None else graph.nodes[:max_nodes]
    ids = {node: f"n{i}" for i, node in enumerate(shown)}
    lines = [_HEADER, *_clusters(shown, ids)]
    if len(shown) < len(graph.nodes):
        note = f"{len(graph.nodes) - len(shown)} more nodes not drawn (max_nodes={max_nodes})"
        lines.append(f"  more [label={_quote(note)}, shape=plaintext, style=solid];")
    for node in shown:
        for t in node.inputs:
            if t.node in ids:
                label = f", label={_quote(f':{t.index}')}" if len(t.node.outputs) > 1 else ""
                lines.append(f"  {ids[t.node]} -> {ids[node]} [tooltip={_quote(t.name)}{label}];")
        for c in node.control_inputs:
            if c in ids:
                lines.append(f'  {ids[c]} -> {ids[node]} [style=dashed, color="#999999"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw(
    target: GraphOrPlan,
    path: str | os.PathLike,
    max_nodes: int | None = DEFAULT_MAX_NODES,
    feed_shapes: FeedShapes | None = None,
) -> Path:
    """Writes `to_dot(target)` to a .dot/.gv file, or renders it to .svg/.png/.pdf with
    Graphviz's `dot` (raises GraphvizError when it is not installed); returns the path."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("dot", "gv", *RENDERED_FORMATS):
        raise ValueError(
            f"cannot draw to {path}: the suffix must be one of .dot, .gv, "
            + ", ".join(f".{f}" for f in RENDERED_FORMATS)
        )
    text = to_dot(target, max_nodes, feed_shapes)
    if fmt in ("dot", "gv"):
        path.write_text(text, encoding="utf-8")
        return path
    program = shutil.which("dot")
    if program is None:
        raise GraphvizError(
            f"drawing {path} needs Graphviz's `dot` program, which is not on PATH; install "
            "Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz; "
            "conda: conda install graphviz) or draw to a .dot file"
        )
    done = subprocess.run(
        [program, f"-T{fmt}", "-o", str(path)], input=text.encode(), capture_output=True
    )
    if done.returncode != 0:
        raise GraphvizError(
            f"`dot -T{fmt}` failed drawing {path} (exit status {done.returncode}): "
            + done.stderr.decode(errors="replace").strip()
        )
    return path


def _clusters(nodes: Sequence[Node], ids: dict[Node, str]) -> list[str]:
    """Node lines, each inside the clusters of its name scopes ('a/b/x' in 'a', then 'b')."""
    members: dict[str, list[Node]] = {}
    children: dict[str, dict[str, None]] = {}
    for node in nodes:
        scope = node.name.rpartition("/")[0]
        members.setdefault(scope, []).append(node)
        while scope and scope not in children.setdefault(_parent(scope), {}):
            children[_parent(scope)][scope] = None
            scope = _parent(scope)
    numbers = itertools.count()

    def emit(scope: str, pad: str) -> list[str]:
        out = [f"{pad}{ids[n]} [{_node_attrs(n)}];" for n in members.get(scope, ())]
        for child in children.get(scope, ()):
            out.append(f"{pad}subgraph cluster_{next(numbers)} {{")
            out.append(f'{pad}  label={_quote(child.rpartition("/")[2])}; style="rounded";')
            out += emit(child, pad + "  ")
            out.append(f"{pad}}}")
        return out

    return emit("", "  ")


def _parent(scope: str) -> str:
    return scope.rpartition("/")[0]


def _node_attrs(node: Node) -> str:
    types = ", ".join(f"{t.dtype.short}{format_shape(t.shape)}" for t in node.outputs)
    label = f"{node.name.rpartition('/')[2]}\n{node.type}" + (f" {types}" if types else "")
    style = _STYLES.get(node.type)
    return f"label={_quote(label)}, tooltip={_quote(node.name)}" + (f", {style}" if style else "")


def _quote(text: str) -> str:
    """A DOT string: backslashes and quotes escaped, newlines as DOT's line breaks."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
