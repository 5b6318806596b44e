"""piad.metrics: hand-computed cases and a brute-force threshold sweep in numpy."""

from __future__ import annotations

import numpy as np
import pytest

from piad.errors import PIADError
from piad.metrics import METRICS, check_metric, detection_metrics, stratified_subset


def brute_force(y: np.ndarray, s: np.ndarray) -> dict[str, float]:
    """Every metric from first principles: flag 'anomaly' when score >= t, for every t."""
    pos, neg = s[y == 1], s[y == 0]
    # ROC AUC as the Mann-Whitney statistic, ties count one half
    diff = pos[:, None] - neg[None, :]
    auc = ((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size
    rows = []
    for t in np.unique(s)[::-1]:  # thresholds high -> low
        flagged = s >= t
        tp = int((flagged & (y == 1)).sum())
        fp = int((flagged & (y == 0)).sum())
        rows.append((tp / len(pos), fp / len(neg), tp / (tp + fp)))
    tpr, fpr, prec = (np.array(c) for c in zip(*rows))
    f1 = np.where(prec + tpr > 0, 2 * prec * tpr / np.maximum(prec + tpr, 1e-300), 0)
    recall_steps = np.diff(np.concatenate([[0.0], tpr]))
    ap_anomaly = float((recall_steps * prec).sum())

    # normals positive, scored by -s: flag "normal" when s <= t
    rows_n = []
    for t in np.unique(s):
        flagged = s <= t
        tp = int((flagged & (y == 0)).sum())
        fp = int((flagged & (y == 1)).sum())
        rows_n.append((tp / len(neg), tp / (tp + fp)))
    rec_n, prec_n = (np.array(c) for c in zip(*rows_n))
    ap_normal = float((np.diff(np.concatenate([[0.0], rec_n])) * prec_n).sum())
    return {
        "roc_auc": float(auc),
        "aupr_anomaly": ap_anomaly,
        "aupr_normal": ap_normal,
        "fpr95": float(fpr[tpr >= 0.95].min()),
        "f1_max": float(f1.max()),
    }


def test_perfect_separation() -> None:
    m = detection_metrics([0, 0, 0, 1, 1], [0.1, 0.2, 0.3, 0.8, 0.9])
    assert m == {"roc_auc": 1.0, "aupr_anomaly": 1.0, "aupr_normal": 1.0, "fpr95": 0.0,
                 "f1_max": 1.0}  # fmt: skip


def test_inverted_scores() -> None:
    m = detection_metrics([0, 0, 1, 1], [0.9, 0.8, 0.2, 0.1])
    assert m["roc_auc"] == 0.0
    assert m["fpr95"] == 1.0  # catching both anomalies flags every normal image
    # AP with anomalies last: precision 1/3 at recall 1/2, 2/4 at recall 1
    assert m["aupr_anomaly"] == pytest.approx(0.5 * (1 / 3) + 0.5 * (2 / 4))
    assert m["f1_max"] == pytest.approx(2 * 0.5 * 1 / 1.5)  # flag everything: p 1/2, r 1


def test_all_ties() -> None:
    m = detection_metrics([0, 1, 0, 1, 1], [0.5] * 5)
    assert m["roc_auc"] == 0.5
    assert m["aupr_anomaly"] == pytest.approx(3 / 5)  # one threshold: precision 3/5
    assert m["aupr_normal"] == pytest.approx(2 / 5)
    assert m["fpr95"] == 1.0
    assert m["f1_max"] == pytest.approx(2 * 0.6 / 1.6)


def test_hand_computed_mixed() -> None:
    m = detection_metrics([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert m["roc_auc"] == 0.75
    assert m["fpr95"] == 0.5
    assert m["f1_max"] == pytest.approx(0.8)
    assert m["aupr_anomaly"] == pytest.approx(0.5 * 1 + 0.5 * (2 / 3))


@pytest.mark.parametrize("labels", [[0, 0, 0], [1, 1]])
def test_one_class_only_is_a_clear_error(labels: list[int]) -> None:
    with pytest.raises(PIADError, match="need normal and anomalous"):
        detection_metrics(labels, np.arange(len(labels), dtype=float), "job x")


def test_bad_inputs() -> None:
    with pytest.raises(PIADError, match="3 labels but 2 scores"):
        detection_metrics([0, 1, 1], [0.1, 0.2])
    with pytest.raises(PIADError, match="NaN"):
        detection_metrics([0, 1], [0.1, float("nan")])
    with pytest.raises(PIADError, match=r"0 \(normal\) or 1"):
        detection_metrics([0, 2], [0.1, 0.2])
    with pytest.raises(PIADError, match="unknown metric"):
        check_metric("auc")


@pytest.mark.parametrize("seed", range(6))
def test_against_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 200))
    y = (rng.random(n) < rng.uniform(0.1, 0.6)).astype(int)
    y[:2] = [0, 1]
    s = np.round(rng.normal(size=n) + 0.8 * y, 1)  # rounded: many ties
    got, want = detection_metrics(y, s), brute_force(y, s)
    assert list(got) == list(METRICS)
    for name in METRICS:
        assert got[name] == pytest.approx(want[name], abs=1e-12), name


def test_stratified_subset_is_fixed_and_stratified() -> None:
    y = np.array([0] * 900 + [1] * 100)
    a, b = stratified_subset(y, 100, seed=3), stratified_subset(y, 100, seed=3)
    assert np.array_equal(a, b) and len(np.unique(a)) == 100
    assert (y[a] == 1).sum() == 10 and np.all(np.diff(a) > 0)
    assert not np.array_equal(a, stratified_subset(y, 100, seed=4))
    assert np.array_equal(stratified_subset(y, 5000), np.arange(1000))
    tiny = stratified_subset(np.array([0] * 999 + [1]), 10)
    assert len(tiny) == 10 and 999 in tiny  # the rare class keeps one image
    with pytest.raises(PIADError, match="at least 1"):
        stratified_subset(y, 0)
