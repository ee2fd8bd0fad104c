"""tf.data's Dataset, iterated from Python: immutable input pipelines that yield NumPy arrays.

A Dataset is a recipe: every transformation returns a new Dataset and leaves its input as it was,
and each ``iter(dataset)`` starts a fresh pass over the data. An element is a leaf (one array) or
a tuple / dict of them, nested as given. Feed the arrays to a Session::

    ds = Dataset.from_tensor_slices((images, labels)).shuffle(1000, seed=0).batch(32).prefetch(2)
    for x, y in ds:
        sess.run(train_op, {images_ph: x, labels_ph: y})

As in TF, a Python list is one array (``from_tensor_slices([[1, 2], [3, 4]])`` yields rows), a
tuple element is unpacked into the arguments of ``map`` and ``filter`` functions, a dict is passed
whole, and a list returned by a ``map`` function becomes a tuple.

Iterators are generators: ``close()`` one (or drop it) to stop a pass early. Stages that run
threads (``prefetch``, a parallel ``map``) stop and join them when their iterator is closed, is
garbage-collected or ends, and re-raise an error of the producing side in the consumer.
"""

from __future__ import annotations

import builtins
import itertools
import operator
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, closing
from typing import Any

import numpy as np

from graphnet.data.errors import DataError
from graphnet.data.structure import (
    assert_same_structure,
    flatten,
    flatten_with_paths,
    pack,
    signature,
    to_numpy,
)

#: Passed as ``num_parallel_calls`` or a ``prefetch`` buffer size: let graphnet choose.
AUTOTUNE = -1
#: ``Dataset.cardinality()`` of a dataset that never ends (``repeat()``).
INFINITE_CARDINALITY = -1
#: ``Dataset.cardinality()`` when the length is not known before iterating (``filter``).
UNKNOWN_CARDINALITY = -2

_AUTOTUNE_PREFETCH = 2  # elements a prefetch(AUTOTUNE) keeps ready: enough to hide one slow step
_POLL_S = 0.1  # how often a blocked prefetch producer checks whether it should stop

_END = object()
_ITEM, _FAILED, _DONE = "item", "failed", "done"


def _int_arg(what: str, value: Any, minimum: int) -> int:
    try:
        number = operator.index(value)
    except TypeError:
        raise DataError(f"{what} must be an integer, got {value!r}") from None
    if number < minimum:
        raise DataError(f"{what} must be >= {minimum}, got {number}")
    return number


def _component(path: str) -> str:
    return f"component {path}" if path else "the tensor"


def _call(fn: Callable[..., Any], element: Any) -> Any:
    """`fn` applied as TF applies map and filter functions: a plain tuple is unpacked."""
    return fn(*element) if type(element) is tuple else fn(element)


