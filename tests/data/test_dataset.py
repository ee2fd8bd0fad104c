"""gn.data.Dataset: sources, transformations, cardinality, and the threads of prefetch and map."""

import collections
import gc
import threading

import numpy as np
import pytest

from graphnet.data import (
    AUTOTUNE,
    INFINITE_CARDINALITY,
    UNKNOWN_CARDINALITY,
    DataError,
    Dataset,
)


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """Every thread a test starts is gone when it ends."""
    before = threading.active_count()
    yield
    gc.collect()
    assert threading.active_count() == before, [t.name for t in threading.enumerate()]


def _values(ds):
    return [int(v) for v in ds]


# -- sources -----------------------------------------------------------------------------------


def test_from_tensor_slices_yields_rows_of_each_structure():
    x = np.arange(12.0).reshape(4, 3)
    y = np.array([0, 1, 0, 1])
    rows = list(Dataset.from_tensor_slices(x))
    assert len(rows) == 4 and all(np.array_equal(r, x[i]) for i, r in enumerate(rows))

    pairs = list(Dataset.from_tensor_slices((x, y)))
    assert all(type(p) is tuple and np.array_equal(p[0], x[i]) and p[1] == y[i]
               for i, p in enumerate(pairs))  # fmt: skip

    dicts = list(Dataset.from_tensor_slices({"image": x, "label": y}))
    assert list(dicts[3]) == ["image", "label"]
    assert np.array_equal(dicts[3]["image"], x[3]) and dicts[3]["label"] == 1

    nested = list(Dataset.from_tensor_slices({"a": (x, y)}))
    assert np.array_equal(nested[3]["a"][0], x[3]) and nested[3]["a"][1] == y[3]


def test_from_tensor_slices_treats_a_list_as_one_array_and_shares_no_writable_memory():
    assert [r.tolist() for r in Dataset.from_tensor_slices([[1, 2], [3, 4]])] == [[1, 2], [3, 4]]
    x = np.zeros((2, 3))
    row = next(iter(Dataset.from_tensor_slices(x)))
    with pytest.raises(ValueError, match="read-only"):
        row += 1
    assert x.flags.writeable


def test_from_tensor_slices_errors_name_the_components():
    with pytest.raises(DataError, match=r"first dimensions must agree.*\[0\] has 3, \[1\] has 2"):
        Dataset.from_tensor_slices((np.zeros(3), np.zeros(2)))
    with pytest.raises(DataError, match=r"\['y'\] is a scalar"):
        Dataset.from_tensor_slices({"x": np.zeros(3), "y": 1.0})
    with pytest.raises(DataError, match=r"does not convert to one array.*pass a tuple"):
        Dataset.from_tensor_slices([np.zeros(3), np.zeros(2)])


def test_range_from_tensors_and_from_generator():
    assert _values(Dataset.range(5)) == [0, 1, 2, 3, 4]
    assert _values(Dataset.range(2, 11, 3)) == [2, 5, 8]
    assert next(iter(Dataset.range(1))).dtype == np.int64
    (element,) = list(Dataset.from_tensors(([1, 2], 3.0)))
    assert np.array_equal(element[0], [1, 2]) and element[1] == 3.0

    calls = []

    def gen(n):
        calls.append(n)
        yield from ((i, i * 0.5) for i in range(n))

    ds = Dataset.from_generator(gen, args=(3,))
    assert ds.cardinality() == UNKNOWN_CARDINALITY
    assert [(int(a), float(b)) for a, b in ds] == [(0, 0.0), (1, 0.5), (2, 1.0)]
    list(ds)
    assert calls == [3, 3]  # called anew for each pass
    rows = list(Dataset.from_generator(lambda: iter([[1, 2], [3, 4]])))  # a list is one array
    assert [r.tolist() for r in rows] == [[1, 2], [3, 4]]
    with pytest.raises(DataError, match="callable"):
        Dataset.from_generator(iter([1, 2]))


