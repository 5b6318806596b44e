"""Detection metrics of one scored test set: the numbers other anomaly-detection suites report.

One function, :func:`detection_metrics`, turns (labels, scores) into every metric the suite
records, built on scikit-learn; labels are 1 for anomalies and 0 for normal images, and a
higher score means more anomalous (as :meth:`piad.PIAD.score`).

- ``roc_auc``: area under the ROC curve (the paper's metric, the headline);
- ``aupr_anomaly``: average precision with the anomalies as the positive class
  (OpenOOD's AUPR-out, anomalib's AUPR);
- ``aupr_normal``: average precision with the normal images as positive, scored by
  ``-score`` (OpenOOD's AUPR-in);
- ``fpr95``: share of normal images flagged at the smallest threshold that catches 95% of the
  anomalies (FPR at 95% TPR; lower is better);
- ``f1_max``: the best F1 over all thresholds, anomalies positive (anomalib's F1-max).

>>> m = detection_metrics([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
>>> m["roc_auc"], m["fpr95"], round(m["f1_max"], 4)
(0.75, 0.5, 0.8)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from piad.errors import PIADError, unknown_name

#: every metric :func:`detection_metrics` returns, in report order
METRICS = ("roc_auc", "aupr_anomaly", "aupr_normal", "fpr95", "f1_max")
#: how reports name them
METRIC_NAMES = {
    "roc_auc": "ROC AUC",
    "aupr_anomaly": "AUPR (anomalies positive)",
    "aupr_normal": "AUPR (normals positive)",
    "fpr95": "FPR at 95% TPR",
    "f1_max": "F1-max",
}
#: metrics where lower is better
LOWER_IS_BETTER = frozenset({"fpr95"})


def check_metric(name: str) -> str:
    """``name`` if it is one of :data:`METRICS`, else a one-line :class:`PIADError`."""
    if name not in METRICS:
        raise unknown_name("metric", name, METRICS)
    return name


def _checked(labels: Any, scores: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    where = f"{what}: " if what else ""
    if y.shape != s.shape:
        raise PIADError(f"{where}{len(y)} labels but {len(s)} scores")
    if not np.isin(y, (0, 1)).all():
        raise PIADError(f"{where}labels must be 0 (normal) or 1 (anomaly)")
    if not np.isfinite(s).all():
        raise PIADError(f"{where}NaN/inf anomaly scores")
    n_anomalies = int(y.sum())
    if n_anomalies == 0 or n_anomalies == len(y):
        only = "anomalous" if n_anomalies else "normal"
        raise PIADError(
            f"{where}all {len(y)} test images are {only}; the metrics need normal and "
            "anomalous images"
        )
    return y.astype(np.int64), s


def detection_metrics(labels: Any, scores: Any, what: str = "") -> dict[str, float]:
    """Every metric of :data:`METRICS` for one test set (labels 1 = anomaly, higher = anomalous).

    Raises :class:`PIADError` (one line, prefixed by ``what``) when the lengths differ, a
    score is not finite, or one class is missing (no metric is defined then; never NaN).
    """
    from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

    y, s = _checked(labels, scores, what)
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    return {
        "roc_auc": float(roc_auc_score(y, s)),
        "aupr_anomaly": float(average_precision_score(y, s)),
        "aupr_normal": float(average_precision_score(1 - y, -s)),
        "fpr95": float(fpr[np.searchsorted(tpr, 0.95, side="left")]),
        "f1_max": _f1_max(y, s),
    }


def _f1_max(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import precision_recall_curve

    precision, recall, _ = precision_recall_curve(y, s)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(total), where=total > 0)
    return float(f1.max())


def stratified_subset(labels: Sequence[int] | np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Sorted positions of a fixed, seeded subset of ``k`` images with the classes' shares.

    Each class gets ``round(k * share)`` images (at least one, largest remainders first), drawn
    without replacement from a generator seeded by ``seed``: the same labels, ``k`` and seed
    always give the same subset. ``k >= len(labels)`` gives every position.

    >>> stratified_subset([0] * 8 + [1] * 2, 5, seed=0).size
    5
    """
    y = np.asarray(labels).reshape(-1)
    if k < 1:
        raise PIADError(f"the evaluation subset needs at least 1 image, got {k}")
    if k >= len(y):
        return np.arange(len(y))
    classes, counts = np.unique(y, return_counts=True)
    if k < len(classes):
        raise PIADError(
            f"an evaluation subset of {k} image(s) cannot hold all {len(classes)} classes"
        )
    exact = k * counts / counts.sum()
    take = np.maximum(np.floor(exact).astype(int), 1)
    order = np.argsort(-(exact - np.floor(exact)), kind="stable")
    i = 0
    while take.sum() < k:  # hand out the remainder, largest fractions first
        c = order[i % len(order)]
        if take[c] < counts[c]:
            take[c] += 1
        i += 1
    while take.sum() > k:  # the minimum of one per class overshot: trim the largest
        take[np.argmax(take)] -= 1
    rng = np.random.default_rng(seed)
    picked = [
        rng.choice(np.flatnonzero(y == c), size=int(n), replace=False)
        for c, n in zip(classes, take)
    ]
    return np.sort(np.concatenate(picked))


__all__ = [
    "LOWER_IS_BETTER",
    "METRICS",
    "METRIC_NAMES",
    "check_metric",
    "detection_metrics",
    "stratified_subset",
]
