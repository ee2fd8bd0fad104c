"""Plan files: save_plan writes one file that load_plan runs like the Session, at any batch
size; the attr encoding round-trips every kind of value; bad files and bad feeds are refused
with errors that say what is wrong; loading needs no builder and executes nothing from the file."""

import hashlib
import io
import json
import math
import os
import pickle
import struct
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest

import graphnet as gn
from graphnet.backends.registry import BackendError
from graphnet.compiler.memory import validate_memory
from graphnet.compiler.pipeline import PassContext
from graphnet.compiler.specialize import batch_feed_shapes, specialize
from graphnet.export import plan_file, save_plan, write_plan
from graphnet.ir import FeedError, FetchError, PlanFileError
from graphnet.runtime.loader import (
    DEFAULT_BACKEND,
    SPECIALIZED_CACHE_SIZE,
    InferencePlan,
    decode_value,
    encode_value,
    load_plan,
)

# every step of a loaded plan runs a CPU kernel: the plan is specialized to the inputs' shapes
pytestmark = pytest.mark.filterwarnings(
    "error::graphnet.backends.layout.KernelFallbackWarning"
)
RNG = np.random.default_rng(0)
ROOT = Path(gn.__file__).resolve().parents[1]


def _var(*shape, scale=0.3, name=None):
    return gn.Variable(RNG.normal(0, scale, shape).astype(np.float32), name=name)


def mlp():
    x = gn.placeholder(gn.float32, [None, 6], name="x")
    h = gn.nn.relu(gn.nn.bias_add(gn.matmul(x, _var(6, 8)), _var(8)))
    h = gn.nn.tanh(gn.matmul(h, _var(8, 5)) + 0.5)
    return x, gn.nn.softmax(gn.matmul(h, _var(5, 3)), name="probs")


def _conv_bn_relu(x, cin, cout, padding):
    h = gn.nn.conv2d(x, _var(3, 3, cin, cout), strides=1, padding=padding)
    mean, var = _var(cout), gn.abs(_var(cout)) + 0.5
    h, _, _ = gn.nn.fused_batch_norm(h, _var(cout) + 1.0, _var(cout), mean, var, is_training=False)
    return gn.nn.relu(h)


def lenet():
    x = gn.placeholder(gn.float32, [None, 8, 8, 1], name="image")
    h = gn.nn.max_pool2d(_conv_bn_relu(x, 1, 4, "SAME"), 2, 2, "VALID")
    h = gn.nn.max_pool2d(_conv_bn_relu(h, 4, 6, "VALID"), 2, 2, "VALID")
    h = gn.nn.relu(gn.matmul(gn.reshape(h, [-1, 6]), _var(6, 5)))
    return x, gn.identity(gn.matmul(h, _var(5, 3)), name="logits")


MODELS = {"mlp": mlp, "lenet": lenet}
BATCHES = (1, 3, 7)


def _feed(x, n, seed=0):
    return np.random.default_rng(seed).normal(size=(n, *x.shape[1:])).astype(np.float32)


def _export(tmp_path, build, opt_level="O2", batch_size=None, name="model.gnplan"):
    """The plan file of a fresh model and the results of an O0 Session on the reference
    backend (the ground truth) at each of BATCHES."""
    x, y = build()
    config = gn.SessionConfig(opt_level="O0")
    with gn.Session(config=config, backend="reference") as sess:
        sess.run(gn.global_variables_initializer())
        path = save_plan(sess, y, x, tmp_path / name, opt_level=opt_level, batch_size=batch_size)
        want = {n: (_feed(x, n), sess.run(y, {x: _feed(x, n)})) for n in BATCHES}
    return path, want


@pytest.fixture
def lenet_file(tmp_path):
    return _export(tmp_path, lenet, batch_size=3)


# -- results --------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [None, 3])
@pytest.mark.parametrize("opt_level", ["O0", "O1", "O2"])
@pytest.mark.parametrize("model", sorted(MODELS))
def test_the_loaded_plan_computes_what_the_session_does_at_every_batch_size(
    tmp_path, model, opt_level, batch_size
):
    path, want = _export(tmp_path, MODELS[model], opt_level, batch_size)
    for backend in ("cpu", "reference", "reference-arena"):  # poison mode checks the arenas
        loaded = load_plan(path, backend=backend)
        for n, (feed, expected) in want.items():
            (got,) = loaded.run(feed).values()
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{backend}, batch {n}")  # fmt: skip
            assert got.dtype == np.float32 and got.shape == expected.shape


