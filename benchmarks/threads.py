"""The thread count of every library in the benchmarks: BENCH_THREADS, default 2.

`configure()` must run before NumPy, Numba or a framework is imported: their thread pools read
the environment variables it sets when they load."""

from __future__ import annotations

import os

ENV = "BENCH_THREADS"
VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "NUMBA_NUM_THREADS")  # fmt: skip


def configure() -> int:
    """Sets the thread variables of the BLAS, OpenMP and Numba pools; returns the count."""
    threads = int(os.environ.get(ENV, "2"))
    for name in VARIABLES:
        os.environ[name] = str(threads)
    return threads
