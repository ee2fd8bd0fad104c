"""gn.keras.utils: set_random_seed and to_categorical."""

from __future__ import annotations

from typing import Any

import numpy as np

from graphnet.keras import backend


def set_random_seed(seed: int) -> None:
    """Seeds Python's `random`, NumPy's global generator (fit's shuffling) and the graph of
    every model built afterwards (initializers, dropout), as Keras' set_random_seed does."""
    backend.set_seed(seed)


def to_categorical(y: Any, num_classes: int | None = None, dtype: str = "float32") -> np.ndarray:
    """Class indices (any shape; a trailing axis of 1 is dropped) as one-hot rows."""
    labels = np.asarray(y, dtype="int64")
    shape = labels.shape
    if shape and shape[-1] == 1 and len(shape) > 1:
        shape = shape[:-1]
    labels = labels.ravel()
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    result = np.zeros((labels.size, num_classes), dtype=dtype)
    result[np.arange(labels.size), labels] = 1
    return result.reshape((*shape, num_classes))


__all__ = ["set_random_seed", "to_categorical"]
