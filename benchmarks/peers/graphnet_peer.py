"""graphnet: training with Session.run(train_op) on the model of benchmarks.models; inference
through an exported plan (gn.export.save_plan: variables frozen, the O2 inference pipeline,
batch norm folded) loaded with gn.runtime.load_plan for the batch size it is run at.

On the cpu backend a plan starts step by step and is compiled into one Numba function after
`compile_after` runs (backends.cpu.executable); `prepare` runs a closure that many times before
it is timed, so that what is timed is the whole-plan mode.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numba
import numpy as np
import scipy  # graphnet's BLAS (np.dot inside Numba) is scipy's

import graphnet as gn
from benchmarks.models import build
from benchmarks.spec import ModelSpec, Params
from graphnet.backends.registry import get_backend


def versions() -> dict[str, str]:
    return {"graphnet": gn.__version__, "numba": numba.__version__, "scipy": scipy.__version__}


def configure(threads: int) -> None:
    numba.set_num_threads(threads)


class Runner:
    def __init__(self, spec: ModelSpec, weights: list[Params], backend: str = "cpu") -> None:
        self.spec = spec
        self.backend = backend
        self.graph = gn.Graph()
        with self.graph.as_default():
            self.model = build(spec, weights)
            init = gn.global_variables_initializer()
        self.sess = gn.Session(graph=self.graph, backend=backend)
        self.sess.run(init)
        self.compile_after: int = getattr(get_backend(backend), "compile_after", 0)
        self.notes: list[str] = []  # fallbacks and plans not compiled whole, for the report
        self._dir = tempfile.TemporaryDirectory(prefix="gn-bench-")
        self._owners: dict[Callable[[], Any], tuple[Any, str]] = {}

    def train_step(self, x: np.ndarray, y: np.ndarray) -> Callable[[], object]:
        feed = {self.model.images: x, self.model.labels: y}
        train_op, run = self.model.train_op, self.sess.run
        step = lambda: run(train_op, feed)
        self._owners[step] = (self.sess, "training")
        return step

    def predict(self, x: np.ndarray) -> Callable[[], np.ndarray]:
        path = Path(self._dir.name) / f"{self.spec.name}-{len(x)}.gnplan"
        gn.export.save_plan(
            self.sess, self.model.probabilities, self.model.images, path, batch_size=len(x)
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            plan = gn.runtime.load_plan(path, backend=self.backend)
        self.notes += [str(w.message) for w in caught]
        output = plan.outputs[0].name
        predict = lambda: plan.run(x)[output]
        self._owners[predict] = (plan, f"inference at batch {len(x)}")
        return predict

    def prepare(self, fn: Callable[[], Any]) -> None:
        """Runs `fn` until its plan is compiled whole (cpu backend), noting if it is not."""
        owner, what = self._owners[fn]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(self.compile_after + 1):
                fn()
        self.notes += [str(w.message) for w in caught]
        if isinstance(owner, gn.Session):
            # NOTE: `_executables` is private; read only to report the mode the timed plans run
            # in (those that take feeds: not the session's variable initializer).
            executables = [e for e in owner._executables.values() if e.plan.feeds]
        else:
            executables = [owner.executable]  # an InferencePlan: the last run's
        modes = {getattr(e, "mode", "?") for e in executables}
        if self.compile_after and modes != {"plan"}:
            self.notes.append(f"{what}: the plan runs step by step ({sorted(modes)})")
