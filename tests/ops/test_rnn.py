"""Recurrent cells against NumPy re-implementations of TF1's equations, static unrolling,
gradients through an unrolled LSTM, and gradient clipping against NumPy."""

import numpy as np
import pytest

import graphnet as gn
from graphnet.train.gradient_check import check_gradients
from tests.helpers import check_op, rand

rnn_cell = gn.nn.rnn_cell


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# -- NumPy steps, written from TF1's rnn_cell_impl equations ---------------------------------------


def np_basic_rnn(x, h, kernel, bias):
    out = np.tanh(np.concatenate([x, h], 1) @ kernel + bias)
    return out, out


def np_lstm(
    x, state, kernel, bias, forget_bias=1.0, peep=None, cell_clip=None, proj=None, proj_clip=None
):
    c, h = state
    i, j, f, o = np.split(np.concatenate([x, h], 1) @ kernel + bias, 4, axis=1)
    w_f, w_i, w_o = peep if peep is not None else (0.0, 0.0, 0.0)
    new_c = sigmoid(f + forget_bias + w_f * c) * c + sigmoid(i + w_i * c) * np.tanh(j)
    if cell_clip is not None:
        new_c = np.clip(new_c, -cell_clip, cell_clip)
    new_h = sigmoid(o + w_o * new_c) * np.tanh(new_c)
    if proj is not None:
        new_h = new_h @ proj
        if proj_clip is not None:
            new_h = np.clip(new_h, -proj_clip, proj_clip)
    return new_h, (new_c, new_h)


def np_gru(x, h, gate_kernel, gate_bias, cand_kernel, cand_bias):
    r, u = np.split(sigmoid(np.concatenate([x, h], 1) @ gate_kernel + gate_bias), 2, axis=1)
    c = np.tanh(np.concatenate([x, r * h], 1) @ cand_kernel + cand_bias)
    new_h = u * h + (1 - u) * c
    return new_h, new_h


def run_initialized(fetches, feed=None):
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        return sess.run(fetches, feed)


X = rand(2, 3, seed=1)
H = rand(2, 4, seed=2)
C = rand(2, 4, seed=3)


def test_basic_rnn_cell_one_step_and_variables():
    gn.set_random_seed(1)
    cell = rnn_cell.BasicRNNCell(4)
    out, state = cell(gn.constant(X), gn.constant(H))
    assert [v.name for v in cell.variables] == ["basic_rnn_cell/kernel:0", "basic_rnn_cell/bias:0"]
    assert cell.variables[0].shape == (7, 4) and cell.variables[1].shape == (4,)
    assert cell.variables[0].dtype == gn.float64  # taken from the inputs
    got_out, got_state, (kernel, bias) = run_initialized([out, state, cell.variables])
    limit = np.sqrt(6 / (7 + 4))
    assert np.all(np.abs(kernel) <= limit) and kernel.std() > limit / 4  # glorot uniform
    np.testing.assert_array_equal(bias, 0.0)
    want_out, want_state = np_basic_rnn(X, H, kernel, bias)
    np.testing.assert_allclose(got_out, want_out, rtol=1e-12)
    np.testing.assert_allclose(got_state, want_state, rtol=1e-12)


@pytest.mark.parametrize("forget_bias", [1.0, 0.0])
def test_basic_lstm_cell_one_step(forget_bias):
    cell = rnn_cell.BasicLSTMCell(4, forget_bias=forget_bias)
    out, state = cell(X, rnn_cell.LSTMStateTuple(gn.constant(C), gn.constant(H)))
    assert isinstance(state, rnn_cell.LSTMStateTuple) and state.dtype == gn.float64
    assert cell.state_size == (4, 4) and cell.output_size == 4
    assert [v.name for v in cell.variables] == [
        "basic_lstm_cell/kernel:0",
        "basic_lstm_cell/bias:0",
    ]
    assert cell.variables[0].shape == (7, 16)
    got_out, got_state, (kernel, bias) = run_initialized([out, state, cell.variables])
    want_out, want_state = np_lstm(X, (C, H), kernel, bias, forget_bias)
    np.testing.assert_allclose(got_out, want_out, rtol=1e-12)
    np.testing.assert_allclose(got_state, want_state, rtol=1e-12)


