"""Runs one CUDA kernel directly (bind, launch on a stream, copy back) and compares it with the
reference kernel: for kernel edge cases (tile borders, odd sizes) that the op tests' shapes do
not reach. Under NUMBA_ENABLE_CUDASIM=1 (set by tests/conftest.py without a GPU) the kernels
run on Numba's simulator: keep shapes tiny."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from graphnet.backends.reference.executor import bind_kernel

cuda = pytest.importorskip("numba.cuda")


def run_cuda(
    op: str,
    attrs: Mapping[str, Any],
    inputs: Sequence[np.ndarray],
    out_types: Sequence[tuple[str, tuple[int, ...]]],
) -> list[np.ndarray]:
    """The outputs of op's CUDA kernel on `inputs` (out_types: (dtype, shape) per output)."""
    import graphnet.backends.cuda  # noqa: F401  (registers the kernels)
    from graphnet.backends.registry import get_kernel

    in_types = [(str(a.dtype), tuple(a.shape)) for a in inputs]
    bound = get_kernel(op, "cuda")(attrs, in_types, list(out_types))
    stream = cuda.stream()
    ins = [cuda.to_device(np.ascontiguousarray(a), stream=stream) for a in inputs]
    outs = [cuda.device_array(shape, dtype, stream=stream) for dtype, shape in out_types]
    scratch = [cuda.device_array(shape, dtype, stream=stream) for dtype, shape in bound.scratch]
    bound.launch(ins, outs, scratch, stream)
    result = [o.copy_to_host(stream=stream) for o in outs]
    stream.synchronize()
    return result


def check_kernel(
    op: str,
    attrs: Mapping[str, Any],
    inputs: Sequence[np.ndarray],
    *,
    rtol: float = 1e-5,
    atol: float = 1e-6,
) -> None:
    """op's CUDA kernel against its reference kernel on `inputs` (float64: rtol 1e-10)."""
    expected = bind_kernel(op, attrs)(*inputs)
    expected = list(expected) if isinstance(expected, tuple) else [expected]
    expected = [np.asarray(e) for e in expected]
    got = run_cuda(op, attrs, inputs, [(str(e.dtype), e.shape) for e in expected])
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        tol = (1e-10, 1e-12) if e.dtype == np.float64 else (rtol, atol)
        np.testing.assert_allclose(g, e, rtol=tol[0], atol=tol[1], err_msg=f"{op} output {i}")
