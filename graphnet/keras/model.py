"""Model: the functional API (Model(inputs, outputs)), subclassed models, and the training
interface (compile, fit, evaluate, predict, summary, weights), run on the model's own graph
and Session (keras/runtime.py)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from graphnet.ir import GraphError, Tensor
from graphnet.ir.types import as_dtype
from graphnet.keras import backend
from graphnet.keras.backend import KerasVariable
from graphnet.keras.layer import (
    InputLayer,
    KerasTensor,
    Layer,
    LayerNode,
    flatten,
    map_structure,
    pack_as,
)
from graphnet.ops.state import Variable

if TYPE_CHECKING:
    from graphnet.keras.callbacks import History
    from graphnet.keras.runtime import ModelRuntime
    from graphnet.keras.training import CompileConfig

InputSpec = tuple[tuple[int | None, ...], str, str]  # (shape with batch, dtype, name)


class Model(Layer):
    """A model: `Model(inputs, outputs)` over gn.keras.Input tensors, or a subclass defining
    `call`. It owns a gn.Graph and a gn.Session, built when first needed; layers shared with
    other models keep one value, copied to whichever model runs next."""

    def __init__(
        self,
        inputs: Any = None,
        outputs: Any = None,
        name: str | None = None,
        trainable: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, trainable=trainable, **kwargs)
        self.stop_training = False
        self.history: History | None = None
        self.optimizer: Any = None
        self._compile_config: CompileConfig | None = None
        self._runtime: ModelRuntime | None = None
        self._is_graph_network = False
        self._nodes: list[LayerNode] = []
        self._input_specs: list[InputSpec] | None = None
        self.inputs: list[KerasTensor] = []
        self.outputs: list[KerasTensor] = []
        if inputs is not None or outputs is not None:
            if inputs is None or outputs is None:
                raise ValueError("a functional Model needs both inputs and outputs")
            self._init_graph_network(inputs, outputs)

    # -- the functional graph -------------------------------------------------------------------

    def _init_graph_network(self, inputs: Any, outputs: Any) -> None:
        self._nested_inputs, self._nested_outputs = inputs, outputs
        self.inputs, self.outputs = flatten(inputs), flatten(outputs)
        for t in self.inputs:
            if not isinstance(t, KerasTensor) or not isinstance(t._keras_history[0], InputLayer):
                raise ValueError(
                    f"Input tensors to a Model must come from `gn.keras.Input`. Received: {t} "
                    "(missing previous layer metadata)."
                )
        for t in self.outputs:
            if not isinstance(t, KerasTensor):
                raise ValueError(
                    f"Output tensors of a Model must be the output of a gn.keras layer, got {t!r}"
                )
        self._nodes = _nodes_between(self.inputs, self.outputs)
        layers = [t._keras_history[0] for t in self.inputs]
        layers += [n.layer for n in self._nodes]
        layers = list(dict.fromkeys(layers))
        names = [layer.name for layer in layers]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(
                    f'The name "{name}" is used {names.count(name)} times in the model. All '
                    "layer names should be unique."
                )
        self._sublayers = layers
        self._is_graph_network = True
        self._input_specs = [(t.shape, t.dtype.name, t._keras_history[0].name) for t in self.inputs]
        self._runtime = None
        self.built = True

    def call(self, inputs: Any, training: Any = None) -> Any:
        """The recorded layer calls replayed on gn Tensors (the graph-network case);
        subclasses define their own."""
        if not self._is_graph_network:
            raise NotImplementedError(
                f"model '{self.name}': a subclassed Model must define call(inputs)"
            )
        values: dict[int, Any] = {
            id(kt): t for kt, t in zip(self.inputs, flatten(inputs), strict=True)
        }
        substitute = lambda v: values[id(v)] if isinstance(v, KerasTensor) else v
        for node in self._nodes:
            kwargs = map_structure(substitute, node.kwargs)
            if node.layer._expects_training and kwargs.get("training") is None:
                kwargs["training"] = training
            outputs = node.layer(map_structure(substitute, node.inputs), **kwargs)
            for kt, t in zip(node.outputs, flatten(outputs), strict=True):
                values[id(kt)] = t
        result = [values[id(kt)] for kt in self.outputs]
        return pack_as(self._nested_outputs, result)

    def build(self, input_shape: Any) -> None:
        """Builds a subclassed model for inputs of `input_shape` (batch dim included)."""
        if self._is_graph_network:
            return
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        self._input_specs = [
            (tuple(s), backend.floatx(), f"input_{i + 1}") for i, s in enumerate(shapes)
        ]
        self.built = True
        self._get_runtime()

    def _build_from_data(self, arrays: Sequence[np.ndarray]) -> None:
        """Builds a model whose input shape was unknown from the first data it is given."""
        self._input_specs = input_spec_from_data(arrays)
        self.built = True

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        """On KerasTensors or gn Tensors, the model as a layer; on NumPy arrays, its
        predictions for them (in inference mode unless training=True)."""
        symbolic = (KerasTensor, Tensor, Variable, KerasVariable)
        if not any(isinstance(v, symbolic) for v in flatten(inputs)):
            from graphnet.keras import training

            return training.run_on_arrays(self, inputs, bool(kwargs.get("training")))
        return super().__call__(inputs, **kwargs)

    # -- structure ------------------------------------------------------------------------------

    @property
    def layers(self) -> list[Layer]:
        return list(self._sublayers)

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """A layer by name or by index in `layers`."""
        if index is not None:
            if name is not None:
                raise ValueError("Provide only a layer name or a layer index.")
            if index >= len(self.layers):
                raise ValueError(
                    f"Was asked to retrieve layer at index {index} but model only has "
                    f"{len(self.layers)} layers."
                )
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(
            f"No such layer: {name}. Existing layers are: {[layer.name for layer in self.layers]}."
        )

    @property
    def input(self) -> Any:
        self._require_graph("input")
        return self.inputs[0] if len(self.inputs) == 1 else list(self.inputs)

    @property
    def output(self) -> Any:
        self._require_graph("output")
        return self.outputs[0] if len(self.outputs) == 1 else list(self.outputs)

    @property
    def input_shape(self) -> Any:
        self._require_graph("input_shape")
        shapes = [t.shape for t in self.inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self) -> Any:
        self._require_graph("output_shape")
        shapes = [t.shape for t in self.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_names(self) -> list[str]:
        return [t._keras_history[0].name for t in self.outputs]

    def _require_graph(self, what: str) -> None:
        if not self._is_graph_network:
            raise AttributeError(
                f"model '{self.name}' has no defined {what}: it is not a functional model or "
                "has not been built yet"
            )

    def summary(
        self,
        line_length: int | None = None,
        positions: Sequence[float] | None = None,
        print_fn: Callable[[str], Any] | None = None,
    ) -> None:
        """Prints Keras' table of layers, output shapes and parameter counts."""
        from graphnet.keras.summary import print_summary

        if not self.built:
            raise ValueError(
                "This model has not yet been built. Build the model first by calling `build()` "
                "or by calling the model on a batch of data."
            )
        print_summary(self, line_length, positions, print_fn)

    # -- training -------------------------------------------------------------------------------

    def compile(
        self,
        optimizer: Any = "rmsprop",
        loss: Any = None,
        metrics: Any = None,
        loss_weights: Any = None,
        weighted_metrics: Any = None,
        run_eagerly: bool | None = None,
        **kwargs: Any,
    ) -> None:
        """Sets the optimizer (a name, a gn.keras optimizer or a TF1 optimizer), the loss (a
        name, function or Loss; per output as a list or dict) and the metrics to report.
        As in Keras, changes of layers' `trainable` take effect at the next compile()."""
        from graphnet.keras import optimizers, training

        if weighted_metrics:
            raise ValueError("weighted_metrics (sample weights) are not supported")
        self.optimizer = optimizers.get(optimizer)
        self._compile_config = training.CompileConfig.create(self, loss, metrics, loss_weights)
        self._runtime = None  # rebuilt on next use, with the weights' current values

    @property
    def metrics_names(self) -> list[str]:
        """'loss', then the per-output losses (several outputs), then the metrics."""
        return [] if self._compile_config is None else self._compile_config.names()

    def fit(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose: int | str = "auto",
        callbacks: Any = None,
        validation_split: float = 0.0,
        validation_data: Any = None,
        shuffle: bool = True,
        initial_epoch: int = 0,
        validation_batch_size: int | None = None,
        validation_freq: int = 1,
    ) -> History:
        """Trains for `epochs` epochs on (x, y) in batches; returns the History."""
        from graphnet.keras import training

        return training.fit(
            self,
            x,
            y,
            batch_size=batch_size,
            epochs=epochs,
            verbose=verbose,
            callbacks=callbacks,
            validation_split=validation_split,
            validation_data=validation_data,
            shuffle=shuffle,
            initial_epoch=initial_epoch,
            validation_batch_size=validation_batch_size,
            validation_freq=validation_freq,
        )

    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        verbose: int | str = "auto",
        callbacks: Any = None,
        return_dict: bool = False,
    ) -> Any:
        """The loss (and metrics) on (x, y): a float, or [loss, *metrics], or a dict."""
        from graphnet.keras import training

        return training.evaluate(self, x, y, batch_size, verbose, callbacks, return_dict)

    def predict(
        self, x: Any, batch_size: int | None = None, verbose: int | str = 0, callbacks: Any = None
    ) -> Any:
        """The outputs for inputs x, computed in batches (inference mode)."""
        from graphnet.keras import training

        return training.predict(self, x, batch_size, verbose, callbacks)

    def train_on_batch(self, x: Any, y: Any = None, return_dict: bool = False) -> Any:
        """One optimizer step on (x, y); returns the loss (and metrics) of that batch."""
        from graphnet.keras import training

        return training.on_batch(self, x, y, train=True, return_dict=return_dict)

    def test_on_batch(self, x: Any, y: Any = None, return_dict: bool = False) -> Any:
        from graphnet.keras import training

        return training.on_batch(self, x, y, train=False, return_dict=return_dict)

    def predict_on_batch(self, x: Any) -> Any:
        from graphnet.keras import training

        return training.run_on_arrays(self, x, training=False)

    def _get_runtime(self) -> ModelRuntime:
        """The model's graph and Session, built on first use; its weights' values moved here
        if another model ran them since."""
        from graphnet.keras.runtime import ModelRuntime

        if self._input_specs is None:
            raise ValueError(
                f"model '{self.name}' has not been built: its input shape is unknown. Call "
                "build(input_shape), give the first layer an input_shape, or fit/predict on data"
            )
        if self._runtime is None:
            self._runtime = ModelRuntime(self, self._input_specs)
        self._runtime.ensure_home()
        return self._runtime

    # -- saving ---------------------------------------------------------------------------------

    def save_weights(
        self, filepath: str | os.PathLike, overwrite: bool = True, save_format: str | None = None
    ) -> None:
        """Writes the weights to the checkpoint `filepath` (graphnet's checkpoint format,
        written atomically); see gn.keras.saving."""
        from graphnet.keras import saving

        saving.save_weights(self, os.fspath(filepath), overwrite)

    def load_weights(
        self, filepath: str | os.PathLike, by_name: bool = False, skip_mismatch: bool = False
    ) -> None:
        """Restores weights written by save_weights, matched by layer position; nothing
        changes unless every weight fits."""
        from graphnet.keras import saving

        if by_name or skip_mismatch:
            raise ValueError("load_weights: by_name and skip_mismatch are not supported")
        saving.load_weights(self, os.fspath(filepath))

    def __repr__(self) -> str:
        return f"<gn.keras.{type(self).__name__} name={self.name!r}>"


