"""Optimizers (TF1's tf.train.*Optimizer): each builds the update ops of its variables in the graph.

`minimize` is `compute_gradients` (gn.gradients of the loss) then `apply_gradients`: one update
per variable, in a name scope named after the optimizer (`Adam/update_w`), then the optimizer's
own bookkeeping (Adam's beta powers) and, after all of that, the global step's increment.
Optimizer state lives in *slot* variables, one set per variable, named like TF's (`w/Momentum`,
`w/Adam`, `w/Adam_1`), and in *non-slot* variables shared by all of them (`beta1_power`); both
are non-trainable global variables, so gn.global_variables_initializer() initializes them and a
Saver saves them.

Hyperparameters (learning rates, decay rates, ...) may be Python numbers, Tensors (a schedule of
the global step) or callables returning either. Python numbers become constants of each
variable's dtype (exact in float64); Tensors are cast to it. Formulas (elementwise; g is the
gradient, lr the learning rate, t the step count from 1):

    GradientDescent  var -= lr * g
    Momentum         accum = momentum * accum + g
                     var -= lr * accum              (use_nesterov: lr * (g + momentum * accum))
    Adagrad          accum += g**2;  var -= lr * g / sqrt(accum)
    Adadelta         accum = rho * accum + (1 - rho) * g**2
                     update = sqrt(accum_update + eps) / sqrt(accum + eps) * g
                     accum_update = rho * accum_update + (1 - rho) * update**2;  var -= lr * update
    RMSProp          ms = decay * ms + (1 - decay) * g**2                  (ms starts at 1)
                     mg = decay * mg + (1 - decay) * g                     (centered only)
                     mom = momentum * mom + lr * g / sqrt(ms - mg**2 + eps)   (mg = 0 uncentered)
                     var -= mom
    Adam             lr_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t)
                     m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g**2
                     vhat = max(vhat, v)                                   (amsgrad only)
                     var -= lr_t * m / (sqrt(v or vhat) + eps)
    AdamW            var -= lr * weight_decay * var, then Adam's update
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from graphnet.autodiff import gradients
from graphnet.ir import DTypeError, GraphKeys, GraphnetError, Node, Tensor
from graphnet.ir.graph import Graph, get_default_graph
from graphnet.ir.types import DType, float64, format_shape, merge_shapes
from graphnet.ops.array import fill
from graphnet.ops.control import group
from graphnet.ops.core import TensorLike, constant, convert_to_tensor
from graphnet.ops.math import cast, maximum, rsqrt, sqrt, square
from graphnet.ops.state import Variable, assign, assign_add, assign_sub
from graphnet.train.schedules import cast_to

#: A hyperparameter: a number, a Tensor, or a callable returning one (called per apply).
Hyperparameter = float | TensorLike | Callable[[], Any]

GATE_NONE, GATE_OP, GATE_GRAPH = 0, 1, 2


class OptimizerError(GraphnetError, ValueError):
    """An optimizer was given no variables, no gradients, or a variable twice."""


def _hyper_tensor(value: Hyperparameter, dtype: DType, name: str) -> Tensor:
    """A hyperparameter as a tensor of `dtype`: numbers become constants of it, tensors a cast."""
    return cast_to(value() if callable(value) else value, dtype, name)


def _unique_variables(var_list: Iterable[Any], what: str) -> list[Variable]:
    """`var_list` as a list of float gn.Variables, each once."""
    variables = list(var_list)
    seen: set[Variable] = set()
    for v in variables:
        if not isinstance(v, Variable):
            raise OptimizerError(f"{what}: {v!r} is not a gn.Variable; optimizers update variables")
        if v in seen:
            raise OptimizerError(f"{what}: variable '{v.op.name}' is listed more than once")
        if not v.dtype.is_floating:
            raise DTypeError(
                f"{what}: variable '{v.op.name}' has dtype {v.dtype}; optimizers update float "
                "variables only"
            )
        seen.add(v)
    return variables


def _checked_gradient(grad: TensorLike, var: Variable) -> Tensor:
    """`grad` as a tensor, checked against its variable's dtype and shape."""
    g = convert_to_tensor(grad, dtype=None, graph=var.graph)
    if g.dtype != var.dtype:
        raise DTypeError(
            f"gradient {g.name} of variable '{var.op.name}' has dtype {g.dtype}, expected "
            f"{var.dtype}"
        )
    try:
        merge_shapes(g.shape, var.shape)
    except GraphnetError:
        raise OptimizerError(
            f"gradient {g.name} of variable '{var.op.name}' has shape {format_shape(g.shape)}, "
            f"expected {format_shape(var.shape)}"
        ) from None
    return g