def test_lstm_cell_with_peepholes_clipping_and_projection():
    cell = rnn_cell.LSTMCell(
        4, use_peepholes=True, cell_clip=0.3, num_proj=3, proj_clip=0.2, forget_bias=0.5
    )
    h3 = H[:, :3]
    out, state = cell(X, (gn.constant(C), gn.constant(h3)))
    assert cell.state_size == (4, 3) and cell.output_size == 3
    names = [v.name.split("/", 1)[1] for v in cell.variables]
    assert names == [
        "kernel:0",
        "bias:0",
        "w_f_diag:0",
        "w_i_diag:0",
        "w_o_diag:0",
        "projection/kernel:0",
    ]
    assert cell.variables[0].shape == (3 + 3, 16)
    got_out, got_state, values = run_initialized([out, state, cell.variables])
    kernel, bias, w_f, w_i, w_o, proj = values
    want_out, want_state = np_lstm(X, (C, h3), kernel, bias, 0.5, (w_f, w_i, w_o), 0.3, proj, 0.2)
    np.testing.assert_allclose(got_out, want_out, rtol=1e-12)
    for got, want in zip(got_state, want_state, strict=True):  # c is [2, 4], h is [2, 3]
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_lstm_cell_with_a_concatenated_state():
    cell = rnn_cell.BasicLSTMCell(4, state_is_tuple=False)
    out, state = cell(X, np.concatenate([C, H], 1))
    assert cell.state_size == 8 and state.shape == (2, 8)
    got_out, got_state, (kernel, bias) = run_initialized([out, state, cell.variables])
    want_out, (want_c, want_h) = np_lstm(X, (C, H), kernel, bias)
    np.testing.assert_allclose(got_out, want_out, rtol=1e-12)
    np.testing.assert_allclose(got_state, np.concatenate([want_c, want_h], 1), rtol=1e-12)


def test_gru_cell_one_step_with_tf_bias_initializers():
    cell = rnn_cell.GRUCell(4)
    out, state = cell(X, H)
    names = [v.name for v in cell.variables]
    assert names == [
        "gru_cell/gates/kernel:0",
        "gru_cell/gates/bias:0",
        "gru_cell/candidate/kernel:0",
        "gru_cell/candidate/bias:0",
    ]
    got_out, got_state, values = run_initialized([out, state, cell.variables])
    gate_kernel, gate_bias, cand_kernel, cand_bias = values
    assert gate_kernel.shape == (7, 8) and cand_kernel.shape == (7, 4)
    np.testing.assert_array_equal(gate_bias, 1.0)  # TF's GRUCell starts the gates at 1
    np.testing.assert_array_equal(cand_bias, 0.0)
    want_out, _ = np_gru(X, H, *values)
    np.testing.assert_allclose(got_out, want_out, rtol=1e-12)
    np.testing.assert_allclose(got_state, want_out, rtol=1e-12)


def test_cell_dtype_argument_and_custom_initializers():
    cell = rnn_cell.GRUCell(
        2,
        kernel_initializer=lambda shape, dtype: gn.ones(shape, dtype) * 0.1,
        bias_initializer=lambda shape, dtype: gn.zeros(shape, dtype),
        dtype=gn.float32,
    )
    x = gn.placeholder(gn.float32, [1, 1])
    out, _ = cell(x, cell.zero_state(1, gn.float32))
    assert all(v.dtype == gn.float32 for v in cell.variables)
    got, values = run_initialized([out, cell.variables], {x: [[1.0]]})
    np.testing.assert_allclose(values[0], 0.1)
    np.testing.assert_allclose(got, np_gru(np.ones((1, 1)), np.zeros((1, 2)), *values)[0])


def test_zero_state_for_static_and_runtime_batch_sizes():
    lstm = rnn_cell.BasicLSTMCell(3)
    state = lstm.zero_state(2, gn.float64)
    assert isinstance(state, rnn_cell.LSTMStateTuple)
    assert state.c.shape == (2, 3) and state.h.dtype == gn.float64
    x = gn.placeholder(gn.float32, [None, 5])
    dynamic = rnn_cell.GRUCell(4).zero_state(gn.shape(x)[0], gn.float32)
    with gn.Session() as sess:
        np.testing.assert_array_equal(sess.run(dynamic, {x: np.ones((3, 5))}), np.zeros((3, 4)))


