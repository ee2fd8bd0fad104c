"""Each layer's output (predict, inference mode) against a NumPy formula, its weights set with
set_weights; shapes, parameter counts and names as Keras gives them."""

import numpy as np
import pytest

import graphnet as gn
import graphnet.keras as K
from graphnet.keras import layers as L
from tests.keras import reference as ref

pytestmark = pytest.mark.usefixtures("float64")


def _apply(layer, x, weights=None, input_shape=None):
    """layer on Input(x's shape), weights set, predict(x): (model, output)."""
    inp = K.Input(shape=x.shape[1:] if input_shape is None else input_shape)
    model = K.Model(inp, layer(inp))
    if weights is not None:
        layer.set_weights(weights)
    return model, model.predict(x)


def _close(got, want):
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


X_IMG = np.random.default_rng(0).normal(size=(2, 6, 5, 3))
X_SEQ = np.random.default_rng(0).normal(size=(2, 4, 3))


@pytest.mark.parametrize("activation", [None, "relu", "tanh", "sigmoid", "softmax"])
def test_dense(activation):
    x = np.random.default_rng(0).normal(size=(4, 3))
    layer = L.Dense(5, activation=activation)
    kernel, bias = np.arange(15.0).reshape(3, 5) / 10, np.linspace(-1, 1, 5)
    _, y = _apply(layer, x, [kernel, bias])
    z = x @ kernel + bias
    expected = {
        None: z,
        "relu": np.maximum(z, 0),
        "tanh": np.tanh(z),
        "sigmoid": ref.sigmoid(z),
        "softmax": np.exp(z) / np.exp(z).sum(-1, keepdims=True),
    }[activation]
    _close(y, expected)
    assert [w.name for w in layer.weights] == ["dense/kernel:0", "dense/bias:0"]
    assert layer.count_params() == 20


def test_dense_over_the_last_axis_of_a_3d_input_and_without_bias():
    x = np.random.default_rng(0).normal(size=(2, 4, 3))
    layer = L.Dense(2, use_bias=False)
    model, y = _apply(layer, x, [np.ones((3, 2))])
    assert model.output_shape == (None, 4, 2)
    _close(y, x @ np.ones((3, 2)))


@pytest.mark.parametrize(
    ("strides", "padding", "dilation"),
    [(1, "valid", 1), (2, "same", 1), (1, "same", 2), (2, "valid", 1)],
)
def test_conv2d(strides, padding, dilation):
    layer = L.Conv2D(
        4, (3, 2), strides=strides, padding=padding, dilation_rate=dilation, activation="relu"
    )
    weights = _random_weights_for(layer, [(3, 2, 3, 4), (4,)])
    model, y = _apply(layer, X_IMG, weights)
    kernel, bias = weights
    if dilation == 1:
        want = ref.conv2d(X_IMG, kernel, strides, padding) + bias
    else:
        want = ref.conv2d(X_IMG, kernel, 1, padding, dilation) + bias
    _close(y, np.maximum(want, 0))
    assert model.output_shape == (None, *want.shape[1:])
    assert layer.count_params() == 3 * 2 * 3 * 4 + 4


def _random_weights_for(layer, shapes, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s) * 0.5 for s in shapes]


def test_depthwise_conv2d():
    layer = L.DepthwiseConv2D(3, depth_multiplier=2, padding="same")
    weights = _random_weights_for(layer, [(3, 3, 3, 2), (6,)])
    _, y = _apply(layer, X_IMG, weights)
    _close(y, ref.depthwise_conv2d(X_IMG, weights[0], 1, "same") + weights[1])


def test_separable_conv2d():
    layer = L.SeparableConv2D(4, 3, strides=2, depth_multiplier=2)
    depthwise, pointwise, bias = _random_weights_for(layer, [(3, 3, 3, 2), (1, 1, 6, 4), (4,)])
    _, y = _apply(layer, X_IMG, [depthwise, pointwise, bias])
    middle = ref.depthwise_conv2d(X_IMG, depthwise, 2, "valid")
    _close(y, ref.conv2d(middle, pointwise) + bias)
    assert [w.name.split("/")[1] for w in layer.weights] == [
        "depthwise_kernel:0",
        "pointwise_kernel:0",
        "bias:0",
    ]


