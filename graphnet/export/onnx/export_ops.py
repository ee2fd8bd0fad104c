"""graphnet -> ONNX emitters, one per graphnet op (or family): each adds ONNX nodes for a
graphnet node and returns (ONNX name, layout) per output."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx

from graphnet.export.onnx import layout as lay
from graphnet.export.onnx.exporter import Exporter, OnnxExportError, emitter, onnx_type
from graphnet.export.onnx.layout import Layout
from graphnet.ir import Node, Tensor

Out = list[tuple[str, Layout] | Tensor]  # a Tensor: the output is that tensor's value
INT64_MAX, INT64_MIN = np.iinfo(np.int64).max, np.iinfo(np.int64).min

# -- elementwise ----------------------------------------------------------------------------------

_UNARY = {
    "abs": "Abs", "negative": "Neg", "sqrt": "Sqrt", "exp": "Exp", "log": "Log",
    "relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "floor": "Floor", "ceil": "Ceil",
    "reciprocal": "Reciprocal", "erf": "Erf", "sin": "Sin", "cos": "Cos", "sign": "Sign",
    "round": "Round", "logical_not": "Not", "elu": "Elu", "leaky_relu": "LeakyRelu",
}  # fmt: skip


@emitter(*_UNARY)
def _unary(ex: Exporter, node: Node) -> Out:
    v = ex.value(node.inputs[0])
    attrs = {"alpha": node.attrs["alpha"]} if node.type == "leaky_relu" else {}
    name = ex.stored(node.inputs[0], v.layout)
    return [(ex.add(_UNARY[node.type], [name], node.name, **attrs)[0], v.layout)]


@emitter("identity", "stop_gradient")
def _identity(ex: Exporter, node: Node) -> Out:
    v = ex.value(node.inputs[0])
    return [(ex.stored(node.inputs[0], v.layout), v.layout)]


@emitter("rsqrt", "square", "relu6", "expm1", "log1p")
def _composite(ex: Exporter, node: Node) -> Out:
    """Ops ONNX has no single node for."""
    v = ex.value(node.inputs[0])
    x = ex.stored(node.inputs[0], v.layout)
    dtype = node.inputs[0].dtype.np
    if node.type == "rsqrt":
        out = ex.add("Reciprocal", ex.add("Sqrt", [x], node.name), node.name)[0]
    elif node.type == "square":
        out = ex.add("Mul", [x, x], node.name)[0]
    elif node.type == "relu6":
        bounds = [ex.initializer(np.array(b, dtype), f"{node.name}/bound") for b in (0, 6)]
        out = ex.add("Clip", [x, *bounds], node.name)[0]
    else:
        one = ex.initializer(np.array(1, dtype), f"{node.name}/one")
        if node.type == "expm1":
            out = ex.add("Sub", [ex.add("Exp", [x], node.name)[0], one], node.name)[0]
        else:
            out = ex.add("Log", [ex.add("Add", [x, one], node.name)[0]], node.name)[0]
    return [(out, v.layout)]


_BINARY = {
    "add": "Add", "subtract": "Sub", "multiply": "Mul", "divide": "Div", "pow": "Pow",
    "maximum": "Max", "minimum": "Min", "equal": "Equal", "less": "Less",
    "greater": "Greater", "less_equal": "LessOrEqual", "greater_equal": "GreaterOrEqual",
    "logical_and": "And", "logical_or": "Or", "logical_xor": "Xor", "where": "Where",
    "add_n": "Sum", "bias_add": "Add",
}  # fmt: skip


@emitter(*_BINARY)
def _binary(ex: Exporter, node: Node) -> Out:
    if node.type in ("add", "bias_add"):
        fused = _bias_into_producer(ex, node)
        if fused is not None:
            return fused
    names, target = ex.broadcast(node.inputs)
    return [(ex.add(_BINARY[node.type], names, node.name)[0], target)]


def _bias_into_producer(ex: Exporter, node: Node) -> Out | None:
    """A bias added to the sole use of a Conv or Gemm output becomes that node's bias input
    (B, C), as ONNX models have it."""
    for value, bias in (node.inputs, node.inputs[::-1]):
        if bias.shape is None or len(bias.shape) != 1 or value.shape is None:
            continue
        v = ex.value(value)
        producer = ex.producers.get(v.name)
        if (
            ex.uses[value] == 1
            and producer is not None
            and producer.op_type in ("Conv", "Gemm")
            and len(producer.input) == 2
            and value.shape[-1] == bias.shape[0]
        ):
            producer.input.append(ex.stored(bias))
            return [(v.name, v.layout)]
    return None


@emitter("floormod", "floordiv")
def _floor_ops(ex: Exporter, node: Node) -> Out:
    """Python's % and //: Mod(fmod=0) for ints, x - floor(x / y) * y for floats."""
    (a, b), target = ex.broadcast(node.inputs)
    if node.inputs[0].dtype.is_integer:
        mod = ex.add("Mod", [a, b], node.name, fmod=0)[0]
        if node.type == "floormod":
            return [(mod, target)]
        return [(ex.add("Div", [ex.add("Sub", [a, mod], node.name)[0], b], node.name)[0], target)]
    quotient = ex.add("Floor", ex.add("Div", [a, b], node.name), node.name)[0]
    if node.type == "floordiv":
        return [(quotient, target)]
    return [(ex.add("Sub", [a, ex.add("Mul", [quotient, b], node.name)[0]], node.name)[0],
             target)]  # fmt: skip


