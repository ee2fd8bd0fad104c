"""Initializers (Keras's, as in tf.keras.initializers of TF1): `init(shape, dtype)` -> a Tensor.

An initializer is a callable object building its value in the default graph, to be used as a
variable's initial value: `gn.Variable(GlorotUniform(seed=1)([3, 4]))`, or by name in gn.keras
(`get("glorot_uniform")`). The random ones build gn.random_uniform / gn.truncated_normal /
gn.random_normal with their `seed` as the op seed, so TF1's seed rules hold: with a graph seed or
an op seed the values are reproducible (the same in every new Session of an equal graph), with
neither they differ each time. Orthogonal draws in NumPy while building (there is no QR op) from
a generator seeded by the same (graph seed, op seed) pair, and becomes a constant.

Defaults are Keras's (RandomNormal's stddev is 0.05); TF1's tf.*_initializer functions, with
TF1's defaults (stddev 1), are below them. Fans of a shape: [n] -> n, n; [in, out] -> in, out;
[kh, kw, cin, cout] (any rank > 2) -> cin * kh * kw, cout * kh * kw.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from graphnet.ir import DTypeError, GraphnetError, ShapeError, Tensor
from graphnet.ir.types import DType, as_dtype, float32
from graphnet.ops import random as random_ops
from graphnet.ops.array import fill
from graphnet.ops.core import constant as constant_op, static_ints

#: The standard deviation of a standard normal truncated to [-2, 2].
TRUNCATED_NORMAL_STDDEV = 0.87962566103423978


class ConfigError(GraphnetError, ValueError):
    """An unknown initializer or regularizer name, or an invalid argument of one."""


def lookup(identifier: Any, registry: Mapping[str, Callable[..., Any]], kind: str) -> Any:
    """Keras's `get`: None -> None; a name or {"class_name": name, "config": {...}} -> a new
    object of the registered class; a callable -> itself."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        identifier = {"class_name": identifier, "config": {}}
    if isinstance(identifier, Mapping):
        name = identifier.get("class_name")
        if name not in registry:
            raise ConfigError(f"unknown {kind} {name!r}; known: {', '.join(sorted(registry))}")
        return registry[name](**identifier.get("config", {}))
    if callable(identifier):
        return identifier
    raise ConfigError(f"could not interpret {kind} identifier {identifier!r}")


def compute_fans(shape: Sequence[int]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shape (see the module docstring; a scalar: 1, 1)."""
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


class Initializer:
    """The base class: `init(shape, dtype=None)` builds the initial value (dtype defaults to
    the initializer's own); `get_config()` gives the arguments that rebuild it."""

    def __init__(self, dtype: DType | str = float32) -> None:
        self.dtype = as_dtype(dtype)

    def __call__(
        self, shape: Sequence[int], dtype: DType | str | None = None, partition_info: Any = None
    ) -> Tensor:
        dims = list(static_ints(shape, f"the shape given to {type(self).__name__}"))
        return self._build(dims, as_dtype(dtype or self.dtype))

    def _build(self, shape: list[int], dtype: DType) -> Tensor:
        raise NotImplementedError

    def _float(self, dtype: DType) -> DType:
        if not dtype.is_floating:
            raise DTypeError(f"{type(self).__name__} draws floats; dtype {dtype} was asked for")
        return dtype

    def get_config(self) -> dict[str, Any]:
        return {"dtype": self.dtype.name}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Initializer:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Constant(Initializer):
    """Every element `value`, or the array `value` (holding as many elements as the shape)."""

    def __init__(self, value: Any = 0, dtype: DType | str = float32) -> None:
        super().__init__(dtype)
        self.value = value

    def _build(self, shape: list[int], dtype: DType) -> Tensor:
        if np.ndim(self.value) == 0:
            return fill(shape, constant_op(self.value, dtype=dtype))
        return constant_op(self.value, dtype=dtype, shape=shape)

    def get_config(self) -> dict[str, Any]:
        value = self.value.tolist() if isinstance(self.value, np.ndarray) else self.value
        return {"value": value, **super().get_config()}


class _Filled(Initializer):
    _VALUE: int

    def _build(self, shape: list[int], dtype: DType) -> Tensor:
        return fill(shape, constant_op(self._VALUE, dtype=dtype))


class Zeros(_Filled):
    _VALUE = 0


class Ones(_Filled):
    _VALUE = 1


class RandomUniform(Initializer):
    """Uniform draws in [minval, maxval)."""

    def __init__(
        self,
        minval: float = -0.05,
        maxval: float = 0.05,
        seed: int | None = None,
        dtype: DType | str = float32,
    ) -> None:
        super().__init__(dtype)
        self.minval, self.maxval, self.seed = minval, maxval, seed

    def _build(self, shape: list[int], dtype: DType) -> Tensor:
        return random_ops.random_uniform(
            shape, self.minval, self.maxval, self._float(dtype), self.seed
        )

    def get_config(self) -> dict[str, Any]:
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed,
                **super().get_config()}  # fmt: skip


class RandomNormal(Initializer):
    """Normal draws."""

    def __init__(
        self,
        mean: float = 0.0,
        stddev: float = 0.05,
        seed: int | None = None,
        dtype: DType | str = float32,
    ) -> None:
        super().__init__(dtype)
        self.mean, self.stddev, self.seed = mean, stddev, seed

    def _draw(self) -> Callable[..., Tensor]:
        return random_ops.random_normal

    def _build(self, shape: list[int], dtype: DType) -> Tensor:
        return self._draw()(shape, self.mean, self.stddev, self._float(dtype), self.seed)

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed,
                **super().get_config()}  # fmt: skip


