"""The one evaluation path's steps: the hold-out plan, fitting, scoring, the fused entry."""

from __future__ import annotations

import numpy as np
import pytest
import runner_fakes

from benchmarks.data.splits import Split
from benchmarks.experiments.evaluate import (
    HOLDOUT_FRACTION,
    Member,
    evaluate,
    evaluate_fused,
    holdout_plan,
    score_on_split,
)
from piad.errors import PIADError


class MeanDistance:
    """A real, tiny detector: the distance of each image to the training mean."""

    def __init__(self, needs_holdout: bool = False) -> None:
        self.needs_holdout = needs_holdout
        self.holdout_seen: tuple[np.ndarray, np.ndarray] | None = None

    def fit(self, images, holdout=None):
        self.mean = np.asarray(images, dtype=np.float64).mean(axis=0)
        self.holdout_seen = holdout
        return self

    def score(self, images):
        d = np.asarray(images, dtype=np.float64) - self.mean
        return np.sqrt((d**2).reshape(len(d), -1).sum(axis=1))

    @classmethod
    def fit_fused(cls, estimators, images_list):
        errors = []
        for est, images in zip(estimators, images_list):
            est.fit(images)
            errors.append(None)
        return errors


@pytest.fixture
def toy(monkeypatch, tmp_path):
    runner_fakes.register(monkeypatch)
    dataset = runner_fakes.load_toy(tmp_path)
    return dataset, runner_fakes.toy_groups(dataset, "h", 0)


def test_the_holdout_plan_is_stratified_seeded_and_disjoint(toy):
    _, split = toy
    held, evaluated = holdout_plan(MeanDistance(needs_holdout=True), split, seed=3)
    n, y = len(split.test), split.test_labels
    assert len(held) + len(evaluated) == n and not set(held) & set(evaluated)
    for label in (0, 1):  # stratified: the fraction of each class (12 normal, 24 anomalous)
        assert (y[held] == label).sum() == max(1, round(HOLDOUT_FRACTION * (y == label).sum()))
    again, _ = holdout_plan(MeanDistance(needs_holdout=True), split, seed=3)
    assert np.array_equal(held, again)
    none, everything = holdout_plan(MeanDistance(), split, seed=3)
    assert len(none) == 0 and np.array_equal(everything, np.arange(n))


def test_evaluate_gives_the_hold_out_to_the_estimator_and_never_scores_it(toy):
    dataset, split = toy
    est = MeanDistance(needs_holdout=True)
    evaluation = evaluate(est, dataset, split, seed=0)
    assert est.holdout_seen is not None
    assert len(est.holdout_seen[1]) == len(evaluation.held)
    assert not set(evaluation.test_index) & set(evaluation.holdout_index)
    assert len(evaluation.scores) == len(split.test) - len(evaluation.held)
    assert 0.0 <= evaluation.auc <= 1.0 and evaluation.fit_seconds >= 0


def test_score_on_split_refuses_scores_of_the_wrong_shape_or_not_finite(toy):
    dataset, split = toy
    everything, none = np.arange(len(split.test)), np.zeros(0, np.int64)

    class Broken(MeanDistance):
        def __init__(self, scores):
            super().__init__()
            self.fixed = scores

        def score(self, images):
            return self.fixed

    with pytest.raises(PIADError, match="scores of shape"):
        score_on_split(Broken(np.zeros(3)), dataset, split, everything, none, "x")
    bad = np.full(len(split.test), np.nan)
    with pytest.raises(PIADError, match="NaN/inf anomaly scores"):
        score_on_split(Broken(bad), dataset, split, everything, none, "x")


def test_the_fused_entry_equals_evaluate_member_by_member(toy):
    dataset, _ = toy
    splits = [runner_fakes.toy_groups(dataset, n, 0) for n in ("h", "v")]
    members = [Member(MeanDistance(), dataset, s, 0, s.normal) for s in splits]
    fused = evaluate_fused(members)
    for evaluation, split in zip(fused, splits):
        solo = evaluate(MeanDistance(), dataset, split, seed=0)
        assert not isinstance(evaluation, Exception)
        assert np.array_equal(evaluation.scores, solo.scores) and evaluation.auc == solo.auc


def test_the_fused_entry_keeps_a_member_error_and_refuses_a_hold_out(toy):
    dataset, split = toy

    class OneFails(MeanDistance):
        @classmethod
        def fit_fused(cls, estimators, images_list):
            super().fit_fused(estimators, images_list)
            return [None, PIADError("member 1 diverged")]

    members = [Member(OneFails(), dataset, split, 0, f"m{k}") for k in range(2)]
    first, second = evaluate_fused(members)
    assert not isinstance(first, Exception) and isinstance(second, PIADError)
    with pytest.raises(PIADError, match="no labelled hold-out"):
        evaluate_fused([Member(MeanDistance(needs_holdout=True), dataset, split, 0, "m")])


def test_a_split_without_both_classes_has_no_auc(toy):
    dataset, split = toy
    keep = split.test_labels == 0
    normal_only = Split(
        split.dataset, split.protocol, split.normal, split.seed, split.fingerprint,
        split.train, split.test[keep], split.test_labels[keep],
    )  # fmt: skip
    with pytest.raises(PIADError, match="needs normal and anomalous images"):
        evaluate(MeanDistance(), dataset, normal_only)
