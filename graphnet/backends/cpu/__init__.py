"""The Numba CPU backend: destination-passing njit kernels per op family, generated kernels
for elementwise trees and epilogues, and whole-plan compilation (see cpu.executable).

Numba's cache directory is set before any kernel module is imported (cpu.cache).
"""

from graphnet.backends.cpu.cache import configure_numba

configure_numba()

from graphnet.backends.cpu import (  # noqa: E402,F401  (importing registers the kernels)
    array,
    conv,
    elementwise,
    fused,
    math,
    nn,
    state,
)
from graphnet.backends.cpu.executable import CpuBackend  # noqa: E402

BACKEND = CpuBackend()
