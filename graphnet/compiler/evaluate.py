"""Evaluating one op on known inputs while compiling (constant folding).

The compiler sits below the backends and cannot import them; the reference backend registers
its evaluator here when it is imported (graphnet.backends imports it), a registry filled at
import time like the others.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from graphnet.ir import GraphnetError

Evaluator = Callable[[str, Mapping[str, Any], Sequence[np.ndarray]], tuple[np.ndarray, ...]]

_EVALUATORS: dict[str, Evaluator] = {}


def register_evaluator(backend: str, fn: Evaluator) -> None:
    if backend in _EVALUATORS:
        raise GraphnetError(f"constant evaluator of backend {backend!r} is registered twice")
    _EVALUATORS[backend] = fn


def evaluate(
    op: str, attrs: Mapping[str, Any], inputs: Sequence[np.ndarray]
) -> tuple[np.ndarray, ...]:
    """The outputs of `op` with `attrs` on `inputs`, computed by the reference kernels."""
    return _EVALUATORS["reference"](op, attrs, inputs)
