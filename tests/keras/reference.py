"""Naive NumPy versions of Keras layers' math, written from Keras' definitions (not from the
ops), for the layer tests."""

import math

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def same_pads(size, k, stride, dilation=1):
    """TF's SAME padding (before, after) along one axis."""
    k = (k - 1) * dilation + 1
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + k - size, 0)
    return total // 2, total - total // 2


def conv2d(x, w, stride=1, padding="valid", dilation=1):
    """out[n, i, j, o] = sum over the window and input channels (w: kh, kw, cin, cout)."""
    kh, kw = w.shape[:2]
    if padding == "same":
        ph, pw = (
            same_pads(x.shape[1], kh, stride, dilation),
            same_pads(x.shape[2], kw, stride, dilation),
        )
        x = np.pad(x, [(0, 0), ph, pw, (0, 0)])
    eh, ew = (kh - 1) * dilation + 1, (kw - 1) * dilation + 1
    oh, ow = (x.shape[1] - eh) // stride + 1, (x.shape[2] - ew) // stride + 1
    out = np.zeros((x.shape[0], oh, ow, w.shape[3]))
    for i in range(oh):
        for j in range(ow):
            window = x[
                :, i * stride : i * stride + eh : dilation, j * stride : j * stride + ew : dilation
            ]
            out[:, i, j] = np.einsum("nhwc,hwco->no", window, w)
    return out


def depthwise_conv2d(x, w, stride=1, padding="valid"):
    """Channel c convolved with w[:, :, c, m] gives output channel c * multiplier + m."""
    cin, mult = w.shape[2:]
    outs = [conv2d(x[..., c : c + 1], w[:, :, c : c + 1, :], stride, padding) for c in range(cin)]
    return np.concatenate(outs, axis=-1).reshape(*outs[0].shape[:3], cin * mult)


def conv2d_transpose(x, w, stride, out_size, padding="valid"):
    """Each input pixel scatters x[n, i, j] @ w[a, b].T (w: kh, kw, cout, cin) to
    (i * stride + a, j * stride + b); the result is cropped (SAME) or zero-extended."""
    n, h, wd, _ = x.shape
    kh, kw, cout, _ = w.shape
    full = np.zeros((n, (h - 1) * stride + kh, (wd - 1) * stride + kw, cout))
    for i in range(h):
        for j in range(wd):
            for a in range(kh):
                for b in range(kw):
                    full[:, i * stride + a, j * stride + b] += x[:, i, j] @ w[a, b].T
    pads = [0, 0]
    if padding == "same":
        pads = [
            max((h - 1) * stride + kh - out_size[0], 0) // 2,
            max((wd - 1) * stride + kw - out_size[1], 0) // 2,
        ]
    out = np.zeros((n, *out_size, cout))
    crop = full[:, pads[0] : pads[0] + out_size[0], pads[1] : pads[1] + out_size[1]]
    out[:, : crop.shape[1], : crop.shape[2]] = crop
    return out


def pool2d(x, size, stride, reduce):
    oh, ow = (x.shape[1] - size) // stride + 1, (x.shape[2] - size) // stride + 1
    out = np.zeros((x.shape[0], oh, ow, x.shape[3]))
    for i in range(oh):
        for j in range(ow):
            out[:, i, j] = reduce(
                x[:, i * stride : i * stride + size, j * stride : j * stride + size], axis=(1, 2)
            )
    return out


def simple_rnn(x, kernel, recurrent, bias):
    h = np.zeros((x.shape[0], kernel.shape[1]))
    outs = []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ kernel + h @ recurrent + bias)
        outs.append(h)
    return np.stack(outs, 1), h


def lstm(x, kernel, recurrent, bias):
    """Keras: gates i, f, c, o in that order along the last axis."""
    units = recurrent.shape[0]
    h = np.zeros((x.shape[0], units))
    c = np.zeros_like(h)
    outs = []
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent + bias
        i, f, g, o = (z[:, k * units : (k + 1) * units] for k in range(4))
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        outs.append(h)
    return np.stack(outs, 1), h, c


def gru(x, kernel, recurrent, bias, reset_after=True):
    """Keras: gates z, r, h in that order; h_t = z * h + (1 - z) * candidate."""
    units = recurrent.shape[0]
    h = np.zeros((x.shape[0], units))
    outs = []
    split = lambda m: [m[:, k * units : (k + 1) * units] for k in range(3)]
    for t in range(x.shape[1]):
        if reset_after:
            xz, xr, xh = split(x[:, t] @ kernel + bias[0])
            hz, hr, hh = split(h @ recurrent + bias[1])
            z, r = sigmoid(xz + hz), sigmoid(xr + hr)
            candidate = np.tanh(xh + r * hh)
        else:
            xz, xr, xh = split(x[:, t] @ kernel + bias)
            uz, ur, uh = (recurrent[:, k * units : (k + 1) * units] for k in range(3))
            z, r = sigmoid(xz + h @ uz), sigmoid(xr + h @ ur)
            candidate = np.tanh(xh + (r * h) @ uh)
        h = z * h + (1 - z) * candidate
        outs.append(h)
    return np.stack(outs, 1), h
