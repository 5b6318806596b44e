"""The one evaluation path: (dataset, protocol, normal class, seed) -> split; estimator -> AUCs.

The runner, the figures and the perf scripts all go through :func:`load_split` and
:func:`evaluate`, so there is one way to turn a dataset and a method into scores, and one
place that decides a labelled hold-out for the baselines that need one
(:data:`HOLDOUT_FRACTION`).

>>> from benchmarks.data.load_by_name import load_dataset
>>> from baselines import KDE
>>> ds, split = load_split("mnist5k", "one_vs_all", "1", seed=0, dataset=load_dataset("mnist5k"))
>>> round(evaluate(KDE(cv=2, bandwidths=[1.0]), ds, split).auc, 3) > 0.9
True
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.data.imageset import ImageSet
from benchmarks.data.load_by_name import cached_dataset
from benchmarks.data.protocols import check_protocol, make_split
from benchmarks.data.splits import Split
from piad.errors import PIADError

#: Deep SVDD's labelled hold-out for OC-SVM's gamma: 10% of the test set, removed from it.
HOLDOUT_FRACTION = 0.1


def load_split(
    dataset_name: str,
    protocol: str,
    normal: str,
    seed: int,
    root: str | os.PathLike[str] = "data",
    dataset: ImageSet | None = None,
) -> tuple[ImageSet, Split]:
    """The dataset (loaded once per process) and the split of one job."""
    check_protocol(protocol, dataset_name)
    dataset = cached_dataset(dataset_name, root) if dataset is None else dataset
    return dataset, make_split(protocol, dataset, normal, seed)


def checked_split(split: Split, path: Path, what: str) -> Split:
    """``split``, saved at ``path`` the first time; a saved manifest must equal it (resume)."""
    if path.exists():
        saved = Split.load(path)
        if not saved.same_as(split):
            raise PIADError(
                f"the split rebuilt for {what} differs from its saved manifest {path} "
                f"(dataset fingerprint {saved.fingerprint[:12]} -> {split.fingerprint[:12]}); "
                f"the data changed: delete {path.parent} to run this job afresh"
            )
    else:
        split.save(path)
    return split


def roc_auc(labels: np.ndarray, scores: np.ndarray, what: str) -> float:
    """ROC AUC with anomalies (label 1) as the positive class; both classes must be present."""
    from sklearn.metrics import roc_auc_score

    if len(np.unique(labels)) < 2:
        raise PIADError(f"{what}: the test set needs normal and anomalous images for a ROC AUC")
    return float(roc_auc_score(labels, scores))


@dataclass
class Evaluation:
    """What one fit and one scoring gave: scores of the evaluated test images and the AUCs.

    ``evaluated`` are positions into ``split.test`` (all of them unless a labelled hold-out
    was removed; ``held`` are the hold-out's positions); ``aucs`` has one AUC per anomaly group
    (CelebA attributes), empty otherwise. ``metrics`` holds ROC AUC and the other metrics
    of :mod:`piad.metrics` over the same images (``group_metrics``: per group).
    """

    split: Split
    scores: np.ndarray
    evaluated: np.ndarray
    held: np.ndarray
    auc: float
    aucs: dict[str, float] = field(default_factory=dict)
    #: every metric of :func:`piad.metrics.detection_metrics` (whole test set; per group)
    metrics: dict[str, float] = field(default_factory=dict)
    group_metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    fit_seconds: float = 0.0
    score_seconds: float = 0.0

    @property
    def labels(self) -> np.ndarray:
        return self.split.test_labels[self.evaluated]

    @property
    def test_index(self) -> np.ndarray:
        return self.split.test[self.evaluated]

    @property
    def holdout_index(self) -> np.ndarray:
        return self.split.test[self.held]

    def group_masks(self) -> dict[str, np.ndarray] | None:
        """Per group, a mask over the evaluated images: all normal images plus the group."""
        groups = sorted(self.split.groups)
        return {g: self.split.group_mask(g)[self.evaluated] for g in groups} or None


def score_split(
    split: Split, scores: np.ndarray, evaluated: np.ndarray, what: str
) -> tuple[float, dict[str, float]]:
    """The AUC of the evaluated test images and one AUC per group."""
    y = split.test_labels[evaluated]
    auc = roc_auc(y, scores, what)
    aucs = {}
    for group in sorted(split.groups):  # CelebA: one AUC per anomaly attribute
        mask = split.group_mask(group)[evaluated]
        aucs[group] = roc_auc(y[mask], scores[mask], f"{what} group {group}")
    return auc, aucs


def holdout_plan(estimator: Any, split: Split, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(held, evaluated): positions into ``split.test`` of the labelled hold-out (empty unless
    ``estimator.needs_holdout``: :data:`HOLDOUT_FRACTION`, stratified, seeded by ``seed``) and
    of the test images that are scored (all the others)."""
    if not getattr(estimator, "needs_holdout", False):
        return np.zeros(0, dtype=np.int64), np.arange(len(split.test))
    from baselines.base import holdout_split

    held, evaluated = holdout_split(split.test_labels, HOLDOUT_FRACTION, seed=seed)
    return held, evaluated


def fit_on_split(estimator: Any, dataset: ImageSet, split: Split, held: np.ndarray) -> None:
    """Fit on the training images (and the labelled hold-out, when there is one)."""
    if len(held):
        holdout = (dataset.take(split.test[held]), split.test_labels[held])
        estimator.fit(dataset.take(split.train), holdout=holdout)
    else:
        estimator.fit(dataset.take(split.train))


def score_on_split(
    estimator: Any,
    dataset: ImageSet,
    split: Split,
    evaluated: np.ndarray,
    held: np.ndarray,
    what: str,
) -> Evaluation:
    """Score the evaluated test images of a fitted estimator; their AUCs and metrics."""
    t0 = time.perf_counter()
    scores = np.asarray(estimator.score(dataset.take(split.test[evaluated])), dtype=np.float64)
    evaluation = finish(split, scores, evaluated, held, what)
    evaluation.score_seconds = time.perf_counter() - t0
    return evaluation


def evaluate(
    estimator: Any, dataset: ImageSet, split: Split, seed: int = 0, what: str = ""
) -> Evaluation:
    """Fit ``estimator`` on the training images, score the test images, compute the AUCs.

    An estimator with ``needs_holdout`` gets a labelled, stratified hold-out of
    :data:`HOLDOUT_FRACTION` of the test set (seeded by ``seed``), which is then removed from
    the test set: its images are never scored.
    """
    what = what or f"{split.dataset}/{split.normal}/seed{split.seed}"
    t0 = time.perf_counter()
    held, evaluated = holdout_plan(estimator, split, seed)
    attach_eval_data(estimator, dataset, split, evaluated, seed)  # --eval-every's images
    fit_on_split(estimator, dataset, split, held)
    fit_seconds = time.perf_counter() - t0
    evaluation = score_on_split(estimator, dataset, split, evaluated, held, what)
    evaluation.fit_seconds = fit_seconds
    return evaluation


@dataclass
class Member:
    """One model of a fused group: its estimator, data, split, seed and name."""

    estimator: Any
    dataset: ImageSet
    split: Split
    seed: int
    what: str


def evaluate_fused(members: list[Member]) -> list[Evaluation | Exception]:
    """:func:`evaluate` for a fused group: one fused fit (``fit_fused``), then each member
    scored as :func:`evaluate` scores it. One entry per member: its evaluation, or the error
    that stopped that member (a diverged model, bad scores); the others go on. An error of the
    whole fused fit (out of memory, a bug) is raised."""
    plans = [holdout_plan(m.estimator, m.split, m.seed) for m in members]
    if any(len(held) for held, _ in plans):
        raise PIADError("fused training takes no labelled hold-out; run such methods alone")
    for m, (_, evaluated) in zip(members, plans):
        attach_eval_data(m.estimator, m.dataset, m.split, evaluated, m.seed)
    t0 = time.perf_counter()
    estimators = [m.estimator for m in members]
    images = [m.dataset.take(m.split.train) for m in members]
    errors = list(type(estimators[0]).fit_fused(estimators, images))
    fit_seconds = time.perf_counter() - t0
    out: list[Evaluation | Exception] = []
    for m, (held, evaluated), error in zip(members, plans, errors):
        if error is not None:
            out.append(error if isinstance(error, Exception) else PIADError(str(error)))
            continue
        try:
            evaluation = score_on_split(m.estimator, m.dataset, m.split, evaluated, held, m.what)
        except Exception as err:
            out.append(err)
            continue
        evaluation.fit_seconds = fit_seconds
        out.append(evaluation)
    return out


def attach_eval_data(
    estimator: Any, dataset: ImageSet, split: Split, evaluated: np.ndarray, seed: int
) -> None:
    """Give an estimator that evaluates while it trains (``--eval-every``) its test images.

    They are the images the final score uses (``evaluated``), or with ``--eval-subset K`` a
    fixed, seeded (``seed``), class-stratified subset of K of them; the final score always
    uses all of them. Other estimators are left alone.
    """
    tracking = getattr(estimator, "tracking", None)
    if tracking is None or not tracking.eval_every or not hasattr(estimator, "eval_data"):
        return
    from piad.metrics import stratified_subset

    positions = evaluated
    labels = split.test_labels[evaluated]
    if tracking.eval_subset:
        chosen = stratified_subset(labels, tracking.eval_subset, seed)
        positions, labels = evaluated[chosen], labels[chosen]
    estimator.eval_data = (dataset.take(split.test[positions]), labels)


def finish(
    split: Split, scores: np.ndarray, evaluated: np.ndarray, held: np.ndarray, what: str
) -> Evaluation:
    """Check the scores of a trained estimator and compute its AUCs (also for fused groups)."""
    if scores.shape != (len(evaluated),):
        raise PIADError(f"{what}: scores of shape {scores.shape} for {len(evaluated)} images")
    if not np.isfinite(scores).all():
        raise PIADError(f"{what}: NaN/inf anomaly scores; see the job log")
    auc, aucs = score_split(split, scores, evaluated, what)
    metrics, group_metrics = split_metrics(split, scores, evaluated, what)
    return Evaluation(split, scores, evaluated, held, auc, aucs, metrics, group_metrics)


def split_metrics(
    split: Split, scores: np.ndarray, evaluated: np.ndarray, what: str
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Every metric of :mod:`piad.metrics` over the evaluated test images, and per group."""
    from piad.metrics import detection_metrics

    y = split.test_labels[evaluated]
    per_group = {}
    for group in sorted(split.groups):
        mask = split.group_mask(group)[evaluated]
        per_group[group] = detection_metrics(y[mask], scores[mask], f"{what} group {group}")
    return detection_metrics(y, scores, what), per_group


__all__ = [
    "HOLDOUT_FRACTION",
    "Evaluation",
    "Member",
    "attach_eval_data",
    "checked_split",
    "evaluate",
    "evaluate_fused",
    "finish",
    "fit_on_split",
    "holdout_plan",
    "load_split",
    "roc_auc",
    "score_on_split",
    "score_split",
    "split_metrics",
]
