"""ONNX's backend node test cases for the ops graphnet imports, run on the reference backend
(or another one).

The cases come from onnx/backend/test/data/node/*/ where the installed onnx ships them, else
from the generators onnx ships (onnx.backend.test.case.node.<op>), which build the same
models and data in memory. Graph inputs that an op needs while importing (Reshape's shape,
Slice's starts...) are fixed to their test values, as the ONNX backends that need them do.

    python -m tests.onnx.node_cases [--backend cpu]

prints the passed and total cases per op, then why each other case was skipped or failed.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

import graphnet as gn
from graphnet.export.onnx import OnnxImportError, import_model
from graphnet.export.onnx.importer import CONVERTERS

#: The ops of the brief, and the onnx module generating their cases.
OPS = {
    "Conv": "conv", "ConvTranspose": "convtranspose", "Gemm": "gemm", "MatMul": "matmul",
    "Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Sum": "sum", "Pow": "pow",
    "Sqrt": "sqrt", "Exp": "exp", "Log": "log", "Neg": "neg", "Abs": "abs", "Relu": "relu",
    "LeakyRelu": "leakyrelu", "Elu": "elu", "Selu": "selu", "Sigmoid": "sigmoid",
    "Tanh": "tanh", "Clip": "clip", "Softmax": "softmax", "LogSoftmax": "logsoftmax",
    "MaxPool": "maxpool", "AveragePool": "averagepool",
    "GlobalAveragePool": "globalaveragepool", "GlobalMaxPool": "globalmaxpool",
    "BatchNormalization": "batch_normalization", "Dropout": "dropout", "LRN": "lrn",
    "Flatten": "flatten", "Reshape": "reshape", "Transpose": "transpose", "Concat": "concat",
    "Squeeze": "squeeze", "Unsqueeze": "unsqueeze", "Slice": "slice", "Pad": "pad",
    "Identity": "identity", "Constant": "constant", "ConstantOfShape": "constantofshape",
    "Shape": "shape", "Gather": "gather", "ReduceMean": "reducemean",
    "ReduceSum": "reducesum", "ReduceMax": "reducemax",
}  # fmt: skip

RTOL, ATOL = 1e-3, 1e-5


@dataclass(frozen=True)
class Case:
    name: str
    op: str  # the op it tests; "<op> (expanded)" for its function-expanded form
    model: onnx.ModelProto
    inputs: Sequence[np.ndarray]
    outputs: Sequence[np.ndarray]


@dataclass(frozen=True)
class Result:
    case: str
    op: str
    status: str  # passed, failed, skipped
    reason: str = ""


def _array(value: object) -> np.ndarray:
    return (
        numpy_helper.to_array(value) if isinstance(value, onnx.TensorProto) else np.asarray(value)
    )


def _tested_op(name: str, model: onnx.ModelProto) -> str | None:
    """The op of OPS a case tests: by its name for a function-expanded case (whatever nodes the
    expansion left: Clip's int8 'inbounds' one is a lone Identity), else its only node's."""
    if "_expanded" in name:
        lowered = name.removeprefix("test_").split("_expanded")[0].replace("_", "").lower()
        ops = [op for op in OPS if lowered.startswith(op.lower())]
        return f"{max(ops, key=len)} (expanded)" if ops else None
    if len(model.graph.node) == 1 and model.graph.node[0].op_type in OPS:
        return model.graph.node[0].op_type
    return None


def _from_files(root: Path) -> Iterator[Case]:
    for folder in sorted(root.iterdir()):
        model = onnx.load(str(folder / "model.onnx"))
        op = _tested_op(folder.name, model)
        data = folder / "test_data_set_0"
        if op is None or not data.exists():
            continue
        ins = [_read(p) for p in sorted(data.glob("input_*.pb"))]
        outs = [_read(p) for p in sorted(data.glob("output_*.pb"))]
        yield Case(folder.name, op, model, ins, outs)


def _read(path: Path) -> np.ndarray:
    tensor = onnx.TensorProto()
    tensor.ParseFromString(path.read_bytes())
    return numpy_helper.to_array(tensor)


def _generated() -> Iterator[Case]:
    import onnx.backend.test.case.node as generators

    with warnings.catch_warnings():  # the generators divide by zero on purpose (empty sets)
        warnings.simplefilter("ignore", RuntimeWarning)
        for module in sorted(set(OPS.values())):
            importlib.import_module(f"{generators.__name__}.{module}")  # runs its expect()s
    for tc in generators._NodeTestCases:
        op = _tested_op(tc.name, tc.model)
        if op is None:
            continue
        (ins, outs), *_ = tc.data_sets
        yield Case(tc.name, op, tc.model, list(ins), list(outs))


def collect() -> list[Case]:
    root = Path(onnx.__file__).parent / "backend" / "test" / "data" / "node"
    return list(_from_files(root) if root.exists() else _generated())


def _fixed_inputs(case: Case) -> dict[str, np.ndarray]:
    """Graph inputs at positions an op needs while importing, with their test values."""
    graph_inputs = [i.name for i in case.model.graph.input]
    values = dict(zip(graph_inputs, case.inputs, strict=False))
    fixed = {}
    for node in case.model.graph.node:
        conv = CONVERTERS.get(node.op_type)
        for i in conv.static if conv else ():
            if i < len(node.input) and node.input[i] in values:
                fixed[node.input[i]] = _array(values[node.input[i]])
    return fixed


def run(case: Case, backend: str = "reference") -> Result:
    """Imports the case, runs it on `backend` and compares with the expected outputs."""
    values = [*case.inputs, *case.outputs]
    if any(not isinstance(v, np.ndarray | np.generic | onnx.TensorProto) for v in values):
        return Result(case.name, case.op, "skipped", "sequence or optional values")
    fixed = _fixed_inputs(case)
    try:
        graph, inputs, outputs = import_model(case.model, constants=fixed)
    except OnnxImportError as err:
        return Result(case.name, case.op, "skipped", str(err).split("\n  - ", 1)[-1])
    names = [i.name for i in case.model.graph.input]
    fed = [_array(v) for n, v in zip(names, case.inputs, strict=False) if n not in fixed]
    try:
        with gn.Session(graph=graph, backend=backend) as sess:
            got = sess.run(outputs, dict(zip(inputs, fed, strict=True)))
        for g, want in zip(got, case.outputs, strict=True):
            want = _array(want)
            g = np.asarray(g)
            assert g.shape == want.shape, f"shape {g.shape} != {want.shape}"
            assert g.dtype == want.dtype, f"dtype {g.dtype} != {want.dtype}"
            np.testing.assert_allclose(g, want, rtol=RTOL, atol=ATOL)
    except Exception as err:
        return Result(case.name, case.op, "failed", f"{type(err).__name__}: {err}"[:300])
    return Result(case.name, case.op, "passed")


def table(results: Sequence[Result]) -> str:
    """Passed/total per op (skipped cases count in total), then the reasons of the others."""
    by_op: dict[str, Counter] = {}
    for r in results:
        by_op.setdefault(r.op, Counter())[r.status] += 1
    lines = [f"{'op':<30}{'passed':>8}{'total':>7}{'skipped':>9}{'failed':>8}"]
    for op in sorted(by_op):
        c = by_op[op]
        lines.append(f"{op:<30}{c['passed']:>8}{c.total():>7}{c['skipped']:>9}{c['failed']:>8}")
    totals = Counter(r.status for r in results)
    lines.append(f"{'all':<30}{totals['passed']:>8}{len(results):>7}{totals['skipped']:>9}"
                 f"{totals['failed']:>8}")  # fmt: skip
    lines += [f"  {r.status}: {r.case}: {r.reason}" for r in results if r.status != "passed"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs every case and prints the table; exits 1 when a case failed."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.onnx.node_cases",
        description="Pass counts per op of ONNX's backend node test cases.",
    )
    parser.add_argument("--backend", default="reference", help="default: reference")
    backend = parser.parse_args(argv).backend
    results = [run(case, backend) for case in collect()]
    sys.stdout.write(f"ONNX node test cases (onnx {onnx.__version__}) on {backend}\n")
    sys.stdout.write(table(results) + "\n")
    return int(any(r.status == "failed" for r in results))


if __name__ == "__main__":
    sys.exit(main())
