"""fold_constants: constant subgraphs, shape arithmetic, frozen variables, what never folds."""

import numpy as np
import pytest

import graphnet as gn
from graphnet.compiler import PASSES, PassContext, extract, run_passes
from graphnet.compiler.passes.fold_constants import MAX_FOLDED_ELEMENTS, fold_constants
from graphnet.compiler.testing import assert_graph_equal, check_pass, parse

HEAD = """
    %x = placeholder() {dtype="float32", shape=[2,3]} : f32[2,3]
    %u = placeholder() {dtype="float32", shape=[none,3]} : f32[?,3]
    %dims = const() {value=int32[2][2,2]} : i32[2]
"""


def test_constant_subgraphs_and_shape_queries_of_known_shapes_fold():
    before = (
        HEAD
        + """
        %a = const() {value=float32[][2.]} : f32[]
        %b = const() {value=float32[3][1.,2.,3.]} : f32[3]
        %c = multiply(%a, %b) : f32[3]
        %d = add(%x, %c) : f32[2,3]
        %s = shape(%x) {out_type="int32"} : i32[2]
        %n = size(%x) {out_type="int64"} : i64[]
        %r = rank(%u) {out_type="int32"} : i32[]
        %su = shape(%u) {out_type="int32"} : i32[2]
        %z = zeros_like(%x) {dtype=none} : f32[2,3]
        %o = ones_like(%u) {dtype="int32"} : i32[?,3]
        %seven = const() {value=float32[][7.]} : f32[]
        %f = fill(%dims, %seven) : f32[2,2]
        %rnd = random_uniform(%dims) {dtype="float32", seed=1, seed2=2} : f32[2,2]
        %e = add(%f, %rnd) : f32[2,2]
        %one = const() {value=float32[1,1][1.]} : f32[1,1]
        %bl = broadcast_like(%one, %x) : f32[2,3]
        %fetch = fetch(%d) {index=0}
        %fetch_1 = fetch(%s) {index=1}
        %fetch_2 = fetch(%n) {index=2}
        %fetch_3 = fetch(%r) {index=3}
        %fetch_4 = fetch(%su) {index=4}
        %fetch_5 = fetch(%z) {index=5}
        %fetch_6 = fetch(%o) {index=6}
        %fetch_7 = fetch(%e) {index=7}
        %fetch_8 = fetch(%bl) {index=8}
    """
    )
    # the rank of u is known, its shape is not; random draws and placeholders stay
    expected = (
        HEAD
        + """
        %a = const() {value=float32[][2.]} : f32[]
        %b = const() {value=float32[3][1.,2.,3.]} : f32[3]
        %c = const() {value=float32[3][2.,4.,6.]} : f32[3]
        %d = add(%x, %c) : f32[2,3]
        %s = const() {value=int32[2][2,3]} : i32[2]
        %n = const() {value=int64[][6]} : i64[]
        %r = const() {value=int32[][2]} : i32[]
        %su = shape(%u) {out_type="int32"} : i32[2]
        %z = const() {value=float32[2,3][0.,0.,0.,0.,0.,0.]} : f32[2,3]
        %o = ones_like(%u) {dtype="int32"} : i32[?,3]
        %seven = const() {value=float32[][7.]} : f32[]
        %f = const() {value=float32[2,2][7.,7.,7.,7.]} : f32[2,2]
        %rnd = random_uniform(%dims) {dtype="float32", seed=1, seed2=2} : f32[2,2]
        %e = add(%f, %rnd) : f32[2,2]
        %one = const() {value=float32[1,1][1.]} : f32[1,1]
        %bl = const() {value=float32[2,3][1.,1.,1.,1.,1.,1.]} : f32[2,3]
        %fetch = fetch(%d) {index=0}
        %fetch_1 = fetch(%s) {index=1}
        %fetch_2 = fetch(%n) {index=2}
        %fetch_3 = fetch(%r) {index=3}
        %fetch_4 = fetch(%su) {index=4}
        %fetch_5 = fetch(%z) {index=5}
        %fetch_6 = fetch(%o) {index=6}
        %fetch_7 = fetch(%e) {index=7}
        %fetch_8 = fetch(%bl) {index=8}
    """
    )
    assert check_pass("fold_constants", before, expected) == {"folded": 7}


def test_results_over_the_size_limit_stay_computed():
    assert MAX_FOLDED_ELEMENTS == 1 << 20
    text = """
        %dims = const() {value=int32[2][1025,1024]} : i32[2]
        %seven = const() {value=float32[][7.]} : f32[]
        %f = fill(%dims, %seven) : f32[1025,1024]
        %x = placeholder() {dtype="float32", shape=[1025,1024]} : f32[1025,1024]
        %z = zeros_like(%x) {dtype=none} : f32[1025,1024]
        %fetch = fetch(%f) {index=0}
        %fetch_1 = fetch(%z) {index=1}
    """
    ctx = PassContext()
    assert_graph_equal(run_passes(parse(text), ["fold_constants"], ctx), text)
    assert not ctx.records[-1].counts


