"""Losses (gn.nn per-example and gn.losses reduced) against NumPy formulas, gradients against
finite differences, extreme logits, the LOSSES collection."""

import numpy as np
import pytest

import graphnet as gn
from graphnet import losses
from tests.helpers import check_grad, check_op, rand


def np_log_softmax(x, axis=-1):
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def distribution(*shape, seed=0, axis=-1):
    """Random rows that sum to 1 along `axis`: soft labels."""
    p = rand(*shape, seed=seed, low=0.1, high=1.0)
    return p / p.sum(axis=axis, keepdims=True)


def int_labels(n_classes, *shape, seed=0):
    return np.random.default_rng(seed).integers(0, n_classes, size=shape).astype(np.int32)


def np_multiclass_hinge(labels, scores, delta=1.0):
    flat_s = scores.reshape(-1, scores.shape[-1])
    out = []
    for y, s in zip(labels.reshape(-1), flat_s, strict=True):
        out.append(sum(max(0.0, s[j] - s[y] + delta) for j in range(len(s)) if j != y))
    return np.array(out).reshape(labels.shape)


# -- gn.nn per-example losses -------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 4), (1, 5), (2, 3, 4), (4,)])
def test_softmax_cross_entropy_with_logits(shape):
    labels, logits = distribution(*shape, seed=1), rand(*shape, seed=2, low=-3, high=3)
    check_op(
        gn.nn.softmax_cross_entropy_with_logits,
        [labels, logits],
        lambda y, x: -(y * np_log_softmax(x)).sum(-1),
    )


def test_softmax_cross_entropy_with_logits_on_axis_0_and_v2_alias():
    labels, logits = distribution(4, 3, seed=1, axis=0), rand(4, 3, seed=2)
    check_op(
        lambda y, x: gn.nn.softmax_cross_entropy_with_logits_v2(y, x, axis=0),
        [labels, logits],
        lambda y, x: -(y * np_log_softmax(x, 0)).sum(0),
    )


def test_softmax_cross_entropy_with_unknown_batch_dimension():
    check_op(
        gn.nn.softmax_cross_entropy_with_logits,
        [distribution(3, 4, seed=1), rand(3, 4, seed=2)],
        lambda y, x: -(y * np_log_softmax(x)).sum(-1),
        static_shapes=False,
    )


@pytest.mark.parametrize("shape", [(3, 4), (1, 2), (2, 3, 5)])
def test_sparse_softmax_cross_entropy_with_logits(shape):
    labels, logits = int_labels(shape[-1], *shape[:-1], seed=3), rand(*shape, seed=4)

    def expected(y, x):
        log_p = np_log_softmax(x)
        return -np.take_along_axis(log_p, y[..., None].astype(np.int64), -1)[..., 0]

    check_op(gn.nn.sparse_softmax_cross_entropy_with_logits, [labels, logits], expected)


def test_sparse_softmax_cross_entropy_with_unknown_batch_dimension():
    labels, logits = int_labels(4, 3, seed=3), rand(3, 4, seed=4)
    y = gn.placeholder(gn.int32, [None])
    x = gn.placeholder(gn.float64, [None, 4])
    loss = gn.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=x)
    assert loss.shape == (None,)
    with gn.Session() as sess:
        got = sess.run(loss, {y: labels, x: logits})
    np.testing.assert_allclose(got, -np_log_softmax(logits)[np.arange(3), labels], rtol=1e-12)


def np_sigmoid_xent(z, x):
    return -z * np.log(np_sigmoid(x)) - (1 - z) * np.log(1 - np_sigmoid(x))


@pytest.mark.parametrize("shape", [(), (5,), (2, 3)])
def test_sigmoid_cross_entropy_with_logits(shape):
    labels, logits = rand(*shape, seed=5, low=0, high=1), rand(*shape, seed=6, low=-4, high=4)
    check_op(gn.nn.sigmoid_cross_entropy_with_logits, [labels, logits], np_sigmoid_xent)


