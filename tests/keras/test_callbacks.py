"""Callbacks: hooks and their order, EarlyStopping, ModelCheckpoint, LearningRateScheduler,
ReduceLROnPlateau, CSVLogger, UpdateRatioLogger."""

import csv

import numpy as np
import pytest

import graphnet.keras as K
from graphnet.keras import callbacks as C, layers as L


def _data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype("float32")
    return x, x @ np.array([[1.0], [-2.0], [0.5]], dtype="float32") + 0.3


def _model(lr=0.05, optimizer=None):
    model = K.Sequential([L.Dense(4, activation="tanh", input_shape=(3,)), L.Dense(1)])
    model.compile(optimizer or K.optimizers.SGD(lr), "mse", metrics=["mae"])
    return model


class Recorder(C.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin", self.params["epochs"], self.params["steps"]))

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", batch, sorted(logs)))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, sorted(logs)))

    def on_train_end(self, logs=None):
        self.calls.append(("train_end",))


def test_hooks_run_in_keras_order_with_logs():
    x, y = _data(10)
    recorder = Recorder()
    model = _model()
    model.fit(x, y, batch_size=4, epochs=2, validation_split=0.2, callbacks=[recorder], verbose=0)
    assert recorder.model is model
    assert recorder.calls == [
        ("train_begin", 2, 2),
        ("epoch_begin", 0),
        ("batch_end", 0, ["loss", "mae"]),
        ("batch_end", 1, ["loss", "mae"]),
        ("epoch_end", 0, ["loss", "mae", "val_loss", "val_mae"]),
        ("epoch_begin", 1),
        ("batch_end", 0, ["loss", "mae"]),
        ("batch_end", 1, ["loss", "mae"]),
        ("epoch_end", 1, ["loss", "mae", "val_loss", "val_mae"]),
        ("train_end",),
    ]


def test_early_stopping_stops_and_restores_the_best_weights():
    x, y = _data()
    model = _model(lr=0.05)
    seen = []

    class Spy(C.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((logs["val_loss"], model.get_weights()))
            if epoch == 2:  # from here on, every epoch makes val_loss worse
                K.backend.set_value(model.optimizer.learning_rate, -0.5)

    stopper = C.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = model.fit(
        x, y, epochs=20, validation_split=0.25, callbacks=[Spy(), stopper], verbose=0
    )
    losses = [loss for loss, _ in seen]
    best = int(np.argmin(losses))
    assert len(history.epoch) < 20 and stopper.stopped_epoch == history.epoch[-1]
    assert stopper.stopped_epoch == best + 2
    assert stopper.best == losses[best]
    for got, want in zip(model.get_weights(), seen[best][1], strict=True):
        np.testing.assert_array_equal(got, want)


def test_early_stopping_mode_and_min_delta():
    stopper = C.EarlyStopping(monitor="val_accuracy", min_delta=0.1)
    assert stopper.monitor_op is np.greater and stopper.min_delta == 0.1
    assert C.EarlyStopping(min_delta=0.1).min_delta == -0.1
    with pytest.raises(ValueError, match="mode"):
        C.EarlyStopping(mode="up")


def test_model_checkpoint_writes_formatted_files(tmp_path):
    x, y = _data()
    model = _model()
    pattern = str(tmp_path / "weights.{epoch:02d}-{loss:.2f}")
    history = model.fit(
        x, y, epochs=3, callbacks=[C.ModelCheckpoint(pattern, monitor="loss")], verbose=0
    )
    names = sorted(p.name for p in tmp_path.glob("*.index.json"))
    losses = history.history["loss"]
    assert names == [
        f"weights.{e:02d}-{loss:.2f}.index.json" for e, loss in zip([1, 2, 3], losses, strict=True)
    ]
    restored = _model()
    restored.load_weights(pattern.format(epoch=3, loss=losses[2]))
    np.testing.assert_array_equal(restored.predict(x), model.predict(x))


def test_model_checkpoint_save_best_only(tmp_path, capsys):
    x, y = _data()
    model = _model()
    values = iter([0.5, 0.7, 0.4])

    class FakeMetric(C.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["score"] = next(values)

    path = str(tmp_path / "best")
    checkpoint = C.ModelCheckpoint(path, monitor="score", save_best_only=True, verbose=1)
    model.fit(x, y, epochs=3, callbacks=[FakeMetric(), checkpoint], verbose=0)
    out = capsys.readouterr().out
    assert "Epoch 00001: score improved from inf to 0.50000, saving model to " + path in out
    assert "Epoch 00002: score did not improve from 0.50000" in out
    assert "Epoch 00003: score improved from 0.50000 to 0.40000" in out
    assert checkpoint.best == 0.4


def test_learning_rate_scheduler_sets_the_rate_each_epoch():
    x, y = _data(8)
    model = _model(lr=0.1)
    seen = []

    def schedule(epoch, lr):
        seen.append(lr)
        return lr * 0.5

    history = model.fit(x, y, epochs=3, callbacks=[C.LearningRateScheduler(schedule)], verbose=0)
    np.testing.assert_allclose(seen, [0.1, 0.05, 0.025], rtol=1e-6)
    np.testing.assert_allclose(history.history["lr"], [0.05, 0.025, 0.0125], rtol=1e-6)
    assert K.backend.get_value(model.optimizer.learning_rate) == pytest.approx(0.0125)


def test_learning_rate_scheduler_changes_the_update():
    """A zero rate from epoch 1 on freezes the weights."""
    x, y = _data(8)
    model = _model(lr=0.1)
    frozen = []

    class Snapshot(C.Callback):
        def on_epoch_end(self, epoch, logs=None):
            frozen.append(model.get_weights()[0].copy())

    initial = model.get_weights()[0]
    schedule = C.LearningRateScheduler(lambda epoch: 0.1 if epoch == 0 else 0.0)
    model.fit(x, y, epochs=3, callbacks=[schedule, Snapshot()], verbose=0)
    assert not np.array_equal(initial, frozen[0])
    np.testing.assert_array_equal(frozen[0], frozen[1])
    np.testing.assert_array_equal(frozen[1], frozen[2])


def test_reduce_lr_on_plateau():
    model = _model(lr=1.0)
    reducer = C.ReduceLROnPlateau(
        monitor="val_loss", factor=0.5, patience=2, min_lr=0.3, cooldown=1
    )
    reducer.set_model(model)
    reducer.on_train_begin()
    lrs = []
    for epoch, val_loss in enumerate([1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95]):
        logs = {"val_loss": val_loss}
        reducer.on_epoch_end(epoch, logs)
        lrs.append(logs["lr"])
    # halved after 2 epochs without improvement (at the end of epoch 3), the cooldown epoch
    # resets the wait, then 2 more bad epochs (4, 5) halve it again, floored at min_lr
    np.testing.assert_allclose(lrs, [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.3, 0.3, 0.3], rtol=1e-6)
    assert K.backend.get_value(model.optimizer.learning_rate) == pytest.approx(0.3)


def test_csv_logger_writes_a_row_per_epoch(tmp_path):
    x, y = _data(12)
    path = tmp_path / "log.csv"
    model = _model()
    history = model.fit(
        x, y, epochs=2, validation_split=0.25, callbacks=[C.CSVLogger(path)], verbose=0
    )
    rows = list(csv.DictReader(path.open()))
    assert list(rows[0]) == ["epoch", "loss", "mae", "val_loss", "val_mae"]
    assert [r["epoch"] for r in rows] == ["0", "1"]
    np.testing.assert_allclose([float(r["val_loss"]) for r in rows], history.history["val_loss"])
    model.fit(x, y, epochs=1, callbacks=[C.CSVLogger(path, separator=",", append=True)], verbose=0)
    lines = path.read_text().splitlines()
    assert len(lines) == 4 and lines[0] == "epoch,loss,mae,val_loss,val_mae"
    assert lines[3].startswith("0,")


def test_update_ratio_logger_records_lr_times_grad_over_weight():
    x, y = _data(16)
    logger = C.UpdateRatioLogger()
    model = _model(lr=0.01)
    model.fit(x, y, epochs=3, batch_size=16, callbacks=[logger], verbose=0)
    assert sorted(logger.ratios) == ["dense", "dense_1"] and logger.epochs == [0, 1, 2]
    assert all(len(v) == 3 and all(0 < r < 1 for r in v) for v in logger.ratios.values())

    # One full-batch step recomputed by hand: ||lr * dL/dW|| / ||W|| for the last layer.
    logger = C.UpdateRatioLogger()
    model = K.Sequential([L.Dense(1, input_shape=(3,))])
    model.compile(K.optimizers.SGD(0.01), "mse")
    w, b = model.get_weights()
    residual = x @ w + b - y
    grad = np.concatenate([(2 / 16 * x.T @ residual).ravel(), 2 / 16 * residual.sum(0)])
    model.fit(x, y, epochs=1, batch_size=16, callbacks=[logger], verbose=0)
    expected = 0.01 * np.linalg.norm(grad) / np.linalg.norm(np.concatenate([w.ravel(), b]))
    np.testing.assert_allclose(logger.ratios["dense_2"], [expected], rtol=1e-4)


def test_terminate_on_nan_and_lambda_callback():
    x, y = _data(8)
    model = _model(lr=1e30)
    ends = []
    model.fit(
        x,
        y,
        epochs=5,
        batch_size=2,
        verbose=0,
        callbacks=[
            C.TerminateOnNaN(),
            C.LambdaCallback(on_epoch_end=lambda e, logs: ends.append(e)),
        ],
    )
    assert model.stop_training and len(ends) <= 2