class TruncatedNormal(RandomNormal):
    """Normal draws, those beyond two standard deviations from the mean redrawn."""

    def _draw(self) -> Callable[..., Tensor]:
        return random_ops.truncated_normal


class VarianceScaling(Initializer):
    """Draws of variance scale / n, n the fan_in, fan_out or their mean (`mode`) of the shape:
    "truncated_normal" (and its old name "normal": stddev sqrt(scale / n) / .8796...,
    truncated at two of them, so the variance is scale / n), "untruncated_normal" or
    "uniform" (limits +-sqrt(3 * scale / n))."""

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("normal", "uniform", "truncated_normal", "untruncated_normal")

    def __init__(
        self,
        scale: float = 1.0,
        mode: str = "fan_in",
        distribution: str = "truncated_normal",
        seed: int | None = None,
        dtype: DType | str = float32,
    ) -> None:
        if scale <= 0.0:
            raise ConfigError(f"VarianceScaling: scale must be positive, got {scale}")
        if mode not in self._MODES:
            raise ConfigError(f"VarianceScaling: mode must be one of {self._MODES}, got {mode!r}")
        if distribution not in self._DISTRIBUTIONS:
            raise ConfigError(
                f"VarianceScaling: distribution must be one of {self._DISTRIBUTIONS}, got "
                f"{distribution!r}"
            )
        super().__init__(dtype)
        self.scale, self.mode, self.distribution, self.seed = scale, mode, distribution, seed

    def _build(self, shape: list[int], dtype: DType) -> Tensor:
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = self.scale / max(1.0, n)
        dtype = self._float(dtype)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return random_ops.random_uniform(shape, -limit, limit, dtype, self.seed)
        if self.distribution == "untruncated_normal":
            return random_ops.random_normal(shape, 0.0, math.sqrt(variance), dtype, self.seed)
        stddev = math.sqrt(variance) / TRUNCATED_NORMAL_STDDEV
        return random_ops.truncated_normal(shape, 0.0, stddev, dtype, self.seed)

    def get_config(self) -> dict[str, Any]:
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed, **super().get_config()}  # fmt: skip


class _FixedVarianceScaling(VarianceScaling):
    """A VarianceScaling whose scale, mode and distribution are fixed by the class."""

    _ARGS: tuple[float, str, str]

    def __init__(self, seed: int | None = None, dtype: DType | str = float32) -> None:
        super().__init__(*self._ARGS, seed=seed, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed, "dtype": self.dtype.name}


class GlorotUniform(_FixedVarianceScaling):
    """Uniform in +-sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio; Xavier)."""

    _ARGS = (1.0, "fan_avg", "uniform")


class GlorotNormal(_FixedVarianceScaling):
    """Truncated normal of stddev sqrt(2 / (fan_in + fan_out)) (before truncation: / .8796)."""

    _ARGS = (1.0, "fan_avg", "truncated_normal")


class HeNormal(_FixedVarianceScaling):
    """Truncated normal of stddev sqrt(2 / fan_in) (He et al., for ReLU)."""

    _ARGS = (2.0, "fan_in", "truncated_normal")


class HeUniform(_FixedVarianceScaling):
    """Uniform in +-sqrt(6 / fan_in)."""

    _ARGS = (2.0, "fan_in", "uniform")


class LecunNormal(_FixedVarianceScaling):
    """Truncated normal of stddev sqrt(1 / fan_in) (for SELU)."""

    _ARGS = (1.0, "fan_in", "truncated_normal")


class LecunUniform(_FixedVarianceScaling):
    """Uniform in +-sqrt(3 / fan_in)."""

    _ARGS = (1.0, "fan_in", "uniform")


