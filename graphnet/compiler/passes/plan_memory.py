"""plan_memory: every temporary of a Plan placed into one arena (tinygrad's memory planner).

Lifetimes come from the step order (run schedule first for a low peak). An elementwise step
(or an op whose OpDef.inplace allows it) writes its output over a same-sized input of the same
dtype that dies there (in place); the buffers chained that way share one region. Regions are
placed largest first, each into the smallest gap left between the regions that live at the
same time, at offsets aligned to compiler.memory.ALIGNMENT. Feeds, constants, variables and an
assignment's output (the variable's new value) stay outside; a fetched temporary lives to the
end, so nothing reuses it.
"""

from __future__ import annotations

from dataclasses import replace

from graphnet.compiler.memory import aligned, inplace_candidates, lifetimes, variable_outputs
from graphnet.compiler.pipeline import PassContext, register_plan_pass
from graphnet.compiler.plan import Plan


@register_plan_pass("plan_memory")
def plan_memory(plan: Plan, ctx: PassContext) -> Plan:
    """Arena offsets for every temporary of known size, with in-place reuse for elementwise
    steps (and OpDef.inplace pairs); sets Buffer.offset, Buffer.inplace and
    Plan.arena_size. Needs nothing before it; temporaries whose size is unknown (infer_shapes
    did not make it concrete) are left out and counted as `unplanned`."""
    span = lifetimes(plan)
    aliases = variable_outputs(plan)
    sizes = {b: plan.buffers[b].nbytes for b in span if b not in aliases}
    placed = {b: nbytes for b, nbytes in sizes.items() if nbytes is not None}
    region = {b: b for b in placed}  # buffer -> the buffer whose region it lives in
    inplace = _inplace_pairs(plan, span, placed)
    for out, source in inplace.items():
        region[out] = region[source]  # sources come first: their region is already resolved
    regions: dict[int, tuple[int, int, int]] = {}  # first step, last step, bytes
    for b in sorted(placed):
        first, last = span[b]
        if region[b] in regions:
            start, end, _ = regions[region[b]]
            first, last = min(first, start), max(last, end)
        regions[region[b]] = (first, last, placed[b])
    offsets, arena_size = best_fit(regions)
    buffers = [
        replace(b, offset=offsets[region[b.index]] if b.index in placed else None,
                inplace=inplace.get(b.index))
        for b in plan.buffers
    ]  # fmt: skip
    ctx.count("arena_bytes", arena_size)
    ctx.count("naive_bytes", sum(placed.values()))
    ctx.count("inplace", len(inplace))
    ctx.count("unplanned", len(sizes) - len(placed))
    return replace(plan, buffers=buffers, arena_size=arena_size)


def _inplace_pairs(
    plan: Plan, span: dict[int, tuple[int, int]], placed: dict[int, int]
) -> dict[int, int]:
    """output -> the input whose region it takes: an input of the same dtype and size that
    dies at the step, where the op allows it (compiler.memory.inplace_candidates)."""
    pairs: dict[int, int] = {}
    for i, step in enumerate(plan.steps):
        taken: set[int] = set()
        for out, b in inplace_candidates(step):
            if (
                out in placed and out not in pairs and b in placed and b not in taken
                and span[b][1] == i and placed[b] == placed[out]
                and plan.buffers[b].dtype == plan.buffers[out].dtype
            ):  # fmt: skip
                pairs[out] = b
                taken.add(b)
    return pairs


def best_fit(spans: dict[int, tuple[int, int, int]]) -> tuple[dict[int, int], int]:
    """Aligned offsets for regions (key -> first step, last step, bytes) and the arena's size:
    largest first, each into the smallest gap between the placed regions it lives alongside
    (the lowest such gap on ties), else above them all."""
    offsets: dict[int, int] = {}
    taken: list[tuple[int, int, int, int]] = []  # (offset, end, first, last), sorted by offset
    size = 0
    for key, (first, last, nbytes) in sorted(spans.items(), key=lambda kv: (-kv[1][2], kv[0])):
        need = aligned(nbytes)
        best: tuple[int, int] | None = None  # (gap, offset)
        cursor = 0
        for offset, end, f, la in taken:
            if f > last or la < first:
                continue
            if offset - cursor >= need and (best is None or offset - cursor < best[0]):
                best = (offset - cursor, cursor)
            cursor = max(cursor, end)
        offsets[key] = cursor if best is None else best[1]
        taken.append((offsets[key], offsets[key] + need, first, last))
        taken.sort()
        size = max(size, offsets[key] + need)
    return offsets, size
