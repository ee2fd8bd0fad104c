"""gn.keras.losses: Keras' loss functions (per example) and Loss classes (reduced to a mean).

A loss function maps (y_true, y_pred) to one value per example (the mean over the last axis
for elementwise losses). The cross-entropies follow Keras: with from_logits=False they compute
from probabilities clipped to [epsilon, 1 - epsilon], except that when y_pred is the output of
a softmax (categorical) or sigmoid (binary) op they compute from its logits, which is exact
where the clipped form saturates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphnet.ir import Tensor
from graphnet.keras import backend
from graphnet.keras.activations import logits_of
from graphnet.ops import array, losses as nn_losses, math
from graphnet.ops.core import TensorLike, convert_to_tensor

LossFn = Callable[[Tensor, Tensor], Tensor]


def _pair(y_true: TensorLike, y_pred: TensorLike) -> tuple[Tensor, Tensor]:
    """y_pred as a Tensor and y_true as one of its dtype."""
    y_pred = convert_to_tensor(y_pred)
    y_true = convert_to_tensor(y_true)
    if y_true.dtype != y_pred.dtype:
        y_true = math.cast(y_true, y_pred.dtype)
    return y_true, y_pred


def _clip(p: Tensor) -> Tensor:
    eps = backend.epsilon()
    return math.clip_by_value(p, eps, 1.0 - eps)


def mean_squared_error(y_true: TensorLike, y_pred: TensorLike) -> Tensor:
    """mean((y_pred - y_true) ** 2) over the last axis."""
    y_true, y_pred = _pair(y_true, y_pred)
    return math.reduce_mean(math.squared_difference(y_pred, y_true), -1)


def mean_absolute_error(y_true: TensorLike, y_pred: TensorLike) -> Tensor:
    """mean(|y_pred - y_true|) over the last axis."""
    y_true, y_pred = _pair(y_true, y_pred)
    return math.reduce_mean(math.abs(y_pred - y_true), -1)


def mean_absolute_percentage_error(y_true: TensorLike, y_pred: TensorLike) -> Tensor:
    """100 * mean(|(y_true - y_pred) / max(|y_true|, epsilon)|) over the last axis."""
    y_true, y_pred = _pair(y_true, y_pred)
    ratio = (y_true - y_pred) / math.maximum(math.abs(y_true), backend.epsilon())
    return math.reduce_mean(math.abs(ratio), -1) * 100.0


def _signed_labels(y_true: Tensor) -> Tensor:
    """Labels in {0, 1} as {-1, 1}; others are kept (Keras' hinge losses)."""
    binary = math.reduce_all(math.logical_or(math.equal(y_true, 0.0), math.equal(y_true, 1.0)))
    return math.where(binary, y_true * 2.0 - 1.0, y_true)


def hinge(y_true: TensorLike, y_pred: TensorLike) -> Tensor:
    """mean(max(1 - y_true * y_pred, 0)) over the last axis; labels -1/1 (0/1 converted)."""
    y_true, y_pred = _pair(y_true, y_pred)
    return math.reduce_mean(math.maximum(1.0 - _signed_labels(y_true) * y_pred, 0.0), -1)


def squared_hinge(y_true: TensorLike, y_pred: TensorLike) -> Tensor:
    """mean(max(1 - y_true * y_pred, 0) ** 2) over the last axis."""
    y_true, y_pred = _pair(y_true, y_pred)
    margin = math.maximum(1.0 - _signed_labels(y_true) * y_pred, 0.0)
    return math.reduce_mean(math.square(margin), -1)


def huber(y_true: TensorLike, y_pred: TensorLike, delta: float = 1.0) -> Tensor:
    """mean of 0.5 * e ** 2 where |e| <= delta, else delta * (|e| - 0.5 * delta)."""
    y_true, y_pred = _pair(y_true, y_pred)
    err = math.abs(y_pred - y_true)
    quadratic = math.minimum(err, delta)
    return math.reduce_mean(0.5 * math.square(quadratic) + delta * (err - quadratic), -1)


def kl_divergence(y_true: TensorLike, y_pred: TensorLike) -> Tensor:
    """sum(y_true * log(y_true / y_pred)) over the last axis, both clipped to [eps, 1]."""
    y_true, y_pred = _pair(y_true, y_pred)
    eps = backend.epsilon()
    t, p = math.clip_by_value(y_true, eps, 1.0), math.clip_by_value(y_pred, eps, 1.0)
    return math.reduce_sum(t * math.log(t / p), -1)


def categorical_crossentropy(
    y_true: TensorLike,
    y_pred: TensorLike,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Tensor:
    """-sum(y_true * log(y_pred)) over `axis` for one-hot (or soft) labels."""
    y_true, y_pred = _pair(y_true, y_pred)
    if label_smoothing:
        classes = float(y_pred.shape[-1])
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / classes
    logits = y_pred if from_logits else logits_of(y_pred, "softmax")
    if logits is not None:
        return nn_losses.softmax_cross_entropy_with_logits(y_true, logits, axis=axis)
    p = y_pred / math.reduce_sum(y_pred, axis, keepdims=True)
    return -math.reduce_sum(y_true * math.log(_clip(p)), axis)


def sparse_categorical_crossentropy(
    y_true: TensorLike, y_pred: TensorLike, from_logits: bool = False, axis: int = -1
) -> Tensor:
    """-log(y_pred[label]) for integer labels (shape (batch,) or (batch, 1))."""
    y_pred = convert_to_tensor(y_pred)
    labels = sparse_labels(y_true, y_pred)
    logits = y_pred if from_logits else logits_of(y_pred, "softmax")
    if logits is not None:
        return nn_losses.sparse_softmax_cross_entropy_with_logits(labels, logits)
    one_hot = array.one_hot(labels, y_pred.shape[-1], dtype=y_pred.dtype)
    return -math.reduce_sum(one_hot * math.log(_clip(y_pred)), -1)


def sparse_labels(y_true: TensorLike, y_pred: Tensor) -> Tensor:
    """Integer class labels shaped like y_pred without its class axis (int32)."""
    y_true = convert_to_tensor(y_true)
    if y_true.shape is not None and y_pred.shape is not None:
        if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == 1:
            y_true = array.squeeze(y_true, -1)
    return y_true if y_true.dtype.name == "int32" else math.cast(y_true, "int32")


def binary_crossentropy(
    y_true: TensorLike,
    y_pred: TensorLike,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Tensor:
    """mean(-(y * log(p) + (1 - y) * log(1 - p))) over `axis`."""
    y_true, y_pred = _pair(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    logits = y_pred if from_logits else logits_of(y_pred, "sigmoid")
    if logits is not None:
        return math.reduce_mean(nn_losses.sigmoid_cross_entropy_with_logits(y_true, logits), axis)
    eps = backend.epsilon()
    p = _clip(y_pred)
    bce = y_true * math.log(p + eps) + (1.0 - y_true) * math.log(1.0 - p + eps)
    return math.reduce_mean(-bce, axis)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
kld = KLD = kullback_leibler_divergence = kl_divergence


# -- Loss classes -------------------------------------------------------------------------------


class Loss:
    """A loss object: `loss(y_true, y_pred)` is the mean of `call(y_true, y_pred)`, the
    per-example values."""

    def __init__(self, fn: LossFn, name: str, **kwargs: Any) -> None:
        self.fn = fn
        self.name = name
        self._fn_kwargs = kwargs

    def call(self, y_true: TensorLike, y_pred: TensorLike) -> Tensor:
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def __call__(self, y_true: TensorLike, y_pred: TensorLike) -> Tensor:
        return math.reduce_mean(self.call(y_true, y_pred))


class CategoricalCrossentropy(Loss):
    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        name: str = "categorical_crossentropy",
    ) -> None:
        super().__init__(
            categorical_crossentropy,
            name,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class SparseCategoricalCrossentropy(Loss):
    def __init__(
        self, from_logits: bool = False, name: str = "sparse_categorical_crossentropy"
    ) -> None:
        super().__init__(sparse_categorical_crossentropy, name, from_logits=from_logits)


class BinaryCrossentropy(Loss):
    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        name: str = "binary_crossentropy",
    ) -> None:
        super().__init__(
            binary_crossentropy,
            name,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class Huber(Loss):
    def __init__(self, delta: float = 1.0, name: str = "huber_loss") -> None:
        super().__init__(huber, name, delta=delta)


class MeanSquaredError(Loss):
    def __init__(self, name: str = "mean_squared_error") -> None:
        super().__init__(mean_squared_error, name)


class MeanAbsoluteError(Loss):
    def __init__(self, name: str = "mean_absolute_error") -> None:
        super().__init__(mean_absolute_error, name)


class MeanAbsolutePercentageError(Loss):
    def __init__(self, name: str = "mean_absolute_percentage_error") -> None:
        super().__init__(mean_absolute_percentage_error, name)


class Hinge(Loss):
    def __init__(self, name: str = "hinge") -> None:
        super().__init__(hinge, name)


class SquaredHinge(Loss):
    def __init__(self, name: str = "squared_hinge") -> None:
        super().__init__(squared_hinge, name)


class KLDivergence(Loss):
    def __init__(self, name: str = "kl_divergence") -> None:
        super().__init__(kl_divergence, name)


_BY_NAME: dict[str, LossFn] = {
    "mean_squared_error": mean_squared_error,
    "mse": mean_squared_error,
    "mean_absolute_error": mean_absolute_error,
    "mae": mean_absolute_error,
    "mean_absolute_percentage_error": mean_absolute_percentage_error,
    "mape": mean_absolute_percentage_error,
    "hinge": hinge,
    "squared_hinge": squared_hinge,
    "huber": huber,
    "huber_loss": huber,
    "kl_divergence": kl_divergence,
    "kld": kl_divergence,
    "kullback_leibler_divergence": kl_divergence,
    "categorical_crossentropy": categorical_crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "binary_crossentropy": binary_crossentropy,
}


def get(identifier: str | Loss | LossFn) -> LossFn:
    """The per-example loss function of a name, a Loss object or a function."""
    if isinstance(identifier, Loss):
        return identifier.call
    if callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]
    raise ValueError(
        f"Unknown loss function: {identifier!r}; expected a callable, a Loss or one of "
        f"{sorted(_BY_NAME)}"
    )


def name_of(identifier: str | Loss | LossFn) -> str:
    """The name Keras reports for a loss."""
    if isinstance(identifier, str):
        return identifier
    if isinstance(identifier, Loss):
        return identifier.name
    return getattr(identifier, "__name__", type(identifier).__name__)


__all__ = [
    "BinaryCrossentropy", "CategoricalCrossentropy", "Hinge", "Huber", "KLDivergence", "Loss",
    "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanSquaredError",
    "SparseCategoricalCrossentropy", "SquaredHinge",
    "binary_crossentropy", "categorical_crossentropy", "get", "hinge", "huber", "kl_divergence",
    "mae", "mape", "mean_absolute_error", "mean_absolute_percentage_error",
    "mean_squared_error", "mse", "sparse_categorical_crossentropy", "squared_hinge",
]  # fmt: skip
