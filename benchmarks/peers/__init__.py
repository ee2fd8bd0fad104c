"""The implementations compared by benchmarks.run, one module per framework.

Each module defines `versions() -> dict[str, str]`, `configure(threads: int) -> None` (called
once, before anything runs) and a `Runner(spec, weights, **options)` class with

``train_step(x, y) -> Callable[[], object] | None``
    a closure doing one training step (forward, backward, momentum-SGD update) on the batch
    (x, y), which it converts to the framework's own form once, outside the closure; None when
    the framework does not train (ONNX Runtime);
``predict(x) -> Callable[[], np.ndarray]``
    a closure returning the softmax probabilities of x in inference mode with batch norm
    folded (no dropout), from the runner's current weights;

and may define ``prepare(fn) -> None``, called once before a closure of the runner is timed
(graphnet: run it until its plan is compiled whole) and a list of strings ``notes`` (what the
report should say about the runner: kernel fallbacks, plans not compiled whole).

The modules import their framework at import time: a missing framework is an ImportError,
which benchmarks.run reports and goes on without that peer.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol

import numpy as np


class Runner(Protocol):
    def train_step(self, x: np.ndarray, y: np.ndarray) -> Callable[[], object] | None: ...

    def predict(self, x: np.ndarray) -> Callable[[], np.ndarray]: ...


@dataclass(frozen=True)
class Peer:
    """A column of the benchmark: a module of this package and the options of its Runner."""

    name: str
    module: str
    options: dict[str, Any] = field(default_factory=dict)
    is_graphnet: bool = False

    def load(self) -> ModuleType:
        return importlib.import_module(f"{__name__}.{self.module}")


PEERS = (
    Peer("graphnet-cpu", "graphnet_peer", {"backend": "cpu"}, is_graphnet=True),
    Peer("graphnet-ref", "graphnet_peer", {"backend": "reference"}, is_graphnet=True),
    Peer("pytorch", "torch_peer"),
    Peer("tensorflow", "tf_peer"),
    Peer("onnxruntime", "ort_peer"),
    Peer("numpy", "numpy_peer"),
)

#: The columns of benchmarks/cuda.py (a GPU machine).
CUDA_PEERS = (
    Peer("graphnet-cuda", "graphnet_peer", {"backend": "cuda"}, is_graphnet=True),
    Peer("pytorch-cuda", "torch_peer", {"device": "cuda"}),
)
