"""The models the export tests use, built from graphnet's ops with random variables: an MLP,
a LeNet-style CNN with batch norm, a small VGG block and a residual block (all NHWC)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import graphnet as gn


class _Weights:
    """Variables with random initial values, named in order."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.count = 0

    def __call__(self, *shape: int, scale: float = 0.3, low: float | None = None) -> gn.Tensor:
        self.count += 1
        if low is None:
            value = self.rng.normal(0, scale, shape)
        else:
            value = self.rng.uniform(low, low + 1, shape)
        return gn.Variable(value.astype(np.float32), name=f"w{self.count}")


def _conv_bn(w: _Weights, x: gn.Tensor, cin: int, cout: int, k: int = 3, strides: int = 1,
             relu: bool = True) -> gn.Tensor:  # fmt: skip
    y = gn.nn.conv2d(x, w(k, k, cin, cout), strides, "SAME")
    y, _, _ = gn.nn.fused_batch_norm(
        y, w(cout, low=0.5), w(cout), w(cout, scale=0.1), w(cout, low=0.5), is_training=False
    )
    return gn.nn.relu(y) if relu else y


def mlp(w: _Weights) -> tuple[gn.Tensor, gn.Tensor, tuple[int, ...]]:
    x = gn.placeholder(gn.float32, [None, 12], name="x")
    h = gn.nn.relu(gn.matmul(x, w(12, 16)) + w(16))
    h = gn.tanh(gn.nn.bias_add(gn.matmul(h, w(16, 8)), w(8)))
    return x, gn.nn.softmax(gn.matmul(h, w(8, 4)) + w(4)), (3, 12)


def lenet_bn(w: _Weights) -> tuple[gn.Tensor, gn.Tensor, tuple[int, ...]]:
    x = gn.placeholder(gn.float32, [None, 12, 12, 1], name="image")
    h = _conv_bn(w, x, 1, 4, k=5)
    h = gn.nn.max_pool2d(h, 2, 2, "VALID")
    h = gn.nn.conv2d(h, w(3, 3, 4, 8), 1, "VALID")
    h = gn.nn.avg_pool2d(gn.nn.relu(gn.nn.bias_add(h, w(8))), 2, 2, "VALID")
    h = gn.reshape(h, [-1, 2 * 2 * 8])
    return x, gn.nn.log_softmax(gn.matmul(h, w(32, 10)) + w(10)), (2, 12, 12, 1)


def vgg_block(w: _Weights) -> tuple[gn.Tensor, gn.Tensor, tuple[int, ...]]:
    x = gn.placeholder(gn.float32, [None, 8, 8, 3], name="image")
    h = gn.nn.relu(gn.nn.bias_add(gn.nn.conv2d(x, w(3, 3, 3, 8), 1, "SAME"), w(8)))
    h = gn.nn.relu(gn.nn.bias_add(gn.nn.conv2d(h, w(3, 3, 8, 8), 1, "SAME"), w(8)))
    h = gn.nn.max_pool2d(h, 2, 2, "SAME")
    return x, gn.reduce_mean(h, [1, 2]), (2, 8, 8, 3)


def residual_block(w: _Weights) -> tuple[gn.Tensor, gn.Tensor, tuple[int, ...]]:
    x = gn.placeholder(gn.float32, [None, 6, 6, 4], name="image")
    h = _conv_bn(w, x, 4, 4)
    h = _conv_bn(w, h, 4, 4, relu=False)
    shortcut = _conv_bn(w, x, 4, 4, k=1, relu=False)
    y = gn.nn.relu(h + shortcut + x)
    return x, gn.nn.avg_pool2d(y, 3, 2, "SAME"), (2, 6, 6, 4)


MODELS: dict[str, Callable[[_Weights], tuple[gn.Tensor, gn.Tensor, tuple[int, ...]]]] = {
    "mlp": mlp, "lenet_bn": lenet_bn, "vgg_block": vgg_block, "residual_block": residual_block,
}  # fmt: skip


def build(name: str, seed: int = 0) -> tuple[gn.Session, gn.Tensor, gn.Tensor, np.ndarray]:
    """(session with initialized variables, input placeholder, output, an input batch)."""
    graph = gn.Graph()
    with graph.as_default():
        x, y, shape = MODELS[name](_Weights(seed))
        init = gn.global_variables_initializer()
    sess = gn.Session(graph=graph)
    sess.run(init)
    batch = np.random.default_rng(seed + 1).normal(size=shape).astype(np.float32)
    return sess, x, y, batch
