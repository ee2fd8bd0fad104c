"""Memory of a Plan: buffer lifetimes, arena placement, the memory report and the validator.

`place_buffers` puts every temporary of known size into one arena (tinygrad's memory planner):
the plan_memory pass (compiler/passes/plan_memory.py) calls it, and so does the plan loader
when it specializes a plan file to the shapes of its inputs. A temporary lives from the step
that writes it to the last step that reads it; a fetched one lives past the last step. Two
temporaries may share bytes only when their lifetimes are disjoint, or when a step writes its
output over an input that dies there (in place: elementwise steps, and those the op's
OpDef.inplace names).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from graphnet.compiler.plan import Buffer, Plan, Step
from graphnet.ir import GraphnetError
from graphnet.ops.registry import get_op

#: Every arena offset is a multiple of this many bytes (a cache line; SIMD and GPU friendly).
ALIGNMENT = 64


class MemoryPlanError(GraphnetError):
    """A plan's arena is inconsistent: overlapping live buffers, misaligned or missing offsets."""


def aligned(nbytes: int) -> int:
    """`nbytes` rounded up to a multiple of ALIGNMENT."""
    return -(-nbytes // ALIGNMENT) * ALIGNMENT


def lifetimes(plan: Plan) -> dict[int, tuple[int, int]]:
    """(first, last) step of every temporary: the step writing it, the last step reading it
    (the writing step when nothing reads it; len(plan.steps) when it is fetched)."""
    span: dict[int, tuple[int, int]] = {}
    for i, step in enumerate(plan.steps):
        for b in step.inputs:
            if b in span:
                span[b] = (span[b][0], i)
        for b in step.outputs:
            span[b] = (i, i)
    end = len(plan.steps)
    for b in plan.fetches:
        if b is not None and b in span:
            span[b] = (span[b][0], end)
    return span


def variable_outputs(plan: Plan) -> set[int]:
    """Outputs that are an assigned variable's new value: they live with the variable."""
    return {s.outputs[0] for s in plan.steps if s.writes is not None}


def inplace_candidates(step: Step) -> list[tuple[int, int]]:
    """(output, input) buffers of `step` where the output may be written over the input's
    region when the input dies there: any pair of an elementwise step, the op's `inplace` pairs."""
    if step.op == "fused_elementwise" or get_op(step.op).fusion_kind == "elementwise":
        return [(o, i) for o in step.outputs for i in dict.fromkeys(step.inputs)]
    return [(step.outputs[k], step.inputs[j]) for k, j in get_op(step.op).inplace]


def place_buffers(plan: Plan) -> Plan:
    """The plan with arena offsets for every temporary of known size (Buffer.offset), the
    input region each in-place output takes over (Buffer.inplace) and Plan.arena_size.

    Lifetimes come from the step order. An elementwise step (or an op whose OpDef.inplace
    allows it) writes its output over a same-sized input of the same dtype that dies there;
    the buffers chained that way share one region. Regions are placed by `best_fit`. Feeds,
    constants, variables, an assignment's output (the variable's new value) and temporaries
    of unknown size stay outside; a fetched temporary lives to the end, so nothing reuses it.
    """
    span = lifetimes(plan)
    aliases = variable_outputs(plan)
    placed = {
        b: nbytes
        for b in span
        if b not in aliases and (nbytes := plan.buffers[b].nbytes) is not None
    }
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
    return replace(plan, buffers=buffers, arena_size=arena_size)


def _inplace_pairs(
    plan: Plan, span: dict[int, tuple[int, int]], placed: dict[int, int]
) -> dict[int, int]:
    """output -> the input whose region it takes: an input of the same dtype and size that
    dies at the step, where the op allows it (inplace_candidates)."""
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


@dataclass(frozen=True)
class BufferRow:
    """One buffer of the arena: where it lies and when it lives."""

    index: int
    name: str
    offset: int
    nbytes: int
    first: int
    last: int
    inplace: int | None


@dataclass(frozen=True)
class MemoryReport:
    """Bytes of the temporaries: each its own buffer (naive), the planned arena, and the most
    live at once (peak: what any arena needs, alignment aside)."""

    naive_bytes: int
    arena_bytes: int
    peak_bytes: int
    rows: tuple[BufferRow, ...]
    unplanned: tuple[str, ...]  # temporaries left out of the arena: a dim is unknown

    @property
    def ratio(self) -> float:
        """Arena bytes over naive bytes (1.0 when there is nothing to plan)."""
        return self.arena_bytes / self.naive_bytes if self.naive_bytes else 1.0

    @property
    def inplace(self) -> int:
        return sum(r.inplace is not None for r in self.rows)

    def table(self) -> str:
        """One line per arena buffer: index, offset, bytes, steps alive, in-place source, name."""
        lines = [f"{'buffer':>7}{'offset':>11}{'bytes':>11}{'steps':>12}  name"]
        for r in sorted(self.rows, key=lambda r: (r.offset, r.first, r.index)):
            steps = f"{r.first}-{r.last}"
            over = f" (in place of %{r.inplace})" if r.inplace is not None else ""
            lines.append(f"{'%' + str(r.index):>7}{r.offset:>11,}{r.nbytes:>11,}{steps:>12}  "
                         f"{r.name}{over}")  # fmt: skip
        return "\n".join(lines)

    def __str__(self) -> str:
        lines = [
            f"temporaries: {len(self.rows)} in the arena, {self.inplace} in place",
            f"naive: {self.naive_bytes:,} bytes (each temporary its own buffer)",
            f"arena: {self.arena_bytes:,} bytes ({self.ratio:.1%} of naive)",
            f"peak live: {self.peak_bytes:,} bytes",
        ]
        if self.unplanned:
            lines.append(f"left out (unknown size): {', '.join(self.unplanned)}")
        return "\n".join(lines)


def memory_report(plan: Plan) -> MemoryReport:
    """The MemoryReport of a plan whose buffers are placed (place_buffers, plan_memory)."""
    arena_size = _require_planned(plan)
    span = lifetimes(plan)
    rows = _rows(plan, span)
    live = [0] * (len(plan.steps) + 2)
    for r in rows:
        # an in-place output shares its first step's bytes with the input it replaces
        live[r.first + (r.inplace is not None)] += r.nbytes
        live[r.last + 1] -= r.nbytes
    peak = running = 0
    for delta in live:
        running += delta
        peak = max(peak, running)
    aliases = variable_outputs(plan)
    unplanned = tuple(
        b.name
        for b in plan.buffers
        if b.index in span and b.index not in aliases and b.offset is None and b.nbytes is None
    )
    return MemoryReport(sum(r.nbytes for r in rows), arena_size, peak, tuple(rows), unplanned)


def validate_memory(plan: Plan) -> None:
    """Raises MemoryPlanError unless every arena buffer is a temporary at an aligned offset
    inside the arena, every temporary of known size has one, no two buffers live at the same
    time share bytes (but an in-place output and the input it replaces), and nothing
    overwrites a fetched buffer."""
    arena_size = _require_planned(plan)
    span = lifetimes(plan)
    aliases = variable_outputs(plan)
    for b in plan.buffers:
        if b.offset is None and b.index in span and b.nbytes is not None:
            if b.index not in aliases:
                raise MemoryPlanError(f"temporary {_ref(b)} of {b.nbytes} bytes has no offset")
        elif b.offset is not None and (b.kind != "temp" or b.index in aliases):
            raise MemoryPlanError(f"{_ref(b)} ({b.kind}) is persistent but placed in the arena")
    rows = sorted(_rows(plan, span), key=lambda r: r.offset)
    for r in rows:
        if r.offset % ALIGNMENT:
            raise MemoryPlanError(f"{_ref(r)} is at offset {r.offset}, not a multiple of "
                                  f"{ALIGNMENT}")  # fmt: skip
        if r.offset + r.nbytes > arena_size:
            raise MemoryPlanError(f"{_ref(r)} ends at {r.offset + r.nbytes}, past the arena's "
                                  f"{arena_size} bytes")  # fmt: skip
        if r.inplace is not None:
            _check_inplace(plan, r, plan.buffers[r.inplace], span)
    for i, a in enumerate(rows):
        for b in rows[i + 1 :]:
            if b.offset >= a.offset + a.nbytes:
                break
            _check_disjoint(a, b, len(plan.steps))


def _check_disjoint(a: BufferRow, b: BufferRow, end: int) -> None:
    """a and b share bytes: their lifetimes must not overlap, but at an in-place hand-over."""
    if a.nbytes == 0 or b.nbytes == 0 or a.last < b.first or b.last < a.first:
        return
    if (b.inplace == a.index and a.last == b.first) or (a.inplace == b.index and b.last == a.first):
        return
    for x, y in ((a, b), (b, a)):
        if x.last == end:
            raise MemoryPlanError(f"fetched buffer {_ref(x)} is overwritten by {_ref(y)}")
    raise MemoryPlanError(
        f"{_ref(a)} (steps {a.first}-{a.last}) and {_ref(b)} (steps {b.first}-{b.last}) overlap "
        f"in the arena while both are live"
    )


def _check_inplace(plan: Plan, b: BufferRow, a: Buffer, span: dict[int, tuple[int, int]]) -> None:
    """b takes over input a's region: legal only where a dies, for an op that allows it."""
    step = plan.steps[b.first]
    problem = (
        "it is not an input of the step" if a.index not in step.inputs
        else f"op {step.op!r} cannot write it in place"
        if (b.index, a.index) not in inplace_candidates(step)
        else "their dtypes or sizes differ"
        if (a.dtype, a.nbytes) != (plan.buffers[b.index].dtype, b.nbytes)
        else "they lie at different offsets" if a.offset != b.offset
        else "the input is read later" if span[a.index][1] != b.first
        else None
    )  # fmt: skip
    if problem is not None:
        raise MemoryPlanError(f"{_ref(b)} cannot take {_ref(a)}'s region in place: {problem}")


def _rows(plan: Plan, span: dict[int, tuple[int, int]]) -> list[BufferRow]:
    """The buffers placed in the arena, with their lifetimes."""
    rows = []
    for b in plan.buffers:
        if b.offset is None:
            continue
        if b.nbytes is None:
            raise MemoryPlanError(f"{_ref(b)} has an unknown size but is placed in the arena")
        rows.append(BufferRow(b.index, b.name, b.offset, b.nbytes, *span[b.index], b.inplace))
    return rows


def _require_planned(plan: Plan) -> int:
    """The plan's arena size."""
    if plan.arena_size is None:
        raise MemoryPlanError("the plan has no arena: the plan_memory pass has not run on it")
    return plan.arena_size


def _ref(b: Buffer | BufferRow) -> str:
    return f"%{b.index} '{b.name}'"
