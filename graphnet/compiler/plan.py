"""Plan: what a backend executes — ordered steps over a table of buffers.

A Plan holds no graph objects: op names, frozen attrs and buffer indices only, so it can be
exported and run without the graph builder.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from graphnet.ir.graph import Attrs
from graphnet.ir.types import Shape, format_shape

if TYPE_CHECKING:
    from graphnet.compiler.memory import MemoryReport

BufferKind = Literal["feed", "const", "variable", "temp"]


@dataclass(frozen=True)
class Buffer:
    """One value of the plan: `name` is the tensor name it holds ('dense/MatMul:0').

    `offset` is the byte offset of a temporary in the plan's arena (set by plan_memory; None:
    not in the arena); `inplace` the input buffer whose region this output takes over.
    """

    index: int
    name: str
    dtype: str
    shape: Shape | None
    kind: BufferKind
    offset: int | None = None
    inplace: int | None = None

    @property
    def nbytes(self) -> int | None:
        """Bytes of the value, or None while a dim is unknown."""
        if self.shape is None or None in self.shape:
            return None
        return _nbytes(self)


@dataclass(frozen=True)
class Step:
    """One kernel call: `op` over input buffers into output buffers.

    `writes` is the variable buffer the step's first output replaces (assignments);
    `reads_written=False` means that buffer is passed but not read (plain assign).
    """

    node: str
    op: str
    attrs: Attrs
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    writes: int | None = None
    reads_written: bool = True


@dataclass
class Plan:
    buffers: list[Buffer]
    steps: list[Step]
    feeds: dict[str, int]
    fetches: list[int | None]
    constants: dict[int, np.ndarray] = field(default_factory=dict)
    variables: dict[int, str] = field(default_factory=dict)
    pass_records: list[Any] = field(default_factory=list)  # compiler.pipeline.PassRecord
    arena_size: int | None = None  # bytes of the temporaries' arena; None: not planned

    def variables_read_before_written(self) -> set[str]:
        """Variables whose stored value the plan needs (read before any step assigns them)."""
        written: set[int] = set()
        needed: set[int] = set()
        for step in self.steps:
            for pos, b in enumerate(step.inputs):
                is_plain_write = step.writes == b and pos == 0 and not step.reads_written
                if b in self.variables and b not in written and not is_plain_write:
                    needed.add(b)
            if step.writes is not None:
                written.add(step.writes)
        for b in self.fetches:
            if b is not None and b in self.variables and b not in written:
                needed.add(b)
        return {self.variables[b] for b in needed}

    def memory_report(self) -> MemoryReport:
        """Naive against planned bytes of the temporaries (see compiler.memory)."""
        from graphnet.compiler.memory import memory_report  # here: compiler.memory imports plan

        return memory_report(self)

    def summary(self) -> str:
        """A short table: steps per op, buffers per kind, parameter and constant sizes."""
        kinds = Counter(b.kind for b in self.buffers)
        ops = Counter(s.op for s in self.steps)
        params = sum(_elements(self.buffers[b].shape) for b in self.variables)
        param_bytes = sum(_nbytes(self.buffers[b]) for b in self.variables)
        const_bytes = sum(v.nbytes for v in self.constants.values())
        lines = [
            f"Plan: {len(self.steps)} steps, {len(self.buffers)} buffers "
            f"({kinds['feed']} fed, {kinds['variable']} variables, {kinds['const']} constants, "
            f"{kinds['temp']} temporaries)",
            f"{'op':<28}{'steps':>6}",
        ]
        lines += [
            f"{op:<28}{n:>6}" for op, n in sorted(ops.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        lines.append(
            f"parameters: {params:,} ({param_bytes:,} bytes); constants: {const_bytes:,} bytes"
        )
        return "\n".join(lines)

    def __str__(self) -> str:
        def ref(i: int) -> str:
            return f"%{i}"

        lines = [f"plan: {len(self.steps)} steps, {len(self.buffers)} buffers"]
        for b in self.buffers:
            if b.kind != "temp":
                lines.append(
                    f"  {ref(b.index)} = {b.kind} {b.name} : {b.dtype}{format_shape(b.shape)}"
                )
        for s in self.steps:
            outs = ", ".join(ref(o) for o in s.outputs) or "_"
            ins = ", ".join(ref(i) for i in s.inputs)
            write = f" -> {ref(s.writes)}" if s.writes is not None else ""
            lines.append(f"  {outs} = {s.op}({ins}){write}  # {s.node}")
        lines.append("  fetch " + ", ".join("_" if f is None else ref(f) for f in self.fetches))
        return "\n".join(lines)


def _elements(shape: Shape | None) -> int:
    """Element count of a fully known shape, else 0."""
    if shape is None or None in shape:
        return 0
    return int(np.prod(shape, dtype=np.int64))


def _nbytes(buffer: Buffer) -> int:
    return _elements(buffer.shape) * np.dtype(buffer.dtype).itemsize
