"""Convolution and pooling ops (NHWC; filters [kh, kw, cin, cout]), with TF1's semantics.

Each convolution comes with its two backprop ops, and the three are closed under
differentiation (all are bilinear, each the adjoint of another), so gradients of any order work.
Spatial sizes the backprop ops need travel as 1-D int tensors (`input_sizes`, `filter_sizes`),
as in TF: `shape(x)` of an unknown batch, or a stacked `output_shape`, works like a constant.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from graphnet.ir import Node, ShapeError, Tensor
from graphnet.ir.types import Dim, Shape, format_shape, int32, merge_dim
from graphnet.ops.array import shape
from graphnet.ops.core import (
    TensorLike,
    apply_op1,
    convert_operands,
    convert_to_tensor,
    partial_shape_value,
    require_dtype,
    same_dtype,
)
from graphnet.ops.registry import define_op

Grads = Sequence[Tensor | None]
Pair = tuple[int, int]
Padding = str | tuple[Pair, Pair]
UNKNOWN4: Shape = (None, None, None, None)

# -- window attributes: ksize, strides, dilations, padding ----------------------------------------


def _pair_attr(value: Any) -> Any:
    """An int, a pair (h, w) or TF's [1, h, w, 1] as the pair (h, w); anything else is kept as
    given, for the shape rule to reject naming the node."""
    if isinstance(value, int | np.integer):
        return (int(value), int(value))
    try:
        dims = tuple(operator.index(v) for v in value)
    except TypeError:
        return value
    if len(dims) == 4 and dims[0] == dims[3] == 1:
        return dims[1:3]
    return dims


def _padding_attr(padding: Any) -> Any:
    """'SAME', 'VALID', or explicit [[0, 0], [pt, pb], [pl, pr], [0, 0]] as ((pt, pb), (pl, pr));
    anything else is kept as given, for the shape rule to reject."""
    if isinstance(padding, str):
        return padding
    try:
        rows = tuple(tuple(operator.index(v) for v in row) for row in padding)
    except TypeError:
        return padding
    if len(rows) == 4 and rows[0] == rows[3] == (0, 0):
        return rows[1:3]
    return rows


def _is_pair(value: Any, low: int) -> bool:
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and all(isinstance(v, int) and v >= low for v in value)
    )


def _check_pair(value: Any, what: str) -> Pair:
    if not _is_pair(value, low=1):
        raise ShapeError(
            f"{what} must be a positive int, a pair [h, w] or [1, h, w, 1], got {value!r}"
        )
    return value


def _check_padding(padding: Any, explicit: bool) -> Padding:
    if padding in ("SAME", "VALID"):
        return padding
    explicit_pairs = isinstance(padding, tuple) and len(padding) == 2
    if explicit and explicit_pairs and all(_is_pair(row, low=0) for row in padding):
        return padding
    allowed = "'SAME', 'VALID'" + (" or [[0, 0], [pt, pb], [pl, pr], [0, 0]]" if explicit else "")
    raise ShapeError(f"padding must be {allowed}, got {padding!r}")


def _require_nhwc(data_format: str | None) -> None:
    if data_format not in (None, "NHWC"):
        raise ShapeError(f"data_format {data_format!r} is not supported; graphnet is NHWC only")


# -- shape rules ----------------------------------------------------------------------------------


def _dims4(dims: Shape | None, what: str) -> Shape:
    """A 4-D shape (unknown rank counts as four unknown dims)."""
    if dims is None:
        return UNKNOWN4
    if len(dims) != 4:
        raise ShapeError(f"{what} must be 4-D, got shape {format_shape(dims)}")
    return dims


def _sizes4(sizes: Tensor, what: str) -> Shape:
    """The dims held by a 1-D int `sizes` tensor, as far as known while building."""
    require_dtype(sizes, "int", what)
    return _dims4(partial_shape_value(sizes), f"{what} (a shape)")


def _merge(a: Dim, b: Dim, message: str) -> Dim:
    try:
        return merge_dim(a, b)
    except ShapeError:
        raise ShapeError(message) from None


def _output_size(size: Dim, k: Dim, stride: int, dilation: int, padding: str | Pair) -> Dim:
    """TF's output length along one spatial axis; padding is 'SAME', 'VALID' or (lo, hi)."""
    if padding == "SAME":
        return None if size is None else -(-size // stride)
    if size is None or k is None:
        return None
    lo, hi = (0, 0) if isinstance(padding, str) else padding
    window = (k - 1) * dilation + 1
    if size + lo + hi < window:
        raise ShapeError(
            f"kernel size {k} (dilation {dilation}: a window of {window}) is larger than the "
            f"input size {size} padded by {lo}+{hi}"
        )
    return (size + lo + hi - window) // stride + 1


def _window_shapes(
    x: Shape, y: Shape, k_hw: Shape, strides: Pair, dilations: Pair, padding: Padding
) -> tuple[Shape, Shape]:
    """Checks input x and output y of a windowed op (conv or pool) against each other: batch,
    spatial sizes; returns both with the dims each gives the other filled in (not channels)."""
    batch = _merge(x[0], y[0], f"batch sizes differ: {format_shape(x)} and {format_shape(y)}")
    spatial = [
        _output_size(x[1 + a], k_hw[a], strides[a], dilations[a],
                     padding if isinstance(padding, str) else padding[a])
        for a in (0, 1)
    ]  # fmt: skip
    expected = (batch, *spatial, y[3])
    message = (
        f"the output shape {format_shape(y)} does not match {format_shape(expected)}, the one "
        f"input {format_shape(x)} gives"
    )
    out = tuple(_merge(e, d, message) for e, d in zip(expected, y, strict=True))
    return (batch, *x[1:]), out


@dataclass(frozen=True)
class _ConvKind:
    """A convolution and its backprop ops `<name>_backprop_input` / `<name>_backprop_filter`.
    Depthwise filters are [kh, kw, cin, multiplier] with output channel c * multiplier + m."""

    name: str
    depthwise: bool

    @property
    def backprop_input(self) -> str:
        return f"{self.name}_backprop_input"

    @property
    def backprop_filter(self) -> str:
        return f"{self.name}_backprop_filter"

    def out_channels(self, cin: Dim, last: Dim) -> Dim:
        if not self.depthwise:
            return last
        return None if cin is None or last is None else cin * last

    def shapes(
        self, x: Shape, w: Shape, y: Shape, attrs: Mapping[str, Any]
    ) -> tuple[Shape, Shape, Shape]:
        """Checks input x, filter w and output y against each other; returns them completed."""
        strides = _check_pair(attrs["strides"], "strides")
        dilations = _check_pair(attrs["dilations"], "dilations")
        padding = _check_padding(attrs["padding"], explicit=True)
        cin = _merge(
            x[3], w[2],
            f"input {format_shape(x)} has {x[3]} channels but filter {format_shape(w)} "
            f"expects {w[2]}",
        )  # fmt: skip
        cout = _merge(
            self.out_channels(cin, w[3]), y[3],
            f"filter {format_shape(w)} gives {self.out_channels(cin, w[3])} output channels "
            f"but the output {format_shape(y)} has {y[3]}",
        )  # fmt: skip
        x, y = _window_shapes(x, y, (w[0], w[1]), strides, dilations, padding)
        return (*x[:3], cin), (*w[:2], cin, w[3]), (*y[:3], cout)


CONV2D = _ConvKind("conv2d", depthwise=False)
DEPTHWISE = _ConvKind("depthwise_conv2d", depthwise=True)


def _conv_attrs(strides: Any, padding: Any, dilations: Any) -> dict:
    return {
        "strides": _pair_attr(strides),
        "padding": _padding_attr(padding),
        "dilations": _pair_attr(1 if dilations is None else dilations),
    }


def _register_conv_kind(kind: _ConvKind, doc: str) -> None:
    """The three ops of a convolution kind, with shape rules and gradients among themselves."""

    def forward_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
        x, w = inputs
        dtype = same_dtype([x, w])
        require_dtype(x, "float")
        _, _, y = kind.shapes(_dims4(x.shape, "input"), _dims4(w.shape, "filter"), UNKNOWN4, attrs)
        return [(dtype, y)]

    def input_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
        sizes, w, dy = inputs
        dtype = same_dtype([w, dy])
        require_dtype(dy, "float")
        x, _, _ = kind.shapes(
            _sizes4(sizes, "input_sizes"),
            _dims4(w.shape, "filter"),
            _dims4(dy.shape, "out_backprop"),
            attrs,
        )
        return [(dtype, x)]

    def filter_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
        x, sizes, dy = inputs
        dtype = same_dtype([x, dy])
        require_dtype(dy, "float")
        _, w, _ = kind.shapes(
            _dims4(x.shape, "input"),
            _sizes4(sizes, "filter_sizes"),
            _dims4(dy.shape, "out_backprop"),
            attrs,
        )
        return [(dtype, w)]

    @define_op(kind.name, forward_infer, doc=doc)
    def _forward_grad(node: Node, grads: Grads) -> list[Tensor | None]:
        x, w = node.inputs
        g = grads[0]
        return [
            apply_op1(kind.backprop_input, [shape(x), w, g], node.attrs),
            apply_op1(kind.backprop_filter, [x, shape(w), g], node.attrs),
        ]

    @define_op(kind.backprop_input, input_infer, doc=f"The gradient of {kind.name} wrt its input.")
    def _input_grad(node: Node, grads: Grads) -> list[Tensor | None]:
        _, w, dy = node.inputs
        g = grads[0]
        return [
            None,
            apply_op1(kind.backprop_filter, [g, shape(w), dy], node.attrs),
            apply_op1(kind.name, [g, w], node.attrs),
        ]

    @define_op(
        kind.backprop_filter, filter_infer, doc=f"The gradient of {kind.name} wrt its filter."
    )
    def _filter_grad(node: Node, grads: Grads) -> list[Tensor | None]:
        x, _, dy = node.inputs
        g = grads[0]
        return [
            apply_op1(kind.backprop_input, [shape(x), g, dy], node.attrs),
            None,
            apply_op1(kind.name, [x, g], node.attrs),
        ]


_register_conv_kind(CONV2D, "Cross-correlation of NHWC input with [kh, kw, cin, cout] filters.")
_register_conv_kind(
    DEPTHWISE, "Per-channel cross-correlation with [kh, kw, cin, multiplier] filters."
)


def _sizes_tensor(sizes: TensorLike) -> Tensor:
    """A shape given as a list (of ints or scalar int tensors) or a 1-D int tensor."""
    return sizes if isinstance(sizes, Tensor) else convert_to_tensor(sizes, dtype=int32)


def _backprop_input(
    kind: _ConvKind,
    input_sizes: TensorLike,
    filters: TensorLike,
    out_backprop: TensorLike,
    strides: Any,
    padding: Any,
    data_format: str | None,
    dilations: Any,
    name: str | None,
) -> Tensor:
    _require_nhwc(data_format)
    w, dy = convert_operands(filters, out_backprop)
    attrs = _conv_attrs(strides, padding, dilations)
    return apply_op1(kind.backprop_input, [_sizes_tensor(input_sizes), w, dy], attrs, name=name)


def _backprop_filter(
    kind: _ConvKind,
    input: TensorLike,
    filter_sizes: TensorLike,
    out_backprop: TensorLike,
    strides: Any,
    padding: Any,
    data_format: str | None,
    dilations: Any,
    name: str | None,
) -> Tensor:
    _require_nhwc(data_format)
    x, dy = convert_operands(input, out_backprop)
    attrs = _conv_attrs(strides, padding, dilations)
    return apply_op1(kind.backprop_filter, [x, _sizes_tensor(filter_sizes), dy], attrs, name=name)


def conv2d(
    input: TensorLike,
    filters: TensorLike,
    strides: int | Sequence[int],
    padding: str | Sequence[Sequence[int]],
    data_format: str = "NHWC",
    dilations: int | Sequence[int] | None = None,
    name: str | None = None,
) -> Tensor:
    """TF's conv2d: cross-correlation of NHWC `input` with [kh, kw, cin, cout] `filters`;
    strides/dilations an int, [h, w] or [1, h, w, 1]; padding 'SAME', 'VALID' or explicit."""
    _require_nhwc(data_format)
    x, w = convert_operands(input, filters)
    return apply_op1(CONV2D.name, [x, w], _conv_attrs(strides, padding, dilations), name=name)


def conv2d_backprop_input(
    input_sizes: TensorLike,
    filters: TensorLike,
    out_backprop: TensorLike,
    strides: int | Sequence[int],
    padding: str | Sequence[Sequence[int]],
    data_format: str = "NHWC",
    dilations: int | Sequence[int] | None = None,
    name: str | None = None,
) -> Tensor:
    """The gradient of conv2d wrt its input, of shape `input_sizes` ([n, h, w, c])."""
    return _backprop_input(
        CONV2D, input_sizes, filters, out_backprop, strides, padding, data_format, dilations, name
    )


def conv2d_backprop_filter(
    input: TensorLike,
    filter_sizes: TensorLike,
    out_backprop: TensorLike,
    strides: int | Sequence[int],
    padding: str | Sequence[Sequence[int]],
    data_format: str = "NHWC",
    dilations: int | Sequence[int] | None = None,
    name: str | None = None,
) -> Tensor:
    """The gradient of conv2d wrt its filter, of shape `filter_sizes` ([kh, kw, cin, cout])."""
    return _backprop_filter(
        CONV2D, input, filter_sizes, out_backprop, strides, padding, data_format, dilations, name
    )


def conv2d_transpose(
    value: TensorLike,
    filters: TensorLike,
    output_shape: TensorLike,
    strides: int | Sequence[int],
    padding: str | Sequence[Sequence[int]] = "SAME",
    data_format: str = "NHWC",
    dilations: int | Sequence[int] | None = None,
    name: str | None = None,
) -> Tensor:
    """The transpose of conv2d ("deconvolution"): filters [kh, kw, out_c, in_c], output of
    `output_shape` (a list or a 1-D int tensor); it is conv2d_backprop_input."""
    return conv2d_backprop_input(
        output_shape, filters, value, strides, padding, data_format, dilations, name
    )


def depthwise_conv2d(
    input: TensorLike,
    filter: TensorLike,
    strides: int | Sequence[int],
    padding: str | Sequence[Sequence[int]],
    data_format: str | None = None,
    dilations: int | Sequence[int] | None = None,
    name: str | None = None,
) -> Tensor:
    """Each input channel c convolved with its own filter[:, :, c, m]; output channel
    c * multiplier + m (filter [kh, kw, cin, multiplier])."""
    _require_nhwc(data_format)
    x, w = convert_operands(input, filter)
    attrs = _conv_attrs(strides, padding, dilations)
    return apply_op1(DEPTHWISE.name, [x, w], attrs, name=name)


def depthwise_conv2d_native_backprop_input(
    input_sizes: TensorLike,
    filter: TensorLike,
    out_backprop: TensorLike,
    strides: int | Sequence[int],
    padding: str | Sequence[Sequence[int]],
    data_format: str | None = None,
    dilations: int | Sequence[int] | None = None,
    name: str | None = None,
) -> Tensor:
    """The gradient of depthwise_conv2d wrt its input, of shape `input_sizes`."""
    return _backprop_input(
        DEPTHWISE, input_sizes, filter, out_backprop, strides, padding, data_format, dilations, name
    )


def depthwise_conv2d_native_backprop_filter(
    input: TensorLike,
    filter_sizes: TensorLike,
    out_backprop: TensorLike,
    strides: int | Sequence[int],
    padding: str | Sequence[Sequence[int]],
    data_format: str | None = None,
    dilations: int | Sequence[int] | None = None,
    name: str | None = None,
) -> Tensor:
    """The gradient of depthwise_conv2d wrt its filter, of shape `filter_sizes`."""
    return _backprop_filter(
        DEPTHWISE, input, filter_sizes, out_backprop, strides, padding, data_format, dilations, name
    )


# -- pooling --------------------------------------------------------------------------------------


def _pool_shapes(x: Shape, y: Shape, attrs: Mapping[str, Any]) -> tuple[Shape, Shape]:
    """Checks a pool's input x and output y against each other; returns them completed."""
    ksize = _check_pair(attrs["ksize"], "ksize")
    strides = _check_pair(attrs["strides"], "strides")
    padding = _check_padding(attrs["padding"], explicit=False)
    channels = _merge(
        x[3], y[3], f"channels differ: input {format_shape(x)}, output {format_shape(y)}"
    )
    x, y = _window_shapes(x, y, ksize, strides, (1, 1), padding)
    return (*x[:3], channels), (*y[:3], channels)


def _pool_infer(allowed: str) -> Callable:
    def infer(inputs: Sequence[Tensor], attrs: dict) -> list:
        x = inputs[0]
        require_dtype(x, allowed)
        _, y = _pool_shapes(_dims4(x.shape, "input"), UNKNOWN4, attrs)
        return [(x.dtype, y)]

    return infer


def _max_pool_grad_infer(out: int) -> Callable:
    """Rule of (orig_input, orig_output, g): max_pool_grad (out=0) takes g shaped like the
    output and gives the input's shape; max_pool_grad_grad (out=1) the other way round."""
    names = ("orig_input", "orig_output")

    def infer(inputs: Sequence[Tensor], attrs: dict) -> list:
        dtype = same_dtype(inputs)
        x, y, g = inputs
        dims = [_dims4(x.shape, names[0]), _dims4(y.shape, names[1])]
        given = _dims4(g.shape, "grad")
        like = 1 - out
        message = (
            f"grad {format_shape(given)} is not shaped like {names[like]} "
            f"{format_shape(dims[like])}"
        )
        dims[like] = tuple(_merge(a, b, message) for a, b in zip(dims[like], given, strict=True))
        return [(dtype, _pool_shapes(dims[0], dims[1], attrs)[out])]

    return infer


def _avg_pool_grad_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    sizes, dy = inputs
    require_dtype(dy, "float")
    x, _ = _pool_shapes(_sizes4(sizes, "orig_input_shape"), _dims4(dy.shape, "grad"), attrs)
    return [(dy.dtype, x)]


@define_op("max_pool", _pool_infer("numeric"), doc="Maximum over each window (NHWC).")
def _max_pool_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    x = node.inputs[0]
    return [apply_op1("max_pool_grad", [x, node.outputs[0], grads[0]], node.attrs)]


@define_op(
    "max_pool_grad",
    _max_pool_grad_infer(out=0),
    doc="Routes each window's gradient to the first position of its maximum.",
)
def _max_pool_grad_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    x, y, _ = node.inputs
    return [None, None, apply_op1("max_pool_grad_grad", [x, y, grads[0]], node.attrs)]


@define_op(
    "max_pool_grad_grad",
    _max_pool_grad_infer(out=1),
    doc="Picks, per window, the value of g at the first position of the window's maximum.",
)
def _max_pool_grad_grad_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    x, y, _ = node.inputs
    return [None, None, apply_op1("max_pool_grad", [x, y, grads[0]], node.attrs)]


@define_op(
    "avg_pool",
    _pool_infer("float"),
    doc="Mean over each window; SAME padding averages the unpadded elements only.",
)
def _avg_pool_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    x = node.inputs[0]
    return [apply_op1("avg_pool_grad", [shape(x), grads[0]], node.attrs)]


@define_op(
    "avg_pool_grad",
    _avg_pool_grad_infer,
    doc="Spreads each window's gradient evenly over its unpadded elements.",
)
def _avg_pool_grad_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    return [None, apply_op1("avg_pool", [grads[0]], node.attrs)]


def _pool_attrs(ksize: Any, strides: Any, padding: Any) -> dict:
    return {
        "ksize": _pair_attr(ksize),
        "strides": _pair_attr(strides),
        "padding": _padding_attr(padding),
    }


def max_pool2d(
    input: TensorLike,
    ksize: int | Sequence[int],
    strides: int | Sequence[int],
    padding: str,
    data_format: str = "NHWC",
    name: str | None = None,
) -> Tensor:
    """Maximum over each ksize window; ksize/strides an int, [h, w] or [1, h, w, 1]."""
    _require_nhwc(data_format)
    return apply_op1("max_pool", [input], _pool_attrs(ksize, strides, padding), name=name)


def avg_pool2d(
    input: TensorLike,
    ksize: int | Sequence[int],
    strides: int | Sequence[int],
    padding: str,
    data_format: str = "NHWC",
    name: str | None = None,
) -> Tensor:
    """Mean over each ksize window (SAME: over the window's unpadded elements, as TF)."""
    _require_nhwc(data_format)
    return apply_op1("avg_pool", [input], _pool_attrs(ksize, strides, padding), name=name)


max_pool = max_pool2d
avg_pool = avg_pool2d


__all__ = [
    "conv2d", "conv2d_backprop_input", "conv2d_backprop_filter", "conv2d_transpose",
    "depthwise_conv2d", "depthwise_conv2d_native_backprop_input",
    "depthwise_conv2d_native_backprop_filter",
    "max_pool2d", "max_pool", "avg_pool2d", "avg_pool",
]  # fmt: skip
