"""Whether the CUDA backend can run here, and what to do when it cannot.

The backend needs the numba-cuda package (the maintained CUDA target of Numba; the extra
`graphnet[cuda]`) and either an NVIDIA GPU with its driver or Numba's CUDA simulator
(NUMBA_ENABLE_CUDASIM=1: the kernels run as Python on the CPU, for tests on tiny shapes).
"""

from __future__ import annotations

import importlib.util
import os

from graphnet.backends.registry import BackendError

SIMULATOR_ENV = "NUMBA_ENABLE_CUDASIM"


def simulated() -> bool:
    """Whether numba.cuda runs on its simulator in this process."""
    return os.environ.get(SIMULATOR_ENV, "0") not in ("", "0")


def require_cuda() -> None:
    """Raises BackendError saying what is missing and how to fix it, unless CUDA kernels can
    run here."""
    if importlib.util.find_spec("numba_cuda") is None:
        raise BackendError(
            "backend 'cuda' needs the numba-cuda package, which is not installed: "
            "pip install 'graphnet[cuda]'"
        )
    from numba import cuda

    if not cuda.is_available():
        raise BackendError(
            "backend 'cuda' found no usable NVIDIA GPU (numba.cuda.is_available() is False: no "
            "GPU, or no driver). Use backend='cpu', or set NUMBA_ENABLE_CUDASIM=1 before "
            "starting Python to run the CUDA kernels on Numba's (slow) simulator"
        )
