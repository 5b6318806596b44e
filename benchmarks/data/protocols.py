"""Evaluation protocols (paper section 4.1): a dataset, a normal class and a seed -> a Split.

Every split is a pure function of the loaded dataset, the normal class and the seed, and is
saved by the runner as the job's manifest (:meth:`benchmarks.data.splits.Split.save`). The
official code draws the 80/20 splits and the anomaly subsets without a seed; ours are seeded
with ``numpy.random.default_rng(seed)``, whose streams are the same on every platform.

Protocols whose sets are fixed by the data (``one_vs_all``, CelebA, LSUN) ignore the seed
and only record it: it then varies the model's initialisation, not the split.

Each protocol is registered as a :class:`Protocol`: how it splits, its normal classes and how
its results are laid out in a table, so the reporting code needs no edit for a new one. Which
datasets it applies to is part of each dataset's record
(:attr:`benchmarks.data.info.DatasetInfo.protocols`).

>>> from benchmarks.data.info import DATASET_INFO
>>> normal_classes("coil100_30", DATASET_INFO["coil100"])[:3]
['obj79', 'obj48', 'obj65']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from benchmarks.data.imageset import ImageSet
from benchmarks.data.info import DatasetInfo, class_index, dataset_info
from benchmarks.data.splits import Split
from benchmarks.registry import PROTOCOLS, register_protocol
from piad.errors import PIADError

#: How a protocol's results are laid out (benchmarks.reporting.tables), and the ``kind`` of
#: its rows in the aggregated results:
#: "classes": one row per normal class and the dataset average (Table 2, Table 3 left);
#: "groups": one model scored against several anomaly groups, one row per group (CelebA);
#: "single": one number (LSUN).
LAYOUTS = {"classes": "class", "groups": "group", "single": "single"}


@dataclass(frozen=True)
class Protocol:
    """An evaluation protocol: how to split, which normal classes, which layout.

    ``split(dataset, normal, seed) -> Split``; ``normal_classes(info) -> list[str]`` the
    classes a full run uses (default: every class of the dataset); ``layout`` one of
    :data:`LAYOUTS`; ``summary`` names an extra table that collects this protocol's dataset
    averages ("table3-left": fMNIST and COIL-100, as the paper's Table 3 left); ``groups``
    the anomaly groups a "groups" protocol scores, in table order.
    """

    name: str
    split: Callable[[ImageSet, str, int], Split]
    normal_classes: Callable[[DatasetInfo], list[str]] | None = None
    layout: str = "classes"
    summary: str = ""
    groups: tuple[str, ...] = ()  # layout "groups": the anomaly groups, in table order
    description: str = ""

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise PIADError(f"protocol layout must be one of {tuple(LAYOUTS)}, got {self.layout!r}")

    def classes_of(self, info: DatasetInfo) -> list[str]:
        """The normal classes a full run of this protocol on ``info`` uses."""
        return self.normal_classes(info) if self.normal_classes else list(info.classes)


# CelebA anomaly attributes (section 4.1, Table 3 center) and the extra attributes that the
# "extended" variant also removes from the normal set (facts note, Protocols).
CELEBA_ATTRIBUTES = ("Bald", "Mustache", "Bangs", "Eyeglasses", "Wearing_Hat")
CELEBA_EXTENDED_EXCLUDED = ("Bags_Under_Eyes", "Goatee", "Heavy_Makeup", "Sideburns")
CELEBA_NORMAL = "normal"

# The authors' fixed list of the 30 COIL-100 normal objects (0-based labels, object 100 = 0).
COIL100_NORMAL_LABELS = (
    79, 48, 65, 98, 73, 13, 14, 39, 57, 28, 42, 75, 44, 24, 82,
    56, 7, 47, 68, 30, 33, 90, 70, 87, 12, 91, 4, 22, 71, 55,
)  # fmt: skip

LSUN_NORMAL = "bedroom"


def check_protocol(protocol: str, dataset_name: str) -> None:
    """Raise :class:`PIADError` unless ``protocol`` applies to the dataset ``dataset_name``."""
    PROTOCOLS.get(protocol)  # an unknown protocol: one line listing the known ones
    info = dataset_info(dataset_name)
    if protocol not in info.protocols:
        raise PIADError(
            f"protocol {protocol!r} does not apply to dataset {dataset_name!r} (its protocols: "
            f"{', '.join(info.protocols)}); use {info.protocol!r} for {dataset_name}"
        )


def _split(
    ds: ImageSet,
    protocol: str,
    normal: str,
    seed: int,
    train: np.ndarray,
    test: np.ndarray,
    labels: np.ndarray,
    groups: dict[str, np.ndarray] | None = None,
) -> Split:
    """A Split with sorted train indices, test indices ascending, groups re-pointed."""
    if len(train) == 0:
        raise PIADError(
            f"{protocol} on {ds.info.name} with normal {normal!r} gives no training images; "
            "the loaded data lack that class or partition"
        )
    order = np.argsort(test, kind="stable")  # test indices ascending (sequential reads)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    groups = {k: np.sort(rank[v]) for k, v in (groups or {}).items()}
    return Split(
        dataset=ds.info.name,
        protocol=protocol,
        normal=normal,
        seed=seed,
        fingerprint=ds.fingerprint,
        train=np.sort(np.asarray(train, dtype=np.int64)),
        test=np.asarray(test, dtype=np.int64)[order],
        test_labels=np.asarray(labels, dtype=np.int64)[order],
        groups=groups,
    )


def one_vs_all(ds: ImageSet, normal: str, seed: int) -> Split:
    """Train: the normal class of the official train split; test: the whole test split.

    MNIST digit 0: 5,923 train; 10,000 test of which 980 normal (section 4.1).
    """
    c = class_index(ds.info, normal)
    train = np.flatnonzero((ds.partition == "train") & (ds.labels == c))
    test = np.flatnonzero(ds.partition == "test")
    labels = (ds.labels[test] != c).astype(np.int64)
    return _split(ds, "one_vs_all", ds.info.classes[c], seed, train, test, labels)


def gpnd_partition(
    labels: np.ndarray, n_classes: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per class ``(train, test)``: all images of the class shuffled, first 80% (floor) train.

    Depends only on the labels and the seed, so every normal class of one seed sees the
    same 80/20 partition. Fashion-MNIST 7,000 -> 5,600 / 1,400; COIL-100 72 -> 57 / 15.
    """
    rng = np.random.default_rng(seed)
    parts = []
    for k in range(n_classes):
        idx = rng.permutation(np.flatnonzero(labels == k))
        n_train = len(idx) * 4 // 5  # 80%, rounded down
        parts.append((idx[:n_train], idx[n_train:]))
    return parts


def _gpnd(ds: ImageSet, protocol: str, normal: str, seed: int) -> Split:
    c = class_index(ds.info, normal)
    parts = gpnd_partition(ds.labels, len(ds.info.classes), seed)
    train, normal_test = parts[c]
    pool = np.concatenate([test for k, (_, test) in enumerate(parts) if k != c])
    if len(pool) < len(normal_test):
        raise PIADError(
            f"{protocol} on {ds.info.name}: {len(normal_test)} anomalies needed but the other "
            f"classes hold only {len(pool)} test images"
        )
    # the same number of anomalies as normal test images, drawn from the other classes' 20%
    rng = np.random.default_rng([seed, c])
    anomalies = rng.choice(np.sort(pool), size=len(normal_test), replace=False)
    test = np.concatenate([normal_test, anomalies])
    labels = np.concatenate([np.zeros(len(normal_test)), np.ones(len(anomalies))])
    return _split(ds, protocol, ds.info.classes[c], seed, train, test, labels)


def gpnd_80_20(ds: ImageSet, normal: str, seed: int) -> Split:
    """GPND's protocol (section 4.1): pool all images; per class 80% train / 20% test; the
    test set of the normal class is its 20% plus as many images drawn from the other classes'
    20%."""
    return _gpnd(ds, "gpnd_80_20", normal, seed)


def coil100_30(ds: ImageSet, normal: str, seed: int) -> Split:
    """``gpnd_80_20`` on COIL-100, restricted to the authors' 30 fixed normal objects."""
    c = class_index(ds.info, normal)
    if c not in COIL100_NORMAL_LABELS:
        raise PIADError(
            f"{ds.info.classes[c]} is not one of the 30 normal objects of coil100_30 ("
            + ", ".join(ds.info.classes[k] for k in COIL100_NORMAL_LABELS)
            + "); use protocol gpnd_80_20 for any other object"
        )
    return _gpnd(ds, "coil100_30", normal, seed)


def _celeba(
    ds: ImageSet, protocol: str, normal: str, seed: int, excluded: tuple[str, ...]
) -> Split:
    if normal != CELEBA_NORMAL:
        raise PIADError(
            f"{protocol} has one normal set, named {CELEBA_NORMAL!r}, not {normal!r}; "
            f"one model is scored against each of {', '.join(CELEBA_ATTRIBUTES)}"
        )
    if ds.attributes is None:
        raise PIADError(f"{protocol} needs CelebA's attribute table; {ds.info.name} has none")
    absent = [a for a in (*CELEBA_ATTRIBUTES, *excluded) if a not in ds.attributes.columns]
    if absent:
        raise PIADError(f"CelebA attribute table lacks {', '.join(absent)}; fetch it again")
    attrs = {a: ds.attributes[a].to_numpy() == 1 for a in (*CELEBA_ATTRIBUTES, *excluded)}
    is_normal = ~np.any([attrs[a] for a in (*CELEBA_ATTRIBUTES, *excluded)], axis=0)
    train = np.flatnonzero((ds.partition == "train") & is_normal)
    in_test = ds.partition == "test"
    normals = np.flatnonzero(in_test & is_normal)
    test, labels, groups = [normals], [np.zeros(len(normals))], {}
    start = len(normals)
    listed = (*CELEBA_ATTRIBUTES, *excluded)  # the authors' attribute list of this protocol
    for a in CELEBA_ATTRIBUTES:
        # anomaly of attribute a: a present, every other listed attribute absent (the authors'
        # code: the other four, or the other eight of the extended list; disjoint across a)
        others = np.any([attrs[b] for b in listed if b != a], axis=0)
        members = np.flatnonzero(in_test & attrs[a] & ~others)
        test.append(members)
        labels.append(np.ones(len(members)))
        groups[a] = np.arange(start, start + len(members))
        start += len(members)
    return _split(
        ds, protocol, normal, seed, train, np.concatenate(test), np.concatenate(labels), groups
    )


def celeba_attributes(ds: ImageSet, normal: str, seed: int) -> Split:
    """Normal: none of Bald, Mustache, Bangs, Eyeglasses, Wearing_Hat (official train/test
    partitions; "valid" unused). One test set: all normal test images plus, per attribute,
    the test images with it and none of the other four (``groups``)."""
    return _celeba(ds, "celeba_attributes", normal, seed, ())


def celeba_attributes_extended(ds: ImageSet, normal: str, seed: int) -> Split:
    """The authors' extended attribute list (nine attributes: the five and Bags_Under_Eyes,
    Goatee, Heavy_Makeup, Sideburns): normal images have none of the nine; the anomalies of
    attribute A have A and none of the other eight."""
    return _celeba(ds, "celeba_attributes_extended", normal, seed, CELEBA_EXTENDED_EXCLUDED)


def lsun_bedroom(ds: ImageSet, normal: str, seed: int) -> Split:
    """Train: bedroom_train; test: bedroom_val (normal) and conference_room_val (anomaly)."""
    if normal != LSUN_NORMAL:
        raise PIADError(f"lsun_bedroom's normal class is {LSUN_NORMAL!r}, not {normal!r}")
    train = np.flatnonzero(ds.partition == "bedroom_train")
    normals = np.flatnonzero(ds.partition == "bedroom_val")
    anomalies = np.flatnonzero(ds.partition == "conference_room_val")
    if len(normals) == 0 or len(anomalies) == 0:
        raise PIADError("lsun_bedroom needs bedroom_val and conference_room_val images")
    test = np.concatenate([normals, anomalies])
    labels = np.concatenate([np.zeros(len(normals)), np.ones(len(anomalies))])
    return _split(ds, "lsun_bedroom", normal, seed, train, test, labels)


_BUILTIN = (
    Protocol(
        "one_vs_all",
        one_vs_all,
        description="normal class of the official train split; the whole test split",
    ),
    Protocol(
        "gpnd_80_20",
        gpnd_80_20,
        summary="table3-left",
        description="GPND's 80/20 per class, as many anomalies as normal test images",
    ),
    Protocol(
        "coil100_30",
        coil100_30,
        normal_classes=lambda info: [info.classes[k] for k in COIL100_NORMAL_LABELS],
        summary="table3-left",
        description="gpnd_80_20 on the authors' 30 COIL-100 objects",
    ),
    Protocol(
        "celeba_attributes",
        celeba_attributes,
        normal_classes=lambda info: [CELEBA_NORMAL],
        layout="groups",
        groups=CELEBA_ATTRIBUTES,
        description="normal: none of the five attributes; one group per attribute",
    ),
    Protocol(
        "celeba_attributes_extended",
        celeba_attributes_extended,
        normal_classes=lambda info: [CELEBA_NORMAL],
        layout="groups",
        groups=CELEBA_ATTRIBUTES,
        description="celeba_attributes with four more attributes removed from the normal set",
    ),
    Protocol(
        "lsun_bedroom",
        lsun_bedroom,
        normal_classes=lambda info: [LSUN_NORMAL],
        layout="single",
        description="bedroom_train; bedroom_val (normal) vs conference_room_val (anomaly)",
    ),
)
for _protocol in _BUILTIN:
    register_protocol(_protocol)


def make_split(protocol: str, dataset: ImageSet, normal: str, seed: int) -> Split:
    """The split of ``dataset`` for ``protocol``, normal class ``normal`` and ``seed``."""
    spec = PROTOCOLS.get(protocol)
    check_protocol(protocol, dataset.info.name)  # the one check every split goes through
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise PIADError(f"seed must be a non-negative integer, not {seed!r}")
    return spec.split(dataset, str(normal), int(seed))


def normal_classes(protocol: str, info: DatasetInfo) -> list[str]:
    """The normal classes that a full run of ``protocol`` on this dataset uses."""
    check_protocol(protocol, info.name)
    return PROTOCOLS.get(protocol).classes_of(info)


__all__ = [
    "CELEBA_ATTRIBUTES",
    "CELEBA_EXTENDED_EXCLUDED",
    "CELEBA_NORMAL",
    "COIL100_NORMAL_LABELS",
    "LAYOUTS",
    "LSUN_NORMAL",
    "Protocol",
    "check_protocol",
    "gpnd_partition",
    "make_split",
    "normal_classes",
]