class Dataset:
    """A pipeline of elements (NumPy arrays, or tuples / dicts of them), as tf.data.Dataset.

    Build one with ``from_tensor_slices``, ``from_tensors``, ``range``, ``zip`` or
    ``from_generator``; the constructor is internal."""

    __slots__ = ("_cardinality", "_make_iterator")

    def __init__(self, make_iterator: Callable[[], Iterator[Any]], cardinality: int) -> None:
        self._make_iterator = make_iterator
        self._cardinality = cardinality

    # -- sources ---------------------------------------------------------------------------

    @staticmethod
    def from_tensor_slices(tensors: Any) -> Dataset:
        """One element per index of the first dimension of every array in `tensors`.

        The arrays are not copied: the elements are read-only views of them."""
        paths, arrays = [], []
        for path, leaf in flatten_with_paths(tensors):
            try:
                array = np.asarray(leaf).view()
            except ValueError as exc:
                raise DataError(
                    f"Dataset.from_tensor_slices: {_component(path)} does not convert to one "
                    f"array ({exc}); a list is one array, pass a tuple for several components"
                ) from None
            array.flags.writeable = False
            if array.ndim == 0:
                raise DataError(
                    f"Dataset.from_tensor_slices: {_component(path)} is a scalar; every "
                    "component needs a first dimension to slice"
                )
            paths.append(path)
            arrays.append(array)
        if not arrays:
            raise DataError("Dataset.from_tensor_slices: needs at least one array, got none")
        sizes = [a.shape[0] for a in arrays]
        if len(set(sizes)) > 1:
            listed = ", ".join(f"{p} has {s}" for p, s in zip(paths, sizes, strict=True))
            raise DataError(
                f"Dataset.from_tensor_slices: the first dimensions must agree, got {listed}"
            )

        def iterate() -> Iterator[Any]:
            for i in builtins.range(sizes[0]):
                yield pack(tensors, [a[i] for a in arrays])

        return Dataset(iterate, sizes[0])

    @staticmethod
    def from_tensors(tensors: Any) -> Dataset:
        """A dataset of one element: `tensors` itself (as arrays)."""
        element = to_numpy(tensors)
        return Dataset(lambda: iter((element,)), 1)

    @staticmethod
    def range(*args: int) -> Dataset:
        """int64 scalars as Python's ``range(stop)`` / ``range(start, stop[, step])``."""
        numbers = builtins.range(
            *(_int_arg("Dataset.range: an argument", a, -(2**63)) for a in args)
        )
        return Dataset(lambda: (np.int64(n) for n in numbers), len(numbers))

    @staticmethod
    def zip(*datasets: Any) -> Dataset:
        """Elements of several datasets side by side, until the shortest ends.

        ``zip(a, b)`` and ``zip((a, b))`` yield tuples; ``zip({"x": a, "y": b})`` yields dicts."""
        struct = datasets[0] if len(datasets) == 1 else datasets
        members = []
        for path, leaf in flatten_with_paths(struct):
            if not isinstance(leaf, Dataset):
                raise DataError(
                    f"Dataset.zip: expected Datasets, got a {type(leaf).__name__} at "
                    f"{path or 'the argument'}"
                )
            members.append(leaf)
        if not members:
            raise DataError("Dataset.zip: needs at least one Dataset")

        def iterate() -> Iterator[Any]:
            with ExitStack() as stack:
                iterators = [stack.enter_context(closing(iter(d))) for d in members]
                while True:
                    items = [next(it, _END) for it in iterators]
                    if any(item is _END for item in items):
                        return
                    yield pack(struct, items)

        return Dataset(iterate, _zip_cardinality([d._cardinality for d in members]))

    @staticmethod
    def from_generator(generator: Callable[..., Iterable[Any]], args: Any = None) -> Dataset:
        """The elements of ``generator(*args)``, called anew for each pass, as arrays (a list
        is one array, as everywhere but in what a ``map`` function returns)."""
        if not callable(generator):
            raise DataError(
                "Dataset.from_generator: `generator` must be a callable returning an iterable "
                f"(called once per pass), got a {type(generator).__name__}"
            )
        call_args = tuple(args) if args is not None else ()

        def iterate() -> Iterator[Any]:
            source = iter(generator(*call_args))
            try:
                for element in source:
                    yield to_numpy(element)
            finally:
                close = getattr(source, "close", None)
                if close is not None:
                    close()

        return Dataset(iterate, UNKNOWN_CARDINALITY)

    # -- transformations -------------------------------------------------------------------

    def shuffle(
        self, buffer_size: int, seed: int | None = None, reshuffle_each_iteration: bool = True
    ) -> Dataset:
        """Elements in random order, drawn uniformly from a buffer of `buffer_size` elements.

        As TF: the buffer is filled first; each output is a random buffer entry, replaced by the
        next input element. Output *k* is therefore one of inputs 0 .. k + buffer_size - 1; a
        buffer at least as large as the dataset gives a uniform permutation. With a `seed` the
        orders are reproducible: each pass (each ``iter``) uses the next order of a fixed
        sequence, or the same order every pass when `reshuffle_each_iteration` is False."""
        size = _int_arg("Dataset.shuffle: buffer_size", buffer_size, 1)
        if seed is not None:
            seed = _int_arg("Dataset.shuffle: seed", seed, 0)
        fixed_seed = seed if seed is not None else np.random.SeedSequence().entropy
        passes = itertools.count()

        def rng() -> np.random.Generator:
            if not reshuffle_each_iteration:
                return np.random.default_rng(fixed_seed)
            if seed is None:
                return np.random.default_rng()
            return np.random.default_rng([seed, next(passes)])

        return Dataset(lambda: _shuffled(self, size, rng()), self._cardinality)

    def batch(self, batch_size: int, drop_remainder: bool = False) -> Dataset:
        """Consecutive elements stacked along a new first dimension, component by component.

        The last batch is smaller when the dataset does not divide evenly, or is dropped when
        `drop_remainder`. Every element of a batch must have the same structure and shapes."""
        size = _int_arg("Dataset.batch: batch_size", batch_size, 1)

        def iterate() -> Iterator[Any]:
            with closing(iter(self)) as it:
                while True:
                    chunk = list(itertools.islice(it, size))
                    if not chunk or (drop_remainder and len(chunk) < size):
                        return
                    yield _stack(chunk)

        card = self._cardinality
        if card >= 0:
            card = card // size if drop_remainder else -(-card // size)
        return Dataset(iterate, card)

    def repeat(self, count: int | None = None) -> Dataset:
        """The dataset `count` times over, or forever when `count` is None or -1.

        Each repetition is a fresh pass, so a shuffle before ``repeat`` reshuffles per epoch.
        Repeating an empty dataset forever ends at once, as in TF."""
        times = (
            None if count is None or count == -1 else _int_arg("Dataset.repeat: count", count, 0)
        )

        def iterate() -> Iterator[Any]:
            done = 0
            while times is None or done < times:
                produced = False
                with closing(iter(self)) as it:
                    for element in it:
                        produced = True
                        yield element
                if not produced:
                    return
                done += 1

        card = self._cardinality
        if times == 0:
            card = 0
        elif times is None:
            card = 0 if card == 0 else INFINITE_CARDINALITY
        elif card >= 0:
            card *= times
        return Dataset(iterate, card)

    def map(self, map_func: Callable[..., Any], num_parallel_calls: int | None = None) -> Dataset:
        """`map_func` applied to each element (a tuple element is unpacked into arguments).

        With `num_parallel_calls` (or AUTOTUNE: one per CPU) that many elements are mapped at once
        on a thread pool; the output order is the input order. Threads help when `map_func`
        spends its time in NumPy or I/O, which release the GIL."""
        if not callable(map_func):
            raise DataError(f"Dataset.map: map_func must be callable, got {map_func!r}")
        workers = None
        if num_parallel_calls == AUTOTUNE:
            workers = os.cpu_count() or 1
        elif num_parallel_calls is not None:
            workers = _int_arg("Dataset.map: num_parallel_calls", num_parallel_calls, 1)

        def apply(element: Any) -> Any:
            return to_numpy(_as_element(_call(map_func, element)))

        def iterate() -> Iterator[Any]:
            if workers is None:
                with closing(iter(self)) as it:
                    for element in it:
                        yield apply(element)
            else:
                yield from _mapped_in_parallel(self, apply, workers)

        return Dataset(iterate, self._cardinality)

    def filter(self, predicate: Callable[..., Any]) -> Dataset:
        """The elements for which `predicate` returns a scalar True (length unknown, as TF)."""
        if not callable(predicate):
            raise DataError(f"Dataset.filter: predicate must be callable, got {predicate!r}")

        def iterate() -> Iterator[Any]:
            with closing(iter(self)) as it:
                for element in it:
                    keep = np.asarray(_call(predicate, element))
                    if keep.dtype != np.bool_ or keep.shape != ():
                        raise DataError(
                            "Dataset.filter: the predicate must return a scalar bool, got "
                            f"{keep.dtype} of shape {keep.shape}"
                        )
                    if keep:
                        yield element

        return Dataset(iterate, UNKNOWN_CARDINALITY)

    def take(self, count: int) -> Dataset:
        """The first `count` elements (all of them when `count` is -1)."""
        if count == -1:
            return Dataset(self._make_iterator, self._cardinality)
        n = _int_arg("Dataset.take: count", count, 0)

        def iterate() -> Iterator[Any]:
            with closing(iter(self)) as it:
                yield from itertools.islice(it, n)

        card = self._cardinality
        if card == INFINITE_CARDINALITY:
            card = n
        elif card >= 0:
            card = min(card, n)
        return Dataset(iterate, card)

    def skip(self, count: int) -> Dataset:
        """All but the first `count` elements (none when `count` is -1)."""
        n = None if count == -1 else _int_arg("Dataset.skip: count", count, 0)

        def iterate() -> Iterator[Any]:
            if n is None:
                return
            with closing(iter(self)) as it:
                yield from itertools.islice(it, n, None)

        card = self._cardinality
        if n is None:
            card = 0
        elif card >= 0:
            card = max(card - n, 0)
        return Dataset(iterate, card)

    def enumerate(self, start: int = 0) -> Dataset:
        """Pairs ``(index, element)``, the index an int64 scalar counting from `start`."""
        first = _int_arg("Dataset.enumerate: start", start, -(2**63))

        def iterate() -> Iterator[Any]:
            with closing(iter(self)) as it:
                for i, element in enumerate(it, first):
                    yield np.int64(i), element

        return Dataset(iterate, self._cardinality)

    def prefetch(self, buffer_size: int) -> Dataset:
        """The same elements, produced ahead by a background thread into a bounded buffer.

        The thread starts with the first ``next``; it stops when the iterator is closed, is
        garbage-collected or ends. An error raised while producing is re-raised by ``next``."""
        if buffer_size == AUTOTUNE:
            size = _AUTOTUNE_PREFETCH
        else:
            size = _int_arg("Dataset.prefetch: buffer_size", buffer_size, 1)
        return Dataset(lambda: _prefetched(self, size), self._cardinality)

    # -- iteration -------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Any]:
        return self._make_iterator()

    def as_numpy_iterator(self) -> Iterator[Any]:
        """A fresh iterator (TF's name; the elements are NumPy arrays already)."""
        return iter(self)

    def cardinality(self) -> int:
        """The number of elements, or INFINITE_CARDINALITY or UNKNOWN_CARDINALITY."""
        return self._cardinality

    def __len__(self) -> int:
        """The number of elements; a TypeError (as in TF) when infinite or unknown."""
        if self._cardinality == INFINITE_CARDINALITY:
            raise TypeError("The dataset is infinite.")
        if self._cardinality == UNKNOWN_CARDINALITY:
            raise TypeError("The dataset length is unknown.")
        return self._cardinality

    def __bool__(self) -> bool:
        return True  # as in TF: a dataset is truthy even when its length is not known

    def __repr__(self) -> str:
        names = {INFINITE_CARDINALITY: "infinite", UNKNOWN_CARDINALITY: "unknown"}
        return f"<Dataset cardinality={names.get(self._cardinality, self._cardinality)}>"


