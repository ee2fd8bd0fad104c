"""The pass manager: named passes, explicit pipelines per optimization level, PassContext.

A graph pass is a function `(Graph, PassContext) -> Graph` registered with `register_pass`;
a plan pass (memory planning) is `(Plan, PassContext) -> Plan` registered with
`register_plan_pass`. Both can run on their own. `compile` extracts what a run needs, runs the
pipeline of the context's level, verifying between passes when asked, lowers to a Plan and runs
the plan passes.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from graphnet.compiler.lowering import lower
from graphnet.compiler.plan import Plan
from graphnet.compiler.program import extract
from graphnet.compiler.verify import verify as verify_graph
from graphnet.ir import Graph, GraphError, Node, Tensor
from graphnet.ir.printer import format_graph
from graphnet.ir.types import Shape

GraphPass = Callable[[Graph, "PassContext"], Graph]
PlanPass = Callable[[Plan, "PassContext"], Plan]


@dataclass(frozen=True)
class Pass:
    name: str
    fn: Callable
    on: str  # "graph" or "plan"
    requires: tuple[str, ...]
    doc: str


PASSES: dict[str, Pass] = {}


def _register(name: str, on: str, requires: Sequence[str]) -> Callable:
    def decorate(fn: Callable) -> Callable:
        if name in PASSES:
            raise GraphError(f"pass {name!r} is registered twice")
        doc = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else ""
        PASSES[name] = Pass(name, fn, on, tuple(requires), doc)
        return fn

    return decorate


def register_pass(name: str, requires: Sequence[str] = ()) -> Callable[[GraphPass], GraphPass]:
    """Registers a graph pass; `requires` names passes that must have run before it."""
    return _register(name, "graph", requires)


def register_plan_pass(name: str, requires: Sequence[str] = ()) -> Callable[[PlanPass], PlanPass]:
    """Registers a pass over the lowered Plan (after all graph passes)."""
    return _register(name, "plan", requires)


#: Pipelines, per optimization level and variant: ordered pass names, graph passes first.
PIPELINES: dict[str, list[str]] = {
    "O0": ["plan_memory"],
    "O1": [
        "infer_shapes", "simplify", "fold_constants", "eliminate_common_subexpressions",
        "eliminate_dead", "schedule", "plan_memory",
    ],
    "O2-training": [
        "infer_shapes", "simplify", "fold_constants", "eliminate_common_subexpressions",
        "eliminate_dead", "fuse", "eliminate_dead", "schedule", "plan_memory",
    ],
    "O2-inference": [
        "infer_shapes", "simplify", "fold_batchnorm", "fold_constants",
        "eliminate_common_subexpressions", "eliminate_dead", "fuse", "eliminate_dead",
        "schedule", "plan_memory",
    ],
}  # fmt: skip
OPT_LEVELS = ("O0", "O1", "O2")

#: GRAPHNET_VERIFY=1 turns the verifier on for every compilation (the test suite sets it);
#: read once here, never inside passes.
VERIFY_BY_DEFAULT = os.environ.get("GRAPHNET_VERIFY", "") not in ("", "0")


def pipeline_for(opt_level: str, inference: bool) -> list[str]:
    """The pass names of a level; O2 has a training and an inference variant."""
    if opt_level not in OPT_LEVELS:
        raise ValueError(
            f"unknown opt_level {opt_level!r}; expected one of {', '.join(OPT_LEVELS)}"
        )
    if opt_level == "O2":
        return PIPELINES["O2-inference" if inference else "O2-training"]
    return PIPELINES[opt_level]


@dataclass
class PassRecord:
    """What one pass did: node counts before and after, its own counters, its time."""

    name: str
    nodes_before: int
    nodes_after: int
    seconds: float
    counts: Counter = field(default_factory=Counter)


@dataclass
class PassContext:
    """Options and instruments of one compilation (TVM's PassContext).

    `print_before` / `print_after`: pass names or "all"; the graph's text form goes to
    `printer` (and to `dump_dir/NN-<pass>.txt` when set). `verify` checks the graph after every
    pass (default: the GRAPHNET_VERIFY environment variable). `timing` prints each pass's time
    as it finishes. `variables` (name -> value) freezes variables into constants for inference
    plans.
    """

    opt_level: str = "O1"
    inference: bool = False
    disabled: frozenset[str] = frozenset()
    print_before: frozenset[str] | str = frozenset()
    print_after: frozenset[str] | str = frozenset()
    dump_dir: str | os.PathLike | None = None
    verify: bool = VERIFY_BY_DEFAULT
    timing: bool = False
    variables: Mapping[str, object] | None = None
    printer: Callable[[str], None] = print
    records: list[PassRecord] = field(default_factory=list)
    _current: PassRecord | None = None

    def __post_init__(self) -> None:
        self.disabled = frozenset(self.disabled)
        if not isinstance(self.print_before, str):
            self.print_before = frozenset(self.print_before)
        if not isinstance(self.print_after, str):
            self.print_after = frozenset(self.print_after)
        unknown = (set(self.disabled) | _names(self.print_before) | _names(self.print_after)) - set(
            PASSES
        )
        if unknown:
            raise ValueError(f"unknown pass(es) {sorted(unknown)}; passes: {sorted(PASSES)}")

    def count(self, what: str, n: int = 1) -> None:
        """Called by passes: adds to the running pass's counter `what` (folded, fused ...)."""
        if self._current is not None:
            self._current.counts[what] += n

    def _wants(self, option: frozenset[str] | str, name: str) -> bool:
        return option == "all" or name in option

    def _show(self, when: str, name: str, text: str) -> None:
        self.printer(f"// -- {when} {name} --\n{text}")
        if self.dump_dir is not None:
            folder = Path(self.dump_dir)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{len(self.records):02d}-{when}-{name}.txt").write_text(text + "\n")


def _names(option: frozenset[str] | str) -> set[str]:
    return set() if option == "all" else set(option)


def run_passes(target: Graph | Plan, names: Iterable[str], ctx: PassContext) -> Graph | Plan:
    """Runs the named passes of the right kind (graph or plan) on `target`, with instruments."""
    kind = "graph" if isinstance(target, Graph) else "plan"
    done = {r.name for r in ctx.records}
    for name in names:
        p = PASSES[name]
        if p.on != kind or name in ctx.disabled:
            continue
        missing = [r for r in p.requires if r not in done and r not in ctx.disabled]
        if missing:
            raise GraphError(f"pass {name!r} needs {missing} to run before it")
        if ctx._wants(ctx.print_before, name):
            ctx._show("before", name, _text(target))
        record = PassRecord(name, _size(target), 0, 0.0)
        ctx._current = record
        start = time.perf_counter()
        target = p.fn(target, ctx)
        record.seconds = time.perf_counter() - start
        record.nodes_after = _size(target)
        ctx._current = None
        ctx.records.append(record)
        done.add(name)
        if ctx.timing:
            ctx.printer(
                f"// {name}: {record.seconds * 1e3:.2f} ms, "
                f"{record.nodes_before} -> {record.nodes_after}"
            )
        if ctx.verify and isinstance(target, Graph):
            verify_graph(target, name)
        if ctx._wants(ctx.print_after, name):
            ctx._show("after", name, _text(target))
    return target


def _size(target: Graph | Plan) -> int:
    return len(target.nodes) if isinstance(target, Graph) else len(target.steps)


def _text(target: Graph | Plan) -> str:
    return format_graph(target) if isinstance(target, Graph) else str(target)


def compile(  # noqa: A001 - gn.compiler.compile, as the issue names it
    graph: Graph,
    fetches: Sequence[Tensor | Node],
    feeds: Mapping[Tensor, Shape | None] | Sequence[Tensor] = (),
    ctx: PassContext | None = None,
) -> Plan:
    """The Plan that computes `fetches` from `feeds` (tensors, or tensor -> concrete shape),
    optimized by the pipeline of `ctx.opt_level`. The plan keeps the context's pass records."""
    ctx = ctx or PassContext()
    feed_shapes = dict(feeds) if isinstance(feeds, Mapping) else dict.fromkeys(feeds)
    elements = [graph.as_graph_element(f) for f in fetches]
    program = extract(graph, elements, feed_shapes)
    names = pipeline_for(ctx.opt_level, ctx.inference)
    program = run_passes(program, names, ctx)
    plan = run_passes(lower(program), names, ctx)
    plan.pass_records = list(ctx.records)
    return plan


def explain(plan: Plan) -> str:
    """What each pass did to reach `plan`: nodes before and after, its counters, its time."""
    lines = [f"{'pass':<34}{'before':>8}{'after':>8}{'ms':>9}  notes"]
    for r in plan.pass_records:
        notes = ", ".join(f"{k} {v:,}" for k, v in sorted(r.counts.items()))
        lines.append(f"{r.name:<34}{r.nodes_before:>8}{r.nodes_after:>8}"
                     f"{r.seconds * 1e3:>9.2f}  {notes}")  # fmt: skip
    return "\n".join(lines)


# The passes register themselves into PASSES on import; they import this module's decorators,
# so they come last.
from graphnet.compiler import passes as passes  # noqa: E402
