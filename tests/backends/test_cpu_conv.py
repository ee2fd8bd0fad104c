"""CPU (Numba) convolution and pooling kernels against the reference kernels, step by step.

Each test builds a small graph (forward op, and gradients for the backprop ops), compiles it,
runs the plan with the reference kernels, and calls the CPU kernel of every step under test on
the same inputs in the executable's convention `fn(*inputs, *outputs, *scratch, *args)`.
Both convolution paths (planar and GEMM, the latter also over several tiles with a partial one)
run on the same shapes, so the set of compiled signatures stays small.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

import numpy as np
import pytest

import graphnet as gn
import graphnet.backends.cpu.conv as cpu_conv
from graphnet.backends.reference.executor import bind_kernel
from graphnet.backends.registry import get_kernel
from graphnet.compiler import Plan, Step
from graphnet.ops.core import apply_op1

DTYPES = ["float32", "float64"]
RTOL = {"float32": 1e-4, "float64": 1e-10}


def run_cpu_step(step: Step, plan: Plan, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """One step through its CPU kernel, as the CPU executable calls it: bind once from the
    (dtype, shape) types, then fn(*inputs, *outputs, *scratch, *args) into preallocated outputs
    and scratch (here filled with NaN, so that an unwritten output or an unset scratch entry
    that is read shows)."""
    in_types = [(plan.buffers[b].dtype, a.shape) for b, a in zip(step.inputs, inputs, strict=True)]
    out_types = [(plan.buffers[b].dtype, tuple(plan.buffers[b].shape)) for b in step.outputs]
    bound = get_kernel(step.op, "cpu")(step.attrs, in_types, out_types)
    outputs = [_poisoned(dtype, shape) for dtype, shape in out_types]
    scratch = [_poisoned(dtype, shape) for dtype, shape in bound.scratch]
    bound.fn(*inputs, *outputs, *scratch, *bound.args)
    return outputs


def _poisoned(dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    fill = np.nan if np.dtype(dtype).kind == "f" else -12345
    return np.full(shape, fill, dtype=dtype)


def check_steps(
    build: Callable[..., Sequence[gn.Tensor]],
    feeds: Sequence[np.ndarray],
    ops: Collection[str],
) -> None:
    """Builds `build(*placeholders)` (the fetches), runs its plan on the reference kernels and
    checks every step whose op is in `ops` on the CPU kernel against the reference output,
    to rtol 1e-4 (float32) / 1e-10 (float64) relative to the output's largest magnitude.
    Every op of `ops` must occur in the plan."""
    graph = gn.Graph()
    with graph.as_default():
        phs = [gn.placeholder(gn.as_dtype(a.dtype), a.shape, name=f"in{i}")
               for i, a in enumerate(feeds)]  # fmt: skip
        fetches = build(*phs)
    shapes = {p: a.shape for p, a in zip(phs, feeds, strict=True)}
    plan = gn.compiler.compile(graph, fetches, shapes)
    values: list = [None] * len(plan.buffers)
    for b, value in plan.constants.items():
        values[b] = value
    for p, a in zip(phs, feeds, strict=True):
        values[plan.feeds[p.name]] = a
    seen = set()
    for step in plan.steps:
        inputs = [np.ascontiguousarray(values[b]) for b in step.inputs]  # as arena buffers
        want = bind_kernel(step.op, step.attrs)(*inputs)
        want = list(want) if isinstance(want, tuple) else [want]
        for b, w in zip(step.outputs, want, strict=True):
            values[b] = np.asarray(w, dtype=plan.buffers[b].dtype)
        if step.op not in ops:
            continue
        seen.add(step.op)
        got = run_cpu_step(step, plan, inputs)
        for k, (g, b) in enumerate(zip(got, step.outputs, strict=True)):
            w = values[b]
            rtol = RTOL.get(str(w.dtype), 0.0)  # integers: exact
            np.testing.assert_allclose(
                g, w, rtol=rtol, atol=rtol * max(float(np.abs(w).max(initial=0)), 1e-30),
                err_msg=f"{step.op} ({step.node}) output {k}",
            )  # fmt: skip
    assert seen == set(ops), f"the plan has no step of {set(ops) - seen}"


def uniform(shape: Sequence[int], dtype: str, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, size=shape).astype(dtype)


def _with_grads(y: gn.Tensor, wrt: Sequence[gn.Tensor], seed: int = 7) -> list[gn.Tensor]:
    """y and the gradients of sum(y * r) (r fixed random) wrt `wrt`."""
    r = gn.constant(uniform(y.shape, y.dtype.name, seed))
    return [y, *gn.gradients(gn.reduce_sum(y * r), list(wrt))]


# -- conv2d -----------------------------------------------------------------------------------

# (x shape, filter shape, strides, padding, dilations)
CONV_CASES = {
    "same": ((2, 7, 9, 3), (3, 3, 3, 4), 1, "SAME", 1),
    "explicit-dilated": ((1, 9, 8, 1), (3, 2, 1, 6), 1, [[0, 0], [1, 2], [0, 1], [0, 0]], 2),
    "stride2-same-odd": ((2, 9, 7, 3), (3, 3, 3, 5), 2, "SAME", 1),
    "1x1-valid": ((1, 6, 5, 5), (1, 1, 5, 7), 1, "VALID", 1),
    "mixed": ((2, 8, 9, 4), (2, 3, 4, 5), (1, 2), [[0, 0], [2, 0], [1, 1], [0, 0]], (2, 1)),
    "valid-5x5": ((2, 9, 8, 2), (5, 5, 2, 3), 1, "VALID", 1),
}
CONV_OPS = ("conv2d", "conv2d_backprop_input", "conv2d_backprop_filter")


@pytest.fixture(params=["planar", "gemm", "gemm-tiled"])
def conv_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Forces one convolution path; gemm-tiled unfolds three output rows per tile."""
    path = request.param
    monkeypatch.setattr(cpu_conv, "PLANAR_MAX_CHANNELS", 10**9 if path == "planar" else 0)
    if path == "gemm-tiled":
        monkeypatch.setattr(cpu_conv, "_tile_rows", lambda total, row_bytes: min(3, total))
    return path