class Optimizer:
    """The base class (TF1's tf.train.Optimizer). Subclasses set `_hyper`, create their slots in
    `_create_slots`, build one variable's update in `_apply_dense` and may add shared updates
    in `_finish`. `use_locking` is taken for TF1's signatures and changes nothing: the updates
    of one run never race."""

    GATE_NONE, GATE_OP, GATE_GRAPH = GATE_NONE, GATE_OP, GATE_GRAPH

    def __init__(self, use_locking: bool, name: str) -> None:
        if not name:
            raise OptimizerError("an optimizer needs a name")
        self._name = name
        self._hyper: dict[str, Hyperparameter] = {}
        self._hyper_tensors: dict[tuple[str, DType], Tensor] = {}
        self._slots: dict[str, dict[Variable, Variable]] = {}
        self._non_slots: dict[tuple[str, Graph], Variable] = {}

    def get_name(self) -> str:
        return self._name

    # -- the public API -----------------------------------------------------------------------

    def minimize(
        self,
        loss: TensorLike,
        global_step: Any = None,
        var_list: Sequence[Variable] | None = None,
        gate_gradients: int = GATE_OP,
        aggregation_method: Any = None,
        colocate_gradients_with_ops: bool = False,
        name: str | None = None,
        grad_loss: TensorLike | None = None,
    ) -> Node:
        """An op that takes one optimization step on `loss`: compute_gradients + apply_gradients."""
        grads_and_vars = self.compute_gradients(
            loss, var_list, gate_gradients, aggregation_method, colocate_gradients_with_ops,
            grad_loss,
        )  # fmt: skip
        return self.apply_gradients(grads_and_vars, global_step=global_step, name=name)

    def compute_gradients(
        self,
        loss: TensorLike,
        var_list: Sequence[Variable] | None = None,
        gate_gradients: int = GATE_OP,
        aggregation_method: Any = None,
        colocate_gradients_with_ops: bool = False,
        grad_loss: TensorLike | None = None,
    ) -> list[tuple[Tensor | None, Variable]]:
        """[(gradient, variable)] for `var_list` (default: the trainable variables of the loss's
        graph); the gradient is None where the loss does not depend on the variable.

        gate_gradients, aggregation_method and colocate_gradients_with_ops are TF1's; the
        gradients here are always all computed before any update runs (GATE_GRAPH)."""
        if gate_gradients not in (GATE_NONE, GATE_OP, GATE_GRAPH):
            raise OptimizerError(
                f"gate_gradients must be Optimizer.GATE_NONE, GATE_OP or GATE_GRAPH (0, 1, 2), "
                f"got {gate_gradients!r}"
            )
        loss_t = convert_to_tensor(loss)
        if var_list is None:
            var_list = loss_t.graph.get_collection(GraphKeys.TRAINABLE_VARIABLES)
        variables = _unique_variables(var_list, f"{self._name}.compute_gradients")
        if not variables:
            raise OptimizerError(
                f"{self._name}.compute_gradients: no variables to optimize (var_list is empty "
                "and the graph has no trainable variables)"
            )
        grads = gradients(loss_t, variables, grad_ys=grad_loss)
        return list(zip(grads, variables, strict=True))

    def apply_gradients(
        self,
        grads_and_vars: Iterable[tuple[TensorLike | None, Variable]],
        global_step: Any = None,
        name: str | None = None,
    ) -> Node:
        """An op that applies the gradients (pairs whose gradient is None are skipped) and then
        adds 1 to `global_step` (when given); named `name` (default: the optimizer's name)."""
        pairs = list(grads_and_vars)
        what = f"{self._name}.apply_gradients"
        variables = _unique_variables((v for _, v in pairs), what)
        if not variables:
            raise OptimizerError(f"{what}: no variables provided")
        updates = [(_checked_gradient(g, v), v) for g, v in pairs if g is not None]
        if not updates:
            names = ", ".join(v.op.name for v in variables)
            raise OptimizerError(
                f"{what}: no gradients provided for any variable ({names}); check that the "
                "loss depends on them through differentiable ops"
            )
        graph = variables[0].graph
        with graph.as_default():
            with graph.control_dependencies(None), graph.name_scope(None):
                self._create_slots([v for _, v in updates])
            with graph.name_scope(name or self._name) as scope:
                self._prepare({v.dtype for _, v in updates})
                update_ops = []
                for g, v in updates:
                    with graph.name_scope(f"update_{v.op.name}"):
                        update_ops.append(self._apply_dense(g, v))
                if global_step is None:
                    return self._finish(update_ops, scope)
                with graph.control_dependencies([self._finish(update_ops, "update")]):
                    return assign_add(global_step, 1, name=scope).op

    def get_slot(self, var: Variable, name: str) -> Variable | None:
        """The slot variable `name` of `var` (see get_slot_names), or None."""
        return self._slots.get(name, {}).get(var)

    def get_slot_names(self) -> list[str]:
        return sorted(self._slots)

    def variables(self) -> list[Variable]:
        """The optimizer's slot and non-slot variables in the default graph, by name."""
        graph = get_default_graph()
        found = [v for (_, g), v in self._non_slots.items() if g is graph]
        found += [s for slots in self._slots.values() for s in slots.values() if s.graph is graph]
        return sorted(found, key=lambda v: v.name)

    # -- for subclasses -----------------------------------------------------------------------

    def _create_slots(self, var_list: list[Variable]) -> None:
        """Creates the slot (and non-slot) variables the updates of `var_list` need."""

    def _prepare(self, dtypes: set[DType]) -> None:
        """Converts the hyperparameters to tensors of each variable dtype, once per apply."""
        self._hyper_tensors = {
            (name, dtype): _hyper_tensor(value, dtype, name)
            for name, value in self._hyper.items()
            for dtype in sorted(dtypes, key=lambda d: d.name)
        }

    def _get_hyper(self, name: str, dtype: DType) -> Tensor:
        return self._hyper_tensors[(name, dtype)]

    def _apply_dense(self, grad: Tensor, var: Variable) -> Tensor | Node:
        raise NotImplementedError

    def _finish(self, update_ops: list[Tensor | Node], name: str) -> Node:
        return group(*update_ops, name=name)

    def _slot(self, var: Variable, slot_name: str, value: float = 0.0) -> Variable:
        """The slot `slot_name` of var, created filled with `value` as `<var>/<optimizer name>`
        (`_1`, `_2`... for the next slots)."""
        slots = self._slots.setdefault(slot_name, {})
        if var not in slots:
            with var.graph.name_scope(f"{var.op.name}/"):
                slots[var] = Variable(
                    lambda: fill(list(var.shape), constant(value, dtype=var.dtype)),
                    trainable=False,
                    name=self._name,
                )
        return slots[var]

    def _non_slot(
        self, name: str, initial_value: Hyperparameter, graph: Graph, dtype: DType
    ) -> Variable:
        """The variable `name` shared by all variables of `graph`, created if new."""
        key = (name, graph)
        if key not in self._non_slots:
            self._non_slots[key] = Variable(
                lambda: _hyper_tensor(initial_value, dtype, "initial_value"),
                trainable=False,
                name=name,
            )
        return self._non_slots[key]


