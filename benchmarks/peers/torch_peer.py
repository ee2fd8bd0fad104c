"""PyTorch, eager, NCHW: nn.Conv2d / BatchNorm2d / Linear from the spec; torch.optim.SGD with
momentum; inference in eval mode under inference_mode with batch norm folded into the convs."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.spec import (
    BN_EPSILON,
    BN_MOMENTUM,
    Conv,
    Dense,
    Dropout,
    MaxPool,
    ModelSpec,
    Params,
    dense_rows_nchw,
    fold_bn,
    input_shapes,
)


def versions() -> dict[str, str]:
    return {"torch": torch.__version__}


def configure(threads: int) -> None:
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(threads)


def _tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, np.float32))


def _images(x: np.ndarray) -> torch.Tensor:
    return _tensor(x.transpose(0, 3, 1, 2) if x.ndim == 4 else x)


class _Network(nn.Module):
    """The spec's layers; `parts[i]` holds the modules with layer i's parameters."""

    def __init__(self, spec: ModelSpec, weights: list[Params]) -> None:
        super().__init__()
        self.parts: list[list[nn.Module]] = []
        modules: list[nn.Module] = []
        for layer, p, shape in zip(spec.layers, weights, input_shapes(spec), strict=True):
            part: list[nn.Module] = []
            if isinstance(layer, Conv):
                k, cin, cout = layer.kernel, shape[-1], layer.filters
                padding = "same" if layer.padding == "SAME" else 0
                conv = nn.Conv2d(cin, cout, k, padding=padding, bias="b" in p)
                conv.weight.data = _tensor(p["w"].transpose(3, 2, 0, 1))
                if "b" in p:
                    conv.bias.data = _tensor(p["b"])
                part.append(conv)
                if "gamma" in p:
                    bn = nn.BatchNorm2d(cout, eps=BN_EPSILON, momentum=1.0 - BN_MOMENTUM)
                    bn.weight.data, bn.bias.data = _tensor(p["gamma"]), _tensor(p["beta"])
                    bn.running_mean.data = _tensor(p["mean"])
                    bn.running_var.data = _tensor(p["var"])
                    part.append(bn)
                modules += [*part, nn.ReLU()]
            elif isinstance(layer, MaxPool):
                modules.append(nn.MaxPool2d(layer.size))
            elif isinstance(layer, Dense):
                if len(shape) == 3:
                    modules.append(nn.Flatten())
                linear = nn.Linear(*p["w"].shape)
                part.append(linear)
                linear.weight.data = _tensor(dense_rows_nchw(p["w"], shape).T)
                linear.bias.data = _tensor(p["b"])
                modules += [linear, nn.ReLU()] if layer.relu else [linear]
            elif isinstance(layer, Dropout):
                modules.append(nn.Dropout(layer.rate))
            self.parts.append(part)
        self.body = nn.Sequential(*modules)
        self.shapes = input_shapes(spec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def weights(self) -> list[Params]:
        """The current weights in the spec's layout."""
        out = []
        for part, shape in zip(self.parts, self.shapes, strict=True):
            p: Params = {}
            for module in part:
                if isinstance(module, nn.Conv2d):
                    p["w"] = module.weight.detach().numpy().transpose(2, 3, 1, 0)
                    if module.bias is not None:
                        p["b"] = module.bias.detach().numpy()
                elif isinstance(module, nn.BatchNorm2d):
                    p["gamma"] = module.weight.detach().numpy()
                    p["beta"] = module.bias.detach().numpy()
                    p["mean"], p["var"] = module.running_mean.numpy(), module.running_var.numpy()
                elif isinstance(module, nn.Linear):
                    w = module.weight.detach().numpy().T
                    p["w"] = dense_rows_nchw(w, shape, inverse=True)
                    p["b"] = module.bias.detach().numpy()
            out.append({k: np.array(v, np.float32) for k, v in p.items()})
        return out


class Runner:
    def __init__(self, spec: ModelSpec, weights: list[Params]) -> None:
        self.spec = spec
        self.net = _Network(spec, weights)
        self.optimizer = torch.optim.SGD(self.net.parameters(), lr=spec.lr, momentum=spec.momentum)

    def train_step(self, x: np.ndarray, y: np.ndarray) -> Callable[[], object]:
        images, labels = _images(x), torch.from_numpy(y.astype(np.int64))
        net, optimizer = self.net.train(), self.optimizer

        def step() -> None:
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(net(images), labels).backward()
            optimizer.step()

        return step

    def predict(self, x: np.ndarray) -> Callable[[], np.ndarray]:
        net = _Network(self.spec, fold_bn(self.net.weights())).eval()
        images = _images(x)

        def predict() -> np.ndarray:
            with torch.inference_mode():
                return torch.softmax(net(images), dim=1).numpy()

        return predict
