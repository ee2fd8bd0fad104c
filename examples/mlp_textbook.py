"""The textbook workflow for training a network, step by step, with the TF1 API.

The task: tell apart four kinds of "growing oscillation" curves (gn.data.make_growing_oscillations:
2, 4, 6 or 8 periods of a sine whose amplitude grows, on a random trend, with noise) from five
hand-made features of each curve (gn.data.oscillation_features), standardized with statistics of
the training set only. The model: a multilayer perceptron, dense -> [batch norm] -> ReLU twice,
then a dense output layer, trained with Adam on softmax cross-entropy plus an L2 penalty.

1. Gradient check: the whole model's loss (batch norm and L2 penalty included), built in
   float64, differentiated by gn.gradients against central differences, on a sample of the
   elements of every variable (gn.train.check_gradients); relative errors printed.
2. Initial loss: with small output weights the softmax is about uniform, so the loss before
   training should be about ln K for K classes.
3. Overfit a tiny subset: without regularization the training loss must reach about zero.
4. Random search of the learning rate and the L2 strength, both log-uniform, in short runs;
   the best validation accuracy wins.
5. Train with and without batch norm at that setting and compare; the curves are saved as PNG
   files with gn.plot.history.

    python examples/mlp_textbook.py [--out DIR] [--trials N] [--epochs N] [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import tempfile
from dataclasses import dataclass
from typing import Any

import numpy as np

import graphnet as gn

CLASSES = 4
FEATURES = 5
BN_EPSILON = 1e-3
BN_MOMENTUM = 0.9
QUICK = {"n_per_class": 60, "trials": 3, "search_epochs": 3, "epochs": 8}

HISTORY_KEYS = ("loss", "accuracy", "val_loss", "val_accuracy")

Arrays = tuple[np.ndarray, np.ndarray]


class DenseLayer:
    """x @ W + b, or with batch norm x @ W normalized per unit (gamma, beta, moving statistics).

    Called once in training mode (batch statistics, which also build the moving-average
    updates) and once in inference mode (moving statistics); both calls share the variables."""

    def __init__(
        self, n_in: int, n_out: int, name: str, dtype: gn.DType, batch_norm: bool, stddev: float
    ) -> None:
        self.batch_norm = batch_norm
        self.updates: list[gn.Tensor] = []
        with gn.name_scope(name):
            self.w = gn.Variable(
                gn.truncated_normal([n_in, n_out], stddev=stddev, dtype=dtype), name="W"
            )
            if batch_norm:
                self.gamma = gn.Variable(gn.ones([n_out], dtype), name="gamma")
                self.beta = gn.Variable(gn.zeros([n_out], dtype), name="beta")
                self.mean = gn.Variable(gn.zeros([n_out], dtype), False, name="moving_mean")
                self.var = gn.Variable(gn.ones([n_out], dtype), False, name="moving_variance")
            else:
                self.b = gn.Variable(gn.zeros([n_out], dtype), name="b")

    def __call__(self, x: gn.Tensor, training: bool) -> gn.Tensor:
        h = gn.matmul(x, self.w)
        if not self.batch_norm:
            return h + self.b
        if training:
            mean, var = gn.nn.moments(h, axes=[0])
            self.updates = [
                gn.assign(self.mean, self.mean * BN_MOMENTUM + mean * (1 - BN_MOMENTUM)),
                gn.assign(self.var, self.var * BN_MOMENTUM + var * (1 - BN_MOMENTUM)),
            ]
        else:
            mean, var = self.mean, self.var
        return gn.nn.batch_normalization(h, mean, var, self.beta, self.gamma, BN_EPSILON)


@dataclass(frozen=True)
class Net:
    """One model in its own graph: the tensors the checks and the training loop use."""

    graph: gn.Graph
    x: gn.Tensor
    y: gn.Tensor
    loss: gn.Tensor  # cross-entropy + L2 penalty, training mode (batch statistics)
    eval_loss: gn.Tensor  # the same in inference mode (moving statistics)
    accuracy: gn.Tensor  # inference mode
    train_op: gn.Node
    init: gn.Node
    params: list[gn.Variable]


def build(
    hidden: tuple[int, ...] = (64, 64),
    batch_norm: bool = False,
    l2: float = 0.0,
    learning_rate: float = 1e-3,
    dtype: gn.DType = gn.float32,
    seed: int = 0,
) -> Net:
    """The MLP in a new graph. Hidden layers are He-initialized; the output layer's weights
    are small (stddev 0.01), so the initial softmax is about uniform."""
    graph = gn.Graph()
    with graph.as_default():
        gn.set_random_seed(seed)
        sizes = (FEATURES, *hidden)
        layers = [
            DenseLayer(n_in, n_out, f"layer{i}", dtype, batch_norm, math.sqrt(2.0 / n_in))
            for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes), 1)
        ]
        output = DenseLayer(sizes[-1], CLASSES, "output", dtype, False, 0.01)
        x = gn.placeholder(dtype, [None, FEATURES], name="x")
        y = gn.placeholder(gn.int64, [None], name="y")

        def forward(training: bool) -> gn.Tensor:
            h = x
            for layer in layers:
                h = gn.nn.relu(layer(h, training))
            return output(h, training)

        def cross_entropy(logits: gn.Tensor) -> gn.Tensor:
            return gn.reduce_mean(
                gn.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits)
            )

        weights = [layer.w for layer in (*layers, output)]
        penalty = gn.regularizers.apply_regularization(gn.regularizers.l2(l2), weights)
        loss = cross_entropy(forward(training=True)) + penalty
        step = gn.train.AdamOptimizer(learning_rate).minimize(loss)
        train_op = gn.group(step, *[u for layer in layers for u in layer.updates])
        eval_logits = forward(training=False)
        eval_loss = cross_entropy(eval_logits) + penalty
        correct = gn.equal(gn.argmax(eval_logits, axis=1), y)
        accuracy = gn.reduce_mean(gn.cast(correct, dtype))
        init = gn.global_variables_initializer()
        params = gn.trainable_variables()
    return Net(graph, x, y, loss, eval_loss, accuracy, train_op, init, params)


def load(n_per_class: int, seed: int) -> tuple[Arrays, Arrays, Arrays]:
    """(train, validation, test) features and labels, 60/20/20, standardized on train."""
    curves, labels = gn.data.make_growing_oscillations(
        n_per_class, CLASSES, length=50, noise=0.5, seed=seed
    )
    features = gn.data.oscillation_features(curves)
    x_train, x_rest, y_train, y_rest = gn.data.train_test_split(
        features, labels, test_size=0.4, random_state=seed, stratify=labels
    )
    x_val, x_test, y_val, y_test = gn.data.train_test_split(
        x_rest, y_rest, test_size=0.5, random_state=seed, stratify=y_rest
    )
    scaler = gn.data.Standardizer().fit(x_train)
    return (
        (scaler.transform(x_train), y_train),
        (scaler.transform(x_val), y_val),
        (scaler.transform(x_test), y_test),
    )


def fit(
    sess: gn.Session, net: Net, train: Arrays, val: Arrays, epochs: int, batch_size: int, seed: int
) -> dict[str, list[float]]:
    """Initializes the variables in `sess`, then trains in shuffled minibatches. Returns per
    epoch, as Keras' History: 'loss' (the mean of the epoch's batch losses), 'accuracy' on the
    training set, 'val_loss' and 'val_accuracy'."""
    rng = np.random.default_rng(seed)
    history: dict[str, list[float]] = {k: [] for k in HISTORY_KEYS}
    sess.run(net.init)
    x, y = train
    for _ in range(epochs):
        order = rng.permutation(len(x))
        losses = []
        for start in range(0, len(x), batch_size):
            batch = order[start : start + batch_size]
            value, _ = sess.run([net.loss, net.train_op], {net.x: x[batch], net.y: y[batch]})
            losses.append(value)
        history["loss"].append(float(np.mean(losses)))
        history["accuracy"].append(float(sess.run(net.accuracy, {net.x: x, net.y: y})))
        val_loss, val_acc = sess.run([net.eval_loss, net.accuracy], {net.x: val[0], net.y: val[1]})
        history["val_loss"].append(float(val_loss))
        history["val_accuracy"].append(float(val_acc))
    return history


def gradient_check(batch: Arrays, num_checks: int, seed: int) -> float:
    """Step 1: the float64 model with batch norm and an L2 penalty; the largest relative error."""
    worst = 0.0
    for batch_norm in (False, True):
        net = build(batch_norm=batch_norm, l2=1e-2, dtype=gn.float64, seed=seed)
        with gn.Session(graph=net.graph) as sess:
            sess.run(net.init)
            feed = {net.x: batch[0], net.y: batch[1]}
            report = gn.train.check_gradients(
                net.loss, net.params, feed, sess, num_checks=num_checks, seed=seed
            )
        print(f"\n1. gradient check ({'with' if batch_norm else 'without'} batch norm, float64)")
        print(report)
        worst = max(worst, report.max_error)
    print(f"largest relative error: {worst:.2e} ({'passed' if worst < 1e-6 else 'FAILED'})")
    return worst


def initial_loss(train: Arrays, seed: int) -> float:
    """Step 2: the loss of the untrained model (no penalty), to compare with ln K."""
    net = build(seed=seed)
    with gn.Session(graph=net.graph) as sess:
        sess.run(net.init)
        value = float(sess.run(net.eval_loss, {net.x: train[0], net.y: train[1]}))
    print(f"\n2. initial loss {value:.4f}, expected about ln {CLASSES} = {math.log(CLASSES):.4f}")
    return value


def overfit(train: Arrays, size: int, epochs: int, seed: int) -> float:
    """Step 3: the loss on `size` training examples after fitting them without regularization
    (full batch, `epochs` steps)."""
    tiny = (train[0][:size], train[1][:size])
    net = build(learning_rate=1e-2, seed=seed)
    with gn.Session(graph=net.graph) as sess:
        history = fit(sess, net, tiny, tiny, epochs, size, seed)
    loss, acc = history["val_loss"][-1], history["val_accuracy"][-1]
    print(f"\n3. overfit {size} examples, {epochs} steps: loss {loss:.5f}, accuracy {acc:.3f}")
    return loss


def random_search(
    train: Arrays, val: Arrays, trials: int, epochs: int, batch_size: int, seed: int
) -> dict[str, float]:
    """Step 4: log-uniform learning rates in [1e-4, 3e-2] and L2 strengths in [1e-5, 1e-2]."""
    rng = np.random.default_rng(seed)
    print(f"\n4. random search, {trials} trials of {epochs} epochs")
    results = []
    for trial in range(1, trials + 1):
        lr, l2 = 10 ** rng.uniform(-4.0, -1.5), 10 ** rng.uniform(-5.0, -2.0)
        net = build(l2=l2, learning_rate=lr, seed=seed)
        with gn.Session(graph=net.graph) as sess:
            history = fit(sess, net, train, val, epochs, batch_size, seed)
        acc = history["val_accuracy"][-1]
        results.append({"learning_rate": lr, "l2": l2, "val_accuracy": acc})
        print(f"trial {trial:2d}  learning rate {lr:.2e}  L2 {l2:.2e}  val accuracy {acc:.3f}")
    best = max(results, key=lambda r: r["val_accuracy"])
    print(
        f"best: learning rate {best['learning_rate']:.2e}, L2 {best['l2']:.2e} "
        f"(val accuracy {best['val_accuracy']:.3f})"
    )
    return best


def compare_batch_norm(
    data: tuple[Arrays, Arrays, Arrays],
    best: dict[str, float],
    epochs: int,
    batch_size: int,
    out: str,
    seed: int,
) -> dict[str, dict[str, Any]]:
    """Step 5: the best setting with and without batch norm; curves as PNG files in `out`."""
    train, val, test = data
    print(f"\n5. {epochs} epochs with and without batch norm")
    results = {}
    for name, batch_norm in (("plain", False), ("batch_norm", True)):
        net = build(
            batch_norm=batch_norm, l2=best["l2"], learning_rate=best["learning_rate"], seed=seed
        )
        with gn.Session(graph=net.graph) as sess:
            history = fit(sess, net, train, val, epochs, batch_size, seed)
            test_acc = float(sess.run(net.accuracy, {net.x: test[0], net.y: test[1]}))
        plot = gn.plot.history(history, os.path.join(out, f"mlp_{name}.png"))
        results[name] = {"history": history, "test_accuracy": test_acc, "plot": plot}
        print(
            f"{name:<10}  loss {history['loss'][-1]:.4f}  val accuracy "
            f"{history['val_accuracy'][-1]:.3f}  test accuracy {test_acc:.3f}  curves: {plot}"
        )
    return results


def main(
    n_per_class: int = 300,
    trials: int = 8,
    search_epochs: int = 10,
    epochs: int = 40,
    batch_size: int = 32,
    grad_checks: int = 10,
    out: str | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Runs the five steps; returns what each reached."""
    out = out or tempfile.mkdtemp(prefix="graphnet-mlp-")
    os.makedirs(out, exist_ok=True)
    train, val, test = load(n_per_class, seed)
    print(f"{len(train[0])} training, {len(val[0])} validation, {len(test[0])} test examples")
    results: dict[str, Any] = {
        "gradient_check_error": gradient_check((train[0][:8], train[1][:8]), grad_checks, seed),
        "initial_loss": initial_loss(train, seed),
        "expected_initial_loss": math.log(CLASSES),
        "overfit_loss": overfit(train, 20, 200, seed),
    }
    best = random_search(train, val, trials, search_epochs, batch_size, seed)
    results["best"] = best
    results.update(compare_batch_norm((train, val, test), best, epochs, batch_size, out, seed))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="directory for the PNG files (default: a new temp dir)")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--quick", action="store_true", help=f"a short run: {QUICK}")
    args = parser.parse_args()
    main(
        **{"trials": args.trials, "epochs": args.epochs, **(QUICK if args.quick else {})},
        out=args.out,
    )
