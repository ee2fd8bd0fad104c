"""The compiler passes, one module each; importing a module registers its pass."""

from graphnet.compiler.passes import (  # noqa: F401
    eliminate_common_subexpressions,
    eliminate_dead,
    fold_batchnorm,
    fold_constants,
    fuse,
    infer_shapes,
    plan_memory,
    schedule,
    simplify,
)
