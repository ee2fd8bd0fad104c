"""Fuzzing plan files: whatever is done to a valid file's bytes, its manifest's text or its
manifest's fields, loading it and running it raise PlanFileError or FeedError, or work."""

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

import graphnet as gn
from graphnet.export import save_plan
from graphnet.ir import FeedError, PlanFileError
from graphnet.ops.registry import OPS
from graphnet.runtime.loader import load_plan

# every step of a loaded plan runs a CPU kernel: the plan is specialized to the inputs' shapes
pytestmark = pytest.mark.filterwarnings(
    "error::graphnet.backends.layout.KernelFallbackWarning"
)
SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
FEED = np.random.default_rng(0).normal(size=(2, 6, 6, 1)).astype(np.float32)


@dataclass(repr=False)  # hypothesis prints the arguments of a failing example: not these bytes
class PlanFile:
    data: bytes
    entries: dict[str, bytes]


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory):
    """A small CNN's plan file (fused conv with folded batch norm, pooling, reshape, matmul,
    softmax), with the arena plan of batch 2: its bytes and its entries."""
    rng = np.random.default_rng(1)
    graph = gn.Graph()
    with graph.as_default():
        x = gn.placeholder(gn.float32, [None, 6, 6, 1], name="x")
        h = gn.nn.conv2d(x, rng.normal(size=(3, 3, 1, 2)).astype(np.float32), 1, "SAME")
        h, _, _ = gn.nn.fused_batch_norm(h, np.ones(2, np.float32), np.zeros(2, np.float32),
                                         np.zeros(2, np.float32), np.ones(2, np.float32),
                                         is_training=False)  # fmt: skip
        h = gn.nn.max_pool2d(gn.nn.relu(h), 2, 2, "VALID")
        h = gn.reshape(h, [-1, 18]) @ rng.normal(size=(18, 3)).astype(np.float32)
        y = gn.nn.softmax(h, name="probs")
        with gn.Session(graph=graph) as sess:
            path = save_plan(sess, y, x, tmp_path_factory.mktemp("fuzz") / "p.gnplan",
                             batch_size=2)  # fmt: skip
    data = path.read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        entries = {name: zf.read(name) for name in zf.namelist()}
    return PlanFile(data, entries)


def _zip(entries):
    f = io.BytesIO()
    with zipfile.ZipFile(f, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return f.getvalue()


def _check(data, tmp_path):
    """Loads and runs the file: only PlanFileError and FeedError may come out."""
    path = tmp_path / "mutated.gnplan"
    path.write_bytes(data)
    try:
        loaded = load_plan(path)
    except PlanFileError:
        event("refused")
        return
    try:
        loaded.run(FEED)
    except FeedError:
        event("loaded; the feed refused")
    else:
        event("loaded and ran")


#: One change to a byte string: (kind, where in it as a fraction, bytes).
_EDITS = st.tuples(
    st.sampled_from(["flip", "insert", "delete", "truncate"]),
    st.floats(0, 1, exclude_max=True),
    st.binary(min_size=1, max_size=4),
)


def _edit(data, edits):
    for kind, where, payload in edits:
        at = int(where * len(data)) if data else 0
        if kind == "flip" and data:
            data = data[:at] + bytes([data[at] ^ (payload[0] or 1)]) + data[at + 1 :]
        elif kind == "insert":
            data = data[:at] + payload + data[at:]
        elif kind == "delete":
            data = data[:at] + data[at + len(payload) :]
        else:
            data = data[:at]
    return data


@SETTINGS
@given(edits=st.lists(_EDITS, min_size=1, max_size=3))
def test_edited_archive_bytes(plan_file, tmp_path, edits):
    _check(_edit(plan_file.data, edits), tmp_path)


@SETTINGS
@given(edits=st.lists(_EDITS, min_size=1, max_size=3))
def test_edited_manifest_text_in_a_sound_archive(plan_file, tmp_path, edits):
    entries = plan_file.entries
    _check(_zip({**entries, "manifest.json": _edit(entries["manifest.json"], edits)}), tmp_path)


@SETTINGS
@given(edits=st.lists(_EDITS, min_size=1, max_size=2), k=st.integers(0, 3))
def test_edited_weights_with_their_checksum_updated(plan_file, tmp_path, edits, k):
    entries = plan_file.entries
    name = f"weights/{k % (len(entries) - 1)}.npy"
    weight = _edit(entries[name], edits)
    manifest = json.loads(entries["manifest.json"])
    for row in manifest["weights"]:
        if row["file"] == name:
            row["sha256"] = hashlib.sha256(weight).hexdigest()
    changed = {"manifest.json": json.dumps(manifest).encode(), name: weight}
    _check(_zip({**entries, **changed}), tmp_path)


_NAMES = [*sorted(OPS), "float32", "int32", "bool", "feed", "const", "temp", "SAME", "VALID"]
_SCALARS = (
    st.none() | st.booleans() | st.integers(-2, 40) | st.integers() | st.text(max_size=6)
    | st.sampled_from(_NAMES) | st.floats() | st.builds(lambda f: {"float": repr(f)}, st.floats())
)  # fmt: skip
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=8,
)  # fmt: skip


def _places(value, path=()):
    """Every place in a JSON value: the path to it."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _places(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _places(item, (*path, i))


@SETTINGS
@given(data=st.data())
def test_changed_manifest_fields(plan_file, tmp_path, data):
    entries = plan_file.entries
    manifest = json.loads(entries["manifest.json"])
    for _ in range(data.draw(st.integers(1, 3), label="changes")):
        places = [p for p in _places(manifest) if p]
        if not places:
            break
        *parents, last = data.draw(st.sampled_from(places), label="place")
        target = manifest
        for key in parents:
            target = target[key]
        action = data.draw(st.sampled_from(["replace", "delete", "nudge"]), label="action")
        if action == "delete":
            del target[last]
        elif action == "nudge" and isinstance(target[last], int | float):
            target[last] += data.draw(st.sampled_from([-1, 1, 64, -64]), label="by")
        else:
            target[last] = data.draw(_JSON, label="value")
    _check(_zip({**entries, "manifest.json": json.dumps(manifest).encode()}), tmp_path)
