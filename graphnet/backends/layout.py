"""What every compiled backend does with a Plan before running it: a *slot* per value (where it
lives: arena view, scratch view, constant, feed, variable, variable stage, ...), each step bound
to the backend's kernel or to the reference kernel as a fallback; and the executable that
specializes a plan with unknown shapes to each run's feed shapes.

Variables. A step that assigns a variable writes a *stage* slot of the executable, never the
Session's array: a run that fails leaves the variables as they were, and the stages are what the
run returns as updates. After an assignment, later reads of the variable read the stage.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from graphnet.backends.reference.executor import RunResult, as_buffer_value, bind_kernel
from graphnet.backends.registry import BackendError, get_kernel
from graphnet.compiler.memory import aligned
from graphnet.compiler.plan import Plan, Step
from graphnet.compiler.specialize import specialize
from graphnet.ir import GraphnetError, OpError
from graphnet.ir.errors import ShapeError
from graphnet.ir.types import format_shape

SlotKind = Literal["arena", "scratch", "const", "own", "feed", "var", "stage", "run"]


class KernelFallbackWarning(UserWarning):
    """A step runs the reference kernel: the backend has no kernel for it, or its shapes are
    not known when the plan is compiled."""


@dataclass(frozen=True)
class Slot:
    """Where one value lives: `kind` (see the module docstring), dtype, shape, byte offset in
    the arena or scratch arena, and the buffer index it belongs to."""

    kind: SlotKind
    dtype: str
    shape: tuple[int, ...] | None
    offset: int = 0
    buffer: int = -1

    @property
    def nbytes(self) -> int:
        assert self.shape is not None
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


@dataclass
class BoundStep:
    """One step with its slots and either a kernel of the backend or a reference fallback."""

    step: Step
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    scratch: tuple[int, ...] = ()
    kernel: Any = None  # the backend's kernel object (CpuKernel, CudaKernel)
    fallback: Callable[..., Any] | None = None
    reason: str = ""


@dataclass
class Fallback:
    """A step that runs its reference kernel, and why."""

    node: str
    op: str
    reason: str


def known(shape: Sequence[int | None] | None) -> bool:
    return shape is not None and None not in shape


@dataclass
class Layout:
    """The slots of a plan and the steps bound to `backend`'s kernels (built once per
    executable); a step without a kernel, or whose shapes are not known, gets the reference
    kernel as its fallback, with the reason."""

    plan: Plan
    backend: str
    slots: list[Slot] = field(default_factory=list)
    steps: list[BoundStep] = field(default_factory=list)
    current: dict[int, int] = field(default_factory=dict)  # buffer -> its slot now
    stages: dict[int, int] = field(default_factory=dict)  # variable buffer -> its stage slot
    scratch_size: int = 0

    def add(self, slot: Slot) -> int:
        self.slots.append(slot)
        return len(self.slots) - 1

    def build(self) -> None:
        plan = self.plan
        for b in plan.buffers:
            kind: SlotKind | None = {"feed": "feed", "const": "const", "variable": "var"}.get(
                b.kind
            )
            if kind is not None:
                self.current[b.index] = self.add(Slot(kind, b.dtype, b.shape, buffer=b.index))
        last_write = {s.writes: i for i, s in enumerate(plan.steps) if s.writes is not None}
        for i, step in enumerate(plan.steps):
            inputs = tuple(self.current[b] for b in step.inputs)
            outputs = []
            for b in step.outputs:
                buf = plan.buffers[b]
                if (
                    step.writes is not None
                    and b == step.outputs[0]
                    and last_write[step.writes] == i
                ):
                    self.stages[step.writes] = k = self.add(
                        Slot("stage", buf.dtype, buf.shape, buffer=step.writes)
                    )
                elif buf.offset is not None:
                    k = self.add(Slot("arena", buf.dtype, buf.shape, buf.offset, b))
                else:
                    k = self.add(Slot("own" if known(buf.shape) else "run", buf.dtype,
                                      buf.shape, buffer=b))  # fmt: skip
                self.current[b] = k
                outputs.append(k)
            if step.writes is not None:
                self.current[step.writes] = outputs[0]
            self.steps.append(self._bind(step, inputs, tuple(outputs)))

    def _bind(self, step: Step, inputs: tuple[int, ...], outputs: tuple[int, ...]) -> BoundStep:
        bound = BoundStep(step, inputs, outputs)
        types = [(self.slots[k].dtype, self.slots[k].shape) for k in (*inputs, *outputs)]
        try:
            if not all(known(shape) for _, shape in types):
                raise BackendError("a shape is not known when the plan is compiled")
            binder = get_kernel(step.op, self.backend)
            bound.kernel = binder(step.attrs, types[: len(inputs)], types[len(inputs) :])
        except BackendError as err:
            bound.fallback, bound.reason = bind_kernel(step.op, step.attrs), str(err)
            return bound
        offset, scratch = 0, []
        for dtype, shape in bound.kernel.scratch:
            scratch.append(self.add(Slot("scratch", dtype, tuple(shape), offset)))
            offset += aligned(self.slots[-1].nbytes)
        bound.scratch = tuple(scratch)
        self.scratch_size = max(self.scratch_size, offset)
        return bound


class SlotExecutable:
    """What the compiled backends' executables share: the plan bound to `backend`'s kernels
    (a KernelFallbackWarning per step that falls back), the static storage of every slot, and
    the slots of one run. Subclasses say where values live: `_storage(slot)` (a static slot's
    array, None for those a run fills), `_empty(slot)`, `_feed(k, value)` and
    `_own_variable(slot, value)` (the Session's value as the kernels take it)."""

    backend = ""
    fallback_note = ""  # what a fallback means for the run, appended to the warning

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        layout = Layout(plan, self.backend)
        layout.build()
        self._slots = layout.slots
        self._steps = layout.steps
        self.fallbacks = [
            Fallback(s.step.node, s.step.op, s.reason) for s in self._steps if s.fallback
        ]
        for f in self.fallbacks:
            warnings.warn(
                f"{self.backend} backend: node '{f.node}' ({f.op}) runs the reference kernel "
                f"({f.reason}){self.fallback_note}",
                KernelFallbackWarning,
                stacklevel=4,
            )
        self._scratch_size = layout.scratch_size
        self._fetches = [None if b is None else layout.current[b] for b in plan.fetches]
        self._updates = {plan.variables[b]: k for b, k in layout.stages.items()}
        self._feeds = [(s.buffer, k) for k, s in enumerate(self._slots) if s.kind == "feed"]
        self._vars = [(k, plan.variables[s.buffer]) for k, s in enumerate(self._slots)
                      if s.kind == "var"]  # fmt: skip
        self._stage_slots = list(layout.stages.values())
        self._dummies: dict[int, Any] = {}

    def _allocate(self) -> None:
        """The static storage; each assigned variable gets two stages (see cpu.executable)."""
        self._static: list[Any] = [self._storage(slot) for slot in self._slots]
        self._stage_pairs = {
            k: (self._static[k], self._empty(self._slots[k])) for k in self._stage_slots
        }

    def _storage(self, slot: Slot) -> Any:
        raise NotImplementedError

    def _empty(self, slot: Slot) -> Any:
        raise NotImplementedError

    def _feed(self, k: int, value: np.ndarray) -> Any:
        raise NotImplementedError

    def _own_variable(self, slot: Slot, value: Any) -> Any:
        raise NotImplementedError

    def _variable(self, k: int, name: str, value: Any) -> Any:
        """The Session's value of var slot k as the kernels take it, or a placeholder when the
        plan only writes the variable."""
        slot = self._slots[k]
        if value is None:
            if k not in self._dummies:
                self._dummies[k] = self._empty(slot)
            return self._dummies[k]
        if tuple(value.shape) != slot.shape:
            raise BackendError(
                f"variable '{name}' holds {format_shape(tuple(value.shape))}, but the plan was "
                f"compiled for {format_shape(slot.shape)}"
            )
        return self._own_variable(slot, value)

    def _fill(self, feeds: dict[int, np.ndarray], variables: dict[str, Any]) -> list:
        """The slots of one run: the static ones, the feeds, the variables and the stage of
        each assigned variable that the Session is not holding."""
        slots = list(self._static)
        for b, k in self._feeds:
            slots[k] = self._feed(k, feeds[b])
        for k, name in self._vars:
            slots[k] = self._variable(k, name, variables.get(name))
        for k, (first, second) in self._stage_pairs.items():
            held = variables.get(self.plan.variables[self._slots[k].buffer])
            slots[k] = second if held is first else first
        return slots

    def _launch(self, bound: BoundStep, inputs: list, outputs: list, scratch: list) -> None:
        raise NotImplementedError

    def _host(self, value: Any) -> Any:
        """A fallback's input as the reference kernels take it (a NumPy array)."""
        return value

    def _own_copy(self, value: np.ndarray) -> Any:
        """Storage of the backend's own holding `value` (a fallback's result of a "run" slot)."""
        return value.copy()

    def _store(self, target: Any, value: np.ndarray) -> None:
        """A fallback's result into the output's planned storage."""
        np.copyto(target, value)

    def _run_step(self, bound: BoundStep, slots: list) -> None:
        step = bound.step
        inputs = [slots[k] for k in bound.inputs]
        try:
            if bound.kernel is not None:
                outputs = [slots[k] for k in bound.outputs]
                self._launch(bound, inputs, outputs, [slots[k] for k in bound.scratch])
            else:
                self._run_fallback(bound, slots, inputs)
        except GraphnetError as err:
            raise type(err)(f"node '{step.node}' ({step.op}): {err}") from None
        except Exception as err:
            raise op_error(step, inputs, err) from err

    def _run_fallback(self, bound: BoundStep, slots: list, inputs: list) -> None:
        """The step's reference kernel; its results stored into the outputs' slots."""
        assert bound.fallback is not None
        result = bound.fallback(*(None if a is None else self._host(a) for a in inputs))
        values = result if isinstance(result, tuple) else (result,)
        for k, value in zip(bound.outputs, values, strict=True):
            array = as_buffer_value(value, self._slots[k].dtype)
            if slots[k] is None or self._slots[k].kind == "run":
                slots[k] = self._own_copy(array)
                continue
            if tuple(array.shape) != tuple(slots[k].shape):
                raise OpError(
                    f"returned {format_shape(array.shape)}, planned as "
                    f"{format_shape(tuple(slots[k].shape))}"
                )
            self._store(slots[k], array)

    def _result(self, slots: list, fetched: list) -> RunResult:
        return RunResult(fetched, {name: slots[k] for name, k in self._updates.items()})


def op_error(step: Step, inputs: list, err: Exception) -> OpError:
    shapes = ", ".join(
        "uninitialized" if a is None else f"{a.dtype}{format_shape(np.shape(a))}" for a in inputs
    )
    return OpError(f"node '{step.node}' ({step.op}) failed on inputs ({shapes}): {err}")


class SpecializingExecutable:
    """A plan with buffers of unknown shape (an O0 plan: no shape inference ran), run as the
    executable `make` builds for the plan specialized to each run's feed shapes
    (compiler.specialize), once per shapes. Shapes that depend on data stay unknown, and their
    steps fall back to the reference kernels; a plan the shape rules reject runs as it is."""

    def __init__(self, plan: Plan, make: Callable[[Plan], Any]) -> None:
        self.plan = plan
        self._make = make
        self._compiled: dict[tuple, Any] = {}
        self._last: Any = None

    def run(self, feeds: dict[int, np.ndarray], variables: dict[str, np.ndarray]) -> RunResult:
        key = tuple(sorted((b, np.shape(v)) for b, v in feeds.items()))
        if key not in self._compiled:
            try:
                plan = specialize(self.plan, dict(key))
            except ShapeError:
                plan = self.plan
            self._compiled[key] = self._make(plan)
        self._last = self._compiled[key]
        return self._last.run(feeds, variables)

    @property
    def mode(self) -> str:
        """The mode of the executable that ran last ("steps" before any run)."""
        return "steps" if self._last is None else self._last.mode
