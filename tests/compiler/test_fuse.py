"""fuse: elementwise trees into fused_elementwise, conv/matmul + bias + activation into one node."""

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import graphnet as gn
import graphnet.backends.reference.fused
from graphnet.compiler import PassContext, extract, run_passes
from graphnet.compiler.passes import (  # noqa: F401  (importing registers the passes)
    eliminate_common_subexpressions,
    eliminate_dead,
    fold_batchnorm,
    fold_constants,
    fuse,
    infer_shapes,
    plan_memory,
    schedule,
    simplify,
)
from graphnet.compiler.testing import assert_same_results, check_pass
from graphnet.ops.fused import EPILOGUE_ACTIVATIONS

RNG = np.random.default_rng(0)


def _normal(*shape: int, dtype: str = "float64") -> np.ndarray:
    return RNG.normal(size=shape).astype(dtype)


# -- hand-written graphs: before and expected ----------------------------------------------------


def test_a_chain_of_four_elementwise_ops_becomes_one_node():
    counts = check_pass(
        "fuse",
        """
        %x = placeholder() {dtype="float32", feed="x:0", shape=[2,3]} : f32[2,3]
        %y = placeholder() {dtype="float32", feed="y:0", shape=[2,3]} : f32[2,3]
        %two = const() {value=float32[][2.]} : f32[]
        %a = multiply(%x, %two) : f32[2,3]
        %b = add(%a, %y) : f32[2,3]
        %c = relu(%b) : f32[2,3]
        %d = exp(%c) : f32[2,3]
        %fetch = fetch(%d) {index=0}
        """,
        """
        %x = placeholder() {dtype="float32", feed="x:0", shape=[2,3]} : f32[2,3]
        %y = placeholder() {dtype="float32", feed="y:0", shape=[2,3]} : f32[2,3]
        %d = fused_elementwise(%x, %y) {dtype="float32", expr=["exp",[],["relu",[],["add",[],\
["multiply",[],["in",0],["const",2.0,"float32"]],["in",1]]]]} : f32[2,3]
        %fetch = fetch(%d) {index=0}
        """,
        feeds={"x": _normal(2, 3, dtype="float32"), "y": _normal(2, 3, dtype="float32")},
    )
    assert counts == {"fused": 1, "fused_ops": 4}


def test_conv_bias_relu_becomes_one_fused_conv2d():
    counts = check_pass(
        "fuse",
        """
        %x = placeholder() {dtype="float32", feed="x:0", shape=[1,4,4,2]} : f32[1,4,4,2]
        %w = const() {value=float32[1,1,2,3][1.,2.,3.,4.,5.,6.]} : f32[1,1,2,3]
        %b = const() {value=float32[3][0.5,-1.,0.25]} : f32[3]
        %conv = conv2d(%x, %w) {dilations=[1,1], padding="SAME", strides=[1,1]} : f32[1,4,4,3]
        %biased = bias_add(%conv, %b) : f32[1,4,4,3]
        %act = relu(%biased) : f32[1,4,4,3]
        %fetch = fetch(%act) {index=0}
        """,
        """
        %x = placeholder() {dtype="float32", feed="x:0", shape=[1,4,4,2]} : f32[1,4,4,2]
        %w = const() {value=float32[1,1,2,3][1.,2.,3.,4.,5.,6.]} : f32[1,1,2,3]
        %b = const() {value=float32[3][0.5,-1.,0.25]} : f32[3]
        %act = fused_conv2d(%x, %w, %b) {activation="relu", alpha=0.0, bias=true, \
dilations=[1,1], padding="SAME", strides=[1,1]} : f32[1,4,4,3]
        %fetch = fetch(%act) {index=0}
        """,
        feeds={"x": _normal(1, 4, 4, 2, dtype="float32")},
    )
    assert counts == {"fused": 1, "fused_ops": 3}


