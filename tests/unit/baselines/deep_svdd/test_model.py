"""baselines.deep_svdd.model: the Deep SVDD estimator: learning on toy images, determinism,
resume, budget, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from baselines.deep_svdd import RECIPES, DeepSVDD
from piad.errors import PIADError


@pytest.fixture(scope="module")
def toy_split(toy):
    train = toy(0, 200, "normal")
    test = np.concatenate([toy(1, 50, "normal"), toy(2, 50, "anomaly")])
    return train, test, np.r_[np.zeros(50), np.ones(50)]


def small(**kw):
    return DeepSVDD(family="mnist", seed=0, epochs=3, pretrain_epochs=3, **kw)


@pytest.mark.parametrize("objective", ["one-class", "soft-boundary"])
def test_learns_the_toy_split(toy_split, objective):
    train, test, y = toy_split
    model = small(objective=objective).fit(train)
    scores = model.score(test)
    assert scores.shape == (100,) and scores.dtype == np.float64
    assert roc_auc_score(y, scores) > 0.9
    # both phases learn: the reconstruction error and the objective go down epoch by epoch
    pre, train_loss = model.history_["pretrain"], model.history_["train"]
    assert pre[-1] < pre[0] and train_loss[-1] < train_loss[0]
    info = model.info()
    assert info["budget"] == {"unit": "epochs", "run": 6, "paper": 300}
    assert info["method"] == ("deep-svdd" if objective == "one-class" else "deep-svdd-soft")
    assert not model.needs_holdout and info["uses_test_labels"] is False
    json.dumps(info)


def test_same_seed_same_scores_other_seed_other_scores(toy_split):
    train, test, _ = toy_split
    a = small().fit(train).score(test)
    b = small().fit(train).score(test)
    np.testing.assert_array_equal(a, b)
    c = DeepSVDD(family="mnist", seed=1, epochs=3, pretrain_epochs=3).fit(train).score(test)
    assert not np.allclose(a, c)


def test_fit_leaves_the_global_rng_alone(toy_split):
    train, _, _ = toy_split
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    DeepSVDD(family="mnist", epochs=1, pretrain_epochs=0).fit(train[:20])
    assert torch.equal(torch.rand(3), expected)


def test_resume_from_the_workdir_gives_the_uninterrupted_run(toy_split, tmp_path):
    train, test, _ = toy_split
    full = small().fit(train).score(test)
    # a first fit stops after 1 training epoch; the second resumes at epoch 1 and goes to 3
    DeepSVDD(family="mnist", seed=0, epochs=1, pretrain_epochs=3, workdir=tmp_path).fit(train)
    resumed = small(workdir=tmp_path).fit(train)
    assert resumed.info()["resumed_from"] == "train epoch 1"
    np.testing.assert_allclose(resumed.score(test), full, rtol=1e-5, atol=1e-6)
    with pytest.raises(PIADError, match="past the 2 asked for"):
        DeepSVDD(family="mnist", seed=0, epochs=2, pretrain_epochs=3, workdir=tmp_path).fit(train)
    with pytest.raises(PIADError, match="other settings or data"):
        DeepSVDD(family="mnist", seed=5, epochs=3, pretrain_epochs=3, workdir=tmp_path).fit(train)


def test_published_budget_is_the_default():
    m = DeepSVDD(family="cifar10")
    assert (m.pretrain_epochs, m.epochs) == (350, 150)
    assert RECIPES["mnist"].weight_decay == 0.5e-6 and RECIPES["mnist"].milestones == (50,)
    assert RECIPES["mnist"].batch_size == 200 and RECIPES["mnist"].lr == 1e-4


def test_bad_inputs_and_settings_are_refused(toy_split):
    train, test, y = toy_split
    with pytest.raises(PIADError, match="unknown Deep SVDD objective"):
        DeepSVDD(objective="hard")
    with pytest.raises(PIADError, match="unknown Deep SVDD network family"):
        DeepSVDD(family="svhn")
    with pytest.raises(PIADError, match="nu must be in"):
        DeepSVDD(nu=0.0)
    with pytest.raises(PIADError, match="not fitted"):
        DeepSVDD().score(test)
    with pytest.raises(PIADError, match="uses no labelled hold-out"):
        DeepSVDD().fit(train, holdout=(test, y))
    with pytest.raises(PIADError, match="uint8"):
        DeepSVDD().fit(train.astype(np.float32))
    with pytest.raises(PIADError, match=r"\(N, H, W, 3\)"):
        DeepSVDD(family="cifar10").fit(train)
    with pytest.raises(PIADError, match="constant"):
        DeepSVDD(epochs=1, pretrain_epochs=0).fit(np.zeros((4, 28, 28), np.uint8))
