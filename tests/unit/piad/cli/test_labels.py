"""piad.cli.labels: labels from normal/ and anomaly/ folders or a path,label CSV, both classes
required, one-line errors naming the file and the fix, and the ROC AUC."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from piad.cli.labels import labels_from_csv, labels_from_folders, read_labels, roc_auc
from piad.errors import PIADError


def _touch(root: Path, *names: str) -> list[Path]:
    paths = []
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
        paths.append(path)
    return paths


def test_the_nearest_normal_or_anomaly_folder_decides():
    paths = [Path("t/normal/a.png"), Path("t/anomaly/b.png"), Path("anomaly/x/normal/c.png"),
             Path("normal/y/anomaly/d.png"), Path("/data/anomaly/sub/e.jpg")]  # fmt: skip
    assert labels_from_folders(paths).tolist() == [0, 1, 0, 1, 1]
    assert labels_from_folders(paths).dtype == np.int64
    with pytest.raises(PIADError, match=r"stray/f\.png is under neither a normal/ nor an anomaly/"):
        labels_from_folders([Path("t/normal/a.png"), Path("t/stray/f.png")])
    with pytest.raises(PIADError, match="neither"):
        labels_from_folders([Path("t/normal.png")])  # a file name is not a folder


def test_csv_labels_by_number_or_word_with_an_optional_header(tmp_path):
    paths = _touch(tmp_path, "a.png", "sub/b.png", "c.png", "d.png")
    (tmp_path / "labels.csv").write_text(
        f"file,label\na.png,0\nsub/b.png, anomaly\n\n{paths[2]},Normal\nd.png,anomalous\n"
    )
    got = labels_from_csv(tmp_path / "labels.csv", paths)
    assert got.tolist() == [0, 1, 0, 1] and got.dtype == np.int64
    (tmp_path / "bare.csv").write_text("a.png,1\nsub/b.png,0\nc.png,0\nd.png,1\n")
    assert labels_from_csv(tmp_path / "bare.csv", paths).tolist() == [1, 0, 0, 1]


def test_relative_csv_paths_are_found_from_the_current_folder_too(tmp_path, monkeypatch):
    (images,) = _touch(tmp_path / "imgs", "x.png")
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "labels.csv").write_text("imgs/x.png,1\n")  # not meta/imgs/x.png
    monkeypatch.chdir(tmp_path)
    assert labels_from_csv(tmp_path / "meta" / "labels.csv", [images]).tolist() == [1]


def test_bad_label_files_are_one_line(tmp_path):
    paths = _touch(tmp_path, "a.png", "b.png", "c.png")
    csv = tmp_path / "labels.csv"
    cases = {
        "a.png,0\n": r"b\.png \(and 1 more\) has no row in the labels file",
        "a.png,0\nb.png,maybe\n": r"line 2: label 'maybe' is not 0/normal or 1/anomaly",
        "a.png,0\nb.png\n": r"line 2 is not 'path,label'",
        "path,label\n": r"holds no 'path,label' rows",
    }
    for text, message in cases.items():
        csv.write_text(text)
        with pytest.raises(PIADError, match=message) as info:
            labels_from_csv(csv, paths)
        assert "\n" not in str(info.value)
    with pytest.raises(PIADError, match=r"labels file .*nope\.csv does not exist"):
        labels_from_csv(tmp_path / "nope.csv", paths)
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(PIADError, match="cannot read the labels file"):
        labels_from_csv(tmp_path / "binary.csv", paths)


def test_read_labels_needs_both_classes():
    normal, anomaly = Path("t/normal/a.png"), Path("t/anomaly/b.png")
    assert read_labels(None, [normal]) is None
    assert read_labels("auto", [anomaly, normal]).tolist() == [1, 0]
    with pytest.raises(PIADError, match="no anomalous image among the 2 scored"):
        read_labels("auto", [normal, normal])
    with pytest.raises(PIADError, match="no normal image among the 1 scored"):
        read_labels("auto", [anomaly])


def test_roc_auc_of_a_hand_computed_example():
    # anomalies score 0.35 and 0.8, normals 0.1 and 0.4: 3 of the 4 pairs are ordered
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == 0.75
    assert roc_auc(np.array([1, 0]), np.array([2.0, 1.0])) == 1.0