class GradientDescentOptimizer(Optimizer):
    """var -= learning_rate * g."""

    def __init__(
        self,
        learning_rate: Hyperparameter,
        use_locking: bool = False,
        name: str = "GradientDescent",
    ) -> None:
        super().__init__(use_locking, name)
        self._hyper = {"learning_rate": learning_rate}

    def _apply_dense(self, grad: Tensor, var: Variable) -> Tensor:
        return assign_sub(var, self._get_hyper("learning_rate", var.dtype) * grad)


class MomentumOptimizer(Optimizer):
    """accum = momentum * accum + g; var -= lr * accum (Nesterov: lr * (g + momentum * accum)).
    Slot "momentum"."""

    def __init__(
        self,
        learning_rate: Hyperparameter,
        momentum: Hyperparameter,
        use_locking: bool = False,
        name: str = "Momentum",
        use_nesterov: bool = False,
    ) -> None:
        super().__init__(use_locking, name)
        self._hyper = {"learning_rate": learning_rate, "momentum": momentum}
        self._use_nesterov = use_nesterov

    def _create_slots(self, var_list: list[Variable]) -> None:
        for v in var_list:
            self._slot(v, "momentum")

    def _apply_dense(self, grad: Tensor, var: Variable) -> Tensor:
        lr, mu = (self._get_hyper(n, var.dtype) for n in ("learning_rate", "momentum"))
        slot = self._slots["momentum"][var]
        accum = assign(slot, mu * slot + grad)
        return assign_sub(var, lr * (grad + mu * accum if self._use_nesterov else accum))


