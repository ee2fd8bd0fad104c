"""onnx is an optional extra: graphnet imports without it, and graphnet.export.onnx says how to
install it."""

import subprocess
import sys

BLOCK_ONNX = "import sys; sys.modules['onnx'] = None; sys.modules['onnxruntime'] = None\n"


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK_ONNX + code], capture_output=True,
                          text=True, timeout=120)  # fmt: skip


def test_graphnet_imports_without_onnx():
    result = _run("import graphnet as gn\nassert gn.Session")
    assert result.returncode == 0, result.stderr


def test_export_onnx_without_onnx_names_the_extra():
    result = _run("import graphnet.export.onnx")
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    assert "pip install graphnet[onnx]" in result.stderr
