"""The compiler: from a graph and what a run needs to an optimized Plan.

Names are imported on first use: a plan loader needs compiler.plan and compiler.memory only.
"""

from graphnet.compiler.verify import verify as verify  # eager: its module has the same name
from graphnet.lazy import lazy_exports

_PIPELINE = "graphnet.compiler.pipeline"
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "passes": "graphnet.compiler.passes",
        "lower": "graphnet.compiler.lowering",
        "prune": "graphnet.compiler.lowering",
        "PASSES": _PIPELINE,
        "PIPELINES": _PIPELINE,
        "PassContext": _PIPELINE,
        "compile": _PIPELINE,
        "explain": _PIPELINE,
        "register_pass": _PIPELINE,
        "register_plan_pass": _PIPELINE,
        "run_passes": _PIPELINE,
        "Buffer": "graphnet.compiler.plan",
        "Plan": "graphnet.compiler.plan",
        "Step": "graphnet.compiler.plan",
        "extract": "graphnet.compiler.program",
    },
)
