"""The `graphnet` command line, run in-process through main(): inspect, run, bench, optimize
and draw; --help everywhere; errors as one line on stderr with status 1 (2 for usage)."""

import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import graphnet as gn
from graphnet.cli import main
from graphnet.export import save_plan
from graphnet.runtime.loader import load_plan

# every step of a loaded plan runs a CPU kernel: the plan is specialized to the inputs' shapes
pytestmark = pytest.mark.filterwarnings(
    "error::graphnet.backends.layout.KernelFallbackWarning"
)
ROOT = Path(gn.__file__).resolve().parents[1]
COMMANDS = ("inspect", "run", "bench", "optimize", "draw")


def _model():
    x = gn.placeholder(gn.float32, [None, 4], name="x")
    w = gn.Variable(np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3), name="dense/w")
    return x, gn.nn.softmax(gn.nn.relu(gn.matmul(x, w)) + 0.5, name="probs")


@pytest.fixture
def plan_path(tmp_path):
    x, y = _model()
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        return save_plan(sess, y, x, tmp_path / "model.gnplan", batch_size=2)


def _one_error_line(capsys, *expected):
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for text in expected:
        assert text in err, err
    return err


def test_help_everywhere(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: graphnet") and all(c in out for c in COMMANDS)
    for command in COMMANDS:
        assert main([command, "--help"]) == 0
        assert capsys.readouterr().out.startswith(f"usage: graphnet {command}")


@pytest.mark.parametrize(
    "argv",
    [[], ["frobnicate"], ["bench", "m.gnplan"], ["bench", "m.gnplan", "--batch", "0"],
     ["run", "m.gnplan", "--input", "=x.npy"], ["optimize", "m.onnx"],
     ["optimize", "m.onnx", "-o", "p", "--level", "O7"]],
)  # fmt: skip
def test_a_wrong_command_line_exits_with_2(argv, capsys):
    assert main(argv) == 2
    assert "usage: graphnet" in capsys.readouterr().err


def test_inspect_a_plan_shows_steps_summary_and_memory(plan_path, capsys):
    assert main(["inspect", str(plan_path)]) == 0
    out = capsys.readouterr().out
    assert "inputs:  x: float32[?,4]" in out and "outputs: probs: float32[?,3]" in out
    assert "== steps ==" in out and "fused_matmul(%0, %1)" in out
    assert "== summary ==" in out and "parameters: 12" in out
    assert "== memory at batch size 2 ==" in out and "arena:" in out


def test_inspect_a_checkpoint_lists_its_variables(tmp_path, capsys):
    _model()
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        prefix = gn.train.Saver().save(sess, str(tmp_path / "model.ckpt"))
    assert main(["inspect", prefix + ".index.json"]) == 0
    out = capsys.readouterr().out
    assert "1 variables" in out and "dense/w" in out and "float32" in out and "[4, 3]" in out


def test_run_reads_npy_inputs_and_writes_an_npz(plan_path, tmp_path, capsys):
    x = np.arange(8, dtype=np.float32).reshape(2, 4) / 8
    np.save(tmp_path / "x.npy", x)
    want = load_plan(plan_path).run(x)["probs"]
    for given in (f"x={tmp_path / 'x.npy'}", str(tmp_path / "x.npy")):
        out = tmp_path / "out.npz"
        assert main(["run", str(plan_path), "--input", given, "--output", str(out)]) == 0
        with np.load(out, allow_pickle=False) as archive:
            np.testing.assert_array_equal(archive["probs"], want)
        assert "probs: float32[2, 3] = [[" in capsys.readouterr().out


def test_run_errors_are_one_line_and_debug_shows_the_traceback(plan_path, tmp_path, capsys):
    np.save(tmp_path / "bad.npy", np.zeros((2, 5), np.float32))
    argv = ["run", str(plan_path), "-i", f"x={tmp_path / 'bad.npy'}"]
    assert main(argv) == 1
    _one_error_line(capsys, "graphnet run: error:", "input 'x': expected float32[?,4]", "[2,5]")
    with pytest.raises(gn.FeedError):
        main([*argv, "--debug"])
    assert main(["run", str(plan_path), "-i", f"y={tmp_path / 'bad.npy'}"]) == 1
    _one_error_line(capsys, "unknown input(s) ['y']")
    assert main(["run", str(tmp_path / "missing.gnplan")]) == 1
    _one_error_line(capsys, "no such file")
    (tmp_path / "junk.gnplan").write_bytes(b"junk")
    assert main(["inspect", str(tmp_path / "junk.gnplan")]) == 1
    _one_error_line(capsys, "graphnet inspect: error:", "not a readable zip archive")


def test_bench_reports_latency_and_throughput(plan_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # the plain counter
    assert main(["bench", str(plan_path), "--batch", "3", "--iterations", "7"]) == 0
    captured = capsys.readouterr()
    assert "batch 3, 7 runs" in captured.out and "latency: median" in captured.out
    assert "p90" in captured.out and "samples/s" in captured.out
    assert captured.err.endswith("bench: 7/7 runs\n")


def test_bench_uses_tqdm_when_installed(plan_path, capsys, monkeypatch):
    calls = []

    def tqdm(iterable, **options):
        calls.append(options)
        return iterable

    monkeypatch.setitem(sys.modules, "tqdm", types.SimpleNamespace(tqdm=tqdm))
    assert main(["bench", str(plan_path), "-b", "2", "-n", "3"]) == 0
    assert calls == [{"desc": "bench", "unit": "run", "file": sys.stderr}]
    assert "runs" not in capsys.readouterr().err


def _fake_onnx(monkeypatch, graph_inputs_outputs):
    module = types.ModuleType("graphnet.export.onnx")
    module.import_model = lambda path: graph_inputs_outputs
    monkeypatch.setitem(sys.modules, "graphnet.export.onnx", module)


def test_optimize_compiles_an_imported_model_into_a_plan_file(tmp_path, capsys, monkeypatch):
    graph = gn.Graph()
    with graph.as_default():
        x, y = _model()
    _fake_onnx(monkeypatch, (graph, [x], [y]))
    out = tmp_path / "m.gnplan"
    argv = ["optimize", "m.onnx", "-o", str(out), "--level", "O1", "--print-after", "simplify"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "// -- after simplify --" in printed and f"wrote {out}: 4 steps" in printed
    loaded = load_plan(out)
    assert loaded.info["passes"][-1] == "plan_memory" and "fuse" not in loaded.info["passes"]
    x_value = np.ones((2, 4), np.float32)
    want = gn.Session(graph=graph)
    with want:
        want.run(gn.global_variables_initializer())
        np.testing.assert_allclose(loaded.run(x_value)["probs"], want.run(y, {x: x_value}))


def test_onnx_commands_without_onnx_support_say_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "graphnet.export.onnx", None)
    for argv in (["optimize", "m.onnx", "-o", str(tmp_path / "p")], ["inspect", "m.onnx"],
                 ["draw", "m.onnx", "-o", str(tmp_path / "g.dot")]):  # fmt: skip
        assert main(argv) == 1
        _one_error_line(capsys, "ONNX support (graphnet.export.onnx) is not part of this")


def test_inspect_and_draw_an_onnx_model(tmp_path, capsys, monkeypatch):
    graph = gn.Graph()
    with graph.as_default():
        x, y = _model()
    _fake_onnx(monkeypatch, (graph, [x], [y]))
    assert main(["inspect", "m.onnx"]) == 0
    out = capsys.readouterr().out
    assert "%probs = softmax(" in out and "Summary of a graph" in out
    assert main(["draw", "m.onnx", "-o", str(tmp_path / "g.dot")]) == 0
    assert "digraph" in (tmp_path / "g.dot").read_text()


def test_optimize_a_real_onnx_model(tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    w = np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3)
    b = np.array([0.1, -0.2, 0.3], np.float32)
    model = helper.make_model(
        helper.make_graph(
            [helper.make_node("MatMul", ["x", "w"], ["h"]),
             helper.make_node("Add", ["h", "b"], ["z"]), helper.make_node("Relu", ["z"], ["y"])],
            "tiny",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
            [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")],
        ),
        opset_imports=[helper.make_opsetid("", 13)],
    )  # fmt: skip
    onnx.save(model, tmp_path / "tiny.onnx")
    out = tmp_path / "tiny.gnplan"
    if main(["optimize", str(tmp_path / "tiny.onnx"), "-o", str(out)]) != 0:
        pytest.skip(f"the ONNX importer refused the model: {capsys.readouterr().err}")
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    (got,) = load_plan(out).run(x).values()
    np.testing.assert_allclose(got, np.maximum(x @ w + b, 0), rtol=1e-6)


def test_draw_a_plan(plan_path, tmp_path, capsys):
    assert main(["draw", str(plan_path), "-o", str(tmp_path / "g.dot")]) == 0
    assert "digraph graphnet" in (tmp_path / "g.dot").read_text()
    if shutil.which("dot"):
        assert main(["draw", str(plan_path), "-o", str(tmp_path / "g.svg")]) == 0
        assert "<svg" in (tmp_path / "g.svg").read_text()
    assert main(["draw", str(plan_path), "-o", str(tmp_path / "g.txt")]) == 1
    _one_error_line(capsys, "suffix must be one of")


def test_the_console_entry_runs():
    done = subprocess.run(
        [sys.executable, "-m", "graphnet.cli", "--help"],
        capture_output=True, text=True, cwd=ROOT, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: graphnet")
