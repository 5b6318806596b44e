"""benchmarks/data/load_by_name.py: a dataset loaded by its registered name, its image shape
checked, and the per-process cache of cached_dataset."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.data import load_by_name
from benchmarks.data.imageset import ImageSet
from benchmarks.data.info import DATASET_INFO
from benchmarks.data.load_by_name import cached_dataset, load_dataset
from benchmarks.registry import DATASETS, DatasetEntry
from piad.errors import PIADError


def test_unknown_dataset():
    with pytest.raises(PIADError, match="unknown dataset 'mnsit'; known: celeba, cifar10"):
        load_dataset("mnsit", "data")


def toy_entry(shape: tuple[int, ...], calls: list) -> DatasetEntry:
    """A registered dataset of two zero images of ``shape``; each load is appended to ``calls``."""
    info = DATASET_INFO["mnist5k"]

    def load(root, download=True):
        calls.append((root, download))
        return ImageSet(info, np.zeros((2, *shape), np.uint8), [0, 1], ["train", "test"])

    return DatasetEntry(info, load)


def test_images_of_another_shape_than_the_facts_are_refused(monkeypatch, tmp_path):
    calls: list = []
    monkeypatch.setitem(DATASETS.entries, "toybad", toy_entry((28, 28, 1), calls))
    with pytest.raises(PIADError) as info:
        load_dataset("toybad", tmp_path, download=False)
    message = str(info.value)
    assert message.startswith("toybad: loaded images of shape (28, 28, 1), expected (32, 32, 1)")
    assert "\n" not in message
    assert calls == [(tmp_path, False)]  # root as a Path, download passed through


def test_cached_dataset_loads_once_per_name_and_root(monkeypatch, tmp_path):
    calls: list = []
    monkeypatch.setitem(DATASETS.entries, "toya", toy_entry((32, 32, 1), calls))
    monkeypatch.setitem(DATASETS.entries, "toyb", toy_entry((32, 32, 1), calls))
    monkeypatch.setattr(load_by_name, "_CACHE", {})
    first = cached_dataset("toya", tmp_path)
    assert cached_dataset("toya", str(tmp_path)) is first and len(calls) == 1
    other = cached_dataset("toyb", tmp_path)
    assert other is not first and len(calls) == 2
    assert cached_dataset("toya", tmp_path) is not first  # one entry: toya is loaded again
    assert len(calls) == 3 and calls[0] == (tmp_path, True)
