"""Array ops against NumPy formulas, gradients (first and second order) against finite
differences, static shapes with an unknown batch dim, and the shape errors."""

import numpy as np
import pytest

import graphnet as gn
from graphnet.ops.core import partial_shape_value
from tests.helpers import check_grad, check_op, rand


def _sum_squares(outs):
    """A loss that weighs each output differently, so swapped pieces would show."""
    outs = outs if isinstance(outs, list) else [outs]
    return gn.add_n([gn.reduce_sum(gn.square(o)) * (i + 1.0) for i, o in enumerate(outs)])


def second_order(op):
    """x -> d(sum of squares of op(x))/dx: its gradient runs through op's gradient's gradient."""

    def fn(*xs):
        return gn.gradients(_sum_squares(op(*xs)), list(xs))

    return fn


# -- shape queries, reshape family, broadcasting, fills --------------------------------------


@pytest.mark.parametrize("static", [True, False])
def test_shape_size_rank(static):
    x = rand(2, 1, 3)
    fn = lambda x: [gn.shape(x), gn.size(x), gn.rank(x), gn.shape(x, out_type=gn.int64)]
    want = [np.array([2, 1, 3], np.int32), np.int32(6), np.int32(3), np.array([2, 1, 3])]
    check_op(fn, [x], want, grad=False, static_shapes=static)


@pytest.mark.parametrize(
    "shape_in, target",
    [((3, 4), [-1]), ((3, 4), [2, -1]), ((3, 4), [-1, 2, 3]), ((1,), []), ((2, 3, 1), [1, 6])],
)
def test_reshape_with_minus_one(shape_in, target):
    check_op(lambda x: gn.reshape(x, target), [rand(*shape_in)], lambda x: x.reshape(target))


def test_reshape_with_tensor_shapes():
    x, y = rand(3, 4), rand(6, 2, seed=1)
    check_op(lambda x, y: gn.reshape(x, gn.shape(y)), [x, y], x.reshape(6, 2), grad=[0])
    check_op(lambda x: gn.reshape(x, gn.constant([2, 6])), [x], x.reshape(2, 6))
    batch_flat = lambda x: gn.reshape(x, [gn.shape(x)[0], -1])
    check_op(batch_flat, [rand(2, 3, 4)], lambda x: x.reshape(2, 12), static_shapes=False)


def test_reshape_keeps_dims_read_from_its_input():
    x = gn.placeholder(gn.float32, [None, 3, 4])
    assert gn.reshape(x, [gn.shape(x)[0], -1]).shape == (None, 12)
    assert gn.reshape(x, [-1, gn.shape(x)[-1]]).shape == (None, 4)
    assert gn.reshape(x, [gn.shape(x)[2], gn.shape(x)[0], -1]).shape == (4, None, 3)
    with pytest.raises(gn.ShapeError, match=r"cannot reshape \[3, 4\] \(12 elements\) into \[5\]"):
        gn.reshape(x, [gn.shape(x)[0], 5])


def test_stack_of_scalars_is_a_partly_known_shape():
    x = gn.placeholder(gn.float32, [None, 3])
    packed = gn.convert_to_tensor([gn.shape(x)[0], gn.shape(x)[1], -1])
    assert packed.node.type == "pack"
    assert packed.shape == (3,)
    assert partial_shape_value(packed) == (None, 3, -1)  # shape(x)[1] is statically 3


@pytest.mark.parametrize("axis", [0, 1, -1, -3])
def test_expand_dims(axis):
    check_op(lambda x: gn.expand_dims(x, axis), [rand(2, 3)], lambda x: np.expand_dims(x, axis))


@pytest.mark.parametrize("axis", [None, [1], [-1], [1, 3]])
@pytest.mark.parametrize("static", [True, False])
def test_squeeze(axis, static):
    x = rand(2, 1, 3, 1)
    want = np.squeeze(x, axis=None if axis is None else tuple(axis))
    check_op(lambda x: gn.squeeze(x, axis), [x], want, static_shapes=static)


