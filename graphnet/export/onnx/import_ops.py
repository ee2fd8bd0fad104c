"""ONNX -> graphnet converters: elementwise math, activations, matmul, reductions, softmax."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import reduce

import numpy as np

from graphnet.export.onnx import layout as lay
from graphnet.export.onnx.importer import (
    DTYPES,
    Importer,
    ModelInfo,
    OnnxNode,
    Value,
    converter,
    dtype_of,
)
from graphnet.ir import ShapeError, Tensor
from graphnet.ops import math as m, nn
from graphnet.ops.array import expand_dims, reshape, shape, squeeze
from graphnet.ops.control import identity
from graphnet.ops.core import constant

# -- elementwise --------------------------------------------------------------------------------

_UNARY: dict[str, Callable[[Tensor], Tensor]] = {
    "Abs": m.abs, "Neg": m.negative, "Sqrt": m.sqrt, "Exp": m.exp, "Log": m.log,
    "Relu": nn.relu, "Sigmoid": m.sigmoid, "Tanh": m.tanh, "Floor": m.floor, "Ceil": m.ceil,
    "Reciprocal": m.reciprocal, "Erf": m.erf, "Sin": m.sin, "Cos": m.cos, "Sign": m.sign,
    "Round": m.round, "Not": m.logical_not, "Softplus": nn.softplus, "Softsign": nn.softsign,
}  # fmt: skip


@converter(*_UNARY)
def _unary(ctx: Importer, node: OnnxNode) -> list[Value]:
    v = ctx.value(node.inputs[0])
    return [Value(_UNARY[node.op_type](v.tensor), v.layout)]


def _trunc_divide(a: Tensor, b: Tensor) -> Tensor:
    """Integer division rounding toward zero (ONNX's Div of ints, C's /)."""
    q = m.floordiv(a, b)
    inexact_negative = m.logical_and(m.not_equal(m.floormod(a, b), 0), m.less(q, 0))
    return q + m.cast(inexact_negative, q.dtype)


def _divide(a: Tensor, b: Tensor) -> Tensor:
    return _trunc_divide(a, b) if a.dtype.is_integer else m.divide(a, b)


def _pow(a: Tensor, b: Tensor) -> Tensor:
    return m.pow(a, m.cast(b, a.dtype))


_BINARY: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "Add": m.add, "Sub": m.subtract, "Mul": m.multiply, "Div": _divide, "Pow": _pow,
    "Max": m.maximum, "Min": m.minimum, "Sum": m.add, "Mean": m.add,
    "Equal": m.equal, "Less": m.less, "Greater": m.greater, "LessOrEqual": m.less_equal,
    "GreaterOrEqual": m.greater_equal, "And": m.logical_and, "Or": m.logical_or,
    "Xor": m.logical_xor,
}  # fmt: skip


@converter(*_BINARY)
def _binary(ctx: Importer, node: OnnxNode) -> list[Value]:
    """Broadcasting ops; the variadic ones (Sum, Max, Min, Mean) fold left."""
    tensors, target = ctx.broadcast([i for i in node.inputs if i])
    out = reduce(_BINARY[node.op_type], tensors) if len(tensors) > 1 else identity(tensors[0])
    if node.op_type == "Mean" and len(tensors) > 1:
        out = out / float(len(tensors))
    return [Value(out, target)]


@converter("Where")
def _where(ctx: Importer, node: OnnxNode) -> list[Value]:
    (cond, x, y), target = ctx.broadcast(node.inputs)
    return [Value(m.where(cond, x, y), target)]


def _check_cast(node: OnnxNode, info: ModelInfo) -> list[str]:
    to = node.attr("to")
    return [] if to is None or to in DTYPES else [f"cast to ONNX type {to}"]


@converter("Cast", check=_check_cast)
def _cast(ctx: Importer, node: OnnxNode) -> list[Value]:
    v = ctx.value(node.inputs[0])
    return [Value(m.cast(v.tensor, dtype_of(node.attr("to"))), v.layout)]


@converter("CastLike")
def _cast_like(ctx: Importer, node: OnnxNode) -> list[Value]:
    v = ctx.value(node.inputs[0])
    return [Value(m.cast(v.tensor, ctx.value(node.inputs[1]).dtype), v.layout)]


@converter("Identity")
def _identity(ctx: Importer, node: OnnxNode) -> list[Value]:
    return [ctx.value(node.inputs[0])]


# -- activations with attributes ----------------------------------------------------------------

_SELU_ALPHA, _SELU_GAMMA = 1.67326319217681884765625, 1.05070102214813232421875


def _elu(x: Tensor, alpha: float) -> Tensor:
    return nn.elu(x) if alpha == 1.0 else m.where(x > 0, x, nn.elu(x) * alpha)


@converter("LeakyRelu", "Elu", "Selu")
def _activation(ctx: Importer, node: OnnxNode) -> list[Value]:
    v = ctx.value(node.inputs[0])
    x = v.tensor
    if node.op_type == "LeakyRelu":
        y = nn.leaky_relu(x, node.attr("alpha", 0.01))
    elif node.op_type == "Elu":
        y = _elu(x, node.attr("alpha", 1.0))
    else:
        y = m.multiply(_elu(x, node.attr("alpha", _SELU_ALPHA)), node.attr("gamma", _SELU_GAMMA))
    return [Value(y, v.layout)]


@converter("Clip")
def _clip(ctx: Importer, node: OnnxNode) -> list[Value]:
    """max(x, min) then min(., max): Clip-11+ takes the bounds as inputs, older ones as attrs."""
    v = ctx.value(node.inputs[0])
    y = v.tensor
    if node.opset < 11:
        lo, hi = node.attr("min"), node.attr("max")
    else:
        lo = ctx.tensor(node.inputs[1]) if node.has_input(1) else None
        hi = ctx.tensor(node.inputs[2]) if node.has_input(2) else None
    if lo is not None:
        y = m.maximum(y, lo)
    if hi is not None:
        y = m.minimum(y, hi)
    return [Value(y if y is not v.tensor else identity(y), v.layout)]


# -- matmul, gemm --------------------------------------------------------------------------------


@converter("MatMul")
def _matmul(ctx: Importer, node: OnnxNode) -> list[Tensor]:
    """NumPy's matmul: a 1-D operand gets a unit axis that is dropped from the result."""
    a, b = ctx.tensor(node.inputs[0]), ctx.tensor(node.inputs[1])
    vector_a, vector_b = len(a.shape) == 1, len(b.shape) == 1
    y = m.matmul(expand_dims(a, 0) if vector_a else a, expand_dims(b, -1) if vector_b else b)
    drop = [-2] * vector_a + [-1] * vector_b
    return [squeeze(y, drop) if drop else y]


