"""Graph, Node and Tensor; name scopes, control dependencies, collections, the default graph."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from graphnet.ir.errors import GraphError
from graphnet.ir.types import DType, Shape, format_shape

_VALID_NAME = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\-/]*$")


class Attrs(Mapping[str, Any]):
    """A frozen, hashable attribute map; lists become tuples, arrays stay arrays."""

    __slots__ = ("_hash", "_items")

    def __init__(self, attrs: Mapping[str, Any] | None = None) -> None:
        items = {k: _freeze(v) for k, v in (attrs or {}).items()}
        self._items = dict(sorted(items.items()))
        self._hash: int | None = None

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(tuple((k, _hashable(v)) for k, v in self._items.items()))
        return self._hash

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Attrs) or self._items.keys() != other._items.keys():
            return False
        return all(_hashable(v) == _hashable(other._items[k]) for k, v in self._items.items())

    def __repr__(self) -> str:
        return f"Attrs({self._items!r})"


def _freeze(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def _hashable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, tuple):
        return tuple(_hashable(v) for v in value)
    return value


class Tensor:
    """Output `index` of a Node, with a static dtype and shape (dims may be None)."""

    __slots__ = ("dtype", "index", "node", "shape")
    __array_priority__ = 100  # NumPy defers `array + tensor` to Tensor.__radd__

    def __init__(self, node: Node, index: int, dtype: DType, shape: Shape | None) -> None:
        self.node = node
        self.index = index
        self.dtype = dtype
        self.shape = shape

    @property
    def op(self) -> Node:
        return self.node

    @property
    def graph(self) -> Graph:
        return self.node.graph

    @property
    def name(self) -> str:
        return f"{self.node.name}:{self.index}"

    @property
    def consumers(self) -> list[Node]:
        return [n for n in self.graph.consumers(self.node) if self in n.inputs]

    def get_shape(self) -> Shape | None:
        return self.shape

    def eval(self, feed_dict: Mapping | None = None, session: Any = None) -> Any:
        """Runs this tensor in `session` or the default session (TF1's Tensor.eval)."""
        session = session or get_default_session()
        if session is None:
            raise GraphError(
                f"cannot evaluate {self.name}: no default session; use `with gn.Session():`"
            )
        return session.run(self, feed_dict=feed_dict)

    def __repr__(self) -> str:
        return f"<gn.Tensor '{self.name}' shape={format_shape(self.shape)} dtype={self.dtype}>"

    def __bool__(self) -> bool:
        raise TypeError(
            f"using a gn.Tensor ('{self.name}') as a Python bool is not allowed; "
            "the graph is symbolic: use gn.where or run it in a Session"
        )

    def __iter__(self) -> Iterator[Tensor]:
        if self.shape is None or not self.shape or self.shape[0] is None:
            raise TypeError(
                f"cannot iterate over '{self.name}' of shape {format_shape(self.shape)}"
            )
        return (self[i] for i in range(self.shape[0]))

    def __len__(self) -> int:
        if self.shape is None or not self.shape or self.shape[0] is None:
            raise TypeError(f"'{self.name}' of shape {format_shape(self.shape)} has no static len")
        return self.shape[0]

    __hash__ = object.__hash__  # identity, as in TF1: Tensors are dict keys in feed_dict


#: Operator overloads of Tensor, filled by graphnet.ops at import time: name -> function.
TENSOR_OPERATORS: dict[str, Callable[..., Tensor]] = {}

_BINARY_OPERATORS = (
    "add",
    "sub",
    "mul",
    "truediv",
    "floordiv",
    "mod",
    "pow",
    "matmul",
    "lt",
    "le",
    "gt",
    "ge",
    "and",
    "or",
    "xor",
)


def _forward(op: str) -> Callable[..., Tensor]:
    def method(self: Tensor, *args: Any) -> Tensor:
        return TENSOR_OPERATORS[op](self, *args)

    method.__name__ = f"__{op}__"
    return method


def _reflected(op: str) -> Callable[..., Tensor]:
    def method(self: Tensor, other: Any) -> Tensor:
        return TENSOR_OPERATORS[op](other, self)

    method.__name__ = f"__r{op}__"
    return method


def install_operators(cls: type) -> None:
    """Gives `cls` the arithmetic, comparison and indexing operators of Tensor."""
    for op in _BINARY_OPERATORS:
        setattr(cls, f"__{op}__", _forward(op))
        if op not in ("lt", "le", "gt", "ge"):
            setattr(cls, f"__r{op}__", _reflected(op))
    for op in ("neg", "pos", "abs", "invert", "getitem"):
        setattr(cls, f"__{op}__", _forward(op))


install_operators(Tensor)


class Node:
    """One op application: type (the op name), inputs, control inputs, frozen attrs, outputs."""

    __slots__ = ("attrs", "control_inputs", "graph", "id", "inputs", "name", "outputs", "type")

    def __init__(
        self,
        graph: Graph,
        name: str,
        type: str,
        inputs: tuple[Tensor, ...],
        control_inputs: tuple[Node, ...],
        attrs: Attrs,
        output_types: Sequence[tuple[DType, Shape | None]],
        id: int,
    ) -> None:
        self.graph = graph
        self.name = name
        self.type = type
        self.inputs = inputs
        self.control_inputs = control_inputs
        self.attrs = attrs
        self.id = id
        self.outputs = tuple(Tensor(self, i, dt, sh) for i, (dt, sh) in enumerate(output_types))

    def get_attr(self, name: str) -> Any:
        return self.attrs[name]

    @property
    def op(self) -> Node:
        """The node itself: lets fetch code treat `tensor.op` and `node.op` alike."""
        return self

    def __repr__(self) -> str:
        return f"<gn.Node '{self.name}' type={self.type}>"

    def run(self, feed_dict: Mapping | None = None, session: Any = None) -> None:
        """Runs this node in `session` or the default session (TF1's Operation.run)."""
        session = session or get_default_session()
        if session is None:
            raise GraphError(f"cannot run '{self.name}': no default session")
        session.run(self, feed_dict=feed_dict)


def ancestors(roots: Iterable[Node], cut: Callable[[Tensor], bool] = lambda t: False) -> set[Node]:
    """`roots` and every node they reach through inputs and control inputs, not following an
    input for which `cut` is true (a fed tensor, say)."""
    found: set[Node] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if node not in found:
            found.add(node)
            stack.extend(t.node for t in node.inputs if not cut(t))
            stack.extend(node.control_inputs)
    return found


class GraphKeys:
    """Standard collection names (TF1's tf.GraphKeys)."""

    GLOBAL_VARIABLES = "variables"
    TRAINABLE_VARIABLES = "trainable_variables"
    WEIGHTS = "weights"
    LOCAL_VARIABLES = "local_variables"
    MOVING_AVERAGE_VARIABLES = "moving_average_variables"
    REGULARIZATION_LOSSES = "regularization_losses"
    LOSSES = "losses"
    UPDATE_OPS = "update_ops"
    TRAIN_OP = "train_op"
    GLOBAL_STEP = "global_step"
    SUMMARIES = "summaries"


class Graph:
    """A static DAG of Nodes, in insertion order, with unique names."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self._by_name: dict[str, Node] = {}
        self._used_names: dict[str, int] = {}
        self._scope = ""
        self._control_stack: list[list[Node]] = []
        self._collections: dict[str, list[Any]] = {}
        self._consumers: dict[Node, list[Node]] = {}
        self.seed: int | None = None
        self._next_op_seed = 0

    # -- building ----------------------------------------------------------------------------

    def create_node(
        self,
        type: str,
        inputs: Sequence[Tensor],
        attrs: Mapping[str, Any] | None,
        output_types: Sequence[tuple[DType, Shape | None]],
        name: str | None = None,
        control_inputs: Iterable[Node] = (),
    ) -> Node:
        """Adds a node; `name` is made unique within the current name scope."""
        for t in inputs:
            if t.graph is not self:
                raise GraphError(
                    f"input {t.name} of new '{type}' node belongs to another graph; "
                    "every input of an op must come from the same gn.Graph"
                )
        controls = list(control_inputs)
        for frame in self._control_stack:
            controls.extend(frame)
        input_nodes = {t.node for t in inputs}
        deduped = tuple(dict.fromkeys(c for c in controls if c not in input_nodes))
        for c in deduped:
            if c.graph is not self:
                raise GraphError(f"control input '{c.name}' belongs to another graph")
        full_name = (
            self._exact_name(name)
            if name and name.endswith("/")
            else self.unique_name(name or type)
        )
        node = Node(
            self,
            full_name,
            type,
            tuple(inputs),
            deduped,
            Attrs(attrs),
            output_types,
            len(self.nodes),
        )
        self.nodes.append(node)
        self._by_name[full_name] = node
        for src in {t.node for t in inputs} | set(deduped):
            self._consumers.setdefault(src, []).append(node)
        return node

    def _exact_name(self, name: str) -> str:
        """A name ending in '/' is taken verbatim (TF's rule): a variable named after its scope."""
        full = name[:-1]
        if full in self._by_name:
            raise GraphError(f"the graph already has a node named {full!r}")
        self._used_names.setdefault(full.lower(), 1)
        return full

    def reserve_names(self, names: Iterable[str]) -> None:
        """Marks names as taken so that unique_name never hands them out (they can still be
        created verbatim with a trailing '/'): rewrites copy nodes under their old names."""
        for name in names:
            self._used_names.setdefault(name.lower(), 1)

    def unique_name(self, name: str, mark_as_used: bool = True) -> str:
        """Scope-prefixed `name`, suffixed _1, _2... when taken (TF1's Graph.unique_name)."""
        if not _VALID_NAME.match(name.split("/")[-1] or "x"):
            raise GraphError(f"invalid node name {name!r}")
        full = f"{self._scope}/{name}" if self._scope else name
        key = full.lower()
        count = self._used_names.get(key, 0)
        if mark_as_used:
            self._used_names[key] = count + 1
        if count == 0:
            return full
        candidate = f"{full}_{count}"
        while candidate.lower() in self._used_names:
            count += 1
            candidate = f"{full}_{count}"
        if mark_as_used:
            self._used_names[candidate.lower()] = 1
        return candidate

    @contextlib.contextmanager
    def name_scope(self, name: str | None) -> Iterator[str]:
        """Nested name scope; a name ending in '/' re-enters that scope exactly, None resets."""
        old = self._scope
        if name is None or name == "":
            self._scope = ""
        elif name.endswith("/"):
            self._scope = name[:-1]
        else:
            self._scope = self.unique_name(name)
        try:
            yield self._scope + "/" if self._scope else ""
        finally:
            self._scope = old

    def get_name_scope(self) -> str:
        return self._scope

    @contextlib.contextmanager
    def control_dependencies(self, control_inputs: Iterable[Any] | None) -> Iterator[None]:
        """Nodes created inside run after `control_inputs`; None clears outer dependencies."""
        if control_inputs is None:
            saved, self._control_stack = self._control_stack, []
            try:
                yield
            finally:
                self._control_stack = saved
            return
        frame = [self.as_graph_element(c, allow_tensor=True).op for c in control_inputs]
        self._control_stack.append(frame)
        try:
            yield
        finally:
            self._control_stack.pop()

    @contextlib.contextmanager
    def as_default(self) -> Iterator[Graph]:
        _stack().append(self)
        try:
            yield self
        finally:
            _stack().pop()

    def next_op_seed(self) -> int:
        """A fresh per-op seed for random ops created without one (deterministic per graph)."""
        self._next_op_seed += 1
        return self._next_op_seed

    # -- lookup ------------------------------------------------------------------------------

    def get_operation_by_name(self, name: str) -> Node:
        try:
            return self._by_name[name]
        except KeyError:
            raise GraphError(f"the graph has no node named {name!r}") from None

    def get_tensor_by_name(self, name: str) -> Tensor:
        node_name, sep, index = name.rpartition(":")
        if not sep or not index.isdigit():
            raise GraphError(f"{name!r} is not a tensor name; tensor names look like 'op:0'")
        node = self.get_operation_by_name(node_name)
        if int(index) >= len(node.outputs):
            raise GraphError(
                f"node '{node_name}' ({node.type}) has {len(node.outputs)} outputs; "
                f"{name!r} asks for output {index}"
            )
        return node.outputs[int(index)]

    def as_graph_element(self, obj: Any, allow_tensor: bool = True) -> Tensor | Node:
        """Resolves a Tensor, Node, name ('x:0' or 'x') or object with `_as_graph_element`."""
        if hasattr(obj, "_as_graph_element"):
            obj = obj._as_graph_element()
        if isinstance(obj, str):
            obj = self.get_tensor_by_name(obj) if ":" in obj else self.get_operation_by_name(obj)
        if isinstance(obj, Tensor | Node):
            if obj.graph is not self:
                raise GraphError(f"'{obj.name}' belongs to another graph")
            if isinstance(obj, Tensor) and not allow_tensor:
                return obj.node
            return obj
        raise GraphError(f"cannot interpret {obj!r} as an element of the graph")

    def get_operations(self) -> list[Node]:
        return list(self.nodes)

    def consumers(self, node: Node) -> list[Node]:
        """Nodes that take an output of `node` as input or `node` as control input."""
        return list(self._consumers.get(node, ()))

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def __len__(self) -> int:
        return len(self.nodes)

    # -- collections -------------------------------------------------------------------------

    def add_to_collection(self, name: str, value: Any) -> None:
        self._collections.setdefault(name, []).append(value)

    def add_to_collections(self, names: Iterable[str], value: Any) -> None:
        for name in names:
            self.add_to_collection(name, value)

    def get_collection(self, name: str, scope: str | None = None) -> list[Any]:
        """A copy of the collection, filtered to items whose name starts with `scope`."""
        items = list(self._collections.get(name, ()))
        if scope is None:
            return items
        pattern = re.compile(scope)
        return [i for i in items if pattern.match(getattr(i, "name", ""))]

    def get_collection_ref(self, name: str) -> list[Any]:
        return self._collections.setdefault(name, [])

    def get_all_collection_keys(self) -> list[str]:
        return list(self._collections)

    def __repr__(self) -> str:
        return f"<gn.Graph with {len(self.nodes)} nodes>"

    def __str__(self) -> str:
        from graphnet.ir.printer import format_graph

        return format_graph(self)


# -- the default graph and default session ------------------------------------------------------

_local = threading.local()


def _stack() -> list[Graph]:
    if not hasattr(_local, "graphs"):
        _local.graphs = []
    return _local.graphs


_global_default_graph: Graph | None = None


def get_default_graph() -> Graph:
    """The innermost graph of `with g.as_default()`, else the global default graph."""
    global _global_default_graph
    stack = _stack()
    if stack:
        return stack[-1]
    if _global_default_graph is None:
        _global_default_graph = Graph()
    return _global_default_graph


def reset_default_graph() -> None:
    """Replaces the global default graph with a fresh one (not allowed inside as_default)."""
    global _global_default_graph
    if _stack():
        raise GraphError("reset_default_graph() called inside a `with graph.as_default()` block")
    _global_default_graph = Graph()


def _session_stack() -> list[Any]:
    if not hasattr(_local, "sessions"):
        _local.sessions = []
    return _local.sessions


def get_default_session() -> Any:
    """The innermost session of `with session:` / `session.as_default()`, or None."""
    stack = _session_stack()
    return stack[-1] if stack else None


@contextlib.contextmanager
def default_session(session: Any) -> Iterator[Any]:
    _session_stack().append(session)
    try:
        yield session
    finally:
        _session_stack().pop()


def name_scope(name: str | None) -> contextlib.AbstractContextManager[str]:
    """`with gn.name_scope("dense"):` on the default graph."""
    return get_default_graph().name_scope(name)


def control_dependencies(control_inputs: Iterable[Any] | None) -> contextlib.AbstractContextManager:
    """`with gn.control_dependencies([op]):` on the default graph."""
    return get_default_graph().control_dependencies(control_inputs)


def add_to_collection(name: str, value: Any) -> None:
    get_default_graph().add_to_collection(name, value)


def get_collection(name: str, scope: str | None = None) -> list[Any]:
    return get_default_graph().get_collection(name, scope)


def get_collection_ref(name: str) -> list[Any]:
    return get_default_graph().get_collection_ref(name)


def set_random_seed(seed: int) -> None:
    """The graph-level seed (TF1's tf.set_random_seed) of the default graph."""
    get_default_graph().seed = int(seed)
