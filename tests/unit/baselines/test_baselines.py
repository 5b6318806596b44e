"""OC-SVM and KDE baselines: preprocessing, learning on blobs, no leakage, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score

from baselines import KDE, OCSVM, holdout_split
from baselines.base import as_feature_matrix, subsample_indices
from baselines.kde import GaussianKDE
from baselines.ocsvm import VARIANTS
from baselines.preprocessing import Preprocessor, global_contrast_normalization
from benchmarks.data.imageset import ImageSet
from benchmarks.data.info import DATASET_INFO
from benchmarks.data.protocols import make_split
from benchmarks.perf.bench_baselines import METHODS, run_class
from piad.errors import PIADError


def blobs(seed: int = 0, n_train: int = 100, n_test: int = 40, d: int = 32):
    """Normal images around pattern a, anomalies around a far-away pattern b."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=d), rng.normal(size=d)
    train = a + 0.3 * rng.normal(size=(n_train, d))
    normal = a + 0.3 * rng.normal(size=(n_test, d))
    anomalies = b + 0.3 * rng.normal(size=(n_test, d))
    labels = np.r_[np.zeros(n_test), np.ones(n_test)].astype(int)
    return train, np.vstack([normal, anomalies]), labels


# -- preprocessing --------------------------------------------------------------------------
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


def test_uint8_and_minus1_1_float_images_give_the_same_scores():
    rng = np.random.default_rng(2)
    train = rng.integers(0, 256, size=(50, 6, 6, 3), dtype=np.uint8)
    test = rng.integers(0, 256, size=(10, 6, 6, 3), dtype=np.uint8)
    as_float = lambda u: u.astype(np.float32) / 127.5 - 1.0  # noqa: E731
    s_uint8 = OCSVM().fit(train).score(test)
    s_float = OCSVM().fit(as_float(train)).score(as_float(test))
    np.testing.assert_allclose(s_uint8, s_float, rtol=1e-5, atol=1e-6)


# -- learning ------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [OCSVM, KDE], ids=["ocsvm", "kde"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_far_away_anomaly_cluster_is_found(make, seed):
    train, test, labels = blobs(seed)
    scores = make(seed=seed).fit(train).score(test)
    assert scores.shape == (len(test),) and scores.dtype == np.float64
    assert roc_auc_score(labels, scores) > 0.95


def test_kde_bandwidth_comes_from_cross_validation():
    train, _, _ = blobs(0)
    info = KDE().fit(train).info()
    grid = info["bandwidth_grid"]
    assert len(grid) == 20 and np.isclose(grid[0], 2**-4.5) and np.isclose(grid[-1], 2**5)
    best = grid[int(np.argmax(info["cv_mean_loglik"]))]
    assert info["bandwidth"] == best and not info["bandwidth_at_grid_edge"]
    json.dumps(info)  # JSON-able for result.json


# -- fit on training data only (no leakage of test statistics) -------------------------------
@pytest.mark.parametrize("make", [OCSVM, KDE], ids=["ocsvm", "kde"])
def test_scoring_never_refits_the_preprocessing(make):
    train, test, _ = blobs(3)
    model = make().fit(train)
    p = model.preprocessor_
    before = (p.min_, p.max_, p.pca_.mean_.copy(), p.pca_.components_.copy())
    reference = model.score(test)
    # a test set with very different statistics (another pattern, huge noise) ...
    strange = 1e3 * np.random.default_rng(9).standard_cauchy(size=(500, train.shape[1]))
    model.score(strange)
    assert (p.min_, p.max_) == before[:2]
    np.testing.assert_array_equal(p.pca_.mean_, before[2])
    np.testing.assert_array_equal(p.pca_.components_, before[3])
    # ... and a score does not depend on what else is in the batch
    np.testing.assert_allclose(model.score(test), reference)
    alone = np.array([model.score(test[i : i + 1])[0] for i in range(len(test))])
    mixed = model.score(np.vstack([test, strange]))[: len(test)]
    np.testing.assert_allclose(alone, reference, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(mixed, reference, rtol=1e-9, atol=1e-9)


# -- OC-SVM variants -----------------------------------------------------------------------
def test_default_ocsvm_uses_no_labels_and_reports_its_gamma():
    train, _, _ = blobs(0)
    model = OCSVM().fit(train)
    info = model.info()
    assert not model.needs_holdout and info["variant"] == "default"
    assert info["nu"] == 0.1 and info["gamma"] == "scale" and not info["uses_test_labels"]
    z = model.preprocessor_.transform(train)
    assert np.isclose(info["gamma_value"], 1.0 / (z.shape[1] * z.var()))  # sklearn's "scale"
    json.dumps(info)


def test_holdout_variant_chooses_gamma_with_the_labels():
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


def test_holdout_split_is_stratified_and_seeded():
    labels = np.r_[np.zeros(100), np.ones(900)].astype(int)
    hold, rest = holdout_split(labels, 0.1, seed=3)
    assert len(hold) == 100 and labels[hold].sum() == 90
    assert np.array_equal(np.sort(np.r_[hold, rest]), np.arange(1000))
    assert np.array_equal(hold, holdout_split(labels, 0.1, seed=3)[0])
    assert not np.array_equal(hold, holdout_split(labels, 0.1, seed=4)[0])


# -- determinism and subsampling -----------------------------------------------------------
@pytest.mark.parametrize("make", [OCSVM, KDE], ids=["ocsvm", "kde"])
def test_same_seed_same_numbers_and_subsampling_is_recorded(make):
    train, test, _ = blobs(5, n_train=120)
    a = make(max_train=60, seed=7).fit(train)
    b = make(max_train=60, seed=7).fit(train)
    c = make(max_train=60, seed=8).fit(train)
    np.testing.assert_array_equal(a.score(test), b.score(test))
    assert not np.allclose(a.score(test), c.score(test))
    info = a.info()
    assert (info["n_train"], info["n_train_available"], info["fraction_train_used"]) == (
        60,
        120,
        0.5,
    )
    assert make().fit(train).info()["fraction_train_used"] == 1.0


def test_subsample_indices():
    idx = subsample_indices(10, 4, seed=0)
    assert len(idx) == 4 and len(set(idx.tolist())) == 4 and np.all(np.diff(idx) > 0)
    assert np.array_equal(idx, subsample_indices(10, 4, seed=0))


# -- clear errors --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("images", "message"),
    [
        (np.zeros((0, 4, 4), np.uint8), r"empty \(0 images\)"),
        (np.arange(5.0), r"must have shape \(N, \.\.\.\)"),
        (np.full((3, 4), np.nan), "NaN or inf"),
        (np.array([["a", "b"]] * 3), "numeric array"),
        (np.ones((1, 4)), "at least 2 training images"),
        (np.ones((5, 4)), "all training images are constant"),
    ],
)
@pytest.mark.parametrize("make", [OCSVM, KDE], ids=["ocsvm", "kde"])
def test_bad_training_input_is_refused(make, images, message):
    with pytest.raises(PIADError, match=message):
        make().fit(images)


