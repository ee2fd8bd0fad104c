"""save_weights / load_weights: a model's weights in graphnet's checkpoint format.

`filepath` is a checkpoint prefix (graphnet.train.saver: `<filepath>.index.json` and a data
file beside it, written atomically). Weights are stored under Keras' positional names,
`layer_with_weights-<i>/<j>.<name>`: the i-th layer of `model.layers` that has weights, its
j-th weight in creation order. So a model rebuilt with the same architecture loads them even
when its layers got other automatic names (`dense_3` instead of `dense`). The optimizer's
state is not saved.
"""

from __future__ import annotations

import os
import weakref
from typing import TYPE_CHECKING

from graphnet.keras.backend import KerasVariable, graph_variables
from graphnet.ops.state import Variable
from graphnet.train.saver import CheckpointError, Saver

if TYPE_CHECKING:
    from graphnet.keras.layer import Layer
    from graphnet.keras.model import Model
    from graphnet.keras.runtime import ModelRuntime


def _creation_order(layer: Layer) -> list[KerasVariable]:
    """A layer's weights in the order they were created (its own, then its sublayers')."""
    found = list(layer._own_weights)
    for sub in layer._sublayers:
        found += _creation_order(sub)
    return list(dict.fromkeys(found))


def checkpoint_names(model: Model) -> dict[str, KerasVariable]:
    """Checkpoint name -> weight, for every weight of the model."""
    names: dict[str, KerasVariable] = {}
    layers = [layer for layer in model.layers if _creation_order(layer)]
    for i, layer in enumerate(layers):
        for j, weight in enumerate(_creation_order(layer)):
            short = weight.name[:-2].rsplit("/", 1)[-1]
            names[f"layer_with_weights-{i}/{j}.{short}"] = weight
    return names


#: One Saver per model runtime (its restore ops are built once in the runtime's graph).
_SAVERS: weakref.WeakKeyDictionary[ModelRuntime, Saver] = weakref.WeakKeyDictionary()


def _saver(model: Model) -> Saver:
    runtime = model._get_runtime()
    if runtime in _SAVERS:
        return _SAVERS[runtime]
    variables = graph_variables(runtime.graph)
    var_list: dict[str, Variable] = {
        name: variables[w] for name, w in checkpoint_names(model).items()
    }
    if not var_list:
        raise CheckpointError(f"model '{model.name}' has no weights to save or load")
    with runtime.graph.as_default():
        saver = _SAVERS[runtime] = Saver(var_list, max_to_keep=None, name="keras_weights")
    return saver


def save_weights(model: Model, filepath: str, overwrite: bool = True) -> None:
    if not overwrite and os.path.exists(filepath + ".index.json"):
        raise CheckpointError(f"weights file {filepath!r} exists and overwrite=False")
    directory = os.path.dirname(filepath)
    if directory:
        os.makedirs(directory, exist_ok=True)
    _saver(model).save(model._get_runtime().session, filepath, write_state=False)


def load_weights(model: Model, filepath: str) -> None:
    _saver(model).restore(model._get_runtime().session, filepath)


__all__ = ["checkpoint_names", "load_weights", "save_weights"]
