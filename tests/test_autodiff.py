"""gn.gradients: paths, broadcasting, unconnected inputs, stop_gradient, grad_ys, variables."""

import numpy as np
import pytest

import graphnet as gn
from tests.helpers import check_grad, rand


def _run(*fetches, feed=None):
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        return sess.run(list(fetches), feed)


def test_gradients_over_several_paths_are_summed():
    x = gn.placeholder(gn.float64, [3], name="x")
    y = gn.reduce_sum(x * x + x + gn.exp(x))
    (g,) = gn.gradients(y, x)
    value = np.array([0.0, 1.0, 2.0])
    np.testing.assert_allclose(_run(g, feed={x: value})[0], 2 * value + 1 + np.exp(value))


def test_broadcast_gradients_are_reduced_to_input_shapes():
    check_grad(lambda a, b: a * b + a, [rand(3, 1), rand(1, 4, seed=1)])
    a = gn.placeholder(gn.float32, [None, 1])
    b = gn.placeholder(gn.float32, [4])
    ga, gb = gn.gradients(gn.reduce_sum(a + b), [a, b])
    assert ga.shape == (None, 1) and gb.shape == (4,)
    out = _run(ga, gb, feed={a: np.ones((3, 1)), b: np.ones(4)})
    np.testing.assert_array_equal(out[0], np.full((3, 1), 4.0))
    np.testing.assert_array_equal(out[1], np.full(4, 3.0))


def test_unconnected_inputs_get_none():
    x = gn.placeholder(gn.float32, [2])
    z = gn.placeholder(gn.float32, [2])
    assert gn.gradients(gn.reduce_sum(x * 2.0), [x, z])[1] is None


def test_stop_gradient_blocks_the_flow():
    x = gn.placeholder(gn.float64, [], name="x")
    y = x * gn.stop_gradient(x * 3.0)
    (g,) = gn.gradients(y, x)
    assert _run(g, feed={x: 2.0})[0] == 6.0  # d/dx (x * c) with c = 3x held constant
    (g2,) = gn.gradients(x * (x * 3.0), x, stop_gradients=[x * 1.0])
    assert _run(g2, feed={x: 2.0})[0] == 12.0


def test_grad_ys_weight_the_outputs():
    x = gn.placeholder(gn.float64, [2], name="x")
    y = x * 3.0
    (g,) = gn.gradients(y, x, grad_ys=gn.constant(np.array([1.0, 10.0])))
    np.testing.assert_array_equal(_run(g, feed={x: [1.0, 1.0]})[0], [3.0, 30.0])


def test_gradients_of_several_ys_are_summed():
    x = gn.placeholder(gn.float64, [], name="x")
    (g,) = gn.gradients([x * 2.0, x * x], x)
    assert _run(g, feed={x: 3.0})[0] == 8.0


def test_gradients_with_respect_to_variables():
    w = gn.Variable(np.array([[1.0, 2.0], [3.0, 4.0]]), name="w")
    x = gn.constant(np.array([[1.0, 1.0]]))
    loss = gn.reduce_sum(gn.matmul(x, w) ** 2.0)
    (gw,) = gn.gradients(loss, [w])
    # d/dW sum((xW)^2) = x^T (2 xW)
    np.testing.assert_allclose(_run(gw)[0], np.array([[1.0], [1.0]]) @ (2 * np.array([[4.0, 6.0]])))


def test_integer_paths_carry_no_gradient():
    x = gn.placeholder(gn.float64, [3], name="x")
    idx = gn.argmax(x)
    y = gn.reduce_sum(x) + gn.cast(idx, gn.float64)
    (g,) = gn.gradients(y, x)
    np.testing.assert_array_equal(_run(g, feed={x: [1.0, 3.0, 2.0]})[0], [1.0, 1.0, 1.0])


def test_integer_ys_cannot_be_differentiated():
    x = gn.placeholder(gn.float32, [3])
    with pytest.raises(gn.GradientError, match="dtype int64"):
        gn.gradients(gn.argmax(x), x)


def test_gradient_nodes_live_under_the_gradients_scope():
    x = gn.placeholder(gn.float32, [2], name="x")
    (g,) = gn.gradients(gn.reduce_sum(gn.square(x)), x)
    assert g.op.name.startswith("gradients/")