@converter("Gemm")
def _gemm(ctx: Importer, node: OnnxNode) -> list[Tensor]:
    """alpha * A' B' + beta * C."""
    a, b = ctx.tensor(node.inputs[0]), ctx.tensor(node.inputs[1])
    y = m.matmul(a, b, transpose_a=bool(node.attr("transA", 0)),
                 transpose_b=bool(node.attr("transB", 0)))  # fmt: skip
    alpha, beta = node.attr("alpha", 1.0), node.attr("beta", 1.0)
    if alpha != 1.0:
        y = y * alpha
    if node.has_input(2) and beta != 0.0:
        c = ctx.tensor(node.inputs[2])
        known = ctx.static(node.inputs[2])
        if beta != 1.0:
            c = ctx.constant(known * beta, c.dtype) if known is not None else c * beta
        is_bias = c.shape is not None and len(c.shape) == 1 and c.shape[0] == y.shape[-1]
        y = nn.bias_add(y, c) if is_bias else y + c
    return [y]


# -- softmax ------------------------------------------------------------------------------------


@converter("Softmax", "LogSoftmax")
def _softmax(ctx: Importer, node: OnnxNode) -> list[Value | Tensor]:
    """Opset 13+: along `axis` (default -1). Before: over the input flattened to 2-D at
    `axis` (default 1), which is along one axis when that is the last one."""
    fn = nn.softmax if node.op_type == "Softmax" else nn.log_softmax
    v = ctx.value(node.inputs[0])
    axis = node.attr("axis", -1 if node.opset >= 13 else 1) % v.rank
    if node.opset >= 13 or axis == v.rank - 1:
        return [Value(fn(v.tensor, lay.stored_axis(v.layout, axis)), v.layout)]
    x = ctx.tensor(node.inputs[0])
    dims = v.shape
    inner = _product(dims[axis:])
    flat = reshape(x, [-1, inner] if inner is not None else [_product(dims[:axis]), -1])
    y = fn(flat, -1)
    return [reshape(y, list(dims) if None not in dims else shape(x))]


