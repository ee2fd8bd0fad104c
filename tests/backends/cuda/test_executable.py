"""The CUDA executable: whole training loops against the CPU, variables kept on the device,
transfers only for feeds and fetches, fallbacks, exported plans, and the errors without CUDA."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

import graphnet as gn
from graphnet.backends import BackendError, get_backend
from graphnet.backends.layout import KernelFallbackWarning
from graphnet.backends.registry import KERNELS

from .harness import cuda

pytestmark = pytest.mark.cuda


def _mlp() -> tuple[gn.Tensor, gn.Tensor, gn.Tensor, gn.Node]:
    """A two-layer classifier with fixed initial weights (random ops draw other numbers on the
    GPU than on the CPU)."""
    rng = np.random.default_rng(1)
    x = gn.placeholder(gn.float32, [8, 5], name="x")
    labels = gn.placeholder(gn.int32, [8], name="labels")
    w1 = gn.Variable(rng.normal(size=(5, 6)).astype(np.float32), name="w1")
    b1 = gn.Variable(np.zeros(6, np.float32), name="b1")
    w2 = gn.Variable(rng.normal(size=(6, 3)).astype(np.float32), name="w2")
    hidden = gn.nn.relu(gn.nn.bias_add(gn.matmul(x, w1), b1))
    logits = gn.matmul(hidden, w2)
    loss = gn.losses.sparse_softmax_cross_entropy(labels, logits)
    train = gn.train.MomentumOptimizer(0.1, 0.9).minimize(loss)
    return x, labels, loss, train


def _train(backend: str, steps: int) -> tuple[list[float], dict[str, np.ndarray]]:
    gn.reset_default_graph()
    x, labels, loss, train = _mlp()
    rng = np.random.default_rng(0)
    feed = {x: rng.normal(size=(8, 5)).astype(np.float32), labels: rng.integers(0, 3, 8)}
    with gn.Session(backend=backend) as sess:
        sess.run(gn.global_variables_initializer())
        losses = [float(sess.run([loss, train], feed)[0]) for _ in range(steps)]
        return losses, sess.variable_values()


def test_training_on_cuda_follows_the_cpu_step_by_step():
    want, want_vars = _train("cpu", 4)
    got, got_vars = _train("cuda", 4)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    assert got_vars.keys() == want_vars.keys()
    for name, value in want_vars.items():
        assert isinstance(got_vars[name], np.ndarray)
        np.testing.assert_allclose(got_vars[name], value, rtol=1e-5, atol=1e-6, err_msg=name)


def test_variables_stay_on_the_device_and_only_feeds_and_fetches_cross(monkeypatch):
    x, labels, loss, train = _mlp()
    feed = {x: np.ones((8, 5), np.float32), labels: np.zeros(8, np.int32)}
    with gn.Session(backend="cuda") as sess:
        sess.run(gn.global_variables_initializer())
        sess.run([loss, train], feed)  # compiles the plan, allocates its device memory
        assert all(hasattr(v, "copy_to_host") for v in sess._variables.values())
        uploads = []
        monkeypatch.setattr(cuda, "to_device", lambda *a, **k: uploads.append(a))
        for _ in range(3):
            sess.run([loss, train], feed)
        assert uploads == []  # feeds refill buffers allocated once; variables never move


def test_a_step_without_a_cuda_kernel_runs_the_reference_kernel_on_the_host(monkeypatch):
    get_backend("cuda")
    monkeypatch.delitem(KERNELS, ("cuda", "softmax"))
    x = gn.placeholder(gn.float64, [2, 3], name="x")
    y = gn.nn.softmax(x * 2.0)
    value = np.arange(6.0).reshape(2, 3)
    with pytest.warns(KernelFallbackWarning, match="softmax"):
        with gn.Session(backend="cuda") as sess:
            got = sess.run(y, {x: value})
    with gn.Session(backend="reference") as sess:
        np.testing.assert_allclose(got, sess.run(y, {x: value}), rtol=1e-12)


def test_every_op_with_a_cpu_kernel_has_a_cuda_kernel():
    get_backend("cpu"), get_backend("cuda")
    cpu = {op for backend, op in KERNELS if backend == "cpu"}
    cuda_ops = {op for backend, op in KERNELS if backend == "cuda"}
    assert sorted(cpu - cuda_ops) == []


def test_an_exported_plan_runs_on_cuda(tmp_path):
    x = gn.placeholder(gn.float32, [None, 4], name="x")
    y = gn.keras.layers.Dense(3, activation="tanh")(x)
    value = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        want = sess.run(y, {x: value})
        gn.export.save_plan(sess, [y], [x], tmp_path / "model.gnplan")
    plan = gn.runtime.load_plan(tmp_path / "model.gnplan", backend="cuda")
    got = plan.run(value)[plan.outputs[0].name]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_without_numba_cuda_the_error_says_how_to_install_it(monkeypatch):
    from graphnet.backends.cuda import device

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "numba_cuda" else real(name)
    )
    with pytest.raises(BackendError, match=r"numba-cuda .*pip install 'graphnet\[cuda\]'"):
        device.require_cuda()


def test_without_a_gpu_the_error_names_the_fix(monkeypatch):
    monkeypatch.setattr(cuda, "is_available", lambda: False)
    monkeypatch.delitem(sys.modules, "graphnet.backends.cuda")
    with pytest.raises(BackendError, match=r"no usable NVIDIA GPU.*NUMBA_ENABLE_CUDASIM=1"):
        gn.Session(backend="cuda")
