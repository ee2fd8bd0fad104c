"""The timing loop shared by every peer: warm-up calls, then timed calls, within a budget."""

from __future__ import annotations

import time
from collections.abc import Callable

MIN_SAMPLES = 3
#: Warm-up lasts this long at least: the thread pools of the library timed before (OpenBLAS,
#: OpenMP, ONNX Runtime's) spin for a while after their last call and compete for the cores.
SETTLE_S = 0.25


def measure(fn: Callable[[], object], warmup: int, repeat: int, budget_s: float) -> list[float]:
    """Milliseconds of `repeat` calls of `fn` after at least `warmup` untimed ones (and
    SETTLE_S seconds). Slow functions stop early: warm-up after half the budget (one call at
    least), timing after the budget once MIN_SAMPLES calls are in."""
    start, calls = time.perf_counter(), 0
    while calls < warmup or time.perf_counter() - start < SETTLE_S:
        fn()
        calls += 1
        if time.perf_counter() - start > budget_s / 2:
            break
    samples: list[float] = []
    start = time.perf_counter()
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
        if len(samples) >= MIN_SAMPLES and time.perf_counter() - start > budget_s:
            break
    return samples