class AdagradOptimizer(Optimizer):
    """accum += g**2; var -= lr * g / sqrt(accum). Slot "accumulator"."""

    def __init__(
        self,
        learning_rate: Hyperparameter,
        initial_accumulator_value: float = 0.1,
        use_locking: bool = False,
        name: str = "Adagrad",
    ) -> None:
        if initial_accumulator_value <= 0.0:
            raise OptimizerError(
                f"initial_accumulator_value must be positive, got {initial_accumulator_value}"
            )
        super().__init__(use_locking, name)
        self._hyper = {"learning_rate": learning_rate}
        self._initial_accumulator_value = initial_accumulator_value

    def _create_slots(self, var_list: list[Variable]) -> None:
        for v in var_list:
            self._slot(v, "accumulator", self._initial_accumulator_value)

    def _apply_dense(self, grad: Tensor, var: Variable) -> Tensor:
        accum = assign_add(self._slots["accumulator"][var], square(grad))
        return assign_sub(var, self._get_hyper("learning_rate", var.dtype) * grad * rsqrt(accum))


class AdadeltaOptimizer(Optimizer):
    """Zeiler's Adadelta (see the module docstring). Slots "accum" and "accum_update"."""

    def __init__(
        self,
        learning_rate: Hyperparameter = 0.001,
        rho: Hyperparameter = 0.95,
        epsilon: Hyperparameter = 1e-8,
        use_locking: bool = False,
        name: str = "Adadelta",
    ) -> None:
        super().__init__(use_locking, name)
        self._hyper = {"learning_rate": learning_rate, "rho": rho, "epsilon": epsilon}

    def _create_slots(self, var_list: list[Variable]) -> None:
        for v in var_list:
            self._slot(v, "accum")
            self._slot(v, "accum_update")

    def _apply_dense(self, grad: Tensor, var: Variable) -> Node:
        lr, rho, eps = (self._get_hyper(n, var.dtype) for n in ("learning_rate", "rho", "epsilon"))
        accum, accum_update = self._slots["accum"][var], self._slots["accum_update"][var]
        accum_t = assign(accum, rho * accum + (1.0 - rho) * square(grad))
        update = sqrt(accum_update + eps) * rsqrt(accum_t + eps) * grad
        accum_update_t = assign(accum_update, rho * accum_update + (1.0 - rho) * square(update))
        return group(assign_sub(var, lr * update), accum_update_t)


