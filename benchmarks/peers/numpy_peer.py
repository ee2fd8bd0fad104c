"""Plain NumPy, the textbook way: convolution as im2col (sliding_window_view, copied to a
(N*Ho*Wo, k*k*C) matrix) times the weight matrix, its backward as two matmuls and col2im by
k*k slice additions; batch norm, ReLU, 2x2 max pooling, dense layers, inverted dropout,
softmax cross-entropy and momentum SGD written out. Inference runs the same layers with batch
norm folded into the convs."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

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

F32 = np.float32


def versions() -> dict[str, str]:
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    return {"numpy": np.__version__, "numpy_blas": f"{blas['name']} {blas['version']}"}


def configure(threads: int) -> None:
    """NumPy's BLAS threads come from OMP/OPENBLAS/MKL_NUM_THREADS, set before NumPy loads."""


class _Op:
    """A layer piece: `forward` keeps what `backward` needs; `backward(dy, need_dx)` fills
    `grads` (keys of `params`, the spec layer's dict, updated in place by the optimizer)."""

    params: Params
    grads: Params

    def __init__(self, params: Params | None = None) -> None:
        self.params = params if params is not None else {}
        self.grads = {}

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dy: np.ndarray, need_dx: bool) -> np.ndarray | None:
        raise NotImplementedError


class _Conv2d(_Op):
    def __init__(self, params: Params, kernel: int, padding: str) -> None:
        super().__init__(params)
        self.k = kernel
        self.pad = kernel // 2 if padding == "SAME" else 0

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        k, p = self.k, self.pad
        if p:
            x = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
        n, _, _, c = self.padded_shape = x.shape
        windows = sliding_window_view(x, (k, k), axis=(1, 2))  # n, ho, wo, c, k, k
        ho, wo = windows.shape[1:3]
        self.cols = windows.transpose(0, 1, 2, 4, 5, 3).reshape(n * ho * wo, k * k * c)
        y = self.cols @ self.params["w"].reshape(k * k * c, -1)
        if "b" in self.params:
            y += self.params["b"]
        return y.reshape(n, ho, wo, -1)

    def backward(self, dy: np.ndarray, need_dx: bool) -> np.ndarray | None:
        n, ho, wo, f = dy.shape
        k, p, w = self.k, self.pad, self.params["w"]
        dy2 = dy.reshape(-1, f)
        self.grads["w"] = (self.cols.T @ dy2).reshape(w.shape)
        if "b" in self.params:
            self.grads["b"] = dy2.sum(0)
        if not need_dx:
            return None
        dcols = (dy2 @ w.reshape(-1, f).T).reshape(n, ho, wo, k, k, -1)
        dx = np.zeros(self.padded_shape, F32)
        for i in range(k):  # col2im
            for j in range(k):
                dx[:, i : i + ho, j : j + wo] += dcols[:, :, :, i, j]
        h, w_ = self.padded_shape[1] - 2 * p, self.padded_shape[2] - 2 * p
        return dx[:, p : p + h, p : p + w_]


class _BatchNorm(_Op):
    """Training mode only (inference folds it into the conv)."""

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        p = self.params
        self.n = x.size // x.shape[-1]
        mean, var = x.mean((0, 1, 2)), x.var((0, 1, 2))
        p["mean"][...] = p["mean"] * BN_MOMENTUM + mean * (1 - BN_MOMENTUM)
        unbiased = var * (self.n / max(self.n - 1, 1))
        p["var"][...] = p["var"] * BN_MOMENTUM + unbiased * (1 - BN_MOMENTUM)
        self.inv = (1.0 / np.sqrt(var + BN_EPSILON)).astype(F32)
        self.x_hat = (x - mean) * self.inv
        return self.x_hat * p["gamma"] + p["beta"]

    def backward(self, dy: np.ndarray, need_dx: bool) -> np.ndarray:
        d_beta = dy.sum((0, 1, 2))
        d_gamma = (dy * self.x_hat).sum((0, 1, 2))
        self.grads = {"gamma": d_gamma, "beta": d_beta}
        scale = self.params["gamma"] * self.inv / self.n
        return scale * (self.n * dy - d_beta - self.x_hat * d_gamma)


