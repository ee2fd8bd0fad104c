"""Fused ops: what the compiler's `fuse` pass builds; no builders, no gradients (fusion runs
after autodiff).

`fused_elementwise(*inputs) {expr, dtype}` evaluates one expression tree elementwise over the
broadcast shape of its inputs; `dtype` is the output's dtype name. `expr` is a frozen tuple,
one of three node forms, the first item always a string tag:

    ("in", i)                       input i of the node
    ("const", value, dtype)         a scalar: a Python bool, int or float, and its dtype name
    (op, attrs, operand, ...)       the elementwise op `op` (an OPS name, fusion_kind
                                    "elementwise") applied to the operand subtrees; `attrs` is
                                    its attribute map as sorted ((key, value), ...) pairs

For example `x * 2.0 + y` over float32 inputs (x, y) is
    ("add", (), ("multiply", (), ("in", 0), ("const", 2.0, "float32")), ("in", 1))
Every op node stands for a value computed once (the tree has no shared subtrees), with its
operands broadcast as the op itself broadcasts them. A code generator emits one expression per
op node, reading `in` leaves at the broadcast index of each input: the per-op templates are the
elementwise kernels' own, and attrs are passed to them by name.

`fused_conv2d(x, w[, bias])`, `fused_depthwise_conv2d(x, w[, bias])` and
`fused_matmul(a, b[, bias])` take their base op's attrs plus `bias` (whether a 1-D bias along
the last axis is the third input), `activation` (one of EPILOGUE_ACTIVATIONS, or None) and
`alpha` (leaky_relu's slope; 0.0 for the others): base op, then + bias, then activation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphnet.ir import Attrs, ShapeError, Tensor
from graphnet.ir.types import as_dtype, broadcast_shapes, format_shape, merge_dim
from graphnet.ops.core import same_dtype
from graphnet.ops.registry import OPS, OpDef, get_op, register_op

#: Activations a fused conv/matmul applies to its output (leaky_relu reads attr `alpha`).
EPILOGUE_ACTIVATIONS = ("relu", "relu6", "leaky_relu", "elu", "sigmoid", "tanh")

#: Fused op -> the op it extends with an epilogue.
EPILOGUE_BASES = {
    "fused_conv2d": "conv2d",
    "fused_depthwise_conv2d": "depthwise_conv2d",
    "fused_matmul": "matmul",
}


def check_expr(expr: Any, num_inputs: int) -> None:
    """Raises ShapeError unless `expr` is a well-formed expression over `num_inputs` inputs."""
    if not isinstance(expr, tuple) or not expr or not isinstance(expr[0], str):
        raise ShapeError(f"malformed expression node {expr!r}")
    tag = expr[0]
    if tag == "in":
        if len(expr) != 2 or not isinstance(expr[1], int) or not 0 <= expr[1] < num_inputs:
            raise ShapeError(f"{expr!r} does not name one of the {num_inputs} inputs")
    elif tag == "const":
        if len(expr) != 3 or not isinstance(expr[1], bool | int | float):
            raise ShapeError(f"malformed constant {expr!r}; expected ('const', value, dtype)")
        as_dtype(expr[2])
    else:
        if tag not in OPS or OPS[tag].fusion_kind != "elementwise":
            raise ShapeError(f"{tag!r} is not an elementwise op")
        if len(expr) < 3 or not isinstance(expr[1], tuple):
            raise ShapeError(f"malformed op node {expr!r}; expected (op, attrs, operand, ...)")
        for operand in expr[2:]:
            check_expr(operand, num_inputs)


def _fused_elementwise_infer(inputs: Sequence[Tensor], attrs: Attrs) -> list:
    if not inputs:
        raise ShapeError("fused_elementwise needs at least one input")
    check_expr(attrs["expr"], len(inputs))
    try:
        shape = broadcast_shapes(*(t.shape for t in inputs))
    except ShapeError as err:
        raise ShapeError(f"inputs do not broadcast: {err}") from None
    return [(as_dtype(attrs["dtype"]), shape)]


register_op(
    OpDef(
        "fused_elementwise",
        _fused_elementwise_infer,
        differentiable=False,
        doc="A tree of elementwise ops evaluated in one pass (attr `expr`; see graphnet.ops."
        "fused).",
    )
)


def _epilogue_infer(base: str) -> Any:
    def infer(inputs: Sequence[Tensor], attrs: Attrs) -> list:
        if len(inputs) != (3 if attrs["bias"] else 2):
            raise ShapeError(
                f"takes {3 if attrs['bias'] else 2} inputs with bias={attrs['bias']}, "
                f"got {len(inputs)}"
            )
        if attrs["activation"] not in (*EPILOGUE_ACTIVATIONS, None):
            raise ShapeError(
                f"activation must be one of {EPILOGUE_ACTIVATIONS} or None, "
                f"got {attrs['activation']!r}"
            )
        ((dtype, shape),) = get_op(base).infer(inputs[:2], attrs)
        if attrs["bias"]:
            bias = inputs[2]
            same_dtype([inputs[0], bias])
            channels = None if shape is None else shape[-1]
            try:
                if bias.shape is None or len(bias.shape) != 1:
                    raise ShapeError("not 1-D")
                channels = merge_dim(channels, bias.shape[0])
            except ShapeError:
                raise ShapeError(
                    f"bias {bias.name} of shape {format_shape(bias.shape)} does not match the "
                    f"{base} output {format_shape(shape)}: expected [{channels}]"
                ) from None
            shape = None if shape is None else (*shape[:-1], channels)
        return [(dtype, shape)]

    return infer


for _name, _base in EPILOGUE_BASES.items():
    register_op(
        OpDef(
            _name,
            _epilogue_infer(_base),
            differentiable=False,
            doc=f"{_base}, then + bias (when `bias`), then `activation`, in one kernel.",
        )
    )
