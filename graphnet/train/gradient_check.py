"""Gradient checking: analytic gradients from gn.gradients against central finite differences."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from graphnet.autodiff import gradients
from graphnet.ir import Tensor
from graphnet.ops.core import convert_to_tensor


def numeric_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6
) -> np.ndarray:
    """d f / d x by central differences, one element at a time (x is not changed)."""
    x = np.array(x, dtype=np.float64, copy=True)
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = f(x)
        flat[i] = old - eps
        down = f(x)
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return grad


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """||a - n|| / max(||a||, ||n||); 0 when both are zero."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    scale = max(np.linalg.norm(a), np.linalg.norm(n))
    return 0.0 if scale == 0 else float(np.linalg.norm(a - n) / scale)


def check_gradients(
    loss: Any,
    xs: Sequence[Any],
    feed_dict: Mapping[Any, Any] | None = None,
    session: Any = None,
    eps: float = 1e-6,
) -> dict[str, float]:
    """Relative error between gn.gradients and finite differences for each x (placeholders or
    variables), keyed by name. Use float64 graphs: float32 cannot resolve small differences."""
    from graphnet.ir.graph import get_default_session

    session = session or get_default_session()
    loss_t = convert_to_tensor(loss)
    x_ts: list[Tensor] = [convert_to_tensor(x) for x in xs]
    grads = gradients(loss_t, x_ts)
    feed = {session.graph.as_graph_element(k): v for k, v in (feed_dict or {}).items()}
    errors: dict[str, float] = {}
    for x, g in zip(x_ts, grads, strict=True):
        base = np.asarray(feed[x] if x in feed else session.run(x), dtype=np.float64)
        analytic = np.zeros_like(base) if g is None else session.run(g, feed)

        def loss_at(value: np.ndarray, x: Tensor = x) -> float:
            return float(session.run(loss_t, {**feed, x: value}))

        errors[x.name] = relative_error(analytic, numeric_gradient(loss_at, base, eps))
    return errors
