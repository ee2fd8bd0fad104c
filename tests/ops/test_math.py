"""Math ops against NumPy formulas, gradients against finite differences."""

import numpy as np
import pytest
import scipy.special

import graphnet as gn
from tests.helpers import check_grad, check_op, rand

UNARY = {
    "negative": (gn.negative, np.negative, rand),
    "abs": (gn.abs, np.abs, rand),
    "square": (gn.square, np.square, rand),
    "sqrt": (gn.sqrt, np.sqrt, lambda *s: rand(*s, low=0.5, high=2.0)),
    "rsqrt": (gn.rsqrt, lambda x: 1 / np.sqrt(x), lambda *s: rand(*s, low=0.5, high=2.0)),
    "reciprocal": (gn.reciprocal, np.reciprocal, lambda *s: rand(*s, low=0.5, high=2.0)),
    "exp": (gn.exp, np.exp, rand),
    "expm1": (gn.expm1, np.expm1, rand),
    "log": (gn.log, np.log, lambda *s: rand(*s, low=0.5, high=2.0)),
    "log1p": (gn.log1p, np.log1p, rand),
    "sin": (gn.sin, np.sin, rand),
    "cos": (gn.cos, np.cos, rand),
    "tanh": (gn.tanh, np.tanh, rand),
    "sigmoid": (gn.sigmoid, lambda x: 1 / (1 + np.exp(-x)), rand),
    "erf": (gn.erf, scipy.special.erf, rand),
}
SHAPES = [(), (1,), (3, 4), (2, 1, 3)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary(name, shape):
    op, ref, data = UNARY[name]
    check_op(op, [data(*shape)], ref)


@pytest.mark.parametrize("name", ["sign", "floor", "ceil", "round"])
def test_piecewise_constant_unary(name):
    x = np.array([-1.5, -0.5, 0.0, 0.5, 2.5, 3.7])
    check_op(getattr(gn, name), [x], getattr(np, "round" if name == "round" else name), grad=False)


BROADCAST_PAIRS = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 3, 4), (3, 1)),
                   ((), (2, 3)), ((1,), (5,))]  # fmt: skip
BINARY = {
    "add": (gn.add, np.add),
    "subtract": (gn.subtract, np.subtract),
    "multiply": (gn.multiply, np.multiply),
    "divide": (gn.divide, np.divide),
    "maximum": (gn.maximum, np.maximum),
    "minimum": (gn.minimum, np.minimum),
    "squared_difference": (gn.squared_difference, lambda x, y: (x - y) ** 2),
}


@pytest.mark.parametrize("shapes", BROADCAST_PAIRS)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_broadcasting(name, shapes):
    op, ref = BINARY[name]
    x, y = rand(*shapes[0], seed=1), rand(*shapes[1], seed=2)
    if name == "divide":
        y = y + np.sign(y) * 0.5  # keep away from zero
    check_op(op, [x, y], ref)


def test_binary_with_unknown_batch_dimension():
    check_op(gn.add, [rand(3, 4), rand(1, 4)], np.add, static_shapes=False)
    check_op(gn.multiply, [rand(3, 1), rand(3, 4)], np.multiply, static_shapes=False)


def test_pow_gradient_in_base_and_exponent():
    x = rand(3, 4, low=0.5, high=2.0)
    y = rand(3, 4, seed=3, low=-2.0, high=2.0)
    check_op(gn.pow, [x, y], np.power)


def test_pow_exponent_gradient_is_finite_at_nonpositive_base():
    x = gn.constant(np.array([-2.0, 0.0, 2.0]))
    y = gn.constant(np.array([2.0, 2.0, 2.0]))
    (gy,) = gn.gradients(gn.reduce_sum(gn.pow(x, y)), [y])
    with gn.Session() as s:
        np.testing.assert_allclose(s.run(gy), [0.0, 0.0, 4.0 * np.log(2.0)])


def test_floormod_and_floordiv_follow_python():
    x, y = np.array([7.0, -7.0, 7.5]), np.array([3.0, 3.0, -2.0])
    check_op(gn.floormod, [x, y], np.mod, grad=[0])
    check_op(gn.floordiv, [x, y], np.floor_divide, grad=False)


def test_integer_division_is_true_division_in_float64():
    with gn.Session() as s:
        out = s.run(gn.divide(gn.constant([7, 8]), gn.constant([2, 4])))
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, [3.5, 2.0])


@pytest.mark.parametrize(
    "name", ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal"]
)
def test_comparisons(name):
    x = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    y = np.array([2.0, 2.0, 2.0])
    check_op(getattr(gn, name), [x, y], getattr(np, name), grad=False)


@pytest.mark.parametrize("name", ["logical_and", "logical_or", "logical_xor"])
def test_logical(name):
    x = np.array([True, True, False, False])
    y = np.array([True, False, True, False])
    check_op(getattr(gn, name), [x, y], getattr(np, name), grad=False)
    check_op(gn.logical_not, [x], np.logical_not, grad=False)


def test_where_broadcasts_and_routes_gradients():
    cond = np.array([[True, False, True]])
    x, y = rand(2, 3), rand(2, 1, seed=5)
    check_op(gn.where, [cond, x, y], np.where)