def test_each_batch_size_runs_its_own_specialized_plan_compiled_once(tmp_path):
    path, want = _export(tmp_path, lenet, batch_size=7)
    loaded = load_plan(path, backend="cpu")
    recorded = loaded.executable  # compiled at load
    assert recorded.plan is loaded.batch_plan
    # the recorded arena is the one the loader's specialization gives
    again = specialize(loaded.plan, batch_feed_shapes(loaded.plan, 7))
    assert (again.buffers, again.arena_size) == (recorded.plan.buffers, recorded.plan.arena_size)
    seen = {}
    for _ in range(2):
        for n, (feed, expected) in want.items():
            np.testing.assert_allclose(loaded.run(feed)["logits"], expected, rtol=1e-5,
                                       atol=1e-6, err_msg=f"batch {n}")  # fmt: skip
            executable = loaded.executable
            assert seen.setdefault(n, executable) is executable, f"batch {n} compiled again"
            plan = executable.plan
            assert not executable.fallbacks and plan.buffers[plan.feeds["image:0"]].shape[0] == n
            validate_memory(plan)
            report = loaded.memory_report()  # of the batch that ran last
            assert report.arena_bytes == plan.arena_size and not report.unplanned
    assert seen[7] is recorded and len(set(map(id, seen.values()))) == len(BATCHES)


def test_the_least_recently_run_shapes_are_compiled_again(tmp_path):
    path, _ = _export(tmp_path, mlp)
    loaded = load_plan(path)
    assert loaded.executable is None  # the batch is unknown until a run

    def executable_at(n):
        loaded.run(np.zeros((n, 6), np.float32))
        return loaded.executable

    first = {n: executable_at(n) for n in range(1, SPECIALIZED_CACHE_SIZE + 1)}
    assert executable_at(1) is first[1]
    executable_at(SPECIALIZED_CACHE_SIZE + 1)  # one too many: drops batch 2, run least recently
    assert executable_at(2) is not first[2] and executable_at(1) is first[1]


def test_o2_plans_fold_batch_norm_and_fuse_and_keep_the_batch_symbolic(lenet_file):
    path, _ = lenet_file
    loaded = load_plan(path)
    ops = [s.op for s in loaded.plan.steps]
    assert "fused_batch_norm" not in ops and ops.count("fused_conv2d") == 2
    assert [str(s) for s in loaded.inputs] == ["image: float32[?,8,8,1]"]
    assert [str(s) for s in loaded.outputs] == ["logits: float32[?,3]"]
    assert loaded.plan.buffers[loaded.plan.fetches[0]].shape == (None, 3)
    # the symbolic plan leaves the batch-sized temporaries out of its arena; batch 3's has them
    assert loaded.memory_report().unplanned == () and loaded.batch_size == 3
    assert len(loaded.memory_report().rows) == len(loaded.plan.steps)
    assert len(gn.compiler.memory.memory_report(loaded.plan).unplanned) == len(loaded.plan.steps)


def test_the_manifest_records_the_plan(lenet_file):
    path, _ = lenet_file
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        names = zf.namelist()
        weights = {name: zf.read(name) for name in names if name.startswith("weights/")}
    assert manifest["format"] == "graphnet-plan" and manifest["format_version"] == "1.0"
    assert manifest["graphnet_version"] == gn.__version__
    assert manifest["inputs"] == [{"name": "image", "buffer": 0, "dtype": "float32",
                                   "shape": [None, 8, 8, 1], "tensor": "image:0"}]  # fmt: skip
    assert manifest["outputs"][0]["shape"] == [None, 3]
    conv = next(s for s in manifest["steps"] if s["op"] == "fused_conv2d")
    assert conv["attrs"]["strides"] == [1, 1] and conv["attrs"]["alpha"] == {"float": "0.0"}
    assert {b["kind"] for b in manifest["buffers"]} == {"feed", "const", "temp"}
    assert manifest["batch"]["size"] == 3 and manifest["batch"]["arena_size"] > 0
    assert names == ["manifest.json", *(f"weights/{k}.npy" for k in range(len(weights)))]
    for row in manifest["weights"]:
        assert hashlib.sha256(weights[row["file"]]).hexdigest() == row["sha256"]
        value = np.load(io.BytesIO(weights[row["file"]]), allow_pickle=False)
        assert list(value.shape) == manifest["buffers"][row["buffer"]]["shape"]


