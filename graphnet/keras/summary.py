"""model.summary(): Keras 2's table of layers, output shapes and parameter counts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from graphnet.keras import backend
from graphnet.keras.backend import KerasVariable

if TYPE_CHECKING:
    from graphnet.keras.layer import Layer
    from graphnet.keras.model import Model


def _count(weights: Sequence[KerasVariable]) -> int:
    return sum(backend.count_params(w) for w in dict.fromkeys(weights))


def _is_sequential_like(model: Model) -> bool:
    """Sequential models, subclassed ones, and functional chains print without 'Connected to'."""
    if type(model).__name__ == "Sequential" or not model._is_graph_network:
        return True
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        return False
    previous = model.inputs
    for node in model._nodes:  # a chain: each call reads exactly the previous one's output
        if node.input_tensors != previous or len(node.outputs) != 1:
            return False
        previous = node.outputs
    return True


def _output_shape(layer: Layer) -> Any:
    try:
        return layer.output_shape
    except AttributeError:
        return "multiple"


def _params(layer: Layer) -> Any:
    return layer.count_params() if layer.built else "0 (unused)"


def print_summary(
    model: Model,
    line_length: int | None = None,
    positions: Sequence[float] | None = None,
    print_fn: Callable[[str], Any] | None = None,
) -> None:
    """Prints the summary of `model` line by line through print_fn (default: stdout)."""
    emit = print_fn or backend.print_msg
    sequential_like = _is_sequential_like(model)
    if sequential_like:
        line_length = line_length or 65
        positions = list(positions or [0.45, 0.85, 1.0])
        header = ["Layer (type)", "Output Shape", "Param #"]
    else:
        line_length = line_length or 98
        positions = list(positions or [0.33, 0.55, 0.67, 1.0])
        header = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]
    stops = [int(p) for p in positions]

    def row(fields: Sequence[Any]) -> None:
        line = ""
        for i, value in enumerate(fields):
            if i > 0:
                line = line[:-1] + " "
            line = (line + str(value))[: stops[i]]
            line += " " * (stops[i] - len(line))
        emit(line)

    emit(f'Model: "{model.name}"')
    emit("_" * line_length)
    row(header)
    emit("=" * line_length)
    nodes = set(map(id, model._nodes))
    layers = model.layers
    for i, layer in enumerate(layers):
        fields = [f"{layer.name} ({type(layer).__name__})", _output_shape(layer), _params(layer)]
        if sequential_like:
            row(fields)
        else:
            connections = [
                f"{t._keras_history[0].name}[{t._keras_history[1]}][{t._keras_history[2]}]"
                for node in layer._inbound_nodes
                if id(node) in nodes
                for t in node.input_tensors
            ]
            row([*fields, connections[0] if connections else ""])
            for extra in connections[1:]:
                row(["", "", "", extra])
        emit("=" * line_length if i == len(layers) - 1 else "_" * line_length)
    trainable = _count(model.trainable_weights)
    non_trainable = _count(model.non_trainable_weights)
    emit(f"Total params: {trainable + non_trainable:,}")
    emit(f"Trainable params: {trainable:,}")
    emit(f"Non-trainable params: {non_trainable:,}")
    emit("_" * line_length)


__all__ = ["print_summary"]
