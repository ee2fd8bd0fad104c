"""Preprocessing fitted on training data only: standardization, PCA and PCA whitening.

``fit`` computes statistics of the training samples (the first axis); ``transform`` applies
those same statistics to any data — validation and test data are never looked at when fitting.
Samples may have any feature shape ([n, d] vectors, [n, 28, 28] images); statistics are per
feature (per pixel for images). Results are float32 for float32 (or smaller) input, else float64;
statistics are computed in float64.
"""

from __future__ import annotations

import abc

import numpy as np

from graphnet.data.errors import DataError


def _float_dtype(x: np.ndarray, who: str) -> np.dtype:
    dtype = np.result_type(x.dtype, np.float32)
    if dtype.kind != "f":
        raise DataError(f"{who}: expected real numbers, got {x.dtype}")
    return dtype


class _Preprocessor(abc.ABC):
    """What the preprocessors share: the fitted feature shape, input checks, fit_transform."""

    _feature_shape: tuple[int, ...] | None = None

    def _samples(
        self, x: np.ndarray, who: str, fitting: bool = False
    ) -> tuple[np.ndarray, np.dtype]:
        """`x` as float64 [n, features...], checked against the fitted feature shape, and the
        dtype results should have."""
        name = f"{type(self).__name__}.{who}"
        array = np.asarray(x)
        if array.ndim < 2 or (fitting and array.shape[0] == 0):
            raise DataError(
                f"{name}: expected samples of shape [n, features...] with n >= 1, got {array.shape}"
            )
        dtype = _float_dtype(array, name)
        if not fitting:
            if self._feature_shape is None:
                raise DataError(f"{name}: not fitted yet; call fit on the training data first")
            if array.shape[1:] != self._feature_shape:
                raise DataError(
                    f"{name}: fitted on samples of shape {list(self._feature_shape)}, got "
                    f"samples of shape {list(array.shape[1:])}"
                )
        return array.astype(np.float64), dtype

    @abc.abstractmethod
    def fit(self, x: np.ndarray) -> _Preprocessor:
        """Learns the statistics of the training data `x`; returns self."""

    @abc.abstractmethod
    def transform(self, x: np.ndarray) -> np.ndarray:
        """`x` transformed with the statistics of the training data."""

    def fit_transform(self, x: np.ndarray) -> np.ndarray:
        """``fit(x)`` then ``transform(x)``."""
        return self.fit(x).transform(x)


class Standardizer(_Preprocessor):
    """Per-feature standardization, ``(x - mean_) / scale_``, as scikit-learn's StandardScaler.

    ``std_`` is the population standard deviation of each feature on the training data;
    ``scale_`` is ``std_`` with constant features' 0 replaced by 1, so they map to 0."""

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.std_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def fit(self, x: np.ndarray) -> Standardizer:
        """Learns each feature's mean and standard deviation from the training data `x`."""
        data, _ = self._samples(x, "fit", fitting=True)
        constant = np.all(data == data[0], axis=0)
        # NOTE: a constant feature's mean is its value exactly, not a rounded sum over n.
        self.mean_ = np.where(constant, data[0], data.mean(axis=0))
        self.std_ = np.where(constant, 0.0, data.std(axis=0))
        self.scale_ = np.where(constant, 1.0, self.std_)
        self._feature_shape = data.shape[1:]
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        """`x` standardized with the training statistics."""
        data, dtype = self._samples(x, "transform")
        return ((data - self.mean_) / self.scale_).astype(dtype)

    def inverse_transform(self, x: np.ndarray) -> np.ndarray:
        """Undoes ``transform``."""
        data, dtype = self._samples(x, "inverse_transform")
        return (data * self.scale_ + self.mean_).astype(dtype)


class PCA(_Preprocessor):
    """Principal component analysis, optionally whitening, as cs231n computes it.

    ``fit`` takes the SVD ``U S U^T`` of the training covariance ``Xc^T Xc / n`` (Xc: the
    training samples, flattened and centered). ``transform`` projects centered samples on the
    first `n_components` columns of U (``components_``, one per row, each signed so that its
    largest entry is positive) and, when `whiten`, divides each by ``sqrt(S + epsilon)``, which
    gives the training data a covariance of ``S / (S + epsilon)``: about the identity.

    `n_components`: an int, None for all, or a fraction in (0, 1): the fewest components that
    explain that share of the variance."""

    def __init__(
        self, n_components: int | float | None = None, whiten: bool = False, epsilon: float = 1e-5
    ) -> None:
        if epsilon < 0:
            raise DataError(f"PCA: epsilon must be >= 0, got {epsilon}")
        self.n_components = n_components
        self.whiten = whiten
        self.epsilon = epsilon
        self.mean_: np.ndarray | None = None
        self.components_: np.ndarray | None = None
        self.explained_variance_: np.ndarray | None = None
        self.explained_variance_ratio_: np.ndarray | None = None

    def _count(self, variances: np.ndarray) -> int:
        d, wanted = len(variances), self.n_components
        if wanted is None:
            return d
        if isinstance(wanted, float) and 0.0 < wanted < 1.0:
            shares = np.cumsum(variances) / max(variances.sum(), np.finfo(np.float64).tiny)
            return int(min(np.searchsorted(shares, wanted) + 1, d))
        if isinstance(wanted, int | np.integer) and 1 <= wanted <= d:
            return int(wanted)
        raise DataError(
            f"PCA: n_components must be None, an int in [1, {d}] (the number of features) or a "
            f"float in (0, 1), got {wanted!r}"
        )

    def fit(self, x: np.ndarray) -> PCA:
        """Learns the mean and principal axes of the training data `x`."""
        samples, _ = self._samples(x, "fit", fitting=True)
        data = samples.reshape(len(samples), -1)
        mean = data.mean(axis=0)
        centered = data - mean
        u, s, _ = np.linalg.svd(centered.T @ centered / len(data))
        k = self._count(s)
        rows = u[:, :k].T
        signs = np.sign(rows[np.arange(k), np.argmax(np.abs(rows), axis=1)])
        self.mean_ = mean
        self.components_ = rows * signs[:, None]
        self.explained_variance_ = s[:k]
        self.explained_variance_ratio_ = s[:k] / max(s.sum(), np.finfo(np.float64).tiny)
        self._feature_shape = samples.shape[1:]
        return self

    def _scale(self) -> np.ndarray | float:
        return np.sqrt(self.explained_variance_ + self.epsilon) if self.whiten else 1.0

    def transform(self, x: np.ndarray) -> np.ndarray:
        """`x` [n, features...] -> its coordinates [n, n_components] on the training axes."""
        samples, dtype = self._samples(x, "transform")
        data = samples.reshape(len(samples), -1)
        return ((data - self.mean_) @ self.components_.T / self._scale()).astype(dtype)

    def inverse_transform(self, z: np.ndarray) -> np.ndarray:
        """Coordinates [n, n_components] -> samples [n, features...] (exact for all components
        and epsilon 0 in the span of the training data)."""
        coords = np.asarray(z)
        if self.components_ is None:
            raise DataError("PCA.inverse_transform: not fitted yet; call fit first")
        if coords.ndim != 2 or coords.shape[1] != len(self.components_):
            raise DataError(
                f"PCA.inverse_transform: expected coordinates of shape [n, "
                f"{len(self.components_)}], got {coords.shape}"
            )
        data = (coords.astype(np.float64) * self._scale()) @ self.components_ + self.mean_
        shape = (len(coords), *self._feature_shape)
        return data.reshape(shape).astype(_float_dtype(coords, "PCA.inverse_transform"))
