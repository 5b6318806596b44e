"""What the loaders share: one-line errors for missing data, count checks, crop-and-resize."""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.data.info import dataset_info
from piad.errors import MissingInputError, PIADError


def square_crop_resize(image: Any, size: int, crop: str = "square") -> np.ndarray:
    """PIL image -> RGB uint8 (size, size, 3): the central square (``"celeba"``: the central
    140/178 of the shorter side), PIL bilinear resize; the one crop and resize of the project
    (:func:`piad.image_files.crop_and_resize`, also the ``piad`` command's)."""
    from piad.image_files import ImageRecipe, crop_and_resize

    return crop_and_resize(image.convert("RGB"), ImageRecipe(size, 3, crop))


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
    """Download, verify and place ``name``'s files under ``root`` (:mod:`benchmarks.data.acquire`,
    the same code as ``python -m benchmarks.fetch``); raises one line when that is not possible."""
    from benchmarks.data import acquire as fetching

    fetching.fetch([dataset_info(name).files], root)


# Errors that torchvision raises for absent files or a failed download (URLError is an OSError).
FETCH_ERRORS = (OSError, RuntimeError, ValueError, EOFError, zipfile.BadZipFile)


__all__ = [
    "FETCH_ERRORS",
    "check_counts",
    "fetch_files",
    "missing_error",
    "square_crop_resize",
]
