"""gn.plot: training curves as PNG files (matplotlib, an optional extra: graphnet[plots]).

    history(history, path)        loss and metric curves per epoch, training and validation
    update_ratios(logger, path)   per layer, the update-to-weight ratio per epoch (log scale)

Figures are drawn with matplotlib's Agg canvas directly, so the user's pyplot backend and
state are left alone; each file is written whole or not at all.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

from graphnet.ir import GraphnetError


class MissingDependencyError(GraphnetError, ImportError):
    """An optional dependency is not installed."""


def _figure(rows: int, cols: int, size: tuple[float, float]) -> tuple[Any, list[Any]]:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingDependencyError(
            "gn.plot needs matplotlib, an optional extra: pip install graphnet[plots]"
        ) from None
    figure = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, cols, squeeze=False).ravel().tolist()
    return figure, axes


def _save(figure: Any, path: str | os.PathLike) -> str:
    """Writes the figure as a PNG through a temporary file moved into place."""
    target = os.fspath(path)
    directory = os.path.dirname(target) or "."
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".plot-", suffix=".png")
    try:
        with os.fdopen(fd, "wb") as f:
            figure.savefig(f, format="png")
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return target


def _history_dict(history: Any) -> dict[str, list[float]]:
    values = getattr(history, "history", history)
    if not isinstance(values, Mapping) or not values:
        raise ValueError(
            "gn.plot.history: expected a History (from model.fit) or a dict of per-epoch "
            f"lists, got {type(history).__name__}"
        )
    return {str(k): [float(v) for v in vs] for k, vs in values.items()}


def history(history: Any, path: str | os.PathLike, log_scale: bool = False) -> str:
    """One panel per quantity (loss, then each metric) with its training curve and, when
    logged, its validation curve ('val_' + name), against the epoch; saved as a PNG at `path`.
    `log_scale` puts the values on a log axis. Returns the path."""
    values = _history_dict(history)
    names = [k for k in values if not k.startswith("val_")]
    names += [k[4:] for k in values if k.startswith("val_") and k[4:] not in names]
    epochs = list(getattr(history, "epoch", None) or range(len(next(iter(values.values())))))
    figure, axes = _figure(1, len(names), (4.5 * len(names), 3.5))
    for ax, name in zip(axes, names, strict=True):
        for key, label, style in ((name, "training", "-o"), (f"val_{name}", "validation", "--s")):
            if key in values:
                series = values[key]
                ax.plot(
                    [e + 1 for e in epochs[: len(series)]], series, style, label=label, markersize=3
                )
        ax.set_title(name)
        ax.set_xlabel("epoch")
        if log_scale:
            ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend()
    return _save(figure, path)


def update_ratios(
    logger_or_dict: Any,
    path: str | os.PathLike,
    target: float = 1e-3,
    epochs: Sequence[int] | None = None,
) -> str:
    """The update-to-weight ratio ||lr * grad|| / ||W|| per layer against the epoch, on a log
    axis with a dashed line at `target` (1e-3, the usual rule of thumb). Takes an
    UpdateRatioLogger or a dict {layer name: [ratio per epoch]}; saved as a PNG at `path`."""
    ratios = getattr(logger_or_dict, "ratios", logger_or_dict)
    if not isinstance(ratios, Mapping) or not ratios:
        raise ValueError(
            "gn.plot.update_ratios: expected an UpdateRatioLogger that saw at least one epoch, "
            f"or a dict of per-layer lists, got {type(logger_or_dict).__name__}"
        )
    logged_epochs = epochs or getattr(logger_or_dict, "epochs", None)
    figure, (ax,) = _figure(1, 1, (6.0, 4.0))
    for name, series in ratios.items():
        xs = [e + 1 for e in logged_epochs] if logged_epochs else range(1, len(series) + 1)
        ax.plot(list(xs)[: len(series)], [float(v) for v in series], "-o", label=name, markersize=3)
    ax.axhline(target, color="gray", linestyle="--", linewidth=1, label=f"{target:g}")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("||lr * grad|| / ||W||")
    ax.set_title("update / weight ratio per layer")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small")
    return _save(figure, path)


__all__ = ["MissingDependencyError", "history", "update_ratios"]
