"""The CPU executable's modes: per step, whole plan, the switch between them, and errors."""

from __future__ import annotations

import numpy as np
import pytest

import graphnet as gn
from graphnet.backends.cpu import executable
from graphnet.backends.cpu.executable import CpuBackend
from graphnet.backends.layout import KernelFallbackWarning


def _model() -> tuple[gn.Tensor, gn.Tensor, gn.Node, gn.Variable]:
    x = gn.placeholder(gn.float32, [4, 3], name="x")
    w = gn.Variable(np.full((3, 2), 0.5, np.float32), name="w")
    loss = gn.reduce_mean(gn.square(gn.nn.relu(gn.matmul(x, w)) - 1.0))
    train = gn.train.GradientDescentOptimizer(0.1).minimize(loss)
    return x, loss, train, w


def _train(backend: CpuBackend | str, steps: int) -> tuple[list[float], np.ndarray, set[str]]:
    """Losses of `steps` training steps, the trained weights, and the modes of the executables."""
    x, loss, train, w = _model()
    feed = {x: np.arange(12, dtype=np.float32).reshape(4, 3) / 10}
    with gn.Session(backend=backend) as sess:
        sess.run(gn.global_variables_initializer())
        losses = [float(sess.run([loss, train], feed)[0]) for _ in range(steps)]
        modes = {getattr(e, "mode", "reference") for e in sess._executables.values()}
        return losses, sess.run(w), modes


def test_auto_mode_compiles_the_plan_whole_after_some_runs_and_computes_the_same():
    want, w_ref, _ = _train("reference", 6)
    got, w_cpu, modes = _train(CpuBackend(mode="auto", compile_after=3), 6)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    np.testing.assert_allclose(w_cpu, w_ref, rtol=1e-5)
    assert "plan" in modes


def test_plans_with_too_many_steps_stay_per_step(monkeypatch):
    monkeypatch.setattr(executable, "WHOLE_PLAN_MAX_STEPS", 2)
    _, _, modes = _train(CpuBackend(mode="auto", compile_after=1), 4)
    assert modes == {"steps"}


def test_a_session_takes_a_backend_object():
    sess = gn.Session(backend=CpuBackend(mode="steps"))
    assert sess.backend_name == "cpu"
    sess.close()


def test_plans_with_unknown_feed_dims_are_specialized_to_each_run(recwarn):
    x = gn.placeholder(gn.float32, [None, 3], name="x")
    y = gn.reduce_sum(gn.exp(x), axis=1)
    config = gn.SessionConfig(opt_level="O0")  # no shape inference: the batch stays unknown
    with gn.Session(config=config) as sess:
        for n in (2, 5):
            out = sess.run(y, {x: np.zeros((n, 3), np.float32)})
            np.testing.assert_allclose(out, np.full(n, 3.0, np.float32))
    assert not [w for w in recwarn if w.category is KernelFallbackWarning]


def test_values_whose_shape_depends_on_data_fall_back_to_the_reference_kernels():
    dims = gn.placeholder(gn.int32, [2], name="dims")
    y = gn.fill(dims, 2.0, name="filled")
    with gn.Session() as sess, pytest.warns(KernelFallbackWarning, match="node 'filled'"):
        out = sess.run(y, {dims: [2, 3]})
    np.testing.assert_array_equal(out, np.full((2, 3), 2.0, np.float32))


@pytest.mark.parametrize("mode", ["steps", "plan"])
def test_a_failing_run_names_the_node_and_leaves_the_variables(mode: str):
    params = gn.Variable(np.zeros((3, 2), np.float32), name="params")
    i = gn.placeholder(gn.int32, [2], name="i")
    update = gn.assign_add(params, gn.ones([3, 2]))
    with gn.control_dependencies([update]):
        picked = gn.gather(params, i, name="pick")
    with gn.Session(backend=CpuBackend(mode=mode)) as sess:
        sess.run(gn.global_variables_initializer())
        with pytest.raises(gn.OpError, match=r"node 'pick'.*outside \[0, 3\)"):
            sess.run(picked, {i: np.array([0, 5], np.int32)})
        np.testing.assert_array_equal(sess.run(params), np.zeros((3, 2), np.float32))
        np.testing.assert_array_equal(sess.run(picked, {i: [2, 0]}), np.ones((2, 2)))


def test_every_op_with_a_reference_kernel_has_a_cpu_kernel():
    from graphnet.backends.registry import KERNELS

    reference = {op for backend, op in KERNELS if backend == "reference"}
    cpu = {op for backend, op in KERNELS if backend == "cpu"}
    assert sorted(reference - cpu) == []
