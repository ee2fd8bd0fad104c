"""Recurrent layers: SimpleRNN, LSTM, GRU and the Bidirectional wrapper.

Unrolled over a fixed number of time steps with gn.nn.static_rnn. The weights have Keras'
layout (kernel (features, gates * units), recurrent_kernel (units, gates * units), bias, gates
in Keras' order) and the math is Keras': the layers hand TF1's cells (BasicRNNCell, LSTMCell
with forget_bias 0, GRUCell) kernels rearranged from these weights, and GRU's default
reset_after=True, which no TF1 cell computes, gets a cell of its own.
"""

from __future__ import annotations

import copy
from typing import Any

from graphnet.ir import ShapeError, Tensor
from graphnet.keras import activations, initializers, regularizers
from graphnet.keras.layer import Layer
from graphnet.ops import array, nn, rnn, slicing
from graphnet.ops.core import convert_to_tensor
from graphnet.ops.math import matmul, sigmoid

rnn_cell = rnn.rnn_cell


class _RNN(Layer):
    """What SimpleRNN, LSTM and GRU share: the weights, unrolling, the returned values."""

    _gates = 1

    def __init__(
        self,
        units: int,
        activation: Any,
        use_bias: bool,
        kernel_initializer: Any,
        recurrent_initializer: Any,
        bias_initializer: Any,
        kernel_regularizer: Any,
        recurrent_regularizer: Any,
        bias_regularizer: Any,
        dropout: float,
        recurrent_dropout: float,
        return_sequences: bool,
        return_state: bool,
        go_backwards: bool,
        stateful: bool,
        constraints: tuple[Any, ...],
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if stateful:
            raise ValueError(f"layer '{self.name}': stateful RNNs are not supported")
        if recurrent_dropout:
            raise ValueError(f"layer '{self.name}': recurrent_dropout is not supported")
        if any(c is not None for c in constraints):
            raise ValueError(f"layer '{self.name}': weight constraints are not supported")
        if not 0 <= dropout < 1:
            raise ValueError(f"layer '{self.name}': dropout must be in [0, 1), got {dropout}")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.dropout = float(dropout)
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards

    def build(self, input_shape: Any) -> None:
        if isinstance(input_shape, list):  # called with initial_state among the inputs
            input_shape = input_shape[0]
        if input_shape is None or len(input_shape) != 3:
            raise ShapeError(
                f"layer '{self.name}' expects inputs (batch, timesteps, features), got shape "
                f"{input_shape}"
            )
        if input_shape[1] is None or input_shape[2] is None:
            raise ShapeError(
                f"layer '{self.name}' unrolls over a fixed number of time steps: the input "
                f"shape needs known timesteps and features, got {input_shape}"
            )
        width = self._gates * self.units
        self.kernel = self.add_weight(
            "kernel",
            (input_shape[2], width),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )
        self.recurrent_kernel = self.add_weight(
            "recurrent_kernel",
            (self.units, width),
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                "bias",
                self._bias_shape(),
                initializer=self._bias_init(),
                regularizer=self.bias_regularizer,
            )
        self.built = True

    def _bias_shape(self) -> tuple[int, ...]:
        return (self._gates * self.units,)

    def _bias_init(self) -> Any:
        return self.bias_initializer

    def _bias(self) -> Tensor:
        if self.use_bias:
            return convert_to_tensor(self.bias)
        return array.zeros(list(self._bias_shape()), self.kernel.dtype)

    def _cell(self) -> rnn_cell.RNNCell:
        raise NotImplementedError

    def _keras_state(self, state: Any) -> list[Tensor]:
        """The final state as Keras returns it: [h] ([h, c] for the LSTM)."""
        return [state]

    def _cell_state(self, initial_state: list[Tensor]) -> Any:
        return initial_state[0]

    def call(self, inputs: Tensor, training: Any = None, initial_state: Any = None) -> Any:
        steps = array.unstack(inputs, axis=1)
        if self.dropout and training is not False:
            mask = nn.dropout(array.ones_like(steps[0]), rate=self.dropout, training=training)
            steps = [x * mask for x in steps]
        if self.go_backwards:
            steps = steps[::-1]
        cell = self._cell()
        cell.dtype = inputs.dtype
        cell.built = True
        if initial_state is not None:
            states = initial_state if isinstance(initial_state, list | tuple) else [initial_state]
            initial_state = self._cell_state([convert_to_tensor(s) for s in states])
        outputs, state = rnn.static_rnn(cell, steps, initial_state, dtype=inputs.dtype)
        output = array.stack(outputs, axis=1) if self.return_sequences else outputs[-1]
        if self.return_state:
            return [output, *self._keras_state(state)]
        return output


def _blocks(weight: Tensor, order: list[int], count: int) -> Tensor:
    """The gate blocks of `weight`'s last axis rearranged into `order`."""
    parts = array.split(weight, count, axis=-1)
    return array.concat([parts[i] for i in order], -1)


def _stacked_kernel(layer: _RNN) -> Tensor:
    """concat([kernel, recurrent_kernel]): the [x, h] @ kernel form of TF1's cells."""
    return array.concat([layer.kernel, layer.recurrent_kernel], 0)


def _require_sigmoid(layer: _RNN, recurrent_activation: Any) -> None:
    if activations.get(recurrent_activation) is not sigmoid:
        raise ValueError(
            f"layer '{layer.name}': only recurrent_activation='sigmoid' (Keras 2's "
            "default) is supported"
        )


class SimpleRNN(_RNN):
    """h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)."""

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            units,
            activation,
            use_bias,
            kernel_initializer,
            recurrent_initializer,
            bias_initializer,
            kernel_regularizer,
            recurrent_regularizer,
            bias_regularizer,
            dropout,
            recurrent_dropout,
            return_sequences,
            return_state,
            go_backwards,
            stateful,
            (kernel_constraint, recurrent_constraint, bias_constraint),
            activity_regularizer=activity_regularizer,
            **kwargs,
        )

    def _cell(self) -> rnn_cell.RNNCell:
        cell = rnn_cell.BasicRNNCell(self.units, activation=self.activation)
        cell.kernel, cell.bias = _stacked_kernel(self), self._bias()
        return cell


