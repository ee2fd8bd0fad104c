"""Math ops: elementwise arithmetic, comparisons, logic, matmul, reductions, arg-reductions."""

from __future__ import annotations

import math as _math
from collections.abc import Callable, Sequence

import numpy as np

from graphnet.ir import Node, ShapeError, Tensor
from graphnet.ir.types import (
    DType,
    as_dtype,
    bool_,
    broadcast_shapes,
    float64,
    int64,
    merge_shapes,
)
from graphnet.ops.array import (
    broadcast_like,
    expand_dims_axes,
    size,
    unbroadcast,
    zeros_like,
)
from graphnet.ops.core import (
    TensorLike,
    apply_op1,
    convert_operands,
    convert_to_tensor,
    normalize_axis,
    require_dtype,
    same_dtype,
)
from graphnet.ops.registry import OpDef, define_op, register_op

Grads = Sequence[Tensor | None]

# -- shape/dtype rules ----------------------------------------------------------------------------


def _elementwise(allowed: str = "numeric", out: DType | None = None) -> Callable:
    """Rule for elementwise ops: one dtype among inputs, NumPy broadcasting of shapes."""

    def infer(inputs: Sequence[Tensor], attrs: dict) -> list:
        dtype = same_dtype(inputs)
        if allowed != "any":
            for t in inputs:
                require_dtype(t, allowed)
        try:
            shape_ = broadcast_shapes(*(t.shape for t in inputs))
        except ShapeError as err:
            raise ShapeError(f"operands do not broadcast: {err}") from None
        return [(out or dtype, shape_)]

    return infer


def _unary_builder(op: str, doc: str) -> Callable[..., Tensor]:
    def builder(x: TensorLike, name: str | None = None) -> Tensor:
        return apply_op1(op, [x], name=name)

    builder.__name__ = builder.__qualname__ = op
    builder.__doc__ = doc
    return builder


def _binary_builder(op: str, doc: str) -> Callable[..., Tensor]:
    def builder(x: TensorLike, y: TensorLike, name: str | None = None) -> Tensor:
        return apply_op1(op, convert_operands(x, y), name=name)

    builder.__name__ = builder.__qualname__ = op
    builder.__doc__ = doc
    return builder


# -- unary elementwise ----------------------------------------------------------------------------

# name: (allowed dtypes, docstring, gradient as a function of (x, y, g) or None)
_UNARY: dict[str, tuple[str, str, Callable[[Tensor, Tensor, Tensor], Tensor] | None]] = {
    "negative": ("numeric", "-x elementwise.", lambda x, y, g: negative(g)),
    "abs": ("numeric", "|x| elementwise.", lambda x, y, g: g * sign(x)),
    "sign": ("numeric", "-1, 0 or 1 by the sign of x.", lambda x, y, g: zeros_like(x)),
    "square": ("numeric", "x * x elementwise.", lambda x, y, g: g * (x * 2.0)),
    "sqrt": ("float", "Square root.", lambda x, y, g: g * 0.5 / y),
    "rsqrt": ("float", "1 / sqrt(x).", lambda x, y, g: g * (-0.5) * y * y * y),
    "reciprocal": ("float", "1 / x.", lambda x, y, g: negative(g) * y * y),
    "exp": ("float", "e ** x.", lambda x, y, g: g * y),
    "expm1": ("float", "e ** x - 1, accurate near 0.", lambda x, y, g: g * (y + 1.0)),
    "log": ("float", "Natural logarithm.", lambda x, y, g: g / x),
    "log1p": ("float", "log(1 + x), accurate near 0.", lambda x, y, g: g / (x + 1.0)),
    "sin": ("float", "Sine.", lambda x, y, g: g * cos(x)),
    "cos": ("float", "Cosine.", lambda x, y, g: negative(g) * sin(x)),
    "tanh": ("float", "Hyperbolic tangent.", lambda x, y, g: g * (1.0 - y * y)),
    "sigmoid": ("float", "1 / (1 + e ** -x).", lambda x, y, g: g * y * (1.0 - y)),
    "erf": ("float", "The error function.",
            lambda x, y, g: g * (2.0 / _math.sqrt(_math.pi)) * exp(negative(x * x))),
    "floor": ("float", "Largest integer not greater than x.", None),
    "ceil": ("float", "Smallest integer not less than x.", None),
    "round": ("float", "Round half to even (banker's rounding), as TF.", None),
}  # fmt: skip


