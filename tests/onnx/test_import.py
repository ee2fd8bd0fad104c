"""import_model against ONNX Runtime: opsets before the attribute -> input moves, the NCHW ->
NHWC layout tracking, grouped convolutions, pooling edge cases, one error for a whole model."""

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

import onnx
from onnx import helper

from graphnet.export.onnx import OnnxImportError, import_model
from tests.onnx.helpers import check_import, count, make_model, node, random

X = random(2, 3, 4, 5)


# -- opsets where today's inputs were attributes -------------------------------------------------

OLD_OPSETS = {
    "slice_attrs_9": (9, [node("Slice", ["x"], starts=[1, 0], ends=[3, -1], axes=[1, 3])]),
    "pad_attrs_10": (10, [node("Pad", ["x"], pads=[0, 1, 0, 2, 0, 0, 1, 0], value=1.5)]),
    "pad_reflect_10": (10, [node("Pad", ["x"], pads=[0, 0, 1, 2, 0, 0, 2, 1], mode="reflect")]),
    "pad_edge_10": (10, [node("Pad", ["x"], pads=[0, 0, 1, 2, 0, 0, 2, 1], mode="edge")]),
    "clip_attrs_10": (10, [node("Clip", ["x"], min=-0.5, max=0.25)]),
    "squeeze_unsqueeze_attrs_11": (11, [
        node("Unsqueeze", ["x"], ["u"], axes=[0, 3]),
        node("Squeeze", ["u"], axes=[0])]),
    "reduce_attrs_11": (11, [
        node("ReduceSum", ["x"], ["s"], axes=[1], keepdims=0),
        node("ReduceMean", ["s"], ["m"], axes=[-1]),
        node("ReduceMax", ["m"], axes=[0, 2], keepdims=1)]),
    "split_attr_11": (11, [node("Split", ["x"], ["a", "b"], axis=3, split=[2, 3]),
                           node("Mul", ["a", "a"], ["y1"]), node("Sum", ["b"])]),
    "softmax_flattening_11": (11, [node("Softmax", ["x"], axis=1)]),
    "logsoftmax_flattening_12": (12, [node("LogSoftmax", ["x"], axis=2)]),
    "softmax_last_axis_9": (9, [node("Softmax", ["x"], axis=3)]),
    "dropout_ratio_attr_10": (10, [node("Dropout", ["x"], ratio=0.3)]),
    "flatten_negative_axis_11": (11, [node("Flatten", ["x"], axis=-2)]),
    "gemm_9": (9, [node("Flatten", ["x"], ["f"]),
                   node("Gemm", ["f", "w", "c"], alpha=0.5, beta=2.0, transB=1)]),
    "batch_norm_9": (9, [node("BatchNormalization", ["x", "bn_s", "bn_b", "mean", "var"],
                              epsilon=1e-3)]),
}  # fmt: skip
INITIALIZERS = {
    "w": random(7, 60, seed=1), "c": random(7, seed=2), "bn_s": random(3, seed=3),
    "bn_b": random(3, seed=4), "mean": random(3, seed=5), "var": np.abs(random(3, seed=6)) + 0.5,
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(OLD_OPSETS))
def test_old_opsets_match_onnxruntime(case):
    opset, nodes = OLD_OPSETS[case]
    outputs = [o for n in nodes for o in n.output if o.startswith("y")]
    used = {i for n in nodes for i in n.input}
    inits = {k: v for k, v in INITIALIZERS.items() if k in used}
    check_import(make_model(nodes, {"x": X.shape}, outputs, opset, inits), {"x": X})


# -- layouts ------------------------------------------------------------------------------------


