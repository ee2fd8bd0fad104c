"""gn.train.Saver: round trips, the file format, max_to_keep, atomic saves, restore errors."""

import hashlib
import json
import os

import numpy as np
import pytest

import graphnet as gn
from graphnet.train import saver as saver_mod
from graphnet.train.saver import (
    CheckpointError,
    Saver,
    checkpoint_exists,
    get_checkpoint_state,
    latest_checkpoint,
    list_variables,
    load_variable,
)

W = np.arange(6.0).reshape(2, 3)
B = np.array([0.5, -1.5, 2.5], dtype=np.float32)


def _model():
    """Two trainable variables, a non-trainable global one (like an optimizer slot or a step
    counter) and a local one."""
    w = gn.Variable(W, name="dense/kernel")
    b = gn.Variable(B, name="dense/bias")
    step = gn.Variable(7, trainable=False, name="global_step")
    local = gn.Variable(1.0, name="local", collections=[gn.GraphKeys.LOCAL_VARIABLES])
    return w, b, step, local


def _session():
    sess = gn.Session()
    sess.run(gn.global_variables_initializer())
    return sess


def _scramble(sess, *variables):
    """Sets every variable to something other than what was saved."""
    for v in variables:
        sess.run(v.assign(gn.zeros_like(v.value()) + 42))


def _files(directory):
    return sorted(os.listdir(directory))


def test_round_trip_of_all_global_variables(tmp_path):
    w, b, step, _ = _model()
    saver = Saver()
    with _session() as sess:
        prefix = saver.save(sess, str(tmp_path / "model.ckpt"))
        assert prefix == str(tmp_path / "model.ckpt")
        _scramble(sess, w, b, step)
        saver.restore(sess, prefix)
        np.testing.assert_array_equal(sess.run(w), W)
        np.testing.assert_array_equal(sess.run(b), B)
        assert sess.run(step) == 7
    # var_list=None: the global variables (trainable or not), not the local ones
    assert [name for name, _ in list_variables(prefix)] == [
        "dense/bias",
        "dense/kernel",
        "global_step",
    ]


def test_restore_into_a_rebuilt_graph_without_initializing(tmp_path):
    w, b, _, _ = _model()
    with _session() as sess:
        prefix = Saver([w, b]).save(sess, str(tmp_path / "m"))
    gn.reset_default_graph()
    w2 = gn.Variable(np.zeros((2, 3)), name="dense/kernel")
    b2 = gn.Variable(np.zeros(3, np.float32), name="dense/bias")
    with gn.Session() as sess:
        Saver().restore(sess, prefix)  # no initializer run: restoring initializes
        np.testing.assert_array_equal(sess.run(w2 * 2), W * 2)
        np.testing.assert_array_equal(sess.run(b2), B)


def test_file_format_is_an_index_and_a_plain_npz(tmp_path):
    _model()
    with _session() as sess:
        prefix = Saver().save(sess, str(tmp_path / "model.ckpt"), global_step=3)
    assert prefix == str(tmp_path / "model.ckpt-3")
    with open(prefix + ".index.json") as f:
        index = json.load(f)
    assert index["format"] == "graphnet-checkpoint"
    assert index["format_version"] == 1
    assert index["graphnet_version"] == gn.__version__
    data_path = tmp_path / index["data_file"]
    digest = hashlib.sha256(data_path.read_bytes()).hexdigest()
    assert index["data_file"] == f"model.ckpt-3.data-{digest[:16]}.npz"
    expected = {"dense/kernel": W, "dense/bias": B, "global_step": np.int32(7)}
    entries = {e["name"]: e for e in index["variables"]}
    assert sorted(entries) == sorted(expected)
    with np.load(data_path, allow_pickle=False) as archive:
        assert sorted(archive.files) == sorted(expected)
        for name, value in expected.items():
            value = np.asarray(value)
            np.testing.assert_array_equal(archive[name], value)
            assert archive[name].dtype == value.dtype
            assert entries[name]["dtype"] == str(value.dtype)
            assert entries[name]["shape"] == list(value.shape)
            assert entries[name]["sha256"] == hashlib.sha256(value.tobytes()).hexdigest()


def test_var_list_forms_and_names(tmp_path):
    w, *_ = _model()
    with _session() as sess:
        prefix = Saver({"renamed/w": w}).save(sess, str(tmp_path / "a"))
        assert list_variables(prefix) == [("renamed/w", [2, 3])]
        np.testing.assert_array_equal(load_variable(prefix, "renamed/w"), W)
    with pytest.raises(ValueError, match="same name: dense/kernel"):
        Saver([w, w])
    with pytest.raises(TypeError, match=r"expected gn\.Variable"):
        Saver([w.value()])
    with pytest.raises(ValueError, match="no variables to save"):
        Saver([])