def _unary_grad(fn: Callable[[Tensor, Tensor, Tensor], Tensor]) -> Callable:
    def grad(node: Node, grads: Grads) -> list[Tensor | None]:
        return [fn(node.inputs[0], node.outputs[0], grads[0])]

    return grad


for _name, (_allowed, _doc, _grad) in _UNARY.items():
    register_op(
        OpDef(
            _name,
            _elementwise(_allowed),
            _unary_grad(_grad) if _grad else None,
            differentiable=_grad is not None,
            fusion_kind="elementwise",
            doc=_doc,
        )
    )

negative = _unary_builder("negative", _UNARY["negative"][1])
abs = _unary_builder("abs", _UNARY["abs"][1])  # noqa: A001 - TF's name
sign = _unary_builder("sign", _UNARY["sign"][1])
square = _unary_builder("square", _UNARY["square"][1])
sqrt = _unary_builder("sqrt", _UNARY["sqrt"][1])
rsqrt = _unary_builder("rsqrt", _UNARY["rsqrt"][1])
reciprocal = _unary_builder("reciprocal", _UNARY["reciprocal"][1])
exp = _unary_builder("exp", _UNARY["exp"][1])
expm1 = _unary_builder("expm1", _UNARY["expm1"][1])
log = _unary_builder("log", _UNARY["log"][1])
log1p = _unary_builder("log1p", _UNARY["log1p"][1])
sin = _unary_builder("sin", _UNARY["sin"][1])
cos = _unary_builder("cos", _UNARY["cos"][1])
tanh = _unary_builder("tanh", _UNARY["tanh"][1])
sigmoid = _unary_builder("sigmoid", _UNARY["sigmoid"][1])
erf = _unary_builder("erf", _UNARY["erf"][1])
floor = _unary_builder("floor", _UNARY["floor"][1])
ceil = _unary_builder("ceil", _UNARY["ceil"][1])
round = _unary_builder("round", _UNARY["round"][1])  # noqa: A001 - TF's name

# -- binary elementwise ---------------------------------------------------------------------------


def _binary_grad(fn: Callable[[Tensor, Tensor, Tensor, Tensor], tuple[Tensor, Tensor]]) -> Callable:
    """Wraps a rule (x, y, z, g) -> (gx, gy) at the broadcast shape, reducing to input shapes."""

    def grad(node: Node, grads: Grads) -> list[Tensor | None]:
        x, y = node.inputs
        gx, gy = fn(x, y, node.outputs[0], grads[0])
        return [unbroadcast(gx, x), unbroadcast(gy, y)]

    return grad


def _safe_log(x: Tensor) -> Tensor:
    """log(x) where x > 0, else 0: the exponent gradient of pow is finite at x <= 0."""
    positive = greater(x, 0.0)
    return where(positive, log(where(positive, x, 1.0)), 0.0)


_BINARY: dict[str, tuple[str, str, Callable | None]] = {
    "add": ("numeric", "x + y with broadcasting.", lambda x, y, z, g: (g, g)),
    "subtract": ("numeric", "x - y with broadcasting.", lambda x, y, z, g: (g, negative(g))),
    "multiply": ("numeric", "x * y with broadcasting.", lambda x, y, z, g: (g * y, g * x)),
    "divide": ("float", "x / y with broadcasting (true division).",
               lambda x, y, z, g: (g / y, negative(g) * z / y)),
    "pow": ("numeric", "x ** y with broadcasting.",
            lambda x, y, z, g: (g * y * pow(x, y - 1.0), g * z * _safe_log(x))),
    "maximum": ("numeric", "The larger of x and y; ties send the gradient to x.",
                lambda x, y, z, g: (where(x >= y, g, 0.0), where(x >= y, 0.0, g))),
    "minimum": ("numeric", "The smaller of x and y; ties send the gradient to x.",
                lambda x, y, z, g: (where(x <= y, g, 0.0), where(x <= y, 0.0, g))),
    "squared_difference": ("numeric", "(x - y) ** 2.",
                           lambda x, y, z, g: (g * 2.0 * (x - y), g * -2.0 * (x - y))),
    "floormod": ("numeric", "x - floor(x / y) * y (Python's %).",
                 lambda x, y, z, g: (g, negative(g) * floor(x / y))),
    "floordiv": ("numeric", "floor(x / y) (Python's //).", None),
}  # fmt: skip

