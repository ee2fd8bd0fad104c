"""Graph building: names, scopes, collections, control dependencies, default graph, text form."""

import numpy as np
import pytest

import graphnet as gn


def test_names_are_unique_and_scoped():
    a = gn.constant(1.0)
    b = gn.constant(2.0)
    assert (a.name, b.name) == ("Const:0", "Const_1:0")
    with gn.name_scope("dense"):
        w = gn.add(a, b, name="sum")
        with gn.name_scope("inner"):
            v = gn.multiply(a, b)
    with gn.name_scope("dense"):
        u = gn.add(a, b, name="sum")
    assert w.op.name == "dense/sum"
    assert v.op.name == "dense/inner/multiply"
    assert u.op.name == "dense_1/sum"
    with gn.name_scope("dense/"):  # a trailing slash re-enters the scope
        assert gn.add(a, b, name="sum").op.name == "dense/sum_1"


def test_lookup_by_name_and_errors():
    x = gn.placeholder(gn.float32, [None, 3], name="x")
    g = gn.get_default_graph()
    assert g.get_tensor_by_name("x:0") is x
    assert g.get_operation_by_name("x") is x.op
    with pytest.raises(gn.GraphError, match="no node named 'y'"):
        g.get_tensor_by_name("y:0")
    with pytest.raises(gn.GraphError, match="has 1 outputs"):
        g.get_tensor_by_name("x:3")


def test_default_graph_stack():
    g = gn.Graph()
    outer = gn.get_default_graph()
    with g.as_default():
        assert gn.get_default_graph() is g
        c = gn.constant(1.0)
        with pytest.raises(gn.GraphError, match="inside"):
            gn.reset_default_graph()
    assert c.graph is g
    assert gn.get_default_graph() is outer


def test_ops_across_two_graphs_are_rejected():
    g1, g2 = gn.Graph(), gn.Graph()
    with g1.as_default():
        a = gn.constant(1.0, name="a")
    with g2.as_default():
        b = gn.constant(2.0, name="b")
    with pytest.raises(gn.GraphError, match=r"a:0, b:0 belong to different graphs"):
        gn.add(a, b)


def test_control_dependencies_and_none_clears_them():
    a = gn.constant(1.0, name="a")
    b = gn.constant(2.0, name="b")
    with gn.control_dependencies([a]):
        c = gn.identity(b)
        with gn.control_dependencies(None):
            d = gn.identity(b)
    assert c.op.control_inputs == (a.op,)
    assert d.op.control_inputs == ()


def test_collections():
    v = gn.Variable(1.0, name="v")
    w = gn.Variable(2.0, name="w", trainable=False)
    assert gn.global_variables() == [v, w]
    assert gn.trainable_variables() == [v]
    gn.add_to_collection("mine", v)
    assert gn.get_collection("mine") == [v]
    assert gn.get_collection(gn.GraphKeys.GLOBAL_VARIABLES, scope="w") == [w]


def test_tensors_are_not_python_bools():
    x = gn.constant(1.0)
    with pytest.raises(TypeError, match="Python bool"):
        bool(x > 0)


def test_tensor_properties_and_operators():
    x = gn.placeholder(gn.float32, [None, 3], name="x")
    y = (2.0 * x + 1.0) / 4.0 - x**2.0
    assert y.shape == (None, 3) and y.dtype == gn.float32
    assert (-x).op.type == "negative"
    assert (x < 1.0).dtype == gn.bool
    assert (np.float32(2.0) * x).op.type == "multiply"  # NumPy scalar on the left defers
    assert repr(x) == "<gn.Tensor 'x:0' shape=[?,3] dtype=float32>"


def test_text_form_is_stable():
    x = gn.placeholder(gn.float32, [None, 2], name="x")
    w = gn.constant(np.ones((2, 3), np.float32), name="w")
    y = gn.matmul(x, w, name="y")
    expected = "\n".join([
        '%x = placeholder() {dtype="float32", shape=[none,2]} : f32[?,2]',
        "%w = const() {value=float32[2,3][1.,1.,1.,1.,1.,1.]} : f32[2,3]",
        "%y = matmul(%x, %w) {transpose_a=false, transpose_b=false} : f32[?,3]",
    ])  # fmt: skip
    assert str(y.graph) == expected
