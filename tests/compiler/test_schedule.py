"""schedule: a topological order that finishes a branch before starting the next."""

import numpy as np
from hypothesis import given, settings, strategies as st

import graphnet as gn
from graphnet.compiler import PassContext, extract, run_passes, verify
from graphnet.compiler.passes.plan_memory import plan_memory  # noqa: F401  (registers the pass)
from graphnet.compiler.passes.schedule import peak_bytes, schedule
from graphnet.compiler.testing import assert_same_results, check_pass

TWO_BRANCHES = """
    %x = placeholder() {dtype="float32", feed="x:0", shape=[64]} : f32[64]
    %a1 = exp(%x) : f32[64]
    %b1 = negative(%x) : f32[64]
    %a2 = tanh(%a1) : f32[64]
    %b2 = square(%b1) : f32[64]
    %a3 = reduce_sum(%a2) {axis=[0], keepdims=false} : f32[]
    %b3 = reduce_sum(%b2) {axis=[0], keepdims=false} : f32[]
    %out = add(%a3, %b3) : f32[]
    %fetch = fetch(%out) {index=0}
"""


def test_finishes_one_branch_before_starting_the_next():
    counts = check_pass(
        "schedule",
        TWO_BRANCHES,
        """
        %x = placeholder() {dtype="float32", feed="x:0", shape=[64]} : f32[64]
        %a1 = exp(%x) : f32[64]
        %a2 = tanh(%a1) : f32[64]
        %a3 = reduce_sum(%a2) {axis=[0], keepdims=false} : f32[]
        %b1 = negative(%x) : f32[64]
        %b2 = square(%b1) : f32[64]
        %b3 = reduce_sum(%b2) {axis=[0], keepdims=false} : f32[]
        %out = add(%a3, %b3) : f32[]
        %fetch = fetch(%out) {index=0}
        """,
        feeds={"x": np.linspace(-1, 1, 64, dtype=np.float32)},
    )
    # interleaved: a1, b1 and a2 live at once; in branches: two of 256 bytes and a scalar
    assert counts == {"peak_bytes_before": 768, "peak_bytes_after": 516, "moved": 4}


def test_the_planned_arena_shrinks_with_it():
    x = gn.placeholder(gn.float32, [64], name="x")
    a, b = gn.exp(x), gn.negative(x)
    for _ in range(3):
        a, b = gn.tanh(a) * 2.0, gn.square(b) + 1.0
    ends = [gn.reduce_sum(a, keepdims=True), gn.reduce_max(b, [0], keepdims=True)]
    out = gn.reduce_sum(gn.concat(ends, 0))
    value = {x: np.linspace(-1, 1, 64, dtype=np.float32)}
    results, arenas = [], []
    for disabled in ((), ("schedule",)):
        config = gn.SessionConfig(opt_level="O1", disabled=disabled)
        with gn.Session(config=config) as sess:
            arenas.append(sess.compiled_plan(out, value).arena_size)
            results.append(sess.run(out, value))
    # one branch's region (its ops in place) at a time, plus the two 64-byte reductions
    assert arenas == [256 + 64 + 64, 2 * 256 + 64]
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)


def test_keeps_creation_order_when_it_is_no_worse():
    chain = """
        %x = placeholder() {dtype="float64", feed="x:0", shape=[8]} : f64[8]
        %a = exp(%x) : f64[8]
        %b = tanh(%a) : f64[8]
        %fetch = fetch(%b) {index=0}
    """
    counts = check_pass("schedule", chain, chain, feeds={"x": np.ones(8)})
    assert counts == {"peak_bytes_before": 128, "peak_bytes_after": 128}


