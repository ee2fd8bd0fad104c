"""Reference kernels of the convolution and pooling ops (NHWC).

Every op is written over the windows of its padded input, an [n, oh, ow, c, kh, kw] view:
forward ops contract or reduce the windows; backprop ops build the gradient of the windows and
scatter it back with `_windows_adjoint`, the transpose of taking windows.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from graphnet.backends.registry import kernel
from graphnet.ir import ShapeError

Pair = tuple[int, int]
Padding = str | tuple[Pair, Pair]


def _pads(x_hw: Pair, k_hw: Pair, strides: Pair, dilations: Pair, padding: Padding) -> tuple:
    """((top, bottom), (left, right)). TF's SAME: out = ceil(in / stride), the total padding is
    max((out - 1) * stride + window - in, 0), with the odd one at the bottom/right."""
    if padding == "VALID":
        return ((0, 0), (0, 0))
    if padding != "SAME":
        return padding
    pads = []
    for size, k, s, d in zip(x_hw, k_hw, strides, dilations, strict=True):
        total = max((-(-size // s) - 1) * s + (k - 1) * d + 1 - size, 0)
        pads.append((total // 2, total - total // 2))
    return tuple(pads)


def _windows(
    x: np.ndarray,
    k_hw: Pair,
    strides: Pair,
    dilations: Pair,
    padding: Padding,
    fill: float = 0.0,
) -> np.ndarray:
    """The [n, oh, ow, c, kh, kw] windows of x padded with `fill` (a read-only view)."""
    (pt, pb), (pl, pr) = _pads(x.shape[1:3], k_hw, strides, dilations, padding)
    padded = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=fill)
    spans = [(k - 1) * d + 1 for k, d in zip(k_hw, dilations, strict=True)]
    (sh, sw), (dh, dw) = strides, dilations
    return sliding_window_view(padded, spans, axis=(1, 2))[:, ::sh, ::sw, :, ::dh, ::dw]


def _windows_adjoint(
    dwin: np.ndarray, x_hw: Pair, strides: Pair, dilations: Pair, padding: Padding
) -> np.ndarray:
    """The gradient of x from the gradient `dwin` of its windows: adds every window element
    back to the input position it was taken from, then drops the padding."""
    n, oh, ow, c, kh, kw = dwin.shape
    (h, w), (sh, sw), (dh, dw) = x_hw, strides, dilations
    (pt, pb), (pl, pr) = _pads(x_hw, (kh, kw), strides, dilations, padding)
    spans = ((kh - 1) * dh + 1, (kw - 1) * dw + 1)
    expected = ((h + pt + pb - spans[0]) // sh + 1, (w + pl + pr - spans[1]) // sw + 1)
    if (oh, ow) != expected:
        raise ShapeError(
            f"the gradient has spatial size {oh}x{ow} but an input of {h}x{w} gives "
            f"{expected[0]}x{expected[1]}"
        )
    dx = np.zeros((n, h + pt + pb, w + pl + pr, c), dtype=dwin.dtype)
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + (oh - 1) * sh + 1, sh)
            cols = slice(j * dw, j * dw + (ow - 1) * sw + 1, sw)
            dx[:, rows, cols, :] += dwin[:, :, :, :, i, j]
    return dx[:, pt : pt + h, pl : pl + w, :]


def _hw(sizes: np.ndarray, first: int) -> Pair:
    return int(sizes[first]), int(sizes[first + 1])


# -- conv2d: windows [n, oh, ow, c, kh, kw] against filters [kh, kw, c, o] -----------------------


@kernel("conv2d")
def conv2d(
    x: np.ndarray, w: np.ndarray, strides: Pair, padding: Padding, dilations: Pair
) -> np.ndarray:
    win = _windows(x, w.shape[:2], strides, dilations, padding)
    return np.einsum("nhwcij,ijco->nhwo", win, w)


@kernel("conv2d_backprop_input")
def conv2d_backprop_input(
    sizes: np.ndarray,
    w: np.ndarray,
    dy: np.ndarray,
    strides: Pair,
    padding: Padding,
    dilations: Pair,
) -> np.ndarray:
    dwin = np.einsum("nhwo,ijco->nhwcij", dy, w)
    return _windows_adjoint(dwin, _hw(sizes, 1), strides, dilations, padding)


@kernel("conv2d_backprop_filter")
def conv2d_backprop_filter(
    x: np.ndarray,
    sizes: np.ndarray,
    dy: np.ndarray,
    strides: Pair,
    padding: Padding,
    dilations: Pair,
) -> np.ndarray:
    win = _windows(x, _hw(sizes, 0), strides, dilations, padding)
    return np.einsum("nhwcij,nhwo->ijco", win, dy)


# -- depthwise: filters [kh, kw, c, m]; output channel c * m + k is dy[..., c, k] --------------


def _split_channels(dy: np.ndarray, multiplier: int) -> np.ndarray:
    return dy.reshape(*dy.shape[:3], -1, multiplier)


@kernel("depthwise_conv2d")
def depthwise_conv2d(
    x: np.ndarray, w: np.ndarray, strides: Pair, padding: Padding, dilations: Pair
) -> np.ndarray:
    win = _windows(x, w.shape[:2], strides, dilations, padding)
    y = np.einsum("nhwcij,ijcm->nhwcm", win, w)
    return y.reshape(*y.shape[:3], -1)


@kernel("depthwise_conv2d_backprop_input")
def depthwise_conv2d_backprop_input(
    sizes: np.ndarray,
    w: np.ndarray,
    dy: np.ndarray,
    strides: Pair,
    padding: Padding,
    dilations: Pair,
) -> np.ndarray:
    dwin = np.einsum("nhwcm,ijcm->nhwcij", _split_channels(dy, w.shape[3]), w)
    return _windows_adjoint(dwin, _hw(sizes, 1), strides, dilations, padding)


@kernel("depthwise_conv2d_backprop_filter")
def depthwise_conv2d_backprop_filter(
    x: np.ndarray,
    sizes: np.ndarray,
    dy: np.ndarray,
    strides: Pair,
    padding: Padding,
    dilations: Pair,
) -> np.ndarray:
    win = _windows(x, _hw(sizes, 0), strides, dilations, padding)
    return np.einsum("nhwcij,nhwcm->ijcm", win, _split_channels(dy, int(sizes[3])))


# -- pooling --------------------------------------------------------------------------------------


def _max_windows(x: np.ndarray, ksize: Pair, strides: Pair, padding: str) -> np.ndarray:
    """Windows of x padded with the lowest value of its dtype, so padding is never a max."""
    lowest = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    return _windows(x, ksize, strides, (1, 1), padding, fill=lowest)


def _first_max(
    x: np.ndarray, y: np.ndarray, ksize: Pair, strides: Pair, padding: str
) -> np.ndarray:
    """One-hot [n, oh, ow, c, kh, kw]: the first (row-major) position of each window's max y."""
    win = _max_windows(x, ksize, strides, padding)
    flat = win.reshape(*win.shape[:4], -1)
    first = np.argmax(flat == y[..., None], axis=-1)
    return (np.arange(flat.shape[-1]) == first[..., None]).reshape(win.shape)


