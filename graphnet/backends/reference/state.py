"""Reference kernels of the state ops (the executor stores what assignments return)."""

from __future__ import annotations

import numpy as np

from graphnet.backends.registry import kernel


@kernel("placeholder_with_default")
def placeholder_with_default(default: np.ndarray) -> np.ndarray:
    return default


@kernel("assign")
def assign(ref: np.ndarray | None, value: np.ndarray) -> np.ndarray:
    return value.copy()


@kernel("assign_add")
def assign_add(ref: np.ndarray, value: np.ndarray) -> np.ndarray:
    return ref + value


@kernel("assign_sub")
def assign_sub(ref: np.ndarray, value: np.ndarray) -> np.ndarray:
    return ref - value
