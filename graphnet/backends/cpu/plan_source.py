"""The source of one Numba function that runs a whole plan: `run_plan(status, s0, s1, ...)`
takes every slot's array (cpu.executable) and calls each step's kernel in order with its slots
and its static arguments written as constants (`status[0]` holds the step running, so a
failure names its node). Non-literal arguments (random generators) are parameters too.
Kernels are bound at module level by their module and name (cpu.cache.resolve), so the source
is the same in every process and Numba's cache of it is found again.

The arena views are made in Python and passed in, not made inside the function: slicing and
viewing them in Numba made the function's compilation about a third slower (measured on the
MLP training plan).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from graphnet.backends.layout import BoundStep


def render(value: Any) -> str | None:
    """`value` as a constant expression of the type Numba gives it as an argument from Python,
    or None when it is not one (a generator, an array). Ints and bools are wrapped in a NumPy
    constructor: a bare literal would be typed as that very value (Literal[int](128)) and
    compile the kernel once per value instead of once per type."""
    if value is None or isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return f"np.bool_({value})"
    if isinstance(value, int):
        return f"np.int64({value})"
    if isinstance(value, float):
        if math.isnan(value):
            return "np.nan"
        return ("np.inf" if value > 0 else "-np.inf") if math.isinf(value) else repr(value)
    if isinstance(value, np.generic) and not isinstance(value, np.void):
        inner = render(value.item())
        return None if inner is None else f"np.{type(value).__name__}({inner})"
    if isinstance(value, tuple):
        items = [render(v) for v in value]
        if any(i is None for i in items):
            return None
        return "(" + "".join(f"{i}, " for i in items) + ")"
    return None


def plan_source(num_slots: int, steps: Sequence[BoundStep]) -> str:
    """The source of `run_plan(status, s0, s1, ..., <objects>)` over the slots' arrays, then
    the non-literal kernel arguments in the order object_args lists them."""
    kernels: dict[tuple[str, str], str] = {}
    objects: list[str] = []
    body: list[str] = []
    for i, bound in enumerate(steps):
        assert bound.kernel is not None, "whole-plan source of a plan with fallback steps"
        fn = bound.kernel.fn
        key = (fn.__module__, fn.__name__)
        name = kernels.setdefault(key, f"k{len(kernels)}")
        args = [f"s{k}" for k in (*bound.inputs, *bound.outputs, *bound.scratch)]
        for value in bound.kernel.args:
            text = render(value)
            if text is None:
                text = f"o{i}_{len(objects)}"
                objects.append(text)
            args.append(text)
        body += [f"    status[0] = {i}", f"    {name}({', '.join(args)})  # {bound.step.node}"]
    header = [
        "import numpy as np",
        "from numba import njit",
        "",
        "from graphnet.backends.cpu.cache import resolve",
        "",
        *(f"{name} = resolve({m!r}, {n!r})" for (m, n), name in kernels.items()),
        "",
        "",
        "@njit(cache=True)",
        "def run_plan("
        + ", ".join(["status", *(f"s{k}" for k in range(num_slots)), *objects])
        + "):",
    ]
    return "\n".join(header + (body or ["    return"])) + "\n"  # a plan may have no steps


def object_args(steps: Sequence[BoundStep]) -> list[Any]:
    """The non-literal kernel arguments, in the order plan_source made them parameters."""
    return [v for bound in steps if bound.kernel for v in bound.kernel.args if render(v) is None]
