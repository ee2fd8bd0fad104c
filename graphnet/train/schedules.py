"""The global step and learning-rate schedules of it (TF1's tf.train.*_decay).

Each schedule returns a scalar Tensor of the learning rate's dtype (a Python number is float32,
as in TF) computed from `global_step` at run time, so it can be passed to an optimizer as its
learning rate. Python numbers among the other arguments become constants of that dtype (exact
in float64); tensors are cast to it. With p = global_step / decay_steps (floor(p) when
`staircase`):

    exponential_decay     lr * decay_rate ** p
    natural_exp_decay     lr * exp(-decay_rate * p)
    inverse_time_decay    lr / (1 + decay_rate * p)
    polynomial_decay      (lr - end_lr) * (1 - min(step, ds) / ds) ** power + end_lr
                          (cycle: ds * ceil(step / ds) instead of ds, ds at step 0)
    cosine_decay          lr * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, ds) / ds)) + alpha)
                          (ds: decay_steps, step: global_step)
    cosine_decay_restarts SGDR: cosine_decay over periods growing by t_mul, restarting at
                          m_mul times the previous peak
    piecewise_constant    values[i] for boundaries[i-1] < x <= boundaries[i]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from graphnet.ir import DTypeError, GraphKeys, GraphnetError, ShapeError, Tensor
from graphnet.ir.graph import Graph, get_default_graph
from graphnet.ir.types import DType, int64
from graphnet.ops.array import zeros
from graphnet.ops.core import TensorLike, constant, convert_to_tensor, op_scope
from graphnet.ops.math import (
    add,
    cast,
    ceil,
    cos,
    divide,
    equal,
    exp,
    floor,
    log,
    minimum,
    multiply,
    pow as pow_,
    where,
)
from graphnet.ops.state import Variable


class ScheduleError(GraphnetError, ValueError):
    """A schedule without a global step, or a graph with more than one global step."""


def cast_to(value: TensorLike, dtype: DType, name: str = "Const") -> Tensor:
    """`value` as a tensor of `dtype`: a number becomes a constant of it, a tensor is cast."""
    if isinstance(value, Tensor | Variable):
        return cast(value, dtype)
    return constant(value, dtype=dtype, name=name)


# -- the global step ----------------------------------------------------------------------------


def assert_global_step(global_step_tensor: Any) -> None:
    """Raises unless `global_step_tensor` is an integer scalar Tensor or Variable."""
    if not isinstance(global_step_tensor, Tensor | Variable):
        raise DTypeError(
            f"the global step must be a Tensor or gn.Variable, got {global_step_tensor!r}"
        )
    if not global_step_tensor.dtype.is_integer or global_step_tensor.shape not in ((), None):
        raise DTypeError(
            f"the global step {global_step_tensor.name} must be an integer scalar, got "
            f"{global_step_tensor.dtype} of shape {global_step_tensor.shape}"
        )


def get_global_step(graph: Graph | None = None) -> Variable | Tensor | None:
    """The graph's global step: the one variable in its GLOBAL_STEP collection, else the tensor
    named 'global_step:0', else None."""
    graph = get_default_graph() if graph is None else graph
    found = graph.get_collection(GraphKeys.GLOBAL_STEP)
    if len(found) > 1:
        names = ", ".join(v.name for v in found)
        raise ScheduleError(f"the GLOBAL_STEP collection holds more than one variable: {names}")
    if found:
        step: Variable | Tensor = found[0]
    elif "global_step" in graph:
        step = graph.get_tensor_by_name("global_step:0")
    else:
        return None
    assert_global_step(step)
    return step


def create_global_step(graph: Graph | None = None) -> Variable:
    """A new global step: an int64 scalar variable named "global_step", starting at 0, not
    trainable, in the GLOBAL_VARIABLES and GLOBAL_STEP collections."""
    graph = get_default_graph() if graph is None else graph
    existing = get_global_step(graph)
    if existing is not None:
        raise ScheduleError(f"the graph already has a global step, {existing.name}")
    with graph.as_default(), graph.control_dependencies(None), graph.name_scope(None):
        return Variable(
            lambda: zeros([], int64),
            trainable=False,
            name="global_step",
            collections=[GraphKeys.GLOBAL_VARIABLES, GraphKeys.GLOBAL_STEP],
        )


def get_or_create_global_step(graph: Graph | None = None) -> Variable | Tensor:
    """The graph's global step, created (see create_global_step) if it has none."""
    step = get_global_step(graph)
    return create_global_step(graph) if step is None else step


