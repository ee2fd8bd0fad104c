"""compile / fit / evaluate / predict: learning, Keras' progress output, History, validation,
training-mode layers, weights saving, functional and shared models."""

import re

import numpy as np
import pytest

import graphnet as gn
import graphnet.keras as K
from graphnet.keras import layers as L
from graphnet.train import optimizers as tf1_optimizers


def _blobs(n=64, seed=0):
    """Two separable classes in 4-D: x and 0/1 labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 4)) + (y[:, None] * 2.0 - 1.0)
    return x.astype("float32"), y


def _classifier(units=2, activation="softmax"):
    return K.Sequential(
        [L.Dense(8, activation="relu", input_shape=(4,)), L.Dense(units, activation=activation)]
    )


EPOCH_LINE = (
    r"(?P<steps>\d+)/(?P=steps) \[={30}\] - \d+s \d+(?:s|ms|us)/step - loss: \d+\.\d{4}"
    r" - accuracy: [01]\.\d{4}"
)


def test_fit_learns_and_prints_keras_progress_lines(capsys):
    x, y = _blobs()
    model = _classifier()
    model.compile(
        optimizer=K.optimizers.Adam(0.05),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(x, y, batch_size=16, epochs=3)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0::2] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    for line in lines[1::2]:
        assert re.fullmatch(EPOCH_LINE, line), line
        assert line.startswith("4/4 [")
    assert history is model.history
    assert history.epoch == [0, 1, 2]
    assert list(history.history) == ["loss", "accuracy"]
    losses = history.history["loss"]
    assert losses[-1] < losses[0] and history.history["accuracy"][-1] > 0.9
    assert all(isinstance(v, float) for v in losses)
    assert f"loss: {losses[-1]:.4f}" in lines[-1]


def test_verbose_2_prints_one_line_per_epoch_and_0_nothing(capsys):
    x, y = _blobs(20)
    model = _classifier()
    model.compile("sgd", "sparse_categorical_crossentropy", metrics=["acc"])
    model.fit(x, y, epochs=2, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2"
    assert re.fullmatch(r"1/1 - \d+s - loss: \d\.\d{4} - acc: [01]\.\d{4}", lines[1])
    model.fit(x, y, epochs=2, verbose=0)
    model.evaluate(x, y, verbose=0)
    assert capsys.readouterr().out == ""


def test_a_single_epoch_prints_no_epoch_header(capsys):
    x, y = _blobs(10)
    model = _classifier()
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=4)
    out = capsys.readouterr().out
    assert re.fullmatch(r"3/3 \[={30}\] - \d+s \d+(s|ms|us)/step - loss: \d\.\d{4}\n", out)


def test_validation_split_holds_out_the_last_examples(capsys):
    x, y = _blobs(50)
    model = _classifier()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=2, batch_size=8, validation_split=0.2)
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("5/5 [")  # 40 training examples in batches of 8
    assert re.search(r" - val_loss: \d\.\d{4} - val_accuracy: [01]\.\d{4}$", out[1])
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    val_loss, val_acc = model.evaluate(x[40:], y[40:], verbose=0)
    np.testing.assert_allclose(history.history["val_loss"][-1], val_loss, rtol=1e-6)
    np.testing.assert_allclose(history.history["val_accuracy"][-1], val_acc)


def test_validation_data_and_evaluate_outputs(capsys):
    x, y = _blobs(40)
    onehot = K.utils.to_categorical(y, 2)
    model = _classifier()
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy", "mse"])
    history = model.fit(x, onehot, epochs=1, validation_data=(x[:10], onehot[:10]), verbose=0)
    assert sorted(history.history) == [
        "accuracy",
        "loss",
        "mse",
        "val_accuracy",
        "val_loss",
        "val_mse",
    ]
    loss, acc, mse = model.evaluate(x, onehot, batch_size=7)
    line = capsys.readouterr().out
    assert re.fullmatch(
        r"6/6 \[={30}\] - \d+s \d+(s|ms|us)/step - loss: \d\.\d{4} - "
        r"accuracy: [01]\.\d{4} - mse: \d\.\d{4}(e-\d\d)?\n",
        line,
    )
    probs = model.predict(x)
    assert probs.shape == (40, 2)
    np.testing.assert_allclose(acc, np.mean(probs.argmax(1) == y))
    np.testing.assert_allclose(mse, np.mean((probs - onehot) ** 2), rtol=1e-5)
    ce = -np.mean(np.log(probs[np.arange(40), y]))
    np.testing.assert_allclose(loss, ce, rtol=1e-5)
    assert model.evaluate(x, onehot, verbose=0, return_dict=True)["accuracy"] == pytest.approx(acc)
    assert model.metrics_names == ["loss", "accuracy", "mse"]


def test_predict_in_batches_equals_one_batch():
    x, _ = _blobs(45)
    model = _classifier()
    np.testing.assert_allclose(model.predict(x, batch_size=8), model.predict_on_batch(x), rtol=1e-6)
    np.testing.assert_allclose(model(x), model.predict(x), rtol=1e-6)


def test_sgd_takes_a_plain_gradient_step(float64):
    """One step of 'sgd' (lr 0.01) on mse of a linear model: w -= lr * 2/n X^T (Xw + b - y)."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 1))
    model = K.Sequential([L.Dense(1, input_shape=(3,))])
    model.compile("sgd", "mse")
    w, b = model.get_weights()
    residual = x @ w + b - y
    model.train_on_batch(x, y)
    new_w, new_b = model.get_weights()
    np.testing.assert_allclose(new_w, w - 0.01 * 2 / 6 * x.T @ residual, rtol=1e-10)
    np.testing.assert_allclose(new_b, b - 0.01 * 2 / 6 * residual.sum(0), rtol=1e-10)
    assert K.backend.get_value(model.optimizer.learning_rate) == pytest.approx(0.01)