def test_sigmoid_cross_entropy_gradient_at_zero_logit_is_sigmoid_minus_label():
    labels, logits = np.array([0.0, 0.3, 1.0]), np.zeros(3)
    x = gn.constant(logits)
    (g,) = gn.gradients(gn.reduce_sum(gn.nn.sigmoid_cross_entropy_with_logits(labels, x)), [x])
    with gn.Session() as sess:
        np.testing.assert_allclose(sess.run(g), 0.5 - labels, rtol=1e-12)
    check_grad(gn.nn.sigmoid_cross_entropy_with_logits, [labels, logits])


@pytest.mark.parametrize("pos_weight", [0.5, 1.0, 3.0])
def test_weighted_cross_entropy_with_logits(pos_weight):
    labels, logits = rand(2, 3, seed=7, low=0, high=1), rand(2, 3, seed=8, low=-4, high=4)

    def expected(z, x):
        s = np_sigmoid(x)
        return -pos_weight * z * np.log(s) - (1 - z) * np.log(1 - s)

    check_op(
        lambda z, x: gn.nn.weighted_cross_entropy_with_logits(z, x, pos_weight),
        [labels, logits],
        expected,
    )


@pytest.mark.parametrize(("shape", "delta"), [((3, 4), 1.0), ((1, 3), 0.5), ((2, 2, 5), 2.0)])
def test_multiclass_hinge_loss(shape, delta):
    labels, scores = int_labels(shape[-1], *shape[:-1], seed=9), rand(*shape, seed=10)
    check_op(
        lambda y, s: gn.nn.multiclass_hinge_loss(y, s, delta=delta),
        [labels, scores],
        lambda y, s: np_multiclass_hinge(y, s, delta),
    )


EXTREME = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0], [-1000.0, 1.0, 2.0]])


def test_extreme_logits_give_finite_exact_losses_and_gradients():
    onehot = np.eye(3)[[1, 2, 0]]
    x = gn.constant(EXTREME)
    per_example = {
        "softmax": gn.nn.softmax_cross_entropy_with_logits(onehot, x),
        "sparse": gn.nn.sparse_softmax_cross_entropy_with_logits([1, 2, 0], x),
        "sigmoid": gn.nn.sigmoid_cross_entropy_with_logits(onehot, x),
        "weighted": gn.nn.weighted_cross_entropy_with_logits(onehot, x, 2.0),
        "hinge": gn.nn.multiclass_hinge_loss([1, 2, 0], x),
    }
    grads = gn.gradients(gn.add_n([gn.reduce_sum(v) for v in per_example.values()]), [x])
    with gn.Session() as sess:
        got, (g,) = sess.run([per_example, grads])
    np.testing.assert_allclose(
        got["softmax"], [2000.0, 0.0, 1002.0 + np.log1p(np.exp(-1.0))], rtol=1e-12
    )
    np.testing.assert_allclose(got["sparse"], got["softmax"], rtol=1e-12)
    # z=0 at x=1000 and z=1 at x=-1000 cost 1000 each, z=0 at x=0 costs log 2; row 2 is right
    np.testing.assert_allclose(got["sigmoid"][:2].sum(1), [2000 + np.log(2), 0.0], rtol=1e-12)
    np.testing.assert_allclose(got["hinge"], [3002.0, 0.0, 2005.0], rtol=1e-12)
    for value in [*got.values(), g]:
        assert np.all(np.isfinite(value))


# -- shape and dtype errors ---------------------------------------------------------------------


def test_cross_entropy_label_shape_mismatch_names_the_op_and_shapes():
    with pytest.raises(gn.ShapeError, match=r"softmax_cross_entropy_with_logits.*\[2,1\].*\[2,4\]"):
        gn.nn.softmax_cross_entropy_with_logits(np.zeros((2, 1)), np.zeros((2, 4)))
    with pytest.raises(gn.ShapeError, match=r"'xent'.*\[3\].*\[2,3\]"):
        gn.nn.sigmoid_cross_entropy_with_logits(np.zeros(3), np.zeros((2, 3)), name="xent")


