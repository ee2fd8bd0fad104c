"""infer_shapes: fed shapes reach every node; unknown dims stay unknown; errors name nodes."""

import numpy as np
import pytest

import graphnet as gn
from graphnet.compiler import PassContext, extract
from graphnet.compiler.passes.infer_shapes import infer_shapes
from graphnet.compiler.testing import check_pass
from graphnet.ir.types import is_fully_defined


def test_fed_shapes_propagate_and_unfed_dims_stay_unknown():
    before = """
        %x = placeholder() {dtype="float32", feed="x:0", shape=[4,3]} : f32[4,3]
        %u = placeholder() {dtype="float32", shape=[none,2]} : f32[?,2]
        %w = const() {value=float32[3,2][1.,2.,3.,4.,5.,6.]} : f32[3,2]
        %y = matmul(%x, %w) {transpose_a=false, transpose_b=false} : f32[?,2]
        %s = shape(%y) {out_type="int32"} : i32[2]
        %r = reshape(%y, %s) : f32[?,2]
        %z = concat(%r, %u) {axis=0} : f32[?,2]
        %m = reduce_mean(%z) {axis=[1], keepdims=true} : f32[?,1]
        %fetch = fetch(%m) {index=0}
    """
    expected = """
        %x = placeholder() {dtype="float32", feed="x:0", shape=[4,3]} : f32[4,3]
        %u = placeholder() {dtype="float32", shape=[none,2]} : f32[?,2]
        %w = const() {value=float32[3,2][1.,2.,3.,4.,5.,6.]} : f32[3,2]
        %y = matmul(%x, %w) {transpose_a=false, transpose_b=false} : f32[4,2]
        %s = shape(%y) {out_type="int32"} : i32[2]
        %r = reshape(%y, %s) : f32[4,2]
        %z = concat(%r, %u) {axis=0} : f32[?,2]
        %m = reduce_mean(%z) {axis=[1], keepdims=true} : f32[?,1]
        %fetch = fetch(%m) {index=0}
    """
    assert check_pass("infer_shapes", before, expected) == {"refined": 2}


def test_programs_get_the_fed_shapes_everywhere():
    x = gn.placeholder(gn.float64, [None, None, 3], name="x")
    h = gn.reshape(x, [-1, 3]) * 2.0
    y = gn.reduce_sum(gn.square(h), axis=1)
    (g,) = gn.gradients(gn.reduce_sum(y), [x])
    program = infer_shapes(extract(x.graph, [y, g], {x: (2, 5, 3)}), PassContext())
    assert all(is_fully_defined(t.shape) for n in program.nodes for t in n.outputs)
    assert program.get_operation_by_name(y.node.name).outputs[0].shape == (10,)


def test_a_shape_rule_rejecting_the_fed_shapes_names_the_node():
    x = gn.placeholder(gn.float32, [None, 2], name="x")
    parts = gn.split(x, [1, 2], axis=0, name="parts")
    program = extract(x.graph, parts, {x: (2, 2)})
    message = r"node 'parts' \(split\) cannot run on the fed shapes: size_splits .* \[inputs: x:0"
    with pytest.raises(gn.OpError, match=message):
        infer_shapes(program, PassContext())
    with gn.Session() as sess, pytest.raises(gn.OpError, match="node 'parts'"):
        sess.run(parts, {x: np.zeros((2, 2), np.float32)})
