"""Convolution and pooling ops against naive-loop NumPy references (written here, independent of
the reference kernels), gradients against finite differences."""

import itertools
import math

import numpy as np
import pytest

import graphnet as gn
from tests.helpers import check_grad, check_op, rand

# -- naive references: one output (or input) position at a time -----------------------------------


def _pair(v):
    if isinstance(v, int):
        return (v, v)
    return tuple(v[1:3]) if len(v) == 4 else tuple(v)


def _tf_pads(padding, x_hw, k_hw, strides, dilations):
    """((top, bottom), (left, right)) for 'SAME', 'VALID' or explicit 4x2 padding."""
    if padding == "VALID":
        return ((0, 0), (0, 0))
    if padding != "SAME":
        return (tuple(padding[1]), tuple(padding[2]))
    pads = []
    for size, k, s, d in zip(x_hw, k_hw, strides, dilations, strict=True):
        out = math.ceil(size / s)
        total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
        pads.append((total // 2, total - total // 2))  # the extra one at the bottom/right
    return tuple(pads)


def naive_conv2d(x, w, strides, padding, dilations=1, depthwise=False):
    (sh, sw), (dh, dw) = _pair(strides), _pair(dilations)
    kh, kw = w.shape[:2]
    (pt, pb), (pl, pr) = _tf_pads(padding, x.shape[1:3], (kh, kw), (sh, sw), (dh, dw))
    xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    n, hp, wp, c = xp.shape
    oh, ow = (hp - (kh - 1) * dh - 1) // sh + 1, (wp - (kw - 1) * dw - 1) // sw + 1
    out = np.zeros((n, oh, ow, c * w.shape[3] if depthwise else w.shape[3]))
    for b, r, q, i, j in itertools.product(range(n), range(oh), range(ow), range(kh), range(kw)):
        pixel = xp[b, r * sh + i * dh, q * sw + j * dw]  # [c]
        if depthwise:
            out[b, r, q] += (pixel[:, None] * w[i, j]).reshape(-1)  # channel c * m + k
        else:
            out[b, r, q] += pixel @ w[i, j]
    return out


def naive_conv2d_transpose(v, w, output_shape, strides, padding):
    """Scatters every value pixel through the filter [kh, kw, out_c, in_c]."""
    (sh, sw), (kh, kw) = _pair(strides), w.shape[:2]
    (pt, pb), (pl, pr) = _tf_pads(padding, output_shape[1:3], (kh, kw), (sh, sw), (1, 1))
    n, h, wd, c = output_shape
    out = np.zeros((n, h + pt + pb, wd + pl + pr, c))
    for b, r, q, i, j in itertools.product(
        range(v.shape[0]), range(v.shape[1]), range(v.shape[2]), range(kh), range(kw)
    ):
        out[b, r * sh + i, q * sw + j] += w[i, j] @ v[b, r, q]
    return out[:, pt : pt + h, pl : pl + wd]


def _pool_windows(x, ksize, strides, padding):
    """The output size and, for each output position (b, r, q), its window's rows and columns
    clipped to the unpadded input."""
    (kh, kw), (sh, sw) = _pair(ksize), _pair(strides)
    (pt, pb), (pl, pr) = _tf_pads(padding, x.shape[1:3], (kh, kw), (sh, sw), (1, 1))
    n, h, w, _ = x.shape
    oh, ow = (h + pt + pb - kh) // sh + 1, (w + pl + pr - kw) // sw + 1
    windows = []
    for b, r, q in itertools.product(range(n), range(oh), range(ow)):
        top, left = r * sh - pt, q * sw - pl
        rows = slice(max(top, 0), min(top + kh, h))
        cols = slice(max(left, 0), min(left + kw, w))
        windows.append((b, r, q, rows, cols))
    return (oh, ow), windows


def naive_pool(x, ksize, strides, padding, reduce):
    (oh, ow), windows = _pool_windows(x, ksize, strides, padding)
    out = np.zeros((x.shape[0], oh, ow, x.shape[3]))
    for b, r, q, rows, cols in windows:
        out[b, r, q] = reduce(x[b, rows, cols], axis=(0, 1))  # over unpadded elements only
    return out


def naive_max_pool_grad(x, dy, ksize, strides, padding):
    """Each window's gradient goes to the first (row-major) position of its maximum."""
    dx = np.zeros_like(x)
    for b, r, q, rows, cols in _pool_windows(x, ksize, strides, padding)[1]:
        for ch in range(x.shape[3]):
            window = x[b, rows, cols, ch]
            i, j = np.unravel_index(np.argmax(window), window.shape)
            dx[b, rows.start + i, cols.start + j, ch] += dy[b, r, q, ch]
    return dx


def _second_order(fn):
    """The gradients of sum(w * fn(*xs)) for fixed w in every x, as a function of the xs:
    checking their gradients checks second derivatives."""

    def grads(*xs):
        y = fn(*xs)
        w = gn.constant(np.linspace(0.5, 1.5, int(np.prod(y.shape))).reshape(y.shape))
        return gn.gradients(gn.reduce_sum(y * w), list(xs))

    return grads


# -- conv2d ---------------------------------------------------------------------------------------


def test_textbook_valid_cross_correlation():
    x = np.arange(25.0).reshape(1, 5, 5, 1)
    k = np.array([[1.0, 0.0, -1.0]] * 3).reshape(3, 3, 1, 1)
    # every 3x3 window of arange(25) grows by 1 per column: sum(left - right) = 3 * (-2)
    check_op(lambda a, b: gn.nn.conv2d(a, b, [1, 1, 1, 1], "VALID"), [x, k],
             np.full((1, 3, 3, 1), -6.0))  # fmt: skip


def test_same_padding_puts_the_odd_pad_at_the_bottom_right():
    x, k = np.ones((1, 4, 4, 1)), np.ones((3, 3, 1, 1))
    # out = ceil(4 / 2) = 2, total pad = (2 - 1) * 2 + 3 - 4 = 1: none above/left, one below/right
    want = np.array([[9.0, 6.0], [6.0, 4.0]]).reshape(1, 2, 2, 1)
    check_op(lambda a, b: gn.nn.conv2d(a, b, 2, "SAME"), [x, k], want, grad=False)


CONV_CASES = [
    # x shape, filter shape, strides, padding, dilations
    ((1, 5, 5, 2), (3, 3, 2, 3), 1, "VALID", None),
    ((1, 5, 5, 2), (3, 3, 2, 3), 1, "SAME", None),
    ((2, 6, 6, 1), (3, 3, 1, 2), 2, "SAME", None),
    ((1, 5, 5, 2), (3, 3, 2, 2), [1, 2, 2, 1], "SAME", None),
    ((1, 6, 5, 2), (2, 2, 2, 2), (2, 1), "VALID", None),
    ((2, 4, 5, 3), (1, 1, 3, 2), 1, "VALID", None),
    ((1, 7, 6, 2), (3, 3, 2, 2), 1, "SAME", 2),
    ((1, 7, 7, 1), (2, 3, 1, 2), 2, "VALID", [1, 2, 2, 1]),
    ((1, 5, 4, 1), (3, 2, 1, 2), (2, 1), [[0, 0], [1, 2], [0, 1], [0, 0]], None),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_conv2d(case):
    xs, ws, strides, padding, dilations = case
    check_op(
        lambda x, w: gn.nn.conv2d(x, w, strides, padding, dilations=dilations),
        [rand(*xs, seed=1), rand(*ws, seed=2)],
        lambda x, w: naive_conv2d(x, w, strides, padding, 1 if dilations is None else dilations),
    )


@pytest.mark.parametrize("case", [CONV_CASES[2], CONV_CASES[6], CONV_CASES[8]], ids=str)
def test_conv2d_with_unknown_shapes(case):
    xs, ws, strides, padding, dilations = case
    check_op(
        lambda x, w: gn.nn.conv2d(x, w, strides, padding, dilations=dilations),
        [rand(*xs, seed=1), rand(*ws, seed=2)],
        lambda x, w: naive_conv2d(x, w, strides, padding, 1 if dilations is None else dilations),
        static_shapes=False,
    )


def test_conv2d_with_unknown_batch_dimension_keeps_static_dims():
    x = gn.placeholder(gn.float64, [None, 5, 5, 2])
    filters = rand(3, 3, 2, 3)
    w = gn.constant(filters)
    y = gn.nn.conv2d(x, w, 2, "SAME")
    gx, gw = gn.gradients(gn.reduce_sum(y), [x, w])
    assert (y.shape, gx.shape, gw.shape) == ((None, 3, 3, 3), (None, 5, 5, 2), (3, 3, 2, 3))
    with gn.Session() as s:
        for batch in (1, 3):
            value = rand(batch, 5, 5, 2)
            got = s.run(y, {x: value})
            np.testing.assert_allclose(got, naive_conv2d(value, filters, 2, "SAME"))


@pytest.mark.parametrize("padding", ["VALID", "SAME"])
def test_conv2d_second_order_gradients(padding):
    check_grad(
        _second_order(lambda x, w: gn.nn.conv2d(x, w, 2, padding)),
        [rand(1, 5, 5, 2, seed=1), rand(3, 3, 2, 3, seed=2)],
    )


def test_backprop_ops_are_the_adjoints_of_conv2d():
    x, w, dy = rand(2, 5, 6, 2, seed=1), rand(3, 2, 2, 3, seed=2), rand(2, 3, 6, 3, seed=3)
    attrs = {"strides": (2, 1), "padding": "SAME", "dilations": 1}
    y = gn.nn.conv2d(x, w, **attrs)
    dx = gn.nn.conv2d_backprop_input(x.shape, w, dy, **attrs)
    dw = gn.nn.conv2d_backprop_filter(x, w.shape, dy, **attrs)
    with gn.Session() as s:
        y, dx, dw = s.run([y, dx, dw])
    # <conv(x, w), dy> = <x, backprop_input(dy, w)> = <w, backprop_filter(x, dy)>
    np.testing.assert_allclose(np.vdot(dx, x), np.vdot(y, dy))
    np.testing.assert_allclose(np.vdot(dw, w), np.vdot(y, dy))


# -- conv2d_transpose -----------------------------------------------------------------------------


def test_conv2d_transpose_of_ones():
    v, k = np.ones((1, 2, 2, 1)), np.ones((3, 3, 1, 1))
    # output row y collects the (value row r, filter row i) with 2 r + i == y: 1, 1, 2, 1
    line = np.array([1.0, 1.0, 2.0, 1.0])
    want = np.outer(line, line).reshape(1, 4, 4, 1)
    check_op(lambda a, b: gn.nn.conv2d_transpose(a, b, [1, 4, 4, 1], 2), [v, k], want, grad=False)


@pytest.mark.parametrize(
    "case",
    [((1, 3, 3, 2), (3, 3, 1, 2), (1, 6, 6, 1), 2, "SAME"),
     ((2, 2, 3, 1), (2, 3, 2, 1), (2, 5, 7, 2), 2, "VALID"),
     ((1, 4, 4, 2), (3, 3, 3, 2), (1, 4, 4, 3), 1, "SAME")],
    ids=str,
)  # fmt: skip
def test_conv2d_transpose(case):
    vs, ws, out, strides, padding = case
    check_op(
        lambda v, w: gn.nn.conv2d_transpose(v, w, out, strides, padding),
        [rand(*vs, seed=1), rand(*ws, seed=2)],
        lambda v, w: naive_conv2d_transpose(v, w, out, strides, padding),
    )


def test_conv2d_transpose_with_dynamic_output_batch():
    v = gn.placeholder(gn.float64, [None, 3, 3, 2])
    w = rand(3, 3, 1, 2, seed=2)
    y = gn.nn.conv2d_transpose(v, w, [gn.shape(v)[0], 6, 6, 1], [1, 2, 2, 1])
    assert y.shape == (None, 6, 6, 1)
    value = rand(2, 3, 3, 2, seed=1)
    with gn.Session() as s:
        got = s.run(y, {v: value})
    np.testing.assert_allclose(got, naive_conv2d_transpose(value, w, (2, 6, 6, 1), 2, "SAME"))


# -- depthwise_conv2d -----------------------------------------------------------------------------


def test_depthwise_output_channels_are_channel_times_multiplier_plus_m():
    x = np.array([10.0, 100.0]).reshape(1, 1, 1, 2)
    w = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
    want = np.array([10.0, 20.0, 300.0, 400.0]).reshape(1, 1, 1, 4)
    check_op(lambda a, b: gn.nn.depthwise_conv2d(a, b, [1, 1, 1, 1], "VALID"), [x, w], want)


DEPTHWISE_CASES = [
    ((1, 5, 5, 2), (3, 3, 2, 1), 1, "VALID", None),
    ((2, 5, 6, 2), (3, 3, 2, 2), 2, "SAME", None),
    ((1, 6, 6, 3), (2, 2, 3, 2), [1, 2, 2, 1], "VALID", None),
    ((1, 7, 6, 1), (3, 2, 1, 3), 1, "SAME", 2),
    ((1, 4, 4, 2), (3, 3, 2, 1), 1, [[0, 0], [2, 0], [1, 1], [0, 0]], None),
]


@pytest.mark.parametrize("case", DEPTHWISE_CASES, ids=str)
def test_depthwise_conv2d(case):
    xs, ws, strides, padding, dilations = case
    check_op(
        lambda x, w: gn.nn.depthwise_conv2d(x, w, strides, padding, dilations=dilations),
        [rand(*xs, seed=1), rand(*ws, seed=2)],
        lambda x, w: naive_conv2d(
            x, w, strides, padding, 1 if dilations is None else dilations, depthwise=True
        ),
    )


def test_depthwise_conv2d_with_unknown_shapes_and_second_order():
    xs, ws, strides, padding, _ = DEPTHWISE_CASES[1]
    arrays = [rand(*xs, seed=1), rand(*ws, seed=2)]
    fn = lambda x, w: gn.nn.depthwise_conv2d(x, w, strides, padding)
    ref = lambda x, w: naive_conv2d(x, w, strides, padding, depthwise=True)
    check_op(fn, arrays, ref, static_shapes=False)
    check_grad(_second_order(fn), [rand(1, 4, 4, 2, seed=3), rand(2, 2, 2, 2, seed=4)])


# -- pooling --------------------------------------------------------------------------------------

GRID = np.array([[1.0, 3.0, 2.0, 4.0],
                 [5.0, 6.0, 7.0, 8.0],
                 [3.0, 2.0, 1.0, 0.0],
                 [1.0, 2.0, 3.0, 4.0]]).reshape(1, 4, 4, 1)  # fmt: skip


def test_textbook_max_and_average_pooling():
    want_max = np.array([[6.0, 8.0], [3.0, 4.0]]).reshape(1, 2, 2, 1)
    want_avg = np.array([[3.75, 5.25], [2.0, 2.0]]).reshape(1, 2, 2, 1)  # (1+3+5+6)/4, ...
    check_op(lambda x: gn.nn.max_pool(x, 2, 2, "VALID"), [GRID], want_max)
    check_op(lambda x: gn.nn.avg_pool(x, [1, 2, 2, 1], [1, 2, 2, 1], "VALID"), [GRID], want_avg)


def test_same_average_pooling_averages_unpadded_elements_only():
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    # windows [0 1; 3 4], [2; 5], [6 7], [8]: padding (bottom/right) is not counted
    want = np.array([[2.0, 3.5], [6.5, 8.0]]).reshape(1, 2, 2, 1)
    check_op(lambda a: gn.nn.avg_pool2d(a, 2, 2, "SAME"), [x], want)


POOL_CASES = [
    # x shape, ksize, strides, padding
    ((1, 4, 4, 1), 2, 2, "VALID"),
    ((2, 5, 5, 2), 2, 2, "SAME"),
    ((1, 5, 6, 2), 3, 2, "SAME"),
    ((1, 5, 5, 1), [1, 3, 3, 1], [1, 1, 1, 1], "SAME"),
    ((2, 6, 5, 1), (3, 2), (2, 1), "VALID"),
    ((1, 3, 3, 2), 1, 1, "VALID"),
]


@pytest.mark.parametrize("case", POOL_CASES, ids=str)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling(kind, case):
    xs, ksize, strides, padding = case
    op, reduce = (gn.nn.max_pool2d, np.max) if kind == "max" else (gn.nn.avg_pool2d, np.mean)
    check_op(
        lambda x: op(x, ksize, strides, padding),
        [rand(*xs, seed=1)],
        lambda x: naive_pool(x, ksize, strides, padding, reduce),
    )


@pytest.mark.parametrize("op", [gn.nn.max_pool, gn.nn.avg_pool])
def test_pooling_with_unknown_shapes(op):
    xs, ksize, strides, padding = POOL_CASES[2]
    reduce = np.max if op is gn.nn.max_pool else np.mean
    ref = lambda x: naive_pool(x, ksize, strides, padding, reduce)
    check_op(lambda x: op(x, ksize, strides, padding), [rand(*xs)], ref, static_shapes=False)


@pytest.mark.parametrize("op", [gn.nn.max_pool, gn.nn.avg_pool])
def test_pool_gradients_are_differentiable(op):
    """Pools are linear in x almost everywhere, so the second derivatives that matter are those
    of the gradient ops in their gradient input (and of those gradients in theirs)."""
    x, dy, g = rand(1, 5, 6, 2, seed=1), rand(1, 3, 3, 2, seed=2), rand(1, 5, 6, 2, seed=3)
    vjp = lambda a, d: gn.gradients(op(a, 3, 2, "SAME"), a, grad_ys=d)[0]
    check_grad(vjp, [x, dy], wrt=[1])
    check_grad(lambda a, d, h: gn.gradients(vjp(a, d), d, grad_ys=h)[0], [x, dy, g], wrt=[2])


def test_max_pool_gradient_goes_to_the_first_max_of_each_window():
    x = np.array([[1.0, 1.0, 0.0],
                  [1.0, 1.0, 2.0],
                  [0.0, 2.0, 2.0]]).reshape(1, 3, 3, 1)  # fmt: skip
    dy = np.array([[1.0, 10.0], [100.0, 1000.0]]).reshape(1, 2, 2, 1)
    # overlapping 2x2 windows (stride 1): the maxima 1, 2, 2, 2 first appear at (0,0), (1,2),
    # (2,1), (1,2)
    want = np.array([[1.0, 0.0, 0.0],
                     [0.0, 0.0, 1010.0],
                     [0.0, 100.0, 0.0]]).reshape(1, 3, 3, 1)  # fmt: skip
    np.testing.assert_array_equal(naive_max_pool_grad(x, dy, 2, 1, "VALID"), want)
    ph = gn.placeholder(gn.float64, [1, 3, 3, 1])
    (gx,) = gn.gradients(gn.nn.max_pool(ph, 2, 1, "VALID"), [ph], grad_ys=dy)
    with gn.Session() as s:
        np.testing.assert_array_equal(s.run(gx, {ph: x}), want)


def test_max_pool_grad_on_ties_and_padding():
    x = np.round(rand(2, 5, 5, 2, seed=3) * 2) / 2  # many ties
    dy = rand(2, 3, 3, 2, seed=4)
    check_op(
        lambda a, g: gn.gradients(gn.nn.max_pool(a, 3, 2, "SAME"), a, grad_ys=g)[0],
        [x, dy],
        lambda a, g: naive_max_pool_grad(a, g, 3, 2, "SAME"),
        grad=[1],
    )


def test_max_pool_on_integers():
    x = np.array([[-5, -7], [-9, -6]], dtype=np.int32).reshape(1, 2, 2, 1)
    want = np.array([[-5, -6], [-6, -6]], dtype=np.int32).reshape(1, 2, 2, 1)
    check_op(lambda a: gn.nn.max_pool(a, 2, 1, "SAME"), [x], want, grad=False)


# -- errors name the node and what was expected and given -----------------------------------------


def test_channel_mismatch():
    x = gn.placeholder(gn.float32, [None, 8, 8, 3])
    w = gn.placeholder(gn.float32, [3, 3, 4, 16])
    with pytest.raises(gn.ShapeError, match=r"node 'c1' \(conv2d\).*has 3 channels.*expects 4"):
        gn.nn.conv2d(x, w, 1, "SAME", name="c1")
    with pytest.raises(gn.ShapeError, match=r"node 'd1' \(depthwise_conv2d\).*3 channels"):
        gn.nn.depthwise_conv2d(x, w, 1, "SAME", name="d1")


def test_kernel_larger_than_valid_input():
    x = gn.placeholder(gn.float32, [1, 2, 5, 1])
    w = gn.placeholder(gn.float32, [3, 3, 1, 1])
    with pytest.raises(gn.ShapeError, match=r"node 'c2' \(conv2d\).*kernel size 3.*input size 2"):
        gn.nn.conv2d(x, w, 1, "VALID", name="c2")
    with pytest.raises(gn.ShapeError, match=r"node 'c3' .*dilation 2: a window of 5"):
        gn.nn.conv2d(gn.placeholder(gn.float32, [1, 4, 4, 1]), w, 1, "VALID", dilations=2,
                     name="c3")  # fmt: skip
    with pytest.raises(gn.ShapeError, match=r"node 'p1' \(max_pool\).*kernel size 3"):
        gn.nn.max_pool(x, 3, 1, "VALID", name="p1")


@pytest.mark.parametrize("padding", ["same", "FULL", [[1, 1], [1, 1], [0, 0], [0, 0]], 3])
def test_bad_padding(padding):
    x = gn.placeholder(gn.float32, [1, 5, 5, 1])
    w = gn.placeholder(gn.float32, [3, 3, 1, 1])
    with pytest.raises(gn.ShapeError, match=r"node 'c4' \(conv2d\): padding must be 'SAME', "):
        gn.nn.conv2d(x, w, 1, padding, name="c4")


def test_bad_pool_arguments():
    x = gn.placeholder(gn.float32, [1, 5, 5, 1])
    with pytest.raises(gn.ShapeError, match=r"node 'p2' \(avg_pool\): padding must be 'SAME', "
                                            r"'VALID', got"):  # fmt: skip
        gn.nn.avg_pool(x, 2, 2, [[0, 0], [1, 1], [1, 1], [0, 0]], name="p2")
    with pytest.raises(gn.ShapeError, match=r"node 'p3' \(max_pool\): strides must be .*\(2, 1"):
        gn.nn.max_pool(x, 2, [2, 1, 1, 1], "SAME", name="p3")
    with pytest.raises(gn.ShapeError, match=r"node 'p4' \(max_pool\): input must be 4-D"):
        gn.nn.max_pool(gn.placeholder(gn.float32, [5, 5]), 2, 2, "SAME", name="p4")
    with pytest.raises(gn.ShapeError, match="NHWC only"):
        gn.nn.max_pool(x, 2, 2, "SAME", data_format="NCHW")


def test_transpose_output_shape_must_fit_the_value():
    v = gn.placeholder(gn.float32, [1, 3, 3, 2])
    w = gn.placeholder(gn.float32, [3, 3, 1, 2])
    with pytest.raises(
        gn.ShapeError,
        match=r"node 't1' \(conv2d_backprop_input\): the output shape \[1,3,3,2\] does not "
        r"match \[1,4,4,2\], the one input \[1,8,8,1\] gives",
    ):
        gn.nn.conv2d_transpose(v, w, [1, 8, 8, 1], 2, name="t1")
    with pytest.raises(
        gn.ShapeError,
        match=r"node 't2' .*filter \[3,3,1,2\] gives 2 output channels but the output "
        r"\[1,3,3,5\] has 5",
    ):
        gn.nn.conv2d_transpose(gn.placeholder(gn.float32, [1, 3, 3, 5]), w, [1, 6, 6, 1], 2,
                               name="t2")  # fmt: skip