def test_sparse_labels_must_be_integers_of_the_batch_shape():
    with pytest.raises(gn.DTypeError, match="must be integer class indices, got float32"):
        gn.nn.sparse_softmax_cross_entropy_with_logits(np.zeros(2, np.float32), np.zeros((2, 3)))
    with pytest.raises(gn.ShapeError, match=r"shape \[3\].*without its class axis, \[2\]"):
        gn.nn.sparse_softmax_cross_entropy_with_logits([0, 1, 2], np.zeros((2, 3)))
    unknown_classes = gn.placeholder(gn.float32, [2, None])
    with pytest.raises(gn.ShapeError, match=r"need a known number of classes"):
        gn.nn.multiclass_hinge_loss([0, 1], unknown_classes)


# -- gn.losses: reduced losses --------------------------------------------------------------------


def mean_of(fn):
    return lambda *arrays: np.mean(fn(*arrays))


REDUCED = {
    "mean_squared_error": (losses.mean_squared_error, lambda y, p: (p - y) ** 2),
    "absolute_difference": (losses.absolute_difference, lambda y, p: np.abs(p - y)),
    "huber_loss": (
        losses.huber_loss,
        lambda y, p: np.where(np.abs(p - y) <= 1, 0.5 * (p - y) ** 2, np.abs(p - y) - 0.5),
    ),
    "log_loss": (
        losses.log_loss,
        lambda y, p: -y * np.log(p + 1e-7) - (1 - y) * np.log(1 - p + 1e-7),
    ),
    "hinge_loss": (losses.hinge_loss, lambda y, x: np.maximum(0, 1 - (2 * y - 1) * x)),
    "sigmoid_cross_entropy": (losses.sigmoid_cross_entropy, np_sigmoid_xent),
}


@pytest.mark.parametrize("shape", [(4,), (3, 2)])
@pytest.mark.parametrize("name", sorted(REDUCED))
def test_reduced_loss_is_the_mean_for_unit_weights(name, shape):
    loss_fn, per_element = REDUCED[name]
    if name in ("log_loss", "sigmoid_cross_entropy", "hinge_loss"):
        labels = (rand(*shape, seed=11) > 0).astype(np.float64)
    else:
        labels = rand(*shape, seed=11, low=-2, high=2)
    predictions = (
        rand(*shape, seed=12, low=0.05, high=0.95)
        if name == "log_loss"
        else rand(*shape, seed=12, low=-2, high=2)
    )
    check_op(lambda y, p: loss_fn(y, p), [labels, predictions], mean_of(per_element), grad=[1])


def test_huber_loss_covers_both_regimes_with_delta():
    labels, predictions = np.zeros(4), np.array([-3.0, -0.2, 0.4, 2.5])
    check_op(
        lambda y, p: losses.huber_loss(y, p, delta=2.0),
        [labels, predictions],
        np.mean([2 * 3 - 2, 0.02, 0.08, 2 * 2.5 - 2]),
    )


def test_weights_broadcast_and_sum_by_nonzero_weights():
    labels, predictions = rand(3, 2, seed=13), rand(3, 2, seed=14)
    weights = np.array([[2.0], [0.0], [0.5]])
    check_op(
        lambda y, p, w: losses.mean_squared_error(y, p, weights=w),
        [labels, predictions, weights],
        lambda y, p, w: np.sum(w * (p - y) ** 2) / 4,  # 2 nonzero weights x 2 columns
        grad=[0, 1],  # the count of nonzero weights jumps at the zero weight
    )


@pytest.mark.parametrize(
    ("reduction", "expected"),
    [
        (losses.Reduction.NONE, lambda loss, w: loss * w),
        (losses.Reduction.SUM, lambda loss, w: np.sum(loss * w)),
        (losses.Reduction.MEAN, lambda loss, w: np.sum(loss * w) / np.sum(w * np.ones_like(loss))),
        (losses.Reduction.SUM_OVER_BATCH_SIZE, lambda loss, w: np.sum(loss * w) / loss.size),
        (losses.Reduction.SUM_BY_NONZERO_WEIGHTS, lambda loss, w: np.sum(loss * w) / 4),
    ],
)
def test_compute_weighted_loss_reductions(reduction, expected):
    per_example, weights = rand(2, 3, seed=15), np.array([0.0, 1.5, 2.0])
    check_op(
        lambda loss, w: losses.compute_weighted_loss(loss, w, reduction=reduction),
        [per_example, weights],
        expected,
        grad=[0],
    )


