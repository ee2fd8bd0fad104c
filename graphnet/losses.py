"""gn.losses: TF1's tf.losses. Each loss weights its per-element losses, reduces them to a scalar
(by default the sum over the count of nonzero weights: the mean when weights=1) and adds the
result to the graph's LOSSES collection."""

from __future__ import annotations

from collections.abc import Callable

from graphnet.ir import GraphKeys, Tensor
from graphnet.ir.graph import get_default_graph
from graphnet.ops import losses as nn_losses
from graphnet.ops.array import ones_like, shape, size
from graphnet.ops.control import stop_gradient
from graphnet.ops.core import (
    TensorLike,
    check_same_shape,
    constant,
    convert_operands,
    convert_to_tensor,
    op_scope,
)
from graphnet.ops.math import (
    abs as abs_,
    add_n,
    cast,
    greater,
    log,
    maximum,
    minimum,
    not_equal,
    reduce_sum,
    squared_difference,
    where,
)


class Reduction:
    """How compute_weighted_loss reduces weighted per-element losses (tf.losses.Reduction)."""

    NONE = "none"
    SUM = "weighted_sum"
    SUM_OVER_BATCH_SIZE = "weighted_sum_over_batch_size"
    MEAN = "weighted_mean"
    SUM_BY_NONZERO_WEIGHTS = "weighted_sum_by_nonzero_weights"
    SUM_OVER_NONZERO_WEIGHTS = SUM_BY_NONZERO_WEIGHTS

    @classmethod
    def all(cls) -> tuple[str, ...]:
        return (cls.NONE, cls.SUM, cls.MEAN, cls.SUM_OVER_BATCH_SIZE, cls.SUM_BY_NONZERO_WEIGHTS)

    @classmethod
    def validate(cls, key: str) -> None:
        if key not in cls.all():
            raise ValueError(f"invalid reduction {key!r}; expected one of {cls.all()}")


def _as_dtype_of(value: TensorLike, like: Tensor) -> Tensor:
    """`value` as a Tensor of like's dtype (a cast only where it is a Tensor of another)."""
    return cast(convert_operands(like, value)[1], like.dtype)


def _div_no_nan(total: Tensor, count: Tensor) -> Tensor:
    """total / count, and 0 where count is 0."""
    positive = greater(count, 0.0)
    return where(positive, total / where(positive, count, 1.0), 0.0)