class RMSPropOptimizer(Optimizer):
    """TF1's RMSProp (see the module docstring): the mean square starts at 1 and epsilon is
    inside the square root. Slots "rms", "mg" (centered only) and "momentum"."""

    def __init__(
        self,
        learning_rate: Hyperparameter,
        decay: Hyperparameter = 0.9,
        momentum: Hyperparameter = 0.0,
        epsilon: Hyperparameter = 1e-10,
        use_locking: bool = False,
        centered: bool = False,
        name: str = "RMSProp",
    ) -> None:
        super().__init__(use_locking, name)
        self._hyper = {
            "learning_rate": learning_rate, "decay": decay, "momentum": momentum,
            "epsilon": epsilon,
        }  # fmt: skip
        self._centered = centered

    def _create_slots(self, var_list: list[Variable]) -> None:
        for v in var_list:
            self._slot(v, "rms", 1.0)
            if self._centered:
                self._slot(v, "mg")
            self._slot(v, "momentum")

    def _apply_dense(self, grad: Tensor, var: Variable) -> Tensor:
        lr, rho, mu, eps = (
            self._get_hyper(n, var.dtype) for n in ("learning_rate", "decay", "momentum", "epsilon")
        )
        ms = self._slots["rms"][var]
        ms_t = assign(ms, ms + (square(grad) - ms) * (1.0 - rho))
        denom = ms_t + eps
        if self._centered:
            mg = self._slots["mg"][var]
            mg_t = assign(mg, mg + (grad - mg) * (1.0 - rho))
            denom = ms_t - square(mg_t) + eps
        mom = self._slots["momentum"][var]
        mom_t = assign(mom, mom * mu + lr * grad * rsqrt(denom))
        return assign_sub(var, mom_t)