@emitter("squared_difference", "not_equal")
def _binary_composite(ex: Exporter, node: Node) -> Out:
    names, target = ex.broadcast(node.inputs)
    if node.type == "not_equal":
        return [(ex.add("Not", ex.add("Equal", names, node.name), node.name)[0], target)]
    diff = ex.add("Sub", names, node.name)[0]
    return [(ex.add("Mul", [diff, diff], node.name)[0], target)]


@emitter("cast")
def _cast(ex: Exporter, node: Node) -> Out:
    v = ex.value(node.inputs[0])
    to = onnx_type(node.outputs[0].dtype)
    return [(ex.add("Cast", [ex.stored(node.inputs[0], v.layout)], node.name, to=to)[0],
             v.layout)]  # fmt: skip


# -- matmul -------------------------------------------------------------------------------------


@emitter("matmul")
def _matmul(ex: Exporter, node: Node) -> Out:
    """Gemm for matrices, else MatMul with the flagged operands' last axes swapped."""
    a, b = node.inputs
    ta, tb = node.attrs["transpose_a"], node.attrs["transpose_b"]
    rank = len(node.outputs[0].shape)
    if len(a.shape) == 2 and len(b.shape) == 2:
        out = ex.add("Gemm", [ex.stored(a), ex.stored(b)], node.name, transA=int(ta),
                     transB=int(tb))[0]  # fmt: skip
        return [(out, lay.identity(2))]
    operands = []
    for t, flag in ((a, ta), (b, tb)):
        r = len(t.shape)
        swapped = (*range(r - 2), r - 1, r - 2)
        operands.append(ex.stored(t, swapped if flag else None))
    return [(ex.add("MatMul", operands, node.name)[0], lay.identity(rank))]


# -- softmax, reductions --------------------------------------------------------------------------


@emitter("softmax", "log_softmax")
def _softmax(ex: Exporter, node: Node) -> Out:
    v = ex.value(node.inputs[0])
    op = "Softmax" if node.type == "softmax" else "LogSoftmax"
    axis = lay.stored_axis(v.layout, node.attrs["axis"])
    return [(ex.add(op, [ex.stored(node.inputs[0], v.layout)], node.name, axis=axis)[0],
             v.layout)]  # fmt: skip


_REDUCE = {
    "reduce_sum": "ReduceSum", "reduce_mean": "ReduceMean", "reduce_max": "ReduceMax",
    "reduce_min": "ReduceMin", "reduce_prod": "ReduceProd",
}  # fmt: skip


@emitter(*_REDUCE, "reduce_any", "reduce_all")
def _reduce(ex: Exporter, node: Node) -> Out:
    """Axes as an input from opset 18 (ReduceSum: 13), an attribute before; logical
    reductions are the max (min) of the values as int32."""
    x = node.inputs[0]
    v = ex.value(x)
    rank = len(x.shape)
    axes = range(rank) if node.attrs["axis"] is None else node.attrs["axis"]
    stored = sorted(lay.stored_axis(v.layout, a) for a in axes)
    keep = node.attrs["keepdims"]
    inputs = [ex.stored(x, v.layout)]
    logical = node.type in ("reduce_any", "reduce_all")
    if logical:
        inputs[0] = ex.add("Cast", inputs, node.name, to=onnx.TensorProto.INT32)[0]
    op = {"reduce_any": "ReduceMax", "reduce_all": "ReduceMin"}.get(node.type) or _REDUCE[node.type]
    attrs: dict = {"keepdims": int(keep)}
    if ex.opset >= 18 or op == "ReduceSum":
        inputs.append(ex.ints(stored, f"{node.name}/axes"))
    else:
        attrs["axes"] = stored
    out = ex.add(op, inputs, node.name, **attrs)[0]
    if logical:
        out = ex.add("Cast", [out], node.name, to=onnx.TensorProto.BOOL)[0]
    return [(out, v.layout if keep else lay.removed(v.layout, axes))]


