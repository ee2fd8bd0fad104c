"""Optimization preserves semantics on the model families of the textbooks: results and
gradients at O1 and O2 equal O0 (float64 to 1e-10, float32 to 1e-5 relative), and plans
validate and survive poison mode."""

import numpy as np
import pytest

import graphnet as gn
from graphnet.compiler.memory import validate_memory

RNG = np.random.default_rng(0)


def _var(shape, dtype, scale=0.3):
    return gn.Variable(RNG.normal(0, scale, shape).astype(dtype))


def mlp(dtype):
    x = gn.placeholder(dtype, [None, 6], name="x")
    h = gn.nn.relu(gn.nn.bias_add(gn.matmul(x, _var((6, 8), dtype)), _var(8, dtype)))
    h = gn.nn.tanh(gn.matmul(h, _var((8, 4), dtype)) + 0.5)
    return x, (5, 6), gn.nn.softmax(gn.matmul(h, _var((4, 3), dtype)))


def _conv_bn_relu(x, cin, cout, dtype, training, padding="SAME"):
    w = _var((3, 3, cin, cout), dtype)
    gamma, beta = _var(cout, dtype) + 1.0, _var(cout, dtype)
    h = gn.nn.conv2d(x, w, strides=1, padding=padding)
    if training:
        h, _, _ = gn.nn.fused_batch_norm(h, gamma, beta, is_training=True)
    else:
        mean, var = _var(cout, dtype), gn.abs(_var(cout, dtype)) + 0.5
        h, _, _ = gn.nn.fused_batch_norm(h, gamma, beta, mean, var, is_training=False)
    return gn.nn.relu(h)


def lenet(dtype, training=True):
    x = gn.placeholder(dtype, [None, 8, 8, 1], name="x")
    h = gn.nn.max_pool2d(_conv_bn_relu(x, 1, 4, dtype, training), 2, 2, "VALID")
    h = gn.nn.max_pool2d(_conv_bn_relu(h, 4, 6, dtype, training, "VALID"), 2, 2, "VALID")
    h = gn.reshape(h, [-1, 6])
    return (
        x,
        (3, 8, 8, 1),
        gn.matmul(gn.nn.relu(gn.matmul(h, _var((6, 5), dtype))), _var((5, 3), dtype)),
    )


def residual(dtype):
    x = gn.placeholder(dtype, [None, 5, 5, 3], name="x")
    h = _conv_bn_relu(x, 3, 3, dtype, training=True)
    h = gn.nn.conv2d(h, _var((3, 3, 3, 3), dtype), strides=1, padding="SAME")
    return x, (2, 5, 5, 3), gn.nn.relu(h + x)


def inception(dtype):
    x = gn.placeholder(dtype, [None, 6, 6, 4], name="x")
    b1 = gn.nn.relu(gn.nn.conv2d(x, _var((1, 1, 4, 2), dtype), 1, "SAME"))
    b3 = gn.nn.relu(gn.nn.conv2d(b1, _var((3, 3, 2, 3), dtype), 1, "SAME"))
    b5 = gn.nn.relu(gn.nn.conv2d(x, _var((5, 5, 4, 2), dtype), 1, "SAME"))
    bp = gn.nn.conv2d(gn.nn.max_pool2d(x, 3, 1, "SAME"), _var((1, 1, 4, 2), dtype), 1, "SAME")
    out = gn.concat([b1, b3, b5, bp], axis=3)
    return x, (2, 6, 6, 4), gn.reduce_mean(out, axis=[1, 2])


def lstm(dtype):
    x = gn.placeholder(dtype, [None, 4, 3], name="x")
    cell = gn.nn.rnn_cell.BasicLSTMCell(5, dtype=dtype)
    outputs, _ = gn.nn.static_rnn(cell, gn.unstack(x, axis=1), dtype=dtype)
    return x, (2, 4, 3), gn.matmul(outputs[-1], _var((5, 2), dtype))


MODELS = {"mlp": mlp, "lenet": lenet, "lenet_inference": lambda d: lenet(d, training=False),
          "residual": residual, "inception": inception, "lstm": lstm}  # fmt: skip


def _results(level, fetches, feed, backend="reference"):
    config = gn.SessionConfig(opt_level=level, verify=True)
    with gn.Session(config=config, backend=backend) as sess:
        sess.run(gn.global_variables_initializer())
        return sess.run(fetches, feed), sess.compiled_plan(fetches, feed)


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-10), (np.float32, 1e-5)])
@pytest.mark.parametrize("model", sorted(MODELS))
def test_o1_and_o2_equal_o0_forward_and_gradients(model, dtype, rtol):
    gn.set_random_seed(1)
    x, shape, y = MODELS[model](dtype)
    weights = RNG.normal(size=(shape[0], *y.shape[1:])).astype(dtype)
    loss = gn.reduce_sum(y * gn.constant(weights))
    grads = [g for g in gn.gradients(loss, [x, *gn.trainable_variables()]) if g is not None]
    fetches = [y, *grads]
    feed = {x: RNG.normal(size=shape).astype(dtype)}
    want, _ = _results("O0", fetches, feed)
    for level, backend in (("O1", "reference"), ("O2", "reference"), ("O2", "reference-arena")):
        got, plan = _results(level, fetches, feed, backend)
        validate_memory(plan)
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            atol = 1e-12 if dtype == np.float64 else 1e-6
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"{level} fetch {i}")


def test_o2_removes_every_inference_batch_norm_and_fuses():
    x, shape, y = lenet(np.float64, training=False)
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        ops = [s.op for s in sess.compiled_plan(y, {x: np.zeros(shape)}).steps]
        ctx = gn.compiler.PassContext("O2", inference=True, variables=sess.variable_values())
        frozen = gn.compiler.compile(x.graph, [y], {x: shape}, ctx)
    assert "fused_batch_norm" not in ops and "fused_conv2d" in ops
    assert [s.op for s in frozen.steps] == ["fused_conv2d", "max_pool", "fused_conv2d", "max_pool",
                                            "reshape", "fused_matmul", "matmul"]  # fmt: skip