def _nodes_between(inputs: list[KerasTensor], outputs: list[KerasTensor]) -> list[LayerNode]:
    """The layer calls from `inputs` to `outputs`, in a topological order (inputs first)."""
    input_ids = {id(t) for t in inputs}
    order: list[LayerNode] = []
    done: set[int] = set()
    reached: list[str] = []

    def visit(tensor: KerasTensor) -> None:
        if id(tensor) in input_ids:
            return
        node = tensor.node
        if id(node) in done:
            return
        if isinstance(node.layer, InputLayer):
            raise GraphError(
                f"Graph disconnected: cannot obtain value for tensor {tensor} at layer "
                f'"{node.layer.name}". The following previous layers were accessed without '
                f"issue: {reached}"
            )
        for t in node.input_tensors:
            visit(t)
        done.add(id(node))
        order.append(node)
        reached.append(node.layer.name)

    for t in outputs:
        visit(t)
    return order


def input_spec_from_data(arrays: Sequence[np.ndarray]) -> list[InputSpec]:
    """Input specs for a model first built from data: the arrays' shapes with a free batch."""
    specs = []
    for i, a in enumerate(arrays):
        dtype = as_dtype(a.dtype).name if a.dtype.kind in "iu" else backend.floatx()
        specs.append(((None, *a.shape[1:]), dtype, f"input_{i + 1}"))
    return specs


__all__ = ["Model"]