def _conv_case(name: str, path: str) -> tuple:
    x_shape, w_shape, strides, padding, dilations = CONV_CASES[name]
    if path == "planar" and strides != 1:
        pytest.skip("the planar path is for stride 1")
    return x_shape, w_shape, strides, padding, dilations


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_and_backprops(case: str, dtype: str, conv_path: str) -> None:
    x_shape, w_shape, strides, padding, dilations = _conv_case(case, conv_path)

    def build(x: gn.Tensor, w: gn.Tensor) -> list[gn.Tensor]:
        y = gn.nn.conv2d(x, w, strides, padding, dilations=dilations)
        return _with_grads(y, [x, w])

    check_steps(build, [uniform(x_shape, dtype, 1), uniform(w_shape, dtype, 2)], CONV_OPS)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", [None, *sorted(cpu_conv.ACTIVATIONS.keys() - {None})])
@pytest.mark.parametrize("bias", [True, False])
def test_fused_conv2d(bias: bool, activation: str | None, dtype: str, conv_path: str) -> None:
    x_shape, w_shape, strides, padding, dilations = _conv_case("same", conv_path)
    alpha = 0.3 if activation == "leaky_relu" else 0.0
    attrs = {"strides": (strides,) * 2, "padding": padding, "dilations": (dilations,) * 2,
             "bias": bias, "activation": activation, "alpha": alpha}  # fmt: skip
    feeds = [uniform(x_shape, dtype, 1) * 3, uniform(w_shape, dtype, 2)]
    if bias:
        feeds.append(uniform(w_shape[3:], dtype, 3))
    check_steps(lambda *ins: [apply_op1("fused_conv2d", ins, attrs)], feeds, ["fused_conv2d"])


# -- depthwise ----------------------------------------------------------------------------------

