"""gn.keras.backend: floatx, layer naming, seeds, and KerasVariable (a layer's weight).

A KerasVariable belongs to no graph. Each graph a layer is called in gets its own gn.Variable
for it (created on the first call there, kept in the graph); while the layer's `call` runs, the
KerasVariable stands for that gn.Variable, so layer code writes `gn.matmul(x, self.kernel)`.
Its value lives in the Session of the model that last ran it (its "home"): `get_value` and
`set_value` read and write there, and a model taking over a layer copies the value across.
Before any model runs it, a weight holds a pending NumPy value.

Process-wide state, as in Keras: the float type, the fuzz factor, the per-prefix counters that
name layers ("dense", "dense_1", ...) and the seed for new model graphs; `clear_session()`
resets the counters.
"""

from __future__ import annotations

import random
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from graphnet.ir import GraphError, GraphKeys, ShapeError, Tensor
from graphnet.ir.graph import Graph, get_default_graph, install_operators
from graphnet.ir.types import DType, as_dtype, format_shape
from graphnet.ops.core import TENSOR_CONVERSIONS, TensorLike
from graphnet.ops.state import Variable, placeholder_with_default, variables_initializer
from graphnet.runtime import Session

#: (shape, dtype) -> the initial value, a Tensor built in the default graph.
Initializer = Callable[[Sequence[int], DType], TensorLike]
#: weights -> a scalar penalty Tensor.
Regularizer = Callable[[Any], Tensor]

_FLOATX = "float32"
_EPSILON = 1e-7
_UIDS: defaultdict[str, int] = defaultdict(int)
_SEED: int | None = None


def floatx() -> str:
    """The default float type of layers and inputs: 'float32' unless set_floatx changed it."""
    return _FLOATX


def set_floatx(value: str) -> None:
    global _FLOATX
    if value not in ("float32", "float64"):
        raise ValueError(f"floatx must be 'float32' or 'float64', got {value!r}")
    _FLOATX = value


def epsilon() -> float:
    """The fuzz factor of the losses and metrics (1e-7)."""
    return _EPSILON


def set_epsilon(value: float) -> None:
    global _EPSILON
    _EPSILON = float(value)


def get_uid(prefix: str = "") -> int:
    """1, 2, 3, ... on successive calls with the same prefix."""
    _UIDS[prefix] += 1
    return _UIDS[prefix]


def unique_object_name(prefix: str, zero_based: bool = True) -> str:
    """`prefix`, then `prefix_1`, `prefix_2`, ... (from `prefix_1` when not zero_based)."""
    number = get_uid(prefix) - (1 if zero_based else 0)
    return prefix if number == 0 else f"{prefix}_{number}"


def clear_session() -> None:
    """Resets the layer-name counters, so the next Dense is 'dense' again."""
    _UIDS.clear()


def set_seed(seed: int | None) -> None:
    """The seed of Python's `random`, NumPy's global generator and every new model graph."""
    global _SEED
    _SEED = None if seed is None else int(seed)
    if seed is not None:
        random.seed(seed)
        np.random.seed(seed)


def new_graph() -> Graph:
    """An empty graph for one model, seeded when a seed was set."""
    graph = Graph()
    graph.seed = _SEED
    return graph


def print_msg(message: str, line_break: bool = True) -> None:
    """The one way gn.keras prints (progress bars, summaries, callbacks' messages)."""
    sys.stdout.write(message + ("\n" if line_break else ""))
    sys.stdout.flush()


# -- KerasVariable ------------------------------------------------------------------------------


class Home(Protocol):
    """Where weights' values live: a model's runtime (its graph and Session)."""

    def read(self, weights: Sequence[KerasVariable]) -> list[np.ndarray]: ...

    def write(self, values: Mapping[KerasVariable, np.ndarray]) -> None: ...