def test_the_plan_rebuilt_from_the_manifest_is_the_compiled_plan(tmp_path):
    x, y = lenet()
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        ctx = PassContext(opt_level="O2", inference=True, variables=sess.variable_values())
        compiled = gn.compiler.compile(sess.graph, [y], [x], ctx)
        path = save_plan(sess, y, x, tmp_path / "m.gnplan")
    loaded = load_plan(path).plan
    assert loaded.buffers == compiled.buffers and loaded.steps == compiled.steps
    assert (loaded.feeds, loaded.fetches, loaded.arena_size) == (
        compiled.feeds, compiled.fetches, compiled.arena_size)  # fmt: skip
    assert loaded.constants.keys() == compiled.constants.keys()
    for b, value in compiled.constants.items():
        assert loaded.constants[b].dtype == value.dtype
        np.testing.assert_array_equal(loaded.constants[b], value)
        assert not loaded.constants[b].flags.writeable


def test_the_same_plan_gives_the_same_bytes(tmp_path):
    x, y = mlp()
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        first = save_plan(sess, y, x, tmp_path / "a.gnplan").read_bytes()
        assert save_plan(sess, [y], [x], tmp_path / "b.gnplan").read_bytes() == first


def test_several_inputs_and_outputs_by_name_position_and_tensor_name(tmp_path):
    a = gn.placeholder(gn.float32, [None, 2], name="a")
    b = gn.placeholder(gn.int32, [None], name="scope/b")
    total = gn.add(a, gn.expand_dims(gn.cast(b, gn.float32), 1), name="total")
    count = gn.reduce_sum(b, name="count")
    with gn.Session() as sess:
        path = save_plan(sess, [total, count], [a, b], tmp_path / "two.gnplan")
        want = sess.run([total, count], {a: np.ones((3, 2)), b: [1, 2, 3]})
    loaded = load_plan(path)
    assert [s.name for s in loaded.inputs] == ["a", "scope/b"]
    assert [s.name for s in loaded.outputs] == ["total", "count"]
    runs = [
        loaded.run(np.ones((3, 2), np.float32), np.array([1, 2, 3])),
        loaded.run({"scope/b": [1, 2, 3], "a": np.ones((3, 2))}),  # float64 -> float32 is safe
        loaded.run({"a:0": np.ones((3, 2), np.float32), "scope/b:0": np.array([1, 2, 3])}),
    ]
    for got in runs:
        np.testing.assert_array_equal(got["total"], want[0])
        assert got["count"] == want[1] and got["count"].shape == ()


def test_outputs_are_copies_and_weights_read_only(tmp_path):
    x = gn.placeholder(gn.float32, [None, 2], name="x")
    c = gn.constant(np.arange(4, dtype=np.float32).reshape(2, 2), name="c")
    with gn.Session() as sess:
        path = save_plan(sess, [gn.matmul(x, c), c], x, tmp_path / "c.gnplan")
    loaded = load_plan(path)
    out = loaded.run(np.ones((1, 2), np.float32))
    out["c"][0, 0] = 100.0
    assert loaded.run(np.ones((1, 2), np.float32))["c"][0, 0] == 0.0


def test_summary_memory_report_and_repr(lenet_file):
    path, _ = lenet_file
    loaded = load_plan(path)
    text = loaded.summary()
    assert "image: float32[?,8,8,1]" in text and "fused_conv2d" in text
    assert "at batch size 3" in text and "format 1.0" in text
    assert loaded.memory_report().arena_bytes == loaded.batch_plan.arena_size
    assert repr(loaded).startswith("<InferencePlan") and DEFAULT_BACKEND in repr(loaded)
    assert isinstance(loaded, InferencePlan) and loaded.info["passes"][-1] == "plan_memory"


# -- errors while saving ---------------------------------------------------------------------


