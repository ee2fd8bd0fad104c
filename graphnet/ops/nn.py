"""Neural-network ops (NHWC): activations, bias_add, softmax, batch norm, dropout, LRN."""

from __future__ import annotations

import math as _math
import numbers
from collections.abc import Callable, Sequence

import numpy as np

from graphnet.ir import Attrs, Node, ShapeError, Tensor
from graphnet.ir.types import Dim, bool_, format_shape, is_fully_defined, merge_dim
from graphnet.ops.array import shape, size, squeeze, sum_to_like, zeros_like
from graphnet.ops.core import (
    TensorLike,
    apply_op,
    apply_op1,
    constant,
    convert_operands,
    convert_to_tensor,
    require_dtype,
    same_dtype,
)
from graphnet.ops.math import (
    add,
    cast,
    divide,
    erf,
    exp,
    log1p,
    matmul,
    maximum,
    minimum,
    multiply,
    reduce_max,
    reduce_mean,
    reduce_sum,
    rsqrt,
    sigmoid,
    square,
    squared_difference,
    tanh,
    where,
)
from graphnet.ops.random import random_uniform
from graphnet.ops.registry import define_op

Grads = Sequence[Tensor | None]

# -- activations: primitives, so the compiler can fuse them as conv/matmul epilogues -------------


def _activation_infer(allowed: str) -> Callable:
    def infer(inputs: Sequence[Tensor], attrs: Attrs) -> list:
        (x,) = inputs
        require_dtype(x, allowed, "features")
        return [(x.dtype, x.shape)]

    return infer


# name: (allowed dtypes, docstring, gradient as a function of (x, y, g, attrs))
_ACTIVATIONS: dict[str, tuple[str, str, Callable[[Tensor, Tensor, Tensor, Attrs], Tensor]]] = {
    "relu": ("numeric", "max(features, 0).",
             lambda x, y, g, a: where(x > 0, g, 0.0)),
    "relu6": ("numeric", "min(max(features, 0), 6).",
              lambda x, y, g, a: where((x > 0) & (x < 6), g, 0.0)),
    "leaky_relu": ("float", "features where positive, else alpha * features.",
                   lambda x, y, g, a: where(x > 0, g, g * a["alpha"])),
    "elu": ("float", "features where positive, else exp(features) - 1.",
            lambda x, y, g, a: where(x > 0, g, g * (y + 1.0))),
}  # fmt: skip


def _activation_grad(fn: Callable[[Tensor, Tensor, Tensor, Attrs], Tensor]) -> Callable:
    def grad(node: Node, grads: Grads) -> list[Tensor | None]:
        return [fn(node.inputs[0], node.outputs[0], grads[0], node.attrs)]

    return grad


for _name, (_allowed, _doc, _grad) in _ACTIVATIONS.items():
    define_op(_name, _activation_infer(_allowed), fusion_kind="elementwise", doc=_doc)(
        _activation_grad(_grad)
    )


def _activation_builder(op: str) -> Callable[..., Tensor]:
    def builder(features: TensorLike, name: str | None = None) -> Tensor:
        return apply_op1(op, [features], name=name)

    builder.__name__ = builder.__qualname__ = op
    builder.__doc__ = _ACTIVATIONS[op][1]
    return builder


relu = _activation_builder("relu")
relu6 = _activation_builder("relu6")
elu = _activation_builder("elu")


def leaky_relu(features: TensorLike, alpha: float = 0.2, name: str | None = None) -> Tensor:
    """features where positive, else alpha * features."""
    return apply_op1("leaky_relu", [features], {"alpha": float(alpha)}, name=name)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(features: TensorLike, name: str | None = None) -> Tensor:
    """Scaled ELU: scale * features where >= 0, else scale * alpha * (exp(features) - 1)."""
    x = convert_to_tensor(features)
    return multiply(_SELU_SCALE, where(x >= 0, x, elu(x) * _SELU_ALPHA), name=name)


def softplus(features: TensorLike, name: str | None = None) -> Tensor:
    """log(1 + exp(features)), computed stably as max(x, 0) + log1p(exp(-|x|))."""
    x = convert_to_tensor(features)
    # NOTE: -|x| is written min(x, -x): a tie sends the gradient to x, which makes the gradient
    # at x = 0 relu'(0) + sigmoid(0) = 0.5, the value of softplus' = sigmoid there.
    return add(relu(x), log1p(exp(minimum(x, -x))), name=name)


