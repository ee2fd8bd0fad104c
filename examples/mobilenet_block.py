"""MobileNetV2's inverted residual block, as a gn.keras functional model, on 8x8 digits.

An inverted residual block widens its input with a 1x1 convolution (by the expansion factor),
filters each channel with a 3x3 depthwise convolution, and projects back with a linear 1x1
convolution (no activation: a ReLU on the narrow output would destroy information); each
convolution is followed by batch norm, the first two by ReLU6. When the block keeps the shape
(stride 1, as many channels out as in), its input is added to its output.

The network: a 3x3 stem, a block with the skip, a strided block without it (16 -> 24 channels,
8x8 -> 4x4), global average pooling and a softmax, trained with Adam on scikit-learn's digits
(a stratified quarter held out for testing). Batch norm's momentum is 0.9 rather than Keras'
0.99 so that its moving statistics settle within the few hundred steps of this run.

    python examples/mobilenet_block.py [--epochs N] [--quick]
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


def conv_bn(
    x: Any, filters: int, kernel: int, strides: int = 1, activation: str | None = None
) -> Any:
    """Conv2D (no bias: batch norm's beta is the bias) -> BatchNormalization -> activation."""
    x = L.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False)(x)
    x = L.BatchNormalization(momentum=BN_MOMENTUM)(x)
    return L.Activation(activation)(x) if activation else x


def inverted_residual(x: Any, filters: int, expansion: int = 6, strides: int = 1) -> Any:
    """1x1 expand -> 3x3 depthwise -> linear 1x1 projection, plus the input when shapes allow."""
    channels = x.shape[-1]
    h = conv_bn(x, channels * expansion, 1, activation="relu6")
    h = L.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False)(h)
    h = L.BatchNormalization(momentum=BN_MOMENTUM)(h)
    h = L.Activation("relu6")(h)
    h = conv_bn(h, filters, 1)
    return L.Add()([x, h]) if strides == 1 and channels == filters else h


def build_model() -> gn.keras.Model:
    inputs = K.Input(shape=(8, 8, 1))
    h = conv_bn(inputs, 16, 3, activation="relu6")
    h = inverted_residual(h, 16)
    h = inverted_residual(h, 24, strides=2)
    h = L.GlobalAveragePooling2D()(h)
    outputs = L.Dense(10, activation="softmax")(h)
    return K.Model(inputs, outputs, name="mobilenet_block")


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
