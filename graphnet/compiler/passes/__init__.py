"""The compiler passes, one module each; importing a module registers its pass."""

from graphnet.compiler.passes import (  # noqa: F401
    fold_batchnorm,
    fuse,
    plan_memory,
    schedule,
)
