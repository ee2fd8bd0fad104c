"""Package attributes imported on first use (PEP 562), so that importing one small part of
graphnet (a plan loader, a backend) does not import the graph builder and the compiler."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str], fallback: str | None = None
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The `__getattr__` and `__dir__` of `package`: `exports` maps a name to the module that
    defines it (or to the submodule of that name); any other name is looked up in `fallback`."""

    def getattr_(name: str) -> Any:
        source = exports.get(name, fallback)
        if source is not None:
            module = importlib.import_module(source)
            if source == f"{package}.{name}":
                return module
            if hasattr(module, name):
                return getattr(module, name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def dir_() -> list[str]:
        names = set(vars(importlib.import_module(package))) | set(exports)
        if fallback is not None:
            names |= set(dir(importlib.import_module(fallback)))
        return sorted(names)

    return getattr_, dir_