def test_assignments_keep_their_place_among_the_variables_reads():
    # running upd before r would free d early (a lower peak) but r would read the new value
    text = """
        %x = placeholder() {dtype="float32", feed="x:0", shape=[16]} : f32[16]
        %v = variable() {dtype="float32", shape=[16]} : f32[16]
        %d = exp(%x) : f32[16]
        %r = multiply(%v, %x) : f32[16]
        %upd = assign_sub(%v, %d) {validate_shape=true} : f32[16]
        %out = reduce_sum(%r) {axis=[0], keepdims=false} : f32[]
        %fetch = fetch(%out) {index=0}
        %fetch_1 = fetch(%upd) {index=1}
    """
    check_pass("schedule", text, text, feeds={"x": np.arange(16, dtype=np.float32)},
               variables={"v": np.ones(16, np.float32)})  # fmt: skip


def test_training_step_results_do_not_change():
    rng = np.random.default_rng(0)
    x = gn.placeholder(gn.float64, [8, 5], name="x")
    w1 = gn.Variable(rng.normal(size=(5, 16)), name="w1")
    w2 = gn.Variable(rng.normal(size=(16, 1)), name="w2")
    branch_a = gn.nn.relu(gn.matmul(x, w1))
    branch_b = gn.tanh(gn.matmul(x, w1) * 0.5)
    loss = gn.reduce_mean(gn.square(gn.matmul(branch_a + branch_b, w2)))
    grads = gn.gradients(loss, [w1, w2])
    train = gn.group(gn.assign_sub(w1, 0.01 * grads[0]), gn.assign_sub(w2, 0.01 * grads[1]))
    feed = {x: rng.normal(size=(8, 5))}
    runs = []
    for disabled in ((), ("schedule",)):
        config = gn.SessionConfig(opt_level="O1", disabled=disabled)
        with gn.Session(config=config) as sess:
            sess.run(gn.global_variables_initializer())
            values = [v for _ in range(2) for v in sess.run([loss, *grads, train], feed)[:3]]
            records = sess.compiled_plan([loss, *grads, train], feed).pass_records
            moved = {r.name: r.counts["moved"] for r in records}.get("schedule")
            runs.append((values, sess.variable_values(), moved))
    (got, got_vars, moved), (want, want_vars, _) = runs
    assert moved > 0
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-10)
    for name in want_vars:
        np.testing.assert_allclose(got_vars[name], want_vars[name], rtol=1e-10)


def _random_program(seed: int):
    """A random program over float64 vectors: a few branches from one input, grown in
    interleaved order by elementwise ops, reductions and concatenations, with edges across
    branches; some branch ends are fetched."""
    rng = np.random.default_rng(seed)
    graph = gn.Graph()
    with graph.as_default():
        x = gn.placeholder(gn.float64, [16], name="x")
        tips = [x] * int(rng.integers(2, 5))
        for _ in range(int(rng.integers(4, 20))):
            i = rng.integers(len(tips))
            a, kind = tips[i], rng.integers(4)
            if kind == 0:
                tips[i] = gn.tanh(a)
            elif kind == 1:
                other = [t for t in tips if t.shape in (a.shape, (1,))]
                tips[i] = a * other[rng.integers(len(other))]
            elif kind == 2:
                tips[i] = gn.reduce_sum(a, keepdims=True)
            else:
                tips[i] = gn.concat([a, a], 0)
        fetched = list(dict.fromkeys(tips[: int(rng.integers(1, len(tips) + 1))]))
    return extract(graph, fetched, {x: (16,)})


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_random_programs_keep_their_results_and_never_peak_higher(seed):
    program = _random_program(seed)
    scheduled = schedule(program, PassContext())
    verify(scheduled, "schedule")
    assert sorted(n.name for n in scheduled.nodes) == sorted(n.name for n in program.nodes)
    assert_same_results(program, scheduled, {"x": np.linspace(-1, 1, 16)})
    assert peak_bytes(scheduled) <= peak_bytes(program)


def test_counts_unknown_dims_as_one():
    x = gn.placeholder(gn.float32, [None, 4], name="x")
    program = extract(x.graph, [gn.exp(x)], {x: None})
    ctx = PassContext()
    run_passes(program, ["schedule"], ctx)
    assert ctx.records[-1].counts["peak_bytes_before"] == 16
