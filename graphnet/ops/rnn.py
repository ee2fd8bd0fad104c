"""Recurrent cells (basic RNN, LSTM, GRU, stacks of them), static unrolling, gradient clipping.

Compositions of existing ops, with TF1's names, signatures, variable shapes and gate equations:
gn.nn.rnn_cell.BasicLSTMCell(...) builds the same graph as tf.nn.rnn_cell.BasicLSTMCell(...).
A cell creates its gn.Variables on its first call, inside that call's name scope, and reuses
them on every later call (the cells' `reuse` argument is accepted for TF1's signatures only).
"""

from __future__ import annotations

import math as _math
from collections import namedtuple
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

from graphnet.ir import DTypeError, ShapeError, Tensor
from graphnet.ir.types import DType, as_dtype
from graphnet.ops import array, nn
from graphnet.ops.control import identity
from graphnet.ops.core import TensorLike, convert_operands, convert_to_tensor, op_scope
from graphnet.ops.math import (
    add_n,
    cast,
    clip_by_value,
    less,
    matmul,
    maximum,
    reduce_sum,
    sigmoid,
    sqrt,
    square,
    tanh,
    where,
)
from graphnet.ops.random import random_uniform
from graphnet.ops.state import Variable

#: An initializer: (shape, dtype) -> the initial value (TF's Initializer objects fit).
Initializer = Callable[[Sequence[int], DType], TensorLike]

# -- initializers and nested states -------------------------------------------------------------


def _glorot_uniform(shape: Sequence[int], dtype: DType) -> Tensor:
    """Uniform in +-sqrt(6 / (fan_in + fan_out)), TF1's default for get_variable."""
    fan_in, fan_out = (shape[0], shape[0]) if len(shape) == 1 else (shape[-2], shape[-1])
    limit = _math.sqrt(6.0 / (fan_in + fan_out))
    return random_uniform(list(shape), -limit, limit, dtype=dtype)


def _constant_initializer(value: float) -> Initializer:
    return lambda shape, dtype: array.fill(list(shape), convert_to_tensor(value, dtype=dtype))


_zeros_initializer = _constant_initializer(0.0)


class LSTMStateTuple(namedtuple("LSTMStateTuple", ["c", "h"])):
    """The state of an LSTM cell: the cell state c and the output h, each [batch, units]."""

    __slots__ = ()

    @property
    def dtype(self) -> DType:
        if self.c.dtype != self.h.dtype:
            raise DTypeError(f"LSTMStateTuple: c is {self.c.dtype} but h is {self.h.dtype}")
        return self.c.dtype


def _map_structure(fn: Callable[..., Any], *structures: Any) -> Any:
    """fn over the leaves of equally nested tuples (LSTMStateTuples keep their type)."""
    first = structures[0]
    if not isinstance(first, tuple):
        return fn(*structures)
    items = [_map_structure(fn, *parts) for parts in zip(*structures, strict=True)]
    return type(first)(*items) if hasattr(first, "_fields") else tuple(items)


def _flatten(structure: Any) -> list[Any]:
    if not isinstance(structure, tuple):
        return [structure]
    return [leaf for part in structure for leaf in _flatten(part)]


def _linear(args: Sequence[Tensor], kernel: Tensor, bias: Tensor | None) -> Tensor:
    """concat(args, 1) @ kernel (+ bias): the one matmul that drives every gate of a cell."""
    out = matmul(array.concat(list(args), 1), kernel)
    return out if bias is None else nn.bias_add(out, bias)


# -- cells --------------------------------------------------------------------------------------


