"""DType and Shape: the static type of a Tensor."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from graphnet.ir.errors import DTypeError, ShapeError


@dataclass(frozen=True)
class DType:
    """A tensor element type; `short` is the name used in the text form (f32, i64, ...)."""

    name: str
    short: str

    @property
    def np(self) -> np.dtype:
        return np.dtype(self.name)

    @property
    def is_floating(self) -> bool:
        return self.name.startswith("float")

    @property
    def is_integer(self) -> bool:
        return self.name.startswith("int")

    @property
    def is_bool(self) -> bool:
        return self.name == "bool"

    @property
    def as_numpy_dtype(self) -> type:
        return self.np.type

    def __repr__(self) -> str:
        return f"gn.{self.name}"

    def __str__(self) -> str:
        return self.name


float32 = DType("float32", "f32")
float64 = DType("float64", "f64")
int32 = DType("int32", "i32")
int64 = DType("int64", "i64")
bool_ = DType("bool", "bool")

ALL_DTYPES = (float32, float64, int32, int64, bool_)
_BY_NAME = {d.name: d for d in ALL_DTYPES} | {d.short: d for d in ALL_DTYPES}


def as_dtype(value: object) -> DType:
    """Converts a DType, a NumPy dtype, a Python type or a name ('float32', 'f32') to a DType."""
    if isinstance(value, DType):
        return value
    if value is float:
        return float32
    if value is int:
        return int32
    if value is bool:
        return bool_
    try:
        name = value if isinstance(value, str) else np.dtype(value).name
    except TypeError:
        name = None
    if name in _BY_NAME:
        return _BY_NAME[name]
    raise DTypeError(
        f"unsupported dtype {value!r}; expected one of {', '.join(d.name for d in ALL_DTYPES)}"
    )


Dim = int | None
Shape = tuple[Dim, ...]


def as_shape(value: Iterable[int | None] | None) -> Shape | None:
    """Normalizes a user shape (list, tuple, None for unknown rank) to a tuple of int | None."""
    if value is None:
        return None
    dims = []
    for d in value:
        if d is None:
            dims.append(None)
        elif isinstance(d, (int, np.integer)) and d >= 0:
            dims.append(int(d))
        else:
            raise ShapeError(f"invalid dimension {d!r} in shape {list(value)!r}")
    return tuple(dims)


def format_shape(shape: Shape | None) -> str:
    """[?,28,28,6]; unknown rank prints as [*]."""
    if shape is None:
        return "[*]"
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def is_fully_defined(shape: Shape | None) -> bool:
    return shape is not None and all(d is not None for d in shape)


def num_elements(shape: Shape) -> int | None:
    """The element count, or None when a dimension is unknown."""
    if not is_fully_defined(shape):
        return None
    return int(np.prod(shape, dtype=np.int64))


def merge_dim(a: Dim, b: Dim) -> Dim:
    """The more precise of two dims that must agree; raises ShapeError if they conflict."""
    if a is None:
        return b
    if b is None or a == b:
        return a
    raise ShapeError(f"dimensions {a} and {b} differ")


def merge_shapes(a: Shape | None, b: Shape | None) -> Shape | None:
    """The most precise shape that fits both; raises ShapeError if they conflict."""
    if a is None:
        return b
    if b is None:
        return a
    if len(a) != len(b):
        raise ShapeError(f"shapes {format_shape(a)} and {format_shape(b)} differ in rank")
    try:
        return tuple(merge_dim(x, y) for x, y in zip(a, b, strict=True))
    except ShapeError:
        raise ShapeError(f"shapes {format_shape(a)} and {format_shape(b)} differ") from None


def broadcast_shapes(*shapes: Shape | None) -> Shape | None:
    """NumPy broadcasting over static shapes; an unknown dim against 1 or itself stays unknown."""
    if any(s is None for s in shapes):
        return None
    rank = max(len(s) for s in shapes)
    out: list[Dim] = []
    for i in range(rank):
        dims = [s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            raise ShapeError(f"shapes {', '.join(map(format_shape, shapes))} do not broadcast")
        if known:
            out.append(known.pop())
        elif any(d is None for d in dims):
            out.append(None)
        else:
            out.append(1)
    return tuple(out)


def shape_compatible(expected: Shape | None, given: Sequence[int]) -> bool:
    """Whether a concrete shape fits a static one (None dims match anything)."""
    if expected is None:
        return True
    return len(expected) == len(given) and all(
        e is None or e == g for e, g in zip(expected, given, strict=True)
    )
