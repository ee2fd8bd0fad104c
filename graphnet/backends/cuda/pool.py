"""CUDA kernels of max and average pooling and their gradients (NHWC).

A pool's geometry is the CPU backend's `window = (kh, kw, sh, sw, pt, pl)` (cpu.conv._window):
output pixel (oy, ox) and window tap (i, j) meet input pixel (oy*sh - pt + i, ox*sw - pl + j);
taps outside the input are left out. Every kernel runs a thread per element of its output,
channels fastest (neighbouring threads read neighbouring channels). The gradients gather
instead of scattering: a thread per input element sums what the windows that hold it send it,
so no atomics are needed and the sums are deterministic.

max_pool_grad routes a window's gradient to the first position (row-major, padding included and
read as the dtype's lowest value) whose value equals the window's max y, as the reference does:
a first kernel stores that position per output element in a scratch array, a second gathers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numba import cuda

from graphnet.backends.cpu.conv import _lowest, _window
from graphnet.backends.cuda.conv import unravel4
from graphnet.backends.cuda.kernel import CudaKernel, Type, launch_1d
from graphnet.backends.registry import kernel

# -- device helpers ---------------------------------------------------------------------------


@cuda.jit(device=True)
def _taps(k, size, start):  # type: ignore[no-untyped-def]
    """[lo, hi): the window taps i < k with 0 <= start + i < size."""
    return max(0, -start), max(max(0, -start), min(k, size - start))


@cuda.jit(device=True)
def _window_at(oy, ox, h, w, window):  # type: ignore[no-untyped-def]
    """(iy, ix, ilo, ihi, jlo, jhi): the input pixel under tap (0, 0) of output (oy, ox)'s
    window, and the window's taps [ilo, ihi) x [jlo, jhi) inside the h x w input."""
    kh, kw, sh, sw, pt, pl = window
    iy, ix = oy * sh - pt, ox * sw - pl
    ilo, ihi = _taps(kh, h, iy)
    jlo, jhi = _taps(kw, w, ix)
    return iy, ix, ilo, ihi, jlo, jhi