# -- static unrolling ---------------------------------------------------------------------------

STEPS = [rand(2, 3, seed=10 + t) for t in range(3)]


def np_unroll(step, state, xs):
    outputs = []
    for x in xs:
        out, state = step(x, state)
        outputs.append(out)
    return outputs, state


def test_static_rnn_unrolls_an_lstm_over_three_steps_with_shared_variables():
    cell = rnn_cell.BasicLSTMCell(4)
    outputs, state = gn.nn.static_rnn(cell, [gn.constant(x) for x in STEPS], dtype=gn.float64)
    assert len(outputs) == 3 and len(cell.variables) == 2
    assert cell.variables[0].name == "rnn/basic_lstm_cell/kernel:0"
    assert len(gn.trainable_variables()) == 2
    got_outputs, got_state, (kernel, bias) = run_initialized([outputs, state, cell.variables])
    zeros = (np.zeros((2, 4)), np.zeros((2, 4)))
    want_outputs, want_state = np_unroll(lambda x, s: np_lstm(x, s, kernel, bias), zeros, STEPS)
    np.testing.assert_allclose(got_outputs, want_outputs, rtol=1e-12)
    np.testing.assert_allclose(got_state, want_state, rtol=1e-12)


def test_static_rnn_with_an_initial_state_and_unknown_batch_size():
    cell = rnn_cell.GRUCell(4)
    xs = [gn.placeholder(gn.float64, [None, 3]) for _ in STEPS]
    h0 = gn.placeholder(gn.float64, [None, 4])
    outputs, state = gn.nn.static_rnn(cell, xs, initial_state=h0, scope="encoder")
    zero_started, _ = gn.nn.static_rnn(cell, xs, dtype=gn.float64)
    assert cell.variables[0].name == "encoder/gru_cell/gates/kernel:0"
    assert len(cell.variables) == 4  # the second unrolling reuses them
    feed = {**dict(zip(xs, STEPS, strict=True)), h0: H}
    got_outputs, got_state, got_zero_started, values = run_initialized(
        [outputs, state, zero_started[0], cell.variables], feed
    )
    want_outputs, want_state = np_unroll(lambda x, s: np_gru(x, s, *values), H, STEPS)
    np.testing.assert_allclose(got_outputs, want_outputs, rtol=1e-12)
    np.testing.assert_allclose(got_state, want_state, rtol=1e-12)
    want_zero_started = np_gru(STEPS[0], np.zeros((2, 4)), *values)[0]
    np.testing.assert_allclose(got_zero_started, want_zero_started, rtol=1e-12)


def test_static_rnn_with_sequence_length_stops_each_example_at_its_length():
    cell = rnn_cell.BasicRNNCell(4)
    lengths = np.array([1, 3], np.int32)
    outputs, state = gn.nn.static_rnn(cell, STEPS, dtype=gn.float64, sequence_length=lengths)
    got_outputs, got_state, (kernel, bias) = run_initialized([outputs, state, cell.variables])
    full, _ = np_unroll(lambda x, s: np_basic_rnn(x, s, kernel, bias), np.zeros((2, 4)), STEPS)
    np.testing.assert_allclose(got_outputs[0], full[0], rtol=1e-12)
    for t in (1, 2):
        np.testing.assert_array_equal(got_outputs[t][0], 0.0)
        np.testing.assert_allclose(got_outputs[t][1], full[t][1], rtol=1e-12)
    np.testing.assert_allclose(got_state, [full[0][0], full[2][1]], rtol=1e-12)


