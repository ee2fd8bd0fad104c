"""Compile time: from interpreter start to the end of the first training step of the
LeNet-style model (batch 64, cpu backend), in a new process with an empty cache (cold) and
again in a new process with the cache that run left (warm). Targets: warm <= 2 s, cold <= 30 s.

Each child imports graphnet, builds the model, creates the Session, runs the initializer and
one training step (the first step, timed), then keeps training until the plan runs as one
compiled function (the cpu backend compiles it whole after `compile_after` runs, or at once
when its source is already cached), so that the cold run leaves in the cache what a training
run leaves and the warm run shows how soon the whole-plan mode starts.

    python benchmarks/compile_time.py [--cache-dir DIR] [--runs N]
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
import json  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

CACHE_ENV = "GRAPHNET_CACHE_DIR"  # graphnet.backends.cpu.cache.CACHE_ENV
TARGETS_S = {"cold": 30.0, "warm": 2.0}
MILESTONES = ("import", "build", "init", "first step")


def child() -> None:
    """Runs in the measured process: prints one JSON line of wall-clock milestones."""
    stamps = {}
    import numpy as np

    import graphnet as gn
    from benchmarks.models import lenet
    from benchmarks.spec import LENET, batch_data

    stamps["import"] = time.time()
    model = lenet()
    x, y = batch_data(LENET, LENET.batch)
    feed = {model.images: x, model.labels: y}
    stamps["build"] = time.time()
    sess = gn.Session(backend="cpu")
    sess.run(gn.global_variables_initializer())
    stamps["init"] = time.time()
    sess.run(model.train_op, feed)
    stamps["first step"] = time.time()
    steps = 1
    # NOTE: `_executables` is private; read to know when the plan runs compiled whole.
    while steps < 200 and not any(
        e.mode == "plan" for e in sess._executables.values() if e.plan.feeds
    ):
        sess.run(model.train_op, feed)
        steps += 1
    stamps["whole plan"] = time.time()
    loss = float(sess.run(model.loss, feed))
    print(json.dumps({"stamps": stamps, "steps": steps, "finite": bool(np.isfinite(loss))}))


def measure(cache_dir: Path) -> dict:
    """Starts a child with GRAPHNET_CACHE_DIR=cache_dir; its milestones in seconds since the
    spawn."""
    env = {**os.environ, CACHE_ENV: str(cache_dir)}
    env.pop("NUMBA_CACHE_DIR", None)  # graphnet puts Numba's cache into its cache directory
    command = [sys.executable, str(Path(__file__).resolve()), "--child"]
    start = time.time()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the child failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["since_start"] = {k: v - start for k, v in result.pop("stamps").items()}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", type=Path, help="default: a fresh temporary directory")
    parser.add_argument("--runs", type=int, default=1, help="warm runs (default 1)")
    args = parser.parse_args(argv)
    if args.child:
        child()
        return 0
    with tempfile.TemporaryDirectory(prefix="gn-cache-") as tmp:
        cache = args.cache_dir or Path(tmp)
        if cache.exists() and any(cache.iterdir()):
            print(f"note: {cache} is not empty: the first run is not a cold start")
        runs = [("cold", measure(cache))]
        runs += [("warm", measure(cache)) for _ in range(args.runs)]
    print("seconds from spawning the interpreter (LeNet-style CNN + BN, batch 64, cpu backend)")
    print(f"{'run':<6}" + "".join(f"{m:>12}" for m in (*MILESTONES, "whole plan")) + "  target")
    for name, r in runs:
        t = r["since_start"]
        first = t["first step"]
        status = "met" if first <= TARGETS_S[name] else "MISSED"
        print(
            f"{name:<6}"
            + "".join(f"{t[m]:>12.2f}" for m in (*MILESTONES, "whole plan"))
            + f"  first step <= {TARGETS_S[name]:g} s: {status}"
            + f" (whole plan after {r['steps']} steps)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
