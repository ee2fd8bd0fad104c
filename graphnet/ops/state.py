"""State ops: placeholders, variables, assignments; the Variable class and initializers."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from graphnet.ir import GraphKeys, Node, ShapeError, Tensor
from graphnet.ir.graph import Graph, get_default_graph, install_operators
from graphnet.ir.types import (
    DType,
    Shape,
    as_dtype,
    as_shape,
    format_shape,
    is_fully_defined,
    merge_shapes,
)
from graphnet.ops.control import group
from graphnet.ops.core import (
    TENSOR_CONVERSIONS,
    TensorLike,
    apply_op1,
    convert_to_tensor,
    graph_of,
    same_dtype,
)
from graphnet.ops.registry import OpDef, register_op


def _declared_type(inputs: Sequence[Tensor], attrs: dict) -> list:
    return [(as_dtype(attrs["dtype"]), attrs["shape"])]


register_op(
    OpDef("placeholder", _declared_type, stateful=True, doc="A value that must be fed at run time.")
)
register_op(
    OpDef(
        "variable",
        _declared_type,
        stateful=True,
        doc="A value that persists in the Session across runs.",
    )
)


def _check_fits(shape: Shape | None, given: Shape | None, what: str) -> None:
    try:
        merge_shapes(shape, given)
    except ShapeError:
        raise ShapeError(
            f"{what}: expected shape {format_shape(shape)}, got {format_shape(given)}"
        ) from None


def _placeholder_with_default_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    (default,) = inputs
    _check_fits(attrs["shape"], default.shape, "default value")
    return [(default.dtype, attrs["shape"])]


register_op(
    OpDef(
        "placeholder_with_default",
        _placeholder_with_default_infer,
        grad=lambda node, grads: [grads[0]],
        doc="The default value unless the output is fed.",
    )
)


def placeholder(
    dtype: DType | str = "float32",
    shape: Iterable[int | None] | None = None,
    name: str | None = None,
) -> Tensor:
    """A tensor that must be fed; None dims (and shape=None, unknown rank) accept any size."""
    dt = as_dtype(dtype)
    return apply_op1(
        "placeholder", [], {"dtype": dt.name, "shape": as_shape(shape)}, name=name or "Placeholder"
    )


def placeholder_with_default(
    input: TensorLike, shape: Iterable[int | None] | None, name: str | None = None
) -> Tensor:
    """`input` unless this tensor is fed; a fed value must fit `shape`."""
    return apply_op1("placeholder_with_default", [input], {"shape": as_shape(shape)}, name=name)


# -- assignments ------------------------------------------------------------------------------


def _assign_infer(inputs: Sequence[Tensor], attrs: dict) -> list:
    ref, value = inputs
    if ref.node.type != "variable":
        raise ShapeError(f"can only assign to a variable, not to {ref.name} ({ref.node.type})")
    same_dtype([ref, value])
    if attrs.get("validate_shape", True):
        _check_fits(ref.shape, value.shape, f"value assigned to variable '{ref.node.name}'")
    return [(ref.dtype, ref.shape)]


register_op(
    OpDef(
        "assign",
        _assign_infer,
        differentiable=False,
        stateful=True,
        writes_input=0,
        reads_written_input=False,
        doc="Sets a variable to a value; returns it.",
    )
)
register_op(
    OpDef(
        "assign_add",
        _assign_infer,
        differentiable=False,
        stateful=True,
        writes_input=0,
        doc="Adds to a variable; returns the new value.",
    )
)
register_op(
    OpDef(
        "assign_sub",
        _assign_infer,
        differentiable=False,
        stateful=True,
        writes_input=0,
        doc="Subtracts from a variable; returns the new value.",
    )
)


def _variable_tensor(ref: Any) -> Tensor:
    return ref._variable if isinstance(ref, Variable) else convert_to_tensor(ref)


def _assign(
    op: str, ref: Any, value: TensorLike, name: str | None, validate_shape: bool = True
) -> Tensor:
    var = _variable_tensor(ref)
    value_t = convert_to_tensor(value, dtype=var.dtype, graph=var.graph)
    return apply_op1(op, [var, value_t], {"validate_shape": validate_shape}, name=name)


def assign(
    ref: Any,
    value: TensorLike,
    validate_shape: bool = True,
    use_locking: bool | None = None,
    name: str | None = None,
) -> Tensor:
    """Sets variable `ref` to `value` when run; the result is the new value."""
    return _assign("assign", ref, value, name or "Assign", validate_shape)


def assign_add(
    ref: Any, value: TensorLike, use_locking: bool | None = None, name: str | None = None
) -> Tensor:
    """Adds `value` to variable `ref` when run; the result is the new value."""
    return _assign("assign_add", ref, value, name or "AssignAdd")


def assign_sub(
    ref: Any, value: TensorLike, use_locking: bool | None = None, name: str | None = None
) -> Tensor:
    """Subtracts `value` from variable `ref` when run; the result is the new value."""
    return _assign("assign_sub", ref, value, name or "AssignSub")


# -- Variable -----------------------------------------------------------------------------------


class Variable:
    """A tensor whose value persists in a Session across runs (TF1's tf.Variable).

    `initial_value` may be a value, a Tensor or a callable returning one. If it reads other
    variables, this variable's initializer runs after theirs, so one global initializer works.
    """

    def __init__(
        self,
        initial_value: TensorLike | Callable[[], TensorLike],
        trainable: bool = True,
        name: str | None = None,
        dtype: DType | str | None = None,
        collections: Sequence[str] | None = None,
        validate_shape: bool = True,
    ) -> None:
        if initial_value is None:
            raise ValueError("gn.Variable needs an initial_value")
        graph = graph_of([initial_value]) if not callable(initial_value) else get_default_graph()
        with graph.as_default(), graph.name_scope(name or "Variable") as scope:
            value = initial_value() if callable(initial_value) else initial_value
            init = convert_to_tensor(value, dtype=None, name="initial_value", graph=graph)
            if dtype is not None and init.dtype != as_dtype(dtype):
                from graphnet.ops.math import cast

                init = cast(init, dtype)
            if validate_shape and not is_fully_defined(init.shape):
                raise ShapeError(
                    f"variable '{scope[:-1]}': initial value {init.name} has shape "
                    f"{format_shape(init.shape)}; a variable needs a fully known shape"
                )
            node = graph.create_node(
                "variable",
                [],
                {"dtype": init.dtype.name, "shape": init.shape},
                [(init.dtype, init.shape)],
                name=scope,
            )
            self._variable = node.outputs[0]
            self._initial_value = init
            self.trainable = trainable
            after = [v.initializer for v in _variables_read_by(init, graph)]
            with graph.control_dependencies(after):
                self._initializer_tensor = assign(self, init, validate_shape=validate_shape)
        self.initializer: Node = self._initializer_tensor.op
        if collections is None:
            collections = [GraphKeys.GLOBAL_VARIABLES]
        if trainable and GraphKeys.TRAINABLE_VARIABLES not in collections:
            collections = [*collections, GraphKeys.TRAINABLE_VARIABLES]
        graph.add_to_collections(set(collections), self)
        graph.add_to_collection(_ALL_VARIABLES, self)

    # -- the Tensor-like surface ------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._variable.name

    @property
    def op(self) -> Node:
        return self._variable.op

    @property
    def graph(self) -> Graph:
        return self._variable.graph

    @property
    def dtype(self) -> DType:
        return self._variable.dtype

    @property
    def shape(self) -> Shape:
        return self._variable.shape  # type: ignore[return-value]

    @property
    def initial_value(self) -> Tensor:
        return self._initial_value

    def get_shape(self) -> Shape:
        return self.shape

    def value(self) -> Tensor:
        """The tensor that reads this variable."""
        return self._variable

    def read_value(self) -> Tensor:
        """A new tensor holding the variable's value at the time it runs."""
        from graphnet.ops.control import identity

        return identity(self._variable, name="read")

    def _as_graph_element(self) -> Tensor:
        return self._variable

    def assign(
        self, value: TensorLike, use_locking: bool = False, name: str | None = None
    ) -> Tensor:
        return assign(self, value, name=name)

    def assign_add(
        self, delta: TensorLike, use_locking: bool = False, name: str | None = None
    ) -> Tensor:
        return assign_add(self, delta, name=name)

    def assign_sub(
        self, delta: TensorLike, use_locking: bool = False, name: str | None = None
    ) -> Tensor:
        return assign_sub(self, delta, name=name)

    def eval(self, session: Any = None) -> Any:
        return self._variable.eval(session=session)

    def load(self, value: Any, session: Any = None) -> None:
        """Sets the value from Python by feeding the initializer (TF1's Variable.load)."""
        from graphnet.ir.graph import get_default_session

        session = session or get_default_session()
        session.run(self.initializer, feed_dict={self.initializer.inputs[1]: value})

    def __repr__(self) -> str:
        return f"<gn.Variable '{self.name}' shape={format_shape(self.shape)} dtype={self.dtype}>"

    __hash__ = object.__hash__


install_operators(Variable)
TENSOR_CONVERSIONS[Variable] = Variable.value

_ALL_VARIABLES = "__all_variables__"


def _variables_read_by(tensor: Tensor, graph: Graph) -> list[Variable]:
    """Variables whose value `tensor` depends on (walking inputs and control inputs)."""
    by_node = {v.op: v for v in graph.get_collection(_ALL_VARIABLES)}
    if not by_node:
        return []
    seen: set[Node] = set()
    found: list[Variable] = []
    stack = [tensor.node]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if node in by_node:
            found.append(by_node[node])
        stack.extend(t.node for t in node.inputs)
        stack.extend(node.control_inputs)
    return found


def global_variables(scope: str | None = None) -> list[Variable]:
    return get_default_graph().get_collection(GraphKeys.GLOBAL_VARIABLES, scope)


def trainable_variables(scope: str | None = None) -> list[Variable]:
    return get_default_graph().get_collection(GraphKeys.TRAINABLE_VARIABLES, scope)


def local_variables(scope: str | None = None) -> list[Variable]:
    return get_default_graph().get_collection(GraphKeys.LOCAL_VARIABLES, scope)


def variables_initializer(var_list: Sequence[Variable], name: str = "init") -> Node:
    """One node that initializes every variable of `var_list`."""
    return group(*[v.initializer for v in var_list], name=name)


def global_variables_initializer() -> Node:
    """One node that initializes every global variable of the default graph."""
    return variables_initializer(global_variables(), name="init")


def local_variables_initializer() -> Node:
    return variables_initializer(local_variables(), name="init_local")


__all__ = [
    "Variable", "assign", "assign_add", "assign_sub", "global_variables",
    "global_variables_initializer", "local_variables", "local_variables_initializer",
    "placeholder", "placeholder_with_default", "trainable_variables", "variables_initializer",
]  # fmt: skip
