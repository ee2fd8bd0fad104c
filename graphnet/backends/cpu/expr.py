"""Elementwise code generation: the scalar template of every elementwise op, and the source of
one Numba kernel that evaluates an expression tree (graphnet.ops.fused's format) over a
broadcast output in a single loop nest.

Broadcasting is by strides: the output's shape is collapsed first (size-1 axes dropped,
neighbouring axes merged where every input broadcasts them alike), each input is viewed with
1 on the axes it broadcasts along and read at index 0 there, and an input is loaded in the
loop at the depth of its own innermost axis (a per-row vector once per row, a scalar once).
The generated source depends on the expression, the dtypes and that broadcast pattern only,
never on sizes, so one compiled kernel serves every shape with the same pattern.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

Shape = tuple[int, ...]

_BOOL_RESULT = frozenset({
    "equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "logical_and",
    "logical_or", "logical_xor", "logical_not",
})  # fmt: skip

#: Operands an op reads for their shape only (their values are never loaded).
_SHAPE_ONLY: Mapping[str, tuple[int, ...]] = {"zeros_like": (0,), "ones_like": (0,), "fill": (0,)}

#: op -> scalar template: {0}, {1}, ... are the operands; {zero}, {one}, {six} and {alpha}
#: constants of the op's result dtype (so float32 arithmetic stays float32); {sqrt}, {exp}, ...
#: the math functions of the backend's table (NUMPY_FUNCTIONS here).
_TEMPLATES: Mapping[str, str] = {
    "negative": "-{0}", "abs": "abs({0})", "square": "{0} * {0}",
    "sign": "({one} if {0} > {zero} else -{one} if {0} < {zero} else {0})",
    "sqrt": "{sqrt}({0})", "rsqrt": "{one} / {sqrt}({0})", "reciprocal": "{one} / {0}",
    "exp": "{exp}({0})", "expm1": "{expm1}({0})", "log": "{log}({0})",
    "log1p": "{log1p}({0})", "sin": "{sin}({0})", "cos": "{cos}({0})",
    "tanh": "{tanh}({0})", "sigmoid": "{one} / ({one} + {exp}(-{0}))",
    "erf": "{erf}({0})", "floor": "{floor}({0})", "ceil": "{ceil}({0})",
    "round": "{rint}({0})", "logical_not": "not {0}",
    "add": "{0} + {1}", "subtract": "{0} - {1}", "multiply": "{0} * {1}",
    "divide": "{0} / {1}", "pow": "{power}({0}, {1})",
    "maximum": "({0} if {0} >= {1} or {0} != {0} else {1})",
    "minimum": "({0} if {0} <= {1} or {0} != {0} else {1})",
    "squared_difference": "({0} - {1}) * ({0} - {1})", "floormod": "{0} % {1}",
    "floordiv": "{0} // {1}", "equal": "{0} == {1}", "not_equal": "{0} != {1}",
    "less": "{0} < {1}", "less_equal": "{0} <= {1}", "greater": "{0} > {1}",
    "greater_equal": "{0} >= {1}", "logical_and": "{0} & {1}", "logical_or": "{0} | {1}",
    "logical_xor": "{0} ^ {1}", "where": "({1} if {0} else {2})",
    "identity": "{0}", "stop_gradient": "{0}", "zeros_like": "{zero}", "ones_like": "{one}",
    "fill": "{1}", "relu": "({zero} if {0} < {zero} else {0})",
    "relu6": "({six} if {0} > {six} else {zero} if {0} < {zero} else {0})",
    "leaky_relu": "({0} if {0} > {zero} else {alpha} * {0})",
    "elu": "({0} if {0} > {zero} else {expm1}({0}))", "bias_add": "{0} + {1}",
}  # fmt: skip

#: The math functions the templates call, as the CPU kernels spell them (NumPy's, for their
#: float32 overloads); a backend whose code cannot call NumPy gives the Emitter its own table.
NUMPY_FUNCTIONS: Mapping[str, str] = {
    "sqrt": "np.sqrt", "exp": "np.exp", "expm1": "np.expm1", "log": "np.log",
    "log1p": "np.log1p", "sin": "np.sin", "cos": "np.cos", "tanh": "np.tanh",
    "erf": "math.erf", "floor": "np.floor", "ceil": "np.ceil", "rint": "np.rint",
    "power": "np.power",
}  # fmt: skip

#: Ops whose template is not a fixed string: (operands, operand dtypes, attrs) -> expression.
_BUILDERS: Mapping[str, Callable[[list[str], list[str], dict], str]] = {
    "add_n": lambda xs, dts, attrs: " + ".join(xs),
    "cast": lambda xs, dts, attrs: (
        f"{xs[0]} != {literal(0, dts[0])}" if attrs["dtype"] == "bool"
        else f"np.{attrs['dtype']}({xs[0]})"
    ),
}  # fmt: skip

ELEMENTWISE_OPS = tuple(sorted({*_TEMPLATES, *_BUILDERS}))

PRELUDE = "import math\n\nimport numpy as np\nfrom numba import njit\n"
DECORATOR = '@njit(cache=True, error_model="numpy")'


def literal(value: object, dtype: str) -> str:
    """Source of a scalar constant of `dtype` (np.float32(0.5), True, np.int64(3))."""
    if dtype == "bool":
        return repr(bool(value))
    if np.dtype(dtype).kind == "f":
        v = float(value)  # type: ignore[arg-type]
        if math.isnan(v):
            return f"np.{dtype}(np.nan)"
        if math.isinf(v):
            return f"np.{dtype}({'' if v > 0 else '-'}np.inf)"
        return f"np.{dtype}({v!r})"
    return f"np.{dtype}({int(value)})"  # type: ignore[call-overload]


def result_dtype(op: str, attrs: Mapping[str, object], operand_dtypes: Sequence[str]) -> str:
    """The dtype of an elementwise op's result, from its operands' dtypes."""
    if op in _BOOL_RESULT:
        return "bool"
    if op == "cast":
        return str(attrs["dtype"])
    if op in ("zeros_like", "ones_like"):
        return str(attrs.get("dtype") or operand_dtypes[0])
    if op in ("where", "fill"):
        return operand_dtypes[1]
    return operand_dtypes[0]


@dataclass
class Emitter:
    """Emits the statements of an expression tree, one temporary per op node; `leaf(i)` is the
    source name holding input i's element, `in_dtypes` the inputs' dtypes, `functions` the
    templates' math functions (NUMPY_FUNCTIONS's keys)."""

    leaf: Callable[[int], str]
    in_dtypes: Sequence[str]
    functions: Mapping[str, str] = field(default_factory=lambda: NUMPY_FUNCTIONS)

    def __post_init__(self) -> None:
        self.lines: list[str] = []
        self.reads: set[int] = set()

    def emit(self, expr: tuple) -> tuple[str, str]:
        """(source name or constant, dtype) of the value of `expr`."""
        tag = expr[0]
        if tag == "in":
            self.reads.add(expr[1])
            return self.leaf(expr[1]), self.in_dtypes[expr[1]]
        if tag == "const":
            return literal(expr[1], expr[2]), expr[2]
        op, attrs, operands = tag, dict(expr[1]), expr[2:]
        skipped = _SHAPE_ONLY.get(op, ())
        values = [("None", self.dtype_of(e)) if i in skipped else self.emit(e)
                  for i, e in enumerate(operands)]  # fmt: skip
        names, dtypes = [v[0] for v in values], [v[1] for v in values]
        dtype = result_dtype(op, attrs, dtypes)
        if op in _BUILDERS:
            text = _BUILDERS[op](names, dtypes, attrs)
        else:
            consts = {"zero": 0, "one": 1, "six": 6, "alpha": attrs.get("alpha", 0.0)}
            values_of = {k: literal(v, dtype) for k, v in consts.items()}
            text = _TEMPLATES[op].format(*names, **self.functions, **values_of)
        name = f"t{len(self.lines)}"
        self.lines.append(f"{name} = {text}")
        return name, dtype

    def dtype_of(self, expr: tuple) -> str:
        """The dtype of `expr`'s value, emitting nothing (for operands read for their shape)."""
        if expr[0] == "in":
            return self.in_dtypes[expr[1]]
        if expr[0] == "const":
            return expr[2]
        return result_dtype(expr[0], dict(expr[1]), [self.dtype_of(e) for e in expr[2:]])