@pytest.mark.parametrize(
    ("kernel", "strides", "padding", "output_padding", "size"),
    [
        (3, 2, "valid", None, (13, 11)),
        (3, 2, "same", None, (12, 10)),
        (2, 3, "valid", None, (18, 15)),
        (3, 2, "valid", 1, (14, 12)),
        (3, 2, "same", 1, (12, 10)),
    ],
)
def test_conv2d_transpose(kernel, strides, padding, output_padding, size):
    layer = L.Conv2DTranspose(
        2, kernel, strides=strides, padding=padding, output_padding=output_padding
    )
    weights = _random_weights_for(layer, [(kernel, kernel, 2, 3), (2,)])
    model, y = _apply(layer, X_IMG, weights)
    assert model.output_shape == (None, *size, 2)
    _close(y, ref.conv2d_transpose(X_IMG, weights[0], strides, size, padding) + weights[1])


def test_pooling_layers():
    _, y = _apply(L.MaxPooling2D(), X_IMG)
    _close(y, ref.pool2d(X_IMG, 2, 2, np.max))
    _, y = _apply(L.AveragePooling2D(pool_size=3, strides=1), X_IMG)
    _close(y, ref.pool2d(X_IMG, 3, 1, np.mean))
    model, y = _apply(L.GlobalAveragePooling2D(), X_IMG)
    assert model.output_shape == (None, 3)
    _close(y, X_IMG.mean(axis=(1, 2)))
    _, y = _apply(L.GlobalMaxPooling2D(keepdims=True), X_IMG)
    _close(y, X_IMG.max(axis=(1, 2), keepdims=True))


def test_shape_layers():
    model, y = _apply(L.Flatten(), X_IMG)
    assert model.output_shape == (None, 90)
    _close(y, X_IMG.reshape(2, -1))
    model, y = _apply(L.Reshape((-1, 3)), X_IMG)
    assert model.output_shape == (None, 30, 3)
    _close(y, X_IMG.reshape(2, 30, 3))
    model, y = _apply(L.ZeroPadding2D(((1, 2), (0, 1))), X_IMG)
    assert model.output_shape == (None, 9, 6, 3)
    _close(y, np.pad(X_IMG, [(0, 0), (1, 2), (0, 1), (0, 0)]))
    with pytest.raises(gn.ShapeError, match="reshape"):
        _apply(L.Reshape((7, -1)), X_IMG)


def test_activation_and_lambda_layers():
    _, y = _apply(L.Activation("elu"), X_SEQ)
    _close(y, np.where(X_SEQ > 0, X_SEQ, np.expm1(X_SEQ)))
    _, y = _apply(L.Lambda(lambda t: t * 2.0 + 1.0), X_SEQ)
    _close(y, X_SEQ * 2 + 1)


@pytest.mark.parametrize(
    ("options", "formula"),
    [
        ({}, lambda x: np.maximum(x, 0)),
        ({"max_value": 0.5}, lambda x: np.clip(x, 0, 0.5)),
        ({"negative_slope": 0.1}, lambda x: np.where(x >= 0, x, 0.1 * x)),
        (
            {"max_value": 1.0, "negative_slope": 0.2, "threshold": 0.3},
            lambda x: np.minimum(np.where(x >= 0.3, x, 0.2 * (x - 0.3)), 1.0),
        ),
    ],
)
def test_relu_layer(options, formula):
    _, y = _apply(L.ReLU(**options), X_SEQ)
    _close(y, formula(X_SEQ))
    assert L.ReLU(**options).get_config().items() >= {"negative_slope": 0.0, **options}.items()


def test_leaky_relu_layer_and_bad_relu_options():
    _, y = _apply(L.LeakyReLU(), X_SEQ)
    _close(y, np.where(X_SEQ > 0, X_SEQ, 0.3 * X_SEQ))
    with pytest.raises(ValueError, match="max_value of a ReLU layer cannot be negative, got -1"):
        L.ReLU(max_value=-1)


