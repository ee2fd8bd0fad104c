"""nn ops against NumPy formulas, gradients against finite differences."""

import numpy as np
import pytest
import scipy.special

import graphnet as gn
from graphnet.train.gradient_check import check_gradients
from tests.helpers import check_grad, check_op, rand


def _second_order(op):
    """x -> d/dx sum(w * op(x)) for fixed w: checking its gradient checks second derivatives."""

    def fn(x):
        y = op(x)
        w = gn.constant(np.linspace(0.5, 1.5, int(np.prod(y.shape))).reshape(y.shape))
        return gn.gradients(gn.reduce_sum(y * w), x)[0]

    return fn


# -- activations ------------------------------------------------------------------------------

SELU_ALPHA, SELU_SCALE = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
ACTIVATIONS = {
    "relu": (gn.nn.relu, lambda x: np.where(x > 0, x, 0.0)),
    "relu6": (gn.nn.relu6, lambda x: np.clip(x, 0.0, 6.0)),
    "leaky_relu": (gn.nn.leaky_relu, lambda x: np.where(x > 0, x, 0.2 * x)),
    "leaky_relu_0.01": (lambda x: gn.nn.leaky_relu(x, alpha=0.01),
                        lambda x: np.where(x > 0, x, 0.01 * x)),
    "elu": (gn.nn.elu, lambda x: np.where(x > 0, x, np.exp(x) - 1)),
    "selu": (gn.nn.selu, lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * (np.exp(x) - 1))),
    "softplus": (gn.nn.softplus, lambda x: np.log(1 + np.exp(x))),
    "softsign": (gn.nn.softsign, lambda x: x / (1 + np.abs(x))),
    "gelu": (gn.nn.gelu, lambda x: x * 0.5 * (1 + scipy.special.erf(x / np.sqrt(2)))),
    "gelu_tanh": (lambda x: gn.nn.gelu(x, approximate=True),
                  lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))),
    "swish": (gn.nn.swish, lambda x: x / (1 + np.exp(-x))),
    "silu_beta": (lambda x: gn.nn.silu(x, beta=1.5), lambda x: x / (1 + np.exp(-1.5 * x))),
    "sigmoid": (gn.nn.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
}  # fmt: skip


@pytest.mark.parametrize("shape", [(), (1,), (3, 4), (2, 1, 3)])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation(name, shape):
    op, ref = ACTIVATIONS[name]
    check_op(op, [rand(*shape, low=-8.0, high=8.0)], ref)


@pytest.mark.parametrize("name", ["relu", "elu", "selu", "softplus", "gelu"])
def test_activation_with_unknown_batch_dimension(name):
    op, ref = ACTIVATIONS[name]
    check_op(op, [rand(3, 4, low=-3.0, high=3.0)], ref, static_shapes=False)


@pytest.mark.parametrize(
    "name", ["elu", "selu", "softplus", "softsign", "gelu", "gelu_tanh", "swish", "silu_beta"]
)
def test_activation_second_order_gradient(name):
    check_grad(_second_order(ACTIVATIONS[name][0]), [rand(2, 3, low=-3.0, high=3.0)])


def test_activations_at_their_kinks_and_extremes():
    x = np.array([-1000.0, -6.0, 0.0, 6.0, 1000.0])
    g = gn.placeholder(gn.float64, [5])
    ops = [gn.nn.relu, gn.nn.relu6, gn.nn.leaky_relu, gn.nn.elu, gn.nn.selu, gn.nn.softplus]
    outs = [op(g) for op in ops]
    grads = [gn.gradients(gn.reduce_sum(o), g)[0] for o in outs]
    with gn.Session() as s:
        values, slopes = s.run([outs, grads], {g: x})
    np.testing.assert_allclose(values[1], [0, 0, 0, 6, 6])
    tail = np.log1p(np.exp(-6))
    np.testing.assert_allclose(values[5], [0, tail, np.log(2), 6 + tail, 1000])
    np.testing.assert_allclose(slopes[0], [0, 0, 0, 1, 1])  # TF: relu' is 0 at 0
    np.testing.assert_allclose(slopes[1], [0, 0, 0, 0, 0])  # and relu6' is 0 at 6
    np.testing.assert_allclose(slopes[2], [0.2, 0.2, 0.2, 1, 1])
    np.testing.assert_allclose(slopes[3], [0, np.exp(-6), 1, 1, 1])
    selu_slope = SELU_SCALE * np.array([0, SELU_ALPHA * np.exp(-6), 1, 1, 1])
    np.testing.assert_allclose(slopes[4], selu_slope)
    np.testing.assert_allclose(slopes[5], scipy.special.expit(x))  # sigmoid, 0.5 at 0