class RNNCell:
    """The base of the cells: `cell(inputs, state) -> (output, new_state)`.

    A subclass sets `state_size` and `output_size` and defines `_build(input_depth)` (creating
    its variables through `_add_variable`) and `_step(inputs, state)`.
    """

    default_name = "rnn_cell"

    def __init__(self, name: str | None = None, dtype: DType | str | None = None) -> None:
        self.name = name or self.default_name
        self.dtype = as_dtype(dtype) if dtype is not None else None
        self.built = False
        self._variables: list[Variable] = []

    @property
    def state_size(self) -> Any:
        raise NotImplementedError

    @property
    def output_size(self) -> int:
        raise NotImplementedError

    @property
    def variables(self) -> list[Variable]:
        """The cell's variables in creation order (empty before the first call)."""
        return list(self._variables)

    @property
    def trainable_variables(self) -> list[Variable]:
        return [v for v in self.variables if v.trainable]

    @property
    def weights(self) -> list[Variable]:
        return self.variables

    def __call__(self, inputs: TensorLike, state: Any, scope: str | None = None) -> tuple:
        """One step: (output, new_state); the first call creates the variables."""
        inputs = convert_to_tensor(inputs)
        with op_scope([inputs, *_flatten(state)], scope, self.name):
            if inputs.shape is None or len(inputs.shape) != 2 or inputs.shape[1] is None:
                raise ShapeError(
                    f"{type(self).__name__} '{self.name}': inputs {inputs.name} must be "
                    f"[batch, depth] with a known depth, got shape {inputs.shape}"
                )
            if not self.built:
                if self.dtype is None:
                    self.dtype = inputs.dtype
                self._build(inputs.shape[1])
                self.built = True
            return self._step(inputs, state)

    def _add_variable(
        self, name: str, shape: Sequence[int], initializer: Initializer | None = None
    ) -> Variable:
        init = initializer or _glorot_uniform
        dtype = self.dtype
        var = Variable(lambda: init(list(shape), dtype), name=name, dtype=dtype)
        self._variables.append(var)
        return var

    def _build(self, input_depth: int) -> None:
        raise NotImplementedError

    def _step(self, inputs: Tensor, state: Any) -> tuple:
        raise NotImplementedError

    def zero_state(self, batch_size: TensorLike, dtype: DType | str) -> Any:
        """Zeros shaped like the state, for `batch_size` (an int or a scalar int Tensor)."""
        dt = as_dtype(dtype)

        def zeros(units: int) -> Tensor:
            shape = [batch_size, units]
            dynamic = isinstance(batch_size, Tensor)
            return array.zeros(convert_to_tensor(shape) if dynamic else shape, dt)

        return _map_structure(zeros, self.state_size)


class BasicRNNCell(RNNCell):
    """h' = activation(concat([x, h]) @ kernel + bias); the output is h'."""

    default_name = "basic_rnn_cell"

    def __init__(
        self,
        num_units: int,
        activation: Callable[[Tensor], Tensor] | None = None,
        reuse: bool | None = None,
        name: str | None = None,
        dtype: DType | str | None = None,
    ) -> None:
        super().__init__(name, dtype)
        self.num_units = num_units
        self._activation = activation or tanh

    @property
    def state_size(self) -> int:
        return self.num_units

    @property
    def output_size(self) -> int:
        return self.num_units

    def _build(self, input_depth: int) -> None:
        self.kernel = self._add_variable("kernel", [input_depth + self.num_units, self.num_units])
        self.bias = self._add_variable("bias", [self.num_units], _zeros_initializer)

    def _step(self, inputs: Tensor, state: Tensor) -> tuple:
        output = self._activation(_linear([inputs, state], self.kernel, self.bias))
        return output, output


