"""gn.keras.callbacks: hooks fit calls at the start and end of training, epochs and batches.

Keras' callbacks with Keras' rules (History, ProgbarLogger, EarlyStopping, ModelCheckpoint,
LearningRateScheduler, ReduceLROnPlateau, CSVLogger, TerminateOnNaN, LambdaCallback), and
UpdateRatioLogger, which records per layer and epoch the update-to-weight ratio
||lr * grad|| / ||W|| used to tune learning rates (about 1e-3 is the usual target).

A callback may also ask fit for extra tensors of each training step (a graphnet extension):
`train_fetches(head)` returns {name: tensor}; fit runs them with the step and passes their
values to `on_train_fetches(batch, values)`.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from graphnet.ir import Tensor
from graphnet.keras import backend
from graphnet.keras.backend import print_msg
from graphnet.keras.progbar import Progbar

if TYPE_CHECKING:
    from graphnet.keras.model import Model
    from graphnet.keras.runtime import Head

Logs = dict[str, Any]


class Callback:
    """The base class: every hook does nothing. `self.model` and `self.params` ({'verbose',
    'epochs', 'steps'}) are set before training starts."""

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict[str, Any] = {}

    def set_model(self, model: Model) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def on_train_begin(self, logs: Logs | None = None) -> None: ...
    def on_train_end(self, logs: Logs | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None: ...
    def on_train_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self.on_batch_end(batch, logs)

    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None: ...
    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None: ...
    def on_test_begin(self, logs: Logs | None = None) -> None: ...
    def on_test_end(self, logs: Logs | None = None) -> None: ...
    def on_test_batch_begin(self, batch: int, logs: Logs | None = None) -> None: ...
    def on_test_batch_end(self, batch: int, logs: Logs | None = None) -> None: ...
    def on_predict_begin(self, logs: Logs | None = None) -> None: ...
    def on_predict_end(self, logs: Logs | None = None) -> None: ...
    def on_predict_batch_begin(self, batch: int, logs: Logs | None = None) -> None: ...
    def on_predict_batch_end(self, batch: int, logs: Logs | None = None) -> None: ...

    def train_fetches(self, head: Head) -> dict[str, Tensor]:
        """Extra tensors to run with each training step (graphnet's extension); none here."""
        return {}

    def on_train_fetches(self, batch: int, values: Mapping[str, Any]) -> None:
        """The values of train_fetches() after training step `batch`."""


_HOOKS = (
    "on_train_begin",
    "on_train_end",
    "on_epoch_begin",
    "on_epoch_end",
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_begin",
    "on_test_end",
    "on_test_batch_begin",
    "on_test_batch_end",
    "on_predict_begin",
    "on_predict_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
    "on_train_fetches",
)


class CallbackList:
    """The callbacks of one fit/evaluate/predict call, with the ProgbarLogger first and the
    History last when asked for (Keras' order), each hook called on all of them in turn."""

    def __init__(
        self,
        callbacks: Iterable[Callback] | None,
        model: Model,
        add_history: bool = False,
        add_progbar: bool = False,
        **params: Any,
    ) -> None:
        self.callbacks = list(callbacks or [])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"callbacks must be gn.keras.callbacks.Callback objects, got {cb!r}"
                )
        if add_progbar and not any(isinstance(cb, ProgbarLogger) for cb in self.callbacks):
            self.callbacks.insert(0, ProgbarLogger())
        if add_history:
            model.history = History()
            self.callbacks.append(model.history)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(dict(params))

    def call(self, hook: str, *args: Any) -> None:
        """Calls hook `hook` (e.g. "on_epoch_end") of every callback with `args`."""
        if hook not in _HOOKS:
            raise ValueError(f"unknown callback hook {hook!r}")
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def train_fetches(self, head: Head) -> dict[str, Tensor]:
        fetches: dict[str, Tensor] = {}
        for cb in self.callbacks:
            fetches.update(cb.train_fetches(head))
        return fetches


