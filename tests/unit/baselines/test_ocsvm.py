"""baselines.ocsvm: the default OC-SVM (the plain recipe, no labels), the hold-out variant
that picks gamma with test labels, and its settings checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score
from sklearn.svm import OneClassSVM

from baselines import KDE, OCSVM, holdout_split
from baselines import ocsvm as ocsvm_module
from baselines.base import as_feature_matrix
from baselines.ocsvm import VARIANTS
from baselines.preprocessing import global_contrast_normalization
from piad.errors import PIADError


def test_default_ocsvm_uses_no_labels_and_reports_its_gamma(blobs):
    train, _, _ = blobs(0)
    model = OCSVM().fit(train)
    info = model.info()
    assert not model.needs_holdout and info["variant"] == "default"
    assert info["nu"] == 0.1 and info["gamma"] == "scale" and not info["uses_test_labels"]
    z = model.preprocessor_.transform(train)
    assert np.isclose(info["gamma_value"], 1.0 / (z.shape[1] * z.var()))  # sklearn's "scale"
    json.dumps(info)


def test_holdout_variant_chooses_gamma_with_the_labels(blobs):
    train, test, labels = blobs(4)
    hold, rest = holdout_split(labels, 0.25, seed=0)
    assert len(np.intersect1d(hold, rest)) == 0 and len(hold) + len(rest) == len(labels)
    # one sensible gamma and one so large that every test image gets the same score
    grid = {"nu_grid": (0.1,), "gamma_grid": (0.5, 1e4)}
    model = OCSVM(**VARIANTS["holdout"], **grid)
    assert model.needs_holdout
    model.fit(train, holdout=(test[hold], labels[hold]))
    info = model.info()
    assert info["variant"] == "holdout" and info["uses_test_labels"]
    assert info["gamma"] == 0.5 and info["holdout_auc"] == 1.0 and info["n_holdout"] == len(hold)
    assert [g["auc"] for g in info["grid"]] == [1.0, 0.5] and info["gamma_at_grid_edge"]
    assert roc_auc_score(labels[rest], model.score(test[rest])) > 0.95
    # flipped labels make the useless gamma "best": the choice really follows the labels
    flipped = OCSVM(**VARIANTS["holdout"], **grid).fit(train, (test[hold], 1 - labels[hold]))
    assert flipped.info()["gamma"] == 1e4
    json.dumps(info)


def test_bad_settings_and_holdouts_are_refused(blobs):
    train, test, labels = blobs(0)
    with pytest.raises(PIADError, match=r"unknown OC-SVM gamma_selection 'cv'"):
        OCSVM(gamma_selection="cv")
    with pytest.raises(PIADError, match=r"nu must be in \(0, 1\]"):
        OCSVM(nu=0.0)
    with pytest.raises(PIADError, match=r"gamma must be 'scale', 'auto' or a number"):
        OCSVM(gamma="big")
    with pytest.raises(PIADError, match=r"gamma must be 'scale', 'auto' or a number"):
        OCSVM(gamma=None)
    with pytest.raises(PIADError, match=r"needs holdout=\(images, labels\)"):
        OCSVM(gamma_selection="holdout").fit(train)
    with pytest.raises(PIADError, match=r"would ignore it"):
        OCSVM().fit(train, holdout=(test, labels))
    with pytest.raises(PIADError, match=r"both normal \(0\) and anomalous \(1\)"):
        OCSVM(gamma_selection="holdout").fit(train, holdout=(test[:5], labels[:5]))
    with pytest.raises(PIADError, match=r"3 entries for 80 images"):
        OCSVM(gamma_selection="holdout").fit(train, holdout=(test, labels[:3]))
    with pytest.raises(PIADError, match=r"KDE uses no labelled hold-out"):
        KDE().fit(train, holdout=(test, labels))
    with pytest.raises(PIADError, match=r"needs at least 5 training images, got 3"):
        KDE().fit(train[:3])
    with pytest.raises(PIADError, match=r"cv >= 2"):
        KDE(cv=1)
    with pytest.raises(PIADError, match=r"positive numbers"):
        KDE(bandwidths=[0.1, -1.0])


def test_default_ocsvm_is_the_plain_recipe_bit_for_bit(images):
    train, test = images(0, 120), np.vstack([images(1, 30), images(2, 30, pattern_seed=5)])
    x, xt = as_feature_matrix(train), as_feature_matrix(test)
    g = global_contrast_normalization(x)
    lo, hi = g.min(), g.max()
    pca = PCA(n_components=0.95, svd_solver="full").fit((g - lo) / (hi - lo))
    z = pca.transform((g - lo) / (hi - lo))
    zt = pca.transform((global_contrast_normalization(xt) - lo) / (hi - lo))
    expected = -OneClassSVM(kernel="rbf", nu=0.1, gamma="scale").fit(z).decision_function(zt)
    model = OCSVM().fit(train)
    np.testing.assert_array_equal(model.score(test), expected)
    assert model.variant == "default" and model.info()["gcn"] is True


@pytest.mark.parametrize("variant", ["deepsvdd", "deepsvdd-nogcn"])
def test_deepsvdd_ocsvm_on_real_digits(variant, mnist5k):
    ds = mnist5k()
    train = ds.images[(ds.partition == "train") & (ds.labels == 1)]
    test = ds.images[ds.partition == "test"]
    y = (ds.labels[ds.partition == "test"] != 1).astype(int)
    hold, rest = holdout_split(y, 0.1, seed=0)
    model = OCSVM(**ocsvm_module.VARIANTS[variant]).fit(train, holdout=(test[hold], y[hold]))
    info = model.info()
    assert info["n_train"] == 400 and info["uses_test_labels"] and info["variant"] == variant
    assert info["gamma"] in ocsvm_module.DEFAULT_GAMMA_GRID and info["nu"] in (0.01, 0.1)
    assert roc_auc_score(y[rest], model.score(test[rest])) > 0.95
