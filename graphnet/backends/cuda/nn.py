"""CUDA kernels of softmax, log_softmax and fused_batch_norm.

Softmax runs over x viewed as [outer, length, inner]. Along the last axis (inner = 1), a block
per row (grid-stride over rows): its threads stride over the row for the max, then the sum of
exp(x - max), each combined by a block reduction (cuda.reduce.block_reduce: warp shuffles and
a shared slot per warp), then write the row. Along another axis, a thread per (outer, inner)
line, which it walks on its own (neighbouring threads read neighbouring elements). Maxima and
sums are float64, as on the CPU; a NaN anywhere in a line makes the line NaN.

fused_batch_norm views x as [rows, channels]: per-channel coefficients (mean, scale / sqrt(var
+ eps)) go to a float64 scratch [2, channels], from a block per channel that reduces its column
(training) or a thread per channel reading the given statistics (inference); then a thread per
element normalizes. y may be x itself (the op lets y take over x's buffer): each element is read
before the same thread writes it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numba import cuda

from graphnet.backends.cuda.kernel import CudaKernel, Type, blocks_for, threads_for
from graphnet.backends.cuda.reduce import MAX, MAX_BLOCKS, SUM, WARPS, block_reduce, combine
from graphnet.backends.registry import kernel

# -- softmax, log_softmax -----------------------------------------------------------------------


@cuda.jit(device=True)
def _write_line(x, y, base, stop, step, top, total, log):  # type: ignore[no-untyped-def]
    """y[base:stop:step] = softmax (or log_softmax, when `log`) of x there, given the line's
    max `top` and its sum of exp(x - top) `total`."""
    shift = top + math.log(total)
    for i in range(base, stop, step):
        if log:
            y[i] = x[i] - shift
        else:
            y[i] = math.exp(x[i] - top) / total


@cuda.jit(cache=True)
def softmax_rows(x, y, rows, length, log):  # type: ignore[no-untyped-def]
    """Softmax of each row of x as [rows, length]; a block per row."""
    shared = cuda.shared.array(WARPS, np.float64)
    t, step = cuda.threadIdx.x, cuda.blockDim.x
    for row in range(cuda.blockIdx.x, rows, cuda.gridDim.x):
        base, stop = row * length + t, (row + 1) * length
        top = -math.inf
        for i in range(base, stop, step):
            top = combine(top, np.float64(x[i]), MAX)
        top = block_reduce(top, MAX, shared)
        total = 0.0
        for i in range(base, stop, step):
            total += math.exp(x[i] - top)
        total = block_reduce(total, SUM, shared)
        _write_line(x, y, base, stop, step, top, total, log)


@cuda.jit(cache=True)
def softmax_lines(x, y, lines, length, inner, log):  # type: ignore[no-untyped-def]
    """Softmax along the middle axis of x as [outer, length, inner]; a thread per line."""
    k = cuda.grid(1)
    if k >= lines:
        return
    base = (k // inner) * length * inner + k % inner
    stop = base + length * inner
    top = -math.inf
    for i in range(base, stop, inner):
        top = combine(top, np.float64(x[i]), MAX)
    total = 0.0
    for i in range(base, stop, inner):
        total += math.exp(x[i] - top)
    _write_line(x, y, base, stop, inner, top, total, log)


def _softmax_binder(log: bool) -> Any:
    def bind(attrs: Mapping[str, Any], in_types: Sequence[Type], out_types: Sequence[Type]
             ) -> CudaKernel:  # fmt: skip
        shape = in_types[0][1]
        axis = attrs["axis"] % len(shape)
        size, length, inner = math.prod(shape), shape[axis], math.prod(shape[axis + 1 :])
        lines = size // max(length, 1)
        if inner == 1:
            fn, threads = softmax_rows, threads_for(length)
            blocks, static = max(1, min(lines, MAX_BLOCKS)), (lines, length, log)
        else:
            fn, threads = softmax_lines, threads_for(lines)
            blocks, static = blocks_for(lines, threads), (lines, length, inner, log)

        def launch(inputs: Sequence[Any], outputs: Sequence[Any], scratch: Sequence[Any],
                   stream: Any) -> None:  # fmt: skip
            fn[blocks, threads, stream](inputs[0].reshape(size), outputs[0].reshape(size), *static)

        return CudaKernel(launch)

    return bind


kernel("softmax", backend="cuda")(_softmax_binder(False))
kernel("log_softmax", backend="cuda")(_softmax_binder(True))


# -- fused_batch_norm ---------------------------------------------------------------------------


@cuda.jit(cache=True)
def batch_statistics(x, scale, mean, variance, coef, rows, epsilon):  # type: ignore[no-untyped-def]
    """coef and the outputs mean, variance (Bessel-corrected, as TF reports it) from the batch:
    a block per channel, two passes (the mean, then the mean squared deviation from it)."""
    shared = cuda.shared.array(WARPS, np.float64)
    channels = scale.size
    t, step = cuda.threadIdx.x, cuda.blockDim.x
    for c in range(cuda.blockIdx.x, channels, cuda.gridDim.x):
        total = 0.0
        for r in range(t, rows, step):
            total += x[r * channels + c]
        m = block_reduce(total, SUM, shared) / rows
        total = 0.0
        for r in range(t, rows, step):
            d = x[r * channels + c] - m
            total += d * d
        var = block_reduce(total, SUM, shared) / rows
        if t == 0:
            mean[c] = m
            variance[c] = var * rows / max(rows - 1, 1)
            coef[0, c] = m
            coef[1, c] = scale[c] / math.sqrt(var + epsilon)


@cuda.jit(cache=True)
def given_statistics(scale, mean_in, var_in, mean, variance, coef, epsilon):  # type: ignore[no-untyped-def]
    """coef from the given statistics, which pass through to the outputs; a thread per channel."""
    c = cuda.grid(1)
    if c < scale.size:
        coef[0, c] = mean_in[c]
        coef[1, c] = scale[c] / math.sqrt(np.float64(var_in[c]) + epsilon)
        mean[c] = mean_in[c]
        variance[c] = var_in[c]


@cuda.jit(cache=True)
def normalize(x, offset, y, coef):  # type: ignore[no-untyped-def]
    """y = (x - mean) * factor + offset, per channel (the last axis); a thread per element."""
    i = cuda.grid(1)
    if i < x.size:
        c = i % offset.size
        y[i] = (x[i] - coef[0, c]) * coef[1, c] + offset[c]


@kernel("fused_batch_norm", backend="cuda")
def fused_batch_norm(attrs: Mapping[str, Any], in_types: Sequence[Type],
                     out_types: Sequence[Type]) -> CudaKernel:  # fmt: skip
    shape = in_types[0][1]
    size, channels = math.prod(shape), shape[-1]
    rows = size // max(channels, 1)
    epsilon = float(attrs["epsilon"])
    training = bool(attrs["is_training"])
    threads = threads_for(size)
    blocks = blocks_for(size, threads)
    if training:
        stat_threads = threads_for(rows)
        stat_blocks = max(1, min(channels, MAX_BLOCKS))
    else:
        stat_threads = threads_for(channels)
        stat_blocks = blocks_for(channels, stat_threads)

    def launch(inputs: Sequence[Any], outputs: Sequence[Any], scratch: Sequence[Any],
               stream: Any) -> None:  # fmt: skip
        x, scale, offset = inputs[0].reshape(size), inputs[1], inputs[2]
        (coef,) = scratch
        if training:
            batch_statistics[stat_blocks, stat_threads, stream](
                x, scale, *outputs[1:], coef, rows, epsilon
            )
        else:
            given_statistics[stat_blocks, stat_threads, stream](
                scale, *inputs[3:], *outputs[1:], coef, epsilon
            )
        normalize[blocks, threads, stream](x, offset, outputs[0].reshape(size), coef)

    return CudaKernel(launch, (("float64", (2, channels)),))
