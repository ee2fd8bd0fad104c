"""CPU kernels of the assignments and the random draws.

An assignment's output is the variable's new value; the executable gives it storage apart
from the Session's array (see cpu.executable), so these kernels are plain elementwise ones.
A random op draws with its own NumPy Generator, made when the step is bound (once per
executable, as the reference backend does), seeded by the op's (seed, seed2): Numba's
Generator methods give the same numbers as NumPy's, so the draws equal the reference's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numba import njit

from graphnet.backends.cpu.elementwise import elementwise_kernel
from graphnet.backends.cpu.kernel import CpuKernel
from graphnet.backends.registry import kernel

Type = tuple[str, tuple[int, ...]]

_ASSIGN_EXPRS = {
    "assign": ("in", 1),
    "assign_add": ("add", (), ("in", 0), ("in", 1)),
    "assign_sub": ("subtract", (), ("in", 0), ("in", 1)),
}


def _assign_binder(op: str) -> Any:
    def bind(attrs: Mapping[str, Any], in_types: Sequence[Type], out_types: Sequence[Type]
             ) -> CpuKernel:  # fmt: skip
        return elementwise_kernel(_ASSIGN_EXPRS[op], in_types, out_types[0])

    return bind


for _op in _ASSIGN_EXPRS:
    kernel(_op, backend="cpu")(_assign_binder(_op))


@njit(cache=True)
def random_uniform(shape, out, rng):  # type: ignore[no-untyped-def]
    o = out.reshape(out.size)
    for i in range(o.size):
        o[i] = rng.random()


@njit(cache=True)
def random_normal(shape, out, rng):  # type: ignore[no-untyped-def]
    o = out.reshape(out.size)
    for i in range(o.size):
        o[i] = rng.standard_normal()


@njit(cache=True)
def truncated_normal(shape, out, draws, rng):  # type: ignore[no-untyped-def]
    """Normal draws, those beyond 2 redrawn round by round in index order (the reference's
    order, so the same numbers); `draws` is float64 scratch of out's size."""
    for i in range(draws.size):
        draws[i] = rng.standard_normal()
    redrawn = True
    while redrawn:
        redrawn = False
        for i in range(draws.size):
            if abs(draws[i]) > 2.0:
                draws[i] = rng.standard_normal()
                redrawn = True
    o = out.reshape(out.size)
    for i in range(o.size):
        o[i] = draws[i]


def _random_binder(fn: Any, scratch: bool) -> Any:
    def bind(attrs: Mapping[str, Any], in_types: Sequence[Type], out_types: Sequence[Type]
             ) -> CpuKernel:  # fmt: skip
        seed, seed2 = attrs["seed"], attrs["seed2"]
        rng = np.random.default_rng(None if seed is None else [seed, seed2])
        size = int(np.prod(out_types[0][1], dtype=np.int64))
        return CpuKernel(fn, (rng,), (("float64", (size,)),) if scratch else ())

    return bind


kernel("random_uniform", backend="cpu")(_random_binder(random_uniform, scratch=False))
kernel("random_normal", backend="cpu")(_random_binder(random_normal, scratch=False))
kernel("truncated_normal", backend="cpu")(_random_binder(truncated_normal, scratch=True))