def _product(dims: Sequence[int | None]) -> int | None:
    return None if None in dims else int(np.prod(dims, dtype=np.int64))


# -- reductions ---------------------------------------------------------------------------------

_REDUCE: dict[str, tuple[Callable[..., Tensor], int]] = {
    # op: (builder, first opset taking the axes as an input)
    "ReduceSum": (m.reduce_sum, 13), "ReduceMean": (m.reduce_mean, 18),
    "ReduceMax": (m.reduce_max, 18), "ReduceMin": (m.reduce_min, 18),
    "ReduceProd": (m.reduce_prod, 18),
}  # fmt: skip
_BOOL_REDUCE = {"ReduceMax": m.reduce_any, "ReduceMin": m.reduce_all}


def reduce_value(v: Value, fn: Callable[..., Tensor], axes: Sequence[int], keepdims: bool) -> Value:
    """fn over logical `axes` of v, in v's layout."""
    axes = sorted({a % v.rank for a in axes})
    stored = sorted(lay.stored_axis(v.layout, a) for a in axes)
    y = fn(v.tensor, stored, keepdims=keepdims)
    return Value(y, v.layout if keepdims else lay.removed(v.layout, axes))


@converter(*_REDUCE, static=(1,))
def _reduce(ctx: Importer, node: OnnxNode) -> list[Value]:
    v = ctx.value(node.inputs[0])
    fn, axes_input_from = _REDUCE[node.op_type]
    if v.dtype.is_bool:
        fn = _BOOL_REDUCE[node.op_type]
    if node.opset >= axes_input_from:
        axes = ctx.static_ints(node, 1) if node.has_input(1) else []
    else:
        axes = list(node.attr("axes", []))
    if not axes:
        if node.attr("noop_with_empty_axes", 0):
            return [Value(identity(v.tensor), v.layout)]
        axes = list(range(v.rank))
    keepdims = bool(node.attr("keepdims", 1))
    axes = sorted({x % v.rank for x in axes})
    if node.op_type in _BOOL_REDUCE and any(v.shape[x] == 0 for x in axes):
        return [_empty_extremum(v, axes, keepdims, node.op_type == "ReduceMax")]
    return [reduce_value(v, fn, axes, keepdims)]


def _empty_extremum(v: Value, axes: Sequence[int], keepdims: bool, is_max: bool) -> Tensor:
    """The max (min) over no elements: the lowest (highest) value of the dtype."""
    dt = v.dtype.np
    if v.dtype.is_bool:
        fill: object = not is_max
    elif v.dtype.is_floating:
        fill = -np.inf if is_max else np.inf
    else:
        fill = np.iinfo(dt).min if is_max else np.iinfo(dt).max
    dims = [1 if i in axes else d for i, d in enumerate(v.shape) if keepdims or i not in axes]
    if None in dims:
        raise ShapeError(f"the extremum over no elements of {v.tensor.name} needs known dims")
    return constant(np.full(dims, fill, dtype=dt))


@converter("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(ctx: Importer, node: OnnxNode) -> list[Value]:
    v = ctx.value(node.inputs[0])
    fn = m.reduce_mean if node.op_type == "GlobalAveragePool" else m.reduce_max
    return [reduce_value(v, fn, range(2, v.rank), keepdims=True)]