def test_depthwise_with_an_added_vector_and_leaky_relu():
    check_pass(
        "fuse",
        """
        %x = placeholder() {dtype="float64", feed="x:0", shape=[1,5,5,2]} : f64[1,5,5,2]
        %w = placeholder() {dtype="float64", feed="w:0", shape=[3,3,2,2]} : f64[3,3,2,2]
        %b = placeholder() {dtype="float64", feed="b:0", shape=[4]} : f64[4]
        %dw = depthwise_conv2d(%x, %w) {dilations=[1,1], padding="VALID", strides=[1,1]} \
: f64[1,3,3,4]
        %plus = add(%b, %dw) : f64[1,3,3,4]
        %act = leaky_relu(%plus) {alpha=0.1} : f64[1,3,3,4]
        %fetch = fetch(%act) {index=0}
        """,
        """
        %x = placeholder() {dtype="float64", feed="x:0", shape=[1,5,5,2]} : f64[1,5,5,2]
        %w = placeholder() {dtype="float64", feed="w:0", shape=[3,3,2,2]} : f64[3,3,2,2]
        %b = placeholder() {dtype="float64", feed="b:0", shape=[4]} : f64[4]
        %act = fused_depthwise_conv2d(%x, %w, %b) {activation="leaky_relu", alpha=0.1, \
bias=true, dilations=[1,1], padding="VALID", strides=[1,1]} : f64[1,3,3,4]
        %fetch = fetch(%act) {index=0}
        """,
        feeds={"x": _normal(1, 5, 5, 2), "w": _normal(3, 3, 2, 2), "b": _normal(4)},
    )


@pytest.mark.parametrize("activation", EPILOGUE_ACTIVATIONS)
@pytest.mark.parametrize("bias", [False, True])
def test_every_epilogue_activation_of_a_transposed_matmul(activation, bias):
    a = gn.placeholder(gn.float32, [3, 4], name="a")
    b = gn.placeholder(gn.float32, [5, 4], name="b")
    y = gn.matmul(a, b, transpose_b=True)
    if bias:
        y = y + gn.constant(_normal(5, dtype="float32"))
    fn = getattr(gn.nn, activation)
    y = fn(y, alpha=0.3) if activation == "leaky_relu" else fn(y)
    program = extract(a.graph, [y], {a: None, b: None})
    fused = run_passes(program, ["fuse"], PassContext(verify=True))
    (node,) = [n for n in fused.nodes if n.type not in ("placeholder", "const", "fetch")]
    assert node.type == "fused_matmul" and node.attrs["activation"] == activation
    assert node.attrs["bias"] is bias and node.attrs["transpose_b"] is True
    assert node.attrs["alpha"] == (0.3 if activation == "leaky_relu" else 0.0)
    feeds = {"a": 2 * _normal(3, 4, dtype="float32"), "b": 2 * _normal(5, 4, dtype="float32")}
    assert_same_results(program, fused, feeds)


def test_attrs_and_dtype_changes_inside_a_tree():
    check_pass(
        "fuse",
        """
        %x = placeholder() {dtype="float32", feed="x:0", shape=[2,3]} : f32[2,3]
        %y = placeholder() {dtype="float32", feed="y:0", shape=[2,3]} : f32[2,3]
        %zero = const() {value=float32[][0.]} : f32[]
        %positive = greater(%x, %zero) : bool[2,3]
        %ones = cast(%positive) {dtype="float32"} : f32[2,3]
        %masked = multiply(%ones, %y) : f32[2,3]
        %leaky = leaky_relu(%masked) {alpha=0.3} : f32[2,3]
        %fetch = fetch(%leaky) {index=0}
        """,
        """
        %x = placeholder() {dtype="float32", feed="x:0", shape=[2,3]} : f32[2,3]
        %y = placeholder() {dtype="float32", feed="y:0", shape=[2,3]} : f32[2,3]
        %leaky = fused_elementwise(%x, %y) {dtype="float32", expr=["leaky_relu",[["alpha",0.3]],\
["multiply",[],["cast",[["dtype","float32"]],["greater",[],["in",0],["const",0.0,"float32"]]],\
["in",1]]]} : f32[2,3]
        %fetch = fetch(%leaky) {index=0}
        """,
        feeds={"x": _normal(2, 3, dtype="float32"), "y": _normal(2, 3, dtype="float32")},
    )


