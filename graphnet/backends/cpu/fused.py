"""CPU kernels of the fused ops of graphnet.ops.fused built by the compiler's `fuse` pass.

fused_elementwise: the expression tree becomes one generated loop nest (cpu.expr).
fused_matmul: matmul + bias + activation in one generated kernel: one BLAS call per output matrix,
then the epilogue (the same scalar templates) over it. (Splitting the GEMM into row blocks that
stay in cache for the epilogue was measured slower: BLAS runs well below its rate on short
blocks, e.g. 0.34 ms against 0.22 ms for the MLP's first layer.) (fused_conv2d and
fused_depthwise_conv2d live with the convolutions in cpu.conv.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from graphnet.backends.cpu.cache import load_source
from graphnet.backends.cpu.elementwise import elementwise_kernel
from graphnet.backends.cpu.expr import DECORATOR, PRELUDE, Emitter
from graphnet.backends.cpu.kernel import CpuKernel
from graphnet.backends.cpu.math import matmul, matmul_args
from graphnet.backends.registry import kernel

Type = tuple[str, tuple[int, ...]]


@kernel("fused_elementwise", backend="cpu")
def bind_fused_elementwise(attrs: Mapping[str, Any], in_types: Sequence[Type],
                           out_types: Sequence[Type]) -> CpuKernel:  # fmt: skip
    return elementwise_kernel(attrs["expr"], in_types, out_types[0])


def epilogue_expr(bias: bool, activation: str | None, alpha: float) -> tuple:
    """The epilogue over ("in", 0) the product element and ("in", 1) the bias element."""
    expr: tuple = ("add", (), ("in", 0), ("in", 1)) if bias else ("in", 0)
    if activation is not None:
        expr = (activation, (("alpha", alpha),) if activation == "leaky_relu" else (), expr)
    return expr


def fused_matmul_source(epilogue: tuple, dtype: str, bias: bool) -> str:
    """Source of `kernel(a, b[, bias], out, <matmul args>)`."""
    emitter = Emitter(lambda i: f"x{i}", [dtype, dtype])
    value, _ = emitter.emit(epilogue)
    inputs = "a, b, bias" if bias else "a, b"
    body = ["x0 = oj[r, c]", *(["x1 = bias[c]"] if bias else []), *emitter.lines,
            f"oj[r, c] = {value}"]  # fmt: skip
    lines = [
        PRELUDE + "\nfrom graphnet.backends.cpu.math import batch_offsets, gemm\n",
        "",
        DECORATOR,
        f"def kernel({inputs}, out, ta, tb, a3, b3, o3, batch, sa, sb):",
        "    x = a.reshape(a3)",
        "    y = b.reshape(b3)",
        "    o = out.reshape(o3)",
        "    m = o3[1]",
        "    n = o3[2]",
        "    for j in range(o3[0]):",
        "        ia, ib = batch_offsets(j, batch, sa, sb)",
        "        xj = x[ia]",
        "        yj = y[ib]",
        "        oj = o[j]",
        "        gemm(xj, yj, oj, ta, tb)",
        "        for r in range(m):",
        "            for c in range(n):",
        *("                " + line for line in body),
    ]
    return "\n".join(lines) + "\n"


@kernel("fused_matmul", backend="cpu")
def bind_fused_matmul(attrs: Mapping[str, Any], in_types: Sequence[Type],
                      out_types: Sequence[Type]) -> CpuKernel:  # fmt: skip
    args = matmul_args(attrs, in_types[:2], out_types[0])
    if not attrs["bias"] and attrs["activation"] is None:
        return CpuKernel(matmul, args)
    dtype = out_types[0][0]
    epilogue = epilogue_expr(attrs["bias"], attrs["activation"], attrs["alpha"])
    source = fused_matmul_source(epilogue, dtype, attrs["bias"])
    return CpuKernel(load_source("fmm", source).kernel, args)