# Keras orders the LSTM gates i, f, c, o; TF1's LSTMCell i, j (= c), f, o.
_LSTM_TO_TF1 = [0, 2, 1, 3]


class LSTM(_RNN):
    """Keras' LSTM: i, f, o = sigmoid(x @ W + h @ U + b) per gate, c_t = f * c_{t-1} +
    i * activation(x @ W_c + h @ U_c + b_c), h_t = o * activation(c_t); the forget gate's bias
    starts at 1 (unit_forget_bias)."""

    _gates = 4

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        unit_forget_bias: bool = True,
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        time_major: bool = False,
        unroll: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            units,
            activation,
            use_bias,
            kernel_initializer,
            recurrent_initializer,
            bias_initializer,
            kernel_regularizer,
            recurrent_regularizer,
            bias_regularizer,
            dropout,
            recurrent_dropout,
            return_sequences,
            return_state,
            go_backwards,
            stateful,
            (kernel_constraint, recurrent_constraint, bias_constraint),
            activity_regularizer=activity_regularizer,
            **kwargs,
        )
        if time_major:
            raise ValueError(f"layer '{self.name}': time_major inputs are not supported")
        _require_sigmoid(self, recurrent_activation)
        self.unit_forget_bias = unit_forget_bias

    def _bias_init(self) -> Any:
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, ones = initializers.get(self.bias_initializer), initializers.get("ones")
        units = self.units

        def bias_init(shape: Any, dtype: Any) -> Tensor:
            parts = [base([units], dtype), ones([units], dtype), base([2 * units], dtype)]
            return array.concat([convert_to_tensor(p) for p in parts], 0)

        return bias_init

    def _cell(self) -> rnn_cell.RNNCell:
        cell = rnn_cell.LSTMCell(self.units, forget_bias=0.0, activation=self.activation)
        cell.kernel = _blocks(_stacked_kernel(self), _LSTM_TO_TF1, 4)
        cell.bias = _blocks(self._bias(), _LSTM_TO_TF1, 4)
        return cell

    def _keras_state(self, state: Any) -> list[Tensor]:
        return [state.h, state.c]

    def _cell_state(self, initial_state: list[Tensor]) -> Any:
        h, c = initial_state
        return rnn_cell.LSTMStateTuple(c, h)


class _ResetAfterGRUCell(rnn_cell.RNNCell):
    """Keras 2's default GRU (reset_after=True, the CuDNN form): the reset gate multiplies the
    recurrent part after its matmul, and input and recurrent parts have their own biases."""

    def __init__(
        self, units: int, activation: Any, kernel: Tensor, recurrent_kernel: Tensor, bias: Tensor
    ) -> None:
        super().__init__(name="gru_cell")
        self.units = units
        self._activation = activation
        self.kernel, self.recurrent_kernel = kernel, recurrent_kernel
        self.input_bias, self.recurrent_bias = array.unstack(bias, axis=0)

    @property
    def state_size(self) -> int:
        return self.units

    @property
    def output_size(self) -> int:
        return self.units

    def _step(self, inputs: Tensor, state: Tensor) -> tuple:
        x_z, x_r, x_h = array.split(matmul(inputs, self.kernel) + self.input_bias, 3, axis=1)
        h_z, h_r, h_h = array.split(
            matmul(state, self.recurrent_kernel) + self.recurrent_bias, 3, axis=1
        )
        z = sigmoid(x_z + h_z)
        r = sigmoid(x_r + h_r)
        candidate = self._activation(x_h + r * h_h)
        h = z * state + (1.0 - z) * candidate
        return h, h


