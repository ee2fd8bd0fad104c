"""The CUDA array kernels against the reference kernels, on tiny shapes (odd sizes, size-0
tensors, negative axes and strides, every dtype the ops move)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.backends.cuda.harness import check_kernel, run_cuda

DTYPES = ["float32", "float64", "int32", "int64", "bool"]


def values(shape: tuple[int, ...], dtype: str = "float64", seed: int = 0) -> np.ndarray:
    """Distinct-looking values of `shape` and `dtype` (bool: a mix of both)."""
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if np.dtype(dtype).kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(-50, 50, shape).astype(dtype)


# -- flat copies, shape queries ----------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
def test_reshape(dtype: str) -> None:
    x = values((3, 5, 7), dtype)
    check_kernel("reshape", {}, [x, np.array([7, 15])])


@pytest.mark.parametrize("shape", [(0, 3), (1,), ()])
def test_reshape_small(shape: tuple[int, ...]) -> None:
    x = values(shape)
    check_kernel("reshape", {}, [x, np.array([*shape[::-1]], dtype=np.int64)])


@pytest.mark.parametrize("axis", [0, -1, 2])
def test_expand_dims(axis: int) -> None:
    check_kernel("expand_dims", {"axis": axis}, [values((3, 5), "float32")])


@pytest.mark.parametrize("axis", [None, (2,), (-1, 0)])
def test_squeeze(axis: tuple[int, ...] | None) -> None:
    check_kernel("squeeze", {"axis": axis}, [values((1, 3, 1), "int64")])


def test_placeholder_with_default() -> None:
    check_kernel("placeholder_with_default", {"shape": (2, 3)}, [values((2, 3), "float32")])


@pytest.mark.parametrize("shape", [(2, 0, 5), (3, 1, 7, 2), (), (9,)])
@pytest.mark.parametrize("out_type", ["int32", "int64"])
def test_shape_queries(shape: tuple[int, ...], out_type: str) -> None:
    x = values(shape, "float32")
    for op in ("shape", "size"):
        check_kernel(op, {"out_type": out_type}, [x])
    check_kernel("rank", {"out_type": out_type}, [x])


# -- broadcasts, transpose, tile -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("shape", "to"),
    [((3, 1), (2, 3, 5)), ((1,), (7,)), ((), (3, 2)), ((2, 1, 3), (2, 4, 3)), ((1, 3), (0, 3))],
)
def test_broadcast_to(dtype: str, shape: tuple[int, ...], to: tuple[int, ...]) -> None:
    check_kernel("broadcast_to", {}, [values(shape, dtype), np.array(to, dtype=np.int32)])


def test_broadcast_like() -> None:
    check_kernel("broadcast_like", {}, [values((5, 1), "float32"), values((3, 1, 4), "float32")])
    check_kernel("broadcast_like", {}, [values((2, 3), "int32"), values((3,), "int32")])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("shape", "perm"),
    [((3, 5), (1, 0)), ((2, 3, 5), (2, 0, 1)), ((2, 1, 3, 5), (3, 1, 0, 2)), ((0, 3), (1, 0))],
)
def test_transpose(dtype: str, shape: tuple[int, ...], perm: tuple[int, ...]) -> None:
    check_kernel("transpose", {"perm": perm}, [values(shape, dtype)])


@pytest.mark.parametrize("dtype", ["float64", "int32", "bool"])
@pytest.mark.parametrize(
    ("shape", "multiples"),
    [((2, 3), (3, 1)), ((3,), (4,)), ((1, 2, 3), (2, 3, 1)), ((2, 3), (0, 2))],
)
def test_tile(dtype: str, shape: tuple[int, ...], multiples: tuple[int, ...]) -> None:
    check_kernel("tile", {"multiples": multiples}, [values(shape, dtype)])


# -- slices, pad -------------------------------------------------------------------------------

SPECS = [
    ((1, None, None),),
    ((None, None, -1),),
    ((None, None, -2), (1, 4, 2)),
    ((4, 0, -1), "...", (None, None, -3)),
    (-1,),
    (1, "newaxis", (None, None, 2)),
    ("...", -2),
    ("newaxis", "...", "newaxis"),
    ((2, 2, None),),
    ((None, -1, None), 0, (5, None, None)),
    ((-10, 10, None), "...", (None, None, -1), "newaxis"),
]


@pytest.mark.parametrize("spec", SPECS)
def test_strided_slice(spec: tuple) -> None:
    x = values((5, 3, 7), "float64")
    check_kernel("strided_slice", {"spec": spec}, [x])


@pytest.mark.parametrize("dtype", DTYPES)
def test_strided_slice_dtypes(dtype: str) -> None:
    check_kernel("strided_slice", {"spec": ((None, None, -2), 1)}, [values((5, 3), dtype)])


@pytest.mark.parametrize("spec", SPECS)
def test_strided_slice_grad(spec: tuple) -> None:
    x = values((5, 3, 7), "float32")
    g = values(x[_numpy_index(spec)].shape, "float32", seed=1)
    check_kernel("strided_slice_grad", {"spec": spec}, [g, x])


def test_strided_slice_grad_int() -> None:
    x = values((5, 3), "int64")
    g = values((3, 3), "int64", seed=1)
    check_kernel("strided_slice_grad", {"spec": ((None, None, -2),)}, [g, x])


def _numpy_index(spec: tuple) -> tuple:
    return tuple(
        Ellipsis if e == "..." else None if e == "newaxis" else slice(*e) if isinstance(e, tuple)
        else e
        for e in spec
    )  # fmt: skip


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("shape", "paddings"),
    [
        ((3, 5), ((1, 2), (0, 3))),
        ((7,), ((0, 0),)),
        ((2, 0), ((1, 1), (2, 0))),
        ((1, 2, 3), ((0, 1), (2, 0), (1, 1))),
    ],
)
def test_pad(dtype: str, shape: tuple[int, ...], paddings: tuple) -> None:
    value = {"f": -1.5, "i": 7, "b": True}[np.dtype(dtype).kind]
    check_kernel("pad", {"paddings": paddings, "constant_values": value}, [values(shape, dtype)])


# -- concat, pack, split -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat(dtype: str, axis: int) -> None:
    base = [2, 3, 5]
    shapes = []
    for k, n in enumerate([1, 0, 4]):
        shape = list(base)
        shape[axis] = n + k % 2
        shapes.append(tuple(shape))
    xs = [values(s, dtype, seed=k) for k, s in enumerate(shapes)]
    check_kernel("concat", {"axis": axis}, xs)


@pytest.mark.parametrize("axis", [0, 1, -1, -3])
def test_pack(axis: int) -> None:
    xs = [values((3, 5), "float32", seed=k) for k in range(3)]
    check_kernel("pack", {"axis": axis}, xs)


def test_pack_bool() -> None:
    check_kernel("pack", {"axis": 1}, [values((3,), "bool", seed=k) for k in range(2)])


@pytest.mark.parametrize("dtype", ["float64", "int32", "bool"])
@pytest.mark.parametrize(
    ("axis", "num", "sizes"),
    [(1, 3, None), (-1, None, (2, 0, -1)), (0, None, (1, 3)), (0, 1, None)],
)
def test_split(dtype: str, axis: int, num: int | None, sizes: tuple | None) -> None:
    x = values((4, 6), dtype)
    check_kernel("split", {"axis": axis, "num_split": num, "size_splits": sizes}, [x])


@pytest.mark.parametrize("axis", [0, -1])
def test_concat_grad(axis: int) -> None:
    parts = [values(s, "float32", seed=k) for k, s in enumerate([(2, 3), (2, 3), (2, 3)])]
    parts[1] = values((2, 0) if axis else (0, 3), "float32")
    g = values(np.concatenate(parts, axis=axis).shape, "float32", seed=7)
    check_kernel("concat_grad", {"axis": axis}, [g, *parts])


# -- gather, one_hot -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index_dtype", ["int32", "int64"])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gather(dtype: str, index_dtype: str, axis: int) -> None:
    params = values((5, 3, 4), dtype)
    dim = params.shape[axis]
    indices = np.array([[dim - 1, 0, 1], [1, 1, dim - 1]], dtype=index_dtype)
    check_kernel("gather", {"axis": axis}, [params, indices])


def test_gather_empty() -> None:
    check_kernel("gather", {"axis": 1}, [values((2, 3)), np.zeros((0,), np.int64)])
    check_kernel("gather", {"axis": 0}, [values((2, 0)), np.array([1, 0])])


def test_gather_out_of_range_gives_zeros() -> None:
    """A device kernel cannot raise (the reference does): outside indices read zeros."""
    params = values((4, 3), "float32")
    (got,) = run_cuda("gather", {"axis": 0}, [params, np.array([1, -1, 4])], [("float32", (3, 3))])
    np.testing.assert_array_equal(got, np.stack([params[1], np.zeros(3), np.zeros(3)]))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64"])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gather_grad(dtype: str, axis: int) -> None:
    params = values((5, 3, 4), dtype)
    dim = params.shape[axis]
    indices = np.array([[dim - 1, 0, 1, 0], [1, 1, dim - 1, 1]], dtype=np.int64)
    g_shape = params.shape[: axis % 3] + indices.shape + params.shape[axis % 3 + 1 :]
    g = values(g_shape, dtype, seed=3)
    check_kernel("gather_grad", {"axis": axis}, [g, indices, params])


def test_gather_grad_empty() -> None:
    params = values((3, 2), "float32")
    check_kernel("gather_grad", {"axis": 0}, [values((0, 2)), np.zeros((0,), np.int32), params])


def test_gather_grad_out_of_range_adds_nothing() -> None:
    g = values((3, 2), "float64")
    (got,) = run_cuda(
        "gather_grad", {"axis": 0}, [g, np.array([2, 5, 2]), values((3, 2))], [("float64", (3, 2))]
    )
    np.testing.assert_array_equal(got, np.stack([np.zeros(2), np.zeros(2), g[0] + g[2]]))


@pytest.mark.parametrize(
    ("dtype", "on", "off"), [("float32", 1.0, 0.0), ("float64", 2.5, -1.0), ("int32", 3, 1),
                             ("int64", 1, 0), ("bool", True, False)]
)  # fmt: skip
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_one_hot(dtype: str, on: object, off: object, axis: int) -> None:
    indices = np.array([[0, 3, 5], [-1, 2, 2]], dtype=np.int64)
    attrs = {"depth": 4, "on_value": on, "off_value": off, "axis": axis, "dtype": dtype}
    check_kernel("one_hot", attrs, [indices])


def test_one_hot_empty() -> None:
    attrs = {"depth": 0, "on_value": 1.0, "off_value": 0.0, "axis": -1, "dtype": "float32"}
    check_kernel("one_hot", attrs, [np.array([1, 2], dtype=np.int32)])
    check_kernel("one_hot", {**attrs, "depth": 3}, [np.zeros((0,), np.int32)])


def test_several_blocks() -> None:
    """Shapes past one block of threads (odd sizes: the last block is partial)."""
    x = values((3, 7, 29), "float32")
    check_kernel("transpose", {"perm": (2, 0, 1)}, [x])
    check_kernel("transpose", {"perm": (1, 0, 2)}, [x])
    check_kernel("transpose", {"perm": (0, 2, 1)}, [values((2, 33, 40), "float64")])
    check_kernel("pad", {"paddings": ((0, 1), (2, 0), (1, 3)), "constant_values": 0.5}, [x])
    indices = np.array([6, 0, 6, 3, 6])
    g = values((3, 5, 29), "float32", seed=2)
    check_kernel("gather_grad", {"axis": 1}, [g, indices, x])