class LSTMCell(RNNCell):
    """TF1's LSTMCell: gates i, j (new input), f, o from one matmul of [x, h];
    c' = sigmoid(f + forget_bias) * c + sigmoid(i) * activation(j), h' = sigmoid(o) *
    activation(c'); optional peepholes, cell clipping and an output projection (num_proj)."""

    default_name = "lstm_cell"

    def __init__(
        self,
        num_units: int,
        use_peepholes: bool = False,
        cell_clip: float | None = None,
        initializer: Initializer | None = None,
        num_proj: int | None = None,
        proj_clip: float | None = None,
        *,
        forget_bias: float = 1.0,
        state_is_tuple: bool = True,
        activation: Callable[[Tensor], Tensor] | None = None,
        reuse: bool | None = None,
        name: str | None = None,
        dtype: DType | str | None = None,
    ) -> None:
        super().__init__(name, dtype)
        self.num_units = num_units
        self.use_peepholes = use_peepholes
        self.cell_clip = cell_clip
        self._initializer = initializer
        self.num_proj = num_proj
        self.proj_clip = proj_clip
        self.forget_bias = forget_bias
        self.state_is_tuple = state_is_tuple
        self._activation = activation or tanh

    @property
    def output_size(self) -> int:
        return self.num_proj or self.num_units

    @property
    def state_size(self) -> LSTMStateTuple | int:
        if self.state_is_tuple:
            return LSTMStateTuple(self.num_units, self.output_size)
        return self.num_units + self.output_size

    def _build(self, input_depth: int) -> None:
        units, init = self.num_units, self._initializer
        depth = input_depth + self.output_size
        self.kernel = self._add_variable("kernel", [depth, 4 * units], init)
        self.bias = self._add_variable("bias", [4 * units], _zeros_initializer)
        if self.use_peepholes:
            self._peepholes = {g: self._add_variable(f"w_{g}_diag", [units], init) for g in "fio"}
        if self.num_proj is not None:
            self.proj_kernel = self._add_variable("projection/kernel", [units, self.num_proj], init)

    def _peep(self, gate: Tensor, name: str, c: Tensor) -> Tensor:
        """gate + w_<name>_diag * c with peepholes, else the gate."""
        return gate + self._peepholes[name] * c if self.use_peepholes else gate

    def _step(self, inputs: Tensor, state: Any) -> tuple:
        if self.state_is_tuple:
            c_prev, h_prev = state
        else:
            c_prev, h_prev = array.split(state, [self.num_units, self.output_size], axis=1)
        i, j, f, o = array.split(_linear([inputs, h_prev], self.kernel, self.bias), 4, axis=1)
        forget_gate = sigmoid(self._peep(f + self.forget_bias, "f", c_prev))
        input_gate = sigmoid(self._peep(i, "i", c_prev))
        c = forget_gate * c_prev + input_gate * self._activation(j)
        if self.cell_clip is not None:
            c = clip_by_value(c, -self.cell_clip, self.cell_clip)
        h = sigmoid(self._peep(o, "o", c)) * self._activation(c)
        if self.num_proj is not None:
            h = matmul(h, self.proj_kernel)
            if self.proj_clip is not None:
                h = clip_by_value(h, -self.proj_clip, self.proj_clip)
        new_state = LSTMStateTuple(c, h) if self.state_is_tuple else array.concat([c, h], 1)
        return h, new_state


class BasicLSTMCell(LSTMCell):
    """TF1's BasicLSTMCell: the LSTMCell without peepholes, clipping or projection."""

    default_name = "basic_lstm_cell"

    def __init__(
        self,
        num_units: int,
        forget_bias: float = 1.0,
        state_is_tuple: bool = True,
        activation: Callable[[Tensor], Tensor] | None = None,
        reuse: bool | None = None,
        name: str | None = None,
        dtype: DType | str | None = None,
    ) -> None:
        super().__init__(
            num_units,
            forget_bias=forget_bias,
            state_is_tuple=state_is_tuple,
            activation=activation,
            name=name,
            dtype=dtype,
        )


class GRUCell(RNNCell):
    """TF1's GRUCell: r, u = sigmoid([x, h] @ gate_kernel + gate_bias) (gate bias starts at 1);
    c = activation([x, r * h] @ candidate_kernel + candidate_bias); h' = u * h + (1 - u) * c."""

    default_name = "gru_cell"

    def __init__(
        self,
        num_units: int,
        activation: Callable[[Tensor], Tensor] | None = None,
        reuse: bool | None = None,
        kernel_initializer: Initializer | None = None,
        bias_initializer: Initializer | None = None,
        name: str | None = None,
        dtype: DType | str | None = None,
    ) -> None:
        super().__init__(name, dtype)
        self.num_units = num_units
        self._activation = activation or tanh
        self._kernel_initializer = kernel_initializer
        self._bias_initializer = bias_initializer

    @property
    def state_size(self) -> int:
        return self.num_units

    @property
    def output_size(self) -> int:
        return self.num_units

    def _build(self, input_depth: int) -> None:
        units, depth = self.num_units, input_depth + self.num_units
        kernel_init, bias_init = self._kernel_initializer, self._bias_initializer
        self.gate_kernel = self._add_variable("gates/kernel", [depth, 2 * units], kernel_init)
        self.gate_bias = self._add_variable(
            "gates/bias", [2 * units], bias_init or _constant_initializer(1.0)
        )
        self.candidate_kernel = self._add_variable("candidate/kernel", [depth, units], kernel_init)
        self.candidate_bias = self._add_variable(
            "candidate/bias", [units], bias_init or _zeros_initializer
        )

    def _step(self, inputs: Tensor, state: Tensor) -> tuple:
        gates = sigmoid(_linear([inputs, state], self.gate_kernel, self.gate_bias))
        r, u = array.split(gates, 2, axis=1)
        candidate = _linear([inputs, r * state], self.candidate_kernel, self.candidate_bias)
        new_h = u * state + (1.0 - u) * self._activation(candidate)
        return new_h, new_h