def test_fills():
    x = rand(2, 3)
    check_op(lambda: [gn.zeros([2, 3]), gn.ones([1], dtype=gn.int32)], [],
             [np.zeros((2, 3), np.float32), np.ones(1, np.int32)], grad=False)  # fmt: skip
    check_op(lambda x: [gn.zeros_like(x), gn.ones_like(x, dtype=gn.float32)], [x],
             [np.zeros_like(x), np.ones(x.shape, np.float32)], grad=False)  # fmt: skip
    fills = lambda x: [gn.zeros(gn.shape(x)), gn.ones(gn.shape(x), gn.float64)]
    want = [np.zeros(x.shape, np.float32), np.ones(x.shape)]
    check_op(fills, [x], want, grad=False, static_shapes=False)
    batch_zeros = lambda x: gn.zeros([gn.shape(x)[0], 4], gn.float64)
    check_op(batch_zeros, [x], np.zeros((2, 4)), grad=False, static_shapes=False)
    check_op(lambda v: gn.fill([2, 3], v), [np.array(1.5)], np.full((2, 3), 1.5))
    check_op(lambda x, v: gn.fill(gn.shape(x), v), [x, np.array(-2.0)], np.full((2, 3), -2.0),
             grad=[1], static_shapes=False)  # fmt: skip


@pytest.mark.parametrize("shape_in, target", [((3, 1), [2, 3, 4]), ((), [2]), ((1, 4), [3, 4])])
def test_broadcast_to(shape_in, target):
    check_op(lambda x: gn.broadcast_to(x, target), [rand(*shape_in)],
             lambda x: x * np.ones(target))  # fmt: skip


def test_broadcast_to_tensor_shape_with_unknown_batch():
    x, like = rand(1, 3), rand(4, 3, seed=1)
    check_op(lambda x, y: gn.broadcast_to(x, gn.shape(y)), [x, like], np.repeat(x, 4, axis=0),
             grad=[0], static_shapes=False)  # fmt: skip


# -- transpose -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape_in, perm", [((2, 3), None), ((2, 3, 4), None), ((2, 3, 4), [1, 2, 0]), ((1, 3), [1, 0])]
)
@pytest.mark.parametrize("static", [True, False])
def test_transpose(shape_in, perm, static):
    x = rand(*shape_in)
    want = np.einsum(x, list(range(x.ndim)), perm or list(reversed(range(x.ndim))))
    check_op(lambda x: gn.transpose(x, perm), [x], want, static_shapes=static)


def test_transpose_second_order():
    check_grad(second_order(lambda x: gn.transpose(x * x, [2, 0, 1])), [rand(2, 3, 2)])


def test_transpose_bad_perm():
    x = gn.placeholder(gn.float32, [2, 3])
    with pytest.raises(gn.ShapeError, match=r"node 'transpose' \(transpose\): perm \[0, 0\] .*"
                       r"expected a reordering of \[0, 1\]"):  # fmt: skip
        gn.transpose(x, [0, 0])
    with pytest.raises(gn.ShapeError, match=r"perm \[2, 0, 1\] is not a permutation of the 2"):
        gn.transpose(x, [2, 0, 1])


# -- concat, stack, split, unstack --------------------------------------------------------


@pytest.mark.parametrize(
    "shapes, axis",
    [([(2, 3), (4, 3)], 0), ([(2, 3), (2, 1), (2, 2)], 1), ([(2, 3), (2, 1)], -1),
     ([(1, 2, 1), (1, 2, 3)], 2), ([(3,), (1,)], 0)],
)  # fmt: skip
@pytest.mark.parametrize("static", [True, False])
def test_concat(shapes, axis, static):
    arrays = [rand(*s, seed=i) for i, s in enumerate(shapes)]
    check_op(lambda *xs: gn.concat(list(xs), axis), arrays,
             lambda *xs: np.concatenate(xs, axis), static_shapes=static)  # fmt: skip


def test_concat_static_shape_and_mixed_operands():
    x = gn.placeholder(gn.float32, [None, 3])
    assert gn.concat([x, x], 0).shape == (None, 3)
    assert gn.concat([x, x], -1).shape == (None, 6)
    assert gn.concat([x], 1) is x
    check_op(lambda x: gn.concat([x, np.ones((2, 1))], 1), [rand(2, 2)],
             lambda x: np.hstack([x, np.ones((2, 1))]))  # fmt: skip


