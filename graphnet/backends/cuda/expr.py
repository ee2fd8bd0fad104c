"""Elementwise code generation for CUDA: the source of one `@cuda.jit` kernel that evaluates an
expression tree (graphnet.ops.fused's format) over a broadcast output, one thread per output
element in a grid-stride loop.

The scalar templates are the CPU backend's (cpu.expr), given device math functions instead of
NumPy's. Broadcasting is cpu.expr's too: the output's shape is collapsed, the flat index is
unravelled over the collapsed shape, and each input is read at the flat offset of the axes it
spans (an input that spans none is loaded once, before the loop). The source depends on the
expression, the dtypes and the broadcast pattern only: the collapsed sizes are kernel arguments,
so one compiled kernel serves every shape with the same pattern.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from numba import cuda

from graphnet.backends.cpu.expr import NUMPY_FUNCTIONS, Emitter, broadcast_pattern

Shape = tuple[int, ...]

#: The templates' math functions in device code: `math` (libdevice), the builtin pow, and rint.
DEVICE_FUNCTIONS: Mapping[str, str] = {
    **{name: f"math.{name}" for name in NUMPY_FUNCTIONS},
    "rint": "rint",
    "power": "pow",
}

PRELUDE = (
    "import math\n\nimport numpy as np\nfrom numba import cuda\n\n"
    "from graphnet.backends.cuda.expr import rint\n"
)


@cuda.jit(device=True)
def rint(x):
    """x rounded to the nearest integer, halves to even (NumPy's rint); NaN and inf pass."""
    f = math.floor(x)
    d = x - f
    if d > 0.5 or (d == 0.5 and math.fmod(f, 2.0) != 0.0):
        return math.ceil(x)
    return f


def _unravel(ndim: int, needed: set[int]) -> list[str]:
    """Statements splitting the flat index k into the indices i<d> (d in `needed`) over the
    sizes n0, n1, ..."""
    lines: list[str] = []
    rest = "k"
    lowest = min(needed, default=ndim)
    for d in range(ndim - 1, lowest - 1, -1):
        if d in needed:
            lines.append(f"i{d} = {rest} % n{d}" if d else f"i0 = {rest}")
        if d > lowest:
            lines.append(f"r = {rest} // n{d}")
            rest = "r"
    return lines


def _offset(mask: tuple[bool, ...]) -> str:
    """The flat offset into an input spanning the axes where `mask` is True (Horner's form)."""
    if all(mask):
        return "k"
    offset = ""
    for d, full in enumerate(mask):
        if full:
            offset = f"({offset}) * n{d} + i{d}" if offset else f"i{d}"
    return offset


def elementwise_source(
    expr: tuple, in_types: Sequence[tuple[str, Shape]], out_shape: Shape
) -> tuple[str, Shape]:
    """Source of `kernel(in0, ..., out, n0, n1, ...)` evaluating `expr` over the inputs into
    out, and the collapsed output shape to pass as n0, n1, ..."""
    emitter = Emitter(lambda i: f"x{i}", [dtype for dtype, _ in in_types], DEVICE_FUNCTIONS)
    value, _ = emitter.emit(expr)
    shape, masks = broadcast_pattern(out_shape, {i: in_types[i][1] for i in emitter.reads})
    sizes = [f"n{d}" for d in range(len(shape))]
    params = ", ".join([*(f"in{i}" for i in range(len(in_types))), "out", *sizes])
    scalars = [i for i in sorted(masks) if not any(masks[i])]
    arrays = [i for i in sorted(masks) if any(masks[i])]
    needed = {d for i in arrays if not all(masks[i]) for d, full in enumerate(masks[i]) if full}
    body = [
        *_unravel(len(shape), needed),
        *(f"x{i} = a{i}[{_offset(masks[i])}]" for i in arrays),
        *emitter.lines,
        f"o[k] = {value}",
    ]
    lines = [
        PRELUDE,
        "",
        "@cuda.jit(cache=True)",
        f"def kernel({params}):",
        *(f"    a{i} = in{i}.reshape(in{i}.size)" for i in arrays),
        *(f"    x{i} = in{i}.reshape(in{i}.size)[0]" for i in scalars),
        "    o = out.reshape(out.size)",
        f"    for k in range(cuda.grid(1), {' * '.join(sizes)}, cuda.gridsize(1)):",
        *("        " + line for line in body),
    ]
    return "\n".join(lines) + "\n", shape
