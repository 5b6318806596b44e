"""benchmarks.perf.bench_baselines: the one-vs-all protocol for every shallow method on toy
digits (AUC, test size after a labelled hold-out, the uses_test_labels flag)."""

from __future__ import annotations

import numpy as np

from benchmarks.data.imageset import ImageSet
from benchmarks.data.info import DATASET_INFO
from benchmarks.data.protocols import make_split
from benchmarks.perf.bench_baselines import METHODS, run_class


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
