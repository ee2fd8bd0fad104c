"""Kernels register by (backend, op name); backends register by name and load lazily."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from graphnet.compiler.plan import Plan
from graphnet.ir import GraphnetError

KERNELS: dict[tuple[str, str], Callable[..., Any]] = {}

#: backend name -> module that defines `BACKEND` (imported on first use: numba stays unloaded
#: until a Numba backend is asked for).
BACKEND_MODULES = {
    "reference": "graphnet.backends.reference",
    "reference-arena": "graphnet.backends.reference.arena",  # poison mode, for tests
    "cpu": "graphnet.backends.cpu",
    "cuda": "graphnet.backends.cuda",
}


class BackendError(GraphnetError):
    """A backend or kernel is missing or unavailable here."""


def kernel(
    op: str, backend: str = "reference"
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Registers the decorated function as the kernel of `op` on `backend`."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        if (backend, op) in KERNELS:
            raise BackendError(f"kernel for op {op!r} on backend {backend!r} is registered twice")
        KERNELS[(backend, op)] = fn
        return fn

    return decorate


def get_kernel(op: str, backend: str) -> Callable[..., Any]:
    try:
        return KERNELS[(backend, op)]
    except KeyError:
        raise BackendError(f"backend {backend!r} has no kernel for op {op!r}") from None


class RunResult(Protocol):
    fetches: list[np.ndarray | None]
    updates: dict[str, np.ndarray]


class Executable(Protocol):
    plan: Plan

    def run(self, feeds: dict[int, np.ndarray], variables: dict[str, np.ndarray]) -> RunResult:
        """Runs the plan; returns the fetched values and the new values of assigned variables,
        leaving `variables` itself untouched."""
        ...


class Backend(Protocol):
    name: str

    def compile(self, plan: Plan) -> Executable: ...


def get_backend(name: str) -> Backend:
    """The backend called `name`, importing its module on first use."""
    if name not in BACKEND_MODULES:
        raise BackendError(
            f"unknown backend {name!r}; available: {', '.join(sorted(BACKEND_MODULES))}"
        )
    return importlib.import_module(BACKEND_MODULES[name]).BACKEND