def test_concat_second_order_with_unused_piece():
    def fn(a, b):
        return gn.gradients(_sum_squares(gn.concat([a, b * b], 0)), [a])[0]

    check_grad(fn, [rand(1, 3), rand(2, 3, seed=1)], static_shapes=False)
    check_grad(second_order(lambda a, b: gn.concat([a, b], 1)), [rand(2, 1), rand(2, 2, seed=1)])


def test_concat_errors_name_the_node_and_shapes():
    a = gn.placeholder(gn.float32, [2, 3], name="a")
    with pytest.raises(gn.ShapeError, match=r"node 'concat' \(concat\): input b:0 has shape "
                       r"\[2,3,1\]; expected \[\?,3\] \(rank 2"):  # fmt: skip
        gn.concat([a, gn.placeholder(gn.float32, [2, 3, 1], name="b")], 0)
    with pytest.raises(gn.ShapeError, match=r"input c:0 has shape \[2,4\]; expected \[\?,3\]"):
        gn.concat([a, gn.placeholder(gn.float32, [2, 4], name="c")], 0)
    with pytest.raises(gn.ShapeError, match=r"axis 2 is out of range for rank 2"):
        gn.concat([a, a], 2)
    with pytest.raises(gn.DTypeError, match="matching dtypes"):
        gn.concat([a, gn.placeholder(gn.int32, [2, 3])], 0)


@pytest.mark.parametrize("shape_in, axis", [((2, 3), 0), ((2, 3), 1), ((2, 3), -1), ((), 0)])
@pytest.mark.parametrize("static", [True, False])
def test_stack(shape_in, axis, static):
    arrays = [rand(*shape_in, seed=i) for i in range(3)]
    check_op(lambda *xs: gn.stack(list(xs), axis), arrays, lambda *xs: np.stack(xs, axis),
             static_shapes=static)  # fmt: skip


def test_stack_errors_and_second_order():
    with pytest.raises(gn.ShapeError, match=r"node 'pack' \(pack\): input b:0 has shape \[3\]; "
                       r"expected \[2\]"):  # fmt: skip
        gn.stack([gn.placeholder(gn.float32, [2]), gn.placeholder(gn.float32, [3], name="b")])
    check_grad(second_order(lambda a, b: gn.stack([a, b], 1)), [rand(2, 2), rand(2, 2, seed=1)])


@pytest.mark.parametrize(
    "shape_in, splits, axis, want",
    [((4, 3), 2, 0, lambda x: [x[:2], x[2:]]),
     ((2, 6), 3, -1, lambda x: [x[:, :2], x[:, 2:4], x[:, 4:]]),
     ((2, 6), [1, -1, 2], 1, lambda x: [x[:, :1], x[:, 1:4], x[:, 4:]]),
     ((2, 3), [0, 3], 1, lambda x: [x[:, :0], x]),
     ((1, 2), 1, 0, lambda x: [x])],
)  # fmt: skip
@pytest.mark.parametrize("static", [True, False])
def test_split(shape_in, splits, axis, want, static):
    check_op(lambda x: gn.split(x, splits, axis), [rand(*shape_in)], want, static_shapes=static)


def test_split_with_unused_pieces_and_second_order():
    check_op(lambda x: gn.split(x, 3, axis=1)[::2], [rand(2, 3)], lambda x: [x[:, :1], x[:, 2:]])
    check_grad(second_order(lambda x: gn.split(x * x, [2, -1])), [rand(3, 2)])


def test_split_errors():
    x = gn.placeholder(gn.float32, [2, 6], name="x")
    with pytest.raises(gn.ShapeError, match=r"node 'split' \(split\): size_splits \[1, 4\] sum "
                       r"to 5; expected 6"):  # fmt: skip
        gn.split(x, [1, 4], axis=1)
    with pytest.raises(gn.ShapeError, match="at most one -1"):
        gn.split(x, [-1, -1], axis=1)
    with pytest.raises(gn.ShapeError, match=r"size_splits \[2, 5, -1\] sum to 7; expected 6"):
        gn.split(x, [2, 5, -1], axis=1)
    with pytest.raises(gn.ShapeError, match="cannot split a dim of size 6 into 4 equal parts"):
        gn.split(x, 4, axis=1)
    with pytest.raises(gn.ShapeError, match="num=3 was given"):
        gn.split(x, 2, axis=1, num=3)


