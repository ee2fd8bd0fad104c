"""compile's configuration and the loops of fit, evaluate and predict over NumPy arrays."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from graphnet.ir import FeedError, Tensor
from graphnet.keras import losses as keras_losses, metrics as keras_metrics
from graphnet.keras.callbacks import CallbackList, History
from graphnet.keras.progbar import Progbar
from graphnet.ops.math import add_n, reduce_mean

if TYPE_CHECKING:
    from graphnet.keras.model import Model
    from graphnet.keras.runtime import Head, ModelRuntime, TargetSpec


# -- compile --------------------------------------------------------------------------------------


def _per_output(value: Any, names: Sequence[str], what: str, default: Any) -> list[Any]:
    """compile's per-output argument: one value for all, a list by position, a dict by name."""
    if value is None:
        return [default] * len(names)
    if isinstance(value, Mapping):
        unknown = set(value) - set(names)
        if unknown:
            raise ValueError(
                f"Unknown entries in {what} dictionary: {sorted(unknown)}. Only "
                f"expected the following keys: {list(names)}"
            )
        return [value.get(name, default) for name in names]
    if isinstance(value, list | tuple) and what != "metrics":
        if len(value) != len(names):
            raise ValueError(
                f"When passing a list as {what}, it should have one entry per model "
                f"output. The model has {len(names)} outputs, but you passed "
                f"{what}={value!r}"
            )
        return list(value)
    return [value] * len(names)


@dataclass
class CompileConfig:
    """What compile() was given, per model output: loss, loss weight, metrics."""

    output_names: list[str]
    losses: list[Any]
    loss_weights: list[float]
    metrics: list[list[Any]]

    @classmethod
    def create(cls, model: Model, loss: Any, metrics: Any, loss_weights: Any) -> CompileConfig:
        names = model.output_names if model._is_graph_network else ["output_1"]
        if loss is None:
            raise ValueError("compile() needs a loss")
        losses = _per_output(loss, names, "loss", None)
        for item in losses:
            if item is not None:
                keras_losses.get(item)  # fails now on an unknown name
        weights = [float(w) for w in _per_output(loss_weights, names, "loss_weights", 1.0)]
        if metrics is None:
            per_output: list[list[Any]] = [[] for _ in names]
        elif isinstance(metrics, Mapping):
            per_output = [_as_list(m) for m in _per_output(metrics, names, "metrics", [])]
        elif len(names) > 1 and metrics and all(isinstance(m, list | tuple) for m in metrics):
            per_output = [list(m) for m in metrics]
        else:
            per_output = [list(_as_list(metrics)) for _ in names]
        for m in (m for group in per_output for m in group):
            if m not in ("accuracy", "acc"):
                keras_metrics.get(m)  # fails now on an unknown name
        return cls(names, losses, weights, per_output)

    @property
    def multi(self) -> bool:
        return len(self.output_names) > 1

    def names(self) -> list[str]:
        """'loss', per-output losses (several outputs), then metrics, as fit logs them."""
        result = ["loss"]
        if self.multi:
            result += [
                f"{n}_loss"
                for n, loss in zip(self.output_names, self.losses, strict=True)
                if loss is not None
            ]
        for name, metrics in zip(self.output_names, self.metrics, strict=True):
            for m in metrics:
                metric_name = keras_metrics.name_of(m)
                result.append(f"{name}_{metric_name}" if self.multi else metric_name)
        return result

    def build(
        self,
        outputs: Sequence[Tensor],
        targets: Sequence[Tensor],
        target_specs: Sequence[TargetSpec],
    ) -> tuple[list[str], list[Tensor]]:
        """The names and tensors a head reports: the total loss first (regularization is added
        by the runtime), then the per-output losses (several outputs), then the metrics."""
        output_losses = []
        for out, target, loss, weight in zip(
            outputs, targets, self.losses, self.loss_weights, strict=True
        ):
            if loss is not None:
                per_example = keras_losses.get(loss)(target, out)
                output_losses.append((reduce_mean(per_example), weight))
        if not output_losses:
            raise ValueError("compile() was given no loss for any output")
        total = add_n([loss * w if w != 1.0 else loss for loss, w in output_losses])
        values = [total] + ([loss for loss, _ in output_losses] if self.multi else [])
        for out, target, (shape, _), metrics in zip(
            outputs, targets, target_specs, self.metrics, strict=True
        ):
            for m in metrics:
                _, fn = keras_metrics.resolve(m, shape, tuple(out.shape))
                values.append(reduce_mean(fn(target, out)))
        return self.names(), values


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


