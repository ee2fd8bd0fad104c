"""fold_batchnorm: an inference batch norm after a conv2d, depthwise_conv2d or matmul becomes
that op with scaled weights plus a bias.

For fused_batch_norm(y, scale, offset, mean, variance) {is_training=false} whose input y is the
op's output (optionally plus a per-channel bias b: bias_add, or add of a vector) and used by the
batch norm only:

    inv = scale * rsqrt(variance + epsilon)
    w'  = w * inv            along w's output channels (depthwise [kh, kw, cin, m]: inv
                             reshaped to [cin, m]; matmul with transpose_b: inv as a column)
    b'  = (b - mean) * inv + offset        (offset - mean * inv without b)
    bn  = bias_add(op(x, w'), b')

The arithmetic is emitted as ops on the weight and batch-norm tensors, never evaluated here:
fold_constants computes it once when variables are frozen into constants; otherwise it runs on
the small weight tensors each run. The batch norm's other outputs (in inference, its mean and
variance inputs) are rewired to those inputs. Nodes with control edges are left alone, and so
is a fold that would move a weight read across an assignment. Needs nothing before it.
Counts: `folded`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from graphnet.compiler.passes.fuse import Uses, added_bias
from graphnet.compiler.pipeline import PassContext, register_pass
from graphnet.compiler.rewrite import Rewriter, rewrite
from graphnet.ir import Graph, Node, Tensor
from graphnet.ir.types import is_fully_defined
from graphnet.ops.array import expand_dims, reshape
from graphnet.ops.core import apply_op, apply_op1
from graphnet.ops.math import add, multiply, negative, rsqrt, subtract

_FOLDABLE = ("conv2d", "depthwise_conv2d", "matmul")


@dataclass(frozen=True)
class _Fold:
    """The op a batch norm folds into, and the bias between them (node and vector), if any."""

    op: Node
    bias_node: Node | None
    bias: Tensor | None


def _find_fold(bn: Node, uses: Uses) -> _Fold | None:
    if bn.type != "fused_batch_norm" or bn.attrs["is_training"]:
        return None
    y = bn.inputs[0]
    if uses.sole_consumer(y) is not bn:
        return None
    bias_node, bias = None, None
    if y.node.type in ("bias_add", "add"):
        bias_node = y.node
        op_out = next((t for t in bias_node.inputs if t.node.type in _FOLDABLE), None)
        bias = None if op_out is None else added_bias(bias_node, op_out)
        if bias is None or uses.sole_consumer(op_out) is not bias_node:
            return None
        y = op_out
    op = y.node
    moved = [n for n in (op, bias_node) if n is not None]  # their reads move to the bn
    if (
        op.type not in _FOLDABLE
        or bn.control_inputs
        or any(n.control_inputs or n in uses.control_dependents for n in moved)
        or any(uses.moves_across_write(n, bn) for n in moved)
        or (op.type == "depthwise_conv2d" and not is_fully_defined(op.inputs[1].shape))
    ):
        return None
    return _Fold(op, bias_node, bias)


def _channel_scale(op: Node, inv: Tensor) -> Tensor:
    """`inv` shaped to multiply the op's weights along their output channels."""
    w = op.inputs[1]
    if op.type == "depthwise_conv2d":
        return reshape(inv, [w.shape[2], w.shape[3]])
    if op.type == "matmul" and op.attrs["transpose_b"]:
        return expand_dims(inv, 1)
    return inv


def _emit(bn: Node, fold: _Fold, rw: Rewriter) -> list[Tensor]:
    scale, offset, mean, variance = (rw.tensor(t) for t in bn.inputs[1:])
    x, w = rw.inputs(fold.op)
    with rw.graph.name_scope(f"{bn.name}/fold/"):
        inv = multiply(scale, rsqrt(add(variance, bn.attrs["epsilon"])), name="inv")
        scaled = multiply(w, _channel_scale(fold.op, inv), name="weights")
        shift = negative(mean) if fold.bias is None else subtract(rw.tensor(fold.bias), mean)
        bias = add(multiply(shift, inv), offset, name="bias")
    y = apply_op(fold.op.type, [x, scaled], fold.op.attrs, name=fold.op.name + "/").outputs[0]
    return [apply_op1("bias_add", [y, bias], name=bn.name + "/"), mean, variance]


@register_pass("fold_batchnorm")
def fold_batchnorm(graph: Graph, ctx: PassContext) -> Graph:
    """Folds inference batch norms into the conv2d / depthwise_conv2d / matmul before them,
    as weight arithmetic (see the module docstring)."""
    uses = Uses.of(graph)
    folds = {n: f for n in graph.nodes if (f := _find_fold(n, uses)) is not None}
    absorbed = {n for f in folds.values() for n in (f.op, f.bias_node) if n is not None}

    def visit(node: Node, rw: Rewriter) -> Sequence[Tensor] | None:
        if node in absorbed:
            rw.drop(node)
            return None
        fold = folds.get(node)
        return None if fold is None else _emit(node, fold, rw)

    new = rewrite(graph, visit)
    ctx.count("folded", len(folds))
    return new
