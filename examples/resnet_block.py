"""ResNet's residual block, as a gn.keras functional model, on 8x8 digits.

A residual block computes conv 3x3 -> batch norm -> ReLU -> conv 3x3 -> batch norm, adds its
input (the shortcut) and applies a ReLU: the convolutions learn a correction to the identity.
When the block changes the shape (stride 2, more channels), the shortcut is a strided 1x1
convolution with batch norm (ResNet's projection shortcut).

The network: a 3x3 stem, a block with the identity shortcut, a block with the projection
shortcut (16 -> 32 channels, 8x8 -> 4x4), global average pooling and a softmax, trained with
Adam on scikit-learn's digits (a stratified quarter held out for testing). Batch norm's
momentum is 0.9 rather than Keras' 0.99 so that its moving statistics settle within the few
hundred steps of this run.

    python examples/resnet_block.py [--epochs N] [--quick]
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import graphnet as gn

K = gn.keras
L = gn.keras.layers

BN_MOMENTUM = 0.9
QUICK = {"epochs": 2}


def conv_bn(x: Any, filters: int, kernel: int, strides: int = 1) -> Any:
    """Conv2D (no bias: batch norm's beta is the bias) -> BatchNormalization."""
    x = L.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
    return L.BatchNormalization(momentum=BN_MOMENTUM)(x)


def residual_block(x: Any, filters: int, strides: int = 1) -> Any:
    """relu(conv-BN-relu-conv-BN(x) + shortcut(x))."""
    h = L.Activation("relu")(conv_bn(x, filters, 3, strides))
    h = conv_bn(h, filters, 3)
    shortcut = x if strides == 1 and x.shape[-1] == filters else conv_bn(x, filters, 1, strides)
    return L.Activation("relu")(L.Add()([h, shortcut]))


def build_model() -> gn.keras.Model:
    inputs = K.Input(shape=(8, 8, 1))
    h = L.Activation("relu")(conv_bn(inputs, 16, 3))
    h = residual_block(h, 16)
    h = residual_block(h, 32, strides=2)
    h = L.GlobalAveragePooling2D()(h)
    outputs = L.Dense(10, activation="softmax")(h)
    return K.Model(inputs, outputs, name="resnet_block")


def main(
    epochs: int = 10,
    batch_size: int = 64,
    learning_rate: float = 0.01,
    train_size: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Trains on the digits (the first `train_size` training images, all by default) and
    returns the History's values and the test loss and accuracy."""
    images, labels = gn.data.load_digits()
    x_train, x_test, y_train, y_test = gn.data.train_test_split(
        images[..., None] / np.float32(16), labels, test_size=0.25, random_state=seed,
        stratify=labels,
    )  # fmt: skip
    x_train, y_train = x_train[:train_size], y_train[:train_size]
    K.utils.set_random_seed(seed)
    model = build_model()
    model.summary()
    model.compile(
        K.optimizers.Adam(learning_rate), "sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=2)
    test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"test loss {test_loss:.4f}, test accuracy {test_accuracy:.3f}")
    return {
        "history": history.history,
        "test_loss": float(test_loss),
        "test_accuracy": float(test_accuracy),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help=f"a short run: {QUICK}")
    args = parser.parse_args()
    main(**{"epochs": args.epochs, **(QUICK if args.quick else {})})
