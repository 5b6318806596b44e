"""MNIST and Fashion-MNIST: 70,000 images 28 -> 32 (bilinear), official 60k/10k partition."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.data.idx import IDX_FOLDERS, has_idx_set, idx_folder_candidates, read_idx_set
from benchmarks.data.imageset import ImageSet
from benchmarks.data.info import FMNIST_COUNTS, MNIST_COUNTS, dataset_info
from benchmarks.data.loaders.common import check_counts, fetch_files, missing_error
from piad.image_arrays import resize_uint8

# --------------------------------------------------------------------------- MNIST family


_COUNTS = {"mnist": MNIST_COUNTS, "fmnist": FMNIST_COUNTS}


def _idx_folder(name: str, root: Path, download: bool) -> Path:
    candidates = idx_folder_candidates(name, root)
    for folder in candidates:
        if has_idx_set(folder):
            return folder
    looked = ", ".join(str(c) for c in candidates)
    if not download:
        raise missing_error(name, root, f"no IDX files in {looked}; download is off")
    fetch_files(name, root)  # into <root>/<name>/ (benchmarks.data.sources)
    folder = root / IDX_FOLDERS[name][0]
    if not has_idx_set(folder):
        raise missing_error(name, root, f"the download left no IDX files in {folder}")
    return folder


def _load_idx_dataset(name: str, root: Path, download: bool) -> ImageSet:
    folder = _idx_folder(name, Path(root), download)
    train_x, train_y, test_x, test_y = read_idx_set(folder)
    check_counts(name, folder, train_y, "train", _COUNTS[name]["train"])
    check_counts(name, folder, test_y, "test", _COUNTS[name]["test"])
    images = resize_uint8(np.concatenate([train_x, test_x]), dataset_info(name).image_size)
    partition = np.array(["train"] * len(train_y) + ["test"] * len(test_y))
    return ImageSet(dataset_info(name), images, np.concatenate([train_y, test_y]), partition)


def load_mnist(root: Path, download: bool = True) -> ImageSet:
    """MNIST, 70,000 images 28 -> 32, official 60k/10k partition."""
    return _load_idx_dataset("mnist", root, download)


def load_fmnist(root: Path, download: bool = True) -> ImageSet:
    """Fashion-MNIST, 70,000 images 28 -> 32, official 60k/10k partition."""
    return _load_idx_dataset("fmnist", root, download)


__all__ = ["load_fmnist", "load_mnist"]
