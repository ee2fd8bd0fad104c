"""Reference kernels of the nn ops."""

from __future__ import annotations

import numpy as np

from graphnet.backends.registry import kernel


@kernel("relu")
def relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0)


@kernel("relu6")
def relu6(x: np.ndarray) -> np.ndarray:
    return np.minimum(np.maximum(x, 0), 6)


@kernel("leaky_relu")
def leaky_relu(x: np.ndarray, alpha: float) -> np.ndarray:
    return np.where(x > 0, x, alpha * x)


@kernel("elu")
def elu(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


@kernel("bias_add")
def bias_add(value: np.ndarray, bias: np.ndarray) -> np.ndarray:
    return value + bias


@kernel("softmax")
def softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


@kernel("log_softmax")
def log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


@kernel("fused_batch_norm")
def fused_batch_norm(
    x: np.ndarray, scale: np.ndarray, offset: np.ndarray, *stats: np.ndarray, epsilon: float,
    is_training: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Training: batch statistics, the variance returned Bessel-corrected (as TF)."""
    if is_training:
        axes = tuple(range(x.ndim - 1))
        mean, variance = x.mean(axis=axes), x.var(axis=axes)
        n = x.size // max(x.shape[-1], 1)
        reported = variance * n / max(n - 1, 1)
    else:
        mean, variance = stats
        reported = variance
    y = (x - mean) / np.sqrt(variance + epsilon) * scale + offset
    return y, mean, reported