DEPTHWISE_CASES = {
    "same": ((2, 7, 9, 3), (3, 3, 3, 1), 1, "SAME", 1),
    "multiplier-stride2": ((1, 8, 7, 2), (3, 2, 2, 3), 2, "SAME", 1),
    "explicit-dilated": ((2, 9, 8, 4), (2, 3, 4, 2), (2, 1), [[0, 0], [1, 0], [2, 1], [0, 0]], 2),
}
DEPTHWISE_OPS = (
    "depthwise_conv2d", "depthwise_conv2d_backprop_input", "depthwise_conv2d_backprop_filter",
)  # fmt: skip


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", DEPTHWISE_CASES)
def test_depthwise_conv2d_and_backprops(case: str, dtype: str) -> None:
    x_shape, w_shape, strides, padding, dilations = DEPTHWISE_CASES[case]

    def build(x: gn.Tensor, w: gn.Tensor) -> list[gn.Tensor]:
        y = gn.nn.depthwise_conv2d(x, w, strides, padding, dilations=dilations)
        return _with_grads(y, [x, w])

    check_steps(build, [uniform(x_shape, dtype, 1), uniform(w_shape, dtype, 2)], DEPTHWISE_OPS)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", [None, "relu6", "elu"])
@pytest.mark.parametrize("bias", [True, False])
def test_fused_depthwise_conv2d(bias: bool, activation: str | None, dtype: str) -> None:
    x_shape, w_shape, _, _, _ = DEPTHWISE_CASES["multiplier-stride2"]
    attrs = {"strides": (2, 2), "padding": "SAME", "dilations": (1, 1), "bias": bias,
             "activation": activation, "alpha": 0.0}  # fmt: skip
    feeds = [uniform(x_shape, dtype, 1) * 3, uniform(w_shape, dtype, 2)]
    if bias:
        feeds.append(uniform((w_shape[2] * w_shape[3],), dtype, 3))
    check_steps(
        lambda *ins: [apply_op1("fused_depthwise_conv2d", ins, attrs)],
        feeds,
        ["fused_depthwise_conv2d"],
    )


# -- pooling ----------------------------------------------------------------------------------

# (x shape, ksize, strides, padding)
POOL_CASES = {
    "2x2-valid": ((2, 8, 6, 3), 2, 2, "VALID"),
    "3x3-stride2-same-odd": ((1, 7, 9, 2), 3, 2, "SAME"),
    "3x2-stride1-same": ((2, 5, 6, 3), (3, 2), 1, "SAME"),
    "mixed-valid": ((1, 7, 8, 4), (2, 3), (1, 2), "VALID"),
}


def _pool_shape(x_shape: Sequence[int], ksize: int | tuple, strides: int | tuple,
                padding: str) -> tuple[int, ...]:  # fmt: skip
    """The output shape of a pool (from the op's own shape rule)."""
    with gn.Graph().as_default():
        return gn.nn.max_pool2d(gn.zeros(x_shape), ksize, strides, padding).shape


def _tied(shape: Sequence[int], dtype: str) -> np.ndarray:
    """Small integers: windows hold ties, which max pooling's gradient gives to the first."""
    return np.random.default_rng(5).integers(0, 4, size=shape).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOL_CASES)
def test_max_pool_and_grads(case: str, dtype: str) -> None:
    x_shape, ksize, strides, padding = POOL_CASES[case]

    def build(x: gn.Tensor, g: gn.Tensor) -> list[gn.Tensor]:
        y = gn.nn.max_pool2d(x, ksize, strides, padding)
        dx = gn.gradients(y, x, grad_ys=g)[0]  # max_pool_grad
        r = gn.constant(uniform(x_shape, dtype, 9))
        return [y, dx, gn.gradients(gn.reduce_sum(dx * r), g)[0]]  # max_pool_grad_grad

    check_steps(
        build,
        [_tied(x_shape, dtype), uniform(_pool_shape(*POOL_CASES[case]), dtype, 4)],
        ["max_pool", "max_pool_grad", "max_pool_grad_grad"],
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOL_CASES)
def test_avg_pool_and_grad(case: str, dtype: str) -> None:
    x_shape, ksize, strides, padding = POOL_CASES[case]

    def build(x: gn.Tensor, g: gn.Tensor) -> list[gn.Tensor]:
        y = gn.nn.avg_pool2d(x, ksize, strides, padding)
        return [y, gn.gradients(y, x, grad_ys=g)[0]]  # fed g: not folded to a constant

    check_steps(
        build,
        [uniform(x_shape, dtype, 1), uniform(_pool_shape(*POOL_CASES[case]), dtype, 4)],
        ["avg_pool", "avg_pool_grad"],
    )


