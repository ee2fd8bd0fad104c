"""TensorFlow through tf.compat.v1: a graph with placeholders, variables and a
MomentumOptimizer train op run by a tf.compat.v1.Session (NHWC, fused batch norm); inference
is a second graph with the batch norms folded into the convs and the weights as constants."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TF is imported: no info lines

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from benchmarks.spec import (
    BN_EPSILON,
    BN_MOMENTUM,
    Conv,
    Dense,
    Dropout,
    MaxPool,
    ModelSpec,
    Params,
    fold_bn,
)

tf1 = tf.compat.v1
_THREADS = 2


def versions() -> dict[str, str]:
    return {"tensorflow": tf.__version__}


def configure(threads: int) -> None:
    global _THREADS
    _THREADS = threads


def _session(graph: tf.Graph) -> tf1.Session:
    config = tf1.ConfigProto(
        intra_op_parallelism_threads=_THREADS, inter_op_parallelism_threads=_THREADS
    )
    return tf1.Session(graph=graph, config=config)


def _network(
    spec: ModelSpec, params: list[dict[str, Any]], x: Any, training: bool
) -> tuple[Any, list[Any]]:
    """Logits and the batch norms' moving-average updates; `params` holds variables or
    constants in the spec's layout."""
    updates = []
    for layer, p in zip(spec.layers, params, strict=True):
        if isinstance(layer, Conv):
            x = tf.nn.conv2d(x, p["w"], strides=1, padding=layer.padding)
            if "gamma" in p:
                x, mean, var = tf1.nn.fused_batch_norm(
                    x, p["gamma"], p["beta"], epsilon=BN_EPSILON, is_training=True
                )
                for moving, batch in ((p["mean"], mean), (p["var"], var)):
                    updates.append(
                        tf1.assign(moving, moving * BN_MOMENTUM + batch * (1.0 - BN_MOMENTUM))
                    )
            else:
                x = tf.nn.bias_add(x, p["b"])
            x = tf.nn.relu(x)
        elif isinstance(layer, MaxPool):
            x = tf.nn.max_pool2d(x, layer.size, layer.size, "VALID")
        elif isinstance(layer, Dense):
            if len(x.shape) > 2:
                x = tf.reshape(x, [-1, int(np.prod(x.shape[1:]))])
            x = tf.nn.bias_add(tf.matmul(x, p["w"]), p["b"])
            x = tf.nn.relu(x) if layer.relu else x
        elif isinstance(layer, Dropout) and training:
            x = tf.nn.dropout(x, rate=layer.rate)
    return x, updates


class Runner:
    def __init__(self, spec: ModelSpec, weights: list[Params]) -> None:
        self.spec = spec
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.variables = [
                {k: tf1.Variable(v, trainable=k not in ("mean", "var")) for k, v in p.items()}
                for p in weights
            ]
            self.images = tf1.placeholder(tf.float32, [None, *spec.input_shape])
            self.labels = tf1.placeholder(tf.int32, [None])
            logits, updates = _network(spec, self.variables, self.images, training=True)
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=self.labels, logits=logits)
            )
            step = tf1.train.MomentumOptimizer(spec.lr, spec.momentum).minimize(loss)
            self.train_op = tf.group(step, *updates)
            init = tf1.global_variables_initializer()
        self.sess = _session(self.graph)
        self.sess.run(init)

    def train_step(self, x: np.ndarray, y: np.ndarray) -> Callable[[], object]:
        feed = {self.images: x, self.labels: y}
        return lambda: self.sess.run(self.train_op, feed)

    def predict(self, x: np.ndarray) -> Callable[[], np.ndarray]:
        weights = fold_bn(self.sess.run(self.variables))
        graph = tf.Graph()
        with graph.as_default():
            images = tf1.placeholder(tf.float32, [None, *self.spec.input_shape])
            constants = [{k: tf.constant(v) for k, v in p.items()} for p in weights]
            probabilities = tf.nn.softmax(_network(self.spec, constants, images, False)[0])
        sess = _session(graph)
        feed = {images: x}
        return lambda: sess.run(probabilities, feed)