def test_static_bidirectional_rnn_concatenates_forward_and_backward_outputs():
    cell_fw, cell_bw = rnn_cell.BasicLSTMCell(3), rnn_cell.GRUCell(2)
    outputs, state_fw, state_bw = gn.nn.static_bidirectional_rnn(
        cell_fw, cell_bw, STEPS, dtype=gn.float64
    )
    assert [o.shape for o in outputs] == [(2, 5)] * 3
    assert cell_fw.variables[0].name == "bidirectional_rnn/fw/basic_lstm_cell/kernel:0"
    assert cell_bw.variables[0].name == "bidirectional_rnn/bw/gru_cell/gates/kernel:0"
    fetches = [outputs, state_fw, state_bw, cell_fw.variables, cell_bw.variables]
    got, got_fw, got_bw, fw_vars, bw_vars = run_initialized(fetches)
    zeros = np.zeros((2, 3))
    want_fw, want_state_fw = np_unroll(lambda x, s: np_lstm(x, s, *fw_vars), (zeros, zeros), STEPS)
    want_bw, want_state_bw = np_unroll(
        lambda x, s: np_gru(x, s, *bw_vars), zeros[:, :2], STEPS[::-1]
    )
    for t in range(3):
        np.testing.assert_allclose(
            got[t], np.concatenate([want_fw[t], want_bw[2 - t]], 1), rtol=1e-12
        )
    np.testing.assert_allclose(got_fw, want_state_fw, rtol=1e-12)
    np.testing.assert_allclose(got_bw, want_state_bw, rtol=1e-12)


def test_static_bidirectional_rnn_reverses_each_sequence_within_its_length():
    cell_fw, cell_bw = rnn_cell.BasicRNNCell(2), rnn_cell.BasicRNNCell(2)
    lengths = np.array([2, 3], np.int32)
    outputs, _, state_bw = gn.nn.static_bidirectional_rnn(
        cell_fw, cell_bw, STEPS, dtype=gn.float64, sequence_length=lengths
    )
    got, got_bw, bw_vars = run_initialized([outputs, state_bw, cell_bw.variables])
    for b, length in enumerate(lengths):
        xs = [x[b : b + 1] for x in STEPS[:length]][::-1]
        want, want_state = np_unroll(
            lambda x, s: np_basic_rnn(x, s, *bw_vars), np.zeros((1, 2)), xs
        )
        for t in range(3):
            want_t = want[length - 1 - t][0] if t < length else np.zeros(2)
            np.testing.assert_allclose(got[t][b, 2:], want_t, rtol=1e-12)
        np.testing.assert_allclose(got_bw[b], want_state[0], rtol=1e-12)


def test_multi_rnn_cell_stacks_cells_under_cell_scopes():
    cell = rnn_cell.MultiRNNCell([rnn_cell.BasicLSTMCell(4), rnn_cell.GRUCell(2)])
    outputs, state = gn.nn.static_rnn(cell, STEPS[:2], dtype=gn.float64)
    assert cell.output_size == 2 and cell.state_size == ((4, 4), 2)
    assert [v.name for v in cell.variables][::2] == [
        "rnn/multi_rnn_cell/cell_0/basic_lstm_cell/kernel:0",
        "rnn/multi_rnn_cell/cell_1/gru_cell/gates/kernel:0",
        "rnn/multi_rnn_cell/cell_1/gru_cell/candidate/kernel:0",
    ]
    got_outputs, got_state, values = run_initialized([outputs, state, cell.variables])

    def step(x, s):
        h, lstm_state = np_lstm(x, s[0], *values[:2])
        out, gru_state = np_gru(h, s[1], *values[2:])
        return out, (lstm_state, gru_state)

    want_outputs, want_state = np_unroll(
        step, ((np.zeros((2, 4)), np.zeros((2, 4))), np.zeros((2, 2))), STEPS[:2]
    )
    np.testing.assert_allclose(got_outputs, want_outputs, rtol=1e-12)
    np.testing.assert_allclose(got_state[0], want_state[0], rtol=1e-12)
    np.testing.assert_allclose(got_state[1], want_state[1], rtol=1e-12)


def test_gradient_of_an_unrolled_lstm_matches_finite_differences():
    gn.set_random_seed(3)
    xs = [gn.placeholder(gn.float64, [2, 2]) for _ in range(3)]
    cell = rnn_cell.BasicLSTMCell(3, dtype=gn.float64)
    outputs, state = gn.nn.static_rnn(cell, xs, dtype=gn.float64)
    weights = gn.constant(rand(2, 3, seed=4))
    loss = gn.reduce_sum(gn.add_n(outputs) * weights) + gn.reduce_sum(gn.square(state.c))
    feed = {x: rand(2, 2, seed=20 + i) for i, x in enumerate(xs)}
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        errors = check_gradients(loss, [*xs, cell.variables[0]], feed_dict=feed, session=sess)
    assert len(errors) == 4
    assert max(errors.values()) < 1e-7, errors


