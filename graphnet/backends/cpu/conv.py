"""Numba CPU kernels of the convolution and pooling ops (NHWC) and of the fused convolutions.

Every kernel sees its window geometry as `geom = (sh, sw, dh, dw, pt, pl)`: output pixel
(oy, ox) and window tap (i, j) meet input pixel (oy*sh - pt + i*dh, ox*sw - pl + j*dw); taps
outside the input read zero (convolutions) or are left out (pooling). The bottom/right padding
follows from the output size, so no kernel needs it; pools get (kh, kw) with it.

conv2d and its two backprops run one of two ways, picked by the binder:

- GEMM: a tile of output rows at a time, the tile's windows are unfolded into the scratch `col`
  [rows * ow, kh * kw * cin] (im2col), whose product with the filter [kh * kw * cin, cout]
  (BLAS, through np.dot) is that tile of the output; fused_conv2d adds the bias and applies the
  activation to the tile right after its GEMM, while it is in cache. backprop_filter sums
  col^T @ dy over the tiles; backprop_input computes dy @ w^T into col and adds it back onto the
  input pixels (col2im).
- Planar, for stride 1 and few channels (an image net's first layer), where unfolding costs more
  than the arithmetic: an image becomes zero-padded planes, one per channel, of pitch Wp (the
  padded width); output rows then lie at the same pitch, so one filter tap of one channel pair is
  a single long vector loop over the whole image: acc[o, t] += plane[c, t + shift] * w.

Depthwise convolutions and the pools loop directly over pixels, vectorized over channels.

NOTE: Numba wraps negative indices with a select that stops LLVM from vectorizing a loop (10x
on the planar loops), so a hot loop indexes from 0 into a view, or its computed offsets are
clamped with max(..., 0) where they are non-negative anyway.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numba import njit

from graphnet.backends.cpu.kernel import CpuKernel
from graphnet.backends.registry import BackendError, kernel

Type = tuple[str, tuple[int, ...]]
Geom = tuple[int, int, int, int, int, int]

#: Epilogue activations by code (fused ops' `activation` attr; None is 0).
ACTIVATIONS = {None: 0, "relu": 1, "relu6": 2, "leaky_relu": 3, "elu": 4, "sigmoid": 5, "tanh": 6}

#: Bytes of one im2col tile: big enough that BLAS runs at speed and is called rarely, small
#: enough to stay in the last-level cache. (4 MiB measured 5-8% faster than 1 MiB on LeNet's,
#: the Keras CNN's and the small VGG's convolutions and their backprops, 2 threads.)
TILE_BYTES = 1 << 22

#: The planar path is taken for stride 1 and cin * cout up to this. Measured (64x28x28 and
#: 32x32x32 inputs, 3x3 and 5x5 filters, all three directions): planar is 2-4x faster than GEMM
#: at cin * cout <= 16, about even at 32-48, and GEMM up to 1.7x faster at 96 (LeNet's conv2).
PLANAR_MAX_CHANNELS = 48


# -- scalar helpers ---------------------------------------------------------------------------


@njit(cache=True)
def _activate(v: Any, act: int, alpha: float) -> Any:
    """The epilogue activation `act` (an ACTIVATIONS code) of one value (math, not NumPy: the
    CUDA kernels call it too)."""
    if act == 1:
        return max(v, 0.0)
    if act == 2:
        return min(max(v, 0.0), 6.0)
    if act == 3:
        return v if v > 0 else alpha * v
    if act == 4:
        return v if v > 0 else math.expm1(v)
    if act == 5:
        if v >= 0:
            return 1.0 / (1.0 + math.exp(-v))
        e = math.exp(v)
        return e / (1.0 + e)
    if act == 6:
        return math.tanh(v)
    return v


@njit(cache=True)
def _finish(v: Any, bias: Any, o: int, act: int, alpha: float) -> Any:
    """Output channel o's value v plus its bias (when there is one), then the activation."""
    if bias is not None:
        v = v + bias[o]
    return _activate(v, act, alpha)