def test_relu_accepts_integers():
    check_op(gn.nn.relu, [np.array([-2, 0, 3], dtype=np.int32)], np.array([0, 0, 3]), grad=False)


def test_activation_dtype_error_names_the_node():
    with pytest.raises(gn.DTypeError, match=r"node 'act' \(elu\).*must be float"):
        gn.nn.elu(gn.constant([1, 2]), name="act")


# -- bias_add ---------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 4), (1, 1), (2, 3, 5), (2, 2, 3, 1)])
def test_bias_add(shape):
    check_op(gn.nn.bias_add, [rand(*shape), rand(shape[-1], seed=1)], lambda v, b: v + b)


def test_bias_add_with_unknown_batch_dimension_and_xw_plus_b():
    check_op(gn.nn.bias_add, [rand(3, 4), rand(4, seed=1)], np.add, static_shapes=False)
    check_op(gn.nn.xw_plus_b, [rand(2, 3), rand(3, 4, seed=1), rand(4, seed=2)],
             lambda x, w, b: x @ w + b)  # fmt: skip
    v = gn.placeholder(gn.float32, [None, 5])
    assert gn.nn.bias_add(v, gn.placeholder(gn.float32, [None])).shape == (None, 5)


def test_bias_add_shape_errors_name_the_node():
    value = gn.placeholder(gn.float32, [2, 4], name="value")
    with pytest.raises(gn.ShapeError, match=r"node 'ba' \(bias_add\).*\[3\].*expected \[4\]"):
        gn.nn.bias_add(value, gn.placeholder(gn.float32, [3]), name="ba")
    with pytest.raises(gn.ShapeError, match=r"node 'ba' \(bias_add\): bias must be 1-D"):
        gn.nn.bias_add(value, gn.placeholder(gn.float32, [1, 4]), name="ba")
    with pytest.raises(gn.ShapeError, match=r"node 'ba' \(bias_add\).*rank >= 2"):
        gn.nn.bias_add(gn.placeholder(gn.float32, [4]), gn.placeholder(gn.float32, [4]), name="ba")
    with pytest.raises(ValueError, match="NCHW"):
        gn.nn.bias_add(value, gn.placeholder(gn.float32, [4]), data_format="NCHW")


# -- softmax ----------------------------------------------------------------------------------


def _np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("shape,axis", [((4,), None), ((3, 4), None), ((3, 4), 0), ((2, 3, 4), 1),
                                        ((2, 1), -1), ((1, 3), 0)])  # fmt: skip
def test_softmax_and_log_softmax(shape, axis):
    x = rand(*shape, low=-3.0, high=3.0)
    ax = -1 if axis is None else axis
    check_op(lambda t: gn.nn.softmax(t, axis=axis), [x], lambda a: _np_softmax(a, ax))
    check_op(lambda t: gn.nn.log_softmax(t, axis=axis), [x], lambda a: np.log(_np_softmax(a, ax)))


def test_softmax_textbook_scores():
    scores = np.array([0.35, -0.85, 1.25])
    expected = np.exp(scores) / np.sum(np.exp(scores))
    with gn.Session() as s:
        probs = s.run(gn.nn.softmax(gn.constant(scores)))
    np.testing.assert_allclose(probs, expected, rtol=1e-12)
    np.testing.assert_allclose(probs, [0.2659, 0.0801, 0.6540], atol=1e-4)