def test_saving_refuses_what_an_inference_plan_cannot_hold(tmp_path):
    x = gn.placeholder(gn.float32, [None, 2], name="x")
    w = gn.Variable(np.ones((2, 2), np.float32), name="w")
    y = gn.matmul(x, w)
    step = gn.assign_add(w, gn.ones_like(w))
    with gn.Session() as sess:
        with pytest.raises(gn.FailedPreconditionError, match=r"uninitialized variable.*w"):
            save_plan(sess, y, x, tmp_path / "p", opt_level="O0")
        sess.run(gn.global_variables_initializer())
        with pytest.raises(FetchError, match="cannot fetch node"):
            save_plan(sess, [y, gn.no_op()], x, tmp_path / "p")
        with pytest.raises(FetchError, match="assign variables"):
            save_plan(sess, step, x, tmp_path / "p", opt_level="O0")
        with pytest.raises(FetchError, match="given twice"):
            save_plan(sess, [y, y], x, tmp_path / "p")
        with pytest.raises(ValueError, match="batch_size"):
            save_plan(sess, y, x, tmp_path / "p", batch_size=0)
        with pytest.raises(FeedError, match="cannot feed"):
            save_plan(sess, y, "nope:0", tmp_path / "p")
        with pytest.raises(ValueError, match="opt_level"):
            save_plan(sess, y, x, tmp_path / "p", opt_level="O9")
    assert not list(tmp_path.iterdir())


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path, monkeypatch):
    path, _ = _export(tmp_path, mlp, name="m.gnplan")
    before = path.read_bytes()

    def fail(f, manifest, weights):
        f.write(b"PK partial")
        raise OSError("disk full")

    monkeypatch.setattr(plan_file, "_write_zip", fail)
    x, y = mlp()
    with gn.Session() as sess:
        sess.run(gn.global_variables_initializer())
        with pytest.raises(OSError, match="disk full"):
            save_plan(sess, y, x, path)
        with pytest.raises(OSError, match="disk full"):
            save_plan(sess, y, x, tmp_path / "new.gnplan")
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.gnplan"]


# -- attribute values ----------------------------------------------------------------------