def test_optimizer_names_and_objects():
    x, y = _blobs(16)
    for optimizer in [
        "sgd",
        "momentum",
        "adam",
        "rmsprop",
        "adagrad",
        "adadelta",
        "adamw",
        K.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
        K.optimizers.RMSprop(centered=True, clipnorm=1.0),
        tf1_optimizers.AdamOptimizer(0.01),
    ]:
        model = _classifier()
        model.compile(optimizer, "sparse_categorical_crossentropy")
        before = model.get_weights()[0]
        model.fit(x, y, epochs=1, verbose=0)
        assert not np.allclose(model.get_weights()[0], before), optimizer
    with pytest.raises(ValueError, match="Could not interpret optimizer"):
        _classifier().compile("nadamax", "mse")


def test_learning_rate_is_a_variable_of_the_model():
    x, y = _blobs(16)
    model = _classifier()
    model.compile(K.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
    K.backend.set_value(model.optimizer.lr, 0.0)
    before = model.get_weights()
    model.fit(x, y, epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    K.backend.set_value(model.optimizer.learning_rate, 0.25)
    assert K.backend.get_value(model.optimizer.learning_rate) == 0.25


def test_batch_norm_uses_batch_statistics_in_fit_and_moving_ones_in_predict(float64):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 2, 2, 3)) * 2 + 1
    bn = L.BatchNormalization(momentum=0.9)
    model = K.Sequential([bn])
    model.build((None, 2, 2, 3))
    model.compile(K.optimizers.SGD(0.0), "mse")
    loss = model.train_on_batch(x, np.zeros_like(x))
    mean, var = x.mean((0, 1, 2)), x.var((0, 1, 2))
    normalized = (x - mean) / np.sqrt(var + 1e-3)
    np.testing.assert_allclose(loss, np.mean(normalized**2), rtol=1e-10)
    _, _, moving_mean, moving_var = bn.get_weights()
    np.testing.assert_allclose(moving_mean, 0.1 * mean, rtol=1e-10)
    np.testing.assert_allclose(moving_var, 0.9 + 0.1 * x.var((0, 1, 2), ddof=1), rtol=1e-10)
    np.testing.assert_allclose(model.predict(x), (x - moving_mean) / np.sqrt(moving_var + 1e-3))
    np.testing.assert_allclose(model(x, training=True), normalized, rtol=1e-10)
    np.testing.assert_allclose(bn.get_weights()[2], 0.19 * mean, rtol=1e-10)  # moved again
    bn.trainable = False  # a frozen BN runs in inference mode, even in training (after compile)
    model.compile(K.optimizers.SGD(0.0), "mse")
    np.testing.assert_allclose(model(x, training=True), model.predict(x))