def softsign(features: TensorLike, name: str | None = None) -> Tensor:
    """features / (1 + |features|)."""
    x = convert_to_tensor(features)
    return divide(x, abs(x) + 1.0, name=name)


def gelu(features: TensorLike, approximate: bool = False, name: str | None = None) -> Tensor:
    """x * Phi(x), with the exact erf form or, when `approximate`, the tanh form."""
    x = convert_to_tensor(features)
    if approximate:
        inner = (x + 0.044715 * x * x * x) * _math.sqrt(2.0 / _math.pi)
        return multiply(0.5 * x, 1.0 + tanh(inner), name=name)
    return multiply(0.5 * x, 1.0 + erf(x * _math.sqrt(0.5)), name=name)


def silu(features: TensorLike, beta: TensorLike = 1.0, name: str | None = None) -> Tensor:
    """features * sigmoid(beta * features), also called swish."""
    x = convert_to_tensor(features)
    unit_beta = isinstance(beta, numbers.Real) and beta == 1
    return multiply(x, sigmoid(x if unit_beta else x * beta), name=name)


swish = silu

# -- bias_add ---------------------------------------------------------------------------------


def _channel_dim(what: str, param: Tensor, channels: Dim, x: Tensor) -> Dim:
    """The channel count agreed by x's last axis and the 1-D `param`; ShapeError otherwise."""
    if param.shape is not None and len(param.shape) != 1:
        raise ShapeError(
            f"{what} must be 1-D with the size of the last axis of {x.name} "
            f"{format_shape(x.shape)}, got shape {format_shape(param.shape)}"
        )
    try:
        return merge_dim(channels, None if param.shape is None else param.shape[0])
    except ShapeError:
        raise ShapeError(
            f"{what} of shape {format_shape(param.shape)} does not match the last axis of "
            f"{x.name} {format_shape(x.shape)}: expected [{channels}]"
        ) from None


def _require_rank_2(x: Tensor, what: str) -> None:
    """x must have a known rank of at least 2 (batch..., channels)."""
    if x.shape is None or len(x.shape) < 2:
        raise ShapeError(
            f"{what} must have a known rank >= 2 (channels last), got {format_shape(x.shape)}"
        )


def _bias_add_infer(inputs: Sequence[Tensor], attrs: Attrs) -> list:
    value, bias = inputs
    dtype = same_dtype([value, bias])
    require_dtype(value, "numeric", "value")
    if value.shape is None:
        _channel_dim("bias", bias, None, value)
        return [(dtype, None)]
    _require_rank_2(value, "value")
    channels = _channel_dim("bias", bias, value.shape[-1], value)
    return [(dtype, (*value.shape[:-1], channels))]


@define_op(
    "bias_add",
    _bias_add_infer,
    fusion_kind="elementwise",
    doc="value + bias, the 1-D bias added along the last axis.",
)
def _bias_add_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    return [grads[0], sum_to_like(grads[0], node.inputs[1])]


def _require_channels_last(data_format: str | None, op: str) -> None:
    if data_format is not None and not data_format.endswith("C"):
        raise ValueError(
            f"{op}: data_format {data_format!r} is not supported; graphnet is channels-last "
            "(NHWC, NWC, NDHWC)"
        )


def bias_add(
    value: TensorLike, bias: TensorLike, data_format: str | None = None, name: str | None = None
) -> Tensor:
    """value + bias, where bias is 1-D of the size of value's last (channel) axis."""
    _require_channels_last(data_format, "bias_add")
    return apply_op1("bias_add", convert_operands(value, bias), name=name)


def xw_plus_b(
    x: TensorLike, weights: TensorLike, biases: TensorLike, name: str | None = None
) -> Tensor:
    """matmul(x, weights) + biases."""
    return bias_add(matmul(x, weights), biases, name=name)


# -- softmax ----------------------------------------------------------------------------------