def test_softmax_is_stable_for_large_logits():
    logits = np.array([[1000.0, 1000.0, 999.0], [-1000.0, 0.0, 1000.0]])
    shifted = logits - logits.max(axis=1, keepdims=True)
    want_log = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    for dtype in (np.float32, np.float64):
        check_op(gn.nn.softmax, [logits.astype(dtype)], np.exp(want_log), grad=False, rtol=1e-5)
        check_op(gn.nn.log_softmax, [logits.astype(dtype)], want_log, grad=False, rtol=1e-5)
    check_grad(gn.nn.softmax, [logits])
    check_grad(gn.nn.log_softmax, [logits])


def test_softmax_unknown_batch_and_second_order():
    check_op(gn.nn.softmax, [rand(3, 4)], _np_softmax, static_shapes=False)
    check_op(gn.nn.log_softmax, [rand(3, 4)], lambda a: np.log(_np_softmax(a)),
             static_shapes=False)  # fmt: skip
    check_grad(_second_order(gn.nn.softmax), [rand(2, 3)])
    check_grad(_second_order(gn.nn.log_softmax), [rand(2, 3)])


def test_softmax_axis_error_names_the_node():
    with pytest.raises(gn.ShapeError, match=r"node 'sm' \(softmax\): axis 2 is out of range"):
        gn.nn.softmax(gn.placeholder(gn.float32, [2, 3]), axis=2, name="sm")


# -- batch normalization ------------------------------------------------------------------------


def test_batch_normalization_formula():
    def ref(x, m, v, o, s):
        return (x - m) / np.sqrt(v + 1e-3) * s + o

    arrays = [rand(4, 3), rand(3, seed=1), rand(3, seed=2, low=0.5, high=2.0), rand(3, seed=3),
              rand(3, seed=4)]  # fmt: skip
    check_op(lambda *t: gn.nn.batch_normalization(*t, variance_epsilon=1e-3), arrays, ref)
    check_op(
        lambda x, m, v: gn.nn.batch_normalization(x, m, v, None, None, 1e-3),
        arrays[:3],
        lambda x, m, v: (x - m) / np.sqrt(v + 1e-3),
        static_shapes=False,
    )


@pytest.mark.parametrize("axes,keepdims", [([0], False), ([0, 1, 2], False), ([1], True)])
def test_moments(axes, keepdims):
    x = rand(2, 3, 4)
    check_op(
        lambda t: gn.nn.moments(t, axes, keepdims=keepdims),
        [x],
        lambda a: (a.mean(axis=tuple(axes), keepdims=keepdims),
                   a.var(axis=tuple(axes), keepdims=keepdims)),
    )  # fmt: skip
    check_grad(_second_order(lambda t: gn.nn.moments(t, axes)[1]), [rand(2, 3, 2)])


def _np_batch_norm_training(x, scale, offset, eps=1e-3):
    axes = tuple(range(x.ndim - 1))
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    n = x.size // x.shape[-1]
    return (x - mean) / np.sqrt(var + eps) * scale + offset, mean, var * n / max(n - 1, 1)


BN_SHAPES = [(2, 3, 3, 2), (4, 3), (1, 2, 2, 1), (5, 1)]


@pytest.mark.parametrize("shape", BN_SHAPES)
def test_fused_batch_norm_training(shape):
    c = shape[-1]
    arrays = [rand(*shape), rand(c, seed=1, low=0.5, high=1.5), rand(c, seed=2)]
    check_op(lambda *t: gn.nn.fused_batch_norm(*t), arrays, _np_batch_norm_training)


def test_fused_batch_norm_training_single_element_and_unknown_batch():
    # One element per channel: variance 0, and the Bessel factor stays 1 (as TF).
    arrays = [rand(1, 3), rand(3, seed=1), rand(3, seed=2)]
    check_op(lambda *t: gn.nn.fused_batch_norm(*t), arrays, _np_batch_norm_training, grad=False)
    arrays = [rand(3, 2, 2), rand(2, seed=1), rand(2, seed=2)]
    check_op(lambda *t: gn.nn.fused_batch_norm(*t, epsilon=0.01), arrays,
             lambda *a: _np_batch_norm_training(*a, eps=0.01), static_shapes=False)  # fmt: skip


