"""CUDA kernels of the convolutions (NHWC input, HWIO filter) and their backprops, plain and
fused with a bias + activation epilogue.

Window geometry as in cpu.conv: `geom = (sh, sw, dh, dw, pt, pl)`, output pixel (oy, ox) and
tap (i, j) meet input pixel (oy*sh - pt + i*dh, ox*sw - pl + j*dw), taps outside the input
read zero.

conv2d runs as im2col + the tiled GEMM of cuda.gemm, a chunk of whole images at a time (the
scratch `col` [images * oh * ow, kh * kw * cin] holds one chunk's windows, at most COL_BYTES
unless one image needs more): y = col @ w, with fused_conv2d's epilogue in the GEMM's store.
backprop_filter sums col^T @ dy over the chunks (the GEMM's accumulate); backprop_input computes
col = dy @ w^T and gathers each input pixel's entries of col (col2im as a gather: one thread per
input element, no atomics).

The depthwise convolutions (filter [kh, kw, cin, m], output channel c * m + k) are direct:
one thread per output element (forward, backprop_input as a gather), and for backprop_filter a
block per filter element summing over the pixels, reduced in shared memory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numba import cuda

from graphnet.backends.cpu.conv import _conv_geometry
from graphnet.backends.cuda.gemm import epilogue_attrs, make_epilogue, make_gemm, store
from graphnet.backends.cuda.kernel import CudaKernel, blocks_for, threads_for
from graphnet.backends.registry import BackendError, kernel

Type = tuple[str, tuple[int, ...]]

#: Most bytes of the im2col scratch (one chunk of images; at least one image).
COL_BYTES = 1 << 26
#: Threads of a depthwise backprop_filter block (a power of two, for the tree reduction).
REDUCE_THREADS = 64


# -- device helpers -----------------------------------------------------------------------------


@cuda.jit(device=True)
def source_pixel(p, tap, pad, dilation, stride, size):  # type: ignore[no-untyped-def]
    """The output coordinate whose window puts tap `tap` on input coordinate p, or -1."""
    t = p + pad - tap * dilation
    if t < 0 or t % stride != 0 or t // stride >= size:
        return -1
    return t // stride


@cuda.jit(device=True)
def unravel4(e, shape):  # type: ignore[no-untyped-def]
    """The index (a, b, c, d) of flat offset e into a C-ordered array of `shape`."""
    d = e % shape[3]
    e //= shape[3]
    c = e % shape[2]
    e //= shape[2]
    return e // shape[1], e % shape[1], c, d


# -- im2col / col2im (chunk views: image 0 of x is the chunk's first) ---------------------------


@cuda.jit(cache=True)
def im2col(x, col, geom, kh, kw, oh, ow):  # type: ignore[no-untyped-def]
    """col[(b * oh + oy) * ow + ox, (i * kw + j) * cin + c] = the input under tap (i, j) of
    output pixel (b, oy, ox); zero in the padding."""
    sh, sw, dh, dw, pt, pl = geom
    h, wd, cin = x.shape[1], x.shape[2], x.shape[3]
    e = cuda.grid(1)
    if e >= col.size:
        return
    r, t = e // col.shape[1], e % col.shape[1]
    b, oy, ox = r // (oh * ow), r // ow % oh, r % ow
    i, j, c = t // (kw * cin), t // cin % kw, t % cin
    iy, ix = oy * sh - pt + i * dh, ox * sw - pl + j * dw
    if 0 <= iy < h and 0 <= ix < wd:
        col[r, t] = x[b, iy, ix, c]
    else:
        col[r, t] = 0


@cuda.jit(cache=True)
def col2im(col, dx, zero, geom, kh, kw, oh, ow):  # type: ignore[no-untyped-def]
    """dx[b, iy, ix, c] = the sum of the col entries taken from it (the adjoint of im2col)."""
    sh, sw, dh, dw, pt, pl = geom
    cin = dx.shape[3]
    e = cuda.grid(1)
    if e >= dx.size:
        return
    b, iy, ix, c = unravel4(e, dx.shape)
    acc = zero
    for i in range(kh):
        oy = source_pixel(iy, i, pt, dh, sh, oh)
        if oy < 0:
            continue
        for j in range(kw):
            ox = source_pixel(ix, j, pl, dw, sw, ow)
            if ox >= 0:
                acc += col[(b * oh + oy) * ow + ox, (i * kw + j) * cin + c]
    dx[b, iy, ix, c] = acc


# -- depthwise ----------------------------------------------------------------------------------


@cuda.jit(cache=True)
def depthwise_forward(x, w, bias, y3, zero, geom, epilogue):  # type: ignore[no-untyped-def]
    """y (viewed [n * oh, ow, cout]) = the depthwise convolution, then the epilogue."""
    sh, sw, dh, dw, pt, pl = geom
    kh, kw, _, mult = w.shape
    h, wd = x.shape[1], x.shape[2]
    ow, cout = y3.shape[1], y3.shape[2]
    oh = y3.shape[0] // x.shape[0]
    e = cuda.grid(1)
    if e >= y3.size:
        return
    q, ox, o = e // (ow * cout), e // cout % ow, e % cout
    b, oy = q // oh, q % oh
    c, k = o // mult, o % mult
    acc = zero
    for i in range(kh):
        iy = oy * sh - pt + i * dh
        if iy < 0 or iy >= h:
            continue
        for j in range(kw):
            ix = ox * sw - pl + j * dw
            if 0 <= ix < wd:
                acc += x[b, iy, ix, c] * w[i, j, c, k]
    store(y3, q, ox, o, acc, bias, epilogue)


@cuda.jit(cache=True)
def depthwise_backprop_input(w, dy, dx, zero, geom):  # type: ignore[no-untyped-def]
    """dx[b, iy, ix, c] = the sum over the outputs whose windows read it (a gather)."""
    sh, sw, dh, dw, pt, pl = geom
    kh, kw, _, mult = w.shape
    oh, ow = dy.shape[1], dy.shape[2]
    e = cuda.grid(1)
    if e >= dx.size:
        return
    b, iy, ix, c = unravel4(e, dx.shape)
    acc = zero
    for i in range(kh):
        oy = source_pixel(iy, i, pt, dh, sh, oh)
        if oy < 0:
            continue
        for j in range(kw):
            ox = source_pixel(ix, j, pl, dw, sw, ow)
            if ox < 0:
                continue
            for k in range(mult):
                acc += dy[b, oy, ox, c * mult + k] * w[i, j, c, k]
    dx[b, iy, ix, c] = acc


@cuda.jit(cache=True)
def depthwise_backprop_filter(x, dy, dw, zero, geom):  # type: ignore[no-untyped-def]
    """dw[i, j, c, k] = the sum over all output pixels of input * dy: a block per filter
    element, its threads striding over the pixels, then a tree reduction in shared memory."""
    sh, sw, dh, ddw, pt, pl = geom
    mult = dw.shape[3]
    n, oh, ow = dy.shape[0], dy.shape[1], dy.shape[2]
    h, wd = x.shape[1], x.shape[2]
    part = cuda.shared.array(REDUCE_THREADS, dw.dtype)
    tid = cuda.threadIdx.x
    for e in range(cuda.blockIdx.x, dw.size, cuda.gridDim.x):
        i, j, c, k = unravel4(e, dw.shape)
        acc = zero
        for p in range(tid, n * oh * ow, REDUCE_THREADS):
            b, oy, ox = p // (oh * ow), p // ow % oh, p % ow
            iy, ix = oy * sh - pt + i * dh, ox * sw - pl + j * ddw
            if 0 <= iy < h and 0 <= ix < wd:
                acc += x[b, iy, ix, c] * dy[b, oy, ox, c * mult + k]
        part[tid] = acc
        cuda.syncthreads()
        half = REDUCE_THREADS // 2
        while half > 0:
            if tid < half:
                part[tid] += part[tid + half]
            cuda.syncthreads()
            half //= 2
        if tid == 0:
            dw[i, j, c, k] = part[0]
        cuda.syncthreads()  # part is reused by the next element


# -- binders ------------------------------------------------------------------------------------


def _float_zero(dtype: str) -> Any:
    """The dtype's zero (the kernels' accumulators start from it); floats only."""
    if dtype not in ("float32", "float64"):
        raise BackendError(f"the CUDA convolutions have no kernel for dtype {dtype}")
    return np.dtype(dtype).type(0)


def _grid(n: int) -> tuple[int, int]:
    """(blocks, threads) of a launch of one thread per element of n."""
    threads = threads_for(n)
    return blocks_for(n, threads), threads


def _chunks(dtype: str, w_shape: Sequence[int], y_shape: Sequence[int]
            ) -> tuple[int, list[tuple[int, int]]]:  # fmt: skip
    """(images per chunk, [(first image, images)]) of the im2col passes; one empty chunk
    where there are no images."""
    kh, kw, cin, _ = w_shape
    n, oh, ow, _ = y_shape
    image = oh * ow * kh * kw * cin * np.dtype(dtype).itemsize
    per = max(1, min(n, COL_BYTES // max(image, 1)))
    return per, [(b0, min(per, n - b0)) for b0 in range(0, n, per)] or [(0, 0)]


def _col_type(dtype: str, w_shape: Sequence[int], y_shape: Sequence[int]) -> Type:
    kh, kw, cin, _ = w_shape
    per, _ = _chunks(dtype, w_shape, y_shape)
    return dtype, (per * y_shape[1] * y_shape[2], kh * kw * cin)


def _rows(a: Any, first: int, count: int) -> Any:
    """Rows first .. first + count of a 2-D array, as a stack of one matrix."""
    return a[first : first + count].reshape(1, count, a.shape[1])


def _unfold(stream: Any, x: Any, col: Any, b0: int, nb: int, grid: tuple[int, int],
            window: tuple) -> None:  # fmt: skip
    """im2col of images b0 .. b0 + nb of x into col (a stack of one matrix); window is
    (geom, kh, kw, oh, ow)."""
    if col.size:
        im2col[grid[0], grid[1], stream](x[b0 : b0 + nb], col[0], *window)


@kernel("conv2d", backend="cuda")
@kernel("fused_conv2d", backend="cuda")
def conv2d(attrs: Mapping[str, Any], in_types: Sequence[Type],
           out_types: Sequence[Type]) -> CudaKernel:  # fmt: skip
    dtype, _, w_shape, y_shape, geom = _conv_geometry(attrs, in_types, out_types)
    kh, kw, cin, cout = w_shape
    n, oh, ow, _ = y_shape
    window = (geom, kh, kw, oh, ow)
    has_bias = len(in_types) == 3
    _float_zero(dtype)  # checks the dtype
    _, chunks = _chunks(dtype, w_shape, y_shape)
    depth = kh * kw * cin
    steps = [
        (b0, nb, _grid(nb * oh * ow * depth),
         make_gemm(dtype, False, False, (1, nb * oh * ow, cout), bias=has_bias,
                   **epilogue_attrs(attrs)))
        for b0, nb in chunks
    ]  # fmt: skip

    def launch(inputs: Sequence[Any], outputs: Sequence[Any], scratch: Sequence[Any],
               stream: Any) -> None:  # fmt: skip
        x, w = inputs[0], inputs[1].reshape(1, depth, cout)
        y = outputs[0].reshape(n * oh * ow, cout)
        bias = inputs[2] if has_bias else y.reshape(y.size)
        for b0, nb, grid, gemm in steps:
            col = _rows(scratch[0], 0, nb * oh * ow)
            _unfold(stream, x, col, b0, nb, grid, window)
            gemm(stream, col, w, _rows(y, b0 * oh * ow, nb * oh * ow), bias)

    return CudaKernel(launch, (_col_type(dtype, w_shape, y_shape),))


@kernel("conv2d_backprop_input", backend="cuda")
def conv2d_backprop_input(attrs: Mapping[str, Any], in_types: Sequence[Type],
                          out_types: Sequence[Type]) -> CudaKernel:  # fmt: skip
    dtype, x_shape, w_shape, dy_shape, geom = _conv_geometry(attrs, in_types, out_types, "x")
    kh, kw, cin, cout = w_shape
    n, oh, ow, _ = dy_shape
    window = (geom, kh, kw, oh, ow)
    zero = _float_zero(dtype)
    image = x_shape[1] * x_shape[2] * x_shape[3]
    _, chunks = _chunks(dtype, w_shape, dy_shape)
    depth = kh * kw * cin
    steps = [
        (b0, nb, _grid(nb * image), make_gemm(dtype, False, True, (1, nb * oh * ow, depth)))
        for b0, nb in chunks
    ]

    def launch(inputs: Sequence[Any], outputs: Sequence[Any], scratch: Sequence[Any],
               stream: Any) -> None:  # fmt: skip
        w = inputs[1].reshape(1, depth, cout)
        dy = inputs[2].reshape(n * oh * ow, cout)
        dx = outputs[0]
        for b0, nb, (blocks, threads), gemm in steps:
            col = _rows(scratch[0], 0, nb * oh * ow)
            gemm(stream, _rows(dy, b0 * oh * ow, nb * oh * ow), w, col, dy.reshape(dy.size))
            if nb * image:
                col2im[blocks, threads, stream](col[0], dx[b0 : b0 + nb], zero, *window)

    return CudaKernel(launch, (_col_type(dtype, w_shape, dy_shape),))


@kernel("conv2d_backprop_filter", backend="cuda")
def conv2d_backprop_filter(attrs: Mapping[str, Any], in_types: Sequence[Type],
                           out_types: Sequence[Type]) -> CudaKernel:  # fmt: skip
    dtype, _, w_shape, dy_shape, geom = _conv_geometry(attrs, in_types, out_types, "w")
    kh, kw, cin, cout = w_shape
    n, oh, ow, _ = dy_shape
    window = (geom, kh, kw, oh, ow)
    _float_zero(dtype)  # checks the dtype
    _, chunks = _chunks(dtype, w_shape, dy_shape)
    depth = kh * kw * cin
    steps = [
        (b0, nb, _grid(nb * oh * ow * depth),
         make_gemm(dtype, True, False, (1, depth, cout), accumulate=b0 > 0))
        for b0, nb in chunks
    ]  # fmt: skip

    def launch(inputs: Sequence[Any], outputs: Sequence[Any], scratch: Sequence[Any],
               stream: Any) -> None:  # fmt: skip
        x, dy = inputs[0], inputs[2].reshape(n * oh * ow, cout)
        dw = outputs[0].reshape(1, depth, cout)
        for b0, nb, grid, gemm in steps:
            col = _rows(scratch[0], 0, nb * oh * ow)
            _unfold(stream, x, col, b0, nb, grid, window)
            gemm(stream, col, _rows(dy, b0 * oh * ow, nb * oh * ow), dw, dy.reshape(dy.size))

    return CudaKernel(launch, (_col_type(dtype, w_shape, dy_shape),))


@kernel("depthwise_conv2d", backend="cuda")
@kernel("fused_depthwise_conv2d", backend="cuda")
def depthwise_conv2d(attrs: Mapping[str, Any], in_types: Sequence[Type],
                     out_types: Sequence[Type]) -> CudaKernel:  # fmt: skip
    dtype, _, _, y_shape, geom = _conv_geometry(attrs, in_types, out_types)
    n, oh, ow, cout = y_shape
    zero = _float_zero(dtype)
    epilogue = make_epilogue(dtype, bias=len(in_types) == 3, **epilogue_attrs(attrs))
    blocks, threads = _grid(n * oh * ow * cout)

    def launch(inputs: Sequence[Any], outputs: Sequence[Any], scratch: Sequence[Any],
               stream: Any) -> None:  # fmt: skip
        y3 = outputs[0].reshape(n * oh, ow, cout)
        bias = inputs[2] if epilogue[1] else y3.reshape(y3.size)
        if y3.size:
            depthwise_forward[blocks, threads, stream](
                inputs[0], inputs[1], bias, y3, zero, geom, epilogue
            )

    return CudaKernel(launch)


@kernel("depthwise_conv2d_backprop_input", backend="cuda")
def depthwise_conv2d_backprop_input(attrs: Mapping[str, Any], in_types: Sequence[Type],
                                    out_types: Sequence[Type]) -> CudaKernel:  # fmt: skip
    dtype, x_shape, _, _, geom = _conv_geometry(attrs, in_types, out_types, "x")
    zero = _float_zero(dtype)
    size = int(np.prod(x_shape))
    blocks, threads = _grid(size)

    def launch(inputs: Sequence[Any], outputs: Sequence[Any], scratch: Sequence[Any],
               stream: Any) -> None:  # fmt: skip
        if size:
            depthwise_backprop_input[blocks, threads, stream](
                inputs[1], inputs[2], outputs[0], zero, geom
            )

    return CudaKernel(launch)


@kernel("depthwise_conv2d_backprop_filter", backend="cuda")
def depthwise_conv2d_backprop_filter(attrs: Mapping[str, Any], in_types: Sequence[Type],
                                     out_types: Sequence[Type]) -> CudaKernel:  # fmt: skip
    dtype, _, w_shape, _, geom = _conv_geometry(attrs, in_types, out_types, "w")
    zero = _float_zero(dtype)
    size = int(np.prod(w_shape))
    blocks = min(size, 1 << 16)

    def launch(inputs: Sequence[Any], outputs: Sequence[Any], scratch: Sequence[Any],
               stream: Any) -> None:  # fmt: skip
        if size:
            depthwise_backprop_filter[blocks, REDUCE_THREADS, stream](
                inputs[0], inputs[2], outputs[0], zero, geom
            )

    return CudaKernel(launch)
