"""The examples run, in shortened form, and reach what they claim."""

import importlib.util
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_trains_the_cnn_and_prints_its_plans(capsys):
    accuracy = _load("demo").main(steps=60)
    out = capsys.readouterr().out
    assert accuracy > 0.8
    assert "Compiled inference plan:" in out and "fused_batch_norm" in out
