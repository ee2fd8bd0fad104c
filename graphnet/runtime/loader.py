"""Exported inference plans: the plan file format, `load_plan` and `InferencePlan`.

A plan file (written by `gn.export.save_plan`) is one zip archive:

``manifest.json``
    the format name and version (major.minor), the graphnet version that wrote it, the passes
    that ran, the inputs and outputs (name, dtype, shape; null marks an unknown dim), the buffer
    table (tensor name, dtype, shape, kind, arena offset, in-place source), the steps (node name,
    op, attrs, input and output buffers), the arena size, one row per weight (its buffer, its
    entry, the sha256 of the entry) and, when the plan was exported for one batch size, the
    arena plan of that batch (`batch`: its size, arena size and per-buffer shape and offset).
``weights/<k>.npy``
    the k-th constant in NumPy's .npy format (never pickled).

Attribute values use a tagged JSON encoding that round-trips exactly: null, booleans, ints and
strings are themselves, tuples are lists, and an object with one key holds every other kind:
``{"float": repr}`` (``"inf"``, ``"-inf"``, ``"nan"``, ``"-0.0"`` included), ``{"dtype": name}``
and ``{"ndarray": {"dtype", "shape", "data"}}`` (base64 of the little-endian bytes).

Loading checks the whole file before anything runs: the archive's entries, the manifest's
structure, every weight's checksum, dtype and shape, each step's shape rule re-run against the
recorded types, and the arena. Anything wrong is a PlanFileError; nothing from the file is ever
executed (no pickle, no eval). This module needs the IR, the op registry, compiler.plan and
compiler.memory and the backends: not the graph builder's autodiff, the compiler's passes,
train or keras, so a deployment can load plans without them.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import os
import re
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from graphnet.backends.registry import Executable, get_backend
from graphnet.compiler.memory import (
    MemoryPlanError,
    MemoryReport,
    aligned,
    memory_report,
    validate_memory,
)
from graphnet.compiler.plan import Buffer, Plan, Step
from graphnet.compiler.specialize import batch_feed_shapes, infer_buffer_types, specialize
from graphnet.ir import DType, FeedError, GraphnetError, PlanFileError
from graphnet.ir.errors import ShapeError
from graphnet.ir.graph import Attrs
from graphnet.ir.types import ALL_DTYPES, Shape, format_shape, shape_compatible
from graphnet.ops.registry import OPS

FORMAT = "graphnet-plan"
#: (major, minor): a reader reads every minor version of its major; a newer major is refused.
FORMAT_VERSION = (1, 0)
MANIFEST = "manifest.json"
#: The backend load_plan compiles for unless told another.
DEFAULT_BACKEND = "cpu"
#: How many specializations to input shapes an InferencePlan keeps compiled (the least
#: recently run is dropped first).
SPECIALIZED_CACHE_SIZE = 4

MAX_MANIFEST_BYTES = 64 << 20
#: Bytes an .npy entry may hold beyond its array's data (the header).
_NPY_HEADER_LIMIT = 1 << 16
_DTYPES = {d.name: d for d in ALL_DTYPES}
_FLOAT_TEXT = re.compile(r"-?(?:inf|nan|\d+(?:\.\d+)?(?:e[+-]\d+)?)")
#: Op types that are buffers or markers in a Plan, never steps.
_NOT_STEPS = ("const", "variable", "placeholder", "fetch", "no_op")
_KINDS = ("feed", "const", "temp")


def weight_entry(k: int) -> str:
    """The archive entry of the k-th weight."""
    return f"weights/{k}.npy"


# -- attribute values ------------------------------------------------------------------------


def encode_value(value: Any) -> Any:
    """An attribute value in the tagged JSON encoding (see the module docstring)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return {"float": repr(float(value))}
    if isinstance(value, tuple | list):
        return [encode_value(v) for v in value]
    if isinstance(value, DType):
        return {"dtype": value.name}
    if isinstance(value, np.ndarray) and value.dtype.name in _DTYPES:
        data = value.astype(value.dtype.newbyteorder("<")).tobytes()
        return {
            "ndarray": {
                "dtype": value.dtype.name,
                "shape": list(value.shape),
                "data": base64.b64encode(data).decode("ascii"),
            }
        }
    raise TypeError(f"a value of type {type(value).__name__} cannot be stored in a plan file")


