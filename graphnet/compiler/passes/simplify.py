"""simplify: local algebraic rewrites from a pattern table indexed by the root op, to a fixed point.

A rule looks at one node (its attrs and output types as in the source graph) and its inputs in
the graph being built, where inputs are already simplified, and returns:
  - an existing Tensor that computes the same value (x * 1 -> x), or
  - a Replace (op, inputs, attrs): a new node standing for the root under the root's name and
    with its control inputs (transpose(transpose(x)) -> one transpose), or
  - None when it does not match.
The driver applies a result only when it keeps the root's dtype and static shape (at least as
precise), so broadcasting rewrites stay exact (x * ones(2, 3) with x of shape [3] is no x).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graphnet.compiler.passes.eliminate_dead import effect_dependents, written_nodes
from graphnet.compiler.pipeline import PassContext, register_pass
from graphnet.compiler.rewrite import Rewriter, rewrite
from graphnet.ir import Attrs, Graph, GraphError, Node, ShapeError, Tensor
from graphnet.ir.types import DType, Shape, is_fully_defined, merge_shapes
from graphnet.ops.registry import OutputType, get_op


@dataclass(frozen=True)
class Replace:
    """A new node for the matched root: `op` over `inputs` (new-graph tensors) with `attrs`."""

    op: str
    inputs: tuple[Tensor, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)


Result = Tensor | Replace | None
RuleFn = Callable[[Node, Sequence[Tensor]], Result]

#: root op name -> its rules, (rule name, function) in the order they are tried.
RULES: dict[str, list[tuple[str, RuleFn]]] = {}

#: Rounds over the whole graph before simplify gives up on reaching a fixed point.
MAX_ROUNDS = 50


def rule(name: str, *ops: str) -> Callable[[RuleFn], RuleFn]:
    """Registers the decorated function as rule `name` for root ops `ops`."""

    def decorate(fn: RuleFn) -> RuleFn:
        for op in ops:
            if any(existing == name for existing, _ in RULES.get(op, ())):
                raise GraphError(f"simplify rule {name!r} is registered twice for {op!r}")
            RULES.setdefault(op, []).append((name, fn))
        return fn

    return decorate


# -- matching helpers ---------------------------------------------------------------------------


def _const(t: Tensor) -> np.ndarray | None:
    """The value of a const without control inputs, else None."""
    node = t.node
    return node.attrs["value"] if node.type == "const" and not node.control_inputs else None


def _producer(t: Tensor, op: str) -> Node | None:
    """t's node if it is an `op` without control inputs (which a rule could skip), else None."""
    return t.node if t.node.type == op and not t.node.control_inputs else None


def _broadcasts_into(small: Shape | None, big: Shape | None) -> bool:
    """Whether broadcasting a `small`-shaped operand against `big` surely leaves `big`."""
    if small is None or big is None or len(small) > len(big):
        return False
    return all(
        s == 1 or (s is not None and s == b) for s, b in zip(small[::-1], big[::-1], strict=False)
    )


def _either(a: Tensor | None, b: Tensor | None) -> Tensor | None:
    """a, else b (Tensors have no truth value, so no `a or b`)."""
    return a if a is not None else b


def _neutral(x: Tensor, c: Tensor, value: float) -> Tensor | None:
    """x when c is a constant full of `value` that does not broadcast x to a bigger shape."""
    v = _const(c)
    if v is not None and bool(np.all(v == value)) and _broadcasts_into(c.shape, x.shape):
        return x
    return None


def _same_extent(a: Shape | None, b: Shape | None) -> bool:
    """Whether tensors of static shapes a and b with equal element counts surely have equal
    shapes: equal known dims and at most one unknown, at the same place, among nonzero dims."""
    if a is None or a != b:
        return False
    known = [d for d in a if d is not None]
    return len(a) - len(known) <= 1 and (len(known) == len(a) or 0 not in known)


def _is_identity_perm(perm: Sequence[int]) -> bool:
    return tuple(perm) == tuple(range(len(perm)))


def _swaps_last_two(perm: Sequence[int]) -> bool:
    n = len(perm)
    return n >= 2 and tuple(perm) == (*range(n - 2), n - 1, n - 2)


# -- rules ----------------------------------------------------------------------------------------


@rule("mul_one", "multiply")
def _mul_one(node: Node, inputs: Sequence[Tensor]) -> Result:
    x, y = inputs
    return _either(_neutral(x, y, 1), _neutral(y, x, 1))


@rule("add_zero", "add")
def _add_zero(node: Node, inputs: Sequence[Tensor]) -> Result:
    """x + 0 -> x (a -0.0 in x may come out as +0.0 without the rewrite; values are equal)."""
    x, y = inputs
    return _either(_neutral(x, y, 0), _neutral(y, x, 0))


@rule("sub_zero", "subtract")
def _sub_zero(node: Node, inputs: Sequence[Tensor]) -> Result:
    return _neutral(inputs[0], inputs[1], 0)


@rule("div_one", "divide")
def _div_one(node: Node, inputs: Sequence[Tensor]) -> Result:
    return _neutral(inputs[0], inputs[1], 1)


@rule("pow_one", "pow")
def _pow_one(node: Node, inputs: Sequence[Tensor]) -> Result:
    return _neutral(inputs[0], inputs[1], 1)


@rule("double_negation", "negative")
def _double_negation(node: Node, inputs: Sequence[Tensor]) -> Result:
    inner = _producer(inputs[0], "negative")
    return None if inner is None else inner.inputs[0]


@rule("stop_gradient_noop", "stop_gradient")
@rule("identity_noop", "identity")
def _forward(node: Node, inputs: Sequence[Tensor]) -> Result:
    """identity(x), stop_gradient(x) -> x (a program is differentiated already)."""
    return inputs[0]