def test_rnn_errors_name_what_is_missing():
    cell = rnn_cell.BasicRNNCell(2)
    with pytest.raises(ValueError, match="dtype must be given"):
        gn.nn.static_rnn(cell, STEPS)
    with pytest.raises(TypeError, match="must be a list"):
        gn.nn.static_rnn(cell, gn.constant(STEPS[0]), dtype=gn.float64)
    with pytest.raises(gn.ShapeError, match=r"BasicRNNCell 'basic_rnn_cell'.*\[batch, depth\]"):
        cell(np.zeros(3), np.zeros((1, 2)))


# -- gradient clipping --------------------------------------------------------------------------


def np_clip_by_norm(t, clip, axes=None):
    norm = np.sqrt(np.sum(t * t, axis=axes, keepdims=True))
    return t * clip / np.maximum(norm, clip)


@pytest.mark.parametrize(("clip", "axes"), [(0.5, None), (100.0, None), (0.8, 1), (0.8, (0,))])
def test_clip_by_norm(clip, axes):
    t = rand(3, 4, seed=30)
    check_op(
        lambda x: gn.nn.clip_by_norm(x, clip, axes), [t], lambda x: np_clip_by_norm(x, clip, axes)
    )


def test_clip_by_norm_leaves_small_tensors_alone_and_zeros_finite():
    t = rand(2, 3, seed=31) * 0.01
    check_op(lambda x: gn.nn.clip_by_norm(x, 1.0), [t], t)
    check_op(lambda x: gn.nn.clip_by_norm(x, 1.0, axes=1), [np.zeros((2, 3))], np.zeros((2, 3)))


def test_global_norm_and_clip_by_global_norm_pass_none_through():
    a, b = rand(2, 3, seed=32), rand(4, seed=33)
    norm = np.sqrt(np.sum(a**2) + np.sum(b**2))
    clipped, got_norm = gn.nn.clip_by_global_norm([gn.constant(a), None, gn.constant(b)], 1.0)
    assert clipped[1] is None
    with gn.Session() as sess:
        got_a, got_b, got_norm, got_global = sess.run(
            [clipped[0], clipped[2], got_norm, gn.nn.global_norm([a, None, b])]
        )
    np.testing.assert_allclose([got_norm, got_global], [norm, norm], rtol=1e-12)
    np.testing.assert_allclose(got_a, a / norm, rtol=1e-12)
    np.testing.assert_allclose(got_b, b / norm, rtol=1e-12)


def test_clip_by_global_norm_without_clipping_and_with_use_norm():
    a, b = rand(2, 2, seed=34), rand(3, seed=35)
    norm = np.sqrt(np.sum(a**2) + np.sum(b**2))
    check_op(lambda x, y: gn.nn.clip_by_global_norm([x, y], 10.0)[0], [a, b], [a, b])
    check_op(
        lambda x, y: gn.nn.clip_by_global_norm([x, y], 0.5)[0],
        [a, b],
        [a * 0.5 / norm, b * 0.5 / norm],
    )
    clipped, used = gn.nn.clip_by_global_norm([a, b], 1.0, use_norm=4.0)
    with gn.Session() as sess:
        got_a, got_used = sess.run([clipped[0], used])
    np.testing.assert_allclose(got_a, a / 4.0, rtol=1e-12)
    assert got_used == 4.0


def test_clip_by_global_norm_of_an_infinite_norm_is_nan_and_bad_lists_are_rejected():
    clipped, _ = gn.nn.clip_by_global_norm([np.array([np.inf, 1.0])], 1.0)
    with gn.Session() as sess:
        assert np.all(np.isnan(sess.run(clipped[0])))
    with pytest.raises(TypeError, match="t_list must be a list"):
        gn.nn.clip_by_global_norm(gn.constant([1.0]), 1.0)
    with pytest.raises(ValueError, match="holds no tensors"):
        gn.nn.global_norm([None])