def test_a_value_with_two_consumers_stays_materialized():
    check_pass(
        "fuse",
        """
        %x = placeholder() {dtype="float64", feed="x:0", shape=[2,3]} : f64[2,3]
        %two = const() {value=float64[][2.]} : f64[]
        %a = multiply(%x, %two) : f64[2,3]
        %b = exp(%a) : f64[2,3]
        %c = add(%a, %b) : f64[2,3]
        %d = tanh(%c) : f64[2,3]
        %fetch = fetch(%d) {index=0}
        """,
        """
        %x = placeholder() {dtype="float64", feed="x:0", shape=[2,3]} : f64[2,3]
        %two = const() {value=float64[][2.]} : f64[]
        %a = multiply(%x, %two) : f64[2,3]
        %d = fused_elementwise(%a) {dtype="float64", expr=["tanh",[],["add",[],["in",0],\
["exp",[],["in",0]]]]} : f64[2,3]
        %fetch = fetch(%d) {index=0}
        """,
        feeds={"x": _normal(2, 3)},
    )


def test_a_fetched_intermediate_stays_materialized():
    check_pass(
        "fuse",
        """
        %x = placeholder() {dtype="float64", feed="x:0", shape=[2,3]} : f64[2,3]
        %a = negative(%x) : f64[2,3]
        %b = exp(%a) : f64[2,3]
        %c = sigmoid(%b) : f64[2,3]
        %d = square(%c) : f64[2,3]
        %fetch = fetch(%d) {index=0}
        %fetch_1 = fetch(%b) {index=1}
        """,
        """
        %x = placeholder() {dtype="float64", feed="x:0", shape=[2,3]} : f64[2,3]
        %b = fused_elementwise(%x) {dtype="float64", expr=["exp",[],["negative",[],["in",0]]]} \
: f64[2,3]
        %d = fused_elementwise(%b) {dtype="float64", expr=["square",[],["sigmoid",[],["in",0]]]} \
: f64[2,3]
        %fetch = fetch(%d) {index=0}
        %fetch_1 = fetch(%b) {index=1}
        """,
        feeds={"x": _normal(2, 3)},
    )


def test_a_per_channel_value_is_broadcast_in_not_recomputed_per_element():
    check_pass(
        "fuse",
        """
        %x = placeholder() {dtype="float32", feed="x:0", shape=[4,3]} : f32[4,3]
        %var = placeholder() {dtype="float32", feed="var:0", shape=[3]} : f32[3]
        %eps = const() {value=float32[][0.5]} : f32[]
        %a = add(%var, %eps) : f32[3]
        %inv = rsqrt(%a) : f32[3]
        %y = multiply(%x, %inv) : f32[4,3]
        %z = relu(%y) : f32[4,3]
        %fetch = fetch(%z) {index=0}
        """,
        """
        %x = placeholder() {dtype="float32", feed="x:0", shape=[4,3]} : f32[4,3]
        %var = placeholder() {dtype="float32", feed="var:0", shape=[3]} : f32[3]
        %inv = fused_elementwise(%var) {dtype="float32", expr=["rsqrt",[],["add",[],["in",0],\
["const",0.5,"float32"]]]} : f32[3]
        %z = fused_elementwise(%x, %inv) {dtype="float32", expr=["relu",[],["multiply",[],\
["in",0],["in",1]]]} : f32[4,3]
        %fetch = fetch(%z) {index=0}
        """,
        feeds={"x": _normal(4, 3, dtype="float32"), "var": np.ones(3, np.float32)},
    )


def test_the_relu_gradient_mask_reads_the_activation_so_the_epilogue_fuses():
    counts = check_pass(
        "fuse",
        """
        %x = placeholder() {dtype="float32", feed="x:0", shape=[4,5]} : f32[4,5]
        %w = placeholder() {dtype="float32", feed="w:0", shape=[5,3]} : f32[5,3]
        %b = placeholder() {dtype="float32", feed="b:0", shape=[3]} : f32[3]
        %g = placeholder() {dtype="float32", feed="g:0", shape=[4,3]} : f32[4,3]
        %mm = matmul(%x, %w) {transpose_a=false, transpose_b=false} : f32[4,3]
        %pre = bias_add(%mm, %b) : f32[4,3]
        %relu = relu(%pre) : f32[4,3]
        %zero = const() {value=float32[][0.]} : f32[]
        %mask = greater(%pre, %zero) : bool[4,3]
        %dpre = where(%mask, %g, %zero) : f32[4,3]
        %fetch = fetch(%relu) {index=0}
        %fetch_1 = fetch(%dpre) {index=1}
        """,
        """
        %x = placeholder() {dtype="float32", feed="x:0", shape=[4,5]} : f32[4,5]
        %w = placeholder() {dtype="float32", feed="w:0", shape=[5,3]} : f32[5,3]
        %b = placeholder() {dtype="float32", feed="b:0", shape=[3]} : f32[3]
        %g = placeholder() {dtype="float32", feed="g:0", shape=[4,3]} : f32[4,3]
        %relu = fused_matmul(%x, %w, %b) {activation="relu", alpha=0.0, bias=true, \
transpose_a=false, transpose_b=false} : f32[4,3]
        %dpre = fused_elementwise(%relu, %g) {dtype="float32", expr=["where",[],["greater",[],\
["in",0],["const",0.0,"float32"]],["in",1],["const",0.0,"float32"]]} : f32[4,3]
        %fetch = fetch(%relu) {index=0}
        %fetch_1 = fetch(%dpre) {index=1}
        """,
        feeds={
            "x": _normal(4, 5, dtype="float32"),
            "w": _normal(5, 3, dtype="float32"),
            "b": _normal(3, dtype="float32"),
            "g": _normal(4, 3, dtype="float32"),
        },
    )
    assert counts == {"fused": 2, "fused_ops": 5, "masks_rewired": 1}


