"""What the loaders share: one-line errors for missing data, count checks, crop-and-resize."""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.data.info import dataset_info
from piad.errors import MissingInputError, PIADError


def center_crop_resize(image: Any, crop: int | None, size: int) -> np.ndarray:
    """PIL image -> central ``crop`` x ``crop`` square (``None``: the largest) -> ``size``.

    Offsets round like ``torchvision.transforms.CenterCrop``; the resize is PIL bilinear
    (antialiased), like ``torchvision.transforms.Resize`` on a PIL image.
    """
    from PIL import Image

    image = image.convert("RGB")
    w, h = image.size
    side = min(w, h) if crop is None else crop
    if side > min(w, h):
        raise PIADError(f"image {w}x{h} is smaller than the {side}x{side} crop")
    left, top = round((w - side) / 2.0), round((h - side) / 2.0)
    image = image.crop((left, top, left + side, top + side))
    if side != size:
        image = image.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.uint8)


# --------------------------------------------------------------------------- helpers


def missing_error(name: str, root: Path, why: str) -> MissingInputError:
    info = dataset_info(name)
    return MissingInputError(
        f"dataset {name!r} is not available under {root} ({why}); expected layout: "
        f"{info.layout.replace('<root>', str(root))}; get it from: {info.source}"
    )


def check_counts(
    name: str, where: Path, labels: np.ndarray, part: str, expected: Sequence[int]
) -> None:
    counts = tuple(np.bincount(labels, minlength=len(expected)).tolist())
    if counts != tuple(expected):
        raise PIADError(
            f"{where} does not hold the official {name} {part} set: per-class counts "
            f"{counts}, expected {tuple(expected)}; put the right files there"
        )


def fetch_files(name: str, root: Path) -> None:
    """Download, verify and place ``name``'s files under ``root`` (:mod:`benchmarks.data.fetch`,
    the same code as ``python -m benchmarks.fetch``); raises one line when that is not possible."""
    from benchmarks.data import fetch as fetching

    fetching.fetch([dataset_info(name).files_from or name], root)


# Errors that torchvision raises for absent files or a failed download (URLError is an OSError).
FETCH_ERRORS = (OSError, RuntimeError, ValueError, EOFError, zipfile.BadZipFile)


__all__ = [
    "FETCH_ERRORS",
    "center_crop_resize",
    "check_counts",
    "fetch_files",
    "missing_error",
]
