"""Gradient checks: gn.test.compute_gradient(_error) (TF1's) and check_gradients (textbooks')."""

from collections.abc import Mapping

import numpy as np
import pytest

import graphnet as gn
import graphnet.test
from graphnet.train.gradient_check import check_gradients, numeric_gradient, relative_error

RNG = np.random.default_rng(0)
X = RNG.normal(size=(2, 3))
M = RNG.normal(size=(3, 4))


def test_compute_gradient_of_a_matmul_is_its_jacobian():
    x = gn.placeholder(gn.float64, [2, 3])
    y = gn.matmul(x, gn.constant(M))
    with gn.Session():
        theoretical, numerical = gn.test.compute_gradient(x, [2, 3], y, [2, 4], x_init_value=X)
    # y[a, d] = sum_b x[a, b] M[b, d]: d y[a, d] / d x[c, b] = [a == c] M[b, d];
    # row (c, b) of the x elements, column (a, d) of the y elements
    want = np.kron(np.eye(2), M)
    assert theoretical.shape == numerical.shape == (6, 8)
    np.testing.assert_allclose(theoretical, want, rtol=1e-12)
    np.testing.assert_allclose(numerical, want, rtol=1e-9)


def test_compute_gradient_error_is_small_for_smooth_ops():
    x = gn.placeholder(gn.float64, [2, 3])
    y = gn.tanh(gn.matmul(x, gn.constant(M))) * gn.exp(gn.reduce_sum(x * x, axis=1, keepdims=True))
    with gn.Session():
        error = gn.test.compute_gradient_error(x, [2, 3], y, [2, 4], x_init_value=X / 2)
        fine = gn.test.compute_gradient_error(x, [2, 3], y, [2, 4], X / 2, delta=1e-5)
    assert error < 1e-4
    assert fine < 1e-8


def test_compute_gradient_error_catches_a_wrong_gradient():
    x = gn.placeholder(gn.float64, [4])
    y = x * x + gn.stop_gradient(x * x)  # gn.gradients sees 2x, finite differences 4x
    data = np.array([0.5, -2.0, 1.0, 1.5])
    with gn.Session():
        theoretical, numerical = gn.test.compute_gradient(x, [4], y, [4], x_init_value=data)
        error = gn.test.compute_gradient_error(x, [4], y, [4], x_init_value=data)
    np.testing.assert_allclose(theoretical, np.diag(2 * data), atol=1e-12)
    np.testing.assert_allclose(numerical, np.diag(4 * data), atol=1e-9)
    assert error == pytest.approx(2 * np.abs(data).max(), rel=1e-9)


def test_compute_gradient_with_several_xs_extra_feeds_and_init_targets():
    a = gn.placeholder(gn.float64, [3], name="a")
    scale = gn.placeholder(gn.float64, [], name="scale")
    v = gn.Variable(np.array([1.0, 2.0]), name="v")
    y = gn.reduce_sum(a * a) * v * scale  # [2]
    a_data, v_data = np.array([1.0, -1.0, 2.0]), np.array([3.0, 4.0])
    with gn.Session():
        (ja, na), (jv, nv) = gn.test.compute_gradient(
            [a, v], [[3], [2]], y, [2], x_init_value=[a_data, v_data],
            init_targets=[gn.global_variables_initializer()], extra_feed_dict={scale: 0.5},
        )  # fmt: skip
        error = gn.test.compute_gradient_error(
            [a, v], [[3], [2]], y, [2], [a_data, v_data], extra_feed_dict={scale: 0.5}
        )
    np.testing.assert_allclose(ja, np.outer(2 * a_data, v_data) * 0.5, rtol=1e-12)
    np.testing.assert_allclose(jv, np.eye(2) * np.sum(a_data**2) * 0.5, rtol=1e-12)
    np.testing.assert_allclose(na, ja, rtol=1e-8)
    np.testing.assert_allclose(nv, jv, rtol=1e-8)
    assert error < 1e-8


def test_compute_gradient_defaults_and_errors():
    x = gn.placeholder(gn.float64, [2])
    y = gn.sin(x)
    np.random.seed(1)  # x_init_value defaults to np.random.random_sample, as in TF
    want = np.random.random_sample([2])
    np.random.seed(1)
    with gn.Session():
        theoretical, _ = gn.test.compute_gradient(x, [2], y, [2])
        np.testing.assert_allclose(theoretical, np.diag(np.cos(want)), rtol=1e-12)
        unrelated = gn.placeholder(gn.float64, [3])
        error = gn.test.compute_gradient_error(unrelated, [3], y, [2], extra_feed_dict={x: want})
        assert error == 0.0  # y does not depend on it: both Jacobians are zero
        with pytest.raises(gn.ShapeError, match=r"x_init_value .*expected shape \[2\]"):
            gn.test.compute_gradient(x, [2], y, [2], x_init_value=np.zeros(3))
        with pytest.raises(gn.ShapeError, match=r"y_shape \[3\] does not fit"):
            gn.test.compute_gradient(x, [2], y, [3])
    with pytest.raises(gn.GraphError, match="no default session"):
        gn.test.compute_gradient(x, [2], y, [2])


