"""Poison mode: the reference kernels run a planned Plan the way a compiled backend will.

Every temporary the plan placed lives in one NumPy byte arena of the plan's size, as a view at
its offset; a kernel's result is copied into its output's region. After each step the regions
of the values that died there are poisoned (NaN for floats, a sentinel for integers, True for
bools), so a plan whose planner let two live values overlap gives other results than the plain
reference executor. Temporaries outside the arena (unknown size, an assigned variable's new
value) are held as their own arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graphnet.backends.reference.executor import RunResult, as_buffer_value, bind_kernel, call_step
from graphnet.compiler.memory import ALIGNMENT, lifetimes, memory_report
from graphnet.compiler.plan import Buffer, Plan, Step
from graphnet.ir import OpError
from graphnet.ir.types import format_shape

BACKEND_NAME = "reference-arena"


def poison(view: np.ndarray) -> None:
    """Fills a dead region with a value no kernel should read."""
    kind = view.dtype.kind
    if kind in "fc":
        view.fill(np.nan)
    elif kind in "iu":
        info = np.iinfo(view.dtype)
        view.fill(info.min if kind == "i" else info.max)
    else:
        view.fill(True)


class ArenaExecutable:
    """Runs a plan whose temporaries plan_memory has placed (Plan.arena_size is set)."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self._rows = memory_report(plan).rows  # raises MemoryPlanError on an unplanned plan
        self._size = plan.arena_size or 0
        self._calls = [bind_kernel(step.op, step.attrs) for step in plan.steps]
        self._dead_after: list[list[int]] = [[] for _ in plan.steps]
        for b, (_, last) in lifetimes(plan).items():
            if last < len(plan.steps):
                self._dead_after[last].append(b)
        self._handed_over = [
            {plan.buffers[o].inplace for o in step.outputs} - {None} for step in plan.steps
        ]

    def _views(self) -> dict[int, np.ndarray]:
        """A fresh poisoned arena, one view per placed buffer."""
        raw = np.empty(self._size + ALIGNMENT, np.uint8)
        start = -raw.ctypes.data % ALIGNMENT
        arena = raw[start : start + self._size]
        arena.fill(0xFF)  # NaN in every float dtype
        buffers = self.plan.buffers
        return {
            r.index: arena[r.offset : r.offset + r.nbytes]
            .view(buffers[r.index].dtype)
            .reshape(buffers[r.index].shape)
            for r in self._rows
        }

    def run(self, feeds: dict[int, np.ndarray], variables: dict[str, np.ndarray]) -> RunResult:
        plan = self.plan
        views = self._views()
        env: list[Any] = [None] * len(plan.buffers)
        for b, value in plan.constants.items():
            env[b] = value
        for b, name in plan.variables.items():
            env[b] = variables.get(name)
        for b, value in feeds.items():
            env[b] = value
        updates: dict[str, np.ndarray] = {}
        with np.errstate(all="ignore"):
            for i, (step, call) in enumerate(zip(plan.steps, self._calls, strict=True)):
                outputs = call_step(step, call, [env[b] for b in step.inputs])
                for b, value in zip(step.outputs, outputs, strict=True):
                    env[b] = _store(plan.buffers[b], value, views.get(b), step)
                if step.writes is not None:
                    env[step.writes] = env[step.outputs[0]]
                    updates[plan.variables[step.writes]] = env[step.outputs[0]]
                for b in self._dead_after[i]:
                    if b in views and b not in self._handed_over[i]:
                        poison(views[b])
                    env[b] = None
        fetched = [
            None if b is None else env[b].copy() if b in views else env[b] for b in plan.fetches
        ]
        return RunResult(fetched, updates)


def _store(buffer: Buffer, value: Any, view: np.ndarray | None, step: Step) -> np.ndarray:
    """The value as the buffer holds it: copied into its arena view, else into its own array
    (a kernel may return a view of an input that lives in the arena)."""
    value = as_buffer_value(value, buffer.dtype)
    if view is None:
        return value.copy()
    if value.shape != view.shape:
        raise OpError(
            f"node '{step.node}' ({step.op}) returned {format_shape(value.shape)} for "
            f"{buffer.name}, planned as {format_shape(view.shape)}"
        )
    np.copyto(view, value)
    return view


class ArenaBackend:
    name = BACKEND_NAME

    def compile(self, plan: Plan) -> ArenaExecutable:
        return ArenaExecutable(plan)


BACKEND = ArenaBackend()