@rule("cast_noop", "cast")
def _cast_noop(node: Node, inputs: Sequence[Tensor]) -> Result:
    return inputs[0] if inputs[0].dtype.name == node.attrs["dtype"] else None


@rule("transpose_identity", "transpose")
def _transpose_identity(node: Node, inputs: Sequence[Tensor]) -> Result:
    return inputs[0] if _is_identity_perm(node.attrs["perm"]) else None


@rule("transpose_transpose", "transpose")
def _transpose_transpose(node: Node, inputs: Sequence[Tensor]) -> Result:
    """transpose(transpose(x, p), q) is transpose(x, p[q]): x itself when that is the identity."""
    inner = _producer(inputs[0], "transpose")
    if inner is None:
        return None
    perm = tuple(inner.attrs["perm"][i] for i in node.attrs["perm"])
    x = inner.inputs[0]
    return x if _is_identity_perm(perm) else Replace("transpose", (x,), {"perm": perm})


@rule("reshape_noop", "reshape")
def _reshape_noop(node: Node, inputs: Sequence[Tensor]) -> Result:
    x = inputs[0]
    return x if _same_extent(x.shape, node.outputs[0].shape) else None


@rule("reshape_reshape", "reshape")
def _reshape_reshape(node: Node, inputs: Sequence[Tensor]) -> Result:
    inner = _producer(inputs[0], "reshape")
    return None if inner is None else Replace("reshape", (inner.inputs[0], inputs[1]))


@rule("sum_to_like_noop", "sum_to_like")
def _sum_to_like_noop(node: Node, inputs: Sequence[Tensor]) -> Result:
    g, like = inputs
    return g if is_fully_defined(g.shape) and g.shape == like.shape else None


@rule("broadcast_like_noop", "broadcast_like")
def _broadcast_like_noop(node: Node, inputs: Sequence[Tensor]) -> Result:
    x, like = inputs
    return x if _broadcasts_into(like.shape, x.shape) else None


@rule("transpose_into_matmul", "matmul")
def _transpose_into_matmul(node: Node, inputs: Sequence[Tensor]) -> Result:
    """matmul(transpose(a), b) with a transpose of the last two axes -> transpose_a flipped."""
    operands = list(inputs)
    flags = [node.attrs["transpose_a"], node.attrs["transpose_b"]]
    for i, t in enumerate(inputs):
        inner = _producer(t, "transpose")
        if inner is not None and _swaps_last_two(inner.attrs["perm"]):
            operands[i], flags[i] = inner.inputs[0], not flags[i]
    if operands == list(inputs):
        return None
    return Replace("matmul", tuple(operands), {"transpose_a": flags[0], "transpose_b": flags[1]})


# -- the driver ------------------------------------------------------------------------------------


@register_pass("simplify")
def simplify(graph: Graph, ctx: PassContext) -> Graph:
    """Applies the rules of RULES until none applies; counts each rule's rewrites by its name.

    Nodes after a side effect are left alone (a rewrite could drop the edge that runs it), as
    are reads of assigned variables (a rewrite could move them), and a rule never drops a
    node's control inputs. Needs nothing before it; shape-dependent rules (reshape, sum_to_like,
    broadcast_like) fire more after infer_shapes. Leaves bypassed nodes to eliminate_dead.
    """
    for _ in range(MAX_ROUNDS):
        fired: Counter = Counter()
        graph = _simplify_once(graph, fired)
        for name, n in fired.items():
            ctx.count(name, n)
        if not fired:
            return graph
    raise GraphError(f"simplify: no fixed point after {MAX_ROUNDS} rounds; a rule cycles")


def _simplify_once(graph: Graph, fired: Counter) -> Graph:
    pinned = written_nodes(graph)
    pinned_names = {n.name for n in pinned}
    after_effects = effect_dependents(graph)

    def visit(node: Node, rw: Rewriter) -> Sequence[Tensor] | None:
        rules = RULES.get(node.type)
        if not rules or any(t.node in after_effects for t in node.inputs):
            return None
        inputs = rw.inputs(node)
        for name, fn in rules:
            outputs = _apply(fn(node, inputs), node, inputs, rw, pinned_names)
            if outputs is not None:
                fired[name] += 1
                return outputs
        return None

    return rewrite(graph, visit)


def _apply(
    result: Result, node: Node, inputs: Sequence[Tensor], rw: Rewriter, pinned: set[str]
) -> Sequence[Tensor] | None:
    """The tensors standing for the root's outputs, if the rule's result is safe to use."""
    if isinstance(result, Tensor):
        if node.control_inputs or result.node.name in pinned:
            return None
        return [result] if _keeps_types([(result.dtype, result.shape)], node) else None
    if result is None or any(t.node.name in pinned and t not in inputs for t in result.inputs):
        return None
    types = get_op(result.op).infer(list(result.inputs), Attrs(result.attrs))
    if not _keeps_types(types, node):
        return None
    controls = rw.control_inputs(node)
    new = rw.graph.create_node(
        result.op, result.inputs, result.attrs, types, name=node.name + "/", control_inputs=controls
    )
    return new.outputs


def _keeps_types(types: Sequence[OutputType], node: Node) -> bool:
    """Whether `types` are the node's output types, each shape at least as precise."""
    if len(types) != len(node.outputs):
        return False
    return all(_refines(dtype, shape, t.dtype, t.shape)
               for (dtype, shape), t in zip(types, node.outputs, strict=True))  # fmt: skip


def _refines(dtype: DType, shape: Shape | None, old_dtype: DType, old: Shape | None) -> bool:
    if dtype != old_dtype:
        return False
    try:
        return merge_shapes(old, shape) == shape
    except ShapeError:
        return False
