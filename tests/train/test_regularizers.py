"""Regularizers against Keras's formulas, lookup by name, and the REGULARIZATION_LOSSES path."""

import numpy as np
import pytest

import graphnet as gn
from graphnet.ir import ShapeError
from graphnet.train import regularizers as reg
from graphnet.train.initializers import ConfigError
from graphnet.train.optimizers import GradientDescentOptimizer

W = np.random.default_rng(0).normal(size=(3, 4))


def _run(tensor):
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        return sess.run(tensor)


@pytest.mark.parametrize(
    "regularizer, expected",
    [
        (reg.L1(0.3), 0.3 * np.abs(W).sum()),
        (reg.L2(0.3), 0.3 * np.square(W).sum()),  # Keras's L2: no 1/2
        (reg.L1L2(0.1, 0.2), 0.1 * np.abs(W).sum() + 0.2 * np.square(W).sum()),
        (reg.L1L2(l2=0.2), 0.2 * np.square(W).sum()),
        (reg.L1(l=0.4), 0.4 * np.abs(W).sum()),
        (reg.l1_l2(), 0.01 * np.abs(W).sum() + 0.01 * np.square(W).sum()),
        (reg.l2(), 0.01 * np.square(W).sum()),
    ],
)
def test_penalties(regularizer, expected):
    penalty = regularizer(gn.constant(W))
    assert penalty.shape == () and penalty.dtype == gn.float64
    np.testing.assert_allclose(_run(penalty), expected, rtol=1e-13)


def test_zero_factors_give_a_zero_of_the_weights_dtype():
    penalty = reg.L1L2()(gn.Variable(W.astype(np.float32), name="w"))
    assert penalty.dtype == gn.float32
    assert _run(penalty) == 0.0


def test_negative_factors_raise():
    with pytest.raises(ConfigError, match=r"l2 must be non-negative, got -0\.1"):
        reg.L2(-0.1)


@pytest.mark.parametrize(
    "name, cls, config",
    [
        ("l1", reg.L1, {"l1": 0.01}),
        ("l2", reg.L2, {"l2": 0.01}),
        ("L1L2", reg.L1L2, {"l1": 0.0, "l2": 0.0}),
        ("l1_l2", reg.L1L2, {"l1": 0.01, "l2": 0.01}),
    ],
)
def test_get_by_keras_name(name, cls, config):
    regularizer = reg.get(name)
    assert type(regularizer) is cls and regularizer.get_config() == config


def test_get_configs_callables_and_none():
    config = reg.serialize(reg.L1L2(0.5, 0.25))
    assert config == {"class_name": "L1L2", "config": {"l1": 0.5, "l2": 0.25}}
    assert reg.get(config).get_config() == {"l1": 0.5, "l2": 0.25}
    assert reg.deserialize({"class_name": "L2", "config": {"l2": 0.3}}).l2 == 0.3
    assert reg.get(None) is None
    assert reg.get(np.sum) is np.sum
    with pytest.raises(ConfigError, match="unknown regularizer 'l3'"):
        reg.get("l3")


def test_apply_regularization_adds_to_the_collection_that_losses_sum():
    w1 = gn.Variable(W, name="w1")
    w2 = gn.Variable(W[:2], name="w2")
    penalty = reg.apply_regularization(reg.L2(0.1), [w1, w2])
    assert penalty.op.name == "get_regularization_penalty"
    assert gn.get_collection(gn.GraphKeys.REGULARIZATION_LOSSES) == [penalty]
    expected = 0.1 * (np.square(W).sum() + np.square(W[:2]).sum())
    np.testing.assert_allclose(_run(penalty), expected, rtol=1e-13)
    np.testing.assert_allclose(_run(gn.losses.get_regularization_loss()), expected, rtol=1e-13)
    data_loss = gn.losses.mean_squared_error(gn.constant(np.ones(3)), gn.constant(np.zeros(3)))
    np.testing.assert_allclose(_run(gn.losses.get_total_loss()), 1.0 + expected, rtol=1e-13)
    assert data_loss in gn.get_collection(gn.GraphKeys.LOSSES)


def test_apply_regularization_uses_the_weights_collection():
    w = gn.Variable(W, name="w")
    gn.add_to_collection(reg.WEIGHTS, w)
    np.testing.assert_allclose(
        _run(reg.apply_regularization(reg.L1(0.5))), 0.5 * np.abs(W).sum(), rtol=1e-13
    )


def test_apply_regularization_errors():
    with pytest.raises(ConfigError, match="no weights to regularize"):
        reg.apply_regularization(reg.L2())
    w = gn.Variable(W, name="w")
    with pytest.raises(ShapeError, match="it must return a scalar"):
        reg.apply_regularization(lambda x: gn.abs(x), [w])
    assert gn.get_collection(gn.GraphKeys.REGULARIZATION_LOSSES) == []


def test_a_regularized_step_matches_numpy():
    w = gn.Variable(W, name="w")
    data_loss = 0.5 * gn.reduce_sum(gn.square(w - 1.0))  # gradient: w - 1
    reg.apply_regularization(reg.L1L2(0.01, 0.1), [w])
    loss = data_loss + gn.losses.get_regularization_loss()
    train = GradientDescentOptimizer(0.1).minimize(loss)
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        sess.run(train)
        expected = W - 0.1 * ((W - 1.0) + 0.01 * np.sign(W) + 2 * 0.1 * W)
        np.testing.assert_allclose(sess.run(w), expected, rtol=1e-13)
