"""baselines.kde: the exact Gaussian density, the bandwidth from seeded cross-validation, and
the scikit-learn density of the Deep SVDD variant (which falls behind on real digits)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neighbors import KernelDensity

from baselines import KDE
from baselines.base import as_feature_matrix
from baselines.kde import DEFAULT_BANDWIDTHS, GaussianKDE
from baselines.preprocessing import Preprocessor


def test_kde_bandwidth_comes_from_cross_validation(blobs):
    train, _, _ = blobs(0)
    info = KDE().fit(train).info()
    grid = info["bandwidth_grid"]
    assert len(grid) == 20 and np.isclose(grid[0], 2**-4.5) and np.isclose(grid[-1], 2**5)
    best = grid[int(np.argmax(info["cv_mean_loglik"]))]
    assert info["bandwidth"] == best and not info["bandwidth_at_grid_edge"]
    json.dumps(info)  # JSON-able for result.json


def test_gaussian_kde_is_exact_even_far_from_the_data():
    kde = GaussianKDE(bandwidth=1.0).fit(np.array([[0.0], [2.0]]))
    # at x = 1 both kernels give N(1; 0, 1): log p = -1/2 - log(2 pi)/2
    np.testing.assert_allclose(kde.score_samples(np.array([[1.0]])), -0.5 - 0.5 * np.log(2 * np.pi))
    # at x = 100 the densities underflow to 0 in linear space; the log stays exact
    far = np.log(0.5 * (np.exp(-0.5 * 100.0**2 + 0.5 * 98.0**2) + 1.0)) - 0.5 * 98.0**2
    np.testing.assert_allclose(
        kde.score_samples(np.array([[100.0]])), far - 0.5 * np.log(2 * np.pi), rtol=1e-12
    )
    small_chunks = GaussianKDE(bandwidth=1.0, chunk=1).fit(np.array([[0.0], [2.0]]))
    x = np.linspace(-5, 5, 7)[:, None]
    np.testing.assert_allclose(small_chunks.score_samples(x), kde.score_samples(x))


def test_kde_grid_search_is_the_same_with_parallel_workers(blobs):
    train, test, _ = blobs(6, n_train=60)
    one = KDE(n_jobs=1).fit(train)
    two = KDE(n_jobs=2).fit(train)
    assert one.info()["cv_mean_loglik"] == pytest.approx(two.info()["cv_mean_loglik"])
    np.testing.assert_allclose(one.score(test), two.score(test))


def test_default_kde_is_the_exact_density_with_seeded_shuffled_folds(images):
    train, test = images(3, 80), images(4, 20, pattern_seed=7)
    p = Preprocessor().fit(as_feature_matrix(train))
    z, zt = p.transform(as_feature_matrix(train)), p.transform(as_feature_matrix(test))
    grid = {"bandwidth": [float(b) for b in DEFAULT_BANDWIDTHS]}
    search = GridSearchCV(GaussianKDE(), grid, cv=KFold(5, shuffle=True, random_state=0)).fit(z)
    model = KDE().fit(train)
    np.testing.assert_array_equal(model.score(test), -search.best_estimator_.score_samples(zt))
    info = model.info()
    assert info["variant"] == "default" and info["density"] == "exact"


def test_sklearn_density_is_scikit_learns_kernel_density(images):
    train, test = images(9, 100), images(10, 15, pattern_seed=3)
    model = KDE(density="sklearn", bandwidths=[2.0]).fit(train)
    p = model.preprocessor_
    kd = KernelDensity(kernel="gaussian", bandwidth=2.0).fit(p.transform(as_feature_matrix(train)))
    expected = -kd.score_samples(p.transform(as_feature_matrix(test)))
    np.testing.assert_array_equal(model.score(test), expected)
    assert model.info()["density"] == "sklearn"


def test_sklearn_kde_falls_behind_the_exact_density_at_small_bandwidths_on_real_digits(mnist5k):
    """The measured cause of the low published KDE numbers (report, issue 15 (b))."""
    ds = mnist5k()
    train = ds.images[(ds.partition == "train") & (ds.labels == 0)]
    test = ds.images[ds.partition == "test"]
    y = (ds.labels[ds.partition == "test"] != 0).astype(int)
    exact = KDE(bandwidths=[0.125]).fit(train)
    sk = KDE(density="sklearn", bandwidths=[0.125]).fit(train)
    gap = np.abs(exact.score(test) - sk.score(test))
    assert gap.max() > 10.0  # tens of nats off for some test images
    auc_exact = roc_auc_score(y, exact.score(test))
    auc_sk = roc_auc_score(y, sk.score(test))
    assert auc_exact > 0.95 and auc_exact - auc_sk > 0.02
    # at a wide bandwidth the two agree
    wide = [KDE(density=d, bandwidths=[4.0]).fit(train).score(test) for d in ("exact", "sklearn")]
    np.testing.assert_allclose(wide[0], wide[1], rtol=1e-6, atol=1e-6)
