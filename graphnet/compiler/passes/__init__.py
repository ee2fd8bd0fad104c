"""The compiler passes, one module each; importing a module registers its pass."""

from graphnet.compiler.passes import (  # noqa: F401
    plan_memory,
    schedule,
)
