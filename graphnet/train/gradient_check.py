"""Gradient checking: analytic gradients from gn.gradients against central finite differences.

Two interfaces: the textbooks' check of a scalar loss (`check_gradients`, relative error per
variable, optionally on a random sample of elements as cs231n's grad_check_sparse), and TF1's
tf.test.compute_gradient / compute_gradient_error (full Jacobians of y with respect to x).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from graphnet.autodiff import gradients
from graphnet.ir import GraphError, ShapeError, Tensor
from graphnet.ir.graph import get_default_session
from graphnet.ir.types import format_shape, shape_compatible
from graphnet.ops.core import convert_to_tensor
from graphnet.ops.state import placeholder


def _central_differences(
    f: Callable[[np.ndarray], Any], x: np.ndarray, eps: float, indices: Sequence[int]
) -> np.ndarray:
    """(f(x + eps e_i) - f(x - eps e_i)) / (2 eps) for each flat index i, stacked on axis 0;
    x is perturbed in place and restored."""
    flat = x.reshape(-1)
    rows = []
    for i in indices:
        old = flat[i]
        flat[i] = old + eps
        up = np.asarray(f(x), dtype=np.float64)
        flat[i] = old - eps
        down = np.asarray(f(x), dtype=np.float64)
        flat[i] = old
        rows.append((up - down) / (2 * eps))
    return np.array(rows, dtype=np.float64)


def numeric_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6
) -> np.ndarray:
    """d f / d x by central differences, one element at a time (x is not changed)."""
    x = np.array(x, dtype=np.float64, copy=True)
    return _central_differences(f, x, eps, range(x.size)).reshape(x.shape)


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """||a - n|| / max(||a||, ||n||); 0 when both are zero."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    scale = max(np.linalg.norm(a), np.linalg.norm(n))
    return 0.0 if scale == 0 else float(np.linalg.norm(a - n) / scale)


def _session(session: Any) -> Any:
    session = session or get_default_session()
    if session is None:
        raise GraphError("gradient check: no default session; use `with gn.Session():`")
    return session


# -- the textbooks' check of a scalar loss ----------------------------------------------------


@dataclass(frozen=True)
class GradientCheck:
    """The check of one tensor: the elements compared (flat indices; all of them when
    `indices` is None) and the analytic and numeric gradients there (flat)."""

    name: str
    indices: np.ndarray | None
    analytic: np.ndarray
    numeric: np.ndarray

    @property
    def relative_error(self) -> float:
        """||a - n|| / max(||a||, ||n||) over the checked elements."""
        return relative_error(self.analytic, self.numeric)

    @property
    def max_abs_error(self) -> float:
        diff = np.abs(self.analytic - self.numeric)
        return float(diff.max()) if diff.size else 0.0

    @property
    def max_elementwise_error(self) -> float:
        """The worst |a - n| / max(|a|, |n|) over the checked elements (cs231n's measure)."""
        scale = np.maximum(np.abs(self.analytic), np.abs(self.numeric))
        diff = np.abs(self.analytic - self.numeric)
        ratios = np.divide(diff, scale, out=np.zeros_like(diff), where=scale > 0)
        return float(ratios.max()) if ratios.size else 0.0


