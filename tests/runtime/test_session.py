"""Session.run: fetch structures, feeds, variables, plan cache and every error path."""

import collections

import numpy as np
import pytest

import graphnet as gn


def test_textbook_placeholder_times_two():
    x = gn.placeholder(gn.float32, [None, 3])
    y = x * 2
    with gn.Session() as sess:
        np.testing.assert_array_equal(sess.run(y, {x: [[1, 2, 3]]}), [[2, 4, 6]])
        np.testing.assert_array_equal(sess.run(y, {x: np.ones((4, 3))}), 2 * np.ones((4, 3)))


def test_textbook_c_d_e():
    a = gn.constant(5.0, name="a")
    b = gn.constant(3.0, name="b")
    c = a + b
    d = b + 5
    e = c * d
    with gn.Session() as sess:
        assert sess.run([c, d, e]) == [8.0, 8.0, 64.0]


def test_fetch_structures_are_preserved():
    a = gn.constant(1.0, name="a")
    b = gn.constant([2, 3], name="b")
    pair = collections.namedtuple("pair", "first second")
    init = gn.no_op(name="nothing")
    with gn.Session() as sess:
        out = sess.run({"x": [a, (b, "a:0")], "p": pair(a, init), "op": "nothing"})
    assert out["x"][0] == 1.0 and isinstance(out["x"][1], tuple)
    np.testing.assert_array_equal(out["x"][1][0], [2, 3])
    assert out["x"][1][1] == 1.0
    assert isinstance(out["p"], pair) and out["p"].second is None and out["op"] is None


def test_scalar_fetches_are_numpy_scalars_and_results_are_copies():
    v = gn.Variable(np.zeros(2, np.float32), name="v")
    with gn.Session() as sess:
        sess.run(v.initializer)
        value = sess.run(v)
        value[0] = 42.0  # must not change the session's variable
        np.testing.assert_array_equal(sess.run(v), [0, 0])
        assert isinstance(sess.run(gn.constant(1.5)), np.float32)


def test_unknown_fetch_and_other_graph_fetch():
    with gn.Session() as sess:
        with pytest.raises(gn.FetchError, match="no node named 'nope'"):
            sess.run("nope:0")
        with gn.Graph().as_default():
            other = gn.constant(1.0)
        with pytest.raises(gn.FetchError, match="another graph"):
            sess.run(other)


def test_missing_feed_names_the_placeholder():
    x = gn.placeholder(gn.float32, [None, 3], name="images")
    with gn.Session() as sess, pytest.raises(gn.FeedError, match=r"'images:0' \(float32\[\?,3\]\)"):
        sess.run(x * 2)


def test_wrong_feed_shape_names_expected_and_given():
    x = gn.placeholder(gn.float32, [None, 3], name="x")
    with gn.Session() as sess:
        with pytest.raises(gn.FeedError, match=r"'x:0'.*expected shape \[\?,3\], given \[2,4\]"):
            sess.run(x * 2, {x: np.zeros((2, 4))})


def test_unsafe_feed_dtype_is_rejected_and_safe_ones_cast():
    i = gn.placeholder(gn.int32, [2], name="i")
    f = gn.placeholder(gn.float32, [2], name="f")
    with gn.Session() as sess:
        with pytest.raises(gn.FeedError, match=r"'i:0'.*expected int32\[2\], given float64\[2\]"):
            sess.run(i, {i: [1.5, 2.0]})
        assert sess.run(f, {f: np.array([1, 2], np.int64)}).dtype == np.float32
        with pytest.raises(gn.FeedError, match=r"cannot convert|does not convert"):
            sess.run(f, {f: ["a", "b"]})


def test_feeding_by_name_and_feeding_intermediate_tensors():
    x = gn.placeholder(gn.float32, [], name="x")
    y = x * 3.0
    z = y + 1.0
    with gn.Session() as sess:
        assert sess.run(z, {"x:0": 2.0}) == 7.0
        assert sess.run(z, {y: 10.0}) == 11.0  # x need not be fed: y is


def test_side_effect_outputs_are_not_feedable():
    v = gn.Variable(1.0, name="v")
    inc = gn.assign_add(v, 1.0)
    with gn.Session() as sess, pytest.raises(gn.FeedError, match="not feedable"):
        sess.run(inc * 2.0, {inc: 5.0})
    with gn.Session() as sess, pytest.raises(gn.FeedError, match="feed a tensor"):
        sess.run(v, {v.initializer: 1.0})