def compute_weighted_loss(
    losses: TensorLike,
    weights: TensorLike = 1.0,
    scope: str | None = None,
    loss_collection: str | None = GraphKeys.LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Tensor:
    """losses * weights (weights broadcast against losses) reduced by `reduction`; the result
    is added to `loss_collection` (None: to no collection)."""
    Reduction.validate(reduction)
    with op_scope([losses, weights], scope, "weighted_loss"):
        losses = convert_to_tensor(losses)
        weights = _as_dtype_of(weights, losses)
        weighted = losses * weights
        if reduction == Reduction.NONE:
            loss = weighted
        else:
            total = reduce_sum(weighted)
            if reduction == Reduction.SUM:
                loss = total
            elif reduction == Reduction.MEAN:
                loss = _div_no_nan(total, reduce_sum(ones_like(losses) * weights))
            elif reduction == Reduction.SUM_OVER_BATCH_SIZE:
                loss = _div_no_nan(total, cast(size(losses), losses.dtype))
            else:
                present = cast(not_equal(weights, 0.0), losses.dtype)
                loss = _div_no_nan(total, reduce_sum(ones_like(losses) * present))
    if loss_collection:
        add_loss(loss, loss_collection)
    return loss


def _weighted_loss(
    default_scope: str,
    per_element: Callable[[Tensor, Tensor], Tensor],
    labels: TensorLike,
    predictions: TensorLike,
    weights: TensorLike,
    scope: str | None,
    loss_collection: str | None,
    reduction: str,
) -> Tensor:
    """The shared frame of the regression-style losses: predictions as a Tensor, labels cast to
    its dtype with a compatible shape, per-element losses reduced by compute_weighted_loss."""
    with op_scope([labels, predictions, weights], scope, default_scope) as name:
        predictions = convert_to_tensor(predictions)
        labels = _as_dtype_of(labels, predictions)
        check_same_shape(labels, predictions, "labels", name)
        return compute_weighted_loss(
            per_element(labels, predictions), weights, None, loss_collection, reduction
        )


def absolute_difference(
    labels: TensorLike,
    predictions: TensorLike,
    weights: TensorLike = 1.0,
    scope: str | None = None,
    loss_collection: str | None = GraphKeys.LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Tensor:
    """Weighted |predictions - labels|."""
    return _weighted_loss(
        "absolute_difference", lambda y, p: abs_(p - y),
        labels, predictions, weights, scope, loss_collection, reduction,
    )  # fmt: skip


def mean_squared_error(
    labels: TensorLike,
    predictions: TensorLike,
    weights: TensorLike = 1.0,
    scope: str | None = None,
    loss_collection: str | None = GraphKeys.LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Tensor:
    """Weighted (predictions - labels) ** 2."""
    return _weighted_loss(
        "mean_squared_error", squared_difference,
        labels, predictions, weights, scope, loss_collection, reduction,
    )  # fmt: skip


def huber_loss(
    labels: TensorLike,
    predictions: TensorLike,
    weights: TensorLike = 1.0,
    delta: float = 1.0,
    scope: str | None = None,
    loss_collection: str | None = GraphKeys.LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Tensor:
    """Weighted 0.5 * e ** 2 where |e| <= delta, else delta * (|e| - 0.5 * delta)."""

    def per_element(y: Tensor, p: Tensor) -> Tensor:
        error = abs_(p - y)
        quadratic = minimum(error, delta)
        return 0.5 * quadratic * quadratic + delta * (error - quadratic)

    return _weighted_loss(
        "huber_loss", per_element, labels, predictions, weights, scope, loss_collection, reduction
    )


def log_loss(
    labels: TensorLike,
    predictions: TensorLike,
    weights: TensorLike = 1.0,
    epsilon: float = 1e-7,
    scope: str | None = None,
    loss_collection: str | None = GraphKeys.LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Tensor:
    """Weighted -y * log(p + eps) - (1 - y) * log(1 - p + eps) for probabilities p."""
    return _weighted_loss(
        "log_loss",
        lambda y, p: -y * log(p + epsilon) - (1.0 - y) * log(1.0 - p + epsilon),
        labels, predictions, weights, scope, loss_collection, reduction,
    )  # fmt: skip


def cosine_distance(
    labels: TensorLike,
    predictions: TensorLike,
    axis: int | None = None,
    weights: TensorLike = 1.0,
    scope: str | None = None,
    loss_collection: str | None = GraphKeys.LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Tensor:
    """Weighted 1 - sum(labels * predictions, axis) for unit-normalized labels and predictions
    (the reduced axis is kept, size 1, as in TF)."""
    if axis is None:
        raise ValueError("cosine_distance needs `axis`, the axis of the vectors")
    return _weighted_loss(
        "cosine_distance_loss",
        lambda y, p: 1.0 - reduce_sum(y * p, axis, keepdims=True),
        labels, predictions, weights, scope, loss_collection, reduction,
    )  # fmt: skip


def hinge_loss(
    labels: TensorLike,
    logits: TensorLike,
    weights: TensorLike = 1.0,
    scope: str | None = None,
    loss_collection: str | None = GraphKeys.LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Tensor:
    """Weighted binary hinge max(0, 1 - (2y - 1) * logits) for labels y in {0, 1}."""
    return _weighted_loss(
        "hinge_loss", lambda y, x: maximum(1.0 - (2.0 * y - 1.0) * x, 0.0),
        labels, logits, weights, scope, loss_collection, reduction,
    )  # fmt: skip


def sigmoid_cross_entropy(
    multi_class_labels: TensorLike,
    logits: TensorLike,
    weights: TensorLike = 1.0,
    label_smoothing: float = 0,
    scope: str | None = None,
    loss_collection: str | None = GraphKeys.LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Tensor:
    """Weighted sigmoid cross-entropy; labels smoothed toward 1/2 by `label_smoothing`."""

    def per_element(z: Tensor, x: Tensor) -> Tensor:
        if label_smoothing > 0:
            z = z * (1.0 - label_smoothing) + 0.5 * label_smoothing
        return nn_losses.sigmoid_cross_entropy_with_logits(z, x)

    return _weighted_loss(
        "sigmoid_cross_entropy_loss", per_element,
        multi_class_labels, logits, weights, scope, loss_collection, reduction,
    )  # fmt: skip


def softmax_cross_entropy(
    onehot_labels: TensorLike,
    logits: TensorLike,
    weights: TensorLike = 1.0,
    label_smoothing: float = 0,
    scope: str | None = None,
    loss_collection: str | None = GraphKeys.LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Tensor:
    """Weighted softmax cross-entropy over the last axis of logits [batch, classes]; labels
    smoothed toward 1/classes by `label_smoothing` (no gradient flows to the labels)."""
    with op_scope([onehot_labels, logits, weights], scope, "softmax_cross_entropy_loss") as name:
        logits = convert_to_tensor(logits)
        labels = _as_dtype_of(onehot_labels, logits)
        check_same_shape(labels, logits, "onehot_labels", name)
        if label_smoothing > 0:
            classes = cast(shape(logits)[-1], logits.dtype)
            labels = labels * (1.0 - label_smoothing) + label_smoothing / classes
        per_example = nn_losses.softmax_cross_entropy_with_logits(stop_gradient(labels), logits)
        return compute_weighted_loss(per_example, weights, None, loss_collection, reduction)


def _sparse_loss(
    default_scope: str,
    per_example: Callable[[Tensor, Tensor], Tensor],
    labels: TensorLike,
    logits: TensorLike,
    weights: TensorLike,
    scope: str | None,
    loss_collection: str | None,
    reduction: str,
) -> Tensor:
    with op_scope([labels, logits, weights], scope, default_scope):
        return compute_weighted_loss(
            per_example(labels, logits), weights, None, loss_collection, reduction
        )


def sparse_softmax_cross_entropy(
    labels: TensorLike,
    logits: TensorLike,
    weights: TensorLike = 1.0,
    scope: str | None = None,
    loss_collection: str | None = GraphKeys.LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Tensor:
    """Weighted softmax cross-entropy for integer labels [batch] and logits [batch, classes]."""
    return _sparse_loss(
        "sparse_softmax_cross_entropy_loss",
        nn_losses.sparse_softmax_cross_entropy_with_logits,
        labels, logits, weights, scope, loss_collection, reduction,
    )  # fmt: skip


def multiclass_hinge_loss(
    labels: TensorLike,
    logits: TensorLike,
    weights: TensorLike = 1.0,
    delta: float = 1.0,
    scope: str | None = None,
    loss_collection: str | None = GraphKeys.LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Tensor:
    """Weighted multi-class SVM loss (gn.nn.multiclass_hinge_loss) for integer labels [batch]
    and scores [batch, classes]: by default its mean over the batch."""
    return _sparse_loss(
        "multiclass_hinge_loss",
        lambda y, s: nn_losses.multiclass_hinge_loss(y, s, delta),
        labels, logits, weights, scope, loss_collection, reduction,
    )  # fmt: skip


# -- the LOSSES collection ----------------------------------------------------------------------


def add_loss(loss: Tensor, loss_collection: str = GraphKeys.LOSSES) -> None:
    """Adds `loss` to `loss_collection` of its graph."""
    if loss_collection:
        loss = convert_to_tensor(loss)
        loss.graph.add_to_collection(loss_collection, loss)


def get_losses(scope: str | None = None, loss_collection: str = GraphKeys.LOSSES) -> list[Tensor]:
    """The losses of `loss_collection` whose names match `scope` (a regex prefix)."""
    return get_default_graph().get_collection(loss_collection, scope)


def get_regularization_losses(scope: str | None = None) -> list[Tensor]:
    """The REGULARIZATION_LOSSES collection, filtered by `scope`."""
    return get_default_graph().get_collection(GraphKeys.REGULARIZATION_LOSSES, scope)


def get_regularization_loss(
    scope: str | None = None, name: str = "total_regularization_loss"
) -> Tensor:
    """The sum of the regularization losses, or a float32 0 when there are none."""
    losses = get_regularization_losses(scope)
    if not losses:
        return constant(0.0, name=name)
    return add_n(losses, name=name)


def get_total_loss(
    add_regularization_losses: bool = True, name: str = "total_loss", scope: str | None = None
) -> Tensor:
    """The sum of the LOSSES collection, plus REGULARIZATION_LOSSES when asked (the default)."""
    losses = get_losses(scope)
    if add_regularization_losses:
        losses += get_regularization_losses(scope)
    if not losses:
        raise ValueError("no losses: the LOSSES (and REGULARIZATION_LOSSES) collections are empty")
    return add_n(losses, name=name)


__all__ = [
    "Reduction", "absolute_difference", "add_loss", "compute_weighted_loss", "cosine_distance",
    "get_losses", "get_regularization_loss", "get_regularization_losses", "get_total_loss",
    "hinge_loss", "huber_loss", "log_loss", "mean_squared_error", "multiclass_hinge_loss",
    "sigmoid_cross_entropy", "softmax_cross_entropy", "sparse_softmax_cross_entropy",
]  # fmt: skip
