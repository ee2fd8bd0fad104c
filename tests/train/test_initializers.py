"""Initializers: statistics of large draws against the formulas, seeds, names and configs."""

import math

import numpy as np
import pytest

import graphnet as gn
from graphnet.ir import DTypeError, ShapeError
from graphnet.train import initializers as init
from graphnet.train.initializers import ConfigError, compute_fans

DENSE = [300, 200]  # fan_in 300, fan_out 200
CONV = [3, 3, 32, 64]  # fan_in 3*3*32 = 288, fan_out 3*3*64 = 576


def _draw(initializer, shape, dtype=None):
    value = initializer(shape) if dtype is None else initializer(shape, dtype)
    with gn.Session() as sess:
        return sess.run(value)


def test_compute_fans():
    assert compute_fans([]) == (1, 1)
    assert compute_fans([7]) == (7, 7)
    assert compute_fans(DENSE) == (300, 200)
    assert compute_fans(CONV) == (288, 576)
    assert compute_fans([5, 4, 6]) == (20, 30)


# -- statistics ------------------------------------------------------------------------------------


def _check_uniform(x, limit):
    assert x.min() >= -limit and x.max() < limit
    assert x.min() < -0.95 * limit and x.max() > 0.95 * limit
    assert abs(x.mean()) < 0.02 * limit
    assert abs(x.std() - limit / math.sqrt(3)) < 0.02 * limit / math.sqrt(3)


def _check_truncated(x, stddev):
    """Normal truncated at two standard deviations of the untruncated (stddev / .8796)."""
    bound = 2 * stddev / init.TRUNCATED_NORMAL_STDDEV
    assert np.abs(x).max() <= bound * (1 + 1e-6)
    assert np.abs(x).max() > 0.95 * bound
    assert abs(x.mean()) < 0.02 * stddev
    assert abs(x.std() - stddev) < 0.02 * stddev


@pytest.mark.parametrize("shape", [DENSE, CONV], ids=["dense", "conv"])
@pytest.mark.parametrize(
    "cls, scale, mode, distribution",
    [
        (init.GlorotUniform, 1.0, "fan_avg", "uniform"),
        (init.GlorotNormal, 1.0, "fan_avg", "truncated_normal"),
        (init.HeNormal, 2.0, "fan_in", "truncated_normal"),
        (init.HeUniform, 2.0, "fan_in", "uniform"),
        (init.LecunNormal, 1.0, "fan_in", "truncated_normal"),
        (init.LecunUniform, 1.0, "fan_in", "uniform"),
    ],
)
def test_variance_scaling_family(cls, scale, mode, distribution, shape):
    fan_in, fan_out = compute_fans(shape)
    n = {"fan_in": fan_in, "fan_avg": (fan_in + fan_out) / 2}[mode]
    x = _draw(cls(seed=7), shape)
    assert x.shape == tuple(shape) and x.dtype == np.float32
    if distribution == "uniform":
        _check_uniform(x, math.sqrt(3 * scale / n))
    else:
        _check_truncated(x, math.sqrt(scale / n))


def test_variance_scaling_modes_and_distributions():
    x = _draw(init.VarianceScaling(3.0, "fan_out", "untruncated_normal", seed=1), DENSE)
    assert abs(x.std() - math.sqrt(3.0 / 200)) < 0.02 * math.sqrt(3.0 / 200)
    assert np.abs(x).max() > 2.5 * math.sqrt(3.0 / 200)  # not truncated
    _check_truncated(_draw(init.VarianceScaling(seed=2), CONV), math.sqrt(1 / 288))
    _check_truncated(_draw(init.VarianceScaling(distribution="normal", seed=3), DENSE),
                     math.sqrt(1 / 300))  # fmt: skip


