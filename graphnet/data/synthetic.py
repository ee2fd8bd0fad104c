"""The textbooks' synthetic data sets, generated from a seed.

Every generator returns ``(x, y)``: x float32, class labels int64 (ordered by class; shuffle with
``train_test_split`` or ``Dataset.shuffle``), regression targets float32. The same seed gives the
same arrays; `seed` may also be a ``np.random.Generator``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from graphnet.data.errors import DataError

Seed = int | np.random.Generator | None


def _positive(what: str, value: int) -> int:
    if int(value) != value or value < 1:
        raise DataError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def _labels(n_per_class: int, n_classes: int) -> np.ndarray:
    return np.repeat(np.arange(n_classes, dtype=np.int64), n_per_class)


def make_spirals(
    n_per_class: int = 100, n_classes: int = 3, noise: float = 0.2, seed: Seed = None
) -> tuple[np.ndarray, np.ndarray]:
    """cs231n's 2-D spirals: x [n_per_class * n_classes, 2], y [n].

    Class k is the arm ``r (sin t, cos t)`` with the radius r going linearly from 0 to 1 and the
    angle t from 4k to 4(k + 1) radians, plus Gaussian noise of std `noise` on t."""
    n, classes = _positive("n_per_class", n_per_class), _positive("n_classes", n_classes)
    rng = np.random.default_rng(seed)
    radius = np.tile(np.linspace(0.0, 1.0, n), classes)
    angle = np.concatenate([np.linspace(4.0 * k, 4.0 * (k + 1), n) for k in range(classes)])
    angle = angle + noise * rng.standard_normal(angle.shape)
    x = np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1)
    return x.astype(np.float32), _labels(n, classes)


def make_xor(
    n_per_class: int = 100, noise: float = 0.1, seed: Seed = None
) -> tuple[np.ndarray, np.ndarray]:
    """The XOR problem: x [2 * n_per_class, 2] around the corners of the unit square, y [n].

    Class 0 sits at (0, 0) and (1, 1), class 1 at (0, 1) and (1, 0), each corner with half of its
    class's points (the first corner takes the odd one), plus Gaussian noise of std `noise`. With
    noise 0 and one point per corner it is XOR's truth table."""
    n = _positive("n_per_class", n_per_class)
    rng = np.random.default_rng(seed)
    corners = [((0.0, 0.0), (1.0, 1.0)), ((0.0, 1.0), (1.0, 0.0))]
    points = [
        np.repeat([corner], count, axis=0)
        for pair in corners
        for corner, count in zip(pair, (n - n // 2, n // 2), strict=True)
    ]
    x = np.concatenate(points) + noise * rng.standard_normal((2 * n, 2))
    return x.astype(np.float32), _labels(n, 2)


def make_linearly_separable(
    n_per_class: int = 100, n_features: int = 3, margin: float = 0.1, seed: Seed = None
) -> tuple[np.ndarray, np.ndarray]:
    """Two classes split by a random hyperplane: x [2 * n_per_class, n_features] (3-D by
    default), y [n].

    Points are uniform in the cube [-1, 1]^d, keeping those at distance at least `margin` from
    the plane ``w . x + b = 0`` (w a random unit vector, b uniform in [-0.2, 0.2]); y = 1 on the
    side where ``w . x + b > 0``. A perceptron separates them in at most (2 sqrt(d) / margin)^2
    updates."""
    n, d = _positive("n_per_class", n_per_class), _positive("n_features", n_features)
    if not 0.0 <= margin <= 0.5:
        raise DataError(f"make_linearly_separable: margin must be in [0, 0.5], got {margin}")
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(d)
    w /= np.linalg.norm(w)
    b = rng.uniform(-0.2, 0.2)
    sides: list[list[np.ndarray]] = [[], []]
    while min(sum(len(p) for p in side) for side in sides) < n:
        points = rng.uniform(-1.0, 1.0, (4 * n, d))
        distance = points @ w + b
        sides[0].append(points[distance <= -margin])
        sides[1].append(points[distance >= margin])
    x = np.concatenate([np.concatenate(side)[:n] for side in sides])
    return x.astype(np.float32), _labels(n, 2)


def make_growing_oscillations(
    n_per_class: int = 100,
    n_classes: int = 3,
    length: int = 50,
    cycles: float = 2.0,
    growth: float = 2.0,
    trend: float = 1.0,
    noise: float = 0.1,
    seed: Seed = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Curves to classify by frequency: x [n_per_class * n_classes, length], y [n].

    Example i of class k samples, at t = 0, 1/(length - 1), ..., 1,

        x(t) = (1 + growth * t) * sin(2 pi * (k + 1) * cycles * t + phase) + slope * t + e(t)

    an oscillation of (k + 1) * cycles periods whose amplitude grows linearly, on a linear trend,
    with phase ~ U[0, 2 pi), slope ~ U[-trend, trend] drawn per example and e(t) ~ N(0, noise^2)
    per sample. Feed the sequences to an RNN as x[..., None], or hand-made features of them
    (``oscillation_features``) to a dense network."""
    n, classes = _positive("n_per_class", n_per_class), _positive("n_classes", n_classes)
    steps = _positive("length", length)
    if steps < 2 or 2 * classes * cycles >= steps:
        raise DataError(
            f"make_growing_oscillations: {classes} classes of up to {classes * cycles} periods "
            f"need length > {2 * classes * cycles} samples to be told apart, got {steps}"
        )
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 1.0, steps)
    frequency = cycles * (_labels(n, classes) + 1.0)[:, None]
    phase = rng.uniform(0.0, 2.0 * np.pi, (n * classes, 1))
    slope = rng.uniform(-trend, trend, (n * classes, 1))
    x = (1.0 + growth * t) * np.sin(2.0 * np.pi * frequency * t + phase) + slope * t
    x = x + noise * rng.standard_normal(x.shape)
    return x.astype(np.float32), _labels(n, classes)


def oscillation_features(sequences: np.ndarray) -> np.ndarray:
    """Five features per sequence [n, length] -> [n, 5] float32, t running over [0, 1]:
    slope and intercept of the least-squares line, RMS of the detrended sequence, its rate of
    zero crossings (crossings per step), and its growth (RMS of the second half over the first).
    """
    x = np.asarray(sequences, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 4:
        raise DataError(
            f"oscillation_features: expected sequences of shape [n, length >= 4], got {x.shape}"
        )
    t = np.linspace(0.0, 1.0, x.shape[1])
    design = np.stack([t, np.ones_like(t)], axis=1)
    (slope, intercept), *_ = np.linalg.lstsq(design, x.T, rcond=None)
    residual = x - slope[:, None] * t - intercept[:, None]
    rms = np.sqrt(np.mean(residual**2, axis=1))
    signs = np.signbit(residual)
    crossings = np.mean(signs[:, 1:] != signs[:, :-1], axis=1)
    half = x.shape[1] // 2
    first = np.sqrt(np.mean(residual[:, :half] ** 2, axis=1))
    second = np.sqrt(np.mean(residual[:, half:] ** 2, axis=1))
    growth = second / np.maximum(first, np.finfo(np.float64).tiny)
    return np.stack([slope, intercept, rms, crossings, growth], axis=1).astype(np.float32)


def make_sine_sequences(
    n_samples: int = 1000,
    window: int = 20,
    horizon: int = 1,
    frequencies: Sequence[float] = (0.04, 0.09, 0.17),
    amplitudes: Sequence[float] = (1.0, 0.5, 0.25),
    noise: float = 0.0,
    seed: Seed = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Windows of a sum of sines and the values that follow them, for RNN regression:
    x [n_samples, window, 1], y [n_samples, horizon].

    Example i is the series s(j) = sum_m amplitudes[m] * sin(2 pi * frequencies[m] * j +
    phase[i, m]) + e(j) at steps j = 0 .. window + horizon - 1 (frequencies in cycles per step,
    phases ~ U[0, 2 pi) per example and component, e(j) ~ N(0, noise^2)); x holds its first
    `window` values and y the next `horizon`. Random phases make each example a window at a
    random place of the same signal, independent of the others."""
    n = _positive("n_samples", n_samples)
    steps = _positive("window", window) + _positive("horizon", horizon)
    freqs = np.asarray(frequencies, dtype=np.float64)
    amps = np.asarray(amplitudes, dtype=np.float64)
    if freqs.ndim != 1 or freqs.shape != amps.shape or freqs.size == 0:
        raise DataError(
            "make_sine_sequences: frequencies and amplitudes must be non-empty and of the same "
            f"length, got {freqs.size} and {amps.size}"
        )
    rng = np.random.default_rng(seed)
    phase = rng.uniform(0.0, 2.0 * np.pi, (n, 1, freqs.size))
    j = np.arange(steps, dtype=np.float64)[None, :, None]
    series = np.sum(amps * np.sin(2.0 * np.pi * freqs * j + phase), axis=2)
    series = series + noise * rng.standard_normal(series.shape)
    return (
        series[:, :window, None].astype(np.float32),
        series[:, window:].astype(np.float32),
    )
