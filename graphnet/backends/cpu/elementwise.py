"""CPU kernels of the elementwise ops (math, comparisons, logic, cast, where, add_n, fills,
identity, the nn activations, bias_add): each step is the one-node expression of its op, run
by a kernel generated from the op's scalar template (see cpu.expr); fused_elementwise uses the
same generator for whole trees."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from graphnet.backends.cpu.cache import load_source
from graphnet.backends.cpu.expr import ELEMENTWISE_OPS, elementwise_source, single_op_expr
from graphnet.backends.cpu.kernel import CpuKernel
from graphnet.backends.registry import kernel

Type = tuple[str, tuple[int, ...]]


def elementwise_kernel(expr: tuple, in_types: Sequence[Type], out_type: Type) -> CpuKernel:
    """The generated kernel evaluating `expr` (graphnet.ops.fused's format) into the output."""
    source, shape = elementwise_source(expr, in_types, out_type[1])
    return CpuKernel(load_source("ew", source).kernel, (shape,))


def _binder(op: str) -> Any:
    def bind(attrs: Mapping[str, Any], in_types: Sequence[Type], out_types: Sequence[Type]
             ) -> CpuKernel:  # fmt: skip
        return elementwise_kernel(single_op_expr(op, attrs, len(in_types)), in_types, out_types[0])

    bind.__name__ = bind.__qualname__ = op
    return bind


for _op in ELEMENTWISE_OPS:
    kernel(_op, backend="cpu")(_binder(_op))
