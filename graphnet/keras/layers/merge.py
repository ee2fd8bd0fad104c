"""Merge layers, taking a list of tensors: Add, Subtract, Multiply, Average, Maximum, Minimum,
Concatenate, and their functional forms (add, concatenate, ...)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from graphnet.ir import ShapeError, Tensor
from graphnet.keras.layer import Layer
from graphnet.ops import array, math


class _Merge(Layer):
    """Combines two or more same-shaped (or broadcastable) inputs elementwise."""

    _combine: Callable[[Tensor, Tensor], Tensor]

    def build(self, input_shape: Any) -> None:
        if not isinstance(input_shape, list) or len(input_shape) < 2:
            raise ValueError(
                f"A merge layer ('{self.name}') should be called on a list of at least 2 "
                f"inputs. Got {0 if not isinstance(input_shape, list) else len(input_shape)} "
                "inputs."
            )
        self.built = True

    def call(self, inputs: list[Tensor]) -> Tensor:
        return functools.reduce(type(self)._combine, inputs)


class Add(_Merge):
    """The sum of the inputs."""

    _combine = staticmethod(math.add)


class Multiply(_Merge):
    """The elementwise product of the inputs."""

    _combine = staticmethod(math.multiply)


class Maximum(_Merge):
    _combine = staticmethod(math.maximum)


class Minimum(_Merge):
    _combine = staticmethod(math.minimum)


class Subtract(_Merge):
    """inputs[0] - inputs[1]."""

    _combine = staticmethod(math.subtract)

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        if len(input_shape) != 2:
            raise ValueError(
                f"A `Subtract` layer ('{self.name}') should be called on exactly "
                f"2 inputs, got {len(input_shape)}"
            )


class Average(_Merge):
    """The mean of the inputs."""

    def call(self, inputs: list[Tensor]) -> Tensor:
        return math.add_n(inputs) / float(len(inputs))


class Concatenate(_Merge):
    """The inputs joined along `axis` (the other dims must agree)."""

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = axis

    def build(self, input_shape: Any) -> None:
        super().build(input_shape)
        ranks = {len(s) for s in input_shape}
        if len(ranks) != 1:
            raise ShapeError(
                f"A `Concatenate` layer ('{self.name}') requires inputs with matching shapes "
                f"except for the concatenation axis. Received: input_shape={input_shape}"
            )

    def call(self, inputs: list[Tensor]) -> Tensor:
        return array.concat(list(inputs), self.axis)


def _functional(cls: type[_Merge]) -> Callable[..., Any]:
    def merge(inputs: Sequence[Any], **kwargs: Any) -> Any:
        return cls(**kwargs)(list(inputs))

    merge.__name__ = cls.__name__.lower()
    merge.__doc__ = f"`{cls.__name__}(**kwargs)(inputs)`."
    return merge


add = _functional(Add)
subtract = _functional(Subtract)
multiply = _functional(Multiply)
average = _functional(Average)
maximum = _functional(Maximum)
minimum = _functional(Minimum)


def concatenate(inputs: Sequence[Any], axis: int = -1, **kwargs: Any) -> Any:
    """`Concatenate(axis, **kwargs)(inputs)`."""
    return Concatenate(axis=axis, **kwargs)(list(inputs))


__all__ = [
    "Add", "Average", "Concatenate", "Maximum", "Minimum", "Multiply", "Subtract",
    "add", "average", "concatenate", "maximum", "minimum", "multiply", "subtract",
]  # fmt: skip