# -- data -----------------------------------------------------------------------------------------


def _arrays(data: Any, what: str, names: Sequence[str]) -> list[np.ndarray]:
    """x or y as one array per model input/output (`names`): a list of arrays, a dict keyed by
    the names, or one array. 1-D arrays become columns (batch, 1), as Keras expands them."""
    if data is None:
        raise ValueError(f"{what} must be given")
    if isinstance(data, Mapping):
        if set(data) != set(names):
            raise ValueError(
                f"{what} dictionary keys {sorted(data)} do not match the model's {list(names)}"
            )
        data = [data[n] for n in names]
    several = isinstance(data, list | tuple) and (
        len(names) > 1 or (len(data) == 1 and isinstance(data[0], np.ndarray))
    )
    arrays = [np.asarray(a) for a in (data if several else [data])]
    if len(arrays) != len(names):
        raise ValueError(
            f"expected {len(names)} {what} array(s) (for {list(names)}), got {len(arrays)}"
        )
    for a in arrays:
        if a.dtype.kind not in "biuf":
            raise FeedError(f"{what}: cannot feed an array of dtype {a.dtype}")
        if a.ndim == 0:
            raise FeedError(f"{what}: expected arrays with a batch axis, got a scalar")
    return [a.reshape(-1, 1) if a.ndim == 1 else a for a in arrays]


def _inputs(model: Model, x: Any) -> list[np.ndarray]:
    names = [spec[2] for spec in model._input_specs] if model._input_specs else ["input_1"]
    xs = _arrays(x, "x", names)
    _ensure_built(model, xs)
    return xs


def _targets(model: Model, y: Any) -> list[np.ndarray]:
    names = model.output_names if model._is_graph_network else ["output_1"]
    return _arrays(y, "y", names)


def _ensure_built(model: Model, xs: Sequence[np.ndarray]) -> None:
    """Builds a model whose input shape was unknown from the first data it sees."""
    if model._input_specs is None:
        model._build_from_data(xs)


def _cardinality(xs: Sequence[np.ndarray], ys: Sequence[np.ndarray] = ()) -> int:
    sizes = {len(a) for a in [*xs, *ys]}
    if len(sizes) != 1:
        raise ValueError(
            "Data cardinality is ambiguous:\n"
            f"  x sizes: {', '.join(str(len(a)) for a in xs)}\n"
            f"  y sizes: {', '.join(str(len(a)) for a in ys)}\n"
            "Make sure all arrays contain the same number of samples."
        )
    return sizes.pop()


def _target_specs(ys: Sequence[np.ndarray]) -> list[TargetSpec]:
    return [((None, *a.shape[1:]), a.dtype.name) for a in ys]


def _require_compiled(model: Model) -> Any:
    if model._compile_config is None:
        raise RuntimeError(
            "You must compile your model before training/testing. Use "
            "`model.compile(optimizer, loss)`."
        )
    return model._compile_config


def _verbosity(verbose: int | str) -> int:
    return 1 if verbose == "auto" else int(verbose)


