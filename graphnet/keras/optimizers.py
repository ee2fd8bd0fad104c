"""gn.keras.optimizers: Keras' optimizer names and signatures over graphnet.train's TF1
optimizers.

Each holds its learning rate as a KerasVariable (`optimizer.learning_rate`, alias `lr`), so
gn.keras.backend.get_value / set_value and the schedulers read and change it while training.
Keras' clipnorm, clipvalue and global_clipnorm clip the gradients first.

Differences from Keras 2's own updates, inherited from the TF1 optimizers: SGD with momentum
keeps TF1's accumulator (the same steps while the learning rate is constant), Adagrad adds no
epsilon. RMSprop's mean square starts at 0 as in Keras 2 (TF1's starts at 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from graphnet.autodiff import gradients as gn_gradients
from graphnet.ir import Node, Tensor
from graphnet.ir.graph import get_default_graph
from graphnet.keras import backend
from graphnet.keras.backend import KerasVariable, variable_in
from graphnet.ops.core import constant
from graphnet.ops.math import clip_by_value
from graphnet.ops.rnn import clip_by_global_norm, clip_by_norm
from graphnet.ops.state import Variable
from graphnet.train import optimizers as tf1


class _KerasRMSProp(tf1.RMSPropOptimizer):
    """TF1's RMSProp with Keras 2's initial mean square of 0 (TF1 starts it at 1)."""

    def _create_slots(self, var_list: list[Variable]) -> None:
        for v in var_list:
            self._slot(v, "rms", 0.0)
            if self._centered:
                self._slot(v, "mg")
            self._slot(v, "momentum")


class Optimizer:
    """A Keras optimizer: the TF1 optimizer that makes the updates, a learning-rate
    KerasVariable, and gradient clipping."""

    def __init__(
        self,
        name: str,
        learning_rate: float,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
    ) -> None:
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "At most one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set."
            )
        self.name = name
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.learning_rate = _hyperparameter(f"{name}/learning_rate", learning_rate)
        self._tf1: tf1.Optimizer | None = None

    @property
    def lr(self) -> KerasVariable:
        return self.learning_rate

    @property
    def hyperparameters(self) -> list[KerasVariable]:
        """The KerasVariables a model running this optimizer holds values of."""
        return [self.learning_rate]

    def _create(self, learning_rate: Any) -> tf1.Optimizer:
        """The TF1 optimizer; `learning_rate` reads this optimizer's learning-rate variable."""
        raise NotImplementedError

    def _current_learning_rate(self) -> Tensor:
        return variable_in(self.learning_rate, get_default_graph()).value()

    def gradients(self, loss: Tensor, variables: Sequence[Variable]) -> list[Tensor | None]:
        """d loss / d variables, clipped as configured (None where the loss does not depend on
        a variable)."""
        grads = gn_gradients(loss, list(variables))
        if self.global_clipnorm is not None:
            clipped, _ = clip_by_global_norm(grads, self.global_clipnorm)
            return clipped
        if self.clipnorm is not None:
            return [None if g is None else clip_by_norm(g, self.clipnorm) for g in grads]
        if self.clipvalue is not None:
            c = self.clipvalue
            return [None if g is None else clip_by_value(g, -c, c) for g in grads]
        return grads

    def apply(self, grads_and_vars: Sequence[tuple[Tensor, Variable]]) -> Node:
        """The op applying one step of updates (in the variables' graph)."""
        if self._tf1 is None:
            self._tf1 = self._create(self._current_learning_rate)
        return self._tf1.apply_gradients(grads_and_vars)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "learning_rate": float(backend.get_value(self.learning_rate))}

    def __repr__(self) -> str:
        return f"<gn.keras.optimizers.{type(self).__name__} name={self.name!r}>"


def _hyperparameter(name: str, value: float) -> KerasVariable:
    dtype = backend.floatx()
    variable = KerasVariable(
        name, (), dtype, lambda shape, dt: constant(float(value), dtype=dt), trainable=False
    )
    variable._pending = np.asarray(value, dtype=variable.dtype.np)
    return variable


class SGD(Optimizer):
    """Gradient descent, with (Nesterov) momentum when momentum > 0."""

    def __init__(
        self,
        learning_rate: float = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        name: str = "SGD",
        **kwargs: Any,
    ) -> None:
        super().__init__(name, learning_rate, **kwargs)
        if not 0 <= momentum <= 1:
            raise ValueError(f"`momentum` must be between [0, 1], got {momentum}")
        self.momentum, self.nesterov = float(momentum), nesterov

    def _create(self, learning_rate: Any) -> tf1.Optimizer:
        if self.momentum == 0:
            return tf1.GradientDescentOptimizer(learning_rate, name=self.name)
        return tf1.MomentumOptimizer(
            learning_rate, self.momentum, name=self.name, use_nesterov=self.nesterov
        )


