"""Backends: reference (NumPy ground truth), cpu (Numba), cuda (numba.cuda)."""

from graphnet.backends import reference as reference  # the compiler's constant evaluator
from graphnet.backends.registry import (
    BackendError as BackendError,
    get_backend as get_backend,
    get_kernel as get_kernel,
    kernel as kernel,
)