class _ReLU(_Op):
    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        self.mask = x > 0
        return x * self.mask

    def backward(self, dy: np.ndarray, need_dx: bool) -> np.ndarray:
        return dy * self.mask


class _MaxPool(_Op):
    """size x size windows, stride size; the input's sides are multiples of size."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.s = size

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        n, h, w, c = x.shape
        s = self.s
        windows = x.reshape(n, h // s, s, w // s, s, c)
        y = windows.max(axis=(2, 4))
        self.mask = windows == y[:, :, None, :, None]
        return y

    def backward(self, dy: np.ndarray, need_dx: bool) -> np.ndarray:
        dx = self.mask * dy[:, :, None, :, None]
        n, ho, s, wo, _, c = dx.shape
        return dx.reshape(n, ho * s, wo * s, c)


class _Dense(_Op):
    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        self.in_shape = x.shape
        self.x = x.reshape(len(x), -1)
        return self.x @ self.params["w"] + self.params["b"]

    def backward(self, dy: np.ndarray, need_dx: bool) -> np.ndarray | None:
        self.grads = {"w": self.x.T @ dy, "b": dy.sum(0)}
        return (dy @ self.params["w"].T).reshape(self.in_shape) if need_dx else None


class _Dropout(_Op):
    def __init__(self, rate: float, rng: np.random.Generator) -> None:
        super().__init__()
        self.rate, self.rng = rate, rng

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        if not training:
            return x
        self.mask = (self.rng.random(x.shape, F32) >= self.rate) / F32(1 - self.rate)
        return x * self.mask

    def backward(self, dy: np.ndarray, need_dx: bool) -> np.ndarray:
        return dy * self.mask


def _ops(spec: ModelSpec, weights: list[Params]) -> list[_Op]:
    rng = np.random.default_rng(0)
    ops: list[_Op] = []
    for layer, p in zip(spec.layers, weights, strict=True):
        if isinstance(layer, Conv):
            ops.append(_Conv2d(p, layer.kernel, layer.padding))
            ops += [_BatchNorm(p)] if "gamma" in p else []
            ops.append(_ReLU())
        elif isinstance(layer, MaxPool):
            ops.append(_MaxPool(layer.size))
        elif isinstance(layer, Dense):
            ops += [_Dense(p), _ReLU()] if layer.relu else [_Dense(p)]
        elif isinstance(layer, Dropout):
            ops.append(_Dropout(layer.rate, rng))
    return ops


def _forward(ops: list[_Op], x: np.ndarray, training: bool) -> np.ndarray:
    for op in ops:
        x = op.forward(x, training)
    return x


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


class Runner:
    def __init__(self, spec: ModelSpec, weights: list[Params]) -> None:
        self.spec = spec
        self.weights = [{k: v.copy() for k, v in p.items()} for p in weights]
        self.ops = _ops(spec, self.weights)
        self.velocity: dict[tuple[int, str], np.ndarray] = {}

    def train_step(self, x: np.ndarray, y: np.ndarray) -> Callable[[], object]:
        return lambda: self._step(x, y)

    def _step(self, x: np.ndarray, y: np.ndarray) -> None:
        d_logits = _softmax(_forward(self.ops, x, True))  # softmax cross-entropy's gradient:
        d_logits[np.arange(len(y)), y] -= 1  # (p - onehot(y)) / n
        dy: np.ndarray | None = d_logits / len(y)
        for i in range(len(self.ops) - 1, -1, -1):
            assert dy is not None
            dy = self.ops[i].backward(dy, need_dx=i > 0)
        lr, mu = self.spec.lr, self.spec.momentum
        for i, op in enumerate(self.ops):
            for k, g in op.grads.items():
                v = self.velocity.setdefault((i, k), np.zeros_like(g))
                v *= mu
                v += g
                op.params[k] -= lr * v

    def predict(self, x: np.ndarray) -> Callable[[], np.ndarray]:
        ops = _ops(self.spec, fold_bn(self.weights))
        return lambda: _softmax(_forward(ops, x, False))