def single_op_expr(op: str, attrs: Mapping[str, object], num_inputs: int) -> tuple:
    """The expression tree of one elementwise op over its inputs."""
    return (op, tuple(sorted(attrs.items())), *(("in", i) for i in range(num_inputs)))


def broadcast_pattern(
    out_shape: Shape, in_shapes: Mapping[int, Shape]
) -> tuple[Shape, dict[int, tuple[bool, ...]]]:
    """The collapsed output shape and, per input, which of its axes the input spans (True) or
    broadcasts along (False). Size-1 output axes are dropped; neighbouring axes merge where
    every input treats them alike; a 0-d result becomes one axis of size 1."""
    ndim = len(out_shape)
    spans = {i: (1,) * (ndim - len(s)) + tuple(s) for i, s in in_shapes.items()}
    axes = [d for d in range(ndim) if out_shape[d] != 1]
    shape: list[int] = []
    masks: dict[int, list[bool]] = {i: [] for i in in_shapes}
    for d in axes:
        flags = {i: spans[i][d] != 1 for i in in_shapes}
        if shape and all(masks[i][-1] == flags[i] for i in in_shapes):
            shape[-1] *= out_shape[d]
            continue
        shape.append(out_shape[d])
        for i in in_shapes:
            masks[i].append(flags[i])
    if not shape:
        return (1,), {i: (True,) for i in in_shapes}
    return tuple(shape), {i: tuple(m) for i, m in masks.items()}


