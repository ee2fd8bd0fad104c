"""CUDA kernels of the elementwise ops (math, comparisons, logic, cast, where, add_n, fills,
identity, the nn activations, bias_add): each step is the one-node expression of its op, run
by a kernel generated from the op's scalar template (see cuda.expr); fused_elementwise uses the
same generator for whole trees."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from graphnet.backends.cpu.cache import load_source
from graphnet.backends.cpu.expr import ELEMENTWISE_OPS, single_op_expr
from graphnet.backends.cuda.expr import elementwise_source
from graphnet.backends.cuda.kernel import THREADS, CudaKernel, Type, launch_1d
from graphnet.backends.registry import BackendError, kernel

#: Most threads one generated kernel launches; a grid-stride loop covers the rest.
MAX_THREADS = 1024 * THREADS


def _no_work(inputs: Sequence[Any], outputs: Sequence[Any], scratch: Sequence[Any],
             stream: Any) -> None:  # fmt: skip
    """The launch of a kernel with an empty output: nothing to enqueue."""


def _check_ops(expr: tuple) -> None:
    """Raises BackendError unless every op node of `expr` is an elementwise op known here."""
    if expr[0] in ("in", "const"):
        return
    if expr[0] not in ELEMENTWISE_OPS:
        raise BackendError(f"the CUDA backend has no elementwise template for {expr[0]!r}")
    for operand in expr[2:]:
        _check_ops(operand)


def elementwise_kernel(expr: tuple, in_types: Sequence[Type], out_type: Type) -> CudaKernel:
    """The generated kernel evaluating `expr` (graphnet.ops.fused's format) into the output."""
    _check_ops(expr)
    size = math.prod(out_type[1])
    if size == 0:
        return CudaKernel(_no_work)
    source, shape = elementwise_source(expr, in_types, out_type[1])
    fn = load_source("cuda_ew", source, backend="cuda").kernel
    return launch_1d(fn, min(size, MAX_THREADS), *shape)


def _binder(op: str) -> Any:
    def bind(attrs: Mapping[str, Any], in_types: Sequence[Type], out_types: Sequence[Type]
             ) -> CudaKernel:  # fmt: skip
        return elementwise_kernel(single_op_expr(op, attrs, len(in_types)), in_types, out_types[0])

    bind.__name__ = bind.__qualname__ = op
    return bind


for _op in ELEMENTWISE_OPS:
    kernel(_op, backend="cuda")(_binder(_op))
