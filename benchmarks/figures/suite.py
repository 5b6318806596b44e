"""Per suite: the ROC curves of every seed of each class in one panel per (dataset, method),
and the reported-vs-ours bar chart (:func:`benchmarks.reporting.plots.plot_bars`)."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.data.splits import Split
from benchmarks.experiments.evaluate import roc_auc
from benchmarks.experiments.jobs import JobFolder, path_safe
from benchmarks.experiments.results import Result, collect
from benchmarks.figures.common import DEFAULT_OUT, FORMATS, pyplot, save_figure
from benchmarks.reporting.aggregate import aggregate, budget_note
from benchmarks.reporting.names import display_name
from benchmarks.reporting.plots import plot_bars
from benchmarks.reporting.reported import load_reported
from piad.errors import MissingInputError, PIADError


@dataclass
class SeedCurve:
    """The test labels and scores of one seed's run (one ROC curve)."""

    seed: int
    labels: np.ndarray
    scores: np.ndarray

    @property
    def auc(self) -> float:
        return roc_auc(self.labels, self.scores, f"seed {self.seed}")


def _job_scores(folder: Path) -> tuple[np.ndarray, np.ndarray, Callable[[str], np.ndarray]]:
    """``(labels, scores, group_mask)`` of a finished job from its ``scores.npz``/``split.npz``."""
    result = Result.load(folder)
    path = folder / (result.scores_file or JobFolder.SCORES)
    if not path.is_file():
        raise MissingInputError(f"job {folder} has no scores file {path.name}; rerun the job")
    with np.load(path, allow_pickle=False) as z:
        labels, scores, test_index = z["labels"], z["scores"], z["test_index"]

    def group_mask(group: str) -> np.ndarray:
        split = Split.load(folder / (result.split_file or JobFolder.SPLIT))
        position = {int(t): i for i, t in enumerate(split.test)}
        return split.group_mask(group)[[position[int(t)] for t in test_index]]

    return labels, scores, group_mask


def suite_curves(
    results: str | os.PathLike[str],
) -> dict[tuple[str, str], dict[str, list[SeedCurve]]]:
    """``(dataset, method_label) -> row -> curves`` (one per seed) of every finished job.

    A row is a normal class, or a scored group (CelebA attribute: all normal test images plus
    that attribute's anomalies, as the runner scores it).
    """
    table = collect(results)
    ok = table[table["status"] == "ok"]
    if not len(ok):
        raise PIADError(f"no finished job under {results}; run the suite first (or check the path)")
    loaded: dict[str, Any] = {}
    out: dict[tuple[str, str], dict[str, list[SeedCurve]]] = {}
    for r in ok.itertuples(index=False):
        if r.path not in loaded:
            loaded[r.path] = _job_scores(Path(r.path))
        labels, scores, group_mask = loaded[r.path]
        if isinstance(r.group, str):
            mask = group_mask(r.group)
            labels, scores = labels[mask], scores[mask]
        rows = out.setdefault((r.dataset, r.method_label), {})
        rows.setdefault(str(r.row), []).append(SeedCurve(int(r.seed), labels, scores))
    return out


def plot_suite_roc(
    curves: dict[str, list[SeedCurve]],
    out: str | os.PathLike[str],
    name: str,
    title: str = "",
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """One panel per class (or group) with the ROC curve of every seed, AUC mean ± std above."""
    from piad.roc_plot import draw_roc

    plt = pyplot()
    rows = list(curves)
    ncols = min(5, len(rows))
    nrows = math.ceil(len(rows) / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(2.7 * ncols, 2.8 * nrows), squeeze=False, sharex=True, sharey=True
    )
    for ax in axes.flat[len(rows) :]:
        ax.set_visible(False)
    for ax, row in zip(axes.flat, rows):
        seeds = sorted(curves[row], key=lambda c: c.seed)
        draw_roc(ax, {f"seed {c.seed}": (c.labels, c.scores) for c in seeds}, fontsize=6, lw=1)
        aucs = [c.auc for c in seeds]
        spread = f" ± {np.std(aucs, ddof=1):.3f}" if len(aucs) > 1 else ""
        ax.set_title(f"{row}: AUC {np.mean(aucs):.3f}{spread}", fontsize=8)
    for ax in axes[-1, :]:
        ax.set_xlabel("false positive rate", fontsize=8)
    for ax in axes[:, 0]:
        ax.set_ylabel("true positive rate", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out, name, formats)


def suite_figures(
    results: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """ROC panels per (dataset, method) and the reported-vs-ours bars of a suite's results.

    ``out`` defaults to ``results/figures/<name of the results folder>``. The bar chart is
    :func:`benchmarks.reporting.plots.plot_bars` (PNG only), written as ``bars.png``.
    """
    results = Path(results)
    out = Path(out) if out is not None else DEFAULT_OUT / results.resolve().name
    paths: list[Path] = []
    budget = budget_note(collect(results))
    for (dataset, label), rows in sorted(suite_curves(results).items()):
        title = f"{dataset}, {display_name(label)}: ROC per class, every seed"
        if budget:
            title += f"\n{budget}"
        paths += plot_suite_roc(
            rows, out, f"roc_{path_safe(dataset)}_{path_safe(label)}", title, formats
        )
    try:
        reported = load_reported()
    except (PIADError, OSError) as e:
        print(
            f"note: the paper's numbers could not be read ({e}); bars without them", file=sys.stderr
        )
        reported = None
    bars = plot_bars(aggregate(collect(results), reported), out / "bars.png", budget)
    if bars is not None:
        paths.append(bars)
    return paths


__all__ = ["SeedCurve", "plot_suite_roc", "suite_curves", "suite_figures"]