def test_cast_gradient_and_truncation():
    check_op(
        lambda x: gn.cast(gn.cast(x, gn.float32), gn.float64),
        [rand(3)],
        lambda x: x.astype(np.float32).astype(np.float64),
        grad=False,
        rtol=1e-7,
    )
    check_op(lambda x: gn.cast(x, gn.int32), [np.array([-1.7, 1.7])], np.array([-1, 1]), grad=False)
    check_grad(
        lambda x: gn.cast(gn.cast(x, gn.float32), gn.float64), [rand(3)], rtol=1e-4, eps=1e-2
    )


def test_add_n():
    arrays = [rand(2, 3, seed=i) for i in range(3)]
    check_op(lambda *xs: gn.add_n(list(xs)), arrays, lambda *xs: sum(xs))


MATMUL_CASES = [
    ((3, 4), (4, 5), False, False),
    ((4, 3), (4, 5), True, False),
    ((3, 4), (5, 4), False, True),
    ((4, 3), (5, 4), True, True),
    ((2, 3, 4), (2, 4, 5), False, False),
    ((2, 3, 4), (4, 5), False, False),
    ((1, 3, 4), (2, 5, 4), False, True),
]


@pytest.mark.parametrize("sa,sb,ta,tb", MATMUL_CASES)
def test_matmul(sa, sb, ta, tb):
    a = rand(*sa, seed=1)
    b = rand(*sb, seed=2)

    def ref(a, b):
        return np.matmul(np.swapaxes(a, -1, -2) if ta else a, np.swapaxes(b, -1, -2) if tb else b)

    check_op(lambda x, y: gn.matmul(x, y, transpose_a=ta, transpose_b=tb), [a, b], ref)


def test_matmul_operator_and_shape_error_names_the_node():
    a = gn.placeholder(gn.float32, [2, 3], name="a")
    b = gn.placeholder(gn.float32, [4, 5], name="b")
    with pytest.raises(gn.ShapeError, match=r"node 'mm' \(matmul\).*3 == 4.*a:0: f32\[2,3\]"):
        gn.matmul(a, b, name="mm")
    assert (a @ gn.placeholder(gn.float32, [3, 5])).shape == (2, 5)


REDUCTIONS = {
    "reduce_sum": np.sum, "reduce_mean": np.mean, "reduce_max": np.max, "reduce_min": np.min,
    "reduce_prod": np.prod,
}  # fmt: skip


@pytest.mark.parametrize(
    "axis,keepdims",
    [(None, False), (0, False), (1, True), ((0, 2), False), (-1, False), ((0, 1, 2), True)],
)
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reductions(name, axis, keepdims):
    x = rand(2, 3, 4, low=0.5, high=1.5) if name == "reduce_prod" else rand(2, 3, 4)
    op = getattr(gn, name)
    check_op(
        lambda t: op(t, axis=axis, keepdims=keepdims),
        [x],
        lambda a: REDUCTIONS[name](a, axis=axis, keepdims=keepdims),
    )


def test_reduce_with_unknown_batch():
    check_op(
        lambda t: gn.reduce_mean(t, axis=1),
        [rand(3, 4)],
        lambda a: a.mean(axis=1),
        static_shapes=False,
    )
    check_op(gn.reduce_mean, [rand(3, 4)], np.mean, static_shapes=False)


def test_reduce_max_ties_share_the_gradient():
    x = gn.constant(np.array([1.0, 3.0, 3.0]))
    (g,) = gn.gradients(gn.reduce_max(x), [x])
    with gn.Session() as s:
        np.testing.assert_allclose(s.run(g), [0.0, 0.5, 0.5])


def test_reduce_prod_gradient_with_zeros():
    check_grad(
        lambda t: gn.reduce_prod(t, axis=1),
        [np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 2.0], [1.5, 2.0, 0.5]])],
    )


def test_reduce_logsumexp_is_stable():
    x = np.array([[1000.0, 1000.0], [-1000.0, -999.0]])
    check_op(
        lambda t: gn.reduce_logsumexp(t, axis=1), [x], lambda a: scipy.special.logsumexp(a, axis=1)
    )


def test_reduce_all_any():
    x = np.array([[True, False], [True, True]])
    check_op(lambda t: gn.reduce_all(t, axis=1), [x], lambda a: a.all(axis=1), grad=False)
    check_op(lambda t: gn.reduce_any(t, axis=0), [x], lambda a: a.any(axis=0), grad=False)


def test_argmax_argmin():
    x = rand(3, 5)
    check_op(lambda t: gn.argmax(t, axis=1), [x], lambda a: a.argmax(axis=1), grad=False)
    check_op(lambda t: gn.argmin(t, axis=0), [x], lambda a: a.argmin(axis=0), grad=False)


def test_clip_by_value_passes_gradient_inside_the_range():
    x = np.array([-2.0, -0.5, 0.3, 0.9, 2.0])
    check_op(lambda t: gn.clip_by_value(t, -1.0, 1.0), [x], lambda a: np.clip(a, -1, 1))


def test_second_order_gradients_of_math_ops():
    x = gn.placeholder(gn.float64, [3])
    y = gn.reduce_sum(gn.sin(x) * gn.exp(x) + x**3.0 / gn.sqrt(x))
    (g,) = gn.gradients(y, [x])
    (h,) = gn.gradients(g, [x])
    value = np.array([0.5, 1.0, 2.0])
    with gn.Session() as s:
        got = s.run(h, {x: value})
    # d2/dx2 [sin x e^x + x^2.5] = 2 cos x e^x + 3.75 x^0.5
    np.testing.assert_allclose(
        got, 2 * np.cos(value) * np.exp(value) + 3.75 * value**0.5, rtol=1e-10
    )