class History(Callback):
    """Records the logs of every epoch: `history.history['loss']`, `history.epoch`."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[Any]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


class ProgbarLogger(Callback):
    """Prints `Epoch i/n` (when n > 1) and the progress bar of each epoch (see fit's verbose)."""

    def __init__(self, count_mode: str = "steps") -> None:
        super().__init__()
        self._bar: Progbar | None = None

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        verbose, epochs = self.params.get("verbose", 1), self.params.get("epochs", 1)
        if verbose and epochs > 1:
            print_msg(f"Epoch {epoch + 1}/{epochs}")
        self._bar = Progbar(self.params.get("steps") or 1, verbose=verbose)

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        if self._bar is not None and batch + 1 < self._bar.target:
            self._bar.update(batch + 1, (logs or {}).items())

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self._bar is not None:
            self._bar.update(self._bar.target, (logs or {}).items(), finalize=True)


# -- monitoring a logged quantity ------------------------------------------------------------------


def _monitor_op(mode: str, monitor: str, what: str) -> Callable[[Any, Any], Any]:
    """np.greater or np.less for mode 'max' / 'min'; 'auto' picks max for accuracies."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{what} mode {mode!r} is unknown; expected 'auto', 'min' or 'max'")
    if mode == "max" or (mode == "auto" and (monitor.endswith(("acc", "accuracy", "auc")))):
        return np.greater
    return np.less


def _warn_missing(what: str, monitor: str, logs: Logs) -> None:
    print_msg(
        f"WARNING: {what} conditioned on metric `{monitor}` which is not available. Available "
        f"metrics are: {','.join(logs)}"
    )


class EarlyStopping(Callback):
    """Stops training when `monitor` has not improved by min_delta for `patience` epochs;
    with restore_best_weights, the weights of the best epoch are restored when it stops."""

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
    ) -> None:
        super().__init__()
        self.monitor = monitor
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.monitor_op = _monitor_op(mode, monitor, "EarlyStopping")
        self.min_delta = abs(min_delta) * (1 if self.monitor_op is np.greater else -1)
        self.wait = 0
        self.stopped_epoch = 0
        self.best: float = math.inf
        self.best_weights: list[np.ndarray] | None = None

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = -math.inf if self.monitor_op is np.greater else math.inf
        self.best_weights = None

    def _is_improvement(self, value: float, reference: float) -> bool:
        return bool(self.monitor_op(value - self.min_delta, reference))

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        current = logs.get(self.monitor)
        if current is None:
            _warn_missing("Early stopping", self.monitor, logs)
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            if self.restore_best_weights and self.best_weights is not None:
                if self.verbose > 0:
                    print_msg("Restoring model weights from the end of the best epoch.")
                self.model.set_weights(self.best_weights)

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            print_msg(f"Epoch {self.stopped_epoch + 1:05d}: early stopping")


class ModelCheckpoint(Callback):
    """Saves the weights after every epoch (`save_freq='epoch'`) to `filepath`, which may hold
    `{epoch:02d}` and logged values (`{val_loss:.2f}`); with save_best_only, only when
    `monitor` improved. Only weights can be saved (graphnet's checkpoint format)."""

    def __init__(
        self,
        filepath: str | os.PathLike,
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = True,
        mode: str = "auto",
        save_freq: str = "epoch",
    ) -> None:
        super().__init__()
        if not save_weights_only:
            raise ValueError("ModelCheckpoint can save weights only: save_weights_only=True")
        if save_freq != "epoch":
            raise ValueError(f"ModelCheckpoint supports save_freq='epoch' only, got {save_freq!r}")
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.monitor_op = _monitor_op(mode, monitor, "ModelCheckpoint")
        self.best = -math.inf if self.monitor_op is np.greater else math.inf

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                _warn_missing("Can save best model only with", self.monitor, logs)
                return
            if not self.monitor_op(current, self.best):
                if self.verbose > 0:
                    print_msg(
                        f"\nEpoch {epoch + 1:05d}: {self.monitor} did not improve from "
                        f"{self.best:.5f}"
                    )
                return
            if self.verbose > 0:
                print_msg(
                    f"\nEpoch {epoch + 1:05d}: {self.monitor} improved from "
                    f"{self.best:.5f} to {current:.5f}, saving model to {path}"
                )
            self.best = current
        elif self.verbose > 0:
            print_msg(f"\nEpoch {epoch + 1:05d}: saving model to {path}")
        self.model.save_weights(path)


class LearningRateScheduler(Callback):
    """Sets the learning rate at the start of each epoch to schedule(epoch, lr) (or
    schedule(epoch)); logs it as 'lr'."""

    def __init__(self, schedule: Callable[..., float], verbose: int = 0) -> None:
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        lr = float(backend.get_value(self.model.optimizer.learning_rate))
        try:
            lr = self.schedule(epoch, lr)
        except TypeError:  # a schedule of the epoch only (Keras 1's signature)
            lr = self.schedule(epoch)
        if not isinstance(lr, float | int | np.floating | np.integer):
            raise ValueError(f'The output of the "schedule" function should be float, got {lr!r}')
        backend.set_value(self.model.optimizer.learning_rate, float(lr))
        if self.verbose > 0:
            print_msg(
                f"\nEpoch {epoch + 1:05d}: LearningRateScheduler setting learning rate to {lr}."
            )

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if logs is not None:
            logs["lr"] = float(backend.get_value(self.model.optimizer.learning_rate))


class ReduceLROnPlateau(Callback):
    """Multiplies the learning rate by `factor` (down to min_lr) when `monitor` has not
    improved by min_delta for `patience` epochs, then waits `cooldown` epochs."""

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0,
    ) -> None:
        super().__init__()
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0, got {factor}")
        self.monitor = monitor
        self.factor = factor
        self.patience = patience
        self.verbose = verbose
        self.min_delta = min_delta
        self.cooldown = cooldown
        self.min_lr = min_lr
        self._maximize = _monitor_op(mode, monitor, "ReduceLROnPlateau") is np.greater
        self.wait = 0
        self.cooldown_counter = 0
        self.best = 0.0

    def _improved(self, current: float) -> bool:
        if self._maximize:
            return current > self.best + self.min_delta
        return current < self.best - self.min_delta

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.best = -math.inf if self._maximize else math.inf
        self.wait = 0
        self.cooldown_counter = 0

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs if logs is not None else {}
        lr_weight = self.model.optimizer.learning_rate
        logs["lr"] = float(backend.get_value(lr_weight))
        current = logs.get(self.monitor)
        if current is None:
            _warn_missing("Learning rate reduction is", self.monitor, logs)
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._improved(current):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = float(backend.get_value(lr_weight))
                if old_lr > np.float32(self.min_lr):
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    backend.set_value(lr_weight, new_lr)
                    if self.verbose > 0:
                        print_msg(
                            f"\nEpoch {epoch + 1:05d}: ReduceLROnPlateau reducing learning "
                            f"rate to {new_lr}."
                        )
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class CSVLogger(Callback):
    """Writes one row per epoch to a CSV file: 'epoch' and the logged values, sorted by name
    (a header first unless appending to a file that has one)."""

    def __init__(self, filename: str | os.PathLike, separator: str = ",", append: bool = False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys: list[str] | None = None
        self._file: Any = None
        self._writer: csv.DictWriter | None = None
        self._header = True

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._header = True
        if self.append and os.path.exists(self.filename):
            with open(self.filename, encoding="utf-8") as f:
                self._header = not f.readline()
        self._file = open(self.filename, "a" if self.append else "w", newline="", encoding="utf-8")
        self.keys = None
        self._writer = None

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
        if self.model.stop_training:  # 'NA' for values an early stop left out
            logs = {k: logs.get(k, "NA") for k in self.keys}
        if self._writer is None:
            dialect = type("Dialect", (csv.excel,), {"delimiter": self.sep})
            self._writer = csv.DictWriter(self._file, ["epoch", *self.keys], dialect=dialect)
            if self._header:
                self._writer.writeheader()
        self._writer.writerow({"epoch": epoch, **{k: _csv_value(logs[k]) for k in self.keys}})
        self._file.flush()

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self._file is not None:
            self._file.close()
        self._file, self._writer = None, None


def _csv_value(value: Any) -> Any:
    if isinstance(value, str) or np.ndim(value) == 0:
        return value
    return '"[{}]"'.format(", ".join(map(str, value)))


class TerminateOnNaN(Callback):
    """Stops training when a batch's loss is NaN or infinite."""

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            print_msg(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback from functions: on_epoch_begin(epoch, logs), on_epoch_end(epoch, logs),
    on_batch_begin(batch, logs), on_batch_end(batch, logs), on_train_begin(logs),
    on_train_end(logs)."""

    def __init__(
        self,
        on_epoch_begin: Callable | None = None,
        on_epoch_end: Callable | None = None,
        on_batch_begin: Callable | None = None,
        on_batch_end: Callable | None = None,
        on_train_begin: Callable | None = None,
        on_train_end: Callable | None = None,
    ) -> None:
        super().__init__()
        given = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_batch_begin": on_batch_begin,
            "on_batch_end": on_batch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
        }
        for hook, fn in given.items():
            if fn is not None:
                setattr(self, hook, fn)


class UpdateRatioLogger(Callback):
    """Records, per layer with trainable weights and per epoch, the mean over the epoch's
    steps of ||lr * grad|| / ||W|| (norms over the layer's trainable weights, W before the
    step): `logger.ratios[layer_name]` is a list with one value per epoch. Ratios far above
    1e-3 suggest a learning rate that is too high, far below one that is too low."""

    def __init__(self) -> None:
        super().__init__()
        self.ratios: dict[str, list[float]] = {}
        self.epochs: list[int] = []
        self._sums: dict[str, float] = {}
        self._steps = 0

    def train_fetches(self, head: Head) -> dict[str, Tensor]:
        return {f"update_ratio/{name}": t for name, t in head.update_ratios.items()}

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._sums = {}
        self._steps = 0

    def on_train_fetches(self, batch: int, values: Mapping[str, Any]) -> None:
        self._steps += 1
        for key, value in values.items():
            if key.startswith("update_ratio/"):
                name = key[len("update_ratio/") :]
                self._sums[name] = self._sums.get(name, 0.0) + float(value)

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if not self._steps:
            return
        self.epochs.append(epoch)
        for name, total in self._sums.items():
            self.ratios.setdefault(name, []).append(total / self._steps)


__all__ = [
    "CSVLogger", "Callback", "CallbackList", "EarlyStopping", "History", "LambdaCallback",
    "LearningRateScheduler", "ModelCheckpoint", "ProgbarLogger", "ReduceLROnPlateau",
    "TerminateOnNaN", "UpdateRatioLogger",
]  # fmt: skip
