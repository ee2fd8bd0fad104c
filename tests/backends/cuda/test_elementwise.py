"""The CUDA elementwise kernels and fused_elementwise against the reference, launched directly:
every op in float32 and float64 (ints and bools where the op takes them), the broadcast
patterns (scalar, row, column, middle axis, both sides), odd sizes, empty tensors, the
grid-stride loop, and expression trees with constants and shape-only operands."""

from __future__ import annotations

import numpy as np
import pytest

from tests.backends.cuda.harness import check_kernel

FLOATS = ("float32", "float64")
INTS = ("int32", "int64")

#: Unary float ops -> a function drawing inputs in their domain from a standard normal.
UNARY_FLOAT = {
    "abs": None, "negative": None, "sign": None, "square": None, "sin": None, "cos": None,
    "tanh": None, "sigmoid": None, "erf": None, "exp": None, "expm1": None, "floor": None,
    "ceil": None, "relu": None, "elu": None, "identity": None, "stop_gradient": None,
    "sqrt": np.abs, "rsqrt": lambda x: np.abs(x) + 0.1, "log": lambda x: np.abs(x) + 0.1,
    "log1p": lambda x: np.abs(x) - 0.5, "reciprocal": lambda x: x + np.where(x < 0, -0.5, 0.5),
    "relu6": lambda x: x * 5.0, "round": lambda x: np.round(x * 4.0) / 2.0 + 0.1 * (x > 1),
}  # fmt: skip
UNARY_INT = ("abs", "negative", "sign", "square", "identity", "stop_gradient")

BINARY = (
    "add", "subtract", "multiply", "maximum", "minimum", "squared_difference", "equal",
    "not_equal", "less", "less_equal", "greater", "greater_equal",
)  # fmt: skip

#: (x shape, y shape): scalar, row, column, middle axis, both sides, same shape.
PATTERNS = [
    ((3, 5), ()),
    ((), (4, 7)),
    ((3, 7), (7,)),
    ((5, 3), (5, 1)),
    ((2, 3, 5), (2, 1, 5)),
    ((3, 1, 5), (4, 1)),
    ((2, 3, 4, 5), (3, 1, 5)),
    ((61, 5), (61, 5)),
]


def _normal(rng: np.random.Generator, shape: tuple, dtype: str) -> np.ndarray:
    if np.dtype(dtype).kind == "i":
        return rng.integers(-9, 10, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("op", sorted(UNARY_FLOAT))
def test_unary_float(op: str, dtype: str, rng: np.random.Generator) -> None:
    x = rng.standard_normal((3, 7))
    domain = UNARY_FLOAT[op]
    check_kernel(op, {}, [(x if domain is None else domain(x)).astype(dtype)])


@pytest.mark.parametrize("dtype", FLOATS)
def test_round_halves_to_even(dtype: str) -> None:
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.49, -2.51, 3.0, 1e17, -0.0], dtype)
    check_kernel("round", {}, [x])


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("alpha", [0.2, 0.0])
def test_leaky_relu(alpha: float, dtype: str, rng: np.random.Generator) -> None:
    check_kernel("leaky_relu", {"alpha": alpha}, [_normal(rng, (4, 9), dtype)])


@pytest.mark.parametrize("dtype", INTS)
@pytest.mark.parametrize("op", UNARY_INT)
def test_unary_int(op: str, dtype: str, rng: np.random.Generator) -> None:
    check_kernel(op, {}, [_normal(rng, (5, 3), dtype)])


@pytest.mark.parametrize("dtype", [*FLOATS, *INTS])
@pytest.mark.parametrize("op", BINARY)
def test_binary(op: str, dtype: str, rng: np.random.Generator) -> None:
    x, y = _normal(rng, (3, 1, 5), dtype), _normal(rng, (4, 1), dtype)
    x[0, 0, :2] = y[:2, 0]  # some ties for the comparisons, maximum and minimum
    check_kernel(op, {}, [x, y])


@pytest.mark.parametrize(("x_shape", "y_shape"), PATTERNS)
@pytest.mark.parametrize("dtype", FLOATS)
def test_broadcast_patterns(
    x_shape: tuple, y_shape: tuple, dtype: str, rng: np.random.Generator
) -> None:
    x, y = _normal(rng, x_shape, dtype), _normal(rng, y_shape, dtype)
    check_kernel("subtract", {}, [x, y])
    check_kernel("squared_difference", {}, [y, x])


@pytest.mark.parametrize("dtype", FLOATS)
def test_divide_and_pow(dtype: str, rng: np.random.Generator) -> None:
    x, y = rng.standard_normal((3, 5)).astype(dtype), rng.standard_normal((5,)).astype(dtype)
    check_kernel("divide", {}, [x, y])
    check_kernel("pow", {}, [np.abs(x) + 0.1, y])
    check_kernel("pow", {}, [x, np.array([0.0, 1.0, 2.0, 3.0, -1.0], dtype)])


