"""Looking at graphs and plans: a networkx view, DOT/SVG drawings, summary tables.

`gn.inspect.summary(plan)` tabulates each step's op, output, parameters, FLOPs and bytes;
`to_networkx` gives a MultiDiGraph for analysis; `to_dot` / `draw` give Graphviz drawings.
Each takes a Graph or a compiled Plan (shown as the program graph it was lowered from).
"""

from graphnet.inspect.dot import (
    DEFAULT_MAX_NODES as DEFAULT_MAX_NODES,
    GraphvizError as GraphvizError,
    draw as draw,
    to_dot as to_dot,
)
from graphnet.inspect.flops import flops as flops
from graphnet.inspect.network import to_networkx as to_networkx
from graphnet.inspect.summary import Row as Row, Summary as Summary, summary as summary
from graphnet.inspect.view import as_graph as as_graph