def test_random_initializers():
    x = _draw(init.RandomNormal(1.0, 0.5, seed=1), DENSE)
    assert abs(x.mean() - 1.0) < 0.01 and abs(x.std() - 0.5) < 0.01
    x = _draw(init.RandomUniform(-0.2, 0.6, seed=1), DENSE)
    assert x.min() >= -0.2 and x.max() < 0.6 and abs(x.mean() - 0.2) < 0.01
    x = _draw(init.TruncatedNormal(0.5, 2.0, seed=1), DENSE)
    assert np.abs(x - 0.5).max() <= 4.0 and abs(x.mean() - 0.5) < 0.03
    assert abs(x.std() - 2.0 * init.TRUNCATED_NORMAL_STDDEV) < 0.03
    x = _draw(init.RandomNormal(seed=1), DENSE)
    assert abs(x.std() - 0.05) < 0.001  # Keras's default


def test_tf1_initializer_functions_have_tf1_defaults():
    assert init.random_normal_initializer().stddev == 1.0
    assert init.truncated_normal_initializer().stddev == 1.0
    uniform = init.random_uniform_initializer(seed=1)
    assert (uniform.minval, uniform.maxval) == (0.0, 1.0)
    x = _draw(uniform, DENSE)
    assert x.min() >= 0.0 and x.max() < 1.0
    assert init.glorot_uniform_initializer is init.GlorotUniform


def test_fixed_initializers():
    np.testing.assert_array_equal(_draw(init.Zeros(), [2, 3]), np.zeros((2, 3), np.float32))
    np.testing.assert_array_equal(_draw(init.Ones(gn.float64), [4]), np.ones(4))
    np.testing.assert_array_equal(
        _draw(init.Constant(2.5), [2, 2], gn.float64), np.full((2, 2), 2.5)
    )
    np.testing.assert_array_equal(_draw(init.Constant([[1, 2], [3, 4]]), [2, 2]), [[1, 2], [3, 4]])
    np.testing.assert_array_equal(_draw(init.Zeros(), [3], gn.int32), np.zeros(3, np.int32))
    np.testing.assert_array_equal(_draw(init.Identity(2.0), [2, 3]), 2.0 * np.eye(2, 3))
    assert _draw(init.Zeros(), []).shape == ()


@pytest.mark.parametrize("shape", [[6, 4], [4, 6], [2, 2, 3, 8]])
def test_orthogonal(shape):
    x = _draw(init.Orthogonal(gain=2.0, seed=3), shape).reshape(-1, shape[-1])
    gram = x.T @ x if x.shape[0] >= x.shape[1] else x @ x.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(min(x.shape)), atol=1e-5)


def test_initializers_return_the_dtype_asked_for():
    assert init.GlorotUniform()([2, 2], gn.float64).dtype == gn.float64
    assert init.HeNormal(dtype=gn.float64)([2, 2]).dtype == gn.float64
    assert init.Orthogonal()([2, 2], "float64").dtype == gn.float64


def test_initializers_build_variables():
    w = gn.Variable(init.GlorotUniform(seed=1)([3, 4]), name="w")
    b = gn.Variable(lambda: init.Zeros()([4]), name="b")
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        assert sess.run(w).shape == (3, 4)
        np.testing.assert_array_equal(sess.run(b), np.zeros(4))


# -- seeds -----------------------------------------------------------------------------------------


def _values_in_fresh_graph(make, graph_seed):
    graph = gn.Graph()
    with graph.as_default():
        if graph_seed is not None:
            gn.set_random_seed(graph_seed)
        tensors = [initializer([50, 40]) for initializer in make()]
    with gn.Session(graph=graph) as sess:
        return sess.run(tensors)


@pytest.mark.parametrize("graph_seed", [None, 42])
def test_seeded_initializers_are_reproducible(graph_seed):
    def make():
        return [init.GlorotUniform(seed=1), init.HeNormal(seed=2), init.Orthogonal(seed=3)]

    first = _values_in_fresh_graph(make, graph_seed)
    second = _values_in_fresh_graph(make, graph_seed)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], _values_in_fresh_graph(lambda: [init.GlorotUniform(seed=9)],
                                                               graph_seed)[0])  # fmt: skip