def test_zero_weights_give_zero_loss_not_nan():
    loss = losses.mean_squared_error(np.ones(3), np.zeros(3), weights=0.0)
    with gn.Session() as sess:
        assert sess.run(loss) == 0.0


def test_softmax_cross_entropy_with_label_smoothing_and_no_label_gradient():
    onehot, logits = np.eye(4)[[0, 3, 1]], rand(3, 4, seed=16)
    smoothed = onehot * 0.8 + 0.2 / 4
    check_op(
        lambda y, x: losses.softmax_cross_entropy(y, x, label_smoothing=0.2),
        [onehot, logits],
        np.mean(-(smoothed * np_log_softmax(logits)).sum(-1)),
        grad=[1],
    )
    y = gn.placeholder(gn.float64, [3, 4])
    (g,) = gn.gradients(losses.softmax_cross_entropy(y, logits), [y])
    assert g is None


def test_sigmoid_cross_entropy_with_label_smoothing():
    labels, logits = np.array([[0.0, 1.0], [1.0, 1.0]]), rand(2, 2, seed=17)
    check_op(
        lambda y, x: losses.sigmoid_cross_entropy(y, x, label_smoothing=0.1),
        [labels, logits],
        np.mean(np_sigmoid_xent(labels * 0.9 + 0.05, logits)),
    )


def test_sparse_softmax_and_multiclass_hinge_means():
    labels, logits = int_labels(5, 4, seed=18), rand(4, 5, seed=19, low=-2, high=2)
    log_p = np_log_softmax(logits)
    check_op(
        losses.sparse_softmax_cross_entropy,
        [labels, logits],
        -np.mean(log_p[np.arange(4), labels]),
    )
    check_op(
        losses.multiclass_hinge_loss,
        [labels, logits],
        np.mean(np_multiclass_hinge(labels, logits)),
    )


def test_cosine_distance_keeps_the_reduced_axis():
    a = rand(3, 4, seed=20)
    labels, predictions = a / np.linalg.norm(a, axis=1, keepdims=True), rand(3, 4, seed=21)
    check_op(
        lambda y, p: losses.cosine_distance(y, p, axis=1),
        [labels, predictions],
        np.mean(1 - (labels * predictions).sum(1)),
    )
    with pytest.raises(ValueError, match="needs `axis`"):
        losses.cosine_distance(labels, predictions)


def test_losses_collection_and_total_loss():
    a = losses.mean_squared_error([1.0, 2.0], [1.5, 2.0])
    b = losses.absolute_difference([1.0], [3.0], loss_collection=None)
    c = losses.hinge_loss([1.0], [0.25], scope="hinge")
    assert losses.get_losses() == [a, c]
    assert losses.get_losses(scope="hinge") == [c]
    gn.add_to_collection(gn.GraphKeys.REGULARIZATION_LOSSES, gn.constant(0.5))
    total = losses.get_total_loss()
    without_reg = losses.get_total_loss(add_regularization_losses=False)
    with gn.Session() as sess:
        got = sess.run([a, b, c, total, without_reg, losses.get_regularization_loss()])
    np.testing.assert_allclose(got, [0.125, 2.0, 0.75, 1.375, 0.875, 0.5])


def test_total_loss_without_losses_raises_and_bad_reduction_is_rejected():
    with pytest.raises(ValueError, match="no losses"):
        losses.get_total_loss()
    with pytest.raises(ValueError, match="invalid reduction 'mean'"):
        losses.compute_weighted_loss([1.0], reduction="mean")


def test_reduced_loss_shape_mismatch_is_an_error():
    with pytest.raises(gn.ShapeError, match=r"'mean_squared_error'.*\[3\].*\[2\]"):
        losses.mean_squared_error(np.zeros(3), np.zeros(2))