class Adam(Optimizer):
    """Adam (Kingma and Ba) with TF's epsilon-hat form; amsgrad keeps the max of v."""

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        name: str = "Adam",
        **kwargs: Any,
    ) -> None:
        super().__init__(name, learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad

    def _create(self, learning_rate: Any) -> tf1.Optimizer:
        return tf1.AdamOptimizer(
            learning_rate,
            self.beta_1,
            self.beta_2,
            self.epsilon,
            name=self.name,
            amsgrad=self.amsgrad,
        )


class AdamW(Adam):
    """Adam with decoupled weight decay: var -= lr * weight_decay * var before each step."""

    def __init__(
        self,
        learning_rate: float = 0.001,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        name: str = "AdamW",
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, name, **kwargs)
        self.weight_decay = weight_decay

    def _create(self, learning_rate: Any) -> tf1.Optimizer:
        return tf1.AdamWOptimizer(
            self.weight_decay,
            learning_rate,
            self.beta_1,
            self.beta_2,
            self.epsilon,
            name=self.name,
            amsgrad=self.amsgrad,
        )


class RMSprop(Optimizer):
    """ms = rho * ms + (1 - rho) * g**2; var -= lr * g / sqrt(ms + epsilon) (with momentum
    and centering as in Keras)."""

    def __init__(
        self,
        learning_rate: float = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        name: str = "RMSprop",
        **kwargs: Any,
    ) -> None:
        super().__init__(name, learning_rate, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered

    def _create(self, learning_rate: Any) -> tf1.Optimizer:
        return _KerasRMSProp(
            learning_rate,
            self.rho,
            self.momentum,
            self.epsilon,
            centered=self.centered,
            name=self.name,
        )


class Adagrad(Optimizer):
    """accum += g**2; var -= lr * g / sqrt(accum)."""

    def __init__(
        self,
        learning_rate: float = 0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
        name: str = "Adagrad",
        **kwargs: Any,
    ) -> None:
        super().__init__(name, learning_rate, **kwargs)
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon

    def _create(self, learning_rate: Any) -> tf1.Optimizer:
        return tf1.AdagradOptimizer(learning_rate, self.initial_accumulator_value, name=self.name)


class Adadelta(Optimizer):
    """Zeiler's Adadelta."""

    def __init__(
        self,
        learning_rate: float = 0.001,
        rho: float = 0.95,
        epsilon: float = 1e-7,
        name: str = "Adadelta",
        **kwargs: Any,
    ) -> None:
        super().__init__(name, learning_rate, **kwargs)
        self.rho, self.epsilon = rho, epsilon

    def _create(self, learning_rate: Any) -> tf1.Optimizer:
        return tf1.AdadeltaOptimizer(learning_rate, self.rho, self.epsilon, name=self.name)


class TF1Optimizer(Optimizer):
    """A graphnet.train (TF1) optimizer given to compile(): its learning rate, when a number,
    becomes this wrapper's learning-rate variable so schedulers can change it."""

    def __init__(self, optimizer: tf1.Optimizer) -> None:
        rate = optimizer._hyper.get("learning_rate")
        if not isinstance(rate, int | float | np.floating | np.integer):
            raise ValueError(
                f"compile(optimizer={optimizer.get_name()}): give the TF1 optimizer a numeric "
                "learning rate (gn.keras schedules it through a variable), or use a gn.keras "
                "optimizer"
            )
        super().__init__(optimizer.get_name(), float(rate))
        self._optimizer = optimizer

    def _create(self, learning_rate: Any) -> tf1.Optimizer:
        # NOTE: the TF1 optimizers read hyperparameters from _hyper at each apply_gradients;
        # a callable there is their documented form of a hyperparameter.
        self._optimizer._hyper["learning_rate"] = learning_rate
        return self._optimizer


_BY_NAME = {
    "sgd": lambda: SGD(),
    "momentum": lambda: SGD(momentum=0.9, name="Momentum"),
    "adam": lambda: Adam(),
    "adamw": lambda: AdamW(),
    "rmsprop": lambda: RMSprop(),
    "adagrad": lambda: Adagrad(),
    "adadelta": lambda: Adadelta(),
}


def get(identifier: Any) -> Optimizer:
    """An optimizer from a name ('sgd', 'adam', ...), a gn.keras optimizer (returned as is) or
    a graphnet.train TF1 optimizer (wrapped)."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, tf1.Optimizer):
        return TF1Optimizer(identifier)
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(
        f"Could not interpret optimizer identifier: {identifier!r}; expected a gn.keras "
        f"optimizer, a graphnet.train optimizer or one of {sorted(_BY_NAME)}"
    )


__all__ = ["SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "get"]
