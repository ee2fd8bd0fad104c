"""The contract of a CPU kernel: a module-level Numba function in destination-passing style,
and a binder that picks it for one step and supplies its static arguments.

A kernel is registered with `@kernel("conv2d", backend="cpu")` on a *binder*:

    def conv2d(attrs, in_types, out_types) -> CpuKernel

run once at plan-compile time in plain Python. `in_types` / `out_types` are (dtype name,
concrete shape) pairs. The binder returns the `@njit(cache=True)` function to call, defined at
module level (so Numba's on-disk cache works across processes), and its static arguments.
The function is called as

    fn(*inputs, *outputs, *scratch, *args)

writing its results into the preallocated `outputs` (arena views); `scratch` are arrays the
plan gives it for temporary work (im2col buffers), described by `CpuKernel.scratch`; `args` are
literals (ints, floats, bools, tuples of them) such as strides and paddings. The whole-plan
compiler turns each step into one such call in generated source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CpuKernel:
    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    scratch: tuple[tuple[str, tuple[int, ...]], ...] = field(default_factory=tuple)
