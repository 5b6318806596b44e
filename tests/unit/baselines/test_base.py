"""baselines.base: what OC-SVM and KDE share: input checks, subsampling (seeded, before a lazy
array is read), the fit/score skeleton (no refit on test data, scores per image), hold-outs,
variant names."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from baselines import KDE, OCSVM, holdout_split
from baselines import kde as kde_module
from baselines import ocsvm as ocsvm_module
from baselines.base import as_feature_matrix, as_labels, subsample_indices, variant_name
from piad.errors import PIADError


def test_uint8_and_minus1_1_float_images_give_the_same_scores():
    rng = np.random.default_rng(2)
    train = rng.integers(0, 256, size=(50, 6, 6, 3), dtype=np.uint8)
    test = rng.integers(0, 256, size=(10, 6, 6, 3), dtype=np.uint8)
    as_float = lambda u: u.astype(np.float32) / 127.5 - 1.0  # noqa: E731
    s_uint8 = OCSVM().fit(train).score(test)
    s_float = OCSVM().fit(as_float(train)).score(as_float(test))
    np.testing.assert_allclose(s_uint8, s_float, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("make", [OCSVM, KDE], ids=["ocsvm", "kde"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_far_away_anomaly_cluster_is_found(make, seed, blobs):
    train, test, labels = blobs(seed)
    scores = make(seed=seed).fit(train).score(test)
    assert scores.shape == (len(test),) and scores.dtype == np.float64
    assert roc_auc_score(labels, scores) > 0.95


@pytest.mark.parametrize("make", [OCSVM, KDE], ids=["ocsvm", "kde"])
def test_scoring_never_refits_the_preprocessing(make, blobs):
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


def test_holdout_split_is_stratified_and_seeded():
    labels = np.r_[np.zeros(100), np.ones(900)].astype(int)
    hold, rest = holdout_split(labels, 0.1, seed=3)
    assert len(hold) == 100 and labels[hold].sum() == 90
    assert np.array_equal(np.sort(np.r_[hold, rest]), np.arange(1000))
    assert np.array_equal(hold, holdout_split(labels, 0.1, seed=3)[0])
    assert not np.array_equal(hold, holdout_split(labels, 0.1, seed=4)[0])


@pytest.mark.parametrize("make", [OCSVM, KDE], ids=["ocsvm", "kde"])
def test_same_seed_same_numbers_and_subsampling_is_recorded(make, blobs):
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
def test_bad_scoring_input_is_refused(make, blobs):
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


def test_large_sets_are_subsampled_before_loading_and_scored_in_chunks(blobs):
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


def test_a_failed_fit_leaves_the_model_unfitted(blobs):
    train, test, _ = blobs(0)
    model = KDE().fit(train)
    with pytest.raises(PIADError):
        model.fit(train[:3])  # too few for 5-fold CV
    with pytest.raises(PIADError, match="not fitted"):
        model.score(test)


def test_training_set_is_cut_to_whole_batches_of_200_seeded(images):
    train = images(6, 450)
    a = KDE(train_multiple=200, cv=2, bandwidths=[1.0]).fit(train)
    assert (a.info()["n_train"], a.info()["n_train_available"]) == (400, 450)
    b = KDE(train_multiple=200, cv=2, bandwidths=[1.0]).fit(train)
    c = KDE(train_multiple=200, cv=2, bandwidths=[1.0], seed=1).fit(train)
    test = images(7, 10)
    np.testing.assert_array_equal(a.score(test), b.score(test))
    assert not np.array_equal(a.score(test), c.score(test))
    # fewer than 200 images: nothing to cut (the authors' loader would keep none)
    assert KDE(train_multiple=200, cv=2).fit(images(8, 150)).info()["n_train"] == 150


@pytest.mark.parametrize(
    ("module", "make", "method"),
    [(ocsvm_module, OCSVM, "ocsvm"), (kde_module, KDE, "kde")],
    ids=["ocsvm", "kde"],
)
def test_every_variant_is_named_by_its_settings(module, make, method):
    import benchmarks.experiments.methods  # noqa: F401  (registers the built-in methods)
    from benchmarks.registry import METHODS

    labels = METHODS.get(method).variants  # how the tables name each variant
    for name, kwargs in module.VARIANTS.items():
        assert make(**kwargs).variant == name
        assert ("" if name == "default" else name) in labels
    assert make(gcn=False).variant == "custom"
    assert OCSVM(**ocsvm_module.VARIANTS["deepsvdd"]).needs_holdout
    assert not KDE(**kde_module.VARIANTS["deepsvdd"]).needs_holdout


# -- the shared input checks ----------------------------------------------------------------
def test_feature_matrix_divides_uint8_by_255_and_keeps_floats():
    u8 = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)  # one 2x2 image
    np.testing.assert_array_equal(as_feature_matrix(u8), [[0.0, 1.0, 0.2, 0.4]])
    floats = np.array([[[-1.0, 0.5]], [[2.0, 3.0]]], dtype=np.float32)
    x = as_feature_matrix(floats)
    assert x.dtype == np.float64 and x.shape == (2, 2)
    np.testing.assert_array_equal(x, [[-1.0, 0.5], [2.0, 3.0]])
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(as_feature_matrix(torch.ones(3, 1, 2, 2)), np.ones((3, 4)))
    np.testing.assert_array_equal(as_feature_matrix(np.eye(2, dtype=bool)), np.eye(2))
    with pytest.raises(PIADError, match=r"test images have no pixels \(shape \(2, 0\)\)"):
        as_feature_matrix(np.zeros((2, 0)), "test images")


def test_labels_need_one_per_image_0_or_1_and_both_classes():
    assert as_labels([0, 1, 1], 3).tolist() == [0, 1, 1]
    assert as_labels(np.array([[1], [0]]), 2).dtype == np.int64
    with pytest.raises(PIADError, match="hold-out labels has 2 entries for 3 images"):
        as_labels([0, 1], 3, "hold-out labels")
    with pytest.raises(PIADError, match=r"must be 0 \(normal\) or 1 \(anomaly\)"):
        as_labels([0, 2], 2)
    with pytest.raises(PIADError, match="both normal"):
        as_labels([1, 1], 2)


def test_variant_name_is_the_first_variant_whose_settings_match():
    variants = {"default": {}, "nogcn": {"gcn": False}, "small": {"nu": 0.01, "gcn": False}}
    defaults = {"gcn": True, "nu": 0.1}
    assert variant_name({"gcn": True, "nu": 0.1}, variants, defaults) == "default"
    assert variant_name({"gcn": False, "nu": 0.1}, variants, defaults) == "nogcn"
    assert variant_name({"gcn": False, "nu": 0.01}, variants, defaults) == "small"
    assert variant_name({"gcn": True, "nu": 0.01}, variants, defaults) == "custom"


def test_bad_subsampling_and_hold_out_settings_are_refused():
    for make in (OCSVM, KDE):
        with pytest.raises(PIADError, match="max_train must be at least 2 images, got 1"):
            make(max_train=1)
        with pytest.raises(PIADError, match="train_multiple must be a positive number, got 0"):
            make(train_multiple=0)
    with pytest.raises(PIADError, match="max_train must be a positive number of images, got 0"):
        subsample_indices(5, 0, seed=0)
    with pytest.raises(PIADError, match=r"hold-out fraction must be in \(0, 1\), got 1.0"):
        holdout_split([0, 1] * 5, 1.0)
    with pytest.raises(PIADError, match="at least 2 test images of label 1, got 1"):
        holdout_split([0, 0, 0, 1], 0.5)
