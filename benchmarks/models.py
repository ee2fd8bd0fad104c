"""The benchmark models built with graphnet's TF1 API from their layer lists (benchmarks.spec),
in the default graph; shared by the scripts (compiler_report, run, compile_time)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import graphnet as gn
from benchmarks.spec import (
    BN_EPSILON,
    BN_MOMENTUM,
    LENET,
    Conv,
    Dense,
    Dropout,
    MaxPool,
    ModelSpec,
    Params,
    init_weights,
)


@dataclass
class Model:
    """A built model: its input, labels, loss and training op (training graph: batch
    statistics, dropout) and inference probabilities (moving statistics, no dropout)."""

    name: str
    images: gn.Tensor
    labels: gn.Tensor
    loss: gn.Tensor
    train_op: gn.Node
    probabilities: gn.Tensor
    input_shape: tuple[int, ...]


def build(spec: ModelSpec, weights: list[Params]) -> Model:
    """`spec` with `weights` as the variables' initial values; softmax cross-entropy, SGD with
    momentum (gn.train.MomentumOptimizer) and the batch norms' moving-average updates."""
    variables = [
        {
            k: gn.Variable(v, trainable=k not in ("mean", "var"), name=f"layer{i}/{k}")
            for k, v in params.items()
        }
        for i, params in enumerate(weights)
    ]

    def network(x: gn.Tensor, training: bool) -> tuple[gn.Tensor, list[gn.Tensor]]:
        updates: list[gn.Tensor] = []
        for layer, v in zip(spec.layers, variables, strict=True):
            if isinstance(layer, Conv):
                x = gn.nn.conv2d(x, v["w"], strides=1, padding=layer.padding)
                if not layer.bn:
                    x = gn.nn.bias_add(x, v["b"])
                elif training:
                    x, m, s = gn.nn.fused_batch_norm(x, v["gamma"], v["beta"], epsilon=BN_EPSILON)
                    updates += [_moving_average(v["mean"], m), _moving_average(v["var"], s)]
                else:
                    x, _, _ = gn.nn.fused_batch_norm(
                        x, v["gamma"], v["beta"], v["mean"], v["var"], BN_EPSILON, is_training=False
                    )
                x = gn.nn.relu(x)
            elif isinstance(layer, MaxPool):
                x = gn.nn.max_pool2d(x, layer.size, layer.size, "VALID")
            elif isinstance(layer, Dense):
                if len(x.shape) > 2:
                    x = gn.reshape(x, [-1, int(np.prod(x.shape[1:]))])
                x = gn.nn.bias_add(gn.matmul(x, v["w"]), v["b"])
                x = gn.nn.relu(x) if layer.relu else x
            elif isinstance(layer, Dropout) and training:
                x = gn.nn.dropout(x, rate=layer.rate)
        return x, updates

    images = gn.placeholder(gn.float32, [None, *spec.input_shape], name="images")
    labels = gn.placeholder(gn.int32, [None], name="labels")
    logits, updates = network(images, True)
    loss = gn.reduce_mean(
        gn.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    )
    step = gn.train.MomentumOptimizer(spec.lr, spec.momentum).minimize(loss)
    probabilities = gn.nn.softmax(network(images, False)[0])
    return Model(
        spec.name, images, labels, loss, gn.group(step, *updates), probabilities, spec.input_shape
    )


def _moving_average(variable: gn.Variable, batch_value: gn.Tensor) -> gn.Tensor:
    return variable.assign(variable * BN_MOMENTUM + batch_value * (1.0 - BN_MOMENTUM))


def lenet(seed: int = 0) -> Model:
    """The LeNet-style CNN with BN (benchmarks.spec.LENET), 28x28x1: conv 5x5x6 SAME+BN+ReLU,
    pool 2, conv 5x5x16 VALID+BN+ReLU, pool 2, dense 120 ReLU, dense 84 ReLU, dense 10."""
    return build(LENET, init_weights(LENET, seed))
