"""Times graphnet's CUDA backend against PyTorch CUDA (eager) on an NVIDIA GPU.

The models of benchmarks.spec at the GPU batch sizes (256 for the MLP and LeNet, 128 for the
small VGG); tasks: a training step (forward, backward, momentum-SGD update; both frameworks wait
for the device before the step returns) and batch inference (an exported plan on graphnet,
batch norm folded on both). Before timing, the two agree on their inference outputs (initial
weights, then after one training step). Target: a training step within 2x of PyTorch's.

    python benchmarks/cuda.py [--models mlp,lenet,vgg] [--tasks train,infer] [--repeat N]
                              [--warmup N] [--budget S] [--out DIR] [--batch N]

Needs a GPU, numba-cuda (`pip install 'graphnet[cuda]'`) and a CUDA build of PyTorch; a
missing one is reported. Prints the table and the target; writes DIR/results-cuda.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as a script: import from the repository root, not from benchmarks/
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from benchmarks import threads

THREADS = threads.configure()  # before NumPy and the frameworks are imported

import argparse  # noqa: E402
import dataclasses  # noqa: E402

from benchmarks import report, run  # noqa: E402
from benchmarks.peers import CUDA_PEERS  # noqa: E402
from benchmarks.spec import MODELS  # noqa: E402

BATCHES = {"mlp": 256, "lenet": 256, "vgg": 128}
SUBJECT, PEER = "graphnet-cuda", "pytorch-cuda"
TRAIN_TARGET = 2.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(BATCHES), help="comma-separated")
    parser.add_argument("--tasks", default="train,infer", help="comma-separated")
    parser.add_argument("--repeat", type=int, default=50, help="timed steps (default 50)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (default 5)")
    parser.add_argument("--budget", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--out", type=Path, default=Path("build/bench"))
    parser.add_argument(
        "--batch", type=int, help="one batch size for every model (a smoke test on the simulator)"
    )
    args = parser.parse_args(argv)
    args.models = [m for m in args.models.split(",") if m]
    args.tasks = [t for t in args.tasks.split(",") if t]
    unknown = [m for m in args.models if m not in BATCHES] + [
        t for t in args.tasks if t not in ("train", "infer")
    ]
    if unknown:
        parser.error(f"unknown models or tasks: {', '.join(unknown)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    peers, missing = run.load_peers([p.name for p in CUDA_PEERS], CUDA_PEERS)
    for name, why in missing.items():
        print(f"peer {name} is missing: {why}")
    if SUBJECT not in peers:
        return 1
    versions = {k: v for _, module in peers.values() for k, v in module.versions().items()}
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    total = run.Outcome()
    for model in args.models:
        spec = dataclasses.replace(MODELS[model], batch=args.batch or BATCHES[model])
        outcome = run.bench_model(spec, peers, args)
        total.results += outcome.results
        total.checks += outcome.checks
        for name, lines in outcome.notes.items():
            total.notes.setdefault(name, []).extend(lines)
    names = [p.name for p in CUDA_PEERS if p.name in peers]
    print(f"\n{report.table(total.results, names, [SUBJECT])}\n")
    medians = {(m.model, m.task, m.peer): m.median_ms for m in total.results}
    targets = []
    for model in args.models:
        ours, theirs = medians.get((model, "train", SUBJECT)), medians.get((model, "train", PEER))
        if ours is not None and theirs is not None:
            ratio = ours / theirs
            targets.append({"model": model, "ratio": ratio, "met": ratio <= TRAIN_TARGET})
            verdict = "met" if ratio <= TRAIN_TARGET else "MISSED"
            print(f"train: <= {TRAIN_TARGET}x pytorch-cuda  {model:<8} {ratio:5.2f}x  {verdict}")
    bad = [c for c in total.checks if not c["ok"]]
    print(f"accuracy checks: {len(total.checks) - len(bad)} of {len(total.checks)} match")
    for name, lines in total.notes.items():
        for line in dict.fromkeys(lines):
            print(f"note {name}: {line}")
    args.out.mkdir(parents=True, exist_ok=True)
    report.write_json(
        args.out / "results-cuda.json",
        total.results,
        versions=versions,
        missing=missing,
        checks=total.checks,
        targets=targets,
        notes=total.notes,
    )
    print(f"wrote {args.out / 'results-cuda.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
