"""Flattening nested fetch structures (lists, tuples, namedtuples, dicts) and rebuilding them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any


def flatten(structure: Any) -> list[Any]:
    """The leaves of `structure`, depth first (dicts in key order)."""
    return list(_leaves(structure))


def _leaves(s: Any) -> Iterator[Any]:
    if isinstance(s, Mapping):
        for v in s.values():
            yield from _leaves(v)
    elif isinstance(s, list | tuple):
        for v in s:
            yield from _leaves(v)
    else:
        yield s


def pack(structure: Any, values: list[Any]) -> Any:
    """`structure` with its leaves replaced, in order, by `values`."""
    it = iter(values)
    return _rebuild(structure, lambda: next(it))


def _rebuild(s: Any, take: Callable[[], Any]) -> Any:
    if isinstance(s, Mapping):
        return type(s)((k, _rebuild(v, take)) for k, v in s.items())
    if isinstance(s, tuple) and hasattr(s, "_fields"):  # namedtuple
        return type(s)(*(_rebuild(v, take) for v in s))
    if isinstance(s, list | tuple):
        return type(s)(_rebuild(v, take) for v in s)
    return take()
