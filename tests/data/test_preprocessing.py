"""gn.data's Standardizer and PCA (fitted on training data only) and train_test_split."""

import numpy as np
import pytest

from graphnet.data import PCA, DataError, Standardizer, train_test_split


def _correlated(n=400, seed=0):
    """Samples [n, 4] of a correlated Gaussian with very different scales per feature."""
    rng = np.random.default_rng(seed)
    mixing = np.array([[3.0, 0, 0, 0], [1.0, 0.5, 0, 0], [0, 2.0, 10.0, 0], [0.1, 0, 0, 0.01]])
    return rng.standard_normal((n, 4)) @ mixing.T + np.array([5.0, -2.0, 0.0, 100.0])


# -- Standardizer ------------------------------------------------------------------------------


def test_standardizer_uses_the_training_statistics_only():
    train, test = _correlated(seed=0), _correlated(n=50, seed=1) * 2 + 1
    scaler = Standardizer().fit(train)
    np.testing.assert_allclose(scaler.mean_, train.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(scaler.std_, train.std(axis=0), rtol=1e-12)
    z = scaler.transform(train)
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0), 1, rtol=1e-12)
    np.testing.assert_allclose(
        scaler.transform(test), (test - train.mean(axis=0)) / train.std(axis=0), rtol=1e-12
    )
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(test)), test, rtol=1e-12)
    np.testing.assert_array_equal(Standardizer().fit_transform(train), z)


def test_standardizer_maps_constant_features_to_zero():
    x = np.c_[np.full(5, 0.1), np.arange(5.0)]
    scaler = Standardizer().fit(x)
    assert scaler.std_[0] == 0 and scaler.scale_[0] == 1
    z = scaler.transform(x)
    assert np.all(z[:, 0] == 0) and np.all(np.isfinite(z))
    np.testing.assert_array_equal(scaler.inverse_transform(z)[:, 0], x[:, 0])


def test_standardizer_on_images_keeps_shape_and_float32():
    images = np.random.default_rng(0).integers(0, 256, (6, 4, 4), dtype=np.uint8)
    z = Standardizer().fit_transform(images)
    assert z.shape == (6, 4, 4) and z.dtype == np.float32
    want = (images - images.mean(axis=0)) / images.std(axis=0)
    np.testing.assert_allclose(z, want, rtol=1e-5, atol=1e-6)


def test_standardizer_errors():
    with pytest.raises(DataError, match=r"Standardizer\.transform: not fitted yet"):
        Standardizer().transform(np.zeros((2, 3)))
    scaler = Standardizer().fit(np.zeros((2, 3)))
    with pytest.raises(
        DataError, match=r"fitted on samples of shape \[3\], got samples of .*\[4\]"
    ):
        scaler.transform(np.zeros((2, 4)))
    with pytest.raises(DataError, match=r"Standardizer.fit: expected samples of shape \[n, feat"):
        Standardizer().fit(np.zeros(3))
    with pytest.raises(DataError, match="expected real numbers, got complex128"):
        Standardizer().fit(np.zeros((2, 2), complex))


# -- PCA ---------------------------------------------------------------------------------------


