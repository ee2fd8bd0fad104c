"""eliminate_dead: only what the fetches need survives; control inputs and feeds count."""

import graphnet as gn
from graphnet.compiler import PassContext
from graphnet.compiler.passes.eliminate_dead import eliminate_dead, live_nodes
from graphnet.compiler.testing import check_pass, parse


def test_nodes_no_fetch_needs_go_and_control_inputs_keep_theirs():
    before = """
        %x = placeholder() {dtype="float64", shape=[2]} : f64[2]
        %unused_feed = placeholder() {dtype="float64", shape=[2]} : f64[2]
        %v = variable() {dtype="float64", shape=[2]} : f64[2]
        %w = variable() {dtype="float64", shape=[2]} : f64[2]
        %y = negative(%x) : f64[2]
        %dead = exp(%y) : f64[2]
        %dead_too = add(%dead, %x) : f64[2]
        %stray = assign(%w, %x) {validate_shape=true} : f64[2]
        %inc = assign_add(%v, %x) {validate_shape=true} : f64[2]
        %z = identity(%y) ^[%inc] : f64[2]
        %fetch = fetch(%z) {index=0}
    """
    # the assignment to w is stateful but nothing live needs it; unused feeds stay accepted
    expected = """
        %x = placeholder() {dtype="float64", shape=[2]} : f64[2]
        %unused_feed = placeholder() {dtype="float64", shape=[2]} : f64[2]
        %v = variable() {dtype="float64", shape=[2]} : f64[2]
        %y = negative(%x) : f64[2]
        %inc = assign_add(%v, %x) {validate_shape=true} : f64[2]
        %z = identity(%y) ^[%inc] : f64[2]
        %fetch = fetch(%z) {index=0}
    """
    assert check_pass("eliminate_dead", before, expected) == {"removed": 4}


def test_control_only_fetches_keep_their_dependencies():
    text = """
        %v = variable() {dtype="float64", shape=[]} : f64[]
        %one = const() {value=float64[][1.]} : f64[]
        %inc = assign_add(%v, %one) {validate_shape=true} : f64[]
        %step = no_op() ^[%inc]
        %fetch = fetch() ^[%step] {index=0}
    """
    graph = parse(text)
    assert live_nodes(graph) == set(graph.nodes)
    assert check_pass("eliminate_dead", text, text) == {}


def test_a_graph_without_fetches_keeps_only_its_feeds():
    x = gn.placeholder(gn.float32, [2], name="x")
    gn.exp(x)
    assert [n.name for n in eliminate_dead(x.graph, PassContext()).nodes] == ["x"]
