"""ONNX Runtime, inference only: an NCHW ONNX graph written from the spec with onnx.helper
(Conv with batch norm folded in, Relu, MaxPool, Flatten, Gemm, Softmax; opset 17), run by an
InferenceSession with all graph optimizations. It is built from the spec rather than exported
from another framework so that ORT gets the plain graph it runs best, with no layout
transposes to optimize away."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from benchmarks.spec import (
    Conv,
    Dense,
    MaxPool,
    ModelSpec,
    Params,
    dense_rows_nchw,
    fold_bn,
    input_shapes,
)

_THREADS = 2


def versions() -> dict[str, str]:
    return {"onnxruntime": ort.__version__, "onnx": onnx.__version__}


def configure(threads: int) -> None:
    global _THREADS
    _THREADS = threads


def onnx_model(spec: ModelSpec, weights: list[Params]) -> onnx.ModelProto:
    """The inference graph of `spec` with `weights` folded (input NCHW, or [N, features])."""
    nodes, initializers = [], []
    x = "images"

    def add(op: str, inputs: list[str], **attrs: object) -> str:
        out = f"{op.lower()}{len(nodes)}"
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def const(name: str, value: np.ndarray) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    for i, (layer, p, shape) in enumerate(
        zip(spec.layers, fold_bn(weights), input_shapes(spec), strict=True)
    ):
        if isinstance(layer, Conv):
            k = layer.kernel
            pads = [k // 2] * 4 if layer.padding == "SAME" else [0] * 4
            w = const(f"w{i}", p["w"].transpose(3, 2, 0, 1))
            x = add("Conv", [x, w, const(f"b{i}", p["b"])], kernel_shape=[k, k], pads=pads)
            x = add("Relu", [x])
        elif isinstance(layer, MaxPool):
            x = add("MaxPool", [x], kernel_shape=[layer.size] * 2, strides=[layer.size] * 2)
        elif isinstance(layer, Dense):
            if len(shape) == 3:
                x = add("Flatten", [x], axis=1)
            w = const(f"w{i}", dense_rows_nchw(p["w"], shape))
            x = add("Gemm", [x, w, const(f"b{i}", p["b"])])
            x = add("Relu", [x]) if layer.relu else x
    nodes.append(helper.make_node("Softmax", [x], ["probabilities"], axis=1))
    shape = spec.input_shape
    dims = ["N", shape[2], shape[0], shape[1]] if len(shape) == 3 else ["N", *shape]
    graph = helper.make_graph(
        nodes,
        spec.name,
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 10])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_operatorsetid("", 17)])
    onnx.checker.check_model(model)
    return model


class Runner:
    """An InferenceSession over the initial weights (it never trains)."""

    def __init__(self, spec: ModelSpec, weights: list[Params]) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = _THREADS
        options.inter_op_num_threads = _THREADS
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        model = onnx_model(spec, weights).SerializeToString()
        self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])

    def train_step(self, x: np.ndarray, y: np.ndarray) -> None:
        return None

    def predict(self, x: np.ndarray) -> Callable[[], np.ndarray]:
        images = np.ascontiguousarray(x.transpose(0, 3, 1, 2) if x.ndim == 4 else x)
        run = self.session.run
        return lambda: run(None, {"images": images})[0]