def test_batch_norm_of_2d_inputs_moves_toward_the_population_variance(float64):
    x = np.random.default_rng(1).normal(size=(5, 3))
    model = K.Sequential([L.BatchNormalization(momentum=0.0, input_shape=(3,))])
    model.compile(K.optimizers.SGD(0.0), "mse")
    model.train_on_batch(x, x)
    np.testing.assert_allclose(model.get_weights()[3], x.var(0), rtol=1e-10)


def test_dropout_drops_in_training_only():
    model = K.Sequential([L.Dropout(0.5, input_shape=(2000,))])
    ones = np.ones((2, 2000), dtype="float32")
    dropped = model(ones, training=True)
    assert set(np.unique(dropped)) == {0.0, 2.0}
    assert 0.45 < np.mean(dropped == 0) < 0.55
    np.testing.assert_array_equal(model.predict(ones), ones)


def test_frozen_layers_keep_their_weights():
    x, y = _blobs(16)
    model = _classifier()
    model.layers[0].trainable = False
    model.compile("adam", "sparse_categorical_crossentropy")
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 2
    frozen, head = model.layers[0].get_weights(), model.layers[1].get_weights()
    model.fit(x, y, epochs=2, verbose=0)
    for a, b in zip(frozen, model.layers[0].get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(head[0], model.layers[1].get_weights()[0])
    lines = []
    model.summary(print_fn=lines.append)
    assert lines[-3:-1] == ["Trainable params: 18", "Non-trainable params: 40"]


def test_model_built_from_the_first_data():
    x, y = _blobs(12)
    model = K.Sequential([L.Dense(3, activation="relu"), L.Dense(1, activation="sigmoid")])
    assert not model.built
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=1, verbose=0)
    assert model.input_shape == (None, 4) and model.count_params() == 15 + 4
    assert 0 <= history.history["accuracy"][0] <= 1