def test_split_runtime_size_mismatch_is_an_op_error():
    x = gn.placeholder(gn.float32, [None, 2])
    parts = gn.split(x, [1, 2])
    with gn.Session() as sess, pytest.raises(gn.OpError, match=r"node 'split'.*size_splits"):
        sess.run(parts, {x: np.zeros((2, 2), np.float32)})


@pytest.mark.parametrize("shape_in, axis", [((3, 2), 0), ((2, 3), 1), ((2, 1, 3), -1)])
def test_unstack(shape_in, axis):
    x = rand(*shape_in)
    want = [np.take(x, i, axis=axis) for i in range(x.shape[axis])]
    check_op(lambda x: gn.unstack(x, axis=axis), [x], want)
    n = x.shape[axis]
    check_op(lambda x: gn.unstack(x, n, axis), [x], want, static_shapes=False)


def test_unstack_second_order_and_errors():
    check_grad(second_order(lambda x: gn.unstack(x * x, axis=1)), [rand(2, 3)])
    x = gn.placeholder(gn.float32, [None, 2])
    with pytest.raises(gn.ShapeError, match=r"cannot infer num from .* \[\?,2\] along axis 0"):
        gn.unstack(x)
    assert [t.shape for t in gn.unstack(x, axis=1)] == [(None,), (None,)]


# -- slicing -----------------------------------------------------------------------------

GETITEM_CASES = [
    lambda x: x[1:, ::-1, None, ..., 0],
    lambda x: x[0],
    lambda x: x[-1, 1:3],
    lambda x: x[..., -2],
    lambda x: x[:, None, :, None],
    lambda x: x[::2, -2::-2, 3:0:-2],
    lambda x: x[5:, :10],
    lambda x: x[None, ...],
    lambda x: x[1, 2, 3],
    lambda x: x[:, -1:],
]


@pytest.mark.parametrize("case", range(len(GETITEM_CASES)))
@pytest.mark.parametrize("static", [True, False])
def test_getitem(case, static):
    index = GETITEM_CASES[case]
    x = rand(3, 4, 5)
    check_op(index, [x], index(x.copy()), static_shapes=static)  # NumPy's own indexing
    if static:
        graph = gn.Graph()
        with graph.as_default():
            assert index(gn.placeholder(gn.float64, x.shape)).shape == index(x).shape


def test_getitem_keeps_unknown_batch_dim_and_second_order():
    x = gn.placeholder(gn.float32, [None, 4, 5])
    assert x[1:, ::-1, None, ..., 0].shape == (None, 4, 1)
    assert x[:, 1].shape == (None, 5)
    check_grad(second_order(lambda x: x[1:, ::-1, None, ..., 0] * x[:2, :, None, ..., 1]),
               [rand(3, 2, 2)], static_shapes=False)  # fmt: skip


def test_getitem_errors():
    x = gn.placeholder(gn.float32, [3, 4], name="x")
    with pytest.raises(gn.ShapeError, match=r"node 'strided_slice' \(strided_slice\): index 3 is "
                       r"out of range for axis 0 of size 3"):  # fmt: skip
        x[3]
    with pytest.raises(gn.ShapeError, match=r"index \[0, 1, 2\] indexes 3 axes; .* rank 2"):
        x[0, 1, 2]
    with pytest.raises(gn.ShapeError, match="slice step of 0"):
        x[::0]
    with pytest.raises(gn.ShapeError, match="more than one Ellipsis"):
        x[..., 0, ...]
    with pytest.raises(TypeError, match=r"use gn\.gather"):
        x[gn.constant(1)]
    with pytest.raises(TypeError, match="only Python ints"):
        x[[0, 1]]


def test_strided_slice_masks():
    x = rand(3, 4, 5)
    fn = lambda x: gn.strided_slice(x, [1, 3, 2], [0, 0, 0], [1, -1, 1], end_mask=0b001,
                                    shrink_axis_mask=0b100)  # fmt: skip
    check_op(fn, [x], x[1:, 3:0:-1, 2], static_shapes=False)
    fn = lambda x: gn.strided_slice(x, [0, 0, 0], [0, 0, 1], ellipsis_mask=0b001,
                                    new_axis_mask=0b010)  # fmt: skip
    check_op(fn, [x], x[..., None, 0:1])
    fn = lambda x: gn.strided_slice(x, [0, 1], [2, 0], [2, 1], begin_mask=0b10, end_mask=0b10)
    check_op(fn, [x], x[0:2:2, :])


