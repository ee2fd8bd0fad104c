"""Sequential: a linear stack of layers, each called on the previous one's output."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from graphnet.keras.layer import Input, InputLayer, KerasTensor, Layer, flatten
from graphnet.keras.model import Model


class Sequential(Model):
    """Sequential([layer, ...]) or .add(layer). It is built (its graph known) once the input
    shape is: from the first layer's input_shape, from an Input added first, from build(), or
    from the first data given to fit/predict/evaluate."""

    def __init__(self, layers: Sequence[Any] | None = None, name: str | None = None) -> None:
        super().__init__(name=name)
        self._stack: list[Layer] = []
        self._input: KerasTensor | None = None
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self) -> list[Layer]:
        """The added layers (without the InputLayer)."""
        return list(self._stack)

    def add(self, layer: Any) -> None:
        """Appends a layer (or, first, a gn.keras.Input tensor or InputLayer)."""
        if isinstance(layer, KerasTensor) and isinstance(layer._keras_history[0], InputLayer):
            layer = layer._keras_history[0]
        if not isinstance(layer, Layer):
            raise TypeError(
                "The added layer must be an instance of class Layer. "
                f"Received: layer={layer} of type {type(layer)}."
            )
        if isinstance(layer, InputLayer):
            if self._stack or self._input is not None:
                raise ValueError("an InputLayer can only be the first layer of a Sequential")
            self._input = layer._inbound_nodes[0].outputs[0]
            return
        if any(existing.name == layer.name for existing in self._stack):
            raise ValueError(
                "All layers added to a Sequential model should have unique names. Name "
                f'"{layer.name}" is already the name of a layer in this model. Update the '
                "`name` argument to pass a unique name."
            )
        self._stack.append(layer)
        if self._input is None and len(self._stack) == 1:
            shape = _declared_input_shape(layer)
            if shape is not None:
                self._input = Input(
                    batch_shape=shape, dtype=layer.dtype, name=f"{layer.name}_input"
                )
        if self._input is not None:
            previous = self.outputs[0] if self._is_graph_network else self._input
            self._connect(self._input, self._apply(layer, previous))

    def _apply(self, layer: Layer, x: KerasTensor) -> KerasTensor:
        y = layer(x)
        if len(flatten(y)) != 1:
            raise ValueError(
                "All layers in a Sequential model should have a single output tensor. For "
                f"multi-output layers, use the functional API (layer '{layer.name}')."
            )
        return flatten(y)[0]

    def _connect(self, inputs: KerasTensor, outputs: KerasTensor) -> None:
        self._init_graph_network(inputs, outputs)
        self._sublayers = list(self._stack)

    def pop(self) -> None:
        """Removes the last layer."""
        if not self._stack:
            raise TypeError("There are no layers in the model.")
        self._stack.pop()
        if not self._is_graph_network:
            self._sublayers = list(self._stack)
        elif self._stack:
            last = self._stack[-1]._inbound_nodes[-1].outputs[0]
            self._connect(self._input, last)  # type: ignore[arg-type]
        else:
            self._is_graph_network, self.outputs, self._sublayers = False, [], []
            self._runtime, self.built = None, False

    def _build_from_data(self, arrays: Sequence[np.ndarray]) -> None:
        self.build((None, *arrays[0].shape[1:]))

    def build(self, input_shape: Any = None) -> None:
        """Builds the stack for inputs of `input_shape` (batch dim included)."""
        if self._is_graph_network:
            return
        if self._input is None:
            if input_shape is None:
                raise ValueError("You must provide an `input_shape` argument.")
            first = self._stack[0] if self._stack else None
            self._input = Input(
                batch_shape=tuple(input_shape),
                dtype=first.dtype if first is not None else None,
                name=f"{first.name}_input" if first is not None else None,
            )
        x = self._input
        for layer in self._stack:
            x = self._apply(layer, x)
        self._connect(self._input, x)


def _declared_input_shape(layer: Layer) -> tuple[int | None, ...] | None:
    """The batch input shape a first layer declares (input_shape=, or a built model's)."""
    if layer._batch_input_shape is not None:
        return layer._batch_input_shape
    if isinstance(layer, Model) and layer._is_graph_network and len(layer.inputs) == 1:
        return layer.inputs[0].shape
    return None


__all__ = ["Sequential"]
