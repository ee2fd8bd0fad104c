"""fold_batchnorm: inference batch norms become scaled weights plus a bias, as weight arithmetic."""

import numpy as np
import pytest

import graphnet as gn
import graphnet.backends.reference.fused
from graphnet.backends.registry import get_backend
from graphnet.compiler import PassContext, extract, run_passes
from graphnet.compiler.passes import (  # noqa: F401  (importing registers the passes)
    eliminate_dead,
    fold_batchnorm,
    fold_constants,
    fuse,
)
from graphnet.compiler.testing import assert_same_results, check_pass

RNG = np.random.default_rng(0)

PARAMS = """
    %scale = variable() {dtype="float64", shape=[3]} : f64[3]
    %offset = variable() {dtype="float64", shape=[3]} : f64[3]
    %mean = variable() {dtype="float64", shape=[3]} : f64[3]
    %var = variable() {dtype="float64", shape=[3]} : f64[3]
"""


def _bn_values(channels: int = 3) -> dict[str, np.ndarray]:
    return {
        "scale": RNG.normal(size=channels),
        "offset": RNG.normal(size=channels),
        "mean": RNG.normal(size=channels),
        "var": RNG.uniform(0.5, 2.0, size=channels),
    }


def test_conv_then_batch_norm_becomes_conv_with_scaled_weights_and_a_bias():
    counts = check_pass(
        "fold_batchnorm",
        """
        %x = placeholder() {dtype="float64", feed="x:0", shape=[1,4,4,2]} : f64[1,4,4,2]
        %w = variable() {dtype="float64", shape=[3,3,2,3]} : f64[3,3,2,3]
        """
        + PARAMS
        + """
        %conv = conv2d(%x, %w) {dilations=[1,1], padding="SAME", strides=[1,1]} : f64[1,4,4,3]
        %bn, %bn:1, %bn:2 = fused_batch_norm(%conv, %scale, %offset, %mean, %var) \
{epsilon=0.001, is_training=false} : f64[1,4,4,3], f64[3], f64[3]
        %relu = relu(%bn) : f64[1,4,4,3]
        %fetch = fetch(%relu) {index=0}
        %fetch_1 = fetch(%bn:1) {index=1}
        %fetch_2 = fetch(%bn:2) {index=2}
        """,
        """
        %x = placeholder() {dtype="float64", feed="x:0", shape=[1,4,4,2]} : f64[1,4,4,2]
        %w = variable() {dtype="float64", shape=[3,3,2,3]} : f64[3,3,2,3]
        """
        + PARAMS
        + """
        %bn/fold/Const = const() {value=float64[][0.001]} : f64[]
        %bn/fold/add = add(%var, %bn/fold/Const) : f64[3]
        %bn/fold/rsqrt = rsqrt(%bn/fold/add) : f64[3]
        %bn/fold/inv = multiply(%scale, %bn/fold/rsqrt) : f64[3]
        %bn/fold/weights = multiply(%w, %bn/fold/inv) : f64[3,3,2,3]
        %bn/fold/negative = negative(%mean) : f64[3]
        %bn/fold/multiply = multiply(%bn/fold/negative, %bn/fold/inv) : f64[3]
        %bn/fold/bias = add(%bn/fold/multiply, %offset) : f64[3]
        %conv = conv2d(%x, %bn/fold/weights) {dilations=[1,1], padding="SAME", strides=[1,1]} \
: f64[1,4,4,3]
        %bn = bias_add(%conv, %bn/fold/bias) : f64[1,4,4,3]
        %relu = relu(%bn) : f64[1,4,4,3]
        %fetch = fetch(%relu) {index=0}
        %fetch_1 = fetch(%mean) {index=1}
        %fetch_2 = fetch(%var) {index=2}
        """,
        feeds={"x": RNG.normal(size=(1, 4, 4, 2))},
        variables={"w": RNG.normal(size=(3, 3, 2, 3)), **_bn_values()},
    )
    assert counts == {"folded": 1}


