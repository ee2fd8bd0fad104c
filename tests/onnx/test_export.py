"""export: ONNX models of graphnet sessions that pass onnx.checker and match in ONNX Runtime;
import -> export -> import keeps the outputs and does not grow the graphs."""

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

import onnx

import graphnet as gn
from graphnet.export.onnx import OnnxExportError, export, import_model
from tests.onnx.helpers import gn_run, ort_run
from tests.onnx.models import MODELS, build

TOL = {"rtol": 1e-5, "atol": 1e-5}


def _ops(model: onnx.ModelProto) -> list[str]:
    return [n.op_type for n in model.graph.node]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_export_passes_the_checker_and_matches_onnxruntime(name, tmp_path):
    sess, x, y, batch = build(name)
    want = sess.run(y, {x: batch})
    path = tmp_path / f"{name}.onnx"
    export(sess, y, [x], path)
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    (got,) = ort_run(model, {model.graph.input[0].name: batch})
    np.testing.assert_allclose(got, want, **TOL)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].HasField("dim_value") is False
    # NHWC graphs: one Transpose into NCHW at most, one back where the NHWC order is needed
    assert _ops(model).count("Transpose") <= 2


@pytest.mark.parametrize("name", sorted(MODELS))
def test_import_export_import_is_stable(name):
    sess, x, y, batch = build(name)
    want = sess.run(y, {x: batch})
    first = export(sess, y, [x])
    graph, inputs, outputs = import_model(first)
    np.testing.assert_allclose(gn_run(graph, inputs, outputs, [batch])[0], want, **TOL)
    with gn.Session(graph=graph) as again:
        second = export(again, outputs, inputs)
    graph2, inputs2, outputs2 = import_model(second)
    np.testing.assert_allclose(gn_run(graph2, inputs2, outputs2, [batch])[0], want, **TOL)
    assert _ops(second) == _ops(first)
    assert len(graph2.nodes) <= len(graph.nodes)


@pytest.mark.parametrize("opset", [13, 17, 18, 21])
def test_export_opsets(opset):
    sess, x, y, batch = build("vgg_block")
    model = export(sess, y, [x], opset=opset)
    assert model.opset_import[0].version == opset
    np.testing.assert_allclose(ort_run(model, {"image": batch})[0], sess.run(y, {x: batch}),
                               **TOL)  # fmt: skip


def test_batch_norm_and_conv_weights_are_folded():
    sess, x, y, _ = build("lenet_bn")
    ops = _ops(export(sess, y, [x]))
    assert "BatchNormalization" not in ops and ops.count("Conv") == 2 and "Add" not in ops


def test_graph_ops_and_slicing_export():
    graph = gn.Graph()
    with graph.as_default():
        x = gn.placeholder(gn.float32, [2, 6, 4, 3], name="x")
        a, b = gn.split(x, [2, 4], axis=1)
        h = gn.concat([b[:, ::-2], gn.pad(a, [[0, 0], [1, 1], [0, 0], [0, 0]])[:, 1:3]], -1)
        h = gn.nn.conv2d(h[..., None, 0] * 2.0, np.ones((1, 1, 1, 2), np.float32), 1, "SAME")
        y = gn.stack([gn.reduce_max(h, [1, 2]), gn.reduce_min(h, [1, 2])], axis=1)
        z = gn.transpose(gn.squeeze(gn.expand_dims(x, 0), [0]), [0, 3, 1, 2])[:, 1]
    with gn.Session(graph=graph) as sess:
        value = np.random.default_rng(0).normal(size=(2, 6, 4, 3)).astype(np.float32)
        want = sess.run([y, z], {x: value})
        model = export(sess, [y, z], [x])
    onnx.checker.check_model(model, full_check=True)
    for got, w in zip(ort_run(model, {"x": value}), want, strict=True):
        np.testing.assert_allclose(got, w, **TOL)


def test_elementwise_composites_gather_tile_export():
    graph = gn.Graph()
    with graph.as_default():
        x = gn.placeholder(gn.float32, [None, 4], name="x")
        h = gn.rsqrt(gn.square(x) + 1.0) + gn.nn.relu6(x * 4.0) + gn.expm1(x) * gn.log1p(x * x)
        h = gn.where(x > 0, gn.nn.elu(h), gn.nn.leaky_relu(h, 0.1)) + gn.squared_difference(x, h)
        g = gn.gather(gn.tile(h, [1, 2]), [3, 0, 5], axis=1)
        i = gn.cast(gn.floormod(gn.cast(x * 10.0, gn.int32), 3), gn.float32)
        y = gn.concat([g, i, gn.floordiv(x, 0.3), gn.nn.log_softmax(h, 0)], 1)
    value = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    with gn.Session(graph=graph) as sess:
        want = sess.run(y, {x: value})
        model = export(sess, y, [x])
    onnx.checker.check_model(model, full_check=True)
    np.testing.assert_allclose(ort_run(model, {"x": value})[0], want, rtol=1e-5, atol=1e-6)


def test_unsupported_ops_are_listed_in_one_error():
    graph = gn.Graph()
    with graph.as_default():
        x = gn.placeholder(gn.float32, [None, 3], name="x")
        y = gn.one_hot(gn.argmax(x, 1), 3) + gn.random_uniform([3])
    with gn.Session(graph=graph) as sess, pytest.raises(OnnxExportError) as info:
        export(sess, y, [x])
    for op in ("argmax", "one_hot", "random_uniform"):
        assert f"op {op} has no ONNX form" in str(info.value)
