"""The `graphnet` command line: look at, run, time, make and draw compiled inference plans.

    graphnet inspect FILE        a plan file, a checkpoint (*.index.json) or an ONNX model
    graphnet run FILE --input NAME=x.npy ... [--output out.npz]
    graphnet bench FILE --batch N [--iterations K]
    graphnet optimize model.onnx -o model.gnplan [--level O2] [--print-after PASS]
    graphnet draw FILE -o graph.svg

An error prints one line on stderr and exits with status 1 (2 for a wrong command line);
`--debug` shows its traceback instead. Each command imports only what it needs: `run` and
`bench` load plans through graphnet.runtime alone.
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import sys
import time
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from graphnet.ir import GraphnetError
from graphnet.runtime.loader import DEFAULT_BACKEND, InferencePlan, load_plan

_CHECKPOINT_SUFFIX = ".index.json"
#: Outputs with at most this many elements are printed in full by `run`.
_PRINT_LIMIT = 20


class CommandError(GraphnetError):
    """A command cannot do what it was asked (a missing optional module, unusable inputs)."""


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


# -- inspect -----------------------------------------------------------------------------------


def _inspect(args: argparse.Namespace) -> None:
    path: str = args.file
    if path.endswith(_CHECKPOINT_SUFFIX):
        _inspect_checkpoint(path.removesuffix(_CHECKPOINT_SUFFIX))
    elif path.endswith(".onnx"):
        from graphnet.inspect import summary
        from graphnet.ir.printer import format_graph

        graph, _, _ = _import_onnx(path)
        _out(format_graph(graph))
        _out()
        _out(str(summary(graph)))
    else:
        _inspect_plan(load_plan(path))


def _inspect_plan(loaded: InferencePlan) -> None:
    from graphnet.inspect import summary

    report = loaded.memory_report()
    at = "" if loaded.batch_size is None else f" at batch size {loaded.batch_size}"
    info = loaded.info
    _out(
        f"inference plan {loaded.path}: format {info['format_version']}, written by graphnet "
        f"{info['graphnet_version']}; passes: {', '.join(info['passes']) or 'none'}"
    )
    _out("inputs:  " + (", ".join(map(str, loaded.inputs)) or "none"))
    _out("outputs: " + ", ".join(map(str, loaded.outputs)))
    for title, text in (
        ("steps", str(loaded.plan)),
        ("summary", str(summary(loaded.plan))),
        (f"memory{at}", f"{report}\n{report.table()}"),
    ):
        _out(f"\n== {title} ==")
        _out(text)


def _inspect_checkpoint(prefix: str) -> None:
    from graphnet.train.saver import list_variables

    variables = list_variables(prefix)  # checks the index
    with open(prefix + _CHECKPOINT_SUFFIX, encoding="utf-8") as f:
        dtypes = {v["name"]: v["dtype"] for v in json.load(f)["variables"]}
    width = max((len(name) for name, _ in variables), default=4)
    _out(f"checkpoint {prefix}: {len(variables)} variables")
    _out(f"{'name':<{width}}  {'dtype':<8}  {'shape':<16}  {'elements':>10}")
    for name, shape in variables:
        _out(f"{name:<{width}}  {dtypes[name]:<8}  {shape!s:<16}  {int(np.prod(shape)):>10,}")
    _out(f"total: {sum(int(np.prod(s)) for _, s in variables):,} elements")


def _import_onnx(path: str) -> tuple[Any, Any, Any]:
    """(graph, inputs, outputs) of an ONNX model, through graphnet.export.onnx.import_model."""
    try:
        module = importlib.import_module("graphnet.export.onnx")
    except ImportError as err:
        if err.name == "graphnet.export.onnx":
            raise CommandError(
                "ONNX support (graphnet.export.onnx) is not part of this graphnet installation"
            ) from None
        raise CommandError(f"ONNX support is unavailable: {err}") from None
    if not hasattr(module, "import_model"):
        raise CommandError("graphnet.export.onnx has no import_model(path) in this installation")
    return module.import_model(path)


# -- run ---------------------------------------------------------------------------------------


def _input_arg(text: str) -> tuple[str | None, str]:
    """`NAME=PATH` (or a bare PATH, for a plan with one input)."""
    name, sep, path = text.rpartition("=")
    if sep and not (name and path):
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    return (name or None, path)


def _read_inputs(given: Sequence[tuple[str | None, str]], loaded: InferencePlan) -> dict:
    """{input name: array} from .npy files; a bare path names the plan's only input."""
    feeds: dict[str, np.ndarray] = {}
    for name, path in given:
        if name is None:
            if len(loaded.inputs) != 1:
                names = ", ".join(s.name for s in loaded.inputs)
                raise CommandError(f"give each input as NAME=PATH; the plan's inputs: {names}")
            name = loaded.inputs[0].name
        feeds[name] = np.load(path, allow_pickle=False)
    return feeds