@emitter("fill")
def _fill(ex: Exporter, node: Node) -> Out:
    dims, value = node.inputs
    known = ex.static(value)
    if known is None:
        raise OnnxExportError(f"fill {node.name}: the value must be a constant")
    shape = ex.add("Cast", [ex.stored(dims)], node.name, to=onnx.TensorProto.INT64)[0]
    fill = onnx.numpy_helper.from_array(np.asarray(known).reshape(1))
    out = ex.add("ConstantOfShape", [shape], node.name, value=fill)[0]
    return [(out, lay.identity(len(node.outputs[0].shape)))]


# -- shapes ---------------------------------------------------------------------------------------


@emitter("reshape")
def _reshape(ex: Exporter, node: Node) -> Out:
    x, target = node.inputs
    known = ex.static(target)
    if known is not None:
        shape = ex.ints([int(d) for d in np.ravel(known)], f"{node.name}/shape")
    else:
        shape = ex.add("Cast", [ex.stored(target)], node.name, to=onnx.TensorProto.INT64)[0]
    attrs = {"allowzero": 1} if known is None or 0 in known else {}  # 0 is a size, not "copy"
    out = ex.add("Reshape", [ex.stored(x), shape], node.name, **attrs)[0]
    return [(out, lay.identity(len(node.outputs[0].shape)))]


@emitter("transpose")
def _transpose(ex: Exporter, node: Node) -> Out:
    """Only relabels the axes; a Transpose is made where an op needs another order."""
    v = ex.value(node.inputs[0])
    return [(ex.stored(node.inputs[0], v.layout), lay.transposed(v.layout, node.attrs["perm"]))]


@emitter("concat")
def _concat(ex: Exporter, node: Node) -> Out:
    layouts = [ex.value(t).layout for t in node.inputs]
    target = next((p for p in layouts if not lay.is_identity(p)), layouts[0])
    names = [ex.stored(t, target) for t in node.inputs]
    axis = lay.stored_axis(target, node.attrs["axis"])
    return [(ex.add("Concat", names, node.name, axis=axis)[0], target)]


@emitter("pack")
def _pack(ex: Exporter, node: Node) -> Out:
    axis = node.attrs["axis"] % len(node.outputs[0].shape)
    axes = ex.ints([axis], f"{node.name}/axes")
    parts = [ex.add("Unsqueeze", [ex.stored(t), axes], node.name)[0] for t in node.inputs]
    return [(ex.add("Concat", parts, node.name, axis=axis)[0],
             lay.identity(len(node.outputs[0].shape)))]  # fmt: skip


@emitter("squeeze")
def _squeeze(ex: Exporter, node: Node) -> Out:
    x = node.inputs[0]
    v = ex.value(x)
    rank = len(x.shape)
    axes = node.attrs["axis"]
    axes = (
        [i for i, d in enumerate(x.shape) if d == 1] if axes is None else [a % rank for a in axes]
    )
    stored = sorted(lay.stored_axis(v.layout, a) for a in axes)
    out = ex.add("Squeeze", [ex.stored(x, v.layout), ex.ints(stored, f"{node.name}/axes")],
                 node.name)[0]  # fmt: skip
    return [(out, lay.removed(v.layout, axes))]


@emitter("expand_dims")
def _expand_dims(ex: Exporter, node: Node) -> Out:
    x = node.inputs[0]
    v = ex.value(x)
    axis = node.attrs["axis"] % (len(x.shape) + 1)
    out_layout = lay.inserted(v.layout, [axis])
    position = out_layout.index(axis)
    out = ex.add("Unsqueeze", [ex.stored(x, v.layout), ex.ints([position], f"{node.name}/axes")],
                 node.name)[0]  # fmt: skip
    return [(out, out_layout)]


@emitter("split")
def _split(ex: Exporter, node: Node) -> Out:
    x = node.inputs[0]
    v = ex.value(x)
    axis = node.attrs["axis"] % len(x.shape)
    sizes = [t.shape[axis] for t in node.outputs]
    if None in sizes:
        raise OnnxExportError(f"split {node.name}: the parts' sizes must be known")
    inputs = [ex.stored(x, v.layout), ex.ints(sizes, f"{node.name}/split")]
    outs = ex.add("Split", inputs, node.name, outputs=len(sizes),
                  axis=lay.stored_axis(v.layout, axis))  # fmt: skip
    return [(o, v.layout) for o in outs]