def test_variables_named_like_numpy_keywords_and_other_dtypes(tmp_path):
    values = {
        "file": np.array([1, 2], np.int64),
        "allow_pickle": np.array(True),
        "scalar": np.float64(2.5),
    }
    variables = [gn.Variable(v, name=k) for k, v in values.items()]
    saver = Saver()
    with _session() as sess:
        prefix = saver.save(sess, str(tmp_path / "m"))
        _scramble(sess, variables[0], variables[2])
        sess.run(variables[1].assign(False))
        saver.restore(sess, prefix)
        for v, (name, want) in zip(variables, values.items(), strict=True):
            got = sess.run(v)
            np.testing.assert_array_equal(got, want)
            assert np.asarray(got).dtype == np.asarray(want).dtype, name


def test_global_step_from_a_variable_and_the_state_file(tmp_path):
    w, _, step, _ = _model()
    saver = Saver([w])
    with _session() as sess:
        prefix = saver.save(sess, str(tmp_path / "model.ckpt"), global_step=step)
    assert prefix == str(tmp_path / "model.ckpt-7")
    with open(tmp_path / "checkpoint") as f:
        assert json.load(f) == {
            "model_checkpoint_path": "model.ckpt-7",
            "all_model_checkpoint_paths": ["model.ckpt-7"],
        }
    assert latest_checkpoint(str(tmp_path)) == prefix
    state = get_checkpoint_state(str(tmp_path))
    assert state.model_checkpoint_path == prefix
    assert state.all_model_checkpoint_paths == [prefix]
    assert latest_checkpoint(str(tmp_path / "nowhere")) is None


def test_max_to_keep_deletes_the_oldest(tmp_path):
    w, *_ = _model()
    saver = Saver([w], max_to_keep=2)
    with _session() as sess:
        prefixes = [saver.save(sess, str(tmp_path / "m"), global_step=i) for i in range(4)]
    assert saver.last_checkpoints == prefixes[2:]
    assert [checkpoint_exists(p) for p in prefixes] == [False, False, True, True]
    assert all(f.startswith(("m-2.", "m-3.", "checkpoint")) for f in _files(tmp_path))
    assert get_checkpoint_state(str(tmp_path)).all_model_checkpoint_paths == prefixes[2:]
    assert latest_checkpoint(str(tmp_path)) == prefixes[3]


def test_max_to_keep_none_keeps_every_file_but_lists_the_latest(tmp_path):
    w, *_ = _model()
    saver = Saver([w], max_to_keep=None)
    with _session() as sess:
        prefixes = [saver.save(sess, str(tmp_path / "m"), global_step=i) for i in range(3)]
    assert all(checkpoint_exists(p) for p in prefixes)
    assert saver.last_checkpoints == []
    assert get_checkpoint_state(str(tmp_path)).all_model_checkpoint_paths == prefixes[2:]


def test_keep_checkpoint_every_n_hours_spares_one_per_period(tmp_path, monkeypatch):
    clock = iter([0.0, 1000.0, 4000.0, 5000.0, 8000.0])
    monkeypatch.setattr(saver_mod.time, "time", lambda: next(clock))
    w, *_ = _model()
    saver = Saver([w], max_to_keep=1, keep_checkpoint_every_n_hours=1)  # t=0: next keep 3600
    with _session() as sess:
        prefixes = [saver.save(sess, str(tmp_path / "m"), global_step=i) for i in range(4)]
    # m-0 (t=1000) is deleted; m-1 (t=4000 > 3600) is kept, the next one after 7200;
    # m-2 (t=5000) is deleted; m-3 is the newest
    assert [checkpoint_exists(p) for p in prefixes] == [False, True, False, True]
    assert saver.last_checkpoints == prefixes[3:]


def test_recover_last_checkpoints_lets_max_to_keep_go_on(tmp_path):
    w, *_ = _model()
    with _session() as sess:
        old = [Saver([w]).save(sess, str(tmp_path / "m"), global_step=i) for i in range(2)]
        saver = Saver([w], max_to_keep=2)
        saver.recover_last_checkpoints([*old, str(tmp_path / "gone")])
        assert saver.last_checkpoints == old
        new = saver.save(sess, str(tmp_path / "m"), global_step=2)
    assert saver.last_checkpoints == [old[1], new]
    assert not checkpoint_exists(old[0])


