"""Reference kernels of the fused ops: a small interpreter of fused_elementwise's expression
tree (format in graphnet.ops.fused) over the registered elementwise kernels, and the fused
conv/matmul as their base kernel followed by the epilogue."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from graphnet.backends.reference.conv import conv2d, depthwise_conv2d
from graphnet.backends.reference.math import matmul
from graphnet.backends.registry import get_kernel, kernel

BACKEND_NAME = "reference"


def evaluate_expr(expr: tuple, inputs: Sequence[np.ndarray]) -> np.ndarray:
    """The value of an expression tree over `inputs`, each op node by its reference kernel."""
    tag = expr[0]
    if tag == "in":
        return inputs[expr[1]]
    if tag == "const":
        return np.asarray(expr[1], dtype=expr[2])
    _, attrs, *operands = expr
    values = [evaluate_expr(e, inputs) for e in operands]
    return np.asarray(get_kernel(tag, BACKEND_NAME)(*values, **dict(attrs)))


@kernel("fused_elementwise")
def fused_elementwise(*inputs: np.ndarray, expr: tuple, dtype: str) -> np.ndarray:
    return evaluate_expr(expr, inputs).astype(dtype, copy=False)


def _epilogue(y: np.ndarray, bias_input: Sequence[np.ndarray], activation: str | None,
              alpha: float) -> np.ndarray:  # fmt: skip
    """y + the bias (when there is a bias input), then the activation's own kernel. (The attr
    `bias` is not bound: the kernels see whether the bias input is there.)"""
    if bias_input:
        y = y + bias_input[0]
    if activation is None:
        return y
    extra: dict[str, Any] = {"alpha": alpha} if activation == "leaky_relu" else {}
    return get_kernel(activation, BACKEND_NAME)(y, **extra)


@kernel("fused_conv2d")
def fused_conv2d(
    x: np.ndarray, w: np.ndarray, *bias_input: np.ndarray, strides: tuple, padding: Any,
    dilations: tuple, activation: str | None, alpha: float,
) -> np.ndarray:  # fmt: skip
    y = conv2d(x, w, strides=strides, padding=padding, dilations=dilations)
    return _epilogue(y, bias_input, activation, alpha)


@kernel("fused_depthwise_conv2d")
def fused_depthwise_conv2d(
    x: np.ndarray, w: np.ndarray, *bias_input: np.ndarray, strides: tuple, padding: Any,
    dilations: tuple, activation: str | None, alpha: float,
) -> np.ndarray:  # fmt: skip
    y = depthwise_conv2d(x, w, strides=strides, padding=padding, dilations=dilations)
    return _epilogue(y, bias_input, activation, alpha)


@kernel("fused_matmul")
def fused_matmul(
    a: np.ndarray, b: np.ndarray, *bias_input: np.ndarray, transpose_a: bool, transpose_b: bool,
    activation: str | None, alpha: float,
) -> np.ndarray:  # fmt: skip
    y = matmul(a, b, transpose_a=transpose_a, transpose_b=transpose_b)
    return _epilogue(y, bias_input, activation, alpha)