def test_fused_batch_norm_training_second_order():
    scale, offset = rand(2, seed=1), rand(2, seed=2)
    check_grad(_second_order(lambda x: gn.nn.fused_batch_norm(x, scale, offset)[0]),
               [rand(3, 2)])  # fmt: skip
    check_grad(_second_order(lambda x: gn.nn.fused_batch_norm(x, scale, offset)[2]),
               [rand(3, 2)])  # fmt: skip


@pytest.mark.parametrize("shape", [(2, 3, 3, 2), (4, 3), (1, 1)])
@pytest.mark.parametrize("static_shapes", [True, False])
def test_fused_batch_norm_inference(shape, static_shapes):
    c = shape[-1]
    arrays = [rand(*shape), rand(c, seed=1), rand(c, seed=2), rand(c, seed=3),
              rand(c, seed=4, low=0.5, high=2.0)]  # fmt: skip

    def ref(x, scale, offset, mean, var):
        return (x - mean) / np.sqrt(var + 1e-3) * scale + offset, mean, var

    check_op(
        lambda x, s, o, m, v: gn.nn.fused_batch_norm(x, s, o, m, v, is_training=False),
        arrays,
        ref,
        static_shapes=static_shapes,
    )


def test_fused_batch_norm_is_one_primitive_with_its_attrs():
    x = gn.placeholder(gn.float32, [None, 4, 4, 3])
    y, mean, var = gn.nn.fused_batch_norm(x, np.ones(3, np.float32), np.zeros(3, np.float32))
    assert y.node is mean.node is var.node
    assert y.node.type == "fused_batch_norm"
    assert dict(y.node.attrs) == {"epsilon": 0.001, "is_training": True}
    assert y.shape == (None, 4, 4, 3) and mean.shape == (3,) and var.shape == (3,)


def test_fused_batch_norm_errors():
    x = gn.placeholder(gn.float32, [2, 4, 4, 3], name="x")
    three, four = np.ones(3, np.float32), np.ones(4, np.float32)
    with pytest.raises(gn.ShapeError, match=r"node 'bn' \(fused_batch_norm\): offset .*\[4\]"):
        gn.nn.fused_batch_norm(x, three, four, name="bn")
    with pytest.raises(ValueError, match="must be None when is_training"):
        gn.nn.fused_batch_norm(x, three, three, three, three)
    with pytest.raises(ValueError, match="needs mean and variance"):
        gn.nn.fused_batch_norm(x, three, three, is_training=False)
    with pytest.raises(ValueError, match="NCHW"):
        gn.nn.fused_batch_norm(x, three, three, data_format="NCHW")


# -- dropout ----------------------------------------------------------------------------------


def _random_nodes(graph):
    return [n for n in graph.nodes if n.type == "random_uniform"]


def test_dropout_rate_zero_and_training_false_are_identity():
    x = gn.placeholder(gn.float32, [None, 3])
    assert gn.nn.dropout(x, rate=0.0) is x
    assert gn.nn.dropout(x, keep_prob=1.0) is x
    assert gn.nn.dropout(x, rate=0.5, training=False) is x
    assert not _random_nodes(x.graph)


def test_dropout_keeps_about_one_minus_rate_and_scales():
    x = np.ones((200, 500))
    with gn.Session() as s:
        out = s.run(gn.nn.dropout(gn.constant(x), rate=0.3))
    kept = out != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(out[kept], 1 / 0.7)


def test_dropout_gradient_uses_the_same_mask():
    x = gn.placeholder(gn.float64, [None, 50])
    y = gn.nn.dropout(x, keep_prob=0.6)
    (g,) = gn.gradients(gn.reduce_sum(y), x)
    data = rand(40, 50, low=0.5, high=1.5)
    with gn.Session() as s:
        out, grad = s.run([y, g], {x: data})
    np.testing.assert_allclose(grad, np.where(out != 0, 1 / 0.6, 0.0))
    np.testing.assert_allclose(out, data * grad)


