"""Nested element structures: tuples (namedtuples included) and dicts of leaves, as in tf.nest.

A Python list is a leaf, as TF treats it: ``from_tensor_slices([[1, 2], [3, 4]])`` slices one
array. Dicts are walked in sorted key order, so flattening is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import Any

import numpy as np

from graphnet.data.errors import DataError

_MISSING = object()


def flatten_with_paths(struct: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """The leaves of `struct` with their paths (``[0]['image']``), in a deterministic order."""
    if isinstance(struct, dict):
        for key in sorted(struct):
            yield from flatten_with_paths(struct[key], f"{path}[{key!r}]")
    elif isinstance(struct, tuple):
        for i, item in enumerate(struct):
            yield from flatten_with_paths(item, f"{path}[{i}]")
    else:
        yield path, struct


def flatten(struct: Any) -> list[Any]:
    """The leaves of `struct` in the order `pack` expects them."""
    if isinstance(struct, dict):
        return [leaf for key in sorted(struct) for leaf in flatten(struct[key])]
    if isinstance(struct, tuple):
        return [leaf for item in struct for leaf in flatten(item)]
    return [struct]


def pack(like: Any, leaves: list[Any]) -> Any:
    """A structure shaped as `like` holding `leaves` (as `flatten` ordered them)."""
    it = iter(leaves)
    try:
        packed = _pack(like, it)
    except StopIteration:
        packed = _MISSING
    if packed is _MISSING or next(it, _MISSING) is not _MISSING:
        raise DataError(
            f"pack: the structure {describe(like)} holds {len(flatten(like))} leaves, "
            f"got {len(leaves)}"
        )
    return packed


def _pack(like: Any, leaves: Iterator[Any]) -> Any:
    if isinstance(like, dict):
        packed = {key: _pack(like[key], leaves) for key in sorted(like)}
        return {key: packed[key] for key in like}
    if isinstance(like, tuple):
        items = [_pack(item, leaves) for item in like]
        return type(like)(*items) if hasattr(like, "_fields") else tuple(items)
    return next(leaves)


def signature(struct: Any) -> Hashable:
    """The shape of a structure as a value that compares equal for equal shapes (None: a leaf)."""
    if isinstance(struct, dict):
        return (dict, tuple((key, signature(struct[key])) for key in sorted(struct)))
    if isinstance(struct, tuple):
        return (type(struct), tuple(signature(item) for item in struct))
    return None


def describe(struct: Any) -> str:
    """A short text form of a structure's shape: ``(*, {'x': *})``."""
    if isinstance(struct, dict):
        return "{" + ", ".join(f"{k!r}: {describe(struct[k])}" for k in sorted(struct)) + "}"
    if isinstance(struct, tuple):
        return "(" + ", ".join(describe(item) for item in struct) + ")"
    return "*"


def assert_same_structure(expected: Any, given: Any, what: str) -> None:
    """Raises a DataError naming `what` when two structures differ in shape."""
    if signature(expected) != signature(given):
        raise DataError(
            f"{what}: expected elements of structure {describe(expected)}, got {describe(given)}"
        )


def map_structure(fn: Callable[..., Any], *structs: Any) -> Any:
    """`fn` applied leaf by leaf to structures of the same shape."""
    for other in structs[1:]:
        assert_same_structure(structs[0], other, "map_structure")
    columns = zip(*(flatten(s) for s in structs), strict=True)
    return pack(structs[0], [fn(*leaves) for leaves in columns])


def to_numpy(struct: Any) -> Any:
    """`struct` with each leaf converted by np.asarray (a list is one leaf: one array), a 0-d
    leaf to a NumPy scalar as tf.data's NumPy iterator gives them."""
    return map_structure(lambda leaf: np.asarray(leaf)[()], struct)
