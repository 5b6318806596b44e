"""Figure 5: the least and most anomalous test images under MSE, perc and rel-perc-L1, with AUC."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from benchmarks.experiments.evaluate import roc_auc
from benchmarks.figures.common import (
    DEFAULT_OUT,
    DISTANCE_LABELS,
    FIGURE5_DISTANCES,
    FORMATS,
    PANEL_LETTERS,
    grid,
    pyplot,
    save_figure,
    show,
)
from piad.config import PERCEPTUAL_DISTANCES
from piad.errors import PIADError
from piad.image_arrays import float_batch, to_float
from piad.losses import get_distance
from piad.model import prepare_images


@dataclass
class Ranking:
    """Scores of every test image under one reconstruction distance, and its ROC AUC."""

    distance: str
    scores: np.ndarray
    auc: float

    def least(self, k: int) -> np.ndarray:
        """Positions of the ``k`` least anomalous images (lowest distance first)."""
        return np.argsort(self.scores, kind="stable")[:k]

    def most(self, k: int) -> np.ndarray:
        """Positions of the ``k`` most anomalous images (highest distance first)."""
        return np.argsort(-self.scores, kind="stable")[:k]


@torch.no_grad()
def rank_by_distances(
    model: Any,
    images: Any,
    labels: np.ndarray,
    distances: Sequence[str] = FIGURE5_DISTANCES,
    features: Any | None = None,
    batch_size: int = 128,
) -> dict[str, Ranking]:
    """Score ``images`` by d(x, G(E(x))) for each distance (:mod:`piad.losses`) with its AUC.

    ``features``: the perceptual network for perc / rel-perc-L1 (default: the model's own,
    ``model.features()``). Reconstructions are computed once and shared by every distance.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if len(np.unique(labels)) != 2:
        raise PIADError("ranking needs a test set with both normal (0) and anomalous (1) images")
    fns = {d: get_distance(d) for d in distances}
    if not fns:
        raise PIADError(f"give at least one distance; known: {', '.join(DISTANCE_LABELS)}")
    x_all = prepare_images(images, model.config)
    if len(x_all) != len(labels):
        raise PIADError(f"{len(x_all)} images but {len(labels)} labels")
    recon = model.reconstruct(images, batch_size=batch_size)
    perceptual = [d for d in fns if d in PERCEPTUAL_DISTANCES]
    if perceptual and features is None:
        features = model.features()
    device = features.mu.device if features is not None and hasattr(features, "mu") else "cpu"
    scores: dict[str, list[Tensor]] = {d: [] for d in fns}
    for s in range(0, len(x_all), batch_size):
        x = to_float(x_all[s : s + batch_size]).to(device)
        y = recon[s : s + batch_size].to(device=device, dtype=x.dtype)
        fx = features(x) if perceptual and features is not None else None
        for d, fn in fns.items():
            out = fn(x, y, features, fx=fx) if d in PERCEPTUAL_DISTANCES else fn(x, y)
            scores[d].append(out.double().cpu())
    result = {}
    for d in fns:
        values = torch.cat(scores[d]).numpy()
        result[d] = Ranking(d, values, roc_auc(labels, values, f"ranking by {d}"))
    return result


def plot_extremes(
    images: Any,
    rankings: dict[str, Ranking],
    out: str | os.PathLike[str] = DEFAULT_OUT,
    k: int = 8,
    labels: np.ndarray | None = None,
    name: str = "extremes",
    title: str = "",
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """Figure 5: per distance, the ``k`` least (top) and most (bottom) anomalous images,
    titled with the distance's ROC AUC (and, given ``labels``, how many shown are anomalies)."""
    if k < 1:
        raise PIADError(f"k must be >= 1, got {k}")

    def shown(pos: np.ndarray) -> Tensor:
        picked = images[pos]
        return picked if isinstance(picked, Tensor) else float_batch(np.asarray(picked))

    plt = pyplot()
    cols = len(rankings)
    nrow = math.ceil(k / 2) if k > 4 else k  # images per grid row: two rows per extreme
    rows = math.ceil(k / nrow)
    fig, axes = plt.subplots(
        2, cols, figsize=(max(2.6, 0.62 * nrow) * cols, 2 * (0.62 * rows + 0.75)), squeeze=False
    )
    for j, (d, r) in enumerate(rankings.items()):
        for row, (which, pos) in enumerate((("least", r.least(k)), ("most", r.most(k)))):
            note = ""
            if labels is not None:
                note = f" ({int(np.asarray(labels)[pos].sum())}/{len(pos)} anomalies)"
            head = (
                f"({PANEL_LETTERS[j]}) {DISTANCE_LABELS.get(d, d)}: {r.auc:.3f}\n"
                if row == 0
                else ""
            )
            show(axes[row, j], grid(shown(pos), nrow), f"{head}{which} anomalous{note}", fontsize=8)
    fig.suptitle(title or "Figure 5: least (top) and most (bottom) anomalous, ROC AUC", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out, name, formats)


__all__ = ["Ranking", "plot_extremes", "rank_by_distances"]
