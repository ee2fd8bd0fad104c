"""Convolution layers (NHWC): Conv2D, DepthwiseConv2D, SeparableConv2D, Conv2DTranspose, and
ZeroPadding2D."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphnet.ir import Tensor
from graphnet.keras import activations, initializers, regularizers
from graphnet.keras.layer import Layer
from graphnet.keras.layers.core import add_bias_and_activation, last_dim, require_channels_last
from graphnet.ops import array, conv, slicing


def normalize_tuple(value: int | Sequence[int], n: int, what: str) -> tuple[int, ...]:
    """An int or n ints as a tuple of n ints (Keras' conv_utils.normalize_tuple)."""
    if isinstance(value, int):
        return (value,) * n
    values = tuple(int(v) for v in value)
    if len(values) != n:
        raise ValueError(f"The `{what}` argument must be a tuple of {n} integers, got {value!r}")
    return values


def normalize_padding(padding: str) -> str:
    """Keras' 'valid' / 'same' as the ops' 'VALID' / 'SAME'."""
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f"The `padding` argument must be 'valid' or 'same', got {padding!r}")
    return padding.upper()


class _Conv2DBase(Layer):
    """What the 2-D convolutions share: window arguments, the bias, the activation."""

    def __init__(
        self,
        kernel_size: int | Sequence[int],
        strides: int | Sequence[int],
        padding: str,
        data_format: str | None,
        dilation_rate: int | Sequence[int],
        activation: Any,
        use_bias: bool,
        bias_initializer: Any,
        bias_regularizer: Any,
        activity_regularizer: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        require_channels_last(data_format, self)
        self.kernel_size = normalize_tuple(kernel_size, 2, "kernel_size")
        self.strides = normalize_tuple(strides, 2, "strides")
        self.padding = padding.lower()
        self._padding = normalize_padding(padding)
        self.dilation_rate = normalize_tuple(dilation_rate, 2, "dilation_rate")
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.bias_initializer = initializers.get(bias_initializer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    def _build_bias(self, size: int) -> None:
        if self.use_bias:
            self.bias = self.add_weight(
                "bias",
                (size,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
            )

    def _window(self) -> dict[str, Any]:
        return {"strides": self.strides, "padding": self._padding, "dilations": self.dilation_rate}


class Conv2D(_Conv2DBase):
    """2-D cross-correlation of NHWC inputs with `filters` kernels of kernel_size."""

    def __init__(
        self,
        filters: int,
        kernel_size: int | Sequence[int],
        strides: int | Sequence[int] = (1, 1),
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: int | Sequence[int] = (1, 1),
        groups: int = 1,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            kernel_size,
            strides,
            padding,
            data_format,
            dilation_rate,
            activation,
            use_bias,
            bias_initializer,
            bias_regularizer,
            activity_regularizer,
            **kwargs,
        )
        if groups != 1:
            raise ValueError(
                f"layer '{self.name}': grouped convolutions (groups > 1) are not supported"
            )
        self.filters = int(filters)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self._constraint = kernel_constraint

    def build(self, input_shape: Any) -> None:
        channels = last_dim(input_shape, self)
        self.kernel = self.add_weight(
            "kernel",
            (*self.kernel_size, channels, self.filters),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self._constraint,
        )
        self._build_bias(self.filters)
        self.built = True

    def call(self, inputs: Tensor) -> Tensor:
        return add_bias_and_activation(self, conv.conv2d(inputs, self.kernel, **self._window()))


class DepthwiseConv2D(_Conv2DBase):
    """Each input channel convolved with its own depth_multiplier kernels (output channel
    c * depth_multiplier + m)."""

    def __init__(
        self,
        kernel_size: int | Sequence[int],
        strides: int | Sequence[int] = (1, 1),
        padding: str = "valid",
        depth_multiplier: int = 1,
        data_format: str | None = None,
        dilation_rate: int | Sequence[int] = (1, 1),
        activation: Any = None,
        use_bias: bool = True,
        depthwise_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        depthwise_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        depthwise_constraint: Any = None,
        bias_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            kernel_size,
            strides,
            padding,
            data_format,
            dilation_rate,
            activation,
            use_bias,
            bias_initializer,
            bias_regularizer,
            activity_regularizer,
            **kwargs,
        )
        self.depth_multiplier = int(depth_multiplier)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self._constraint = depthwise_constraint

    def build(self, input_shape: Any) -> None:
        channels = last_dim(input_shape, self)
        self.depthwise_kernel = self.add_weight(
            "depthwise_kernel",
            (*self.kernel_size, channels, self.depth_multiplier),
            initializer=self.depthwise_initializer,
            regularizer=self.depthwise_regularizer,
            constraint=self._constraint,
        )
        self._build_bias(channels * self.depth_multiplier)
        self.built = True

    def call(self, inputs: Tensor) -> Tensor:
        y = conv.depthwise_conv2d(inputs, self.depthwise_kernel, **self._window())
        return add_bias_and_activation(self, y)


class SeparableConv2D(_Conv2DBase):
    """A depthwise convolution (with the strides) followed by a 1x1 pointwise convolution."""

    def __init__(
        self,
        filters: int,
        kernel_size: int | Sequence[int],
        strides: int | Sequence[int] = (1, 1),
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: int | Sequence[int] = (1, 1),
        depth_multiplier: int = 1,
        activation: Any = None,
        use_bias: bool = True,
        depthwise_initializer: Any = "glorot_uniform",
        pointwise_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        depthwise_regularizer: Any = None,
        pointwise_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        depthwise_constraint: Any = None,
        pointwise_constraint: Any = None,
        bias_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            kernel_size,
            strides,
            padding,
            data_format,
            dilation_rate,
            activation,
            use_bias,
            bias_initializer,
            bias_regularizer,
            activity_regularizer,
            **kwargs,
        )
        self.filters = int(filters)
        self.depth_multiplier = int(depth_multiplier)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self._constraints = (depthwise_constraint, pointwise_constraint)

    def build(self, input_shape: Any) -> None:
        channels = last_dim(input_shape, self)
        depthwise_c, pointwise_c = self._constraints
        self.depthwise_kernel = self.add_weight(
            "depthwise_kernel",
            (*self.kernel_size, channels, self.depth_multiplier),
            initializer=self.depthwise_initializer,
            regularizer=self.depthwise_regularizer,
            constraint=depthwise_c,
        )
        self.pointwise_kernel = self.add_weight(
            "pointwise_kernel",
            (1, 1, channels * self.depth_multiplier, self.filters),
            initializer=self.pointwise_initializer,
            regularizer=self.pointwise_regularizer,
            constraint=pointwise_c,
        )
        self._build_bias(self.filters)
        self.built = True

    def call(self, inputs: Tensor) -> Tensor:
        depthwise = conv.depthwise_conv2d(inputs, self.depthwise_kernel, **self._window())
        y = conv.conv2d(depthwise, self.pointwise_kernel, strides=1, padding="VALID")
        return add_bias_and_activation(self, y)


def deconv_output_length(
    length: int | None,
    kernel: int,
    padding: str,
    output_padding: int | None,
    stride: int,
    dilation: int,
) -> int | None:
    """The output size of a transposed convolution along one axis (Keras' conv_utils)."""
    if length is None:
        return None
    kernel = kernel + (kernel - 1) * (dilation - 1)
    if output_padding is None:
        if padding == "valid":
            return length * stride + max(kernel - stride, 0)
        return length * stride
    pad = kernel // 2 if padding == "same" else 0
    return (length - 1) * stride + kernel - 2 * pad + output_padding


class Conv2DTranspose(Conv2D):
    """The transpose of Conv2D ("deconvolution"): kernel (kh, kw, filters, input channels)."""

    def __init__(
        self,
        filters: int,
        kernel_size: int | Sequence[int],
        strides: int | Sequence[int] = (1, 1),
        padding: str = "valid",
        output_padding: int | Sequence[int] | None = None,
        data_format: str | None = None,
        dilation_rate: int | Sequence[int] = (1, 1),
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            filters,
            kernel_size,
            strides,
            padding,
            data_format,
            dilation_rate,
            1,
            activation,
            use_bias,
            kernel_initializer,
            bias_initializer,
            kernel_regularizer,
            bias_regularizer,
            activity_regularizer,
            kernel_constraint,
            bias_constraint,
            **kwargs,
        )
        self.output_padding = (
            None if output_padding is None else normalize_tuple(output_padding, 2, "output_padding")
        )
        for out_pad, stride in zip(self.output_padding or (0, 0), self.strides, strict=True):
            if self.output_padding is not None and out_pad >= stride:
                raise ValueError(
                    f"Strides {self.strides} must be greater than output padding "
                    f"{self.output_padding}"
                )

    def build(self, input_shape: Any) -> None:
        channels = last_dim(input_shape, self)
        self.kernel = self.add_weight(
            "kernel",
            (*self.kernel_size, self.filters, channels),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self._constraint,
        )
        self._build_bias(self.filters)
        self.built = True

    def call(self, inputs: Tensor) -> Tensor:
        out_pads = self.output_padding or (None, None)
        spatial = [
            deconv_output_length(
                inputs.shape[1 + i],
                self.kernel_size[i],
                self.padding,
                out_pads[i],
                self.strides[i],
                self.dilation_rate[i],
            )
            for i in range(2)
        ]
        dims = array.dims_of(inputs, 4)
        output_shape = [
            dims[0],
            *(d if d is not None else dims[1 + i] for i, d in enumerate(spatial)),
            self.filters,
        ]
        y = conv.conv2d_transpose(inputs, self.kernel, output_shape, **self._window())
        return add_bias_and_activation(self, y)


class ZeroPadding2D(Layer):
    """Zeros added around the rows and columns: padding an int, (rows, cols) or
    ((top, bottom), (left, right))."""

    def __init__(
        self,
        padding: int | Sequence[Any] = (1, 1),
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        require_channels_last(data_format, self)
        if isinstance(padding, int):
            self.padding = ((padding, padding), (padding, padding))
        elif all(isinstance(p, int) for p in padding):
            rows, cols = normalize_tuple(padding, 2, "padding")
            self.padding = ((rows, rows), (cols, cols))
        else:
            top_bottom, left_right = padding
            self.padding = (
                normalize_tuple(top_bottom, 2, "padding[0]"),
                normalize_tuple(left_right, 2, "padding[1]"),
            )

    def call(self, inputs: Tensor) -> Tensor:
        return slicing.pad(inputs, [(0, 0), *self.padding, (0, 0)])


__all__ = ["Conv2D", "Conv2DTranspose", "DepthwiseConv2D", "SeparableConv2D", "ZeroPadding2D"]