def test_variables_fold_only_when_frozen_and_never_assigned():
    before = """
        %w = variable() {dtype="float64", shape=[2]} : f64[2]
        %v = variable() {dtype="float64", shape=[2]} : f64[2]
        %sum = add(%w, %v) : f64[2]
        %twice = add(%w, %w) : f64[2]
        %set = assign(%v, %twice) {validate_shape=true} : f64[2]
        %fetch = fetch(%sum) {index=0}
        %fetch_1 = fetch(%set) {index=1}
    """
    expected = """
        %w = const() {value=float64[2][0.5,-1.]} : f64[2]
        %v = variable() {dtype="float64", shape=[2]} : f64[2]
        %sum = add(%w, %v) : f64[2]
        %twice = const() {value=float64[2][1.,-2.]} : f64[2]
        %set = assign(%v, %twice) {validate_shape=true} : f64[2]
        %fetch = fetch(%sum) {index=0}
        %fetch_1 = fetch(%set) {index=1}
    """
    frozen = {"w": np.array([0.5, -1.0]), "v": np.array([3.0, 4.0])}
    ctx = PassContext(variables=frozen)
    counts = check_pass("fold_constants", before, expected, variables=frozen, ctx=ctx)
    assert counts == {"frozen": 1, "folded": 1}
    with pytest.raises(gn.ShapeError, match=r"variable 'w' is float64\[2\]; .* shape \[3\]"):
        fold_constants(parse(before), PassContext(variables={"w": np.zeros(3)}))


def test_folded_constants_keep_the_control_inputs_they_inherit():
    before = """
        %v = variable() {dtype="float64", shape=[2]} : f64[2]
        %one = const() {value=float64[2][1.,1.]} : f64[2]
        %inc = assign_add(%v, %one) {validate_shape=true} : f64[2]
        %c = const() ^[%inc] {value=float64[][2.]} : f64[]
        %d = negative(%c) : f64[]
        %after = identity(%inc) : f64[2]
        %n = size(%after) {out_type="int32"} : i32[]
        %fetch = fetch(%d) {index=0}
        %fetch_1 = fetch(%n) {index=1}
    """
    # without them, the assignment would no longer run for these fetches
    expected = """
        %v = variable() {dtype="float64", shape=[2]} : f64[2]
        %one = const() {value=float64[2][1.,1.]} : f64[2]
        %inc = assign_add(%v, %one) {validate_shape=true} : f64[2]
        %c = const() ^[%inc] {value=float64[][2.]} : f64[]
        %d = const() ^[%inc] {value=float64[][-2.]} : f64[]
        %after = identity(%inc) : f64[2]
        %n = const() ^[%after] {value=int32[][2]} : i32[]
        %fetch = fetch(%d) {index=0}
        %fetch_1 = fetch(%n) {index=1}
    """
    assert check_pass("fold_constants", before, expected) == {"folded": 2}


def test_an_op_that_fails_on_its_constants_is_left_to_fail_at_run_time():
    text = """
        %p = const() {value=float32[3][1.,2.,3.]} : f32[3]
        %i = const() {value=int32[1][5]} : i32[1]
        %g = gather(%p, %i) {axis=0} : f32[1]
        %fetch = fetch(%g) {index=0}
    """
    assert_graph_equal(fold_constants(parse(text), PassContext()), text)
    gn.reset_default_graph()
    g = gn.gather(gn.constant([1.0, 2.0, 3.0]), [5], name="g")
    with gn.Session() as sess, pytest.raises(gn.OpError, match="node 'g' \\(gather\\)"):
        sess.run(g)


def test_sessions_with_folding_compute_what_they_compute_without():
    rng = np.random.default_rng(0)
    x = gn.placeholder(gn.float64, [None, 3, 2], name="x")
    w = gn.Variable(rng.normal(size=(6, 2)), name="w")
    flat = gn.reshape(x, [gn.shape(x)[0], -1])
    scale = gn.cast(gn.size(x), gn.float64) / gn.cast(gn.rank(x), gn.float64)
    loss = gn.reduce_sum(gn.square(gn.matmul(flat, w) * scale + gn.ones_like(x)[:, 0, :]))
    grads = gn.gradients(loss, [x, w])
    feed = {x: rng.normal(size=(4, 3, 2))}
    program = extract(x.graph, [loss, *grads], {x: (4, 3, 2)})
    others = tuple(p for p in PASSES if p not in ("infer_shapes", "fold_constants"))
    config = gn.SessionConfig(opt_level="O1", disabled=others, verify=True)
    with gn.Session(config=config) as sess, gn.Session(config=gn.SessionConfig("O0")) as ref:
        sess.run(w.initializer)
        ref.run(w.initializer)
        for got, want in zip(sess.run([loss, *grads], feed), ref.run([loss, *grads], feed),
                             strict=True):  # fmt: skip
            np.testing.assert_allclose(got, want, rtol=1e-10)
        plan = sess.compiled_plan([loss, *grads], feed)
    (folded,) = (r.counts["folded"] for r in plan.pass_records if r.name == "fold_constants")
    assert folded >= 5 and len(plan.steps) + folded <= len(program.nodes)
