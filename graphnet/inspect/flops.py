"""FLOP counts per node: a multiply-add is 2 FLOPs; unknown dims count as 1 (per unit batch).

Rules by op name first; otherwise by the op's fusion kind: elementwise ops cost one FLOP per
output element, reductions one per input element, injective ops (reshapes, slices, gathers)
and random draws none. An op none of these covers is unknown: `flops` returns None.

A fused node (see graphnet.ops.fused) costs the sum of its parts: a fused_elementwise node
one FLOP per output element for each op of its expression, a fused conv/matmul its base op
plus one per output element for the bias and one for the activation.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from graphnet.ir import Node, Tensor
from graphnet.ir.types import Shape
from graphnet.ops.registry import OPS

FlopRule = Callable[[Node], int]


def elements(shape: Shape | None) -> int:
    """The element count with unknown dims (and an unknown rank) counted as 1."""
    return int(np.prod([1 if d is None else d for d in shape or ()], dtype=np.int64))


def _el(t: Tensor) -> int:
    return elements(t.shape)


def _dims(t: Tensor, rank: int) -> tuple[int, ...]:
    """t's dims with unknown ones as 1 (an unknown rank as `rank` ones)."""
    shape = t.shape if t.shape is not None else (None,) * rank
    return tuple(1 if d is None else d for d in shape)


def _out(node: Node) -> int:
    return sum(_el(t) for t in node.outputs)


def _matmul(node: Node) -> int:
    a = _dims(node.inputs[0], 2)
    inner = a[-2] if node.attrs["transpose_a"] else a[-1]
    return 2 * _el(node.outputs[0]) * inner


def _conv(filter_at: int, out_grad_at: int | None, depthwise: bool) -> FlopRule:
    """A convolution or one of its backprops: 2 FLOPs per (output element, filter tap).

    The filter is input `filter_at` (-1: the op's output, for backprop_filter); the conv's
    output is the op's output, or input `out_grad_at` for the backprops."""

    def rule(node: Node) -> int:
        w = node.outputs[0] if filter_at < 0 else node.inputs[filter_at]
        kh, kw, cin, _ = _dims(w, 4)
        y = node.outputs[0] if out_grad_at is None else node.inputs[out_grad_at]
        return 2 * _el(y) * kh * kw * (1 if depthwise else cin)

    return rule


def _pool(pooled_at: int | None) -> FlopRule:
    """One FLOP per (pooled element, window tap); pooled: the output or input `pooled_at`."""

    def rule(node: Node) -> int:
        kh, kw = node.attrs["ksize"]
        return _el(node.outputs[0] if pooled_at is None else node.inputs[pooled_at]) * kh * kw

    return rule


def _per_output_element(n: int) -> FlopRule:
    return lambda node: n * _el(node.outputs[0])


def _batch_norm(node: Node) -> int:
    """Training: mean, variance (2) and normalize (2); inference: scale and shift only."""
    return (5 if node.attrs["is_training"] else 2) * _el(node.inputs[0])


_FREE = (
    "const", "placeholder", "placeholder_with_default", "variable", "fetch", "no_op", "shape",
    "size", "rank", "assign", "split", "concat_grad", "strided_slice_grad", "identity",
    "stop_gradient", "zeros_like", "ones_like", "fill",
)  # fmt: skip


def _fused_elementwise(node: Node) -> int:
    """Each op of the expression (see graphnet.ops.fused) once per output element."""

    def ops(expr: tuple) -> int:
        if expr[0] in ("in", "const"):
            return 0
        operands = expr[2:]
        own = 0 if expr[0] in _FREE else len(operands) - 1 if expr[0] == "add_n" else 1
        return own + sum(ops(e) for e in operands)

    return ops(node.attrs["expr"]) * _el(node.outputs[0])


def _epilogue(base: str) -> FlopRule:
    """A fused conv/matmul: its base op, then + bias and the activation per output element."""

    def rule(node: Node) -> int:
        extra = int(node.attrs["bias"]) + int(node.attrs["activation"] is not None)
        return RULES[base](node) + extra * _el(node.outputs[0])

    return rule


RULES: dict[str, FlopRule] = {
    **dict.fromkeys(_FREE, lambda node: 0),
    "matmul": _matmul,
    "conv2d": _conv(1, None, depthwise=False),
    "conv2d_backprop_input": _conv(1, 2, depthwise=False),
    "conv2d_backprop_filter": _conv(-1, 2, depthwise=False),
    "depthwise_conv2d": _conv(1, None, depthwise=True),
    "depthwise_conv2d_backprop_input": _conv(1, 2, depthwise=True),
    "depthwise_conv2d_backprop_filter": _conv(-1, 2, depthwise=True),
    "max_pool": _pool(None),
    "avg_pool": _pool(None),
    "max_pool_grad_grad": _pool(None),
    "max_pool_grad": _pool(2),
    "avg_pool_grad": _pool(1),
    "add_n": lambda node: (len(node.inputs) - 1) * _el(node.outputs[0]),
    # max, subtract, exp, sum, divide (log_softmax: subtract the log) per element
    "softmax": _per_output_element(5),
    "log_softmax": _per_output_element(5),
    "fused_batch_norm": _batch_norm,
    "assign_add": _per_output_element(1),
    "assign_sub": _per_output_element(1),
    "gather_grad": lambda node: _el(node.inputs[0]),
    "fused_elementwise": _fused_elementwise,
    "fused_conv2d": _epilogue("conv2d"),
    "fused_depthwise_conv2d": _epilogue("depthwise_conv2d"),
    "fused_matmul": _epilogue("matmul"),
}


def flops(node: Node) -> int | None:
    """The FLOPs of one node, or None when its op has no rule."""
    if node.type in RULES:
        return RULES[node.type](node)
    opdef = OPS.get(node.type)
    if opdef is None:
        return None
    if opdef.random or opdef.fusion_kind == "injective":
        return 0
    if opdef.fusion_kind == "elementwise":
        return _out(node)
    if opdef.fusion_kind == "reduce":
        return _el(node.inputs[0])
    return None
