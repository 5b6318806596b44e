"""Figure 4: random samples G(z), reconstructions G(E(x)) of normal and anomalous test images."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from benchmarks.data.protocols import CELEBA_ATTRIBUTES
from benchmarks.figures.common import DEFAULT_OUT, FORMATS, grid, pyplot, save_figure, show
from benchmarks.figures.testsets import EvalImages
from piad.errors import PIADError
from piad.image_arrays import to_float
from piad.model import prepare_images


def pick_examples(data: EvalImages, n: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``n`` normal and up to ``n`` anomalous images (seeded).

    With groups (CelebA attributes), the anomalies come group by group in the paper's order
    (Figure 4c: Bald, Mustache, Bangs, Eyeglasses, Wearing_Hat), ``max(1, n // groups)`` each.
    """
    if n < 1:
        raise PIADError(f"n must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    normal = np.flatnonzero(data.labels == 0)
    anomal = np.flatnonzero(data.labels == 1)
    if not len(normal):
        raise PIADError(f"the test set {data.name} has no normal image")
    picked_normal = rng.choice(normal, size=min(n, len(normal)), replace=False)
    if data.groups:
        order = [g for g in CELEBA_ATTRIBUTES if g in data.groups]
        order += sorted(g for g in data.groups if g not in order)
        per = max(1, n // len(order))
        chunks = [
            rng.choice(data.groups[g], size=min(per, len(data.groups[g])), replace=False)
            for g in order
            if len(data.groups[g])
        ]
        picked_anomal = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)
    else:
        picked_anomal = rng.choice(anomal, size=min(n, len(anomal)), replace=False)
    return picked_normal.astype(np.int64), picked_anomal.astype(np.int64)


def plot_samples(
    model: Any,
    normal: Any,
    anomalies: Any | None,
    out: str | os.PathLike[str] = DEFAULT_OUT,
    n: int = 8,
    seed: int = 0,
    name: str = "samples",
    title: str = "",
    formats: Sequence[str] = FORMATS,
) -> list[Path]:
    """Figure 4: (a) random samples G(z), (b) normal images over their reconstructions G(E(x)),
    (c) anomalies over their reconstructions.

    ``model`` has ``sample(n, seed)`` and ``reconstruct(images)`` (a trained
    :class:`piad.model.PIAD`); images are uint8 (N, H, W[, C]) or [-1, 1] tensors.
    """

    def inputs(images: Any) -> Tensor:
        return to_float(prepare_images(images, model.config))

    panels: list[tuple[str, Tensor, int]] = []
    samples = model.sample(2 * n, seed=seed)
    panels.append(("(a) Random sample G(z)", samples, n))
    for label, images in (
        ("(b) Reconst. of normal", normal),
        ("(c) Reconst. of anomaly", anomalies),
    ):
        if images is None or len(images) == 0:
            continue
        x = inputs(images)
        rows = torch.cat([x, model.reconstruct(images).to(x.dtype)])
        panels.append((f"{label}: x (top), G(E(x)) (bottom)", rows, len(x)))
    plt = pyplot()
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(1.0 * n + 0.5, 2.3 * len(panels)), squeeze=False
    )
    for ax, (label, images, nrow) in zip(axes[:, 0], panels):
        show(ax, grid(images, nrow), label)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out, name, formats)


__all__ = ["pick_examples", "plot_samples"]
