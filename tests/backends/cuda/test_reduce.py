"""CUDA reductions, sum_to_like and argmax / argmin against the reference kernels: both launch
shapes (a block per output: the innermost axis reduced or few outputs; a thread per output),
rows longer than a block, sizes that are not a multiple of 32, NaN, ties and empty axes."""

from __future__ import annotations

import numpy as np
import pytest

from graphnet.backends.registry import BackendError
from tests.backends.cuda.harness import check_kernel, run_cuda

rng = np.random.default_rng(7)
FLOAT_OPS = ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod"]


def _x(shape: tuple[int, ...], dtype: str = "float32") -> np.ndarray:
    return rng.uniform(0.5, 1.5, shape).astype(dtype)


@pytest.mark.parametrize("op", FLOAT_OPS)
@pytest.mark.parametrize(
    "axis, keepdims",
    [(None, False), ((0,), True), ((1,), False), ((-1,), True), ((0, 2), False), ((1, 2), True)],
)
def test_float_reductions(op: str, axis: tuple[int, ...] | None, keepdims: bool) -> None:
    """Leading, middle, trailing, split and all axes; 37 is not a multiple of 32."""
    check_kernel(op, {"axis": axis, "keepdims": keepdims}, [_x((3, 37, 2))])


@pytest.mark.parametrize("op", FLOAT_OPS)
def test_float64_row_longer_than_a_block(op: str) -> None:
    check_kernel(op, {"axis": (1,), "keepdims": False}, [_x((2, 300), "float64")])


@pytest.mark.parametrize("op", FLOAT_OPS)
def test_leading_axis_of_many_outputs(op: str) -> None:
    """Few reduced, many kept elements: a thread per output."""
    check_kernel(op, {"axis": (0,), "keepdims": False}, [_x((3, 70), "float64")])


@pytest.mark.parametrize("dtype", ["int32", "int64"])
@pytest.mark.parametrize("op", FLOAT_OPS)
def test_integer_reductions(op: str, dtype: str) -> None:
    x = rng.integers(-3, 4, (4, 33)).astype(dtype)
    if op == "reduce_prod":
        x = x[:, :9]
    for axis in [(0,), (1,), None]:
        check_kernel(op, {"axis": axis, "keepdims": False}, [x])


def test_int64_sum_is_exact() -> None:
    """Values float64 cannot hold: the sum stays in int64."""
    x = np.full((40,), 2**55 + 1, np.int64)
    x[1::2] = -(2**54)
    check_kernel("reduce_sum", {"axis": None, "keepdims": False}, [x])


@pytest.mark.parametrize("op", ["reduce_all", "reduce_any"])
@pytest.mark.parametrize("axis", [(0,), (1,), None])
def test_bool_reductions(op: str, axis: tuple[int, ...] | None) -> None:
    x = rng.random((5, 40)) < (0.97 if op == "reduce_all" else 0.02)
    x[0] = op == "reduce_all"
    check_kernel(op, {"axis": axis, "keepdims": True}, [x])


@pytest.mark.parametrize("op", ["reduce_max", "reduce_min", "reduce_sum"])
@pytest.mark.parametrize("axis", [(0,), (1,)])
def test_nan_propagates(op: str, axis: tuple[int, ...]) -> None:
    x = _x((3, 40))
    x[1, 5] = np.nan
    x[2, 39] = np.nan
    check_kernel(op, {"axis": axis, "keepdims": False}, [x])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the mean of nothing: 0 / 0
@pytest.mark.parametrize("op", ["reduce_sum", "reduce_prod", "reduce_mean", "reduce_any"])
def test_empty_reduced_axis(op: str) -> None:
    x = np.zeros((3, 0, 2), bool if op == "reduce_any" else np.float32)
    check_kernel(op, {"axis": (1,), "keepdims": False}, [x])


def test_empty_output() -> None:
    check_kernel("reduce_sum", {"axis": (1,), "keepdims": False}, [np.zeros((0, 3), np.float32)])


def test_max_over_empty_axis_is_refused() -> None:
    with pytest.raises(BackendError, match="empty"):
        run_cuda("reduce_max", {"axis": (0,), "keepdims": False}, [np.zeros((0, 2))],
                 [("float64", (2,))])  # fmt: skip


@pytest.mark.parametrize("like", [(3, 1), (1, 5), (), (4, 3, 5), (3, 5)])
def test_sum_to_like(like: tuple[int, ...]) -> None:
    check_kernel("sum_to_like", {}, [_x((4, 3, 5)), np.zeros(like, np.float32)])


@pytest.mark.parametrize("op", ["argmax", "argmin"])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("dtype", ["float32", "int32"])
def test_arg_extremum_ties(op: str, axis: int, dtype: str) -> None:
    """Values from a small range tie often: the first index wins."""
    x = rng.integers(0, 3, (4, 6, 5)).astype(dtype)
    for output_type in ("int32", "int64"):
        check_kernel(op, {"axis": axis, "output_type": output_type}, [x])


@pytest.mark.parametrize("op", ["argmax", "argmin"])
def test_arg_extremum_first_nan_wins(op: str) -> None:
    x = _x((3, 7), "float64")
    x[0, 2] = x[0, 5] = np.nan
    x[1, 0] = np.nan
    check_kernel(op, {"axis": 1, "output_type": "int64"}, [x])


def test_arg_extremum_of_lowest_int() -> None:
    x = np.array([[3, np.iinfo(np.int64).min, 2]], np.int64)
    check_kernel("argmin", {"axis": 1, "output_type": "int64"}, [x])