def test_a_bias_before_the_batch_norm_and_a_transposed_matmul():
    check_pass(
        "fold_batchnorm",
        """
        %x = placeholder() {dtype="float64", feed="x:0", shape=[5,4]} : f64[5,4]
        %w = variable() {dtype="float64", shape=[3,4]} : f64[3,4]
        %b = variable() {dtype="float64", shape=[3]} : f64[3]
        """
        + PARAMS
        + """
        %mm = matmul(%x, %w) {transpose_a=false, transpose_b=true} : f64[5,3]
        %plus = add(%b, %mm) : f64[5,3]
        %bn, %bn:1, %bn:2 = fused_batch_norm(%plus, %scale, %offset, %mean, %var) \
{epsilon=0.01, is_training=false} : f64[5,3], f64[3], f64[3]
        %fetch = fetch(%bn) {index=0}
        """,
        """
        %x = placeholder() {dtype="float64", feed="x:0", shape=[5,4]} : f64[5,4]
        %w = variable() {dtype="float64", shape=[3,4]} : f64[3,4]
        %b = variable() {dtype="float64", shape=[3]} : f64[3]
        """
        + PARAMS
        + """
        %bn/fold/Const = const() {value=float64[][0.01]} : f64[]
        %bn/fold/add = add(%var, %bn/fold/Const) : f64[3]
        %bn/fold/rsqrt = rsqrt(%bn/fold/add) : f64[3]
        %bn/fold/inv = multiply(%scale, %bn/fold/rsqrt) : f64[3]
        %bn/fold/expand_dims = expand_dims(%bn/fold/inv) {axis=1} : f64[3,1]
        %bn/fold/weights = multiply(%w, %bn/fold/expand_dims) : f64[3,4]
        %bn/fold/subtract = subtract(%b, %mean) : f64[3]
        %bn/fold/multiply = multiply(%bn/fold/subtract, %bn/fold/inv) : f64[3]
        %bn/fold/bias = add(%bn/fold/multiply, %offset) : f64[3]
        %mm = matmul(%x, %bn/fold/weights) {transpose_a=false, transpose_b=true} : f64[5,3]
        %bn = bias_add(%mm, %bn/fold/bias) : f64[5,3]
        %fetch = fetch(%bn) {index=0}
        """,
        feeds={"x": RNG.normal(size=(5, 4))},
        variables={"w": RNG.normal(size=(3, 4)), "b": RNG.normal(size=3), **_bn_values()},
    )


def _bn(y: gn.Tensor, channels: int, name: str) -> gn.Tensor:
    """An inference batch norm over variables holding random statistics."""
    values = _bn_values(channels).items()
    params = [gn.Variable(v.astype(y.dtype.np), name=f"{name}_{k}") for k, v in values]
    scale, offset, mean, var = params
    out, _, _ = gn.nn.fused_batch_norm(y, scale, offset, mean, var, is_training=False, name=name)
    return out


def _inference_net(dtype: gn.DType = gn.float64):
    """conv -> bn -> relu, depthwise -> bias -> bn, matmul -> bn: every foldable shape."""

    def variable(*shape: int, name: str) -> gn.Variable:
        return gn.Variable(RNG.normal(size=shape).astype(dtype.np), name=name)

    x = gn.placeholder(dtype, [2, 6, 6, 2], name="x")
    w1 = variable(3, 3, 2, 3, name="w1")
    h = gn.nn.relu(_bn(gn.nn.conv2d(x, w1, 1, "SAME"), 3, "bn1"))
    w2 = variable(3, 3, 3, 2, name="w2")
    b2 = variable(6, name="b2")
    d = gn.nn.bias_add(gn.nn.depthwise_conv2d(h, w2, 2, "VALID"), b2)
    h = gn.nn.relu6(_bn(d, 6, "bn2"))
    w3 = variable(24, 4, name="w3")
    out = _bn(gn.matmul(gn.reshape(h, [2, 24]), w3), 4, "bn3")
    return x, out


def _values(graph: gn.Graph) -> dict[str, np.ndarray]:
    with gn.Session(graph=graph) as sess:
        sess.run(gn.global_variables_initializer())
        return sess.variable_values()


def _bn_count(graph: gn.Graph) -> int:
    return sum(n.type == "fused_batch_norm" for n in graph.nodes)


