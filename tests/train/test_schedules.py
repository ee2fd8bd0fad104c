"""The global step, and each schedule against TF's formula in NumPy at several steps."""

import math

import numpy as np
import pytest

import graphnet as gn
from graphnet.ir import DTypeError, ShapeError
from graphnet.train.optimizers import GradientDescentOptimizer
from graphnet.train.schedules import (
    ScheduleError,
    assert_global_step,
    cosine_decay,
    cosine_decay_restarts,
    create_global_step,
    exponential_decay,
    get_global_step,
    get_or_create_global_step,
    global_step,
    inverse_time_decay,
    natural_exp_decay,
    piecewise_constant,
    polynomial_decay,
)

STEPS = [0, 1, 4, 5, 9, 10, 11, 17, 20, 33, 100]
LR = np.float64(0.1)  # a float64 learning rate: the schedule computes in float64


def _values(schedule):
    """schedule(step placeholder) evaluated at each of STEPS."""
    step = gn.placeholder(gn.int64, [], name="step")
    out = schedule(step)
    with gn.Session() as sess:
        return np.array([sess.run(out, {step: s}) for s in STEPS])


def _expect(formula):
    return np.array([formula(float(s)) for s in STEPS])


# -- the global step ---------------------------------------------------------------------------


def test_get_or_create_global_step():
    assert get_global_step() is None
    step = get_or_create_global_step()
    assert get_or_create_global_step() is step and get_global_step() is step
    assert step.op.name == "global_step" and step.dtype == gn.int64 and step.shape == ()
    assert not step.trainable
    assert gn.get_collection(gn.GraphKeys.GLOBAL_STEP) == [step]
    assert step in gn.global_variables() and step not in gn.trainable_variables()
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        assert global_step(sess, step) == 0 and isinstance(global_step(sess, step), int)


def test_global_step_is_created_at_the_root_without_control_dependencies():
    x = gn.constant(1.0)
    with gn.name_scope("scope"), gn.control_dependencies([x]):
        step = create_global_step()
    assert step.op.name == "global_step"
    assert step.initializer.control_inputs == ()


def test_create_global_step_twice_raises():
    create_global_step()
    with pytest.raises(ScheduleError, match="already has a global step"):
        create_global_step()


def test_global_step_of_another_graph():
    graph = gn.Graph()
    step = get_or_create_global_step(graph)
    assert step.graph is graph and get_global_step() is None


def test_a_tensor_named_global_step_is_found():
    step = gn.Variable(np.int32(0), name="global_step", trainable=False)
    assert get_global_step() is step.value()


def test_assert_global_step_rejects_floats_and_non_scalars():
    with pytest.raises(DTypeError, match="integer scalar"):
        assert_global_step(gn.Variable(0.0, name="f"))
    with pytest.raises(DTypeError, match="integer scalar"):
        assert_global_step(gn.Variable(np.zeros(2, np.int64), name="v"))


def test_schedules_need_a_global_step():
    with pytest.raises(ScheduleError, match="exponential_decay needs a global_step"):
        exponential_decay(0.1, None, 10, 0.5)


# -- schedules ---------------------------------------------------------------------------------


@pytest.mark.parametrize("staircase", [False, True])
def test_exponential_decay(staircase):
    got = _values(lambda s: exponential_decay(LR, s, 10, 0.5, staircase=staircase))
    floor = math.floor if staircase else float
    np.testing.assert_allclose(got, _expect(lambda t: 0.1 * 0.5 ** floor(t / 10)), rtol=1e-13)


@pytest.mark.parametrize("staircase", [False, True])
def test_inverse_time_decay(staircase):
    got = _values(lambda s: inverse_time_decay(LR, s, 5, 0.5, staircase=staircase))
    floor = math.floor if staircase else float
    np.testing.assert_allclose(got, _expect(lambda t: 0.1 / (1 + 0.5 * floor(t / 5))), rtol=1e-13)


@pytest.mark.parametrize("staircase", [False, True])
def test_natural_exp_decay(staircase):
    got = _values(lambda s: natural_exp_decay(LR, s, 5, 0.3, staircase=staircase))
    floor = math.floor if staircase else float
    np.testing.assert_allclose(
        got, _expect(lambda t: 0.1 * math.exp(-0.3 * floor(t / 5))), rtol=1e-13
    )