for _name, (_allowed, _doc, _grad) in _BINARY.items():
    register_op(
        OpDef(
            _name,
            _elementwise(_allowed),
            _binary_grad(_grad) if _grad else None,
            differentiable=_grad is not None,
            fusion_kind="elementwise",
            doc=_doc,
        )
    )

add = _binary_builder("add", _BINARY["add"][1])
subtract = _binary_builder("subtract", _BINARY["subtract"][1])
multiply = _binary_builder("multiply", _BINARY["multiply"][1])
pow = _binary_builder("pow", _BINARY["pow"][1])  # noqa: A001 - TF's name
maximum = _binary_builder("maximum", _BINARY["maximum"][1])
minimum = _binary_builder("minimum", _BINARY["minimum"][1])
squared_difference = _binary_builder("squared_difference", _BINARY["squared_difference"][1])
floormod = _binary_builder("floormod", _BINARY["floormod"][1])
floordiv = _binary_builder("floordiv", _BINARY["floordiv"][1])
mod = floormod


def divide(x: TensorLike, y: TensorLike, name: str | None = None) -> Tensor:
    """x / y (true division); integer operands are cast to float64 first, as in TF."""
    x, y = convert_operands(x, y)
    if x.dtype.is_integer:
        x, y = cast(x, float64), cast(y, float64)
    return apply_op1("divide", [x, y], name=name)


truediv = divide

# -- comparisons and logic ------------------------------------------------------------------------

_COMPARISONS = {
    "equal": "x == y elementwise.",
    "not_equal": "x != y elementwise.",
    "less": "x < y elementwise.",
    "less_equal": "x <= y elementwise.",
    "greater": "x > y elementwise.",
    "greater_equal": "x >= y elementwise.",
}
for _name, _doc in _COMPARISONS.items():
    _allowed = "any" if _name in ("equal", "not_equal") else "numeric"
    register_op(
        OpDef(
            _name,
            _elementwise(_allowed, out=bool_),
            differentiable=False,
            fusion_kind="elementwise",
            doc=_doc,
        )
    )

equal = _binary_builder("equal", _COMPARISONS["equal"])
not_equal = _binary_builder("not_equal", _COMPARISONS["not_equal"])
less = _binary_builder("less", _COMPARISONS["less"])
less_equal = _binary_builder("less_equal", _COMPARISONS["less_equal"])
greater = _binary_builder("greater", _COMPARISONS["greater"])
greater_equal = _binary_builder("greater_equal", _COMPARISONS["greater_equal"])

_LOGICAL = {
    "logical_and": "x and y elementwise (bool).",
    "logical_or": "x or y elementwise (bool).",
    "logical_xor": "x xor y elementwise (bool).",
}
for _name, _doc in _LOGICAL.items():
    register_op(
        OpDef(
            _name, _elementwise("bool"), differentiable=False, fusion_kind="elementwise", doc=_doc
        )
    )
register_op(
    OpDef(
        "logical_not",
        _elementwise("bool"),
        differentiable=False,
        fusion_kind="elementwise",
        doc="not x elementwise (bool).",
    )
)

logical_and = _binary_builder("logical_and", _LOGICAL["logical_and"])
logical_or = _binary_builder("logical_or", _LOGICAL["logical_or"])
logical_xor = _binary_builder("logical_xor", _LOGICAL["logical_xor"])
logical_not = _unary_builder("logical_not", "not x elementwise (bool).")

# -- select, cast, add_n ---------------------------------------------------------------------------


def _where_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    cond, x, y = inputs
    require_dtype(cond, "bool", "condition")
    dtype = same_dtype([x, y])
    return [(dtype, broadcast_shapes(cond.shape, x.shape, y.shape))]


@define_op(
    "where",
    _where_infer,
    fusion_kind="elementwise",
    doc="Elementwise select: x where condition, else y (broadcasting).",
)
def _where_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    cond, x, y = node.inputs
    g = grads[0]
    return [None, unbroadcast(where(cond, g, 0.0), x), unbroadcast(where(cond, 0.0, g), y)]


def where(condition: TensorLike, x: TensorLike, y: TensorLike, name: str | None = None) -> Tensor:
    """x where `condition` is true, else y, with broadcasting (TF2's tf.where / TF1 where_v2)."""
    x, y = convert_operands(x, y)
    return apply_op1("where", [convert_to_tensor(condition, dtype=bool_), x, y], name=name)


