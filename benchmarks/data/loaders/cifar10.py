"""CIFAR-10: 60,000 images at 32x32, official 50k/10k partition."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.data.imageset import ImageSet
from benchmarks.data.info import dataset_info
from benchmarks.data.loaders.common import FETCH_ERRORS, fetch_files, missing_error


def load_cifar10(root: Path, download: bool = True) -> ImageSet:
    """CIFAR-10 via torchvision, 60,000 images at 32x32, official 50k/10k partition."""
    import torchvision

    root = Path(root)
    if download and not (root / "cifar-10-batches-py").is_dir():
        fetch_files("cifar10", root)
    parts = []
    try:
        for train in (True, False):
            ds = torchvision.datasets.CIFAR10(str(root), train=train, download=False)
            parts.append((np.asarray(ds.data, dtype=np.uint8), np.asarray(ds.targets)))
    except FETCH_ERRORS as err:
        raise missing_error(
            "cifar10", root, "cifar-10-batches-py/ missing or corrupt; download is off"
        ) from err
    (train_x, train_y), (test_x, test_y) = parts
    partition = np.array(["train"] * len(train_y) + ["test"] * len(test_y))
    images = np.concatenate([train_x, test_x])
    return ImageSet(dataset_info("cifar10"), images, np.concatenate([train_y, test_y]), partition)


__all__ = ["load_cifar10"]