@pytest.mark.parametrize("power", [1.0, 0.5, 2.0])
def test_polynomial_decay(power):
    got = _values(lambda s: polynomial_decay(LR, s, 10, 0.01, power=power))

    def formula(t):
        t = min(t, 10)
        return (0.1 - 0.01) * (1 - t / 10) ** power + 0.01

    np.testing.assert_allclose(got, _expect(formula), rtol=1e-13)


def test_polynomial_decay_cycle():
    got = _values(lambda s: polynomial_decay(LR, s, 10, cycle=True))

    def formula(t):
        steps = 10 * (1.0 if t == 0 else math.ceil(t / 10))
        return (0.1 - 0.0001) * (1 - t / steps) + 0.0001

    np.testing.assert_allclose(got, _expect(formula), rtol=1e-13)


@pytest.mark.parametrize("alpha", [0.0, 0.2])
def test_cosine_decay(alpha):
    got = _values(lambda s: cosine_decay(LR, s, 20, alpha=alpha))

    def formula(t):
        cosine = 0.5 * (1 + math.cos(math.pi * min(t, 20) / 20))
        return 0.1 * ((1 - alpha) * cosine + alpha)

    np.testing.assert_allclose(got, _expect(formula), rtol=1e-13, atol=1e-16)


@pytest.mark.parametrize("t_mul, m_mul, alpha", [(2.0, 1.0, 0.0), (2.0, 0.5, 0.1), (1.0, 0.8, 0.0)])
def test_cosine_decay_restarts(t_mul, m_mul, alpha):
    got = _values(lambda s: cosine_decay_restarts(LR, s, 5, t_mul=t_mul, m_mul=m_mul, alpha=alpha))

    def formula(t):  # walk the periods
        start, length, restart = 0.0, 5.0, 0
        while t >= start + length:
            start, length, restart = start + length, length * t_mul, restart + 1
        cosine = 0.5 * m_mul**restart * (1 + math.cos(math.pi * (t - start) / length))
        return 0.1 * ((1 - alpha) * cosine + alpha)

    np.testing.assert_allclose(got, _expect(formula), rtol=1e-9, atol=1e-15)


def test_piecewise_constant():
    got = _values(lambda s: piecewise_constant(s, [5, 10, 20], [1.0, 0.5, 0.1, 0.01]))
    expected = _expect(lambda t: 1.0 if t <= 5 else 0.5 if t <= 10 else 0.1 if t <= 20 else 0.01)
    np.testing.assert_allclose(got, expected, rtol=1e-7)
    assert got.dtype == np.float32


def test_piecewise_constant_of_a_float():
    x = gn.placeholder(gn.float64, [])
    out = piecewise_constant(x, [0.5], [np.float64(-1.0), np.float64(1.0)], name="pc")
    assert out.op.name == "pc"
    with gn.Session() as sess:
        assert [sess.run(out, {x: v}) for v in (0.0, 0.5, 0.75)] == [-1.0, -1.0, 1.0]


def test_piecewise_constant_checks_its_arguments():
    step = gn.placeholder(gn.int64, [])
    with pytest.raises(ShapeError, match="2 boundaries need 3 values, got 2"):
        piecewise_constant(step, [1, 2], [1.0, 2.0])
    with pytest.raises(DTypeError, match="values must have one dtype"):
        piecewise_constant(step, [1], [1.0, np.float64(2.0)])
    with pytest.raises(DTypeError, match=r"boundary 1\.5 is not an integer"):
        piecewise_constant(step, [1.5], [1.0, 2.0])
    with pytest.raises(DTypeError, match="has dtype float32; x has dtype int64"):
        piecewise_constant(step, [gn.constant(1.0)], [1.0, 2.0])


def test_python_learning_rates_give_float32_schedules():
    step = get_or_create_global_step()
    for schedule in (
        exponential_decay(0.1, step, 10, 0.9),
        polynomial_decay(0.1, step, 10),
        cosine_decay(0.1, step, 10),
    ):
        assert schedule.dtype == gn.float32 and schedule.shape == ()


def test_a_schedule_drives_an_optimizer():
    step = get_or_create_global_step()
    w = gn.Variable(np.array([1.0, -2.0]), name="w")
    loss = 0.5 * gn.reduce_sum(gn.square(w))  # gradient: w
    lr = exponential_decay(LR, step, 1, 0.5, staircase=True)
    train = GradientDescentOptimizer(lr).minimize(loss, global_step=step)
    expected = np.array([1.0, -2.0])
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        for t in range(4):
            sess.run(train)
            expected = expected - 0.1 * 0.5**t * expected
        np.testing.assert_allclose(sess.run(w), expected, rtol=1e-13)
        assert global_step(sess, step) == 4
