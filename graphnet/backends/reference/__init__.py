"""The NumPy reference backend: one small function per op, the ground truth for the others."""

from graphnet.backends.reference import (  # noqa: F401  (importing registers the kernels)
    array,
    control,
    conv,
    fused,
    math,
    nn,
    state,
)
from graphnet.backends.reference.executor import ReferenceBackend

BACKEND = ReferenceBackend()