def test_a_graph_seed_alone_makes_unseeded_initializers_reproducible():
    def make():
        return [init.GlorotUniform(), init.RandomNormal(), init.Orthogonal()]

    first, second = (_values_in_fresh_graph(make, 5) for _ in range(2))
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], _values_in_fresh_graph(make, 6)[0])


def test_unseeded_initializers_differ_between_sessions():
    value = init.GlorotUniform()([20, 20])
    with gn.Session() as sess:
        first = sess.run(value)
    with gn.Session() as sess:
        assert not np.array_equal(first, sess.run(value))


# -- names and configs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, cls",
    [
        ("glorot_uniform", init.GlorotUniform), ("GlorotUniform", init.GlorotUniform),
        ("glorot_normal", init.GlorotNormal), ("he_normal", init.HeNormal),
        ("he_uniform", init.HeUniform), ("lecun_normal", init.LecunNormal),
        ("lecun_uniform", init.LecunUniform), ("zeros", init.Zeros), ("ones", init.Ones),
        ("constant", init.Constant), ("random_normal", init.RandomNormal),
        ("normal", init.RandomNormal), ("random_uniform", init.RandomUniform),
        ("uniform", init.RandomUniform), ("truncated_normal", init.TruncatedNormal),
        ("variance_scaling", init.VarianceScaling), ("orthogonal", init.Orthogonal),
        ("identity", init.Identity),
    ],
)  # fmt: skip
def test_get_by_keras_name(name, cls):
    assert type(init.get(name)) is cls


def test_get_passes_callables_and_none_through():
    def custom(shape, dtype=None):
        return gn.zeros(shape)

    assert init.get(custom) is custom
    assert init.get(None) is None
    initializer = init.HeUniform(seed=4)
    assert init.get(initializer) is initializer


def test_unknown_names_raise():
    with pytest.raises(ConfigError, match="unknown initializer 'glorot'"):
        init.get("glorot")
    with pytest.raises(ConfigError, match="could not interpret initializer identifier 3"):
        init.get(3)


def test_configs_round_trip():
    for initializer in (
        init.VarianceScaling(2.0, "fan_avg", "uniform", seed=3),
        init.RandomNormal(0.5, 0.1, seed=2, dtype=gn.float64),
        init.GlorotNormal(seed=1),
        init.Constant(np.arange(4.0)),
        init.Orthogonal(gain=0.5),
        init.Zeros(),
    ):
        config = init.serialize(initializer)
        rebuilt = init.deserialize(config)
        assert type(rebuilt) is type(initializer)
        assert rebuilt.get_config() == initializer.get_config()
        assert init.get(config).get_config() == initializer.get_config()
    assert init.GlorotUniform(seed=5).get_config() == {"seed": 5, "dtype": "float32"}
    assert init.RandomUniform().get_config() == {
        "minval": -0.05, "maxval": 0.05, "seed": None, "dtype": "float32"
    }  # fmt: skip


def test_invalid_arguments_raise():
    with pytest.raises(ConfigError, match="mode must be one of"):
        init.VarianceScaling(mode="fan_mean")
    with pytest.raises(ConfigError, match="distribution must be one of"):
        init.VarianceScaling(distribution="cauchy")
    with pytest.raises(ConfigError, match="scale must be positive"):
        init.VarianceScaling(scale=0.0)
    with pytest.raises(DTypeError, match="GlorotUniform draws floats; dtype int32"):
        init.GlorotUniform()([2, 2], gn.int32)
    with pytest.raises(ShapeError, match="Identity initializer needs a 2-D shape"):
        init.Identity()([2, 2, 2])
    with pytest.raises(ShapeError, match="Orthogonal needs a shape of rank 2"):
        init.Orthogonal()([4])
    with pytest.raises(DTypeError, match="must be integers"):
        init.Zeros()([None, 3])