@emitter("shape")
def _shape(ex: Exporter, node: Node) -> Out:
    out = ex.add("Shape", [ex.stored(node.inputs[0])], node.name)[0]
    if node.outputs[0].dtype.name != "int64":
        out = ex.add("Cast", [out], node.name, to=onnx_type(node.outputs[0].dtype))[0]
    return [(out, (0,))]


@emitter("gather")
def _gather(ex: Exporter, node: Node) -> Out:
    params, indices = node.inputs
    out = ex.add("Gather", [ex.stored(params), ex.stored(indices)], node.name,
                 axis=node.attrs["axis"])[0]  # fmt: skip
    return [(out, lay.identity(len(node.outputs[0].shape)))]


@emitter("tile")
def _tile(ex: Exporter, node: Node) -> Out:
    x = node.inputs[0]
    v = ex.value(x)
    reps = [node.attrs["multiples"][a] for a in v.layout]
    out = ex.add("Tile", [ex.stored(x, v.layout), ex.ints(reps, f"{node.name}/repeats")],
                 node.name)[0]  # fmt: skip
    return [(out, v.layout)]


@emitter("pad")
def _pad(ex: Exporter, node: Node) -> Out:
    x = node.inputs[0]
    v = ex.value(x)
    rows = [node.attrs["paddings"][a] for a in v.layout]
    pads = ex.ints([b for b, _ in rows] + [e for _, e in rows], f"{node.name}/pads")
    value = ex.initializer(np.array(node.attrs["constant_values"], dtype=x.dtype.np),
                           f"{node.name}/value")  # fmt: skip
    return [(ex.add("Pad", [ex.stored(x, v.layout), pads, value], node.name)[0], v.layout)]


def _slice_entries(spec: Sequence, rank: int) -> list:
    """The spec with its Ellipsis expanded: one entry per input axis, plus 'newaxis' ones."""
    used = sum(1 for e in spec if e not in ("newaxis", "..."))
    at = spec.index("...") if "..." in spec else len(spec)
    full = [(None, None, None)] * (rank - used)
    return [*spec[:at], *full, *spec[at + 1 :]] if "..." in spec else [*spec, *full]


@emitter("strided_slice")
def _strided_slice(ex: Exporter, node: Node) -> Out:
    """Slice over the sliced axes, then Squeeze the indexed ones and Unsqueeze new ones."""
    x = node.inputs[0]
    v = ex.value(x)
    entries = _slice_entries(node.attrs["spec"], len(x.shape))
    starts, ends, axes, steps, dropped, new = [], [], [], [], [], []
    axis = out_axis = 0
    for e in entries:
        if e == "newaxis":
            new.append(out_axis)
            out_axis += 1
            continue
        out_axis += not isinstance(e, int)
        if isinstance(e, int):
            starts.append(e)
            ends.append(e + 1 if e != -1 else INT64_MAX)
            steps.append(1)
            axes.append(axis)
            dropped.append(axis)
        elif e != (None, None, None):
            b, end, step = e
            step = 1 if step is None else step
            starts.append(b if b is not None else (0 if step > 0 else INT64_MAX))
            ends.append(end if end is not None else (INT64_MAX if step > 0 else INT64_MIN))
            steps.append(step)
            axes.append(axis)
        axis += 1
    name = ex.stored(x, v.layout)
    layout = v.layout
    if axes:
        stored_axes = [lay.stored_axis(layout, a) for a in axes]
        args = [
            ex.ints(vals, f"{node.name}/{what}")
            for vals, what in (
                (starts, "starts"),
                (ends, "ends"),
                (stored_axes, "axes"),
                (steps, "steps"),
            )
        ]
        name = ex.add("Slice", [name, *args], node.name)[0]
    if dropped:
        stored_axes = sorted(lay.stored_axis(layout, a) for a in dropped)
        name = ex.add("Squeeze", [name, ex.ints(stored_axes, f"{node.name}/axes")], node.name)[0]
        layout = lay.removed(layout, dropped)
    if new:
        layout = lay.inserted(layout, new)
        positions = [layout.index(a) for a in new]
        name = ex.add("Unsqueeze", [name, ex.ints(positions, f"{node.name}/axes")], node.name)[0]
    return [(name, layout)]


# -- convolutions and pooling (ONNX NCHW) ---------------------------------------------------------