def _window_counts(x_hw: Pair, ksize: Pair, strides: Pair, padding: str) -> np.ndarray:
    """[1, oh, ow, 1]: how many unpadded elements each window holds."""
    ones = np.ones((1, *x_hw, 1))
    return _windows(ones, ksize, strides, (1, 1), padding).sum(axis=(4, 5))


@kernel("max_pool")
def max_pool(x: np.ndarray, ksize: Pair, strides: Pair, padding: str) -> np.ndarray:
    return _max_windows(x, ksize, strides, padding).max(axis=(4, 5))


@kernel("max_pool_grad")
def max_pool_grad(
    x: np.ndarray, y: np.ndarray, dy: np.ndarray, ksize: Pair, strides: Pair, padding: str
) -> np.ndarray:
    dwin = _first_max(x, y, ksize, strides, padding) * dy[..., None, None]
    return _windows_adjoint(dwin, x.shape[1:3], strides, (1, 1), padding)


@kernel("max_pool_grad_grad")
def max_pool_grad_grad(
    x: np.ndarray, y: np.ndarray, g: np.ndarray, ksize: Pair, strides: Pair, padding: str
) -> np.ndarray:
    win = _windows(g, ksize, strides, (1, 1), padding)
    return (win * _first_max(x, y, ksize, strides, padding)).sum(axis=(4, 5))


@kernel("avg_pool")
def avg_pool(x: np.ndarray, ksize: Pair, strides: Pair, padding: str) -> np.ndarray:
    sums = _windows(x, ksize, strides, (1, 1), padding).sum(axis=(4, 5))
    return sums / _window_counts(x.shape[1:3], ksize, strides, padding).astype(x.dtype)


@kernel("avg_pool_grad")
def avg_pool_grad(
    sizes: np.ndarray, dy: np.ndarray, ksize: Pair, strides: Pair, padding: str
) -> np.ndarray:
    x_hw = _hw(sizes, 1)
    share = dy / _window_counts(x_hw, ksize, strides, padding).astype(dy.dtype)
    dwin = np.broadcast_to(share[..., None, None], (*share.shape, *ksize))
    return _windows_adjoint(dwin, x_hw, strides, (1, 1), padding)
