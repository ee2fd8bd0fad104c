"""Each optimizer against a NumPy re-implementation of its update, step by step, in float64."""

import numpy as np
import pytest

import graphnet as gn
from graphnet.ir import DTypeError
from graphnet.train.optimizers import (
    AdadeltaOptimizer,
    AdagradOptimizer,
    AdamOptimizer,
    AdamW,
    AdamWOptimizer,
    GradientDescentOptimizer,
    MomentumOptimizer,
    OptimizerError,
    RMSPropOptimizer,
    extend_with_decoupled_weight_decay,
)
from graphnet.train.schedules import get_or_create_global_step

# -- the problem: 0.5 * ||A w + b - y||^2 -------------------------------------------------------

_RNG = np.random.default_rng(0)
A = _RNG.normal(size=(6, 3))
Y = _RNG.normal(size=6)
W0 = _RNG.normal(size=3)
B0 = np.array(0.3)


def _grads(params):
    r = A @ params["w"] + params["b"] - Y
    return {"w": A.T @ r, "b": np.sum(r)}


def _build():
    w = gn.Variable(W0, name="w")
    b = gn.Variable(B0, name="b")
    pred = gn.reduce_sum(gn.constant(A) * w, axis=1) + b
    loss = 0.5 * gn.reduce_sum(gn.square(pred - gn.constant(Y)))
    return w, b, loss


def _check(optimizer, update, steps=6, **minimize_kwargs):
    """Runs `steps` steps of optimizer.minimize against `update(p, g, state, t)` per variable."""
    w, b, loss = _build()
    train = optimizer.minimize(loss, **minimize_kwargs)
    params = {"w": W0.copy(), "b": B0.copy()}
    states = {"w": {}, "b": {}}
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        for t in range(1, steps + 1):
            sess.run(train)
            grads = _grads(params)
            params = {k: update(params[k], grads[k], states[k], t) for k in params}
            got_w, got_b = sess.run([w, b])
            np.testing.assert_allclose(got_w, params["w"], rtol=1e-10, atol=1e-12, err_msg=f"{t}")
            np.testing.assert_allclose(got_b, params["b"], rtol=1e-10, atol=1e-12, err_msg=f"{t}")
    return params


# -- NumPy references (textbook forms) ------------------------------------------------------------


def sgd_ref(lr):
    return lambda p, g, s, t: p - lr * g


def momentum_ref(lr, mu, nesterov=False):
    def update(p, g, s, t):
        s["accum"] = mu * s.get("accum", 0.0) + g
        return p - lr * (g + mu * s["accum"] if nesterov else s["accum"])

    return update


def adagrad_ref(lr, initial=0.1):
    def update(p, g, s, t):
        s["accum"] = s.get("accum", initial) + g**2
        return p - lr * g / np.sqrt(s["accum"])

    return update


def adadelta_ref(lr, rho, eps):
    def update(p, g, s, t):
        s["accum"] = rho * s.get("accum", 0.0) + (1 - rho) * g**2
        step = np.sqrt(s.get("accum_update", 0.0) + eps) / np.sqrt(s["accum"] + eps) * g
        s["accum_update"] = rho * s.get("accum_update", 0.0) + (1 - rho) * step**2
        return p - lr * step

    return update


def rmsprop_ref(lr, decay, mu, eps, centered):
    def update(p, g, s, t):
        s["ms"] = decay * s.get("ms", 1.0) + (1 - decay) * g**2
        s["mg"] = decay * s.get("mg", 0.0) + (1 - decay) * g if centered else 0.0
        s["mom"] = mu * s.get("mom", 0.0) + lr * g / np.sqrt(s["ms"] - s["mg"] ** 2 + eps)
        return p - s["mom"]

    return update


def adam_ref(lr, b1=0.9, b2=0.999, eps=1e-8, amsgrad=False, wd=0.0):
    def update(p, g, s, t):
        p = p - lr * wd * p
        s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g**2
        s["vhat"] = np.maximum(s.get("vhat", 0.0), s["v"])
        lr_t = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        return p - lr_t * s["m"] / (np.sqrt(s["vhat"] if amsgrad else s["v"]) + eps)

    return update


# -- update formulas ---------------------------------------------------------------------------


def test_gradient_descent():
    _check(GradientDescentOptimizer(0.05), sgd_ref(0.05))


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum(nesterov):
    _check(MomentumOptimizer(0.03, 0.9, use_nesterov=nesterov), momentum_ref(0.03, 0.9, nesterov))


def test_adagrad():
    _check(AdagradOptimizer(0.2), adagrad_ref(0.2))
    gn.reset_default_graph()
    _check(AdagradOptimizer(0.2, initial_accumulator_value=0.5), adagrad_ref(0.2, 0.5))


