"""CUDA softmax, log_softmax and fused_batch_norm against the reference: rows longer than a
block, lengths that are not a multiple of 32, other axes, NaN, both batch-norm modes and y
written over x."""

from __future__ import annotations

import numpy as np
import pytest
from numba import cuda

from graphnet.backends.reference.executor import bind_kernel
from graphnet.backends.registry import get_kernel
from tests.backends.cuda.harness import check_kernel

rng = np.random.default_rng(5)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "shape, axis", [((3, 300), -1), ((4, 37), 1), ((1,), 0), ((7, 3), 0), ((3, 5, 6), 1)]
)
def test_softmax(op: str, dtype: str, shape: tuple[int, ...], axis: int) -> None:
    x = (rng.standard_normal(shape) * 20).astype(dtype)
    check_kernel(op, {"axis": axis}, [x])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # -inf - -inf, on the simulator
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@pytest.mark.parametrize("axis", [0, 1])
def test_softmax_nan_and_infinity(op: str, axis: int) -> None:
    x = rng.standard_normal((4, 40))
    x[1, 3] = np.nan
    x[2, 0] = -np.inf
    x[3, :] = -np.inf
    check_kernel(op, {"axis": axis}, [x])


def _batch_norm_inputs(dtype: str, training: bool) -> list[np.ndarray]:
    x = rng.standard_normal((4, 3, 5, 6)).astype(dtype)
    params = [rng.standard_normal(6), rng.standard_normal(6)]
    if not training:
        params += [rng.standard_normal(6), rng.random(6)]
    return [x, *(p.astype(dtype) for p in params)]


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_batch_norm(training: bool, dtype: str) -> None:
    attrs = {"epsilon": 1e-3, "is_training": training}
    check_kernel("fused_batch_norm", attrs, _batch_norm_inputs(dtype, training))


def test_fused_batch_norm_of_many_rows() -> None:
    """More rows (300) than a block's threads."""
    x = rng.standard_normal((300, 2)) * 3 + 1
    check_kernel("fused_batch_norm", {"epsilon": 1e-5, "is_training": True},
                 [x, np.ones(2), np.zeros(2)])  # fmt: skip


@pytest.mark.parametrize("training", [True, False])
def test_fused_batch_norm_in_place(training: bool) -> None:
    """y may take over x's buffer."""
    attrs = {"epsilon": 1e-3, "is_training": training}
    inputs = _batch_norm_inputs("float64", training)
    expected = bind_kernel("fused_batch_norm", attrs)(*inputs)
    types = [(str(a.dtype), a.shape) for a in inputs]
    outs = [(str(e.dtype), e.shape) for e in expected]
    bound = get_kernel("fused_batch_norm", "cuda")(attrs, types, outs)
    stream = cuda.stream()
    ins = [cuda.to_device(a, stream=stream) for a in inputs]
    stats = [cuda.device_array(shape, dtype, stream=stream) for dtype, shape in outs[1:]]
    scratch = [cuda.device_array(shape, dtype, stream=stream) for dtype, shape in bound.scratch]
    bound.launch(ins, [ins[0], *stats], scratch, stream)
    got = [a.copy_to_host(stream=stream) for a in [ins[0], *stats]]
    stream.synchronize()
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-12)