def global_step(sess: Any, global_step_tensor: Any) -> int:
    """The value of the global step in Session `sess`, as a Python int."""
    return int(sess.run(global_step_tensor))


# -- schedules ----------------------------------------------------------------------------------


def _step_fraction(
    global_step: TensorLike | None, decay_steps: TensorLike, dtype: DType, what: str
) -> Tensor:
    """global_step / decay_steps in `dtype`; raises when there is no global step."""
    if global_step is None:
        raise ScheduleError(f"{what} needs a global_step (see get_or_create_global_step)")
    return cast_to(global_step, dtype) / cast_to(decay_steps, dtype, "decay_steps")


def _decay(
    formula: Callable[[Tensor, Tensor, Tensor, str], Tensor],
    what: str,
    default_name: str,
    learning_rate: TensorLike,
    global_step: TensorLike | None,
    decay_steps: TensorLike,
    decay_rate: TensorLike,
    staircase: bool,
    name: str | None,
) -> Tensor:
    """formula(lr, decay_rate, p, name) with p = global_step / decay_steps, floored when
    staircase, all in the learning rate's dtype."""
    with op_scope([learning_rate, global_step, decay_rate], name, default_name) as scope:
        lr = convert_to_tensor(learning_rate, name="learning_rate")
        p = _step_fraction(global_step, decay_steps, lr.dtype, what)
        rate = cast_to(decay_rate, lr.dtype, "decay_rate")
        return formula(lr, rate, floor(p) if staircase else p, scope)


def exponential_decay(
    learning_rate: TensorLike,
    global_step: TensorLike,
    decay_steps: TensorLike,
    decay_rate: TensorLike,
    staircase: bool = False,
    name: str | None = None,
) -> Tensor:
    """learning_rate * decay_rate ** (global_step / decay_steps) (an integer power if
    staircase)."""
    return _decay(
        lambda lr, rate, p, scope: multiply(lr, pow_(rate, p), name=scope),
        "exponential_decay", "ExponentialDecay", learning_rate, global_step, decay_steps,
        decay_rate, staircase, name,
    )  # fmt: skip


def natural_exp_decay(
    learning_rate: TensorLike,
    global_step: TensorLike,
    decay_steps: TensorLike,
    decay_rate: TensorLike,
    staircase: bool = False,
    name: str | None = None,
) -> Tensor:
    """learning_rate * exp(-decay_rate * global_step / decay_steps) (floored if staircase)."""
    return _decay(
        lambda lr, rate, p, scope: multiply(lr, exp(-rate * p), name=scope),
        "natural_exp_decay", "NaturalExpDecay", learning_rate, global_step, decay_steps,
        decay_rate, staircase, name,
    )  # fmt: skip


def inverse_time_decay(
    learning_rate: TensorLike,
    global_step: TensorLike,
    decay_steps: TensorLike,
    decay_rate: TensorLike,
    staircase: bool = False,
    name: str | None = None,
) -> Tensor:
    """learning_rate / (1 + decay_rate * global_step / decay_steps) (floored if staircase)."""
    return _decay(
        lambda lr, rate, p, scope: divide(lr, 1.0 + rate * p, name=scope),
        "inverse_time_decay", "InverseTimeDecay", learning_rate, global_step, decay_steps,
        decay_rate, staircase, name,
    )  # fmt: skip


def polynomial_decay(
    learning_rate: TensorLike,
    global_step: TensorLike,
    decay_steps: TensorLike,
    end_learning_rate: TensorLike = 0.0001,
    power: TensorLike = 1.0,
    cycle: bool = False,
    name: str | None = None,
) -> Tensor:
    """From learning_rate to end_learning_rate over decay_steps along (1 - p) ** power, then
    constant; with `cycle`, decay_steps grows to the next multiple of itself instead."""
    with op_scope([learning_rate, global_step], name, "PolynomialDecay") as scope:
        lr = convert_to_tensor(learning_rate, name="learning_rate")
        if global_step is None:
            raise ScheduleError("polynomial_decay needs a global_step")
        step = cast_to(global_step, lr.dtype)
        steps = cast_to(decay_steps, lr.dtype, "decay_steps")
        if cycle:
            steps = steps * where(equal(step, 0.0), 1.0, ceil(step / steps))
        else:
            step = minimum(step, steps)
        end_lr = cast_to(end_learning_rate, lr.dtype, "end_learning_rate")
        decayed = (lr - end_lr) * pow_(1.0 - step / steps, cast_to(power, lr.dtype, "power"))
        return add(decayed, end_lr, name=scope)