def test_dropout_is_reproducible_under_seeds():
    def draw(graph_seed, op_seed):
        with gn.Graph().as_default():
            if graph_seed is not None:
                gn.set_random_seed(graph_seed)
            y = gn.nn.dropout(gn.ones([20, 20]), rate=0.5, seed=op_seed)
            with gn.Session() as s:
                return s.run(y), s.run(y)

    a1, a2 = draw(1, None)
    b1, _ = draw(1, None)
    c1, _ = draw(None, 7)
    d1, _ = draw(None, 7)
    e1, _ = draw(2, None)
    np.testing.assert_array_equal(a1, b1)
    np.testing.assert_array_equal(c1, d1)
    assert not np.array_equal(a1, e1)
    assert not np.array_equal(a1, a2)  # a new mask on every run


def test_dropout_noise_shape_broadcasts_the_mask():
    x = gn.placeholder(gn.float32, [None, 4, 6])
    y = gn.nn.dropout(x, rate=0.5, noise_shape=[None, 1, 6], seed=3)
    with gn.Session() as s:
        out = s.run(y, {x: np.ones((5, 4, 6))})
    assert out.shape == (5, 4, 6)
    np.testing.assert_array_equal(out, np.broadcast_to(out[:, :1, :], out.shape))
    assert 0 < np.count_nonzero(out) < out.size


def test_dropout_with_training_tensor():
    x = gn.constant(np.ones((10, 10)))
    training = gn.placeholder(gn.bool, [])
    y = gn.nn.dropout(x, rate=0.5, training=training, seed=1)
    with gn.Session() as s:
        np.testing.assert_array_equal(s.run(y, {training: False}), np.ones((10, 10)))
        out = s.run(y, {training: True})
    assert set(np.unique(out)) <= {0.0, 2.0} and 0 < np.count_nonzero(out) < 100


def test_dropout_argument_errors():
    x = gn.placeholder(gn.float32, [3])
    with pytest.raises(ValueError, match="exactly one"):
        gn.nn.dropout(x)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        gn.nn.dropout(x, rate=1.0)


# -- l2_loss and lrn ----------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(), (1,), (3, 4)])
def test_l2_loss(shape):
    check_op(gn.nn.l2_loss, [rand(*shape)], lambda t: np.sum(t**2) / 2)


def _np_lrn(x, depth_radius=5, bias=1.0, alpha=1.0, beta=0.5):
    c = x.shape[-1]
    sqr_sum = np.zeros_like(x)
    for d in range(c):
        lo, hi = max(0, d - depth_radius), min(c, d + depth_radius + 1)
        sqr_sum[..., d] = np.sum(x[..., lo:hi] ** 2, axis=-1)
    return x / (bias + alpha * sqr_sum) ** beta


@pytest.mark.parametrize(
    "shape,kwargs",
    [((1, 2, 2, 7), {}), ((2, 1, 2, 5), {"depth_radius": 1, "bias": 2.0, "alpha": 0.5,
                                         "beta": 0.75}),
     ((1, 1, 1, 1), {"depth_radius": 2})],
)  # fmt: skip
def test_lrn(shape, kwargs):
    check_op(lambda t: gn.nn.lrn(t, **kwargs), [rand(*shape)], lambda a: _np_lrn(a, **kwargs))


def test_lrn_unknown_batch_second_order_and_errors():
    x = gn.placeholder(gn.float64, [None, 1, 2, 4])
    y = gn.nn.local_response_normalization(x, depth_radius=1)
    assert y.shape == (None, 1, 2, 4)
    data = rand(3, 1, 2, 4)
    with gn.Session() as s:
        np.testing.assert_allclose(s.run(y, {x: data}), _np_lrn(data, depth_radius=1))
        errors = check_gradients(gn.reduce_sum(y * y), [x], {x: data}, session=s)
    assert max(errors.values()) < 1e-6
    x = gn.placeholder(gn.float32, [None, 4, 4, None], name="img")
    with pytest.raises(gn.ShapeError, match=r"img:0 must be 4-D .*known channel count"):
        gn.nn.lrn(x)
    check_grad(_second_order(lambda t: gn.nn.lrn(t, depth_radius=1)), [rand(1, 1, 2, 3)])
