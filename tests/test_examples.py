"""The examples run, in shortened form (their --quick settings), and reach what they claim."""

import importlib.util
import math
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _load(name: str):
    """The example as a module (registered, as dataclasses need to find their module)."""
    spec = importlib.util.spec_from_file_location(f"examples.{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _quick(name: str, **overrides):
    """The example's main() with its --quick settings."""
    module = _load(name)
    return module.main(**{**module.QUICK, **overrides})


def test_demo_trains_the_cnn_and_prints_its_plans(capsys):
    accuracy = _load("demo").main(steps=60)
    out = capsys.readouterr().out
    assert accuracy > 0.8
    assert "Compiled inference plan:" in out and "fused_batch_norm" in out


def test_quickstart_learns_the_spirals(capsys):
    result = _quick("quickstart")
    assert abs(result["initial_loss"] - math.log(3)) < 0.5
    assert result["final_loss"] < result["initial_loss"] / 5
    assert result["train_accuracy"] > 0.9 and result["test_accuracy"] > 0.9
    assert f"test accuracy {result['test_accuracy']:.3f}" in capsys.readouterr().out


def test_quickstart_runs_from_the_command_line():
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py"), "--quick"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert "step   150" in done.stdout and "test accuracy" in done.stdout


def test_mlp_textbook_checks_search_and_curves(tmp_path, capsys):
    result = _quick("mlp_textbook", out=str(tmp_path), grad_checks=4)
    out = capsys.readouterr().out
    assert result["gradient_check_error"] < 1e-6
    assert "gamma" in out and "rel. error" in out  # the batch-norm model was checked too
    assert abs(result["initial_loss"] - result["expected_initial_loss"]) < 0.05
    assert result["expected_initial_loss"] == pytest.approx(math.log(4))
    assert result["overfit_loss"] < 0.01
    best = result["best"]
    assert 1e-4 <= best["learning_rate"] <= 10**-1.5 and 1e-5 <= best["l2"] <= 1e-2
    assert best["val_accuracy"] > 0.5  # chance: 0.25
    assert "best: learning rate" in out
    for name in ("plain", "batch_norm"):
        run = result[name]
        assert run["history"]["loss"][-1] < run["history"]["loss"][0]
        assert run["test_accuracy"] > 0.5
        assert Path(run["plot"]).parent == tmp_path
        assert Path(run["plot"]).read_bytes().startswith(PNG_SIGNATURE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlp_batch_norm.png", "mlp_plain.png"]


def test_cnn_falls_back_to_padded_digits(tmp_path, capsys):
    module = _load("cnn_fashion_mnist")
    missing = tmp_path / "no-fashion-mnist"
    result = module.main(**module.QUICK, data_dir=str(missing))
    out = capsys.readouterr().out
    assert result["dataset"] == "digits"
    assert "Total params: 82,934" in out  # the classic model's summary
    assert result["test_accuracy"] > 0.3  # chance: 0.1, after one epoch
    name, (x, y), (x_test, _) = module.load(str(missing), 64, 32, seed=0)
    assert name == "digits" and y.dtype == np.int64 and set(y) <= set(range(10))
    assert x.shape == (64, 28, 28, 1) and x_test.shape == (32, 28, 28, 1)
    assert x.dtype == np.float32 and 0.0 <= x.min() and x.max() <= 1.0
    assert not x[:, :2].any() and not x[:, -2:].any()  # the 2-pixel zero frame
    assert np.array_equal(x[:, 2:5, 2:5], np.repeat(x[:, 2:3, 2:3], 3, 1).repeat(3, 2))


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def test_cnn_reads_fashion_mnist_files(tmp_path):
    rng = np.random.default_rng(0)
    for kind, n in (("train", 40), ("t10k", 20)):
        _write_idx(tmp_path / f"{kind}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(tmp_path / f"{kind}-labels-idx1-ubyte", rng.integers(0, 10, n))
    name, (x, y), (x_test, y_test) = _load("cnn_fashion_mnist").load(str(tmp_path), 16, 100, 0)
    assert name == "Fashion-MNIST"
    assert x.shape == (16, 28, 28, 1) and x_test.shape == (20, 28, 28, 1)  # 100 > the 20 there
    assert x.dtype == np.float32 and x.max() <= 1.0
    assert y.dtype == y_test.dtype == np.int64 and len(y) == 16 and len(y_test) == 20


@pytest.mark.parametrize("name", ["mobilenet_block", "resnet_block"])
def test_block_models_learn_the_digits(name, capsys):
    result = _quick(name)
    out = capsys.readouterr().out
    assert result["history"]["loss"][-1] < result["history"]["loss"][0]
    assert result["test_accuracy"] > 0.5  # chance: 0.1
    assert "Add)" in out  # the skip connection is in the model


def test_rnn_sequence_beats_the_baseline_and_chance(capsys):
    result = _quick("rnn_sequence")
    assert result["lstm_mse"] < result["baseline_mse"]
    assert result["gru_mse"] < result["baseline_mse"] / 2
    assert result["bigru_accuracy"] > 0.5  # chance: 1/3
    assert "Bidirectional" in capsys.readouterr().out
