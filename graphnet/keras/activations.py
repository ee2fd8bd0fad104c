"""gn.keras.activations: Keras' activation functions by name (`get("relu")`)."""

from __future__ import annotations

from collections.abc import Callable

from graphnet.ir import Tensor
from graphnet.ops import math, nn
from graphnet.ops.core import TensorLike, convert_to_tensor

Activation = Callable[[Tensor], Tensor]


def linear(x: TensorLike) -> Tensor:
    """The identity (no activation)."""
    return convert_to_tensor(x)


def softmax(x: TensorLike, axis: int = -1) -> Tensor:
    return nn.softmax(x, axis=axis)


def relu(x: TensorLike, alpha: float = 0.0, max_value: float | None = None) -> Tensor:
    """max(x, 0); with alpha, alpha * x below 0; with max_value, capped there."""
    x = convert_to_tensor(x)
    y = nn.relu(x) if alpha == 0 else nn.leaky_relu(x, alpha)
    return y if max_value is None else math.minimum(y, max_value)


def hard_sigmoid(x: TensorLike) -> Tensor:
    """clip(0.2 * x + 0.5, 0, 1), Keras 2's piecewise-linear sigmoid."""
    return math.clip_by_value(convert_to_tensor(x) * 0.2 + 0.5, 0.0, 1.0)


def exponential(x: TensorLike) -> Tensor:
    return math.exp(x)


def _leaky_relu(x: TensorLike) -> Tensor:
    return nn.leaky_relu(x, 0.3)  # Keras' LeakyReLU default alpha


_BY_NAME: dict[str, Activation] = {
    "linear": linear,
    "softmax": softmax,
    "relu": relu,
    "relu6": nn.relu6,
    "leaky_relu": _leaky_relu,
    "elu": nn.elu,
    "selu": nn.selu,
    "gelu": nn.gelu,
    "softplus": nn.softplus,
    "softsign": nn.softsign,
    "swish": nn.silu,
    "silu": nn.silu,
    "sigmoid": math.sigmoid,
    "hard_sigmoid": hard_sigmoid,
    "tanh": math.tanh,
    "exponential": exponential,
}


def get(identifier: str | Activation | None) -> Activation:
    """An activation from its name, a callable (returned as is), or None (linear)."""
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]
    raise ValueError(
        f"unknown activation {identifier!r}; expected a callable or one of {sorted(_BY_NAME)}"
    )


def serialize(activation: Activation) -> str:
    """The name of an activation (its registered name, else its __name__)."""
    for name, fn in _BY_NAME.items():
        if fn is activation:
            return name
    return getattr(activation, "__name__", type(activation).__name__)


def logits_of(output: Tensor, kind: str) -> Tensor | None:
    """The logits a 'softmax' (over the last axis) or 'sigmoid' output was computed from, else
    None: losses compute from them, which is exact where log(clip(p)) would saturate."""
    node = output.node
    if kind == "softmax" and node.type == "softmax":
        rank = None if output.shape is None else len(output.shape)
        if node.attrs["axis"] in (-1, None if rank is None else rank - 1):
            return node.inputs[0]
    if kind == "sigmoid" and node.type == "sigmoid":
        return node.inputs[0]
    return None


__all__ = ["exponential", "get", "hard_sigmoid", "linear", "relu", "serialize", "softmax"]
