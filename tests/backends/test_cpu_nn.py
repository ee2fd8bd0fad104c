"""CPU (Numba) kernels of softmax, log_softmax and fused_batch_norm against the reference
kernels, step by step (the helper and its calling convention are test_cpu_conv's)."""

from __future__ import annotations

import numpy as np
import pytest

import graphnet as gn
import graphnet.backends.cpu.nn  # registers the kernels under test
from tests.backends.test_cpu_conv import DTYPES, check_steps, uniform

# (shape, axis): the last axis as -1 and as its index, and a middle one
SOFTMAX_CASES = {"rows": ((4, 10), -1), "last-index": ((2, 3, 5), 2), "middle": ((2, 3, 5), 1)}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", SOFTMAX_CASES)
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax(op: str, case: str, dtype: str) -> None:
    shape, axis = SOFTMAX_CASES[case]
    logits = uniform(shape, dtype, 1) * 30  # large enough to overflow exp unshifted
    check_steps(lambda x: [getattr(gn.nn, op)(x, axis=axis)], [logits], [op])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(2, 5, 3, 4), (6, 3)])
def test_fused_batch_norm_training(shape: tuple[int, ...], dtype: str) -> None:
    x = uniform(shape, dtype, 1) * 2 + 5  # a mean far from 0 tests the two-pass variance
    params = [uniform(shape[-1:], dtype, 2), uniform(shape[-1:], dtype, 3)]
    check_steps(
        lambda x, scale, offset: list(gn.nn.fused_batch_norm(x, scale, offset, epsilon=1e-3)),
        [x, *params],
        ["fused_batch_norm"],
    )


@pytest.mark.parametrize("dtype", DTYPES)
def test_fused_batch_norm_inference(dtype: str) -> None:
    shape = (2, 5, 3, 4)
    channels = shape[-1:]
    feeds = [uniform(shape, dtype, 1), uniform(channels, dtype, 2), uniform(channels, dtype, 3),
             uniform(channels, dtype, 4), np.abs(uniform(channels, dtype, 5)) + 0.5]  # fmt: skip

    def build(*ins: gn.Tensor) -> list[gn.Tensor]:
        return list(gn.nn.fused_batch_norm(*ins, is_training=False))

    check_steps(build, feeds, ["fused_batch_norm"])