@njit(cache=True)
def _span(out_size: int, in_size: int, offset: int, stride: int) -> tuple[int, int]:
    """[lo, hi): the outputs p with 0 <= p * stride + offset < in_size."""
    lo = max(0, (stride - 1 - offset) // stride)
    hi = min(out_size, (in_size - offset + stride - 1) // stride)
    return lo, max(lo, hi)


# -- GEMM path: im2col / col2im over tiles of whole output rows ---------------------------------


@njit(cache=True)
def _full_span(ow, wd, kw, geom):
    """[lo, hi): the output columns whose window row lies inside the input (with dw == 1 it is
    one contiguous run of kw * cin input values)."""
    sw, dw, pl = geom[1], geom[3], geom[5]
    lo = _span(ow, wd, -pl, sw)[0]
    hi = _span(ow, wd, (kw - 1) * dw - pl, sw)[1]
    return lo, max(lo, hi)


@njit(cache=True)
def _im2col(x, col, q0, qn, kh, kw, oh, ow, geom):
    """col[(q - q0) * ow + ox, (i * kw + j) * cin + c] = the input under tap (i, j) of output
    pixel ox of output row q (= b * oh + oy), for the rows q0 .. q0 + qn; zero in the padding."""
    sh, sw, dh, dw, pt, pl = geom
    h, wd, cin = x.shape[1], x.shape[2], x.shape[3]
    kc = kw * cin
    lo, hi = _full_span(ow, wd, kw, geom)
    if dw != 1:
        lo = hi = 0
    for q in range(qn):
        b, oy = divmod(q0 + q, oh)
        for i in range(kh):
            iy = oy * sh - pt + i * dh
            k0 = i * kc
            if iy < 0 or iy >= h:
                for ox in range(ow):
                    d = col[q * ow + ox, k0 : k0 + kc]
                    for t in range(kc):
                        d[t] = 0
                continue
            src = x[b, iy].reshape(wd * cin)
            for ox in range(ow):
                d = col[q * ow + ox, k0 : k0 + kc]
                if lo <= ox < hi:
                    s0 = max((ox * sw - pl) * cin, 0)
                    sv = src[s0 : s0 + kc]
                    for t in range(kc):
                        d[t] = sv[t]
                    continue
                for j in range(kw):
                    ix = ox * sw - pl + j * dw
                    dj = d[j * cin : (j + 1) * cin]
                    if 0 <= ix < wd:
                        sv = src[ix * cin : (ix + 1) * cin]
                        for c in range(cin):
                            dj[c] = sv[c]
                    else:
                        for c in range(cin):
                            dj[c] = 0


@njit(cache=True)
def _col2im_add(col, dx, q0, qn, kh, kw, oh, ow, geom):
    """The adjoint of _im2col: adds each col entry onto the input pixel it was taken from.
    Neighbouring windows overlap: adding a window row's kw * cin values at once is fast when a
    pixel's channels fill whole vectors (else the loads of the overlap wait on the stores just
    made); otherwise tap j of every window goes first, then tap j + 1."""
    sh, sw, dh, dw, pt, pl = geom
    h, wd, cin = dx.shape[1], dx.shape[2], dx.shape[3]
    kc = kw * cin
    lo, hi = _full_span(ow, wd, kw, geom)
    if dw != 1 or cin % 8 != 0:
        lo = hi = 0
    for q in range(qn):
        b, oy = divmod(q0 + q, oh)
        for i in range(kh):
            iy = oy * sh - pt + i * dh
            if iy < 0 or iy >= h:
                continue
            k0 = i * kc
            dst = dx[b, iy].reshape(wd * cin)
            for ox in range(lo, hi):
                s = col[q * ow + ox, k0 : k0 + kc]
                d0 = max((ox * sw - pl) * cin, 0)
                dv = dst[d0 : d0 + kc]
                for t in range(kc):
                    dv[t] += s[t]
            for j in range(kw):
                off = j * dw - pl
                jlo, jhi = _span(ow, wd, off, sw)
                for ox in range(jlo, jhi):
                    if lo <= ox < hi:
                        continue
                    s = col[q * ow + ox, k0 + j * cin : k0 + (j + 1) * cin]
                    d0 = max((ox * sw + off) * cin, 0)
                    dv = dst[d0 : d0 + cin]
                    for c in range(cin):
                        dv[c] += s[c]


@njit(cache=True)
def _conv_gemm(x, w, bias, y, col, geom, act, alpha):
    kh, kw, cin, cout = w.shape
    n, oh, ow, _ = y.shape
    w2 = w.reshape((kh * kw * cin, cout))
    y2 = y.reshape((n * oh * ow, cout))
    rows = col.shape[0] // ow
    epilogue = bias is not None or act != 0
    for q0 in range(0, n * oh, rows):
        qn = min(rows, n * oh - q0)
        r0, r1 = q0 * ow, (q0 + qn) * ow
        _im2col(x, col, q0, qn, kh, kw, oh, ow, geom)
        np.dot(col[: r1 - r0], w2, y2[r0:r1])
        if epilogue:
            for r in range(r0, r1):
                for o in range(cout):
                    y2[r, o] = _finish(y2[r, o], bias, o, act, alpha)


@njit(cache=True)
def conv2d_gemm(x, w, y, col, geom, act, alpha):
    _conv_gemm(x, w, None, y, col, geom, act, alpha)


@njit(cache=True)
def conv2d_gemm_bias(x, w, bias, y, col, geom, act, alpha):
    _conv_gemm(x, w, bias, y, col, geom, act, alpha)


@njit(cache=True)
def conv2d_backprop_input_gemm(sizes, w, dy, dx, col, geom):
    kh, kw, cin, cout = w.shape
    n, oh, ow, _ = dy.shape
    w2 = w.reshape((kh * kw * cin, cout))
    dy2 = dy.reshape((n * oh * ow, cout))
    rows = col.shape[0] // ow
    dx[:] = 0
    for q0 in range(0, n * oh, rows):
        qn = min(rows, n * oh - q0)
        np.dot(dy2[q0 * ow : (q0 + qn) * ow], w2.T, col[: qn * ow])
        _col2im_add(col, dx, q0, qn, kh, kw, oh, ow, geom)


@njit(cache=True)
def conv2d_backprop_filter_gemm(x, sizes, dy, dw, col, part, geom):
    kh, kw, cin, cout = dw.shape
    n, oh, ow, _ = dy.shape
    dw2 = dw.reshape((kh * kw * cin, cout))
    dy2 = dy.reshape((n * oh * ow, cout))
    rows = col.shape[0] // ow
    dw[:] = 0
    for q0 in range(0, n * oh, rows):
        qn = min(rows, n * oh - q0)
        _im2col(x, col, q0, qn, kh, kw, oh, ow, geom)
        np.dot(col[: qn * ow].T, dy2[q0 * ow : (q0 + qn) * ow], part)
        for k in range(dw2.shape[0]):
            for o in range(cout):
                dw2[k, o] += part[k, o]


# -- planar path (stride 1, few channels) -------------------------------------------------------


@njit(cache=True)
def _to_planes(src, b, planes, top, left, pitch):
    """planes[c, (y + top) * pitch + x + left] = src[b, y, x, c], zero elsewhere."""
    planes[:, :] = 0
    for iy in range(src.shape[1]):
        for ix in range(src.shape[2]):
            t = max((iy + top) * pitch + ix + left, 0)
            for c in range(src.shape[3]):
                planes[c, t] = src[b, iy, ix, c]


@njit(cache=True)
def _from_planes(planes, top, left, pitch, dst, b, bias, act, alpha):
    """dst[b, y, x, c] = the epilogue of planes[c, (y + top) * pitch + x + left]."""
    for iy in range(dst.shape[1]):
        for ix in range(dst.shape[2]):
            t = max((iy + top) * pitch + ix + left, 0)
            for c in range(dst.shape[3]):
                dst[b, iy, ix, c] = _finish(planes[c, t], bias, c, act, alpha)


@njit(cache=True)
def _shifted_axpy(dst, dr, ds, src, sr, ss, a, n):
    """dst[dr, ds:ds + n] += a * src[sr, ss:ss + n]."""
    d, s = dst[dr, ds : ds + n], src[sr, ss : ss + n]  # views: indices from 0 vectorize
    for t in range(n):
        d[t] += s[t] * a


@njit(cache=True, fastmath={"reassoc"})  # reassociation lets LLVM vectorize the sum
def _shifted_dot(u, ur, us, v, vr, n):
    """sum(u[ur, us:us + n] * v[vr, :n]), n >= 1."""
    a, b = u[ur, us : us + n], v[vr, :n]
    total = a[0] * b[0]
    for t in range(1, n):
        total += a[t] * b[t]
    return total


@njit(cache=True)
def _conv_planar(x, w, bias, y, planes, acc, geom, act, alpha):
    _, _, dh, dw, pt, pl = geom
    kh, kw, cin, cout = w.shape
    n, oh, ow, _ = y.shape
    pitch = ow + (kw - 1) * dw
    for b in range(n):
        _to_planes(x, b, planes, pt, pl, pitch)
        acc[:, :] = 0
        for o in range(cout):
            for c in range(cin):
                for i in range(kh):
                    for j in range(kw):
                        shift = i * dh * pitch + j * dw
                        _shifted_axpy(acc, o, 0, planes, c, shift, w[i, j, c, o], oh * pitch)
        _from_planes(acc, 0, 0, pitch, y, b, bias, act, alpha)


@njit(cache=True)
def conv2d_planar(x, w, y, planes, acc, geom, act, alpha):
    _conv_planar(x, w, None, y, planes, acc, geom, act, alpha)


@njit(cache=True)
def conv2d_planar_bias(x, w, bias, y, planes, acc, geom, act, alpha):
    _conv_planar(x, w, bias, y, planes, acc, geom, act, alpha)


@njit(cache=True)
def conv2d_backprop_input_planar(sizes, w, dy, dx, planes, dyp, geom):
    _, _, dh, dw, pt, pl = geom
    kh, kw, cin, cout = w.shape
    n, oh, ow, _ = dy.shape
    pitch = ow + (kw - 1) * dw
    for b in range(n):
        _to_planes(dy, b, dyp, 0, 0, pitch)
        planes[:, :] = 0
        for c in range(cin):
            for i in range(kh):
                for j in range(kw):
                    shift = i * dh * pitch + j * dw
                    for o in range(cout):
                        _shifted_axpy(planes, c, shift, dyp, o, 0, w[i, j, c, o], oh * pitch)
        _from_planes(planes, pt, pl, pitch, dx, b, None, 0, 0.0)


@njit(cache=True)
def conv2d_backprop_filter_planar(x, sizes, dy, dw, planes, dyp, geom):
    _, _, dh, ddw, pt, pl = geom
    kh, kw, cin, cout = dw.shape
    n, oh, ow, _ = dy.shape
    pitch = ow + (kw - 1) * ddw
    dw[:] = 0
    if oh == 0 or ow == 0:
        return
    for b in range(n):
        _to_planes(x, b, planes, pt, pl, pitch)
        _to_planes(dy, b, dyp, 0, 0, pitch)
        for i in range(kh):
            for j in range(kw):
                shift = i * dh * pitch + j * ddw
                for c in range(cin):
                    for o in range(cout):
                        dw[i, j, c, o] += _shifted_dot(planes, c, shift, dyp, o, oh * pitch)


# -- depthwise: filter [kh, kw, cin, m], output channel c * m + k -------------------------------


@njit(cache=True)
def _depthwise(x, w, bias, y, geom, act, alpha):
    sh, sw, dh, dw, pt, pl = geom
    kh, kw, cin, mult = w.shape
    n, oh, ow, cout = y.shape
    h, wd = x.shape[1], x.shape[2]
    y[:] = 0
    for b in range(n):
        for oy in range(oh):
            for i in range(kh):
                iy = oy * sh - pt + i * dh
                if iy < 0 or iy >= h:
                    continue
                for j in range(kw):
                    lo, hi = _span(ow, wd, j * dw - pl, sw)
                    for ox in range(lo, hi):
                        ix = ox * sw + j * dw - pl
                        if mult == 1:  # the common case, vectorized over channels
                            for c in range(cin):
                                y[b, oy, ox, c] += x[b, iy, ix, c] * w[i, j, c, 0]
                            continue
                        for c in range(cin):
                            xv = x[b, iy, ix, c]
                            for m in range(mult):
                                y[b, oy, ox, max(c * mult + m, 0)] += xv * w[i, j, c, m]
            if bias is not None or act != 0:
                for ox in range(ow):
                    for o in range(cout):
                        y[b, oy, ox, o] = _finish(y[b, oy, ox, o], bias, o, act, alpha)


@njit(cache=True)
def depthwise_conv2d_direct(x, w, y, geom, act, alpha):
    _depthwise(x, w, None, y, geom, act, alpha)


@njit(cache=True)
def depthwise_conv2d_direct_bias(x, w, bias, y, geom, act, alpha):
    _depthwise(x, w, bias, y, geom, act, alpha)


@njit(cache=True)
def _depthwise_backprop(x, w, dy, dx, dw, geom, w_shape, x_hw):
    """One gradient of depthwise_conv2d: into dx (dw and x None) or into dw (dx and w None);
    w_shape and x_hw are the filter's shape and the input's (h, w). (Numba drops a branch on
    `arg is not None` only where the arg is None, so the tests are on the outputs.)"""
    sh, sw, dh, ddw, pt, pl = geom
    kh, kw, cin, mult = w_shape
    h, wd = x_hw
    n, oh, ow, _ = dy.shape
    for b in range(n):
        for oy in range(oh):
            for i in range(kh):
                iy = oy * sh - pt + i * dh
                if iy < 0 or iy >= h:
                    continue
                for j in range(kw):
                    lo, hi = _span(ow, wd, j * ddw - pl, sw)
                    for ox in range(lo, hi):
                        ix = ox * sw + j * ddw - pl
                        if mult == 1:  # the common case, vectorized over channels
                            for c in range(cin):
                                g = dy[b, oy, ox, c]
                                if dx is not None:
                                    dx[b, iy, ix, c] += g * w[i, j, c, 0]
                                if dw is not None:
                                    dw[i, j, c, 0] += g * x[b, iy, ix, c]
                            continue
                        for m in range(mult):
                            for c in range(cin):
                                g = dy[b, oy, ox, max(c * mult + m, 0)]
                                if dx is not None:
                                    dx[b, iy, ix, c] += g * w[i, j, c, m]
                                if dw is not None:
                                    dw[i, j, c, m] += g * x[b, iy, ix, c]


@njit(cache=True)
def depthwise_conv2d_backprop_input_direct(sizes, w, dy, dx, geom):
    dx[:] = 0
    _depthwise_backprop(None, w, dy, dx, None, geom, w.shape, (dx.shape[1], dx.shape[2]))


@njit(cache=True)
def depthwise_conv2d_backprop_filter_direct(x, sizes, dy, dw, geom):
    dw[:] = 0
    _depthwise_backprop(x, None, dy, None, dw, geom, dw.shape, (x.shape[1], x.shape[2]))


# -- pooling: window = (kh, kw, sh, sw, pt, pl) -------------------------------------------------
#
# Each kernel works image by image (`_*_image(..., b, ...)`), vectorized over the contiguous
# channel axis. (A prange over the images gained nothing measurable on two cores and, with the
# OpenMP threading layer, made a LeNet training step 4x slower: the OpenMP workers spinning
# after a parallel loop starve OpenBLAS's threads in the GEMM that follows.)


@njit(cache=True)
def _max_pool_image(x, y, b, window):
    """y[b] = the max over each window's unpadded positions (as over padding read as the
    lowest value); NaN wins, as in np.max."""
    kh, kw, sh, sw, pt, pl = window
    _, oh, ow, cin = y.shape
    h, wd = x.shape[1], x.shape[2]
    for oy in range(oh):
        ilo, ihi = _span(kh, h, oy * sh - pt, 1)
        for ox in range(ow):
            jlo, jhi = _span(kw, wd, ox * sw - pl, 1)
            out = y[b, oy, ox]
            first = x[b, max(oy * sh - pt + ilo, 0), max(ox * sw - pl + jlo, 0)]
            for c in range(cin):
                out[c] = first[c]
            for i in range(ilo, ihi):
                for j in range(jlo, jhi):
                    row = x[b, max(oy * sh - pt + i, 0), max(ox * sw - pl + j, 0)]
                    for c in range(cin):
                        v, m = row[c], out[c]
                        out[c] = v if v > m or v != v else m


@njit(cache=True)
def max_pool_direct(x, y, window):
    for b in range(y.shape[0]):
        _max_pool_image(x, y, b, window)


@njit(cache=True)
def _first_max(x, b, oy, ox, target, at, window, lowest):
    """at[c] = where in image b (iy * w + ix, or -1 for padding) the first window position in
    row-major order, padding included and read as `lowest`, holds target[c], or the window's
    first position where none does. The positions are visited last to first, each channel
    keeping its latest match (in arithmetic: a branch on data that matches at random made the
    kernel twice as slow)."""
    kh, kw, sh, sw, pt, pl = window
    h, wd = x.shape[1], x.shape[2]
    cin = target.shape[0]
    iy, ix = oy * sh - pt, ox * sw - pl
    first = iy * wd + ix if 0 <= iy < h and 0 <= ix < wd else -1
    for c in range(cin):
        at[c] = first
    for i in range(kh - 1, -1, -1):
        iy = oy * sh - pt + i
        for j in range(kw - 1, -1, -1):
            ix = ox * sw - pl + j
            inside = 0 <= iy < h and 0 <= ix < wd
            here = iy * wd + ix if inside else -1
            row = x[b, max(iy, 0) if inside else 0, max(ix, 0) if inside else 0]
            for c in range(cin):  # at[c] = here on a match, in arithmetic: no branch
                v = row[c] if inside else lowest
                at[c] += (here - at[c]) * (v == target[c])


@njit(cache=True)
def _max_pool_grad_image(x, y, dy, dx, b, window, lowest):
    """dx[b]: each window's gradient onto its (first) max; one image."""
    _, oh, ow, cin = y.shape
    h, wd = x.shape[1], x.shape[2]
    dxb = dx[b].reshape((h * wd, cin))
    dxb[:] = 0
    at = np.empty(cin, np.int64)
    for oy in range(oh):
        for ox in range(ow):
            _first_max(x, b, oy, ox, y[b, oy, ox], at, window, lowest)
            g = dy[b, oy, ox]
            for c in range(cin):
                if at[c] >= 0:
                    dxb[at[c], c] += g[c]


@njit(cache=True)
def max_pool_grad_direct(x, y, dy, dx, window, lowest):
    for b in range(y.shape[0]):
        _max_pool_grad_image(x, y, dy, dx, b, window, lowest)


@njit(cache=True)
def max_pool_grad_grad_direct(x, y, g, out, window, lowest):
    n, oh, ow, cin = y.shape
    h, wd = x.shape[1], x.shape[2]
    at = np.empty(cin, np.int64)
    for b in range(n):
        gb = g[b].reshape((h * wd, cin))
        for oy in range(oh):
            for ox in range(ow):
                _first_max(x, b, oy, ox, y[b, oy, ox], at, window, lowest)
                for c in range(cin):
                    out[b, oy, ox, c] = gb[at[c], c] if at[c] >= 0 else 0


@njit(cache=True)
def _avg_pool_image(x, y, b, window):
    """y[b] = the mean over each window's unpadded positions."""
    kh, kw, sh, sw, pt, pl = window
    _, oh, ow, cin = y.shape
    h, wd = x.shape[1], x.shape[2]
    for oy in range(oh):
        ilo, ihi = _span(kh, h, oy * sh - pt, 1)
        for ox in range(ow):
            jlo, jhi = _span(kw, wd, ox * sw - pl, 1)
            out = y[b, oy, ox]
            for c in range(cin):
                out[c] = 0
            for i in range(ilo, ihi):
                for j in range(jlo, jhi):
                    row = x[b, max(oy * sh - pt + i, 0), max(ox * sw - pl + j, 0)]
                    for c in range(cin):
                        out[c] += row[c]
            count = (ihi - ilo) * (jhi - jlo)
            for c in range(cin):
                out[c] /= count


@njit(cache=True)
def avg_pool_direct(x, y, window):
    for b in range(y.shape[0]):
        _avg_pool_image(x, y, b, window)


@njit(cache=True)
def _avg_pool_grad_image(dy, dx, b, window):
    """dx[b]: each window's gradient spread evenly over its unpadded positions."""
    kh, kw, sh, sw, pt, pl = window
    _, oh, ow, cin = dy.shape
    h, wd = dx.shape[1], dx.shape[2]
    dx[b] = 0
    for oy in range(oh):
        ilo, ihi = _span(kh, h, oy * sh - pt, 1)
        for ox in range(ow):
            jlo, jhi = _span(kw, wd, ox * sw - pl, 1)
            count = (ihi - ilo) * (jhi - jlo)
            g = dy[b, oy, ox]
            for i in range(ilo, ihi):
                for j in range(jlo, jhi):
                    row = dx[b, max(oy * sh - pt + i, 0), max(ox * sw - pl + j, 0)]
                    for c in range(cin):
                        row[c] += g[c] / count


@njit(cache=True)
def avg_pool_grad_direct(sizes, dy, dx, window):
    for b in range(dy.shape[0]):
        _avg_pool_grad_image(dy, dx, b, window)


# -- binders ------------------------------------------------------------------------------------


def _pad_before(padding: Any, axis: int, size: int, k: int, stride: int, dilation: int,
                out: int) -> int:  # fmt: skip
    """Top (axis 0) or left (axis 1) padding: TF's SAME puts the odd one at the bottom/right."""
    if padding == "VALID":
        return 0
    if padding == "SAME":
        return max((out - 1) * stride + (k - 1) * dilation + 1 - size, 0) // 2
    return int(padding[axis][0])


def _geometry(attrs: Mapping[str, Any], x_shape: Sequence[int], k_hw: Sequence[int],
              y_shape: Sequence[int]) -> Geom:  # fmt: skip
    """(sh, sw, dh, dw, pt, pl) of a convolution (attrs strides, dilations, padding) or a pool
    (no dilations) between NHWC input x and output y."""
    strides = tuple(attrs["strides"])
    dilations = tuple(attrs.get("dilations", (1, 1)))
    pads = [
        _pad_before(attrs["padding"], a, x_shape[1 + a], k_hw[a], strides[a], dilations[a],
                    y_shape[1 + a])
        for a in (0, 1)
    ]  # fmt: skip
    return (*strides, *dilations, *pads)


def _conv_geometry(attrs: Mapping[str, Any], in_types: Sequence[Type],
                   out_types: Sequence[Type], output: str = "y"
                   ) -> tuple[str, Sequence[int], Sequence[int], Sequence[int], Geom]:  # fmt: skip
    """(dtype, x_shape, w_shape, y_shape, geom) of a convolution op whose output is `output`:
    "y" (forward: x, w[, bias] -> y), "x" (backprop_input: _, w, dy -> dx) or "w"
    (backprop_filter: x, _, dy -> dw); the output's type overrides the input in its place."""
    shapes = {"x": in_types[0][1], "w": in_types[1][1], "y": in_types[-1][1]}
    shapes[output] = out_types[0][1]
    x, w, y = shapes["x"], shapes["w"], shapes["y"]
    return out_types[0][0], x, w, y, _geometry(attrs, x, w[:2], y)


def _epilogue(attrs: Mapping[str, Any]) -> tuple[int, float]:
    return ACTIVATIONS[attrs.get("activation")], float(attrs.get("alpha", 0.0))


def _is_planar(geom: Geom, cin: int, cout: int) -> bool:
    return geom[0] == geom[1] == 1 and cin * cout <= PLANAR_MAX_CHANNELS


def _planar_scratch(dtype: str, x_shape: Sequence[int], w_shape: Sequence[int],
                    y_shape: Sequence[int], geom: Geom) -> tuple[Type, Type]:  # fmt: skip
    """planes [cin, padded height * pitch + the last row's overhang], and [cout, oh * pitch]."""
    kh, kw, cin, cout = w_shape
    _, oh, ow, _ = y_shape
    pitch = ow + (kw - 1) * geom[3]
    rows = oh + (kh - 1) * geom[2]
    return (dtype, (cin, rows * pitch + (kw - 1) * geom[3])), (dtype, (cout, oh * pitch))


def _tile_rows(total: int, row_bytes: int) -> int:
    """Output rows per im2col tile: as many as fit in TILE_BYTES, at least one."""
    return max(1, min(total, TILE_BYTES // max(row_bytes, 1)))


def _col_scratch(dtype: str, w_shape: Sequence[int], y_shape: Sequence[int]) -> Type:
    """One im2col tile [rows * ow, kh * kw * cin]."""
    kh, kw, cin, _ = w_shape
    n, oh, ow, _ = y_shape
    k = kh * kw * cin
    rows = _tile_rows(n * oh, ow * k * np.dtype(dtype).itemsize)
    return dtype, (rows * ow, k)


@kernel("conv2d", backend="cpu")
@kernel("fused_conv2d", backend="cpu")
def conv2d(attrs: Mapping[str, Any], in_types: Sequence[Type],
           out_types: Sequence[Type]) -> CpuKernel:  # fmt: skip
    dtype, x_shape, w_shape, y_shape, geom = _conv_geometry(attrs, in_types, out_types)
    args = (geom, *_epilogue(attrs))
    bias = len(in_types) == 3
    if _is_planar(geom, w_shape[2], w_shape[3]):
        fn = conv2d_planar_bias if bias else conv2d_planar
        return CpuKernel(fn, args, _planar_scratch(dtype, x_shape, w_shape, y_shape, geom))
    fn = conv2d_gemm_bias if bias else conv2d_gemm
    return CpuKernel(fn, args, (_col_scratch(dtype, w_shape, y_shape),))


@kernel("conv2d_backprop_input", backend="cpu")
def conv2d_backprop_input(attrs: Mapping[str, Any], in_types: Sequence[Type],
                          out_types: Sequence[Type]) -> CpuKernel:  # fmt: skip
    dtype, x_shape, w_shape, dy_shape, geom = _conv_geometry(attrs, in_types, out_types, "x")
    if _is_planar(geom, w_shape[2], w_shape[3]):
        scratch = _planar_scratch(dtype, x_shape, w_shape, dy_shape, geom)
        return CpuKernel(conv2d_backprop_input_planar, (geom,), scratch)
    scratch = (_col_scratch(dtype, w_shape, dy_shape),)
    return CpuKernel(conv2d_backprop_input_gemm, (geom,), scratch)


@kernel("conv2d_backprop_filter", backend="cpu")
def conv2d_backprop_filter(attrs: Mapping[str, Any], in_types: Sequence[Type],
                           out_types: Sequence[Type]) -> CpuKernel:  # fmt: skip
    dtype, x_shape, w_shape, dy_shape, geom = _conv_geometry(attrs, in_types, out_types, "w")
    if _is_planar(geom, w_shape[2], w_shape[3]):
        scratch = _planar_scratch(dtype, x_shape, w_shape, dy_shape, geom)
        return CpuKernel(conv2d_backprop_filter_planar, (geom,), scratch)
    k = w_shape[0] * w_shape[1] * w_shape[2]
    scratch = (_col_scratch(dtype, w_shape, dy_shape), (dtype, (k, w_shape[3])))
    return CpuKernel(conv2d_backprop_filter_gemm, (geom,), scratch)


@kernel("depthwise_conv2d", backend="cpu")
@kernel("fused_depthwise_conv2d", backend="cpu")
def depthwise_conv2d(attrs: Mapping[str, Any], in_types: Sequence[Type],
                     out_types: Sequence[Type]) -> CpuKernel:  # fmt: skip
    geom = _conv_geometry(attrs, in_types, out_types)[4]
    fn = depthwise_conv2d_direct_bias if len(in_types) == 3 else depthwise_conv2d_direct
    return CpuKernel(fn, (geom, *_epilogue(attrs)))


@kernel("depthwise_conv2d_backprop_input", backend="cpu")
def depthwise_conv2d_backprop_input(attrs: Mapping[str, Any], in_types: Sequence[Type],
                                    out_types: Sequence[Type]) -> CpuKernel:  # fmt: skip
    geom = _conv_geometry(attrs, in_types, out_types, "x")[4]
    return CpuKernel(depthwise_conv2d_backprop_input_direct, (geom,))


@kernel("depthwise_conv2d_backprop_filter", backend="cpu")
def depthwise_conv2d_backprop_filter(attrs: Mapping[str, Any], in_types: Sequence[Type],
                                     out_types: Sequence[Type]) -> CpuKernel:  # fmt: skip
    geom = _conv_geometry(attrs, in_types, out_types, "w")[4]
    return CpuKernel(depthwise_conv2d_backprop_filter_direct, (geom,))


def _window(attrs: Mapping[str, Any], x_shape: Sequence[int], y_shape: Sequence[int]) -> Geom:
    """(kh, kw, sh, sw, pt, pl) of a pool."""
    ksize = tuple(attrs["ksize"])
    sh, sw, _, _, pt, pl = _geometry(attrs, x_shape, ksize, y_shape)
    return (*ksize, sh, sw, pt, pl)


def _lowest(dtype: str) -> float | int:
    """What max pooling's padding reads as: the dtype's lowest value."""
    kind = np.dtype(dtype).kind
    if kind == "f":
        return -np.inf
    if kind in "iu":
        return int(np.iinfo(dtype).min)
    raise BackendError(f"max pooling has no CPU kernel for dtype {dtype}")


@kernel("max_pool", backend="cpu")
def max_pool(attrs: Mapping[str, Any], in_types: Sequence[Type],
             out_types: Sequence[Type]) -> CpuKernel:  # fmt: skip
    return CpuKernel(max_pool_direct, (_window(attrs, in_types[0][1], out_types[0][1]),))


@kernel("max_pool_grad", backend="cpu")
def max_pool_grad(attrs: Mapping[str, Any], in_types: Sequence[Type],
                  out_types: Sequence[Type]) -> CpuKernel:  # fmt: skip
    (dtype, x_shape), (_, y_shape) = in_types[:2]
    return CpuKernel(max_pool_grad_direct, (_window(attrs, x_shape, y_shape), _lowest(dtype)))


@kernel("max_pool_grad_grad", backend="cpu")
def max_pool_grad_grad(attrs: Mapping[str, Any], in_types: Sequence[Type],
                       out_types: Sequence[Type]) -> CpuKernel:  # fmt: skip
    (dtype, x_shape), (_, y_shape) = in_types[:2]
    return CpuKernel(max_pool_grad_grad_direct, (_window(attrs, x_shape, y_shape), _lowest(dtype)))


@kernel("avg_pool", backend="cpu")
def avg_pool(attrs: Mapping[str, Any], in_types: Sequence[Type],
             out_types: Sequence[Type]) -> CpuKernel:  # fmt: skip
    return CpuKernel(avg_pool_direct, (_window(attrs, in_types[0][1], out_types[0][1]),))


@kernel("avg_pool_grad", backend="cpu")
def avg_pool_grad(attrs: Mapping[str, Any], in_types: Sequence[Type],
                  out_types: Sequence[Type]) -> CpuKernel:  # fmt: skip
    return CpuKernel(avg_pool_grad_direct, (_window(attrs, out_types[0][1], in_types[1][1]),))
