"""A loaded dataset (:class:`ImageSet`), lazily read image arrays, and data fingerprints.

Every loader returns an :class:`ImageSet`: uint8 images ``(N, H, W, C)`` at the paper's
preprocessing, a class label per image, the official partition of each image (``"train"`` /
``"test"``, CelebA ``"train"/"valid"/"test"``, LSUN ``"bedroom_train"``...), CelebA's 40
attributes, and a fingerprint recorded in every split manifest. Small datasets are held in
memory; CelebA and LSUN are read lazily, one image at a time, when indexed.

>>> fingerprint("a", np.zeros(2, np.uint8)) == fingerprint("a", np.zeros(2, np.uint8))
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.data.info import DatasetInfo
from piad.errors import PIADError


class LazyImages:
    """Images decoded on access; indexing behaves like a uint8 array ``(N, H, W, C)``.

    ``images[i]`` is one ``(H, W, C)`` image; a slice, an index array or a boolean mask gives
    ``(k, H, W, C)``. Subclasses implement :meth:`_load`. Instances pickle without open
    handles (worker processes reopen their files).
    """

    dtype = np.dtype(np.uint8)
    ndim = 4

    def __init__(self, n: int, image_shape: tuple[int, int, int]) -> None:
        self._n = int(n)
        self._image_shape = tuple(image_shape)

    def _load(self, i: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def shape(self) -> tuple[int, ...]:
        return (self._n, *self._image_shape)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, key: int | slice | Sequence[int] | np.ndarray) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            i = int(key)
            if not -self._n <= i < self._n:
                raise IndexError(f"image {i} out of range for {self._n} images")
            return self._load(i % self._n)
        if isinstance(key, slice):
            idx = np.arange(self._n)[key]
        else:
            idx = np.asarray(key)
            if idx.dtype == bool:
                if idx.shape != (self._n,):
                    raise IndexError(f"boolean mask of shape {idx.shape}, expected ({self._n},)")
                idx = np.flatnonzero(idx)
            idx = idx.astype(np.int64).reshape(-1)
            if idx.size and (idx.min() < -self._n or idx.max() >= self._n):
                raise IndexError(f"image indices out of range for {self._n} images")
        out = np.empty((len(idx), *self._image_shape), dtype=np.uint8)
        for j, i in enumerate(idx.tolist()):
            out[j] = self._load(i % self._n)
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[slice(None)]
        return out if dtype is None else out.astype(dtype)


ImageArray = np.ndarray | LazyImages


def fingerprint(*parts: np.ndarray | str | bytes) -> str:
    """sha256 over arrays (dtype, shape and bytes), strings and bytes, in order."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            if part.dtype.kind in "UO":  # text: independent of the array's string width
                kind, data = "str", "\n".join(map(str, part.tolist())).encode()
            else:
                kind, data = part.dtype.str, np.ascontiguousarray(part).tobytes()
            data = f"{kind}{part.shape}".encode() + data
        elif isinstance(part, str):
            data = part.encode()
        else:
            data = bytes(part)
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


@dataclass(eq=False)
class ImageSet:
    """A loaded dataset: images with a label, an official partition and (CelebA) attributes.

    ``labels[i]`` indexes ``info.classes`` (-1 where a dataset has no classes);
    ``partition[i]`` is image i's official partition; ``attributes`` (CelebA) has one 0/1 row
    per image. ``fingerprint`` identifies what was loaded and is written into every split
    manifest, so a manifest can be checked against the data it is applied to.
    """

    info: DatasetInfo
    images: ImageArray
    labels: np.ndarray
    partition: np.ndarray
    attributes: pd.DataFrame | None = None
    fingerprint: str = ""

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.partition = np.asarray(self.partition, dtype=str)
        n = len(self.images)
        if len(self.labels) != n or len(self.partition) != n:
            raise PIADError(
                f"{self.info.name}: {n} images but {len(self.labels)} labels and "
                f"{len(self.partition)} partition entries; the data files do not match"
            )
        if self.attributes is not None and len(self.attributes) != n:
            raise PIADError(
                f"{self.info.name}: {n} images but {len(self.attributes)} attribute rows"
            )
        if not self.fingerprint:
            if not isinstance(self.images, np.ndarray):
                raise PIADError("a lazily read ImageSet needs an explicit fingerprint")
            attrs = [] if self.attributes is None else [self.attributes.to_numpy()]
            self.fingerprint = fingerprint(
                self.info.name, self.images, self.labels, self.partition, *attrs
            )

    def __len__(self) -> int:
        return len(self.images)

    def take(self, idx: np.ndarray | Sequence[int]) -> np.ndarray:
        """The images at ``idx`` as uint8 ``(k, H, W, C)``."""
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        return np.asarray(self.images[idx], dtype=np.uint8)


__all__ = ["ImageArray", "ImageSet", "LazyImages", "fingerprint"]
