"""The CUDA convolutions (im2col + tiled GEMM, col2im gather, direct depthwise kernels) against
the reference kernels: every padding mode, stride and dilation 2, channel multiplier 2, both
float dtypes, every epilogue activation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from graphnet.backends.cuda import conv
from graphnet.backends.reference.executor import bind_kernel
from graphnet.backends.registry import BackendError
from tests.backends.cuda.harness import check_kernel, run_cuda

RNG = np.random.default_rng(1)

#: (strides, padding, dilations) cases.
GEOMETRIES = [
    ((1, 1), "SAME", (1, 1)),
    ((1, 1), "VALID", (1, 1)),
    ((2, 2), "SAME", (1, 1)),
    ((2, 1), "VALID", (1, 2)),
    ((1, 1), "SAME", (2, 2)),
    ((2, 2), ((1, 0), (2, 1)), (1, 1)),
]
GEOMETRY_IDS = ["same", "valid", "stride2-same", "stride21-dil12", "dilation2", "explicit"]
ACTIVATIONS = [None, "relu", "relu6", "leaky_relu", "elu", "sigmoid", "tanh"]


def _random(shape: tuple[int, ...], dtype: str) -> np.ndarray:
    return RNG.standard_normal(shape).astype(dtype)


def _attrs(geometry: tuple[Any, ...], **extra: Any) -> dict[str, Any]:
    strides, padding, dilations = geometry
    return {"strides": strides, "padding": padding, "dilations": dilations, **extra}


def _check_family(op: str, x: np.ndarray, w: np.ndarray, attrs: dict[str, Any]) -> None:
    """op (conv2d or depthwise_conv2d) and its two backprops on x, w."""
    dtype = str(x.dtype)
    check_kernel(op, attrs, [x, w])
    y = bind_kernel(op, attrs)(x, w)
    dy = _random(y.shape, dtype)
    x_sizes = np.array(x.shape, np.int32)
    w_sizes = np.array(w.shape, np.int32)
    check_kernel(f"{op}_backprop_input", attrs, [x_sizes, w, dy])
    check_kernel(f"{op}_backprop_filter", attrs, [x, w_sizes, dy])


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=GEOMETRY_IDS)
def test_conv2d(geometry: tuple[Any, ...]) -> None:
    x = _random((2, 5, 6, 3), "float64")
    w = _random((3, 2, 3, 17), "float64")  # depth 18 and 17 channels: past one tile
    _check_family("conv2d", x, w, _attrs(geometry))


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=GEOMETRY_IDS)
def test_depthwise_conv2d(geometry: tuple[Any, ...]) -> None:
    x = _random((2, 5, 6, 2), "float64")
    w = _random((3, 2, 2, 2), "float64")
    _check_family("depthwise_conv2d", x, w, _attrs(geometry))


@pytest.mark.parametrize("op", ["conv2d", "depthwise_conv2d"])
def test_float32(op: str) -> None:
    x = _random((1, 4, 5, 2), "float32")
    w = _random((2, 3, 2, 3), "float32")
    _check_family(op, x, w, _attrs(GEOMETRIES[2]))


@pytest.mark.parametrize("op", ["conv2d", "depthwise_conv2d"])
def test_image_chunks(op: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """im2col in chunks of one image: the filter gradient sums over them."""
    monkeypatch.setattr(conv, "COL_BYTES", 1)
    x = _random((3, 4, 4, 2), "float64")
    w = _random((3, 3, 2, 2), "float64")
    _check_family(op, x, w, _attrs(GEOMETRIES[0]))


def test_empty_batch() -> None:
    """(Not depthwise: its reference kernel cannot reshape an empty batch.)"""
    x = np.zeros((0, 4, 4, 2))
    w = _random((3, 3, 2, 1), "float64")
    _check_family("conv2d", x, w, _attrs(GEOMETRIES[0]))


@pytest.mark.parametrize("op", ["fused_conv2d", "fused_depthwise_conv2d"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_fused_epilogue(op: str, dtype: str, activation: str | None) -> None:
    x = _random((1, 4, 5, 2), dtype)
    w = _random((2, 2, 2, 2), dtype)
    bias = _random((4 if op == "fused_depthwise_conv2d" else 2,), dtype)
    attrs = _attrs(GEOMETRIES[0], bias=True, activation=activation, alpha=0.2)
    check_kernel(op, attrs, [x, w, bias])


@pytest.mark.parametrize("op", ["fused_conv2d", "fused_depthwise_conv2d"])
def test_fused_without_bias(op: str) -> None:
    x, w = _random((1, 3, 3, 2), "float32"), _random((2, 2, 2, 1), "float32")
    check_kernel(op, _attrs(GEOMETRIES[1], bias=False, activation="relu", alpha=0.0), [x, w])


def test_rejects_float16() -> None:
    x, w = np.zeros((1, 3, 3, 1), np.float16), np.zeros((1, 1, 1, 1), np.float16)
    with pytest.raises(BackendError):
        run_cuda("depthwise_conv2d", _attrs(GEOMETRIES[1]), [x, w], [("float16", (1, 3, 3, 1))])
