"""Random ops: uniform, normal and truncated normal draws with TF1's seed rules."""

from __future__ import annotations

from collections.abc import Sequence

from graphnet.ir import DTypeError, Tensor
from graphnet.ir.graph import Graph, get_default_graph, set_random_seed
from graphnet.ir.types import DType, as_dtype, float32, int32
from graphnet.ops.core import (
    TensorLike,
    apply_op1,
    convert_to_tensor,
    partial_shape_value,
    require_dtype,
)
from graphnet.ops.registry import OpDef, register_op

DEFAULT_GRAPH_SEED = 87654321


def get_seed(op_seed: int | None, graph: Graph | None = None) -> tuple[int | None, int | None]:
    """TF1's rule: with neither a graph nor an op seed, draws differ every run; with either,
    the sequence is reproducible (an op without its own seed gets the graph's next one)."""
    graph = graph or get_default_graph()
    if graph.seed is None and op_seed is None:
        return None, None
    if op_seed is None:
        return graph.seed, graph.next_op_seed()
    return (DEFAULT_GRAPH_SEED if graph.seed is None else graph.seed), int(op_seed)


def _random_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    (dims,) = inputs
    require_dtype(dims, "int", "shape")
    dtype = as_dtype(attrs["dtype"])
    if not dtype.is_floating:
        raise DTypeError(f"random draws need a float dtype, got {dtype}")
    return [(dtype, partial_shape_value(dims))]


_RANDOM = {
    "random_uniform": "Uniform draws in [0, 1).",
    "random_normal": "Standard normal draws.",
    "truncated_normal": "Standard normal draws, redrawn beyond two standard deviations.",
}
for _name, _doc in _RANDOM.items():
    register_op(
        OpDef(_name, _random_infer, differentiable=False, stateful=True, random=True, doc=_doc)
    )


def _draw(
    op: str, shape: TensorLike, dtype: DType | str, seed: int | None, name: str | None
) -> Tensor:
    dims = shape if isinstance(shape, Tensor) else convert_to_tensor(shape, dtype=int32)
    seed1, seed2 = get_seed(seed, dims.graph)
    return apply_op1(
        op, [dims], {"dtype": as_dtype(dtype).name, "seed": seed1, "seed2": seed2}, name=name
    )


def random_uniform(
    shape: TensorLike,
    minval: TensorLike = 0,
    maxval: TensorLike | None = None,
    dtype: DType | str = float32,
    seed: int | None = None,
    name: str | None = None,
) -> Tensor:
    """Uniform draws in [minval, maxval) (maxval defaults to 1)."""
    u = _draw("random_uniform", shape, dtype, seed, name)
    maxval = 1 if maxval is None else maxval
    if (
        isinstance(minval, int | float)
        and isinstance(maxval, int | float)
        and (minval, maxval) == (0, 1)
    ):
        return u
    return u * (convert_to_tensor(maxval, dtype) - minval) + minval


def random_normal(
    shape: TensorLike,
    mean: TensorLike = 0.0,
    stddev: TensorLike = 1.0,
    dtype: DType | str = float32,
    seed: int | None = None,
    name: str | None = None,
) -> Tensor:
    """Normal draws with the given mean and standard deviation."""
    z = _draw("random_normal", shape, dtype, seed, name)
    return z if (mean, stddev) == (0.0, 1.0) else z * stddev + mean


def truncated_normal(
    shape: TensorLike,
    mean: TensorLike = 0.0,
    stddev: TensorLike = 1.0,
    dtype: DType | str = float32,
    seed: int | None = None,
    name: str | None = None,
) -> Tensor:
    """Normal draws, those beyond two standard deviations redrawn."""
    z = _draw("truncated_normal", shape, dtype, seed, name)
    return z if (mean, stddev) == (0.0, 1.0) else z * stddev + mean


__all__ = ["random_normal", "random_uniform", "set_random_seed", "truncated_normal"]
