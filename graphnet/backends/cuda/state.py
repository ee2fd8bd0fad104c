"""CUDA kernels of the assignments and the random draws.

An assignment's output is the variable's new value in a stage of the executable (see
cuda.executable), so assign is a copy and assign_add / assign_sub an elementwise sum.

A random op draws on the device with Numba's xoroshiro128+ generators: one generator state
per thread, made when the step is bound (seeded from the op's (seed, seed2), or from fresh
entropy when unseeded) and advanced by every run, so each run draws new numbers and a seeded
graph draws the same sequence in every session. The numbers are not the CPU backend's (NumPy's
PCG64 stream): like TensorFlow, results of random ops depend on the device.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numba import cuda
from numba.core.errors import NumbaDeprecationWarning, NumbaWarning

with warnings.catch_warnings():  # the simulator's version of the module passes nopython=False
    warnings.simplefilter("ignore", NumbaDeprecationWarning)
    from numba.cuda.random import (
        create_xoroshiro128p_states,
        xoroshiro128p_normal_float64,
        xoroshiro128p_uniform_float64,
    )

from graphnet.backends.cuda.kernel import CudaKernel, Type, launch_1d, threads_for
from graphnet.backends.registry import kernel

#: At most this many generator states (threads) per random op; each thread draws a strided
#: share of the elements.
MAX_GENERATORS = 64 * 256
TRUNCATE_AT = 2.0

# -- assignments -------------------------------------------------------------------------------


@cuda.jit(cache=True)
def assign(variable, value, out):  # type: ignore[no-untyped-def]
    i = cuda.grid(1)
    if i < out.size:
        out.reshape(out.size)[i] = value.reshape(value.size)[i]


@cuda.jit(cache=True)
def assign_add(variable, value, out):  # type: ignore[no-untyped-def]
    i = cuda.grid(1)
    if i < out.size:
        out.reshape(out.size)[i] = variable.reshape(variable.size)[i] + value.reshape(value.size)[i]


@cuda.jit(cache=True)
def assign_sub(variable, value, out):  # type: ignore[no-untyped-def]
    i = cuda.grid(1)
    if i < out.size:
        out.reshape(out.size)[i] = variable.reshape(variable.size)[i] - value.reshape(value.size)[i]


def _assign_binder(fn: Any) -> Any:
    def bind(attrs: Mapping[str, Any], in_types: Sequence[Type], out_types: Sequence[Type]
             ) -> CudaKernel:  # fmt: skip
        return launch_1d(fn, int(np.prod(out_types[0][1], dtype=np.int64)))

    return bind


for _fn in (assign, assign_add, assign_sub):
    kernel(_fn.__name__, backend="cuda")(_assign_binder(_fn))

# -- random draws ------------------------------------------------------------------------------


#: The distributions of random_draw, by op.
DISTRIBUTIONS = {"random_uniform": 0, "random_normal": 1, "truncated_normal": 2}


@cuda.jit(cache=True)
def random_draw(shape, out, states, dist):  # type: ignore[no-untyped-def]
    """out = draws of distribution `dist` (a DISTRIBUTIONS code): uniform on [0, 1), standard
    normal, or normal with the draws beyond TRUNCATE_AT drawn again."""
    t = cuda.grid(1)
    o = out.reshape(out.size)
    for i in range(t, o.size, states.size):
        if dist == 0:
            x = xoroshiro128p_uniform_float64(states, t)
        else:
            x = xoroshiro128p_normal_float64(states, t)
            while dist == 2 and abs(x) > TRUNCATE_AT:
                x = xoroshiro128p_normal_float64(states, t)
        o[i] = x


def _seed(attrs: Mapping[str, Any]) -> int:
    """One 64-bit generator seed from the op's (seed, seed2); fresh entropy when unseeded."""
    seed, seed2 = attrs["seed"], attrs["seed2"]
    sequence = np.random.SeedSequence(None if seed is None else [seed, seed2])
    return int(sequence.generate_state(1, np.uint64)[0])


def _random_binder(dist: int) -> Any:
    def bind(attrs: Mapping[str, Any], in_types: Sequence[Type], out_types: Sequence[Type]
             ) -> CudaKernel:  # fmt: skip
        size = int(np.prod(out_types[0][1], dtype=np.int64))
        threads = threads_for(size)
        blocks = max(1, min(-(-size // threads), MAX_GENERATORS // threads))
        # The simulator initializes the states in object mode, with NumPy's overflow warnings.
        with warnings.catch_warnings(), np.errstate(over="ignore"):
            warnings.simplefilter("ignore", NumbaWarning)
            states = create_xoroshiro128p_states(blocks * threads, seed=_seed(attrs))

        def launch(inputs: Sequence[Any], outputs: Sequence[Any], scratch: Sequence[Any],
                   stream: Any) -> None:  # fmt: skip
            random_draw[blocks, threads, stream](inputs[0], outputs[0], states, dist)

        return CudaKernel(launch)

    return bind


for _op, _dist in DISTRIBUTIONS.items():
    kernel(_op, backend="cuda")(_random_binder(_dist))