def test_merge_layers():
    a, b = K.Input(shape=(3,)), K.Input(shape=(3,))
    outputs = [
        L.Add()([a, b]),
        L.Subtract()([a, b]),
        L.Multiply()([a, b]),
        L.Average()([a, b]),
        L.Maximum()([a, b]),
        L.Concatenate()([a, b]),
        L.concatenate([a, b], axis=0),
    ]
    model = K.Model([a, b], outputs)
    xa, xb = np.random.default_rng(0).normal(size=(2, 2, 3))
    got = model.predict([xa, xb])
    want = [
        xa + xb,
        xa - xb,
        xa * xb,
        (xa + xb) / 2,
        np.maximum(xa, xb),
        np.concatenate([xa, xb], -1),
        np.concatenate([xa, xb], 0),
    ]
    for g, w in zip(got[:6], want[:6], strict=True):
        _close(g, w)
    assert model.output_shape[5] == (None, 6)
    with pytest.raises(ValueError, match="at least 2 inputs"):
        L.Add()([a])


def test_embedding_gathers_rows():
    ids = np.array([[1, 2, 3], [0, 4, 4]])
    layer = L.Embedding(5, 2, input_length=3)
    table = np.arange(10.0).reshape(5, 2)
    model, y = _apply(layer, ids, [table])
    assert model.output_shape == (None, 3, 2)
    _close(y, table[ids])


def test_batch_normalization_inference_uses_the_moving_statistics():
    layer = L.BatchNormalization(epsilon=0.01)
    gamma, beta = np.array([1.0, 2, 3]), np.array([0.1, 0, -1])
    mean, var = np.array([0.5, -1, 0]), np.array([1.0, 4, 0.25])
    _, y = _apply(layer, X_IMG, [gamma, beta, mean, var])
    _close(y, gamma * (X_IMG - mean) / np.sqrt(var + 0.01) + beta)
    assert [w.name for w in layer.weights] == [
        "batch_normalization/gamma:0",
        "batch_normalization/beta:0",
        "batch_normalization/moving_mean:0",
        "batch_normalization/moving_variance:0",
    ]
    assert len(layer.trainable_weights) == 2 and len(layer.non_trainable_weights) == 2


def test_simple_rnn():
    layer = L.SimpleRNN(4, return_sequences=True)
    weights = _random_weights_for(layer, [(3, 4), (4, 4), (4,)])
    _, y = _apply(layer, X_SEQ, weights)
    _close(y, ref.simple_rnn(X_SEQ, *weights)[0])
    assert layer.count_params() == 3 * 4 + 16 + 4


def test_lstm_with_keras_gate_order_and_states():
    layer = L.LSTM(4, return_state=True)
    weights = _random_weights_for(layer, [(3, 16), (4, 16), (16,)])
    model, (out, h, c) = _apply(layer, X_SEQ, weights)
    _, want_h, want_c = ref.lstm(X_SEQ, *weights)
    _close(out, want_h)
    _close(h, want_h)
    _close(c, want_c)
    assert model.output_shape == [(None, 4), (None, 4), (None, 4)]


def test_lstm_forget_bias_starts_at_one():
    layer = L.LSTM(3)
    _apply(layer, X_SEQ)
    bias = layer.get_weights()[2]
    np.testing.assert_array_equal(bias, [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])


@pytest.mark.parametrize("reset_after", [True, False])
def test_gru(reset_after):
    layer = L.GRU(4, return_sequences=True, reset_after=reset_after)
    bias_shape = (2, 12) if reset_after else (12,)
    weights = _random_weights_for(layer, [(3, 12), (4, 12), bias_shape])
    _, y = _apply(layer, X_SEQ, weights)
    _close(y, ref.gru(X_SEQ, *weights, reset_after=reset_after)[0])


def test_go_backwards_reads_the_sequence_from_the_end():
    layer = L.SimpleRNN(2, go_backwards=True)
    weights = _random_weights_for(layer, [(3, 2), (2, 2), (2,)])
    _, y = _apply(layer, X_SEQ, weights)
    _close(y, ref.simple_rnn(X_SEQ[:, ::-1], *weights)[1])


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "ave", "mul"])
def test_bidirectional(merge_mode):
    layer = L.Bidirectional(L.SimpleRNN(2, return_sequences=True), merge_mode=merge_mode)
    weights = _random_weights_for(layer, [(3, 2), (2, 2), (2,)] * 2)
    _, y = _apply(layer, X_SEQ, weights)
    forward = ref.simple_rnn(X_SEQ, *weights[:3])[0]
    backward = ref.simple_rnn(X_SEQ[:, ::-1], *weights[3:])[0][:, ::-1]
    want = {
        "concat": np.concatenate([forward, backward], -1),
        "sum": forward + backward,
        "ave": (forward + backward) / 2,
        "mul": forward * backward,
    }[merge_mode]
    _close(y, want)
    assert [w.name for w in layer.weights][::3] == [
        "forward_simple_rnn/kernel:0",
        "backward_simple_rnn/kernel:0",
    ]