@cuda.jit(device=True)
def _windows_over(i, k, stride, pad, out_size):  # type: ignore[no-untyped-def]
    """[lo, hi): the outputs o whose window (o*stride - pad + [0, k)) holds input i."""
    lo = max(0, -((k - 1 - i - pad) // stride))
    return lo, max(lo, min(out_size, (i + pad) // stride + 1))


@cuda.jit(device=True)
def _outputs_over(iy, ix, window, oh, ow):  # type: ignore[no-untyped-def]
    """(ylo, yhi, xlo, xhi): the outputs [ylo, yhi) x [xlo, xhi) of an oh x ow pool whose
    windows hold input pixel (iy, ix)."""
    kh, kw, sh, sw, pt, pl = window
    ylo, yhi = _windows_over(iy, kh, sh, pt, oh)
    xlo, xhi = _windows_over(ix, kw, sw, pl, ow)
    return ylo, yhi, xlo, xhi


@cuda.jit(device=True)
def _first_max(x, b, oy, ox, c, target, window, lowest):  # type: ignore[no-untyped-def]
    """Where in image b (iy * w + ix, or -1 for padding) the first window position, padding
    included and read as `lowest`, holds `target`; the window's first position if none does."""
    kh, kw, sh, sw, pt, pl = window
    h, w = x.shape[1], x.shape[2]
    for i in range(kh):
        iy = oy * sh - pt + i
        for j in range(kw):
            ix = ox * sw - pl + j
            inside = 0 <= iy < h and 0 <= ix < w
            v = x[b, iy, ix, c] if inside else lowest
            if v == target:
                return iy * w + ix if inside else -1
    iy, ix = oy * sh - pt, ox * sw - pl
    return iy * w + ix if 0 <= iy < h and 0 <= ix < w else -1


# -- kernels ----------------------------------------------------------------------------------


@cuda.jit(cache=True)
def max_pool_direct(x, y, window):  # type: ignore[no-untyped-def]
    """y = the max over each window's unpadded positions; NaN wins, as in np.max."""
    k = cuda.grid(1)
    if k >= y.size:
        return
    b, oy, ox, c = unravel4(k, y.shape)
    iy, ix, ilo, ihi, jlo, jhi = _window_at(oy, ox, x.shape[1], x.shape[2], window)
    best = x[b, iy + ilo, ix + jlo, c]
    for i in range(ilo, ihi):
        for j in range(jlo, jhi):
            v = x[b, iy + i, ix + j, c]
            if v > best or v != v:
                best = v
                if v != v:
                    break
    y[b, oy, ox, c] = best


@cuda.jit(cache=True)
def max_positions(x, y, at, window, lowest):  # type: ignore[no-untyped-def]
    """at = the position of each window's first max (see _first_max)."""
    k = cuda.grid(1)
    if k < y.size:
        b, oy, ox, c = unravel4(k, y.shape)
        at[b, oy, ox, c] = _first_max(x, b, oy, ox, c, y[b, oy, ox, c], window, lowest)


@cuda.jit(cache=True)
def max_pool_grad_gather(x, y, dy, dx, at, window):  # type: ignore[no-untyped-def]
    """dx = the sum of the gradients of the windows whose first max is this element."""
    k = cuda.grid(1)
    if k >= dx.size:
        return
    b, iy, ix, c = unravel4(k, dx.shape)
    here = iy * dx.shape[2] + ix
    ylo, yhi, xlo, xhi = _outputs_over(iy, ix, window, dy.shape[1], dy.shape[2])
    total = 0.0
    for oy in range(ylo, yhi):
        for ox in range(xlo, xhi):
            if at[b, oy, ox, c] == here:
                total += dy[b, oy, ox, c]
    dx[b, iy, ix, c] = total


@cuda.jit(cache=True)
def max_pool_grad_grad_direct(x, y, g, out, window, lowest):  # type: ignore[no-untyped-def]
    """out = g at each window's first max (0 where that is padding)."""
    k = cuda.grid(1)
    if k >= out.size:
        return
    b, oy, ox, c = unravel4(k, out.shape)
    at = _first_max(x, b, oy, ox, c, y[b, oy, ox, c], window, lowest)
    w = x.shape[2]
    out[b, oy, ox, c] = g[b, at // w, at % w, c] if at >= 0 else 0


@cuda.jit(cache=True)
def avg_pool_direct(x, y, window):  # type: ignore[no-untyped-def]
    """y = the mean over each window's unpadded positions."""
    k = cuda.grid(1)
    if k >= y.size:
        return
    b, oy, ox, c = unravel4(k, y.shape)
    iy, ix, ilo, ihi, jlo, jhi = _window_at(oy, ox, x.shape[1], x.shape[2], window)
    total = 0.0
    for i in range(ilo, ihi):
        for j in range(jlo, jhi):
            total += x[b, iy + i, ix + j, c]
    y[b, oy, ox, c] = total / ((ihi - ilo) * (jhi - jlo))


@cuda.jit(cache=True)
def avg_pool_grad_gather(sizes, dy, dx, window):  # type: ignore[no-untyped-def]
    """dx = the sum over the windows holding this element of their gradient / their count."""
    k = cuda.grid(1)
    if k >= dx.size:
        return
    kh, kw, sh, sw, pt, pl = window
    h, w = dx.shape[1], dx.shape[2]
    b, iy, ix, c = unravel4(k, dx.shape)
    ylo, yhi, xlo, xhi = _outputs_over(iy, ix, window, dy.shape[1], dy.shape[2])
    total = 0.0
    for oy in range(ylo, yhi):
        ilo, ihi = _taps(kh, h, oy * sh - pt)
        for ox in range(xlo, xhi):
            jlo, jhi = _taps(kw, w, ox * sw - pl)
            total += dy[b, oy, ox, c] / ((ihi - ilo) * (jhi - jlo))
    dx[b, iy, ix, c] = total


# -- binders ----------------------------------------------------------------------------------


@kernel("max_pool", backend="cuda")
def max_pool(attrs: Mapping[str, Any], in_types: Sequence[Type],
             out_types: Sequence[Type]) -> CudaKernel:  # fmt: skip
    y_shape = out_types[0][1]
    window = _window(attrs, in_types[0][1], y_shape)
    return launch_1d(max_pool_direct, math.prod(y_shape), window)


@kernel("max_pool_grad", backend="cuda")
def max_pool_grad(attrs: Mapping[str, Any], in_types: Sequence[Type],
                  out_types: Sequence[Type]) -> CudaKernel:  # fmt: skip
    (dtype, x_shape), (_, y_shape) = in_types[:2]
    window = _window(attrs, x_shape, y_shape)
    lowest = np.dtype(dtype).type(_lowest(dtype))
    positions = launch_1d(max_positions, math.prod(y_shape), window, lowest)
    gather = launch_1d(max_pool_grad_gather, math.prod(x_shape), window)

    def launch(inputs: Sequence[Any], outputs: Sequence[Any], scratch: Sequence[Any],
               stream: Any) -> None:  # fmt: skip
        positions.launch(inputs[:2], scratch, (), stream)
        gather.launch(inputs, outputs, scratch, stream)

    return CudaKernel(launch, (("int64", tuple(y_shape)),))


@kernel("max_pool_grad_grad", backend="cuda")
def max_pool_grad_grad(attrs: Mapping[str, Any], in_types: Sequence[Type],
                       out_types: Sequence[Type]) -> CudaKernel:  # fmt: skip
    (dtype, x_shape), (_, y_shape) = in_types[:2]
    window = _window(attrs, x_shape, y_shape)
    lowest = np.dtype(dtype).type(_lowest(dtype))
    return launch_1d(max_pool_grad_grad_direct, math.prod(y_shape), window, lowest)


@kernel("avg_pool", backend="cuda")
def avg_pool(attrs: Mapping[str, Any], in_types: Sequence[Type],
             out_types: Sequence[Type]) -> CudaKernel:  # fmt: skip
    y_shape = out_types[0][1]
    window = _window(attrs, in_types[0][1], y_shape)
    return launch_1d(avg_pool_direct, math.prod(y_shape), window)


@kernel("avg_pool_grad", backend="cuda")
def avg_pool_grad(attrs: Mapping[str, Any], in_types: Sequence[Type],
                  out_types: Sequence[Type]) -> CudaKernel:  # fmt: skip
    x_shape = out_types[0][1]
    window = _window(attrs, x_shape, in_types[1][1])
    return launch_1d(avg_pool_grad_gather, math.prod(x_shape), window)