_NCHW = lay.channels_first(4)
_OIHW = (3, 2, 0, 1)  # ONNX weight [O, I, kh, kw] from graphnet's [kh, kw, I, O]


def _window_attrs(node: Node, kernel: Sequence[int]) -> dict:
    """strides, and auto_pad or explicit pads [top, left, bottom, right]."""
    attrs: dict = {"strides": list(node.attrs["strides"])}
    padding = node.attrs["padding"]
    if padding == "SAME":
        attrs["auto_pad"] = "SAME_UPPER"
    elif padding != "VALID":
        (t, b), (left, r) = padding
        attrs["pads"] = [t, left, b, r]
    attrs["kernel_shape"] = list(kernel)
    return attrs


@emitter("conv2d", "depthwise_conv2d")
def _conv(ex: Exporter, node: Node) -> Out:
    x, w = node.inputs
    kh, kw, cin, mult = w.shape
    attrs = _window_attrs(node, (kh, kw))
    attrs["dilations"] = list(node.attrs["dilations"])
    if node.type == "conv2d":
        weight = ex.stored(w, _OIHW)
    else:  # [kh, kw, C, m] -> [C * m, 1, kh, kw], channel c * m + k
        attrs["group"] = cin
        known = ex.static(w)
        if known is None:
            raise OnnxExportError(f"depthwise_conv2d {node.name}: needs constant filters")
        weight = ex.initializer(known.reshape(kh, kw, 1, cin * mult).transpose(_OIHW), w.node.name)
    out = ex.add("Conv", [ex.stored(x, _NCHW), weight], node.name, **attrs)[0]
    return [(out, _NCHW)]


def _same_pads(size: int, out: int, stride: int, extent: int) -> tuple[int, int]:
    total = max((out - 1) * stride + extent - size, 0)
    return total // 2, total - total // 2


@emitter("conv2d_backprop_input")
def _conv_transpose(ex: Exporter, node: Node) -> Out:
    """ConvTranspose with the pads of the forward conv and the output padding that makes
    ONNX's output size graphnet's."""
    _, w, dy = node.inputs
    kh, kw, _, _ = w.shape
    out_hw = node.outputs[0].shape[1:3]
    in_hw = dy.shape[1:3]
    if None in out_hw or None in in_hw:
        raise OnnxExportError(f"{node.name}: ConvTranspose needs known spatial sizes")
    strides, dilations = node.attrs["strides"], node.attrs["dilations"]
    pads, extra = [], []
    for i, k in enumerate((kh, kw)):
        extent = (k - 1) * dilations[i] + 1
        padding = node.attrs["padding"]
        if padding == "SAME":
            begin, end = _same_pads(out_hw[i], in_hw[i], strides[i], extent)
        else:
            begin, end = (0, 0) if padding == "VALID" else padding[i]
        natural = strides[i] * (in_hw[i] - 1) + extent - begin - end
        pads.append((begin, end))
        extra.append(out_hw[i] - natural)
    attrs = {"strides": list(strides), "dilations": list(dilations), "kernel_shape": [kh, kw],
             "pads": [pads[0][0], pads[1][0], pads[0][1], pads[1][1]]}  # fmt: skip
    if any(extra):
        attrs["output_padding"] = extra
    out = ex.add("ConvTranspose", [ex.stored(dy, _NCHW), ex.stored(w, _OIHW)], node.name,
                 **attrs)[0]  # fmt: skip
    return [(out, _NCHW)]


@emitter("max_pool", "avg_pool")
def _pool(ex: Exporter, node: Node) -> Out:
    """SAME average pools count only the input elements, as ONNX's count_include_pad=0."""
    x = node.inputs[0]
    op = "MaxPool" if node.type == "max_pool" else "AveragePool"
    attrs = _window_attrs(node, node.attrs["ksize"])
    out = ex.add(op, [ex.stored(x, _NCHW)], node.name, **attrs)[0]
    return [(out, _NCHW)]


@emitter("fused_batch_norm")
def _batch_norm(ex: Exporter, node: Node) -> Out:
    if node.attrs["is_training"]:
        raise OnnxExportError(f"{node.name}: training batch norm has no inference form")
    x, *params = node.inputs
    layout = lay.channels_first(len(x.shape))
    out = ex.add("BatchNormalization", [ex.stored(x, layout), *(ex.stored(p) for p in params)],
                 node.name, epsilon=node.attrs["epsilon"])[0]  # fmt: skip
    # the batch mean and variance outputs are the given mean and variance in inference
    return [(out, layout), params[2], params[3]]
