"""Quickstart: a two-layer network learns cs231n's three 2-D spirals, written with the TF1 API.

Placeholders for the data, Variables for the weights, a softmax cross-entropy loss,
gn.train.AdamOptimizer(...).minimize(loss) for the update op, and a Session loop that runs it
full-batch and reports the loss and the training and test accuracy.

    python examples/quickstart.py [--steps N] [--hidden H] [--quick]
"""

from __future__ import annotations

import argparse

import numpy as np

import graphnet as gn

CLASSES = 3
QUICK = {"steps": 150}


def dense(x: gn.Tensor, n_in: int, n_out: int, name: str) -> gn.Tensor:
    """x @ W + b, W He-initialized from the graph's seed, b zero."""
    with gn.name_scope(name):
        w = gn.Variable(gn.truncated_normal([n_in, n_out], stddev=np.sqrt(2.0 / n_in)), name="W")
        b = gn.Variable(gn.zeros([n_out]), name="b")
    return gn.matmul(x, w) + b


def main(
    steps: int = 1000,
    hidden: int = 100,
    learning_rate: float = 0.01,
    n_per_class: int = 200,
    seed: int = 0,
) -> dict[str, float]:
    """Trains the network and returns its initial and final loss and its accuracies."""
    x_data, y_data = gn.data.make_spirals(n_per_class, CLASSES, seed=seed)
    x_train, x_test, y_train, y_test = gn.data.train_test_split(
        x_data, y_data, test_size=0.25, random_state=seed, stratify=y_data
    )

    gn.set_random_seed(seed)
    x = gn.placeholder(gn.float32, [None, 2], name="x")
    y = gn.placeholder(gn.int64, [None], name="y")
    logits = dense(gn.nn.relu(dense(x, 2, hidden, "hidden")), hidden, CLASSES, "output")
    loss = gn.losses.sparse_softmax_cross_entropy(labels=y, logits=logits)
    train_op = gn.train.AdamOptimizer(learning_rate).minimize(loss)
    correct = gn.equal(gn.argmax(logits, axis=1), y)
    accuracy = gn.reduce_mean(gn.cast(correct, gn.float32))

    train_feed = {x: x_train, y: y_train}
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        initial_loss = sess.run(loss, train_feed)
        print(f"step {0:5d}  loss {initial_loss:.4f}  (ln {CLASSES} = {np.log(CLASSES):.4f})")
        for step in range(1, steps + 1):
            value, _ = sess.run([loss, train_op], train_feed)
            if step % max(1, steps // 10) == 0:
                print(f"step {step:5d}  loss {value:.4f}")
        final_loss, train_acc = sess.run([loss, accuracy], train_feed)
        test_acc = sess.run(accuracy, {x: x_test, y: y_test})
    print(f"training accuracy {train_acc:.3f}, test accuracy {test_acc:.3f}")
    return {
        "initial_loss": float(initial_loss),
        "final_loss": float(final_loss),
        "train_accuracy": float(train_acc),
        "test_accuracy": float(test_acc),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help=f"a short run: {QUICK}")
    args = parser.parse_args()
    main(**{"steps": args.steps, "hidden": args.hidden, **(QUICK if args.quick else {})})