def _cast_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    return [(as_dtype(attrs["dtype"]), inputs[0].shape)]


@define_op("cast", _cast_infer, fusion_kind="elementwise", doc="Converts x to `dtype`.")
def _cast_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    x = node.inputs[0]
    if x.dtype.is_floating and node.outputs[0].dtype.is_floating:
        return [cast(grads[0], x.dtype)]
    return [None]


def cast(x: TensorLike, dtype: DType | str, name: str | None = None) -> Tensor:
    """x converted to `dtype` (floats to ints truncate toward zero, as in TF)."""
    dt = as_dtype(dtype)
    x = convert_to_tensor(x)
    if x.dtype == dt:
        return x
    return apply_op1("cast", [x], {"dtype": dt.name}, name=name)


def _add_n_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    if not inputs:
        raise ShapeError("add_n needs at least one input")
    dtype = same_dtype(inputs)
    shape_ = inputs[0].shape
    for t in inputs[1:]:
        shape_ = merge_shapes(shape_, t.shape)
    return [(dtype, shape_)]


@define_op("add_n", _add_n_infer, fusion_kind="elementwise", doc="Sum of same-shaped tensors.")
def _add_n_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    return [grads[0]] * len(node.inputs)


def add_n(inputs: Sequence[TensorLike], name: str | None = None) -> Tensor:
    """Elementwise sum of a list of tensors of one shape and dtype."""
    tensors = convert_operands(*inputs)
    if len(tensors) == 1:
        return tensors[0]
    return apply_op1("add_n", tensors, name=name)


# -- matmul -------------------------------------------------------------------------------------


def _matmul_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    a, b = inputs
    dtype = same_dtype([a, b])
    require_dtype(a, "numeric")
    if a.shape is None or b.shape is None:
        return [(dtype, None)]
    if len(a.shape) < 2 or len(b.shape) < 2:
        raise ShapeError(
            f"matmul needs rank >= 2 operands, got ranks {len(a.shape)} and {len(b.shape)}"
        )
    m, ka = a.shape[-2:][::-1] if attrs["transpose_a"] else a.shape[-2:]
    kb, n = b.shape[-2:][::-1] if attrs["transpose_b"] else b.shape[-2:]
    if ka is not None and kb is not None and ka != kb:
        raise ShapeError(
            f"inner dimensions differ: a{list(a.shape)} (transpose_a={attrs['transpose_a']}) "
            f"x b{list(b.shape)} (transpose_b={attrs['transpose_b']}) needs {ka} == {kb}"
        )
    try:
        batch = broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ShapeError:
        raise ShapeError(
            f"batch dimensions {a.shape[:-2]} and {b.shape[:-2]} do not broadcast"
        ) from None
    return [(dtype, (*batch, m, n))]


@define_op(
    "matmul", _matmul_infer, doc="Matrix product of the last two axes, batched over the rest."
)
def _matmul_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    a, b = node.inputs
    g = grads[0]
    ta, tb = node.attrs["transpose_a"], node.attrs["transpose_b"]
    if not ta and not tb:
        ga, gb = matmul(g, b, transpose_b=True), matmul(a, g, transpose_a=True)
    elif not ta and tb:
        ga, gb = matmul(g, b), matmul(g, a, transpose_a=True)
    elif ta and not tb:
        ga, gb = matmul(b, g, transpose_b=True), matmul(a, g)
    else:
        ga = matmul(b, g, transpose_a=True, transpose_b=True)
        gb = matmul(g, a, transpose_a=True, transpose_b=True)
    return [unbroadcast(ga, a), unbroadcast(gb, b)]


def matmul(
    a: TensorLike,
    b: TensorLike,
    transpose_a: bool = False,
    transpose_b: bool = False,
    name: str | None = None,
) -> Tensor:
    """a @ b over the last two axes (optionally transposed), broadcasting batch axes."""
    a, b = convert_operands(a, b)
    return apply_op1(
        "matmul",
        [a, b],
        {"transpose_a": bool(transpose_a), "transpose_b": bool(transpose_b)},
        name=name,
    )


# -- reductions ---------------------------------------------------------------------------------


def _reduced_axes(x: Tensor, axis: object) -> tuple[int, ...] | None:
    """Normalized, sorted reduction axes; None means all axes (also for unknown rank)."""
    if axis is None:
        return None if x.shape is None else tuple(range(len(x.shape)))
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    if x.shape is None:
        raise ShapeError(f"reducing {x.name} over axes {axes} needs a known rank")
    return tuple(sorted({normalize_axis(int(a), len(x.shape)) for a in axes}))