def test_a_read_of_a_variable_does_not_move_past_its_assignment():
    # a reads v before upd assigns it: a is not moved into d, which runs after upd
    check_pass(
        "fuse",
        """
        %x = placeholder() {dtype="float32", feed="x:0", shape=[3]} : f32[3]
        %v = variable() {dtype="float32", shape=[3]} : f32[3]
        %two = const() {value=float32[][2.]} : f32[]
        %a = multiply(%v, %two) : f32[3]
        %upd = assign(%v, %x) {validate_shape=true} : f32[3]
        %b = add(%a, %x) : f32[3]
        %c = multiply(%v, %b) : f32[3]
        %d = exp(%c) : f32[3]
        %fetch = fetch(%d) {index=0}
        %fetch_1 = fetch(%upd) {index=1}
        """,
        """
        %x = placeholder() {dtype="float32", feed="x:0", shape=[3]} : f32[3]
        %v = variable() {dtype="float32", shape=[3]} : f32[3]
        %two = const() {value=float32[][2.]} : f32[]
        %a = multiply(%v, %two) : f32[3]
        %upd = assign(%v, %x) {validate_shape=true} : f32[3]
        %d = fused_elementwise(%v, %a, %x) {dtype="float32", expr=["exp",[],["multiply",[],\
["in",0],["add",[],["in",1],["in",2]]]]} : f32[3]
        %fetch = fetch(%d) {index=0}
        %fetch_1 = fetch(%upd) {index=1}
        """,
        feeds={"x": _normal(3, dtype="float32")},
        variables={"v": _normal(3, dtype="float32")},
    )


def test_control_edges_are_kept():
    text = """
        %x = placeholder() {dtype="float64", feed="x:0", shape=[3]} : f64[3]
        %a = exp(%x) : f64[3]
        %b = negative(%a) : f64[3]
        %marker = no_op() ^[%a]
        %fetch = fetch(%b) {index=0}
        %fetch_1 = fetch() ^[%marker] {index=1}
    """
    check_pass("fuse", text, text, feeds={"x": _normal(3)})


# -- results at O2 equal O0: models, forward and gradients -----------------------------------------


def _close(got: np.ndarray, want: np.ndarray, rtol: float) -> None:
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * max(np.abs(want).max(), 1.0))


def _run_levels(fetches, feed, train_op=None, steps: int = 2) -> Counter:
    """Runs `fetches` (after `steps` runs of train_op) at O0 and at O2 (also in the arena
    backend's poison mode), asserts they agree, and returns the ops of the O2 plans (fetches,
    and the train op when given)."""
    rtol = 1e-10 if all(f.dtype == gn.float64 for f in fetches) else 1e-5
    results, ops = [], Counter()
    for level, backend in (("O0", "reference"), ("O2", "reference"), ("O2", "reference-arena")):
        config = gn.SessionConfig(opt_level=level, verify=True)
        with gn.Session(config=config, backend=backend) as sess:
            sess.run(gn.global_variables_initializer())
            for _ in range(steps if train_op is not None else 0):
                sess.run(train_op, feed)
            results.append(sess.run(fetches, feed))
            for run in (fetches, train_op):
                if run is not None and backend == "reference-arena":
                    ops.update(s.op for s in sess.compiled_plan(run, feed).steps)
    for optimized in results[1:]:
        for got, want in zip(optimized, results[0], strict=True):
            _close(got, want, rtol)
    return ops