# -- helpers of the transformations ----------------------------------------------------------


def _as_element(value: Any) -> Any:
    """A map function's return value as an element: a list becomes a tuple, as in TF."""
    return tuple(value) if type(value) is list else value


def _zip_cardinality(cards: list[int]) -> int:
    if UNKNOWN_CARDINALITY in cards:
        return UNKNOWN_CARDINALITY
    finite = [c for c in cards if c >= 0]
    return min(finite) if finite else INFINITE_CARDINALITY


def _shuffled(source: Dataset, buffer_size: int, rng: np.random.Generator) -> Iterator[Any]:
    with closing(iter(source)) as it:
        buffer = list(itertools.islice(it, buffer_size))
        uniforms: Iterator[float] = iter(())
        while buffer:
            u = next(uniforms, None)
            if u is None:
                uniforms = iter(rng.random(1024).tolist())
                u = next(uniforms)
            i = int(u * len(buffer))
            element = buffer[i]
            incoming = next(it, _END)
            if incoming is _END:
                buffer[i] = buffer[-1]
                buffer.pop()
            else:
                buffer[i] = incoming
            yield element


def _stack(elements: list[Any]) -> Any:
    """One batch: the elements' components stacked along a new first dimension."""
    first = elements[0]
    shape = signature(first)
    for element in elements[1:]:
        if signature(element) != shape:
            assert_same_structure(first, element, "Dataset.batch")
    paths = [path for path, _ in flatten_with_paths(first)]
    columns = zip(*(flatten(e) for e in elements), strict=True)
    stacked = []
    for path, column in zip(paths, columns, strict=True):
        shapes = sorted({np.shape(c) for c in column})
        if len(shapes) > 1:
            raise DataError(
                f"Dataset.batch: {_component(path)} has elements of shapes "
                f"{', '.join(map(str, shapes))} in one batch; a batch needs equal shapes"
            )
        stacked.append(np.stack(column))
    return pack(first, stacked)


