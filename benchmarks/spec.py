"""The benchmark models as framework-free layer lists, their initial weights (NumPy, made once
and loaded into every framework) and batch-norm folding. Every peer builds its model from
these, so all of them compute the same function from the same weights.

Layout conventions: activations NHWC, conv weights HWIO (k, k, in, out), dense weights
(in, out); a rank-4 activation is flattened in NHWC order before the first dense layer. A
conv with batch norm has no bias; inference folds the norm into the conv's weights and bias.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BN_EPSILON = 1e-3
BN_MOMENTUM = 0.9  # moving = moving * 0.9 + batch * 0.1 (TF1's convention)


@dataclass(frozen=True)
class Conv:
    """Stride-1 conv, padding "SAME" or "VALID"; batch norm (no bias) or a bias; then ReLU."""

    filters: int
    kernel: int
    padding: str = "SAME"
    bn: bool = True


@dataclass(frozen=True)
class MaxPool:
    """size x size max pooling, stride size, VALID."""

    size: int = 2


@dataclass(frozen=True)
class Dense:
    units: int
    relu: bool = True


@dataclass(frozen=True)
class Dropout:
    """Inverted dropout while training; the identity in inference."""

    rate: float


Layer = Conv | MaxPool | Dense | Dropout
Params = dict[str, np.ndarray]


@dataclass(frozen=True)
class ModelSpec:
    """A classifier: `layers` on inputs of `input_shape` (no batch dim), softmax cross-entropy,
    SGD with momentum; trained and run for batch inference in batches of `batch`."""

    name: str
    title: str
    input_shape: tuple[int, ...]
    batch: int
    layers: tuple[Layer, ...]
    lr: float = 0.01
    momentum: float = 0.9

    @property
    def has_dropout(self) -> bool:
        return any(isinstance(layer, Dropout) for layer in self.layers)


MLP = ModelSpec(
    "mlp", "MLP 784-256-128-10", (784,), 128, (Dense(256), Dense(128), Dense(10, relu=False))
)
LENET = ModelSpec(
    "lenet",
    "LeNet-style CNN + BN",
    (28, 28, 1),
    64,
    (Conv(6, 5, "SAME"), MaxPool(), Conv(16, 5, "VALID"), MaxPool(),
     Dense(120), Dense(84), Dense(10, relu=False)),
)  # fmt: skip
VGG = ModelSpec(
    "vgg",
    "small VGG + BN",
    (32, 32, 3),
    32,
    (Conv(32, 3), Conv(32, 3), MaxPool(), Conv(64, 3), Conv(64, 3), MaxPool(),
     Dense(10, relu=False)),
)  # fmt: skip
KERAS_CNN = ModelSpec(  # examples/cnn_fashion_mnist.py: 82,934 parameters
    "keras_cnn",
    "classic Keras CNN",
    (28, 28, 1),
    128,
    (Conv(8, 5, bn=False), MaxPool(), Conv(16, 5, bn=False), MaxPool(),
     Dense(100), Dropout(0.25), Dense(10, relu=False)),
)  # fmt: skip
MODELS = {spec.name: spec for spec in (MLP, LENET, VGG, KERAS_CNN)}


def output_shapes(spec: ModelSpec) -> list[tuple[int, ...]]:
    """The shape (no batch dim) after each layer, flattening before the first dense layer."""
    shape, shapes = spec.input_shape, []
    for layer in spec.layers:
        if isinstance(layer, Conv):
            h, w, _ = shape
            if layer.padding == "VALID":
                h, w = h - layer.kernel + 1, w - layer.kernel + 1
            shape = (h, w, layer.filters)
        elif isinstance(layer, MaxPool):
            h, w, c = shape
            shape = (h // layer.size, w // layer.size, c)
        elif isinstance(layer, Dense):
            shape = (layer.units,)
        shapes.append(shape)
    return shapes


def input_shapes(spec: ModelSpec) -> list[tuple[int, ...]]:
    """The shape (no batch dim) each layer receives."""
    return [spec.input_shape, *output_shapes(spec)[:-1]]


def init_weights(spec: ModelSpec, seed: int = 0) -> list[Params]:
    """He-normal weights, zero biases; batch-norm parameters and moving statistics away from
    their identity values, so that folding them is really exercised. One dict per layer."""
    rng = np.random.default_rng(seed)
    weights: list[Params] = []
    for layer, shape in zip(spec.layers, input_shapes(spec), strict=True):
        params: Params = {}
        if isinstance(layer, Dense):
            w_shape: tuple[int, ...] = (int(np.prod(shape)), layer.units)
        elif isinstance(layer, Conv):
            w_shape = (layer.kernel, layer.kernel, shape[-1], layer.filters)
        else:
            weights.append(params)
            continue
        fan_in, out = int(np.prod(w_shape[:-1])), w_shape[-1]
        params["w"] = rng.normal(0.0, np.sqrt(2.0 / fan_in), w_shape)
        if isinstance(layer, Conv) and layer.bn:
            params["gamma"] = rng.uniform(0.8, 1.2, out)
            params["beta"] = rng.normal(0.0, 0.1, out)
            params["mean"] = rng.normal(0.0, 0.1, out)
            params["var"] = rng.uniform(0.5, 1.5, out)
        else:
            params["b"] = np.zeros(out)
        weights.append({k: v.astype(np.float32) for k, v in params.items()})
    return weights


def count_params(weights: list[Params]) -> int:
    """Trainable parameters (moving statistics excluded)."""
    return sum(v.size for p in weights for k, v in p.items() if k not in ("mean", "var"))


def fold_bn(weights: list[Params]) -> list[Params]:
    """Inference weights: every batch norm folded into its conv (w * s, beta - mean * s with
    s = gamma / sqrt(var + eps)), so every conv and dense layer has exactly "w" and "b"."""
    folded = []
    for p in weights:
        if "gamma" in p:
            scale = p["gamma"] / np.sqrt(p["var"] + BN_EPSILON)
            p = {"w": p["w"] * scale, "b": p["beta"] - p["mean"] * scale}
        folded.append({k: np.ascontiguousarray(v, np.float32) for k, v in p.items()})
    return folded


def dense_rows_nchw(w: np.ndarray, hwc: tuple[int, ...], inverse: bool = False) -> np.ndarray:
    """The first dense layer's weight for an NCHW flatten (rows (c, h, w)) from the NHWC one
    (rows (h, w, c)), or back with `inverse`; channels-first peers use it so that every peer
    computes the same function. Weights after a rank-2 input are returned as they are."""
    if len(hwc) != 3:
        return w
    h, wd, c = hwc
    if inverse:
        rows = w.reshape(c, h, wd, -1).transpose(1, 2, 0, 3)
    else:
        rows = w.reshape(h, wd, c, -1).transpose(2, 0, 1, 3)
    return np.ascontiguousarray(rows.reshape(h * wd * c, -1))


def batch_data(spec: ModelSpec, batch: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A random batch: float32 images (NHWC) in [0, 1) and int32 labels in [0, 10)."""
    rng = np.random.default_rng(seed)
    x = rng.random((batch, *spec.input_shape), dtype=np.float32)
    return x, rng.integers(0, 10, batch).astype(np.int32)
