"""Losses and metrics by name, against NumPy formulas; the logits path of softmax/sigmoid
outputs; which accuracy 'accuracy' means."""

import numpy as np
import pytest

import graphnet as gn
import graphnet.keras as K
from graphnet.keras import layers as L, losses, metrics

EPS = 1e-7


def _run(fn, *arrays):
    graph = gn.Graph()
    with graph.as_default():
        tensors = [gn.constant(a) for a in arrays]
        out = fn(*tensors)
    with gn.Session(graph=graph) as sess:
        return sess.run(out)


RNG = np.random.default_rng(0)
P = RNG.dirichlet(np.ones(4), size=5)  # predicted probabilities
ONE_HOT = np.eye(4)[[0, 3, 1, 1, 2]]
LABELS = np.array([0, 3, 1, 1, 2])
REAL = RNG.normal(size=(5, 3))
TARGET = RNG.normal(size=(5, 3))


@pytest.mark.parametrize(
    ("name", "y_true", "y_pred", "expected"),
    [
        ("mse", TARGET, REAL, np.mean((REAL - TARGET) ** 2, -1)),
        ("mean_absolute_error", TARGET, REAL, np.mean(np.abs(REAL - TARGET), -1)),
        ("categorical_crossentropy", ONE_HOT, P, -np.sum(ONE_HOT * np.log(P), -1)),
        ("sparse_categorical_crossentropy", LABELS, P, -np.log(P[np.arange(5), LABELS])),
        (
            "sparse_categorical_crossentropy",
            LABELS[:, None].astype(float),
            P,
            -np.log(P[np.arange(5), LABELS]),
        ),
        (
            "binary_crossentropy",
            (P > 0.25).astype(float),
            P,
            -np.mean((P > 0.25) * np.log(P + EPS) + (P <= 0.25) * np.log(1 - P + EPS), -1),
        ),
        (
            "hinge",
            (TARGET > 0).astype(float),
            REAL,
            np.mean(np.maximum(1 - np.where(TARGET > 0, 1, -1) * REAL, 0), -1),
        ),
        (
            "hinge",
            np.where(TARGET > 0, 1.0, -1.0),
            REAL,
            np.mean(np.maximum(1 - np.where(TARGET > 0, 1, -1) * REAL, 0), -1),
        ),
    ],
)
def test_losses_per_example(name, y_true, y_pred, expected):
    np.testing.assert_allclose(_run(losses.get(name), y_true, y_pred), expected, rtol=1e-6)


def test_loss_objects_reduce_to_the_mean_and_take_logits():
    logits = RNG.normal(size=(5, 4))
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    got = _run(losses.CategoricalCrossentropy(from_logits=True), ONE_HOT, logits)
    np.testing.assert_allclose(got, -np.mean(np.sum(ONE_HOT * log_p, -1)), rtol=1e-10)
    got = _run(losses.SparseCategoricalCrossentropy(from_logits=True), LABELS, logits)
    np.testing.assert_allclose(got, -np.mean(log_p[np.arange(5), LABELS]), rtol=1e-10)
    z = (REAL > 0).astype(float)
    got = _run(losses.BinaryCrossentropy(from_logits=True), z, REAL)
    expected = np.mean(np.maximum(REAL, 0) - REAL * z + np.log1p(np.exp(-np.abs(REAL))))
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_saturated_softmax_output_gives_the_exact_cross_entropy():
    """Keras computes from the softmax's logits: -log p stays exact where clipping would cap
    it at -log(1e-7) = 16.1."""
    logits = np.array([[60.0, 0.0], [0.0, 0.0]])
    graph = gn.Graph()
    with graph.as_default():
        probs = gn.nn.softmax(gn.constant(logits))
        loss = losses.categorical_crossentropy(gn.constant([[0.0, 1.0], [1.0, 0.0]]), probs)
        clipped = losses.categorical_crossentropy(
            gn.constant([[0.0, 1.0], [1.0, 0.0]]), gn.identity(probs)
        )
    with gn.Session(graph=graph) as sess:
        exact, capped = sess.run([loss, clipped])
    np.testing.assert_allclose(exact, [60.0, np.log(2)], rtol=1e-12)
    np.testing.assert_allclose(capped[0], -np.log(EPS), rtol=1e-6)


def test_training_through_a_saturated_softmax_keeps_a_gradient(float64):
    model = K.Sequential([L.Dense(2, activation="softmax", input_shape=(1,))])
    model.set_weights([np.array([[50.0, -50.0]]), np.zeros(2)])
    model.compile(K.optimizers.SGD(1e-3), "sparse_categorical_crossentropy")
    x, y = np.ones((4, 1)), np.ones(4)
    first = model.train_on_batch(x, y)
    assert first == pytest.approx(100.0)
    assert model.train_on_batch(x, y) < first


@pytest.mark.parametrize(
    ("y_true_shape", "y_pred_shape", "expected"),
    [
        ((None, 1), (None, 1), metrics.binary_accuracy),
        ((None,), (None, 3), metrics.sparse_categorical_accuracy),
        ((None, 1), (None, 3), metrics.sparse_categorical_accuracy),
        ((None, 3), (None, 3), metrics.categorical_accuracy),
    ],
)
def test_accuracy_is_picked_from_the_shapes(y_true_shape, y_pred_shape, expected):
    assert metrics.resolve("accuracy", y_true_shape, y_pred_shape) == ("accuracy", expected)
    assert metrics.resolve("acc", y_true_shape, y_pred_shape)[0] == "acc"


def test_accuracies_against_numpy():
    np.testing.assert_allclose(
        _run(metrics.categorical_accuracy, ONE_HOT, P), (P.argmax(1) == LABELS).astype(float)
    )
    np.testing.assert_allclose(
        _run(metrics.sparse_categorical_accuracy, LABELS[:, None].astype(float), P),
        (P.argmax(1) == LABELS).astype(float),
    )
    z = (P > 0.25).astype(float)
    np.testing.assert_allclose(
        _run(metrics.binary_accuracy, z, P), np.mean(z == (P > 0.5), -1), rtol=1e-12
    )


def test_compile_rejects_unknown_metrics_and_names_callables():
    def my_metric(y_true, y_pred):
        return gn.reduce_mean(y_pred, -1)

    model = K.Sequential([L.Dense(1, input_shape=(2,))])
    model.compile("sgd", "mse", metrics=[my_metric, "mae"])
    assert model.metrics_names == ["loss", "my_metric", "mae"]
    with pytest.raises(ValueError, match="Unknown metric"):
        model.compile("sgd", "mse", metrics=["accuracy", "nope"])