def test_restore_ops_are_built_once(tmp_path):
    w, *_ = _model()
    saver = Saver([w])
    graph = gn.get_default_graph()
    with _session() as sess:
        prefix = saver.save(sess, str(tmp_path / "m"))
        saver.restore(sess, prefix)
        count = len(graph.nodes)
        for _ in range(2):
            saver.save(sess, prefix)
            saver.restore(sess, prefix)
        assert len(graph.nodes) == count


def test_save_errors(tmp_path):
    w, *_ = _model()
    saver = Saver([w])
    with gn.Session() as sess:
        with pytest.raises(gn.FailedPreconditionError, match=r"uninitialized.*dense/kernel"):
            saver.save(sess, str(tmp_path / "m"))
        sess.run(gn.global_variables_initializer())
        with pytest.raises(CheckpointError, match=r"parent directory of .*nowhere/m"):
            saver.save(sess, str(tmp_path / "nowhere" / "m"))
        with pytest.raises(ValueError, match="latest_filename 'a/b' must not contain"):
            saver.save(sess, str(tmp_path / "m"), latest_filename="a/b")
        with pytest.raises(NotImplementedError, match="meta graphs"):
            saver.save(sess, str(tmp_path / "m"), write_meta_graph=True)
        with pytest.raises(ValueError, match="no save_path"):
            saver.save(sess)
        prefix = Saver([w], filename=str(tmp_path / "default")).save(sess)
    assert prefix == str(tmp_path / "default")
    assert _files(tmp_path)[0] == "checkpoint"


# -- atomicity ----------------------------------------------------------------------------------


class _Crash(Exception):
    pass


