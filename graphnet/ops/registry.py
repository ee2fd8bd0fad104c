"""OpDef: everything about an op except its kernels; the registry of OpDefs by name."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from graphnet.ir import Attrs, GraphError, Node, Tensor
from graphnet.ir.types import DType, Shape

if TYPE_CHECKING:
    GradFn = Callable[[Node, Sequence[Tensor | None]], Sequence[Tensor | None]]

OutputType = tuple[DType, Shape | None]
InferFn = Callable[[Sequence[Tensor], Attrs], Sequence[OutputType]]

FUSION_KINDS = ("elementwise", "injective", "reduce", "opaque")


@dataclass(frozen=True)
class OpDef:
    """One op: its name, shape/dtype rule and gradient rule, plus flags the compiler reads.

    `grad(node, output_grads)` returns one gradient (or None) per input; output_grads has a
    Tensor or None per output. `differentiable=False` means every input gets None. `stateful`
    ops (variables, assignments, random draws) are never folded, deduplicated or fed.
    `writes_input` names the input (a variable) whose value the op replaces with its output;
    `reads_written_input=False` means that input is only written (assign), not read.
    `inplace` lists (output, input) positions where the output may take over the input's
    memory when the input dies at this op (elementwise ops may always do so): the kernel of
    every backend must read all of that input before it writes the output.
    """

    name: str
    infer: InferFn
    grad: GradFn | None = None
    differentiable: bool = True
    stateful: bool = False
    random: bool = False
    writes_input: int | None = None
    reads_written_input: bool = True
    fusion_kind: str = "opaque"
    inplace: tuple[tuple[int, int], ...] = ()
    doc: str = ""

    def __post_init__(self) -> None:
        if self.fusion_kind not in FUSION_KINDS:
            raise ValueError(f"op {self.name}: unknown fusion kind {self.fusion_kind!r}")


OPS: dict[str, OpDef] = {}


def register_op(opdef: OpDef) -> OpDef:
    """Registers an OpDef at import time; a duplicate name is a programming error."""
    if opdef.name in OPS:
        raise GraphError(f"op {opdef.name!r} is registered twice")
    OPS[opdef.name] = opdef
    return opdef


def get_op(name: str) -> OpDef:
    try:
        return OPS[name]
    except KeyError:
        raise GraphError(f"unknown op {name!r}; known ops: {', '.join(sorted(OPS))}") from None


def define_op(
    name: str,
    infer: InferFn,
    *,
    differentiable: bool = True,
    stateful: bool = False,
    random: bool = False,
    writes_input: int | None = None,
    reads_written_input: bool = True,
    fusion_kind: str = "opaque",
    inplace: tuple[tuple[int, int], ...] = (),
    doc: str = "",
) -> Callable[[GradFn], GradFn]:
    """Decorator form: the decorated function is the op's gradient rule, kept next to it.

    For an op without gradients, call `define_op(...)(None)` with differentiable=False.
    """

    def decorate(grad: GradFn | None) -> GradFn | None:
        docstring = doc or (grad.__doc__ if grad is not None else "") or ""
        register_op(
            OpDef(
                name,
                infer,
                grad,
                differentiable=differentiable,
                stateful=stateful,
                random=random,
                writes_input=writes_input,
                reads_written_input=reads_written_input,
                fusion_kind=fusion_kind,
                inplace=inplace,
                doc=docstring,
            )
        )
        return grad

    return decorate
