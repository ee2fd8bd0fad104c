"""fold_constants: nodes computable while compiling become `const` nodes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from graphnet.compiler.evaluate import evaluate
from graphnet.compiler.passes.eliminate_dead import effect_dependents, written_nodes
from graphnet.compiler.pipeline import PassContext, register_pass
from graphnet.compiler.rewrite import Rewriter, rewrite
from graphnet.ir import Graph, GraphError, Node, ShapeError, Tensor
from graphnet.ir.types import format_shape, is_fully_defined, merge_shapes, num_elements
from graphnet.ops.registry import get_op

#: Results with more elements than this stay computed at run time (plans keep constants).
MAX_FOLDED_ELEMENTS = 1 << 20

#: Inputs that matter only by their static shape: op -> their positions.
_SHAPE_ONLY_INPUTS = {
    "shape": (0,), "size": (0,), "rank": (0,), "zeros_like": (0,), "ones_like": (0,),
    "broadcast_like": (1,), "sum_to_like": (1,),
}  # fmt: skip


@register_pass("fold_constants")
def fold_constants(graph: Graph, ctx: PassContext) -> Graph:
    """Replaces nodes whose value is known while compiling by `const` nodes.

    Folds, with the reference kernels, every node but stateful and random ones whose inputs
    are constants, where inputs that count only by their shape (those of `shape`, `size`,
    `rank`, `zeros_like`, `ones_like`, `broadcast_like`, `sum_to_like`) need only a known
    static shape. Results over MAX_FOLDED_ELEMENTS elements stay computed. With
    `ctx.variables` (name -> value, freezing an inference plan) the variables that no node
    assigns become constants first. An unfed `placeholder_with_default` folds to its
    default: in a program, fed ones are placeholders already. Folded constants keep the
    control inputs of what they replace. Best after infer_shapes. Counts `folded`, `frozen`.
    """
    frozen = _frozen(graph, ctx.variables or {})
    after_effects = effect_dependents(graph)

    def visit(node: Node, rw: Rewriter) -> Sequence[Tensor] | None:
        if node in frozen:
            ctx.count("frozen")
            return _consts(rw, node, [frozen[node]], rw.control_inputs(node))
        values = _fold(node, rw.inputs(node))
        if values is None:
            return None
        controls = rw.control_inputs(node)
        shape_only = _SHAPE_ONLY_INPUTS.get(node.type, ())
        for i, t in enumerate(rw.inputs(node)):
            if i not in shape_only:
                controls.extend(t.node.control_inputs)  # what the constants waited for
            elif node.inputs[i].node in after_effects:
                controls.append(t.node)  # its effects must still happen
        ctx.count("folded")
        return _consts(rw, node, values, controls)

    return rewrite(graph, visit)


def _frozen(graph: Graph, variables: Mapping[str, object]) -> dict[Node, np.ndarray]:
    """Values of the variables that become constants: given, and assigned by no node."""
    written = written_nodes(graph)
    found = {}
    for node in graph.nodes:
        if node.type == "variable" and node.name in variables and node not in written:
            t = node.outputs[0]
            value = np.asarray(variables[node.name]).astype(t.dtype.np)
            try:
                merge_shapes(t.shape, value.shape)
            except ShapeError:
                raise ShapeError(
                    f"fold_constants: variable '{node.name}' is {t.dtype}{format_shape(t.shape)};"
                    f" its given value has shape {format_shape(value.shape)}"
                ) from None
            found[node] = value
    return found


def _fold(node: Node, inputs: Sequence[Tensor]) -> list[np.ndarray] | None:
    """The node's output values if they are known now and small enough, else None."""
    opdef = get_op(node.type)
    if node.type == "const" or not node.outputs or opdef.stateful or opdef.random:
        return None
    shape_only = _SHAPE_ONLY_INPUTS.get(node.type, ())
    args = []
    for i, t in enumerate(inputs):
        if i not in shape_only:
            if t.node.type != "const":
                return None
            args.append(t.node.attrs["value"])
        elif t.shape is None or (node.type != "rank" and not is_fully_defined(t.shape)):
            return None
        else:  # a stand-in of the right shape that takes no memory
            dims = tuple(0 if d is None else d for d in t.shape)
            args.append(np.broadcast_to(np.zeros((), t.dtype.np), dims))
    sizes = [num_elements(t.shape) if t.shape is not None else None for t in node.outputs]
    if any(s is not None and s > MAX_FOLDED_ELEMENTS for s in sizes):
        return None
    try:
        values = evaluate(node.type, node.attrs, args)
    except Exception:  # NOTE: left in place, the node fails at run time with its name
        return None
    if any(np.size(v) > MAX_FOLDED_ELEMENTS for v in values):
        return None
    return list(values)


def _consts(
    rw: Rewriter, node: Node, values: Sequence[np.ndarray], controls: list[Node]
) -> list[Tensor]:
    """`const` nodes holding `values` for the outputs of `node` (the first keeps its name)."""
    outputs = []
    for i, (t, value) in enumerate(zip(node.outputs, values, strict=True)):
        arr = np.array(value, dtype=t.dtype.np)
        try:
            merge_shapes(t.shape, arr.shape)
        except ShapeError:
            raise GraphError(
                f"fold_constants: node '{node.name}' ({node.type}) output {i} evaluated to "
                f"shape {format_shape(arr.shape)}; its static shape is {format_shape(t.shape)}"
            ) from None
        arr.flags.writeable = False
        name = node.name if i == 0 else rw.graph.unique_name(f"{node.name}_{i}")
        const = rw.graph.create_node("const", [], {"value": arr}, [(t.dtype, arr.shape)],
                                     name=name + "/", control_inputs=controls)  # fmt: skip
        outputs.append(const.outputs[0])
    return outputs