def _same(a, b) -> bool:
    """Exactly the same value: same types all the way down, floats bit for bit (any NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, np.ndarray):
        return (a.dtype, a.shape, a.tobytes()) == (b.dtype, b.shape, b.tobytes())
    return a == b


def _round_trip(value):
    return decode_value(json.loads(json.dumps(encode_value(value), allow_nan=False)))


HAND_MADE = [
    None, True, False, 0, -1, 2**70, -(2**63), 0.0, -0.0, 1.5, 0.1, 1e-300, 5e-324,
    1.7976931348623157e308, math.inf, -math.inf, math.nan, "", "SAME", "ü∑\n\"\\", "...",
    "newaxis", (), (1, None, -1), ((0, 0), (1, 1)), ("...", "newaxis", 0, (1, 3, None)),
    gn.float32, gn.bool,
    ("add", (), ("multiply", (("alpha", 0.2),), ("in", 0), ("const", 2.0, "float32")),
     ("in", 1)),
    np.array(3.5, np.float32), np.zeros((0, 2), np.int64),
    np.arange(6, dtype=np.int32).reshape(2, 3), np.array([True, False]),
    np.array([np.nan, -0.0, np.inf], np.float64),
]  # fmt: skip


@pytest.mark.parametrize("value", HAND_MADE, ids=lambda v: type(v).__name__)
def test_every_kind_of_attr_value_round_trips_exactly(value):
    assert _same(_round_trip(value), value), f"{value!r} came back as {_round_trip(value)!r}"


def _registry_attrs():
    """The attrs of every node of graphs over the op families, and of the fused steps of their
    O2 inference plans: (op, name, value)."""
    g = gn.Graph()
    with g.as_default():
        x = gn.placeholder(gn.float32, [None, 4], name="x")
        img = gn.placeholder(gn.float32, [2, 6, 6, 3], name="img")
        labels = gn.placeholder(gn.int32, [None], name="labels")
        h = gn.nn.leaky_relu(gn.matmul(x, _var(4, 5)), 0.1) * 2.5 - 1e-7
        h = gn.nn.elu(gn.nn.relu6(h)) + gn.sqrt(gn.abs(h)) - gn.floor(gn.sin(h))
        parts = gn.split(gn.concat([h, h * 3.0], axis=1), 2, axis=1)
        s = gn.transpose(gn.stack(parts, axis=0)[0])[1:3, ::-1][..., gn.newaxis, 0]
        t = gn.tile(gn.pad(gn.reshape(h, [-1, 5, 1]), [[0, 0], [1, 1], [0, 0]]), [1, 1, 2])
        logits = gn.reduce_mean(t, axis=2) @ gn.constant(RNG.normal(size=(7, 3)), gn.float32)
        loss = gn.reduce_mean(gn.nn.sparse_softmax_cross_entropy_with_logits(
            labels=labels, logits=logits)) + gn.reduce_sum(s)  # fmt: skip
        onehot = gn.one_hot(labels, 3, on_value=0.9, off_value=-math.inf)
        loss += gn.reduce_min(gn.gather(gn.nn.log_softmax(logits), [0, 2, 1], axis=1) + onehot)
        c = gn.nn.conv2d(img, _var(3, 3, 3, 4), strides=[1, 1, 1, 1], padding="SAME")
        c = gn.nn.avg_pool(gn.nn.max_pool(c, [1, 2, 2, 1], [1, 2, 2, 1], "VALID"),
                           [1, 2, 2, 1], [1, 1, 1, 1], "SAME")  # fmt: skip
        dw = gn.nn.depthwise_conv2d(img, RNG.normal(size=(2, 2, 3, 2)).astype(np.float32),
                                    [1, 1, 1, 1], "VALID")  # fmt: skip
        bn = gn.nn.fused_batch_norm(c, np.ones(4, np.float32), np.zeros(4, np.float32),
                                    epsilon=1e-3)  # fmt: skip
        loss += gn.reduce_sum(bn[0]) + gn.reduce_sum(gn.nn.lrn(c)) + gn.reduce_sum(dw)
        loss += gn.reduce_sum(gn.nn.dropout(c, rate=0.5)) + gn.reduce_sum(gn.random_normal([2]))
        loss += gn.reduce_max(gn.cast(gn.argmax(logits, 1), gn.float32))
        grads = gn.gradients(loss, [x, img])
    found = [(n.type, k, v) for n in g.nodes for k, v in n.attrs.items()]
    for build in MODELS.values():
        fused = gn.Graph()
        with fused.as_default():
            inp, out = build()
            with gn.Session(graph=fused) as sess:
                sess.run(gn.global_variables_initializer())
                ctx = PassContext(opt_level="O2", inference=True, variables=sess.variable_values())
                plan = gn.compiler.compile(fused, [out], [inp], ctx)
        found += [(s.op, k, v) for s in plan.steps for k, v in s.attrs.items()]
    assert grads[0] is not None
    return found


def _kinds(value, into):
    into.add(type(value).__name__)
    if isinstance(value, tuple):
        for v in value:
            _kinds(v, into)
    return into


def test_the_attrs_of_the_op_registry_round_trip_exactly():
    found = _registry_attrs()
    ops = {op for op, _, _ in found}
    assert {"fused_conv2d", "fused_matmul", "strided_slice", "one_hot", "pad"} <= ops
    kinds = set()
    for op, key, value in found:
        _kinds(value, kinds)
        assert _same(_round_trip(value), value), f"{op}.{key} = {value!r}"
    hand_made = set()
    for value in HAND_MADE:
        _kinds(value, hand_made)
    # every kind of value the ops use is among those the hand-made cases cover
    assert kinds <= hand_made, kinds - hand_made


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (1.5, "not a value"),
        ({"float": "1_0"}, "not a value"),
        ({"float": 1.0}, "not a value"),
        ({"dtype": "complex64"}, "not a value"),
        ({"pickle": "gASV"}, "not a value"),
        ({"float": "1.0", "dtype": "float32"}, "not a value"),
        ({"ndarray": {"dtype": "object", "shape": [1], "data": ""}}, "dtype"),
        ({"ndarray": {"dtype": "int32", "shape": [2], "data": "AAAA"}}, "needs 8"),
        ({"ndarray": {"dtype": "int32", "shape": [1], "data": "!!!"}}, "base64"),
        ({"ndarray": {"dtype": "int32", "shape": [-1], "data": ""}}, "shape"),
    ],
)
def test_values_outside_the_encoding_are_refused(data, message):
    with pytest.raises(PlanFileError, match=message):
        decode_value(data, "steps[0].attrs.x")


# -- bad files -------------------------------------------------------------------------------


def _rewrite(path, change_manifest=None, entries=None, drop=(), extra=None):
    """The plan file with its manifest changed by `change_manifest(manifest)`, entries replaced
    (`entries`: name -> bytes), dropped or added."""
    with zipfile.ZipFile(path) as zf:
        contents = {name: zf.read(name) for name in zf.namelist()}
    manifest = json.loads(contents["manifest.json"])
    if change_manifest is not None:
        change_manifest(manifest)
        contents["manifest.json"] = json.dumps(manifest).encode()
    contents.update(entries or {})
    contents.update(extra or {})
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in contents.items():
            if name not in drop:
                zf.writestr(name, data)


def _setter(*path_and_value):
    *path, value = path_and_value

    def change(manifest):
        target = manifest
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return change


def _first_const(manifest):
    return next(i for i, b in enumerate(manifest["buffers"]) if b["kind"] == "const")


BAD_MANIFESTS = {
    "newer major version": (_setter("format_version", "2.0"), "format version 2.0.*upgrade"),
    "bad version": (_setter("format_version", "1"), "major.minor"),
    "other format": (_setter("format", "onnx"), "does not describe a graphnet plan"),
    "missing steps": (_setter("steps", KeyError), "missing key 'steps'"),
    "missing inputs": (_setter("inputs", KeyError), "missing key 'inputs'"),
    "missing batch": (_setter("batch", KeyError), "missing key 'batch'"),
    "missing attrs": (_setter("steps", 0, "attrs", KeyError), r"steps\[0\]: missing key"),
    "unknown op": (_setter("steps", 0, "op", "frobnicate"), "unknown op 'frobnicate'"),
    "an assignment": (_setter("steps", 0, "op", "assign"), "cannot run"),
    "bad kind": (_setter("buffers", 0, "kind", "variable"), r"buffers\[0\].kind"),
    "bool index": (_setter("steps", 0, "inputs", [True]), "buffer indices"),
    "index out of range": (_setter("steps", 0, "inputs", [999]), "buffer indices"),
    "read before written": (
        lambda m: m["steps"][0].update(inputs=m["steps"][-1]["outputs"]),
        "before it is written",
    ),
    "bad attr": (_setter("steps", 0, "attrs", "padding", {"eval": "x"}), "not a value"),
    "wrong attr": (_setter("steps", 0, "attrs", "padding", "FULL"), "shape rule"),
    "wrong shape": (_setter("buffers", 3, "shape", [None, 8, 8, 5]), "recorded as"),
    "wrong dtype": (_setter("outputs", 0, "dtype", "float64"), "outputs"),
    "raw float": (_setter("steps", 0, "attrs", "alpha", 0.0), "not a value"),
    "bad sha": (_setter("weights", 0, "sha256", "abc"), "sha256"),
    "weights renamed": (_setter("weights", 0, "file", "../etc/passwd"), "weights/0.npy"),
    "overlapping arena": (lambda m: m["batch"]["buffers"][4].update(offset=0), "arena"),
    "arena too big": (_setter("batch", "arena_size", 1 << 50), "arena size"),
    "batch shapes": (lambda m: m["batch"]["buffers"][3].update(shape=[2, 8, 8, 4]), "recorded"),
    "const as temp": (
        lambda m: m["buffers"][_first_const(m)].update(kind="temp"),
        r"reads buffer %1 before it is written",
    ),
    "weight of a temp": (_setter("weights", 0, "buffer", 3), "every const buffer once"),
}


@pytest.mark.parametrize("case", sorted(BAD_MANIFESTS))
def test_a_bad_manifest_is_refused_saying_what_is_wrong(lenet_file, case):
    path, _ = lenet_file
    change, message = BAD_MANIFESTS[case]
    _rewrite(path, change)
    with pytest.raises(PlanFileError, match=message):
        load_plan(path)


def test_a_newer_minor_version_loads(lenet_file):
    path, want = lenet_file
    _rewrite(path, _setter("format_version", "1.7"))
    feed, expected = want[3]
    np.testing.assert_allclose(load_plan(path).run(feed)["logits"], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "zip"),
        (lambda p: p.write_bytes(b"not a zip at all"), "zip"),
        (lambda p: p.write_bytes(b""), "zip"),
        (lambda p: _rewrite(p, drop=["manifest.json"]), "no manifest.json"),
        (lambda p: _rewrite(p, drop=["weights/1.npy"]), r"missing \['weights/1.npy'\]"),
        (lambda p: _rewrite(p, extra={"run_me.py": b"import os"}), "unexpected.*run_me.py"),
        (lambda p: _rewrite(p, entries={"manifest.json": b"{not json"}), "not valid JSON"),
        (lambda p: _rewrite(p, entries={"manifest.json": b'{"format": NaN}'}), "NaN"),
        (lambda p: _rewrite(p, entries={"manifest.json": b"[1, 2]"}), "does not describe"),
        (lambda p: _rewrite(p, entries={"manifest.json": b'{"a": 1, "a": 2}'}), "repeats"),
        (lambda p: _rewrite(p, entries={"manifest.json": b"\xff\xfe"}), "not valid JSON"),
        (lambda p: p.unlink(), "no such file"),
    ],
    ids=["truncated", "not a zip", "empty", "no manifest", "missing weight", "extra entry",
         "invalid json", "nan literal", "not an object", "duplicate key", "not utf-8", "absent"],
)  # fmt: skip
def test_a_damaged_file_is_refused(lenet_file, damage, message):
    path, _ = lenet_file
    damage(path)
    with pytest.raises(PlanFileError, match=message) as info:
        load_plan(path)
    assert str(path) in str(info.value)


def _weight(path, k=0):
    with zipfile.ZipFile(path) as zf:
        return zf.read(f"weights/{k}.npy")


def test_tampered_weights_fail_their_checksum(lenet_file):
    path, _ = lenet_file
    data = bytearray(_weight(path))
    data[-1] ^= 0x40
    _rewrite(path, entries={"weights/0.npy": bytes(data)})
    with pytest.raises(PlanFileError, match=r"checksum mismatch for 'weights/0\.npy'"):
        load_plan(path)


def _with_weight(path, data, k=0):
    """Replaces weight k, updating its checksum (so that the content itself is checked)."""
    digest = hashlib.sha256(data).hexdigest()
    _rewrite(path, _setter("weights", k, "sha256", digest), entries={f"weights/{k}.npy": data})


def _npy(value):
    f = io.BytesIO()
    np.lib.format.write_array(f, value, allow_pickle=True)
    return f.getvalue()


class _Marker:
    """Unpickling this would create a file: proof that something ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_loading_never_unpickles(lenet_file, tmp_path):
    path, _ = lenet_file
    marker = tmp_path / "pwned"
    evil = np.empty(1, dtype=object)
    evil[0] = _Marker(str(marker))
    assert pickle.dumps(evil)  # the payload is a real pickle
    _with_weight(path, _npy(evil))
    with pytest.raises(PlanFileError, match="holds object"):
        load_plan(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.zeros((3, 3, 1, 5), np.float32), "holds float32"),
        (np.zeros((3, 3, 1, 4), np.float64), "holds float64"),
        (np.zeros((3, 3, 1, 4), ">f4"), "holds >f4"),
        (np.asfortranarray(np.zeros((3, 3, 1, 4), np.float32)), "holds float32"),
    ],
)
def test_a_weight_of_another_type_is_refused(lenet_file, value, message):
    path, _ = lenet_file
    _with_weight(path, _npy(value))
    with pytest.raises(PlanFileError, match=message):
        load_plan(path)


