"""Checkpoints of variable values (TF1's tf.train.Saver), written atomically, without pickle.

A checkpoint is named by its *prefix* (``/tmp/model.ckpt-100``) and is two files:

``<prefix>.index.json``
    ``{"format": "graphnet-checkpoint", "format_version": 1, "graphnet_version": "0.1.0",
    "data_file": "model.ckpt-100.data-<h>.npz", "variables": [{"name": "dense/kernel",
    "dtype": "float32", "shape": [3, 2], "sha256": "<hex>"}, ...]}`` — per variable its
    checkpoint name, dtype, shape and the sha256 of its C-ordered bytes.
``<prefix>.data-<h>.npz``
    An npz archive (the format ``np.savez`` writes) holding one array per variable under its
    checkpoint name; ``<h>`` is the first 16 hex digits of the file's own sha256. Readable with
    ``np.load(path, allow_pickle=False)``. It is written with ``numpy.lib.format.write_array``
    member by member, because ``np.savez(**arrays)`` breaks on variables named ``file`` or
    ``allow_pickle``.

Next to them, the *state file* ``<dir>/checkpoint`` (JSON) names the latest checkpoint and all
those the Saver keeps, relative to ``<dir>``:
``{"model_checkpoint_path": "model.ckpt-100", "all_model_checkpoint_paths": [...]}``.

Atomicity. Every file is written to a temporary file in the same directory, fsynced, and moved
into place with ``os.replace``. The data file has a fresh, content-derived name, so writing it
never touches the previous checkpoint; the index then replaces the previous index in one step:
that is the commit point. After it, the previous data file of the prefix is deleted, the state
file replaced, and the checkpoints beyond ``max_to_keep`` deleted (index first). A save
interrupted before the commit leaves the previous checkpoint of that prefix and the state file as
they were; after it, the new checkpoint is complete. A data file orphaned by a hard crash is
never read (only the index names data) and is removed by the next save of the same prefix.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import tempfile
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graphnet.ir import GraphnetError, Node, Tensor
from graphnet.ir.types import as_dtype, format_shape, shape_compatible
from graphnet.ops.control import group
from graphnet.ops.state import Variable, assign, global_variables, placeholder

FORMAT = "graphnet-checkpoint"
FORMAT_VERSION = 1
_STATE_FILE = "checkpoint"
_INDEX_SUFFIX = ".index.json"


class CheckpointError(GraphnetError, ValueError):
    """A checkpoint is missing, corrupt, or does not fit the variables it should restore."""


@dataclass(frozen=True)
class CheckpointState:
    """The contents of a state file (TF1's CheckpointState), paths joined to its directory."""

    model_checkpoint_path: str
    all_model_checkpoint_paths: list[str] = field(default_factory=list)


# -- files -----------------------------------------------------------------------------------


def _index_path(prefix: str) -> str:
    return prefix + _INDEX_SUFFIX


def _data_files(prefix: str) -> list[str]:
    """The names of every data file of `prefix` in its directory (current and crash orphans)."""
    directory, base = os.path.split(prefix)
    pattern = re.compile(re.escape(base) + r"\.data-[0-9a-f]{16}\.npz")
    try:
        return [n for n in os.listdir(directory or ".") if pattern.fullmatch(n)]
    except FileNotFoundError:
        return []


def _fsync_dir(directory: str) -> None:
    if os.name != "posix":
        return
    fd = os.open(directory or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: str, data: bytes) -> None:
    """Writes `data` to `path` so that `path` holds either its old or its new content."""
    directory, base = os.path.split(path)
    fd, tmp = tempfile.mkstemp(dir=directory or ".", prefix=f".{base}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_dir(directory)


def _remove_checkpoint(prefix: str) -> None:
    """Deletes a checkpoint: the index first, so that it disappears in one step."""
    directory = os.path.dirname(prefix)
    for path in [_index_path(prefix), *(os.path.join(directory, n) for n in _data_files(prefix))]:
        if os.path.exists(path):
            os.remove(path)


def checkpoint_exists(checkpoint_prefix: str) -> bool:
    """Whether a checkpoint with this prefix exists (its index file does)."""
    return os.path.isfile(_index_path(checkpoint_prefix))


# -- reading -----------------------------------------------------------------------------------


def _corrupt(prefix: str, what: str) -> CheckpointError:
    return CheckpointError(f"checkpoint {prefix!r} is corrupt: {what}")


def _read_index(prefix: str) -> dict[str, Any]:
    """The validated index of `prefix`, with its variables keyed by name."""
    path = _index_path(prefix)
    if not os.path.isfile(path):
        raise CheckpointError(
            f"the passed save_path is not a valid checkpoint: {prefix!r} (no file {path!r})"
        )
    try:
        with open(path, encoding="utf-8") as f:
            index = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _corrupt(prefix, f"cannot read {path!r} ({err})") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise _corrupt(prefix, f"{path!r} is not a graphnet checkpoint index")
    if index.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {prefix!r} has format version {index.get('format_version')!r} "
            f"(written by graphnet {index.get('graphnet_version')}); this graphnet reads "
            f"version {FORMAT_VERSION}"
        )
    data_file = index.get("data_file")
    if not isinstance(data_file, str) or os.path.basename(data_file) != data_file:
        raise _corrupt(prefix, f"bad data_file {data_file!r} in {path!r}")
    entries: dict[str, dict[str, Any]] = {}
    for entry in index.get("variables", None) or []:
        try:
            name, dtype, shape, digest = (entry[k] for k in ("name", "dtype", "shape", "sha256"))
            if not isinstance(name, str) or not isinstance(digest, str):
                raise TypeError("name and sha256 must be strings")
            if not all(isinstance(d, int) and d >= 0 for d in shape):
                raise ValueError("shape must be a list of sizes")
            entries[name] = {"dtype": as_dtype(dtype), "shape": tuple(shape), "sha256": digest}
        except (TypeError, KeyError, ValueError, GraphnetError):
            raise _corrupt(prefix, f"bad variable entry {entry!r} in {path!r}") from None
    return {"data_file": data_file, "variables": entries}


def _array_digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def _read_arrays(prefix: str, index: dict[str, Any], names: Sequence[str]) -> dict[str, np.ndarray]:
    """The arrays `names` from the data file, each checked against the index."""
    path = os.path.join(os.path.dirname(prefix), index["data_file"])
    if not os.path.isfile(path):
        raise _corrupt(prefix, f"its data file {path!r} is missing")
    if not zipfile.is_zipfile(path):
        raise _corrupt(prefix, f"{path!r} is not an npz archive (truncated or overwritten?)")
    arrays: dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as archive:
            for name in names:
                arrays[name] = archive[name]
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as err:
        raise _corrupt(prefix, f"cannot read {path!r} ({type(err).__name__}: {err})") from None
    for name, array in arrays.items():
        entry = index["variables"][name]
        if array.dtype != entry["dtype"].np or array.shape != entry["shape"]:
            raise _corrupt(
                prefix,
                f"variable {name!r} is {array.dtype}{format_shape(array.shape)} in {path!r} but "
                f"{entry['dtype']}{format_shape(entry['shape'])} in its index",
            )
        if _array_digest(array) != entry["sha256"]:
            raise _corrupt(prefix, f"checksum mismatch for variable {name!r} in {path!r}")
    return arrays


def _resolve(ckpt_dir_or_file: str) -> str:
    """A checkpoint prefix: the argument itself, or the latest checkpoint of a directory."""
    if os.path.isdir(ckpt_dir_or_file):
        prefix = latest_checkpoint(ckpt_dir_or_file)
        if prefix is None:
            raise CheckpointError(f"no checkpoint found in directory {ckpt_dir_or_file!r}")
        return prefix
    return ckpt_dir_or_file


def list_variables(ckpt_dir_or_file: str) -> list[tuple[str, list[int]]]:
    """(name, shape) of every variable in a checkpoint (or a directory's latest), by name."""
    index = _read_index(_resolve(ckpt_dir_or_file))
    return sorted((name, list(e["shape"])) for name, e in index["variables"].items())


def load_variable(ckpt_dir_or_file: str, name: str) -> np.ndarray:
    """The value of variable `name` ('w' or 'w:0') in a checkpoint (or a directory's latest)."""
    prefix = _resolve(ckpt_dir_or_file)
    index = _read_index(prefix)
    name = name[:-2] if name.endswith(":0") else name
    if name not in index["variables"]:
        raise CheckpointError(
            f"variable {name!r} is not in checkpoint {prefix!r}; it holds "
            f"{', '.join(sorted(index['variables'])) or 'no variables'}"
        )
    return _read_arrays(prefix, index, [name])[name]


# -- the state file ----------------------------------------------------------------------------


def get_checkpoint_state(
    checkpoint_dir: str, latest_filename: str | None = None
) -> CheckpointState | None:
    """The state file of `checkpoint_dir`, or None when there is none."""
    path = os.path.join(checkpoint_dir, latest_filename or _STATE_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as f:
            state = json.load(f)
        latest, kept = state["model_checkpoint_path"], state["all_model_checkpoint_paths"]
        if not isinstance(latest, str) or not all(isinstance(p, str) for p in kept):
            raise TypeError("paths must be strings")
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"checkpoint state file {path!r} is corrupt ({err})") from None

    def absolute(p: str) -> str:
        return p if os.path.isabs(p) else os.path.join(checkpoint_dir, p)

    return CheckpointState(absolute(latest), [absolute(p) for p in kept])


def latest_checkpoint(checkpoint_dir: str, latest_filename: str | None = None) -> str | None:
    """The prefix of the newest checkpoint the state file of `checkpoint_dir` names, if it
    exists; else None."""
    state = get_checkpoint_state(checkpoint_dir, latest_filename)
    if state is None or not checkpoint_exists(state.model_checkpoint_path):
        return None
    return state.model_checkpoint_path


def _write_state(directory: str, filename: str, latest: str, kept: Sequence[str]) -> None:
    def relative(p: str) -> str:
        return os.path.relpath(p, directory or ".")

    state = {
        "model_checkpoint_path": relative(latest),
        "all_model_checkpoint_paths": [relative(p) for p in kept],
    }
    _write_atomic(os.path.join(directory, filename), json.dumps(state, indent=2).encode())


# -- Saver -------------------------------------------------------------------------------------


def _named_variables(var_list: Any) -> dict[str, Variable]:
    """Checkpoint name -> Variable, as TF1's Saver names them (`var.op.name` for lists)."""
    if var_list is None:
        var_list = global_variables()
    items = (
        list(var_list.items())
        if isinstance(var_list, Mapping)
        else [(v.op.name if isinstance(v, Variable) else repr(v), v) for v in var_list]
    )
    named: dict[str, Variable] = {}
    for name, var in items:
        if not isinstance(var, Variable):
            raise TypeError(f"Saver: var_list holds {var!r}; expected gn.Variable objects")
        if name in named:
            raise ValueError(f"Saver: at least two variables have the same name: {name}")
        named[name] = var
    if not named:
        raise ValueError("Saver: no variables to save")
    graphs = {id(v.graph) for v in named.values()}
    if len(graphs) > 1:
        raise ValueError("Saver: the variables of var_list belong to different graphs")
    return named


class Saver:
    """Saves variables to checkpoints and restores them (TF1's tf.train.Saver).

    `var_list`: None for every global variable (optimizer slots included), a list of Variables
    (saved under their op names) or a dict {checkpoint name: Variable}. The newest `max_to_keep`
    checkpoints are kept (None or 0: all are kept, the state file lists the latest only); with
    `keep_checkpoint_every_n_hours`, one checkpoint per that many hours escapes deletion. The
    format and the atomicity of a save are described in this module's docstring.
    """

    def __init__(
        self,
        var_list: Sequence[Variable] | Mapping[str, Variable] | None = None,
        max_to_keep: int | None = 5,
        keep_checkpoint_every_n_hours: float | None = None,
        name: str | None = None,
        filename: str | None = None,
    ) -> None:
        self._variables = _named_variables(var_list)
        self.max_to_keep = max_to_keep
        self.keep_checkpoint_every_n_hours = keep_checkpoint_every_n_hours
        self.filename = filename
        self._keep_period_s = (
            math.inf
            if keep_checkpoint_every_n_hours is None
            else 3600 * keep_checkpoint_every_n_hours
        )
        self._next_keep_time = time.time() + self._keep_period_s
        self._last_checkpoints: list[tuple[str, float]] = []
        graph = next(iter(self._variables.values())).graph
        # The restore ops, built once: a placeholder and an assignment per variable.
        with graph.as_default(), graph.name_scope(name or "save"):
            self._restore_feeds: dict[str, Tensor] = {}
            assigns = []
            for ckpt_name, var in self._variables.items():
                value = placeholder(var.dtype, var.shape, name="restore_value")
                self._restore_feeds[ckpt_name] = value
                assigns.append(assign(var, value))
            self._restore_op: Node = group(*assigns, name="restore_all")

    @property
    def last_checkpoints(self) -> list[str]:
        """The prefixes of the checkpoints this Saver keeps, oldest first."""
        return [p for p, _ in self._last_checkpoints]

    def recover_last_checkpoints(self, checkpoint_paths: Sequence[str]) -> None:
        """Takes over checkpoints written earlier (e.g. by a crashed run) so that max_to_keep
        deletes them in turn; their times are their index files' modification times."""
        found = [p for p in checkpoint_paths if checkpoint_exists(p)]
        self._last_checkpoints = [(p, os.path.getmtime(_index_path(p))) for p in found]

    # -- saving ----------------------------------------------------------------------------

    def save(
        self,
        sess: Any,
        save_path: str | None = None,
        global_step: Any = None,
        latest_filename: str | None = None,
        write_meta_graph: bool = False,
        write_state: bool = True,
    ) -> str:
        """Writes the variables' values from `sess` to a checkpoint and returns its prefix:
        `save_path`, or `save_path-<global_step>` (an int, or a tensor/Variable to run)."""
        if write_meta_graph:
            raise NotImplementedError(
                "Saver.save: meta graphs are not supported; rebuild the graph in code, then "
                "restore the checkpoint into it"
            )
        save_path = self._path(save_path, "save")
        latest_filename = latest_filename or _STATE_FILE
        if os.path.dirname(latest_filename):
            raise ValueError(
                f"Saver.save: latest_filename {latest_filename!r} must not contain path components"
            )
        if global_step is not None:
            if not isinstance(global_step, int | np.integer):
                global_step = sess.run(global_step)
            save_path = f"{save_path}-{int(global_step)}"
        directory = os.path.dirname(save_path)
        if not os.path.isdir(directory or "."):
            raise CheckpointError(f"parent directory of {save_path!r} does not exist; cannot save")
        values = sess.run(list(self._variables.values()))
        arrays = {
            name: np.asarray(value, dtype=var.dtype.np)
            for (name, var), value in zip(self._variables.items(), values, strict=True)
        }
        try:
            _write_checkpoint(save_path, arrays)
            self._record(save_path)
            if write_state:
                _write_state(directory, latest_filename, save_path, self._kept_in_state(save_path))
        except OSError as err:
            raise CheckpointError(f"cannot write checkpoint {save_path!r}: {err}") from err
        self._delete_old()
        return save_path

    def _path(self, path: str | None, what: str) -> str:
        path = path if path is not None else self.filename
        if path is None:
            raise ValueError(f"Saver.{what}: no save_path given and the Saver has no filename")
        return os.fspath(path)

    def _record(self, prefix: str) -> None:
        """Appends `prefix` to the kept checkpoints (moving it to the end if present)."""
        if not self.max_to_keep:
            return
        self._last_checkpoints = [(p, t) for p, t in self._last_checkpoints if p != prefix]
        self._last_checkpoints.append((prefix, time.time()))

    def _kept_in_state(self, latest: str) -> list[str]:
        kept = self.last_checkpoints[-self.max_to_keep :] if self.max_to_keep else []
        return kept if latest in kept else [*kept, latest]

    def _delete_old(self) -> None:
        """Deletes the oldest checkpoints beyond max_to_keep, sparing one per
        keep_checkpoint_every_n_hours."""
        while self.max_to_keep and len(self._last_checkpoints) > self.max_to_keep:
            prefix, saved_at = self._last_checkpoints.pop(0)
            if saved_at > self._next_keep_time:
                self._next_keep_time += self._keep_period_s
            else:
                _remove_checkpoint(prefix)

    # -- restoring -------------------------------------------------------------------------

    def restore(self, sess: Any, save_path: str | None = None) -> None:
        """Sets the variables in `sess` to their values in checkpoint `save_path`. All are
        checked first: on any error no variable changes."""
        prefix = self._path(save_path, "restore")
        index = _read_index(prefix)
        stored = index["variables"]
        missing = [name for name in self._variables if name not in stored]
        if missing:
            raise CheckpointError(
                f"checkpoint {prefix!r} lacks {len(missing)} variable(s) to restore: "
                f"{', '.join(missing)}"
            )
        mismatched = [
            f"{name} (expected {var.dtype}{format_shape(var.shape)}, given "
            f"{stored[name]['dtype']}{format_shape(stored[name]['shape'])})"
            for name, var in self._variables.items()
            if stored[name]["dtype"] != var.dtype
            or not shape_compatible(var.shape, stored[name]["shape"])
        ]
        if mismatched:
            raise CheckpointError(
                f"checkpoint {prefix!r} does not fit the variables: {'; '.join(mismatched)}"
            )
        arrays = _read_arrays(prefix, index, list(self._variables))
        feed = {self._restore_feeds[name]: arrays[name] for name in self._variables}
        sess.run(self._restore_op, feed)


def _write_checkpoint(prefix: str, arrays: Mapping[str, np.ndarray]) -> None:
    """Writes the data file under a fresh name, then commits the index; see the module doc."""
    from graphnet import __version__

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)
    data = buffer.getvalue()
    data_path = f"{prefix}.data-{hashlib.sha256(data).hexdigest()[:16]}.npz"
    index = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "graphnet_version": __version__,
        "data_file": os.path.basename(data_path),
        "variables": [
            {
                "name": name,
                "dtype": str(a.dtype),
                "shape": list(a.shape),
                "sha256": _array_digest(a),
            }
            for name, a in sorted(arrays.items())
        ],
    }
    existed = os.path.exists(data_path)
    try:
        _write_atomic(data_path, data)
        _write_atomic(_index_path(prefix), json.dumps(index, indent=1).encode())
    except BaseException:
        if not existed and os.path.exists(data_path):
            os.remove(data_path)
        raise
    directory = os.path.dirname(prefix)
    for stale in _data_files(prefix):
        if stale != os.path.basename(data_path):
            os.remove(os.path.join(directory, stale))
