"""CudaExecutable: a Plan bound to CUDA kernels over one device arena, run on one stream.

Storage. Slots as on the CPU (backends.layout): the plan's temporaries are views of ONE device
allocation at plan_memory's offsets, kernel scratch views of a second one shared by the steps,
constants are copied to the device once, each feed has a device buffer of its own, allocated
once and refilled by each run. Nothing is allocated on the device per run.

Variables live on the device. A run returns the new values of assigned variables as device
arrays (the executable's stages, two per variable, alternating as on the CPU); the Session
keeps those as the variables' values and hands them back to the next run, so a training loop
never copies its parameters. A variable given as a host array (set by another backend) is
copied to the device for the run.

Execution. Feeds are copied in asynchronously, every step's kernels are enqueued on the same
stream with no synchronization in between, the fetched values are copied out, and the run
waits for the stream once, at the end. A step without a CUDA kernel, or whose shapes were not
known when compiling, falls back to the reference kernel on the host (its inputs copied out,
its outputs copied back: correct but slow; a KernelFallbackWarning names it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import cuda

from graphnet.backends.layout import (
    BoundStep,
    Slot,
    SlotExecutable,
    SpecializingExecutable,
    known,
)
from graphnet.backends.reference.executor import RunResult
from graphnet.compiler.plan import Plan

BACKEND_NAME = "cuda"


def is_device_array(value: Any) -> bool:
    """Whether `value` is a numba.cuda device array (or the simulator's stand-in)."""
    return hasattr(value, "copy_to_host")


def to_host(value: Any) -> np.ndarray:
    """A host copy of a device array (a copy of a host array)."""
    return value.copy_to_host() if is_device_array(value) else np.array(value, copy=True)


def _view(arena: Any, slot: Slot) -> Any:
    assert slot.shape is not None
    piece = arena[slot.offset : slot.offset + slot.nbytes]
    return piece.view(np.dtype(slot.dtype)).reshape(slot.shape)


class CudaExecutable(SlotExecutable):
    """Runs a Plan with the CUDA kernels (see the module docstring)."""

    backend = BACKEND_NAME
    fallback_note = " on the host"
    mode = "steps"  # kernels are launched step by step from the host, all on one stream

    def __init__(self, plan: Plan) -> None:
        super().__init__(plan)
        self._stream = cuda.stream()
        self._arena = cuda.device_array(max(plan.arena_size or 0, 1), np.uint8)
        self._scratch = cuda.device_array(max(self._scratch_size, 1), np.uint8)
        self._allocate()

    # -- storage ---------------------------------------------------------------------------------

    def _empty(self, slot: Slot) -> Any:
        assert slot.shape is not None
        return cuda.device_array(slot.shape, np.dtype(slot.dtype))

    def _storage(self, slot: Slot) -> Any:
        """The device array a static slot holds (None for the slots a run fills)."""
        if slot.kind == "arena":
            return _view(self._arena, slot)
        if slot.kind == "scratch":
            return _view(self._scratch, slot)
        if slot.kind == "const":
            value = np.require(self.plan.constants[slot.buffer], dtype=slot.dtype,
                               requirements="C")  # fmt: skip
            return cuda.to_device(value)
        if slot.kind in ("own", "stage") or (slot.kind == "feed" and known(slot.shape)):
            return self._empty(slot)
        return None

    def _feed(self, k: int, value: np.ndarray) -> Any:
        """Feed slot k's device array, refilled from `value` on the stream."""
        host = np.require(value, dtype=self._slots[k].dtype, requirements="C")
        device = self._static[k]
        if device is None or device.shape != host.shape:
            return cuda.to_device(host, stream=self._stream)
        device.copy_to_device(host, stream=self._stream)
        return device

    def _own_variable(self, slot: Slot, value: Any) -> Any:
        """The Session's device array as it is; a host value (or another dtype) copied over."""
        if is_device_array(value) and value.dtype == np.dtype(slot.dtype):
            return value
        host = np.require(to_host(value), dtype=slot.dtype, requirements="C")
        return cuda.to_device(host, stream=self._stream)

    # -- running -------------------------------------------------------------------------------

    def run(self, feeds: dict[int, np.ndarray], variables: dict[str, Any]) -> RunResult:
        slots = self._fill(feeds, variables)
        with np.errstate(all="ignore"):  # the reference fallbacks and the simulator use NumPy
            for bound in self._steps:
                self._run_step(bound, slots)
        stream = self._stream
        fetched = [None if k is None else slots[k].copy_to_host(stream=stream)
                   for k in self._fetches]  # fmt: skip
        stream.synchronize()
        return self._result(slots, fetched)

    def _launch(self, bound: BoundStep, inputs: list, outputs: list, scratch: list) -> None:
        bound.kernel.launch(inputs, outputs, scratch, self._stream)

    def _run_fallback(self, bound: BoundStep, slots: list, inputs: list) -> None:
        """The reference kernel on host copies of the inputs (after the steps before it have
        finished); results copied back to the device."""
        self._stream.synchronize()
        super()._run_fallback(bound, slots, inputs)

    _host = staticmethod(to_host)

    def _own_copy(self, value: np.ndarray) -> Any:
        return cuda.to_device(np.ascontiguousarray(value), stream=self._stream)

    def _store(self, target: Any, value: np.ndarray) -> None:
        target.copy_to_device(np.ascontiguousarray(value), stream=self._stream)


class CudaBackend:
    """The numba.cuda backend (see the module docstring)."""

    name = BACKEND_NAME

    def compile(self, plan: Plan) -> CudaExecutable | SpecializingExecutable:
        if any(not known(b.shape) for b in plan.buffers):
            return SpecializingExecutable(plan, CudaExecutable)
        return CudaExecutable(plan)