class GRU(_RNN):
    """Keras' GRU: z, r = sigmoid(...), h_t = z * h_{t-1} + (1 - z) * candidate; with
    reset_after (the default) candidate = activation(x @ W_h + b_h + r * (h @ U_h + b'_h)),
    else activation(x @ W_h + (r * h) @ U_h + b_h)."""

    _gates = 3

    def __init__(
        self,
        units: int,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        time_major: bool = False,
        reset_after: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            units,
            activation,
            use_bias,
            kernel_initializer,
            recurrent_initializer,
            bias_initializer,
            kernel_regularizer,
            recurrent_regularizer,
            bias_regularizer,
            dropout,
            recurrent_dropout,
            return_sequences,
            return_state,
            go_backwards,
            stateful,
            (kernel_constraint, recurrent_constraint, bias_constraint),
            activity_regularizer=activity_regularizer,
            **kwargs,
        )
        if time_major:
            raise ValueError(f"layer '{self.name}': time_major inputs are not supported")
        _require_sigmoid(self, recurrent_activation)
        self.reset_after = reset_after

    def _bias_shape(self) -> tuple[int, ...]:
        width = 3 * self.units
        return (2, width) if self.reset_after else (width,)

    def _cell(self) -> rnn_cell.RNNCell:
        if self.reset_after:
            return _ResetAfterGRUCell(
                self.units,
                self.activation,
                convert_to_tensor(self.kernel),
                convert_to_tensor(self.recurrent_kernel),
                self._bias(),
            )
        cell = rnn_cell.GRUCell(self.units, activation=self.activation)
        z, r, h = array.split(_stacked_kernel(self), 3, axis=1)
        b_z, b_r, b_h = array.split(self._bias(), 3, axis=0)
        cell.gate_kernel = array.concat([r, z], 1)  # TF1's GRUCell: gates r, then u (= z)
        cell.gate_bias = array.concat([b_r, b_z], 0)
        cell.candidate_kernel, cell.candidate_bias = h, b_h
        return cell


class Bidirectional(Layer):
    """A recurrent layer run forward and, as a copy with go_backwards, backward; the outputs
    merged by merge_mode ('concat', 'sum', 'mul', 'ave' or None for the pair)."""

    _MERGES = ("concat", "sum", "mul", "ave", None)

    def __init__(
        self,
        layer: _RNN,
        merge_mode: str | None = "concat",
        weights: Any = None,
        backward_layer: _RNN | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(layer, _RNN):
            raise ValueError(
                f"Please initialize `Bidirectional` layer with a recurrent layer "
                f"(SimpleRNN, LSTM, GRU), got {layer!r}"
            )
        if merge_mode not in self._MERGES:
            raise ValueError(f"Invalid merge mode {merge_mode!r}; expected one of {self._MERGES}")
        super().__init__(weights=weights, **kwargs)
        self.forward_layer = _fresh_copy(layer, f"forward_{layer.name}", layer.go_backwards)
        backward = backward_layer or layer
        self.backward_layer = _fresh_copy(
            backward,
            f"backward_{backward.name}",
            not layer.go_backwards if backward_layer is None else backward_layer.go_backwards,
        )
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state

    def call(self, inputs: Tensor, training: Any = None) -> Any:
        y = self.forward_layer(inputs, training=training)
        y_rev = self.backward_layer(inputs, training=training)
        states: list[Tensor] = []
        if self.return_state:
            y, *states_fw = y
            y_rev, *states_bw = y_rev
            states = states_fw + states_bw
        if self.return_sequences:
            y_rev = slicing.reverse(y_rev, [1])
        if self.merge_mode == "concat":
            merged: Any = array.concat([y, y_rev], -1)
        elif self.merge_mode == "sum":
            merged = y + y_rev
        elif self.merge_mode == "mul":
            merged = y * y_rev
        elif self.merge_mode == "ave":
            merged = (y + y_rev) * 0.5
        else:
            merged = [y, y_rev]
        if self.return_state:
            return [*(merged if isinstance(merged, list) else [merged]), *states]
        return merged


def _fresh_copy(layer: _RNN, name: str, go_backwards: bool) -> _RNN:
    """An unbuilt copy of `layer` (same arguments) under a new name."""
    clone = copy.copy(layer)
    object.__setattr__(clone, "_sublayers", [])
    clone.name = name
    clone.go_backwards = go_backwards
    clone.built = False
    clone._own_weights = []
    clone._inbound_nodes = []
    return clone


__all__ = ["GRU", "LSTM", "Bidirectional", "SimpleRNN"]
