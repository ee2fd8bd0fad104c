"""CUDA kernels of the fused ops of graphnet.ops.fused built by the compiler's `fuse` pass:
fused_elementwise runs its expression tree as one generated kernel (cuda.expr). (fused_matmul
lives with the GEMM in cuda.gemm.)"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from graphnet.backends.cuda.elementwise import elementwise_kernel
from graphnet.backends.cuda.kernel import CudaKernel, Type
from graphnet.backends.registry import kernel


@kernel("fused_elementwise", backend="cuda")
def bind_fused_elementwise(attrs: Mapping[str, Any], in_types: Sequence[Type],
                           out_types: Sequence[Type]) -> CudaKernel:  # fmt: skip
    return elementwise_kernel(attrs["expr"], in_types, out_types[0])
