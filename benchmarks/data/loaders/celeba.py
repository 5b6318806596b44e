"""CelebA aligned & cropped: 202,599 faces, central 140x140 crop -> 64, read lazily."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.data.imageset import ImageSet, LazyImages, fingerprint
from benchmarks.data.info import dataset_info
from benchmarks.data.loaders.common import fetch_files, missing_error, square_crop_resize
from piad.errors import MissingInputError, PIADError

# --------------------------------------------------------------------------- CelebA

CELEBA_PARTITIONS = ("train", "valid", "test")  # codes 0, 1, 2 of list_eval_partition.txt


class CelebAImages(LazyImages):
    """CelebA aligned & cropped JPEGs, read one at a time: the central 140 x 140 -> 64."""

    def __init__(self, folder: Path, filenames: Sequence[str], size: int = 64) -> None:
        super().__init__(len(filenames), (size, size, 3))
        self.folder, self.filenames, self.size = Path(folder), list(filenames), size

    def _load(self, i: int) -> np.ndarray:
        from PIL import Image

        path = self.folder / self.filenames[i]
        try:
            with Image.open(path) as image:
                return square_crop_resize(image, self.size, "celeba")
        except OSError as err:
            raise MissingInputError(
                f"cannot read CelebA image {path} ({err}); fetch it again"
            ) from err


def read_celeba_tables(folder: Path) -> tuple[list[str], pd.DataFrame, np.ndarray]:
    """Filenames, the 40 attributes as 0/1 (row i = image i) and partition names."""
    attr_path, part_path = folder / "list_attr_celeba.txt", folder / "list_eval_partition.txt"
    try:
        attrs = pd.read_csv(attr_path, sep=r"\s+", skiprows=1)
        parts = pd.read_csv(part_path, sep=r"\s+", header=None, names=["file", "code"])
    except (OSError, pd.errors.ParserError) as err:
        raise PIADError(f"cannot parse the CelebA tables in {folder} ({err})") from err
    if attrs.shape[1] != 40 or not set(np.unique(attrs.to_numpy())) <= {-1, 1}:
        raise PIADError(f"{attr_path} should have 40 attribute columns of -1/1; fetch it again")
    files = [str(f) for f in attrs.index]
    if files != parts["file"].astype(str).tolist():
        raise PIADError(f"{attr_path} and {part_path} list different images; fetch them again")
    codes = parts["code"].to_numpy()
    if not set(np.unique(codes).tolist()) <= {0, 1, 2}:
        raise PIADError(f"{part_path} has partition codes other than 0/1/2")
    table = ((attrs.to_numpy() + 1) // 2).astype(np.int8)  # -1/1 -> 0/1
    attributes = pd.DataFrame(table, columns=list(attrs.columns))
    return files, attributes, np.asarray(CELEBA_PARTITIONS)[codes]


def load_celeba(root: Path, download: bool = True) -> ImageSet:
    """CelebA in torchvision's layout; images are read lazily, tables at once."""
    root = Path(root)
    folder = root / "celeba"
    needed = [folder / "list_attr_celeba.txt", folder / "list_eval_partition.txt"]
    if not all(p.is_file() for p in needed) or not (folder / "img_align_celeba").is_dir():
        if not download:
            raise missing_error("celeba", root, "files missing; download is off")
        fetch_files("celeba", root)  # the official files, else the pinned Hub mirror
    files, attributes, partition = read_celeba_tables(folder)
    images = CelebAImages(folder / "img_align_celeba", files)
    sample = images[np.linspace(0, len(files) - 1, 8).astype(np.int64)]
    fp = fingerprint("celeba", "\n".join(files), attributes.to_numpy(), partition, sample)
    labels = np.full(len(files), -1, dtype=np.int64)
    return ImageSet(dataset_info("celeba"), images, labels, partition, attributes, fp)


# --------------------------------------------------------------------------- LSUN


__all__ = ["CELEBA_PARTITIONS", "CelebAImages", "load_celeba", "read_celeba_tables"]