class GradientCheckReport(Mapping[str, float]):
    """The result of `check_gradients`: a mapping tensor name -> relative error, with the
    per-tensor details in `checks` and a table as its str()."""

    def __init__(self, checks: Sequence[GradientCheck]) -> None:
        self.checks: dict[str, GradientCheck] = {c.name: c for c in checks}

    def __getitem__(self, name: str) -> float:
        return self.checks[name].relative_error

    def __iter__(self) -> Iterator[str]:
        return iter(self.checks)

    def __len__(self) -> int:
        return len(self.checks)

    @property
    def max_error(self) -> float:
        """The largest relative error over all checked tensors."""
        return max(self.values(), default=0.0)

    def passed(self, tolerance: float = 1e-6) -> bool:
        """Whether every relative error is at most `tolerance`."""
        return self.max_error <= tolerance

    def __str__(self) -> str:
        width = max((len(n) for n in self.checks), default=6)
        lines = [f"{'tensor':<{width}}  {'checked':>8}  {'rel. error':>10}  {'max |a-n|':>10}"]
        lines += [
            f"{c.name:<{width}}  {c.analytic.size:>8}  {c.relative_error:>10.2e}  "
            f"{c.max_abs_error:>10.2e}"
            for c in self.checks.values()
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"GradientCheckReport({dict(self)!r})"


def check_gradients(
    loss: Any,
    xs: Sequence[Any],
    feed_dict: Mapping[Any, Any] | None = None,
    session: Any = None,
    eps: float = 1e-6,
    num_checks: int | None = None,
    seed: int | None = 0,
) -> GradientCheckReport:
    """Compares gn.gradients of the scalar `loss` with central finite differences for each x
    (placeholders, variables or other feedable tensors) and reports the relative error per x,
    keyed by tensor name. With `num_checks`, only that many random elements of each x (drawn
    with `seed`) are checked, as for big tensors. Use float64 graphs: float32 cannot resolve
    small differences."""
    session = _session(session)
    loss_t = convert_to_tensor(loss)
    x_ts: list[Tensor] = [convert_to_tensor(x) for x in xs]
    grads = gradients(loss_t, x_ts)
    feed = {session.graph.as_graph_element(k): v for k, v in (feed_dict or {}).items()}
    rng = np.random.default_rng(seed)
    checks = []
    for x, g in zip(x_ts, grads, strict=True):
        base = np.array(feed[x] if x in feed else session.run(x), dtype=np.float64)
        analytic = np.zeros_like(base) if g is None else np.asarray(session.run(g, feed))
        if num_checks is None or num_checks >= base.size:
            indices = None
        else:
            indices = np.sort(rng.choice(base.size, size=num_checks, replace=False))

        def loss_at(value: np.ndarray, x: Tensor = x) -> float:
            return float(session.run(loss_t, {**feed, x: value}))

        flat = analytic.reshape(-1)
        if indices is None:
            numeric = _central_differences(loss_at, base, eps, range(base.size))
        else:
            numeric, flat = _central_differences(loss_at, base, eps, indices), flat[indices]
        checks.append(GradientCheck(x.name, indices, flat, numeric))
    return GradientCheckReport(checks)


# -- TF1's tf.test.compute_gradient -------------------------------------------------------------


def _x_data(x: Tensor, x_shape: Sequence[int], init: Any) -> np.ndarray:
    """The point at which to differentiate: `init`, else uniform random in [0, 1) as TF's."""
    x_shape = tuple(int(d) for d in x_shape)
    if not shape_compatible(x.shape, x_shape):
        raise ShapeError(
            f"x_shape {format_shape(x_shape)} does not fit {x.name}, which is "
            f"{format_shape(x.shape)}"
        )
    data = np.array(
        np.random.random_sample(x_shape) if init is None else init, dtype=x.dtype.np, copy=True
    )
    if data.shape != x_shape:
        raise ShapeError(
            f"x_init_value for {x.name}: expected shape {format_shape(x_shape)}, "
            f"given {format_shape(data.shape)}"
        )
    return data


def _jacobians(
    x: Tensor,
    dx: Tensor | None,
    y: Tensor,
    dy: Tensor,
    delta: float,
    feed: Mapping[Tensor, Any],
    session: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """(theoretical, numerical) Jacobians of y with respect to x at the point `feed`, each of
    shape [x size, y size]."""
    x_data = np.array(feed[x], copy=True)
    y_shape = tuple(dy.shape)
    x_size, y_size = x_data.size, int(np.prod(y_shape))
    theoretical = np.zeros((x_size, y_size), dtype=x.dtype.np)
    if dx is not None:
        one_hot = np.zeros(y_size, dtype=y.dtype.np)
        for col in range(y_size):
            one_hot[col] = 1
            grad = session.run(dx, {**feed, dy: one_hot.reshape(y_shape)})
            theoretical[:, col] = np.asarray(grad).reshape(-1)
            one_hot[col] = 0

    def y_at(value: np.ndarray) -> np.ndarray:
        out = np.asarray(session.run(y, {**feed, x: value}))
        if out.shape != y_shape:
            raise ShapeError(
                f"y_shape {format_shape(y_shape)} does not fit {y.name}, which is "
                f"{format_shape(out.shape)} here"
            )
        return out.reshape(-1)

    numeric = _central_differences(y_at, x_data, delta, range(x_size))
    return theoretical, numeric.reshape(x_size, y_size).astype(x.dtype.np)


def compute_gradient(
    x: Any,
    x_shape: Sequence[int] | Sequence[Sequence[int]],
    y: Any,
    y_shape: Sequence[int],
    x_init_value: Any = None,
    delta: float = 1e-3,
    init_targets: Sequence[Any] | None = None,
    extra_feed_dict: Mapping[Any, Any] | None = None,
) -> Any:
    """The theoretical and numerical Jacobians of y with respect to x (TF1's
    tf.test.compute_gradient), each of shape [x size, y size], in the default session.

    The theoretical one comes from gn.gradients with one-hot grad_ys, one element of y at a
    time; the numerical one from central differences with step `delta`. x (with x_shape and
    x_init_value) may be a list: the result is then a list of pairs, and every x is fed its
    initial value throughout. x_init_value defaults to uniform random values in [0, 1) drawn
    from NumPy's global generator; `init_targets` are run first; `extra_feed_dict` fixes
    other tensors."""
    session = _session(None)
    if isinstance(x, list):
        xs, x_shapes = x, list(x_shape)
        inits = [None] * len(x) if x_init_value is None else list(x_init_value)
    else:
        xs, x_shapes, inits = [x], [x_shape], [x_init_value]
    if not len(xs) == len(x_shapes) == len(inits):
        raise ValueError(
            f"compute_gradient: {len(xs)} x, {len(x_shapes)} x_shape, {len(inits)} x_init_value"
        )
    for target in init_targets or ():
        session.run(target)
    x_ts = [convert_to_tensor(t) for t in xs]
    y_t = convert_to_tensor(y)
    if not shape_compatible(y_t.shape, y_shape):
        raise ShapeError(
            f"y_shape {format_shape(tuple(y_shape))} does not fit {y_t.name}, which is "
            f"{format_shape(y_t.shape)}"
        )
    feed = {session.graph.as_graph_element(k): v for k, v in (extra_feed_dict or {}).items()}
    for xt, shape, init in zip(x_ts, x_shapes, inits, strict=True):
        feed[xt] = _x_data(xt, shape, init)
    with y_t.graph.as_default():
        dy = placeholder(y_t.dtype, y_shape, name="grad_ys")
    dxs = gradients(y_t, x_ts, grad_ys=dy)
    results = [
        _jacobians(xt, dx, y_t, dy, delta, feed, session) for xt, dx in zip(x_ts, dxs, strict=True)
    ]
    return results if isinstance(x, list) else results[0]


def compute_gradient_error(
    x: Any,
    x_shape: Sequence[int] | Sequence[Sequence[int]],
    y: Any,
    y_shape: Sequence[int],
    x_init_value: Any = None,
    delta: float = 1e-3,
    init_targets: Sequence[Any] | None = None,
    extra_feed_dict: Mapping[Any, Any] | None = None,
) -> float:
    """The largest absolute difference between the theoretical and numerical Jacobians of
    compute_gradient (over all x when x is a list)."""
    result = compute_gradient(
        x, x_shape, y, y_shape, x_init_value, delta, init_targets, extra_feed_dict
    )
    pairs = result if isinstance(result, list) else [result]
    return max((float(np.abs(t - n).max()) for t, n in pairs if t.size), default=0.0)
