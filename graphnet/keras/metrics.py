"""gn.keras.metrics: per-example metric functions and how compile() resolves metric names.

A metric maps (y_true, y_pred) to one value per example; fit and evaluate report its mean over
the examples seen so far in the epoch, as Keras' stateful Mean metrics do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphnet.ir import Tensor
from graphnet.keras import losses
from graphnet.ops import math
from graphnet.ops.core import TensorLike, convert_to_tensor

MetricFn = Callable[[Tensor, Tensor], Tensor]


def binary_accuracy(y_true: TensorLike, y_pred: TensorLike, threshold: float = 0.5) -> Tensor:
    """mean(y_true == (y_pred > threshold)) over the last axis."""
    y_pred = convert_to_tensor(y_pred)
    y_true = math.cast(convert_to_tensor(y_true), y_pred.dtype)
    predicted = math.cast(math.greater(y_pred, threshold), y_pred.dtype)
    return math.reduce_mean(math.cast(math.equal(y_true, predicted), y_pred.dtype), -1)


def categorical_accuracy(y_true: TensorLike, y_pred: TensorLike) -> Tensor:
    """1 where argmax(y_true) == argmax(y_pred) (one-hot labels), else 0."""
    y_pred = convert_to_tensor(y_pred)
    hit = math.equal(math.argmax(y_true, -1), math.argmax(y_pred, -1))
    return math.cast(hit, y_pred.dtype)


def sparse_categorical_accuracy(y_true: TensorLike, y_pred: TensorLike) -> Tensor:
    """1 where the integer label equals argmax(y_pred), else 0."""
    y_pred = convert_to_tensor(y_pred)
    labels = losses.sparse_labels(y_true, y_pred)
    hit = math.equal(labels, math.argmax(y_pred, -1, output_type="int32"))
    return math.cast(hit, y_pred.dtype)


mean_squared_error = mse = MSE = losses.mean_squared_error
mean_absolute_error = mae = MAE = losses.mean_absolute_error
mean_absolute_percentage_error = mape = MAPE = losses.mean_absolute_percentage_error
categorical_crossentropy = losses.categorical_crossentropy
sparse_categorical_crossentropy = losses.sparse_categorical_crossentropy
binary_crossentropy = losses.binary_crossentropy
hinge = losses.hinge

_BY_NAME: dict[str, MetricFn] = {
    "binary_accuracy": binary_accuracy,
    "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "mean_squared_error": mean_squared_error,
    "mse": mean_squared_error,
    "mean_absolute_error": mean_absolute_error,
    "mae": mean_absolute_error,
    "mean_absolute_percentage_error": mean_absolute_percentage_error,
    "mape": mean_absolute_percentage_error,
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "binary_crossentropy": binary_crossentropy,
    "hinge": hinge,
}


def accuracy_for(y_true_shape: tuple[int | None, ...], y_pred_shape: tuple[int | None, ...]):
    """The accuracy Keras picks for 'accuracy' / 'acc' from the shapes of the labels and the
    predictions: binary for one output unit, sparse categorical for integer labels (lower
    rank, or a last axis of 1 against several units), else categorical."""
    if y_pred_shape[-1] == 1:
        return binary_accuracy
    sparse = len(y_true_shape) < len(y_pred_shape) or (
        y_true_shape[-1] == 1 and y_pred_shape[-1] != 1
    )
    return sparse_categorical_accuracy if sparse else categorical_accuracy


def name_of(identifier: Any) -> str:
    """The name fit reports for a metric given to compile()."""
    if isinstance(identifier, str):
        return identifier
    if isinstance(identifier, losses.Loss):
        return identifier.name
    return getattr(identifier, "__name__", type(identifier).__name__)


def resolve(
    identifier: Any, y_true_shape: tuple[int | None, ...], y_pred_shape: tuple[int | None, ...]
) -> tuple[str, MetricFn]:
    """(the name fit reports, the per-example function) of a metric given to compile()."""
    if identifier in ("accuracy", "acc"):
        return identifier, accuracy_for(y_true_shape, y_pred_shape)
    return name_of(identifier), get(identifier)


def get(identifier: Any) -> MetricFn:
    """The per-example function of a metric name ('accuracy' needs shapes: see resolve), a
    Loss object or a callable."""
    if isinstance(identifier, losses.Loss):
        return identifier.call
    if callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]
    raise ValueError(
        f"Unknown metric function: {identifier!r}; expected a callable, 'accuracy' or one of "
        f"{sorted(_BY_NAME)}"
    )


__all__ = [
    "binary_accuracy", "categorical_accuracy", "get", "mae", "mean_absolute_error",
    "mean_squared_error", "mse", "sparse_categorical_accuracy",
]  # fmt: skip
