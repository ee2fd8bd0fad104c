"""Pooling layers (NHWC): MaxPooling2D, AveragePooling2D and the global poolings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from graphnet.ir import Tensor
from graphnet.keras.layer import Layer
from graphnet.keras.layers.convolutional import normalize_padding, normalize_tuple
from graphnet.keras.layers.core import require_channels_last
from graphnet.ops import conv, math


class _Pooling2D(Layer):
    _pool: Callable[..., Tensor]

    def __init__(
        self,
        pool_size: int | Sequence[int] = (2, 2),
        strides: int | Sequence[int] | None = None,
        padding: str = "valid",
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        require_channels_last(data_format, self)
        self.pool_size = normalize_tuple(pool_size, 2, "pool_size")
        self.strides = self.pool_size if strides is None else normalize_tuple(strides, 2, "strides")
        self.padding = padding.lower()
        self._padding = normalize_padding(padding)

    def call(self, inputs: Tensor) -> Tensor:
        return type(self)._pool(inputs, self.pool_size, self.strides, self._padding)


class MaxPooling2D(_Pooling2D):
    """The maximum over each pool_size window."""

    _pool = staticmethod(conv.max_pool2d)


class AveragePooling2D(_Pooling2D):
    """The mean over each pool_size window ('same' padding: over the window's unpadded part)."""

    _pool = staticmethod(conv.avg_pool2d)


class _GlobalPooling2D(Layer):
    _reduce: Callable[..., Tensor]

    def __init__(self, data_format: str | None = None, keepdims: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        require_channels_last(data_format, self)
        self.keepdims = keepdims

    def call(self, inputs: Tensor) -> Tensor:
        return type(self)._reduce(inputs, [1, 2], keepdims=self.keepdims)


class GlobalAveragePooling2D(_GlobalPooling2D):
    """The mean over the rows and columns: (batch, h, w, c) -> (batch, c)."""

    _reduce = staticmethod(math.reduce_mean)


class GlobalMaxPooling2D(_GlobalPooling2D):
    """The maximum over the rows and columns: (batch, h, w, c) -> (batch, c)."""

    _reduce = staticmethod(math.reduce_max)


MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D

__all__ = [
    "AveragePooling2D", "AvgPool2D", "GlobalAvgPool2D", "GlobalAveragePooling2D",
    "GlobalMaxPool2D", "GlobalMaxPooling2D", "MaxPool2D", "MaxPooling2D",
]  # fmt: skip
