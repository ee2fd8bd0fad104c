"""Times graphnet against other frameworks, side by side in one process, with 2 threads each.

Peers: graphnet on its cpu (Numba) and reference (NumPy) backends, PyTorch (eager),
TensorFlow (tf.compat.v1 graph + Session), ONNX Runtime (inference only) and a plain-NumPy
im2col implementation (benchmarks.peers). Models (benchmarks.spec): an MLP, a LeNet-style CNN
with BN, a small VGG with BN and the classic Keras CNN. Tasks: a training step (forward,
backward, momentum-SGD update), batch inference (BN folded) and batch-1 inference latency;
medians over repeated steps after warm-up.

Every peer builds the same architecture from the same NumPy weights; before timing, each
one's inference output is compared with graphnet-cpu's (initial weights, and for models
without dropout again after one training step). A peer that is not installed is reported and
left out.

    python benchmarks/run.py [--models mlp,lenet] [--tasks train,infer] [--peers ...]
                             [--repeat N] [--warmup N] [--budget S] [--out DIR] [--quick]

Prints the table, the targets of the performance issue and the checks; writes
DIR/results.json (machine, versions, every sample) and DIR/results.png. The thread count of
every library is BENCH_THREADS (default 2; benchmarks.threads). Peers run one after the other
within a model, so that one library's spinning thread pool does not steal the cores of the
next; run it on a quiet machine: with other load on the cores, the 2-thread BLAS and OpenMP
pools stall at their barriers and the medians mean little.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

if not __package__:  # run as a script: import from the repository root, not from benchmarks/
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from benchmarks import threads

THREADS = threads.configure()  # before NumPy and the frameworks are imported

import argparse  # noqa: E402
import traceback  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks import report  # noqa: E402
from benchmarks.peers import PEERS, Peer, Runner  # noqa: E402
from benchmarks.spec import MODELS, ModelSpec, batch_data, count_params, init_weights  # noqa: E402
from benchmarks.timing import measure  # noqa: E402

TASKS = ("train", "infer", "latency")
RTOL, ATOL = 1e-3, 1e-4


def load_peers(
    names: list[str], candidates: tuple[Peer, ...] = PEERS
) -> tuple[dict[str, tuple[Peer, ModuleType]], dict[str, str]]:
    """The importable peers among `names` (configured for THREADS), and why the others are
    missing."""
    available, missing = {}, {}
    configured: set[str] = set()
    for peer in candidates:
        if peer.name not in names:
            continue
        try:
            module = peer.load()
        except ImportError as err:
            missing[peer.name] = f"{type(err).__name__}: {err}"
            continue
        if peer.module not in configured:
            module.configure(THREADS)
            configured.add(peer.module)
        available[peer.name] = (peer, module)
    return available, missing


@dataclass
class Outcome:
    results: list[report.Measurement] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)

    def note(self, peer: str, text: str) -> None:
        self.notes.setdefault(peer, []).append(text)


def check(
    spec: ModelSpec, runners: dict[str, Runner], x: np.ndarray, y: np.ndarray, out: Outcome
) -> None:
    """Compares every runner's inference output with graphnet-cpu's (or the first runner's):
    on the initial weights, then after one training step of each runner that trains (not for
    models with dropout, whose masks differ between frameworks). A runner that fails is noted
    and removed from `runners`."""
    reference = report.SUBJECT if report.SUBJECT in runners else next(iter(runners))

    def outputs(stage: str, fn: Callable[[Runner], np.ndarray | None]) -> None:
        values = {}
        for name, runner in list(runners.items()):
            try:
                value = fn(runner)
            except Exception:
                out.note(name, f"{spec.name} {stage}: failed, left out: {traceback.format_exc()}")
                del runners[name]
                continue
            if value is not None:
                values[name] = value
        expected = values.get(reference)
        for name, value in values.items():
            if name == reference or expected is None:
                continue
            same = value.shape == expected.shape
            out.checks.append(
                {
                    "model": spec.name,
                    "stage": stage,
                    "peer": name,
                    "against": reference,
                    "max_abs_diff": float(np.abs(value - expected).max()) if same else None,
                    "ok": same and bool(np.allclose(value, expected, RTOL, ATOL)),
                }
            )

    def step_then_predict(runner: Runner) -> np.ndarray | None:
        step = runner.train_step(x, y)
        if step is None:
            return None
        step()
        return runner.predict(x)()

    outputs("initial weights", lambda runner: runner.predict(x)())
    if not spec.has_dropout:
        outputs("after 1 step", step_then_predict)


def closure(runner: Runner, task: str, x: np.ndarray, y: np.ndarray) -> Callable[[], Any] | None:
    if task == "train":
        return runner.train_step(x, y)
    return runner.predict(x if task == "infer" else x[:1])


def bench_model(
    spec: ModelSpec, peers: dict[str, tuple[Peer, ModuleType]], args: argparse.Namespace
) -> Outcome:
    """Builds every peer's runner of `spec`, checks their outputs agree, then times each task,
    one peer after the other (so that a peer's thread pools run alone). A peer that fails is
    noted and left out."""
    out = Outcome()
    weights = init_weights(spec)
    x, y = batch_data(spec, spec.batch)
    print(f"[{spec.name}] {spec.title}: {count_params(weights):,} parameters, batch {spec.batch}")
    runners: dict[str, Runner] = {}
    for name, (peer, module) in peers.items():
        try:
            runners[name] = module.Runner(spec, weights, **peer.options)
        except Exception:
            out.note(name, f"{spec.name}: failed to build: {traceback.format_exc()}")
    if runners:
        check(spec, runners, x, y, out)
    for row in out.checks:
        if not row["ok"]:
            print(
                f"[{spec.name}] MISMATCH {row['peer']} vs {row['against']} ({row['stage']}): "
                f"max abs diff {row['max_abs_diff']}"
            )
    for name, runner in runners.items():
        for task in args.tasks:
            try:
                fn = closure(runner, task, x, y)
                if fn is None:
                    continue
                if hasattr(runner, "prepare"):
                    runner.prepare(fn)
                samples = measure(fn, args.warmup, args.repeat, args.budget)
            except Exception:
                out.note(name, f"{spec.name} {task}: failed: {traceback.format_exc()}")
                continue
            out.results.append(report.Measurement(spec.name, task, name, samples))
            print(
                f"[{spec.name}] {task:<8} {name:<13} {out.results[-1].median_ms:10.3f} ms "
                f"(median of {len(samples)})",
                flush=True,
            )
        for text in getattr(runner, "notes", []):
            out.note(name, f"{spec.name}: {text}")
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    peers, missing = load_peers(args.peers)
    for name, why in missing.items():
        print(f"peer {name} is missing: {why}")
    versions = {k: v for _, module in peers.values() for k, v in module.versions().items()}
    machine = report.machine_info(versions, THREADS)
    print(
        f"machine: {machine['cpu']} ({machine['cpu_family_model']}, {' '.join(machine['simd'])}), "
        f"{machine['usable_cores']} usable cores, {THREADS} threads, load "
        f"{machine['load_average']}\nversions: "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + "\nenvironment: "
        + " ".join(f"{k}={v}" for k, v in machine["environment"].items())
    )
    total = Outcome()
    for model in args.models:
        outcome = bench_model(MODELS[model], peers, args)
        total.results += outcome.results
        total.checks += outcome.checks
        for name, lines in outcome.notes.items():
            total.notes.setdefault(name, []).extend(lines)
    machine["load_average_end"] = os.getloadavg()
    write_outputs(
        args,
        total,
        machine,
        missing,
        [p.name for p, _ in peers.values()],
        [p.name for p, _ in peers.values() if p.is_graphnet],
    )
    return 0


def write_outputs(
    args: argparse.Namespace,
    outcome: Outcome,
    machine: dict[str, Any],
    missing: dict[str, str],
    peers: list[str],
    graphnet: list[str],
) -> None:
    """Prints the table, the targets, the checks and the notes; writes the JSON and chart."""
    names = [n for n in peers if any(m.peer == n for m in outcome.results)]
    targets = report.check_targets(outcome.results)
    print(f"\n{report.table(outcome.results, names, graphnet)}\n")
    print(report.targets_text(targets))
    bad = [c for c in outcome.checks if not c["ok"]]
    print(
        f"\naccuracy checks: {len(outcome.checks) - len(bad)} of {len(outcome.checks)} match "
        f"graphnet-cpu's output (rtol {RTOL}, atol {ATOL})"
    )
    for c in bad:
        print(f"  MISMATCH {c['model']} {c['peer']} ({c['stage']}): {c['max_abs_diff']}")
    for name, why in missing.items():
        print(f"missing peer {name}: {why}")
    for name, lines in outcome.notes.items():
        for line in dict.fromkeys(lines):
            print(f"note {name}: {line}")
    print(f"load average {machine['load_average']} at start, {machine['load_average_end']} at end")
    args.out.mkdir(parents=True, exist_ok=True)
    config = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    report.write_json(
        args.out / "results.json",
        outcome.results,
        machine=machine,
        config=config,
        missing=missing,
        checks=outcome.checks,
        targets=targets,
        notes=outcome.notes,
    )
    charted = report.chart(args.out / "results.png", outcome.results, names)
    chart = f" and {args.out / 'results.png'}" if charted else " (no chart: no matplotlib)"
    print(f"wrote {args.out / 'results.json'}{chart}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = lambda allowed: lambda s: _names(s, allowed)
    parser.add_argument(
        "--models",
        type=names(tuple(MODELS)),
        default=list(MODELS),
        help=f"comma-separated, of {', '.join(MODELS)}",
    )
    parser.add_argument(
        "--tasks",
        type=names(TASKS),
        default=list(TASKS),
        help=f"comma-separated, of {', '.join(TASKS)}",
    )
    peer_names = tuple(p.name for p in PEERS)
    parser.add_argument(
        "--peers",
        type=names(peer_names),
        default=list(peer_names),
        help=f"comma-separated, of {', '.join(peer_names)}",
    )
    parser.add_argument("--repeat", type=int, default=50, help="timed steps (default 50)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (default 5)")
    parser.add_argument(
        "--budget",
        type=float,
        default=10.0,
        help="seconds per measurement before a slow peer stops early",
    )
    parser.add_argument("--out", type=Path, default=Path("build/bench"))
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a short run for development: --repeat 5 --warmup 1 --budget 1",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat, args.warmup, args.budget = 5, 1, 1.0
    return args


def _names(text: str, allowed: tuple[str, ...]) -> list[str]:
    chosen = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in allowed]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {unknown}; choose from {', '.join(allowed)}")
    return chosen


if __name__ == "__main__":
    sys.exit(main())
