"""Fills Tensor's operator table (`+ - * / ** @`, comparisons, `[]`) with op builders."""

from __future__ import annotations

from typing import Any

from graphnet.ir import Tensor
from graphnet.ir.graph import TENSOR_OPERATORS
from graphnet.ops import math, slicing
from graphnet.ops.core import convert_to_tensor


def _positive(x: Any) -> Tensor:
    return convert_to_tensor(x)


TENSOR_OPERATORS.update(
    add=math.add,
    sub=math.subtract,
    mul=math.multiply,
    truediv=math.divide,
    floordiv=math.floordiv,
    mod=math.floormod,
    pow=math.pow,
    matmul=math.matmul,
    lt=math.less,
    le=math.less_equal,
    gt=math.greater,
    ge=math.greater_equal,
    neg=math.negative,
    pos=_positive,
    abs=math.abs,
    getitem=slicing.tensor_getitem,
    invert=math.logical_not,
    **{"and": math.logical_and, "or": math.logical_or, "xor": math.logical_xor},
)
