"""The benchmark models of the project, built with graphnet's TF1 API (shared by the scripts)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import graphnet as gn


@dataclass
class Model:
    """A built model: its input, labels, logits (training graph) and inference probabilities."""

    name: str
    images: gn.Tensor
    labels: gn.Tensor
    loss: gn.Tensor
    train_op: gn.Node
    probabilities: gn.Tensor
    input_shape: tuple[int, ...]


def _weights(shape: tuple[int, ...], fan_in: int) -> gn.Variable:
    return gn.Variable(gn.truncated_normal(list(shape), stddev=float(np.sqrt(2.0 / fan_in))))


class _ConvBN:
    """conv + batch norm + ReLU with moving statistics; training and inference branches."""

    def __init__(self, k: int, cin: int, cout: int, padding: str) -> None:
        self.w = _weights((k, k, cin, cout), k * k * cin)
        self.gamma = gn.Variable(np.ones(cout, np.float32))
        self.beta = gn.Variable(np.zeros(cout, np.float32))
        self.mean = gn.Variable(np.zeros(cout, np.float32), trainable=False)
        self.var = gn.Variable(np.ones(cout, np.float32), trainable=False)
        self.padding = padding
        self.updates: list[gn.Tensor] = []

    def __call__(self, x: gn.Tensor, training: bool) -> gn.Tensor:
        h = gn.nn.conv2d(x, self.w, strides=1, padding=self.padding)
        if training:
            h, m, v = gn.nn.fused_batch_norm(h, self.gamma, self.beta, is_training=True)
            self.updates = [self.mean.assign(self.mean * 0.9 + m * 0.1),
                            self.var.assign(self.var * 0.9 + v * 0.1)]  # fmt: skip
        else:
            h, _, _ = gn.nn.fused_batch_norm(
                h, self.gamma, self.beta, self.mean, self.var, is_training=False
            )
        return gn.nn.relu(h)


def lenet(lr: float = 0.01) -> Model:
    """LeNet-style CNN, 28x28x1: conv 5x5x6 SAME+BN+ReLU, pool 2, conv 5x5x16 VALID+BN+ReLU,
    pool 2, dense 120 ReLU, dense 84 ReLU, dense 10."""
    blocks = [_ConvBN(5, 1, 6, "SAME"), _ConvBN(5, 6, 16, "VALID")]
    dense = [(_weights((400, 120), 400), gn.Variable(np.zeros(120, np.float32))),
             (_weights((120, 84), 120), gn.Variable(np.zeros(84, np.float32))),
             (_weights((84, 10), 84), gn.Variable(np.zeros(10, np.float32)))]  # fmt: skip

    def network(x: gn.Tensor, training: bool) -> gn.Tensor:
        for block in blocks:
            x = gn.nn.max_pool2d(block(x, training), 2, 2, "VALID")
        x = gn.reshape(x, [-1, 400])
        for i, (w, b) in enumerate(dense):
            x = gn.nn.bias_add(gn.matmul(x, w), b)
            x = gn.nn.relu(x) if i < len(dense) - 1 else x
        return x

    return _classifier(
        "lenet", network, (28, 28, 1), lr, lambda: [u for b in blocks for u in b.updates]
    )


def _classifier(name, network, input_shape, lr, updates) -> Model:
    images = gn.placeholder(gn.float32, [None, *input_shape], name="images")
    labels = gn.placeholder(gn.int32, [None], name="labels")
    logits = network(images, True)
    loss = gn.reduce_mean(
        gn.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    )
    params = gn.trainable_variables()
    grads = gn.gradients(loss, params)
    train_op = gn.group(*[gn.assign_sub(p, lr * g) for p, g in zip(params, grads, strict=True)],
                        *updates())  # fmt: skip
    probabilities = gn.nn.softmax(network(images, False))
    return Model(name, images, labels, loss, train_op, probabilities, input_shape)