class MultiRNNCell(RNNCell):
    """A stack of cells: each one's output is the next one's input; the state is the tuple of
    their states."""

    default_name = "multi_rnn_cell"

    def __init__(self, cells: Sequence[RNNCell], state_is_tuple: bool = True) -> None:
        if not cells:
            raise ValueError("MultiRNNCell needs at least one cell")
        if not state_is_tuple:
            raise ValueError("MultiRNNCell supports state_is_tuple=True only (TF's default)")
        super().__init__()
        self.cells = list(cells)

    @property
    def state_size(self) -> tuple:
        return tuple(cell.state_size for cell in self.cells)

    @property
    def output_size(self) -> int:
        return self.cells[-1].output_size

    @property
    def variables(self) -> list[Variable]:
        return [v for cell in self.cells for v in cell.variables]

    def _build(self, input_depth: int) -> None:
        """The variables belong to the inner cells, built by their own first calls."""

    def _step(self, inputs: Tensor, state: tuple) -> tuple:
        graph = inputs.graph
        new_states = []
        for i, (cell, cell_state) in enumerate(zip(self.cells, state, strict=True)):
            with graph.name_scope(f"cell_{i}"):
                inputs, new_state = cell(inputs, cell_state)
            new_states.append(new_state)
        return inputs, tuple(new_states)


rnn_cell = SimpleNamespace(
    RNNCell=RNNCell,
    BasicRNNCell=BasicRNNCell,
    BasicLSTMCell=BasicLSTMCell,
    LSTMCell=LSTMCell,
    GRUCell=GRUCell,
    MultiRNNCell=MultiRNNCell,
    LSTMStateTuple=LSTMStateTuple,
)
rnn_cell.__doc__ = "gn.nn.rnn_cell: the recurrent cells under TF1's names."

# -- static unrolling ---------------------------------------------------------------------------


def _batch_size(x: Tensor) -> int | Tensor:
    return x.shape[0] if x.shape is not None and x.shape[0] is not None else array.shape(x)[0]


def static_rnn(
    cell: RNNCell,
    inputs: Sequence[TensorLike],
    initial_state: Any = None,
    dtype: DType | str | None = None,
    sequence_length: TensorLike | None = None,
    scope: str | None = None,
) -> tuple[list[Tensor], Any]:
    """Unrolls `cell` over `inputs` (a list of [batch, depth] tensors, one per step):
    (outputs, final_state). With `sequence_length` [batch], outputs past an example's length
    are zero and its state stops changing there."""
    if isinstance(inputs, Tensor) or not isinstance(inputs, list | tuple):
        raise TypeError("static_rnn: inputs must be a list of [batch, depth] tensors")
    if not inputs:
        raise ValueError("static_rnn: inputs must not be empty")
    with op_scope(list(inputs), scope, "rnn"):
        inputs = [convert_to_tensor(x) for x in inputs]
        if initial_state is None:
            if dtype is None:
                raise ValueError("static_rnn: without an initial_state, dtype must be given")
            initial_state = cell.zero_state(_batch_size(inputs[0]), dtype)
        state = initial_state
        lengths = None if sequence_length is None else convert_to_tensor(sequence_length)
        outputs = []
        for t, x in enumerate(inputs):
            output, new_state = cell(x, state)
            if lengths is not None:
                valid = array.expand_dims(less(t, lengths), 1)
                output = where(valid, output, 0.0)
                new_state = _map_structure(
                    lambda new, old, valid=valid: where(valid, new, old), new_state, state
                )
            outputs.append(output)
            state = new_state
        return outputs, state


def _reverse_sequences(xs: Sequence[Tensor], lengths: Tensor | None) -> list[Tensor]:
    """The steps in reverse order; with `lengths`, each example's first lengths[b] steps are
    reversed and the rest kept in place (TF's reverse_sequence)."""
    if lengths is None:
        return list(xs)[::-1]
    steps = len(xs)
    stacked = array.stack(list(xs), axis=1)  # [batch, time, depth]
    reversed_steps = []
    for t in range(steps):
        source = where(less(t, lengths), lengths - 1 - t, t)
        pick = array.one_hot(source, steps, dtype=stacked.dtype)  # [batch, time]
        reversed_steps.append(reduce_sum(array.expand_dims(pick, 2) * stacked, 1))
    return reversed_steps