def test_save_and_load_weights_round_trip(tmp_path):
    x, y = _blobs(16)
    model = _classifier()
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, verbose=0)
    path = str(tmp_path / "weights.ckpt")
    model.save_weights(path)
    clone = _classifier()  # the same architecture under other names (dense_2, dense_3)
    assert [layer.name for layer in clone.layers] == ["dense_2", "dense_3"]
    clone.load_weights(path)
    np.testing.assert_array_equal(clone.predict(x), model.predict(x))
    other = K.Sequential([L.Dense(5, input_shape=(4,)), L.Dense(2)])
    before = other.get_weights()
    with pytest.raises(gn.train.CheckpointError, match="does not fit"):
        other.load_weights(path)
    for a, b in zip(before, other.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def _residual_block(x, filters):
    shortcut = x
    x = L.Conv2D(filters, 3, padding="same", activation="relu")(x)
    x = L.Conv2D(filters, 3, padding="same")(x)
    return L.Activation("relu")(L.Add()([x, shortcut]))


def test_functional_residual_block_with_concatenate(float64):
    inp = K.Input(shape=(4, 4, 2))
    x = _residual_block(inp, 2)
    x = L.Concatenate()([x, inp])
    out = L.Dense(1)(L.GlobalAveragePooling2D()(x))
    model = K.Model(inp, out)
    assert model.output_shape == (None, 1)
    assert [type(layer).__name__ for layer in model.layers] == [
        "InputLayer",
        "Conv2D",
        "Conv2D",
        "Add",
        "Activation",
        "Concatenate",
        "GlobalAveragePooling2D",
        "Dense",
    ]
    rng = np.random.default_rng(0)
    x_data = rng.normal(size=(16, 4, 4, 2))
    target = x_data.mean(axis=(1, 2, 3))[:, None] * 3
    model.compile(K.optimizers.Adam(0.02), "mse")
    history = model.fit(x_data, target, epochs=15, batch_size=4, verbose=0)
    assert history.history["loss"][-1] < 0.3 * history.history["loss"][0]


def test_layers_shared_by_two_models_keep_one_value():
    x, y = _blobs(32)
    inp = K.Input(shape=(4,))
    hidden = L.Dense(6, activation="relu")
    features = K.Model(inp, hidden(inp))
    classifier = K.Model(inp, L.Dense(2, activation="softmax")(hidden(inp)))
    classifier.compile("adam", "sparse_categorical_crossentropy")
    before = features.predict(x)
    classifier.fit(x, y, epochs=2, verbose=0)
    after = features.predict(x)
    assert not np.allclose(before, after)
    np.testing.assert_allclose(
        after, np.maximum(x @ hidden.get_weights()[0] + hidden.get_weights()[1], 0), rtol=1e-5
    )


def test_multi_input_multi_output_model():
    a, b = K.Input(shape=(4,), name="a"), K.Input(shape=(2,), name="b")
    joined = L.Concatenate()([L.Dense(3)(a), b])
    out1 = L.Dense(1, name="regression")(joined)
    out2 = L.Dense(2, activation="softmax", name="label")(joined)
    model = K.Model([a, b], [out1, out2])
    model.compile(
        "adam",
        loss=["mse", "sparse_categorical_crossentropy"],
        metrics={"label": ["accuracy"]},
        loss_weights=[1.0, 0.5],
    )
    x, y = _blobs(20)
    history = model.fit({"a": x, "b": x[:, :2]}, [x[:, :1], y], epochs=1, verbose=0)
    assert list(history.history) == ["loss", "regression_loss", "label_loss", "label_accuracy"]
    h = history.history
    total, reg, lab, _ = model.evaluate([x, x[:, :2]], [x[:, :1], y], verbose=0)
    np.testing.assert_allclose(total, reg + 0.5 * lab, rtol=1e-5)
    assert h["loss"][0] > 0
    predictions = model.predict([x, x[:, :2]])
    assert [p.shape for p in predictions] == [(20, 1), (20, 2)]


def test_subclassed_model():
    class TwoLayer(K.Model):
        def __init__(self):
            super().__init__()
            self.hidden = L.Dense(5, activation="tanh")
            self.out = L.Dense(2)

        def call(self, inputs, training=None):
            return self.out(self.hidden(inputs))

    x, y = _blobs(16)
    model = TwoLayer()
    model.compile(
        "adam", K.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    model.fit(x, y, epochs=1, verbose=0)
    assert model.name == "two_layer"
    assert [layer.name for layer in model.layers] == ["dense", "dense_1"]
    assert model.count_params() == 4 * 5 + 5 + 5 * 2 + 2
    assert model.predict(x).shape == (16, 2)


def test_errors_name_the_problem():
    x, y = _blobs(8)
    model = _classifier()
    with pytest.raises(RuntimeError, match="must compile"):
        model.fit(x, y)
    model.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="cardinality"):
        model.fit(x, y[:5], verbose=0)
    with pytest.raises(gn.FeedError, match=r"dense_input"):
        model.predict(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="Unknown loss"):
        model.compile("sgd", "nope")
    with pytest.raises(gn.ShapeError, match=r"layer 'reshape' \(Reshape\): total size"):
        K.Sequential([L.Dense(2, input_shape=(3,))]).add(L.Reshape((3,)))
    built_for_4 = model.layers[0]
    with pytest.raises(gn.ShapeError, match=r"layer 'dense' \(Dense\)"):
        K.Sequential([L.Dense(2, input_shape=(3,)), built_for_4])


def test_progress_bar_redraws_in_place_on_a_terminal(capsys):
    from graphnet.keras.progbar import Progbar

    bar = Progbar(3, dynamic=True)
    bar.update(1, [("loss", 0.5)])
    bar.update(3, [("loss", 0.25), ("lr", 1e-4)], finalize=True)
    first, final = capsys.readouterr().out.split("\r")[1:]
    assert re.fullmatch(r"1/3 \[=========>\.{20}\] - ETA: \d+s - loss: 0\.5000", first)
    assert re.fullmatch(
        r"3/3 \[={30}\] - \d+s \d+(s|ms|us)/step - loss: 0\.2500 - lr: 1\.0000e-04 *\n", final
    )