def test_adadelta():
    _check(AdadeltaOptimizer(1.0), adadelta_ref(1.0, 0.95, 1e-8))
    gn.reset_default_graph()
    _check(AdadeltaOptimizer(0.5, rho=0.8, epsilon=1e-4), adadelta_ref(0.5, 0.8, 1e-4))


@pytest.mark.parametrize(
    "momentum, centered", [(0.0, False), (0.9, False), (0.0, True), (0.9, True)]
)
def test_rmsprop(momentum, centered):
    opt = RMSPropOptimizer(0.01, decay=0.8, momentum=momentum, epsilon=1e-6, centered=centered)
    _check(opt, rmsprop_ref(0.01, 0.8, momentum, 1e-6, centered))


def test_rmsprop_defaults_are_tf1s():
    _check(RMSPropOptimizer(0.01), rmsprop_ref(0.01, 0.9, 0.0, 1e-10, False))


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam(amsgrad):
    _check(AdamOptimizer(0.1, amsgrad=amsgrad), adam_ref(0.1, amsgrad=amsgrad), steps=8)


def test_adam_hyperparameters():
    opt = AdamOptimizer(0.05, beta1=0.5, beta2=0.9, epsilon=1e-3)
    _check(opt, adam_ref(0.05, 0.5, 0.9, 1e-3))


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adamw_decays_by_lr_times_weight_decay(amsgrad):
    opt = AdamWOptimizer(0.1, learning_rate=0.05, amsgrad=amsgrad)
    _check(opt, adam_ref(0.05, amsgrad=amsgrad, wd=0.1))
    assert AdamW is AdamWOptimizer and opt.get_name() == "AdamW"


def test_adamw_decay_var_list_restricts_the_decay():
    w, b, loss = _build()
    opt = AdamWOptimizer(0.2, learning_rate=0.05)
    train = opt.minimize(loss, decay_var_list=[w])
    params, states = {"w": W0.copy(), "b": B0.copy()}, {"w": {}, "b": {}}
    updates = {"w": adam_ref(0.05, wd=0.2), "b": adam_ref(0.05)}
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        for t in (1, 2, 3):
            sess.run(train)
            grads = _grads(params)
            params = {k: updates[k](params[k], grads[k], states[k], t) for k in params}
        got_w, got_b = sess.run([w, b])
    np.testing.assert_allclose(got_w, params["w"], rtol=1e-10)
    np.testing.assert_allclose(got_b, params["b"], rtol=1e-10)


def test_extend_with_decoupled_weight_decay():
    momentum_w = extend_with_decoupled_weight_decay(MomentumOptimizer)
    ref = momentum_ref(0.03, 0.9)
    _check(momentum_w(0.1, 0.03, 0.9), lambda p, g, s, t: ref(p - 0.03 * 0.1 * p, g, s, t))


# -- learning rates --------------------------------------------------------------------------------


def test_learning_rate_may_be_a_tensor_or_a_callable():
    lr = gn.placeholder(gn.float64, [], name="lr")
    w, _, loss = _build()
    train = GradientDescentOptimizer(lr).minimize(loss)
    params = {"w": W0.copy(), "b": B0.copy()}
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        for rate in (0.1, 0.01, 0.05):
            sess.run(train, {lr: rate})
            grads = _grads(params)
            params = {k: params[k] - rate * grads[k] for k in params}
        np.testing.assert_allclose(sess.run(w), params["w"], rtol=1e-12)
    gn.reset_default_graph()
    _check(MomentumOptimizer(lambda: 0.02, lambda: 0.5), momentum_ref(0.02, 0.5))


def test_float32_learning_rate_tensor_is_cast_to_the_variables_dtype():
    lr = gn.constant(0.125, gn.float32)
    _check(GradientDescentOptimizer(lr), sgd_ref(0.125))


# -- bookkeeping ---------------------------------------------------------------------------------


def test_global_step_increments_after_the_updates():
    _, _, loss = _build()
    step = get_or_create_global_step()
    train = AdamOptimizer(0.1).minimize(loss, global_step=step)
    assert train.name == "Adam"
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        for expected in (1, 2, 3):
            sess.run(train)
            assert sess.run(step) == expected
        assert sess.run(step).dtype == np.int64


def test_apply_gradients_names_its_op():
    _, _, loss = _build()
    opt = GradientDescentOptimizer(0.1)
    first = opt.minimize(loss)
    second = opt.minimize(loss, name="train")
    third = opt.minimize(loss)
    assert (first.name, second.name, third.name) == (
        "GradientDescent",
        "train",
        "GradientDescent_1",
    )


def test_var_list_restricts_the_updates():
    w, b, loss = _build()
    opt = MomentumOptimizer(0.1, 0.9)
    train = opt.minimize(loss, var_list=[w])
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        sess.run(train)
        assert not np.allclose(sess.run(w), W0)
        assert sess.run(b) == B0
    assert opt.get_slot(w, "momentum") is not None
    assert opt.get_slot(b, "momentum") is None


