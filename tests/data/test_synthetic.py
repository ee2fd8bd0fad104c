"""gn.data's synthetic sets: shapes, dtypes, class balance, determinism, and sanity of content."""

import numpy as np
import pytest

from graphnet.data import (
    DataError,
    make_growing_oscillations,
    make_linearly_separable,
    make_sine_sequences,
    make_spirals,
    make_xor,
    oscillation_features,
)

CLASSIFIERS = [
    (make_spirals, {"n_per_class": 30, "n_classes": 4}, 4, 2),
    (make_xor, {"n_per_class": 30}, 2, 2),
    (make_linearly_separable, {"n_per_class": 30}, 2, 3),
    (make_growing_oscillations, {"n_per_class": 30, "n_classes": 3, "length": 40}, 3, 40),
]


@pytest.mark.parametrize(("make", "kwargs", "classes", "width"), CLASSIFIERS)
def test_classification_sets_shapes_balance_and_determinism(make, kwargs, classes, width):
    x, y = make(**kwargs, seed=5)
    assert x.shape == (30 * classes, width) and x.dtype == np.float32
    assert y.shape == (30 * classes,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [30] * classes
    x2, y2 = make(**kwargs, seed=5)
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    assert not np.array_equal(x, make(**kwargs, seed=6)[0])
    assert np.array_equal(x, make(**kwargs, seed=np.random.default_rng(5))[0])


def test_spirals_follow_cs231n():
    """Without noise each arm is r (sin t, cos t), r in [0, 1], t from 4k to 4(k + 1)."""
    x, y = make_spirals(n_per_class=50, n_classes=3, noise=0.0)
    r = np.linspace(0, 1, 50)
    for k in range(3):
        t = np.linspace(4 * k, 4 * (k + 1), 50)
        np.testing.assert_allclose(x[y == k], np.c_[r * np.sin(t), r * np.cos(t)], atol=1e-6)


def test_spirals_are_separable_but_not_linearly():
    """A 1-nearest-neighbour rule classifies held-out points well; a linear one does not."""
    x, y = make_spirals(n_per_class=200, n_classes=3, noise=0.1, seed=0)
    test = np.arange(len(x)) % 5 == 0
    distances = np.linalg.norm(x[test][:, None] - x[~test][None], axis=2)
    nearest = y[~test][np.argmin(distances, axis=1)]
    assert np.mean(nearest == y[test]) > 0.9

    design = np.c_[x, np.ones(len(x))]
    weights, *_ = np.linalg.lstsq(design, np.eye(3)[y], rcond=None)
    assert np.mean(np.argmax(design @ weights, axis=1) == y) < 0.7


def test_xor_without_noise_is_the_truth_table():
    x, y = make_xor(n_per_class=2, noise=0.0)
    table = {(int(a), int(b)): int(label) for (a, b), label in zip(x, y, strict=True)}
    assert table == {(0, 0): 0, (1, 1): 0, (0, 1): 1, (1, 0): 1}


def test_linearly_separable_set_is_separated_by_a_perceptron():
    x, y = make_linearly_separable(n_per_class=100, n_features=3, margin=0.2, seed=1)
    assert np.all(np.abs(x) <= 1)
    points, signs = np.c_[x, np.ones(len(x))].astype(np.float64), 2.0 * y - 1.0
    w = np.zeros(4)
    for _ in range(1000):
        wrong = np.flatnonzero(signs * (points @ w) <= 0)
        if not wrong.size:
            break
        w += signs[wrong[0]] * points[wrong[0]]
    assert np.all(signs * (points @ w) > 0)
    with pytest.raises(DataError, match=r"margin must be in \[0, 0.5\], got 0.7"):
        make_linearly_separable(margin=0.7)


def test_growing_oscillations_follow_the_documented_formula():
    x, y = make_growing_oscillations(
        n_per_class=4, n_classes=2, length=30, cycles=1.5, growth=2.0, trend=1.0, noise=0.0, seed=3
    )
    rng = np.random.default_rng(3)
    phase = rng.uniform(0, 2 * np.pi, (8, 1))
    slope = rng.uniform(-1, 1, (8, 1))
    t = np.linspace(0, 1, 30)
    frequency = 1.5 * (y[:, None] + 1)
    want = (1 + 2 * t) * np.sin(2 * np.pi * frequency * t + phase) + slope * t
    np.testing.assert_allclose(x, want, atol=1e-6)
    with pytest.raises(DataError, match=r"need length > 18.0 samples .* got 10"):
        make_growing_oscillations(n_classes=3, cycles=3.0, length=10)


def test_oscillation_features_tell_the_classes_apart():
    x, y = make_growing_oscillations(n_per_class=50, n_classes=3, noise=0.05, seed=0)
    features = oscillation_features(x)
    assert features.shape == (150, 5) and features.dtype == np.float32
    crossings = features[:, 3]
    # NOTE: frequency (k + 1) * 2 periods over 49 steps: about 4 (k + 1) zero crossings.
    for k in range(3):
        assert np.all(np.abs(crossings[y == k] * 49 - 4 * (k + 1)) <= 2)
    assert np.all(features[:, 4] > 1)  # the amplitude grows

    t = np.linspace(0, 1, 50)
    for row, got in zip(x[:5].astype(np.float64), features[:5], strict=True):
        slope, intercept = np.polyfit(t, row, 1)
        residual = row - np.polyval([slope, intercept], t)
        rms = np.sqrt(np.mean(residual**2))
        crossings = np.count_nonzero(np.diff(np.sign(residual)) != 0) / 49
        growth = np.sqrt(np.mean(residual[25:] ** 2)) / np.sqrt(np.mean(residual[:25] ** 2))
        np.testing.assert_allclose(got, [slope, intercept, rms, crossings, growth], rtol=1e-5)
    with pytest.raises(DataError, match=r"shape \[n, length >= 4\], got \(3,\)"):
        oscillation_features(np.zeros(3))


def test_sine_sequences_are_windows_of_the_documented_sum():
    freqs, amps = (0.05, 0.13), (1.0, 0.3)
    x, y = make_sine_sequences(6, window=10, horizon=3, frequencies=freqs, amplitudes=amps, seed=2)
    assert x.shape == (6, 10, 1) and y.shape == (6, 3)
    assert x.dtype == y.dtype == np.float32
    phase = np.random.default_rng(2).uniform(0, 2 * np.pi, (6, 1, 2))
    j = np.arange(13)[None, :, None]
    series = np.sum(np.array(amps) * np.sin(2 * np.pi * np.array(freqs) * j + phase), axis=2)
    np.testing.assert_allclose(np.c_[x[..., 0], y], series, atol=1e-6)
    x2, y2 = make_sine_sequences(6, window=10, horizon=3, frequencies=freqs, amplitudes=amps,
                                 seed=2)  # fmt: skip
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    with pytest.raises(DataError, match="same length, got 2 and 1"):
        make_sine_sequences(frequencies=(0.1, 0.2), amplitudes=(1.0,))


def test_sine_sequences_next_value_is_predictable_linearly():
    """A sum of 3 sines obeys a linear recurrence of order 6: least squares on the window fits
    the next value exactly, which makes it a sound regression target."""
    x, y = make_sine_sequences(200, window=8, seed=0)
    weights, *_ = np.linalg.lstsq(x[..., 0].astype(np.float64), y[:, 0], rcond=None)
    np.testing.assert_allclose(x[..., 0] @ weights, y[:, 0], atol=1e-4)


def test_sizes_must_be_positive_integers():
    with pytest.raises(DataError, match="n_per_class must be a positive integer, got 0"):
        make_spirals(n_per_class=0)
    with pytest.raises(DataError, match=r"window must be a positive integer, got 2\.5"):
        make_sine_sequences(window=2.5)