def _softmax_infer(inputs: Sequence[Tensor], attrs: Attrs) -> list:
    (x,) = inputs
    require_dtype(x, "float", "logits")
    if x.shape is None:
        raise ShapeError("logits need a known rank")
    if not -len(x.shape) <= attrs["axis"] < len(x.shape):
        raise ShapeError(f"axis {attrs['axis']} is out of range for rank {len(x.shape)}")
    return [(x.dtype, x.shape)]


@define_op("softmax", _softmax_infer, doc="exp(x) / sum(exp(x)) along `axis`, shifted by the max.")
def _softmax_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    y, g, axis = node.outputs[0], grads[0], node.attrs["axis"]
    return [y * (g - reduce_sum(g * y, axis, keepdims=True))]


@define_op("log_softmax", _softmax_infer, doc="x - log(sum(exp(x))) along `axis`, stably.")
def _log_softmax_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    y, g, axis = node.outputs[0], grads[0], node.attrs["axis"]
    return [g - exp(y) * reduce_sum(g, axis, keepdims=True)]


def _axis_attrs(axis: int | None) -> dict:
    return {"axis": -1 if axis is None else int(axis)}


def softmax(logits: TensorLike, axis: int | None = None, name: str | None = None) -> Tensor:
    """exp(logits) / sum(exp(logits)) along `axis` (the last when None)."""
    return apply_op1("softmax", [logits], _axis_attrs(axis), name=name)


def log_softmax(logits: TensorLike, axis: int | None = None, name: str | None = None) -> Tensor:
    """logits - log(sum(exp(logits))) along `axis` (the last when None)."""
    return apply_op1("log_softmax", [logits], _axis_attrs(axis), name=name)


# -- batch normalization ----------------------------------------------------------------------


def batch_normalization(
    x: TensorLike,
    mean: TensorLike,
    variance: TensorLike,
    offset: TensorLike | None,
    scale: TensorLike | None,
    variance_epsilon: float,
    name: str | None = None,
) -> Tensor:
    """scale * (x - mean) / sqrt(variance + epsilon) + offset (offset, scale may be None)."""
    x, mean, variance = convert_operands(x, mean, variance)
    inv = rsqrt(variance + variance_epsilon)
    if scale is not None:
        inv = inv * scale
    shift = -mean * inv if offset is None else offset - mean * inv
    return add(x * inv, shift, name=name)


def moments(
    x: TensorLike,
    axes: int | Sequence[int],
    shift: TensorLike | None = None,
    name: str | None = None,
    keepdims: bool = False,
) -> tuple[Tensor, Tensor]:
    """(mean, variance) of x over `axes`; `shift` is accepted and unused, as in TF."""
    x = convert_to_tensor(x)
    with x.graph.name_scope(name or "moments"):
        mean = reduce_mean(x, axes, keepdims=True, name="mean")
        # NOTE: TF stops the gradient through the mean here; that leaves first-order gradients
        # unchanged (the centered values sum to zero) but breaks second-order ones.
        variance = reduce_mean(squared_difference(x, mean), axes, keepdims=True, name="variance")
        if keepdims:
            return mean, variance
        return squeeze(mean, axes), squeeze(variance, axes)


def _fused_batch_norm_infer(inputs: Sequence[Tensor], attrs: Attrs) -> list:
    x, *params = inputs
    if len(inputs) != (3 if attrs["is_training"] else 5):
        raise ShapeError(
            f"takes 3 inputs (x, scale, offset) in training and 5 (also mean, variance) in "
            f"inference; got {len(inputs)} with is_training={attrs['is_training']}"
        )
    dtype = same_dtype(inputs)
    require_dtype(x, "float", "x")
    _require_rank_2(x, "x")
    channels = x.shape[-1]
    for what, param in zip(("scale", "offset", "mean", "variance"), params, strict=False):
        channels = _channel_dim(what, param, channels, x)
    return [(dtype, (*x.shape[:-1], channels)), (dtype, (channels,)), (dtype, (channels,))]


