"""What benchmarks.run reports: the machine, the table of medians and ratios, the targets of
the performance issue, the JSON file and the bar chart."""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.spec import MODELS

TASK_TITLES = {
    "train": "training step",
    "infer": "batch inference",
    "latency": "batch-1 latency",
}


@dataclass
class Measurement:
    model: str
    task: str
    peer: str
    samples_ms: list[float]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples_ms)


@dataclass(frozen=True)
class Target:
    """graphnet-cpu's median over the fastest of `peers` (`speedup`: theirs over graphnet's)
    must be at most (at least) `limit` on `task` for each of `models`."""

    task: str
    models: tuple[str, ...]
    peers: tuple[str, ...]
    limit: float
    speedup: bool = False

    def describe(self) -> str:
        peers = "/".join(self.peers)
        if self.speedup:
            return f"{self.task}: >= {self.limit:g}x faster than {peers}"
        best = "the faster of " if len(self.peers) > 1 else ""
        return f"{self.task}: <= {self.limit:g}x {best}{peers}"


ALL_MODELS = tuple(MODELS)
TARGETS = (
    Target("train", ("mlp", "lenet", "keras_cnn"), ("pytorch", "tensorflow"), 1.0),
    Target("train", ("vgg",), ("pytorch", "tensorflow"), 1.25),
    Target("infer", ALL_MODELS, ("onnxruntime",), 1.5),
    Target("latency", ("mlp", "lenet"), ("onnxruntime",), 1.0),
    Target("train", ALL_MODELS, ("numpy",), 5.0, speedup=True),
)
SUBJECT = "graphnet-cpu"


#: Environment variables that change how the libraries run (recorded with the results).
PERFORMANCE_ENV = ("OPENBLAS_", "OMP_", "GOMP_", "KMP_", "MKL_", "NUMBA_", "TF_ENABLE_",
                   "TF_NUM_", "TF_CPP_", "BENCH_", "GRAPHNET_")  # fmt: skip


def machine_info(versions: dict[str, str], threads: int) -> dict[str, Any]:
    """CPU model and vector extensions, cores, load, OS, Python, the libraries' versions and
    the environment variables that steer them (OPENBLAS_CORETYPE picks OpenBLAS's kernels)."""
    cpuinfo: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            cpuinfo.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    flags = set(cpuinfo.get("flags", "").split())
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpuinfo.get("model name") or platform.processor() or "unknown",
        "cpu_family_model": f"{cpuinfo.get('cpu family', '?')}/{cpuinfo.get('model', '?')}",
        "simd": [f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile") if f in flags],
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "threads": threads,
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "environment": {
            k: v for k, v in sorted(os.environ.items()) if k.startswith(PERFORMANCE_ENV)
        },
    }


def _medians(results: Sequence[Measurement]) -> dict[tuple[str, str], dict[str, float]]:
    rows: dict[tuple[str, str], dict[str, float]] = {}
    for m in results:
        rows.setdefault((m.model, m.task), {})[m.peer] = m.median_ms
    return rows


def _best_peer(row: dict[str, float], graphnet: Sequence[str]) -> float:
    """The fastest median among the non-graphnet peers of a row (of all, if none ran)."""
    peers = [v for k, v in row.items() if k not in graphnet] or list(row.values())
    return min(peers)


def _ms(v: float) -> str:
    return f"{v:.3f}" if v < 10 else f"{v:.1f}"


def table(results: Sequence[Measurement], peers: Sequence[str], graphnet: Sequence[str]) -> str:
    """Median milliseconds per model, task and peer, each with its ratio to the row's fastest
    non-graphnet peer (below 1: faster than every other framework)."""
    rows = _medians(results)
    width = max(15, *(len(p) + 1 for p in peers))
    lines = [
        "median ms per step (ratio to the fastest non-graphnet peer of the row)",
        f"{'model':<10} {'task':<8}" + "".join(f"{p:>{width}}" for p in peers),
    ]
    for (model, task), row in rows.items():
        best = _best_peer(row, graphnet)
        cells = [f"{_ms(row[p])} ({row[p] / best:.2f})" if p in row else "-" for p in peers]
        lines.append(f"{model:<10} {task:<8}" + "".join(f"{c:>{width}}" for c in cells))
    return "\n".join(lines)


def check_targets(results: Sequence[Measurement]) -> list[dict[str, Any]]:
    """Each target on each model that ran: the ratio reached, the limit and whether it is met
    (None where graphnet-cpu or every peer of the target did not run)."""
    rows = _medians(results)
    out = []
    for target in TARGETS:
        for model in target.models:
            if (model, target.task) not in rows:  # not asked for in this run
                continue
            row = rows[model, target.task]
            theirs = [row[p] for p in target.peers if p in row]
            ratio = met = None
            if SUBJECT in row and theirs:
                ratio = (
                    (min(theirs) / row[SUBJECT]) if target.speedup else row[SUBJECT] / min(theirs)
                )
                met = ratio >= target.limit if target.speedup else ratio <= target.limit
            out.append(
                {
                    "target": target.describe(),
                    "model": model,
                    "ratio": ratio,
                    "limit": target.limit,
                    "met": met,
                }
            )
    return out


def targets_text(targets: Sequence[dict[str, Any]]) -> str:
    lines = [f"targets ({SUBJECT}):"]
    for t in targets:
        status = {True: "met", False: "MISSED", None: "not measured"}[t["met"]]
        ratio = "-" if t["ratio"] is None else f"{t['ratio']:.2f}x"
        lines.append(f"  {t['target']:<52} {t['model']:<10} {ratio:>8}  {status}")
    return "\n".join(lines)


def write_json(path: Path, results: Sequence[Measurement], **sections: Any) -> None:
    data = {
        **sections,
        "results": [{**asdict(m), "median_ms": m.median_ms} for m in results],
    }
    path.write_text(json.dumps(data, indent=1, default=str) + "\n")


def chart(path: Path, results: Sequence[Measurement], peers: Sequence[str]) -> bool:
    """A bar chart per task (models x peers, log scale) as PNG; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    rows = _medians(results)
    tasks = list(dict.fromkeys(task for _, task in rows))
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4.5), squeeze=False)
    width = 0.8 / max(len(peers), 1)
    for ax, task in zip(axes[0], tasks, strict=True):
        models = [m for m, t in rows if t == task]
        for j, peer in enumerate(peers):
            heights = [rows[m, task].get(peer, float("nan")) for m in models]
            ax.bar([i + j * width for i in range(len(models))], heights, width, label=peer)
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(models))], models)
        ax.set_yscale("log")
        ax.set_ylabel("median ms")
        ax.set_title(TASK_TITLES.get(task, task))
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True
