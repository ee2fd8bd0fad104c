"""Keras' progress bar: `12/12 [==============================] - 0s 3ms/step - loss: 0.6931`.

On a terminal the bar is redrawn in place after every batch; elsewhere (a log file, captured
output) only the finished line of each epoch is written, so logs hold one line per epoch.
verbose=2 writes one line per epoch without the bar.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterable
from typing import Any

from graphnet.keras.backend import print_msg


def format_value(value: Any) -> str:
    """' %.4f', or ' %.4e' for magnitudes up to 1e-3, as Keras writes logged values."""
    if isinstance(value, str):
        return f" {value}"
    return f" {value:.4f}" if abs(value) > 1e-3 else f" {value:.4e}"


def format_duration(seconds: float) -> str:
    """The per-step time: '3s', '12ms' or '85us'."""
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms"
    return f"{seconds * 1e6:.0f}us"


class Progbar:
    """A progress bar over `target` steps; `update(current, values)` with the running values
    to show, `finalize=True` for the last update of an epoch."""

    def __init__(
        self,
        target: int,
        width: int = 30,
        verbose: int = 1,
        unit_name: str = "step",
        dynamic: bool | None = None,
    ) -> None:
        self.target = target
        self.width = width
        self.verbose = verbose
        self.unit_name = unit_name
        self.dynamic = _is_terminal() if dynamic is None else dynamic
        self._start = time.time()
        self._drawn_width = 0

    def update(
        self, current: int, values: Iterable[tuple[str, Any]] = (), finalize: bool = False
    ) -> None:
        if self.verbose == 0 or (not finalize and (self.verbose == 2 or not self.dynamic)):
            return
        elapsed = time.time() - self._start
        per_step = elapsed / current if current else 0.0
        info = "".join(f" - {name}:{format_value(value)}" for name, value in values)
        if self.verbose == 2:
            print_msg(f"{self._count(current)} - {elapsed:.0f}s{info}")
            return
        if finalize:
            timing = f" - {elapsed:.0f}s {format_duration(per_step)}/{self.unit_name}"
        else:
            timing = f" - ETA: {_eta(per_step * (self.target - current))}"
        line = f"{self._count(current)} {self._bar(current)}{timing}{info}"
        padding = " " * max(self._drawn_width - len(line), 0)
        self._drawn_width = len(line)
        prefix = "\r" if self.dynamic else ""
        print_msg(prefix + line + padding, line_break=finalize)

    def _count(self, current: int) -> str:
        digits = int(math.log10(self.target)) + 1 if self.target > 0 else 1
        return f"{current:{digits}d}/{self.target}"

    def _bar(self, current: int) -> str:
        done = int(self.width * current / self.target) if self.target else self.width
        bar = "=" * max(done - 1, 0)
        if done > 0:
            bar += ">" if current < self.target else "="
        return "[" + bar + "." * (self.width - done) + "]"


def _eta(seconds: float) -> str:
    if seconds > 3600:
        return f"{seconds // 3600:.0f}:{(seconds % 3600) // 60:02.0f}:{seconds % 60:02.0f}"
    if seconds > 60:
        return f"{seconds // 60:.0f}:{seconds % 60:02.0f}"
    return f"{seconds:.0f}s"


def _is_terminal() -> bool:
    return bool(getattr(sys.stdout, "isatty", lambda: False)())


__all__ = ["Progbar"]
