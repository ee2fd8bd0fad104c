"""ONNX -> graphnet converters of the NCHW image ops: Conv, ConvTranspose, MaxPool,
AveragePool, BatchNormalization, LRN, Dropout.

Their inputs are stored channels last (NHWC) and their outputs stay so. 1-D ops (N, C, L) run
as 2-D ones over (N, 1, L, C). Weights OIHW become HWIO; constant weights are transposed while
importing, others by a transpose in the graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from graphnet.export.onnx import layout as lay
from graphnet.export.onnx.importer import (
    Importer,
    ModelInfo,
    OnnxNode,
    Value,
    converter,
    dtype_of,
)
from graphnet.ir import ShapeError, Tensor
from graphnet.ops import array as a, conv, math as m, nn, slicing as s
from graphnet.ops.core import constant, constant_value

Pairs = tuple[tuple[int, int], ...]

# -- checks ---------------------------------------------------------------------------------------


def _spatial_problems(node: OnnxNode, info: ModelInfo) -> list[str]:
    rank = info.rank(node.inputs[0])
    problems = []
    if rank is not None and rank not in (3, 4):
        problems.append(f"{rank - 2}-D input (graphnet has 1-D and 2-D windows)")
    shape = info.shape(node.inputs[0])
    spatial_known = shape is not None and None not in shape[2:]
    if node.attr("auto_pad", "NOTSET") == "SAME_LOWER" and not spatial_known:
        problems.append("auto_pad SAME_LOWER with unknown spatial dims")
    return problems


def _check_conv(node: OnnxNode, info: ModelInfo) -> list[str]:
    problems = _spatial_problems(node, info)
    if node.op_type == "ConvTranspose":
        shape = info.shape(node.inputs[0])
        if shape is not None and None in shape[2:]:
            problems.append("unknown spatial input dims")
    return problems


def _check_pool(node: OnnxNode, info: ModelInfo) -> list[str]:
    problems = _spatial_problems(node, info)
    if any(d != 1 for d in node.attr("dilations", [])):
        problems.append(f"dilations {list(node.attr('dilations'))}")
    if len(node.outputs) > 1 and node.outputs[1]:
        problems.append("the Indices output")
    shape = info.shape(node.inputs[0])
    needs_counts = node.op_type == "AveragePool" and (
        node.attr("ceil_mode", 0) or any(node.attr("pads", []))
    )
    if needs_counts and (shape is None or None in shape[2:]):
        problems.append("padding or ceil_mode with unknown spatial dims")
    return problems


# -- windows ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Window:
    """2-D window attributes (1-D ones lifted with a unit first axis)."""

    kernel: tuple[int, int]
    strides: tuple[int, int]
    dilations: tuple[int, int]
    pads: Pairs  # explicit (begin, end) per spatial axis
    same: bool  # SAME_UPPER over unknown spatial dims: TF's "SAME"

    def extent(self, axis: int) -> int:
        return (self.kernel[axis] - 1) * self.dilations[axis] + 1


def _lifted(values: Sequence[int], one_d: bool, unit: int) -> tuple[int, int]:
    return (unit, values[0]) if one_d else (values[0], values[1])


def _window(
    node: OnnxNode, in_dims: Sequence[int | None], kernel: Sequence[int], one_d: bool
) -> _Window:
    """The window of a Conv or pool over stored [N, H, W, C] input with spatial `in_dims`."""
    n = 1 if one_d else 2
    strides = _lifted(node.attr("strides", [1] * n), one_d, 1)
    dilations = _lifted(node.attr("dilations", [1] * n), one_d, 1)
    raw = node.attr("pads", [0] * 2 * n)
    pads: Pairs = ((0, 0), (raw[0], raw[1])) if one_d else ((raw[0], raw[2]), (raw[1], raw[3]))
    win = _Window(tuple(kernel), strides, dilations, pads, False)  # type: ignore[arg-type]
    auto_pad = node.attr("auto_pad", "NOTSET")
    if auto_pad == "VALID":
        return _Window(win.kernel, strides, dilations, ((0, 0), (0, 0)), False)
    if auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        return win
    if None in in_dims:
        return _Window(win.kernel, strides, dilations, ((0, 0), (0, 0)), True)
    same = []
    for i, size in enumerate(in_dims):
        assert size is not None
        out = -(-size // strides[i])
        total = max((out - 1) * strides[i] + win.extent(i) - size, 0)
        small = total // 2
        same.append((small, total - small) if auto_pad == "SAME_UPPER" else (total - small, small))
    return _Window(win.kernel, strides, dilations, tuple(same), False)


def _padding(win: _Window) -> str | Pairs:
    if win.same:
        return "SAME"
    return "VALID" if not any(p for row in win.pads for p in row) else win.pads


def _channels_last(ctx: Importer, name: str) -> tuple[Tensor, bool]:
    """Input `name` stored [N, H, W, C] (1-D input [N, C, L] as [N, 1, L, C]); is it 1-D?"""
    v = ctx.value(name)
    t = ctx.stored(v, lay.channels_last(v.rank))
    return (a.expand_dims(t, 1), True) if v.rank == 3 else (t, False)


def _hwio(ctx: Importer, name: str, one_d: bool) -> Tensor:
    """Weights [O, I, kh, kw] (or [O, I, k]) stored [kh, kw, I, O] (or [1, k, I, O])."""
    v = ctx.value(name)
    t = ctx.stored(v, (*range(2, v.rank), 1, 0))
    return _reshaped(t, (1, *t.shape)) if one_d else t


def _reshaped(t: Tensor, dims: Sequence[int]) -> Tensor:
    known = constant_value(t)
    return constant(known.reshape(dims)) if known is not None else a.reshape(t, list(dims))


def _split(t: Tensor, parts: int) -> list[Tensor]:
    """t cut along its last axis into `parts` (constants cut while importing)."""
    known = constant_value(t)
    if known is not None:
        return [constant(p) for p in np.split(known, parts, axis=-1)]
    return a.split(t, parts, axis=-1)


def _result(y: Tensor, one_d: bool) -> Value:
    y = a.squeeze(y, [1]) if one_d else y
    return Value(y, lay.channels_last(len(y.shape)))


def _with_bias(ctx: Importer, node: OnnxNode, y: Tensor) -> Tensor:
    return nn.bias_add(y, ctx.tensor(node.inputs[2])) if node.has_input(2) else y


# -- convolutions ---------------------------------------------------------------------------------


@converter("Conv", check=_check_conv)
def _conv(ctx: Importer, node: OnnxNode) -> list[Value]:
    """group 1: conv2d; one group per input channel: depthwise_conv2d; otherwise the groups
    are split, convolved apart and joined."""
    x, one_d = _channels_last(ctx, node.inputs[0])
    w = _hwio(ctx, node.inputs[1], one_d)
    kh, kw, per_group, out_channels = w.shape
    win = _window(node, x.shape[1:3], (kh, kw), one_d)
    attrs = {"strides": win.strides, "padding": _padding(win), "dilations": win.dilations}
    group = node.attr("group", 1)
    channels = x.shape[3]
    if group == 1:
        y = conv.conv2d(x, w, **attrs)
    elif group == channels and per_group == 1:
        y = conv.depthwise_conv2d(x, _reshaped(w, (kh, kw, group, out_channels // group)), **attrs)
    else:
        parts = zip(a.split(x, group, axis=-1), _split(w, group), strict=True)
        y = a.concat([conv.conv2d(xi, wi, **attrs) for xi, wi in parts], -1)
    return [_result(_with_bias(ctx, node, y), one_d)]


def _transpose_pads(
    node: OnnxNode, in_dims: Sequence[int], win: _Window, one_d: bool
) -> tuple[list, Pairs]:
    """Output sizes and (begin, end) pads of a ConvTranspose; an `output_shape` or SAME
    auto_pad sets the pads from the output size. A negative end pad is output padding."""
    n = 1 if one_d else 2
    extra = _lifted(node.attr("output_padding", [0] * n), one_d, 0)
    given = node.attr("output_shape")
    auto_pad = node.attr("auto_pad", "NOTSET")
    sizes, pads = [], []
    for i, size in enumerate(in_dims):
        natural = win.strides[i] * (size - 1) + extra[i] + win.extent(i)
        if given is not None or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            out = _lifted(given, one_d, 1)[i] if given is not None else size * win.strides[i]
            total = natural - out
            small = total // 2
            begin, end = (small, total - small) if auto_pad == "SAME_UPPER" else (total - small,
                                                                                small)  # fmt: skip
        else:
            begin, end = win.pads[i]
            out = natural - begin - end
        if begin < 0:
            raise ShapeError(f"ConvTranspose pads {begin} before axis {i}: cannot be negative")
        end = max(end, 0)
        if (out + begin + end - win.extent(i)) // win.strides[i] + 1 != size:
            raise ShapeError(f"ConvTranspose output size {out} does not fit input size {size}")
        sizes.append(out)
        pads.append((begin, end))
    return sizes, tuple(pads)


@converter("ConvTranspose", check=_check_conv)
def _conv_transpose(ctx: Importer, node: OnnxNode) -> list[Value]:
    x, one_d = _channels_last(ctx, node.inputs[0])
    w = _hwio(ctx, node.inputs[1], one_d)  # [kh, kw, out/group, in]
    kh, kw, per_group, _ = w.shape
    win = _window(node, x.shape[1:3], (kh, kw), one_d)
    sizes, pads = _transpose_pads(node, x.shape[1:3], win, one_d)
    padding = "VALID" if not any(p for row in pads for p in row) else pads
    group = node.attr("group", 1)
    batch = x.shape[0] if x.shape[0] is not None else a.shape(x)[0]
    outs = [
        conv.conv2d_transpose(xi, wi, [batch, *sizes, per_group], win.strides, padding,
                              dilations=win.dilations)
        for xi, wi in zip(a.split(x, group, axis=-1) if group > 1 else [x], _split(w, group),
                          strict=True)
    ]  # fmt: skip
    y = a.concat(outs, -1)
    return [_result(_with_bias(ctx, node, y), one_d)]


# -- pooling --------------------------------------------------------------------------------------


def _pool_geometry(node: OnnxNode, x: Tensor, win: _Window) -> tuple[Pairs, Pairs]:
    """(pads, extra end pads ceil_mode adds) such that a VALID pool over the padded input
    has ONNX's output size: with ceil_mode a last window must start inside the input or
    its begin padding."""
    extra = []
    for i in range(2):
        size = x.shape[1 + i]
        begin, end = win.pads[i]
        k, stride = win.extent(i), win.strides[i]
        if not node.attr("ceil_mode", 0) or size is None:
            extra.append((0, 0))
            continue
        out = -(-(size + begin + end - k) // stride) + 1
        if (out - 1) * stride >= size + begin:
            out -= 1
        extra.append((0, max(0, (out - 1) * stride + k - (size + begin + end))))
    return win.pads, tuple(extra)


def _padded(x: Tensor, pads: Pairs, extra: Pairs, value: float) -> Tensor:
    rows = [(0, 0), *((b + eb, e + ee) for (b, e), (eb, ee) in zip(pads, extra, strict=True)),
            (0, 0)]  # fmt: skip
    if not any(p for row in rows for p in row):
        return x
    return s.pad(x, rows, constant_values=np.asarray(value, dtype=x.dtype.np))


def _lowest(x: Tensor) -> float:
    return -np.inf if x.dtype.is_floating else np.iinfo(x.dtype.np).min


@converter("MaxPool", check=_check_pool)
def _max_pool(ctx: Importer, node: OnnxNode) -> list[Value]:
    """Explicit and ceil_mode padding with the lowest value, then a VALID max_pool."""
    x, one_d = _channels_last(ctx, node.inputs[0])
    win = _window(node, x.shape[1:3], _lifted(node.attr("kernel_shape"), one_d, 1), one_d)
    if win.same:
        return [_result(conv.max_pool2d(x, win.kernel, win.strides, "SAME"), one_d)]
    pads, extra = _pool_geometry(node, x, win)
    y = conv.max_pool2d(_padded(x, pads, extra, _lowest(x)), win.kernel, win.strides, "VALID")
    return [_result(y, one_d)]


@converter("AveragePool", check=_check_pool)
def _avg_pool(ctx: Importer, node: OnnxNode) -> list[Value]:
    """Without padding: a VALID avg_pool; SAME padding without counting it: TF's SAME
    avg_pool; otherwise the zero-padded window sums scaled by the count of the window's
    elements that ONNX divides by (count_include_pad counts pads, never ceil_mode's extra)."""
    x, one_d = _channels_last(ctx, node.inputs[0])
    win = _window(node, x.shape[1:3], _lifted(node.attr("kernel_shape"), one_d, 1), one_d)
    include_pad = bool(node.attr("count_include_pad", 0))
    tf_same = node.attr("auto_pad", "NOTSET") == "SAME_UPPER" and not include_pad
    if win.same or (tf_same and not node.attr("ceil_mode", 0)):
        return [_result(conv.avg_pool2d(x, win.kernel, win.strides, "SAME"), one_d)]
    pads, extra = _pool_geometry(node, x, win)
    y = conv.avg_pool2d(_padded(x, pads, extra, 0.0), win.kernel, win.strides, "VALID")
    if any(p for row in (*pads, *extra) for p in row):
        counts = _window_counts(x.shape[1:3], pads, extra, win, include_pad)
        scale = float(np.prod(win.kernel)) / counts
        if not np.all(scale == 1.0):
            y = y * constant(scale[None, :, :, None].astype(x.dtype.np))
    return [_result(y, one_d)]


def _window_counts(
    dims: Sequence[int | None], pads: Pairs, extra: Pairs, win: _Window, include_pad: bool
) -> np.ndarray:
    """How many elements each output window averages: inputs, and pads if include_pad."""
    mask = np.pad(np.ones(dims), pads, constant_values=float(include_pad))
    mask = np.pad(mask, extra)
    windows = np.lib.stride_tricks.sliding_window_view(mask, win.kernel)
    return windows[:: win.strides[0], :: win.strides[1]].sum(axis=(-2, -1))


# -- normalization, dropout -----------------------------------------------------------------------


def _check_batch_norm(node: OnnxNode, info: ModelInfo) -> list[str]:
    if node.attr("training_mode", 0) or any(node.outputs[1:]):
        return ["training mode (batch statistics)"]
    return []


@converter("BatchNormalization", check=_check_batch_norm)
def _batch_norm(ctx: Importer, node: OnnxNode) -> list[Value]:
    """Inference batch norm over the channel axis, stored last."""
    v = ctx.value(node.inputs[0])
    x = ctx.stored(v, lay.channels_last(v.rank))
    params = [m.cast(ctx.tensor(name), x.dtype) for name in node.inputs[1:5]]
    y, _, _ = nn.fused_batch_norm(x, *params, epsilon=node.attr("epsilon", 1e-5),
                                  is_training=False)  # fmt: skip
    return [Value(y, lay.channels_last(v.rank))]


@converter("LRN")
def _lrn(ctx: Importer, node: OnnxNode) -> list[Value]:
    """x / (bias + alpha / size * sum of squares over channels c - (size-1)//2 ..
    c + size//2) ** beta, the window sum a matmul with a band of ones."""
    v = ctx.value(node.inputs[0])
    x = ctx.stored(v, lay.channels_last(v.rank))
    channels, size = x.shape[-1], node.attr("size")
    if channels is None:
        raise ShapeError(f"LRN over {x.name} needs a known channel count")
    c = np.arange(channels)
    offset = c[:, None] - c[None, :]  # input channel - output channel
    band = (offset >= -((size - 1) // 2)) & (offset <= size // 2)
    sums = m.matmul(m.square(x), constant(band.astype(x.dtype.np)))
    scale = sums * (node.attr("alpha", 1e-4) / size) + node.attr("bias", 1.0)
    return [Value(x * scale ** -node.attr("beta", 0.75), lay.channels_last(v.rank))]


def _check_dropout(node: OnnxNode, info: ModelInfo) -> list[str]:
    training = info.consts.get(node.inputs[2]) if node.has_input(2) else None
    ratio = info.consts.get(node.inputs[1]) if node.has_input(1) else node.attr("ratio", 0.5)
    if training is not None and bool(training) and (ratio is None or float(ratio) != 0.0):
        return ["training_mode with a nonzero ratio (random)"]
    return []


@converter("Dropout", check=_check_dropout, static=(1, 2))
def _dropout(ctx: Importer, node: OnnxNode) -> list[Value]:
    """The identity (inference), with an all-true mask when asked for."""
    v = ctx.value(node.inputs[0])
    outs = [v]
    if len(node.outputs) > 1 and node.outputs[1]:
        elem = ctx.types.get(node.outputs[1], (9, None))[0]  # 9: BOOL
        outs.append(Value(a.ones_like(v.tensor, dtype=dtype_of(elem)), v.layout))
    return outs