def test_zip_stops_at_the_shortest_and_keeps_the_structure():
    a, b = Dataset.range(3), Dataset.range(10, 15)
    assert [(int(x), int(y)) for x, y in Dataset.zip(a, b)] == [(0, 10), (1, 11), (2, 12)]
    assert len(Dataset.zip((a, b))) == 3
    dicts = list(Dataset.zip({"a": a, "b": b.repeat()}))
    assert [(int(d["a"]), int(d["b"])) for d in dicts] == [(0, 10), (1, 11), (2, 12)]
    assert Dataset.zip(a.repeat(), b.repeat()).cardinality() == INFINITE_CARDINALITY
    with pytest.raises(DataError, match=r"expected Datasets, got a list at \[1\]"):
        Dataset.zip(a, [1, 2])
    for nothing in [(), ((),), ({},)]:
        with pytest.raises(DataError, match="needs at least one Dataset"):
            Dataset.zip(*nothing)


# -- shuffle -----------------------------------------------------------------------------------


def test_shuffle_is_a_permutation_reproducible_with_a_seed():
    ds = Dataset.range(100).shuffle(100, seed=7)
    first, second = _values(ds), _values(ds)
    assert sorted(first) == list(range(100)) and sorted(second) == list(range(100))
    assert first != list(range(100))
    assert first != second  # reshuffled on each pass ...
    again = Dataset.range(100).shuffle(100, seed=7)
    assert _values(again) == first and _values(again) == second  # ... in a reproducible order
    assert _values(Dataset.range(100).shuffle(100, seed=8)) != first


def test_shuffle_without_reshuffle_repeats_its_order():
    ds = Dataset.range(50).shuffle(50, seed=3, reshuffle_each_iteration=False)
    assert _values(ds) == _values(ds)
    unseeded = Dataset.range(50).shuffle(50, reshuffle_each_iteration=False)
    assert _values(unseeded) == _values(unseeded)
    epochs = _values(Dataset.range(50).shuffle(50, seed=3).repeat(2))
    assert sorted(epochs[:50]) == sorted(epochs[50:]) == list(range(50))
    assert epochs[:50] != epochs[50:]  # shuffle before repeat: a new order each epoch


def test_shuffle_is_limited_by_its_buffer():
    """Output k comes from the first k + buffer_size inputs, as TF's buffer semantics give."""
    buffer_size = 5
    for seed in range(20):
        out = _values(Dataset.range(40).shuffle(buffer_size, seed=seed))
        assert sorted(out) == list(range(40))
        assert all(v <= k + buffer_size - 1 for k, v in enumerate(out))
    assert _values(Dataset.range(10).shuffle(1, seed=0)) == list(range(10))


def test_shuffle_picks_uniformly_from_its_buffer():
    """With a buffer of 2, the first output is input 0 or 1 with equal chance."""
    firsts = collections.Counter(
        int(next(iter(Dataset.range(3).shuffle(2, seed=s)))) for s in range(400)
    )
    assert set(firsts) == {0, 1} and 150 < firsts[0] < 250


def test_shuffle_argument_errors():
    with pytest.raises(DataError, match="buffer_size must be >= 1, got 0"):
        Dataset.range(3).shuffle(0)
    with pytest.raises(DataError, match="buffer_size must be an integer"):
        Dataset.range(3).shuffle(2.5)


# -- batch, repeat, take, skip -----------------------------------------------------------------


def test_batch_sizes_and_drop_remainder():
    x = np.arange(20.0).reshape(10, 2)
    batches = list(Dataset.from_tensor_slices(x).batch(4))
    assert [b.shape for b in batches] == [(4, 2), (4, 2), (2, 2)]
    assert np.array_equal(np.concatenate(batches), x)
    dropped = list(Dataset.from_tensor_slices(x).batch(4, drop_remainder=True))
    assert [b.shape for b in dropped] == [(4, 2), (4, 2)]
    assert len(Dataset.range(10).batch(4)) == 3
    assert len(Dataset.range(10).batch(4, drop_remainder=True)) == 2
    assert len(Dataset.range(8).batch(4, drop_remainder=True)) == 2


