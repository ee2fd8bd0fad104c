"""ONNX's own backend node test cases for the ops graphnet imports (see node_cases.py):
imported, run on the reference backend and compared with ONNX's expected outputs; then the
imported graphs exported again and run on ONNX Runtime. `pytest -s` prints the table."""

from collections import Counter

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

import onnxruntime as ort

import graphnet as gn
from graphnet.export.onnx import export, import_model
from tests.onnx import node_cases

#: Cases that must pass per op (passed/total measured with onnx 1.23: the rest use dtypes
#: graphnet lacks, 3-D windows, dilated pools, MaxPool's Indices or training mode).
FLOORS = {
    "Abs": 1, "Add": 2, "AveragePool": 13, "BatchNormalization": 2, "Clip": 9, "Concat": 12,
    "Constant": 1, "ConstantOfShape": 3, "Conv": 6, "ConvTranspose": 10, "Div": 4,
    "Dropout": 8, "Elu": 3, "Exp": 2, "Flatten": 9, "Gather": 4, "Gemm": 11,
    "GlobalAveragePool": 2, "GlobalMaxPool": 2, "Identity": 1, "LRN": 2, "LeakyRelu": 3,
    "Log": 2, "LogSoftmax": 7, "MatMul": 7, "MaxPool": 11, "Mul": 3, "Neg": 2, "Pad": 6,
    "Pow": 10, "ReduceMax": 11, "ReduceMean": 8, "ReduceSum": 12, "Relu": 1, "Reshape": 10,
    "Selu": 3, "Shape": 11, "Sigmoid": 2, "Slice": 8, "Softmax": 7, "Sqrt": 2, "Squeeze": 2,
    "Sub": 3, "Sum": 3, "Tanh": 2, "Transpose": 7, "Unsqueeze": 7,
    "Clip (expanded)": 9, "Elu (expanded)": 3, "LeakyRelu (expanded)": 3,
    "LogSoftmax (expanded)": 14, "Relu (expanded)": 1, "Selu (expanded)": 3,
    "Softmax (expanded)": 14,
}  # fmt: skip


@pytest.fixture(scope="module")
def cases_and_results():
    cases = node_cases.collect()
    return cases, [node_cases.run(c) for c in cases]


def test_node_cases_pass_per_op(cases_and_results):
    _, results = cases_and_results
    print("\n" + node_cases.table(results))
    passed = Counter(r.op for r in results if r.status == "passed")
    below = {op: (passed[op], floor) for op, floor in FLOORS.items() if passed[op] < floor}
    assert not below, f"ops below their floor (passed, floor): {below}"
    failed = [f"{r.case}: {r.reason}" for r in results if r.status == "failed"]
    assert not failed, "\n".join(failed)


def test_every_op_has_cases(cases_and_results):
    _, results = cases_and_results
    assert set(node_cases.OPS) <= {r.op for r in results}


def test_skips_say_why(cases_and_results):
    _, results = cases_and_results
    assert all(r.reason for r in results if r.status == "skipped")


def test_imported_cases_export_and_match_in_onnxruntime(cases_and_results):
    """Every passing case, imported and exported again, gives the expected outputs in ORT."""
    cases, results = cases_and_results
    mismatches = []
    for case, result in zip(cases, results, strict=True):
        if result.status != "passed":
            continue
        fixed = node_cases._fixed_inputs(case)
        graph, inputs, outputs = import_model(case.model, constants=fixed)
        with gn.Session(graph=graph) as sess:
            model = export(sess, outputs, inputs)
        runner = ort.InferenceSession(model.SerializeToString(),
                                      providers=["CPUExecutionProvider"])  # fmt: skip
        names = [i.name for i in case.model.graph.input]
        fed = [node_cases._array(v) for n, v in zip(names, case.inputs, strict=False)
               if n not in fixed]  # fmt: skip
        got = runner.run(None, {i.name: v for i, v in zip(model.graph.input, fed, strict=True)})
        for g, want in zip(got, case.outputs, strict=True):
            if not np.allclose(g, node_cases._array(want), node_cases.RTOL, node_cases.ATOL):
                mismatches.append(case.name)
    assert not mismatches, mismatches
