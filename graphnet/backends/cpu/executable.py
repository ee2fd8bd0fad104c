"""CpuExecutable: a Plan bound to CPU kernels over one preallocated arena.

Storage. Every value lives in a *slot* (backends.layout), fixed when the plan is compiled:
temporaries in views of one byte arena at plan_memory's offsets (allocated once, 64-byte
aligned), constants as given, feeds and the Session's variable arrays as passed to each run,
kernel scratch in views of a second arena shared by all steps (steps run one at a time).
Nothing is allocated per run, but the fetched values' copies and the outputs of
reference-fallback steps whose size was not known when compiling.

Variables. A step that assigns a variable writes a *stage* array of this executable, never the
Session's array: a run that fails leaves the variables as they were, and the stages are what
the run returns as updates. Each assigned variable has two stages and a run writes the one the
Session is not holding, so the Session can keep the other as the variable's value without a
copy. After an assignment, later reads of the variable read the stage. (A variable assigned
twice in one plan keeps the earlier values in arrays of their own, as they may still be read.)

Execution. Steps run one by one from Python (per-step mode: the debugging path, and the only
one when some step falls back to the reference kernel), or the whole plan runs as one
generated Numba function (cpu.plan_source). In "auto" mode a plan starts per step and is
compiled whole once it has run `compile_after` times, or at once when an earlier process
already compiled it (its source is in the cache) — unless it has more than
WHOLE_PLAN_MAX_STEPS steps: Numba's compile time grows faster than linearly with a function's
size (an unrolled LSTM's training plan would take minutes), so such plans stay per step, where
each kernel is compiled once and shared. Mode "plan" compiles any plan whole.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from graphnet.backends.cpu.cache import is_cached, load_source
from graphnet.backends.cpu.plan_source import object_args, plan_source
from graphnet.backends.layout import (
    BoundStep,
    Fallback,
    KernelFallbackWarning,
    Layout,
    Slot,
    SpecializingExecutable,
    known,
    op_error,
)
from graphnet.backends.reference.executor import RunResult, as_buffer_value
from graphnet.backends.registry import BackendError
from graphnet.compiler.memory import ALIGNMENT
from graphnet.compiler.plan import Plan, Step
from graphnet.ir import GraphnetError, OpError
from graphnet.ir.types import format_shape

BACKEND_NAME = "cpu"
WHOLE_PLAN_MAX_STEPS = 300
Mode = Literal["auto", "plan", "steps"]


def _aligned_array(nbytes: int) -> np.ndarray:
    """A uint8 array of `nbytes` starting at an ALIGNMENT-byte boundary."""
    raw = np.empty(nbytes + ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start : start + nbytes]


def _view(arena: np.ndarray, slot: Slot) -> np.ndarray:
    assert slot.shape is not None
    return arena[slot.offset : slot.offset + slot.nbytes].view(slot.dtype).reshape(slot.shape)


class CpuExecutable:
    """Runs a Plan with the CPU kernels (see the module docstring)."""

    def __init__(self, plan: Plan, mode: Mode = "auto", compile_after: int = 50) -> None:
        self.plan = plan
        layout = Layout(plan, BACKEND_NAME)
        layout.build()
        self._slots = layout.slots
        self._steps = layout.steps
        self.fallbacks = [
            Fallback(s.step.node, s.step.op, s.reason) for s in self._steps if s.fallback
        ]
        for f in self.fallbacks:
            warnings.warn(
                f"cpu backend: node '{f.node}' ({f.op}) runs the reference kernel ({f.reason}); "
                "the plan runs step by step",
                KernelFallbackWarning,
                stacklevel=3,
            )
        self._arena = _aligned_array(plan.arena_size or 0)
        self._scratch = _aligned_array(layout.scratch_size)
        self._static: list[Any] = [self._storage(slot) for slot in self._slots]
        self._stage_pairs = {
            k: (self._static[k], np.empty_like(self._static[k])) for k in layout.stages.values()
        }
        self._fetches = [None if b is None else layout.current[b] for b in plan.fetches]
        self._updates = {plan.variables[b]: k for b, k in layout.stages.items()}
        self._feeds = [(s.buffer, k) for k, s in enumerate(self._slots) if s.kind == "feed"]
        self._vars = [(k, plan.variables[s.buffer]) for k, s in enumerate(self._slots)
                      if s.kind == "var"]  # fmt: skip
        self._dummies: dict[int, np.ndarray] = {}
        self._status = np.zeros(1, np.int64)
        too_big = mode == "auto" and len(self._steps) > WHOLE_PLAN_MAX_STEPS
        self._mode = "steps" if self.fallbacks or too_big else mode
        self._compile_after = compile_after
        self._runs = 0
        self._whole: Callable[..., None] | None = None
        self._objects: list[Any] = []
        if self._mode == "plan" or (self._mode == "auto" and self._source_cached()):
            self.compile_whole()

    # -- storage ---------------------------------------------------------------------------------

    def _storage(self, slot: Slot) -> Any:
        """The array a static slot holds (None for the slots a run fills)."""
        if slot.kind == "arena":
            return _view(self._arena, slot)
        if slot.kind == "scratch":
            return _view(self._scratch, slot)
        if slot.kind == "const":
            value = self.plan.constants[slot.buffer]
            return np.require(value, dtype=slot.dtype, requirements="CWA")
        if slot.kind in ("own", "stage"):
            assert slot.shape is not None
            return np.empty(slot.shape, slot.dtype)
        return None

    def _variable(self, k: int, name: str, value: np.ndarray | None) -> np.ndarray:
        """The Session's array for var slot k as kernels take it (C-ordered, writeable, the
        plan's dtype), or a placeholder when the plan only writes the variable."""
        slot = self._slots[k]
        if value is None:
            if k not in self._dummies:
                self._dummies[k] = np.zeros(slot.shape or (), slot.dtype)
            return self._dummies[k]
        if value.shape != slot.shape:
            raise BackendError(
                f"variable '{name}' holds {format_shape(value.shape)}, but the plan was "
                f"compiled for {format_shape(slot.shape)}"
            )
        return np.require(value, dtype=slot.dtype, requirements="CWA")

    def _fill(self, feeds: dict[int, np.ndarray], variables: dict[str, np.ndarray]) -> list:
        """The slots of one run: the static ones, the feeds, the variables and a free stage."""
        slots = list(self._static)
        for b, k in self._feeds:
            slots[k] = np.require(feeds[b], dtype=self._slots[k].dtype, requirements="CWA")
        for k, name in self._vars:
            slots[k] = self._variable(k, name, variables.get(name))
        for k, (first, second) in self._stage_pairs.items():
            held = variables.get(self.plan.variables[self._slots[k].buffer])
            slots[k] = second if held is first else first
        return slots

    # -- running -------------------------------------------------------------------------------

    def run(self, feeds: dict[int, np.ndarray], variables: dict[str, np.ndarray]) -> RunResult:
        slots = self._fill(feeds, variables)
        self._runs += 1
        if self._whole is None and self._mode == "auto" and self._runs > self._compile_after:
            self.compile_whole()
        with np.errstate(all="ignore"):
            if self._whole is not None:
                self._run_whole(slots)
            else:
                for bound in self._steps:
                    self._run_step(bound, slots)
        fetched = [None if k is None else np.array(slots[k], copy=True) for k in self._fetches]
        return RunResult(fetched, {name: slots[k] for name, k in self._updates.items()})

    def _run_step(self, bound: BoundStep, slots: list) -> None:
        step = bound.step
        inputs = [slots[k] for k in bound.inputs]
        try:
            if bound.kernel is not None:
                outputs = [slots[k] for k in bound.outputs]
                scratch = [slots[k] for k in bound.scratch]
                bound.kernel.fn(*inputs, *outputs, *scratch, *bound.kernel.args)
                return
            assert bound.fallback is not None
            result = bound.fallback(*inputs)
        except GraphnetError as err:
            raise type(err)(f"node '{step.node}' ({step.op}): {err}") from None
        except Exception as err:
            raise op_error(step, inputs, err) from err
        values = result if isinstance(result, tuple) else (result,)
        for k, value in zip(bound.outputs, values, strict=True):
            self._store(slots, k, as_buffer_value(value, self._slots[k].dtype), step)

    def _store(self, slots: list, k: int, value: np.ndarray, step: Step) -> None:
        """A fallback's result into slot k (its own copy where the slot has no storage)."""
        if self._slots[k].kind == "run":
            slots[k] = value.copy()
            return
        if value.shape != slots[k].shape:
            raise OpError(
                f"node '{step.node}' ({step.op}) returned {format_shape(value.shape)}, planned "
                f"as {format_shape(slots[k].shape)}"
            )
        np.copyto(slots[k], value)

    def _run_whole(self, slots: list) -> None:
        assert self._whole is not None
        self._status[0] = -1
        try:
            self._whole(self._status, *slots, *self._objects)
        except Exception as err:
            at = int(self._status[0])
            if at < 0:
                raise
            bound = self._steps[at]
            raise op_error(bound.step, [slots[k] for k in bound.inputs], err) from err

    # -- whole-plan compilation ----------------------------------------------------------------

    def _source_cached(self) -> bool:
        return is_cached("plan", plan_source(len(self._slots), self._steps))

    def compile_whole(self) -> None:
        """Switches to one generated Numba function for the whole plan (compiled on the next
        run, or loaded from Numba's cache)."""
        if self.fallbacks:
            raise BackendError(
                "cannot compile the whole plan: steps fall back to the reference kernels ("
                + ", ".join(f"'{f.node}' ({f.op})" for f in self.fallbacks)
                + ")"
            )
        source = plan_source(len(self._slots), self._steps)
        self._objects = object_args(self._steps)
        self._whole = load_source("plan", source).run_plan

    @property
    def mode(self) -> str:
        """ "plan" when the whole plan runs as one function, else "steps"."""
        return "plan" if self._whole is not None else "steps"


class CpuBackend:
    """The Numba CPU backend; `mode` and `compile_after` as in CpuExecutable."""

    name = BACKEND_NAME

    def __init__(self, mode: Mode = "auto", compile_after: int = 50) -> None:
        self.mode = mode
        self.compile_after = compile_after

    def compile(self, plan: Plan) -> CpuExecutable | SpecializingExecutable:
        if any(not known(b.shape) for b in plan.buffers):
            return SpecializingExecutable(
                plan, lambda p: CpuExecutable(p, self.mode, self.compile_after)
            )
        return CpuExecutable(plan, self.mode, self.compile_after)