def test_a_weight_with_too_much_data_is_refused(lenet_file):
    path, _ = lenet_file
    _with_weight(path, _weight(path) + b"\0" * 16)
    with pytest.raises(PlanFileError, match="bytes of data"):
        load_plan(path)


def test_an_unknown_backend_is_named(lenet_file):
    path, _ = lenet_file
    with pytest.raises(BackendError, match="unknown backend 'tpu'"):
        load_plan(path, backend="tpu")


# -- feeding ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda p: p.run(np.zeros((2, 8, 8, 3), np.float32)),
         r"input 'image': expected float32\[\?,8,8,1\], given float32\[2,8,8,3\]"),
        (lambda p: p.run(np.zeros((2, 8, 8), np.float32)), r"given float32\[2,8,8\]"),
        (lambda p: p.run(np.zeros((2, 8, 8, 1), np.complex64)), "given complex64"),
        (lambda p: p.run(np.full((2, 8, 8, 1), "a")), "given <U1"),
        (lambda p: p.run([[1], [1, 2]]), "input 'image'"),
        (lambda p: p.run({"images": np.zeros((1, 8, 8, 1))}), r"unknown input\(s\) \['images'\]"),
        (lambda p: p.run({}), r"missing input\(s\) image: float32\[\?,8,8,1\]"),
        (lambda p: p.run(), r"takes 1 input\(s\) \(image: float32\[\?,8,8,1\]\), given 0"),
        (lambda p: p.run(np.zeros((1, 8, 8, 1)), np.zeros(1)), "given 2"),
        (lambda p: p.run({"image": 0, "image:0": 0}), "given twice"),
        (lambda p: p.run({"image": 0}, np.zeros(1)), "either"),
    ],
)  # fmt: skip
def test_wrong_feeds_raise_feed_errors_naming_the_input(lenet_file, call, message):
    path, _ = lenet_file
    with pytest.raises(FeedError, match=message):
        call(load_plan(path))


