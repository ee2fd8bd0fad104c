"""fuse: chains of elementwise ops become one `fused_elementwise` node; conv2d, depthwise_conv2d
and matmul absorb the bias and activation that follow them (`fused_conv2d`, ...). The fused ops
and the expression format are described in graphnet.ops.fused.

Elementwise groups are trees. A producer is inlined into its consumer when both are elementwise
(OpDef.fusion_kind; neither stateful nor random), the consumer is the producer's only use (a
fetch is a use, so fetched values stay materialized), nothing has the producer as a control
input, and both have the same shape: a value that its consumer broadcasts (a per-channel
vector) stays a node of its own, or a generated kernel would recompute it for every element.
Scalar constants are inlined into every tree that reads them; every other value is an input,
broadcast as its ops broadcast it. A conv/matmul takes a following bias_add (or add of a
vector the size of the last axis) and then one of EPILOGUE_ACTIVATIONS when each is the
previous value's only use.

A fused node runs where its last member ran, so a member that reads a variable is not moved
across an assignment of that variable. Gradient masks are rewired first: relu's gradient tests
`x > 0` on relu's input x; `relu(x) > 0` is the same mask (also for relu6, elu and leaky_relu
with alpha >= 0; relu6's `x < 6` likewise), and with x read by the activation only, the
activation can join its conv/matmul in training graphs as well.

Runs on any graph; after infer_shapes more shapes are known to agree and more chains fuse.
Counts: `fused` (nodes built), `fused_ops` (nodes they replace), `masks_rewired`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from graphnet.compiler.pipeline import PassContext, register_pass
from graphnet.compiler.rewrite import Rewriter, rewrite
from graphnet.ir import Graph, Node, Tensor
from graphnet.ops.core import apply_op, apply_op1
from graphnet.ops.fused import EPILOGUE_ACTIVATIONS, EPILOGUE_BASES
from graphnet.ops.registry import get_op

#: conv/matmul op -> its fused op.
FUSED_OF = {base: fused for fused, base in EPILOGUE_BASES.items()}

#: Elementwise ops that are not fused: fill's shape is the value of its input, not a broadcast.
_NOT_FUSED = frozenset({"fill"})

#: Activations whose output is positive exactly where their input is (leaky_relu: alpha >= 0).
_SIGN_PRESERVING = ("relu", "relu6", "elu", "leaky_relu")


@dataclass
class Uses:
    """Who reads what in a graph: input uses per tensor (a node reading a tensor twice counts
    twice), nodes that are control inputs of others, positions, and each variable's writers."""

    count: dict[Tensor, int] = field(default_factory=dict)
    consumer: dict[Tensor, Node] = field(default_factory=dict)
    control_dependents: set[Node] = field(default_factory=set)
    position: dict[Node, int] = field(default_factory=dict)
    writers: dict[Node, list[int]] = field(default_factory=dict)

    @classmethod
    def of(cls, graph: Graph) -> Uses:
        uses = cls()
        for i, node in enumerate(graph.nodes):
            uses.position[node] = i
            for t in node.inputs:
                uses.count[t] = uses.count.get(t, 0) + 1
                uses.consumer[t] = node
            uses.control_dependents.update(node.control_inputs)
            written = get_op(node.type).writes_input
            if written is not None:
                uses.writers.setdefault(node.inputs[written].node, []).append(i)
        return uses

    def sole_consumer(self, t: Tensor) -> Node | None:
        """The node that is t's only use, when t's node has no control dependent."""
        if self.count.get(t, 0) != 1 or t.node in self.control_dependents:
            return None
        return self.consumer[t]

    def moves_across_write(self, node: Node, to: Node) -> bool:
        """Whether running `node` where `to` runs would read a variable assigned in between."""
        lo, hi = self.position[node], self.position[to]
        return any(lo < p < hi for t in node.inputs for p in self.writers.get(t.node, ()))


def added_bias(node: Node, value: Tensor) -> Tensor | None:
    """The 1-D per-channel vector that `node` adds to `value`: bias_add's bias, or the other
    operand of an add when it is a vector the size of value's (known) last axis."""
    if node.type == "bias_add" and node.inputs[0] is value:
        return node.inputs[1]
    if node.type != "add" or value not in node.inputs or not value.shape:
        return None
    other = node.inputs[1] if node.inputs[0] is value else node.inputs[0]
    channels = value.shape[-1]
    if channels is None or other.shape != (channels,) or node.outputs[0].shape != value.shape:
        return None
    return other


def _scalar_const(t: Tensor) -> tuple | None:
    """("const", value, dtype) for a scalar constant without control inputs, else None."""
    if t.node.type != "const" or t.shape != () or t.node.control_inputs:
        return None
    return ("const", t.node.attrs["value"].item(), t.dtype.name)


# -- rewiring gradient masks ----------------------------------------------------------------------


def _mask_activation(node: Node, rw: Rewriter) -> Node | None:
    """For `x > 0` (or `x < 6`): an activation of x, already copied, giving the same mask."""
    if node.type not in ("greater", "less"):
        return None
    x, bound = node.inputs
    const = _scalar_const(bound)
    if const is None or const[1] != (0 if node.type == "greater" else 6):
        return None
    kinds = _SIGN_PRESERVING if node.type == "greater" else ("relu6",)
    for act in x.consumers:
        if (
            act.type in kinds
            and rw.has(act)
            and (act.type != "leaky_relu" or act.attrs["alpha"] >= 0)
        ):
            return act
    return None


