"""The CUDA tiled GEMM (matmul, fused_matmul) against the reference kernels, on shapes that
cross the 16-wide tile borders."""

from __future__ import annotations

import numpy as np
import pytest

from graphnet.backends.registry import BackendError
from tests.backends.cuda.harness import check_kernel, run_cuda

RNG = np.random.default_rng(0)


def _operand(shape: tuple[int, ...], transposed: bool, dtype: str) -> np.ndarray:
    """A random operand of logical shape `shape`, stored with its last two axes swapped when
    `transposed`."""
    if transposed:
        shape = (*shape[:-2], shape[-1], shape[-2])
    if np.dtype(dtype).kind == "i":
        return RNG.integers(-5, 5, shape).astype(dtype)
    return RNG.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_matmul_transposes(dtype: str, ta: bool, tb: bool) -> None:
    a = _operand((17, 5), ta, dtype)
    b = _operand((5, 33), tb, dtype)
    check_kernel("matmul", {"transpose_a": ta, "transpose_b": tb}, [a, b])


@pytest.mark.parametrize(
    ("a_shape", "b_shape"),
    [
        ((3, 17, 18), (18, 4)),  # b broadcast over a's batch
        ((2, 1, 5, 3), (4, 3, 17)),  # both broadcast
        ((4, 1), (1, 4)),  # outer product: empty batch, depth 1
        ((2, 3, 0), (2, 0, 5)),  # empty depth: zeros
        ((0, 3, 4), (4, 2)),  # no batches
    ],
)
def test_matmul_batch_broadcast(a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> None:
    a = _operand(a_shape, False, "float64")
    b = _operand(b_shape, False, "float64")
    check_kernel("matmul", {"transpose_a": False, "transpose_b": False}, [a, b])


def test_matmul_int32() -> None:
    a = _operand((2, 17, 20), False, "int32")
    b = _operand((20, 3), True, "int32")
    check_kernel("matmul", {"transpose_a": False, "transpose_b": True}, [a, b])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "activation", [None, "relu", "relu6", "leaky_relu", "elu", "sigmoid", "tanh"]
)
def test_fused_matmul_epilogue(dtype: str, activation: str | None) -> None:
    a = (4 * _operand((2, 17, 5), True, dtype)).astype(dtype)
    b = _operand((5, 18), False, dtype)
    bias = _operand((18,), False, dtype)
    attrs = {"transpose_a": True, "transpose_b": False, "bias": True,
             "activation": activation, "alpha": 0.2}  # fmt: skip
    check_kernel("fused_matmul", attrs, [a, b, bias])


def test_fused_matmul_without_bias() -> None:
    a, b = _operand((17, 3), False, "float32"), _operand((3, 2), False, "float32")
    attrs = {"transpose_a": False, "transpose_b": False, "bias": False,
             "activation": "relu", "alpha": 0.0}  # fmt: skip
    check_kernel("fused_matmul", attrs, [a, b])


def test_rejects_activation_of_ints() -> None:
    a = _operand((2, 2), False, "int32")
    attrs = {"transpose_a": False, "transpose_b": False, "bias": False,
             "activation": "tanh", "alpha": 0.0}  # fmt: skip
    with pytest.raises(BackendError):
        run_cuda("fused_matmul", attrs, [a, a], [("int32", (2, 2))])