def test_placeholder_with_default():
    x = gn.placeholder_with_default(gn.constant([1.0, 2.0]), [None], name="x")
    with gn.Session() as sess:
        np.testing.assert_array_equal(sess.run(x * 2), [2, 4])
        np.testing.assert_array_equal(sess.run(x * 2, {x: [5.0, 6.0, 7.0]}), [10, 12, 14])


def test_uninitialized_variables_are_named():
    a = gn.Variable(1.0, name="a")
    b = gn.Variable(2.0, name="b")
    with gn.Session() as sess:
        with pytest.raises(gn.FailedPreconditionError, match=r"uninitialized variable.*a, b"):
            sess.run(a + b)
        sess.run(gn.global_variables_initializer())
        assert sess.run(a + b) == 3.0


def test_variable_initialized_from_other_variable_in_one_initializer():
    w = gn.Variable(gn.constant([1.0, 2.0]), name="w")
    w2 = gn.Variable(w * 2.0, name="w2")  # a variable initialized from an expression
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(w2), [2.0, 4.0])


def test_assignments_and_control_dependencies():
    v = gn.Variable(0.0, name="counter")
    inc = v.assign_add(1.0)
    with gn.control_dependencies([inc]):
        doubled = gn.identity(v) * 2.0
    with gn.Session() as sess:
        sess.run(v.initializer)
        assert sess.run(inc) == 1.0
        assert sess.run(doubled) == 4.0  # reads the value after the increment
        assert sess.run(v.assign(10.0)) == 10.0
        assert sess.run(v.assign_sub(3.0)) == 7.0
        v.load(-1.0, sess)
        assert sess.run(v) == -1.0


def test_assign_shape_mismatch_names_the_variable():
    v = gn.Variable(np.zeros((2, 2)), name="v")
    with pytest.raises(gn.ShapeError, match=r"variable 'v'.*expected shape \[2,2\], got \[3\]"):
        gn.assign(v, np.zeros(3))


def test_sessions_hold_separate_variables():
    v = gn.Variable(1.0, name="v")
    s1, s2 = gn.Session(), gn.Session()
    s1.run(v.initializer)
    s2.run(v.initializer)
    s1.run(v.assign(5.0))
    assert (s1.run(v), s2.run(v)) == (5.0, 1.0)


def test_failing_run_leaves_variables_unchanged():
    v = gn.Variable(1.0, name="v")
    x = gn.placeholder(gn.float32, [None], name="x")
    bumped = gn.assign_add(v, 1.0)
    bad = gn.reshape(x, [2, 3], name="bad_reshape")  # fails at run time for 5 elements
    with gn.Session() as sess:
        sess.run(v.initializer)
        with pytest.raises(gn.OpError, match=r"'bad_reshape' \(reshape\)"):
            sess.run([bumped, bad], {x: np.zeros(5)})
        assert sess.run(v) == 1.0
        assert sess.run(bumped) == 2.0  # the session is still usable


def test_plans_are_cached_by_fetches_feeds_and_shapes():
    x = gn.placeholder(gn.float32, [None], name="x")
    y = x + 1.0
    with gn.Session() as sess:
        sess.run(y, {x: [1.0]})
        sess.run(y, {x: [2.0]})
        assert len(sess._executables) == 1
        sess.run(y, {x: [1.0, 2.0]})
        sess.run([y, x], {x: [1.0]})
        assert len(sess._executables) == 3


def test_eval_run_and_closed_session():
    x = gn.constant(3.0)
    v = gn.Variable(0.0)
    with gn.Session() as sess:
        v.initializer.run()
        assert x.eval() == 3.0 and v.eval() == 0.0
    with pytest.raises(gn.FailedPreconditionError, match="closed Session"):
        sess.run(x)
    with pytest.raises(gn.GraphError, match="no default session"):
        x.eval()


def test_random_ops_follow_seed_rules():
    gn.set_random_seed(7)
    u = gn.random_uniform([3])
    n = gn.random_normal([2, 2], mean=1.0, stddev=0.1)
    t = gn.truncated_normal([1000])
    with gn.Session() as s1, gn.Session() as s2:
        first = s1.run(u)
        assert not np.array_equal(first, s1.run(u))  # fresh draws each run
        np.testing.assert_array_equal(first, s2.run(u))  # same sequence in a new session
        assert np.all(np.abs(s1.run(t)) <= 2.0)
        assert abs(float(np.mean(s1.run(n))) - 1.0) < 0.3