def test_every_inference_batch_norm_after_a_conv_depthwise_or_matmul_goes():
    x, out = _inference_net()
    program = extract(x.graph, [out], {x: None})
    ctx = PassContext(verify=True)
    folded = run_passes(program, ["fold_batchnorm"], ctx)
    assert (_bn_count(program), _bn_count(folded)) == (3, 0)
    assert ctx.records[-1].counts == {"folded": 3}
    feeds, variables = {"x": RNG.normal(size=(2, 6, 6, 2))}, _values(x.graph)
    assert_same_results(program, folded, feeds, variables)


def test_frozen_variables_fold_into_constants_feeding_the_conv():
    x, out = _inference_net()
    variables = _values(x.graph)
    program = extract(x.graph, [out], {x: None})
    ctx = PassContext(verify=True, variables=variables)
    frozen = run_passes(program, ["fold_batchnorm", "fold_constants", "eliminate_dead"], ctx)
    types = [n.type for n in frozen.nodes]
    assert sorted(set(types)) == [
        "bias_add", "const", "conv2d", "depthwise_conv2d", "fetch", "matmul", "placeholder",
        "relu", "relu6", "reshape",
    ]  # fmt: skip
    for node in frozen.nodes:
        if node.type in ("conv2d", "depthwise_conv2d", "matmul", "bias_add"):
            assert node.inputs[1].node.type == "const", node.name
    assert_same_results(program, frozen, {"x": RNG.normal(size=(2, 6, 6, 2))}, variables)


def test_what_does_not_fold_stays():
    x = gn.placeholder(gn.float64, [4, 3], name="x")
    w = gn.Variable(RNG.normal(size=(3, 3)), name="w")
    mm = gn.matmul(x, w)
    params = [gn.Variable(v) for v in _bn_values().values()]
    training, _, _ = gn.nn.fused_batch_norm(mm, params[0], params[1], is_training=True)
    used_twice = _bn(mm, 3, "bn")  # mm also feeds the training batch norm
    after_relu = _bn(gn.nn.relu(gn.matmul(x, w)), 3, "bn_relu")
    before_update = gn.matmul(x, w)
    update = gn.assign(w, 2.0 * w)  # the folded weights would be read after it
    after_update = _bn(before_update, 3, "bn_after_update")
    fetches = [training, used_twice, after_relu, after_update, update]
    program = extract(x.graph, fetches, {x: None})
    ctx = PassContext(verify=True)
    folded = run_passes(program, ["fold_batchnorm"], ctx)
    assert ctx.records[-1].counts == {"folded": 0}
    assert _bn_count(folded) == 4


def _run_at(level: str, x: gn.Tensor, out: gn.Tensor, value: np.ndarray):
    """out's value in a Session at `level`, that run's plan ops, and the variables."""
    with gn.Session(config=gn.SessionConfig(opt_level=level, verify=True)) as sess:
        sess.run(gn.global_variables_initializer())
        variables = sess.variable_values()
        result = sess.run(out, {x: value})
        ops = [s.op for s in sess.compiled_plan(out, {x: value}).steps]
        for name, after in sess.variable_values().items():
            np.testing.assert_array_equal(after, variables[name])
    return result, ops, variables


@pytest.mark.parametrize("dtype, rtol", [(gn.float64, 1e-10), (gn.float32, 1e-5)])
def test_session_results_agree_and_variables_are_untouched(dtype, rtol):
    x, out = _inference_net(dtype)
    value = RNG.normal(size=(2, 6, 6, 2)).astype(dtype.np)
    want, _, _ = _run_at("O0", x, out, value)
    got, ops, _ = _run_at("O2", x, out, value)
    assert "fused_batch_norm" not in ops
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.abs(want).max())


def test_a_frozen_inference_plan_is_fused_kernels_only():
    x, out = _inference_net()
    value = RNG.normal(size=(2, 6, 6, 2))
    want, _, variables = _run_at("O0", x, out, value)
    ctx = PassContext(opt_level="O2", inference=True, variables=variables, verify=True)
    plan = gn.compiler.compile(x.graph, [out], {x: value.shape}, ctx)
    assert [s.op for s in plan.steps] == [
        "fused_conv2d", "fused_depthwise_conv2d", "reshape", "fused_matmul",
    ]  # fmt: skip
    result = get_backend("reference").compile(plan).run({plan.feeds["x:0"]: value}, {})
    np.testing.assert_allclose(result.fetches[0], want, rtol=1e-10, atol=1e-10)
