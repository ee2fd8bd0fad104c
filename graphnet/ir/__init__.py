"""The graph IR: Graph, Node, Tensor, DType, Shape, the text form. Imports nothing else."""

from graphnet.ir.errors import (
    DTypeError as DTypeError,
    FailedPreconditionError as FailedPreconditionError,
    FeedError as FeedError,
    FetchError as FetchError,
    GradientError as GradientError,
    GraphError as GraphError,
    GraphnetError as GraphnetError,
    OpError as OpError,
    PlanFileError as PlanFileError,
    ShapeError as ShapeError,
)
from graphnet.ir.graph import (
    Attrs as Attrs,
    Graph as Graph,
    GraphKeys as GraphKeys,
    Node as Node,
    Tensor as Tensor,
    get_default_graph as get_default_graph,
    reset_default_graph as reset_default_graph,
)
from graphnet.ir.printer import format_graph as format_graph, format_node as format_node
from graphnet.ir.types import DType as DType, Shape as Shape, as_dtype as as_dtype