class AdamOptimizer(Optimizer):
    """Kingma and Ba's Adam with TF1's bias correction folded into the step size (see the
    module docstring). Slots "m", "v" (and "vhat" with amsgrad); non-slot variables
    "beta1_power" and "beta2_power" (of the widest float dtype among the variables)."""

    def __init__(
        self,
        learning_rate: Hyperparameter = 0.001,
        beta1: Hyperparameter = 0.9,
        beta2: Hyperparameter = 0.999,
        epsilon: Hyperparameter = 1e-8,
        use_locking: bool = False,
        name: str = "Adam",
        *,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(use_locking, name)
        self._hyper = {
            "learning_rate": learning_rate, "beta1": beta1, "beta2": beta2, "epsilon": epsilon,
        }  # fmt: skip
        self._amsgrad = amsgrad

    def _create_slots(self, var_list: list[Variable]) -> None:
        graph = var_list[0].graph
        dtype = float64 if any(v.dtype == float64 for v in var_list) else var_list[0].dtype
        for beta in ("beta1", "beta2"):
            self._non_slot(f"{beta}_power", self._hyper[beta], graph, dtype)
        for v in var_list:
            self._slot(v, "m")
            self._slot(v, "v")
            if self._amsgrad:
                self._slot(v, "vhat")

    def _beta_powers(self, graph: Graph) -> tuple[Variable, Variable]:
        return self._non_slots[("beta1_power", graph)], self._non_slots[("beta2_power", graph)]

    def _apply_dense(self, grad: Tensor, var: Variable) -> Tensor:
        lr, beta1, beta2, eps = (
            self._get_hyper(n, var.dtype) for n in ("learning_rate", "beta1", "beta2", "epsilon")
        )
        beta1_power, beta2_power = (cast(p, var.dtype) for p in self._beta_powers(var.graph))
        lr_t = lr * sqrt(1.0 - beta2_power) / (1.0 - beta1_power)
        m, v = self._slots["m"][var], self._slots["v"][var]
        m_t = assign(m, m + (grad - m) * (1.0 - beta1))
        v_t = assign(v, v + (square(grad) - v) * (1.0 - beta2))
        if self._amsgrad:
            vhat = self._slots["vhat"][var]
            v_t = assign(vhat, maximum(vhat, v_t))
        return assign_sub(var, lr_t * m_t / (sqrt(v_t) + eps))

    def _finish(self, update_ops: list[Tensor | Node], name: str) -> Node:
        graph = update_ops[0].graph
        powers = self._beta_powers(graph)
        with graph.control_dependencies(update_ops):
            updates = [
                assign(p, p * self._get_hyper(beta, p.dtype))
                for p, beta in zip(powers, ("beta1", "beta2"), strict=True)
            ]
        return group(*update_ops, *updates, name=name)

    def _prepare(self, dtypes: set[DType]) -> None:
        # the beta powers' updates need the betas in the powers' dtype too
        super()._prepare(dtypes | {p.dtype for p in self._beta_powers(get_default_graph())})


class DecoupledWeightDecayExtension(Optimizer):
    """Adds Loshchilov and Hutter's decoupled weight decay to an optimizer (mixed in first):
    before the optimizer's own update, each variable is decayed by

        var -= learning_rate * weight_decay * var

    (the learning rate's current value: a schedule of the learning rate schedules the decay too,
    as in PyTorch's and Keras's AdamW). TF1 contrib's and TF-Addons' versions subtract
    `weight_decay * var` instead; pass weight_decay / learning_rate to reproduce them.
    `minimize` and `apply_gradients` take `decay_var_list`: the variables to decay (default:
    all that are updated). Only correct for optimizers whose update does not read `var`."""

    def __init__(self, weight_decay: Hyperparameter, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._hyper["weight_decay"] = weight_decay
        self._decay_var_list: set[Variable] | None = None

    def minimize(
        self,
        loss: TensorLike,
        global_step: Any = None,
        var_list: Sequence[Variable] | None = None,
        gate_gradients: int = GATE_OP,
        aggregation_method: Any = None,
        colocate_gradients_with_ops: bool = False,
        name: str | None = None,
        grad_loss: TensorLike | None = None,
        decay_var_list: Sequence[Variable] | None = None,
    ) -> Node:
        grads_and_vars = self.compute_gradients(
            loss, var_list, gate_gradients, aggregation_method, colocate_gradients_with_ops,
            grad_loss,
        )  # fmt: skip
        return self.apply_gradients(grads_and_vars, global_step, name, decay_var_list)

    def apply_gradients(
        self,
        grads_and_vars: Iterable[tuple[TensorLike | None, Variable]],
        global_step: Any = None,
        name: str | None = None,
        decay_var_list: Sequence[Variable] | None = None,
    ) -> Node:
        with self._decaying(decay_var_list):
            return super().apply_gradients(grads_and_vars, global_step, name)

    @contextlib.contextmanager
    def _decaying(self, decay_var_list: Sequence[Variable] | None) -> Iterator[None]:
        self._decay_var_list = None if decay_var_list is None else set(decay_var_list)
        try:
            yield
        finally:
            self._decay_var_list = None

    def _apply_dense(self, grad: Tensor, var: Variable) -> Tensor | Node:
        if self._decay_var_list is not None and var not in self._decay_var_list:
            return super()._apply_dense(grad, var)
        lr, wd = (self._get_hyper(n, var.dtype) for n in ("learning_rate", "weight_decay"))
        decay = assign_sub(var, lr * wd * var, name="decay")
        with var.graph.control_dependencies([decay]):
            return super()._apply_dense(grad, var)


def extend_with_decoupled_weight_decay(base_optimizer: type[Optimizer]) -> type[Optimizer]:
    """A subclass of `base_optimizer` with decoupled weight decay; its constructor takes the
    weight decay first: `MomentumW = extend_with_decoupled_weight_decay(MomentumOptimizer)`."""
    return type(
        f"{base_optimizer.__name__}WithDecoupledWeightDecay",
        (DecoupledWeightDecayExtension, base_optimizer),
        {},
    )


class AdamWOptimizer(DecoupledWeightDecayExtension, AdamOptimizer):
    """Adam with decoupled weight decay: var -= lr * weight_decay * var, then Adam's update
    (see DecoupledWeightDecayExtension)."""

    def __init__(
        self,
        weight_decay: Hyperparameter,
        learning_rate: Hyperparameter = 0.001,
        beta1: Hyperparameter = 0.9,
        beta2: Hyperparameter = 0.999,
        epsilon: Hyperparameter = 1e-8,
        use_locking: bool = False,
        name: str = "AdamW",
        *,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(
            weight_decay, learning_rate, beta1, beta2, epsilon, use_locking, name, amsgrad=amsgrad
        )


AdamW = AdamWOptimizer
