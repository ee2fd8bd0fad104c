"""Summary tables: parameters, FLOPs and bytes hand-computed for a tiny MLP and a tiny CNN."""

import numpy as np
import pytest

import graphnet as gn
from graphnet import inspect as gi
from graphnet.inspect.flops import flops

# Per unit batch (batch dim counted as 1), forward rows only:
#   fc1/matmul   [1,4]x[4,5]  2*1*5*4 = 40 FLOPs, 20 params, 5*4 = 20 bytes
#   fc1/bias     +[5]         5 FLOPs,  5 params, 20 bytes
#   fc1/relu                  5 FLOPs,            20 bytes
#   fc2/matmul   [1,5]x[5,3]  2*1*3*5 = 30 FLOPs, 15 params, 12 bytes
#   fc2/bias     +[3]         3 FLOPs,  3 params, 12 bytes
#   probs        softmax      5*3 = 15 FLOPs,     12 bytes
MLP_FLOPS, MLP_PARAMS, MLP_BYTES = 98, 43, 96
MLP_FLOPS_BY_NODE = {"fc1/matmul": 40, "fc1/bias": 5, "fc1/relu": 5, "fc2/matmul": 30,
                     "fc2/bias": 3, "probs": 15}  # fmt: skip
MLP_INIT_BYTES = (20 + 5 + 15 + 3) * 4  # the variables' initializer assignments (graph only)


MLP_GRAPH_TABLE = """\
Summary of a graph: 10 nodes; inputs: x:0 f32[?,4]
? marks an unknown dim, counted as 1: FLOPs and bytes are per unit batch
name          op        output    params  FLOPs  bytes
------------------------------------------------------
fc1/w/Assign  assign    f32[4,5]       0      0     80
fc1/b/Assign  assign    f32[5]         0      0     20
fc1/matmul    matmul    f32[?,5]      20     40     20
fc1/bias      bias_add  f32[?,5]       5      5     20
fc1/relu      relu      f32[?,5]       0      5     20
fc2/w/Assign  assign    f32[5,3]       0      0     60
fc2/b/Assign  assign    f32[3]         0      0     12
fc2/matmul    matmul    f32[?,3]      15     30     12
fc2/bias      bias_add  f32[?,3]       3      3     12
probs         softmax   f32[?,3]       0     15     12
------------------------------------------------------
total                                 43     98    268
parameters: 43 (172 bytes), each counted once"""


def _dense(x, n_in, n_out, name, activation=None):
    with gn.name_scope(name):
        w = gn.Variable(np.ones((n_in, n_out), np.float32), name="w")
        b = gn.Variable(np.zeros(n_out, np.float32), name="b")
        y = gn.nn.bias_add(gn.matmul(x, w, name="matmul"), b, name="bias")
        return y if activation is None else activation(y, name="relu")


def _mlp():
    x = gn.placeholder(gn.float32, [None, 4], name="x")
    h = _dense(x, 4, 5, "fc1", gn.nn.relu)
    return x, gn.nn.softmax(_dense(h, 5, 3, "fc2"), name="probs")


def _rows(s: gi.Summary) -> dict:
    return {r.name: r for r in s.rows}


def test_mlp_summary_of_the_graph_is_per_unit_batch():
    x, _ = _mlp()
    s = gi.summary(x.graph)
    rows = _rows(s)
    assert {n: rows[n].flops for n in MLP_FLOPS_BY_NODE} == MLP_FLOPS_BY_NODE
    assert rows["fc1/matmul"].params == 20 and rows["fc2/bias"].params == 3
    assert rows["fc1/w/Assign"].params == 0  # an assignment is not a use of the weight
    assert (s.params, s.param_bytes, s.flops) == (MLP_PARAMS, MLP_PARAMS * 4, MLP_FLOPS)
    assert s.bytes == MLP_BYTES + MLP_INIT_BYTES
    assert s.per_unit_batch
    assert str(s) == MLP_GRAPH_TABLE


