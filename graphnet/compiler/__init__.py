"""The compiler: from a graph and what a run needs to an optimized Plan."""

from graphnet.compiler import passes as passes
from graphnet.compiler.lowering import lower as lower, prune as prune
from graphnet.compiler.pipeline import (
    PASSES as PASSES,
    PIPELINES as PIPELINES,
    PassContext as PassContext,
    compile as compile,  # noqa: A004 - gn.compiler.compile
    explain as explain,
    register_pass as register_pass,
    register_plan_pass as register_plan_pass,
    run_passes as run_passes,
)
from graphnet.compiler.plan import Buffer as Buffer, Plan as Plan, Step as Step
from graphnet.compiler.program import extract as extract
from graphnet.compiler.verify import verify as verify
