"""Fixtures shared by the tests of benchmarks/data/ and benchmarks/data/loaders/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from benchmarks.data.idx import write_idx


def _write_idx_set(folder: Path, train_y, test_y, size=28, gz=True, train_x=None):
    """The four standard files; images default to zeros."""
    suffix = ".gz" if gz else ""
    n_train, n_test = len(train_y), len(test_y)
    if train_x is None:
        train_x = np.zeros((n_train, size, size), np.uint8)
    write_idx(folder / f"train-images-idx3-ubyte{suffix}", train_x)
    write_idx(folder / f"train-labels-idx1-ubyte{suffix}", np.asarray(train_y, np.uint8))
    write_idx(folder / f"t10k-images-idx3-ubyte{suffix}", np.zeros((n_test, size, size), np.uint8))
    write_idx(folder / f"t10k-labels-idx1-ubyte{suffix}", np.asarray(test_y, np.uint8))


@pytest.fixture
def write_idx_set() -> Callable[..., None]:
    """``write_idx_set(folder, train_y, test_y, size=28, gz=True, train_x=None)``: the four
    MNIST-format files of a dataset (images zeros unless ``train_x``)."""
    return _write_idx_set
