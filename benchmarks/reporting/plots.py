"""Plots of results: one job's ROC curve, and a suite's ours-vs-reported bar chart (PNG)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.reporting.names import dataset_title, display_name, method_key
from piad.io import atomic_write_bytes


def _figure_bytes(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def plot_roc(
    labels: np.ndarray,
    scores: np.ndarray,
    path: str | Path,
    title: str = "",
    groups: dict[str, np.ndarray] | None = None,
) -> Path:
    """ROC curve PNG of one job (one curve per group mask when given), written atomically."""
    from piad.roc_plot import draw_roc

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    masks = groups or {"all": np.ones(len(labels), dtype=bool)}
    labels, scores = np.asarray(labels), np.asarray(scores)
    draw_roc(ax, {name: (labels[m], scores[m]) for name, m in masks.items()})
    ax.set(xlabel="false positive rate", ylabel="true positive rate")
    ax.set_title(title, fontsize=8)
    return atomic_write_bytes(path, _figure_bytes(fig))


def job_roc(folder: str | Path) -> Path | None:
    """Draw a finished job's ``roc.png`` from its ``scores.npz`` and ``split.npz`` (one curve
    per anomaly group for CelebA); ``None`` when the job has no scores. Redrawn only when the
    picture is missing or older than the scores."""
    from benchmarks.data.splits import Split
    from benchmarks.experiments.jobs import JobFolder
    from benchmarks.experiments.results import Result

    job = JobFolder(Path(folder))
    if not job.scores.is_file():
        return None
    if job.roc.is_file() and job.roc.stat().st_mtime_ns >= job.scores.stat().st_mtime_ns:
        return job.roc
    with np.load(job.scores) as z:
        labels, scores, test_index = z["labels"], z["scores"], z["test_index"]
    split = Split.load(job.split)
    position = {int(i): k for k, i in enumerate(split.test)}
    evaluated = np.array([position[int(i)] for i in test_index], dtype=np.int64)
    groups = {g: split.group_mask(g)[evaluated] for g in sorted(split.groups)} or None
    result = Result.load(job.result)
    title = f"{result.job.slug}  AUC {result.auc:.3f}"
    return plot_roc(labels, scores, job.roc, title, groups)


def plot_bars(agg: pd.DataFrame, path: str | Path, budget: str | None = None) -> Path | None:
    """Per dataset: our mean ± std (error bars) beside the paper's value, per row."""
    if not len(agg) or agg["mean"].notna().sum() == 0:
        return None
    plt = pyplot()
    datasets = list(dict.fromkeys(agg["dataset"]))
    fig, axes = plt.subplots(len(datasets), 1, figsize=(11, 3.2 * len(datasets)), squeeze=False)
    for ax, dataset in zip(axes[:, 0], datasets):
        part = agg[(agg["dataset"] == dataset) & agg["mean"].notna()]
        rows = list(dict.fromkeys(part["row"]))
        labels = sorted(part["method"].unique(), key=method_key)
        series: list[tuple[str, bool]] = []
        for label in labels:  # ours, then the paper's value of the same method beside it
            series.append((label, False))
            if part.loc[part["method"] == label, "reported"].notna().any():
                series.append((label, True))
        width = 0.8 / max(1, len(series))
        x = np.arange(len(rows))
        colors = {label: f"C{k % 10}" for k, label in enumerate(labels)}
        for i, (label, is_paper) in enumerate(series):
            mine = part[part["method"] == label].set_index("row").reindex(rows)
            values = mine["reported" if is_paper else "mean"].to_numpy(dtype=float)
            std = mine["std"].to_numpy(dtype=float)
            errors = None if is_paper or np.isnan(std).all() else np.nan_to_num(std)
            ax.bar(
                x + (i - (len(series) - 1) / 2) * width,
                values,
                width,
                yerr=errors,
                capsize=2,
                color=colors[label],
                label=display_name(label) + (" (paper)" if is_paper else ""),
                hatch="//" if is_paper else None,
                alpha=0.45 if is_paper else 1.0,
            )
        ax.set_xticks(x, rows, rotation=30, ha="right", fontsize=8)
        ax.set_ylim(0.0, 1.05)
        ax.set_ylabel("ROC AUC (mean ± std)")
        ax.set_title(dataset_title(dataset) + (f" — {budget}" if budget else ""))
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return atomic_write_bytes(path, _figure_bytes(fig))


__all__ = ["job_roc", "plot_bars", "plot_roc", "pyplot"]
