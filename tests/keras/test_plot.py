"""gn.plot: PNG files of training curves and update ratios."""

import builtins

import pytest

import graphnet as gn
import graphnet.keras as K
from graphnet import plot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _fitted(callbacks=()):
    import numpy as np

    x = np.random.default_rng(0).normal(size=(16, 2)).astype("float32")
    model = K.Sequential(
        [K.layers.Dense(3, activation="relu", input_shape=(2,)), K.layers.Dense(1)]
    )
    model.compile("adam", "mse", metrics=["mae"])
    return model.fit(
        x, x[:, :1], epochs=3, validation_split=0.25, callbacks=list(callbacks), verbose=0
    )


def test_history_plot_is_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    history = _fitted()
    path = plot.history(history, tmp_path / "history.png", log_scale=True)
    assert path.endswith("history.png")
    data = (tmp_path / "history.png").read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
    plot.history({"loss": [1.0, 0.5], "accuracy": [0.5, 0.7]}, tmp_path / "dict.png")
    assert (tmp_path / "dict.png").read_bytes().startswith(PNG_SIGNATURE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dict.png", "history.png"]


def test_update_ratio_plot_is_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    logger = K.callbacks.UpdateRatioLogger()
    _fitted([logger])
    plot.update_ratios(logger, tmp_path / "ratios.png")
    assert (tmp_path / "ratios.png").read_bytes().startswith(PNG_SIGNATURE)
    with pytest.raises(ValueError, match="UpdateRatioLogger"):
        plot.update_ratios({}, tmp_path / "empty.png")


def test_missing_matplotlib_names_the_extra(monkeypatch, tmp_path):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(gn.GraphnetError, match=r"pip install graphnet\[plots\]"):
        plot.history({"loss": [1.0]}, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
