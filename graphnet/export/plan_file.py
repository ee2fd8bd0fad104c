"""Writing plan files: one zip archive of a manifest and .npy weights (see runtime.loader).

The file is written to a temporary file in the target's directory, fsynced and moved into
place with os.replace, so the path holds either its old content or the complete new file.
Entries carry a fixed timestamp: the same plan always gives the same bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

import numpy as np

from graphnet.compiler import pipeline
from graphnet.compiler.plan import Buffer, Plan
from graphnet.compiler.specialize import batch_feed_shapes, specialize
from graphnet.ir import (
    FailedPreconditionError,
    FeedError,
    FetchError,
    Graph,
    GraphError,
    GraphnetError,
    Tensor,
)
from graphnet.runtime.loader import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    encode_value,
    weight_entry,
)
from graphnet.runtime.session import Session

_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest a zip entry can carry


def save_plan(
    sess: Session,
    fetches: Any,
    feeds: Any,
    path: str | os.PathLike,
    opt_level: str = "O2",
    *,
    batch_size: int | None = None,
    print_after: Sequence[str] | str = (),
) -> Path:
    """Compiles `fetches` (tensors or names) from `feeds` (placeholders or names, kept with
    their static shapes: an unknown batch stays unknown) for inference at `opt_level`, with
    the session's variables frozen into constants, and writes the plan file `path`.

    `batch_size` also records the arena plan for that batch; `print_after` prints the graph
    after the named passes (or "all"). Returns the path.
    """
    fetched = _tensors(sess.graph, fetches, "fetch", FetchError)
    fed = _tensors(sess.graph, feeds, "feed", FeedError)
    ctx = pipeline.PassContext(
        opt_level=opt_level,
        inference=True,
        variables=sess.variable_values(),
        print_after=print_after if isinstance(print_after, str) else frozenset(print_after),
    )
    plan = pipeline.compile(sess.graph, fetched, fed, ctx)
    plan = _freeze(plan, sess.variable_values())
    names = [_io_name(t.name) for t in fetched]
    return write_plan(plan, path, output_names=names, batch_size=batch_size)


def write_plan(
    plan: Plan,
    path: str | os.PathLike,
    *,
    output_names: Sequence[str] | None = None,
    batch_size: int | None = None,
) -> Path:
    """Writes an inference Plan (no variables, no assignments; memory planned) to `path`.

    Inputs are named after the fed tensors ('x' for 'x:0'), outputs `output_names` (default:
    after the fetched buffers' tensors). `batch_size` records the arena plan for that batch.
    """
    if plan.variables:
        raise GraphnetError(
            f"the plan reads variables ({', '.join(plan.variables.values())}); an inference "
            "plan holds constants only: save_plan freezes a session's variables"
        )
    if plan.arena_size is None:
        raise GraphnetError("the plan has no arena: compile it through a pipeline (plan_memory)")
    if None in plan.fetches:
        raise FetchError("an inference plan fetches tensors only, not nodes (ops)")
    names = output_names or [_io_name(plan.buffers[b].name) for b in plan.fetches if b is not None]
    if len(names) != len(plan.fetches) or len(set(names)) != len(names):
        raise FetchError(f"the outputs need {len(plan.fetches)} distinct names, given {names}")
    manifest, weights = _manifest(plan, list(names), batch_size)
    path = Path(path)
    _write_atomic(path, lambda f: _write_zip(f, manifest, weights))
    return path


def _tensors(graph: Graph, items: Any, what: str, error: type[GraphnetError]) -> list[Tensor]:
    """Distinct tensors of `graph` named or given by `items` (one or a sequence)."""
    many = isinstance(items, list | tuple)
    tensors = []
    for item in items if many else [items]:
        try:
            element = graph.as_graph_element(item)
        except GraphError as err:
            raise error(f"cannot {what} {item!r}: {err}") from None
        if not isinstance(element, Tensor):
            raise error(f"cannot {what} node '{element.name}' ({element.type}): give a tensor")
        if element in tensors:
            raise error(f"{element.name} is given twice to {what}")
        tensors.append(element)
    return tensors


def _io_name(tensor_name: str) -> str:
    """An input's or output's name: its tensor's, without the ':0' of a first output."""
    return tensor_name.removesuffix(":0")


def _freeze(plan: Plan, values: dict[str, np.ndarray]) -> Plan:
    """The plan with every variable it reads turned into a constant of its current value (a
    pipeline without fold_constants, O0, keeps them); refuses plans that assign."""
    writes = [s.node for s in plan.steps if s.writes is not None]
    if writes:
        raise FetchError(
            f"the fetches assign variables ({', '.join(writes)}); an inference plan cannot: "
            "fetch the model's outputs, not a training op"
        )
    missing = sorted(set(plan.variables.values()) - values.keys())
    if missing:
        raise FailedPreconditionError(
            f"cannot freeze uninitialized variable(s) {', '.join(missing)}; run "
            "gn.global_variables_initializer() first"
        )
    buffers = [replace(b, kind="const") if b.index in plan.variables else b for b in plan.buffers]
    constants = dict(plan.constants)
    for b, name in plan.variables.items():
        constants[b] = np.asarray(values[name], dtype=plan.buffers[b].dtype)
    return replace(plan, buffers=buffers, constants=constants, variables={})


def _at_batch(plan: Plan, batch_size: int) -> Plan:
    """The plan with the shapes of batch `batch_size` and its arena planned for them."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    feed_shapes = batch_feed_shapes(plan, batch_size)
    if not feed_shapes:
        raise ValueError("batch_size needs an input whose first (batch) dim is unknown")
    return specialize(plan, feed_shapes)


def _buffer_row(b: Buffer) -> dict[str, Any]:
    return {"shape": _json_shape(b.shape), "offset": b.offset, "inplace": b.inplace}


def _json_shape(shape: tuple[int | None, ...] | None) -> list[int | None] | None:
    return None if shape is None else list(shape)


def _io_row(name: str, b: Buffer) -> dict[str, Any]:
    return {"name": name, "buffer": b.index, "dtype": b.dtype, "shape": _json_shape(b.shape)}


def _manifest(
    plan: Plan, output_names: list[str], batch_size: int | None
) -> tuple[dict[str, Any], list[bytes]]:
    """The manifest and the .npy bytes of each weight, in weight order."""
    from graphnet import __version__

    weights = [_npy_bytes(plan.constants[b.index], b) for b in plan.buffers if b.kind == "const"]
    const_buffers = [b.index for b in plan.buffers if b.kind == "const"]
    batch = None if batch_size is None else _at_batch(plan, batch_size)
    manifest = {
        "format": FORMAT,
        "format_version": f"{FORMAT_VERSION[0]}.{FORMAT_VERSION[1]}",
        "graphnet_version": __version__,
        "passes": [r.name for r in plan.pass_records],
        "inputs": [
            {**_io_row(_io_name(tensor), plan.buffers[b]), "tensor": tensor}
            for tensor, b in plan.feeds.items()
        ],
        "outputs": [
            _io_row(name, plan.buffers[b])  # type: ignore[index]
            for name, b in zip(output_names, plan.fetches, strict=True)
        ],
        "buffers": [
            {"name": b.name, "dtype": b.dtype, "kind": b.kind, **_buffer_row(b)}
            for b in plan.buffers
        ],
        "steps": [
            {
                "node": s.node,
                "op": s.op,
                "attrs": _attrs(s.node, s.op, s.attrs),
                "inputs": list(s.inputs),
                "outputs": list(s.outputs),
            }
            for s in plan.steps
        ],
        "arena_size": plan.arena_size,
        "weights": [
            {"buffer": b, "file": weight_entry(k), "sha256": hashlib.sha256(data).hexdigest()}
            for k, (b, data) in enumerate(zip(const_buffers, weights, strict=True))
        ],
        "batch": None
        if batch is None
        else {
            "size": batch_size,
            "arena_size": batch.arena_size,
            "buffers": [_buffer_row(b) for b in batch.buffers],
        },
    }
    return manifest, weights


def _attrs(node: str, op: str, attrs: Any) -> dict[str, Any]:
    encoded = {}
    for key, value in attrs.items():
        try:
            encoded[key] = encode_value(value)
        except TypeError as err:
            raise GraphnetError(f"step '{node}' ({op}): attr {key!r}: {err}") from None
    return encoded


def _npy_bytes(value: np.ndarray, buffer: Buffer) -> bytes:
    """A constant as .npy bytes (little-endian, C order, never pickled)."""
    value = np.asarray(value)
    if value.dtype != buffer.dtype or value.shape != buffer.shape:
        raise GraphnetError(
            f"constant %{buffer.index} '{buffer.name}' is {value.dtype}{list(value.shape)} but "
            f"its buffer is {buffer.dtype}{list(buffer.shape or ())}"
        )
    f = io.BytesIO()
    little = np.asarray(value, dtype=value.dtype.newbyteorder("<"), order="C")
    np.lib.format.write_array(f, little, version=(1, 0), allow_pickle=False)
    return f.getvalue()


def _write_zip(f: IO[bytes], manifest: dict[str, Any], weights: list[bytes]) -> None:
    text = json.dumps(manifest, indent=1, allow_nan=False, ensure_ascii=False)
    with zipfile.ZipFile(f, "w") as zf:
        zf.writestr(_entry(MANIFEST, zipfile.ZIP_DEFLATED), text.encode("utf-8"))
        for k, data in enumerate(weights):
            zf.writestr(_entry(weight_entry(k), zipfile.ZIP_STORED), data)


def _entry(name: str, compression: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_DATE)
    info.compress_type = compression
    info.external_attr = 0o644 << 16
    return info


def _write_atomic(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Calls `write` on a temporary file next to `path`, then moves it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    if os.name == "posix":
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