@pytest.mark.parametrize("make", [OCSVM, KDE], ids=["ocsvm", "kde"])
def test_bad_scoring_input_is_refused(make):
    train, test, _ = blobs(0)
    with pytest.raises(PIADError, match=r"not fitted; call fit"):
        make().score(test)
    with pytest.raises(PIADError, match=r"not fitted; call fit"):
        make().info()
    model = make().fit(train)
    with pytest.raises(PIADError, match=r"have 31 values each but the model was fit on 32"):
        model.score(test[:, :31])
    with pytest.raises(PIADError, match=r"empty"):
        model.score(test[:0])


def test_bad_settings_and_holdouts_are_refused():
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


# -- exact Gaussian density ----------------------------------------------------------------
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


def test_kde_grid_search_is_the_same_with_parallel_workers():
    train, test, _ = blobs(6, n_train=60)
    one = KDE(n_jobs=1).fit(train)
    two = KDE(n_jobs=2).fit(train)
    assert one.info()["cv_mean_loglik"] == pytest.approx(two.info()["cv_mean_loglik"])
    np.testing.assert_allclose(one.score(test), two.score(test))


# -- the benchmark's protocol on a toy dataset ---------------------------------------------
def test_bench_one_vs_all_runs_every_method_on_toy_digits():
    rng = np.random.default_rng(0)
    patterns = rng.integers(0, 256, size=(3, 6, 6, 1))
    labels = np.repeat(np.arange(3), 30)
    noise = rng.integers(-20, 21, size=(90, 6, 6, 1))
    images = np.clip(patterns[labels] + noise, 0, 255).astype(np.uint8)
    partition = np.array((["train"] * 20 + ["test"] * 10) * 3)
    dataset = ImageSet(DATASET_INFO["mnist5k"], images, labels, partition)
    split = make_split("one_vs_all", dataset, "1", seed=0)
    assert len(split.train) == 20 and (labels[split.train] == 1).all()
    assert len(split.test) == 30 and split.test_labels.sum() == 20
    for method in METHODS:
        row = run_class(dataset, 1, method, seed=0, n_jobs=1, max_train=None)
        assert row["auc"] > 0.95, method
        holdout = method.startswith("ocsvm-")  # Deep SVDD's gamma from a labelled 10%
        assert row["n_test"] == (27 if holdout else 30), method
        assert row["uses_test_labels"] == holdout, method


class CountingImages:
    """A lazily read image array (like CelebA's) that records which images were loaded."""

    def __init__(self, images: np.ndarray) -> None:
        self.images, self.shape, self.loaded = images, images.shape, 0

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, key):
        out = self.images[key]
        self.loaded += len(out)
        return out


def test_large_sets_are_subsampled_before_loading_and_scored_in_chunks():
    train, test, labels = blobs(7, n_train=200)
    lazy = CountingImages(train)
    model = KDE(max_train=50, seed=0).fit(lazy)
    assert lazy.loaded == 50 and model.info()["fraction_train_used"] == 0.25
    reference = model.score(test)
    model.score_chunk = 7  # 80 test images in 12 chunks: same scores
    lazy_test = CountingImages(test)
    np.testing.assert_allclose(model.score(lazy_test), reference, rtol=1e-12)
    assert lazy_test.loaded == len(test)
    assert roc_auc_score(labels, reference) > 0.95
    # a list of images works like an array
    np.testing.assert_allclose(model.score(test.tolist()), reference, rtol=1e-12)


def test_a_failed_fit_leaves_the_model_unfitted():
    train, test, _ = blobs(0)
    model = KDE().fit(train)
    with pytest.raises(PIADError):
        model.fit(train[:3])  # too few for 5-fold CV
    with pytest.raises(PIADError, match="not fitted"):
        model.score(test)