@pytest.mark.parametrize("dtype", INTS)
def test_int_pow(dtype: str, rng: np.random.Generator) -> None:
    x = rng.integers(-5, 6, (4, 3)).astype(dtype)
    check_kernel("pow", {}, [x, np.array([0, 1, 3], dtype)])


@pytest.mark.parametrize("dtype", [*FLOATS, *INTS])
@pytest.mark.parametrize("op", ["floordiv", "floormod"])
def test_floor_division(op: str, dtype: str) -> None:
    x = np.array([[7, -7, 7, -7, 0, 6, -6, 1]], dtype)
    y = np.array([[2], [-2], [3], [-5]], dtype)
    if np.dtype(dtype).kind == "f":
        x, y = x * 1.25, y * 0.75
    check_kernel(op, {}, [x, y])


@pytest.mark.filterwarnings("ignore:divide by zero")
@pytest.mark.parametrize("dtype", INTS)
@pytest.mark.parametrize("op", ["floordiv", "floormod"])
def test_int_division_by_zero(op: str, dtype: str) -> None:
    """NumPy gives 0 for an integer division by zero; the kernel must neither crash nor trap."""
    x, y = np.array([5, -5, 0, 7], dtype), np.array([0, 0, 0, 2], dtype)
    check_kernel(op, {}, [x, y])


@pytest.mark.parametrize("dtype", FLOATS)
def test_nan_propagation(dtype: str) -> None:
    x = np.array([np.nan, 1.0, np.nan, -2.0, 0.0], dtype)
    y = np.array([1.0, np.nan, np.nan, -3.0, -0.0], dtype)
    for op in ("maximum", "minimum", "add", "equal", "not_equal", "less"):
        check_kernel(op, {}, [x, y])
    # (not floor, ceil, round: the simulator runs Python's math.floor, which rejects NaN)
    for op in ("sign", "relu", "abs", "identity"):
        check_kernel(op, {}, [x])


@pytest.mark.parametrize("op", ["logical_and", "logical_or", "logical_xor"])
def test_logical(op: str, rng: np.random.Generator) -> None:
    x, y = rng.random((3, 1, 4)) < 0.5, rng.random((5, 1)) < 0.5
    check_kernel(op, {}, [x, y])


def test_logical_not_and_bool_compare(rng: np.random.Generator) -> None:
    x, y = rng.random((4, 5)) < 0.5, rng.random((5,)) < 0.5
    check_kernel("logical_not", {}, [x])
    check_kernel("equal", {}, [x, y])
    check_kernel("not_equal", {}, [x, y])


@pytest.mark.parametrize("dtype", [*FLOATS, "int32"])
def test_where(dtype: str, rng: np.random.Generator) -> None:
    cond = rng.random((3, 1)) < 0.5
    x, y = _normal(rng, (3, 4), dtype), _normal(rng, (4,), dtype)
    check_kernel("where", {}, [cond, x, y])
    check_kernel("where", {}, [np.array(True), y, x])


@pytest.mark.parametrize(
    ("src", "dst"),
    [
        ("float32", "float64"), ("float64", "float32"), ("float32", "int32"),
        ("float64", "int64"), ("int32", "float32"), ("int64", "float64"), ("int64", "int32"),
        ("float32", "bool"), ("int32", "bool"), ("bool", "float32"), ("bool", "int64"),
    ],
)  # fmt: skip
def test_cast(src: str, dst: str, rng: np.random.Generator) -> None:
    x = rng.standard_normal((3, 7)) * 4.0
    x[0, :3] = 0.0
    if src == "bool":
        x = x > 0
    check_kernel("cast", {"dtype": dst}, [x.astype(src)])


@pytest.mark.parametrize("dtype", [*FLOATS, "int32"])
def test_add_n(dtype: str, rng: np.random.Generator) -> None:
    check_kernel("add_n", {}, [_normal(rng, (3, 5), dtype) for _ in range(4)])
    check_kernel("add_n", {}, [_normal(rng, (2, 3), dtype)])


@pytest.mark.parametrize("dtype", FLOATS)
def test_bias_add(dtype: str, rng: np.random.Generator) -> None:
    x, b = rng.standard_normal((2, 3, 3, 5)).astype(dtype), rng.standard_normal(5).astype(dtype)
    check_kernel("bias_add", {"data_format": "NHWC"}, [x, b])


