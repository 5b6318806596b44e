"""benchmarks/data/loaders/idx_sets.py: MNIST and Fashion-MNIST from their IDX files, 28 -> 32
as PIL's bilinear, the official partition, and another dataset's files refused by their counts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.data.idx import read_idx_set
from benchmarks.data.info import FMNIST_COUNTS, MNIST_COUNTS
from benchmarks.data.load_by_name import load_dataset
from piad.errors import PIADError

DEBIAN_FMNIST = Path("/usr/share/datasets/fashion-mnist")


def pil_resize(image: np.ndarray, size: int) -> np.ndarray:
    """Reference: torchvision.transforms.Resize on a PIL image, i.e. PIL bilinear."""
    mode = "L" if image.ndim == 2 else "RGB"
    return np.asarray(Image.fromarray(image, mode).resize((size, size), Image.BILINEAR))


def mnist_labels(counts) -> np.ndarray:
    return np.repeat(np.arange(10), counts).astype(np.uint8)


def test_mnist_from_idx_folder(tmp_path, write_idx_set):
    train_y, test_y = mnist_labels(MNIST_COUNTS["train"]), mnist_labels(MNIST_COUNTS["test"])
    train_x = np.zeros((len(train_y), 28, 28), np.uint8)
    train_x[0] = np.random.default_rng(1).integers(0, 256, (28, 28), dtype=np.uint8)
    write_idx_set(tmp_path / "mnist", train_y, test_y, train_x=train_x)
    ds = load_dataset("mnist", tmp_path, download=False)
    assert ds.images.shape == (70000, 32, 32, 1) and ds.images.dtype == np.uint8
    assert (ds.partition == "train").sum() == 60000 and (ds.partition == "test").sum() == 10000
    assert ((ds.partition == "train") & (ds.labels == 0)).sum() == 5923
    assert ((ds.partition == "test") & (ds.labels == 0)).sum() == 980
    np.testing.assert_array_equal(ds.take([0])[0, ..., 0], pil_resize(train_x[0], 32))
    assert len(ds.fingerprint) == 64


def test_wrong_data_in_mnist_folder_is_refused(tmp_path, write_idx_set):
    # Fashion-MNIST's balanced counts are not MNIST's: never use one for the other
    write_idx_set(
        tmp_path / "mnist",
        mnist_labels(FMNIST_COUNTS["train"]),
        mnist_labels(FMNIST_COUNTS["test"]),
        size=2,
    )
    with pytest.raises(PIADError, match="does not hold the official mnist"):
        load_dataset("mnist", tmp_path, download=False)


@pytest.mark.skipif(not DEBIAN_FMNIST.is_dir(), reason="apt-get install dataset-fashion-mnist")
def test_fmnist_from_debian_package(tmp_path):
    ds = load_dataset("fmnist", tmp_path, download=False)  # empty root -> the Debian copy
    assert ds.images.shape == (70000, 32, 32, 1)
    assert np.bincount(ds.labels).tolist() == [7000] * 10
    raw_x, raw_y, _, _ = read_idx_set(DEBIAN_FMNIST)
    for i in (0, 123, 59999):
        np.testing.assert_array_equal(ds.images[i, ..., 0], pil_resize(raw_x[i], 32))
    assert ds.labels[:60000].tolist() == raw_y.tolist()