# -- check_gradients --------------------------------------------------------------------------


def _mlp():
    """A 3-5-2 tanh MLP with a mean softmax cross-entropy over 4 examples, in float64."""
    rng = np.random.default_rng(1)
    x = gn.placeholder(gn.float64, [4, 3], name="x")
    labels = np.array([0, 1, 1, 0])
    w1 = gn.Variable(rng.normal(size=(3, 5)), name="w1")
    b1 = gn.Variable(rng.normal(size=5), name="b1")
    w2 = gn.Variable(rng.normal(size=(5, 2)), name="w2")
    h = gn.tanh(gn.matmul(x, w1) + b1)
    logits = gn.matmul(h, w2)
    loss = gn.reduce_mean(
        gn.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    )
    feed = {x: rng.normal(size=(4, 3))}
    return loss, [x, w1, b1, w2], feed, labels


def test_check_gradients_of_a_tiny_mlp():
    loss, xs, feed, labels = _mlp()
    x, w1, b1, w2 = xs
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        report = check_gradients(loss, xs, feed)
        h, w2_value = sess.run([gn.tanh(gn.matmul(x, w1) + b1), w2], feed)
    assert isinstance(report, Mapping)
    assert list(report) == ["x:0", "w1:0", "b1:0", "w2:0"]
    assert max(report.values()) < 1e-7, report
    assert report.passed(1e-7) and report.max_error == max(report.values())
    # the analytic gradient of w2, against NumPy: h^T (softmax(h w2) - onehot) / N
    logits = h @ w2_value
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    want = h.T @ (p - np.eye(2)[labels]) / 4
    check = report.checks["w2:0"]
    assert check.indices is None
    np.testing.assert_allclose(check.analytic, want.reshape(-1), rtol=1e-10)
    np.testing.assert_allclose(check.numeric, want.reshape(-1), rtol=1e-6, atol=1e-9)
    assert check.max_abs_error < 1e-9 and check.max_elementwise_error < 1e-5
    table = str(report).splitlines()
    assert table[0].split() == ["tensor", "checked", "rel.", "error", "max", "|a-n|"]
    assert table[2].split()[:2] == ["w1:0", "15"]


def test_check_gradients_on_a_random_sample_of_elements():
    loss, xs, feed, _ = _mlp()
    w1 = xs[1]
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        full = check_gradients(loss, [w1], feed).checks["w1:0"]
        sparse = check_gradients(loss, [w1], feed, num_checks=4, seed=3).checks["w1:0"]
        again = check_gradients(loss, [w1], feed, num_checks=4, seed=3).checks["w1:0"]
        everything = check_gradients(loss, [w1], feed, num_checks=100).checks["w1:0"]
    assert sparse.indices.shape == (4,) and len(set(sparse.indices)) == 4
    assert all(0 <= i < 15 for i in sparse.indices)
    np.testing.assert_array_equal(again.indices, sparse.indices)
    assert sparse.analytic.shape == sparse.numeric.shape == (4,)
    np.testing.assert_array_equal(sparse.analytic, full.analytic[sparse.indices])
    np.testing.assert_allclose(sparse.numeric, full.numeric[sparse.indices], rtol=1e-12)
    assert sparse.relative_error < 1e-7
    assert everything.indices is None and everything.analytic.size == 15


def test_check_gradients_reports_a_wrong_gradient_and_an_unused_input():
    x = gn.placeholder(gn.float64, [3], name="x")
    unused = gn.placeholder(gn.float64, [2], name="unused")
    loss = gn.reduce_sum(x * x + gn.stop_gradient(x * x))
    with gn.Session():
        report = check_gradients(loss, [x, unused], {x: [1.0, -2.0, 0.5], unused: [1.0, 2.0]})
    # analytic 2x, numeric 4x: |2x - 4x| / |4x| = 1/2, element by element too
    assert report["x:0"] == pytest.approx(0.5)
    assert report.checks["x:0"].max_elementwise_error == pytest.approx(0.5)
    assert report["unused:0"] == 0.0
    assert not report.passed()


def test_numeric_gradient_and_relative_error():
    x = np.array([[1.0, 2.0], [-3.0, 0.5]])
    np.testing.assert_allclose(numeric_gradient(lambda a: np.sum(a**3), x), 3 * x**2, rtol=1e-8)
    assert x[1, 0] == -3.0  # unchanged
    assert relative_error(np.zeros(2), np.zeros(2)) == 0.0
    assert relative_error(np.array([3.0, 4.0]), np.array([3.0, 4.0]) * 2) == pytest.approx(0.5)