def _run(args: argparse.Namespace) -> None:
    loaded = load_plan(args.file, backend=args.backend)
    outputs = loaded.run(_read_inputs(args.input or [], loaded))
    for name, value in outputs.items():
        shown = f" = {np.array2string(value, separator=', ')}" if value.size <= _PRINT_LIMIT else ""
        _out(f"{name}: {value.dtype}{list(value.shape)}{shown}")
    if args.output:
        _write_npz(Path(args.output), outputs)
        _out(f"wrote {args.output}")


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An .npz archive (what np.savez writes) of `arrays` under their names, never pickled."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, value in arrays.items():
            f = io.BytesIO()
            np.lib.format.write_array(f, value, allow_pickle=False)
            zf.writestr(name + ".npy", f.getvalue())


# -- bench -------------------------------------------------------------------------------------


def _bench_inputs(loaded: InferencePlan, batch: int, seed: int) -> dict[str, np.ndarray]:
    """Random inputs (normal floats, zero ints and bools) with `batch` as the unknown first dim."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for spec in loaded.inputs:
        if spec.shape is None or None in spec.shape[1:]:
            raise CommandError(
                f"input {spec} has unknown dims besides the batch; bench needs "
                "the rest of its shape"
            )
        shape = tuple(batch if d is None else d for d in spec.shape)
        kind = np.dtype(spec.dtype).kind
        value = rng.standard_normal(shape) if kind == "f" else np.zeros(shape)
        feeds[spec.name] = value.astype(spec.dtype)
    return feeds


def _progress(n: int) -> Iterator[int]:
    """range(n) with a progress bar on stderr: tqdm's when installed, else a counter updated
    about 20 times."""
    try:
        from tqdm import tqdm
    except ImportError:
        every = max(1, n // 20)
        for i in range(n):
            yield i
            if (i + 1) % every == 0 or i + 1 == n:
                sys.stderr.write(f"\rbench: {i + 1}/{n} runs")
                sys.stderr.flush()
        sys.stderr.write("\n")
    else:
        yield from tqdm(range(n), desc="bench", unit="run", file=sys.stderr)


def _bench(args: argparse.Namespace) -> None:
    loaded = load_plan(args.file, backend=args.backend)
    feeds = _bench_inputs(loaded, args.batch, args.seed)
    for _ in range(args.warmup):
        loaded.run(feeds)
    seconds = []
    for _ in _progress(args.iterations):
        start = time.perf_counter()
        loaded.run(feeds)
        seconds.append(time.perf_counter() - start)
    median, p90 = float(np.median(seconds)), float(np.percentile(seconds, 90))
    _out(
        f"{args.file}: backend {loaded.backend}, batch {args.batch}, {args.iterations} runs "
        f"after {args.warmup} warm-up"
    )
    _out(f"latency: median {median * 1e3:.3f} ms, p90 {p90 * 1e3:.3f} ms")
    _out(f"throughput: {args.batch / median:,.1f} samples/s")


# -- optimize, draw ----------------------------------------------------------------------------


def _optimize(args: argparse.Namespace) -> None:
    from graphnet.export import save_plan
    from graphnet.ops.state import global_variables_initializer
    from graphnet.runtime.session import Session

    passes = args.print_after or []
    graph, inputs, outputs = _import_onnx(args.model)
    with graph.as_default():
        init = global_variables_initializer()
    with Session(graph=graph) as sess:
        sess.run(init)
        path = save_plan(
            sess,
            list(outputs),
            list(inputs),
            args.output,
            opt_level=args.level,
            batch_size=args.batch,
            print_after="all" if "all" in passes else passes,
        )
    loaded = load_plan(path)
    _out(
        f"wrote {path}: {len(loaded.plan.steps)} steps, {len(loaded.plan.constants)} weights; "
        f"inputs {', '.join(map(str, loaded.inputs))}"
    )


def _draw(args: argparse.Namespace) -> None:
    from graphnet.inspect import draw

    if args.file.endswith(".onnx"):
        target: Any = _import_onnx(args.file)[0]
    else:
        target = load_plan(args.file).plan
    _out(f"wrote {draw(target, args.output, max_nodes=args.max_nodes)}")


# -- the parser --------------------------------------------------------------------------------


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    from graphnet import __version__

    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the traceback of an error",
    )
    parser = argparse.ArgumentParser(
        prog="graphnet",
        description="Inspect, run, benchmark, make and draw compiled graphnet inference plans.",
        parents=[debug],
    )
    parser.add_argument("--version", action="version", version=f"graphnet {__version__}")
    commands = parser.add_subparsers(dest="command_name", required=True, metavar="COMMAND")

    backend = argparse.ArgumentParser(add_help=False)
    backend.add_argument(
        "--backend",
        default=DEFAULT_BACKEND,
        help=f"the backend that runs the plan (default: {DEFAULT_BACKEND})",
    )

    def command(name: str, fn: Any, help: str, runs: bool = False) -> argparse.ArgumentParser:
        parents = [debug, backend] if runs else [debug]
        sub = commands.add_parser(name, parents=parents, help=help, description=help)
        sub.set_defaults(command=fn)
        return sub

    p = command(
        "inspect",
        _inspect,
        "show a plan file (steps, summary, memory), a checkpoint (*.index.json) or an ONNX model",
    )
    p.add_argument("file", help="a .gnplan file, a checkpoint's .index.json or an .onnx model")

    p = command("run", _run, "run a plan file on inputs from .npy files", runs=True)
    p.add_argument("file", help="the plan file")
    p.add_argument(
        "--input",
        "-i",
        action="append",
        type=_input_arg,
        metavar="NAME=PATH",
        help="an input from an .npy file (repeat per input; PATH alone for a plan with one input)",
    )
    p.add_argument("--output", "-o", help="write the outputs to this .npz file")

    p = command("bench", _bench, "time a plan file on random inputs", runs=True)
    p.add_argument("file", help="the plan file")
    p.add_argument("--batch", "-b", type=_positive, required=True, help="the batch size")
    p.add_argument(
        "--iterations", "-n", type=_positive, default=100, help="timed runs (default: 100)"
    )
    p.add_argument("--warmup", type=int, default=3, help="untimed runs first (default: 3)")
    p.add_argument("--seed", type=int, default=0, help="of the random inputs (default: 0)")

    p = command("optimize", _optimize, "compile an ONNX model into a plan file")
    p.add_argument("model", help="the .onnx model")
    p.add_argument("--output", "-o", required=True, help="the plan file to write")
    p.add_argument(
        "--level", default="O2", choices=("O0", "O1", "O2"), help="optimization level (default: O2)"
    )
    p.add_argument("--batch", type=_positive, help="also plan the arena for this batch size")
    p.add_argument(
        "--print-after",
        action="append",
        metavar="PASS",
        help="print the graph after this pass (repeat, or 'all')",
    )

    p = command("draw", _draw, "draw a plan file (or an ONNX model) with Graphviz")
    p.add_argument("file", help="a plan file or an .onnx model")
    p.add_argument(
        "--output",
        "-o",
        required=True,
        help="the drawing: .svg, .png, .pdf (Graphviz's dot) or .dot",
    )
    p.add_argument(
        "--max-nodes",
        type=_positive,
        default=1000,
        help="draw at most this many nodes (default: 1000)",
    )
    return parser


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or "(no message)"
    return text if isinstance(err, GraphnetError | OSError) else f"{type(err).__name__}: {text}"


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command line `argv` (default: sys.argv[1:]); returns the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, --version (0) or a wrong command line (2)
        return done.code if isinstance(done.code, int) else 2
    try:
        args.command(args)
    except Exception as err:
        if getattr(args, "debug", False):
            raise
        sys.stderr.write(f"graphnet {args.command_name}: error: {_one_line(err)}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
