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

from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from graphnet.backends.cpu.cache import is_cached, load_source
from graphnet.backends.cpu.plan_source import object_args, plan_source
from graphnet.backends.layout import (
    BoundStep,
    Slot,
    SlotExecutable,
    SpecializingExecutable,
    known,
    op_error,
)
from graphnet.backends.reference.executor import RunResult
from graphnet.backends.registry import BackendError
from graphnet.compiler.memory import ALIGNMENT
from graphnet.compiler.plan import Plan

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


class CpuExecutable(SlotExecutable):
    """Runs a Plan with the CPU kernels (see the module docstring)."""

    backend = BACKEND_NAME
    fallback_note = "; the plan runs step by step"

    def __init__(self, plan: Plan, mode: Mode = "auto", compile_after: int = 50) -> None:
        super().__init__(plan)
        self._arena = _aligned_array(plan.arena_size or 0)
        self._scratch = _aligned_array(self._scratch_size)
        self._allocate()
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
            return self._empty(slot)
        return None

    def _empty(self, slot: Slot) -> np.ndarray:
        return np.zeros(slot.shape or (), slot.dtype)

    def _feed(self, k: int, value: np.ndarray) -> np.ndarray:
        return np.require(value, dtype=self._slots[k].dtype, requirements="CWA")

    def _own_variable(self, slot: Slot, value: np.ndarray) -> np.ndarray:
        """The Session's array as kernels take it (C-ordered, writeable, the plan's dtype)."""
        return np.require(value, dtype=slot.dtype, requirements="CWA")

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
        return self._result(slots, fetched)

    def _launch(self, bound: BoundStep, inputs: list, outputs: list, scratch: list) -> None:
        bound.kernel.fn(*inputs, *outputs, *scratch, *bound.kernel.args)

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
