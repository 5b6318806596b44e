"""``piad score MODEL.pt DIR_OR_FILES... --out scores.csv``: one anomaly score per image."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from piad.cli.common import check_out_file, scores_csv, skipped_record
from piad.cli.estimators import Model, load_model
from piad.cli.inputs import read_for_model
from piad.cli.labels import read_labels, roc_auc
from piad.image_files import FORMATS, LoadedImages
from piad.io import atomic_write_json, atomic_write_text

DESCRIPTION = f"""\
Score images with a model written by `piad fit` (or PIAD.save, or a PIAD training
workdir). Every {FORMATS} file of the folders (recursively) and files given is read
as the model's training images were. Writes a CSV with one row per image: path, score,
rank (1 = the most anomalous); higher scores are more anomalous. With --labels, a label
column is added and the ROC AUC is printed and written to the summary JSON beside the CSV
(scores.csv -> scores.json).

Images of another file size or channel count than the training images are refused (a model
trained on 28x28 grayscale digits has not seen 64x64 photos); --convert crops, resizes and
converts them as at training instead. A model trained on files of several sizes accepts any.
"""

EPILOG = """\
labels:
  --labels auto      DIR/normal/... are normal, DIR/anomaly/... are anomalies
  --labels FILE.csv  rows "path,label" (label 0/normal or 1/anomaly; a header row is allowed;
                     relative paths are taken from the CSV's folder)

model files:
  A baseline's model file (--method ocsvm, kde, ...) holds a PICKLE of the estimator, which can
  run code when loaded: score only with model files you made yourself. The file's format is
  checked first (read with torch.load(weights_only=True)); any other file is refused.

examples:
  piad score model.pt test/ --out scores.csv --labels auto
  piad score model.pt a.png b.png --out scores.csv
"""

SUMMARY_FORMAT = "piad-scores/1"


def add_labels_options(p: argparse.ArgumentParser) -> None:
    """The options ``score`` and ``report`` share."""
    p.add_argument(
        "--labels",
        metavar="auto|CSV",
        help="auto (normal/ and anomaly/ sub-folders) or a CSV of path,label rows",
    )
    p.add_argument(
        "--convert",
        action="store_true",
        help="crop, resize and convert images unlike the training ones instead of refusing them",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="refuse unreadable image files instead of skipping them",
    )
    p.add_argument("--device", help="device to score on (default: the model's; cpu, cuda)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "score",
        help="score images: a CSV of path, score, rank (and the ROC AUC with --labels)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL.pt", help="model file written by `piad fit`")
    p.add_argument("images", nargs="+", metavar="DIR_OR_FILES", help="folders or image files")
    p.add_argument("--out", required=True, metavar="scores.csv", help="CSV file to write")
    add_labels_options(p)
    p.set_defaults(run=run)


@dataclass
class Scored:
    """Images scored by a model, with their labels and ROC AUC when labelled."""

    model: Model
    loaded: LoadedImages
    scores: np.ndarray
    labels: np.ndarray | None
    auc: float | None
    labels_spec: str | None

    def summary(self) -> dict[str, Any]:
        labels = self.labels
        return {
            "format": SUMMARY_FORMAT,
            "model": str(self.model.path),
            "method": self.model.method,
            "higher_is_more_anomalous": True,
            "n_images": len(self.scores),
            "n_skipped": len(self.loaded.skipped),
            "skipped": skipped_record(self.loaded.skipped),
            "labels": self.labels_spec,
            "n_normal": None if labels is None else int((labels == 0).sum()),
            "n_anomaly": None if labels is None else int((labels == 1).sum()),
            "roc_auc": self.auc,
            "image_recipe": self.model.input.recipe.to_dict(),
        }

    def auc_line(self) -> str | None:
        if self.auc is None or self.labels is None:
            return None
        n1 = int(self.labels.sum())
        n0 = len(self.labels) - n1
        return f"ROC AUC {self.auc:.4f} ({n0} normal, {n1} anomalous images)"


def score_images(
    model_path: str,
    sources: Sequence[str],
    *,
    labels: str | None,
    device: str | None = None,
    strict: bool = False,
    convert: bool = False,
    progress: bool = True,
) -> Scored:
    """Load the model (fails first on a bad file), read and label the images, score them."""
    model = load_model(model_path, device)
    loaded = read_for_model(sources, model, strict=strict, convert=convert, progress=progress)
    y = read_labels(labels, loaded.paths)
    scores = model.score(loaded.images)
    auc = roc_auc(y, scores) if y is not None else None
    return Scored(model, loaded, scores, y, auc, labels)


def summary_path(out: Path) -> Path:
    """Where the summary JSON of ``out`` goes: ``scores.csv`` -> ``scores.json``."""
    path = out.with_suffix(".json")
    return path if path != out else out.with_name(out.stem + ".summary.json")


def run(args: argparse.Namespace) -> int:
    out = check_out_file(args.out, "scores.csv")
    summary = check_out_file(summary_path(out), "scores.json")
    scored = score_images(
        args.model,
        args.images,
        labels=args.labels,
        device=args.device,
        strict=args.strict,
        convert=args.convert,
        progress=not args.no_progress,
    )
    table = scores_csv(scored.loaded.paths, scored.scores, scored.labels)
    atomic_write_json(summary, {**scored.summary(), "scores_csv": out.name})
    atomic_write_text(out, table)
    print(f"scored {len(scored.scores)} images with {scored.model.method}: wrote {out}")
    line = scored.auc_line()
    if line:
        print(f"{line}; wrote {summary}")
    return 0


__all__ = ["Scored", "add_labels_options", "add_parser", "run", "score_images", "summary_path"]