def test_max_pool_of_integers() -> None:
    check_steps(
        lambda x: [gn.nn.max_pool2d(x, 3, 2, "SAME")],
        [np.random.default_rng(0).integers(-50, 50, size=(1, 5, 5, 2)).astype("int32")],
        ["max_pool"],
    )


# -- through the CPU backend: a small CNN's loss, outputs and gradients -------------------------

MY_OPS = {*CONV_OPS, *DEPTHWISE_OPS, "fused_conv2d", "fused_depthwise_conv2d", "max_pool",
          "max_pool_grad", "max_pool_grad_grad", "avg_pool", "avg_pool_grad", "softmax",
          "log_softmax", "fused_batch_norm"}  # fmt: skip


def _small_cnn(x: gn.Tensor) -> list[gn.Tensor]:
    """conv (+ bias + relu: fused at O2) -> max pool -> depthwise -> batch norm -> strided conv
    -> avg pool -> softmax / log_softmax loss; returns the loss, the probabilities and the
    gradients of every variable."""

    def var(shape: tuple[int, ...], seed: int, name: str) -> gn.Variable:
        return gn.Variable(uniform(shape, "float32", seed) * 0.5, name=name)

    h = gn.nn.conv2d(x, var((5, 5, 1, 4), 1, "w1"), 1, "SAME")
    h = gn.nn.max_pool2d(gn.nn.relu(gn.nn.bias_add(h, var((4,), 2, "b1"))), 2, 2, "VALID")
    h = gn.nn.depthwise_conv2d(h, var((3, 3, 4, 2), 3, "wd"), 1, "SAME")
    h, _, _ = gn.nn.fused_batch_norm(h, var((8,), 4, "scale"), var((8,), 5, "offset"))
    h = gn.nn.relu6(gn.nn.conv2d(h, var((3, 3, 8, 16), 6, "w2"), 2, "SAME"))
    logits = gn.reshape(gn.nn.avg_pool2d(h, 2, 2, "SAME"), [-1, 64])
    labels = gn.constant(np.eye(64, dtype="float32")[: x.shape[0]])
    loss = gn.reduce_mean(-gn.nn.log_softmax(logits) * labels)
    return [loss, gn.nn.softmax(logits), *gn.gradients(loss, gn.trainable_variables())]


@pytest.mark.parametrize("whole_plan", [False, True])
def test_small_cnn_on_cpu_backend(whole_plan: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from graphnet.backends import registry
    from graphnet.backends.cpu.executable import CpuExecutable

    monkeypatch.setitem(registry.BACKEND_MODULES, "cpu", "graphnet.backends.cpu")
    graph = gn.Graph()
    with graph.as_default():
        x = gn.placeholder(gn.float32, (4, 14, 14, 1), name="x")
        fetches = _small_cnn(x)
        init = gn.global_variables_initializer()
    feed = {x: uniform(x.shape, "float32", 8)}
    with gn.Session(graph=graph, backend="reference") as sess:
        sess.run(init)
        want = sess.run(fetches, feed)
        variables = {v.name.split(":")[0]: sess.run(v) for v in graph.get_collection("variables")}
    if whole_plan:
        plan = gn.compiler.compile(graph, fetches, {x: x.shape},
                                   gn.compiler.PassContext(opt_level="O2"))  # fmt: skip
        executable = CpuExecutable(plan, mode="plan")
        assert not [f for f in executable.fallbacks if f.op in MY_OPS], executable.fallbacks
        got = executable.run({plan.feeds[x.name]: feed[x]}, variables).fetches
    else:
        with gn.Session(graph=graph, backend="cpu") as sess:
            sess.run(init)
            got = sess.run(fetches, feed)
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6, err_msg=f"fetch {k}")