def static_bidirectional_rnn(
    cell_fw: RNNCell,
    cell_bw: RNNCell,
    inputs: Sequence[TensorLike],
    initial_state_fw: Any = None,
    initial_state_bw: Any = None,
    dtype: DType | str | None = None,
    sequence_length: TensorLike | None = None,
    scope: str | None = None,
) -> tuple[list[Tensor], Any, Any]:
    """A forward and a backward static_rnn over `inputs`: (outputs, state_fw, state_bw), each
    output the concatenation [fw, bw] on the last axis."""
    if isinstance(inputs, Tensor) or not isinstance(inputs, list | tuple) or not inputs:
        raise TypeError("static_bidirectional_rnn: inputs must be a non-empty list of tensors")
    with op_scope(list(inputs), scope, "bidirectional_rnn"):
        inputs = [convert_to_tensor(x) for x in inputs]
        lengths = None if sequence_length is None else convert_to_tensor(sequence_length)
        outputs_fw, state_fw = static_rnn(
            cell_fw, inputs, initial_state_fw, dtype, lengths, scope="fw"
        )
        reversed_outputs, state_bw = static_rnn(
            cell_bw,
            _reverse_sequences(inputs, lengths),
            initial_state_bw,
            dtype,
            lengths,
            scope="bw",
        )
        outputs_bw = _reverse_sequences(reversed_outputs, lengths)
        outputs = [array.concat([f, b], 1) for f, b in zip(outputs_fw, outputs_bw, strict=True)]
        return outputs, state_fw, state_bw


# -- gradient clipping --------------------------------------------------------------------------


def clip_by_norm(
    t: TensorLike,
    clip_norm: TensorLike,
    axes: int | Sequence[int] | None = None,
    name: str | None = None,
) -> Tensor:
    """t * clip_norm / max(||t||, clip_norm), the L2 norm taken over `axes` (all when None)."""
    with op_scope([t, clip_norm], name, "clip_by_norm"):
        t, clip_norm = convert_operands(t, clip_norm)
        l2sum = reduce_sum(t * t, axes, keepdims=True)
        positive = l2sum > 0.0
        # NOTE: sqrt of a safe value where the sum is 0, so the gradient there is finite.
        l2norm = where(positive, sqrt(where(positive, l2sum, 1.0)), l2sum)
        return identity(t * clip_norm / maximum(l2norm, clip_norm))


def _present(t_list: Sequence[Any], what: str) -> list[Tensor]:
    if isinstance(t_list, Tensor) or not isinstance(t_list, list | tuple):
        raise TypeError(f"{what}: t_list must be a list or tuple of tensors")
    tensors = [convert_to_tensor(t) for t in t_list if t is not None]
    if not tensors:
        raise ValueError(f"{what}: t_list holds no tensors (only None)")
    return tensors


def global_norm(t_list: Sequence[TensorLike | None], name: str | None = None) -> Tensor:
    """sqrt(sum of the squares of every element of every tensor); None entries are skipped."""
    tensors = _present(t_list, "global_norm")
    with op_scope(tensors, name, "global_norm"):
        dtype = tensors[0].dtype
        return sqrt(add_n([cast(reduce_sum(square(t)), dtype) for t in tensors]))


def clip_by_global_norm(
    t_list: Sequence[TensorLike | None],
    clip_norm: TensorLike,
    use_norm: TensorLike | None = None,
    name: str | None = None,
) -> tuple[list[Tensor | None], Tensor]:
    """Scales every tensor by clip_norm / max(global_norm, clip_norm): (clipped list with None
    entries kept, global_norm). An infinite or NaN norm makes every output NaN, as in TF."""
    tensors = _present(t_list, "clip_by_global_norm")
    norm = global_norm(tensors) if use_norm is None else convert_to_tensor(use_norm)
    with op_scope([*tensors, norm, clip_norm], name, "clip_by_global_norm"):
        norm, clip_norm = convert_operands(norm, clip_norm)
        scale = clip_norm / maximum(norm, clip_norm) + (norm - norm)
        clipped = [
            None if t is None else identity(t * cast(scale, convert_to_tensor(t).dtype))
            for t in t_list
        ]
    return clipped, norm


__all__ = [
    "clip_by_global_norm", "clip_by_norm", "global_norm", "rnn_cell", "static_bidirectional_rnn",
    "static_rnn",
]  # fmt: skip
