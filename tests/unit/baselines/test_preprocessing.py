"""baselines.preprocessing: GCN (L1) by hand, and the Preprocessor (min-max with the training
range, PCA 95%) equal to the recipe step by step, with or without GCN."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA

from baselines.base import as_feature_matrix
from baselines.preprocessing import Preprocessor, global_contrast_normalization
from piad.errors import PIADError


def test_gcn_by_hand():
    x = np.array([[0.0, 2.0, 0.0, 2.0], [1.0, 2.0, 3.0, 6.0], [5.0, 5.0, 5.0, 5.0]])
    # row 2: mean 3, centred (-2, -1, 0, 3), mean |.| = 1.5
    expected = [[-1, 1, -1, 1], [-4 / 3, -2 / 3, 0, 2], [0, 0, 0, 0]]
    np.testing.assert_allclose(global_contrast_normalization(x), expected)


def test_preprocessor_matches_the_recipe_step_by_step():
    rng = np.random.default_rng(1)
    train = rng.uniform(0, 255, size=(60, 4, 4, 1)).astype(np.uint8)
    x = train.reshape(60, -1) / 255.0  # pixels / 255
    g = global_contrast_normalization(x)
    lo, hi = g.min(), g.max()  # one min and one max over all training pixels
    pca = PCA(n_components=0.95, svd_solver="full").fit((g - lo) / (hi - lo))
    p = Preprocessor().fit(as_feature_matrix(train))
    assert (p.min_, p.max_) == (lo, hi)
    assert p.pca_.n_components_ == pca.n_components_ < 16
    assert p.pca_.explained_variance_ratio_.sum() >= 0.95
    np.testing.assert_allclose(p.transform(x), pca.transform((g - lo) / (hi - lo)))


def test_gcn_off_is_min_max_then_pca(images):
    x = as_feature_matrix(images(5, 60))
    lo, hi = x.min(), x.max()
    pca = PCA(n_components=0.95, svd_solver="full").fit((x - lo) / (hi - lo))
    p = Preprocessor(gcn=False).fit(x)
    assert (p.min_, p.max_) == (lo, hi) and p.info()["gcn"] is False
    np.testing.assert_allclose(p.transform(x), pca.transform((x - lo) / (hi - lo)))
    assert not np.allclose(p.transform(x)[:, 0], Preprocessor().fit(x).transform(x)[:, 0])


def test_without_pca_the_features_are_the_min_max_scaled_pixels():
    x = np.array([[0.0, 1.0, 2.0, 3.0], [3.0, 3.0, 0.0, 2.0], [1.0, 1.0, 1.0, 5.0]])
    p = Preprocessor(variance=None, gcn=False).fit(x)
    assert (p.min_, p.max_, p.pca_) == (0.0, 5.0, None)
    np.testing.assert_allclose(p.transform(x), x / 5.0)
    np.testing.assert_allclose(p.transform(np.full((1, 4), 10.0)), [[2.0] * 4])  # outside [0, 1]
    info = p.info()
    assert (info["n_features_in"], info["gcn"], info["minmax_range"]) == (4, False, [0.0, 5.0])


def test_bad_settings_and_inputs_are_one_line():
    for variance in (0.0, 1.5):
        with pytest.raises(PIADError, match=r"PCA variance to keep must be in \(0, 1\]"):
            Preprocessor(variance=variance)
    with pytest.raises(PIADError, match="needs at least 2 training rows"):
        Preprocessor().fit(np.ones((1, 4)))
    with pytest.raises(PIADError, match="all training images are constant"):
        Preprocessor().fit(np.ones((3, 4)) * np.arange(1, 4)[:, None])  # constant per row: GCN 0
    with pytest.raises(PIADError, match=r"not fitted; call fit\(train\)"):
        Preprocessor().transform(np.ones((1, 4)))
    p = Preprocessor().fit(np.random.default_rng(0).normal(size=(20, 4)))
    with pytest.raises(PIADError, match="images have 3 values each but the model was fit on 4"):
        p.transform(np.ones((2, 3)))
