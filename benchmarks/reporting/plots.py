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
    from sklearn.metrics import roc_auc_score, roc_curve

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    curves = groups or {"all": np.ones(len(labels), dtype=bool)}
    for name, mask in curves.items():
        y, s = np.asarray(labels)[mask], np.asarray(scores)[mask]
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y, s):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", xlim=(0, 1), ylim=(0, 1))
    ax.set_title(title, fontsize=8)
    ax.legend(loc="lower right", fontsize=7)
    return atomic_write_bytes(path, _figure_bytes(fig))


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


__all__ = ["plot_bars", "plot_roc", "pyplot"]