def _dense(x: gn.Tensor, units: int, name: str) -> tuple[gn.Tensor, list[gn.Variable]]:
    dtype = x.dtype.name
    w = gn.Variable(_normal(x.shape[-1], units, dtype=dtype) * 0.5, name=f"{name}_w")
    b = gn.Variable(_normal(units, dtype=dtype) * 0.1, name=f"{name}_b")
    return gn.nn.bias_add(gn.matmul(x, w), b), [w, b]


def _sgd(loss: gn.Tensor, params: list[gn.Variable]) -> gn.Node:
    grads = gn.gradients(loss, params)
    return gn.group(*[gn.assign_sub(p, g * 0.1) for p, g in zip(params, grads, strict=True)])


def test_mlp_forward_gradients_and_training_steps():
    for dtype in (gn.float64, gn.float32):
        gn.reset_default_graph()
        x = gn.placeholder(dtype, [4, 5], name="x")
        target = gn.placeholder(dtype, [4, 3], name="target")
        h, p1 = _dense(x, 8, "l1")
        out, p2 = _dense(gn.nn.relu(h), 3, "l2")
        loss = gn.reduce_mean(gn.square(gn.tanh(out) - target))
        params = p1 + p2
        feed = {x: _normal(4, 5, dtype=dtype.name), target: _normal(4, 3, dtype=dtype.name)}
        ops = _run_levels([loss, *gn.gradients(loss, params)], feed)
        assert ops["fused_matmul"] >= 1 and ops["fused_elementwise"] >= 2
        ops = _run_levels([loss], feed, train_op=_sgd(loss, params))
        assert ops["fused_matmul"] >= 1


@pytest.mark.parametrize(
    "optimizer",
    [lambda: gn.train.AdamOptimizer(0.01), lambda: gn.train.MomentumOptimizer(0.1, 0.9, True)],
)
def test_optimizer_updates_read_their_slots_where_they_did(optimizer):
    x = gn.placeholder(gn.float64, [4, 5], name="x")
    h, _ = _dense(x, 3, "l1")
    loss = gn.reduce_mean(gn.square(gn.nn.elu(h)))
    ops = _run_levels([loss], {x: _normal(4, 5)}, train_op=optimizer().minimize(loss), steps=3)
    assert ops["fused_elementwise"] >= 2


def _batch_norm(y: gn.Tensor, training: bool, name: str) -> gn.Tensor:
    c = y.shape[-1]
    scale = gn.Variable(1.0 + 0.1 * _normal(c), name=f"{name}_scale")
    offset = gn.Variable(0.1 * _normal(c), name=f"{name}_offset")
    if training:
        out, _, _ = gn.nn.fused_batch_norm(y, scale, offset, is_training=True, name=name)
    else:
        mean = gn.Variable(0.1 * _normal(c), name=f"{name}_mean")
        var = gn.Variable(RNG.uniform(0.5, 1.5, size=c), name=f"{name}_var")
        out, _, _ = gn.nn.fused_batch_norm(y, scale, offset, mean, var, is_training=False,
                                           name=name)  # fmt: skip
    return out


def _conv(x: gn.Tensor, cout: int, name: str) -> gn.Tensor:
    w = gn.Variable(_normal(3, 3, x.shape[-1], cout) * 0.3, name=f"{name}_w")
    return gn.nn.conv2d(x, w, 1, "SAME")


def _lenet(training: bool):
    x = gn.placeholder(gn.float64, [2, 8, 8, 1], name="x")
    target = gn.placeholder(gn.float64, [2, 3], name="target")
    h = gn.nn.relu(_batch_norm(_conv(x, 4, "c1"), training, "bn1"))
    h = gn.nn.max_pool2d(h, 2, 2, "VALID")
    b2 = gn.Variable(0.1 * _normal(6), name="c2_b")
    h = gn.nn.sigmoid(gn.nn.bias_add(_conv(h, 6, "c2"), b2))
    h = gn.nn.avg_pool2d(h, 2, 2, "VALID")
    logits, _ = _dense(gn.reshape(h, [2, 24]), 3, "fc")
    loss = gn.reduce_mean(gn.square(logits - target))
    feed = {x: _normal(2, 8, 8, 1), target: _normal(2, 3)}
    return loss, feed