def _reduce_infer(allowed: str, out: DType | None = None) -> Callable:
    def infer(inputs: Sequence[Tensor], attrs: dict) -> list:
        (x,) = inputs
        require_dtype(x, allowed)
        axes, keep = attrs["axis"], attrs["keepdims"]
        if x.shape is None:
            return [(out or x.dtype, () if axes is None and not keep else None)]
        axes = range(len(x.shape)) if axes is None else axes
        for a in axes:
            normalize_axis(a, len(x.shape))
        dims = tuple((1 if keep else -1) if i in axes else d for i, d in enumerate(x.shape))
        return [(out or x.dtype, tuple(d for d in dims if d != -1))]

    return infer


def _keepdims_grad(node: Node, g: Tensor) -> Tensor:
    """The output gradient g reshaped to keep reduced axes, broadcast to the input shape."""
    x = node.inputs[0]
    axes, keep = node.attrs["axis"], node.attrs["keepdims"]
    if not keep and axes is not None and axes:
        g = expand_dims_axes(g, axes)
    return broadcast_like(g, x)


def _reduce_count(node: Node) -> Tensor:
    """How many input elements fold into each output element, as the input's dtype."""
    x, y = node.inputs[0], node.outputs[0]
    if x.shape is not None and None not in x.shape and y.shape is not None and None not in y.shape:
        return convert_to_tensor(
            float(np.prod(x.shape, dtype=np.int64) // max(np.prod(y.shape, dtype=np.int64), 1)),
            dtype=x.dtype,
        )
    return cast(size(x), x.dtype) / cast(size(y), x.dtype)


@define_op("reduce_sum", _reduce_infer("numeric"), fusion_kind="reduce", doc="Sum over axes.")
def _reduce_sum_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    return [_keepdims_grad(node, grads[0])]


@define_op("reduce_mean", _reduce_infer("numeric"), fusion_kind="reduce", doc="Mean over axes.")
def _reduce_mean_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    return [_keepdims_grad(node, grads[0]) / _reduce_count(node)]


def _extremum_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    """Ties share the gradient evenly, as in TF."""
    x, y = node.inputs[0], node.outputs[0]
    mask = cast(equal(x, _keepdims_grad(node, y)), x.dtype)
    count = reduce_sum(mask, node.attrs["axis"], keepdims=True)
    return [mask / count * _keepdims_grad(node, grads[0])]


register_op(
    OpDef(
        "reduce_max",
        _reduce_infer("numeric"),
        _extremum_grad,
        fusion_kind="reduce",
        doc="Maximum over axes.",
    )
)
register_op(
    OpDef(
        "reduce_min",
        _reduce_infer("numeric"),
        _extremum_grad,
        fusion_kind="reduce",
        doc="Minimum over axes.",
    )
)


@define_op("reduce_prod", _reduce_infer("numeric"), fusion_kind="reduce", doc="Product over axes.")
def _reduce_prod_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    """d prod / d x_i is the product of the others, exact also where some x are zero."""
    x = node.inputs[0]
    axes = node.attrs["axis"]
    is_zero = equal(x, 0.0)
    zeros_in_slice = reduce_sum(cast(is_zero, x.dtype), axes, keepdims=True)
    prod_nonzero = reduce_prod(where(is_zero, 1.0, x), axes, keepdims=True)
    others = where(
        is_zero,
        where(equal(zeros_in_slice, 1.0), broadcast_like(prod_nonzero, x), 0.0),
        where(
            greater(zeros_in_slice, 0.0),
            0.0,
            broadcast_like(prod_nonzero, x) / where(is_zero, 1.0, x),
        ),
    )
    return [others * _keepdims_grad(node, grads[0])]


for _name, _doc in (
    ("reduce_all", "Logical and over axes."),
    ("reduce_any", "Logical or over axes."),
):
    register_op(
        OpDef(_name, _reduce_infer("bool"), differentiable=False, fusion_kind="reduce", doc=_doc)
    )


def _reduce_builder(op: str) -> Callable[..., Tensor]:
    def builder(
        input_tensor: TensorLike,
        axis: int | Sequence[int] | None = None,
        keepdims: bool = False,
        name: str | None = None,
    ) -> Tensor:
        x = convert_to_tensor(input_tensor)
        axes = _reduced_axes(x, axis)
        return apply_op1(op, [x], {"axis": axes, "keepdims": bool(keepdims)}, name=name)

    builder.__name__ = builder.__qualname__ = op
    builder.__doc__ = f"{op}(x, axis=None, keepdims=False): {OPS_DOC[op]}"
    return builder


OPS_DOC = {
    "reduce_sum": "sum over `axis` (all axes when None).",
    "reduce_mean": "mean over `axis` (all axes when None).",
    "reduce_max": "maximum over `axis` (all axes when None).",
    "reduce_min": "minimum over `axis` (all axes when None).",
    "reduce_prod": "product over `axis` (all axes when None).",
    "reduce_all": "logical and over `axis` (all axes when None).",
    "reduce_any": "logical or over `axis` (all axes when None).",
}
reduce_sum = _reduce_builder("reduce_sum")
reduce_mean = _reduce_builder("reduce_mean")
reduce_max = _reduce_builder("reduce_max")
reduce_min = _reduce_builder("reduce_min")
reduce_prod = _reduce_builder("reduce_prod")
reduce_all = _reduce_builder("reduce_all")
reduce_any = _reduce_builder("reduce_any")


def reduce_logsumexp(
    input_tensor: TensorLike,
    axis: int | Sequence[int] | None = None,
    keepdims: bool = False,
    name: str | None = None,
) -> Tensor:
    """log(sum(exp(x))) over `axis`, computed stably around the maximum."""
    from graphnet.ops.control import stop_gradient

    x = convert_to_tensor(input_tensor)
    m = stop_gradient(reduce_max(x, axis, keepdims=True))
    out = log(reduce_sum(exp(x - m), axis, keepdims=True)) + m
    if keepdims:
        return out
    axes = _reduced_axes(x, axis)
    from graphnet.ops.array import squeeze

    return squeeze(out, axes, name=name) if axes else out


def _arg_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    (x,) = inputs
    require_dtype(x, "numeric")
    out = as_dtype(attrs["output_type"])
    if x.shape is None:
        return [(out, None)]
    axis = normalize_axis(attrs["axis"], len(x.shape))
    return [(out, tuple(d for i, d in enumerate(x.shape) if i != axis))]


for _name, _doc in (
    ("argmax", "Index of the largest value along `axis`."),
    ("argmin", "Index of the smallest value along `axis`."),
):
    register_op(OpDef(_name, _arg_infer, differentiable=False, fusion_kind="reduce", doc=_doc))


def argmax(
    input: TensorLike, axis: int = 0, output_type: DType | str = int64, name: str | None = None
) -> Tensor:
    """Index of the largest value along `axis` (first on ties); int64 by default, as in TF."""
    x = convert_to_tensor(input)
    return apply_op1(
        "argmax", [x], {"axis": int(axis), "output_type": as_dtype(output_type).name}, name=name
    )


def argmin(
    input: TensorLike, axis: int = 0, output_type: DType | str = int64, name: str | None = None
) -> Tensor:
    """Index of the smallest value along `axis` (first on ties); int64 by default."""
    x = convert_to_tensor(input)
    return apply_op1(
        "argmin", [x], {"axis": int(axis), "output_type": as_dtype(output_type).name}, name=name
    )


def clip_by_value(
    t: TensorLike, clip_value_min: TensorLike, clip_value_max: TensorLike, name: str | None = None
) -> Tensor:
    """min(max(t, lo), hi); the gradient passes where t lies inside [lo, hi]."""
    t = convert_to_tensor(t)
    return minimum(maximum(t, clip_value_min), clip_value_max, name=name)


__all__ = [
    "abs", "add", "add_n", "argmax", "argmin", "cast", "ceil", "clip_by_value", "cos",
    "divide", "equal", "erf", "exp", "expm1", "floor", "floordiv", "floormod", "greater",
    "greater_equal", "less", "less_equal", "log", "log1p", "logical_and", "logical_not",
    "logical_or", "logical_xor", "matmul", "maximum", "minimum", "mod", "multiply",
    "negative", "not_equal", "pow", "reciprocal", "reduce_all", "reduce_any",
    "reduce_logsumexp", "reduce_max", "reduce_mean", "reduce_min", "reduce_prod",
    "reduce_sum", "round", "rsqrt", "sigmoid", "sign", "sin", "sqrt", "square",
    "squared_difference", "subtract", "tanh", "truediv", "where",
]  # fmt: skip