def decode_value(data: Any, where: str = "value") -> Any:
    """The attribute value `data` encodes; PlanFileError (naming `where`) if it encodes none."""
    if data is None or isinstance(data, bool | str | int):
        return data
    if isinstance(data, list):
        return tuple(decode_value(v, f"{where}[{i}]") for i, v in enumerate(data))
    if isinstance(data, dict) and len(data) == 1:
        ((tag, body),) = data.items()
        if tag == "float" and isinstance(body, str) and _FLOAT_TEXT.fullmatch(body):
            return float(body)
        if tag == "dtype" and isinstance(body, str) and body in _DTYPES:
            return _DTYPES[body]
        if tag == "ndarray":
            return _decode_array(body, where)
    raise PlanFileError(f"{where}: {_show(data)} is not a value of the plan format")


def _decode_array(body: Any, where: str) -> np.ndarray:
    dtype = _field(body, "dtype", _is_dtype, "a dtype name", where)
    shape = _field(body, "shape", _is_sizes, "a list of sizes", where)
    text = _field(body, "data", _is_str, "base64 text", where)
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raise PlanFileError(f"{where}.data: not base64") from None
    expected = math.prod(shape) * np.dtype(dtype).itemsize
    if len(raw) != expected:
        raise PlanFileError(
            f"{where}.data: {len(raw)} bytes for {dtype}{format_shape(shape)}, "
            f"which needs {expected}"
        )
    little = np.dtype(dtype).newbyteorder("<")
    return np.frombuffer(raw, little).reshape(shape).astype(dtype)


# -- manifest fields ---------------------------------------------------------------------------


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_size(v: Any) -> bool:
    return _is_int(v) and v >= 0


def _is_dim(v: Any) -> bool:
    return v is None or _is_size(v)


def _is_sizes(v: Any) -> bool:
    return isinstance(v, list) and all(_is_size(d) for d in v)


def _is_shape(v: Any) -> bool:
    return v is None or (isinstance(v, list) and all(_is_dim(d) for d in v))


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_dtype(v: Any) -> bool:
    return isinstance(v, str) and v in _DTYPES


def _is_list(v: Any) -> bool:
    return isinstance(v, list)


def _is_sha256(v: Any) -> bool:
    return isinstance(v, str) and re.fullmatch("[0-9a-f]{64}", v) is not None


def _is_optional_size(v: Any) -> bool:
    return v is None or _is_size(v)


def _is_kind(v: Any) -> bool:
    return v in _KINDS


def _is_object(v: Any) -> bool:
    return isinstance(v, dict)


def _is_optional_object(v: Any) -> bool:
    return v is None or isinstance(v, dict)


def _is_name(v: Any) -> bool:
    return isinstance(v, str) and v != ""


def _is_names(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(n, str) for n in v)


def _is_positive(v: Any) -> bool:
    return _is_int(v) and v >= 1


def _index_of(buffers: list[Buffer]) -> Callable[[Any], bool]:
    """A check for an index into `buffers`."""
    return lambda v: _is_int(v) and 0 <= v < len(buffers)


def _indices_of(buffers: list[Buffer]) -> Callable[[Any], bool]:
    """A check for a list of indices into `buffers`."""
    return lambda v: isinstance(v, list) and all(map(_index_of(buffers), v))


