"""Labels for ``--labels``: from sub-folder names (``auto``) or a CSV file, and the ROC AUC.

- ``auto``: an image whose path contains a folder ``normal/`` is normal (0), one under
  ``anomaly/`` is an anomaly (1); the folder nearest to the file decides.
- a CSV of ``path,label`` rows (a header row is allowed): label 0 / ``normal`` or
  1 / ``anomaly``; a relative path is taken from the CSV's folder, then from the current one.

>>> labels_from_folders([Path("t/normal/a.png"), Path("t/anomaly/b.png")]).tolist()
[0, 1]
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from piad.errors import PIADError, one_line

FOLDER_LABELS = {"normal": 0, "anomaly": 1}
LABEL_VALUES = {"0": 0, "1": 1, "normal": 0, "anomaly": 1, "anomalous": 1}
AUTO = "auto"


def labels_from_folders(paths: Sequence[Path]) -> np.ndarray:
    """0 under a ``normal/`` folder, 1 under ``anomaly/`` (the nearest one decides)."""
    out = []
    for path in paths:
        label = next(
            (FOLDER_LABELS[p] for p in reversed(path.parent.parts) if p in FOLDER_LABELS), None
        )
        if label is None:
            raise PIADError(
                f"{path} is under neither a normal/ nor an anomaly/ folder (--labels auto); "
                "sort the images into DIR/normal/ and DIR/anomaly/, or give --labels FILE.csv"
            )
        out.append(label)
    return np.asarray(out, dtype=np.int64)


def _read_rows(csv_path: Path) -> list[tuple[str, str, int]]:
    try:
        with open(csv_path, newline="") as f:
            rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise PIADError(f"cannot read the labels file {csv_path}: {one_line(e)}") from e
    out = []
    for line, row in enumerate(rows, 1):
        if len(row) < 2:
            raise PIADError(f"{csv_path} line {line} is not 'path,label'; write one image per row")
        value = row[1].strip().lower()
        if value not in LABEL_VALUES:
            if line == 1:
                continue  # a header row
            raise PIADError(
                f"{csv_path} line {line}: label {row[1]!r} is not 0/normal or 1/anomaly"
            )
        out.append((row[0].strip(), row[1], LABEL_VALUES[value]))
    if not out:
        raise PIADError(f"{csv_path} holds no 'path,label' rows; write one row per image")
    return out


def labels_from_csv(csv_path: str | Path, paths: Sequence[Path]) -> np.ndarray:
    """The label of each of ``paths`` from a ``path,label`` CSV; every image needs one."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise PIADError(f"labels file {csv_path} does not exist; give a CSV of path,label rows")
    table: dict[Path, int] = {}
    for name, _raw, label in _read_rows(csv_path):
        p = Path(name)
        for candidate in [p] if p.is_absolute() else [csv_path.parent / p, Path.cwd() / p]:
            table.setdefault(candidate.resolve(), label)
    out: list[int] = []
    missing: list[Path] = []
    for path in paths:
        found = table.get(path.resolve())
        if found is None:
            missing.append(path)
        out.append(-1 if found is None else found)
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise PIADError(
            f"{missing[0]}{more} has no row in the labels file {csv_path}; add 'path,label' "
            "rows for every image (paths relative to the CSV's folder)"
        )
    return np.asarray(out, dtype=np.int64)


def read_labels(spec: str | None, paths: Sequence[Path]) -> np.ndarray | None:
    """Labels per ``--labels`` (None, ``auto`` or a CSV path), with both classes present."""
    if spec is None:
        return None
    labels = labels_from_folders(paths) if spec == AUTO else labels_from_csv(spec, paths)
    for value, name in ((0, "normal"), (1, "anomalous")):
        if not (labels == value).any():
            raise PIADError(
                f"--labels {spec}: no {name} image among the {len(labels)} scored; the ROC AUC "
                "needs both normal and anomalous images"
            )
    return labels


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve, anomalies (1) as positives, higher score = more anomalous."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


__all__ = ["AUTO", "labels_from_csv", "labels_from_folders", "read_labels", "roc_auc"]