def loop_nest(
    ndim: int,
    masks: Mapping[int, tuple[bool, ...]],
    body: Sequence[str],
    store: str,
    indent: str = "    ",
) -> list[str]:
    """The loops over the collapsed output `o` (n0, n1, ... in scope): inputs a<i> loaded into
    x<i> at the depth of their innermost spanned axis, then `body`, then `o[...] = store`."""
    depth_of = {i: max((d + 1 for d, full in enumerate(m) if full), default=0)
                for i, m in masks.items()}  # fmt: skip
    lines: list[str] = []
    for d in range(ndim + 1):
        pad = indent * (d + 1)
        for i in sorted(masks):
            if depth_of[i] == d:
                index = ", ".join(f"i{k}" if full else "0" for k, full in enumerate(masks[i]))
                lines.append(f"{pad}x{i} = a{i}[{index}]")
        if d < ndim:
            lines.append(f"{pad}for i{d} in range(n{d}):")
    pad = indent * (ndim + 1)
    lines += [pad + line for line in body]
    lines.append(f"{pad}o[{', '.join(f'i{k}' for k in range(ndim))}] = {store}")
    return lines


def views(ndim: int, masks: Mapping[int, tuple[bool, ...]], out: str = "out") -> list[str]:
    """Unpacks `shape` into n0, n1, ... and views inputs and output at the collapsed shape."""
    lines = [f"    n{d} = shape[{d}]" for d in range(ndim)]
    for i in sorted(masks):
        dims = ", ".join(f"n{d}" if full else "1" for d, full in enumerate(masks[i]))
        lines.append(f"    a{i} = in{i}.reshape(({dims},))")
    lines.append(f"    o = {out}.reshape(({', '.join(f'n{d}' for d in range(ndim))},))")
    return lines


def elementwise_source(
    expr: tuple, in_types: Sequence[tuple[str, Shape]], out_shape: Shape
) -> tuple[str, Shape]:
    """Source of `kernel(in0, ..., out, shape)` evaluating `expr` over the inputs into out, and
    the collapsed output shape to pass as `shape`."""
    emitter = Emitter(lambda i: f"x{i}", [dtype for dtype, _ in in_types])
    value, _ = emitter.emit(expr)
    shape, masks = broadcast_pattern(out_shape, {i: in_types[i][1] for i in emitter.reads})
    params = ", ".join([*(f"in{i}" for i in range(len(in_types))), "out", "shape"])
    lines = [
        PRELUDE,
        "",
        DECORATOR,
        f"def kernel({params}):",
        *views(len(shape), masks),
        *loop_nest(len(shape), masks, emitter.lines, value),
    ]
    return "\n".join(lines) + "\n", shape