class _Means:
    """Running means of a head's values over the examples seen (Keras' Mean metrics)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        self.totals = np.zeros(len(names))
        self.count = 0

    def add(self, values: Sequence[float], count: int) -> None:
        self.totals += np.asarray(values) * count
        self.count += count

    def logs(self) -> dict[str, float]:
        means = self.totals / max(self.count, 1)
        return {name: float(v) for name, v in zip(self.names, means, strict=True)}


def _batches(n: int, batch_size: int, order: np.ndarray | None = None) -> list[np.ndarray]:
    index = np.arange(n) if order is None else order
    return [index[i : i + batch_size] for i in range(0, n, batch_size)]


# -- fit ------------------------------------------------------------------------------------------


def fit(
    model: Model,
    x: Any,
    y: Any,
    batch_size: int | None,
    epochs: int,
    verbose: int | str,
    callbacks: Any,
    validation_split: float,
    validation_data: Any,
    shuffle: bool,
    initial_epoch: int,
    validation_batch_size: int | None,
    validation_freq: int,
) -> History:
    """Model.fit: `epochs` passes over (x, y) in shuffled batches, one optimizer step each."""
    config = _require_compiled(model)
    xs, ys = _inputs(model, x), _targets(model, y)
    n = _cardinality(xs, ys)
    val: tuple[list[np.ndarray], list[np.ndarray]] | None = None
    if validation_data is not None:
        val = _validation_arrays(model, validation_data)
    elif validation_split:
        if not 0 < validation_split < 1:
            raise ValueError(f"validation_split must be in (0, 1), got {validation_split}")
        split_at = math.floor(n * (1.0 - validation_split))
        val = ([a[split_at:] for a in xs], [a[split_at:] for a in ys])
        xs, ys, n = [a[:split_at] for a in xs], [a[:split_at] for a in ys], split_at
    batch_size = batch_size or 32
    runtime = model._get_runtime()
    head = runtime.head(config, _target_specs(ys))
    verbose = _verbosity(verbose)
    steps = math.ceil(n / batch_size)
    cbs = CallbackList(
        callbacks,
        model,
        add_history=True,
        add_progbar=verbose != 0,
        verbose=verbose,
        epochs=epochs,
        steps=steps,
    )
    extra = cbs.train_fetches(head)
    model.stop_training = False
    cbs.call("on_train_begin", None)
    for epoch in range(initial_epoch, epochs):
        cbs.call("on_epoch_begin", epoch, {})
        runtime.ensure_home()
        means = _Means(head.names)
        order = np.random.permutation(n) if shuffle else None
        for step, index in enumerate(_batches(n, batch_size, order)):
            cbs.call("on_train_batch_begin", step, {})
            values, fetched = runtime.run_head(
                head, [a[index] for a in xs], [a[index] for a in ys], True, list(extra.values())
            )
            means.add(values, len(index))
            if extra:
                cbs.call("on_train_fetches", step, dict(zip(extra, fetched, strict=True)))
            cbs.call("on_train_batch_end", step, means.logs())
            if model.stop_training:
                break
        logs = means.logs()
        if val is not None and (epoch + 1) % validation_freq == 0:
            val_batch = validation_batch_size or batch_size
            val_logs = _evaluate_arrays(runtime, config, *val, val_batch, cbs=cbs)
            logs.update({f"val_{k}": v for k, v in val_logs.items()})
        cbs.call("on_epoch_end", epoch, logs)
        if model.stop_training:
            break
    cbs.call("on_train_end", None)
    assert model.history is not None
    return model.history


def _validation_arrays(model: Model, data: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
    if not isinstance(data, tuple | list) or len(data) not in (2, 3):
        raise ValueError("validation_data must be a tuple (x_val, y_val)")
    if len(data) == 3 and data[2] is not None:
        raise ValueError("validation_data with sample weights is not supported")
    xs, ys = _inputs(model, data[0]), _targets(model, data[1])
    _cardinality(xs, ys)
    return xs, ys


def _evaluate_arrays(
    runtime: ModelRuntime,
    config: CompileConfig,
    xs: list[np.ndarray],
    ys: list[np.ndarray],
    batch_size: int,
    bar: Progbar | None = None,
    cbs: CallbackList | None = None,
) -> dict[str, float]:
    """The mean loss and metrics over (xs, ys) in inference mode, with the test hooks."""
    head: Head = runtime.head(config, _target_specs(ys))
    means = _Means(head.names)
    batches = _batches(_cardinality(xs, ys), batch_size)
    if cbs is not None:
        cbs.call("on_test_begin", None)
    for step, index in enumerate(batches):
        if cbs is not None:
            cbs.call("on_test_batch_begin", step, {})
        values, _ = runtime.run_head(head, [a[index] for a in xs], [a[index] for a in ys], False)
        means.add(values, len(index))
        if cbs is not None:
            cbs.call("on_test_batch_end", step, means.logs())
        if bar is not None:
            bar.update(step + 1, means.logs().items(), finalize=step + 1 == len(batches))
    logs = means.logs()
    if cbs is not None:
        cbs.call("on_test_end", logs)
    return logs


# -- evaluate, predict ----------------------------------------------------------------------------


def _results(logs: dict[str, float], return_dict: bool) -> Any:
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def evaluate(
    model: Model,
    x: Any,
    y: Any,
    batch_size: int | None,
    verbose: int | str,
    callbacks: Any,
    return_dict: bool,
) -> Any:
    """Model.evaluate: the loss (and metrics) over (x, y), in inference mode."""
    config = _require_compiled(model)
    xs, ys = _inputs(model, x), _targets(model, y)
    n = _cardinality(xs, ys)
    batch_size = batch_size or 32
    runtime = model._get_runtime()
    verbose = _verbosity(verbose)
    steps = math.ceil(n / batch_size)
    cbs = CallbackList(callbacks, model, verbose=verbose, steps=steps)
    bar = Progbar(steps, verbose=verbose) if verbose else None
    logs = _evaluate_arrays(runtime, config, xs, ys, batch_size, bar, cbs)
    return _results(logs, return_dict)


def _single_or_list(model: Model, values: list[np.ndarray]) -> Any:
    return values[0] if len(values) == 1 else values


def predict(
    model: Model, x: Any, batch_size: int | None, verbose: int | str, callbacks: Any
) -> Any:
    """Model.predict: the outputs for x, batch by batch, concatenated."""
    xs = _inputs(model, x)
    n = _cardinality(xs)
    runtime = model._get_runtime()
    batches = _batches(n, batch_size or 32)
    verbose = _verbosity(verbose)
    bar = Progbar(len(batches), verbose=verbose) if verbose else None
    cbs = CallbackList(callbacks, model, verbose=verbose, steps=len(batches))
    cbs.call("on_predict_begin", None)
    parts: list[list[np.ndarray]] = []
    for step, index in enumerate(batches):
        cbs.call("on_predict_batch_begin", step, {})
        parts.append(runtime.predict([a[index] for a in xs]))
        cbs.call("on_predict_batch_end", step, {})
        if bar is not None:
            bar.update(step + 1, finalize=step + 1 == len(batches))
    cbs.call("on_predict_end", None)
    if not parts:
        return _single_or_list(model, [np.zeros((0, *t.shape[1:])) for t in runtime.outputs])
    outputs = [np.concatenate(list(chunks), axis=0) for chunks in zip(*parts, strict=True)]
    return _single_or_list(model, outputs)


def run_on_arrays(model: Model, x: Any, training: bool) -> Any:
    """The outputs for one batch x (model(x), predict_on_batch)."""
    xs = _inputs(model, x)
    _cardinality(xs)
    return _single_or_list(model, model._get_runtime().predict(xs, training))


def on_batch(model: Model, x: Any, y: Any, train: bool, return_dict: bool) -> Any:
    """train_on_batch / test_on_batch: one batch's loss and metrics (one step if `train`)."""
    config = _require_compiled(model)
    xs, ys = _inputs(model, x), _targets(model, y)
    _cardinality(xs, ys)
    runtime = model._get_runtime()
    head = runtime.head(config, _target_specs(ys))
    values, _ = runtime.run_head(head, xs, ys, train)
    return _results(dict(zip(head.names, values, strict=True)), return_dict)


__all__ = ["CompileConfig", "evaluate", "fit", "predict"]