@define_op(
    "fused_batch_norm",
    _fused_batch_norm_infer,
    inplace=((0, 0),),  # y may overwrite x when x dies here (inference)
    doc="Batch norm over all axes but the last: (y, batch_mean, batch_variance); inputs "
    "(x, scale, offset) in training, (x, scale, offset, mean, variance) in inference.",
)
def _fused_batch_norm_grad(node: Node, grads: Grads) -> list[Tensor | None]:
    x = node.inputs[0]
    gy = zeros_like(node.outputs[0]) if grads[0] is None else grads[0]
    axes = tuple(range(len(x.shape) - 1))
    if node.attrs["is_training"]:
        return _training_batch_norm_grads(node, gy, grads[1], grads[2], axes)
    return _inference_batch_norm_grads(node, gy, grads[1], grads[2], axes)


def _plus(a: Tensor, b: Tensor | None) -> Tensor:
    return a if b is None else a + b


def _per_channel_count(x: Tensor, scale: Tensor) -> Tensor | float:
    """How many elements of x share one channel: a float when static, else a runtime Tensor."""
    if is_fully_defined(x.shape):
        return float(np.prod(x.shape[:-1], dtype=np.int64))
    return cast(size(x), x.dtype) / cast(size(scale), x.dtype)


def _training_batch_norm_grads(
    node: Node, gy: Tensor, g_mean: Tensor | None, g_var: Tensor | None, axes: tuple[int, ...]
) -> list[Tensor | None]:
    """Gradients through the batch statistics too; written with the node's own mean and
    variance outputs, so that second-order gradients route back through this rule."""
    x, scale, _ = node.inputs
    _, mean, bessel_var = node.outputs
    eps = node.attrs["epsilon"]
    n = _per_channel_count(x, scale)
    n_minus_1 = max(n - 1.0, 1.0) if isinstance(n, float) else maximum(n - 1.0, 1.0)
    inv = rsqrt(bessel_var * n_minus_1 / n + eps)
    centered = x - mean
    x_hat = centered * inv
    d_offset = reduce_sum(gy, axes)
    d_scale = reduce_sum(gy * x_hat, axes)
    dx = scale * inv * (gy - d_offset / n - x_hat * (d_scale / n))
    if g_mean is not None:
        dx = dx + g_mean / n
    if g_var is not None:
        dx = dx + centered * (g_var * 2.0 / n_minus_1)
    return [dx, d_scale, d_offset]


def _inference_batch_norm_grads(
    node: Node, gy: Tensor, g_mean: Tensor | None, g_var: Tensor | None, axes: tuple[int, ...]
) -> list[Tensor | None]:
    x, scale, _, mean, variance = node.inputs
    eps = node.attrs["epsilon"]
    inv = rsqrt(variance + eps)
    d_offset = reduce_sum(gy, axes)
    d_centered = reduce_sum(gy * (x - mean), axes)
    d_mean = -d_offset * scale * inv
    d_var = d_centered * scale * (-0.5) * inv / (variance + eps)
    return [gy * (scale * inv), d_centered * inv, d_offset, _plus(d_mean, g_mean),
            _plus(d_var, g_var)]  # fmt: skip