def test_compute_output_shape():
    assert L.Conv2D(8, 3, strides=2).compute_output_shape((None, 9, 9, 3)) == (None, 4, 4, 8)
    assert L.Concatenate().compute_output_shape([(None, 2), (None, 3)]) == (None, 5)
    assert L.LSTM(4, return_state=True).compute_output_shape((None, 5, 2)) == [(None, 4)] * 3


def test_rnn_needs_a_known_number_of_steps():
    with pytest.raises(gn.ShapeError, match="fixed number of time steps"):
        L.LSTM(2)(K.Input(shape=(None, 3)))


def test_names_are_numbered_per_class_like_keras():
    names = [
        L.Dense(1).name,
        L.Dense(1).name,
        L.Conv2D(1, 1).name,
        L.MaxPooling2D().name,
        L.BatchNormalization().name,
        L.SimpleRNN(1).name,
        L.Dense(1, name="out").name,
    ]
    assert names == [
        "dense",
        "dense_1",
        "conv2d",
        "max_pooling2d",
        "batch_normalization",
        "simple_rnn",
        "out",
    ]
    assert K.Input(shape=(1,))._keras_history[0].name == "input_1"


def test_set_weights_checks_count_and_shapes():
    layer = L.Dense(2)
    _apply(layer, np.zeros((1, 3)))
    with pytest.raises(gn.ShapeError, match="expects 2 weight"):
        layer.set_weights([np.zeros((3, 2))])
    with pytest.raises(gn.ShapeError, match=r"dense/kernel:0.*\(3, 2\)"):
        layer.set_weights([np.zeros((2, 3)), np.zeros(2)])


def test_kernel_regularizer_adds_to_the_loss():
    x, y = np.ones((4, 3)), np.zeros((4, 1))
    inp = K.Input(shape=(3,))
    layer = L.Dense(1, kernel_regularizer=K.regularizers.L2(0.1), bias_initializer="ones")
    model = K.Model(inp, layer(inp))
    model.compile("sgd", "mse")
    kernel = np.array([[1.0], [2.0], [-1.0]])
    layer.set_weights([kernel, np.ones(1)])
    mse = np.mean((x @ kernel + 1) ** 2)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), mse + 0.1 * np.sum(kernel**2))


def test_a_layer_called_on_graph_tensors_builds_in_that_graph():
    x = gn.placeholder(gn.float64, [None, 3])
    layer = L.Dense(2, kernel_initializer="ones")
    y = layer(x)
    assert y.graph is x.graph and y.shape == (None, 2)
    assert len(gn.global_variables()) == 2
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        np.testing.assert_allclose(sess.run(y, {x: np.ones((1, 3))}), [[3.0, 3.0]])


def test_initializers_by_name_and_object():
    layer = L.Dense(
        40, kernel_initializer="glorot_uniform", bias_initializer=K.initializers.Constant(0.5)
    )
    _apply(layer, np.zeros((1, 60)))
    kernel, bias = layer.get_weights()
    limit = np.sqrt(6 / (60 + 40))
    assert np.all(np.abs(kernel) <= limit) and kernel.std() > limit / 3
    np.testing.assert_array_equal(bias, np.full(40, 0.5))
    conv = L.Conv2D(2, 3, kernel_initializer=K.initializers.HeNormal(seed=3), use_bias=False)
    _apply(conv, X_IMG)
    assert [w.shape for w in conv.get_weights()] == [(3, 3, 3, 2)]
    with pytest.raises(gn.GraphnetError, match="unknown initializer"):
        L.Dense(2, kernel_initializer="nope")
