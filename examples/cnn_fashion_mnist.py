"""The classic Keras CNN for 28x28 grey images, with gn.keras, on Fashion-MNIST.

    Conv2D(8, 5x5, same, relu) -> MaxPooling2D -> Conv2D(16, 5x5, same, relu) -> MaxPooling2D
    -> Flatten -> Dense(100, relu) -> Dropout(0.25) -> Dense(10, softmax)

trained with Adam on sparse categorical cross-entropy in batches of 128, then evaluated on the
test set. The data: Fashion-MNIST as Debian's dataset-fashion-mnist package installs it
(/usr/share/datasets/fashion-mnist, or --data-dir), a random subset of --train-size training
and --test-size test images for speed. When it is not there, scikit-learn's 8x8 digits stand in,
brought to the model's input rather than the model to theirs: each digit is upsampled 3x by
repeating pixels (24x24) and padded with 2 zero pixels on every side (28x28), as MNIST centres
its digits in a 28x28 frame; a stratified quarter of them is the test set.

    python examples/cnn_fashion_mnist.py [--epochs N] [--train-size N] [--data-dir D] [--quick]
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import graphnet as gn

K = gn.keras
L = gn.keras.layers

QUICK = {"epochs": 1, "train_size": 1024, "test_size": 512}

Arrays = tuple[np.ndarray, np.ndarray]


def build_model() -> gn.keras.Sequential:
    """The classic CNN: two conv/pool stages, a dense layer with dropout, a softmax."""
    return K.Sequential(
        [
            L.Conv2D(8, 5, padding="same", activation="relu", input_shape=(28, 28, 1)),
            L.MaxPooling2D(),
            L.Conv2D(16, 5, padding="same", activation="relu"),
            L.MaxPooling2D(),
            L.Flatten(),
            L.Dense(100, activation="relu"),
            L.Dropout(0.25),
            L.Dense(10, activation="softmax"),
        ]
    )


def _subset(images: np.ndarray, labels: np.ndarray, size: int, rng: np.random.Generator) -> Arrays:
    pick = rng.permutation(len(images))[:size]
    return images[pick], labels[pick]


def load(
    data_dir: str | None, train_size: int, test_size: int, seed: int
) -> tuple[str, Arrays, Arrays]:
    """(name, train, test): images float32 [n, 28, 28, 1] in [0, 1], labels int64."""
    rng = np.random.default_rng(seed)
    try:
        train = gn.data.load_fashion_mnist(data_dir, "train")
        test = gn.data.load_fashion_mnist(data_dir, "test")
    except gn.data.DataNotFoundError as err:
        print(f"{err}\nusing scikit-learn's digits instead, upsampled and padded to 28x28")
        digits, labels = gn.data.load_digits()
        frames = np.pad(digits.repeat(3, axis=1).repeat(3, axis=2), ((0, 0), (2, 2), (2, 2)))
        x_train, x_test, y_train, y_test = gn.data.train_test_split(
            frames / 16.0, labels, test_size=0.25, random_state=seed, stratify=labels
        )
        name, train, test = "digits", (x_train, y_train), (x_test, y_test)
    else:
        name = "Fashion-MNIST"
        train, test = ((images / 255.0, labels) for images, labels in (train, test))
    (x_train, y_train), (x_test, y_test) = (
        _subset(*train, train_size, rng),
        _subset(*test, test_size, rng),
    )
    return (
        name,
        (x_train[..., None].astype(np.float32), y_train.astype(np.int64)),
        (x_test[..., None].astype(np.float32), y_test.astype(np.int64)),
    )


def main(
    epochs: int = 5,
    train_size: int = 10000,
    test_size: int = 2000,
    batch_size: int = 128,
    data_dir: str | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Trains and evaluates the CNN; returns the data set's name, the History's values and the
    test loss and accuracy."""
    name, (x_train, y_train), (x_test, y_test) = load(data_dir, train_size, test_size, seed)
    print(f"{name}: {len(x_train)} training and {len(x_test)} test images")
    K.utils.set_random_seed(seed)
    model = build_model()
    model.summary()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=2)
    test_loss, test_accuracy = model.evaluate(x_test, y_test, batch_size=batch_size, verbose=0)
    print(f"test loss {test_loss:.4f}, test accuracy {test_accuracy:.3f}")
    return {
        "dataset": name,
        "history": history.history,
        "test_loss": float(test_loss),
        "test_accuracy": float(test_accuracy),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--train-size", type=int, default=10000)
    parser.add_argument("--test-size", type=int, default=2000)
    parser.add_argument("--data-dir", help="where the Fashion-MNIST files are")
    parser.add_argument("--quick", action="store_true", help=f"a short run: {QUICK}")
    args = parser.parse_args()
    sizes = {"epochs": args.epochs, "train_size": args.train_size, "test_size": args.test_size}
    main(**{**sizes, **(QUICK if args.quick else {})}, data_dir=args.data_dir)