def test_a_batch_size_the_plan_cannot_take_is_a_feed_error(tmp_path):
    x = gn.placeholder(gn.float32, [None, 2], name="x")
    with gn.Session() as sess:
        path = save_plan(sess, gn.reshape(x, [4, -1], name="y"), x, tmp_path / "r.gnplan")
    loaded = load_plan(path)
    assert loaded.run(np.ones((2, 2)))["y"].shape == (4, 1)
    with pytest.raises(FeedError, match=r"cannot run on inputs of shapes 'x' \[3,2\]: step 0"):
        loaded.run(np.ones((3, 2)))


def test_ints_feed_float_inputs_but_floats_not_int_ones(tmp_path):
    x = gn.placeholder(gn.float32, [None], name="x")
    i = gn.placeholder(gn.int32, [None], name="i")
    with gn.Session() as sess:
        path = save_plan(sess, [gn.multiply(x, 2.0, name="twice"), i + 1], [x, i], tmp_path / "p")
    loaded = load_plan(path)
    assert loaded.run([1, 2], [3])["twice"].tolist() == [2.0, 4.0]
    with pytest.raises(FeedError, match=r"input 'i': expected int32.*given float64"):
        loaded.run([1.0], [3.5])


# -- loading needs only the runtime ----------------------------------------------------------