def _rewire_masks(graph: Graph, ctx: PassContext) -> Graph:
    rewired = 0

    def visit(node: Node, rw: Rewriter) -> Sequence[Tensor] | None:
        nonlocal rewired
        act = _mask_activation(node, rw)
        if act is None or node.control_inputs:
            return None
        rewired += 1
        y, bound = rw.tensor(act.outputs[0]), rw.tensor(node.inputs[1])
        return [apply_op1(node.type, [y, bound], name=node.name + "/")]

    new = rewrite(graph, visit)
    if not rewired:
        return graph
    ctx.count("masks_rewired", rewired)
    return new


# -- planning -------------------------------------------------------------------------------------


@dataclass
class _Group:
    """Nodes that become one fused node, built where `root` (the last of them) was."""

    root: Node
    members: list[Node]
    op: str
    inputs: list[Tensor]
    attrs: dict


def _epilogue_groups(graph: Graph, uses: Uses) -> list[_Group]:
    groups = []
    for anchor in graph.nodes:
        if anchor.type not in FUSED_OF:
            continue
        members, inputs, bias = [anchor], list(anchor.inputs), False
        nxt = uses.sole_consumer(anchor.outputs[0])
        vector = None if nxt is None else added_bias(nxt, anchor.outputs[0])
        if vector is not None:
            members.append(nxt)
            inputs.append(vector)
            bias = True
            nxt = uses.sole_consumer(nxt.outputs[0])
        activation = None
        if nxt is not None and nxt.type in EPILOGUE_ACTIVATIONS:
            members.append(nxt)
            activation = nxt
        root = members[-1]
        if len(members) == 1 or any(uses.moves_across_write(m, root) for m in members[:-1]):
            continue
        attrs = dict(anchor.attrs) | {
            "bias": bias,
            "activation": None if activation is None else activation.type,
            "alpha": 0.0 if activation is None else activation.attrs.get("alpha", 0.0),
        }
        groups.append(_Group(root, members, FUSED_OF[anchor.type], inputs, attrs))
    return groups


def _fusible(node: Node, taken: set[Node]) -> bool:
    opdef = get_op(node.type)
    return (
        opdef.fusion_kind == "elementwise"
        and not opdef.stateful
        and not opdef.random
        and node.type not in _NOT_FUSED
        and node not in taken
    )


def _elementwise_groups(graph: Graph, uses: Uses, taken: set[Node]) -> list[_Group]:
    """Trees of elementwise nodes, decided from the last node back so that each producer is
    checked against the root it would move to."""
    root_of: dict[Node, Node] = {}
    inlined: set[Node] = set()
    for node in reversed(graph.nodes):
        if not _fusible(node, taken):
            continue
        out = node.outputs[0]
        consumer = uses.sole_consumer(out)
        if (
            consumer in root_of
            and out.shape is not None
            and out.shape == consumer.outputs[0].shape
            and not uses.moves_across_write(node, root_of[consumer])
        ):
            root_of[node] = root_of[consumer]
            inlined.add(node)
        else:
            root_of[node] = node
    groups = []
    for root in graph.nodes:
        if root_of.get(root) is root and any(t.node in inlined for t in root.inputs):
            group = _tree_group(root, inlined)
            if group.inputs:  # all-constant trees are left to fold_constants
                groups.append(group)
    return groups


def _tree_group(root: Node, inlined: set[Node]) -> _Group:
    members: list[Node] = []
    inputs: dict[Tensor, int] = {}

    def build(node: Node) -> tuple:
        members.append(node)
        operands = []
        for t in node.inputs:
            if t.node in inlined:
                operands.append(build(t.node))
            else:
                operands.append(_scalar_const(t) or ("in", inputs.setdefault(t, len(inputs))))
        return (node.type, tuple(node.attrs.items()), *operands)

    expr = build(root)
    attrs = {"expr": expr, "dtype": root.outputs[0].dtype.name}
    return _Group(root, members, "fused_elementwise", list(inputs), attrs)


def _unused_constants(graph: Graph, groups: list[_Group]) -> set[Node]:
    """Scalar constants read only by elementwise groups (which inline them)."""
    inlining = {m for g in groups if g.op == "fused_elementwise" for m in g.members}
    return {
        node
        for node in graph.nodes
        if node.type == "const"
        and _scalar_const(node.outputs[0]) is not None
        and graph.consumers(node)
        and all(c in inlining and node not in c.control_inputs for c in graph.consumers(node))
    }


# -- the pass -------------------------------------------------------------------------------------


@register_pass("fuse")
def fuse(graph: Graph, ctx: PassContext) -> Graph:
    """Fuses elementwise chains into fused_elementwise and conv2d / depthwise_conv2d / matmul +
    bias + activation into fused_* nodes (see the module docstring)."""
    graph = _rewire_masks(graph, ctx)
    uses = Uses.of(graph)
    groups = _epilogue_groups(graph, uses)
    taken = {m for g in groups for m in g.members}
    groups += _elementwise_groups(graph, uses, taken)
    by_root = {g.root: g for g in groups}
    dropped = {m for g in groups for m in g.members if m is not g.root}
    dropped |= _unused_constants(graph, groups)

    def visit(node: Node, rw: Rewriter) -> Sequence[Tensor] | None:
        if node in dropped:
            rw.drop(node)
            return None
        group = by_root.get(node)
        if group is None:
            return None
        controls = list(dict.fromkeys(c for m in group.members for c in rw.control_inputs(m)))
        fused = apply_op(group.op, [rw.tensor(t) for t in group.inputs], group.attrs,
                         name=node.name + "/", control_inputs=controls)  # fmt: skip
        return fused.outputs

    new = rewrite(graph, visit)
    ctx.count("fused", len(groups))
    ctx.count("fused_ops", sum(len(g.members) for g in groups))
    return new