def test_batch_stacks_tuples_and_dicts():
    ds = Dataset.from_tensor_slices({"x": np.ones((5, 3)), "y": np.arange(5)}).batch(2)
    first = next(iter(ds))
    assert first["x"].shape == (2, 3) and first["y"].tolist() == [0, 1]
    pairs = list(Dataset.from_tensor_slices((np.arange(5), np.arange(5) * 2)).batch(5))
    assert pairs[0][1].tolist() == [0, 2, 4, 6, 8]


def test_batch_of_unequal_shapes_names_the_component():
    ds = Dataset.from_generator(lambda: iter([(np.zeros(2), 0), (np.zeros(3), 1)]))
    with pytest.raises(DataError, match=r"component \[0\] has elements of shapes \(2,\), \(3,\)"):
        list(ds.batch(2))


def test_batch_needs_one_structure_and_keeps_namedtuples():
    mixed = Dataset.from_generator(lambda: iter([(1, 2), {"a": 1, "b": 2}]))
    with pytest.raises(DataError, match=r"expected elements of structure \(\*, \*\), got \{'a'"):
        list(mixed.batch(2))
    Pair = collections.namedtuple("Pair", ["x", "y"])
    batch = next(iter(Dataset.from_tensor_slices(Pair(np.arange(4), np.ones(4))).batch(3)))
    assert type(batch) is Pair and batch.x.tolist() == [0, 1, 2]


def test_repeat_counts():
    assert _values(Dataset.range(3).repeat(2)) == [0, 1, 2, 0, 1, 2]
    assert _values(Dataset.range(3).repeat(0)) == []
    assert _values(Dataset.range(3).repeat().take(7)) == [0, 1, 2, 0, 1, 2, 0]
    assert _values(Dataset.range(0).repeat()) == []  # an empty dataset repeated forever ends
    assert len(Dataset.range(3).repeat(4)) == 12
    assert Dataset.range(3).repeat(-1).cardinality() == INFINITE_CARDINALITY


def test_take_and_skip():
    assert _values(Dataset.range(5).take(2)) == [0, 1]
    assert _values(Dataset.range(5).take(-1)) == [0, 1, 2, 3, 4]
    assert _values(Dataset.range(5).skip(3)) == [3, 4]
    assert _values(Dataset.range(5).skip(-1)) == []
    assert [len(Dataset.range(5).take(9)), len(Dataset.range(5).skip(9))] == [5, 0]
    assert len(Dataset.range(5).repeat().take(9)) == 9


def test_cardinality_and_len():
    assert len(Dataset.range(7).map(lambda v: v).shuffle(3).prefetch(1)) == 7
    with pytest.raises(TypeError, match="infinite"):
        len(Dataset.range(3).repeat())
    filtered = Dataset.range(6).filter(lambda v: v > 2)
    assert filtered.cardinality() == UNKNOWN_CARDINALITY
    with pytest.raises(TypeError, match="unknown"):
        len(filtered)
    assert bool(filtered) and list(filtered) == [3, 4, 5]  # list() copes with an unknown length


def test_each_transformation_returns_a_new_dataset():
    base = Dataset.range(6)
    batched = base.batch(4)
    assert batched is not base and _values(base) == list(range(6)) and len(batched) == 2
    with pytest.raises(AttributeError):
        base.extra = 1


def test_enumerate():
    pairs = list(Dataset.from_tensor_slices(np.array([5.0, 6.0])).enumerate(start=10))
    assert [(int(i), float(v)) for i, v in pairs] == [(10, 5.0), (11, 6.0)]


# -- map and filter ----------------------------------------------------------------------------