#: Modules that loading and running an exported plan must not import.
BUILDER_ONLY = (
    "graphnet.autodiff", "graphnet.compiler.pipeline", "graphnet.compiler.passes",
    "graphnet.keras", "graphnet.train",
)  # fmt: skip


def test_loading_and_running_a_plan_imports_no_builder_module(lenet_file):
    path, want = lenet_file
    feed, expected = want[1]  # not the recorded batch: the loader specializes the plan
    np.save(path.with_suffix(".npy"), feed)
    code = textwrap.dedent("""
        import sys
        import numpy as np
        from graphnet.runtime.loader import load_plan
        plan = load_plan(sys.argv[1])
        out = plan.run(np.load(sys.argv[2]))["logits"]
        np.save(sys.argv[2], out)
        print(",".join(m for m in sys.argv[3:] if m in sys.modules) or "none")
    """)
    done = subprocess.run(
        [sys.executable, "-c", code, str(path), str(path.with_suffix(".npy")), *BUILDER_ONLY],
        capture_output=True, text=True, cwd=ROOT, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "none", f"loading a plan imported {done.stdout.strip()}"
    np.testing.assert_allclose(np.load(path.with_suffix(".npy")), expected, rtol=1e-5, atol=1e-6)


def test_write_plan_writes_a_compiled_inference_plan(tmp_path):
    x = gn.placeholder(gn.float32, [None, 3], name="x")
    y = gn.nn.relu(x - 1.0)
    plan = gn.compiler.compile(
        gn.get_default_graph(), [y], [x], PassContext(opt_level="O2", inference=True)
    )
    loaded = load_plan(write_plan(plan, tmp_path / "w.gnplan", output_names=["out"]))
    assert loaded.run(np.array([[0.0, 1.0, 3.0]]))["out"].tolist() == [[0.0, 0.0, 2.0]]
    w = gn.Variable(np.ones(3, np.float32), name="w")
    with pytest.raises(gn.GraphnetError, match="reads variables"):
        write_plan(gn.compiler.compile(gn.get_default_graph(), [x * w], [x]), tmp_path / "v.gnplan")
