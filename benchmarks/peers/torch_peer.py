"""PyTorch, eager, NCHW: nn.Conv2d / BatchNorm2d / Linear from the spec; torch.optim.SGD with
momentum; inference in eval mode under inference_mode with batch norm folded into the convs.
`device="cuda"` runs it on the GPU (benchmarks/cuda.py): a training step then waits for the
device before it returns, as graphnet's Session.run does."""

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


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


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
                    p["w"] = _numpy(module.weight).transpose(2, 3, 1, 0)
                    if module.bias is not None:
                        p["b"] = _numpy(module.bias)
                elif isinstance(module, nn.BatchNorm2d):
                    p["gamma"], p["beta"] = _numpy(module.weight), _numpy(module.bias)
                    p["mean"], p["var"] = _numpy(module.running_mean), _numpy(module.running_var)
                elif isinstance(module, nn.Linear):
                    p["w"] = dense_rows_nchw(_numpy(module.weight).T, shape, inverse=True)
                    p["b"] = _numpy(module.bias)
            out.append({k: np.array(v, np.float32) for k, v in p.items()})
        return out


class Runner:
    def __init__(self, spec: ModelSpec, weights: list[Params], device: str = "cpu") -> None:
        self.spec = spec
        self.device = torch.device(device)
        self.net = _Network(spec, weights).to(self.device)
        self.optimizer = torch.optim.SGD(self.net.parameters(), lr=spec.lr, momentum=spec.momentum)

    def train_step(self, x: np.ndarray, y: np.ndarray) -> Callable[[], object]:
        images = _images(x).to(self.device)
        labels = torch.from_numpy(y.astype(np.int64)).to(self.device)
        net, optimizer = self.net.train(), self.optimizer
        on_gpu = self.device.type == "cuda"

        def step() -> None:
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(net(images), labels).backward()
            optimizer.step()
            if on_gpu:
                torch.cuda.synchronize()

        return step

    def predict(self, x: np.ndarray) -> Callable[[], np.ndarray]:
        net = _Network(self.spec, fold_bn(self.net.weights())).to(self.device).eval()
        images = _images(x).to(self.device)

        def predict() -> np.ndarray:
            with torch.inference_mode():
                return _numpy(torch.softmax(net(images), dim=1))

        return predict
