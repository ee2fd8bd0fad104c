"""The Layer base class, symbolic KerasTensors, and Input.

Calling a layer on KerasTensors (from gn.keras.Input) records the call (a LayerNode) and infers
the outputs' shapes by building the call once in a scratch graph; models replay the recorded
calls in their own graph. Calling a layer on gn Tensors builds its ops right there, with its
weights as gn.Variables of that graph (TF1's tf.keras in graph mode).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graphnet.ir import DTypeError, GraphError, GraphKeys, ShapeError, Tensor
from graphnet.ir.graph import Graph
from graphnet.ir.types import DType, as_dtype
from graphnet.keras import backend, initializers, regularizers
from graphnet.keras.backend import KerasVariable
from graphnet.ops.array import shape as dynamic_shape
from graphnet.ops.core import convert_to_tensor, graph_of
from graphnet.ops.math import cast
from graphnet.ops.state import Variable, placeholder

Shape = tuple[int | None, ...]

# -- nested structures (a layer's inputs: a tensor or a list/tuple/dict of them) -----------------


def flatten(structure: Any) -> list[Any]:
    if isinstance(structure, list | tuple):
        return [leaf for item in structure for leaf in flatten(item)]
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure) for leaf in flatten(structure[key])]
    return [structure]


def map_structure(fn: Callable[[Any], Any], structure: Any) -> Any:
    if isinstance(structure, list | tuple):
        return type(structure)(map_structure(fn, item) for item in structure)
    if isinstance(structure, dict):
        return {key: map_structure(fn, value) for key, value in structure.items()}
    return fn(structure)


def pack_as(structure: Any, leaves: Sequence[Any]) -> Any:
    """`leaves` (in flatten order) arranged like `structure`."""
    it = iter(leaves)
    return map_structure(lambda _: next(it), structure)


def to_snake_case(name: str) -> str:
    """Keras' default layer names: Conv2D -> conv2d, MaxPooling2D -> max_pooling2d."""
    intermediate = re.sub("(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    snake = re.sub("([a-z])([A-Z])", r"\1_\2", intermediate).lower()
    return snake if snake[0] != "_" else "private" + snake


def _is_graph_tensor(value: Any) -> bool:
    return isinstance(value, Tensor | Variable | KerasVariable)


# -- symbolic tensors and layer calls -----------------------------------------------------------


class KerasTensor:
    """A symbolic output of a layer call in the functional API: a shape and a dtype, and the
    call that made it; models turn the recorded calls into graph ops."""

    def __init__(self, shape: Shape, dtype: DType, layer: Layer, node_index: int, index: int):
        self.shape = tuple(shape)
        self.dtype = dtype
        self._keras_history = (layer, node_index, index)

    @property
    def name(self) -> str:
        layer, node_index, index = self._keras_history
        return f"{layer.name}/{node_index}:{index}"

    @property
    def node(self) -> LayerNode:
        layer, node_index, _ = self._keras_history
        return layer._inbound_nodes[node_index]

    def get_shape(self) -> Shape:
        return self.shape

    def __repr__(self) -> str:
        layer = self._keras_history[0]
        return (
            f"<KerasTensor: shape={self.shape} dtype={self.dtype.name} "
            f"(created by layer '{layer.name}')>"
        )

    __hash__ = object.__hash__


@dataclass(eq=False)
class LayerNode:
    """One call of a layer on KerasTensors: its inputs, keyword arguments and outputs."""

    layer: Layer
    inputs: Any
    kwargs: dict[str, Any]
    outputs: list[KerasTensor] = field(default_factory=list)

    @property
    def input_tensors(self) -> list[KerasTensor]:
        """Every KerasTensor this call reads (the inputs and those among the kwargs)."""
        leaves = flatten(self.inputs) + flatten(list(self.kwargs.values()))
        return [t for t in leaves if isinstance(t, KerasTensor)]


# -- Layer --------------------------------------------------------------------------------------

_LAYER_KWARGS = frozenset(
    {
        "input_shape",
        "batch_input_shape",
        "batch_size",
        "input_dim",
        "weights",
        "trainable",
        "name",
        "dtype",
        "activity_regularizer",
    }
)


class Layer:
    """Keras' Layer: `build(input_shape)` creates weights with `add_weight`, `call(inputs)`
    computes the outputs with gn ops; `layer(x)` does both, on KerasTensors or gn Tensors."""

    def __init__(self, **kwargs: Any) -> None:
        unknown = set(kwargs) - _LAYER_KWARGS
        if unknown:
            raise TypeError(f"Keyword argument not understood: {sorted(unknown)[0]!r}")
        self._sublayers: list[Layer] = []
        self.name: str = kwargs.get("name") or backend.unique_object_name(
            to_snake_case(type(self).__name__)
        )
        self.trainable: bool = kwargs.get("trainable", True)
        self.dtype: str = as_dtype(kwargs.get("dtype") or backend.floatx()).name
        self.built = False
        self._own_weights: list[KerasVariable] = []
        self._inbound_nodes: list[LayerNode] = []
        self._initial_weights = kwargs.get("weights")
        self.activity_regularizer = regularizers.get(kwargs.get("activity_regularizer"))
        self._batch_input_shape: Shape | None = None
        input_shape = kwargs.get("input_shape")
        if input_shape is None and kwargs.get("input_dim") is not None:
            input_shape = (kwargs["input_dim"],)
        if kwargs.get("batch_input_shape") is not None:
            self._batch_input_shape = tuple(kwargs["batch_input_shape"])
        elif input_shape is not None:
            self._batch_input_shape = (kwargs.get("batch_size"), *tuple(input_shape))
        self._expects_training = "training" in inspect.signature(self.call).parameters

    def __setattr__(self, name: str, value: Any) -> None:
        """Layers assigned as attributes (alone or in a list) become this layer's sublayers."""
        if name != "_sublayers" and hasattr(self, "_sublayers"):
            items = value if isinstance(value, list | tuple) else [value]
            found = [v for v in items if isinstance(v, Layer) and v is not self]
            self._sublayers.extend(v for v in found if v not in self._sublayers)
        super().__setattr__(name, value)

    # -- weights --------------------------------------------------------------------------------

    def add_weight(
        self,
        name: str,
        shape: Sequence[int] = (),
        dtype: DType | str | None = None,
        initializer: Any = None,
        regularizer: Any = None,
        trainable: bool = True,
        constraint: Any = None,
    ) -> KerasVariable:
        """A new weight of this layer (`self.kernel = self.add_weight("kernel", [m, n])`)."""
        if constraint is not None:
            raise ValueError(f"layer '{self.name}': weight constraints are not supported")
        weight = KerasVariable(
            f"{self.name}/{name}",
            shape,
            dtype or self.dtype,
            initializers.get(initializer or "glorot_uniform"),
            regularizers.get(regularizer),
            trainable,
        )
        self._own_weights.append(weight)
        return weight

    @property
    def trainable_weights(self) -> list[KerasVariable]:
        if not self.trainable:
            return []
        children = [w for layer in self._sublayers for w in layer.trainable_weights]
        return _dedup([w for w in self._own_weights if w.trainable] + children)

    @property
    def non_trainable_weights(self) -> list[KerasVariable]:
        if self.trainable:
            own = [w for w in self._own_weights if not w.trainable]
            children = [w for layer in self._sublayers for w in layer.non_trainable_weights]
        else:
            own = list(self._own_weights)
            children = [w for layer in self._sublayers for w in layer.weights]
        return _dedup(own + children)

    @property
    def weights(self) -> list[KerasVariable]:
        """Trainable weights first, then the others (Keras' order)."""
        return self.trainable_weights + self.non_trainable_weights

    variables = weights
    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(
                f"You tried to call `count_params` on layer {self.name}, but the layer isn't "
                "built. You can build it manually via: "
                f"`{self.name}.build(batch_input_shape)`."
            )
        return sum(backend.count_params(w) for w in self.weights)

    def get_weights(self) -> list[np.ndarray]:
        return backend.batch_get_value(self.weights)

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Sets the weights from NumPy arrays, in the order of `get_weights()`."""
        params = self.weights
        if len(params) != len(weights):
            raise ShapeError(
                f"layer '{self.name}' expects {len(params)} weight(s), but the given weights "
                f"list has {len(weights)}"
            )
        backend.batch_set_value(list(zip(params, weights, strict=True)))

    # -- building and calling -------------------------------------------------------------------

    def build(self, input_shape: Any) -> None:
        """Creates the weights for inputs of `input_shape`; the base layer has none."""
        self.built = True

    def call(self, inputs: Any, **kwargs: Any) -> Any:
        """The layer's computation on gn Tensors; the identity in the base class."""
        return inputs

    def _maybe_build(self, inputs: Any) -> None:
        if self.built:
            return
        shapes = map_structure(lambda t: None if t.shape is None else tuple(t.shape), inputs)
        self.build(shapes)
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        """The layer applied to KerasTensors (recorded, shapes inferred) or gn Tensors."""
        leaves = flatten(inputs)
        if leaves and all(isinstance(t, KerasTensor) for t in leaves):
            return self._call_symbolic(inputs, kwargs)
        if leaves and all(_is_graph_tensor(t) for t in leaves):
            return self._call_in_graph(inputs, kwargs)
        given = ", ".join(sorted({type(t).__name__ for t in leaves})) or "nothing"
        raise TypeError(
            f"layer '{self.name}' takes gn.keras.Input tensors (KerasTensors) or gn Tensors "
            f"of one kind, got {given}"
        )

    def _call_symbolic(self, inputs: Any, kwargs: dict[str, Any]) -> Any:
        """Records the call and infers its outputs by building it in a scratch graph."""
        graph = backend.new_graph()

        def stand_in(value: Any) -> Any:
            if not isinstance(value, KerasTensor):
                return value
            return placeholder(value.dtype, value.shape, name=value.name.replace(":", "_"))

        with graph.as_default():
            outputs = self._call_in_graph(
                map_structure(stand_in, inputs), map_structure(stand_in, kwargs)
            )
        node = LayerNode(self, inputs, kwargs)
        index = len(self._inbound_nodes)
        node.outputs = [
            KerasTensor(o.shape, o.dtype, self, index, i) for i, o in enumerate(flatten(outputs))
        ]
        self._inbound_nodes.append(node)
        return pack_as(outputs, node.outputs)

    def _call_in_graph(self, inputs: Any, kwargs: dict[str, Any]) -> Any:
        """Builds the call in the graph of `inputs`, weights bound to that graph's variables."""
        inputs = map_structure(convert_to_tensor, inputs)
        graph = graph_of(flatten(inputs))
        kwargs = dict(kwargs)
        if self._expects_training and kwargs.get("training") is None:
            kwargs["training"] = backend.learning_phase(graph)
        try:
            self._maybe_build(inputs)
            with graph.as_default(), graph.name_scope(self.name):
                with backend.bound(self._own_weights, graph):
                    outputs = self.call(inputs, **kwargs)
                if self.activity_regularizer is not None:
                    self._add_activity_loss(graph, outputs)
        except (ShapeError, DTypeError, GraphError) as err:
            raise type(err)(f"layer '{self.name}' ({type(self).__name__}): {err}") from None
        return outputs

    def _add_activity_loss(self, graph: Graph, outputs: Any) -> None:
        """Keras' activity regularization: the penalty of the outputs over the batch size."""
        for out in flatten(outputs):
            batch = cast(dynamic_shape(out)[0], out.dtype)
            loss = self.activity_regularizer(out) / batch
            graph.add_to_collection(GraphKeys.REGULARIZATION_LOSSES, loss)

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The output shape(s) for inputs of `input_shape` (batch dim included), found by
        building the call on placeholders in a scratch graph."""
        graph = backend.new_graph()

        def stand_in(shape: Any) -> Tensor:
            return placeholder(self.dtype, shape)

        single = all(d is None or isinstance(d, int) for d in input_shape)
        with graph.as_default():
            inputs = stand_in(input_shape) if single else [stand_in(s) for s in input_shape]
            outputs = self._call_in_graph(inputs, {})
        return map_structure(lambda t: tuple(t.shape), outputs)

    # -- the recorded calls -----------------------------------------------------------------------

    def _single_node(self, what: str) -> LayerNode:
        if not self._inbound_nodes:
            raise AttributeError(f"Layer {self.name} is not connected, no {what} to return.")
        if len(self._inbound_nodes) > 1:
            raise AttributeError(
                f'Layer {self.name} has multiple inbound nodes, hence the notion of "layer '
                f'{what}" is ill-defined.'
            )
        return self._inbound_nodes[0]

    @property
    def input(self) -> Any:
        return self._single_node("input").inputs

    @property
    def output(self) -> Any:
        node = self._single_node("output")
        return node.outputs[0] if len(node.outputs) == 1 else list(node.outputs)

    @property
    def input_shape(self) -> Any:
        shapes = {repr(_shapes_of(n.inputs)) for n in self._inbound_nodes}
        if len(shapes) != 1:
            raise AttributeError(f"The layer {self.name} has no defined input shape.")
        return _shapes_of(self._inbound_nodes[0].inputs)

    @property
    def output_shape(self) -> Any:
        shapes = {repr(_shapes_of(n.outputs)) for n in self._inbound_nodes}
        if len(shapes) != 1:
            raise AttributeError(
                f"The layer {self.name} has multiple inbound nodes with different output shapes."
                if shapes
                else f"The layer {self.name} has never been called."
            )
        outputs = self._inbound_nodes[0].outputs
        return outputs[0].shape if len(outputs) == 1 else [t.shape for t in outputs]

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "trainable": self.trainable, "dtype": self.dtype}

    def __repr__(self) -> str:
        return f"<gn.keras.layers.{type(self).__name__} name={self.name!r} built={self.built}>"


def _shapes_of(structure: Any) -> Any:
    return map_structure(lambda t: t.shape if isinstance(t, KerasTensor) else t, structure)


def _dedup(weights: list[KerasVariable]) -> list[KerasVariable]:
    return list(dict.fromkeys(weights))


# -- inputs -------------------------------------------------------------------------------------


class InputLayer(Layer):
    """The layer behind gn.keras.Input: no computation, one output of a declared shape."""

    def __init__(
        self,
        input_shape: Sequence[int | None] | None = None,
        batch_size: int | None = None,
        dtype: DType | str | None = None,
        name: str | None = None,
        batch_input_shape: Sequence[int | None] | None = None,
    ) -> None:
        if batch_input_shape is None:
            if input_shape is None:
                raise ValueError("an InputLayer needs input_shape or batch_input_shape")
            batch_input_shape = (batch_size, *tuple(input_shape))
        super().__init__(
            name=name or backend.unique_object_name("input", zero_based=False),
            dtype=dtype,
            batch_input_shape=batch_input_shape,
        )
        assert self._batch_input_shape is not None
        self.built = True
        node = LayerNode(self, [], {})
        node.outputs = [KerasTensor(self._batch_input_shape, as_dtype(self.dtype), self, 0, 0)]
        self._inbound_nodes.append(node)

    @property
    def output_shape(self) -> list[Shape]:
        """A list, as Keras prints it in summaries: [(None, 32)]."""
        return [self._inbound_nodes[0].outputs[0].shape]


def Input(
    shape: Sequence[int | None] | None = None,
    batch_size: int | None = None,
    name: str | None = None,
    dtype: DType | str | None = None,
    batch_shape: Sequence[int | None] | None = None,
) -> KerasTensor:
    """A symbolic input of a functional model: `x = gn.keras.Input(shape=(28, 28, 1))`;
    `shape` excludes the batch dimension (None: any size)."""
    if shape is None and batch_shape is None:
        raise ValueError("Please provide to Input either a `shape` or a `batch_shape` argument.")
    layer = InputLayer(
        input_shape=shape,
        batch_size=batch_size,
        dtype=dtype,
        name=name,
        batch_input_shape=batch_shape,
    )
    return layer._inbound_nodes[0].outputs[0]


__all__ = ["Input", "InputLayer", "KerasTensor", "Layer"]
