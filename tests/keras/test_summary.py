"""model.summary(): Keras 2's table, character for character."""

import pytest

import graphnet.keras as K
from graphnet.keras import layers as L

MNIST_CNN = """\
Model: "sequential"
_________________________________________________________________
Layer (type)                 Output Shape              Param #   
=================================================================
conv2d (Conv2D)              (None, 26, 26, 32)        320       
_________________________________________________________________
max_pooling2d (MaxPooling2D) (None, 13, 13, 32)        0         
_________________________________________________________________
conv2d_1 (Conv2D)            (None, 11, 11, 64)        18496     
_________________________________________________________________
max_pooling2d_1 (MaxPooling2 (None, 5, 5, 64)          0         
_________________________________________________________________
flatten (Flatten)            (None, 1600)              0         
_________________________________________________________________
dropout (Dropout)            (None, 1600)              0         
_________________________________________________________________
dense (Dense)                (None, 10)                16010     
=================================================================
Total params: 34,826
Trainable params: 34,826
Non-trainable params: 0
_________________________________________________________________
"""  # noqa: W291 - Keras pads every row to the line length


def test_summary_of_the_keras_mnist_convnet(capsys):
    """The example of keras.io's 'Simple MNIST convnet', as Keras prints it."""
    model = K.Sequential(
        [
            K.Input(shape=(28, 28, 1)),
            L.Conv2D(32, kernel_size=(3, 3), activation="relu"),
            L.MaxPooling2D(pool_size=(2, 2)),
            L.Conv2D(64, kernel_size=(3, 3), activation="relu"),
            L.MaxPooling2D(pool_size=(2, 2)),
            L.Flatten(),
            L.Dropout(0.5),
            L.Dense(10, activation="softmax"),
        ]
    )
    model.summary()
    assert capsys.readouterr().out == MNIST_CNN
    assert model.count_params() == 34826


def test_summary_counts_batch_norm_statistics_as_non_trainable():
    model = K.Sequential(
        [L.Conv2D(8, 3, input_shape=(8, 8, 3)), L.BatchNormalization(), L.Dense(4)]
    )
    lines = []
    model.summary(print_fn=lines.append)
    assert lines[4].startswith("conv2d (Conv2D)              (None, 6, 6, 8)           224")
    assert lines[6].startswith("batch_normalization (BatchNo (None, 6, 6, 8)           32")
    assert lines[-4:-1] == [
        "Total params: 292",
        "Trainable params: 276",
        "Non-trainable params: 16",
    ]
    assert all(len(line) == 65 for line in lines[1:-4])


def test_functional_summary_shows_connections():
    inp = K.Input(shape=(4,))
    a = L.Dense(3, name="a")(inp)
    b = L.Dense(3, name="b")(inp)
    out = L.Add(name="sum")([a, b])
    lines = []
    K.Model(inp, out, name="branches").summary(print_fn=lines.append)
    assert lines[0] == 'Model: "branches"'
    assert lines[2].rstrip() == (
        "Layer (type)                    Output Shape         Param #     Connected to"
    )
    assert lines[4].rstrip() == "input_1 (InputLayer)            [(None, 4)]          0"
    assert lines[6].rstrip() == (
        "a (Dense)                       (None, 3)            15          input_1[0][0]"
    )
    assert lines[10].rstrip() == (
        "sum (Add)                       (None, 3)            0           a[0][0]"
    )
    assert lines[11].rstrip() == " " * 65 + "b[0][0]"
    assert lines[-4] == "Total params: 30"


def test_summary_of_nested_models_and_thousands_separators():
    base = K.Sequential([L.Dense(1000, input_shape=(100,)), L.Dense(10)], name="base")
    model = K.Sequential([base, L.Dense(1)])
    lines = []
    model.summary(print_fn=lines.append)
    assert lines[4].rstrip() == "base (Sequential)            (None, 10)                111010"
    assert lines[-4] == "Total params: 111,021"


def test_summary_needs_a_built_model():
    with pytest.raises(ValueError, match="not yet been built"):
        K.Sequential([L.Dense(2)]).summary()
