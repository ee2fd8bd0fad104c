"""Helpers for compiler tests: graphs from text, structural comparison, running a program.

A pass test reads like the pass's contract (TVM's before/expected tests):

    counts = check_pass("simplify", before_text, expected_text, feeds={"x": np.ones(3)})

`run_graph` interprets a program graph op by op with the constant evaluator (the reference
kernels, registered when graphnet.backends is imported), so results before and after a pass
can be compared without lowering.
"""

from __future__ import annotations

import difflib
import textwrap
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np

from graphnet.compiler.evaluate import evaluate
from graphnet.compiler.pipeline import PassContext, run_passes
from graphnet.compiler.verify import verify
from graphnet.ir import Attrs, Graph, Tensor
from graphnet.ir.parser import OutputTypes, parse_graph
from graphnet.ir.printer import format_graph
from graphnet.ops.registry import get_op

#: Relative tolerance of result comparisons, by dtype name (others compare exactly).
TOLERANCES = {"float64": 1e-10, "float32": 1e-5}


def infer_types(op: str, inputs: Sequence[Tensor], attrs: Attrs) -> OutputTypes:
    """The output types `op`'s shape rule gives (parse_graph's `infer`)."""
    return get_op(op).infer(inputs, attrs)


def parse(text: str, constants: Mapping[str, np.ndarray] | None = None) -> Graph:
    """parse_graph of (dedented) `text`, every node checked against its op's shape rule."""
    graph = parse_graph(textwrap.dedent(text), constants, infer=infer_types)
    verify(graph, "parse")
    return graph


def assert_graph_equal(
    actual: Graph,
    expected: str | Graph,
    constants: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Raises AssertionError showing both graphs and their diff unless `actual` prints as
    `expected` (a graph, or text that is parsed and printed to normalize its spacing)."""
    want = format_graph(expected if isinstance(expected, Graph) else parse(expected, constants))
    got = format_graph(actual)
    if got != want:
        diff = "\n".join(difflib.unified_diff(want.splitlines(), got.splitlines(), "expected",
                                              "actual", lineterm=""))  # fmt: skip
        raise AssertionError(
            f"graphs differ\n-- actual --\n{got}\n-- expected --\n{want}\n-- diff --\n{diff}"
        )


def run_graph(
    graph: Graph,
    feeds: Mapping[str, object],
    variables: Mapping[str, object] | None = None,
) -> list[np.ndarray | None]:
    """The values of the program's fetch nodes, in fetch order. `feeds` gives placeholders'
    values by node name, `variables` variables' values by name; assignments update those."""
    env: dict[Tensor, np.ndarray] = {}
    state = {k: np.asarray(v) for k, v in (variables or {}).items()}
    fetched: dict[int, np.ndarray | None] = {}
    for node in graph.nodes:
        if node.type == "fetch":
            fetched[node.attrs["index"]] = env[node.inputs[0]] if node.inputs else None
        if node.type in ("fetch", "no_op"):
            continue
        if node.type == "const":
            values: Sequence[object] = [node.attrs["value"]]
        elif node.type in ("placeholder", "variable"):
            source = feeds if node.type == "placeholder" else state
            if node.name not in source:
                raise KeyError(f"run_graph: no value for {node.type} '{node.name}'")
            values = [source[node.name]]
        else:
            values = evaluate(node.type, node.attrs, [env[t] for t in node.inputs])
        for t, v in zip(node.outputs, values, strict=True):
            env[t] = np.asarray(v).astype(t.dtype.np, copy=False)
        written = get_op(node.type).writes_input
        if written is not None:
            target = node.inputs[written]
            env[target] = state[target.node.name] = env[node.outputs[0]]
    return [fetched[i] for i in sorted(fetched)]


def assert_same_results(
    before: Graph,
    after: Graph,
    feeds: Mapping[str, object],
    variables: Mapping[str, object] | None = None,
) -> None:
    """The fetches of both programs agree (float64 to 1e-10, float32 to 1e-5 relative)."""
    want = run_graph(before, feeds, variables)
    got = run_graph(after, feeds, variables)
    assert len(got) == len(want), f"{len(got)} fetches, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if w is None:
            assert g is None, f"fetch {i}: expected no value"
            continue
        assert g is not None and g.dtype == w.dtype and g.shape == w.shape, (
            f"fetch {i}: {None if g is None else (g.dtype, g.shape)} != {(w.dtype, w.shape)}"
        )
        rtol = TOLERANCES.get(w.dtype.name, 0.0)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol, err_msg=f"fetch {i}")


def random_inputs(
    graph: Graph, seed: int = 0
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Random values for the graph's placeholders and variables, by name (unknown dims are 2;
    floats normal, ints in [0, 3), bools fair coins)."""
    rng = np.random.default_rng(seed)
    values: dict[str, dict[str, np.ndarray]] = {"placeholder": {}, "variable": {}}
    for node in graph.nodes:
        if node.type in values:
            t = node.outputs[0]
            shape = tuple(2 if d is None else d for d in t.shape or ())
            if t.dtype.is_floating:
                value = rng.normal(size=shape)
            elif t.dtype.is_integer:
                value = rng.integers(0, 3, size=shape)
            else:
                value = rng.random(size=shape) < 0.5
            values[node.type][node.name] = np.asarray(value, t.dtype.np)
    return values["placeholder"], values["variable"]


def check_pass(
    name: str,
    before: str,
    expected: str,
    feeds: Mapping[str, object] | None = None,
    variables: Mapping[str, object] | None = None,
    ctx: PassContext | None = None,
) -> Counter:
    """Runs pass `name` alone on the parsed `before` text, verifying; asserts the result
    prints as `expected` and computes what `before` computes on `feeds` and `variables`
    (random_inputs where not given). Returns the pass's counters."""
    graph = parse(before)
    ctx = ctx or PassContext()
    ctx.verify = True
    after = run_passes(graph, [name], ctx)
    assert isinstance(after, Graph)
    assert_graph_equal(after, expected)
    random_feeds, random_variables = random_inputs(graph)
    assert_same_results(graph, after, feeds or random_feeds, variables or random_variables)
    return ctx.records[-1].counts
