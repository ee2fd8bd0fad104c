"""BatchNormalization over the last axis, with Keras 2's moving statistics."""

from __future__ import annotations

from typing import Any

from graphnet.ir import GraphKeys, Tensor
from graphnet.ir.graph import get_default_graph
from graphnet.keras import initializers, regularizers
from graphnet.keras.layer import Layer
from graphnet.keras.layers.core import last_dim
from graphnet.ops import array, nn
from graphnet.ops.core import convert_to_tensor
from graphnet.ops.math import cast, maximum, where
from graphnet.ops.state import assign


class BatchNormalization(Layer):
    """gamma * (x - mean) / sqrt(var + epsilon) + beta over the last axis.

    In training (fit) it normalizes with the batch's statistics and moves the moving ones
    toward them: moving = moving * momentum + batch * (1 - momentum), with the batch variance
    Bessel-corrected for 4-D inputs (Keras' fused path) and not for others. In inference
    (predict, evaluate) it normalizes with the moving statistics. A layer that is not
    trainable always runs in inference mode (Keras 2's rule for fine-tuning).
    """

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        moving_mean_initializer: Any = "zeros",
        moving_variance_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        beta_constraint: Any = None,
        gamma_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.axis = axis
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = center
        self.scale = scale
        self._initializers = tuple(
            initializers.get(i)
            for i in (beta_initializer, gamma_initializer, moving_mean_initializer,
                      moving_variance_initializer)
        )  # fmt: skip
        self._regularizers = (
            regularizers.get(beta_regularizer),
            regularizers.get(gamma_regularizer),
        )
        self._constraints = (beta_constraint, gamma_constraint)

    def build(self, input_shape: Any) -> None:
        rank = len(input_shape)
        if self.axis not in (-1, rank - 1):
            raise ValueError(
                f"layer '{self.name}': only the last axis (channels_last) can be normalized, "
                f"got axis={self.axis} for inputs of rank {rank}"
            )
        channels = (last_dim(input_shape, self),)
        beta_init, gamma_init, mean_init, var_init = self._initializers
        beta_reg, gamma_reg = self._regularizers
        beta_c, gamma_c = self._constraints
        if self.scale:
            self.gamma = self.add_weight(
                "gamma", channels, initializer=gamma_init, regularizer=gamma_reg, constraint=gamma_c
            )
        if self.center:
            self.beta = self.add_weight(
                "beta", channels, initializer=beta_init, regularizer=beta_reg, constraint=beta_c
            )
        self.moving_mean = self.add_weight(
            "moving_mean", channels, initializer=mean_init, trainable=False
        )
        self.moving_variance = self.add_weight(
            "moving_variance", channels, initializer=var_init, trainable=False
        )
        self.built = True

    def call(self, inputs: Tensor, training: Any = None) -> Tensor:
        channels = inputs.shape[-1]
        gamma = self.gamma if self.scale else array.ones([channels], inputs.dtype)
        beta = self.beta if self.center else array.zeros([channels], inputs.dtype)
        inference = nn.batch_normalization(
            inputs, self.moving_mean, self.moving_variance, beta, gamma, self.epsilon
        )
        if not self.trainable or training is False:
            return inference
        y, mean, variance = nn.fused_batch_norm(inputs, gamma, beta, epsilon=self.epsilon)
        if len(inputs.shape) != 4:  # the non-fused path: the population variance
            n = cast(array.size(inputs), inputs.dtype) / float(channels)
            variance = variance * (n - 1.0) / maximum(n, 1.0)
        phase = None if training is True else convert_to_tensor(training)
        for moving, batch in ((self.moving_mean, mean), (self.moving_variance, variance)):
            moved = moving - (moving - batch) * (1.0 - self.momentum)
            update = assign(moving, moved if phase is None else where(phase, moved, moving))
            get_default_graph().add_to_collection(GraphKeys.UPDATE_OPS, update)
        return y if phase is None else where(phase, y, inference)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
        }


__all__ = ["BatchNormalization"]
