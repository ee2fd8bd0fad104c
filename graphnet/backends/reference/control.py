"""Reference kernels of the control and random ops."""

from __future__ import annotations

import numpy as np

from graphnet.backends.registry import kernel


@kernel("identity")
def identity(x: np.ndarray) -> np.ndarray:
    return x


@kernel("stop_gradient")
def stop_gradient(x: np.ndarray) -> np.ndarray:
    return x


@kernel("random_uniform")
def random_uniform(shape: np.ndarray, dtype: str, rng: np.random.Generator) -> np.ndarray:
    return rng.random(tuple(int(d) for d in shape)).astype(dtype)


@kernel("random_normal")
def random_normal(shape: np.ndarray, dtype: str, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(tuple(int(d) for d in shape)).astype(dtype)


@kernel("truncated_normal")
def truncated_normal(shape: np.ndarray, dtype: str, rng: np.random.Generator) -> np.ndarray:
    out = rng.standard_normal(tuple(int(d) for d in shape))
    outside = np.abs(out) > 2.0
    while outside.any():
        out[outside] = rng.standard_normal(int(outside.sum()))
        outside = np.abs(out) > 2.0
    return out.astype(dtype)