def _cosine(fraction: Tensor, alpha: TensorLike) -> Tensor:
    """(1 - alpha) * 0.5 * (1 + cos(pi * fraction)) + alpha."""
    alpha_t = cast_to(alpha, fraction.dtype, "alpha")
    return (1.0 - alpha_t) * (0.5 * (1.0 + cos(math.pi * fraction))) + alpha_t


def cosine_decay(
    learning_rate: TensorLike,
    global_step: TensorLike,
    decay_steps: TensorLike,
    alpha: TensorLike = 0.0,
    name: str | None = None,
) -> Tensor:
    """learning_rate * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, decay_steps) / decay_steps))
    + alpha): half a cosine from learning_rate down to alpha * learning_rate."""
    with op_scope([learning_rate, global_step], name, "CosineDecay") as scope:
        lr = convert_to_tensor(learning_rate, name="learning_rate")
        fraction = _step_fraction(global_step, decay_steps, lr.dtype, "cosine_decay")
        return multiply(lr, _cosine(minimum(fraction, 1.0), alpha), name=scope)


def cosine_decay_restarts(
    learning_rate: TensorLike,
    global_step: TensorLike,
    first_decay_steps: TensorLike,
    t_mul: float = 2.0,
    m_mul: TensorLike = 1.0,
    alpha: TensorLike = 0.0,
    name: str | None = None,
) -> Tensor:
    """SGDR (Loshchilov and Hutter): cosine decays over periods of first_decay_steps,
    t_mul times longer each, the i-th starting from learning_rate * m_mul ** i."""
    with op_scope([learning_rate, global_step], name, "SGDRDecay") as scope:
        lr = convert_to_tensor(learning_rate, name="learning_rate")
        fraction = _step_fraction(global_step, first_decay_steps, lr.dtype, "cosine_decay_restarts")
        if t_mul == 1.0:
            restarts = floor(fraction)
            fraction = fraction - restarts
        else:
            restarts = floor(log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
            done = (1.0 - pow_(cast_to(t_mul, lr.dtype), restarts)) / (1.0 - t_mul)
            fraction = (fraction - done) / pow_(cast_to(t_mul, lr.dtype), restarts)
        peak = pow_(cast_to(m_mul, lr.dtype, "m_mul"), restarts)
        alpha_t = cast_to(alpha, lr.dtype, "alpha")
        decayed = (1.0 - alpha_t) * peak * (0.5 * (1.0 + cos(math.pi * fraction))) + alpha_t
        return multiply(lr, decayed, name=scope)


def _boundary(b: TensorLike, x: Tensor) -> Tensor:
    """A boundary of piecewise_constant in x's dtype; int32 tensors widen to int64 x."""
    if isinstance(b, Tensor | Variable):
        b_t = convert_to_tensor(b)
        if b_t.dtype == x.dtype:
            return b_t
        if b_t.dtype.name == "int32" and x.dtype == int64:
            return cast_to(b_t, int64)
        raise DTypeError(f"boundary {b_t.name} has dtype {b_t.dtype}; x has dtype {x.dtype}")
    if x.dtype.is_integer and float(b) != int(b):
        raise DTypeError(f"boundary {b!r} is not an integer but x has dtype {x.dtype}")
    return constant(b, dtype=x.dtype, name="boundary")


def piecewise_constant(
    x: TensorLike,
    boundaries: Sequence[TensorLike],
    values: Sequence[TensorLike],
    name: str | None = None,
) -> Tensor:
    """values[0] while x <= boundaries[0], values[i] while boundaries[i-1] < x <= boundaries[i],
    values[-1] beyond the last boundary (boundaries increasing; values of one dtype)."""
    if len(values) != len(boundaries) + 1:
        raise ShapeError(
            f"piecewise_constant: {len(boundaries)} boundaries need {len(boundaries) + 1} "
            f"values, got {len(values)}"
        )
    with op_scope([x, *boundaries, *values], name, "PiecewiseConstant") as scope:
        x_t = convert_to_tensor(x)
        bounds = [_boundary(b, x_t) for b in boundaries]
        vals = [convert_to_tensor(v, name="value") for v in values]
        dtypes = sorted({v.dtype.name for v in vals})
        if len(dtypes) > 1:
            raise DTypeError(f"piecewise_constant: values must have one dtype, got {dtypes}")
        result = vals[-1]
        for i in reversed(range(len(bounds))):
            result = where(x_t <= bounds[i], vals[i], result, name=scope if i == 0 else None)
        return result
