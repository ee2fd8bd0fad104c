"""Runs a Plan step by step with the NumPy reference kernels, freeing values after last use."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from graphnet.backends.registry import get_kernel
from graphnet.compiler.evaluate import register_evaluator
from graphnet.compiler.plan import Plan, Step
from graphnet.ir import GraphnetError, OpError
from graphnet.ir.types import format_shape
from graphnet.ops.registry import get_op

BACKEND_NAME = "reference"


@dataclass
class RunResult:
    fetches: list[np.ndarray | None]
    updates: dict[str, np.ndarray]


def bind_kernel(op: str, attrs: Mapping[str, Any]) -> Callable[..., Any]:
    """The op's kernel with the attrs it declares bound (and its own RNG if it draws)."""
    fn = get_kernel(op, BACKEND_NAME)
    params = inspect.signature(fn).parameters
    kwargs = {k: v for k, v in attrs.items() if k in params}
    if get_op(op).random:
        seed, seed2 = attrs["seed"], attrs["seed2"]
        kwargs["rng"] = np.random.default_rng(None if seed is None else [seed, seed2])
    return lambda *args: fn(*args, **kwargs)


def evaluate(
    op: str, attrs: Mapping[str, Any], inputs: Sequence[np.ndarray]
) -> tuple[np.ndarray, ...]:
    """One op on concrete inputs (the compiler's constant folding uses this)."""
    with np.errstate(all="ignore"):
        result = bind_kernel(op, attrs)(*inputs)
    return tuple(np.asarray(r) for r in (result if isinstance(result, tuple) else (result,)))


register_evaluator(BACKEND_NAME, evaluate)


class ReferenceExecutable:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self._calls = [bind_kernel(step.op, step.attrs) for step in plan.steps]
        keep = (
            {b for b in plan.fetches if b is not None} | set(plan.variables) | set(plan.constants)
        )
        last_use: dict[int, int] = {}
        for i, step in enumerate(plan.steps):
            for b in step.inputs:
                last_use[b] = i
        self._free_after: list[list[int]] = [[] for _ in plan.steps]
        for b, i in last_use.items():
            if b not in keep:
                self._free_after[i].append(b)

    def run(self, feeds: dict[int, np.ndarray], variables: dict[str, np.ndarray]) -> RunResult:
        plan = self.plan
        env: list[Any] = [None] * len(plan.buffers)
        for b, value in plan.constants.items():
            env[b] = value
        for b, name in plan.variables.items():
            env[b] = variables.get(name)
        for b, value in feeds.items():
            env[b] = value
        updates: dict[str, np.ndarray] = {}
        with np.errstate(all="ignore"):
            for step, call, free in zip(plan.steps, self._calls, self._free_after, strict=True):
                outputs = call_step(step, call, [env[b] for b in step.inputs])
                for b, value in zip(step.outputs, outputs, strict=True):
                    env[b] = as_buffer_value(value, plan.buffers[b].dtype)
                if step.writes is not None:
                    env[step.writes] = env[step.outputs[0]]
                    updates[plan.variables[step.writes]] = env[step.outputs[0]]
                for b in free:
                    env[b] = None
        return RunResult([None if b is None else env[b] for b in plan.fetches], updates)


def call_step(step: Step, call: Callable[..., Any], args: list[Any]) -> tuple[Any, ...]:
    """The step's outputs; a kernel's failure becomes an error naming the node and inputs."""
    try:
        result = call(*args)
    except GraphnetError as err:
        raise type(err)(f"node '{step.node}' ({step.op}): {err}") from None
    except Exception as err:
        shapes = ", ".join(
            "uninitialized" if a is None else f"{a.dtype}{format_shape(np.shape(a))}" for a in args
        )
        raise OpError(f"node '{step.node}' ({step.op}) failed on inputs ({shapes}): {err}") from err
    return result if isinstance(result, tuple) else (result,)


def as_buffer_value(value: Any, dtype: str) -> np.ndarray:
    """Kernels may return NumPy scalars or other dtypes; buffers hold arrays of the plan dtype."""
    arr = np.asarray(value)
    return arr if arr.dtype == dtype else arr.astype(dtype)


class ReferenceBackend:
    name = BACKEND_NAME

    def compile(self, plan: Plan) -> ReferenceExecutable:
        return ReferenceExecutable(plan)