class KerasVariable:
    """A layer's weight: name, shape, dtype, initializer, regularizer, trainability; inside a
    layer's call it stands for its gn.Variable in the graph being built."""

    def __init__(
        self,
        name: str,
        shape: Sequence[int],
        dtype: DType | str,
        initializer: Initializer,
        regularizer: Regularizer | None = None,
        trainable: bool = True,
    ) -> None:
        self.name = f"{name}:0"
        self.shape = tuple(int(d) for d in shape)
        self.dtype = as_dtype(dtype)
        self.initializer = initializer
        self.regularizer = regularizer
        self.trainable = trainable
        self._bound: Tensor | None = None
        self._home: Home | None = None
        self._pending: np.ndarray | None = None

    def value(self) -> Tensor:
        """The tensor this weight stands for: its variable in the graph being built, else in
        the default graph."""
        if self._bound is not None:
            return self._bound
        found = graph_variables(get_default_graph()).get(self)
        if found is None:
            raise GraphError(
                f"weight '{self.name}' has no variable in the default graph; call its layer "
                "on a tensor of this graph first"
            )
        return found.value()

    def _as_graph_element(self) -> Tensor:
        return self.value()

    def numpy(self) -> np.ndarray:
        return get_value(self)

    def assign(self, value: Any) -> None:
        """Sets the value (in the Session of the model that runs this weight)."""
        set_value(self, value)

    def __repr__(self) -> str:
        return (
            f"<gn.keras.KerasVariable '{self.name}' shape={format_shape(self.shape)} "
            f"dtype={self.dtype}>"
        )

    __hash__ = object.__hash__


install_operators(KerasVariable)
TENSOR_CONVERSIONS[KerasVariable] = KerasVariable.value

_GRAPH_VARIABLES = "__keras_variables__"


def graph_variables(graph: Graph) -> dict[KerasVariable, Variable]:
    """The gn.Variables that stand for KerasVariables in `graph` (kept in the graph itself)."""
    slot = graph.get_collection_ref(_GRAPH_VARIABLES)
    if not slot:
        slot.append({})
    return slot[0]


def variable_in(weight: KerasVariable, graph: Graph) -> Variable:
    """The weight's gn.Variable in `graph`, created (with its regularization loss) if new."""
    found = graph_variables(graph).get(weight)
    if found is not None:
        return found
    scope, _, short = weight.name[:-2].rpartition("/")
    with graph.as_default(), graph.control_dependencies(None), graph.name_scope(None):
        with graph.name_scope(f"{scope}/" if scope else None):
            var = Variable(
                lambda: weight.initializer(list(weight.shape), weight.dtype),
                trainable=weight.trainable,
                name=short,
                dtype=weight.dtype,
            )
            graph_variables(graph)[weight] = var
            if weight.regularizer is not None:
                with graph.name_scope(f"{short}/Regularizer"):
                    graph.add_to_collection(
                        GraphKeys.REGULARIZATION_LOSSES, weight.regularizer(var.value())
                    )
    return var


_LEARNING_PHASE = "__keras_learning_phase__"


def learning_phase(graph: Graph | None = None) -> Tensor:
    """The graph's training flag: a bool scalar that is False unless fed (fit feeds True);
    layers that act differently in training (Dropout, BatchNormalization) read it."""
    graph = graph or get_default_graph()
    slot = graph.get_collection_ref(_LEARNING_PHASE)
    if not slot:
        with graph.as_default(), graph.control_dependencies(None), graph.name_scope(None):
            slot.append(placeholder_with_default(False, [], name="keras_learning_phase"))
    return slot[0]


def bound(weights: Iterable[KerasVariable], graph: Graph) -> _Binding:
    """`with bound(weights, graph):` each weight stands for its variable in `graph`."""
    return _Binding(list(weights), graph)