def _crash_on_call(monkeypatch, target, attribute, n):
    """Makes the n-th call of target.attribute (1-based) raise _Crash."""
    original = getattr(target, attribute)
    calls = []

    def patched(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            raise _Crash(f"simulated crash in {attribute}")
        return original(*args, **kwargs)

    monkeypatch.setattr(target, attribute, patched)


@pytest.mark.parametrize(
    "crash",
    [("os", "replace", 1), ("os", "replace", 2), ("format", "write_array", 2)],
    ids=["data-file-replace", "index-replace", "midway-through-data"],
)
@pytest.mark.parametrize("same_prefix", [True, False], ids=["overwrite", "new-step"])
def test_an_interrupted_save_leaves_the_previous_checkpoint_intact(
    tmp_path, monkeypatch, crash, same_prefix
):
    module, attribute, n = crash
    target = os if module == "os" else np.lib.format
    w, b, _, _ = _model()
    saver = Saver([w, b])
    with _session() as sess:
        previous = saver.save(sess, str(tmp_path / "m"), global_step=None if same_prefix else 1)
        before = {f: (tmp_path / f).read_bytes() for f in _files(tmp_path)}
        _scramble(sess, w, b)
        _crash_on_call(monkeypatch, target, attribute, n)
        with pytest.raises(_Crash):
            saver.save(sess, str(tmp_path / "m"), global_step=None if same_prefix else 2)
        monkeypatch.undo()
        # the same files with the same bytes: no temporary, no orphan, no half-written file
        assert {f: (tmp_path / f).read_bytes() for f in _files(tmp_path)} == before
        assert latest_checkpoint(str(tmp_path)) == previous
        assert saver.last_checkpoints == [previous]
        saver.restore(sess, previous)
        np.testing.assert_array_equal(sess.run(w), W)
        np.testing.assert_array_equal(sess.run(b), B)


def test_a_crash_while_writing_the_state_file_keeps_the_old_state(tmp_path, monkeypatch):
    w, *_ = _model()
    saver = Saver([w])
    with _session() as sess:
        first = saver.save(sess, str(tmp_path / "m"), global_step=1)
        _crash_on_call(monkeypatch, os, "replace", 3)
        with pytest.raises(_Crash):
            saver.save(sess, str(tmp_path / "m"), global_step=2)
        monkeypatch.undo()
    assert latest_checkpoint(str(tmp_path)) == first
    assert not [f for f in _files(tmp_path) if f.endswith(".tmp")]
    np.testing.assert_array_equal(load_variable(str(tmp_path / "m-2"), "dense/kernel"), W)


def test_an_orphaned_data_file_is_ignored_then_removed(tmp_path):
    w, *_ = _model()
    saver = Saver([w])
    with _session() as sess:
        prefix = saver.save(sess, str(tmp_path / "m"))
        orphan = tmp_path / "m.data-0123456789abcdef.npz"  # as a hard crash could leave
        orphan.write_bytes(b"half a zip")
        saver.restore(sess, prefix)
        assert orphan.exists()
        saver.save(sess, prefix)
    assert not orphan.exists()
    assert len([f for f in _files(tmp_path) if f.startswith("m.data-")]) == 1


# -- restore errors -------------------------------------------------------------------------------


@pytest.fixture
def saved(tmp_path):
    """A checkpoint of the model, and a session holding other values (to see that a failed
    restore changes nothing)."""
    w, b, step, _ = _model()
    saver = Saver()
    sess = _session()
    prefix = saver.save(sess, str(tmp_path / "m"))
    _scramble(sess, w, b, step)
    with open(prefix + ".index.json") as f:
        data_file = tmp_path / json.load(f)["data_file"]
    yield saver, sess, prefix, data_file, (w, b, step)
    sess.close()


def _assert_unchanged(sess, variables):
    for v in variables:
        np.testing.assert_array_equal(sess.run(v), np.full(v.shape, 42, v.dtype.np))


def _rewrite_index(prefix, change):
    with open(prefix + ".index.json") as f:
        index = json.load(f)
    change(index)
    with open(prefix + ".index.json", "w") as f:
        json.dump(index, f)


def test_restore_names_every_missing_variable(saved):
    _, sess, prefix, _, variables = saved
    extra = [gn.Variable(0.0, name=n) for n in ("extra_a", "extra_b")]
    sess.run(gn.variables_initializer(extra))
    with pytest.raises(CheckpointError, match=r"lacks 2 variable\(s\).*extra_a, extra_b"):
        Saver().restore(sess, prefix)
    _assert_unchanged(sess, variables)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.zeros(3), r"dense/kernel \(expected float64\[3\], given float64\[2,3\]\)"),
        (np.zeros((2, 3), np.float32), r"expected float32\[2,3\], given float64\[2,3\]"),
    ],
)
def test_restore_rejects_mis_shaped_and_mis_typed_variables(saved, value, message):
    prefix = saved[2]
    gn.reset_default_graph()
    other = gn.Variable(value, name="dense/kernel")
    with gn.Session() as other_sess:
        other_sess.run(other.initializer)
        with pytest.raises(CheckpointError, match=message):
            Saver([other]).restore(other_sess, prefix)
        np.testing.assert_array_equal(other_sess.run(other), value)


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_values(path):
    """A valid npz with other values: only the checksums can tell."""
    with np.load(path) as archive:
        arrays = {k: archive[k] + 1 for k in archive.files}
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_truncate, "is corrupt: .*not an npz archive"),
        (_flip_values, "is corrupt: checksum mismatch for variable"),
        (os.remove, "is corrupt: its data file .* is missing"),
    ],
    ids=["truncated", "checksum", "missing-data"],
)
def test_restore_rejects_a_damaged_data_file(saved, damage, message):
    saver, sess, prefix, data_file, variables = saved
    damage(data_file)
    with pytest.raises(CheckpointError, match=message):
        saver.restore(sess, prefix)
    _assert_unchanged(sess, variables)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: open(p + ".index.json", "w").write("{"), "is corrupt: cannot read"),
        (lambda p: _rewrite_index(p, lambda i: i.update(format_version=99)), "version 99"),
        (lambda p: _rewrite_index(p, lambda i: i.update(data_file="../x.npz")), "bad data_file"),
        (
            lambda p: _rewrite_index(p, lambda i: i["variables"][0].update(shape="x")),
            "bad variable entry",
        ),
        (lambda p: os.remove(p + ".index.json"), "not a valid checkpoint"),
    ],
    ids=["json", "version", "data-path", "entry", "missing-index"],
)
def test_restore_rejects_a_damaged_index(saved, damage, message):
    saver, sess, prefix, _, variables = saved
    damage(prefix)
    with pytest.raises(CheckpointError, match=message):
        saver.restore(sess, prefix)
    _assert_unchanged(sess, variables)
    assert issubclass(CheckpointError, gn.GraphnetError)


def test_list_and_load_variables(saved, tmp_path):
    _, _, prefix, _, _ = saved
    assert list_variables(str(tmp_path)) == [
        ("dense/bias", [3]),
        ("dense/kernel", [2, 3]),
        ("global_step", []),
    ]
    np.testing.assert_array_equal(load_variable(str(tmp_path), "dense/kernel:0"), W)
    assert load_variable(prefix, "global_step") == 7
    with pytest.raises(CheckpointError, match=r"'nope' is not in checkpoint .*holds dense/bias"):
        load_variable(prefix, "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no checkpoint found in directory"):
        list_variables(str(tmp_path / "empty"))


def test_a_corrupt_state_file_is_an_error(tmp_path):
    (tmp_path / "checkpoint").write_text('{"model_checkpoint_path": 3}')
    with pytest.raises(CheckpointError, match=r"state file .*checkpoint' is corrupt"):
        latest_checkpoint(str(tmp_path))