@pytest.mark.parametrize("dtype", [*FLOATS, "int32", "bool"])
def test_fills(dtype: str, rng: np.random.Generator) -> None:
    x = _normal(rng, (3, 5), "float32")
    check_kernel("zeros_like", {"dtype": dtype}, [x])
    check_kernel("ones_like", {"dtype": dtype}, [x])
    check_kernel("zeros_like", {"dtype": None}, [x.astype(dtype)])
    check_kernel("ones_like", {"dtype": None}, [x.astype(dtype)])
    value = np.array(3, dtype) if dtype != "bool" else np.array(True)
    check_kernel("fill", {}, [np.array([2, 3, 4], np.int32), value])


@pytest.mark.parametrize(
    ("op", "shapes", "attrs"),
    [
        ("add", [(0, 3), (3,)], {}),
        ("exp", [(2, 0)], {}),
        ("where", [(0,), (0,), ()], {}),
        ("zeros_like", [(0, 4)], {"dtype": None}),
        ("add_n", [(3, 0), (3, 0)], {}),
    ],
)
def test_empty(op: str, shapes: list, attrs: dict) -> None:
    inputs = [np.ones(s, bool if op == "where" and i == 0 else np.float32)
              for i, s in enumerate(shapes)]  # fmt: skip
    check_kernel(op, attrs, inputs)


def test_grid_stride_loop(monkeypatch: pytest.MonkeyPatch, rng: np.random.Generator) -> None:
    """Fewer threads than elements: each thread walks the output by the grid's size."""
    from graphnet.backends.cuda import elementwise

    monkeypatch.setattr(elementwise, "MAX_THREADS", 40)
    x, y = rng.standard_normal((7, 1, 13)), rng.standard_normal((3, 1))
    check_kernel("multiply", {}, [x, y])


def test_one_kernel_serves_every_shape_of_a_pattern() -> None:
    from graphnet.backends.cpu.expr import single_op_expr
    from graphnet.backends.cuda.expr import elementwise_source

    expr = single_op_expr("add", {}, 2)
    small = elementwise_source(expr, [("float32", (2, 3)), ("float32", (3,))], (2, 3))
    large = elementwise_source(expr, [("float32", (40, 9, 7)), ("float32", (9, 7))], (40, 9, 7))
    assert small[0] == large[0]
    assert (small[1], large[1]) == ((2, 3), (40, 63))


F32 = "float32"
TREES = [
    # x * 2 + y, with a float32 constant
    ("add", (), ("multiply", (), ("in", 0), ("const", 2.0, F32)), ("in", 1)),
    # relu6(sigmoid(x) * 10 - 1) + zeros_like(y): y read for its shape only
    ("add", (),
     ("relu6", (), ("subtract", (), ("multiply", (), ("sigmoid", (), ("in", 0)),
                                     ("const", 10.0, F32)), ("const", 1.0, F32))),
     ("zeros_like", (("dtype", None),), ("in", 1))),
    # where(x > y, leaky_relu(x), -y ** 2) with an inf constant
    ("where", (), ("greater", (), ("in", 0), ("in", 1)),
     ("leaky_relu", (("alpha", 0.1),), ("in", 0)),
     ("minimum", (), ("negative", (), ("square", (), ("in", 1))), ("const", float("inf"), F32))),
    # cast(floor(x * 3) >= 1, float32) + ones_like(x)
    ("add", (),
     ("cast", (("dtype", F32),), ("greater_equal", (),
                                  ("floor", (), ("multiply", (), ("in", 0), ("const", 3.0, F32))),
                                  ("const", 1.0, F32))),
     ("ones_like", (("dtype", None),), ("in", 0))),
]  # fmt: skip


@pytest.mark.parametrize("tree", range(len(TREES)))
def test_fused_elementwise(tree: int, rng: np.random.Generator) -> None:
    x, y = rng.standard_normal((2, 3, 5)).astype(F32), rng.standard_normal((3, 1)).astype(F32)
    check_kernel("fused_elementwise", {"expr": TREES[tree], "dtype": F32}, [x, y])


def test_fused_elementwise_fill_and_output_cast(rng: np.random.Generator) -> None:
    """fill's dims operand is read for nothing; the tree's float64 value is stored as float32."""
    expr = ("multiply", (), ("fill", (), ("in", 0), ("const", 1.5, "float64")),
            ("cast", (("dtype", "float64"),), ("in", 1)))  # fmt: skip
    dims, x = np.array([4, 3], np.int64), rng.standard_normal((4, 1)).astype(F32)
    check_kernel("fused_elementwise", {"expr": expr, "dtype": F32}, [dims, x])
    scalar_tree = ("add", (), ("in", 0), ("const", 1, "int64"))
    check_kernel("fused_elementwise", {"expr": scalar_tree, "dtype": "int64"}, [np.array(41)])