def test_mlp_summary_with_feed_shapes_scales_with_the_batch():
    x, _ = _mlp()
    s = gi.summary(x.graph, feed_shapes={x: (8, 4)})
    assert s.flops == 8 * MLP_FLOPS and s.bytes == 8 * MLP_BYTES + MLP_INIT_BYTES
    assert s.params == MLP_PARAMS and not s.per_unit_batch
    assert _rows(s)["probs"].shapes == ((8, 3),)
    with pytest.raises(gn.ShapeError, match=r"x:0 the shape \[8,3\].*\[\?,4\]"):
        gi.summary(x.graph, feed_shapes={"x:0": (8, 3)})
    with pytest.raises(gn.ShapeError, match="not placeholders"):
        gi.summary(x.graph, feed_shapes={"probs:0": (8, 3)})


def test_mlp_summary_of_the_compiled_plan():
    x, probs = _mlp()
    plan = gn.compiler.compile(x.graph, [probs], {x: (8, 4)})
    s = gi.summary(plan)
    assert [r.name for r in s.rows] == [step.node for step in plan.steps]
    assert [r.index for r in s.rows] == list(range(len(plan.steps)))
    assert (s.params, s.flops, s.bytes) == (MLP_PARAMS, 8 * MLP_FLOPS, 8 * MLP_BYTES)
    assert not s.per_unit_batch
    lines = str(s).splitlines()
    assert lines[0] == f"Summary of a plan: {len(plan.steps)} steps; inputs: x:0 f32[8,4]"
    assert lines[-2].split() == ["total", "43", "784", "768"]


def test_plan_compiled_without_shapes_takes_feed_shapes():
    x, probs = _mlp()
    plan = gn.compiler.compile(x.graph, [probs], [x])
    assert gi.summary(plan).flops == MLP_FLOPS
    assert gi.summary(plan, feed_shapes={"x:0": (2, 4)}).flops == 2 * MLP_FLOPS


# Per unit batch, x [1,6,6,2]:
#   conv      3x3x2->4 SAME   2*1*6*6*4*3*3*2 = 5184 FLOPs, 72 params, 6*6*4*4 = 576 bytes
#   bias      +[4]            144 FLOPs, 4 params, 576 bytes
#   relu                      144 FLOPs, 576 bytes
#   dw        3x3 x1 SAME     2*1*6*6*4*3*3 = 2592 FLOPs, 36 params, 576 bytes
#   pool      2x2/2 VALID     [1,3,3,4]: 36 elements * 4 taps = 144 FLOPs, 144 bytes
#   flat      reshape         0 FLOPs, 144 bytes
#   logits    [1,36]x[36,2]   2*1*2*36 = 144 FLOPs, 72 params, 8 bytes
CNN_FLOPS, CNN_PARAMS, CNN_BYTES = 8352, 184, 2600
CNN_FLOPS_BY_NODE = {"conv": 5184, "bias": 144, "relu": 144, "dw": 2592, "pool": 144,
                     "flat": 0, "logits": 144}  # fmt: skip


def _cnn(batch=None):
    x = gn.placeholder(gn.float32, [batch, 6, 6, 2], name="x")
    w = gn.Variable(np.ones((3, 3, 2, 4), np.float32), name="w")
    b = gn.Variable(np.zeros(4, np.float32), name="b")
    dw = gn.Variable(np.ones((3, 3, 4, 1), np.float32), name="dw_filter")
    fc = gn.Variable(np.ones((36, 2), np.float32), name="fc")
    y = gn.nn.conv2d(x, w, strides=1, padding="SAME", name="conv")
    y = gn.nn.relu(gn.nn.bias_add(y, b, name="bias"), name="relu")
    y = gn.nn.depthwise_conv2d(y, dw, strides=1, padding="SAME", name="dw")
    y = gn.nn.max_pool2d(y, ksize=2, strides=2, padding="VALID", name="pool")
    return x, gn.matmul(gn.reshape(y, [-1, 36], name="flat"), fc, name="logits")