def test_map_unpacks_tuples_and_passes_dicts_whole():
    pairs = Dataset.from_tensor_slices((np.arange(3), np.arange(3) * 10))
    assert [int(v) for v in pairs.map(lambda a, b: a + b)] == [0, 11, 22]
    swapped = list(pairs.map(lambda a, b: [b, a]))  # a returned list becomes a tuple
    assert type(swapped[1]) is tuple and (int(swapped[1][0]), int(swapped[1][1])) == (10, 1)

    dicts = Dataset.from_tensor_slices({"x": np.arange(3), "y": np.ones(3)})
    out = list(dicts.map(lambda d: {"sum": d["x"] + d["y"], "x": d["x"]}))
    assert [float(d["sum"]) for d in out] == [1.0, 2.0, 3.0]
    scalars = list(Dataset.range(2).map(lambda v: float(v) / 2))
    assert all(isinstance(s, np.float64) for s in scalars)


def test_parallel_map_keeps_the_order():
    ds = Dataset.range(50)
    expected = [v * v for v in range(50)]
    for calls in (1, 4, AUTOTUNE):
        assert _values(ds.map(lambda v: v * v, num_parallel_calls=calls)) == expected
    it = iter(ds.map(lambda v: v, num_parallel_calls=3))
    assert int(next(it)) == 0
    it.close()  # the pool is shut down: the fixture checks no thread is left


def test_parallel_map_reraises_the_functions_error():
    def fail_on_3(v):
        if v == 3:
            raise KeyError("three")
        return v

    it = iter(Dataset.range(10).map(fail_on_3, num_parallel_calls=2))
    assert _values([next(it), next(it), next(it)]) == [0, 1, 2]
    with pytest.raises(KeyError, match="three"):
        next(it)


def test_filter_needs_a_scalar_bool():
    pairs = Dataset.from_tensor_slices((np.arange(6), np.arange(6) % 2 == 0))
    assert [int(v) for v, _ in pairs.filter(lambda v, even: even)] == [0, 2, 4]
    with pytest.raises(DataError, match="scalar bool, got int64"):
        list(Dataset.range(3).filter(lambda v: v))


# -- prefetch ----------------------------------------------------------------------------------


def test_prefetch_yields_the_same_sequence():
    ds = Dataset.from_tensor_slices((np.arange(30), np.arange(30.0) ** 2)).batch(4)
    plain = [(a.tolist(), b.tolist()) for a, b in ds]
    for size in (1, 3, AUTOTUNE):
        assert [(a.tolist(), b.tolist()) for a, b in ds.prefetch(size)] == plain
    shuffled = Dataset.range(30).shuffle(8, seed=1)  # a seeded pass: the same order either way
    assert _values(shuffled.prefetch(2)) == _values(Dataset.range(30).shuffle(8, seed=1))


def test_prefetch_reraises_the_producers_error_in_the_consumer():
    def fail_on_4(v):
        if v == 4:
            raise ValueError("bad element 4")
        return v

    it = iter(Dataset.range(10).map(fail_on_4).prefetch(2))
    assert _values([next(it) for _ in range(4)]) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="bad element 4"):
        next(it)


def test_prefetch_thread_stops_when_the_iterator_is_closed_or_dropped():
    before = threading.active_count()
    ds = Dataset.range(10**9).prefetch(2)  # would never end on its own
    it = iter(ds)
    next(it)
    assert threading.active_count() == before + 1
    it.close()
    assert threading.active_count() == before

    it = iter(ds.map(lambda v: v + 1).prefetch(3))  # two prefetch threads in a chain
    next(it)
    assert threading.active_count() == before + 2
    del it
    gc.collect()
    assert threading.active_count() == before

    for v in ds:  # break out of a for loop: the loop drops its iterator
        if v == 5:
            break
    assert threading.active_count() == before


def test_prefetch_argument_errors():
    with pytest.raises(DataError, match="buffer_size must be >= 1"):
        Dataset.range(3).prefetch(0)
