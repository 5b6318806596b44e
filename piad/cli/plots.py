"""The pictures of ``piad report``, drawn with matplotlib's Agg canvas (no display, no pyplot
state): image grids with their reconstructions G(E(x)) beside them (as the paper's Figures 4-5),
the score histogram and the ROC curve. Every function returns PNG bytes or draws into a
(sub)figure, so the overview can reuse them."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

DPI = 100
NORMAL_COLOUR, ANOMALY_COLOUR, ALL_COLOUR = "#1f77b4", "#d62728", "#555555"


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _show(ax: Any, image: np.ndarray) -> None:
    if image.shape[-1] == 1:
        ax.imshow(image[..., 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    else:
        ax.imshow(image, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def _label_text(label: int | None) -> str:
    return "" if label is None else (" anomaly" if label == 1 else " normal")


def grid_shape(k: int, pairs: bool) -> tuple[int, int]:
    """(rows, images per row) of a grid of ``k`` images: 4 pairs or 8 single images a row."""
    per_row = min(k, 4 if pairs else 8)
    return math.ceil(k / per_row), per_row


def draw_grid(
    target: Any,
    images: np.ndarray,
    reconstructions: np.ndarray | None,
    scores: Sequence[float],
    ranks: Sequence[int],
    labels: Sequence[int] | None,
    title: str,
) -> None:
    """Images (k, S, S, C) uint8, each with its reconstruction to the right when given."""
    k = len(images)
    pairs = reconstructions is not None
    rows, per_row = grid_shape(k, pairs)
    cols = per_row * (2 if pairs else 1)
    axes = target.subplots(rows, cols, squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for i in range(k):
        r, c = divmod(i, per_row)
        c *= 2 if pairs else 1
        ax = axes[r, c]
        ax.set_axis_on()
        _show(ax, images[i])
        label = None if labels is None else int(labels[i])
        ax.set_title(f"#{ranks[i]} {scores[i]:.4g}{_label_text(label)}", fontsize=7)
        if label == 1:
            for spine in ax.spines.values():
                spine.set_edgecolor(ANOMALY_COLOUR)
                spine.set_linewidth(2)
        if pairs:
            assert reconstructions is not None
            rec_ax = axes[r, c + 1]
            rec_ax.set_axis_on()
            _show(rec_ax, reconstructions[i])
            rec_ax.set_title("G(E(x))", fontsize=7)
    target.suptitle(title, fontsize=9)


def grid_png(
    images: np.ndarray,
    reconstructions: np.ndarray | None,
    scores: Sequence[float],
    ranks: Sequence[int],
    labels: Sequence[int] | None,
    title: str,
) -> bytes:
    rows, per_row = grid_shape(len(images), reconstructions is not None)
    cols = per_row * (2 if reconstructions is not None else 1)
    fig = _figure(max(3.0, 1.1 * cols), 0.5 + 1.25 * rows)
    draw_grid(fig, images, reconstructions, scores, ranks, labels, title)
    return png_bytes(fig)


def draw_histogram(ax: Any, scores: np.ndarray, labels: np.ndarray | None) -> None:
    bins = np.histogram_bin_edges(scores, bins=min(40, max(5, len(scores) // 5)))
    if labels is None:
        ax.hist(scores, bins=bins, color=ALL_COLOUR, alpha=0.8, label=f"all ({len(scores)})")
    else:
        for value, name, colour in ((0, "normal", NORMAL_COLOUR), (1, "anomaly", ANOMALY_COLOUR)):
            part = scores[labels == value]
            ax.hist(part, bins=bins, color=colour, alpha=0.55, label=f"{name} ({len(part)})")
    ax.set_xlabel("anomaly score (higher = more anomalous)")
    ax.set_ylabel("images")
    ax.set_title("score histogram", fontsize=9)
    ax.legend(fontsize=7)


def histogram_png(scores: np.ndarray, labels: np.ndarray | None) -> bytes:
    fig = _figure(5.0, 3.2)
    draw_histogram(fig.add_subplot(), scores, labels)
    return png_bytes(fig)


def draw_roc(ax: Any, labels: np.ndarray, scores: np.ndarray) -> None:
    """The report's ROC panel (:func:`piad.roc_plot.draw_roc`, one curve)."""
    from piad.roc_plot import draw_roc as draw_curves

    draw_curves(ax, {"": (labels, scores)}, auc_digits=4, color=ANOMALY_COLOUR, lw=1.5)
    ax.set_aspect("equal")
    ax.set_xlabel("false positive rate (normal flagged)")
    ax.set_ylabel("true positive rate (anomalies found)")
    ax.set_title("ROC curve", fontsize=9)


def roc_png(labels: np.ndarray, scores: np.ndarray) -> bytes:
    fig = _figure(3.6, 3.6)
    draw_roc(fig.add_subplot(), labels, scores)
    return png_bytes(fig)


def training_curve_png(history: list[dict[str, float]]) -> bytes:
    """The model's test metrics against the iteration (``piad fit --eval-every``): ROC AUC,
    both AUPRs and F1-max on the left axis, FPR at 95% TPR dashed (lower is better)."""
    from piad.metrics import METRIC_NAMES

    fig = _figure(5.6, 3.4)
    ax = fig.add_subplot()
    it = [r["iteration"] for r in history]
    for name in ("roc_auc", "aupr_anomaly", "aupr_normal", "f1_max", "fpr95"):
        if all(name in r for r in history):
            style = "--" if name == "fpr95" else "-"
            ax.plot(it, [r[name] for r in history], style, marker="o", ms=3, lw=1.2,
                    label=METRIC_NAMES[name])  # fmt: skip
    n = int(history[-1].get("n_images", 0))
    ax.set_xlabel("training iteration")
    ax.set_ylabel("metric on the evaluation images")
    ax.set_title(f"training curve ({n} evaluation images; the model is the last point)",
                 fontsize=9)  # fmt: skip
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return png_bytes(fig)


def overview_png(
    most: dict[str, Any],
    least: dict[str, Any],
    scores: np.ndarray,
    labels: np.ndarray | None,
    auc: float | None,
    title: str,
) -> bytes:
    """One picture of the whole report: both grids, the histogram and the ROC curve.

    ``most`` and ``least`` hold the keyword arguments of :func:`draw_grid` (without target).
    """
    pairs = most["reconstructions"] is not None
    rows, per_row = grid_shape(len(most["images"]), pairs)
    width = max(7.0, 1.1 * per_row * (2 if pairs else 1))
    fig = _figure(width, 2 * (0.5 + 1.25 * rows) + 3.4)
    top, middle, bottom = fig.subfigures(3, 1, height_ratios=[0.5 + 1.25 * rows] * 2 + [3.4])
    draw_grid(top, **most)
    draw_grid(middle, **least)
    if labels is not None and auc is not None:
        left, right = bottom.subplots(1, 2, width_ratios=[1.6, 1])
        draw_histogram(left, scores, labels)
        draw_roc(right, labels, scores)
    else:
        draw_histogram(bottom.add_subplot(), scores, labels)
    fig.suptitle(title, fontsize=10)
    return png_bytes(fig)


__all__ = ["draw_grid", "grid_png", "histogram_png", "overview_png", "png_bytes", "roc_png"]
