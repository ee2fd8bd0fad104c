"""Numba CPU kernels of the nn primitives that are not elementwise: softmax, log_softmax and
fused_batch_norm. (The activations and bias_add are elementwise kernels; LRN, dropout and the
losses are compositions of other ops.)

Softmax runs over x viewed as [outer, axis length, inner], so any axis works; the last one
(inner = 1) is the common case. Sums are accumulated in float64.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numba import njit

from graphnet.backends.cpu.kernel import CpuKernel
from graphnet.backends.registry import kernel

Type = tuple[str, tuple[int, ...]]


# -- softmax, log_softmax -----------------------------------------------------------------------


@njit(cache=True)
def _softmax(x, y, outer, length, inner, log):
    """y = softmax(x) (or log_softmax, when `log`) along the middle axis of [outer, length,
    inner], shifted by the max for stability; NaN anywhere in a row makes the row NaN."""
    x3 = x.reshape((outer, length, inner))
    y3 = y.reshape((outer, length, inner))
    for o in range(outer):
        for i in range(inner):
            top = x3[o, 0, i]
            for k in range(1, length):
                v = x3[o, k, i]
                if v > top or v != v:
                    top = v
            total = 0.0
            for k in range(length):
                e = np.exp(x3[o, k, i] - top)
                total += e
                if not log:
                    y3[o, k, i] = e
            if log:
                shift = top + np.log(total)
                for k in range(length):
                    y3[o, k, i] = x3[o, k, i] - shift
            else:
                for k in range(length):
                    y3[o, k, i] /= total


@njit(cache=True)
def softmax_rows(x, y, outer, length, inner):
    _softmax(x, y, outer, length, inner, False)


@njit(cache=True)
def log_softmax_rows(x, y, outer, length, inner):
    _softmax(x, y, outer, length, inner, True)


def _axis_split(attrs: Mapping[str, Any], shape: Sequence[int]) -> tuple[int, int, int]:
    """(outer, length, inner): x as [prod(shape[:axis]), shape[axis], prod(shape[axis+1:])]."""
    axis = attrs["axis"] % len(shape)
    return math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1 :])


@kernel("softmax", backend="cpu")
def softmax(attrs: Mapping[str, Any], in_types: Sequence[Type],
            out_types: Sequence[Type]) -> CpuKernel:  # fmt: skip
    return CpuKernel(softmax_rows, _axis_split(attrs, in_types[0][1]))


@kernel("log_softmax", backend="cpu")
def log_softmax(attrs: Mapping[str, Any], in_types: Sequence[Type],
                out_types: Sequence[Type]) -> CpuKernel:  # fmt: skip
    return CpuKernel(log_softmax_rows, _axis_split(attrs, in_types[0][1]))


# -- fused_batch_norm: x as [rows, channels]; coef (float64 scratch) [2, channels] ---------------


@njit(cache=True)
def _normalize(x2, offset, coef, y2):
    """y = (x - mean) * (scale / sqrt(var + eps)) + offset, with coef[0] the mean and coef[1]
    the factor; y may be x itself (the op lets y take over x's buffer)."""
    for r in range(x2.shape[0]):
        for c in range(x2.shape[1]):
            y2[r, c] = (x2[r, c] - coef[0, c]) * coef[1, c] + offset[c]


@njit(cache=True)
def fused_batch_norm_training(x, scale, offset, y, mean, variance, coef, epsilon):
    """Batch statistics in two passes (the mean, then the mean squared deviation from it);
    `variance` gets the Bessel-corrected one, as TF reports it."""
    channels = x.shape[-1]
    rows = x.size // channels
    x2 = x.reshape((rows, channels))
    coef[:] = 0
    for r in range(rows):
        for c in range(channels):
            coef[0, c] += x2[r, c]
    for c in range(channels):
        coef[0, c] /= rows
    for r in range(rows):
        for c in range(channels):
            d = x2[r, c] - coef[0, c]
            coef[1, c] += d * d
    for c in range(channels):
        var = coef[1, c] / rows
        mean[c] = coef[0, c]
        variance[c] = var * rows / max(rows - 1, 1)
        coef[1, c] = scale[c] / np.sqrt(var + epsilon)
    _normalize(x2, offset, coef, y.reshape((rows, channels)))


@njit(cache=True)
def fused_batch_norm_inference(x, scale, offset, mean_in, var_in, y, mean, variance, coef,
                               epsilon):  # fmt: skip
    """Normalizes with the given statistics and passes them through."""
    channels = x.shape[-1]
    rows = x.size // channels
    for c in range(channels):
        coef[0, c] = mean_in[c]
        coef[1, c] = scale[c] / np.sqrt(var_in[c] + epsilon)
        mean[c] = mean_in[c]
        variance[c] = var_in[c]
    _normalize(x.reshape((rows, channels)), offset, coef, y.reshape((rows, channels)))


@kernel("fused_batch_norm", backend="cpu")
def fused_batch_norm(attrs: Mapping[str, Any], in_types: Sequence[Type],
                     out_types: Sequence[Type]) -> CpuKernel:  # fmt: skip
    channels = in_types[0][1][-1]
    fn = fused_batch_norm_training if attrs["is_training"] else fused_batch_norm_inference
    return CpuKernel(fn, (float(attrs["epsilon"]),), (("float64", (2, channels)),))