def test_pca_matches_the_svd_of_the_centered_data_up_to_sign():
    train = _correlated()
    pca = PCA(n_components=2).fit(train)
    centered = train - train.mean(axis=0)
    _, s, vt = np.linalg.svd(centered, full_matrices=False)  # an independent route
    z = pca.transform(train)
    want = centered @ vt[:2].T
    assert z.shape == (400, 2)
    np.testing.assert_allclose(np.abs(z), np.abs(want), rtol=1e-9, atol=1e-9)
    signs = np.sign(z[0] / want[0])
    np.testing.assert_allclose(z, want * signs, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(pca.explained_variance_, s[:2] ** 2 / 400, rtol=1e-10)
    np.testing.assert_allclose(pca.explained_variance_ratio_, s[:2] ** 2 / np.sum(s**2))
    rows = pca.components_[np.arange(2), np.argmax(np.abs(pca.components_), axis=1)]
    assert np.all(rows > 0)  # deterministic signs


def test_pca_whitening_gives_identity_covariance_on_the_training_data():
    train, test = _correlated(seed=0), _correlated(n=100, seed=1)
    white = PCA(whiten=True, epsilon=0.0).fit(train)
    z = white.transform(train)
    np.testing.assert_allclose(z.T @ z / len(z), np.eye(4), atol=1e-9)

    damped = PCA(whiten=True).fit(train)  # epsilon 1e-5: S / (S + eps) on the diagonal
    zd = damped.transform(train)
    s = damped.explained_variance_
    np.testing.assert_allclose(zd.T @ zd / len(zd), np.diag(s / (s + 1e-5)), atol=1e-9)

    # transform uses the training mean and axes only
    want = (test - train.mean(axis=0)) @ white.components_.T / np.sqrt(white.explained_variance_)
    np.testing.assert_allclose(white.transform(test), want, rtol=1e-9)
    np.testing.assert_allclose(white.inverse_transform(white.transform(test)), test, rtol=1e-9)


def test_pca_reconstruction_of_images_and_component_fractions():
    rng = np.random.default_rng(0)
    basis = rng.standard_normal((2, 3, 3))
    images = (rng.standard_normal((50, 2)) @ basis.reshape(2, 9)).reshape(50, 3, 3) + 1.0
    pca = PCA(n_components=0.99).fit(images.astype(np.float32))
    assert len(pca.components_) == 2  # the data spans a plane
    z = pca.transform(images.astype(np.float32))
    assert z.shape == (50, 2) and z.dtype == np.float32
    back = pca.inverse_transform(z)
    assert back.shape == (50, 3, 3)
    np.testing.assert_allclose(back, images, atol=1e-4)


def test_pca_errors_leave_nothing_half_fitted():
    pca = PCA(n_components=5)
    with pytest.raises(DataError, match=r"an int in \[1, 4\] .* got 5"):
        pca.fit(_correlated())
    assert pca.components_ is None
    with pytest.raises(DataError, match=r"PCA\.transform: not fitted yet"):
        pca.transform(_correlated())
    with pytest.raises(DataError, match="epsilon must be >= 0"):
        PCA(epsilon=-1.0)
    fitted = PCA(n_components=2).fit(_correlated())
    with pytest.raises(DataError, match=r"coordinates of shape \[n, 2\], got \(3, 3\)"):
        fitted.inverse_transform(np.zeros((3, 3)))


# -- train_test_split --------------------------------------------------------------------------


def test_train_test_split_sizes_and_pairing():
    x, y = np.arange(20).reshape(10, 2), np.arange(10)
    x_train, x_test, y_train, y_test = train_test_split(x, y, random_state=0)
    assert (len(x_train), len(x_test)) == (7, 3)  # 25% test, rounded up
    assert np.array_equal(x_train[:, 0] // 2, y_train) and np.array_equal(x_test[:, 0] // 2, y_test)
    assert sorted(np.r_[y_train, y_test].tolist()) == list(range(10))
    again = train_test_split(x, y, random_state=0)
    assert all(
        np.array_equal(a, b) for a, b in zip(again, [x_train, x_test, y_train, y_test], strict=True)
    )

    assert [len(p) for p in train_test_split(y, test_size=4)] == [6, 4]
    assert [len(p) for p in train_test_split(y, train_size=0.55)] == [5, 5]
    assert [len(p) for p in train_test_split(y, train_size=3, test_size=2)] == [3, 2]
    first, rest = train_test_split(y, test_size=0.3, shuffle=False)
    assert first.tolist() == list(range(7)) and rest.tolist() == [7, 8, 9]


def test_train_test_split_stratified_keeps_class_shares():
    y = np.repeat([0, 1, 2], [60, 30, 10])
    y_train, y_test = train_test_split(y, test_size=0.2, stratify=y, random_state=1)
    assert np.bincount(y_test).tolist() == [12, 6, 2]
    assert np.bincount(y_train).tolist() == [48, 24, 8]


def test_train_test_split_errors():
    with pytest.raises(DataError, match=r"first dimensions must agree, got \[3, 2\]"):
        train_test_split(np.zeros(3), np.zeros(2))
    with pytest.raises(DataError, match=r"test_size must be a fraction in \(0, 1\) or a count"):
        train_test_split(np.zeros(3), test_size=1.5)
    with pytest.raises(DataError, match="add up to more than the 4 samples"):
        train_test_split(np.zeros(4), test_size=3, train_size=2)
    with pytest.raises(DataError, match="empty training set"):
        train_test_split(np.zeros(4), test_size=4)
    with pytest.raises(DataError, match="stratify needs shuffle=True"):
        train_test_split(np.zeros(4), stratify=np.zeros(4), shuffle=False)
    with pytest.raises(DataError, match="class 1 has 1"):
        train_test_split(np.zeros(4), stratify=np.array([0, 0, 0, 1]))
