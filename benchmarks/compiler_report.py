"""What the compiler does to the LeNet-style CNN with BN (28x28x1, batch 64): node counts
after each pass and planned arena bytes against naive bytes, for the inference and the
training plan at each optimization level.

    python benchmarks/compiler_report.py [--batch 64]
"""

from __future__ import annotations

import argparse

import numpy as np

import graphnet as gn
from benchmarks.models import lenet


def main(batch: int = 64) -> None:
    model = lenet()
    feeds = {model.images: (batch, *model.input_shape), model.labels: (batch,)}
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        frozen = sess.variable_values()
    runs = {
        "inference": ([model.probabilities], {model.images: feeds[model.images]}, True),
        "training": ([model.loss, model.train_op], feeds, False),
    }
    for what, (fetches, shapes, inference) in runs.items():
        for level in ("O0", "O1", "O2"):
            variables = frozen if inference and level == "O2" else None
            ctx = gn.compiler.PassContext(level, inference=inference, variables=variables)
            plan = gn.compiler.compile(model.images.graph, fetches, shapes, ctx)
            report = plan.memory_report()
            print(f"\n== {what} plan, {level}{' (variables frozen)' if variables else ''}: "
                  f"{len(plan.steps)} steps; arena {report.arena_bytes:,} B of naive "
                  f"{report.naive_bytes:,} B = {report.ratio:.1%}")  # fmt: skip
            print(gn.compiler.explain(plan))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    np.set_printoptions(precision=3)
    main(parser.parse_args().batch)