def test_lenet_with_batch_norm_training_graph():
    loss, feed = _lenet(training=True)
    params = gn.trainable_variables()
    ops = _run_levels([loss, *gn.gradients(loss, params)], feed)
    assert ops["fused_conv2d"] == 1 and ops["fused_matmul"] == 1  # c2 + b2 + sigmoid, fc + b
    ops = _run_levels([loss], feed, train_op=_sgd(loss, params))
    assert ops["fused_elementwise"] >= 3


def test_lenet_with_batch_norm_inference_graph():
    loss, feed = _lenet(training=False)
    ops = _run_levels([loss], feed)
    assert ops["fused_batch_norm"] == 0 and ops["fused_conv2d"] == 2
    ops = _run_levels([loss, *gn.gradients(loss, gn.trainable_variables())], feed)
    assert ops["fused_batch_norm"] == 1  # its gradient needs the conv output: not folded


def test_residual_block():
    for training in (True, False):
        gn.reset_default_graph()
        x = gn.placeholder(gn.float64, [2, 5, 5, 4], name="x")
        h = gn.nn.relu(_batch_norm(_conv(x, 4, "c1"), training, "bn1"))
        y = gn.nn.relu(_batch_norm(_conv(h, 4, "c2"), training, "bn2") + x)
        loss = gn.reduce_sum(gn.square(y))
        feed = {x: _normal(2, 5, 5, 4)}
        ops = _run_levels([y, loss, *gn.gradients(loss, [x, *gn.trainable_variables()])], feed)
        assert ops["fused_elementwise"] >= 1
        if not training:
            assert _run_levels([y], feed)["fused_conv2d"] == 2


# -- random elementwise DAGs ---------------------------------------------------------------------

_UNARY = ("negative", "tanh", "sigmoid", "square", "abs", "sin", "relu", "relu6", "elu")
_BINARY = ("add", "subtract", "multiply", "maximum", "minimum")
_SHAPES = ((2, 3), (3,), (), (1, 3))


@st.composite
def _dags(draw):
    """(input shapes, steps, fetched step indices): each step an op over earlier values."""
    shapes = draw(st.lists(st.sampled_from(_SHAPES), min_size=1, max_size=3))
    steps = []
    for i in range(draw(st.integers(1, 10))):
        available = len(shapes) + i
        pick = st.integers(0, available - 1)
        kind = draw(st.sampled_from(("unary", "binary", "scalar", "where")))
        op = {"unary": _UNARY, "binary": _BINARY, "scalar": _BINARY}.get(kind, ("where",))
        steps.append((kind, draw(st.sampled_from(op)), draw(pick), draw(pick), draw(pick)))
    fetched = draw(st.sets(st.integers(0, len(steps) - 1), max_size=2))
    return shapes, steps, sorted(fetched | {len(steps) - 1})


def _build_dag(shapes, steps):
    values = [gn.placeholder(gn.float64, s, name=f"in{i}") for i, s in enumerate(shapes)]
    inputs = list(values)
    for kind, op, a, b, c in steps:
        x, y, z = values[a], values[b], values[c]
        if kind == "unary":
            values.append(getattr(gn.nn if op.startswith(("relu", "elu")) else gn, op)(x))
        elif kind == "binary":
            values.append(getattr(gn, op)(x, y))
        elif kind == "scalar":
            values.append(getattr(gn, op)(x, 0.5))
        else:
            values.append(gn.where(gn.greater(x, y), z, -1.0))
    return inputs, values[len(shapes) :]


@settings(max_examples=40, deadline=None)
@given(_dags())
def test_random_elementwise_dags_compute_the_same_after_fusion(dag):
    shapes, steps, fetched = dag
    graph = gn.Graph()
    with graph.as_default():
        inputs, outputs = _build_dag(shapes, steps)
        loss = gn.reduce_sum(outputs[-1])
        grads = [g for g in gn.gradients(loss, inputs) if g is not None]
    program = extract(graph, [outputs[i] for i in fetched] + grads, dict.fromkeys(inputs))
    fused = run_passes(program, ["fuse"], PassContext(verify=True))
    feeds = {f"in{i}": _normal(*s) for i, s in enumerate(shapes)}
    assert_same_results(program, fused, feeds)
    assert len(fused.nodes) <= len(program.nodes)
