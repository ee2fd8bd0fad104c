"""Session: holds variable values, turns (fetches, feeds) into cached executables, runs them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from graphnet.backends.registry import Backend, Executable, get_backend
from graphnet.compiler import pipeline
from graphnet.compiler.lowering import prune
from graphnet.compiler.plan import Plan
from graphnet.ir import (
    FailedPreconditionError,
    FeedError,
    FetchError,
    GraphError,
    Node,
    Tensor,
)
from graphnet.ir.graph import Graph, default_session, get_default_graph
from graphnet.ir.types import DType, format_shape, shape_compatible
from graphnet.ops.registry import get_op
from graphnet.runtime.fetches import flatten, pack


@dataclass(frozen=True)
class SessionConfig:
    """How a Session compiles its runs: the optimization level and the compiler's instruments
    (see gn.compiler.PassContext: disabled passes, print_before/print_after, dump_dir, verify)."""

    opt_level: str = "O2"
    disabled: tuple[str, ...] = ()
    print_before: tuple[str, ...] | str = ()
    print_after: tuple[str, ...] | str = ()
    dump_dir: str | None = None
    verify: bool | None = None  # None: the compiler's default (GRAPHNET_VERIFY)
    timing: bool = False

    def pass_context(self, inference: bool) -> pipeline.PassContext:
        options = {"verify": self.verify} if self.verify is not None else {}
        return pipeline.PassContext(
            opt_level=self.opt_level,
            inference=inference,
            disabled=frozenset(self.disabled),
            print_before=_pass_names(self.print_before),
            print_after=_pass_names(self.print_after),
            dump_dir=self.dump_dir,
            timing=self.timing,
            **options,
        )


def _pass_names(option: tuple[str, ...] | str) -> frozenset[str] | str:
    return option if isinstance(option, str) else frozenset(option)


@dataclass(frozen=True)
class _PlanKey:
    fetches: tuple[str, ...]
    feeds: tuple[tuple[str, tuple[int, ...]], ...]


class Session:
    """Runs parts of a graph (TF1's tf.Session): `run(fetches, feed_dict)`.

    Variables live here, not in the graph: several Sessions over one Graph hold separate
    values. A run that fails leaves every variable as it was. `backend` is a backend's name
    ("cpu", "reference") or a backend object with options of its own, such as
    `graphnet.backends.cpu.CpuBackend(mode="plan")` (compile every plan whole at once).
    """

    def __init__(
        self,
        target: str = "",
        graph: Graph | None = None,
        config: SessionConfig | None = None,
        backend: str | Backend = "cpu",
    ) -> None:
        self.graph = graph if graph is not None else get_default_graph()
        self._backend = get_backend(backend) if isinstance(backend, str) else backend
        self.backend_name = self._backend.name
        self.config = config or SessionConfig()
        self._variables: dict[str, Any] = {}  # host arrays, or device arrays (cuda)
        self._executables: dict[_PlanKey, Executable] = {}
        self._closed = False
        self._default_ctx: Any = None

    # -- running -----------------------------------------------------------------------------

    def run(
        self,
        fetches: Any,
        feed_dict: Mapping[Any, Any] | None = None,
        options: Any = None,
        run_metadata: Any = None,
    ) -> Any:
        """Computes `fetches` (Tensors, Nodes, names, Variables, nested in lists/tuples/dicts)
        and returns their values in the same structure; Nodes give None."""
        if self._closed:
            raise FailedPreconditionError("Attempted to use a closed Session.")
        leaves = [self._resolve_fetch(f) for f in flatten(fetches)]
        feeds = self._resolve_feeds(feed_dict or {})
        key = _PlanKey(
            tuple(f.name for f in leaves),
            tuple(sorted((t.name, v.shape) for t, v in feeds.items())),
        )
        executable = self._executables.get(key)
        if executable is None:
            executable = self._backend.compile(self._compile(leaves, feeds))
            self._executables[key] = executable
        plan = executable.plan
        uninitialized = sorted(plan.variables_read_before_written() - self._variables.keys())
        if uninitialized:
            raise FailedPreconditionError(
                f"attempting to use uninitialized variable(s) {', '.join(uninitialized)}; "
                "run gn.global_variables_initializer() first"
            )
        feed_buffers = {plan.feeds[t.name]: v for t, v in feeds.items() if t.name in plan.feeds}
        result = executable.run(feed_buffers, self._variables)
        self._variables.update(result.updates)  # only after the whole run succeeded
        values = [_fetched_value(v) for v in result.fetches]
        return pack(fetches, values) if _is_structure(fetches) else values[0]

    def compiled_plan(self, fetches: Any, feed_dict: Mapping[Any, Any] | None = None) -> Plan:
        """The optimized Plan this session runs for `fetches` and `feed_dict` (values or
        shapes do not matter beyond their shapes)."""
        leaves = [self._resolve_fetch(f) for f in flatten(fetches)]
        return self._compile(leaves, self._resolve_feeds(feed_dict or {}))

    def _compile(self, leaves: list[Tensor | Node], feeds: dict[Tensor, np.ndarray]) -> Plan:
        shapes = {t: v.shape for t, v in feeds.items()}
        inference = not any(
            get_op(n.type).writes_input is not None for n in prune(leaves, list(feeds))
        )
        return pipeline.compile(self.graph, leaves, shapes, self.config.pass_context(inference))

    def _resolve_fetch(self, fetch: Any) -> Tensor | Node:
        try:
            element = self.graph.as_graph_element(fetch)
        except GraphError as err:
            raise FetchError(f"cannot fetch {fetch!r}: {err}") from None
        return element

    def _resolve_feeds(self, feed_dict: Mapping[Any, Any]) -> dict[Tensor, np.ndarray]:
        feeds: dict[Tensor, np.ndarray] = {}
        for key, value in feed_dict.items():
            try:
                tensor = self.graph.as_graph_element(key)
            except GraphError as err:
                raise FeedError(f"cannot feed {key!r}: {err}") from None
            if not isinstance(tensor, Tensor):
                raise FeedError(f"cannot feed node '{tensor.name}' ({tensor.type}): feed a tensor")
            opdef = get_op(tensor.node.type)
            if opdef.writes_input is not None or opdef.random:  # feeding would skip an effect
                raise FeedError(
                    f"tensor '{tensor.name}' ({tensor.node.type}) is not feedable: feeding it "
                    "would skip its side effect; feed a placeholder instead"
                )
            feeds[tensor] = _check_feed(tensor, value)
        return feeds

    # -- variables -----------------------------------------------------------------------------

    def variable_values(self) -> dict[str, np.ndarray]:
        """A host copy of every initialized variable's value, by variable name (a device
        backend's variables are copied from the device)."""
        return {k: _host_copy(v) for k, v in self._variables.items()}

    # -- lifetime --------------------------------------------------------------------------------

    def close(self) -> None:
        self._closed = True
        self._executables.clear()
        self._variables.clear()

    def as_default(self) -> Any:
        """Makes this session the default for Tensor.eval / Node.run inside the `with`."""
        return default_session(self)

    def __enter__(self) -> Session:
        self._default_ctx = self.as_default()
        self._default_ctx.__enter__()
        self._graph_ctx = self.graph.as_default()
        self._graph_ctx.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._graph_ctx.__exit__(*exc)
        self._default_ctx.__exit__(*exc)
        self.close()

    def __repr__(self) -> str:
        return f"<gn.Session backend={self.backend_name!r} graph={self.graph!r}>"


def _host_copy(value: Any) -> np.ndarray:
    """A NumPy copy of a variable's value, held on the host or (numba.cuda) on a device."""
    return value.copy_to_host() if hasattr(value, "copy_to_host") else value.copy()


def _is_structure(fetches: Any) -> bool:
    return isinstance(fetches, list | tuple | Mapping)


def _check_feed(tensor: Tensor, value: Any) -> np.ndarray:
    """`value` as an array of the tensor's dtype; rejects unsafe casts and wrong shapes."""
    what = f"feed for '{tensor.name}' ({tensor.node.type})"
    expected = f"{tensor.dtype}{format_shape(tensor.shape)}"
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as err:
        raise FeedError(
            f"{what}: cannot convert the value to an array ({err}); expected {expected}"
        ) from None
    if not _castable(arr.dtype, tensor.dtype):
        raise FeedError(
            f"{what}: expected {expected}, given {arr.dtype}{format_shape(arr.shape)}, "
            f"which does not convert to {tensor.dtype} safely"
        )
    if not shape_compatible(tensor.shape, arr.shape):
        raise FeedError(
            f"{what}: expected shape {format_shape(tensor.shape)}, given {format_shape(arr.shape)}"
        )
    return arr.astype(tensor.dtype.np, copy=True)


def _castable(given: np.dtype, target: DType) -> bool:
    if given.kind not in "biuf":
        return False
    if target.is_bool:
        return given.kind == "b"
    if target.is_integer:
        return given.kind in "biu"
    return True


def _fetched_value(value: np.ndarray | None) -> Any:
    """A copy the caller may change freely; 0-d results come back as NumPy scalars, as in TF."""
    if value is None:
        return None
    return value[()] if value.ndim == 0 else np.array(value, copy=True)