def _conv_model(opset, tail, outputs=("y",)):
    nodes = [node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
             node("Relu", ["c1"], ["r1"]),
             node("Conv", ["r1", "w2"], ["c2"], strides=[2, 2]), *tail]  # fmt: skip
    inits = {"w1": random(6, 3, 3, 3, seed=7), "b1": random(6, seed=8),
             "w2": random(4, 6, 1, 1, seed=9), **EXTRA}  # fmt: skip
    used = {i for n in nodes for i in n.input}
    return make_model(nodes, {"x": X.shape}, list(outputs), opset,
                      {k: v for k, v in inits.items() if k in used})  # fmt: skip


LAYOUT_TAILS = {
    # tail after conv -> relu -> conv (c2: NCHW [2, 4, 2, 3], stored NHWC): transposes expected
    "concat_channels_softmax_axis1": ([
        node("Concat", ["c2", "c2"], ["cat"], axis=1),
        node("Softmax", ["cat"], axis=1)], 2),
    "reduce_spatial_no_keepdims": ([node("ReduceMean", ["c2"], axes=[2, 3], keepdims=0)], 1),
    "global_pool_flatten_gemm_like": ([
        node("GlobalAveragePool", ["c2"], ["g"]), node("Flatten", ["g"])], 1),
    "channel_bias_broadcast": ([node("Add", ["c2", "b2"])], 2),
    "batch_norm_then_conv_back_to_back": ([
        node("BatchNormalization", ["c2", "s4", "b4", "m4", "v4"], ["bn"]),
        node("Conv", ["bn", "w3"], pads=[1, 1, 1, 1])], 2),
    "transpose_to_nhwc_is_free": ([node("Transpose", ["c2"], perm=[0, 2, 3, 1])], 1),
    "flatten_needs_nchw_order": ([node("Flatten", ["c2"])], 2),
    "squeeze_unsqueeze_keep_layout": ([
        node("ReduceMax", ["c2"], ["r"], axes=[3], keepdims=1),
        node("Squeeze", ["r", "k3"], ["s"]), node("Unsqueeze", ["s", "k3"], ["u"]),
        node("Relu", ["u"])], 2),
}  # fmt: skip
EXTRA = {"b2": random(1, 4, 1, 1, seed=10), "s4": random(4, seed=11), "b4": random(4, seed=12),
         "m4": random(4, seed=13), "v4": np.abs(random(4, seed=14)) + 0.5,
         "w3": random(2, 4, 3, 3, seed=15), "k3": np.array([3], np.int64)}  # fmt: skip


@pytest.mark.parametrize("case", sorted(LAYOUT_TAILS))
def test_layout_tracking_matches_onnxruntime_with_few_transposes(case):
    """Only the input transpose (and one back where the ONNX order is needed) is made."""
    tail, max_transposes = LAYOUT_TAILS[case]
    graph = check_import(_conv_model(13, tail), {"x": X})
    assert count(graph, "transpose") <= max_transposes
    assert count(graph, "conv2d") >= 2


# -- convolutions and pools ----------------------------------------------------------------------

IMAGE = random(2, 4, 7, 6, seed=20)
CONVS = {
    "grouped_2_of_4": ([node("Conv", ["x", "w"], group=2, pads=[1, 0, 1, 2])], (6, 2, 3, 3)),
    "depthwise_multiplier_2": ([node("Conv", ["x", "w", "b"], group=4, strides=[2, 1],
                                     auto_pad="SAME_UPPER")], (8, 1, 3, 3)),
    "dilated": ([node("Conv", ["x", "w"], dilations=[2, 1], pads=[2, 0, 1, 1])], (3, 4, 2, 3)),
    "same_lower": ([node("Conv", ["x", "w"], auto_pad="SAME_LOWER")], (3, 4, 2, 4)),
    "transpose_grouped": ([node("ConvTranspose", ["x", "w"], group=2, strides=[2, 2],
                                pads=[1, 0, 0, 1], output_padding=[1, 1])], (4, 3, 3, 3)),
    "transpose_output_shape": ([node("ConvTranspose", ["x", "w", "b8"], strides=[3, 2],
                                     output_shape=[22, 13])], (4, 8, 3, 3)),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CONVS))