@pytest.mark.parametrize(
    "shape_in, begin, size",
    [((3, 4), [1, 0], [2, -1]), ((3, 4), [0, 2], [3, 2]), ((2, 3, 1), [1, 1, 0], [1, 1, 1]),
     ((3,), [3], [0])],
)  # fmt: skip
@pytest.mark.parametrize("static", [True, False])
def test_slice(shape_in, begin, size, static):
    def want(x):
        ranges = [
            np.arange(b, d if s == -1 else b + s)
            for b, s, d in zip(begin, size, x.shape, strict=True)
        ]
        return x[np.ix_(*ranges)]

    check_op(lambda x: gn.slice(x, begin, size), [rand(*shape_in)], want, static_shapes=static)


def test_slice_errors():
    x = gn.placeholder(gn.float32, [3, 4], name="x")
    with pytest.raises(gn.ShapeError, match=r"slice of x:0 \[3,4\]: begin \[2, 0\] and size "
                       r"\[2, -1\] out of range"):  # fmt: skip
        gn.slice(x, [2, 0], [2, -1])
    with pytest.raises(gn.ShapeError, match="must both have length 2"):
        gn.slice(x, [0], [1])


@pytest.mark.parametrize("axis", [[0], [1], [-1], [0, 2], []])
@pytest.mark.parametrize("static", [True, False])
def test_reverse(axis, static):
    check_op(lambda x: gn.reverse(x, axis), [rand(2, 3, 2)],
             lambda x: np.flip(x, axis=tuple(axis)), static_shapes=static)  # fmt: skip


# -- pad, tile -------------------------------------------------------------------------------


def _constant_pad(x, paddings, value=0.0):
    out = np.full(
        [d + a + b for d, (a, b) in zip(x.shape, paddings, strict=True)], value, dtype=x.dtype
    )
    out[tuple(slice(a, a + d) for d, (a, _) in zip(x.shape, paddings, strict=True))] = x
    return out


@pytest.mark.parametrize(
    "shape_in, paddings",
    [((2, 3), [[1, 2], [0, 1]]), ((1,), [[2, 0]]), ((2, 1, 2), [[0, 0], [1, 1], [2, 0]]),
     ((2, 2), [[0, 0], [0, 0]])],
)  # fmt: skip
@pytest.mark.parametrize("static", [True, False])
def test_pad_constant(shape_in, paddings, static):
    x = rand(*shape_in)
    check_op(lambda x: gn.pad(x, paddings), [x], lambda x: _constant_pad(x, paddings),
             static_shapes=static)  # fmt: skip
    check_op(lambda x: gn.pad(x, paddings, constant_values=-1.5), [x],
             lambda x: _constant_pad(x, paddings, -1.5), static_shapes=static)  # fmt: skip


@pytest.mark.parametrize("mode", ["REFLECT", "SYMMETRIC", "symmetric"])
@pytest.mark.parametrize("static", [True, False])
def test_pad_mirror(mode, static):
    x = rand(3, 4)
    paddings = [[2, 1], [0, 3]] if mode == "REFLECT" else [[3, 1], [2, 4]]
    check_op(lambda x: gn.pad(x, paddings, mode), [x],
             lambda x: np.pad(x, paddings, mode=mode.lower()), static_shapes=static)  # fmt: skip


def test_pad_second_order_and_errors():
    check_grad(second_order(lambda x: gn.pad(x * x, [[1, 0], [0, 2]])), [rand(2, 2)])
    x = gn.placeholder(gn.float32, [2, 3], name="x")
    with pytest.raises(gn.ShapeError, match=r"node 'pad' \(pad\): paddings has 1 rows; expected 2"):
        gn.pad(x, [[1, 1]])
    with pytest.raises(gn.ShapeError, match=r"REFLECT padding \[2, 0\] of axis 0 of x:0 exceeds"):
        gn.pad(x, [[2, 0], [0, 0]], "REFLECT")
    with pytest.raises(gn.ShapeError, match="non-negative"):
        gn.pad(x, [[-1, 0], [0, 0]])
    with pytest.raises(ValueError, match="CONSTANT, REFLECT or SYMMETRIC"):
        gn.pad(x, [[0, 0], [0, 0]], "WRAP")