def fused_batch_norm(
    x: TensorLike,
    scale: TensorLike,
    offset: TensorLike,
    mean: TensorLike | None = None,
    variance: TensorLike | None = None,
    epsilon: float = 0.001,
    data_format: str = "NHWC",
    is_training: bool = True,
    name: str | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """Batch normalization over all axes but the last; returns (y, batch_mean, batch_var).

    Training normalizes with the batch mean and population variance and, as TF, returns the
    Bessel-corrected variance (times n / (n - 1)) as batch_var; inference normalizes with the
    given mean and variance and returns them.
    """
    _require_channels_last(data_format, "fused_batch_norm")
    if is_training and (mean is not None or variance is not None):
        raise ValueError("fused_batch_norm: mean and variance must be None when is_training")
    if not is_training and (mean is None or variance is None):
        raise ValueError("fused_batch_norm: inference (is_training=False) needs mean and variance")
    inputs = [x, scale, offset] if is_training else [x, scale, offset, mean, variance]
    node = apply_op(
        "fused_batch_norm",
        convert_operands(*inputs),
        {"epsilon": float(epsilon), "is_training": bool(is_training)},
        name=name,
    )
    y, batch_mean, batch_var = node.outputs
    return y, batch_mean, batch_var


# -- dropout ----------------------------------------------------------------------------------


def _noise_shape(x: Tensor, noise_shape: TensorLike | None) -> TensorLike:
    """The shape of the dropout mask: x's, or `noise_shape` with None dims taken from x."""
    if noise_shape is None:
        return x.shape if is_fully_defined(x.shape) else shape(x)
    if isinstance(noise_shape, Tensor):
        return noise_shape
    dims = list(noise_shape)
    if x.shape is not None and len(dims) == len(x.shape):
        dims = [x.shape[i] if d is None else d for i, d in enumerate(dims)]
    if None not in dims:
        return dims
    # Unknown dims of x: its runtime shape with 1 on the axes where noise_shape has 1.
    ones = tuple(i for i, d in enumerate(dims) if d == 1)
    return shape(reduce_max(x, ones, keepdims=True)) if ones else shape(x)


def dropout(
    x: TensorLike,
    rate: TensorLike | None = None,
    noise_shape: TensorLike | None = None,
    seed: int | None = None,
    name: str | None = None,
    keep_prob: TensorLike | None = None,
    training: bool | TensorLike = True,
) -> Tensor:
    """Zeros each element with probability `rate` and scales the rest by 1 / (1 - rate).

    `keep_prob` (TF1's argument) may be given instead of `rate`. `training` is a Python bool
    (False returns x) or a bool tensor selecting at run time.
    """
    x = convert_to_tensor(x)
    require_dtype(x, "float", "x")
    if (rate is None) == (keep_prob is None):
        raise ValueError("dropout needs exactly one of rate and keep_prob")
    rate = 1 - keep_prob if rate is None else rate
    static_training = isinstance(training, bool | np.bool_)
    if static_training and not training:
        return x
    if isinstance(rate, numbers.Real):
        if not 0 <= rate < 1:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
        if rate == 0:
            return x
        scale: TensorLike = 1.0 / (1.0 - float(rate))
    else:
        rate = convert_to_tensor(rate, dtype=x.dtype)
        scale = 1.0 / (1.0 - rate)
    noise = random_uniform(_noise_shape(x, noise_shape), dtype=x.dtype, seed=seed)
    if static_training:
        return where(noise >= rate, x * scale, 0.0, name=name)
    dropped = where(noise >= rate, x * scale, 0.0)
    return where(convert_to_tensor(training, dtype=bool_), dropped, x, name=name)


# -- losses and normalizations of the nn family ---------------------------------------------------


def l2_loss(t: TensorLike, name: str | None = None) -> Tensor:
    """sum(t ** 2) / 2."""
    return multiply(reduce_sum(square(t)), 0.5, name=name)


def local_response_normalization(
    input: TensorLike,
    depth_radius: int = 5,
    bias: TensorLike = 1,
    alpha: TensorLike = 1,
    beta: TensorLike = 0.5,
    name: str | None = None,
) -> Tensor:
    """input / (bias + alpha * sqr_sum) ** beta, sqr_sum summing squares over the channels
    within depth_radius of each channel (of a 4-D NHWC input)."""
    x = convert_to_tensor(input)
    require_dtype(x, "float", "input")
    if x.shape is None or len(x.shape) != 4 or x.shape[-1] is None:
        raise ShapeError(
            f"local_response_normalization: input {x.name} must be 4-D (NHWC) with a known "
            f"channel count, got shape {format_shape(x.shape)}"
        )
    # The windowed sum over channels is a matmul with a band matrix of ones.
    channel = np.arange(x.shape[-1])
    band = np.abs(channel[:, None] - channel[None, :]) <= depth_radius
    window = constant(band, dtype=x.dtype, name="lrn_window", graph=x.graph)
    sqr_sum = matmul(square(x), window)
    return multiply(x, (sqr_sum * alpha + bias) ** -beta, name=name)


lrn = local_response_normalization

__all__ = [
    "relu", "relu6", "leaky_relu", "elu", "selu", "softplus", "softsign", "gelu", "silu",
    "swish", "bias_add", "xw_plus_b", "softmax", "log_softmax", "batch_normalization",
    "moments", "fused_batch_norm", "dropout", "l2_loss", "local_response_normalization", "lrn",
]  # fmt: skip
