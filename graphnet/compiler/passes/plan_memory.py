"""plan_memory: every temporary of a Plan placed into one arena (tinygrad's memory planner).

The placement itself is compiler.memory.place_buffers (the plan loader uses it too, to place
the buffers of a plan file specialized to its inputs' shapes): lifetimes from the step order
(run schedule first for a low peak), in-place reuse where a step's input dies, best-fit
regions at offsets aligned to compiler.memory.ALIGNMENT.
"""

from __future__ import annotations

from graphnet.compiler.memory import memory_report, place_buffers
from graphnet.compiler.pipeline import PassContext, register_plan_pass
from graphnet.compiler.plan import Plan


@register_plan_pass("plan_memory")
def plan_memory(plan: Plan, ctx: PassContext) -> Plan:
    """Arena offsets for every temporary of known size, with in-place reuse for elementwise
    steps (and OpDef.inplace pairs); sets Buffer.offset, Buffer.inplace and
    Plan.arena_size. Needs nothing before it; temporaries whose size is unknown (infer_shapes
    did not make it concrete) are left out and counted as `unplanned`."""
    placed = place_buffers(plan)
    report = memory_report(placed)
    ctx.count("arena_bytes", report.arena_bytes)
    ctx.count("naive_bytes", report.naive_bytes)
    ctx.count("inplace", report.inplace)
    ctx.count("unplanned", len(report.unplanned))
    return placed
