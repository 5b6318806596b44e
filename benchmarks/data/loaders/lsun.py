"""LSUN bedroom_train, bedroom_val, conference_room_val (lmdb): square crop -> 64, lazily."""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.data.imageset import ImageSet, LazyImages, fingerprint
from benchmarks.data.info import LSUN_PARTS, dataset_info
from benchmarks.data.loaders.common import fetch_files, missing_error, square_crop_resize
from piad.errors import MissingInputError, PIADError


class LsunImages(LazyImages):
    """Images of several LSUN lmdb databases, concatenated; square crop -> 64.

    Holds only paths and keys, so it pickles; each process opens the databases itself.
    """

    def __init__(self, paths: Sequence[Path], keys: Sequence[np.ndarray], size: int = 64) -> None:
        super().__init__(sum(len(k) for k in keys), (size, size, 3))
        self.paths, self.keys, self.size = [Path(p) for p in paths], list(keys), size
        self._starts = np.cumsum([0] + [len(k) for k in keys])

    def _load(self, i: int) -> np.ndarray:
        from PIL import Image

        part = int(np.searchsorted(self._starts, i, side="right")) - 1
        key = bytes(self.keys[part][i - self._starts[part]])
        with open_lmdb(self.paths[part]).begin(write=False) as txn:
            data = txn.get(key)
        if data is None:
            raise PIADError(
                f"LSUN key {key!r} vanished from {self.paths[part]}; rebuild its key cache"
            )
        with Image.open(io.BytesIO(data)) as image:
            return square_crop_resize(image, self.size)


_LMDB_ENVS: dict[tuple[int, str], Any] = {}


def open_lmdb(path: Path) -> Any:
    """The read-only lmdb environment of ``path``, opened once per process.

    lmdb allows one open environment per file and process, and its handles must not cross
    a fork, hence the cache keyed by process id. Only LSUN needs the ``lmdb`` package.
    """
    key = (os.getpid(), str(Path(path).resolve()))
    if key in _LMDB_ENVS:
        return _LMDB_ENVS[key]
    try:
        import lmdb
    except ModuleNotFoundError as err:
        raise MissingInputError("reading LSUN needs the lmdb package: pip install lmdb") from err
    try:
        env = lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False)
    except lmdb.Error as err:
        raise MissingInputError(f"cannot open the LSUN lmdb {path} ({err})") from err
    _LMDB_ENVS[key] = env
    return env


def lsun_keys(path: Path) -> np.ndarray:
    """All keys of an lmdb database in stored order; cached next to it as ``<name>.keys.npy``."""
    from piad.io import atomic_write_bytes

    cache = path.with_name(path.name + ".keys.npy")
    if cache.is_file() and cache.stat().st_mtime >= (path / "data.mdb").stat().st_mtime:
        return np.load(cache, allow_pickle=False)
    with open_lmdb(path).begin(write=False) as txn:
        keys = np.array(list(txn.cursor().iternext(keys=True, values=False)), dtype=bytes)
    buf = io.BytesIO()
    np.save(buf, keys)
    with contextlib.suppress(OSError):  # a read-only data root: list the keys again next time
        atomic_write_bytes(cache, buf.getvalue())
    return keys


def load_lsun(root: Path, download: bool = True) -> ImageSet:
    """LSUN bedroom_train, bedroom_val and conference_room_val (lmdb), read lazily.

    With ``download``, missing parts are fetched (:mod:`benchmarks.data.acquire`); bedroom_train
    is about 43 GB, so that needs the confirmation ``python -m benchmarks.fetch lsun --yes``.
    """
    root = Path(root)
    paths = [root / "lsun" / f"{part}_lmdb" for part in LSUN_PARTS]
    absent = [p.name for p in paths if not (p / "data.mdb").is_file()]
    if absent and download:
        fetch_files("lsun", root)
        absent = [p.name for p in paths if not (p / "data.mdb").is_file()]
    if absent:
        raise missing_error("lsun", root, f"{', '.join(absent)} missing; download is off")
    keys = [lsun_keys(p) for p in paths]
    partition = np.concatenate([np.full(len(k), part) for k, part in zip(keys, LSUN_PARTS)])
    labels = np.concatenate(
        [
            np.full(len(k), 0 if part.startswith("bedroom") else 1)
            for k, part in zip(keys, LSUN_PARTS)
        ]
    ).astype(np.int64)
    images = LsunImages(paths, keys)
    sample = images[np.linspace(0, len(images) - 1, 8).astype(np.int64)] if len(images) else b""
    fp = fingerprint("lsun", *keys, partition, sample)
    return ImageSet(dataset_info("lsun"), images, labels, partition, None, fp)


__all__ = ["LsunImages", "load_lsun", "lsun_keys", "open_lmdb"]
