"""Where graphnet-cpu's time goes: the training (or inference) plan of one benchmark model run
step by step on the cpu backend, each step timed alone (median over repeats), summed by op;
next to the whole-plan time, the model's FLOPs and the machine's GEMM rate (np.dot on the
model's im2col / dense shapes), i.e. how far the step is from a GEMM-bound one.

    python benchmarks/profile_plan.py [--model lenet] [--task train|infer] [--repeat 30]
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:  # run as a script: import from the repository root, not from benchmarks/
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from benchmarks import threads

THREADS = threads.configure()  # before NumPy and the frameworks are imported

import argparse  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402

import numpy as np  # noqa: E402

import graphnet as gn  # noqa: E402
from benchmarks.models import build  # noqa: E402
from benchmarks.spec import (  # noqa: E402
    MODELS,
    Conv,
    Dense,
    ModelSpec,
    batch_data,
    init_weights,
    input_shapes,
    output_shapes,
)
from graphnet.backends.cpu.executable import CpuExecutable  # noqa: E402


def gemm_shapes(spec: ModelSpec, batch: int) -> list[tuple[str, int, int, int]]:
    """(layer, m, k, n) of each conv's im2col GEMM and each dense layer's GEMM (forward)."""
    shapes = []
    for i, (layer, cin, out) in enumerate(
        zip(spec.layers, input_shapes(spec), output_shapes(spec), strict=True)
    ):
        if isinstance(layer, Conv):
            m, k = batch * out[0] * out[1], layer.kernel**2 * cin[-1]
            shapes.append((f"{i}:conv{layer.kernel}x{layer.kernel}", m, k, layer.filters))
        elif isinstance(layer, Dense):
            shapes.append((f"{i}:dense", batch, int(np.prod(cin)), layer.units))
    return shapes


def gflops(m: int, k: int, n: int, repeat: int = 20) -> float:
    """np.dot's rate on float32 [m, k] @ [k, n], median of `repeat`."""
    a = np.random.default_rng(0).random((m, k), np.float32)
    b = np.random.default_rng(1).random((k, n), np.float32)
    out = np.empty((m, n), np.float32)
    samples = []
    for _ in range(repeat + 3):
        t0 = time.perf_counter()
        np.dot(a, b, out)
        samples.append(time.perf_counter() - t0)
    return 2 * m * k * n / statistics.median(samples[3:]) / 1e9


def step_times(exe: CpuExecutable, feeds: dict, variables: dict, repeat: int) -> dict:
    """Median seconds of each step of the executable run step by step."""
    # NOTE: private members of CpuExecutable: this is a development tool.
    slots = exe._fill(feeds, variables)
    samples: dict[int, list[float]] = defaultdict(list)
    for _ in range(repeat + 1):
        for i, bound in enumerate(exe._steps):
            t0 = time.perf_counter()
            exe._run_step(bound, slots)
            samples[i].append(time.perf_counter() - t0)
    return {i: statistics.median(s[1:]) for i, s in samples.items()}


def whole_time(exe: CpuExecutable, feeds: dict, variables: dict, repeat: int) -> float:
    exe.compile_whole()
    exe.run(feeds, variables)
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        exe.run(feeds, variables)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=tuple(MODELS), default="lenet")
    parser.add_argument("--task", choices=("train", "infer"), default="train")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    spec = MODELS[args.model]
    x, y = batch_data(spec, spec.batch)
    with gn.Graph().as_default():
        model = build(spec, init_weights(spec))
        sess = gn.Session(backend="cpu")
        sess.run(gn.global_variables_initializer())
        if args.task == "train":
            feed = {model.images: x, model.labels: y}
            plan = sess.compiled_plan(model.train_op, feed)
        else:  # the exported plan, as benchmarks.run times it (BN folded)
            feed = {model.images: x}
            with tempfile.TemporaryDirectory() as tmp:
                path = gn.export.save_plan(
                    sess, model.probabilities, model.images, Path(tmp) / "plan", batch_size=len(x)
                )
                plan = gn.runtime.load_plan(path).executable.plan
    feeds = {plan.feeds[t.name]: v for t, v in feed.items()}
    exe = CpuExecutable(plan, mode="steps")
    variables = sess.variable_values()
    times = step_times(exe, feeds, variables, args.repeat)
    total_steps = sum(times.values())
    whole = whole_time(exe, feeds, variables, args.repeat)
    by_op: dict[str, list[float]] = defaultdict(list)
    for i, t in times.items():
        by_op[plan.steps[i].op].append(t)
    print(f"{spec.title}, {args.task}, batch {spec.batch}: {len(plan.steps)} steps")
    print(f"whole plan {whole * 1e3:.3f} ms; steps one by one {total_steps * 1e3:.3f} ms")
    print(f"\n{'op':<34}{'count':>6}{'ms':>10}{'share':>8}")
    for op, ts in sorted(by_op.items(), key=lambda kv: -sum(kv[1]))[: args.top]:
        print(f"{op:<34}{len(ts):>6}{sum(ts) * 1e3:>10.3f}{sum(ts) / total_steps:>8.1%}")
    print(f"\n{'slowest steps':<58}{'ms':>10}")
    for i in sorted(times, key=lambda i: -times[i])[: args.top]:
        s = plan.steps[i]
        shapes = " ".join(str(plan.buffers[b].shape) for b in s.inputs[:2])
        print(f"{s.op + ' ' + shapes:<58.58}{times[i] * 1e3:>10.3f}")
    print(f"\n{'GEMM (forward)':<20}{'m':>8}{'k':>6}{'n':>6}{'GFLOP/s':>10}{'ms at rate':>12}")
    flops = 0.0
    for name, m, k, n in gemm_shapes(spec, spec.batch):
        rate = gflops(m, k, n)
        flops += 2 * m * k * n
        print(f"{name:<20}{m:>8}{k:>6}{n:>6}{rate:>10.1f}{2 * m * k * n / rate / 1e6:>12.3f}")
    factor = 3 if args.task == "train" else 1
    big = gflops(1024, 1024, 1024, 5)
    print(
        f"\nforward GEMM FLOPs {flops / 1e6:.1f} M; x{factor} for the task: "
        f"{factor * flops / 1e6:.1f} M = {factor * flops / big / 1e6:.3f} ms at the machine's "
        f"1024^3 np.dot rate of {big:.1f} GFLOP/s; graphnet reaches "
        f"{factor * flops / whole / 1e9:.1f} GFLOP/s"
    )


if __name__ == "__main__":
    main()
