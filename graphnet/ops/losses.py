"""Per-example losses (tf.nn.*): cross-entropies and the multi-class hinge, all numerically stable.

Compositions of math, array and nn ops: they need no kernels or gradient rules of their own.
Every one stays finite for logits of any magnitude (log_softmax shifts by the maximum, softplus
is max(x, 0) + log1p(exp(-|x|))).
"""

from __future__ import annotations

from graphnet.ir import DTypeError, ShapeError, Tensor
from graphnet.ir.types import format_shape, merge_shapes
from graphnet.ops import array, nn
from graphnet.ops.core import (
    TensorLike,
    check_same_shape,
    convert_operands,
    convert_to_tensor,
    op_scope,
)
from graphnet.ops.math import maximum, reduce_sum


def softmax_cross_entropy_with_logits(
    labels: TensorLike, logits: TensorLike, axis: int = -1, name: str | None = None
) -> Tensor:
    """-sum(labels * log_softmax(logits)) along `axis`, per example; labels are a distribution
    and receive a gradient too (TF2's semantics, TF1's _v2)."""
    with op_scope([labels, logits], name, "softmax_cross_entropy_with_logits") as scope:
        labels, logits = convert_operands(labels, logits)
        check_same_shape(labels, logits, "labels", scope)
        return -reduce_sum(labels * nn.log_softmax(logits, axis), axis)


softmax_cross_entropy_with_logits_v2 = softmax_cross_entropy_with_logits


def num_classes(logits: Tensor, scope: str) -> int:
    """The static size of the last (class) axis of logits; ShapeError when unknown."""
    if logits.shape is None or not logits.shape or logits.shape[-1] is None:
        raise ShapeError(
            f"'{scope.rstrip('/')}': logits {logits.name} of shape {format_shape(logits.shape)} "
            "need a known number of classes (last axis)"
        )
    return logits.shape[-1]


def _sparse_labels_one_hot(labels: TensorLike, logits: Tensor, scope: str) -> Tensor:
    """Integer class labels [...] for logits [..., classes] as one-hot rows of logits' dtype."""
    labels = convert_to_tensor(labels)
    if not labels.dtype.is_integer:
        raise DTypeError(
            f"'{scope.rstrip('/')}': labels {labels.name} must be integer class indices, "
            f"got {labels.dtype}"
        )
    depth = num_classes(logits, scope)
    if logits.shape is not None and labels.shape is not None:
        try:
            merge_shapes(labels.shape, logits.shape[:-1])
        except ShapeError:
            raise ShapeError(
                f"'{scope.rstrip('/')}': labels {labels.name} has shape "
                f"{format_shape(labels.shape)}, expected logits' shape without its class axis, "
                f"{format_shape(logits.shape[:-1])} (logits: {format_shape(logits.shape)})"
            ) from None
    return array.one_hot(labels, depth, dtype=logits.dtype)


def sparse_softmax_cross_entropy_with_logits(
    labels: TensorLike, logits: TensorLike, name: str | None = None
) -> Tensor:
    """-log_softmax(logits)[label] per example, for integer labels [...] and logits [..., C]."""
    with op_scope([labels, logits], name, "sparse_softmax_cross_entropy_with_logits") as scope:
        logits = convert_to_tensor(logits)
        one_hot = _sparse_labels_one_hot(labels, logits, scope)
        return -reduce_sum(one_hot * nn.log_softmax(logits), -1)


def sigmoid_cross_entropy_with_logits(
    labels: TensorLike, logits: TensorLike, name: str | None = None
) -> Tensor:
    """Elementwise max(x, 0) - x * z + log1p(exp(-|x|)) for logits x and labels z in [0, 1]."""
    with op_scope([labels, logits], name, "logistic_loss") as scope:
        labels, logits = convert_operands(labels, logits)
        check_same_shape(labels, logits, "labels", scope)
        return nn.softplus(logits) - logits * labels


def weighted_cross_entropy_with_logits(
    labels: TensorLike, logits: TensorLike, pos_weight: TensorLike, name: str | None = None
) -> Tensor:
    """Sigmoid cross-entropy whose positive term is weighted by `pos_weight`:
    (1 - z) * x + (1 + (pos_weight - 1) * z) * log(1 + exp(-x))."""
    with op_scope([labels, logits, pos_weight], name, "logistic_loss") as scope:
        labels, logits, pos_weight = convert_operands(labels, logits, pos_weight)
        check_same_shape(labels, logits, "labels", scope)
        log_weight = 1.0 + (pos_weight - 1.0) * labels
        return (1.0 - labels) * logits + log_weight * nn.softplus(-logits)


def multiclass_hinge_loss(
    labels: TensorLike, logits: TensorLike, delta: float = 1.0, name: str | None = None
) -> Tensor:
    """The multi-class SVM loss (cs231n) per example: sum over j != label of
    max(0, s_j - s_label + delta), for integer labels [...] and scores [..., C]."""
    with op_scope([labels, logits], name, "multiclass_hinge_loss") as scope:
        logits = convert_to_tensor(logits)
        one_hot = _sparse_labels_one_hot(labels, logits, scope)
        correct = reduce_sum(one_hot * logits, -1, keepdims=True)
        margins = maximum(logits - correct + delta, 0.0)
        return reduce_sum(margins * (1.0 - one_hot), -1)


__all__ = [
    "multiclass_hinge_loss",
    "sigmoid_cross_entropy_with_logits",
    "softmax_cross_entropy_with_logits",
    "softmax_cross_entropy_with_logits_v2",
    "sparse_softmax_cross_entropy_with_logits",
    "weighted_cross_entropy_with_logits",
]