def _mapped_in_parallel(
    source: Dataset, apply: Callable[[Any], Any], workers: int
) -> Iterator[Any]:
    pool = ThreadPoolExecutor(workers, thread_name_prefix="graphnet-map")
    pending: deque[Future[Any]] = deque()
    try:
        with closing(iter(source)) as it:
            for element in it:
                pending.append(pool.submit(apply, element))
                if len(pending) > workers:
                    yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _offer(buffer: queue.Queue[Any], item: Any, stop: threading.Event) -> bool:
    """Puts `item` unless `stop` is set first; whether it was put."""
    while not stop.is_set():
        try:
            buffer.put(item, timeout=_POLL_S)
            return True
        except queue.Full:
            continue
    return False


def _produce(source: Dataset, buffer: queue.Queue[Any], stop: threading.Event) -> None:
    """The prefetch thread: the source's elements, then a done or failed marker."""
    try:
        with closing(iter(source)) as it:
            for element in it:
                if not _offer(buffer, (_ITEM, element), stop):
                    return
        _offer(buffer, (_DONE, None), stop)
    except BaseException as exc:  # handed to the consumer, which re-raises it
        _offer(buffer, (_FAILED, exc), stop)


def _prefetched(source: Dataset, size: int) -> Iterator[Any]:
    buffer: queue.Queue[Any] = queue.Queue(maxsize=size)
    stop = threading.Event()
    thread = threading.Thread(
        target=_produce, args=(source, buffer, stop), name="graphnet-prefetch", daemon=True
    )
    thread.start()
    try:
        while True:
            kind, value = buffer.get()
            if kind is _DONE:
                return
            if kind is _FAILED:
                raise value
            yield value
    finally:
        stop.set()
        while True:  # empty the buffer so that a producer blocked on a full one sees `stop`
            try:
                buffer.get_nowait()
            except queue.Empty:
                break
        thread.join()
