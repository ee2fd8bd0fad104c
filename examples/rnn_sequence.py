"""Recurrent networks with gn.keras: sequence regression with an LSTM and a GRU, and sequence
classification with a bidirectional GRU.

1. Regression (gn.data.make_sine_sequences): from a window of 20 steps of a sum of three sines,
   predict the next value. LSTM(32) -> Dense(1) and GRU(32) -> Dense(1) are trained on the mean
   squared error, which is printed next to the naive baseline that predicts the last value of
   the window.
2. Classification (gn.data.make_growing_oscillations): tell curves of 2, 4 and 6 growing
   periods apart, fed as sequences of one feature. Bidirectional(GRU(16)) reads each curve
   forwards and backwards; Dense(3, softmax) classifies the two final states.

    python examples/rnn_sequence.py [--epochs N] [--quick]
"""

from __future__ import annotations

import argparse

import numpy as np

import graphnet as gn

K = gn.keras
L = gn.keras.layers

CLASSES = 3
QUICK = {"n_samples": 800, "epochs": 3, "n_per_class": 40, "length": 30, "class_epochs": 8}


def fit_and_evaluate(
    model: gn.keras.Model,
    loss: str,
    metrics: list[str],
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    epochs: int,
    learning_rate: float,
) -> list[float]:
    """Compiles with Adam, trains in batches of 32, returns [test loss, *test metrics]."""
    model.compile(K.optimizers.Adam(learning_rate), loss, metrics=metrics)
    model.fit(*train, batch_size=32, epochs=epochs, verbose=2)
    return [float(v) for v in np.atleast_1d(model.evaluate(*test, verbose=0))]


def regression(n_samples: int, window: int, units: int, epochs: int, seed: int) -> dict[str, float]:
    """Part 1: the test MSE of the last-value baseline, the LSTM and the GRU."""
    x, y = gn.data.make_sine_sequences(n_samples, window=window, seed=seed)
    x_train, x_test, y_train, y_test = gn.data.train_test_split(
        x, y, test_size=0.2, random_state=seed
    )
    results = {"baseline_mse": float(np.mean((x_test[:, -1, :] - y_test) ** 2))}
    print(f"sum of sines, {len(x_train)} training windows of {window} steps")
    for name, layer in (("lstm", L.LSTM), ("gru", L.GRU)):
        model = K.Sequential([layer(units, input_shape=(window, 1)), L.Dense(1)])
        (mse,) = fit_and_evaluate(
            model, "mse", [], (x_train, y_train), (x_test, y_test), epochs, 0.01
        )
        results[f"{name}_mse"] = mse
    print(
        f"test MSE: last value {results['baseline_mse']:.5f}, LSTM {results['lstm_mse']:.5f}, "
        f"GRU {results['gru_mse']:.5f}"
    )
    return results


def classification(
    n_per_class: int, length: int, units: int, epochs: int, seed: int
) -> dict[str, float]:
    """Part 2: the test accuracy of the bidirectional GRU."""
    curves, labels = gn.data.make_growing_oscillations(
        n_per_class, CLASSES, length=length, seed=seed
    )
    x_train, x_test, y_train, y_test = gn.data.train_test_split(
        curves[..., None], labels, test_size=0.25, random_state=seed, stratify=labels
    )
    print(f"\ngrowing oscillations, {len(x_train)} training curves of {length} steps")
    model = K.Sequential(
        [
            L.Bidirectional(L.GRU(units), input_shape=(length, 1)),
            L.Dense(CLASSES, activation="softmax"),
        ]
    )
    model.summary()
    _, accuracy = fit_and_evaluate(
        model, "sparse_categorical_crossentropy", ["accuracy"], (x_train, y_train),
        (x_test, y_test), epochs, 0.01,
    )  # fmt: skip
    print(f"bidirectional GRU test accuracy {accuracy:.3f} (chance {1 / CLASSES:.3f})")
    return {"bigru_accuracy": accuracy}


def main(
    n_samples: int = 2000,
    window: int = 20,
    epochs: int = 10,
    n_per_class: int = 100,
    length: int = 40,
    class_epochs: int = 15,
    seed: int = 0,
) -> dict[str, float]:
    """Runs both parts; returns the baseline's, the LSTM's and the GRU's test MSE and the
    bidirectional GRU's test accuracy."""
    K.utils.set_random_seed(seed)
    return {
        **regression(n_samples, window, 32, epochs, seed),
        **classification(n_per_class, length, 16, class_epochs, seed),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="epochs of the regressions")
    parser.add_argument("--quick", action="store_true", help=f"a short run: {QUICK}")
    args = parser.parse_args()
    main(**{"epochs": args.epochs, **(QUICK if args.quick else {})})