class Orthogonal(Initializer):
    """gain times a random orthogonal matrix (Saxe et al.): the Q of a Gaussian matrix's QR
    (signs fixed by R's diagonal), of shape [prod(shape[:-1]), shape[-1]] reshaped to `shape`;
    drawn in NumPy while building, seeded like the random ops (see the module docstring)."""

    def __init__(
        self, gain: float = 1.0, seed: int | None = None, dtype: DType | str = float32
    ) -> None:
        super().__init__(dtype)
        self.gain, self.seed = gain, seed

    def _build(self, shape: list[int], dtype: DType) -> Tensor:
        if len(shape) < 2:
            raise ShapeError(f"Orthogonal needs a shape of rank 2 or more, got {tuple(shape)}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        seeds = random_ops.get_seed(self.seed)
        rng = np.random.default_rng(None if seeds[0] is None else list(seeds))
        q, r = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols))))
        q = q * np.where(np.diag(r) < 0, -1.0, 1.0)
        q = q.T if rows < cols else q
        return constant_op(
            self.gain * q.reshape(shape), dtype=self._float(dtype), name="orthogonal"
        )

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain, "seed": self.seed, **super().get_config()}


class Identity(Initializer):
    """gain times the identity matrix (2-D shapes only; a rectangle gets ones on its diagonal)."""

    def __init__(self, gain: float = 1.0, dtype: DType | str = float32) -> None:
        super().__init__(dtype)
        self.gain = gain

    def _build(self, shape: list[int], dtype: DType) -> Tensor:
        if len(shape) != 2:
            raise ShapeError(f"Identity initializer needs a 2-D shape, got {tuple(shape)}")
        return constant_op(self.gain * np.eye(*shape), dtype=dtype, name="identity")

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain, **super().get_config()}


# Keras's lowercase names
zeros = zero = Zeros
ones = one = Ones
constant = Constant
random_uniform = uniform = RandomUniform
random_normal = normal = RandomNormal
truncated_normal = TruncatedNormal
variance_scaling = VarianceScaling
glorot_uniform = GlorotUniform
glorot_normal = GlorotNormal
he_normal = HeNormal
he_uniform = HeUniform
lecun_normal = LecunNormal
lecun_uniform = LecunUniform
orthogonal = Orthogonal
identity = Identity

_CLASSES: list[type[Initializer]] = [
    Zeros, Ones, Constant, RandomUniform, RandomNormal, TruncatedNormal, VarianceScaling,
    GlorotUniform, GlorotNormal, HeNormal, HeUniform, LecunNormal, LecunUniform, Orthogonal,
    Identity,
]  # fmt: skip
_REGISTRY: dict[str, Callable[..., Initializer]] = {
    **{cls.__name__: cls for cls in _CLASSES},
    "zeros": Zeros, "zero": Zeros, "ones": Ones, "one": Ones, "constant": Constant,
    "random_uniform": RandomUniform, "uniform": RandomUniform, "random_normal": RandomNormal,
    "normal": RandomNormal, "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling, "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal, "he_normal": HeNormal, "he_uniform": HeUniform,
    "lecun_normal": LecunNormal, "lecun_uniform": LecunUniform, "orthogonal": Orthogonal,
    "identity": Identity,
}  # fmt: skip


def get(identifier: Any) -> Any:
    """An initializer from a Keras name ("glorot_uniform", "GlorotUniform"), a serialized
    config ({"class_name": ..., "config": {...}}), or a callable (returned as is); None -> None."""
    return lookup(identifier, _REGISTRY, "initializer")


def serialize(initializer: Initializer) -> dict[str, Any]:
    return {"class_name": type(initializer).__name__, "config": initializer.get_config()}


def deserialize(config: Mapping[str, Any]) -> Initializer:
    return lookup(config, _REGISTRY, "initializer")


# -- TF1's tf.*_initializer, with TF1's defaults ------------------------------------------------

zeros_initializer = Zeros
ones_initializer = Ones
constant_initializer = Constant
variance_scaling_initializer = VarianceScaling
glorot_uniform_initializer = GlorotUniform
glorot_normal_initializer = GlorotNormal
orthogonal_initializer = Orthogonal


def random_uniform_initializer(
    minval: float = 0.0,
    maxval: float | None = None,
    seed: int | None = None,
    dtype: DType | str = float32,
) -> RandomUniform:
    """TF1's tf.random_uniform_initializer: uniform in [minval, maxval), maxval defaulting to 1."""
    return RandomUniform(minval, 1.0 if maxval is None else maxval, seed, dtype)


def random_normal_initializer(
    mean: float = 0.0, stddev: float = 1.0, seed: int | None = None, dtype: DType | str = float32
) -> RandomNormal:
    """TF1's tf.random_normal_initializer (stddev 1 by default)."""
    return RandomNormal(mean, stddev, seed, dtype)


def truncated_normal_initializer(
    mean: float = 0.0, stddev: float = 1.0, seed: int | None = None, dtype: DType | str = float32
) -> TruncatedNormal:
    """TF1's tf.truncated_normal_initializer (stddev 1 by default)."""
    return TruncatedNormal(mean, stddev, seed, dtype)
