"""A model's own gn.Graph and gn.Session: the forward graph, the weights' values, and the
training heads (targets, loss, metrics, the optimizer's update) built per kind of labels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from graphnet.ir import GraphKeys, Node, Tensor
from graphnet.keras import backend
from graphnet.keras.backend import KerasVariable, graph_variables, variable_in
from graphnet.keras.layer import flatten
from graphnet.ops.control import group
from graphnet.ops.math import add_n, cast, reduce_sum, sqrt, square
from graphnet.ops.state import Variable, assign, placeholder, variables_initializer
from graphnet.runtime import Session

if TYPE_CHECKING:
    from graphnet.keras.model import InputSpec, Model
    from graphnet.keras.training import CompileConfig

TargetSpec = tuple[tuple[int | None, ...], str]  # (shape with batch, dtype)


@dataclass
class Head:
    """What fit and evaluate run for one kind of labels: the target placeholders, the values
    they report (names[i] is values[i]: the total loss first) and the training step."""

    targets: list[Tensor]
    names: list[str]
    values: list[Tensor]
    train_op: Node | None = None
    update_ratios: dict[str, Tensor] = field(default_factory=dict)


class ModelRuntime:
    """The graph and Session a model runs in; the home of its weights' values."""

    def __init__(self, model: Model, input_specs: Sequence[InputSpec]) -> None:
        self.model = model
        self.graph = backend.new_graph()
        with self.graph.as_default():
            self.training = backend.learning_phase(self.graph)
            self.inputs = [
                placeholder(dtype, shape, name=name) for shape, dtype, name in input_specs
            ]
            given = self.inputs[0] if len(self.inputs) == 1 else list(self.inputs)
            self.outputs: list[Tensor] = flatten(
                model._call_in_graph(given, {"training": self.training})
            )
        self.session = Session(graph=self.graph)
        self._initialized: set[Variable] = set()
        self._assigns: dict[KerasVariable, tuple[Tensor, Tensor]] = {}
        self._adopted: list[KerasVariable] = []
        self._heads: dict[tuple[TargetSpec, ...], Head] = {}
        self.adopt(model.weights)

    # -- values ---------------------------------------------------------------------------------

    def adopt(self, weights: Sequence[KerasVariable]) -> None:
        """Makes this Session the home of `weights`, carrying over their current values."""
        for w in weights:
            variable_in(w, self.graph)
        self._initialize_new_variables()
        carried = [
            w
            for w in weights
            if w._home is not self and (w._home is not None or w._pending is not None)
        ]
        values = backend.batch_get_value(carried)
        for w in weights:
            w._home, w._pending = self, None
            if w not in self._adopted:
                self._adopted.append(w)
        self.write(dict(zip(carried, values, strict=True)))

    def ensure_home(self) -> None:
        """Takes back the weights another model ran since (shared layers), with their values."""
        weights = self.model.weights
        stale = [w for w in [*weights, *self._adopted] if w._home is not self]
        if stale or any(w not in self._adopted for w in weights):
            self.adopt(list(dict.fromkeys([*weights, *stale])))

    def _initialize_new_variables(self) -> None:
        fresh = [
            v
            for v in self.graph.get_collection(GraphKeys.GLOBAL_VARIABLES)
            if v not in self._initialized
        ]
        if fresh:
            with self.graph.as_default():
                init = variables_initializer(fresh, name="init_new")
            self.session.run(init)
            self._initialized.update(fresh)

    def read(self, weights: Sequence[KerasVariable]) -> list[np.ndarray]:
        variables = graph_variables(self.graph)
        values = self.session.run([variables[w].value() for w in weights])
        return [np.asarray(v) for v in values]

    def write(self, values: Mapping[KerasVariable, np.ndarray]) -> None:
        if not values:
            return
        ops, feed = [], {}
        for w, value in values.items():
            value_in, op = self._assign_op(w)
            ops.append(op)
            feed[value_in] = value
        self.session.run(ops, feed)

    def _assign_op(self, weight: KerasVariable) -> tuple[Tensor, Tensor]:
        if weight not in self._assigns:
            var = graph_variables(self.graph)[weight]
            with self.graph.as_default(), self.graph.name_scope("keras_set_value"):
                value = placeholder(weight.dtype, weight.shape, name="value")
                self._assigns[weight] = (value, assign(var, value))
        return self._assigns[weight]

    # -- running --------------------------------------------------------------------------------

    def feeds(self, xs: Sequence[np.ndarray], training: bool) -> dict[Tensor, Any]:
        feed: dict[Tensor, Any] = dict(zip(self.inputs, xs, strict=True))
        if training:
            feed[self.training] = True
        return feed

    def predict(self, xs: Sequence[np.ndarray], training: bool = False) -> list[np.ndarray]:
        """The outputs for one batch; in training mode the layers' updates (BatchNormalization's
        moving statistics) run too, as when Keras calls a model with training=True."""
        updates = self.graph.get_collection(GraphKeys.UPDATE_OPS) if training else []
        values = self.session.run([*self.outputs, *updates], self.feeds(xs, training))
        return [np.asarray(v) for v in values[: len(self.outputs)]]

    def run_head(
        self,
        head: Head,
        xs: Sequence[np.ndarray],
        ys: Sequence[np.ndarray],
        train: bool,
        extra: Sequence[Tensor] = (),
    ) -> tuple[list[float], list[Any]]:
        """(the head's values, the extra fetches' values) for one batch; with `train`, in
        training mode and taking one optimizer step."""
        feed = self.feeds(xs, train)
        feed.update(zip(head.targets, ys, strict=True))
        fetches: list[Any] = [*head.values, *extra]
        if train:
            if head.train_op is None:
                raise ValueError(
                    f"model '{self.model.name}' has nothing to train: call compile() with an "
                    "optimizer, and make sure some weights are trainable"
                )
            fetches.append(head.train_op)
        results = self.session.run(fetches, feed)
        count = len(head.values)
        return [float(v) for v in results[:count]], list(results[count : count + len(extra)])

    # -- heads ----------------------------------------------------------------------------------

    def head(self, config: CompileConfig, target_specs: Sequence[TargetSpec]) -> Head:
        """The head for labels of these shapes and dtypes, built on first use."""
        key = tuple(target_specs)
        if key not in self._heads:
            with self.graph.as_default(), self.graph.name_scope("training"):
                self._heads[key] = self._build_head(config, target_specs)
            optimizer = self.model.optimizer
            self.adopt(optimizer.hyperparameters if optimizer is not None else [])
            self._initialize_new_variables()
        return self._heads[key]

    def _build_head(self, config: CompileConfig, target_specs: Sequence[TargetSpec]) -> Head:
        if len(target_specs) != len(self.outputs):
            raise ValueError(
                f"model '{self.model.name}' has {len(self.outputs)} output(s) but "
                f"{len(target_specs)} target array(s) were given"
            )
        names = self.model.output_names if self.model._is_graph_network else ["output_1"]
        targets = [
            placeholder(out.dtype, shape, name=f"{name}_target")
            for out, (shape, _), name in zip(self.outputs, target_specs, names, strict=True)
        ]
        head_names, values = config.build(self.outputs, targets, target_specs)
        regularization = self.graph.get_collection(GraphKeys.REGULARIZATION_LOSSES)
        if regularization:
            total = values[0]
            values[0] = total + add_n([cast(r, total.dtype) for r in regularization])
        head = Head(targets, head_names, values)
        if self.model.optimizer is not None:
            self._build_train_op(head, values[0])
        return head

    def _build_train_op(self, head: Head, loss: Tensor) -> None:
        model, optimizer = self.model, self.model.optimizer
        variables = graph_variables(self.graph)
        trainable = [w for w in model.trainable_weights if w in variables]
        updates = self.graph.get_collection(GraphKeys.UPDATE_OPS)
        if not trainable:
            head.train_op = group(*updates, name="train_op") if updates else None
            return
        lr = variable_in(optimizer.learning_rate, self.graph).value()
        grads = optimizer.gradients(loss, [variables[w] for w in trainable])
        by_weight = dict(zip(trainable, grads, strict=True))
        head.update_ratios = _update_ratios(model, variables, by_weight, lr)
        with self.graph.control_dependencies(updates):
            head.train_op = optimizer.apply(
                [(g, variables[w]) for w, g in zip(trainable, grads, strict=True) if g is not None]
            )


def _update_ratios(
    model: Model,
    variables: Mapping[KerasVariable, Variable],
    grads: Mapping[KerasVariable, Tensor | None],
    lr: Tensor,
) -> dict[str, Tensor]:
    """Per layer with trainable weights: ||lr * grad|| / ||W||, the norms over all of the
    layer's trainable weights (the update-to-weight ratio used to tune learning rates)."""
    ratios: dict[str, Tensor] = {}
    for layer in model.layers:
        pairs = [
            (variables[w], g) for w in layer.trainable_weights if (g := grads.get(w)) is not None
        ]
        if not pairs:
            continue
        with pairs[0][0].graph.name_scope(f"update_ratio/{layer.name}"):
            grad_norm = sqrt(add_n([reduce_sum(square(g)) for _, g in pairs]))
            weight_norm = sqrt(add_n([reduce_sum(square(v.value())) for v, _ in pairs]))
            ratios[layer.name] = cast(lr, grad_norm.dtype) * grad_norm / weight_norm
    return ratios


__all__ = ["Head", "ModelRuntime"]
