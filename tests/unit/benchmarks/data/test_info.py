"""benchmarks/data/info.py: every registered dataset has its facts, and class names or indices
resolve to a label (or one line listing the classes)."""

from __future__ import annotations

import dataclasses

import pytest

from benchmarks.data.info import DATASET_INFO, DatasetInfo, class_index, dataset_info
from benchmarks.registry import DATASETS
from piad.errors import PIADError


def test_dataset_info_covers_the_registry():
    assert set(DATASET_INFO) == set(DATASETS)
    assert {i.family for i in DATASET_INFO.values()} == {
        "mnist",
        "fmnist",
        "coil100",
        "cifar10",
        "celeba",
        "lsun",
    }
    for info in DATASET_INFO.values():
        assert all("/" not in c and " " not in c for c in info.classes)
        assert info.source and info.layout
    assert DATASET_INFO["celeba"].shape == (64, 64, 3)
    assert len(DATASET_INFO["coil100"].classes) == 100


def test_class_index():
    fmnist = DATASET_INFO["fmnist"]
    assert class_index(fmnist, "tshirt_top") == 0
    assert class_index(fmnist, "ankle_boot") == 9
    assert class_index(fmnist, "7") == 7
    assert class_index(DATASET_INFO["coil100"], "obj79") == 79
    with pytest.raises(PIADError, match=r"no class '10'.*0-9"):
        class_index(DATASET_INFO["mnist"], "10")
    with pytest.raises(PIADError, match="tshirt_top, trouser"):
        class_index(fmnist, "T-shirt/top")


def test_a_dataset_without_classes_names_its_protocol():
    with pytest.raises(
        PIADError, match="'celeba' has no classes; its protocol 'celeba_attributes'"
    ):
        class_index(DATASET_INFO["celeba"], "Bald")


def test_the_paper_protocol_comes_first_once_and_the_title_falls_back_to_the_name():
    info = DatasetInfo("toy", "mnist", 8, 1, ("a", "b"), "p2", "src", protocols=("p1", "p2", "p3"))
    assert info.protocols == ("p2", "p1", "p3")
    assert info.title == "toy" and info.shape == (8, 8, 1)
    assert dataclasses.replace(info, display_name="Toy").title == "Toy"
    with pytest.raises(PIADError, match="unknown dataset 'toy'"):
        dataset_info("toy")  # a record alone is not registered
