"""The pass manager, program extraction, the Rewriter and the verifier."""

import numpy as np
import pytest

import graphnet as gn
from graphnet.compiler import PassContext, extract, run_passes, verify
from graphnet.compiler.pipeline import PASSES, pipeline_for, register_pass
from graphnet.compiler.rewrite import rewrite
from graphnet.ir.printer import format_graph


def test_extract_prunes_and_marks_feeds_and_fetches():
    x = gn.placeholder(gn.float32, [None, 3], name="x")
    y = gn.multiply(x, 2.0, name="y")
    gn.add(y, 1.0, name="unused")
    program = extract(x.graph, [y], {x: (4, 3)})
    assert format_graph(program) == "\n".join([
        '%x = placeholder() {dtype="float32", feed="x:0", shape=[4,3]} : f32[4,3]',
        "%Const = const() {value=float32[][2.]} : f32[]",
        "%y = multiply(%x, %Const) : f32[?,3]",
        "%fetch = fetch(%y) {index=0}",
    ])  # fmt: skip
    verify(program)


def test_extract_keeps_control_only_fetches_and_intermediate_feeds():
    v = gn.Variable(1.0, name="v")
    inc = gn.assign_add(v, 1.0, name="inc")
    group = gn.group(inc, name="step")
    x = gn.placeholder(gn.float32, [], name="x")
    h = gn.multiply(x, 3.0, name="h")
    out = gn.add(h, 1.0, name="out")
    program = extract(x.graph, [group, out], {h: ()})
    types = [n.type for n in program.nodes]
    assert "multiply" not in types  # h is fed: its producer is not needed
    fetches = [n for n in program.nodes if n.type == "fetch"]
    assert fetches[0].control_inputs[0].name == "step" and not fetches[0].inputs
    assert program.get_operation_by_name("h").attrs["feed"] == "h:0"


def test_rewriter_replaces_and_keeps_names():
    x = gn.placeholder(gn.float64, [2], name="x")
    y = gn.negative(gn.negative(x, name="n1"), name="n2")
    gn.identity(y, name="out")

    def cancel_double_negation(node, rw):
        if node.type == "negative" and node.inputs[0].node.type == "negative":
            return [rw.tensor(node.inputs[0].node.inputs[0])]
        return None

    new = rewrite(x.graph, cancel_double_negation)
    assert new.get_operation_by_name("out").inputs[0].name == "x:0"
    verify(new)


def test_verify_names_the_broken_node():
    g = gn.Graph()
    with g.as_default():
        x = gn.placeholder(gn.float32, [2], name="x")
    # a node whose recorded type contradicts its op's shape rule
    g.create_node("negative", [x], {}, [(gn.float32, (3,))], name="bad")
    with pytest.raises(gn.GraphError, match=r"node 'bad' \(negative\).*\[3\].*\[2\]"):
        verify(g, "some_pass")


def test_pass_context_instruments(tmp_path):
    x = gn.placeholder(gn.float32, [2], name="x")
    y = gn.identity(x * 2.0, name="y")
    printed = []
    name = next(n for n in pipeline_for("O1", False) if n in PASSES and PASSES[n].on == "graph")
    ctx = PassContext(print_after={name}, printer=printed.append, dump_dir=tmp_path, verify=True)
    plan = gn.compiler.compile(x.graph, [y], {x: (2,)}, ctx)
    assert printed and printed[0].startswith(f"// -- after {name} --")
    assert list(tmp_path.iterdir())
    assert plan.pass_records and plan.pass_records[0].name == name
    assert name in gn.compiler.explain(plan)


def test_pass_context_rejects_unknown_passes_and_levels():
    with pytest.raises(ValueError, match="unknown pass"):
        PassContext(disabled={"no_such_pass"})
    with pytest.raises(ValueError, match="unknown opt_level"):
        pipeline_for("O7", False)


def test_a_pass_runs_alone_and_requirements_are_checked():
    calls = []

    @register_pass("test_only_counter", requires=("test_only_missing",))
    def counter(graph, ctx):
        """Counts nodes (a pass used only by this test)."""
        calls.append(len(graph.nodes))
        return graph

    try:
        x = gn.placeholder(gn.float32, [2])
        with pytest.raises(gn.GraphError, match="needs"):
            run_passes(x.graph, ["test_only_counter"], PassContext())
        assert counter(x.graph, PassContext()) is x.graph and calls == [1]
    finally:
        del PASSES["test_only_counter"]


@pytest.mark.parametrize("level", ["O0", "O1", "O2"])
def test_session_results_do_not_depend_on_the_level(level):
    rng = np.random.default_rng(0)
    x = gn.placeholder(gn.float64, [None, 3], name="x")
    w = gn.Variable(rng.normal(size=(3, 2)), name="w")
    loss = gn.reduce_mean(gn.square(gn.nn.relu(gn.matmul(x, w)) * 1.0 + 0.0))
    (g,) = gn.gradients(loss, [w])
    feed = {x: rng.normal(size=(4, 3))}
    config = gn.SessionConfig(opt_level=level, verify=True)
    with gn.Session(config=config) as sess, gn.Session(config=gn.SessionConfig("O0")) as ref:
        sess.run(w.initializer)
        ref.run(w.initializer)
        for got, want in zip(sess.run([loss, g], feed), ref.run([loss, g], feed), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-10)