@pytest.mark.parametrize(
    "shape_in, multiples", [((2, 3), [2, 1]), ((1, 2), [3, 2]), ((2,), [1]), ((2, 1, 2), [1, 2, 2])]
)
@pytest.mark.parametrize("static", [True, False])
def test_tile(shape_in, multiples, static):
    check_op(lambda x: gn.tile(x, multiples), [rand(*shape_in)],
             lambda x: np.kron(np.ones(multiples), x), static_shapes=static)  # fmt: skip


def test_tile_second_order_and_errors():
    check_grad(second_order(lambda x: gn.tile(x * x, [2, 3])), [rand(2, 1)], static_shapes=False)
    x = gn.placeholder(gn.float32, [2, 3])
    with pytest.raises(gn.ShapeError, match=r"node 'tile' \(tile\): multiples \[2\] has length 1;"
                       r" expected 2"):  # fmt: skip
        gn.tile(x, [2])


# -- one_hot, gather -----------------------------------------------------------------------


def _one_hot(indices, depth, on=1.0, off=0.0, axis=-1):
    out = np.full((*indices.shape, depth), off)
    for pos in np.ndindex(indices.shape):
        if 0 <= indices[pos] < depth:
            out[(*pos, indices[pos])] = on
    return np.moveaxis(out, -1, axis)


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("static", [True, False])
def test_one_hot(axis, static):
    indices = np.array([[0, 2, 3], [1, -1, 1]], np.int32)
    want = _one_hot(indices, 3, axis=-1 if axis is None else axis).astype(np.float32)
    check_op(lambda i: gn.one_hot(i, 3, axis=axis), [indices], want, grad=False,
             static_shapes=static)  # fmt: skip


def test_one_hot_values_and_dtypes():
    indices = np.array([2, 0], np.int64)
    check_op(lambda i: gn.one_hot(i, 4, on_value=5, off_value=-1), [indices],
             _one_hot(indices, 4, 5, -1).astype(np.int32), grad=False)  # fmt: skip
    check_op(lambda i: gn.one_hot(i, 2, dtype=gn.float64), [indices[:1]],
             _one_hot(indices[:1], 2), grad=False)  # fmt: skip
    with pytest.raises(gn.DTypeError, match=r"node 'one_hot' \(one_hot\): indices .* must be int"):
        gn.one_hot(gn.placeholder(gn.float32, [2]), 3)


@pytest.mark.parametrize(
    "shape_in, indices, axis",
    [((4, 3), [2, 0, 2], 0), ((2, 3), [[1, 1], [0, 2]], 1), ((2, 3, 2), [1], -1),
     ((3,), 1, 0), ((3, 2), [[0, 0, 0]], None)],
)  # fmt: skip
@pytest.mark.parametrize("static", [True, False])
def test_gather(shape_in, indices, axis, static):
    params, idx = rand(*shape_in), np.array(indices, np.int32)
    a = 0 if axis is None else axis % params.ndim
    want = params[(slice(None),) * a + (idx,)]
    check_op(lambda p, i: gn.gather(p, i, axis=axis), [params, idx], want, static_shapes=static)


def test_gather_second_order_and_errors():
    idx = np.array([1, 1, 0])
    check_grad(second_order(lambda p: gn.gather(p * p, idx, axis=1)), [rand(2, 3)])
    p = gn.placeholder(gn.float32, [3, 2])
    i = gn.placeholder(gn.int32, [2])
    with gn.Session() as sess, pytest.raises(gn.OpError, match=r"node 'gather'.*\[0, 3\)"):
        sess.run(gn.gather(p, i), {i: np.array([0, 3], np.int32), p: np.zeros((3, 2), np.float32)})
    with pytest.raises(gn.ShapeError, match="axis 2 is out of range for rank 2"):
        gn.gather(p, [0], axis=2)