def test_cnn_summary_of_the_graph_and_the_plan():
    x, logits = _cnn()
    s = gi.summary(x.graph)
    rows = _rows(s)
    assert {n: rows[n].flops for n in CNN_FLOPS_BY_NODE} == CNN_FLOPS_BY_NODE
    assert {n: rows[n].params for n in ("conv", "bias", "dw", "logits")} == {
        "conv": 72, "bias": 4, "dw": 36, "logits": 72,
    }  # fmt: skip
    forward = [rows[n] for n in CNN_FLOPS_BY_NODE]
    assert sum(r.bytes for r in forward) == CNN_BYTES
    assert (s.params, s.flops) == (CNN_PARAMS, CNN_FLOPS)

    plan = gn.compiler.compile(x.graph, [logits], {x: (2, 6, 6, 2)})
    p = gi.summary(plan)
    assert (p.params, p.flops, p.bytes) == (CNN_PARAMS, 2 * CNN_FLOPS, 2 * CNN_BYTES)
    assert _rows(p)["pool"].shapes == ((2, 3, 3, 4),)
    assert not p.unknown_ops


def test_convolution_gradients_cost_what_the_forward_costs():
    x, logits = _cnn(batch=2)
    w = x.graph.get_tensor_by_name("w:0")
    dw = x.graph.get_tensor_by_name("dw_filter:0")
    gn.gradients(gn.reduce_sum(logits), [x, w, dw])
    by_op = {r.op: r.flops for r in gi.summary(x.graph).rows}
    assert by_op["conv2d_backprop_input"] == by_op["conv2d_backprop_filter"] == 2 * 5184
    assert by_op["depthwise_conv2d_backprop_input"] == 2 * 2592
    assert by_op["depthwise_conv2d_backprop_filter"] == 2 * 2592
    assert by_op["max_pool_grad"] == 2 * 144


def test_frozen_weights_count_as_parameters():
    """An inference plan's weights may be constants: non-scalar floating constants count."""
    x = gn.placeholder(gn.float32, [None, 3], name="x")
    y = gn.matmul(x, np.ones((3, 2), np.float32), name="y") * 2.0 + np.full(2, 0.5, np.float32)
    plan = gn.compiler.compile(x.graph, [y], {x: (1, 3)})
    s = gi.summary(plan)
    assert s.params == 6 + 2 and s.param_bytes == 32
    assert [r.params for r in s.rows] == [6, 0, 2]


def test_unknown_ops_count_zero_and_are_flagged():
    x = gn.placeholder(gn.float32, [2], name="x")
    x.graph.create_node("mystery", [x], {}, [(gn.float32, (2,))], name="m")
    s = gi.summary(x.graph)
    assert s.rows[0].flops == 0 and not s.rows[0].flops_known
    assert s.unknown_ops == ["mystery"]
    text = str(s)
    assert text.splitlines()[3].split() == ["m", "mystery", "f32[2]", "0", "0*", "8"]
    assert text.endswith("* no FLOP rule, counted as 0: mystery")


def test_fused_nodes_cost_the_sum_of_their_parts():
    """The fuse pass's nodes (graphnet.ops.fused), built directly: base op, bias, activation;
    an elementwise expression costs one FLOP per element for each op in it (identity: none)."""
    graph = gn.Graph()
    with graph.as_default():
        x = gn.placeholder(gn.float32, [1, 6, 6, 2], name="x")
        w = gn.constant(np.ones((3, 3, 2, 4), np.float32))
        b = gn.constant(np.ones(4, np.float32))
    conv = {"strides": (1, 1), "padding": "SAME", "dilations": (1, 1), "bias": True,
            "activation": "relu", "alpha": 0.0}  # fmt: skip
    out = [(gn.float32, (1, 6, 6, 4))]
    node = graph.create_node("fused_conv2d", [x, w, b], conv, out)
    assert flops(node) == 5184 + 144 + 144
    node = graph.create_node("fused_conv2d", [x, w], {**conv, "bias": False}, out)
    assert flops(node) == 5184 + 144
    y = node.outputs[0]
    expr = ("relu", (), ("add", (), ("multiply", (), ("in", 0), ("const", 2.0, "float32")),
                         ("identity", (), ("in", 0))))  # fmt: skip
    node = graph.create_node("fused_elementwise", [y], {"expr": expr, "dtype": "float32"}, out)
    assert flops(node) == 3 * 144