class _Binding:
    def __init__(self, weights: list[KerasVariable], graph: Graph) -> None:
        self._weights = weights
        self._graph = graph
        self._saved: list[Tensor | None] = []

    def __enter__(self) -> None:
        self._saved = [w._bound for w in self._weights]
        for w in self._weights:
            w._bound = variable_in(w, self._graph).value()

    def __exit__(self, *exc: object) -> None:
        for w, saved in zip(self._weights, self._saved, strict=True):
            w._bound = saved


# -- values -------------------------------------------------------------------------------------


def _checked(weight: KerasVariable, value: Any) -> np.ndarray:
    arr = np.asarray(value)
    if arr.shape != weight.shape:
        raise ShapeError(
            f"weight '{weight.name}' has shape {weight.shape}; the value given has shape "
            f"{arr.shape}"
        )
    return np.array(arr, dtype=weight.dtype.np, copy=True)


def _initial_values(weights: Sequence[KerasVariable]) -> list[np.ndarray]:
    """Runs the weights' initializers in a scratch graph (for weights no model ran yet)."""
    graph = new_graph()
    variables = [variable_in(w, graph) for w in weights]
    with graph.as_default():
        init = variables_initializer(variables)
    with Session(graph=graph) as sess:
        sess.run(init)
        return sess.run([v.value() for v in variables])


def batch_get_value(weights: Sequence[Any]) -> list[np.ndarray]:
    """The current values of KerasVariables (reading each home Session once)."""
    weights = [_as_keras_variable(w) for w in weights]
    fresh = [w for w in weights if w._home is None and w._pending is None]
    for w, value in zip(fresh, _initial_values(fresh) if fresh else [], strict=True):
        w._pending = value
    by_home: dict[int, list[KerasVariable]] = defaultdict(list)
    for w in weights:
        if w._home is not None:
            by_home[id(w._home)].append(w)
    values: dict[KerasVariable, np.ndarray] = {}
    for group in by_home.values():
        assert group[0]._home is not None
        values.update(zip(group, group[0]._home.read(group), strict=True))
    return [values[w] if w in values else np.array(w._pending, copy=True) for w in weights]


def batch_set_value(pairs: Iterable[tuple[Any, Any]]) -> None:
    """Sets KerasVariables' values: [(weight, value), ...]; shapes are checked first."""
    checked = [(w, _checked(w, v)) for w, v in ((_as_keras_variable(w), v) for w, v in pairs)]
    by_home: dict[int, dict[KerasVariable, np.ndarray]] = defaultdict(dict)
    for w, value in checked:
        if w._home is None:
            w._pending = value
        else:
            by_home[id(w._home)][w] = value
    for group in by_home.values():
        home = next(iter(group))._home
        assert home is not None
        home.write(group)


def get_value(x: Any) -> np.ndarray:
    """The value of a KerasVariable (e.g. `model.optimizer.learning_rate`) as a NumPy array."""
    (value,) = batch_get_value([x])
    return value


def set_value(x: Any, value: Any) -> None:
    """Sets a KerasVariable's value from a NumPy value."""
    batch_set_value([(x, value)])


def _as_keras_variable(x: Any) -> KerasVariable:
    if not isinstance(x, KerasVariable):
        raise TypeError(
            f"expected a gn.keras KerasVariable (a layer's weight or an optimizer's "
            f"hyperparameter), got {type(x).__name__}"
        )
    return x


def int_shape(x: Any) -> tuple[int | None, ...] | None:
    """The static shape of a tensor, KerasTensor or KerasVariable as a tuple."""
    shape = x.shape
    return None if shape is None else tuple(shape)


def count_params(x: Any) -> int:
    """The number of scalars in a KerasVariable."""
    return int(np.prod(_as_keras_variable(x).shape, dtype=np.int64))


__all__ = [
    "KerasVariable", "batch_get_value", "batch_set_value", "clear_session", "count_params",
    "epsilon", "floatx", "get_uid", "get_value", "int_shape", "learning_phase", "set_epsilon",
    "set_floatx", "set_value",
]  # fmt: skip
