"""The contract of a CUDA kernel, and the launch helpers every kernel module uses.

A kernel is registered with `@kernel("conv2d", backend="cuda")` on a *binder*:

    def conv2d(attrs, in_types, out_types) -> CudaKernel

run once at plan-compile time in plain Python; `in_types` / `out_types` are (dtype name,
concrete shape) pairs. The binder returns a `CudaKernel` whose `launch` is called at every run
as

    launch(inputs, outputs, scratch, stream)

with C-contiguous device arrays of the planned dtypes and shapes: the inputs, the outputs to
write (views of the plan's device arena, or a variable's stage), and the scratch arrays the
kernel asked for in `CudaKernel.scratch` (views of a scratch arena all steps share). `launch`
enqueues one or more `@cuda.jit` kernels on `stream` and returns: it never synchronizes,
allocates device memory or copies between host and device, so a plan's steps run back to back
on one stream and only feeds and fetches cross the bus.

The `@cuda.jit` functions are module-level, compiled lazily for the argument types of their
first launch (and kept in Numba's on-disk cache with `cache=True`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

Type = tuple[str, tuple[int, ...]]
Launch = Callable[[Sequence[Any], Sequence[Any], Sequence[Any], Any], None]

#: Threads per block of the one-dimensional launches: a multiple of the warp size.
THREADS = 256
WARP = 32


@dataclass(frozen=True)
class CudaKernel:
    launch: Launch
    scratch: tuple[tuple[str, tuple[int, ...]], ...] = field(default_factory=tuple)


def threads_for(n: int) -> int:
    """Threads per block for n work items: THREADS, or fewer whole warps when n is small."""
    return max(WARP, min(THREADS, -(-n // WARP) * WARP))


def blocks_for(n: int, threads: int) -> int:
    return max(1, -(-n // threads))


def launch_1d(fn: Any, n: int, *static: Any) -> CudaKernel:
    """A kernel that runs `fn[blocks, threads, stream](*inputs, *outputs, *scratch, *static)`
    over n threads (fn checks its own bound with `cuda.grid(1) < n`)."""
    threads = threads_for(n)
    blocks = blocks_for(n, threads)

    def launch(inputs: Sequence[Any], outputs: Sequence[Any], scratch: Sequence[Any],
               stream: Any) -> None:  # fmt: skip
        fn[blocks, threads, stream](*inputs, *outputs, *scratch, *static)

    return CudaKernel(launch)