def test_convolutions_match_onnxruntime(case):
    nodes, w_shape = CONVS[case]
    inits = {"w": random(*w_shape, seed=21), "b": random(8, seed=22), "b8": random(8, seed=23)}
    used = set(nodes[0].input)
    model = make_model(nodes, {"x": IMAGE.shape}, ["y"], 13,
                       {k: v for k, v in inits.items() if k in used})  # fmt: skip
    check_import(model, {"x": IMAGE})


POOLS = {
    "avg_pads_exclude": dict(kernel_shape=[3, 2], pads=[1, 1, 0, 1], strides=[2, 2]),
    "avg_pads_include": dict(kernel_shape=[3, 2], pads=[1, 1, 0, 1], count_include_pad=1),
    "avg_ceil": dict(kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
    "avg_ceil_pads_include": dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                                  ceil_mode=1, count_include_pad=1),
    "avg_same_upper": dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"),
    "avg_same_lower": dict(kernel_shape=[2, 3], auto_pad="SAME_LOWER"),
    "max_ceil_pads": dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 1, 1], ceil_mode=1),
    "max_same_lower": dict(kernel_shape=[2, 2], strides=[2, 1], auto_pad="SAME_LOWER"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(POOLS))
def test_pools_match_onnxruntime(case):
    op = "AveragePool" if case.startswith("avg") else "MaxPool"
    model = make_model([node(op, ["x"], **POOLS[case])], {"x": IMAGE.shape}, ["y"], 13)
    check_import(model, {"x": IMAGE})


def test_dynamic_batch_and_1d_conv():
    nodes = [node("Conv", ["x", "w"], pads=[1, 1]), node("MaxPool", ["y0"], kernel_shape=[2])]
    nodes[0].output[0] = "y0"
    model = make_model(nodes, {"x": [None, 4, 9]}, ["y"], 13, {"w": random(5, 4, 3, seed=30)})
    _, inputs, _ = import_model(model)
    assert inputs[0].shape == (None, 4, 9)
    check_import(model, {"x": random(3, 4, 9, seed=31)})


# -- errors ---------------------------------------------------------------------------------------


def test_one_error_lists_every_unsupported_op_and_attribute():
    nodes = [
        node("Conv", ["x", "w"], ["a"]),
        node("MaxPool", ["a"], ["b"], kernel_shape=[2, 2], dilations=[2, 2]),
        node("Resize", ["b"], ["c"]),
        node("NonZero", ["c"], ["d"]),
        node("Resize", ["d"], ["e"]),
        node("Reshape", ["e", "x"], ["y"]),
    ]
    model = make_model(nodes, {"x": [1, 2, 8, 8]}, ["y"], 13, {"w": random(2, 2, 1, 1)})
    with pytest.raises(OnnxImportError) as info:
        import_model(model)
    message = str(info.value)
    for expected in ("op Resize", "[Resize_2, Resize_4]", "op NonZero", "dilations [2, 2]",
                     "Reshape: input 1 must be known while importing"):  # fmt: skip
        assert expected in message, message


def test_unsupported_opset_and_dtype_are_reported():
    model = make_model([node("Relu", ["x"])], {"x": [2]}, ["y"], 8)
    model.graph.input[0].type.tensor_type.elem_type = 10  # float16
    with pytest.raises(OnnxImportError, match=r"opset 8[\s\S]*dtype float16"):
        import_model(model)


def test_fixing_a_shape_input_with_constants():
    graph = helper.make_graph(
        [node("Reshape", ["x", "shape"])], "reshape",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 6]),
         helper.make_tensor_value_info("shape", onnx.TensorProto.INT64, [2])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [None, None])],
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_operatorsetid("", 13)])
    with pytest.raises(OnnxImportError, match="input 1 must be known"):
        import_model(model)
    graph, inputs, outputs = import_model(model, constants={"shape": np.array([3, -1])})
    assert len(inputs) == 1 and outputs[0].shape == (3, 4)
