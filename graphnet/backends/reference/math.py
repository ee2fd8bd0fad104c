"""Reference kernels of the math ops."""

from __future__ import annotations

import numpy as np
import scipy.special

from graphnet.backends.registry import kernel

_UNARY = {
    "negative": np.negative, "abs": np.abs, "sign": np.sign, "square": np.square,
    "sqrt": np.sqrt, "rsqrt": lambda x: 1.0 / np.sqrt(x), "reciprocal": np.reciprocal,
    "exp": np.exp, "expm1": np.expm1, "log": np.log, "log1p": np.log1p, "sin": np.sin,
    "cos": np.cos, "tanh": np.tanh, "sigmoid": scipy.special.expit, "erf": scipy.special.erf,
    "floor": np.floor, "ceil": np.ceil, "round": np.round, "logical_not": np.logical_not,
}  # fmt: skip
_BINARY = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide,
    "pow": np.power, "maximum": np.maximum, "minimum": np.minimum,
    "squared_difference": lambda x, y: np.square(x - y), "floormod": np.mod,
    "floordiv": np.floor_divide, "equal": np.equal, "not_equal": np.not_equal,
    "less": np.less, "less_equal": np.less_equal, "greater": np.greater,
    "greater_equal": np.greater_equal, "logical_and": np.logical_and,
    "logical_or": np.logical_or, "logical_xor": np.logical_xor,
}  # fmt: skip

for _name, _fn in {**_UNARY, **_BINARY}.items():
    kernel(_name)(_fn)


@kernel("where")
def where(cond: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.where(cond, x, y)


@kernel("cast")
def cast(x: np.ndarray, dtype: str) -> np.ndarray:
    return x.astype(dtype)


@kernel("add_n")
def add_n(*xs: np.ndarray) -> np.ndarray:
    out = xs[0].copy()
    for x in xs[1:]:
        out = out + x
    return out


@kernel("matmul")
def matmul(a: np.ndarray, b: np.ndarray, transpose_a: bool, transpose_b: bool) -> np.ndarray:
    if transpose_a:
        a = np.swapaxes(a, -1, -2)
    if transpose_b:
        b = np.swapaxes(b, -1, -2)
    return np.matmul(a, b)


def _reduction(fn):
    def reduce(x: np.ndarray, axis: tuple[int, ...] | None, keepdims: bool) -> np.ndarray:
        return fn(x, axis=axis, keepdims=keepdims)

    return reduce


for _name, _fn in {
    "reduce_sum": np.sum,
    "reduce_mean": np.mean,
    "reduce_max": np.max,
    "reduce_min": np.min,
    "reduce_prod": np.prod,
    "reduce_all": np.all,
    "reduce_any": np.any,
}.items():
    kernel(_name)(_reduction(_fn))


@kernel("argmax")
def argmax(x: np.ndarray, axis: int, output_type: str) -> np.ndarray:
    return np.argmax(x, axis=axis).astype(output_type)


@kernel("argmin")
def argmin(x: np.ndarray, axis: int, output_type: str) -> np.ndarray:
    return np.argmin(x, axis=axis).astype(output_type)
