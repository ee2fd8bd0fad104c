"""Core layers: Dense, Activation, Dropout, Flatten, Reshape, Embedding, Lambda."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from graphnet.ir import ShapeError, Tensor
from graphnet.keras import activations, initializers, regularizers
from graphnet.keras.layer import Layer
from graphnet.ops import array, math, nn
from graphnet.ops.array import dims_of


def last_dim(input_shape: Any, layer: Layer) -> int:
    """The known size of the last axis of `input_shape`; ShapeError naming the layer if not."""
    if input_shape is None or not input_shape or input_shape[-1] is None:
        raise ShapeError(
            f"The last dimension of the inputs to `{type(layer).__name__}` should be defined. "
            f"Found `None` (layer '{layer.name}', input shape {input_shape})."
        )
    return int(input_shape[-1])


def add_bias_and_activation(layer: Any, y: Tensor) -> Tensor:
    """y (+ the layer's bias) through the layer's activation: the epilogue of Dense and convs."""
    if layer.use_bias:
        y = nn.bias_add(y, layer.bias)
    return layer.activation(y)


class Dense(Layer):
    """activation(inputs @ kernel + bias), over the last axis of inputs of any rank >= 2."""

    def __init__(
        self,
        units: int,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if int(units) <= 0:
            raise ValueError(
                f"Received an invalid value for `units`, expected a positive integer, got {units}."
            )
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self._constraints = (kernel_constraint, bias_constraint)

    def build(self, input_shape: Any) -> None:
        depth = last_dim(input_shape, self)
        kernel_c, bias_c = self._constraints
        self.kernel = self.add_weight(
            "kernel",
            (depth, self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=kernel_c,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                "bias",
                (self.units,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=bias_c,
            )
        self.built = True

    def call(self, inputs: Tensor) -> Tensor:
        rank = len(inputs.shape)
        if rank == 2:
            y = math.matmul(inputs, self.kernel)
        else:  # a tensordot over the last axis
            flat = math.matmul(array.reshape(inputs, [-1, inputs.shape[-1]]), self.kernel)
            y = array.reshape(flat, [*dims_of(inputs, rank)[:-1], self.units])
        return add_bias_and_activation(self, y)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
        }


class Activation(Layer):
    """An activation applied elementwise: Activation("relu")."""

    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def call(self, inputs: Tensor) -> Tensor:
        return self.activation(inputs)


class ReLU(Layer):
    """Keras' ReLU: max_value above it, x from threshold up, negative_slope * (x - threshold)
    below."""

    def __init__(
        self,
        max_value: float | None = None,
        negative_slope: float = 0.0,
        threshold: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if max_value is not None and max_value < 0:
            raise ValueError(f"max_value of a ReLU layer cannot be negative, got {max_value}")
        if negative_slope < 0:
            raise ValueError(
                f"negative_slope of a ReLU layer cannot be negative, got {negative_slope}"
            )
        self.max_value, self.negative_slope, self.threshold = max_value, negative_slope, threshold

    def call(self, inputs: Tensor) -> Tensor:
        if self.threshold == 0:
            y = activations.relu(inputs, alpha=self.negative_slope)
        else:
            below = (inputs - self.threshold) * self.negative_slope
            y = math.where(math.greater_equal(inputs, self.threshold), inputs, below)
        return y if self.max_value is None else math.minimum(y, self.max_value)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "max_value": self.max_value,
            "negative_slope": self.negative_slope,
            "threshold": self.threshold,
        }


class LeakyReLU(Layer):
    """x above 0, alpha * x below (Keras 2's default alpha 0.3)."""

    def __init__(self, alpha: float = 0.3, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def call(self, inputs: Tensor) -> Tensor:
        return nn.leaky_relu(inputs, self.alpha)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "alpha": self.alpha}


class Dropout(Layer):
    """In training, zeros inputs with probability `rate` and scales the rest by 1/(1-rate);
    the identity otherwise."""

    def __init__(
        self,
        rate: float,
        noise_shape: Sequence[int | None] | None = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not 0 <= rate <= 1:
            raise ValueError(
                f"Invalid value {rate} received for `rate`, expected a value between 0 and 1."
            )
        self.rate = float(rate)
        self.noise_shape = noise_shape
        self.seed = seed

    def call(self, inputs: Tensor, training: Any = None) -> Tensor:
        if self.rate == 0 or training is False:
            return inputs
        return nn.dropout(
            inputs,
            rate=self.rate,
            noise_shape=self.noise_shape,
            seed=self.seed,
            training=training,
        )


def _known_size(dims: Sequence[int | None]) -> int | None:
    return None if any(d is None for d in dims) else int(np.prod(dims, dtype=np.int64))


class Flatten(Layer):
    """Each example flattened to one axis: (batch, ...) -> (batch, product of the rest)."""

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        require_channels_last(data_format, self)

    def call(self, inputs: Tensor) -> Tensor:
        if len(inputs.shape) == 1:
            return array.expand_dims(inputs, 1)
        size = _known_size(inputs.shape[1:])
        batch = array.shape(inputs)[0]
        return array.reshape(inputs, [batch, -1 if size is None else size])


class Reshape(Layer):
    """Each example reshaped to `target_shape` (which excludes the batch; one dim may be -1)."""

    def __init__(self, target_shape: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)

    def call(self, inputs: Tensor) -> Tensor:
        size = _known_size(inputs.shape[1:])
        target = list(self.target_shape)
        if size is not None and -1 in target:
            rest = int(np.prod([d for d in target if d != -1], dtype=np.int64))
            if rest == 0 or size % rest:
                raise ShapeError(
                    f"total size of the new array must be unchanged: input shape "
                    f"{inputs.shape[1:]}, target shape {self.target_shape}"
                )
            target[target.index(-1)] = size // rest
        if size is not None and -1 not in target and size != int(np.prod(target)):
            raise ShapeError(
                f"total size of the new array must be unchanged: input shape "
                f"{inputs.shape[1:]}, target shape {self.target_shape}"
            )
        return array.reshape(inputs, [array.shape(inputs)[0], *target])


class Embedding(Layer):
    """Integer indices (any shape) -> rows of an (input_dim, output_dim) table."""

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer: Any = "uniform",
        embeddings_regularizer: Any = None,
        activity_regularizer: Any = None,
        embeddings_constraint: Any = None,
        mask_zero: bool = False,
        input_length: int | None = None,
        **kwargs: Any,
    ) -> None:
        if "input_shape" not in kwargs and "batch_input_shape" not in kwargs:
            kwargs["input_shape"] = (input_length,)
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if mask_zero:
            raise ValueError(f"layer '{self.name}': mask_zero (masking) is not supported")
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self._constraint = embeddings_constraint

    def build(self, input_shape: Any) -> None:
        self.embeddings = self.add_weight(
            "embeddings",
            (self.input_dim, self.output_dim),
            initializer=self.embeddings_initializer,
            regularizer=self.embeddings_regularizer,
            constraint=self._constraint,
        )
        self.built = True

    def call(self, inputs: Tensor) -> Tensor:
        ids = inputs if inputs.dtype.is_integer else math.cast(inputs, "int32")
        return array.gather(self.embeddings, ids)


class Lambda(Layer):
    """Wraps a function of gn Tensors as a layer: Lambda(lambda x: x * 2)."""

    def __init__(
        self,
        function: Callable[..., Any],
        output_shape: Any = None,
        mask: Any = None,
        arguments: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.function = function
        self.arguments = dict(arguments or {})

    def call(self, inputs: Any) -> Any:
        return self.function(inputs, **self.arguments)


def require_channels_last(data_format: str | None, layer: Layer) -> None:
    if data_format not in (None, "channels_last"):
        raise ValueError(
            f"layer '{layer.name}': data_format {data_format!r} is not supported; graphnet is "
            "channels_last (NHWC)"
        )


__all__ = ["Activation", "Dense", "Dropout", "Embedding", "Flatten", "Lambda", "Reshape"]
