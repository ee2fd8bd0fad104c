"""graphnet's main demo: a small CNN trained with the TF1-style API, then its compiled plans.

A conv-BN-ReLU-pool x2 + dense network learns to tell four kinds of bar images apart
(horizontal, vertical, diagonal, anti-diagonal) using gn.gradients and plain gradient descent
(assign_sub), prints the summaries of its compiled plans, then exports the inference plan to
a plan file and runs it again through `gn.runtime.load_plan`, without the graph.

    python examples/demo.py [--steps N] [--plan PATH]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

import graphnet as gn

SIZE, CLASSES = 8, 4


def make_bars(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n noisy 8x8 images of a bar in one of four orientations, and their labels."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, n)
    images = rng.normal(0.0, 0.3, (n, SIZE, SIZE, 1))
    for img, label in zip(images, labels, strict=True):
        k = rng.integers(1, SIZE - 1)
        if label == 0:
            img[k, :, 0] += 1.0
        elif label == 1:
            img[:, k, 0] += 1.0
        elif label == 2:
            img[:, :, 0] += np.eye(SIZE)
        else:
            img[:, :, 0] += np.fliplr(np.eye(SIZE))
    return images.astype(np.float32), labels.astype(np.int32)


class ConvBlock:
    """conv 3x3 SAME -> batch norm -> ReLU -> 2x2 max pool, with moving statistics."""

    def __init__(self, cin: int, cout: int, name: str) -> None:
        with gn.name_scope(name):
            self.w = gn.Variable(
                gn.truncated_normal([3, 3, cin, cout], stddev=np.sqrt(2 / (9 * cin))), name="w"
            )
            self.gamma = gn.Variable(np.ones(cout, np.float32), name="gamma")
            self.beta = gn.Variable(np.zeros(cout, np.float32), name="beta")
            self.mean = gn.Variable(np.zeros(cout, np.float32), trainable=False, name="moving_mean")
            self.var = gn.Variable(
                np.ones(cout, np.float32), trainable=False, name="moving_variance"
            )
        self.updates: list[gn.Tensor] = []

    def __call__(self, x: gn.Tensor, training: bool) -> gn.Tensor:
        h = gn.nn.conv2d(x, self.w, strides=1, padding="SAME")
        if training:
            h, batch_mean, batch_var = gn.nn.fused_batch_norm(
                h, self.gamma, self.beta, is_training=True
            )
            self.updates = [
                self.mean.assign(self.mean * 0.9 + batch_mean * 0.1),
                self.var.assign(self.var * 0.9 + batch_var * 0.1),
            ]
        else:
            h, _, _ = gn.nn.fused_batch_norm(
                h, self.gamma, self.beta, self.mean, self.var, is_training=False
            )
        return gn.nn.max_pool2d(gn.nn.relu(h), ksize=2, strides=2, padding="VALID")


def main(steps: int = 300, lr: float = 0.1, plan_path: str | None = None) -> float:
    gn.set_random_seed(0)
    blocks = [ConvBlock(1, 8, "block1"), ConvBlock(8, 16, "block2")]
    flat = (SIZE // 4) * (SIZE // 4) * 16
    w_out = gn.Variable(
        gn.truncated_normal([flat, CLASSES], stddev=np.sqrt(1 / flat)), name="dense/w"
    )
    b_out = gn.Variable(np.zeros(CLASSES, np.float32), name="dense/b")

    def network(x: gn.Tensor, training: bool) -> gn.Tensor:
        for block in blocks:
            x = block(x, training)
        return gn.matmul(gn.reshape(x, [-1, flat]), w_out) + b_out

    images = gn.placeholder(gn.float32, [None, SIZE, SIZE, 1], name="images")
    labels = gn.placeholder(gn.int32, [None], name="labels")
    logits = network(images, training=True)
    loss = gn.reduce_mean(
        gn.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    )
    params = gn.trainable_variables()
    grads = gn.gradients(loss, params)
    train_op = gn.group(
        *[gn.assign_sub(p, lr * g) for p, g in zip(params, grads, strict=True)],
        *[u for block in blocks for u in block.updates],
    )
    probs = gn.nn.softmax(network(images, training=False), name="probabilities")
    accuracy = gn.reduce_mean(
        gn.cast(gn.equal(gn.argmax(probs, 1, output_type=gn.int32), labels), gn.float32)
    )

    x_train, y_train = make_bars(512, seed=1)
    x_test, y_test = make_bars(256, seed=2)
    rng = np.random.default_rng(0)
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        for step in range(1, steps + 1):
            batch = rng.choice(len(x_train), 32, replace=False)
            value, _ = sess.run([loss, train_op], {images: x_train[batch], labels: y_train[batch]})
            if step % 50 == 0 or step == 1:
                print(f"step {step:4d}  loss {value:.4f}")
        test_acc = sess.run(accuracy, {images: x_test, labels: y_test})
        print(f"test accuracy: {test_acc:.3f}")

        print("\nCompiled training plan:")
        batch = {images: x_train[:32], labels: y_train[:32]}
        print(sess.compiled_plan([loss, train_op], batch).summary())
        print("\nCompiled inference plan:")
        print(sess.compiled_plan(probs, {images: x_test}).summary())
        expected = sess.run(probs, {images: x_test})
        path = Path(plan_path or Path(tempfile.mkdtemp()) / "bars.gnplan")
        gn.export.save_plan(sess, probs, [images], path, batch_size=len(x_test))

    plan = gn.runtime.load_plan(path)
    reloaded = plan.run({"images": x_test})["probabilities"]
    print(f"\nExported {path} ({path.stat().st_size:,} bytes) and loaded it back:")
    print(plan.summary())
    print(f"max |reloaded - session| = {np.abs(reloaded - expected).max():.2e}")
    return float(test_acc)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--plan", help="where to write the plan file (default: a temporary dir)")
    args = parser.parse_args()
    main(args.steps, plan_path=args.plan)
