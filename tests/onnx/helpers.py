"""Building small ONNX models and checking graphnet's import of them against ONNX Runtime."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

import graphnet as gn
from graphnet.export.onnx import import_model

F32 = onnx.TensorProto.FLOAT


def make_model(
    nodes: Sequence[onnx.NodeProto],
    inputs: Mapping[str, Sequence[int | None]],
    outputs: Sequence[str],
    opset: int,
    initializers: Mapping[str, np.ndarray] | None = None,
) -> onnx.ModelProto:
    """A float32 model of `nodes` with the given input shapes; the outputs' types are what ONNX's
    shape inference gives."""
    graph = helper.make_graph(
        list(nodes),
        "test",
        [helper.make_tensor_value_info(n, F32, list(s)) for n, s in inputs.items()],
        [],
        [numpy_helper.from_array(v, n) for n, v in (initializers or {}).items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_operatorsetid("", opset)])
    inferred = {vi.name: vi for vi in onnx.shape_inference.infer_shapes(model).graph.value_info}
    for n in outputs:
        vi = inferred.get(n)
        known = vi is not None and vi.type.tensor_type.HasField("shape")
        model.graph.output.append(vi if known else helper.make_tensor_value_info(n, F32, [None]))
    onnx.checker.check_model(model)
    return model


def node(op: str, inputs: Sequence[str], outputs: Sequence[str] = ("y",), **attrs: Any) -> Any:
    return helper.make_node(op, list(inputs), list(outputs), **attrs)


def ort_run(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, dict(feeds))


def gn_run(graph: gn.Graph, inputs: Sequence[gn.Tensor], outputs: Sequence[gn.Tensor],
           feeds: Sequence[np.ndarray]) -> list[np.ndarray]:  # fmt: skip
    with gn.Session(graph=graph) as sess:
        return [
            np.asarray(v) for v in sess.run(list(outputs), dict(zip(inputs, feeds, strict=True)))
        ]


def check_import(model: onnx.ModelProto, feeds: Mapping[str, np.ndarray],
                 rtol: float = 1e-4, atol: float = 1e-5) -> gn.Graph:  # fmt: skip
    """Imports `model`, runs it on graphnet and ONNX Runtime, asserts equal outputs."""
    graph, inputs, outputs = import_model(model)
    want = ort_run(model, feeds)
    got = gn_run(graph, inputs, outputs, [feeds[n] for n in feeds])
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape, (g.shape, w.shape)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)
    return graph


def count(graph: gn.Graph, op: str) -> int:
    return sum(1 for n in graph.nodes if n.type == op)


def random(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)
