"""The NumPy reference backend: one small function per op, the ground truth for the others."""

from graphnet.backends.reference import array, control, conv, math, nn, state  # noqa: F401  (kernels)
from graphnet.backends.reference.executor import ReferenceBackend

BACKEND = ReferenceBackend()
