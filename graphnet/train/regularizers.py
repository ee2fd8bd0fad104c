"""Weight regularizers (Keras's): `reg(weights)` -> a scalar penalty Tensor to add to a loss.

    L1(l1)        l1 * sum(|w|)
    L2(l2)        l2 * sum(w**2)        (Keras's: no 1/2, unlike tf.nn.l2_loss)
    L1L2(l1, l2)  both terms

`apply_regularization` sums a regularizer over a list of weights and adds the penalty to the
graph's REGULARIZATION_LOSSES collection, which gn.losses.get_regularization_loss() sums (and
gn.losses.get_total_loss() includes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from graphnet.ir import GraphKeys, ShapeError, Tensor
from graphnet.ir.graph import get_default_graph
from graphnet.ops.core import TensorLike, constant, convert_to_tensor, op_scope
from graphnet.ops.math import abs as abs_, add_n, reduce_sum, square
from graphnet.train.initializers import ConfigError, lookup

#: TF1's GraphKeys.WEIGHTS: the weights apply_regularization regularizes by default.
WEIGHTS = GraphKeys.WEIGHTS


class Regularizer:
    """The base class: `reg(weights)` -> a scalar Tensor; `get_config()` gives its arguments."""

    def __call__(self, x: TensorLike) -> Tensor:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Regularizer:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _factor(value: float, what: str) -> float:
    value = float(value)
    if value < 0.0:
        raise ConfigError(f"regularization factor {what} must be non-negative, got {value}")
    return value


class L1L2(Regularizer):
    """l1 * sum(|x|) + l2 * sum(x**2), in x's dtype (0 when both factors are 0)."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1 = _factor(l1, "l1")
        self.l2 = _factor(l2, "l2")

    def __call__(self, x: TensorLike) -> Tensor:
        x_t = convert_to_tensor(x)
        terms = []
        if self.l1:
            terms.append(self.l1 * reduce_sum(abs_(x_t)))
        if self.l2:
            terms.append(self.l2 * reduce_sum(square(x_t)))
        if not terms:
            return constant(0.0, dtype=x_t.dtype, graph=x_t.graph)
        return terms[0] if len(terms) == 1 else terms[0] + terms[1]

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """l1 * sum(|x|). `l` is Keras's older name for l1."""

    def __init__(self, l1: float = 0.01, *, l: float | None = None) -> None:  # noqa: E741 - Keras's name
        super().__init__(l1=l1 if l is None else l)

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


class L2(L1L2):
    """l2 * sum(x**2). `l` is Keras's older name for l2."""

    def __init__(self, l2: float = 0.01, *, l: float | None = None) -> None:  # noqa: E741 - Keras's name
        super().__init__(l2=l2 if l is None else l)

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


def l1(l: float = 0.01) -> L1:  # noqa: E741 - Keras's name
    return L1(l)


def l2(l: float = 0.01) -> L2:  # noqa: E741 - Keras's name
    return L2(l)


def l1_l2(l1: float = 0.01, l2: float = 0.01) -> L1L2:
    return L1L2(l1, l2)


_REGISTRY: dict[str, Callable[..., Regularizer]] = {
    "L1L2": L1L2, "L1": L1, "L2": L2, "l1": L1, "l2": L2, "l1_l2": l1_l2,
}  # fmt: skip


def get(identifier: Any) -> Any:
    """A regularizer from a Keras name ("l2", "L1L2", ...), a serialized config
    ({"class_name": ..., "config": {...}}), or a callable (returned as is); None -> None."""
    return lookup(identifier, _REGISTRY, "regularizer")


def serialize(regularizer: Regularizer) -> dict[str, Any]:
    return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}


def deserialize(config: Mapping[str, Any]) -> Regularizer:
    return lookup(config, _REGISTRY, "regularizer")


def apply_regularization(
    regularizer: Callable[[Any], Tensor | None], weights_list: Sequence[Any] | None = None
) -> Tensor:
    """The sum of regularizer(w) over `weights_list` (default: the WEIGHTS collection), added to
    the REGULARIZATION_LOSSES collection (TF1's tf.contrib.layers.apply_regularization)."""
    graph = get_default_graph()
    weights = list(weights_list) if weights_list else graph.get_collection(WEIGHTS)
    if not weights:
        raise ConfigError("apply_regularization: no weights to regularize")
    with op_scope(weights, None, "get_regularization_penalty") as scope:
        penalties = []
        for w in weights:
            p = regularizer(w)
            p = constant(0.0, dtype=convert_to_tensor(w).dtype) if p is None else p
            if p.shape != ():
                raise ShapeError(
                    f"apply_regularization: the regularizer returned {p.name} of shape "
                    f"{p.shape} for weights {convert_to_tensor(w).name}; it must return a scalar"
                )
            penalties.append(p)
        total = add_n(penalties, name=scope)
        total.graph.add_to_collection(GraphKeys.REGULARIZATION_LOSSES, total)
    return total