def test_compute_gradients_pairs_gradients_with_variables():
    w, b, loss = _build()
    unused = gn.Variable(np.ones(2), name="unused")
    pairs = GradientDescentOptimizer(0.1).compute_gradients(loss)
    assert [v for _, v in pairs] == [w, b, unused]
    assert pairs[2][0] is None
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        got = sess.run([g for g, _ in pairs[:2]])
    expected = _grads({"w": W0, "b": B0})
    np.testing.assert_allclose(got[0], expected["w"], rtol=1e-12)
    np.testing.assert_allclose(got[1], expected["b"], rtol=1e-12)


def test_slots_are_named_like_tf_and_initialized_by_the_global_initializer():
    w, _, loss = _build()
    opt = AdamOptimizer(0.1, amsgrad=True)
    opt.minimize(loss)
    names = [v.op.name for v in opt.variables()]
    assert names == sorted(
        ["b/Adam", "b/Adam_1", "b/Adam_2", "beta1_power", "beta2_power",
         "w/Adam", "w/Adam_1", "w/Adam_2"]
    )  # fmt: skip
    assert opt.get_slot_names() == ["m", "v", "vhat"]
    assert opt.get_slot(w, "m").op.name == "w/Adam"
    assert opt.get_slot(w, "v").op.name == "w/Adam_1"
    assert set(opt.variables()) <= set(gn.global_variables())
    assert not set(opt.variables()) & set(gn.trainable_variables())
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(opt.get_slot(w, "m")), np.zeros(3))
        powers = [v for v in opt.variables() if v.op.name.endswith("_power")]
        np.testing.assert_allclose(sess.run(powers), [0.9, 0.999], rtol=1e-15)


@pytest.mark.parametrize(
    "opt, slot, value",
    [
        (AdagradOptimizer(0.1), "accumulator", 0.1),
        (RMSPropOptimizer(0.1), "rms", 1.0),
        (RMSPropOptimizer(0.1), "momentum", 0.0),
        (AdadeltaOptimizer(), "accum_update", 0.0),
    ],
)
def test_slot_initial_values(opt, slot, value):
    w, _, loss = _build()
    opt.minimize(loss)
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(opt.get_slot(w, slot)), np.full(3, value))


def test_none_gradients_are_skipped():
    _, _, loss = _build()
    unused = gn.Variable(np.ones(2), name="unused")
    opt = MomentumOptimizer(0.1, 0.9)
    train = opt.minimize(loss)
    assert opt.get_slot(unused, "momentum") is None
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        sess.run(train)
        np.testing.assert_array_equal(sess.run(unused), np.ones(2))


def test_errors_leave_the_graph_variables_unchanged():
    w, b, loss = _build()
    unused = gn.Variable(np.ones(2), name="unused")
    count = gn.Variable(np.int32(0), name="count")
    opt = AdamOptimizer()
    before = gn.global_variables()
    with pytest.raises(OptimizerError, match="no gradients provided for any variable"):
        opt.minimize(loss, var_list=[unused])
    with pytest.raises(OptimizerError, match="'w' is listed more than once"):
        opt.minimize(loss, var_list=[w, w])
    with pytest.raises(DTypeError, match="'count' has dtype int32"):
        opt.minimize(loss, var_list=[w, count])
    with pytest.raises(OptimizerError, match="no variables provided"):
        opt.apply_gradients([])
    with pytest.raises(OptimizerError, match=r"gradient .* of variable 'b' has shape \[2\]"):
        opt.apply_gradients([(gn.constant(np.ones(3)), w), (gn.constant(np.ones(2)), b)])
    with pytest.raises(DTypeError, match="has dtype float32, expected float64"):
        opt.apply_gradients([(gn.constant(np.ones(3, np.float32)), w)])
    assert gn.global_variables() == before


def test_minimize_converges_on_a_tiny_regression():
    rng = np.random.default_rng(1)
    x_data = rng.normal(size=(32, 3)).astype(np.float32)
    y_data = x_data @ np.array([[1.5], [-2.0], [0.5]], np.float32) + 0.25
    x = gn.placeholder(gn.float32, [None, 3])
    y = gn.placeholder(gn.float32, [None, 1])
    w = gn.Variable(np.zeros((3, 1), np.float32), name="w")
    b = gn.Variable(np.float32(0.0), name="b")
    loss = gn.reduce_mean(gn.square(gn.matmul(x, w) + b - y))
    train = AdamOptimizer(0.1).minimize(loss, global_step=get_or_create_global_step())
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        for _ in range(300):
            sess.run(train, {x: x_data, y: y_data})
        assert sess.run(loss, {x: x_data, y: y_data}) < 1e-4
        np.testing.assert_allclose(sess.run(w).ravel(), [1.5, -2.0, 0.5], atol=1e-2)
        assert abs(sess.run(b) - 0.25) < 1e-2