def _show(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _field(obj: Any, key: str, check: Callable[[Any], bool], expected: str, where: str) -> Any:
    """obj[key], which `check` must accept; PlanFileError naming the place otherwise."""
    if not isinstance(obj, dict):
        raise PlanFileError(f"{where}: expected an object, got {_show(obj)}")
    if key not in obj:
        raise PlanFileError(f"{where}: missing key {key!r}")
    if not check(obj[key]):
        raise PlanFileError(f"{where}.{key}: expected {expected}, got {_show(obj[key])}")
    return obj[key]


def _shape(value: list[int | None] | None) -> Shape | None:
    return None if value is None else tuple(value)


# -- the archive -------------------------------------------------------------------------------


def _entries(zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """The archive's entries by name: unique, unencrypted, stored or deflated."""
    entries: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        if info.filename in entries:
            raise PlanFileError(f"the archive holds {info.filename!r} twice")
        if info.flag_bits & 0x1 or info.compress_type not in (
            zipfile.ZIP_STORED,
            zipfile.ZIP_DEFLATED,
        ):
            raise PlanFileError(
                f"entry {info.filename!r} is encrypted or compressed with an unsupported method"
            )
        entries[info.filename] = info
    return entries


def _read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """The bytes of an entry that may hold at most `limit` of them."""
    if info.file_size > limit:
        raise PlanFileError(
            f"entry {info.filename!r} holds {info.file_size:,} bytes, more than "
            f"the {limit:,} it may"
        )
    with zf.open(info) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise PlanFileError(f"entry {info.filename!r} holds more than the {limit:,} bytes it may")
    return data


def _parse_manifest(raw: bytes) -> dict[str, Any]:
    """The manifest as JSON: strict (no NaN literals, no duplicate keys), of a known version."""

    def reject_constant(name: str) -> Any:
        raise PlanFileError(f"{MANIFEST} is not valid JSON: it holds {name}")

    def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            raise PlanFileError(f"{MANIFEST} repeats a key in one object")
        return obj

    try:
        manifest = json.loads(
            raw.decode("utf-8"), parse_constant=reject_constant, object_pairs_hook=unique_keys
        )
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise PlanFileError(f"{MANIFEST} is not valid JSON ({err})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise PlanFileError(f"{MANIFEST} does not describe a graphnet plan ({FORMAT!r})")
    version = _field(manifest, "format_version", _is_str, '"major.minor"', "manifest")
    match = re.fullmatch(r"(\d+)\.(\d+)", version)
    if match is None:
        raise PlanFileError(f'manifest.format_version: expected "major.minor", got {version!r}')
    if int(match[1]) != FORMAT_VERSION[0]:
        raise PlanFileError(
            f"the file has format version {version} (written by graphnet "
            f"{manifest.get('graphnet_version')!s}); this graphnet reads version "
            f"{FORMAT_VERSION[0]}.x" + (": upgrade graphnet" if int(match[1]) > 1 else "")
        )
    return manifest


# -- the plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TensorSpec:
    """An input or output of an inference plan: its name, dtype and shape (None: unknown)."""

    name: str
    dtype: str
    shape: Shape | None

    @property
    def type(self) -> str:
        return f"{self.dtype}{format_shape(self.shape)}"

    def __str__(self) -> str:
        return f"{self.name}: {self.type}"


@dataclass(frozen=True)
class _Decoded:
    """What the manifest says, checked for structure; constants not read yet."""

    plan: Plan
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    weights: tuple[tuple[int, str, str], ...]  # (buffer, entry, sha256)
    batch: dict[str, Any] | None
    info: dict[str, Any]


def _decode_buffers(manifest: dict[str, Any]) -> list[Buffer]:
    rows = _field(manifest, "buffers", _is_list, "a list", "manifest")
    buffers = []
    for i, row in enumerate(rows):
        where = f"buffers[{i}]"
        name = _field(row, "name", _is_str, "a tensor name", where)
        dtype = _field(row, "dtype", _is_dtype, "a dtype name", where)
        shape = _field(row, "shape", _is_shape, "a shape", where)
        kind = _field(row, "kind", _is_kind, f"one of {_KINDS}", where)
        offset = _field(row, "offset", _is_optional_size, "an offset or null", where)
        inplace = _field(row, "inplace", _is_optional_size, "a buffer index or null", where)
        buffers.append(Buffer(i, name, dtype, _shape(shape), kind, offset, inplace))
    return buffers


def _decode_steps(manifest: dict[str, Any], buffers: list[Buffer]) -> list[Step]:
    """The steps, each reading buffers defined before it and writing fresh temporaries."""
    indices = _indices_of(buffers)
    defined = {b.index for b in buffers if b.kind != "temp"}
    steps = []
    for i, row in enumerate(_field(manifest, "steps", _is_list, "a list", "manifest")):
        where = f"steps[{i}]"
        node = _field(row, "node", _is_str, "a node name", where)
        op = _field(row, "op", _is_str, "an op name", where)
        opdef = OPS.get(op)
        if opdef is None or op in _NOT_STEPS or opdef.writes_input is not None:
            problem = "unknown op" if opdef is None else "op that an inference plan cannot run"
            raise PlanFileError(f"{where} ('{node}'): {problem} {op!r}")
        attrs = _field(row, "attrs", _is_object, "an object", where)
        decoded = {k: decode_value(v, f"{where}.attrs.{k}") for k, v in attrs.items()}
        inputs = _field(row, "inputs", indices, "a list of buffer indices", where)
        outputs = _field(row, "outputs", indices, "a list of buffer indices", where)
        for b in inputs:
            if b not in defined:
                raise PlanFileError(f"{where} ('{node}') reads buffer %{b} before it is written")
        for b in outputs:
            if b in defined or buffers[b].kind != "temp":
                raise PlanFileError(
                    f"{where} ('{node}') writes buffer %{b}, which is a "
                    f"{buffers[b].kind} or written before"
                )
            defined.add(b)
        steps.append(Step(node, op, Attrs(decoded), tuple(inputs), tuple(outputs)))
    unwritten = [b.index for b in buffers if b.index not in defined]
    if unwritten:
        raise PlanFileError(f"temporary buffer(s) {unwritten} are written by no step")
    return steps


def _decode_io(
    manifest: dict[str, Any], key: str, buffers: list[Buffer]
) -> list[tuple[TensorSpec, int, str]]:
    """(spec, buffer, tensor name) of each input or output, agreeing with the buffer table."""
    rows = []
    for i, row in enumerate(_field(manifest, key, _is_list, "a list", "manifest")):
        where = f"{key}[{i}]"
        name = _field(row, "name", _is_name, "a name", where)
        index = _field(row, "buffer", _index_of(buffers), "a buffer index", where)
        dtype = _field(row, "dtype", _is_dtype, "a dtype name", where)
        shape = _shape(_field(row, "shape", _is_shape, "a shape", where))
        buffer = buffers[index]
        if (dtype, shape) != (buffer.dtype, buffer.shape):
            raise PlanFileError(
                f"{where} ('{name}') is {dtype}{format_shape(shape)} but its "
                f"buffer %{index} is {buffer.dtype}{format_shape(buffer.shape)}"
            )
        tensor = _field(row, "tensor", _is_str, "a tensor name", where) if key == "inputs" else ""
        rows.append((TensorSpec(name, dtype, shape), index, tensor))
    names = [spec.name for spec, _, _ in rows] + [t for _, _, t in rows if t]
    if len(set(names)) != len(names):
        raise PlanFileError(f"manifest.{key} repeats a name: {names}")
    return rows


def _decode(manifest: dict[str, Any]) -> _Decoded:
    buffers = _decode_buffers(manifest)
    steps = _decode_steps(manifest, buffers)
    inputs = _decode_io(manifest, "inputs", buffers)
    outputs = _decode_io(manifest, "outputs", buffers)
    fed = sorted(b for _, b, _ in inputs)
    if fed != [b.index for b in buffers if b.kind == "feed"]:
        raise PlanFileError("manifest.inputs must name every feed buffer once, and only those")
    weights = []
    for k, row in enumerate(_field(manifest, "weights", _is_list, "a list", "manifest")):
        where = f"weights[{k}]"
        index = _field(row, "buffer", _index_of(buffers), "a buffer index", where)
        entry = _field(row, "file", _is_str, repr(weight_entry(k)), where)
        if entry != weight_entry(k):
            raise PlanFileError(f"{where}.file: expected {weight_entry(k)!r}, got {entry!r}")
        digest = _field(row, "sha256", _is_sha256, "a sha256 in hex", where)
        weights.append((index, entry, digest))
    if sorted(b for b, _, _ in weights) != [b.index for b in buffers if b.kind == "const"]:
        raise PlanFileError("manifest.weights must name every const buffer once, and only those")
    arena = _field(manifest, "arena_size", _is_size, "a size in bytes", "manifest")
    batch = _field(manifest, "batch", _is_optional_object, "an object or null", "manifest")
    plan = Plan(
        buffers,
        steps,
        {tensor: b for _, b, tensor in inputs},
        [b for _, b, _ in outputs],
        arena_size=arena,
    )
    info = {
        "format_version": manifest["format_version"],
        "graphnet_version": _field(manifest, "graphnet_version", _is_str, "a version", "manifest"),
        "passes": tuple(_field(manifest, "passes", _is_names, "a list of pass names", "manifest")),
    }
    return _Decoded(
        plan,
        tuple(s for s, _, _ in inputs),
        tuple(s for s, _, _ in outputs),
        tuple(weights),
        batch,
        info,
    )


def _decode_npy(data: bytes, buffer: Buffer, entry: str) -> np.ndarray:
    """The array of an .npy entry, which must hold exactly the buffer's dtype and shape."""
    f = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except Exception as err:  # NOTE: NumPy's header parser raises many kinds on a bad header
        raise PlanFileError(f"entry {entry!r} is not an .npy array ({err})") from None
    expected = np.dtype(buffer.dtype).newbyteorder("<")
    if dtype != expected or shape != buffer.shape or fortran:
        raise PlanFileError(
            f"entry {entry!r} holds {dtype}{format_shape(shape)}, but buffer "
            f"%{buffer.index} is {buffer.dtype}{format_shape(buffer.shape)}"
        )
    body = data[f.tell() :]
    if len(body) != math.prod(shape) * dtype.itemsize:
        raise PlanFileError(
            f"entry {entry!r} holds {len(body)} bytes of data for "
            f"{buffer.dtype}{format_shape(shape)}"
        )
    value = np.frombuffer(body, dtype).reshape(shape).astype(buffer.dtype, copy=False)
    value.flags.writeable = False
    return value


def _read_weights(
    zf: zipfile.ZipFile, entries: dict[str, zipfile.ZipInfo], decoded: _Decoded
) -> dict[int, np.ndarray]:
    constants = {}
    for index, entry, digest in decoded.weights:
        buffer = decoded.plan.buffers[index]
        if buffer.shape is None or None in buffer.shape:
            raise PlanFileError(f"const buffer %{index} has an unknown shape")
        limit = buffer.nbytes + _NPY_HEADER_LIMIT  # type: ignore[operator]
        data = _read_entry(zf, entries[entry], limit)
        if hashlib.sha256(data).hexdigest() != digest:
            raise PlanFileError(
                f"checksum mismatch for {entry!r} (buffer %{index} "
                f"'{buffer.name}'): the weights were changed or corrupted"
            )
        constants[index] = _decode_npy(data, buffer, entry)
    return constants


def _read(path: str | os.PathLike) -> tuple[_Decoded, dict[int, np.ndarray]]:
    """The decoded manifest and the constants of a plan file."""
    try:
        with zipfile.ZipFile(path) as zf:
            entries = _entries(zf)
            if MANIFEST not in entries:
                raise PlanFileError(f"the archive has no {MANIFEST}")
            manifest = _parse_manifest(_read_entry(zf, entries[MANIFEST], MAX_MANIFEST_BYTES))
            try:
                decoded = _decode(manifest)
            except RecursionError:
                raise PlanFileError(f"{MANIFEST} nests values too deeply") from None
            expected = {MANIFEST, *(entry for _, entry, _ in decoded.weights)}
            if set(entries) != expected:
                extra, missing = sorted(set(entries) - expected), sorted(expected - set(entries))
                raise PlanFileError(
                    "the archive's entries do not match its manifest: "
                    + "; ".join(
                        f"{what} {names}"
                        for what, names in (("unexpected", extra), ("missing", missing))
                        if names
                    )
                )
            return decoded, _read_weights(zf, entries, decoded)
    except PlanFileError:
        raise
    except FileNotFoundError:
        raise PlanFileError("no such file") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError) as err:
        raise PlanFileError(
            f"not a readable zip archive (truncated or not a plan file?): {err}"
        ) from None
    except (OSError, ValueError, NotImplementedError, RuntimeError) as err:
        raise PlanFileError(f"cannot read the archive ({type(err).__name__}: {err})") from None


# -- checking the plan -------------------------------------------------------------------------


def _check_types(plan: Plan, feed_shapes: Mapping[int, Shape] | None = None) -> None:
    """Every step's shape rule accepts its inputs and attrs and gives the recorded types."""
    try:
        inferred = infer_buffer_types(plan, feed_shapes)
    except ShapeError as err:
        raise PlanFileError(str(err)) from None
    for b, (dtype, shape) in zip(plan.buffers, inferred, strict=True):
        if (b.dtype, b.shape) != (dtype, shape):
            raise PlanFileError(
                f"buffer %{b.index} '{b.name}' is recorded as "
                f"{b.dtype}{format_shape(b.shape)}, but the steps compute "
                f"{dtype}{format_shape(shape)}"
            )


def _check_memory(plan: Plan) -> None:
    """The arena is consistent (compiler.memory.validate_memory) and exactly as big as the
    buffers placed in it need."""
    for b in plan.buffers:
        if b.inplace is not None and (b.offset is None or b.inplace >= len(plan.buffers)):
            raise PlanFileError(
                f"buffer %{b.index} takes over buffer %{b.inplace}, which it "
                "cannot: it is outside the arena or does not exist"
            )
    try:
        validate_memory(plan)
    except MemoryPlanError as err:
        raise PlanFileError(f"bad arena plan: {err}") from None
    need = max(
        (
            b.offset + aligned(b.nbytes)
            for b in plan.buffers
            if b.offset is not None and b.nbytes is not None
        ),
        default=0,
    )
    if plan.arena_size != need:
        raise PlanFileError(
            f"the arena size is {plan.arena_size:,} bytes, but its buffers need {need:,}"
        )


def _batch_plan(plan: Plan, batch: dict[str, Any]) -> tuple[Plan, int]:
    """The plan specialized to the recorded batch size, with that batch's arena plan."""
    size = _field(batch, "size", _is_positive, "a batch size", "batch")
    arena = _field(batch, "arena_size", _is_size, "a size in bytes", "batch")
    rows = _field(batch, "buffers", _is_list, "a list", "batch")
    if len(rows) != len(plan.buffers):
        raise PlanFileError(f"batch.buffers: {len(rows)} rows for {len(plan.buffers)} buffers")
    buffers = []
    for b, row in zip(plan.buffers, rows, strict=True):
        where = f"batch.buffers[{b.index}]"
        shape = _field(row, "shape", _is_shape, "a shape", where)
        offset = _field(row, "offset", _is_optional_size, "an offset or null", where)
        inplace = _field(row, "inplace", _is_optional_size, "a buffer index or null", where)
        buffers.append(replace(b, shape=_shape(shape), offset=offset, inplace=inplace))
    specialized = replace(plan, buffers=buffers, arena_size=arena)
    _check_types(specialized, batch_feed_shapes(plan, size))
    _check_memory(specialized)
    return specialized, size


# -- running -----------------------------------------------------------------------------------


#: The shapes of the inputs whose recorded shape has an unknown dim, in input order: what a
#: specialization of a plan is for.
_ShapesKey = tuple[Shape | None, ...]


class InferencePlan:
    """A loaded plan file: `run` it on inputs; its `plan`, `summary()` and `memory_report()`.

    `inputs` / `outputs` are TensorSpecs (name, dtype, shape); `run` takes one mapping from
    input names (or fed tensor names, 'x:0') to arrays, or the arrays by position, and returns
    {output name: array}. `plan` keeps the unknown dims of the file (the symbolic batch); each
    run executes it specialized to the shapes of the inputs given, so that every buffer has a
    known size in an arena of its own and the backend's kernels run (no reference fallbacks).
    `batch_plan` (None unless the file was exported with a batch size) is the specialization
    for `batch_size` recorded in the file, checked at load; other shapes are specialized when
    first run (`specialize`) and compiled. The SPECIALIZED_CACHE_SIZE most recently run stay
    compiled.
    """

    def __init__(
        self,
        decoded: _Decoded,
        batch: tuple[Plan, int] | None,
        backend: str,
        path: str,
    ) -> None:
        self.plan = decoded.plan
        self.inputs = decoded.inputs
        self.outputs = decoded.outputs
        self.batch_plan, self.batch_size = batch if batch is not None else (None, None)
        self.backend = backend
        self.path = path
        self.info = decoded.info
        self._backend = get_backend(backend)
        feeds = list(self.plan.feeds)
        self._index = {s.name: i for i, s in enumerate(self.inputs)}
        self._index.update({t: i for i, t in enumerate(feeds) if t not in self._index})
        self._feed_buffers = [self.plan.feeds[t] for t in feeds]
        self._open = [i for i, s in enumerate(self.inputs) if s.shape is None or None in s.shape]
        self._batch_key = None if self.batch_plan is None else self._key(self.batch_plan)
        self._compiled: OrderedDict[_ShapesKey, tuple[Plan, Executable]] = OrderedDict()
        self._last: tuple[Plan, Executable] | None = None
        # compiled now where the shapes are known: a step the backend cannot bind fails here
        if self._batch_key is not None or not self._open:
            self._last = self._specialized(self._batch_key or ())

    def run(self, feeds: Mapping[str, Any] | Any = None, /, *arrays: Any) -> dict[str, np.ndarray]:
        """{output name: value} for inputs given as {name: array} or by position."""
        values = self._check_feeds(self._match(feeds, arrays))
        self._last = self._specialized(tuple(values[i].shape for i in self._open))
        feeds = dict(zip(self._feed_buffers, values, strict=True))
        result = self._last[1].run(feeds, {})
        return {
            spec.name: np.array(value, copy=True)
            for spec, value in zip(self.outputs, result.fetches, strict=True)
        }

    @property
    def executable(self) -> Executable | None:
        """The backend's executable of the last run (before any run: of the recorded batch, or
        of a plan without unknown dims; else None)."""
        return None if self._last is None else self._last[1]

    def _key(self, plan: Plan) -> _ShapesKey:
        """The shapes `plan` gives the inputs with unknown dims."""
        return tuple(plan.buffers[self._feed_buffers[i]].shape for i in self._open)

    def _specialized(self, key: _ShapesKey) -> tuple[Plan, Executable]:
        """The plan for inputs of the shapes `key` and its executable, compiled on first use
        and kept among the SPECIALIZED_CACHE_SIZE most recently used."""
        if key not in self._compiled:
            plan = self._plan_for(key)
            self._compiled[key] = (plan, self._compile(plan))
            if len(self._compiled) > SPECIALIZED_CACHE_SIZE:
                self._compiled.popitem(last=False)
        self._compiled.move_to_end(key)
        return self._compiled[key]

    def _plan_for(self, key: _ShapesKey) -> Plan:
        """The recorded batch plan, the plan itself when no input has unknown dims, or the
        plan specialized to `key`; FeedError when a step's shape rule rejects those shapes."""
        if self.batch_plan is not None and key == self._batch_key:
            return self.batch_plan
        if not self._open:
            return self.plan
        buffers = [self._feed_buffers[i] for i in self._open]
        try:
            return specialize(self.plan, dict(zip(buffers, key, strict=True)))
        except ShapeError as err:
            given = ", ".join(
                f"'{self.inputs[i].name}' {format_shape(shape)}"
                for i, shape in zip(self._open, key, strict=True)
            )
            raise FeedError(f"the plan cannot run on inputs of shapes {given}: {err}") from None

    def _compile(self, plan: Plan) -> Executable:
        try:
            return self._backend.compile(plan)
        except GraphnetError:
            raise
        except Exception as err:  # NOTE: attrs from an untrusted file a kernel cannot take
            raise PlanFileError(
                f"{self.path}: the {self.backend} backend cannot bind the plan's steps "
                f"({type(err).__name__}: {err})"
            ) from None

    def _match(self, feeds: Mapping[str, Any] | Any, arrays: tuple[Any, ...]) -> list[Any]:
        """The given values in input order."""
        expected = ", ".join(str(s) for s in self.inputs) or "none"
        if not isinstance(feeds, Mapping):
            given = [] if feeds is None and not arrays else [feeds, *arrays]
            if len(given) != len(self.inputs):
                raise FeedError(
                    f"the plan takes {len(self.inputs)} input(s) ({expected}), given {len(given)}"
                )
            return given
        if arrays:
            raise FeedError("give the inputs either as one mapping by name or by position")
        unknown = [k for k in feeds if k not in self._index]
        if unknown:
            raise FeedError(f"unknown input(s) {unknown}; the plan's inputs are {expected}")
        by_input: dict[int, Any] = {}
        for key, value in feeds.items():
            if self._index[key] in by_input:
                raise FeedError(f"input '{self.inputs[self._index[key]].name}' is given twice")
            by_input[self._index[key]] = value
        missing = [str(s) for i, s in enumerate(self.inputs) if i not in by_input]
        if missing:
            raise FeedError(f"missing input(s) {', '.join(missing)}")
        return [by_input[i] for i in range(len(self.inputs))]

    def _check_feeds(self, values: list[Any]) -> list[np.ndarray]:
        checked = []
        for spec, value in zip(self.inputs, values, strict=True):
            try:
                arr = np.asarray(value)
            except (ValueError, TypeError) as err:
                raise FeedError(
                    f"input '{spec.name}': expected {spec.type}, given a value that "
                    f"is no array ({err})"
                ) from None
            if arr.dtype.kind not in "biuf" or not np.can_cast(arr.dtype, spec.dtype, "same_kind"):
                raise FeedError(
                    f"input '{spec.name}': expected {spec.type}, given "
                    f"{arr.dtype}{format_shape(arr.shape)}, which does not convert "
                    f"to {spec.dtype} safely"
                )
            if not shape_compatible(spec.shape, arr.shape):
                raise FeedError(
                    f"input '{spec.name}': expected {spec.type}, given "
                    f"{arr.dtype}{format_shape(arr.shape)}"
                )
            checked.append(arr.astype(spec.dtype, copy=False))
        return checked

    def summary(self) -> str:
        """Inputs, outputs, steps per op, weights and the arena."""
        arena = f"arena: {self.plan.arena_size:,} bytes for the temporaries of known size"
        if self.batch_plan is not None:
            arena += f"; {self.batch_plan.arena_size:,} bytes at batch size {self.batch_size}"
        return "\n".join(
            [
                f"inference plan {self.path} (format {self.info['format_version']}, written by "
                f"graphnet {self.info['graphnet_version']}; backend {self.backend})",
                "inputs:  " + (", ".join(str(s) for s in self.inputs) or "none"),
                "outputs: " + ", ".join(str(s) for s in self.outputs),
                self.plan.summary(),
                arena,
            ]
        )

    def memory_report(self) -> MemoryReport:
        """The arena of the plan that ran last (before any run: of `batch_plan` when there is
        one, else of `plan`, whose temporaries of unknown size are left out)."""
        return memory_report(self.plan if self._last is None else self._last[0])

    def __repr__(self) -> str:
        inputs = ", ".join(str(s) for s in self.inputs)
        outputs = ", ".join(str(s) for s in self.outputs)
        return f"<InferencePlan {self.path!r} ({inputs}) -> ({outputs}) on {self.backend!r}>"


def load_plan(path: str | os.PathLike, backend: str = DEFAULT_BACKEND) -> InferencePlan:
    """The plan file at `path`, checked (PlanFileError on any defect) and compiled on
    `backend` (default DEFAULT_BACKEND)."""
    where = os.fspath(path)
    try:
        decoded, constants = _read(path)
        plan = replace(decoded.plan, constants=constants)
        decoded = replace(decoded, plan=plan)
        _check_types(plan)
        _check_memory(plan)
        batch = None if decoded.batch is None else _batch_plan(plan, decoded.batch)
    except PlanFileError as err:
        raise PlanFileError(f"plan file {where!r}: {err}") from None
    return InferencePlan(decoded, batch, backend, where)


__all__ = [
    "DEFAULT_BACKEND",
    "FORMAT",
    "FORMAT_VERSION",
    "InferencePlan",
    "TensorSpec",
    "decode_value",
    "encode_value",
    "load_plan",
    "weight_entry",
]
